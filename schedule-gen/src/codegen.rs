//! Writes the kernel's static tables (`system_tables.rs`, data only) and the segment files.
//!
//! Output is deterministic: the same configuration and images give byte-identical files, and
//! `system_tables.rs` names only the configuration's file name, never a directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, Rule};
use crate::image::{Image, read_image};
use crate::info_page::{self, info_pages};
use sha2::{Digest, Sha256};

use crate::linux::{LinuxPayload, linux_image};
use crate::model::{
    ChannelBuffer, Direction, HmAction, ImageSource, LoadedConfig, PartitionConfig, PortKind,
    QueuingDiscipline,
};
use crate::table_pages::table_pages;
use crate::validate::hex;

/// Board name → the Rust path of its `bsp` constant, as `system_tables.rs` names it. The one
/// place a new board must be added (besides `bsp` itself).
const BOARD_PATHS: &[(&str, &str)] = &[("qemu-virt", "bsp::QEMU_VIRT")];

/// The Rust path of `board`'s constant, if schedule-gen knows it.
pub fn board_rust_path(board: &bsp::Board) -> Option<&'static str> {
    BOARD_PATHS
        .iter()
        .find(|(name, _)| *name == board.name)
        .map(|(_, path)| *path)
}

/// Name of the generated tables file in the output directory: everything the configuration
/// says, nothing from the images, so reports can hash it without building anything.
pub const TABLES_FILE: &str = "system_tables.rs";
/// Name of the generated images file: each partition's entry point and load segments.
pub const IMAGES_FILE: &str = "partition_images.rs";
/// Name of the copy of the configuration in the output directory.
pub const CONFIG_COPY_FILE: &str = "config.toml";

/// What the build tool gives schedule-gen for one partition.
#[derive(Clone, Debug)]
pub enum PartitionPayload {
    /// The partition's ELF (for `package` and `elf` images).
    Elf(PathBuf),
    /// The kernel and initramfs of a Linux partition (`linux` images).
    Linux(LinuxPayload),
}

/// Checks every partition's image against its memory map, then writes `system_tables.rs`,
/// `partition_images.rs`, one `<partition>.<n>.bin` per load segment, one
/// `<partition>.info.bin` (its information page) per partition and `config.toml` into
/// `out_dir`. Nothing is written unless every image passes. Files whose content is unchanged
/// are not rewritten.
///
/// Every image is an ELF here; [`generate_system`] takes Linux partitions' material too.
pub fn generate_kernel_tables(
    cfg: &LoadedConfig,
    images: &BTreeMap<String, PathBuf>,
    out_dir: &Path,
) -> Result<(), Diagnostics> {
    let payloads = images
        .iter()
        .map(|(name, path)| (name.clone(), PartitionPayload::Elf(path.clone())))
        .collect();
    generate_system(cfg, &payloads, out_dir).map(drop)
}

