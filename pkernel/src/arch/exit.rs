//! Why a partition stopped running: the exception that brought its core back to the
//! kernel, decoded from the syndrome registers into an [`Exit`] the run loop dispatches on
//! (by exception class, as the architecture lays them out: Arm ARM D23.2.41, ESR_EL2).
//!
//! Pure decoding, host-tested; `vcpu::run` reads the registers and calls [`Exit::decode`].

use super::esr::{AbortSyndrome, ExceptionClass};

/// Which vector the exit came through (set by the exit assembly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Vector {
    Sync = 0,
    Irq = 1,
    SError = 2,
}

impl Vector {
    pub fn from_raw(raw: u64) -> Self {
        match raw {
            0 => Self::Sync,
            1 => Self::Irq,
            _ => Self::SError,
        }
    }
}

/// The syndrome registers at the exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syndrome {
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
}

/// A partition's exit, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `HVC` (`smc: false`) or a trapped `SMC`: a hypercall. ELR already points past an HVC;
    /// a trapped SMC leaves ELR on itself, which the run loop steps over.
    Hypercall { smc: bool },
    /// A trapped MRS/MSR/SYS instruction.
    SysReg { access: SysRegAccess, esr: u64 },
    /// A stage-2 data or instruction abort.
    Abort(Abort),
    /// A physical interrupt arrived (the partition's window may be over).
    Interrupt,
    /// Anything else that is the partition's fault: an SError, an illegal state, ...
    Fault { class: ExceptionClass, esr: u64 },
}

/// A stage-2 abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Abort {
    pub esr: u64,
    /// The faulting guest-physical address (HPFAR_EL2 page, FAR_EL2 offset).
    pub ipa: u64,
    /// The faulting virtual address (FAR_EL2).
    pub va: u64,
    pub access: AbortAccess,
}

/// What the aborted access was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortAccess {
    Read,
    Write,
    Execute,
}

impl AbortAccess {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Execute => "execute",
        }
    }
}

impl Exit {
    /// Decodes an exit through `vector` with the syndrome registers read right after it.
    pub fn decode(vector: Vector, syndrome: Syndrome) -> Self {
        let esr = syndrome.esr;
        match vector {
            Vector::Irq => return Self::Interrupt,
            Vector::SError => {
                return Self::Fault {
                    class: ExceptionClass::SError,
                    esr,
                };
            }
            Vector::Sync => {}
        }
        let class = ExceptionClass::from_esr(esr);
        match class {
            ExceptionClass::Hvc64 => Self::Hypercall { smc: false },
            ExceptionClass::Smc64 => Self::Hypercall { smc: true },
            ExceptionClass::SysReg => Self::SysReg {
                access: SysRegAccess::from_esr(esr),
                esr,
            },
            ExceptionClass::DataAbortLower | ExceptionClass::InstructionAbortLower => {
                let abort = AbortSyndrome::from_esr(esr);
                let access = match class {
                    ExceptionClass::InstructionAbortLower => AbortAccess::Execute,
                    _ if abort.write => AbortAccess::Write,
                    _ => AbortAccess::Read,
                };
                Self::Abort(Abort {
                    esr,
                    ipa: ((syndrome.hpfar >> 4) << 12) | (syndrome.far & 0xfff),
                    va: syndrome.far,
                    access,
                })
            }
            _ => Self::Fault { class, esr },
        }
    }
}

/// A trapped MRS/MSR/SYS instruction, decoded from ESR_EL2's ISS (exception class 0x18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysRegAccess {
    pub op0: u8,
    pub op1: u8,
    pub crn: u8,
    pub crm: u8,
    pub op2: u8,
    /// The general register transferred (31 is XZR).
    pub rt: u8,
    /// MRS (a read into `rt`); otherwise MSR or SYS.
    pub read: bool,
}

impl SysRegAccess {
    /// Decodes the ISS of an EC 0x18 syndrome (Arm ARM D23.2.41, "ISS encoding for an
    /// exception from MSR, MRS, or System instruction execution in AArch64 state").
    pub fn from_esr(esr: u64) -> Self {
        let iss = esr & 0x01ff_ffff;
        let field = |shift: u32, bits: u32| ((iss >> shift) & ((1 << bits) - 1)) as u8;
        Self {
            op0: field(20, 2),
            op2: field(17, 3),
            op1: field(14, 3),
            crn: field(10, 4),
            rt: field(5, 5),
            crm: field(1, 4),
            read: iss & 1 == 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Syndrome = Syndrome {
        esr: 0,
        far: 0,
        hpfar: 0,
    };

    fn sync(esr: u64) -> Exit {
        Exit::decode(Vector::Sync, Syndrome { esr, ..NONE })
    }

    #[test]
    fn decodes_by_exception_class() {
        assert_eq!(sync(0x16 << 26), Exit::Hypercall { smc: false });
        assert_eq!(sync(0x17 << 26), Exit::Hypercall { smc: true });
        assert!(matches!(sync(0x18 << 26), Exit::SysReg { .. }));
        assert_eq!(
            sync(0),
            Exit::Fault {
                class: ExceptionClass::Unknown,
                esr: 0
            }
        );
        assert_eq!(
            Exit::decode(
                Vector::Irq,
                Syndrome {
                    esr: 0x16 << 26,
                    ..NONE
                }
            ),
            Exit::Interrupt
        );
        assert!(matches!(
            Exit::decode(Vector::SError, NONE),
            Exit::Fault {
                class: ExceptionClass::SError,
                ..
            }
        ));
    }

    #[test]
    fn an_abort_carries_the_ipa_from_hpfar_and_far() {
        let esr = (0x24 << 26) | (1 << 6) | 0x06;
        let exit = Exit::decode(
            Vector::Sync,
            Syndrome {
                esr,
                far: 0x48_0123,
                hpfar: (0x4800_0000 >> 12) << 4,
            },
        );
        assert_eq!(
            exit,
            Exit::Abort(Abort {
                esr,
                ipa: 0x4800_0123,
                va: 0x48_0123,
                access: AbortAccess::Write
            })
        );
        let fetch = Exit::decode(
            Vector::Sync,
            Syndrome {
                esr: 0x20 << 26,
                ..NONE
            },
        );
        assert!(matches!(fetch, Exit::Abort(a) if a.access == AbortAccess::Execute));
    }

    #[test]
    fn decodes_a_sysreg_access() {
        // mrs x7, pmccntr_el0 = S3_3_C9_C13_0
        let esr = (0x18 << 26) | (3 << 20) | (3 << 14) | (9 << 10) | (7 << 5) | (13 << 1) | 1;
        assert_eq!(
            SysRegAccess::from_esr(esr),
            SysRegAccess {
                op0: 3,
                op1: 3,
                crn: 9,
                crm: 13,
                op2: 0,
                rt: 7,
                read: true
            }
        );
    }
}
