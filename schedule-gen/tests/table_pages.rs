//! The translation-table bound (`schedule_gen::table_pages`, emitted as
//! `TRANSLATION_TABLE_PAGES`) against the real allocator, over many more layouts and region
//! sets than the sample configurations: tables are built on the host with aarch64-paging
//! 0.12, mapping what the table linker (`schedule_gen::translation`) maps, from a
//! `Translation` that counts the pages it hands out. (`tests/translation.rs` checks the table
//! linker itself: its page counts against the bound, and what its tables translate.)
//!
//! - Stage 2: one `map_range` per entry of the partition's `regions` table, read back from
//!   the generated `system_tables.rs`, with the attributes each kind gets. The bound is
//!   exact: real == bound.
//! - EL2: all RAM read-write and never executable, then the kernel image's pieces (text,
//!   rodata, the rest) and unmapped stack guard pages at several positions inside
//!   `kernel_reserved`, then the kernel UART and GIC. The bound assumes every 2 MiB slot of
//!   `kernel_reserved` split into pages; its only slack is what a real image leaves unsplit,
//!   at most [`EL2_SLACK`] pages.
//!
//! Nothing here walks the tables by address: aarch64-paging writes descriptors into the pages
//! this translation allocates (which live at host addresses, used as "physical" ones); only
//! how many it allocates matters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use aarch64_paging::Mapping;
use aarch64_paging::descriptor::{
    El23Attributes, PagingAttributes, PhysicalAddress, Stage2Attributes,
};
use aarch64_paging::paging::{Constraints, El2, MemoryRegion, PageTable, Stage2, Translation};
use proptest::prelude::*;
use schedule_gen::table_pages::{
    LEVEL1_SLOT, LEVEL2_SLOT, MapCall, TABLE_PAGE_SIZE, el2_pages, table_pages, tree_pages,
};
use schedule_gen::{LoadedConfig, codegen, load};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const PAGE: u64 = TABLE_PAGE_SIZE;

/// Hands out zeroed, 4 KiB-aligned pages from the heap and counts them. Pages are leaked
/// (they back tables that are dropped with the test process); a page's "physical" address
/// is its host address, and `physical_to_virtual` gives back the very pointer handed out.
#[derive(Default)]
struct CountingTranslation {
    pages: BTreeMap<usize, NonNull<u8>>,
}

impl CountingTranslation {
    fn allocated(&self) -> usize {
        self.pages.len()
    }
}

impl<A: PagingAttributes> Translation<A> for CountingTranslation {
    fn allocate_table(&mut self) -> (NonNull<PageTable<A>>, PhysicalAddress) {
        let table: &'static mut PageTable<A> = Box::leak(Box::new(PageTable::EMPTY));
        let table = NonNull::from(table);
        let pa = table.as_ptr() as usize;
        self.pages.insert(pa, table.cast());
        (table, PhysicalAddress(pa))
    }

    unsafe fn deallocate_table(&mut self, _page_table: NonNull<PageTable<A>>) {
        // Like the kernel's pool: a page given back is not reused (and stays counted).
    }

    fn physical_to_virtual(&self, pa: PhysicalAddress) -> NonNull<PageTable<A>> {
        self.pages
            .get(&pa.0)
            .unwrap_or_else(|| panic!("no table page at {:#x}", pa.0))
            .cast()
    }
}

// ---------------------------------------------------------------------------------------
// Stage 2.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ram,
    Device,
    Port,
}

/// One entry of a generated `regions` table.
#[derive(Clone, Debug)]
struct Region {
    ipa: u64,
    phys: u64,
    size: u64,
    kind: Kind,
    write: bool,
    execute: bool,
}

/// The stage-2 attributes of a region (as `schedule_gen::translation` gives them).
fn stage2_attributes(r: &Region) -> Stage2Attributes {
    let memory = match r.kind {
        Kind::Ram | Kind::Port => {
            Stage2Attributes::MEMATTR_NORMAL_INNER_WB
                | Stage2Attributes::MEMATTR_NORMAL_OUTER_WB
                | Stage2Attributes::SH_INNER
        }
        Kind::Device => Stage2Attributes::MEMATTR_DEVICE_nGnRE,
    };
    let access = if r.write {
        Stage2Attributes::S2AP_ACCESS_RW
    } else {
        Stage2Attributes::S2AP_ACCESS_RO
    };
    let execute = if r.execute && r.kind == Kind::Ram {
        Stage2Attributes::empty()
    } else {
        Stage2Attributes::XN
    };
    Stage2Attributes::VALID | Stage2Attributes::ACCESS_FLAG | memory | access | execute
}