/// [`generate_kernel_tables`] with each partition's payload: an ELF, or for a Linux partition
/// its kernel and initramfs, placed with the device tree generated for it
/// ([`crate::linux::linux_image`]). Returns the names of the files it generated in `out_dir`;
/// a file whose bytes are already there is left as it is, time included, so a kernel build
/// that depends on them redoes nothing.
pub fn generate_system(
    cfg: &LoadedConfig,
    payloads: &BTreeMap<String, PartitionPayload>,
    out_dir: &Path,
) -> Result<Vec<String>, Diagnostics> {
    let file = cfg.path().display().to_string();
    let mut diags = Vec::new();
    for name in payloads.keys() {
        if !cfg.partitions().any(|p| &p.name == name) {
            let known: Vec<_> = cfg.partitions().map(|p| p.name.as_str()).collect();
            diags.push(Diagnostic::new(
                Rule::UnexpectedImage,
                &file,
                format!("an image was given for partition {name:?}, which the configuration does not have"),
                format!("give images only for: {}", known.join(", ")),
            ));
        }
    }
    let mut loaded = Vec::new();
    for p in cfg.partitions() {
        let linux = matches!(p.image, ImageSource::Linux(_));
        match payloads.get(&p.name) {
            None if linux => diags.push(Diagnostic::new(
                Rule::MissingImage,
                &file,
                format!(
                    "no kernel and initramfs were given for Linux partition {:?}",
                    p.name
                ),
                format!(
                    "pass `--linux {}=<Image>,<initramfs>` (xtask fetches and builds them)",
                    p.name
                ),
            )),
            None => diags.push(Diagnostic::new(
                Rule::MissingImage,
                &file,
                format!("no image was given for partition {:?}", p.name),
                format!(
                    "pass `--image {}=<elf>` (xtask does this for package images)",
                    p.name
                ),
            )),
            Some(PartitionPayload::Elf(_)) if linux => diags.push(Diagnostic::new(
                Rule::MissingImage,
                &file,
                format!(
                    "an ELF was given for Linux partition {:?}, which boots a Linux kernel",
                    p.name
                ),
                format!(
                    "pass `--linux {}=<Image>,<initramfs>` instead (xtask fetches and builds them)",
                    p.name
                ),
            )),
            Some(PartitionPayload::Linux(_)) if !linux => diags.push(Diagnostic::new(
                Rule::UnexpectedImage,
                &file,
                format!(
                    "a Linux kernel was given for partition {:?}, whose image is not `linux`",
                    p.name
                ),
                format!("pass `--image {}=<elf>` instead", p.name),
            )),
            Some(PartitionPayload::Elf(path)) => match read_image(path, p) {
                Ok(image) => loaded.push((p, image)),
                Err(d) => diags.extend(d),
            },
            Some(PartitionPayload::Linux(payload)) => match linux_image(cfg, p, payload) {
                Ok(image) => loaded.push((p, image)),
                Err(d) => diags.extend(d),
            },
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics::new(diags));
    }

    // Validation enforces every limit of the page, so this only fails on a schedule-gen bug.
    let info_pages = info_pages(cfg).map_err(|(name, e)| {
        Diagnostic::new(
            Rule::OutputUnwritable,
            &file,
            format!("cannot write the information page of partition {name:?}: {e}"),
            "this is a schedule-gen bug (validation should have refused the configuration): please report it with the configuration",
        )
    })?;

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (p, (name, page)) in cfg.partitions().zip(&info_pages) {
        debug_assert_eq!(&p.name, name);
        files.push((info_page::file_name(p), page.to_vec()));
    }
    for (p, image) in &loaded {
        for (n, seg) in image.segments.iter().enumerate() {
            let bytes = if deflated(seg) {
                miniz_oxide::deflate::compress_to_vec(&seg.data, DEFLATE_LEVEL)
            } else {
                seg.data.clone()
            };
            files.push((segment_file(p, n), bytes));
        }
    }
    embedded_size_check(cfg, &files)?;
    let tables = system_tables(cfg);
    files.push((
        IMAGES_FILE.to_owned(),
        partition_images(cfg, &loaded, &sha256_hex(tables.as_bytes())).into_bytes(),
    ));
    files.push((TABLES_FILE.to_owned(), tables.into_bytes()));
    files.push((CONFIG_COPY_FILE.to_owned(), cfg.text().as_bytes().to_vec()));

    let unwritable = |what: &Path, e: std::io::Error| {
        Diagnostic::new(
            Rule::OutputUnwritable,
            what.display().to_string(),
            format!("cannot write generated output: {e}"),
            "check that the output directory is writable",
        )
    };
    std::fs::create_dir_all(out_dir).map_err(|e| unwritable(out_dir, e))?;
    let mut names = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let path = out_dir.join(&name);
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            std::fs::write(&path, &bytes).map_err(|e| unwritable(&path, e))?;
        }
        names.push(name);
    }
    Ok(names)
}

/// What the kernel's own code, data, stacks and translation tables take of its RAM window,
/// besides the partition images it carries: 0.8 MiB measured (qemu-virt, four cores), with
/// room to grow.
pub const KERNEL_OWN_BYTES: u64 = 1 << 20;

