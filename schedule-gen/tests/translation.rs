//! The table linker (`schedule_gen::translation`) checked from the outside: for every sample
//! configuration, tables are built for kernel images laid out in several ways, then walked
//! here by a small independent walker that reads the descriptors the way the MMU does (4 KiB
//! granule, 39-bit input, root at level 1). Every partition region must translate to its
//! physical address with exactly its rights; anything outside the regions must fault; the
//! kernel's own map must give text read-only and executable, read-only data read-only, the
//! rest of RAM writable and never executable, devices as device memory, and leave each
//! stack guard page unmapped. Each partition's information page must translate to its own
//! page of the image, read-only and never executable. The pages used must stay within
//! schedule-gen's bound.

mod common;

use std::path::{Path, PathBuf};

use apex_api::info::{INFO_PAGE_IPA, INFO_PAGE_SIZE};
use schedule_gen::table_pages::table_pages;
use schedule_gen::translation::{
    KernelLayout, LinkedTables, Placement, RegionKind, build_tables, kernel_layout, link_tables,
    regions,
};
use schedule_gen::{LoadedConfig, Rule, load};
use system_tables::translation::{
    KERNEL_STACK_SIZE, MAGIC, STACK_GUARD_SIZE, TABLE_PAGE_SIZE, TranslationHeader, VERSION,
};

const PAGE: u64 = TABLE_PAGE_SIZE as u64;
const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What the walker found for one input address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Leaf {
    output: u64,
    descriptor: u64,
}

/// Translates `va` through the tree rooted at `root`, reading descriptors from `tables`
/// (whose first page is at `base`), as the MMU would; None where it would fault.
fn walk(tables: &[u8], base: u64, root: u64, va: u64) -> Option<Leaf> {
    assert!(va < 1 << 39, "{va:#x} is outside the 39-bit input range");
    let descriptor = |table: u64, index: u64| {
        let at = usize::try_from(table - base).unwrap() + 8 * index as usize;
        u64::from_le_bytes(tables[at..at + 8].try_into().unwrap())
    };
    let output_bits = 0x0000_ffff_ffff_f000u64;
    let mut table = root;
    for level in 1..=3u32 {
        let shift = 12 + 9 * (3 - level);
        let d = descriptor(table, (va >> shift) & 511);
        if d & 1 == 0 {
            return None;
        }
        let is_table = d & 2 != 0;
        if level == 3 {
            // At level 3, bit 1 set is a page; clear is reserved (faults).
            return is_table.then_some(Leaf {
                output: (d & output_bits) | (va & (PAGE - 1)),
                descriptor: d,
            });
        }
        if !is_table {
            let size = 1u64 << shift;
            return Some(Leaf {
                output: (d & output_bits & !(size - 1)) | (va & (size - 1)),
                descriptor: d,
            });
        }
        table = d & output_bits;
    }
    unreachable!()
}

/// EL2 stage 1: (writable, executable, attribute index).
fn el2_rights(d: u64) -> (bool, bool, u64) {
    (d & (1 << 7) == 0, d & (1 << 54) == 0, (d >> 2) & 7)
}

/// Stage 2: (readable, writable, executable, MemAttr).
fn stage2_rights(d: u64) -> (bool, bool, bool, u64) {
    let s2ap = (d >> 6) & 3;
    (
        s2ap & 1 != 0,
        s2ap & 2 != 0,
        (d >> 53) & 3 == 0,
        (d >> 2) & 0xf,
    )
}

/// A kernel image inside `kernel_reserved`, with pieces of the given sizes; the read-only
/// data ends with the table pages, then the information pages; the stacks come
/// `stacks_after` bytes after the read-only data ends.
fn layout(cfg: &LoadedConfig, text: u64, rodata: u64, stacks_after: u64) -> KernelLayout {
    let base = cfg.board().kernel_reserved.base;
    let pages = table_pages(cfg).total();
    let partitions = cfg.partitions().count();
    let info_pages = base + text + rodata + pages as u64 * PAGE;
    let rodata_end = info_pages + (partitions * INFO_PAGE_SIZE) as u64;
    KernelLayout {
        image_start: base,
        text_end: base + text,
        rodata_end,
        stacks: rodata_end + stacks_after,
        header: Placement {
            address: base + text,
            file_offset: 0,
        },
        pages: Placement {
            address: base + text + rodata,
            file_offset: 0,
        },
        page_count: pages,
        info_pages: Placement {
            address: info_pages,
            file_offset: 0,
        },
        info_page_count: partitions,
    }
}

