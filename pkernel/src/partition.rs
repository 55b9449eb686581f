//! Each partition's runtime state, in one place: what any core may touch ([`PartitionState`]:
//! console queue, log counters, the vCPU context waiting to be claimed) and what only the
//! core that runs it keeps ([`Resident`]: its context, operating mode and start condition);
//! and the kernel operations on a partition: changing its mode, restarting it.

use core::sync::atomic::{AtomicU8, AtomicU32};

use apex_api::partition::{OperatingMode, StartCondition};
use apex_api::trace::TraceKind;

use crate::arch::context::VcpuContext;
use crate::config::{MAX_PARTITIONS, Partition};
use crate::console::PartitionConsole;
use crate::klog;
use crate::machine::Machine;
use crate::sync::{SpinLock, TakeOnce};
use crate::trace::TraceEvent;

/// What the kernel keeps about one partition while the module runs.
pub struct PartitionState {
    /// Its console lines waiting for the UART.
    pub console: SpinLock<PartitionConsole>,
    /// Hypercalls refused so far (only the first few are logged).
    pub refusals: AtomicU32,
    /// Kinds of trapped access already logged (bit = `TrappedKind as u8`).
    pub traps_logged: AtomicU8,
    /// Its vCPU 0, owned by the core that runs it.
    vcpu: TakeOnce<VcpuContext>,
}

impl PartitionState {
    const fn new() -> Self {
        Self {
            console: SpinLock::new(PartitionConsole::new()),
            refusals: AtomicU32::new(0),
            traps_logged: AtomicU8::new(0),
            vcpu: TakeOnce::new(VcpuContext::ZERO),
        }
    }

    /// The partition's vCPU 0 context, for the core that runs it (`None` once taken).
    #[allow(clippy::mut_from_ref)] // handed out once, by `TakeOnce`
    pub fn take_vcpu(&'static self) -> Option<&'static mut VcpuContext> {
        self.vcpu.take()
    }
}

static PARTITIONS: [PartitionState; MAX_PARTITIONS] =
    [const { PartitionState::new() }; MAX_PARTITIONS];

/// The runtime state of partition `id` (`None` beyond `MAX_PARTITIONS`).
pub fn state(id: usize) -> Option<&'static PartitionState> {
    PARTITIONS.get(id)
}

/// A partition on the core that runs it: its configuration, its vCPU and its mode.
pub struct Resident<'a> {
    pub partition: &'static Partition,
    pub vcpu: &'a mut VcpuContext,
    pub mode: OperatingMode,
    pub start_condition: StartCondition,
}

impl<'a> Resident<'a> {
    /// A partition at module start: cold-start initialisation, normal start.
    pub fn new(partition: &'static Partition, vcpu: &'a mut VcpuContext) -> Self {
        Self {
            partition,
            vcpu,
            mode: OperatingMode::ColdStart,
            start_condition: StartCondition::NormalStart,
        }
    }

    /// Whether it still runs (not IDLE).
    pub fn is_running(&self) -> bool {
        self.mode != OperatingMode::Idle
    }

    /// Changes its operating mode, tracing and logging the change.
    pub fn set_mode(&mut self, mode: OperatingMode, machine: &mut impl Machine) {
        let previous = self.mode;
        self.mode = mode;
        let now = machine.now();
        machine.trace(TraceEvent {
            kind: TraceKind::ModeChange,
            partition: Some(self.partition.id),
            time: now,
            planned: 0,
            detail: mode as u8,
            arg: previous as u32,
        });
        klog!(
            machine,
            "partition '{}': mode {} -> {}",
            self.partition.name,
            previous.name(),
            mode.name()
        );
    }

    /// Restarts the partition from its entry point, on this core, now: a kernel operation
    /// (SET_PARTITION_MODE asks for it; the health monitor will too). Cold: its image is
    /// loaded again from the pristine copy in the kernel image. Warm: its memory stays as it
    /// is. Either way every register and all EL1 state start afresh, as at module start.
    /// Only the partition's own memory and its own core's time are touched.
    pub fn restart(&mut self, cold: bool, condition: StartCondition, machine: &mut impl Machine) {
        let p = self.partition;
        machine.end_console_line(p.id);
        // Drop whatever EL1 state of the old run the CPU holds, then reset the context.
        machine.save_vcpu(self.vcpu);
        if cold && !machine.reload_image(p) {
            klog!(
                machine,
                "partition '{}': image could not be reloaded",
                p.name
            );
            self.set_mode(OperatingMode::Idle, machine);
            machine.load_vcpu(self.vcpu);
            return;
        }
        let (vttbr, mdcr) = (self.vcpu.vttbr, self.vcpu.mdcr);
        *self.vcpu = VcpuContext::first_entry(p.image.entry_ipa, u64::from(p.id), 0, vttbr);
        self.vcpu.mdcr = mdcr;
        machine.load_vcpu(self.vcpu);
        let now = machine.now();
        machine.trace(TraceEvent {
            kind: TraceKind::Restart,
            partition: Some(p.id),
            time: now,
            planned: 0,
            detail: u8::from(!cold),
            arg: condition as u32,
        });
        klog!(
            machine,
            "partition '{}': {} start ({})",
            p.name,
            if cold { "cold" } else { "warm" },
            condition.name()
        );
        self.start_condition = condition;
        self.set_mode(
            if cold {
                OperatingMode::ColdStart
            } else {
                OperatingMode::WarmStart
            },
            machine,
        );
    }
}
