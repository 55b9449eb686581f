//! Running a partition's vCPU on this core: the EL2 controls every partition runs under
//! (set once per core), switching the EL1 state between partitions, and entering a vCPU
//! until it exits (`run` returns like a function, with the decoded [`Exit`]).
//!
//! While a partition runs, SP_EL2 points at its [`VcpuContext`]: the exit vectors
//! (`exceptions.rs`) save its general registers there, reload the kernel's callee-saved
//! registers and stack from `VcpuContext::host`, and return from `pkernel_vcpu_enter`.

use aarch64_cpu::registers::{
    CNTHCTL_EL2, CNTVOFF_EL2, CPTR_EL2, ESR_EL2, FAR_EL2, HCR_EL2, HPFAR_EL2, MIDR_EL1, Readable,
    VTCR_EL2, Writeable,
};

use super::context::{
    GicCpuRegs, HOST_OFFSET, LR_GROUP1, LR_PENDING, VcpuContext, hw_list_register,
};
use super::exit::{Exit, Syndrome, Vector};
use super::sysregs;

/// Sets the EL2 controls every partition on this core runs under: trap configuration
/// (HCR_EL2, CPTR_EL2, CNTHCTL_EL2), stage-2 shape (VTCR_EL2), the virtual counter offset,
/// and the MIDR partitions read. Identical for all partitions, so set once; MDCR_EL2 is per
/// partition (see [`mdcr_for`]) and loaded with its context.
pub fn init_core_controls(vtcr: u64) {
    VTCR_EL2.set(vtcr);
    HCR_EL2.set(sysregs::HCR_EL2_GUEST);
    CPTR_EL2.set(sysregs::CPTR_EL2_GUEST);
    CNTHCTL_EL2.set(sysregs::CNTHCTL_EL2_GUEST);
    // The partitions' virtual counter equals the physical one: windows, traces and logs
    // share one clock, and a partition's time keeps running while it is switched out.
    CNTVOFF_EL2.set(0);
    reset_gic_virtual_interface();
    let midr = MIDR_EL1.get();
    // SAFETY: VPIDR_EL2 only changes what partitions read as MIDR_EL1 (the real value); it
    // does not affect the kernel's own execution.
    unsafe {
        core::arch::asm!(
            "msr vpidr_el2, {midr}",
            "isb",
            midr = in(reg) midr,
            options(nostack, preserves_flags)
        )
    };
}

/// ICH_VTR_EL2: what this core's GIC virtual CPU interface implements.
fn ich_vtr() -> u64 {
    let vtr: u64;
    // SAFETY: reading ICH_VTR_EL2 has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, ich_vtr_el2", out(reg) vtr, options(nomem, nostack, preserves_flags))
    };
    vtr
}

/// Active-priority registers per group: 1, 2 or 4 for 5, 6 or 7 priority bits.
fn active_priority_registers() -> usize {
    match (ich_vtr() >> 29) & 7 {
        0..=4 => 1,
        5 => 2,
        _ => 4,
    }
}

/// List registers this core's GIC virtual CPU interface has (ICH_VTR_EL2.ListRegs + 1).
fn list_registers() -> usize {
    (ich_vtr() & 0x1f) as usize + 1
}

/// Runs `$access` (a macro taking a list register's index and name) for each of the first
/// `$n` list registers, in order: the assembly needs each register by name.
macro_rules! each_list_register {
    ($n:expr, $access:ident) => {{
        let n: usize = $n;
        'registers: {
            each_list_register!(@each n, 'registers, $access,
                0 "ich_lr0_el2" 1 "ich_lr1_el2" 2 "ich_lr2_el2" 3 "ich_lr3_el2"
                4 "ich_lr4_el2" 5 "ich_lr5_el2" 6 "ich_lr6_el2" 7 "ich_lr7_el2"
                8 "ich_lr8_el2" 9 "ich_lr9_el2" 10 "ich_lr10_el2" 11 "ich_lr11_el2"
                12 "ich_lr12_el2" 13 "ich_lr13_el2" 14 "ich_lr14_el2" 15 "ich_lr15_el2");
        }
    }};
    (@each $n:ident, $label:lifetime, $access:ident, $($index:literal $name:literal)*) => {
        $(
            if $index >= $n {
                break $label;
            }
            $access!($index, $name);
        )*
    };
}

