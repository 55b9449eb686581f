//! Hypercall numbers, return codes and the register convention (see docs/hypercall-abi.md).
//!
//! Convention (SMCCC 1.2, HVC #0): `x0` carries the function ID, `x1` and `x2` the arguments.
//! On return `x0` is a [`ReturnCode`] (or SMCCC `NOT_SUPPORTED` = -1 for an unknown function
//! ID, as the SMC Calling Convention requires); after a successful call `x1` and `x2` hold the
//! results (0 where a call has none), and `x1..=x6` for [`Hypercall::GetPartitionStatus`].
//! All other registers are preserved. pkernel's calls live
//! in the SMCCC "vendor specific hypervisor service" range, fast calls, SMC64: `0xC600_0000 | n`.

/// Owner 6 (vendor hypervisor), fast call, 64-bit convention.
pub const FUNCTION_BASE: u64 = 0xC600_0000;

/// SMCCC's answer to a function ID nobody implements (returned in `x0` as -1).
pub const SMCCC_NOT_SUPPORTED: i64 = -1;

/// Largest number of bytes one [`Hypercall::ConsoleWrite`] accepts.
pub const CONSOLE_WRITE_MAX: usize = 256;

/// Longest message [`Hypercall::RaiseApplicationError`] takes (ARINC 653
/// `MAX_ERROR_MESSAGE_SIZE`).
pub const APPLICATION_ERROR_MESSAGE_MAX: usize = 128;

/// [`Hypercall::Wait`] deadline meaning "no deadline": only a doorbell ends the wait.
pub const NO_DEADLINE: u64 = u64::MAX;

/// Most ports one partition may have: the bits of a [`Hypercall::Wait`] doorbell mask.
pub const MAX_PORTS_PER_PARTITION: usize = 32;

/// The hypercalls, by function ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Hypercall {
    /// Does nothing; returns `NoError`. The baseline for measuring hypercall cost.
    Null = FUNCTION_BASE,
    /// Write bytes to the partition's console. `x1` = address (IPA) of the bytes,
    /// `x2` = length, at most [`CONSOLE_WRITE_MAX`]. The kernel prints complete lines
    /// prefixed with the partition's name. Returns the number of bytes taken in `x1`.
    ConsoleWrite = FUNCTION_BASE + 1,
    /// Identity of the caller: `x1` = partition index, `x2` = core index it runs on.
    PartitionInfo = FUNCTION_BASE + 2,
    /// Stop the calling partition for good (what a bare-metal `main` returning does).
    /// `x1` = exit status, logged. Does not return.
    PartitionStop = FUNCTION_BASE + 3,
    /// GET_PARTITION_STATUS: `x1..=x6` = the caller's
    /// [`PartitionStatus`](crate::partition::PartitionStatus) (identifier, period and duration
    /// in ns, lock level, operating mode, start condition).
    GetPartitionStatus = FUNCTION_BASE + 4,
    /// SET_PARTITION_MODE: `x1` = the [`OperatingMode`](crate::partition::OperatingMode)
    /// code. NORMAL ends initialisation; IDLE shuts the partition down for good; COLD_START
    /// and WARM_START restart it (they do not return: the partition starts again at its
    /// entry point). `NO_ACTION` for NORMAL when already NORMAL, `INVALID_MODE` for WARM_START
    /// during cold-start initialisation, `INVALID_PARAM` for an unknown mode.
    SetPartitionMode = FUNCTION_BASE + 5,
    /// Blocks the caller until one of its ports' doorbells rings or the system counter
    /// reaches a deadline, whichever comes first: the kernel side of TIMED_WAIT,
    /// PERIODIC_WAIT and blocking port calls. `x1` = the deadline (an absolute system
    /// counter value; [`NO_DEADLINE`] for none), `x2` = the doorbells that end the wait, one
    /// bit per port of the caller (bit `i` = its `i`-th port, as in its information page).
    /// Returns `NO_ERROR` with `x1` = the doorbells in `x2` that had rung (they are
    /// cleared; others stay pending), or `TIMED_OUT` (`x1` = 0) once the deadline passed.
    /// A doorbell that rang before the call ends it at once. `INVALID_PARAM` for a bit
    /// beyond the caller's ports; `INVALID_MODE` outside NORMAL mode (initialisation does
    /// not block, as in ARINC 653). On a time-partitioned core the caller's windows stay
    /// its own while it waits (idle); a wait that outlasts a window goes on in the next one.
    Wait = FUNCTION_BASE + 6,
    /// Rings the doorbell of the peer at the other end of one of the caller's queuing
    /// ports: the destination for a source, the source for a destination. `x1` = the
    /// caller's port index. A peer blocked in [`Hypercall::Wait`] on that port wakes (at
    /// once if it is waiting on its core, else when its window comes); otherwise the
    /// doorbell stays pending. `INVALID_PARAM` for a port the caller does not have,
    /// `INVALID_CONFIG` for a sampling port (sampling ports never block).
    Doorbell = FUNCTION_BASE + 7,
    /// RAISE_APPLICATION_ERROR: reports an application error to the health monitor, which
    /// applies the action the partition's HM table names for `application_error` (default:
    /// IDLE). `x1` = IPA of a message, `x2` = its length (at most
    /// [`APPLICATION_ERROR_MESSAGE_MAX`]; 0 for none), logged with the error. Returns
    /// `NO_ERROR` when the action lets the partition continue (`ignore`); otherwise does not
    /// return (the partition stops or restarts). `INVALID_PARAM` for a message outside the
    /// caller's memory or too long (nothing is raised then).
    RaiseApplicationError = FUNCTION_BASE + 8,
    /// System partitions only: power the whole module off. `x1` = status, logged.
    /// Other partitions get `InvalidMode`.
    ModuleShutdown = FUNCTION_BASE + 0x10,
}