/// E113: the partition images (`files`' segments and information pages, as stored in the
/// kernel image) and the kernel's own [`KERNEL_OWN_BYTES`] must fit the RAM the board
/// reserves for the kernel image; otherwise the kernel's link would fail with a bare linker
/// message. The error names each partition's share.
fn embedded_size_check(cfg: &LoadedConfig, files: &[(String, Vec<u8>)]) -> Result<(), Diagnostic> {
    let reserved = cfg.board().kernel_reserved;
    let share = |p: &PartitionConfig| -> u64 {
        let prefix = format!("{}.", p.name);
        files
            .iter()
            .filter(|(name, _)| {
                name.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.ends_with(".bin"))
            })
            .map(|(_, bytes)| bytes.len() as u64)
            .sum()
    };
    let mut shares: Vec<(&str, u64)> = cfg
        .partitions()
        .map(|p| (p.name.as_str(), share(p)))
        .collect();
    let total: u64 = shares.iter().map(|(_, bytes)| bytes).sum();
    if total.saturating_add(KERNEL_OWN_BYTES) <= reserved.size {
        return Ok(());
    }
    shares.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
    let listed: Vec<String> = shares
        .iter()
        .filter(|(_, bytes)| *bytes > 0)
        .take(4)
        .map(|(name, bytes)| format!("{name:?} {}", mib(*bytes)))
        .collect();
    Err(Diagnostic::new(
        Rule::KernelImageTooLarge,
        cfg.path().display().to_string(),
        format!(
            "the kernel image would carry {} of partition images ({}), which with the kernel's own {} exceeds the {} board {:?} reserves for the kernel image ({:#x}..{:#x})",
            mib(total),
            listed.join(", "),
            mib(KERNEL_OWN_BYTES),
            mib(reserved.size),
            cfg.board().name,
            reserved.base,
            reserved.end()
        ),
        format!(
            "make the largest images smaller (segments above {} are stored compressed; uninitialised data costs nothing), or give the board a larger kernel_reserved window",
            mib(DEFLATE_ABOVE as u64)
        ),
    ))
}

/// Segments longer than this are stored DEFLATE-compressed in the kernel image, which the
/// kernel inflates when it loads them (`Segment::inflated_size`): a Linux kernel (31 MiB)
/// would not fit the kernel's reserved window otherwise; partition ELFs are far smaller.
pub const DEFLATE_ABOVE: usize = 1 << 20;
/// miniz_oxide's default level: most of the size gain, a second or two for a Linux kernel.
const DEFLATE_LEVEL: u8 = 6;

/// Whether `seg` is stored compressed.
fn deflated(seg: &crate::image::LoadSegment) -> bool {
    seg.data.len() > DEFLATE_ABOVE
}

