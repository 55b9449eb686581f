//! Partition images: reads an ELF's load segments and checks they fit the partition's RAM map.
//!
//! The file is untrusted input: every header field is bounds-checked by `object`, every sum is
//! checked, and a malformed file is an error, never a panic.

use std::path::Path;

use object::Endianness;
use object::elf::{self, FileHeader64, ProgramHeader64};
use object::read::elf::{FileHeader, ProgramHeader};

use crate::diag::{Diagnostic, Rule};
use crate::model::{MemoryRegion, PartitionConfig};
use crate::validate::hex;

/// Offsets in `e_ident` (ELF spec), read before `object` parses the header so a 32-bit or
/// big-endian file gets a precise message.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;

/// A checked partition image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Entry point (IPA), inside an executable RAM region.
    pub entry: u64,
    /// Non-empty `PT_LOAD` segments in file order, each inside one RAM region.
    pub segments: Vec<LoadSegment>,
    /// What `x0` holds at entry (`PartitionImage::boot_argument`): 0, the kernel's default
    /// (the partition's index), for an ELF; the device tree's IPA for Linux
    /// ([`crate::linux::linux_image`]).
    pub boot_argument: u64,
}

/// One `PT_LOAD` segment: `data` goes to `ipa`, the rest of `mem_size` is zeroed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    /// `p_paddr`: where the partition sees it.
    pub ipa: u64,
    /// The `p_filesz` bytes of the file.
    pub data: Vec<u8>,
    /// `p_memsz`, at least `data.len()`.
    pub mem_size: u64,
    /// `PF_W`: needs a writable region.
    pub writable: bool,
    /// `PF_X`: needs an executable region.
    pub executable: bool,
}

/// Reads `path` and checks it as the image of `partition`.
pub fn read_image(path: &Path, partition: &PartitionConfig) -> Result<Image, Vec<Diagnostic>> {
    let label = path.display().to_string();
    let data = std::fs::read(path).map_err(|e| {
        vec![Diagnostic::new(
            Rule::ImageUnreadable,
            &label,
            format!(
                "cannot read the image of partition {:?}: {e}",
                partition.name
            ),
            "build the partition first, or fix the path given for its image",
        )]
    })?;
    check_image(&label, &data, partition)
}

/// Checks the ELF bytes `data` (reported as `label`) as the image of `partition`, reporting
/// every segment problem, not just the first.
pub fn check_image(
    label: &str,
    data: &[u8],
    partition: &PartitionConfig,
) -> Result<Image, Vec<Diagnostic>> {
    let err =
        |rule: Rule, message: String, help: &str| vec![Diagnostic::new(rule, label, message, help)];
    let part = &partition.name;
    if data.get(..4) != Some(&elf::ELFMAG[..]) {
        return Err(err(
            Rule::ImageMalformed,
            format!("the image of partition {part:?} is not an ELF file"),
            "give the linked ELF executable of the partition, not a raw binary",
        ));
    }
    let wrong_target = |what: &str| {
        err(
            Rule::ImageWrongTarget,
            format!(
                "the image of partition {part:?} is {what}; it must be ELF64 little-endian AArch64"
            ),
            "build the partition for aarch64-unknown-none",
        )
    };
    match data.get(EI_CLASS) {
        Some(&elf::ELFCLASS64) => {}
        Some(&elf::ELFCLASS32) => return Err(wrong_target("a 32-bit ELF")),
        _ => return Err(malformed(label, part, "ELF header")),
    }
    if data.get(EI_DATA) == Some(&elf::ELFDATA2MSB) {
        return Err(wrong_target("big-endian"));
    }
    let header = FileHeader64::<Endianness>::parse(data)
        .map_err(|_| malformed(label, part, "ELF header"))?;
    let endian = header
        .endian()
        .map_err(|_| malformed(label, part, "ELF header"))?;
    if header.e_machine(endian) != elf::EM_AARCH64 {
        return Err(wrong_target(&format!(
            "for machine {}",
            header.e_machine(endian)
        )));
    }
    if header.e_type(endian) != elf::ET_EXEC {
        return Err(err(
            Rule::ImageNotExecutable,
            format!(
                "the image of partition {part:?} is not a static executable (e_type {})",
                header.e_type(endian)
            ),
            "link it as a static, non-PIE executable (ET_EXEC)",
        ));
    }
    let headers = header
        .program_headers(endian, data)
        .map_err(|_| malformed(label, part, "program header table"))?;

    let mut diags = Vec::new();
    let mut segments: Vec<LoadSegment> = Vec::new();
    for (index, ph) in headers.iter().enumerate() {
        if ph.p_type(endian) != elf::PT_LOAD || ph.p_memsz(endian) == 0 {
            continue;
        }
        match segment(label, data, partition, endian, index, ph) {
            Ok(seg) => {
                let range = bsp::PhysRange::new(seg.ipa, seg.mem_size);
                if let Some(other) = segments
                    .iter()
                    .find(|o| bsp::PhysRange::new(o.ipa, o.mem_size).overlaps(&range))
                {
                    diags.push(Diagnostic::new(
                        Rule::SegmentOverlap,
                        label,
                        format!(
                            "segment {index} of partition {part:?} ({}) overlaps the segment at {}",
                            span_text(seg.ipa, seg.mem_size),
                            hex(other.ipa, true)
                        ),
                        "fix the partition's linker script so load segments do not overlap",
                    ));
                }
                segments.push(seg);
            }
            Err(d) => diags.extend(d),
        }
    }
    if segments.is_empty() && diags.is_empty() {
        diags.push(Diagnostic::new(
            Rule::ImageNoSegments,
            label,
            format!("the image of partition {part:?} has no non-empty PT_LOAD segment"),
            "link the partition with a linker script that places its code in a loadable segment",
        ));
    }
    let entry = header.e_entry(endian);
    let entry_ok = partition
        .memory
        .iter()
        .any(|r| r.access.execute() && r.contains_ipa(entry, 4));
    if !entry_ok {
        diags.push(Diagnostic::new(
            Rule::EntryNotExecutable,
            label,
            format!("the entry point {} of partition {part:?} is not inside an executable RAM region", hex(entry, true)),
            "give the region holding the entry point access \"rx\" or \"rwx\", or fix the image's entry address",
        ));
    }
    if diags.is_empty() {
        Ok(Image {
            entry,
            segments,
            boot_argument: 0,
        })
    } else {
        Err(diags)
    }
}

