//! The kernel's own EL2 translation tables: an identity map with text read-only and
//! executable, rodata read-only, everything else (data, stacks, all RAM) writable and
//! never executable, and only the kernel's devices (UART, GIC) as device memory.

use core::sync::atomic::{AtomicUsize, Ordering};

use aarch64_cpu::registers::{
    ID_AA64MMFR0_EL1, MAIR_EL2, Readable, SCTLR_EL2, TCR_EL2, TTBR0_EL2, Writeable,
};
use aarch64_paging::Mapping;
use aarch64_paging::descriptor::{El23Attributes, PhysicalAddress};
use aarch64_paging::paging::{Constraints, El2, MemoryRegion};

use super::page_pool::PoolTranslation;
use super::sysregs;
use crate::config::{Board, PhysRange};

static ROOT: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" {
    static __image_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
}

fn symbol_address(symbol: &u8) -> usize {
    symbol as *const u8 as usize
}

const NORMAL: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_0)
    .union(El23Attributes::INNER_SHAREABLE)
    .union(El23Attributes::ACCESSED);
const DEVICE: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_1)
    .union(El23Attributes::ACCESSED)
    .union(El23Attributes::XN);

/// Builds the EL2 tables (boot core, MMU still off), from the static page pool.
pub fn build(board: &Board) -> Result<(), aarch64_paging::MapError> {
    const _: () = assert!(sysregs::MAIR_NORMAL_INDEX == 0 && sysregs::MAIR_DEVICE_INDEX == 1);
    let mut map = Mapping::new(PoolTranslation, 1, El2);
    let map_range = |map: &mut Mapping<PoolTranslation, El2>, start: usize, end: usize, attrs| {
        map.map_range(
            &MemoryRegion::new(start, end),
            PhysicalAddress(start),
            attrs,
            Constraints::empty(),
        )
    };
    let range = |r: PhysRange| (r.base as usize, r.end() as usize);

    let (ram_start, ram_end) = range(board.ram);
    map_range(&mut map, ram_start, ram_end, NORMAL | El23Attributes::XN)?;
    // SAFETY: linker-script symbols; only their addresses are used.
    let (image_start, text_end, rodata_end) = unsafe {
        (
            symbol_address(&__image_start),
            symbol_address(&__text_end),
            symbol_address(&__rodata_end),
        )
    };
    map_range(
        &mut map,
        image_start,
        text_end,
        NORMAL | El23Attributes::READ_ONLY,
    )?;
    map_range(
        &mut map,
        text_end,
        rodata_end,
        NORMAL | El23Attributes::READ_ONLY | El23Attributes::XN,
    )?;
    for device in [board.kernel_uart, board.gicd, board.gicr] {
        let (start, end) = range(device);
        map_range(&mut map, start, end, DEVICE)?;
    }
    // The page below each core's stack stays unmapped: an overflow faults (see `boot`).
    // Cores beyond the board's never run, so their stacks need no guard.
    for core in 0..board.core_count().min(super::MAX_CORES) {
        let guard = super::boot::guard_page(core);
        map_range(
            &mut map,
            guard,
            guard + super::boot::GUARD_SIZE,
            El23Attributes::empty(),
        )?;
    }
    ROOT.store(map.root_address().0, Ordering::Release);
    // The tables live in the static pool for the life of the system.
    core::mem::forget(map);
    Ok(())
}

/// Whether this core's EL2 translation maps `address` (for writing when `write`), by asking
/// the MMU itself (AT S1E2R/S1E2W): boot uses it to prove the stack guards are in place.
pub fn is_mapped(address: usize, write: bool) -> bool {
    let par: u64;
    // SAFETY: an address translation instruction only writes PAR_EL1, which the kernel does
    // not otherwise use at this point (no partition has run on this core yet, or its PAR_EL1
    // is not the kernel's concern: a partition's PAR_EL1 is restored on entry in later
    // increments); it touches no memory.
    unsafe {
        if write {
            core::arch::asm!("at s1e2w, {}", "isb", "mrs {}, par_el1", in(reg) address, out(reg) par, options(nostack, preserves_flags));
        } else {
            core::arch::asm!("at s1e2r, {}", "isb", "mrs {}, par_el1", in(reg) address, out(reg) par, options(nostack, preserves_flags));
        }
    }
    par & 1 == 0
}

/// Turns the EL2 MMU and caches on for this core with the tables from [`build`].
pub fn enable_on_this_core() {
    let root = ROOT.load(Ordering::Acquire) as u64;
    let pa_range = ID_AA64MMFR0_EL1.get() & 0xf;
    MAIR_EL2.set(sysregs::MAIR_EL2);
    TCR_EL2.set(sysregs::TCR_EL2_BASE | (pa_range.min(5) << sysregs::TCR_EL2_PS_SHIFT));
    TTBR0_EL2.set(root);
    // SAFETY: invalidating this core's EL2 TLB and synchronising has no effect on memory;
    // the identity map keeps the executing code and stack at the same addresses once the
    // MMU is on, and the tables were completed (and are never changed) before this call.
    unsafe {
        core::arch::asm!(
            "tlbi alle2",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        );
    }
    SCTLR_EL2.set(sysregs::SCTLR_EL2_RUNNING);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}