fn segment_file(p: &PartitionConfig, n: usize) -> String {
    format!("{}.{n}.bin", p.name)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The configuration's file name, escaped for a Rust comment or string.
fn escaped_file_name(cfg: &LoadedConfig) -> String {
    cfg.file_name()
        .chars()
        .flat_map(char::escape_debug)
        .collect()
}

/// The text of `system_tables.rs`: every table the kernel needs that the configuration alone
/// decides. Depends on nothing but the configuration, so its hash identifies the tables in
/// reports and in the kernel's boot banner.
pub fn system_tables(cfg: &LoadedConfig) -> String {
    // Validation only accepts boards with a path, so the fallback is never used.
    let board = board_rust_path(cfg.board()).unwrap_or("bsp::UNKNOWN_BOARD");
    let mut s = String::new();
    // `write!` to a `String` cannot fail.
    let mut w = |args: std::fmt::Arguments<'_>| {
        let _ = s.write_fmt(args);
    };
    w(format_args!(
        "// @generated by schedule-gen from {}. Do not edit.\n",
        escaped_file_name(cfg)
    ));
    w(format_args!("pub static SYSTEM: System = System {{\n"));
    w(format_args!("    module_name: {:?},\n", cfg.module_name()));
    w(format_args!("    board: &{board},\n"));
    w(format_args!("    config_sha256: {:?},\n", cfg.sha256_hex()));
    w(format_args!("    tables_sha256: TABLES_SHA256,\n"));
    w(format_args!("    core_count: {},\n", cfg.core_count()));
    w(format_args!("    counter_hz: {},\n", cfg.counter_hz()));
    w(format_args!("    partitions: &[\n"));
    for (id, p) in cfg.partitions().enumerate() {
        let cores: Vec<_> = p.cores.iter().map(u8::to_string).collect();
        w(format_args!("        Partition {{\n"));
        w(format_args!("            id: {id},\n"));
        w(format_args!("            name: {:?},\n", p.name));
        w(format_args!(
            "            kind: PartitionKind::{},\n",
            p.kind.rust_variant()
        ));
        w(format_args!("            vmid: {},\n", id + 1));
        w(format_args!(
            "            criticality: Criticality::{},\n",
            p.criticality.as_str()
        ));
        w(format_args!("            pmu: {},\n", p.pmu));
        w(format_args!(
            "            cores: &[{}],\n",
            cores.join(", ")
        ));
        match p.time {
            Some(t) => w(format_args!(
                "            time: Some(TimeBudget {{ period_ticks: {}, duration_ticks: {} }}),\n",
                cfg.ticks(t.period_ns),
                cfg.ticks(t.duration_ns)
            )),
            None => w(format_args!("            time: None,\n")),
        }
        w(format_args!("            regions: &[\n"));
        // The same list the table linker maps (`translation::regions`).
        for r in crate::translation::regions(p) {
            let kind = match r.kind {
                crate::translation::RegionKind::Ram => "Ram",
                crate::translation::RegionKind::Device => "Device",
                crate::translation::RegionKind::Port => "Port",
            };
            w(format_args!(
                "                Region {{ name: {:?}, ipa: {}, phys: {}, size: {}, kind: RegionKind::{kind}, access: Access {{ read: true, write: {}, execute: {} }} }},\n",
                r.name,
                hex(r.ipa, true),
                hex(r.phys, true),
                hex(r.size, false),
                r.write,
                r.execute
            ));
        }
        w(format_args!("            ],\n"));
        let irqs: Vec<_> = p
            .devices
            .iter()
            .flat_map(|d| d.interrupts.iter().map(u32::to_string))
            .collect();
        w(format_args!(
            "            interrupts: &[{}],\n",
            irqs.join(", ")
        ));
        w(format_args!("            ports: &[\n"));
        for port in &p.ports {
            let kind = match port.kind {
                PortKind::Sampling { refresh_period_ns } => format!(
                    "PortKind::Sampling {{ refresh_ticks: {} }}",
                    refresh_period_ns.map_or(0, |ns| cfg.ticks(ns))
                ),
                PortKind::Queuing {
                    max_messages,
                    discipline,
                } => format!(
                    "PortKind::Queuing {{ max_messages: {max_messages}, discipline: QueuingDiscipline::{} }}",
                    match discipline {
                        QueuingDiscipline::Fifo => "Fifo",
                        QueuingDiscipline::Priority => "Priority",
                    }
                ),
            };
            let ipa_of = |b: ChannelBuffer| {
                port.mappings
                    .iter()
                    .find(|m| m.buffer == b)
                    .map_or_else(|| "0".to_owned(), |m| hex(m.ipa, true))
            };
            w(format_args!(
                "                Port {{ name: {:?}, kind: {kind}, direction: PortDirection::{}, max_message_size: {}, channel: {}, data_ipa: {}, ack_ipa: {} }},\n",
                port.name,
                match port.direction {
                    Direction::Source => "Source",
                    Direction::Destination => "Destination",
                },
                port.max_message_size,
                port.channel,
                ipa_of(ChannelBuffer::Data),
                ipa_of(ChannelBuffer::Ack)
            ));
        }
        w(format_args!("            ],\n"));
        w(format_args!("            hm: &[\n"));
        for e in &p.hm {
            let action = match e.action {
                HmAction::Partition(a) => format!("HmAction::Partition(PartitionAction::{a:?})"),
                HmAction::Module(a) => format!("HmAction::Module(ModuleAction::{a:?})"),
            };
            w(format_args!(
                "                PartitionHmEntry {{ error: HmError::{:?}, action: {action} }},\n",
                e.error
            ));
        }
        w(format_args!("            ],\n"));
        w(format_args!(
            "            image: &PARTITION_IMAGES[{id}],\n"
        ));
        w(format_args!("        }},\n"));
    }
    w(format_args!("    ],\n"));
    w(format_args!("    schedules: &[\n"));
    for sch in cfg.schedules() {
        w(format_args!(
            "        CoreSchedule {{ core: {}, major_frame_ticks: {}, windows: &[\n",
            sch.core,
            cfg.ticks(sch.major_frame_ns)
        ));
        for win in &sch.windows {
            w(format_args!(
                "            Window {{ partition: {}, offset_ticks: {}, duration_ticks: {} }},\n",
                win.partition,
                cfg.ticks(win.offset_ns),
                cfg.ticks(win.duration_ns)
            ));
        }
        w(format_args!("        ] }},\n"));
    }
    w(format_args!("    ],\n"));
    w(format_args!("    channels: &[\n"));
    for c in cfg.channels() {
        let dests: Vec<_> = c
            .destinations
            .iter()
            .map(|d| format!("PortId {{ partition: {}, port: {} }}", d.partition, d.port))
            .collect();
        let ack = c.ack.map_or_else(
            || "None".to_owned(),
            |a| {
                format!(
                    "Some(PhysRange::new({}, {}))",
                    hex(a.base, true),
                    hex(a.size, false)
                )
            },
        );
        w(format_args!(
            "        Channel {{ name: {:?}, source: PortId {{ partition: {}, port: {} }}, destinations: &[{}], max_message_size: {}, data: PhysRange::new({}, {}), ack: {ack} }},\n",
            c.name,
            c.source.partition,
            c.source.port,
            dests.join(", "),
            c.max_message_size,
            hex(c.data.base, true),
            hex(c.data.size, false)
        ));
    }
    w(format_args!("    ],\n"));
    w(format_args!("    module_hm: &[\n"));
    for e in cfg.module_hm() {
        w(format_args!(
            "        ModuleHmEntry {{ error: HmError::{:?}, action: ModuleAction::{:?} }},\n",
            e.error, e.action
        ));
    }
    w(format_args!("    ],\n"));
    match cfg.console_input() {
        Some(id) => w(format_args!("    console_input: Some({id}),\n")),
        None => w(format_args!("    console_input: None,\n")),
    }
    w(format_args!("}};\n"));
    w(format_args!(
        "pub const PARTITION_COUNT: usize = {};\n",
        cfg.partitions().count()
    ));
    w(format_args!(
        "// The partition information pages (apex_api::info), by partition id; the table linker\n"
    ));
    w(format_args!(
        "// maps page `id` read-only at apex_api::info::INFO_PAGE_IPA in partition `id`:\n"
    ));
    let pages = info_pages(cfg);
    for (id, p) in cfg.partitions().enumerate() {
        let what = match &pages {
            Ok(pages) => pages.get(id).map_or_else(String::new, |(_, page)| {
                format!("sha256 {}", sha256_hex(page))
            }),
            Err((name, e)) if *name == p.name => format!("cannot be written: {e}"),
            Err(_) => "not written".to_owned(),
        };
        w(format_args!("//   {}: {what}\n", info_page::file_name(p)));
    }
    // A const, 4 KiB a partition: the kernel copies it once into the static the table linker
    // places (pkernel/src/main.rs), so its size is no cost.
    w(format_args!(
        "#[allow(clippy::large_const_arrays)] // copied once into a placed static (pkernel main.rs)\n"
    ));
    w(format_args!(
        "pub const INFO_PAGES: [::system_tables::translation::InfoPageBytes; {}] = [\n",
        cfg.partitions().count()
    ));
    for p in cfg.partitions() {
        w(format_args!(
            "    ::system_tables::translation::InfoPageBytes(*include_bytes!(concat!(env!(\"PKERNEL_SYSTEM_DIR\"), {:?}))),\n",
            format!("/{}", info_page::file_name(p))
        ));
    }
    w(format_args!("];\n"));
    let pages = table_pages(cfg);
    w(format_args!(
        "// Upper bound on the 4 KiB translation-table pages (schedule-gen builds the tables into\n"
    ));
    w(format_args!(
        "// the linked image; schedule-gen/src/table_pages.rs), the sum of:\n"
    ));
    w(format_args!(
        "//   EL2 stage 1 (kernel identity map): {}\n",
        pages.el2
    ));
    for (name, n) in &pages.partitions {
        w(format_args!("//   stage 2 of {name}: {n}\n"));
    }
    w(format_args!(
        "pub const TRANSLATION_TABLE_PAGES: usize = {};\n",
        pages.total()
    ));
    let ring = crate::trace::ring_sizing(cfg);
    let per_frame = ring.records_per_frame();
    let frames = crate::trace::RING_FRAMES;
    let other = crate::trace::RING_OTHER_EVENTS;
    w(format_args!(
        "// Records in each core's schedule-trace ring (apex_api::trace::CoreTrace; sized by\n"
    ));
    w(format_args!(
        "// schedule-gen/src/trace/mod.rs): room for {frames} major frames of the busiest time-partitioned\n"
    ));
    w(format_args!(
        "// core at one record per window and per idle gap\n"
    ));
    w(format_args!(
        "// ({}), plus {other} for other events,\n",
        match ring.busiest {
            Some((core, n)) => {
                format!("core {core}: {n} windows, so at most 2 x {n} + 1 = {per_frame} a frame")
            }
            None => "no time-partitioned core here, so 0 a frame".to_owned(),
        }
    ));
    w(format_args!(
        "// at least {}, rounded up to a power of two: {frames} x {per_frame} + {other} = {} -> {}.\n",
        crate::trace::RING_MIN_RECORDS,
        frames * per_frame + other,
        ring.records
    ));
    w(format_args!(
        "pub const TRACE_RECORDS_PER_CORE: usize = {};\n",
        ring.records
    ));
    s
}