/// Puts the GIC virtual CPU interface in a known state (its registers reset to UNKNOWN
/// values): enabled (ICH_HCR_EL2.En = 1, so the list registers of the loaded vCPU are
/// delivered to it) and every list register empty. Each partition's own part (VMCR, active
/// priorities, list registers) is loaded with its context.
fn reset_gic_virtual_interface() {
    macro_rules! clear {
        ($index:literal, $name:literal) => {
            // SAFETY: the list register exists (its index is below the count ICH_VTR_EL2
            // gives); emptying it only empties the virtual interface, which no one uses yet.
            unsafe {
                core::arch::asm!(
                    concat!("msr ", $name, ", xzr"),
                    options(nomem, nostack, preserves_flags)
                )
            };
        };
    }
    each_list_register!(list_registers(), clear);
    // SAFETY: the virtual CPU interface only affects what partitions see through ICV_*
    // registers; the kernel uses the physical interface.
    unsafe {
        core::arch::asm!(
            "msr ich_hcr_el2, {}",
            "isb",
            in(reg) ICH_HCR_EN,
            options(nomem, nostack, preserves_flags)
        )
    };
}

/// ICH_HCR_EL2.En: the virtual CPU interface delivers its list registers.
const ICH_HCR_EN: u64 = 1 << 0;
/// ICH_HCR_EL2.UIE: a maintenance interrupt while at most one list register is in use.
const ICH_HCR_UIE: u64 = 1 << 1;

/// Puts physical interrupt `intid` into a free list register of the vCPU loaded on this
/// core, as the same virtual interrupt ID, pending, with `priority`, linked to the physical
/// one. False if every list register is in use: then a maintenance interrupt is asked for,
/// which comes when they have drained (see [`stop_underflow_interrupt`]).
pub fn inject(intid: u32, priority: u8) -> bool {
    let empty: u64;
    // SAFETY: reading ICH_ELRSR_EL2 has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, ich_elrsr_el2", out(reg) empty, options(nomem, nostack, preserves_flags))
    };
    let n = list_registers();
    let free = empty.trailing_zeros() as usize;
    if free >= n {
        set_ich_hcr(ICH_HCR_EN | ICH_HCR_UIE);
        return false;
    }
    let value = hw_list_register(intid, priority);
    macro_rules! write_free {
        ($index:literal, $name:literal) => {
            if $index == free {
                // SAFETY: the list register exists and is free (ICH_ELRSR_EL2); it becomes a
                // virtual interrupt of the vCPU loaded here, the partition that owns `intid`
                // (the caller's check).
                unsafe {
                    core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) value, options(nomem, nostack, preserves_flags))
                };
            }
        };
    }
    each_list_register!(n, write_free);
    true
}

/// This core's list registers (those beyond its count read as 0).
fn read_list_registers() -> [u64; 16] {
    let mut lr = [0u64; 16];
    macro_rules! read {
        ($index:literal, $name:literal) => {
            // SAFETY: the list register exists; reading it has no side effects.
            unsafe {
                core::arch::asm!(concat!("mrs {}, ", $name), out(reg) lr[$index], options(nomem, nostack, preserves_flags))
            };
        };
    }
    each_list_register!(list_registers(), read);
    lr
}

/// LR state field (bits 63:62): pending = 1, active = 2, both = 3.
const LR_STATE_SHIFT: u32 = 62;

/// Whether a list register of the vCPU loaded here holds virtual interrupt `intid`, pending
/// or active.
pub fn holds(intid: u32) -> bool {
    read_list_registers()
        .iter()
        .any(|&lr| lr >> LR_STATE_SHIFT != 0 && lr & 0xffff_ffff == u64::from(intid))
}

