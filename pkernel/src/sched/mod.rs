//! Scheduling: which partitions a core runs ([`plan`]), the cyclic window walk
//! ([`window`]), and the per-core run loop ([`run`]).

pub mod run;
pub mod window;

use crate::config::{CoreSchedule, Partition, System};

/// What one core does, from the tables.
#[derive(Clone, Copy, Debug)]
pub enum CorePlan {
    /// Runs `partition`'s vCPU 0 all the time.
    Dedicated(&'static Partition),
    /// Shares itself between partitions through the windows of `schedule`.
    TimePartitioned(&'static CoreSchedule),
    /// Belongs to `partition` as a further vCPU, which the partition starts itself (PSCI
    /// `CPU_ON`, see `smp`).
    Reserved(&'static Partition),
    /// Belongs to no partition.
    Idle,
}

/// The plan of `core` under `system`.
pub fn plan(system: &'static System, core: usize) -> CorePlan {
    if let Some(schedule) = u8::try_from(core).ok().and_then(|c| system.schedule_of(c)) {
        return CorePlan::TimePartitioned(schedule);
    }
    let owns = |p: &&'static Partition| p.cores.iter().any(|&c| usize::from(c) == core);
    match system.partitions.iter().find(owns) {
        Some(p) if p.is_time_partitioned() => CorePlan::Idle,
        Some(p) if p.cores.first().map(|&c| usize::from(c)) == Some(core) => CorePlan::Dedicated(p),
        Some(p) => CorePlan::Reserved(p),
        None => CorePlan::Idle,
    }
}

/// Whether `partition` runs on `core` (so that core owns its vCPU 0 context).
pub fn runs_on(system: &'static System, partition: &Partition, core: usize) -> bool {
    match plan(system, core) {
        CorePlan::Dedicated(p) => p.id == partition.id,
        CorePlan::TimePartitioned(schedule) => {
            schedule.windows.iter().any(|w| w.partition == partition.id)
        }
        CorePlan::Reserved(_) | CorePlan::Idle => false,
    }
}
