//! Translation-table pages: an upper bound on the 4 KiB pages a system's translation tables take.
//!
//! The bound is emitted as `TRANSLATION_TABLE_PAGES` in `system_tables.rs`; the kernel image
//! reserves that many pages, before it is linked, for the tables [`crate::translation`] builds
//! into it afterwards: the EL2 stage-1 identity map and one stage-2 map per partition, both
//! with aarch64-paging 0.12: 4 KiB granule, 39-bit input range, root table at level 1,
//! `Mapping::map_range` with `Constraints::empty()`. Pages are never given back, so the
//! reservation must hold every page those calls allocate.
//!
//! # What aarch64-paging allocates
//!
//! A table tree with its root at level 1 has one root page; a level-1 entry covers a 1 GiB
//! *slot*, a level-2 entry a 2 MiB slot, a level-3 entry a 4 KiB page. `map_range` walks the
//! range slot by slot; the piece of the range inside one slot is a *chunk*. At level 1 and 2
//! a chunk is written as a block descriptor when it covers the whole slot and its output
//! address is aligned to the slot size; then nothing is allocated at that level. Otherwise the
//! walk needs the next-level table of that slot: it reuses the table already there, or
//! allocates one page (an empty table, or, when the entry held a block, `split_entry` rewrites
//! that block in the new table as blocks of the next level, which needs no further page).
//! So:
//!
//! - each 1 GiB slot and each 2 MiB slot gets at most one table page, and only if some
//!   `map_range` call has a chunk there that cannot be a block: a chunk that does not cover
//!   the whole slot, or whose output address is misaligned (`pa - va` not a multiple of the
//!   slot size, which misaligns every slot of the call);
//! - a block that a later, overlapping call splits is covered by the same rule: the later
//!   call's chunk in that slot is partial (or misaligned), so that slot is already counted;
//! - a table is only freed when a whole slot is unmapped (invalid attributes on a block-sized
//!   chunk). The kernel never does that (its only unmaps are 4 KiB stack guard pages), so no
//!   slot is given a second table.
//!
//! Hence, for one tree, pages ≤ 1 + |S1| + |S2|, where S1 (S2) is the set of 1 GiB (2 MiB)
//! slots holding a chunk that cannot be a block. A call contributes only its first and last
//! slot (when it starts or ends inside a slot) or, when `pa - va` is misaligned, every slot it
//! touches. Slots are counted as sets, so regions sharing a slot share its table.
//!
//! # Stage 2: exact
//!
//! The table linker makes one call per entry of the partition's `regions` table: RAM regions,
//! devices (identity) and port buffers, as `codegen` writes them; then one for the partition's
//! information page, 4 KiB at `apex_api::info::INFO_PAGE_IPA`. They never overlap in IPA space
//! (E039, E042, E048, E088, E094), so every counted slot really gets its table and the bound
//! equals what the table linker allocates. The information page's physical address is only
//! known once the kernel is linked, but a one-page call needs a table in its 1 GiB and its
//! 2 MiB slot whatever its output address, so it is counted with any page-aligned one.
//!
//! # EL2: exact but for the kernel image
//!
//! The EL2 map identity-maps the board's whole RAM, then the kernel image's pieces over it
//! (text, rodata, the rest, unmapped stack guard pages), then the kernel's UART, GIC
//! distributor and redistributors. RAM and devices are counted as above. Where the image's
//! piece boundaries fall is only known once the kernel is linked, so every 2 MiB slot
//! overlapping the board's `kernel_reserved` window (which holds the whole image) is assumed
//! split down to 4 KiB pages, and every 1 GiB slot overlapping it split into 2 MiB entries.
//! That is the only slack: at most the number of those slots (17 pages on `qemu-virt`), less
//! what the image really splits.

use apex_api::info::{INFO_PAGE_IPA, INFO_PAGE_SIZE};
use bsp::{Board, PhysRange};

use crate::model::{LoadedConfig, PartitionConfig};

