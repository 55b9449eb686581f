//! Linux partitions (`kind = "linux"`, `image = { linux = "debian" }`): an unmodified arm64
//! kernel `Image`, an initramfs and a device tree generated from the configuration, placed in
//! the partition's boot RAM (its first memory region) as three load segments.
//!
//! The build tool (xtask) fetches the kernel and builds the initramfs ([`LinuxPayload`]); this
//! module checks the kernel's arm64 `Image` header ([`ImageHeader`], E110), places the three
//! pieces ([`place`], E111), writes the device tree ([`linux_device_tree`]) and turns it all
//! into the partition's [`Image`]: entry at the kernel, `x0` = the device tree's address.
//!
//! Placement in the boot RAM `[base, base + size)` (base 2 MiB aligned, E108), following the
//! arm64 boot protocol (Documentation/arch/arm64/booting.rst):
//!
//! - the kernel at `base + text_offset`, taking `image_size` bytes (its `.bss` included);
//! - the device tree at the start of the last whole 2 MiB block of the region: 8-byte aligned,
//!   at most 2 MiB, never crossing a 2 MiB boundary, and alone in that block;
//! - the initramfs right below that block, its start 4 KiB aligned;
//! - everything else is free RAM for Linux.
//!
//! Nothing here panics on bad input: the kernel file is untrusted until its header is checked.

mod dtb;

use std::ops::Range;

pub use dtb::{device_binding, linux_device_tree};

use crate::diag::{Diagnostic, Rule};
use crate::image::{Image, LoadSegment};
use crate::model::{ImageSource, LinuxImage, LoadedConfig, MemoryRegion, PartitionConfig};
use crate::validate::hex;

const MIB: u64 = 1 << 20;

/// Smallest boot RAM a Linux partition may have (E108).
pub const MIN_BOOT_RAM: u64 = 64 * MIB;
/// Alignment of the boot RAM's IPA: the arm64 boot protocol loads the kernel `text_offset`
/// bytes above a 2 MiB aligned base.
pub const BOOT_ALIGN: u64 = 2 * MIB;
/// Largest device tree blob the arm64 boot protocol accepts; it gets a 2 MiB block of its own.
pub const DTB_MAX_SIZE: u64 = 2 * MIB;
/// Alignment of the initramfs: whole pages, which Linux frees once it has unpacked them.
pub const INITRAMFS_ALIGN: u64 = 0x1000;
/// Longest `bootargs` a configuration may add (E107); Linux's arm64 command line holds 2048.
pub const MAX_BOOTARGS_LEN: usize = 1024;
/// What each vCPU's GICv3 redistributor takes (RD_base and SGI_base frames, 64 KiB each).
pub const GICR_FRAME_SIZE: u64 = 0x2_0000;

/// The command line every Linux partition gets, before its `bootargs`: the console on the
/// virtual PL011 (early console included, at the board's UART address), `/init` of the
/// initramfs as the first process, and a panic that ends at once in a warm PSCI
/// `SYSTEM_RESET2`, which pkernel takes as the partition's HM error `application_error`
/// (an ordinary `reboot` stays a cold `SYSTEM_RESET`).
pub fn default_bootargs(board: &bsp::Board) -> String {
    format!(
        "console=ttyAMA0 earlycon=pl011,0x{:08x} rdinit=/init panic=-1 reboot=panic_warm",
        board.kernel_uart.base
    )
}

/// The whole kernel command line of `linux`: the defaults, then its `bootargs`.
pub fn bootargs(board: &bsp::Board, linux: &LinuxImage) -> String {
    let mut args = default_bootargs(board);
    if let Some(extra) = linux.bootargs.as_deref().map(str::trim)
        && !extra.is_empty()
    {
        args.push(' ');
        args.push_str(extra);
    }
    args
}