/// Pages a stage-2 map of `regions` allocates (as `schedule_gen::translation` maps them).
fn real_stage2(regions: &[Region]) -> usize {
    let mut map = Mapping::new(CountingTranslation::default(), 1, Stage2);
    for r in regions {
        let ipa = r.ipa as usize;
        map.map_range(
            &MemoryRegion::new(ipa, ipa + r.size as usize),
            PhysicalAddress(r.phys as usize),
            stage2_attributes(r),
            Constraints::empty(),
        )
        .unwrap_or_else(|e| panic!("map {r:?}: {e:?}"));
    }
    map.translation().allocated()
}

/// `0x4000_0000` → 0x4000_0000.
fn hex(text: &str) -> u64 {
    let digits: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != '_')
        .collect();
    u64::from_str_radix(&digits, 16).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The text after `key: ` up to the next `,` or ` }`.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!("{key}: "))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()
        + 2;
    let rest = &line[start..];
    let end = rest.find([',', ' ']).unwrap_or(rest.len());
    &rest[..end]
}

/// Each partition's `regions` table (name, regions) and `TRANSLATION_TABLE_PAGES`, read
/// back from the generated `system_tables.rs`: the test builds what the kernel will be given.
fn generated(cfg: &LoadedConfig) -> (Vec<(String, Vec<Region>)>, usize) {
    let text = codegen::system_tables(cfg);
    let mut partitions: Vec<(String, Vec<Region>)> = Vec::new();
    let mut pages = None;
    for line in text.lines() {
        let t = line.trim_start();
        if line.starts_with("            name: \"") {
            let name = t.trim_start_matches("name: \"").trim_end_matches("\",");
            partitions.push((name.to_owned(), Vec::new()));
        } else if t.starts_with("Region {") {
            let kind = match field(t, "kind") {
                "RegionKind::Ram" => Kind::Ram,
                "RegionKind::Device" => Kind::Device,
                "RegionKind::Port" => Kind::Port,
                other => panic!("region kind {other}"),
            };
            let region = Region {
                ipa: hex(field(t, "ipa")),
                phys: hex(field(t, "phys")),
                size: hex(field(t, "size")),
                kind,
                write: field(t, "write") == "true",
                execute: field(t, "execute") == "true",
            };
            partitions
                .last_mut()
                .expect("a region outside a partition")
                .1
                .push(region);
        } else if let Some(n) = t.strip_prefix("pub const TRANSLATION_TABLE_PAGES: usize = ") {
            pages = Some(n.trim_end_matches(';').parse().unwrap());
        }
    }
    assert_eq!(partitions.len(), cfg.partitions().count());
    (
        partitions,
        pages.expect("system_tables.rs defines TRANSLATION_TABLE_PAGES"),
    )
}

// ---------------------------------------------------------------------------------------
// EL2.

const NORMAL: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_0)
    .union(El23Attributes::INNER_SHAREABLE)
    .union(El23Attributes::ACCESSED);
const DEVICE: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_1)
    .union(El23Attributes::ACCESSED)
    .union(El23Attributes::XN);

/// Where the linker put the kernel image's pieces, and its stack guard pages.
#[derive(Clone, Debug)]
struct ImageLayout {
    image_start: u64,
    text_end: u64,
    rodata_end: u64,
    image_end: u64,
    /// 4 KiB pages left unmapped inside the image.
    guards: Vec<u64>,
    /// `true`: RAM is mapped in pieces around the guard pages instead of unmapping them
    /// afterwards (another way the kernel could leave them out).
    ram_around_guards: bool,
}

