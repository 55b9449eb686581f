//! The health monitor: what happens when a partition faults or raises an error.
//!
//! A fault's action is fixed today: the fault is logged in full and the faulting partition
//! stops for good; the others run on (what the default HM tables say for these errors). An
//! error a partition raises itself (RAISE_APPLICATION_ERROR) gets the action its HM table
//! names ([`apply`]): IGNORE, IDLE, COLD_START, WARM_START, or a module action. Faults will
//! go through [`apply`] too once the HM issue makes their table entries binding.

use apex_api::health::{HmAction, HmError, ModuleAction, PartitionAction};

use apex_api::hypercall::ReturnCode;
use apex_api::partition::StartCondition;

use crate::module::{Failure, ModuleEnd};

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

/// The code of `action` in a trace record's `arg` (see `apex_api::trace`): a partition
/// action's code, or 0x100 + a module action's.
pub fn trace_code(action: HmAction) -> u32 {
    match action {
        HmAction::Partition(a) => u32::from(a.code()),
        HmAction::Module(a) => 0x100 | u32::from(a.code()),
    }
}

/// The action `partition`'s HM table names for `error`, or the error's default.
pub fn action_for(partition: &crate::config::Partition, error: HmError) -> HmAction {
    partition
        .hm_action(error)
        .unwrap_or(HmAction::Partition(error.default_partition_action()))
}

/// Applies the HM action `resident`'s table names for `error` (its default if the table
/// does not name it), after the error was logged: the partition continues (its hypercall
/// answered `NO_ERROR`), stops, restarts, or the module ends.
pub fn apply(resident: &mut Resident, error: HmError, machine: &mut impl Machine) -> Action {
    let partition = resident.partition;
    let name = partition.name;
    let action = action_for(partition, error);
    let now = machine.now();
    machine.trace(TraceEvent::health_monitor(
        partition.id,
        error.code(),
        trace_code(action),
        now,
    ));
    match action {
        HmAction::Partition(PartitionAction::Ignore) | HmAction::Module(ModuleAction::Ignore) => {
            klog!(machine, "HM: action: ignore ('{name}' continues)");
            resident.vcpu.regs.x[0] = ReturnCode::NoError as u64;
            Action::Resume
        }
        HmAction::Partition(PartitionAction::Idle) => {
            machine.end_console_line(partition.id);
            klog!(machine, "HM: action: stop partition '{name}'");
            resident.stop(machine);
            Action::Stop
        }
        HmAction::Partition(
            restart @ (PartitionAction::ColdStart | PartitionAction::WarmStart),
        ) => {
            let cold = restart == PartitionAction::ColdStart;
            klog!(machine, "HM: action: {} partition '{name}'", restart.name());
            resident.restart(cold, StartCondition::HmPartitionRestart, machine);
            if resident.is_running() {
                Action::Resume
            } else {
                Action::Stop
            }
        }
        HmAction::Module(module @ (ModuleAction::Shutdown | ModuleAction::Reset)) => {
            // A module reset (PSCI SYSTEM_RESET) is not implemented yet: the module stops,
            // and says so.
            klog!(
                machine,
                "HM: action: module {} (error of '{name}'){}",
                module.name(),
                if module == ModuleAction::Reset {
                    "; reset is not implemented, the module stops"
                } else {
                    ""
                }
            );
            Action::EndModule(ModuleEnd::Failed(Failure::HealthMonitor))
        }
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
        trace_code(HmAction::Partition(PartitionAction::Idle)),
        now,
    ));
    resident.stop(machine);
    Action::Stop
}
