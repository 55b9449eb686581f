//! Putting a partition on this core: the EL2 controls it runs under (stage 2, traps, timer
//! access) and a clean EL1 state, then the first `eret` into its image.

use aarch64_cpu::registers::{
    CNTHCTL_EL2, CNTVOFF_EL2, CPTR_EL2, HCR_EL2, MIDR_EL1, Readable, SCTLR_EL1, VMPIDR_EL2,
    VTCR_EL2, VTTBR_EL2, Writeable,
};

use super::exceptions::{TrapFrame, enter_guest};
use super::sysregs;
use crate::config::Partition;

/// Enters `partition` as its vCPU `vcpu` on this core. Never returns; its traps come back
/// through the vectors.
pub fn start(partition: &Partition, vttbr: u64, vtcr: u64, vcpu: u64, stack_top: usize) -> ! {
    VTCR_EL2.set(vtcr);
    VTTBR_EL2.set(vttbr);
    HCR_EL2.set(sysregs::HCR_EL2_GUEST);
    let (pmcr, dfr0): (u64, u64);
    // SAFETY: reading PMCR_EL0 and ID_AA64DFR0_EL1 at EL2 has no side effects.
    unsafe {
        core::arch::asm!(
            "mrs {}, pmcr_el0",
            "mrs {}, id_aa64dfr0_el1",
            out(reg) pmcr,
            out(reg) dfr0,
            options(nomem, nostack, preserves_flags)
        )
    };
    // SAFETY: MDCR_EL2 only decides which PMU and debug accesses of EL1/EL0 trap to EL2 (all
    // of them, see `sysregs::mdcr_el2_guest`); it does not affect the kernel's own execution.
    unsafe {
        core::arch::asm!(
            "msr mdcr_el2, {}",
            in(reg) sysregs::mdcr_el2_guest((pmcr >> 11) & 0x1f, dfr0),
            options(nostack, preserves_flags)
        )
    };
    CPTR_EL2.set(sysregs::CPTR_EL2_GUEST);
    CNTHCTL_EL2.set(sysregs::CNTHCTL_EL2_GUEST);
    // The partition's virtual counter equals the physical one: windows and logs share a clock.
    CNTVOFF_EL2.set(0);
    // The partition sees its own CPU numbering: vCPU n is MPIDR Aff0 = n (bit 31 is RES1).
    VMPIDR_EL2.set((1 << 31) | vcpu);
    let midr = MIDR_EL1.get();
    // SAFETY: VPIDR_EL2 only changes what the partition reads as MIDR_EL1; not in aarch64-cpu 11.
    unsafe {
        core::arch::asm!("msr vpidr_el2, {}", in(reg) midr, options(nostack, preserves_flags))
    };
    SCTLR_EL1.set(sysregs::SCTLR_EL1_RESET);
    // SAFETY: zeroing EL1 controls the partition has not yet run with, and flushing TLB
    // entries of this VMID (fresh at boot), affects only the partition about to start.
    unsafe {
        core::arch::asm!(
            "msr cpacr_el1, xzr",
            "msr vbar_el1, xzr",
            "msr tcr_el1, xzr",
            "msr mair_el1, xzr",
            "msr ttbr0_el1, xzr",
            "msr ttbr1_el1, xzr",
            "msr cntv_ctl_el0, xzr",
            "msr cntkctl_el1, xzr",
            "isb",
            "tlbi vmalls12e1",
            "dsb nsh",
            "isb",
            options(nostack, preserves_flags)
        );
    }
    // A partition's entry registers: x0 = its partition index, x1 = vCPU index.
    enter_guest(
        TrapFrame::first_entry(partition.image.entry_ipa, u64::from(partition.id), vcpu),
        stack_top,
    )
}