/// Makes virtual interrupt `intid`, which no physical interrupt stands behind, pending for
/// the vCPU loaded on this core: in the list register that holds it already (two list
/// registers must never hold the same interrupt, Arm IHI 0069 4.4.6), else in a free one.
/// False if there is none; then as [`inject`].
pub fn inject_emulated(intid: u32, priority: u8) -> bool {
    let lrs = read_list_registers();
    let n = list_registers();
    let held = lrs[..n]
        .iter()
        .position(|&lr| lr >> LR_STATE_SHIFT != 0 && lr & 0xffff_ffff == u64::from(intid));
    let (index, value) = match held {
        // Pending already, or active: pending and active (taken again after its end).
        Some(i) => (i, lrs[i] | LR_PENDING),
        None => {
            let empty: u64;
            // SAFETY: reading ICH_ELRSR_EL2 has no side effects.
            unsafe {
                core::arch::asm!("mrs {}, ich_elrsr_el2", out(reg) empty, options(nomem, nostack, preserves_flags))
            };
            let free = empty.trailing_zeros() as usize;
            if free >= n {
                set_ich_hcr(ICH_HCR_EN | ICH_HCR_UIE);
                return false;
            }
            (
                free,
                LR_PENDING | LR_GROUP1 | (u64::from(priority) << 48) | u64::from(intid),
            )
        }
    };
    macro_rules! write_one {
        ($index:literal, $name:literal) => {
            if $index == index {
                // SAFETY: the list register exists; it was free or held this interrupt of the
                // vCPU loaded here, which the caller's policy (`vgic`) delivers to it.
                unsafe {
                    core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) value, options(nomem, nostack, preserves_flags))
                };
            }
        };
    }
    each_list_register!(n, write_one);
    true
}

/// Whether `gic`'s saved list registers hold the virtual timer's interrupt, pending or
/// active: then the physical one is active for this vCPU.
pub fn holds_virtual_timer(gic: &GicCpuRegs) -> bool {
    let n = list_registers().min(gic.lr.len());
    gic.lr[..n].iter().any(|&lr| {
        lr >> 62 != 0 && lr & 0xffff_ffff == u64::from(crate::machine::VIRTUAL_TIMER_INTID)
    })
}

/// Stops asking for the maintenance interrupt [`inject`] asked for.
pub fn stop_underflow_interrupt() {
    set_ich_hcr(ICH_HCR_EN);
}

/// Turns the virtual CPU interface off while the core sleeps (WFI), and returns what to
/// restore afterwards. With it on, the list registers of the vCPU still loaded here (a window
/// over, a secondary dropped, a partition in `Wait`) keep the virtual IRQ line up, which
/// counts as work for WFI (QEMU wakes on it at once, and so may a core), so the core would
/// spin instead of sleeping; off, nothing is lost (the list registers keep their state) and
/// no maintenance interrupt fires for a vCPU that is not running.
pub fn virtual_interface_off() -> u64 {
    let hcr: u64;
    // SAFETY: reading ICH_HCR_EL2 has no side effects; clearing En only stops the virtual
    // interface from signalling the loaded vCPU's interrupts until it is restored.
    unsafe {
        core::arch::asm!(
            "mrs {hcr}, ich_hcr_el2",
            "msr ich_hcr_el2, xzr",
            "isb",
            hcr = out(reg) hcr,
            options(nomem, nostack, preserves_flags)
        )
    };
    hcr
}

/// Restores the virtual CPU interface [`virtual_interface_off`] turned off.
pub fn restore_virtual_interface(hcr: u64) {
    set_ich_hcr(hcr);
}

fn set_ich_hcr(value: u64) {
    // SAFETY: ICH_HCR_EL2 controls only the virtual CPU interface partitions use; En stays set.
    unsafe {
        core::arch::asm!("msr ich_hcr_el2, {}", in(reg) value, options(nomem, nostack, preserves_flags))
    };
}

/// Loads a partition's part of the GIC virtual CPU interface (see [`GicCpuRegs`]).
fn gic_load(gic: &GicCpuRegs) {
    macro_rules! load {
        ($index:literal, $name:literal) => {
            // SAFETY: the list register exists; it holds only the virtual interrupts of the
            // partition about to run (the kernel takes its own through the physical interface).
            unsafe {
                core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) gic.lr[$index], options(nomem, nostack, preserves_flags))
            };
        };
    }
    each_list_register!(list_registers(), load);
    let n = active_priority_registers();
    // SAFETY: these registers hold only the virtual CPU interface state of the partition
    // about to run (the kernel uses the physical interface); AP*R1 exist when there are 2 or
    // more active-priority registers per group, AP*R2 and AP*R3 when there are 4.
    unsafe {
        core::arch::asm!(
            "msr ich_vmcr_el2, {vmcr}",
            "msr ich_ap0r0_el2, {a0}",
            "msr ich_ap1r0_el2, {b0}",
            vmcr = in(reg) gic.vmcr,
            a0 = in(reg) gic.ap0r[0],
            b0 = in(reg) gic.ap1r[0],
            options(nomem, nostack, preserves_flags)
        );
        if n >= 2 {
            core::arch::asm!(
                "msr ich_ap0r1_el2, {a1}",
                "msr ich_ap1r1_el2, {b1}",
                a1 = in(reg) gic.ap0r[1],
                b1 = in(reg) gic.ap1r[1],
                options(nomem, nostack, preserves_flags)
            );
        }
        if n == 4 {
            core::arch::asm!(
                "msr ich_ap0r2_el2, {a2}",
                "msr ich_ap1r2_el2, {b2}",
                "msr ich_ap0r3_el2, {a3}",
                "msr ich_ap1r3_el2, {b3}",
                a2 = in(reg) gic.ap0r[2],
                b2 = in(reg) gic.ap1r[2],
                a3 = in(reg) gic.ap0r[3],
                b3 = in(reg) gic.ap1r[3],
                options(nomem, nostack, preserves_flags)
            );
        }
    }
}

