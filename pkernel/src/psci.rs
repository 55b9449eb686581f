//! PSCI for partitions (Arm DEN 0022, version 1.0): the power calls a guest makes by `HVC` or
//! `SMC`, about its own vCPUs and its own "system", which is the partition. They never reach
//! the firmware and never touch another partition:
//!
//! - `PSCI_VERSION`: 1.0; `PSCI_FEATURES`: which of these functions exist;
//!   `MIGRATE_INFO_TYPE`: 2 (no trusted OS to migrate);
//! - `SYSTEM_OFF` stops the partition (it becomes IDLE, as after `PartitionStop`), and
//!   `SYSTEM_RESET` restarts it (a cold start of the partition alone);
//! - `SYSTEM_RESET2` (PSCI 1.1, offered through `PSCI_FEATURES`) is the partition saying its
//!   own operating system failed: a Linux partition's command line (`panic=-1
//!   reboot=panic_warm`, see `docs/linux-partition.md`) makes every kernel panic end in a
//!   warm `SYSTEM_RESET2`, and any other reset is a plain `SYSTEM_RESET`. It is an HM error
//!   of the partition (`application_error`), handled as its HM table says;
//! - `CPU_OFF` from vCPU 0 stops the partition as `SYSTEM_OFF` does; from a secondary vCPU,
//!   that vCPU alone goes off (see `smp`);
//! - `AFFINITY_INFO` and `CPU_ON` about its own vCPUs: vCPU 0 is on; the others are started
//!   by `CPU_ON` on their own cores (see `smp`), and an MPIDR that is not one of its vCPUs is
//!   `INVALID_PARAMETERS`;
//! - anything else in PSCI's range (`CPU_SUSPEND`, ...) is `NOT_SUPPORTED`.
//!
//! A partition's vCPU `n` has MPIDR affinity Aff0 = `n` (`VcpuContext::vmpidr`).

use crate::config::Partition;
use crate::smp::Secondaries;

/// PSCI function IDs (SMC32; the SMC64 forms add 0x4000_0000).
pub const VERSION: u32 = 0x8400_0000;
pub const CPU_SUSPEND: u32 = 0x8400_0001;
pub const CPU_OFF: u32 = 0x8400_0002;
pub const CPU_ON: u32 = 0x8400_0003;
pub const AFFINITY_INFO: u32 = 0x8400_0004;
pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
pub const SYSTEM_OFF: u32 = 0x8400_0008;
pub const SYSTEM_RESET: u32 = 0x8400_0009;
pub const FEATURES: u32 = 0x8400_000A;
pub const SYSTEM_RESET2: u32 = 0x8400_0012;

/// PSCI 1.0 (major in bits 31:16).
pub const VERSION_1_0: u64 = 1 << 16;

/// PSCI return codes.
pub const SUCCESS: i64 = 0;
pub const NOT_SUPPORTED: i64 = -1;
pub const INVALID_PARAMETERS: i64 = -2;
pub const DENIED: i64 = -3;
pub const ALREADY_ON: i64 = -4;
pub const ON_PENDING: i64 = -5;

/// AFFINITY_INFO answers.
pub const AFFINITY_ON: i64 = 0;
pub const AFFINITY_OFF: i64 = 1;
pub const AFFINITY_ON_PENDING: i64 = 2;

/// MIGRATE_INFO_TYPE: no trusted OS that would need migrating.
const NO_MIGRATION: i64 = 2;

/// Whether `id` (x0) is in PSCI's function range (SMC32 or SMC64 standard service calls
/// 0x00-0x1F).
pub fn is_psci(id: u64) -> bool {
    matches!(id, 0x8400_0000..=0x8400_001F | 0xC400_0000..=0xC400_001F)
}

/// What a PSCI call asks of the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// Answered at once: this value goes in x0.
    Answer(i64),
    /// The partition stops (SYSTEM_OFF, or CPU_OFF of its only vCPU).
    PowerOff,
    /// The partition restarts (SYSTEM_RESET).
    Reset,
    /// The partition's operating system failed (SYSTEM_RESET2): an HM error.
    Failed,
    /// Secondary vCPU `vcpu` is to start (CPU_ON accepted, `SUCCESS` in x0): its core is to
    /// be woken.
    Start { vcpu: usize },
    /// The calling secondary vCPU goes off (CPU_OFF).
    VcpuOff,
}