/// What the kernel emulates for a Linux partition with `vcpus` vCPUs, at the IPAs its device
/// tree gives them: the virtual PL011 at the board's UART address, the GIC distributor, and
/// one redistributor per vCPU from the board's redistributor base. Nothing of the partition may
/// be mapped there (E109).
pub fn emulated_devices(board: &bsp::Board, vcpus: usize) -> [(&'static str, bsp::PhysRange); 3] {
    [
        ("virtual UART", board.kernel_uart),
        ("GIC distributor", board.gicd),
        (
            "GIC redistributors",
            bsp::PhysRange::new(board.gicr.base, vcpus.max(1) as u64 * GICR_FRAME_SIZE),
        ),
    ]
}

/// The boot RAM of a Linux partition: its first memory region (E108).
pub fn boot_region(partition: &PartitionConfig) -> Option<&MemoryRegion> {
    partition.memory.first()
}

/// What the build tool hands over for one Linux partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxPayload {
    /// Where the kernel came from, for messages (e.g. the cached `Image` file).
    pub label: String,
    /// The uncompressed arm64 kernel `Image`.
    pub kernel: Vec<u8>,
    /// The initramfs (a `newc` cpio archive, compressed or not).
    pub initramfs: Vec<u8>,
}

/// Offset of the magic number in the arm64 `Image` header.
pub const IMAGE_MAGIC_OFFSET: usize = 0x38;
/// `"ARM\x64"`, little-endian 0x644d_5241.
pub const IMAGE_MAGIC: [u8; 4] = *b"ARM\x64";
/// Size of the arm64 `Image` header.
pub const IMAGE_HEADER_SIZE: usize = 64;

/// The fields of an arm64 kernel `Image` header that placement needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// Offset 0x08: where the image goes above a 2 MiB aligned base.
    pub text_offset: u64,
    /// Offset 0x10: how much memory the image takes from its start, `.bss` included.
    pub image_size: u64,
    /// Offset 0x18: bit 0 big-endian, bits 1-2 page size, bit 3 placement anywhere in RAM.
    pub flags: u64,
}

