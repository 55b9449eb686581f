//! A partition's secondary vCPUs. A partition with several dedicated cores has one vCPU per
//! core: vCPU `n` runs on its `n`-th core and has MPIDR Aff0 = `n`. vCPU 0 is started with
//! the module; the others are started by the partition itself with PSCI `CPU_ON`, at the
//! entry and with the context ID it gives, as a guest OS brings up its CPUs on hardware. Until
//! then (and after its `CPU_OFF`) a secondary's core waits, idle.
//!
//! **vCPU 0 is the partition.** Its mode, its restarts and its stop are carried out on vCPU
//! 0's core, and the secondaries follow:
//! - whenever the partition stops or restarts, on any core and for any reason (PSCI,
//!   SET_PARTITION_MODE, the health monitor), every secondary is switched off: the
//!   partition's epoch advances and their cores are woken, drop their vCPU and wait for the
//!   next `CPU_ON` (a restarted guest starts them again);
//! - what a secondary does that concerns the whole partition (`SYSTEM_OFF`, `SYSTEM_RESET`,
//!   an HM action that stops or restarts the partition) is forwarded to vCPU 0's core as a
//!   [`Request`], which that core carries out at its next exit (it is woken for it); the
//!   secondary itself stops at once.
//!
//! **SGIs** between a partition's vCPUs: a write of `ICC_SGI1R_EL1` traps (HCR_EL2.IMO), and
//! the kernel makes the SGI pending for the targets it names among the partition's own vCPUs
//! (never anyone else's: other affinities name nobody), waking their cores; each delivers
//! its pending SGIs into its list registers as emulated interrupts (`vgic`).

use apex_api::partition::StartCondition;

use crate::config::MAX_CORES;
use crate::psci;

/// The power state of one secondary vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    Off,
    /// `CPU_ON` was accepted; its core has not started it yet.
    Starting {
        entry: u64,
        context: u64,
    },
    On,
}

/// The power states of a partition's vCPUs 1.. (index 0, vCPU 0, is unused: it is on
/// whenever the partition runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secondaries {
    power: [Power; MAX_CORES],
}

impl Default for Secondaries {
    fn default() -> Self {
        Self::new()
    }
}

impl Secondaries {
    pub const fn new() -> Self {
        Self {
            power: [Power::Off; MAX_CORES],
        }
    }

    /// PSCI `CPU_ON` of secondary `vcpu` at `entry` with `context` in its `x0`: the PSCI
    /// answer. `SUCCESS` means its core must be woken to start it.
    pub fn cpu_on(&mut self, vcpu: usize, entry: u64, context: u64) -> i64 {
        match self.power.get_mut(vcpu) {
            Some(p @ Power::Off) if vcpu > 0 => {
                *p = Power::Starting { entry, context };
                psci::SUCCESS
            }
            Some(Power::Starting { .. }) => psci::ON_PENDING,
            Some(Power::On) => psci::ALREADY_ON,
            _ => psci::INVALID_PARAMETERS,
        }
    }

    /// PSCI `AFFINITY_INFO` of secondary `vcpu`.
    pub fn affinity_info(&self, vcpu: usize) -> i64 {
        match self.power.get(vcpu) {
            Some(Power::On) => psci::AFFINITY_ON,
            Some(Power::Off) => psci::AFFINITY_OFF,
            Some(Power::Starting { .. }) => psci::AFFINITY_ON_PENDING,
            None => psci::INVALID_PARAMETERS,
        }
    }

    /// For `vcpu`'s core: the entry and context of a start that waits for it, now on.
    pub fn take_start(&mut self, vcpu: usize) -> Option<(u64, u64)> {
        let p = self.power.get_mut(vcpu)?;
        match *p {
            Power::Starting { entry, context } => {
                *p = Power::On;
                Some((entry, context))
            }
            _ => None,
        }
    }

    /// `vcpu` went off (its `CPU_OFF`, or it stopped).
    pub fn set_off(&mut self, vcpu: usize) {
        if let Some(p) = self.power.get_mut(vcpu) {
            *p = Power::Off;
        }
    }

    /// Every secondary off (the partition stops or restarts); whether any was not.
    pub fn all_off(&mut self) -> bool {
        let any = self.power.iter().any(|&p| p != Power::Off);
        self.power = [Power::Off; MAX_CORES];
        any
    }
}

