//! Stage-2 translation: each partition's guest-physical address space, with its own VMID.
//! Only the partition's configured regions are mapped; any other access is a stage-2 fault.
//! The tables themselves are built with the image (see `mmu`); here are the register values
//! that select them.

use aarch64_cpu::registers::{ID_AA64MMFR0_EL1, Readable};

use super::sysregs;

/// VTTBR_EL2 of a partition: its VMID and the root of its stage-2 tables.
pub fn vttbr(vmid: u16, root: u64) -> u64 {
    (u64::from(vmid) << 48) | root
}

/// VTCR_EL2 for this machine: 39-bit IPA, walk from level 1, physical size from the CPU.
pub fn vtcr() -> u64 {
    let pa_range = ID_AA64MMFR0_EL1.get() & 0xf;
    sysregs::VTCR_EL2_BASE | (pa_range.min(5) << sysregs::VTCR_EL2_PS_SHIFT)
}

/// Invalidates every stage-1 and stage-2 TLB entry of the EL1&0 regime, for all VMIDs, in
/// the inner shareable domain (boot, before any partition runs).
pub fn invalidate_all_guest_tlbs() {
    // SAFETY: TLB invalidation changes no memory and no mapping; it only drops cached
    // translations, which the MMU then walks afresh from the tables.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi alle1is",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}
