//! What the kernel does when a partition touches a system register or instruction it traps:
//! the PMU, the debug registers and set/way cache maintenance (see `arch::sysregs` for
//! which traps are set and why).
//!
//! These are shared by everything that runs on a core. A partition that could count the
//! PMU's cycles would observe the kernel and, once cores are shared through windows, the
//! partitions before it; one that could program breakpoints or watchpoints could stop or
//! observe code it does not own; set/way cleaning acts on the whole cache, other partitions'
//! lines included. So:
//! - PMU and debug registers read as zero and ignore writes: the partition sees a PMU with
//!   no counters and debug hardware that never fires, and keeps running (an unmodified OS
//!   probing them at boot must not die for it);
//! - set/way maintenance is skipped: partition memory is made coherent by the kernel when it
//!   loads an image (clean and invalidate to the point of coherency), and a partition keeps
//!   its own data coherent with maintenance by address, which reaches only its own mappings;
//! - any other trapped access is the partition's fault (the health monitor's
//!   `illegal_instruction`).

use crate::arch::exit::SysRegAccess;

/// Whether `access` writes `ICC_SGI1R_EL1` or `ICC_ASGI1R_EL1` (op0 3, op1 0, CRn 12,
/// CRm 11, op2 5 or 6): a partition sending an SGI, trapped with HCR_EL2.IMO and emulated
/// by `trap` (group 1 only: `ICC_SGI0R_EL1`, group 0, is not for partitions and stays a
/// fault).
pub fn is_sgi_generation(access: &SysRegAccess) -> bool {
    !access.read
        && (access.op0, access.op1, access.crn, access.crm) == (3, 0, 12, 11)
        && matches!(access.op2, 5 | 6)
}

/// What a trapped access is, for policy and logs.
pub fn kind(access: &SysRegAccess) -> TrappedKind {
    let SysRegAccess {
        op0,
        op1,
        crn,
        crm,
        op2,
        ..
    } = *access;
    match (op0, op1, crn, crm, op2) {
        // Debug and trace: every op0 = 0b10 register (MDSCR_EL1, DBGB*/DBGW*, OS lock).
        (2, ..) => TrappedKind::Debug,
        // PMCR_EL0 .. PMOVSSET_EL0 (CRn 9, CRm 12..14), PMEVCNTRn/PMEVTYPERn/PMCCFILTR.
        (3, 3, 9, 12..=14, _) | (3, 3, 14, 8..=15, _) => TrappedKind::Pmu,
        // PMINTENSET_EL1, PMINTENCLR_EL1, PMMIR_EL1.
        (3, 0, 9, 14, 1 | 2 | 6) => TrappedKind::Pmu,
        // DC ISW, DC CSW, DC CISW.
        (1, 0, 7, 6 | 10 | 14, 2) => TrappedKind::CacheSetWay,
        _ => TrappedKind::Other,
    }
}

/// The trapped accesses the kernel tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrappedKind {
    Pmu,
    Debug,
    CacheSetWay,
    Other,
}

impl TrappedKind {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pmu => "PMU register",
            Self::Debug => "debug register",
            Self::CacheSetWay => "set/way cache maintenance",
            Self::Other => "system register",
        }
    }
}

/// What to do with a trapped access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulation {
    /// Step over it; if it was a read, the register `rt` (unless XZR) receives 0.
    ReadAsZeroWriteIgnored,
    /// Step over it with no effect.
    Skip,
    /// Not emulated: a fault of the partition.
    Fault,
}

/// The policy above, for one access.
pub fn emulate(access: &SysRegAccess) -> Emulation {
    match kind(access) {
        TrappedKind::Pmu | TrappedKind::Debug => Emulation::ReadAsZeroWriteIgnored,
        TrappedKind::CacheSetWay => Emulation::Skip,
        TrappedKind::Other => Emulation::Fault,
    }
}