/// Saves a partition's part of the GIC virtual CPU interface (see [`gic_load`]).
fn gic_save(gic: &mut GicCpuRegs) {
    macro_rules! save {
        ($index:literal, $name:literal) => {
            // SAFETY: the list register exists; reading it has no side effects.
            unsafe {
                core::arch::asm!(concat!("mrs {}, ", $name), out(reg) gic.lr[$index], options(nomem, nostack, preserves_flags))
            };
        };
    }
    each_list_register!(list_registers(), save);
    let n = active_priority_registers();
    // SAFETY: reading the virtual CPU interface registers has no side effects; the optional
    // ones are read only when they exist (see `gic_load`).
    unsafe {
        core::arch::asm!(
            "mrs {vmcr}, ich_vmcr_el2",
            "mrs {a0}, ich_ap0r0_el2",
            "mrs {b0}, ich_ap1r0_el2",
            vmcr = out(reg) gic.vmcr,
            a0 = out(reg) gic.ap0r[0],
            b0 = out(reg) gic.ap1r[0],
            options(nomem, nostack, preserves_flags)
        );
        if n >= 2 {
            core::arch::asm!(
                "mrs {a1}, ich_ap0r1_el2",
                "mrs {b1}, ich_ap1r1_el2",
                a1 = out(reg) gic.ap0r[1],
                b1 = out(reg) gic.ap1r[1],
                options(nomem, nostack, preserves_flags)
            );
        }
        if n == 4 {
            core::arch::asm!(
                "mrs {a2}, ich_ap0r2_el2",
                "mrs {b2}, ich_ap1r2_el2",
                "mrs {a3}, ich_ap0r3_el2",
                "mrs {b3}, ich_ap1r3_el2",
                a2 = out(reg) gic.ap0r[2],
                b2 = out(reg) gic.ap1r[2],
                a3 = out(reg) gic.ap0r[3],
                b3 = out(reg) gic.ap1r[3],
                options(nomem, nostack, preserves_flags)
            );
        }
    }
}

/// MDCR_EL2 for a partition on this core: PMU and debug registers trapped, the PMU granted
/// when `pmu_granted` (see `sysregs::mdcr_el2_guest`).
pub fn mdcr_for(pmu_granted: bool) -> u64 {
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
    sysregs::mdcr_el2_guest((pmcr >> 11) & 0x1f, dfr0, pmu_granted)
}

