//! ARINC 653 partition management: operating modes, start conditions and the status a
//! partition reads about itself (GET_PARTITION_STATUS, SET_PARTITION_MODE). Codes are the
//! ARINC 653 Part 1 values, shared by the kernel and every partition.

/// A partition's operating mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OperatingMode {
    /// Shut down: the partition does not run; its windows stay idle.
    Idle = 0,
    /// Initialising after a cold start (image loaded afresh).
    ColdStart = 1,
    /// Initialising after a warm start (memory kept as it was).
    WarmStart = 2,
    /// Running normally.
    Normal = 3,
}

impl OperatingMode {
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Idle,
            1 => Self::ColdStart,
            2 => Self::WarmStart,
            3 => Self::Normal,
            _ => return None,
        })
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Idle => "IDLE",
            Self::ColdStart => "COLD_START",
            Self::WarmStart => "WARM_START",
            Self::Normal => "NORMAL",
        }
    }
}

/// Why the partition (re)started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StartCondition {
    /// The module started.
    NormalStart = 0,
    /// The partition asked for its own restart (SET_PARTITION_MODE).
    PartitionRestart = 1,
    /// The health monitor restarted the module.
    HmModuleRestart = 2,
    /// The health monitor restarted the partition.
    HmPartitionRestart = 3,
}

impl StartCondition {
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::NormalStart,
            1 => Self::PartitionRestart,
            2 => Self::HmModuleRestart,
            3 => Self::HmPartitionRestart,
            _ => return None,
        })
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::NormalStart => "NORMAL_START",
            Self::PartitionRestart => "PARTITION_RESTART",
            Self::HmModuleRestart => "HM_MODULE_RESTART",
            Self::HmPartitionRestart => "HM_PARTITION_RESTART",
        }
    }
}

/// ARINC 653's "infinite time": the period of a partition that owns its cores.
pub const INFINITE_TIME: u64 = u64::MAX;

/// What GET_PARTITION_STATUS returns, in registers `x1..=x6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionStatus {
    /// The partition's index in the configuration.
    pub identifier: u64,
    /// Period in nanoseconds, [`INFINITE_TIME`] on dedicated cores.
    pub period_ns: u64,
    /// Duration (time budget per period) in nanoseconds, [`INFINITE_TIME`] on dedicated cores.
    pub duration_ns: u64,
    /// Preemption lock level: always 0 at the kernel (processes are the partition OS's).
    pub lock_level: u64,
    pub operating_mode: OperatingMode,
    pub start_condition: StartCondition,
}

impl PartitionStatus {
    /// The result registers `x1..=x6`.
    pub fn to_registers(&self) -> [u64; 6] {
        [
            self.identifier,
            self.period_ns,
            self.duration_ns,
            self.lock_level,
            self.operating_mode as u64,
            self.start_condition as u64,
        ]
    }

    /// Decodes `x1..=x6`; `None` if a mode or condition code is unknown.
    pub fn from_registers(r: [u64; 6]) -> Option<Self> {
        Some(Self {
            identifier: r[0],
            period_ns: r[1],
            duration_ns: r[2],
            lock_level: r[3],
            operating_mode: OperatingMode::from_code(r[4])?,
            start_condition: StartCondition::from_code(r[5])?,
        })
    }
}

/// What a SET_PARTITION_MODE request does to a partition in `current` mode (ARINC 653
/// Part 1, SET_PARTITION_MODE), or the return code refusing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeTransition {
    /// Initialisation is over: the partition continues in NORMAL mode.
    ToNormal,
    /// The partition shuts down for good (IDLE).
    ToIdle,
    /// The partition restarts from its entry point, its image reloaded (cold) or not (warm).
    Restart { cold: bool },
}

/// Decides a SET_PARTITION_MODE request.
pub fn decide_transition(
    current: OperatingMode,
    requested: u64,
) -> Result<ModeTransition, crate::ReturnCode> {
    use crate::ReturnCode;
    let requested = OperatingMode::from_code(requested).ok_or(ReturnCode::InvalidParam)?;
    match (current, requested) {
        (OperatingMode::Normal, OperatingMode::Normal) => Err(ReturnCode::NoAction),
        // A warm start from cold-start initialisation would keep half-initialised memory.
        (OperatingMode::ColdStart, OperatingMode::WarmStart) => Err(ReturnCode::InvalidMode),
        (_, OperatingMode::Normal) => Ok(ModeTransition::ToNormal),
        (_, OperatingMode::Idle) => Ok(ModeTransition::ToIdle),
        (_, OperatingMode::ColdStart) => Ok(ModeTransition::Restart { cold: true }),
        (_, OperatingMode::WarmStart) => Ok(ModeTransition::Restart { cold: false }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReturnCode;

    #[test]
    fn transitions_follow_arinc_653() {
        use ModeTransition::*;
        use OperatingMode::*;
        assert_eq!(decide_transition(ColdStart, 3), Ok(ToNormal));
        assert_eq!(decide_transition(WarmStart, 3), Ok(ToNormal));
        assert_eq!(decide_transition(Normal, 3), Err(ReturnCode::NoAction));
        assert_eq!(decide_transition(Normal, 0), Ok(ToIdle));
        assert_eq!(decide_transition(Normal, 1), Ok(Restart { cold: true }));
        assert_eq!(decide_transition(Normal, 2), Ok(Restart { cold: false }));
        assert_eq!(decide_transition(WarmStart, 2), Ok(Restart { cold: false }));
        assert_eq!(
            decide_transition(ColdStart, 2),
            Err(ReturnCode::InvalidMode)
        );
        assert_eq!(decide_transition(ColdStart, 1), Ok(Restart { cold: true }));
        for bad in [4, 99, u64::MAX] {
            assert_eq!(
                decide_transition(Normal, bad),
                Err(ReturnCode::InvalidParam)
            );
        }
    }

    #[test]
    fn status_round_trips_through_registers() {
        let s = PartitionStatus {
            identifier: 2,
            period_ns: 20_000_000,
            duration_ns: 5_000_000,
            lock_level: 0,
            operating_mode: OperatingMode::WarmStart,
            start_condition: StartCondition::PartitionRestart,
        };
        assert_eq!(PartitionStatus::from_registers(s.to_registers()), Some(s));
        assert_eq!(PartitionStatus::from_registers([0, 0, 0, 0, 9, 0]), None);
    }
}
