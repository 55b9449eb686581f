//! The EL2 physical timer (CNTHP_*_EL2), which ends windows: the kernel's own timer, so a
//! partition keeps its EL1 virtual and physical timers to itself. Its interrupt is PPI 10
//! (INTID 26) of each core.

/// GIC interrupt ID of the EL2 physical timer.
pub const INTID: u32 = 26;

/// Arms the timer to fire when the physical counter reaches `at` (an absolute deadline).
pub fn arm(at: u64) {
    // SAFETY: the EL2 physical timer is the kernel's alone; programming its compare value and
    // enabling it (ENABLE = 1, IMASK = 0) only makes INTID 26 pending at `at`.
    unsafe {
        core::arch::asm!(
            "msr cnthp_cval_el2, {}",
            "msr cnthp_ctl_el2, {}",
            "isb",
            in(reg) at,
            in(reg) 1u64,
            options(nostack, preserves_flags)
        )
    };
}

/// Masks the timer's output (its deadline passed and was taken); [`arm`] unmasks it.
pub fn mask() {
    // SAFETY: ENABLE = 1, IMASK = 1: the timer keeps counting but stops asserting INTID 26,
    // which is what ending its interrupt needs (it is level-sensitive).
    unsafe {
        core::arch::asm!(
            "msr cnthp_ctl_el2, {}",
            "isb",
            in(reg) 0b11u64,
            options(nostack, preserves_flags)
        )
    };
}

/// The physical counter.
pub fn now() -> u64 {
    let value: u64;
    // SAFETY: reading CNTPCT_EL0 has no side effects; the ISB keeps the read from being
    // taken early, before the instructions it is meant to follow.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) value, options(nomem, nostack, preserves_flags))
    };
    value
}