impl TryFrom<u64> for Hypercall {
    type Error = u64;

    /// Decodes a function ID; the unknown ID comes back as the error.
    fn try_from(id: u64) -> Result<Self, u64> {
        Ok(match id {
            x if x == Self::Null as u64 => Self::Null,
            x if x == Self::ConsoleWrite as u64 => Self::ConsoleWrite,
            x if x == Self::PartitionInfo as u64 => Self::PartitionInfo,
            x if x == Self::PartitionStop as u64 => Self::PartitionStop,
            x if x == Self::GetPartitionStatus as u64 => Self::GetPartitionStatus,
            x if x == Self::SetPartitionMode as u64 => Self::SetPartitionMode,
            x if x == Self::Wait as u64 => Self::Wait,
            x if x == Self::Doorbell as u64 => Self::Doorbell,
            x if x == Self::RaiseApplicationError as u64 => Self::RaiseApplicationError,
            x if x == Self::ModuleShutdown as u64 => Self::ModuleShutdown,
            other => return Err(other),
        })
    }
}

/// ARINC 653 Part 1 return codes, with their standard values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ReturnCode {
    NoError = 0,
    /// The request had nothing to do.
    NoAction = 1,
    /// The service or resource is not available now.
    NotAvailable = 2,
    /// An argument is invalid: an address outside the caller's memory, a length too large.
    InvalidParam = 3,
    /// The request conflicts with the configuration.
    InvalidConfig = 4,
    /// The caller's mode or privileges do not allow the request.
    InvalidMode = 5,
    TimedOut = 6,
}

impl ReturnCode {
    /// Decodes `x0` after a hypercall. `Err` carries a value outside the ARINC set, such as
    /// SMCCC `NOT_SUPPORTED` (-1) for an unknown function ID.
    pub fn from_raw(raw: u64) -> Result<Self, i64> {
        Ok(match raw {
            0 => Self::NoError,
            1 => Self::NoAction,
            2 => Self::NotAvailable,
            3 => Self::InvalidParam,
            4 => Self::InvalidConfig,
            5 => Self::InvalidMode,
            6 => Self::TimedOut,
            other => return Err(other as i64),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::NoError => "NO_ERROR",
            Self::NoAction => "NO_ACTION",
            Self::NotAvailable => "NOT_AVAILABLE",
            Self::InvalidParam => "INVALID_PARAM",
            Self::InvalidConfig => "INVALID_CONFIG",
            Self::InvalidMode => "INVALID_MODE",
            Self::TimedOut => "TIMED_OUT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hypercall_round_trips() {
        for call in [
            Hypercall::Null,
            Hypercall::ConsoleWrite,
            Hypercall::PartitionInfo,
            Hypercall::PartitionStop,
            Hypercall::GetPartitionStatus,
            Hypercall::SetPartitionMode,
            Hypercall::Wait,
            Hypercall::Doorbell,
            Hypercall::RaiseApplicationError,
            Hypercall::ModuleShutdown,
        ] {
            assert_eq!(Hypercall::try_from(call as u64), Ok(call));
            assert_eq!(
                call as u64 & 0xFFFF_0000,
                FUNCTION_BASE,
                "{call:?} left the vendor range"
            );
        }
        assert_eq!(Hypercall::try_from(0xC600_0FFF), Err(0xC600_0FFF));
        assert_eq!(Hypercall::try_from(0), Err(0));
    }

    #[test]
    fn return_codes_have_arinc_values() {
        for raw in 0..=6 {
            assert_eq!(ReturnCode::from_raw(raw).unwrap() as u64, raw);
        }
        assert_eq!(ReturnCode::from_raw(u64::MAX), Err(SMCCC_NOT_SUPPORTED));
    }
}