/// One translation table: a 4 KiB page (512 eight-byte descriptors).
pub const TABLE_PAGE_SIZE: u64 = 0x1000;
/// What one level-1 descriptor maps: 1 GiB.
pub const LEVEL1_SLOT: u64 = 1 << 30;
/// What one level-2 descriptor maps: 2 MiB.
pub const LEVEL2_SLOT: u64 = 1 << 21;

/// One `map_range` call: input addresses `[va, va + size)` to output addresses from `pa`
/// (for stage 2, `va` is the IPA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapCall {
    /// First input address.
    pub va: u64,
    /// Output address of `va`.
    pub pa: u64,
    /// Length in bytes.
    pub size: u64,
}

/// An upper bound on the pages of one table tree (root at level 1) built by `calls`, in any
/// order, plus any splitting of the 2 MiB and 1 GiB slots overlapping a range of `split_anywhere`
/// (mappings whose boundaries are not known here). The root page is included.
pub fn tree_pages(calls: &[MapCall], split_anywhere: &[PhysRange]) -> usize {
    1 + slots_needing_table(calls, split_anywhere, LEVEL1_SLOT)
        + slots_needing_table(calls, split_anywhere, LEVEL2_SLOT)
}

/// How many slots of `slot` bytes hold a chunk of a call that cannot be a block of that size,
/// or overlap a range of `split_anywhere`.
fn slots_needing_table(calls: &[MapCall], split_anywhere: &[PhysRange], slot: u64) -> usize {
    // Inclusive runs of slot numbers; merged below so a slot is counted once.
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for c in calls.iter().filter(|c| c.size > 0) {
        let end = c.va.saturating_add(c.size);
        let (first, last) = (c.va / slot, (end - 1) / slot);
        if c.pa.wrapping_sub(c.va) % slot != 0 {
            // The output address of every chunk is misaligned: no chunk can be a block.
            runs.push((first, last));
            continue;
        }
        if c.va % slot != 0 {
            runs.push((first, first));
        }
        if end % slot != 0 {
            runs.push((last, last));
        }
    }
    for r in split_anywhere.iter().filter(|r| r.size > 0) {
        runs.push((r.base / slot, (r.end() - 1) / slot));
    }
    runs.sort_unstable();
    let mut count: u64 = 0;
    let mut covered_to: Option<u64> = None; // last slot already counted
    for (first, last) in runs {
        let from = match covered_to {
            Some(c) if c >= last => continue,
            Some(c) if c >= first => c + 1,
            _ => first,
        };
        count += last - from + 1;
        covered_to = Some(last);
    }
    usize::try_from(count).unwrap_or(usize::MAX)
}

/// The kernel's EL2 `map_range` calls whose addresses the board fixes: all RAM, then the
/// kernel UART, GIC distributor and GIC redistributors (identity). The kernel image's pieces
/// are not here: see [`el2_pages`].
pub fn el2_calls(board: &Board) -> Vec<MapCall> {
    [board.ram, board.kernel_uart, board.gicd, board.gicr]
        .into_iter()
        .map(|r| MapCall {
            va: r.base,
            pa: r.base,
            size: r.size,
        })
        .collect()
}

/// Bound on the pages of the kernel's EL2 stage-1 tables on `board`: [`el2_calls`], with every
/// slot overlapping `kernel_reserved` (where the image's pieces are remapped and guard pages
/// unmapped) counted as split.
pub fn el2_pages(board: &Board) -> usize {
    tree_pages(&el2_calls(board), &[board.kernel_reserved])
}

/// The `map_range` calls the table linker makes for `p`: one per entry of its generated
/// `regions` table (RAM regions, then devices, then port buffers), then its information page
/// (with an output address standing for the one the image will give it: see the module doc).
pub fn stage2_calls(p: &PartitionConfig) -> Vec<MapCall> {
    // The regions the table linker maps (one derivation: `translation::regions`), then the
    // information page.
    let regions = crate::translation::regions(p).into_iter().map(|r| MapCall {
        va: r.ipa,
        pa: r.phys,
        size: r.size,
    });
    let info_page = MapCall {
        va: INFO_PAGE_IPA,
        pa: INFO_PAGE_IPA,
        size: INFO_PAGE_SIZE as u64,
    };
    regions.chain(std::iter::once(info_page)).collect()
}

