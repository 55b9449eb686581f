//! A partition's processor state as the kernel keeps it while the partition is not running
//! on its core: what `vcpu::run` loads before entering it and saves when it exits, and what a
//! window switch saves and restores. The layout of [`GuestRegs`] and [`HostRegs`] is fixed by
//! the entry and exit assembly (`vcpu.rs`, `exceptions.rs`); the rest is moved in Rust.
//!
//! A partition must not be able to tell it was switched out except by time passing, so this
//! holds everything of EL1 and EL0 a guest can change: general and FP/SIMD registers, every
//! EL1 system register a guest can use, its virtual timer, the state it can reach of the GIC
//! CPU interface (virtual, since HCR_EL2.IMO/FMO route its ICC_* accesses to ICV_*), and the
//! identity the kernel gives it (VMID, MPIDR).

/// General registers and the exception return state, saved by the exit assembly.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestRegs {
    /// x0..=x30.
    pub x: [u64; 31],
    /// Where the partition resumes (ELR_EL2).
    pub elr: u64,
    /// Its PSTATE (SPSR_EL2).
    pub spsr: u64,
    _pad: u64,
}

/// The kernel's callee-saved registers while a partition runs: `vcpu::run` stores them on
/// entry and the exit assembly reloads them, so `run` returns like a function.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostRegs {
    /// x19..=x30.
    pub x19_x30: [u64; 12],
    /// The kernel stack pointer.
    pub sp: u64,
    _pad: u64,
}

/// EL1 (and EL0) system registers of a partition.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct El1Regs {
    pub sctlr: u64,
    pub cpacr: u64,
    pub ttbr0: u64,
    pub ttbr1: u64,
    pub tcr: u64,
    pub mair: u64,
    pub amair: u64,
    pub vbar: u64,
    pub contextidr: u64,
    pub tpidr_el1: u64,
    pub tpidr_el0: u64,
    pub tpidrro_el0: u64,
    pub sp_el0: u64,
    pub sp_el1: u64,
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
    pub far: u64,
    pub afsr0: u64,
    pub afsr1: u64,
    pub par: u64,
    pub cntkctl: u64,
    pub csselr: u64,
    /// The virtual timer: control and compare value (CNTV_CTL_EL0, CNTV_CVAL_EL0).
    pub cntv_ctl: u64,
    pub cntv_cval: u64,
}

/// FP/SIMD registers.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FpRegs {
    /// q0..=q31.
    pub q: [u128; 32],
    pub fpcr: u64,
    pub fpsr: u64,
}

/// The GIC virtual CPU interface state a partition can change through its ICC_* (ICV_*)
/// registers: ICH_VMCR_EL2 (its priority mask, binary points, group enables, EOI mode) and
/// the active-priority registers (ICH_AP0Rn_EL2, ICH_AP1Rn_EL2; as many as the GIC's
/// priority bits need, at most 4), and the list registers (ICH_LRn_EL2: the virtual
/// interrupts the kernel delivered to this vCPU that it has not finished, as many as the GIC
/// has, at most 16).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GicCpuRegs {
    pub vmcr: u64,
    pub ap0r: [u64; 4],
    pub ap1r: [u64; 4],
    pub lr: [u64; 16],
}

/// One vCPU of a partition.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuContext {
    /// Offset 0: the exit assembly saves here through SP_EL2.
    pub regs: GuestRegs,
    /// Right after `regs`: where the exit assembly finds the kernel's registers.
    pub host: HostRegs,
    pub el1: El1Regs,
    pub fp: FpRegs,
    pub gic: GicCpuRegs,
    /// Stage-2 root and VMID.
    pub vttbr: u64,
    /// What the partition reads as MPIDR_EL1.
    pub vmpidr: u64,
    /// The traps it runs under for the PMU and debug registers (MDCR_EL2).
    pub mdcr: u64,
    /// Index of the partition this vCPU belongs to (for the hypercall fast path).
    pub partition: u64,
    /// 1 while its virtual timer's interrupt was taken by the kernel and waits for a list
    /// register: the physical interrupt is then active for this vCPU (see `vgic`).
    pub virtual_timer_pending: u64,
    /// 1 while its virtual timer's interrupt may be in one of its list registers (delivered,
    /// and not known to be finished): set on delivery, brought up to date at each save.
    pub virtual_timer_delivered: u64,
}