/// Pages an EL2 map on `board` allocates for a kernel image laid out as `image` (as
/// `schedule_gen::translation` maps it, and other ways it could leave the guards out).
fn real_el2(board: &bsp::Board, image: &ImageLayout) -> usize {
    let mut map = Mapping::new(CountingTranslation::default(), 1, El2);
    let mut map_range = |start: u64, end: u64, attrs: El23Attributes| {
        map.map_range(
            &MemoryRegion::new(start as usize, end as usize),
            PhysicalAddress(start as usize),
            attrs,
            Constraints::empty(),
        )
        .unwrap_or_else(|e| panic!("map {start:#x}..{end:#x}: {e:?}"));
    };
    let mut guards = image.guards.clone();
    guards.sort_unstable();
    guards.dedup();
    if image.ram_around_guards {
        let mut from = board.ram.base;
        for &g in &guards {
            if g > from {
                map_range(from, g, NORMAL | El23Attributes::XN);
            }
            from = g + PAGE;
        }
        map_range(from, board.ram.end(), NORMAL | El23Attributes::XN);
    } else {
        map_range(board.ram.base, board.ram.end(), NORMAL | El23Attributes::XN);
    }
    let pieces = [
        (
            image.image_start,
            image.text_end,
            NORMAL | El23Attributes::READ_ONLY,
        ),
        (
            image.text_end,
            image.rodata_end,
            NORMAL | El23Attributes::READ_ONLY | El23Attributes::XN,
        ),
        (
            image.rodata_end,
            image.image_end,
            NORMAL | El23Attributes::XN,
        ),
    ];
    for (start, end, attrs) in pieces {
        if end > start {
            map_range(start, end, attrs);
        }
    }
    if !image.ram_around_guards {
        for &g in &guards {
            // Invalid attributes: an unmapped page.
            map_range(g, g + PAGE, El23Attributes::empty());
        }
    }
    for device in [board.kernel_uart, board.gicd, board.gicr] {
        map_range(device.base, device.end(), DEVICE);
    }
    map.translation().allocated()
}

/// Slots the EL2 bound counts as split whatever the image: every 2 MiB and 1 GiB slot
/// overlapping `kernel_reserved`. The bound exceeds the real EL2 tables by at most this.
fn el2_slack(board: &bsp::Board) -> usize {
    let r = board.kernel_reserved;
    let slots = |slot: u64| ((r.end() - 1) / slot - r.base / slot + 1) as usize;
    slots(LEVEL2_SLOT) + slots(LEVEL1_SLOT)
}

/// On `qemu-virt`: 16 slots of 2 MiB and one of 1 GiB.
const EL2_SLACK: usize = 17;

/// Kernel images laid out in different ways inside the 32 MiB at `base` (the board's
/// `kernel_reserved`): small and large, pieces ending on and off 2 MiB boundaries, guard
/// pages at the first and last page, on slot boundaries and in every slot.
fn layouts(base: u64, reserved: u64) -> Vec<(&'static str, ImageLayout)> {
    let layout = |text: u64, rodata: u64, end: u64, guards: Vec<u64>| ImageLayout {
        image_start: base,
        text_end: base + text,
        rodata_end: base + rodata,
        image_end: base + end,
        guards: guards.into_iter().map(|g| base + g).collect(),
        ram_around_guards: false,
    };
    let mut out = vec![
        (
            "small image, guards after its data",
            layout(0x3_5000, 0x5_2000, 0x12_0000, vec![0x10_0000, 0x11_0000]),
        ),
        (
            "large image, guards on slot edges",
            layout(
                0x21_3000,
                0x60_0000,
                reserved - PAGE,
                vec![0x40_0000, 0x5f_f000, 0x100_0000, reserved - 2 * PAGE],
            ),
        ),
        (
            "guards at the first and last page",
            layout(0x8_0000, 0x10_0000, 0x40_0000, vec![0, reserved - PAGE]),
        ),
        (
            "pieces on 2 MiB boundaries, no guard",
            layout(0x20_0000, 0x40_0000, 0x80_0000, vec![]),
        ),
        (
            "a guard page in every 2 MiB slot",
            layout(
                0x1_0000,
                0x2_0000,
                0x30_0000,
                (0..reserved / LEVEL2_SLOT)
                    .map(|k| k * LEVEL2_SLOT + 0x1_0000 + k * PAGE)
                    .collect(),
            ),
        ),
    ];
    let mut around = layout(
        0x3_5000,
        0x5_2000,
        0x12_0000,
        vec![0x10_0000, 0x11_0000, 0x150_0000],
    );
    around.ram_around_guards = true;
    out.push(("RAM mapped around the guard pages", around));
    out
}

// ---------------------------------------------------------------------------------------
// The sample configurations.

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tomls(dir: &str) -> Vec<PathBuf> {
    let dir = repo().join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no configurations in {}", dir.display());
    files
}

fn sample_configurations() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "configs",
        "hil-tests/scenarios",
        "schedule-gen/tests/corpus/valid",
        "schedule-gen/tests/golden",
        "schedule-gen/tests/report",
        "schedule-gen/tests/arinc",
    ] {
        files.extend(tomls(dir));
    }
    files
}

