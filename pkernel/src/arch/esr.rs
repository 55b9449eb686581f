//! Decoding of ESR_EL2, the syndrome of an exception taken to EL2, for dispatch and for logs.
//!
//! Traps are dispatched by exception class, as the architecture lays them out
//! (Arm ARM D23.2.41 "ESR_EL2").

use core::fmt;

/// The exception classes the kernel tells apart; everything else is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionClass {
    Unknown,
    WfiWfe,
    FpAccess,
    IllegalState,
    Svc64,
    Hvc64,
    Smc64,
    SysReg,
    InstructionAbortLower,
    InstructionAbortSame,
    PcAlignment,
    DataAbortLower,
    DataAbortSame,
    SpAlignment,
    SError,
    Brk,
    Other(u8),
}

impl ExceptionClass {
    pub fn from_esr(esr: u64) -> Self {
        match ((esr >> 26) & 0x3f) as u8 {
            0x00 => Self::Unknown,
            0x01 => Self::WfiWfe,
            0x07 => Self::FpAccess,
            0x0e => Self::IllegalState,
            0x15 => Self::Svc64,
            0x16 => Self::Hvc64,
            0x17 => Self::Smc64,
            0x18 => Self::SysReg,
            0x20 => Self::InstructionAbortLower,
            0x21 => Self::InstructionAbortSame,
            0x22 => Self::PcAlignment,
            0x24 => Self::DataAbortLower,
            0x25 => Self::DataAbortSame,
            0x26 => Self::SpAlignment,
            0x2f => Self::SError,
            0x3c => Self::Brk,
            other => Self::Other(other),
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Unknown => "unknown reason (undefined instruction)",
            Self::WfiWfe => "WFI/WFE",
            Self::FpAccess => "FP/SIMD access",
            Self::IllegalState => "illegal execution state",
            Self::Svc64 => "SVC",
            Self::Hvc64 => "HVC",
            Self::Smc64 => "SMC",
            Self::SysReg => "trapped system register access",
            Self::InstructionAbortLower => "instruction abort from a lower EL",
            Self::InstructionAbortSame => "instruction abort at EL2",
            Self::PcAlignment => "PC alignment fault",
            Self::DataAbortLower => "data abort from a lower EL",
            Self::DataAbortSame => "data abort at EL2",
            Self::SpAlignment => "SP alignment fault",
            Self::SError => "SError",
            Self::Brk => "BRK instruction",
            Self::Other(_) => "other exception class",
        }
    }
}

/// The fields of a data or instruction abort syndrome worth logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortSyndrome {
    /// ISV: the access size and register below are valid.
    pub valid_syndrome: bool,
    /// Access size in bytes (when `valid_syndrome`).
    pub access_size: u8,
    /// Register transferred (when `valid_syndrome`).
    pub register: u8,
    /// WnR: the access was a write.
    pub write: bool,
    /// SSE: a load sign-extends the value (when `valid_syndrome`).
    pub sign_extend: bool,
    /// SF: the register is 64-bit (`X`), not 32-bit (`W`) (when `valid_syndrome`).
    pub register_64: bool,
    /// S1PTW: the fault happened on the stage-1 table walk.
    pub on_stage1_walk: bool,
    /// DFSC/IFSC.
    pub status: u8,
}

impl AbortSyndrome {
    pub fn from_esr(esr: u64) -> Self {
        let iss = esr & 0x01ff_ffff;
        Self {
            valid_syndrome: iss & (1 << 24) != 0,
            access_size: 1 << ((iss >> 22) & 3),
            register: ((iss >> 16) & 0x1f) as u8,
            write: iss & (1 << 6) != 0,
            sign_extend: iss & (1 << 21) != 0,
            register_64: iss & (1 << 15) != 0,
            on_stage1_walk: iss & (1 << 7) != 0,
            status: (iss & 0x3f) as u8,
        }
    }

    pub fn status_description(&self) -> &'static str {
        match self.status {
            0x00..=0x03 => "address size fault",
            0x04..=0x07 => "translation fault",
            0x08..=0x0b => "access flag fault",
            0x0c..=0x0f => "permission fault",
            0x10 => "synchronous external abort",
            0x21 => "alignment fault",
            0x30 => "TLB conflict abort",
            _ => "other fault",
        }
    }

    /// Translation table level of the fault, for the fault kinds that have one.
    pub fn level(&self) -> Option<u8> {
        (self.status < 0x10).then_some(self.status & 3)
    }
}

/// Displays an ESR value as `0x92000046 (data abort from a lower EL: write, translation fault level 2, 4-byte access)`.
pub struct Decoded(pub u64);

impl fmt::Display for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let esr = self.0;
        let class = ExceptionClass::from_esr(esr);
        write!(f, "{esr:#010x} ({}", class.description())?;
        match class {
            ExceptionClass::DataAbortLower
            | ExceptionClass::DataAbortSame
            | ExceptionClass::InstructionAbortLower
            | ExceptionClass::InstructionAbortSame => {
                let abort = AbortSyndrome::from_esr(esr);
                let is_data = matches!(
                    class,
                    ExceptionClass::DataAbortLower | ExceptionClass::DataAbortSame
                );
                if is_data {
                    write!(f, ": {}", if abort.write { "write" } else { "read" })?;
                } else {
                    write!(f, ": fetch")?;
                }
                write!(f, ", {}", abort.status_description())?;
                if let Some(level) = abort.level() {
                    write!(f, " level {level}")?;
                }
                if abort.on_stage1_walk {
                    write!(f, ", on stage-1 table walk")?;
                }
                if is_data && abort.valid_syndrome {
                    write!(
                        f,
                        ", {}-byte access via x{}",
                        abort.access_size, abort.register
                    )?;
                }
            }
            ExceptionClass::Other(ec) => write!(f, " {ec:#04x}")?,
            _ => write!(f, ", ISS {:#x}", esr & 0x01ff_ffff)?,
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_stage2_write_fault() {
        // EC 0x24, IL, ISV, SAS=2 (4 bytes), SRT=1, WnR, DFSC=0x06 (translation fault L2).
        let esr = (0x24 << 26) | (1 << 25) | (1 << 24) | (2 << 22) | (1 << 16) | (1 << 6) | 0x06;
        assert_eq!(
            ExceptionClass::from_esr(esr),
            ExceptionClass::DataAbortLower
        );
        let text = format!("{}", Decoded(esr));
        assert_eq!(
            text,
            "0x93810046 (data abort from a lower EL: write, translation fault level 2, 4-byte access via x1)"
        );
    }

    #[test]
    fn decodes_permission_read_and_others() {
        let esr = (0x24 << 26) | 0x0f;
        assert_eq!(
            format!("{}", Decoded(esr)),
            "0x9000000f (data abort from a lower EL: read, permission fault level 3)"
        );
        assert_eq!(ExceptionClass::from_esr(0x16 << 26), ExceptionClass::Hvc64);
        assert_eq!(
            format!("{}", Decoded(0)),
            "0x00000000 (unknown reason (undefined instruction), ISS 0x0)"
        );
        assert_eq!(
            ExceptionClass::from_esr(0x3f << 26),
            ExceptionClass::Other(0x3f)
        );
    }
}