/// Offset of [`VcpuContext::host`], used by the exit assembly.
pub const HOST_OFFSET: usize = core::mem::size_of::<GuestRegs>();
/// Offset of the kernel stack pointer in [`VcpuContext::host`], used by the fast path.
pub const HOST_SP_OFFSET: usize = HOST_OFFSET + core::mem::offset_of!(HostRegs, sp);
/// Size of [`GuestRegs`], a multiple of 16 so SP_EL2 may point at it.
pub const GUEST_REGS_SIZE: usize = core::mem::size_of::<GuestRegs>();

const _: () = assert!(GUEST_REGS_SIZE == 34 * 8 && GUEST_REGS_SIZE.is_multiple_of(16));
const _: () = assert!(core::mem::offset_of!(VcpuContext, host) == HOST_OFFSET);
const _: () = assert!(core::mem::size_of::<HostRegs>() == 14 * 8);

/// SCTLR_EL1 a partition starts with: RES1 bits 11, 20, 22, 23, 28, 29; MMU and caches off.
pub const SCTLR_EL1_RESET: u64 =
    (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);

/// SPSR for the first entry of a partition: EL1h, D, A, I, F masked.
pub const SPSR_EL1H_MASKED: u64 = 0b0101 | (0xf << 6);

impl VcpuContext {
    /// All registers zero (for statics; see [`VcpuContext::first_entry`]).
    pub const ZERO: Self = Self {
        regs: GuestRegs {
            x: [0; 31],
            elr: 0,
            spsr: 0,
            _pad: 0,
        },
        host: HostRegs {
            x19_x30: [0; 12],
            sp: 0,
            _pad: 0,
        },
        el1: El1Regs {
            sctlr: 0,
            cpacr: 0,
            ttbr0: 0,
            ttbr1: 0,
            tcr: 0,
            mair: 0,
            amair: 0,
            vbar: 0,
            contextidr: 0,
            tpidr_el1: 0,
            tpidr_el0: 0,
            tpidrro_el0: 0,
            sp_el0: 0,
            sp_el1: 0,
            elr: 0,
            spsr: 0,
            esr: 0,
            far: 0,
            afsr0: 0,
            afsr1: 0,
            par: 0,
            cntkctl: 0,
            csselr: 0,
            cntv_ctl: 0,
            cntv_cval: 0,
        },
        fp: FpRegs {
            q: [0; 32],
            fpcr: 0,
            fpsr: 0,
        },
        gic: GicCpuRegs {
            vmcr: 0,
            ap0r: [0; 4],
            ap1r: [0; 4],
            lr: [0; 16],
        },
        vttbr: 0,
        vmpidr: 0,
        mdcr: 0,
        partition: 0,
        virtual_timer_pending: 0,
        virtual_timer_delivered: 0,
    };

    /// Which vCPU of its partition this is (MPIDR Aff0, see [`VcpuContext::first_entry`]).
    pub fn index(&self) -> usize {
        (self.vmpidr & 0xff) as usize
    }

    /// A vCPU that has never run: about to execute its first instruction at `entry` with
    /// `x0` = `argument` (see `partition::entry_x0`) and `x1` = vCPU index, every other
    /// register zero, EL1 in its reset state (MMU off), the virtual timer off.
    pub fn first_entry(entry: u64, argument: u64, vcpu: u64, vttbr: u64) -> Self {
        let mut ctx = Self::default();
        ctx.regs.elr = entry;
        ctx.regs.spsr = SPSR_EL1H_MASKED;
        ctx.regs.x[0] = argument;
        ctx.regs.x[1] = vcpu;
        ctx.el1.sctlr = SCTLR_EL1_RESET;
        ctx.vttbr = vttbr;
        // MPIDR as the partition sees it: vCPU n is Aff0 = n; bit 31 is RES1.
        ctx.vmpidr = (1 << 31) | vcpu;
        ctx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_entry_is_a_reset_cpu() {
        let ctx = VcpuContext::first_entry(0x4000_0000, 3, 0, (5 << 48) | 0x4010_0000);
        assert_eq!(ctx.regs.elr, 0x4000_0000);
        assert_eq!(ctx.regs.x[..3], [3, 0, 0]);
        assert_eq!(ctx.regs.spsr & 0xf, 0b0101, "EL1h");
        assert_eq!(ctx.regs.spsr >> 6 & 0xf, 0xf, "DAIF masked");
        assert_eq!(ctx.el1.sctlr & 1, 0, "MMU off");
        assert_eq!(ctx.el1.cntv_ctl, 0, "virtual timer off");
        assert_eq!(ctx.vmpidr, 0x8000_0000);
        assert_eq!(ctx.fp, FpRegs::default());
        assert_eq!(VcpuContext::ZERO, VcpuContext::default());
    }
}