/// Checks one configuration's bound against its real tables and returns
/// (bound total, real total with the first layout, real total with the fullest EL2 layout).
fn check_configuration(path: &Path) -> (usize, usize, usize) {
    let cfg = load(path).unwrap_or_else(|e| panic!("{} should be valid:\n{e}", path.display()));
    let bound = table_pages(&cfg);
    let (partitions, emitted) = generated(&cfg);
    assert_eq!(
        emitted,
        bound.total(),
        "{}: TRANSLATION_TABLE_PAGES is the sum of the breakdown",
        path.display()
    );
    let mut stage2 = 0;
    for (id, ((name, regions), (bound_name, bound_pages))) in
        partitions.iter().zip(&bound.partitions).enumerate()
    {
        assert_eq!(name, bound_name);
        // The table linker also maps the partition's information page, from the image's
        // read-only data (wherever the linker put it: somewhere in the kernel's reservation).
        let mut regions = regions.clone();
        regions.push(Region {
            ipa: apex_api::info::INFO_PAGE_IPA,
            phys: cfg.board().kernel_reserved.base + 0x1_3000 + id as u64 * PAGE,
            size: PAGE,
            kind: Kind::Ram,
            write: false,
            execute: false,
        });
        let real = real_stage2(&regions);
        assert_eq!(
            real,
            *bound_pages,
            "{}: partition {name}: stage-2 bound {bound_pages}, real {real}: the bound is exact",
            path.display()
        );
        stage2 += real;
    }
    let board = cfg.board();
    let mut reals = Vec::new();
    for (what, layout) in layouts(board.kernel_reserved.base, board.kernel_reserved.size) {
        let real = real_el2(board, &layout);
        assert!(
            real <= bound.el2 && bound.el2 - real <= el2_slack(board),
            "{}: EL2 with {what}: bound {}, real {real}",
            path.display(),
            bound.el2
        );
        reals.push(real);
    }
    (
        bound.total(),
        stage2 + reals[0],
        stage2 + reals.iter().copied().max().unwrap_or(0),
    )
}

#[test]
fn qemu_virt_el2_bound_is_reached_and_its_slack_is_documented() {
    let board = &bsp::QEMU_VIRT;
    assert_eq!(el2_slack(board), EL2_SLACK);
    let bound = el2_pages(board);
    let real: Vec<_> = layouts(board.kernel_reserved.base, board.kernel_reserved.size)
        .into_iter()
        .map(|(what, l)| (what, real_el2(board, &l)))
        .collect();
    for (what, r) in &real {
        eprintln!("EL2 on qemu-virt, {what}: real {r}, bound {bound}");
        assert!(*r <= bound, "{what}");
    }
    // With a split in every 2 MiB slot of the reservation, the bound is exactly reached.
    assert!(real.iter().any(|(_, r)| *r == bound), "{real:?}");
}

#[test]
fn bound_holds_for_every_sample_configuration() {
    let mut lines = Vec::new();
    for path in sample_configurations() {
        let (bound, real, fullest) = check_configuration(&path);
        let shown = path
            .strip_prefix(repo())
            .unwrap_or(&path)
            .display()
            .to_string();
        lines.push(format!(
            "{shown:72} bound {bound:4}  real {real:4} (small image)  {fullest:4} (every slot split)"
        ));
    }
    eprintln!("{}", lines.join("\n"));
}

#[test]
fn the_limits_scenario_needs_more_than_the_old_fixed_pool() {
    let path = repo().join("hil-tests/scenarios/limits.toml");
    let cfg = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.partitions().count(), 16);
    assert!(cfg.partitions().all(|p| p.memory.len() == 16));
    let (bound, real, fullest) = check_configuration(&path);
    eprintln!(
        "limits.toml: bound {bound}, real {real} (small image), {fullest} (every slot split)"
    );
    // The kernel's pool was a fixed 160 pages: this valid configuration would exhaust it.
    assert!(real > 160, "{real}");
    // 16 partitions × (17 pages for 16 regions + 2 for the information page) + 21 for EL2.
    assert_eq!(bound, 325);
}

// ---------------------------------------------------------------------------------------
// Random region sets.

/// A region size: mostly small, sometimes whole 2 MiB blocks, sometimes a whole 1 GiB.
fn size_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => (1u64..64).prop_map(|n| n * PAGE),
        2 => (1u64..600).prop_map(|n| n * PAGE),
        2 => (1u64..8).prop_map(|n| n * LEVEL2_SLOT),
        1 => (1u64..4).prop_map(|n| n * LEVEL2_SLOT + PAGE),
        1 => Just(GIB),
    ]
}

