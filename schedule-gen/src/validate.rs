//! Whole-system rules: turns a [`RawConfig`] into validated partitions, reporting every broken
//! rule in one run (one [`Rule`] per check, each pointing at the value to change).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use bsp::{Board, PhysRange};
use toml::Spanned;

use crate::codegen::board_rust_path;
use crate::config::{RawConfig, RawImage, RawPartition, RawRegion};
use crate::diag::{Diagnostic, Position, Rule};
use crate::model::{ImageSource, MemoryRegion, PartitionConfig};

/// Most partitions one system may have.
pub const MAX_PARTITIONS: usize = 16;
/// Most memory regions one partition may have.
pub const MAX_REGIONS: usize = 16;
/// Most devices one partition may own.
pub const MAX_DEVICES: usize = 8;
/// Stage-2 page size: every region boundary is a multiple of it.
pub const PAGE_SIZE: u64 = 0x1000;
/// Stage-2 input range: IPAs are below 2^39 (T0SZ = 25, three-level tables from level 1).
pub const IPA_LIMIT: u64 = 1 << 39;
/// Longest partition and region name.
pub const MAX_NAME_LEN: usize = 24;
/// Longest module name.
pub const MAX_MODULE_NAME_LEN: usize = 32;

/// What a valid configuration describes.
pub(crate) struct Validated {
    pub module_name: String,
    pub board: &'static Board,
    pub partitions: Vec<PartitionConfig>,
}

/// Checks every rule on `raw` (read from `text`, reported as `file`); relative ELF paths are
/// resolved against `base_dir`. Errors come back sorted by position.
pub(crate) fn validate(
    file: &str,
    text: &str,
    raw: &RawConfig,
    base_dir: &Path,
) -> Result<Validated, Vec<Diagnostic>> {
    let mut cx = Checker {
        file,
        text,
        diags: Vec::new(),
    };
    let module = raw.module.get_ref();
    if !is_valid_name(module.name.get_ref(), MAX_MODULE_NAME_LEN) {
        cx.error(
            Rule::InvalidModuleName,
            module.name.span(),
            format!("module name {:?} is not an identifier", module.name.get_ref()),
            format!("use 1 to {MAX_MODULE_NAME_LEN} characters of a-z, 0-9, '_' or '-', starting with a letter"),
        );
    }
    let board = bsp::board_by_name(module.board.get_ref()).filter(|b| board_rust_path(b).is_some());
    if board.is_none() {
        let known: Vec<_> = bsp::BOARDS
            .iter()
            .filter(|b| board_rust_path(b).is_some())
            .map(|b| b.name)
            .collect();
        cx.error(
            Rule::UnknownBoard,
            module.board.span(),
            format!("unknown board {:?}", module.board.get_ref()),
            format!(
                "use one of the boards pkernel supports: {}",
                known.join(", ")
            ),
        );
    }
    if raw.partitions.is_empty() {
        cx.error(
            Rule::NoPartitions,
            raw.module.span(),
            "the configuration has no partitions".to_owned(),
            "add at least one [[partition]] table".to_owned(),
        );
    }

    let mut sys = SystemState::default();
    let partitions: Vec<_> = raw
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| cx.partition(&mut sys, board, i, p, base_dir))
        .collect();

    if cx.diags.is_empty()
        && let Some(board) = board
    {
        Ok(Validated {
            module_name: module.name.get_ref().clone(),
            board,
            partitions,
        })
    } else {
        cx.diags.sort_by_key(|d| d.position);
        Err(cx.diags)
    }
}