fn layouts(cfg: &LoadedConfig) -> Vec<(&'static str, KernelLayout)> {
    vec![
        ("small image", layout(cfg, 0xa000, 0x3000, 0x1_5000)),
        ("large image", layout(cfg, 0x21_3000, 0x40_0000, 0x80_0000)),
        (
            "pieces on 2 MiB boundaries",
            layout(cfg, 0x20_0000, 0x20_0000 - 0x1000, 0x20_0000),
        ),
    ]
}

fn check_el2(cfg: &LoadedConfig, kernel: &KernelLayout, tables: &LinkedTables, what: &str) {
    let board = cfg.board();
    let base = kernel.pages.address;
    let at = |va: u64| walk(&tables.pages, base, tables.header.el2_root, va);
    let expect = |va: u64, rights: Option<(bool, bool, u64)>, why: &str| {
        let leaf = at(va);
        if let Some(leaf) = leaf {
            assert_eq!(leaf.output, va, "{what}: EL2 is an identity map ({why})");
        }
        assert_eq!(
            leaf.map(|l| el2_rights(l.descriptor)),
            rights,
            "{what}: EL2 at {va:#x} ({why})"
        );
    };
    let (rw, ro) = (Some((true, false, 0)), Some((false, false, 0)));
    expect(
        kernel.image_start,
        Some((false, true, 0)),
        "first byte of text",
    );
    expect(
        kernel.text_end - 1,
        Some((false, true, 0)),
        "last byte of text",
    );
    expect(kernel.text_end, ro, "first byte of read-only data");
    expect(kernel.pages.address, ro, "the tables themselves");
    expect(kernel.rodata_end - 1, ro, "last byte of read-only data");
    expect(kernel.rodata_end, rw, "data");
    expect(board.ram.base + board.ram.size / 2, rw, "middle of RAM");
    expect(board.ram.end() - 1, rw, "last byte of RAM");
    assert_eq!(at(board.ram.end()), None, "{what}: nothing past RAM");
    let slot = (STACK_GUARD_SIZE + KERNEL_STACK_SIZE) as u64;
    for core in 0..board.core_count().min(system_tables::MAX_CORES) as u64 {
        let guard = kernel.stacks + core * slot;
        expect(guard, None, "stack guard page");
        expect(
            guard + STACK_GUARD_SIZE as u64 - 1,
            None,
            "stack guard page",
        );
        expect(guard + STACK_GUARD_SIZE as u64, rw, "stack bottom");
        expect(guard - 1, rw, "below the guard page");
    }
    for device in [board.kernel_uart, board.gicd, board.gicr] {
        expect(device.base, Some((true, false, 1)), "kernel device");
        expect(device.end() - 1, Some((true, false, 1)), "kernel device");
    }
    // A device the kernel does not own is not mapped for it: qemu-virt's RTC.
    expect(0x0901_0000, None, "a partition's device");
}