/// What a secondary vCPU asks of vCPU 0's core, which runs the partition's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The partition stops (IDLE).
    Stop,
    /// The partition restarts.
    Restart {
        cold: bool,
        condition: StartCondition,
    },
}

/// The vCPUs an `ICC_SGI1R_EL1` write of `value` by vCPU `sender` of a partition with
/// `vcpus` vCPUs targets (one bit per vCPU), and the SGI's INTID. Only Aff0 = vCPU index with
/// every other affinity field 0 names a vCPU; IRM = 1 means every vCPU but the sender.
pub fn sgi_targets(value: u64, sender: usize, vcpus: usize) -> (u16, u32) {
    let intid = ((value >> 24) & 0xf) as u32;
    let all: u16 = if vcpus >= 16 {
        u16::MAX
    } else {
        (1u16 << vcpus) - 1
    };
    let irm = value >> 40 & 1 == 1;
    let targets = if irm {
        all & !(1u16.checked_shl(sender as u32).unwrap_or(0))
    } else {
        let (aff1, aff2, aff3) = (
            (value >> 16) & 0xff,
            (value >> 32) & 0xff,
            (value >> 48) & 0xff,
        );
        // RS (bits 47:44) selects Aff0 16..: none of a partition's vCPUs.
        let rs = (value >> 44) & 0xf;
        if aff1 | aff2 | aff3 | rs != 0 {
            0
        } else {
            (value & 0xffff) as u16 & all
        }
    };
    (targets, intid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secondary_is_started_once_and_reported_as_psci_says() {
        let mut s = Secondaries::new();
        assert_eq!(s.affinity_info(1), psci::AFFINITY_OFF);
        assert_eq!(
            s.cpu_on(0, 0, 0),
            psci::INVALID_PARAMETERS,
            "vCPU 0 is not here"
        );
        assert_eq!(s.cpu_on(1, 0x4000_1000, 7), psci::SUCCESS);
        assert_eq!(s.cpu_on(1, 0x4000_1000, 7), psci::ON_PENDING);
        assert_eq!(s.affinity_info(1), psci::AFFINITY_ON_PENDING);
        assert_eq!(s.take_start(2), None);
        assert_eq!(s.take_start(1), Some((0x4000_1000, 7)));
        assert_eq!(s.take_start(1), None, "taken once");
        assert_eq!(s.affinity_info(1), psci::AFFINITY_ON);
        assert_eq!(s.cpu_on(1, 0, 0), psci::ALREADY_ON);
        assert_eq!(s.cpu_on(MAX_CORES, 0, 0), psci::INVALID_PARAMETERS);
        s.set_off(1);
        assert_eq!(s.affinity_info(1), psci::AFFINITY_OFF);
        assert_eq!(s.cpu_on(1, 0x4000_2000, 8), psci::SUCCESS);
        assert!(s.all_off());
        assert!(!s.all_off());
        assert_eq!(s.take_start(1), None, "a start not taken is cancelled");
    }

    #[test]
    fn sgis_reach_only_the_partitions_own_vcpus() {
        // SGI 3 to Aff0 1 (cluster 0): vCPU 1.
        assert_eq!(sgi_targets((3 << 24) | 0b10, 0, 2), (0b10, 3));
        // Target list bits beyond its vCPUs name nobody.
        assert_eq!(sgi_targets(0xfffe, 0, 2), (0b10, 0));
        // Another cluster (Aff1 = 1), Aff2, Aff3 or a range selector: nobody.
        assert_eq!(sgi_targets((1 << 16) | 0b11, 0, 2), (0, 0));
        assert_eq!(sgi_targets((1 << 32) | 0b11, 0, 2), (0, 0));
        assert_eq!(sgi_targets((1 << 48) | 0b11, 0, 2), (0, 0));
        assert_eq!(sgi_targets((1 << 44) | 0b11, 0, 2), (0, 0));
        // IRM: everyone of its own but the sender.
        assert_eq!(sgi_targets((1 << 40) | (5 << 24), 1, 4), (0b1101, 5));
        // Itself, explicitly.
        assert_eq!(sgi_targets(0b1, 0, 2), (0b1, 0));
    }
}