fn malformed(label: &str, part: &str, what: &str) -> Vec<Diagnostic> {
    vec![Diagnostic::new(
        Rule::ImageMalformed,
        label,
        format!("the image of partition {part:?} has a truncated or invalid {what}"),
        "rebuild the image; the file is damaged or not a complete ELF executable",
    )]
}

fn span_text(ipa: u64, size: u64) -> String {
    format!(
        "IPA {}..{}",
        hex(ipa, true),
        hex(ipa.saturating_add(size), true)
    )
}

/// Reads and checks one non-empty `PT_LOAD` program header.
fn segment(
    label: &str,
    data: &[u8],
    partition: &PartitionConfig,
    endian: Endianness,
    index: usize,
    ph: &ProgramHeader64<Endianness>,
) -> Result<LoadSegment, Vec<Diagnostic>> {
    let part = &partition.name;
    let (ipa, filesz, memsz, flags) = (
        ph.p_paddr(endian),
        ph.p_filesz(endian),
        ph.p_memsz(endian),
        ph.p_flags(endian),
    );
    let bytes = ph
        .data(endian, data)
        .ok()
        .filter(|_| filesz <= memsz)
        .ok_or_else(|| {
            malformed(
                label,
                part,
                &format!("program header {index} (file range or sizes)"),
            )
        })?;
    let seg = LoadSegment {
        ipa,
        data: bytes.to_vec(),
        mem_size: memsz,
        writable: flags & elf::PF_W != 0,
        executable: flags & elf::PF_X != 0,
    };
    let Some(region) = partition.memory.iter().find(|r| r.contains_ipa(ipa, memsz)) else {
        return Err(vec![Diagnostic::new(
            Rule::SegmentOutsideRegion,
            label,
            format!(
                "segment {index} of partition {part:?} ({}) is not wholly inside one of its RAM regions",
                span_text(ipa, memsz)
            ),
            format!(
                "link the image inside one region ({}), or grow a region to cover it",
                regions_text(partition)
            ),
        )]);
    };
    let mut missing = Vec::new();
    if seg.writable && !region.access.write() {
        missing.push("write");
    }
    if seg.executable && !region.access.execute() {
        missing.push("execute");
    }
    if !missing.is_empty() {
        let seg_flags = format!(
            "{}{}{}",
            "r",
            if seg.writable { "w" } else { "" },
            if seg.executable { "x" } else { "" }
        );
        return Err(vec![Diagnostic::new(
            Rule::SegmentAccess,
            label,
            format!(
                "segment {index} of partition {part:?} ({}, flags {seg_flags}) needs {} access, but region {:?} is {:?}",
                span_text(ipa, memsz),
                missing.join(" and "),
                region.name,
                region.access.as_str()
            ),
            format!(
                "set the region's access to {seg_flags:?} or wider, or move the segment to a region that allows it"
            ),
        )]);
    }
    Ok(seg)
}

fn regions_text(partition: &PartitionConfig) -> String {
    if partition.memory.is_empty() {
        return "the partition has no memory regions".to_owned();
    }
    partition
        .memory
        .iter()
        .map(region_text)
        .collect::<Vec<_>>()
        .join(", ")
}

fn region_text(r: &MemoryRegion) -> String {
    format!("{:?} is {}", r.name, span_text(r.ipa, r.size))
}
