//! Cache maintenance for memory the kernel writes and a partition then reads with its
//! caches (or MMU) off: partition images.

/// Smallest data cache line size in bytes (CTR_EL0.DminLine).
fn dcache_line() -> u64 {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects (not in aarch64-cpu 11).
    unsafe {
        core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags))
    };
    4 << ((ctr >> 16) & 0xf)
}

/// Cleans `[start, start + len)` to the point of coherency, then invalidates the
/// instruction caches, so a partition fetching with its MMU off sees what the kernel wrote.
pub fn clean_to_poc_and_invalidate_icache(start: u64, len: u64) {
    let line = dcache_line();
    let mut addr = start & !(line - 1);
    while addr < start.saturating_add(len) {
        // SAFETY: `dc cvac` on an address the kernel has mapped (all RAM is) only writes back
        // dirty lines; it does not change memory contents as the program sees them.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += line;
    }
    // SAFETY: barriers and instruction-cache invalidation have no effect on program state.
    unsafe {
        core::arch::asm!(
            "dsb ish",
            "ic ialluis",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// Cleans and invalidates `[start, start + len)` to the point of coherency before the kernel
/// reads memory a partition may have written with different cacheability.
pub fn clean_and_invalidate(start: u64, len: u64) {
    let line = dcache_line();
    let mut addr = start & !(line - 1);
    while addr < start.saturating_add(len) {
        // SAFETY: `dc civac` on mapped RAM writes back and drops lines; memory contents as the
        // program sees them are unchanged.
        unsafe {
            core::arch::asm!("dc civac, {}", in(reg) addr, options(nostack, preserves_flags))
        };
        addr += line;
    }
    // SAFETY: a barrier has no effect on program state.
    unsafe { core::arch::asm!("dsb ish", options(nostack, preserves_flags)) };
}