/// Pages of `p`'s stage-2 tables (exact: its mappings never overlap).
pub fn stage2_pages(p: &PartitionConfig) -> usize {
    tree_pages(&stage2_calls(p), &[])
}

/// The bound for a whole configuration, with its breakdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablePages {
    /// The kernel's EL2 stage-1 identity map.
    pub el2: usize,
    /// Each partition's stage-2 tables: (partition name, pages), by partition id.
    pub partitions: Vec<(String, usize)>,
}

impl TablePages {
    /// The sum: what `TRANSLATION_TABLE_PAGES` is.
    pub fn total(&self) -> usize {
        self.partitions
            .iter()
            .fold(self.el2, |sum, (_, n)| sum.saturating_add(*n))
    }
}

/// The bound on every table page of `cfg`'s translation tables.
pub fn table_pages(cfg: &LoadedConfig) -> TablePages {
    TablePages {
        el2: el2_pages(cfg.board()),
        partitions: cfg
            .partitions()
            .map(|p| (p.name.clone(), stage2_pages(p)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn call(va: u64, pa: u64, size: u64) -> MapCall {
        MapCall { va, pa, size }
    }

    #[test]
    fn an_empty_tree_is_its_root() {
        assert_eq!(tree_pages(&[], &[]), 1);
        assert_eq!(tree_pages(&[call(GIB, GIB, 0)], &[]), 1);
    }

    #[test]
    fn blocks_need_no_tables() {
        // A whole aligned 1 GiB block: root only.
        assert_eq!(tree_pages(&[call(GIB, 2 * GIB, GIB)], &[]), 1);
        // 2 MiB blocks: one level-2 table.
        assert_eq!(tree_pages(&[call(GIB, 2 * GIB + 4 * MIB, 4 * MIB)], &[]), 2);
    }

    #[test]
    fn partial_slots_need_tables_and_share_them() {
        // 4 KiB: a level-2 and a level-3 table.
        assert_eq!(tree_pages(&[call(GIB, GIB, 0x1000)], &[]), 3);
        // Sixteen small regions in one 2 MiB slot share its tables.
        let small: Vec<_> = (0..16)
            .map(|i| call(GIB + i * 0x2000, 2 * GIB + i * 0x2000, 0x1000))
            .collect();
        assert_eq!(tree_pages(&small, &[]), 3);
        // A region crossing a 2 MiB boundary unaligned at both ends: two level-3 tables.
        assert_eq!(tree_pages(&[call(GIB + MIB, GIB + MIB, 2 * MIB)], &[]), 4);
    }

    #[test]
    fn a_misaligned_output_splits_every_slot() {
        // 8 MiB at a 4 KiB-aligned but not 2 MiB-aligned physical address: 4 level-3 tables.
        assert_eq!(
            tree_pages(&[call(GIB, 2 * GIB + 0x1000, 8 * MIB)], &[]),
            1 + 1 + 4
        );
        // 1 GiB, 2 MiB aligned but not 1 GiB aligned: one level-2 table of blocks.
        assert_eq!(tree_pages(&[call(GIB, 2 * GIB + 2 * MIB, GIB)], &[]), 2);
    }

    #[test]
    fn split_anywhere_counts_every_slot_it_touches() {
        // 32 MiB at the start of a 1 GiB block: one level-2 and 16 level-3 tables.
        let reserved = PhysRange::new(GIB, 32 * MIB);
        assert_eq!(tree_pages(&[call(GIB, GIB, GIB)], &[reserved]), 1 + 1 + 16);
    }

    #[test]
    fn qemu_virt_el2() {
        // Root; level 2 for the device GiB and the RAM GiB; level 3 for the GIC's 2 MiB slot,
        // the UART's, and the 16 of the kernel's 32 MiB.
        assert_eq!(el2_pages(&bsp::QEMU_VIRT), 1 + 2 + 2 + 16);
    }
}