/// The text of `partition_images.rs`: entry points and load segments, and the hash of the
/// `system_tables.rs` it goes with.
fn partition_images(
    cfg: &LoadedConfig,
    loaded: &[(&PartitionConfig, Image)],
    tables_sha256: &str,
) -> String {
    let mut s = String::new();
    let mut w = |args: std::fmt::Arguments<'_>| {
        let _ = s.write_fmt(args);
    };
    w(format_args!(
        "// @generated by schedule-gen from {} and the partition images. Do not edit.\n",
        escaped_file_name(cfg)
    ));
    w(format_args!(
        "pub const TABLES_SHA256: &str = {tables_sha256:?};\n"
    ));
    w(format_args!(
        "pub static PARTITION_IMAGES: [PartitionImage; {}] = [\n",
        loaded.len()
    ));
    for (p, image) in loaded {
        w(format_args!("    // {}\n", p.name));
        if let ImageSource::Linux(linux) = &p.image {
            w(format_args!(
                "    // Linux ({}): segment 0 the kernel Image, 1 the initramfs, 2 the device tree;\n",
                linux.source.as_str()
            ));
            w(format_args!(
                "    // entered at the Image with x0 = the device tree's address.\n"
            ));
            for d in crate::linux::devices_left_out(cfg, p) {
                w(format_args!(
                    "    // device {:?} is not in its device tree (no binding known)\n",
                    d.name
                ));
            }
        }
        w(format_args!(
            "    PartitionImage {{ entry_ipa: {}, boot_argument: {}, segments: &[\n",
            hex(image.entry, true),
            hex(image.boot_argument, image.boot_argument != 0)
        ));
        for (n, seg) in image.segments.iter().enumerate() {
            w(format_args!(
                "        Segment {{ ipa: {}, data: &CacheAligned(*include_bytes!(concat!(env!(\"PKERNEL_SYSTEM_DIR\"), {:?}))).0, inflated_size: {}, mem_size: {} }},\n",
                hex(seg.ipa, true),
                format!("/{}", segment_file(p, n)),
                if deflated(seg) {
                    hex(seg.data.len() as u64, false)
                } else {
                    "0".to_owned()
                },
                hex(seg.mem_size, false)
            ));
        }
        w(format_args!("    ] }},\n"));
    }
    w(format_args!("];\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bsp_board_has_a_rust_path() {
        for board in bsp::BOARDS {
            assert!(
                board_rust_path(board).is_some(),
                "add {:?} to BOARD_PATHS",
                board.name
            );
        }
    }
}
