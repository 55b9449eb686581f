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

use core::sync::atomic::{AtomicU64, Ordering};

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
    /// Address of its [`FastInterrupts`] (0: none), which the IRQ exit vector reads.
    pub fast_interrupts: u64,
    /// The INTID the IRQ exit vector acknowledged and left for the run loop, when it did not
    /// deliver it itself (1023: none was pending).
    pub acknowledged: u64,
}

/// The interrupts the IRQ exit vector delivers to a running vCPU by itself, without the run
/// loop (`exceptions.rs`): each entry is the list register value that delivers one (see
/// [`hw_list_register`]; its low 32 bits are the INTID), the first 0 ends the list. The
/// virtual GIC (`vgic`) keeps it equal to what the run loop would deliver at once: the
/// vCPU's virtual timer and each device interrupt routed to it, where its distributor's
/// group 1 and the interrupt are enabled. Written by whichever core emulates the
/// partition's GIC access, read by the vector of the core that runs the vCPU, one whole
/// entry at a time (a list being rewritten is read as the old or the new entry, each of
/// which is an interrupt the vCPU took a moment before or after).
#[repr(C)]
pub struct FastInterrupts {
    entries: [AtomicU64; FAST_INTERRUPTS + 1],
}

/// Entries of a [`FastInterrupts`]: the virtual timer and every device interrupt a
/// partition may own.
pub const FAST_INTERRUPTS: usize = 1 + crate::config::MAX_PARTITION_INTERRUPTS;

impl FastInterrupts {
    pub const fn new() -> Self {
        Self {
            entries: [const { AtomicU64::new(0) }; FAST_INTERRUPTS + 1],
        }
    }

    /// Replaces the list with `values` (list register values; at most [`FAST_INTERRUPTS`]
    /// are kept, zeros are skipped).
    pub fn publish(&self, values: impl IntoIterator<Item = u64>) {
        let mut count = 0;
        for value in values.into_iter().filter(|&v| v != 0).take(FAST_INTERRUPTS) {
            self.entries[count].store(value, Ordering::Relaxed);
            count += 1;
        }
        for entry in &self.entries[count..] {
            entry.store(0, Ordering::Relaxed);
        }
    }

    /// The list, in order.
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries
            .iter()
            .map(|e| e.load(Ordering::Relaxed))
            .take_while(|&v| v != 0)
    }

    /// Where the IRQ exit vector finds it (`VcpuContext::fast_interrupts`).
    pub fn address(&self) -> u64 {
        self.entries.as_ptr() as u64
    }
}

impl Default for FastInterrupts {
    fn default() -> Self {
        Self::new()
    }
}

/// List register (ICH_LR<n>_EL2) state: pending.
pub const LR_PENDING: u64 = 1 << 62;
/// List register: a hardware interrupt (pINTID is the physical one, which the guest's
/// deactivation of the virtual one deactivates).
pub const LR_HW: u64 = 1 << 61;
/// List register: group 1.
pub const LR_GROUP1: u64 = 1 << 60;

/// The list register value that makes physical interrupt `intid` pending for the vCPU as
/// the same virtual INTID, group 1, at `priority`, linked to the physical one (the HW bit).
pub const fn hw_list_register(intid: u32, priority: u8) -> u64 {
    LR_PENDING
        | LR_HW
        | LR_GROUP1
        | ((priority as u64) << 48)
        | (((intid & 0x3ff) as u64) << 32)
        | intid as u64
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
        fast_interrupts: 0,
        acknowledged: 0,
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

    #[test]
    fn a_fast_interrupt_list_ends_at_its_first_zero() {
        let list = FastInterrupts::new();
        assert_eq!(list.values().count(), 0);
        list.publish([hw_list_register(27, 0xa0), 0, hw_list_register(40, 0x80)]);
        assert_eq!(
            list.values().collect::<Vec<_>>(),
            [hw_list_register(27, 0xa0), hw_list_register(40, 0x80)]
        );
        // Shorter again: the rest is cleared, and never more than it holds.
        list.publish([hw_list_register(41, 0)]);
        assert_eq!(list.values().collect::<Vec<_>>(), [hw_list_register(41, 0)]);
        list.publish((0..100).map(|i| hw_list_register(32 + i, 0)));
        assert_eq!(list.values().count(), FAST_INTERRUPTS);
        // The vector's terminator is always there.
        assert_eq!(list.entries[FAST_INTERRUPTS].load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_hardware_list_register_names_the_interrupt_twice() {
        let lr = hw_list_register(27, 0xa0);
        assert_eq!(lr as u32, 27, "vINTID, what the vector compares");
        assert_eq!(lr >> 32 & 0x3ff, 27, "pINTID");
        assert_eq!(lr >> 48 & 0xff, 0xa0);
        assert_eq!(lr >> 60, 0b0111, "pending, HW, group 1");
    }
}