fn check_stage2(cfg: &LoadedConfig, kernel: &KernelLayout, tables: &LinkedTables, what: &str) {
    let base = kernel.pages.address;
    for (id, p) in cfg.partitions().enumerate() {
        let root = tables.header.stage2_roots[id];
        let at = |ipa: u64| walk(&tables.pages, base, root, ipa);
        let regions = regions(p);
        for r in &regions {
            let memattr = match r.kind {
                RegionKind::Device => 0b0001,
                RegionKind::Ram | RegionKind::Port => 0b1111,
            };
            let rights = (
                true,
                r.write,
                r.execute && r.kind == RegionKind::Ram,
                memattr,
            );
            for offset in [0, (r.size / 2) & !(PAGE - 1), r.size - 1] {
                let leaf = at(r.ipa + offset).unwrap_or_else(|| {
                    panic!(
                        "{what}: {} region {} not mapped at +{offset:#x}",
                        p.name, r.name
                    )
                });
                assert_eq!(
                    leaf.output,
                    r.phys + offset,
                    "{what}: {} {}",
                    p.name,
                    r.name
                );
                assert_eq!(
                    stage2_rights(leaf.descriptor),
                    rights,
                    "{what}: {} {}",
                    p.name,
                    r.name
                );
            }
            // Just outside the region faults, unless another region (or the information
            // page) starts there.
            let inside_any = |ipa: u64| {
                ipa >= INFO_PAGE_IPA || regions.iter().any(|o| ipa >= o.ipa && ipa < o.ipa + o.size)
            };
            for ipa in [r.ipa.checked_sub(1), Some(r.ipa + r.size)]
                .into_iter()
                .flatten()
            {
                if !inside_any(ipa) && ipa < 1 << 39 {
                    assert_eq!(at(ipa), None, "{what}: {} maps {ipa:#x}", p.name);
                }
            }
        }
        // The information page: this partition's page of the image, read-only, never
        // executable, normal memory; nothing else around it.
        for offset in [0, 0x800, INFO_PAGE_SIZE as u64 - 1] {
            let leaf = at(INFO_PAGE_IPA + offset)
                .unwrap_or_else(|| panic!("{what}: {} has no information page", p.name));
            assert_eq!(
                leaf.output,
                kernel.info_page(id) + offset,
                "{what}: {} information page",
                p.name
            );
            assert_eq!(
                stage2_rights(leaf.descriptor),
                (true, false, false, 0b1111),
                "{what}: {} information page",
                p.name
            );
        }
        if !regions.iter().any(|r| r.ipa + r.size == INFO_PAGE_IPA) {
            assert_eq!(at(INFO_PAGE_IPA - 1), None, "{what}: {}", p.name);
        }
        // The kernel's own image is never in a partition's address space at its address.
        if !regions
            .iter()
            .any(|r| r.ipa <= kernel.image_start && kernel.image_start < r.ipa + r.size)
        {
            assert_eq!(at(kernel.image_start), None, "{what}: {}", p.name);
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sample_configurations() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "configs",
        "configs/bench",
        "hil-tests/scenarios",
        "schedule-gen/tests/corpus/valid",
        "schedule-gen/tests/golden",
    ] {
        let dir = repo().join(dir);
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        found.sort();
        files.extend(found);
    }
    assert!(files.len() > 20, "{files:?}");
    files
}

#[test]
fn every_sample_configuration_translates_as_configured() {
    for path in sample_configurations() {
        let cfg = load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let bound = table_pages(&cfg);
        for (what, kernel) in layouts(&cfg) {
            let what = format!("{} with a {what}", path.display());
            let tables = build_tables(&cfg, &kernel, SHA, "pkernel.elf")
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let h = &tables.header;
            assert_eq!((h.magic, h.version), (MAGIC, VERSION));
            assert_eq!(h.partition_count as usize, cfg.partitions().count());
            assert_eq!(h.pages_total as usize, kernel.page_count);
            assert_eq!(tables.pages.len(), kernel.page_count * TABLE_PAGE_SIZE);
            h.check(
                SHA,
                cfg.partitions().count(),
                kernel.pages.address,
                kernel.page_count,
            )
            .unwrap_or_else(|e| panic!("{what}: the kernel would refuse: {e}"));
            // Stage 2 is exactly the bound; EL2 at most.
            assert!(tables.el2_pages <= bound.el2, "{what}");
            assert_eq!(tables.stage2_pages, bound.partitions, "{what}");
            check_el2(&cfg, &kernel, &tables, &what);
            check_stage2(&cfg, &kernel, &tables, &what);
        }
    }
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let cfg = load(&repo().join("configs/demo.toml")).unwrap();
    let kernel = layouts(&cfg)[0].1;
    let a = build_tables(&cfg, &kernel, SHA, "k").unwrap();
    let b = build_tables(&cfg, &kernel, SHA, "k").unwrap();
    assert_eq!(a, b);
    // The EL2 root comes first, then each partition's root, in partition order.
    assert_eq!(a.header.el2_root, kernel.pages.address);
    let roots = &a.header.stage2_roots[..cfg.partitions().count()];
    assert!(roots.windows(2).all(|w| w[0] < w[1]), "{roots:x?}");
}

#[test]
fn an_image_without_room_for_the_tables_is_refused() {
    let cfg = load(&repo().join("configs/demo.toml")).unwrap();
    let mut kernel = layouts(&cfg)[0].1;
    kernel.page_count = 3;
    let error = build_tables(&cfg, &kernel, SHA, "pkernel.elf").unwrap_err();
    assert_eq!(error.rule, Rule::KernelImageTables);
    let text = error.to_string();
    assert!(
        text.starts_with(
            "pkernel.elf: error[E063-kernel-image-tables]: the translation tables need "
        ),
        "{text}"
    );
    assert!(
        text.contains("the kernel image reserved 3 (TRANSLATION_TABLE_PAGES)"),
        "{text}"
    );
    assert!(text.contains("this is a schedule-gen bug"), "{text}");
}

#[test]
fn a_kernel_image_without_the_symbols_is_refused() {
    // A partition-style ELF: well formed, but no symbols at all.
    let elf = common::elf(
        0x4000_0000,
        &[common::load_seg(0x4000_0000, &[0; 16], 16, 5)],
    );
    let error = kernel_layout(&elf, "other.elf").unwrap_err();
    assert_eq!(
        error.to_string(),
        "other.elf: error[E063-kernel-image-tables]: the kernel image has no symbol PKERNEL_TRANSLATION_HEADER\n  help: build the kernel with `cargo xtask build`, which links it with the tables it needs"
    );
    let cfg = load(&repo().join("configs/demo.toml")).unwrap();
    let mut bytes = b"not an elf".to_vec();
    let error = link_tables(&cfg, &mut bytes, SHA, "x.elf").unwrap_err();
    assert!(
        error.to_string().starts_with(
            "x.elf: error[E063-kernel-image-tables]: the kernel image is not an ELF file"
        ),
        "{error}"
    );
    assert_eq!(bytes, b"not an elf", "nothing is written on failure");
}

#[test]
fn an_image_without_one_information_page_per_partition_is_refused() {
    let cfg = load(&repo().join("configs/demo.toml")).unwrap();
    let good = layouts(&cfg)[0].1;
    let partitions = cfg.partitions().count();
    let mut fewer = good;
    fewer.info_page_count -= 1;
    let mut in_data = good;
    in_data.info_pages.address = good.rodata_end;
    for kernel in [fewer, in_data] {
        let error = build_tables(&cfg, &kernel, SHA, "pkernel.elf").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "pkernel.elf: error[E063-kernel-image-tables]: PKERNEL_INFO_PAGES holds {} information pages at {:#x}..{:#x}; the configuration has {partitions} partitions, and the pages must lie in the read-only data ({:#x}..{:#x})\n  help: build the kernel with `cargo xtask build`, which links it with the tables it needs",
                kernel.info_page_count,
                kernel.info_pages.address,
                kernel.info_page(kernel.info_page_count),
                kernel.text_end,
                kernel.rodata_end
            )
        );
    }
}

#[test]
fn the_header_is_what_the_kernel_reads() {
    let cfg = load(&repo().join("configs/demo.toml")).unwrap();
    let kernel = layouts(&cfg)[0].1;
    let tables = build_tables(&cfg, &kernel, SHA, "k").unwrap();
    let bytes = tables.header.to_bytes();
    assert_eq!(bytes.len(), TranslationHeader::SIZE);
    assert_eq!(&bytes[..8], b"PKTABLES");
}