/// An offset from a slot start: aligned to 4 KiB, 2 MiB or 1 GiB.
fn alignment_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => (0u64..512).prop_map(|n| n * PAGE),
        3 => Just(0u64),
        1 => (0u64..4).prop_map(|n| n * LEVEL2_SLOT),
    ]
}

/// Up to 16 regions: (IPA slot, IPA offset, size, phys offset, kind, write, execute), laid
/// out by [`place`] so they never overlap in IPA space, as a valid partition's.
type RawRegion = (u64, u64, u64, u64, u8, bool, bool);

fn regions_strategy() -> impl Strategy<Value = Vec<RawRegion>> {
    proptest::collection::vec(
        (
            0u64..4,
            alignment_strategy(),
            size_strategy(),
            alignment_strategy(),
            0u8..3,
            any::<bool>(),
            any::<bool>(),
        ),
        0..=16,
    )
}

/// Places the raw regions one after another in IPA space (each at its alignment past the
/// previous one's end, sometimes in a later 1 GiB), with physical addresses from a separate
/// cursor, so that some outputs are aligned like their input and some are not.
fn place(raw: &[RawRegion]) -> Vec<Region> {
    let mut ipa = GIB;
    let mut phys = 64 * GIB;
    let mut out = Vec::new();
    for &(gib_skip, ipa_off, size, phys_off, kind, write, execute) in raw {
        if gib_skip == 3 {
            ipa = (ipa / GIB + 1) * GIB;
        }
        ipa += ipa_off;
        phys += phys_off;
        let kind = match kind {
            0 => Kind::Ram,
            1 => Kind::Device,
            _ => Kind::Port,
        };
        out.push(Region {
            ipa,
            phys,
            size,
            kind,
            write,
            execute,
        });
        ipa += size;
        phys += size;
        if ipa + GIB >= 1 << 39 {
            break;
        }
    }
    out
}

fn calls(regions: &[Region]) -> Vec<MapCall> {
    regions
        .iter()
        .map(|r| MapCall {
            va: r.ipa,
            pa: r.phys,
            size: r.size,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// Non-overlapping region sets, like a partition's: the bound is exact.
    #[test]
    fn stage2_bound_is_exact_for_random_regions(raw in regions_strategy()) {
        let regions = place(&raw);
        let real = real_stage2(&regions);
        let bound = tree_pages(&calls(&regions), &[]);
        prop_assert_eq!(real, bound, "{:x?}", regions);
    }

    /// Overlapping maps (later ones remapping parts of earlier ones, as the EL2 image pieces
    /// do): the bound still holds.
    #[test]
    fn bound_holds_for_overlapping_maps(
        raw in proptest::collection::vec(
            (0u64..3, 0u64..1024, size_strategy(), alignment_strategy()),
            1..=12,
        )
    ) {
        let regions: Vec<Region> = raw
            .iter()
            .map(|&(gib, page, size, phys_off)| Region {
                ipa: GIB + gib * GIB + page * 2 * PAGE,
                phys: 64 * GIB + gib * GIB + page * 2 * PAGE + phys_off,
                size,
                kind: Kind::Ram,
                write: page % 2 == 0,
                execute: false,
            })
            .collect();
        let real = real_stage2(&regions);
        let bound = tree_pages(&calls(&regions), &[]);
        prop_assert!(real <= bound, "real {} bound {} {:x?}", real, bound, regions);
    }

    /// Any kernel image inside `kernel_reserved`, with guard pages anywhere in it.
    #[test]
    fn el2_bound_holds_for_any_image_layout(
        mut cuts in proptest::collection::vec(0u64..(32 * MIB / PAGE), 3),
        guards in proptest::collection::vec(0u64..(32 * MIB / PAGE), 0..8),
        around in any::<bool>(),
    ) {
        let board = &bsp::QEMU_VIRT;
        let base = board.kernel_reserved.base;
        cuts.sort_unstable();
        let layout = ImageLayout {
            image_start: base,
            text_end: base + cuts[0] * PAGE,
            rodata_end: base + cuts[1] * PAGE,
            image_end: base + cuts[2] * PAGE,
            guards: guards.iter().map(|g| base + g * PAGE).collect(),
            ram_around_guards: around,
        };
        let real = real_el2(board, &layout);
        let bound = el2_pages(board);
        prop_assert!(real <= bound && bound - real <= EL2_SLACK, "real {} bound {} {:x?}", real, bound, layout);
    }
}