/// Decodes and answers PSCI call `id` (x0, which [`is_psci`]) with arguments `a` (x1..x3)
/// from `caller`'s vCPU `vcpu`, whose secondaries' power states are `secondaries`.
pub fn call(
    id: u64,
    a: [u64; 3],
    caller: &Partition,
    vcpu: usize,
    secondaries: &mut Secondaries,
) -> Call {
    // The SMC64 forms are the SMC32 ones with bit 30 set.
    let function = (id & !0x4000_0000) as u32;
    let vcpus = caller.cores.len() as u64;
    // Its vCPU with MPIDR `mpidr` (Aff0 only; the other affinity fields are 0).
    let own_vcpu = |mpidr: u64| {
        (mpidr & !0xff == 0 && (mpidr & 0xff) < vcpus).then_some((mpidr & 0xff) as usize)
    };
    Call::Answer(match function {
        VERSION => VERSION_1_0 as i64,
        FEATURES => match a[0] as u32 & !0x4000_0000 {
            VERSION | CPU_OFF | CPU_ON | AFFINITY_INFO | MIGRATE_INFO_TYPE | SYSTEM_OFF
            | SYSTEM_RESET | SYSTEM_RESET2 | FEATURES => SUCCESS,
            _ => NOT_SUPPORTED,
        },
        MIGRATE_INFO_TYPE => NO_MIGRATION,
        AFFINITY_INFO => match own_vcpu(a[0]) {
            Some(0) => AFFINITY_ON,
            Some(n) => secondaries.affinity_info(n),
            None => INVALID_PARAMETERS,
        },
        CPU_ON => match own_vcpu(a[0]) {
            Some(0) => ALREADY_ON,
            Some(n) => match secondaries.cpu_on(n, a[1], a[2]) {
                SUCCESS => return Call::Start { vcpu: n },
                answer => answer,
            },
            None => INVALID_PARAMETERS,
        },
        // vCPU 0 going off: the partition is off.
        CPU_OFF if vcpu == 0 => return Call::PowerOff,
        CPU_OFF => return Call::VcpuOff,
        SYSTEM_OFF => return Call::PowerOff,
        SYSTEM_RESET => return Call::Reset,
        SYSTEM_RESET2 => return Call::Failed,
        _ => NOT_SUPPORTED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_memory::tests::PARTITION;

    fn partition(cores: &'static [u8]) -> Partition {
        Partition { cores, ..PARTITION }
    }

    #[test]
    fn a_partition_sees_psci_1_0_about_its_own_vcpus() {
        let p = partition(&[2, 3]);
        let mut secondaries = Secondaries::new();
        let mut answer = |id: u64, a1: u64| call(id, [a1, 0x4000_1000, 9], &p, 0, &mut secondaries);
        assert_eq!(answer(0x8400_0000, 0), Call::Answer(1 << 16));
        assert_eq!(
            answer(0x8400_000A, 0xC400_0003),
            Call::Answer(SUCCESS),
            "CPU_ON (SMC64) exists"
        );
        assert_eq!(
            answer(0x8400_000A, 0x8400_0001),
            Call::Answer(NOT_SUPPORTED)
        );
        assert_eq!(answer(0xC400_0004, 0), Call::Answer(AFFINITY_ON));
        assert_eq!(answer(0xC400_0004, 1), Call::Answer(AFFINITY_OFF));
        assert_eq!(answer(0xC400_0004, 2), Call::Answer(INVALID_PARAMETERS));
        assert_eq!(
            answer(0xC400_0004, 0x100),
            Call::Answer(INVALID_PARAMETERS),
            "Aff1 is not one of its vCPUs"
        );
        assert_eq!(answer(0xC400_0003, 0), Call::Answer(ALREADY_ON));
        // vCPU 1 starts once; asked again it is pending.
        assert_eq!(answer(0xC400_0003, 1), Call::Start { vcpu: 1 });
        assert_eq!(answer(0xC400_0003, 1), Call::Answer(ON_PENDING));
        assert_eq!(answer(0xC400_0004, 1), Call::Answer(AFFINITY_ON_PENDING));
        assert_eq!(answer(0x8400_0003, 7), Call::Answer(INVALID_PARAMETERS));
        assert_eq!(answer(0x8400_0008, 0), Call::PowerOff);
        assert_eq!(answer(0x8400_0002, 0), Call::PowerOff, "CPU_OFF of vCPU 0");
        assert_eq!(answer(0x8400_0009, 0), Call::Reset);
        // SYSTEM_RESET2, offered, both forms: the partition's OS failed.
        assert_eq!(answer(0x8400_000A, 0xC400_0012), Call::Answer(SUCCESS));
        assert_eq!(answer(0xC400_0012, 0), Call::Failed);
        assert_eq!(answer(0x8400_0012, 0), Call::Failed);
        assert_eq!(answer(0x8400_0006, 0), Call::Answer(2));
        assert_eq!(answer(0xC400_0001, 0), Call::Answer(NOT_SUPPORTED));
        assert!(is_psci(0x8400_0000) && is_psci(0xC400_001F));
        assert!(!is_psci(0x8400_0020) && !is_psci(0xC600_0000) && !is_psci(0));
        // A secondary's CPU_OFF is its own.
        assert_eq!(
            call(0x8400_0002, [0; 3], &p, 1, &mut secondaries),
            Call::VcpuOff
        );
    }
}