/// Applies `emulation` to the trapped partition's registers (`x` = x0..x30, `elr` its pc).
/// Returns false if the access is a fault and nothing was changed.
pub fn apply(
    emulation: Emulation,
    access: &SysRegAccess,
    x: &mut [u64; 31],
    elr: &mut u64,
) -> bool {
    match emulation {
        Emulation::Fault => false,
        Emulation::ReadAsZeroWriteIgnored => {
            if access.read && access.rt < 31 {
                x[usize::from(access.rt)] = 0;
            }
            *elr += 4;
            true
        }
        Emulation::Skip => {
            *elr += 4;
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ISS of `mrs/msr` of (op0, op1, CRn, CRm, op2) with `rt`, as the hardware reports it.
    fn esr(op0: u64, op1: u64, crn: u64, crm: u64, op2: u64, rt: u64, read: bool) -> u64 {
        (0x18 << 26)
            | (1 << 25)
            | (op0 << 20)
            | (op2 << 17)
            | (op1 << 14)
            | (crn << 10)
            | (rt << 5)
            | (crm << 1)
            | u64::from(read)
    }

    #[test]
    fn sgi_generation_is_a_write_of_icc_sgi1r_or_asgi1r() {
        let access = |op2, read| SysRegAccess::from_esr(esr(3, 0, 12, 11, op2, 1, read));
        assert!(is_sgi_generation(&access(5, false)));
        assert!(is_sgi_generation(&access(6, false)));
        assert!(
            !is_sgi_generation(&access(7, false)),
            "ICC_SGI0R_EL1: group 0"
        );
        assert!(!is_sgi_generation(&access(5, true)));
    }

    #[test]
    fn classifies_the_registers_a_probe_would_use() {
        let kind = |op0, op1, crn, crm, op2| {
            kind(&SysRegAccess::from_esr(esr(
                op0, op1, crn, crm, op2, 0, true,
            )))
        };
        assert_eq!(kind(3, 3, 9, 12, 0), TrappedKind::Pmu); // PMCR_EL0
        assert_eq!(kind(3, 3, 9, 13, 0), TrappedKind::Pmu); // PMCCNTR_EL0
        assert_eq!(kind(3, 3, 9, 12, 1), TrappedKind::Pmu); // PMCNTENSET_EL0
        assert_eq!(kind(3, 3, 14, 15, 7), TrappedKind::Pmu); // PMCCFILTR_EL0
        assert_eq!(kind(3, 3, 14, 8, 0), TrappedKind::Pmu); // PMEVCNTR0_EL0
        assert_eq!(kind(3, 0, 9, 14, 1), TrappedKind::Pmu); // PMINTENSET_EL1
        assert_eq!(kind(2, 0, 0, 0, 4), TrappedKind::Debug); // DBGBVR0_EL1
        assert_eq!(kind(2, 0, 0, 0, 5), TrappedKind::Debug); // DBGBCR0_EL1
        assert_eq!(kind(2, 0, 0, 2, 2), TrappedKind::Debug); // MDSCR_EL1
        assert_eq!(kind(2, 0, 1, 0, 4), TrappedKind::Debug); // OSLAR_EL1
        assert_eq!(kind(1, 0, 7, 14, 2), TrappedKind::CacheSetWay); // DC CISW
        assert_eq!(kind(1, 0, 7, 6, 2), TrappedKind::CacheSetWay); // DC ISW
        assert_eq!(kind(1, 0, 7, 10, 2), TrappedKind::CacheSetWay); // DC CSW
        assert_eq!(kind(1, 0, 7, 14, 1), TrappedKind::Other); // DC CIVAC is by address, never trapped
        assert_eq!(kind(3, 0, 1, 0, 1), TrappedKind::Other); // ACTLR_EL1 (HCR_EL2.TACR)
        assert_eq!(kind(3, 1, 15, 2, 0), TrappedKind::Other); // implementation defined
    }

    #[test]
    fn reads_give_zero_writes_change_nothing_and_the_pc_steps() {
        let mut x = [0xAAu64; 31];
        let mut elr = 0x4000_1000;
        let read = SysRegAccess::from_esr(esr(3, 3, 9, 13, 0, 5, true));
        assert!(apply(emulate(&read), &read, &mut x, &mut elr));
        assert_eq!((x[5], x[4], x[6], elr), (0, 0xAA, 0xAA, 0x4000_1004));
        let write = SysRegAccess::from_esr(esr(2, 0, 0, 0, 4, 9, false));
        assert!(apply(emulate(&write), &write, &mut x, &mut elr));
        assert_eq!((x[9], elr), (0xAA, 0x4000_1008));
        // A read into XZR (register 31) writes nothing.
        let xzr = SysRegAccess::from_esr(esr(3, 3, 9, 13, 0, 31, true));
        assert!(apply(emulate(&xzr), &xzr, &mut x, &mut elr));
        assert!(x.iter().filter(|&&v| v == 0).count() == 1);
        let set_way = SysRegAccess::from_esr(esr(1, 0, 7, 14, 2, 3, false));
        assert_eq!(emulate(&set_way), Emulation::Skip);
        let other = SysRegAccess::from_esr(esr(3, 0, 1, 0, 1, 2, true));
        let before = (x, elr);
        assert!(!apply(emulate(&other), &other, &mut x, &mut elr));
        assert_eq!((x, elr), before);
    }

    #[test]
    fn every_syndrome_decodes_without_panicking() {
        let mut v = 0x1234_5678_9abc_def0u64;
        for _ in 0..100_000 {
            v ^= v << 13;
            v ^= v >> 7;
            v ^= v << 17;
            let access = SysRegAccess::from_esr(v);
            let mut x = [0; 31];
            let mut elr = 0;
            apply(emulate(&access), &access, &mut x, &mut elr);
        }
    }
}