/// Loads `vcpu`'s EL1 state into this core: system registers, virtual timer, FP/SIMD, GIC
/// virtual CPU interface, stage-2 root and VMID, MPIDR. The partition's general registers
/// are loaded by `run`.
pub fn load(vcpu: &VcpuContext) {
    let e = &vcpu.el1;
    // SAFETY: these registers belong to the EL1&0 translation regime and to EL1/EL0 state,
    // which only partitions use (the kernel runs at EL2 with its own registers); writing them
    // changes what the partition about to run sees, nothing of the kernel. VTTBR_EL2 points at
    // that partition's own stage-2 tables (built at boot, never freed).
    unsafe {
        core::arch::asm!(
            "msr sctlr_el1, {sctlr}",
            "msr cpacr_el1, {cpacr}",
            "msr ttbr0_el1, {ttbr0}",
            "msr ttbr1_el1, {ttbr1}",
            "msr tcr_el1, {tcr}",
            "msr mair_el1, {mair}",
            "msr amair_el1, {amair}",
            "msr vbar_el1, {vbar}",
            "msr contextidr_el1, {contextidr}",
            "msr tpidr_el1, {tpidr_el1}",
            "msr tpidr_el0, {tpidr_el0}",
            "msr tpidrro_el0, {tpidrro_el0}",
            sctlr = in(reg) e.sctlr,
            cpacr = in(reg) e.cpacr,
            ttbr0 = in(reg) e.ttbr0,
            ttbr1 = in(reg) e.ttbr1,
            tcr = in(reg) e.tcr,
            mair = in(reg) e.mair,
            amair = in(reg) e.amair,
            vbar = in(reg) e.vbar,
            contextidr = in(reg) e.contextidr,
            tpidr_el1 = in(reg) e.tpidr_el1,
            tpidr_el0 = in(reg) e.tpidr_el0,
            tpidrro_el0 = in(reg) e.tpidrro_el0,
            options(nostack, preserves_flags)
        );
        core::arch::asm!(
            "msr sp_el0, {sp_el0}",
            "msr sp_el1, {sp_el1}",
            "msr elr_el1, {elr}",
            "msr spsr_el1, {spsr}",
            "msr esr_el1, {esr}",
            "msr far_el1, {far}",
            "msr afsr0_el1, {afsr0}",
            "msr afsr1_el1, {afsr1}",
            "msr par_el1, {par}",
            "msr cntkctl_el1, {cntkctl}",
            "msr csselr_el1, {csselr}",
            "msr cntv_cval_el0, {cntv_cval}",
            "msr cntv_ctl_el0, {cntv_ctl}",
            "msr vttbr_el2, {vttbr}",
            "msr vmpidr_el2, {vmpidr}",
            "msr mdcr_el2, {mdcr}",
            sp_el0 = in(reg) e.sp_el0,
            sp_el1 = in(reg) e.sp_el1,
            elr = in(reg) e.elr,
            spsr = in(reg) e.spsr,
            esr = in(reg) e.esr,
            far = in(reg) e.far,
            afsr0 = in(reg) e.afsr0,
            afsr1 = in(reg) e.afsr1,
            par = in(reg) e.par,
            cntkctl = in(reg) e.cntkctl,
            csselr = in(reg) e.csselr,
            cntv_cval = in(reg) e.cntv_cval,
            cntv_ctl = in(reg) e.cntv_ctl,
            vttbr = in(reg) vcpu.vttbr,
            vmpidr = in(reg) vcpu.vmpidr,
            mdcr = in(reg) vcpu.mdcr,
            options(nostack, preserves_flags)
        );
        fp_load(&vcpu.fp);
        gic_load(&vcpu.gic);
        core::arch::asm!("isb", options(nostack, preserves_flags));
    }
}

