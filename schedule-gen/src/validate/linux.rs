//! Linux partitions (`image = { linux = ... }`): the kind, the kernel command line, the boot
//! RAM the kernel, its initramfs and its device tree are placed in, and the guest-physical
//! addresses the device tree gives the virtual UART and the GIC.
//!
//! Runs after [`super::ports`], so the port buffers are placed and can be checked too. The
//! placement itself needs the kernel image and is checked when the image is built
//! ([`crate::linux`], E110 and E111).

use std::ops::Range;

use toml::Spanned;

use super::partition::CheckedPartition;
use super::{Checker, hex};
use crate::config::{PartitionKind, RawPartition};
use crate::diag::Rule;
use crate::linux::{BOOT_ALIGN, MAX_BOOTARGS_LEN, MIN_BOOT_RAM, emulated_devices};
use crate::model::{Access, ImageSource, PhysRange};

/// Checks E106 to E109 on every partition and records each Linux partition's `bootargs`.
pub(crate) fn check_linux(
    cx: &mut Checker<'_>,
    raw: &[Spanned<RawPartition>],
    parts: &mut [CheckedPartition],
) {
    for (rp, cp) in raw.iter().zip(parts.iter_mut()) {
        let p = rp.get_ref();
        let name = cp.config.name.clone();
        let is_linux_image = matches!(cp.config.image, ImageSource::Linux(_));
        if is_linux_image && cp.config.kind != PartitionKind::Linux {
            cx.error(
                Rule::LinuxImageKind,
                p.image.span(),
                format!(
                    "partition {name:?} is of kind {:?} but its image is a Linux kernel",
                    cp.config.kind.as_str()
                ),
                "set kind = \"linux\" to boot Linux in it, or give it a package or ELF image"
                    .to_owned(),
            );
        }
        if let Some(args) = &p.bootargs {
            cx.bootargs(&name, is_linux_image, args);
            if let ImageSource::Linux(image) = &mut cp.config.image {
                image.bootargs = Some(args.get_ref().clone());
            }
        }
        if !is_linux_image {
            continue;
        }
        cx.boot_ram(&name, p, cp);
        cx.emulated_device_collisions(&name, p, cp);
    }
}

impl Checker<'_> {
    /// E107.
    fn bootargs(&mut self, name: &str, is_linux_image: bool, args: &Spanned<String>) {
        let text = args.get_ref();
        if !is_linux_image {
            self.error(
                Rule::InvalidBootargs,
                args.span(),
                format!("partition {name:?} has `bootargs` but its image is not a Linux kernel"),
                "remove `bootargs`: they are added to the command line of a Linux kernel (image = { linux = \"debian\" })".to_owned(),
            );
        } else if let Some(bad) = text.chars().find(|c| !(' '..='~').contains(c)) {
            self.error(
                Rule::InvalidBootargs,
                args.span(),
                format!(
                    "the bootargs of partition {name:?} contain {bad:?}, which is not printable ASCII"
                ),
                "write the kernel command line in printable ASCII characters, separated by spaces"
                    .to_owned(),
            );
        } else if text.len() > MAX_BOOTARGS_LEN {
            self.error(
                Rule::InvalidBootargs,
                args.span(),
                format!(
                    "the bootargs of partition {name:?} are {} characters long",
                    text.len()
                ),
                format!(
                    "keep them to at most {MAX_BOOTARGS_LEN} characters (the kernel's command line, defaults included, is at most 2048)"
                ),
            );
        }
    }

    /// E108: the first memory region holds the kernel, the initramfs and the device tree.
    fn boot_ram(&mut self, name: &str, p: &RawPartition, cp: &CheckedPartition) {
        let help = format!(
            "make its first [[partition.memory]] region the Linux boot RAM: at least {} MiB, access \"rwx\", ipa a multiple of 2 MiB",
            MIN_BOOT_RAM >> 20
        );
        let Some(raw) = p.memory.first() else {
            self.error(
                Rule::LinuxBootRam,
                p.name.span(),
                format!("Linux partition {name:?} has no memory region"),
                help,
            );
            return;
        };
        // A region its own rules refused is reported already, and another may have taken its
        // place in the checked list.
        if cp.config.memory.len() != p.memory.len() {
            return;
        }
        let region = &cp.config.memory[0];
        let raw = raw.get_ref();
        let what = format!(
            "region {:?}, the boot RAM of Linux partition {name:?},",
            region.name
        );
        if region.access != Access::Rwx {
            self.error(
                Rule::LinuxBootRam,
                raw.access.span(),
                format!(
                    "{what} has access {:?}; Linux runs its code from anywhere in its RAM",
                    region.access.as_str()
                ),
                help.clone(),
            );
        }
        if region.size < MIN_BOOT_RAM {
            self.error(
                Rule::LinuxBootRam,
                raw.size.span(),
                format!(
                    "{what} is {} bytes; it needs at least {} ({} MiB) for the kernel, its initramfs, its device tree and its own use",
                    hex(region.size, false),
                    hex(MIN_BOOT_RAM, false),
                    MIN_BOOT_RAM >> 20
                ),
                help.clone(),
            );
        }
        if !region.ipa.is_multiple_of(BOOT_ALIGN) {
            self.error(
                Rule::LinuxBootRam,
                raw.ipa.span(),
                format!(
                    "{what} starts at IPA {}, which is not 2 MiB aligned; the arm64 boot protocol loads the kernel at a 2 MiB aligned base",
                    hex(region.ipa, true)
                ),
                help,
            );
        }
    }

    /// E109: nothing of the partition where its device tree puts the virtual UART or the GIC.
    fn emulated_device_collisions(&mut self, name: &str, p: &RawPartition, cp: &CheckedPartition) {
        let Some(board) = self.board else { return };
        let devices = emulated_devices(board, cp.config.cores.len());
        let mut mapped: Vec<(String, PhysRange, Range<usize>)> = Vec::new();
        if cp.config.memory.len() == p.memory.len() {
            for (r, raw) in cp.config.memory.iter().zip(&p.memory) {
                mapped.push((
                    format!("region {:?}", r.name),
                    PhysRange::new(r.ipa, r.size),
                    raw.get_ref().ipa.span(),
                ));
            }
        }
        if let Some(ports_ipa) = &p.ports_ipa {
            for port in &cp.config.ports {
                for m in &port.mappings {
                    mapped.push((
                        format!("the buffer of port {:?}", port.name),
                        PhysRange::new(m.ipa, m.size),
                        ports_ipa.span(),
                    ));
                }
            }
        }
        for (what, range, span) in mapped {
            if let Some((device, at)) = devices.iter().find(|(_, at)| at.overlaps(&range)) {
                self.error(
                    Rule::LinuxIpaCollision,
                    span,
                    format!(
                        "{what} of Linux partition {name:?} (IPA {}..{}) overlaps the {device} its device tree places at {}..{}",
                        hex(range.base, true),
                        hex(range.end(), true),
                        hex(at.base, true),
                        hex(at.end(), true)
                    ),
                    "move it: a Linux partition sees the kernel's virtual UART and GIC at the board's addresses".to_owned(),
                );
            }
        }
    }
}