/// `1..=max` characters of `[a-z0-9_-]`, starting with a letter.
fn is_valid_name(name: &str, max: usize) -> bool {
    name.len() <= max
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A hex number with `_` every four digits; addresses are zero-padded to whole groups.
pub(crate) fn hex(value: u64, pad: bool) -> String {
    let digits = format!("{value:x}");
    let width = if pad {
        digits.len().div_ceil(4) * 4
    } else {
        digits.len()
    };
    let digits = format!("{value:0width$x}");
    let mut out = String::from("0x");
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 4 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// What earlier partitions already own, for the cross-partition rules.
#[derive(Default)]
struct SystemState {
    /// Partition names → line of first use.
    names: BTreeMap<String, usize>,
    /// Core → (owning partition, line).
    cores: BTreeMap<i64, (String, usize)>,
    /// Device → (owning partition, line).
    devices: BTreeMap<String, (String, usize)>,
    /// Physical RAM of every earlier partition: (partition, region, range, line).
    phys: Vec<(String, String, PhysRange, usize)>,
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, rule: Rule, span: Range<usize>, message: String, help: String) {
        let pos = self.pos(&span);
        self.diags
            .push(Diagnostic::new(rule, self.file, message, help).at(pos));
    }

    fn pos(&self, span: &Range<usize>) -> Position {
        Position::of_span(self.text, span.start)
    }

    fn line<T>(&self, v: &Spanned<T>) -> usize {
        self.pos(&v.span()).line
    }

    fn partition(
        &mut self,
        sys: &mut SystemState,
        board: Option<&'static Board>,
        index: usize,
        raw: &Spanned<RawPartition>,
        base_dir: &Path,
    ) -> PartitionConfig {
        let p = raw.get_ref();
        let name = p.name.get_ref().clone();
        if index == MAX_PARTITIONS {
            self.error(
                Rule::TooManyPartitions,
                p.name.span(),
                format!("partition {name:?} is number {}; at most {MAX_PARTITIONS} partitions are supported", index + 1),
                "merge or remove partitions".to_owned(),
            );
        }
        if !is_valid_name(&name, MAX_NAME_LEN) {
            self.error(
                Rule::InvalidPartitionName,
                p.name.span(),
                format!("partition name {name:?} is not valid"),
                format!("use 1 to {MAX_NAME_LEN} characters of a-z, 0-9, '_' or '-', starting with a letter"),
            );
        } else if let Some(&line) = sys.names.get(&name) {
            self.error(
                Rule::DuplicatePartitionName,
                p.name.span(),
                format!("partition name {name:?} is already used on line {line}"),
                "give every partition a different name".to_owned(),
            );
        } else {
            sys.names.insert(name.clone(), self.line(&p.name));
        }

        let image = self.image(&name, &p.image, base_dir);
        let cores = self.cores(sys, board, &name, p);

        // Region and device names share one namespace: all become the partition's regions.
        let mut region_names: BTreeMap<String, usize> = BTreeMap::new();
        let mut memory = Vec::new();
        let mut ipa_ranges: Vec<(String, PhysRange, usize)> = Vec::new();
        let mut phys_ranges = Vec::new();
        for (j, r) in p.memory.iter().enumerate() {
            if j == MAX_REGIONS {
                self.error(
                    Rule::TooManyRegions,
                    r.span(),
                    format!("partition {name:?} has more than {MAX_REGIONS} memory regions"),
                    "merge adjacent regions or remove some".to_owned(),
                );
            }
            if let Some(region) = self.region(board, &name, r.get_ref(), &mut region_names) {
                let line = self.line(r);
                let rn = &region.name;
                let ipa = PhysRange::new(region.ipa, region.size);
                let ipa_span = r.get_ref().ipa.span();
                if let Some((other, _, other_line)) =
                    ipa_ranges.iter().find(|(_, o, _)| o.overlaps(&ipa))
                {
                    self.error(
                        Rule::RegionIpaOverlap,
                        ipa_span.clone(),
                        format!(
                            "region {rn:?} of partition {name:?} overlaps region {other:?} (line {other_line}) in IPA space"
                        ),
                        "move one of the regions so their [ipa, ipa + size) ranges do not overlap".to_owned(),
                    );
                }
                let phys = PhysRange::new(region.phys, region.size);
                let phys_span = r.get_ref().phys.as_ref().map_or(ipa_span, |s| s.span());
                if let Some((op, or, _, ol)) =
                    sys.phys.iter().find(|(_, _, o, _)| o.overlaps(&phys))
                {
                    self.error(
                        Rule::PhysOverlap,
                        phys_span,
                        format!(
                            "physical memory of region {rn:?} of partition {name:?} overlaps region {or:?} of partition {op:?} (line {ol})"
                        ),
                        "give each partition its own physical RAM (set `phys` to a free range); shared memory is not supported yet".to_owned(),
                    );
                }
                ipa_ranges.push((rn.clone(), ipa, line));
                phys_ranges.push((name.clone(), rn.clone(), phys, line));
                memory.push(region);
            }
        }

        let mut devices = Vec::new();
        for (k, d) in p.devices.iter().enumerate() {
            let dn = d.get_ref().name.get_ref();
            let span = d.get_ref().name.span();
            if k == MAX_DEVICES {
                self.error(
                    Rule::TooManyDevices,
                    span.clone(),
                    format!("partition {name:?} owns more than {MAX_DEVICES} devices"),
                    "give some devices to another partition or remove them".to_owned(),
                );
            }
            self.unique_region_name(&name, dn, &span, &mut region_names);
            let Some(board) = board else { continue };
            let Some(device) = board.device(dn) else {
                let known: Vec<_> = board.devices.iter().map(|d| d.name).collect();
                self.error(
                    Rule::UnknownDevice,
                    span,
                    format!(
                        "board {:?} has no device {dn:?} a partition can own",
                        board.name
                    ),
                    format!("use one of: {}", known.join(", ")),
                );
                continue;
            };
            match sys.devices.get(dn) {
                Some((owner, line)) if *owner != name => self.error(
                    Rule::DeviceShared,
                    span.clone(),
                    format!("device {dn:?} is already owned by partition {owner:?} (line {line})"),
                    "give each device to one partition only".to_owned(),
                ),
                Some(_) => {} // listed twice in this partition: already a duplicate name
                None => {
                    sys.devices
                        .insert(dn.clone(), (name.clone(), self.line(&d.get_ref().name)));
                }
            }
            if let Some((rn, _, line)) =
                ipa_ranges.iter().find(|(_, r, _)| r.overlaps(&device.mmio))
            {
                self.error(
                    Rule::DeviceIpaCollision,
                    span,
                    format!(
                        "device {dn:?} is mapped at IPA {}..{}, which collides with RAM region {rn:?} (line {line}) of partition {name:?}",
                        hex(device.mmio.base, true),
                        hex(device.mmio.end(), true)
                    ),
                    "move the RAM region's `ipa` away from the device's address".to_owned(),
                );
            }
            devices.push(device);
        }
        sys.phys.extend(phys_ranges);

        PartitionConfig {
            name,
            kind: *p.kind.get_ref(),
            cores,
            image,
            memory,
            devices,
        }
    }

    fn image(&mut self, name: &str, raw: &Spanned<RawImage>, base_dir: &Path) -> ImageSource {
        let img = raw.get_ref();
        let bad = |cx: &mut Self, span: Range<usize>, what: String, help: &str| {
            cx.error(
                Rule::InvalidImageSource,
                span,
                format!("partition {name:?}: {what}"),
                help.to_owned(),
            );
        };
        match (&img.package, &img.elf) {
            (Some(pkg), None) => {
                let valid = !pkg.get_ref().is_empty()
                    && pkg
                        .get_ref()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    bad(
                        self,
                        pkg.span(),
                        format!("{:?} is not a package name", pkg.get_ref()),
                        "name a package of this workspace, e.g. `image = { package = \"bm-ticker\" }`",
                    );
                }
                ImageSource::Package(pkg.get_ref().clone())
            }
            (None, Some(elf)) => {
                if elf.get_ref().is_empty() {
                    bad(
                        self,
                        elf.span(),
                        "the ELF path is empty".to_owned(),
                        "give the path of the partition's ELF file",
                    );
                }
                ImageSource::Elf(base_dir.join(elf.get_ref()))
            }
            (Some(_), Some(_)) => {
                bad(
                    self,
                    raw.span(),
                    "the image names both a package and an ELF file".to_owned(),
                    "keep only one of `package` or `elf`",
                );
                ImageSource::Package(String::new())
            }
            (None, None) => {
                bad(
                    self,
                    raw.span(),
                    "the image names neither a package nor an ELF file".to_owned(),
                    "write `image = { package = \"<crate>\" }` or `image = { elf = \"<path>\" }`",
                );
                ImageSource::Package(String::new())
            }
        }
    }

    fn cores(
        &mut self,
        sys: &mut SystemState,
        board: Option<&Board>,
        name: &str,
        p: &RawPartition,
    ) -> Vec<u8> {
        let list = match &p.cores {
            Some(list) if !list.get_ref().is_empty() => list.get_ref(),
            other => {
                let span = other.as_ref().map_or_else(|| p.name.span(), |l| l.span());
                self.error(
                    Rule::NoCores,
                    span,
                    format!("partition {name:?} has no cores"),
                    "give it at least one dedicated core, e.g. `cores = [1]`".to_owned(),
                );
                return Vec::new();
            }
        };
        let mut cores = Vec::new();
        for core in list {
            let c = *core.get_ref();
            if let Some(board) = board
                && !(0..board.core_count() as i64).contains(&c)
            {
                self.error(
                    Rule::CoreNotOnBoard,
                    core.span(),
                    format!("board {:?} has no core {c}", board.name),
                    format!("use a core index from 0 to {}", board.core_count() - 1),
                );
                continue;
            }
            match sys.cores.get(&c) {
                Some((owner, line)) => {
                    let whom = if owner == name {
                        "this partition".to_owned()
                    } else {
                        format!("partition {owner:?}")
                    };
                    self.error(
                        Rule::CoreShared,
                        core.span(),
                        format!("core {c} is already given to {whom} (line {line})"),
                        "give each core to exactly one partition, once".to_owned(),
                    );
                }
                None => {
                    sys.cores.insert(c, (name.to_owned(), self.line(core)));
                }
            }
            cores.extend(u8::try_from(c).ok());
        }
        cores
    }

    fn unique_region_name(
        &mut self,
        part: &str,
        name: &str,
        span: &Range<usize>,
        seen: &mut BTreeMap<String, usize>,
    ) {
        if let Some(line) = seen.get(name) {
            self.error(
                Rule::DuplicateRegionName,
                span.clone(),
                format!(
                    "partition {part:?} already has a region or device named {name:?} (line {line})"
                ),
                "give every memory region and device of a partition a different name".to_owned(),
            );
        } else {
            seen.insert(name.to_owned(), self.pos(span).line);
        }
    }

    /// Checks one region on its own; returns it when its numbers are usable for overlap checks.
    fn region(
        &mut self,
        board: Option<&Board>,
        part: &str,
        r: &RawRegion,
        names: &mut BTreeMap<String, usize>,
    ) -> Option<MemoryRegion> {
        let rn = r.name.get_ref();
        if !is_valid_name(rn, MAX_NAME_LEN) {
            self.error(
                Rule::InvalidRegionName,
                r.name.span(),
                format!("region name {rn:?} of partition {part:?} is not valid"),
                format!("use 1 to {MAX_NAME_LEN} characters of a-z, 0-9, '_' or '-', starting with a letter"),
            );
        }
        self.unique_region_name(part, rn, &r.name.span(), names);
        let what = format!("region {rn:?} of partition {part:?}");
        let ipa = *r.ipa.get_ref();
        let size = *r.size.get_ref();
        let phys = r.phys.as_ref().map_or(ipa, |p| *p.get_ref());
        let mut fields = vec![("ipa", &r.ipa, false), ("size", &r.size, true)];
        if let Some(p) = &r.phys {
            fields.insert(1, ("phys", p, false));
        }
        for (field, value, round_up) in fields {
            let v = *value.get_ref();
            if v % PAGE_SIZE != 0 {
                let suggestion = if round_up {
                    v.div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE)
                } else {
                    v & !(PAGE_SIZE - 1)
                };
                self.error(
                    Rule::UnalignedRegion,
                    value.span(),
                    format!(
                        "{what}: {field} {} is not a multiple of 4 KiB",
                        hex(v, !round_up)
                    ),
                    format!(
                        "use a multiple of 0x1000, e.g. {}",
                        hex(suggestion, !round_up)
                    ),
                );
            }
        }
        if size == 0 {
            self.error(
                Rule::EmptyRegion,
                r.size.span(),
                format!("{what} has size 0"),
                "give the region a size of at least 0x1000, or remove it".to_owned(),
            );
            return None;
        }
        let phys_span = r.phys.as_ref().map_or_else(|| r.ipa.span(), |p| p.span());
        let mut usable = true;
        for (field, base, span) in [
            ("ipa", ipa, r.ipa.span()),
            ("phys", phys, phys_span.clone()),
        ] {
            if base.checked_add(size).is_none() && (field == "ipa" || r.phys.is_some()) {
                self.error(
                    Rule::AddressOverflow,
                    span,
                    format!(
                        "{what}: {field} {} + size {} overflows 64 bits",
                        hex(base, true),
                        hex(size, false)
                    ),
                    "lower the address or the size".to_owned(),
                );
                usable = false;
            }
        }
        if !usable {
            return None;
        }
        if ipa + size > IPA_LIMIT {
            self.error(
                Rule::IpaOutOfRange,
                r.ipa.span(),
                format!(
                    "{what} ends at IPA {}, beyond the 39-bit stage-2 input range",
                    hex(ipa + size, true)
                ),
                format!("keep ipa + size at or below {}", hex(IPA_LIMIT, true)),
            );
        }
        if let Some(board) = board {
            let identity = if r.phys.is_none() {
                " (identity-mapped: phys = ipa)"
            } else {
                ""
            };
            let range = format!("{}..{}", hex(phys, true), hex(phys + size, true));
            if !board.ram.contains_range(phys, size) {
                self.error(
                    Rule::RegionOutsideRam,
                    phys_span.clone(),
                    format!("{what}: physical range {range}{identity} is not inside the RAM of board {:?}", board.name),
                    format!("place it inside {}..{}", hex(board.ram.base, true), hex(board.ram.end(), true)),
                );
            }
            if board.kernel_reserved.overlaps(&PhysRange::new(phys, size)) {
                self.error(
                    Rule::RegionInKernelReserved,
                    phys_span,
                    format!("{what}: physical range {range}{identity} overlaps the RAM reserved for the kernel"),
                    format!(
                        "place it outside {}..{}{}",
                        hex(board.kernel_reserved.base, true),
                        hex(board.kernel_reserved.end(), true),
                        if r.phys.is_none() { " (set `phys` to keep the IPA)" } else { "" }
                    ),
                );
            }
        }
        Some(MemoryRegion {
            name: rn.clone(),
            ipa,
            phys,
            size,
            access: *r.access.get_ref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_groups_digits() {
        assert_eq!(hex(0x4000_0000, true), "0x4000_0000");
        assert_eq!(hex(0x901_0000, true), "0x0901_0000");
        assert_eq!(hex(0x20_0000, false), "0x20_0000");
        assert_eq!(hex(0x2345, false), "0x2345");
        assert_eq!(hex(0, false), "0x0");
        assert_eq!(hex(0, true), "0x0000");
        assert_eq!(hex(u64::MAX, true), "0xffff_ffff_ffff_ffff");
    }

    #[test]
    fn names() {
        assert!(is_valid_name("ctrl", 24));
        assert!(is_valid_name("a-b_9", 24));
        assert!(!is_valid_name("", 24));
        assert!(!is_valid_name("9a", 24));
        assert!(!is_valid_name("Ctrl", 24));
        assert!(!is_valid_name(&"a".repeat(25), 24));
        assert!(is_valid_name(&"a".repeat(24), 24));
    }
}