/// Saves this core's EL1 state into `vcpu` (the counterpart of [`load`]); the virtual timer
/// is then disabled so it cannot fire for the next partition.
pub fn save(vcpu: &mut VcpuContext) {
    let e = &mut vcpu.el1;
    // SAFETY: reading EL1/EL0 state has no side effects; disabling the virtual timer
    // (CNTV_CTL_EL0 = 0) only affects the partition just saved, whose control value is kept
    // in its context and restored by `load`.
    unsafe {
        core::arch::asm!(
            "mrs {sctlr}, sctlr_el1",
            "mrs {cpacr}, cpacr_el1",
            "mrs {ttbr0}, ttbr0_el1",
            "mrs {ttbr1}, ttbr1_el1",
            "mrs {tcr}, tcr_el1",
            "mrs {mair}, mair_el1",
            "mrs {amair}, amair_el1",
            "mrs {vbar}, vbar_el1",
            "mrs {contextidr}, contextidr_el1",
            "mrs {tpidr_el1}, tpidr_el1",
            "mrs {tpidr_el0}, tpidr_el0",
            "mrs {tpidrro_el0}, tpidrro_el0",
            sctlr = out(reg) e.sctlr,
            cpacr = out(reg) e.cpacr,
            ttbr0 = out(reg) e.ttbr0,
            ttbr1 = out(reg) e.ttbr1,
            tcr = out(reg) e.tcr,
            mair = out(reg) e.mair,
            amair = out(reg) e.amair,
            vbar = out(reg) e.vbar,
            contextidr = out(reg) e.contextidr,
            tpidr_el1 = out(reg) e.tpidr_el1,
            tpidr_el0 = out(reg) e.tpidr_el0,
            tpidrro_el0 = out(reg) e.tpidrro_el0,
            options(nomem, nostack, preserves_flags)
        );
        core::arch::asm!(
            "mrs {sp_el0}, sp_el0",
            "mrs {sp_el1}, sp_el1",
            "mrs {elr}, elr_el1",
            "mrs {spsr}, spsr_el1",
            "mrs {esr}, esr_el1",
            "mrs {far}, far_el1",
            "mrs {afsr0}, afsr0_el1",
            "mrs {afsr1}, afsr1_el1",
            "mrs {par}, par_el1",
            "mrs {cntkctl}, cntkctl_el1",
            "mrs {csselr}, csselr_el1",
            "mrs {cntv_cval}, cntv_cval_el0",
            "mrs {cntv_ctl}, cntv_ctl_el0",
            "msr cntv_ctl_el0, xzr",
            sp_el0 = out(reg) e.sp_el0,
            sp_el1 = out(reg) e.sp_el1,
            elr = out(reg) e.elr,
            spsr = out(reg) e.spsr,
            esr = out(reg) e.esr,
            far = out(reg) e.far,
            afsr0 = out(reg) e.afsr0,
            afsr1 = out(reg) e.afsr1,
            par = out(reg) e.par,
            cntkctl = out(reg) e.cntkctl,
            csselr = out(reg) e.csselr,
            cntv_cval = out(reg) e.cntv_cval,
            cntv_ctl = out(reg) e.cntv_ctl,
            options(nostack, preserves_flags)
        );
        fp_save(&mut vcpu.fp);
    }
    gic_save(&mut vcpu.gic);
    // Only ISTATUS (bit 2) is read-only; keep ENABLE and IMASK.
    vcpu.el1.cntv_ctl &= 0b11;
}

/// Loads q0..q31, FPCR and FPSR.
///
/// # Safety
/// Only for loading a partition's state: the kernel is built soft-float and never keeps
/// values in FP/SIMD registers, so overwriting them loses nothing of the kernel's.
unsafe fn fp_load(fp: &super::context::FpRegs) {
    // SAFETY: `fp` is a valid, 16-byte aligned FpRegs (repr(C, align(16))): q0..q31 at
    // offsets 0..512, FPCR at 512, FPSR at 520. The `.arch_extension fp` directive lets the
    // soft-float kernel name the registers it saves for partitions.
    unsafe {
        core::arch::asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "ldp q0, q1, [{p}, #32 * 0]",
            "ldp q2, q3, [{p}, #32 * 1]",
            "ldp q4, q5, [{p}, #32 * 2]",
            "ldp q6, q7, [{p}, #32 * 3]",
            "ldp q8, q9, [{p}, #32 * 4]",
            "ldp q10, q11, [{p}, #32 * 5]",
            "ldp q12, q13, [{p}, #32 * 6]",
            "ldp q14, q15, [{p}, #32 * 7]",
            "ldp q16, q17, [{p}, #32 * 8]",
            "ldp q18, q19, [{p}, #32 * 9]",
            "ldp q20, q21, [{p}, #32 * 10]",
            "ldp q22, q23, [{p}, #32 * 11]",
            "ldp q24, q25, [{p}, #32 * 12]",
            "ldp q26, q27, [{p}, #32 * 13]",
            "ldp q28, q29, [{p}, #32 * 14]",
            "ldp q30, q31, [{p}, #32 * 15]",
            "add {p}, {p}, #512",
            "ldp {fpcr}, {fpsr}, [{p}]",
            "msr fpcr, {fpcr}",
            "msr fpsr, {fpsr}",
            p = inout(reg) fp as *const _ as usize => _,
            fpcr = out(reg) _,
            fpsr = out(reg) _,
            options(nostack, preserves_flags)
        );
    }
}