/// Reads and checks the arm64 `Image` header of `kernel`: the magic at 0x38, a little-endian
/// kernel, a known `image_size` (0 means a kernel older than 3.17, whose memory needs are
/// unknown) covering the file.
pub fn parse_image_header(kernel: &[u8]) -> Result<ImageHeader, String> {
    let u64_at = |offset: usize| {
        kernel
            .get(offset..offset + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if kernel.len() < IMAGE_HEADER_SIZE {
        return Err(format!(
            "it is {} long, shorter than the 64-byte arm64 Image header",
            crate::diag::count(kernel.len(), "byte", "bytes")
        ));
    }
    if kernel[IMAGE_MAGIC_OFFSET..IMAGE_MAGIC_OFFSET + 4] != IMAGE_MAGIC {
        let what = if kernel.starts_with(&[0x1f, 0x8b]) {
            " (it is gzip-compressed: give the uncompressed Image)"
        } else {
            ""
        };
        return Err(format!(
            "it has no arm64 Image magic \"ARM\\x64\" at offset 0x38{what}"
        ));
    }
    let (Some(text_offset), Some(image_size), Some(flags)) =
        (u64_at(8), u64_at(0x10), u64_at(0x18))
    else {
        return Err("its header is truncated".to_owned());
    };
    if flags & 1 != 0 {
        return Err("it is a big-endian kernel".to_owned());
    }
    if image_size == 0 {
        return Err(
            "its header gives no image_size (a kernel older than 3.17), so the memory it needs is unknown"
                .to_owned(),
        );
    }
    if image_size < kernel.len() as u64 {
        return Err(format!(
            "its header's image_size {} is smaller than the file ({} bytes)",
            hex(image_size, false),
            hex(kernel.len() as u64, false)
        ));
    }
    if !text_offset.is_multiple_of(8) || text_offset >= BOOT_ALIGN {
        return Err(format!(
            "its header's text_offset {} is not 8-byte aligned below 2 MiB",
            hex(text_offset, false)
        ));
    }
    Ok(ImageHeader {
        text_offset,
        image_size,
        flags,
    })
}

/// Where the three pieces of a Linux partition go, as IPAs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The kernel: `[base + text_offset, + image_size)`; its start is the entry point.
    pub kernel: Range<u64>,
    /// The initramfs.
    pub initramfs: Range<u64>,
    /// The 2 MiB block the device tree starts (is alone) in; its start is the device tree's
    /// address, `x0` at entry.
    pub dtb_block: Range<u64>,
}

/// Places a kernel with `header` and an initramfs of `initramfs_len` bytes in `region` (see
/// the module documentation). The error says what does not fit.
pub fn place(
    region: &MemoryRegion,
    header: &ImageHeader,
    initramfs_len: u64,
) -> Result<Placement, String> {
    let base = region.ipa;
    let end = region.ipa + region.size;
    let kernel_start = base + header.text_offset;
    let kernel = kernel_start..kernel_start.saturating_add(header.image_size);
    let dtb_start = (end & !(BOOT_ALIGN - 1)).checked_sub(BOOT_ALIGN);
    let Some(dtb_start) = dtb_start.filter(|&d| d >= kernel.end) else {
        return Err(format!(
            "the kernel ({} bytes from {}) and a 2 MiB block for the device tree need more than region {:?} ({}..{})",
            hex(header.image_size, false),
            hex(kernel_start, true),
            region.name,
            hex(base, true),
            hex(end, true)
        ));
    };
    let initramfs_start = dtb_start
        .checked_sub(initramfs_len)
        .map(|s| s & !(INITRAMFS_ALIGN - 1))
        .filter(|&s| s >= kernel.end);
    let Some(initramfs_start) = initramfs_start else {
        return Err(format!(
            "the initramfs ({} bytes) does not fit between the kernel's end at {} and the device tree's block at {} in region {:?}",
            hex(initramfs_len, false),
            hex(kernel.end, true),
            hex(dtb_start, true),
            region.name
        ));
    };
    Ok(Placement {
        kernel,
        initramfs: initramfs_start..initramfs_start + initramfs_len,
        dtb_block: dtb_start..dtb_start + BOOT_ALIGN,
    })
}

/// The load segments of Linux partition `partition` from `payload`: the kernel, the initramfs
/// and the device tree, in that order (and in IPA order), entered at the kernel with `x0` =
/// the device tree's address. Checks E110 and E111.
pub fn linux_image(
    cfg: &LoadedConfig,
    partition: &PartitionConfig,
    payload: &LinuxPayload,
) -> Result<Image, Vec<Diagnostic>> {
    let part = &partition.name;
    let label = &payload.label;
    let header = parse_image_header(&payload.kernel).map_err(|why| {
        vec![Diagnostic::new(
            Rule::LinuxKernelImage,
            label,
            format!("the kernel of Linux partition {part:?} is not an arm64 Image: {why}"),
            "give the uncompressed arm64 kernel Image (xtask unpacks Debian's vmlinuz)",
        )]
    })?;
    let placement_error = |why: String| {
        vec![Diagnostic::new(
            Rule::LinuxPlacement,
            label,
            format!("Linux partition {part:?} does not fit its boot RAM: {why}"),
            "grow the partition's first memory region (the boot RAM)",
        )]
    };
    // Validation guarantees a boot region (E108).
    let Some(region) = boot_region(partition) else {
        return Err(placement_error("it has no memory region".to_owned()));
    };
    let placement =
        place(region, &header, payload.initramfs.len() as u64).map_err(placement_error)?;
    let dtb = linux_device_tree(cfg, partition, placement.initramfs.clone());
    if dtb.is_empty() || dtb.len() as u64 > DTB_MAX_SIZE {
        return Err(vec![Diagnostic::new(
            Rule::OutputUnwritable,
            label,
            format!(
                "cannot write the device tree of Linux partition {part:?} ({} bytes)",
                dtb.len()
            ),
            "this is a schedule-gen bug (validation should have refused the configuration): please report it with the configuration",
        )]);
    }
    let segment = |ipa: u64, data: &[u8], mem_size: u64| LoadSegment {
        ipa,
        data: data.to_vec(),
        mem_size,
        writable: true,
        executable: true,
    };
    Ok(Image {
        entry: placement.kernel.start,
        segments: vec![
            segment(placement.kernel.start, &payload.kernel, header.image_size),
            segment(
                placement.initramfs.start,
                &payload.initramfs,
                payload.initramfs.len() as u64,
            ),
            segment(placement.dtb_block.start, &dtb, dtb.len() as u64),
        ],
        boot_argument: placement.dtb_block.start,
    })
}

/// The devices of `partition` its device tree leaves out, because pkernel knows no device-tree
/// binding for them (devices described with `mmio`, and board devices without one).
pub fn devices_left_out<'a>(
    cfg: &LoadedConfig,
    partition: &'a PartitionConfig,
) -> Vec<&'a crate::model::DeviceConfig> {
    partition
        .devices
        .iter()
        .filter(|d| device_binding(cfg.board(), d).is_none())
        .collect()
}

/// Whether `partition` boots Linux (its image is a Linux kernel).
pub fn is_linux(partition: &PartitionConfig) -> bool {
    matches!(partition.image, ImageSource::Linux(_))
}
