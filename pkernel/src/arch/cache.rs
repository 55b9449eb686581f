//! Cache maintenance for memory the kernel writes and a partition then reads with its
//! caches (or MMU) off, and may later read with them on: partition images; and zeroing
//! such memory a cache block at a time.

/// Smallest data cache line size in bytes (CTR_EL0.DminLine).
fn dcache_line() -> u64 {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects (not in aarch64-cpu 11).
    unsafe {
        core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags))
    };
    4 << ((ctr >> 16) & 0xf)
}

/// Cleans and invalidates `[start, start + len)` to the point of coherency, then invalidates
/// the instruction caches. Cleaning makes what the kernel wrote visible to a partition
/// fetching with its MMU off; invalidating too matters for later: a clean line left in the
/// cache would be hit, stale, once the partition turns its caches on after writing the same
/// memory non-cacheably.
pub fn clean_to_poc_and_invalidate_icache(start: u64, len: u64) {
    let line = dcache_line();
    let mut addr = start & !(line - 1);
    while addr < start.saturating_add(len) {
        // SAFETY: `dc civac` on an address the kernel has mapped (all RAM is) writes back and
        // drops the line; it does not change memory contents as the program sees them.
        unsafe {
            core::arch::asm!("dc civac, {}", in(reg) addr, options(nostack, preserves_flags))
        };
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

/// Zeroes `[start, start + len)`, which must be RAM the EL2 map covers as Normal memory (the
/// MMU on) and nothing else is using: whole DCZID_EL0 blocks with `DC ZVA` (one instruction
/// for 64 bytes on a Cortex-A53), the unaligned edges byte by byte.
///
/// # Safety
/// The range must be writable kernel-mapped Normal memory that no reference or other core
/// uses while it is zeroed.
pub unsafe fn zero(start: u64, len: u64) {
    let dczid: u64;
    // SAFETY: reading DCZID_EL0 has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack, preserves_flags))
    };
    let end = start.saturating_add(len);
    let zero_bytes = |from: u64, to: u64| {
        for addr in from..to {
            // SAFETY: inside the range the caller vouches for.
            unsafe { core::ptr::write_volatile(addr as *mut u8, 0) };
        }
    };
    // DZP (bit 4) set: DC ZVA is prohibited; fall back to stores.
    if dczid & (1 << 4) != 0 {
        zero_bytes(start, end);
        return;
    }
    let block = 4u64 << (dczid & 0xf);
    let first = start.next_multiple_of(block).min(end);
    let last = (end / block * block).max(first);
    zero_bytes(start, first);
    let mut addr = first;
    while addr < last {
        // SAFETY: `[addr, addr + block)` is a whole aligned block inside the caller's range.
        unsafe { core::arch::asm!("dc zva, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += block;
    }
    zero_bytes(last, end);
}