/// Saves q0..q31, FPCR and FPSR.
///
/// # Safety
/// As for [`fp_load`].
unsafe fn fp_save(fp: &mut super::context::FpRegs) {
    // SAFETY: `fp` is a valid, writable, 16-byte aligned FpRegs (see `fp_load`).
    unsafe {
        core::arch::asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "stp q0, q1, [{p}, #32 * 0]",
            "stp q2, q3, [{p}, #32 * 1]",
            "stp q4, q5, [{p}, #32 * 2]",
            "stp q6, q7, [{p}, #32 * 3]",
            "stp q8, q9, [{p}, #32 * 4]",
            "stp q10, q11, [{p}, #32 * 5]",
            "stp q12, q13, [{p}, #32 * 6]",
            "stp q14, q15, [{p}, #32 * 7]",
            "stp q16, q17, [{p}, #32 * 8]",
            "stp q18, q19, [{p}, #32 * 9]",
            "stp q20, q21, [{p}, #32 * 10]",
            "stp q22, q23, [{p}, #32 * 11]",
            "stp q24, q25, [{p}, #32 * 12]",
            "stp q26, q27, [{p}, #32 * 13]",
            "stp q28, q29, [{p}, #32 * 14]",
            "stp q30, q31, [{p}, #32 * 15]",
            "mrs {fpcr}, fpcr",
            "mrs {fpsr}, fpsr",
            "add {p}, {p}, #512",
            "stp {fpcr}, {fpsr}, [{p}]",
            p = inout(reg) fp as *mut _ as usize => _,
            fpcr = out(reg) _,
            fpsr = out(reg) _,
            options(nostack, preserves_flags)
        );
    }
}

unsafe extern "C" {
    /// Saves the kernel's callee-saved registers and stack pointer in `vcpu.host`, points
    /// SP_EL2 at `vcpu.regs`, loads the partition's registers and `eret`s. Returns (through
    /// the exit vectors) the [`Vector`] the partition exited by.
    fn pkernel_vcpu_enter(vcpu: *mut VcpuContext) -> u64;
}

/// Runs `vcpu` (its EL1 state loaded with [`load`]) until it exits.
pub fn run(vcpu: &mut VcpuContext) -> Exit {
    // SAFETY: `vcpu` is a valid, exclusively borrowed context for the whole call. The entry
    // assembly keeps the kernel's callee-saved registers and SP in `vcpu.host` and the exit
    // vectors restore them before returning here, so to Rust this is an ordinary call that
    // clobbers only caller-saved registers. FP/SIMD registers change (they are the
    // partition's), which the soft-float kernel never relies on. The partition runs under its
    // own stage-2 tables and cannot reach the context or the kernel's memory.
    let vector = unsafe { pkernel_vcpu_enter(vcpu) };
    Exit::decode(
        Vector::from_raw(vector),
        Syndrome {
            esr: ESR_EL2.get(),
            far: FAR_EL2.get(),
            hpfar: HPFAR_EL2.get(),
        },
    )
}

core::arch::global_asm!(
    r#"
    .section .text.vcpu, "ax"
    .global pkernel_vcpu_enter
pkernel_vcpu_enter:
    add     x1, x0, #{host}
    stp     x19, x20, [x1, #16 * 0]
    stp     x21, x22, [x1, #16 * 1]
    stp     x23, x24, [x1, #16 * 2]
    stp     x25, x26, [x1, #16 * 3]
    stp     x27, x28, [x1, #16 * 4]
    stp     x29, x30, [x1, #16 * 5]
    mov     x2, sp
    str     x2, [x1, #16 * 6]
    mov     sp, x0
    ldr     x19, [sp, #16 * 9 + 8]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    // Load x0..x18, x30, ELR_EL2 and SPSR_EL2 from the context and enter the partition.
    // (The hypercall fast path has its own return: it leaves ELR and SPSR in the CPU.)
    ldr     x1, [sp, #16 * 16]
    ldp     x30, x0, [sp, #16 * 15]
    msr     elr_el2, x0
    msr     spsr_el2, x1
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldr     x18, [sp, #16 * 9]
    eret

    // Reached from the exit vectors with the partition's registers saved at SP (its
    // VcpuContext) and the exit's vector in x0.
    .global pkernel_vcpu_exit
pkernel_vcpu_exit:
    add     x1, sp, #{host}
    ldp     x19, x20, [x1, #16 * 0]
    ldp     x21, x22, [x1, #16 * 1]
    ldp     x23, x24, [x1, #16 * 2]
    ldp     x25, x26, [x1, #16 * 3]
    ldp     x27, x28, [x1, #16 * 4]
    ldp     x29, x30, [x1, #16 * 5]
    ldr     x2, [x1, #16 * 6]
    mov     sp, x2
    ret
    "#,
    host = const HOST_OFFSET,
);
