//! The health monitor: what happens when a partition faults.
//!
//! Today's action is fixed: the fault is logged in full and the faulting partition stops
//! for good; the others run on (what the default HM tables say for these errors). Applying
//! the configured HM tables (IGNORE, IDLE, COLD_START, WARM_START, module SHUTDOWN/RESET)
//! builds on this single entry point.

use apex_api::health::{HmError, PartitionAction};

use apex_api::partition::OperatingMode;

use crate::arch::esr::{self, ExceptionClass};
use crate::arch::exit::Exit;
use crate::klog;
use crate::machine::Machine;
use crate::partition::Resident;
use crate::trace::TraceEvent;
use crate::trap::Action;

/// The HM error an exit stands for.
pub fn error_of(exit: &Exit) -> HmError {
    match exit {
        Exit::Abort(_) => HmError::MemoryViolation,
        Exit::Fault {
            class: ExceptionClass::SError,
            ..
        } => HmError::HardwareFault,
        _ => HmError::IllegalInstruction,
    }
}

/// Logs a partition's fault and stops the partition (it becomes IDLE).
pub fn partition_fault(resident: &mut Resident, exit: Exit, machine: &mut impl Machine) -> Action {
    let partition = resident.partition;
    machine.end_console_line(partition.id);
    let name = partition.name;
    let core = machine.core();
    let pc = resident.vcpu.regs.elr;
    let esr = match exit {
        Exit::Abort(abort) => {
            klog!(
                machine,
                "HM: partition '{name}' stage-2 abort on core {core}: {} at IPA {:#x} (VA {:#x}), pc {pc:#x}",
                abort.access.name(),
                abort.ipa,
                abort.va
            );
            abort.esr
        }
        Exit::Fault { class, esr } => {
            klog!(
                machine,
                "HM: partition '{name}' fault on core {core}: {}, pc {pc:#x}",
                class.description()
            );
            esr
        }
        Exit::SysReg { esr, .. } => {
            klog!(
                machine,
                "HM: partition '{name}' fault on core {core}: {}, pc {pc:#x}",
                ExceptionClass::SysReg.description()
            );
            esr
        }
        Exit::Hypercall { .. } | Exit::Interrupt => 0,
    };
    if !matches!(exit, Exit::Hypercall { .. } | Exit::Interrupt) {
        klog!(machine, "HM: ESR_EL2 {}", esr::Decoded(esr));
    }
    klog!(machine, "HM: action: stop partition '{name}'");
    let now = machine.now();
    machine.trace(TraceEvent::health_monitor(
        partition.id,
        error_of(&exit).code(),
        PartitionAction::Idle.code(),
        now,
    ));
    resident.mode = OperatingMode::Idle;
    Action::Stop
}
