//! What the kernel does about a partition's exit (other than an interrupt, which is the run
//! loop's business): hypercalls, emulated system registers, and faults for the health
//! monitor. One entry point, [`handle`], returning what becomes of the partition.

pub mod sysreg;

use core::sync::atomic::Ordering;

use apex_api::partition::{ModeTransition, OperatingMode, StartCondition};

use crate::arch::esr::AbortSyndrome;
use crate::arch::exit::{Abort, AbortAccess, Exit};
use crate::config::{Channel, Partition, PortId};
use crate::hm;
use crate::hypercall::{self, CallerState, KernelServices, Outcome, Refusal, Reply};
use crate::klog;
use crate::machine::Machine;
use crate::module::ModuleEnd;
use crate::partition::{self, Resident, Wait};
use crate::trace::TraceEvent;
use crate::vgic::{self, Violation};
use apex_api::health::{HmAction, HmError, ModuleAction, PartitionAction};
use apex_api::info::DOORBELL_GPIO_SIZE;
use sysreg::TrappedKind;

/// What becomes of the partition after its exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It continues (where it left off, or from its entry point after a restart).
    Resume,
    /// It runs no more: it is IDLE (it asked to, or the health monitor decided so).
    Stop,
    /// It blocks until a doorbell or a deadline (the run loop answers its Wait hypercall).
    Wait(Wait),
    /// The whole module ends.
    EndModule(ModuleEnd<'static>),
}

/// Handles `exit` of `resident` (running on this core).
pub fn handle(exit: Exit, resident: &mut Resident, machine: &mut impl Machine) -> Action {
    let partition = resident.partition;
    let regs = &mut resident.vcpu.regs;
    match exit {
        Exit::Hypercall { smc } => {
            if smc {
                // A trapped SMC leaves ELR on itself; step over it as HVC does.
                regs.elr = regs.elr.wrapping_add(4);
            }
            let core = machine.core();
            let state = CallerState {
                vcpu: resident.vcpu_index,
                mode: resident.mode,
                start_condition: resident.start_condition,
                counter_hz: machine.counter_hz(),
            };
            let mut services = Services { machine };
            match hypercall::dispatch(&mut regs.x, partition, &state, core, &mut services) {
                Outcome::Resume => Action::Resume,
                Outcome::Wait(wait) => Action::Wait(wait),
                Outcome::HealthMonitor(error) => hm::apply(resident, error, machine),
                Outcome::ChangeMode(ModeTransition::ToNormal) => {
                    resident.set_mode(OperatingMode::Normal, machine);
                    Action::Resume
                }
                Outcome::ChangeMode(ModeTransition::ToIdle) => {
                    machine.end_console_line(partition.id);
                    resident.set_mode(OperatingMode::Idle, machine);
                    Action::Stop
                }
                Outcome::ChangeMode(ModeTransition::Restart { cold }) => {
                    restart(resident, cold, machine)
                }
                Outcome::PowerOff => stopped_itself(
                    resident,
                    format_args!("partition '{}' powered itself off (PSCI)", partition.name),
                    machine,
                ),
                Outcome::Reset => {
                    klog!(
                        machine,
                        "partition '{}' reset itself (PSCI SYSTEM_RESET)",
                        partition.name
                    );
                    restart(resident, true, machine)
                }
                Outcome::StartVcpu { vcpu } => {
                    if let Some(&core) = partition.cores.get(vcpu) {
                        machine.wake(usize::from(core));
                    }
                    Action::Resume
                }
                Outcome::VcpuOff => {
                    if let Some(state) = partition::state(usize::from(partition.id)) {
                        state.secondaries.lock().set_off(resident.vcpu_index);
                    }
                    Action::Stop
                }
                Outcome::StopPartition { status } => stopped_itself(
                    resident,
                    format_args!(
                        "partition '{}' stopped itself (status {status})",
                        partition.name
                    ),
                    machine,
                ),
                Outcome::ShutdownModule { status } => {
                    machine.end_console_line(partition.id);
                    Action::EndModule(ModuleEnd::Shutdown {
                        by: partition.name,
                        status,
                    })
                }
            }
        }
        Exit::SysReg { access, .. } if sysreg::is_sgi_generation(&access) => {
            let value = if access.rt < 31 {
                regs.x[usize::from(access.rt)]
            } else {
                0
            };
            regs.elr = regs.elr.wrapping_add(4);
            send_sgi(resident, value, machine);
            Action::Resume
        }
        Exit::SysReg { access, .. } => {
            let emulation = sysreg::emulate(&access);
            if sysreg::apply(emulation, &access, &mut regs.x, &mut regs.elr) {
                let pc = regs.elr - 4;
                log_trapped_access(partition, sysreg::kind(&access), pc, machine);
                Action::Resume
            } else {
                hm::partition_fault(resident, exit, machine)
            }
        }
        Exit::Abort(abort) => match virtual_gic_access(abort, resident, machine)
            .or_else(|| virtual_uart_access(abort, resident, machine))
            .or_else(|| doorbell_register_access(abort, resident, machine))
            .or_else(|| doorbell_gpio_access(abort, resident, machine))
        {
            Some(action) => action,
            None => hm::partition_fault(resident, exit, machine),
        },
        Exit::Fault { .. } => hm::partition_fault(resident, exit, machine),
        // Interrupts are the run loop's; one reaching here changes nothing.
        Exit::Interrupt => Action::Resume,
    }
}

/// `resident` stopped at its own request: its unfinished console line first, then `why`;
/// it is IDLE from now on.
fn stopped_itself(
    resident: &mut Resident,
    why: core::fmt::Arguments,
    machine: &mut impl Machine,
) -> Action {
    machine.end_console_line(resident.partition.id);
    machine.log(why);
    resident.stop(machine);
    Action::Stop
}

/// Restarts `resident` at its own request (cold or warm): it runs on if the restart worked.
fn restart(resident: &mut Resident, cold: bool, machine: &mut impl Machine) -> Action {
    resident.restart(cold, StartCondition::PartitionRestart, machine);
    if resident.is_running() {
        Action::Resume
    } else {
        Action::Stop
    }
}

/// The hypercall fast path: serves the call `x` (the caller's x0..=x2) of `partition` if it
/// needs only these and the tables (`hypercall::serve`), and returns what to write back.
/// The vCPU then resumes at once, without a full exit to the run loop; a window deadline
/// that passed meanwhile is taken as soon as it does. `None`: the run loop's call, nothing
/// done.
pub fn fast_hypercall(
    x: [u64; 3],
    partition: &'static Partition,
    machine: &mut impl Machine,
) -> Option<Reply> {
    let core = machine.core();
    let mut services = Services { machine };
    hypercall::serve(x[0], x[1], x[2], partition, core, &mut services).ok()
}

/// Refused hypercalls logged per partition: only the first few, so a partition looping on
/// bad calls cannot flood the console (and with it the kernel's own lines).
const REFUSALS_LOGGED: u32 = 16;

/// Attempts on interrupts a partition does not own logged per partition (as for refusals).
const GIC_VIOLATIONS_LOGGED: u32 = 16;

/// Emulates `abort` if it is a load or store of `resident`'s virtual GIC (see `vgic`) that
/// the syndrome describes (one general register, no writeback): the partition resumes after
/// the instruction. `None` if it is not one, so it is a fault.
fn virtual_gic_access(
    abort: Abort,
    resident: &mut Resident,
    machine: &mut impl Machine,
) -> Option<Action> {
    let partition = resident.partition;
    let board = machine.board();
    let (frame, offset) = vgic::frame_of(board, partition, abort.ipa)?;
    let mmio = Mmio::decode(abort)?;
    let state = partition::state(usize::from(partition.id))?;
    let size = mmio.size;
    let regs = &mut resident.vcpu.regs;
    let write = mmio.value_written(&regs.x);
    // Up to 32 violations in one access (a whole set-enable register).
    let mut violations = [None; 32];
    let mut count = 0;
    let value = {
        let mut dist = state.vgic.lock();
        let access = vgic::Access {
            offset,
            size,
            write,
        };
        let value = vgic::emulate(
            partition,
            resident.vcpu_index,
            board,
            &mut dist,
            frame,
            access,
            machine,
            &mut |v| {
                if let Some(slot) = violations.get_mut(count) {
                    *slot = Some(v);
                    count += 1;
                }
            },
        );
        if write.is_some() {
            vgic::publish_fast_interrupts(partition, &dist);
        }
        value
    };
    mmio.complete(regs, value);
    if write.is_some() {
        // It may have enabled an interrupt that waited, or set one pending.
        vgic::deliver_pending(partition, resident.vcpu, machine);
    }
    let mut action = Action::Resume;
    for violation in violations.into_iter().flatten() {
        action = gic_violation(resident, violation, machine);
        if action != Action::Resume {
            break;
        }
    }
    Some(action)
}

/// A load or store of one general register that faulted at stage 2, as the syndrome
/// describes it (ISV set: no pair, no writeback, no SIMD register), to be emulated.
#[derive(Clone, Copy, Debug)]
struct Mmio {
    /// 1, 2, 4 or 8 bytes.
    size: u8,
    /// The general register transferred (31: XZR).
    register: usize,
    write: bool,
    sign_extend: bool,
    register_64: bool,
}

impl Mmio {
    fn decode(abort: Abort) -> Option<Self> {
        let iss = AbortSyndrome::from_esr(abort.esr);
        (abort.access != AbortAccess::Execute && iss.valid_syndrome).then_some(Self {
            size: iss.access_size,
            register: usize::from(iss.register),
            write: iss.write,
            sign_extend: iss.sign_extend,
            register_64: iss.register_64,
        })
    }

    fn size_mask(self) -> u64 {
        match self.size {
            8 => u64::MAX,
            s => (1u64 << (8 * u32::from(s))) - 1,
        }
    }

    /// The value a store writes (its register's low `size` bytes); `None` for a load.
    fn value_written(self, x: &[u64; 31]) -> Option<u64> {
        self.write
            .then(|| x.get(self.register).copied().unwrap_or(0) & self.size_mask())
    }

    /// Completes the access: a load's register gets `value` (extended as the instruction
    /// says), and the partition resumes after the instruction.
    fn complete(self, regs: &mut crate::arch::context::GuestRegs, value: u64) {
        if !self.write
            && let Some(x) = regs.x.get_mut(self.register)
        {
            let bits = 8 * u32::from(self.size);
            let value = value & self.size_mask();
            let extended = if self.sign_extend && bits < 64 {
                (((value << (64 - bits)) as i64) >> (64 - bits)) as u64
            } else {
                value
            };
            *x = if self.register_64 {
                extended
            } else {
                extended & 0xffff_ffff
            };
        }
        regs.elr = regs.elr.wrapping_add(4);
    }
}

/// Emulates `abort` if it is a load or store of `resident`'s virtual UART (see `vuart`) the
/// syndrome describes: the partition resumes after the instruction. `None` otherwise.
fn virtual_uart_access(
    abort: Abort,
    resident: &mut Resident,
    machine: &mut impl Machine,
) -> Option<Action> {
    let partition = resident.partition;
    let offset = abort
        .ipa
        .checked_sub(machine.board().kernel_uart.base)
        .filter(|&o| o < crate::vuart::SIZE)?;
    let mmio = Mmio::decode(abort)?;
    let state = partition::state(usize::from(partition.id))?;
    let takes_input = machine
        .console_input()
        .is_some_and(|p| p.id == partition.id);
    let regs = &mut resident.vcpu.regs;
    let mut sent = None;
    let (value, line) = {
        // Lock order: its UART, then the input queue (see `vuart::CONSOLE_INPUT`).
        let mut uart = state.vuart.lock();
        let mut input = takes_input.then(|| crate::vuart::CONSOLE_INPUT.lock());
        let value = uart.access(
            offset,
            mmio.value_written(&regs.x),
            input.as_deref_mut(),
            &mut |byte| sent = Some(byte),
        );
        if input.as_mut().is_some_and(|q| q.resume()) {
            machine.console_receive_interrupt(true);
        }
        (value, uart.line(input.map_or(0, |q| q.len())))
    };
    mmio.complete(regs, value);
    if let Some(byte) = sent {
        machine.console_write(partition.id, &[byte]);
    }
    if line {
        vgic::raise_uart_interrupt(
            partition,
            Some(&mut *resident.vcpu),
            vgic::Rise::Level,
            machine,
        );
    }
    Some(Action::Resume)
}

/// A write of `ICC_SGI1R_EL1` (or its alias `ICC_ASGI1R_EL1`) of `value` by `resident`: the
/// SGI it names becomes pending for the targets among the partition's own vCPUs (see `smp`),
/// at once for itself, and the other targets' cores are woken to deliver it.
fn send_sgi(resident: &mut Resident, value: u64, machine: &mut impl Machine) {
    let partition = resident.partition;
    let Some(state) = partition::state(usize::from(partition.id)) else {
        return;
    };
    let sender = resident.vcpu_index;
    let (targets, intid) = crate::smp::sgi_targets(value, sender, partition.cores.len());
    for vcpu in (0..partition.cores.len()).filter(|v| targets >> v & 1 == 1) {
        state.send_sgis(vcpu, 1 << intid);
        if vcpu == sender {
            vgic::deliver_pending(partition, resident.vcpu, machine);
        } else if let Some(&core) = partition.cores.get(vcpu) {
            machine.wake(usize::from(core));
        }
    }
}

/// Emulates `abort` if it is a load or store of `resident`'s doorbell register page
/// (`apex_api::info::DOORBELL_PAGE_IPA`): a store at offset 0 rings the peer of the port it
/// names, as the `Doorbell` hypercall does (refused the same way: logged, no effect); loads
/// read 0 and other stores do nothing. `None` if it is not such an access.
fn doorbell_register_access(
    abort: Abort,
    resident: &mut Resident,
    machine: &mut impl Machine,
) -> Option<Action> {
    let offset = abort
        .ipa
        .checked_sub(apex_api::info::DOORBELL_PAGE_IPA)
        .filter(|&o| o < apex_api::info::INFO_PAGE_SIZE as u64)?;
    let mmio = Mmio::decode(abort)?;
    let regs = &mut resident.vcpu.regs;
    let written = mmio.value_written(&regs.x);
    mmio.complete(regs, 0);
    if let (Some(port), 0) = (written, offset) {
        // Its answer has nowhere to go: a refusal is logged by the services.
        let _ = hypercall::doorbell(resident.partition, port, &mut Services { machine });
    }
    Some(Action::Resume)
}

/// The doorbell of `peer` rang and its partition unmasked the GPIO line of that doorbell:
/// the line's controller raises its interrupt. Apart (and cold) so that the `Doorbell`
/// hypercall's path, which every queuing exchange with a waiting bare-metal peer takes,
/// stays as short as it was.
#[cold]
#[inline(never)]
fn raise_doorbell_line(peer: PortId, machine: &mut impl Machine) {
    if let Some(partition) = machine.partition(peer.partition) {
        vgic::raise_doorbell_interrupt(
            partition,
            usize::from(peer.port) / apex_api::info::DOORBELL_GPIO_LINES,
            None,
            vgic::Rise::Edge,
            machine,
        );
    }
}

/// Emulates `abort` if it is a load or store of one of `resident`'s doorbell GPIO
/// controllers (`apex_api::info::DOORBELL_GPIO_IPA`, see `doorbell_gpio`): the register's
/// value, or the write's effect (an interrupt clear takes those doorbells); afterwards the
/// controller's interrupt is raised if a doorbell it unmasked is pending. `None` past its
/// last controller, or for an access the syndrome does not describe: a fault.
fn doorbell_gpio_access(
    abort: Abort,
    resident: &mut Resident,
    machine: &mut impl Machine,
) -> Option<Action> {
    let offset = abort
        .ipa
        .checked_sub(apex_api::info::DOORBELL_GPIO_IPA)
        .filter(|&o| o < apex_api::info::DOORBELL_GPIO_CONTROLLERS as u64 * DOORBELL_GPIO_SIZE)?;
    let partition = resident.partition;
    let controllers = crate::doorbell_gpio::controllers_for(partition.ports.len());
    let mmio = Mmio::decode(abort)?;
    let state = partition::state(usize::from(partition.id))?;
    let regs = &mut resident.vcpu.regs;
    let k = (offset / DOORBELL_GPIO_SIZE) as usize;
    let (value, up) = {
        let mut gpio = state.doorbell_gpio.lock();
        let outcome = gpio.access(
            controllers,
            offset,
            mmio.value_written(&regs.x),
            state.pending_doorbells(),
        )?;
        if outcome.clear != 0 {
            state.take_doorbells(outcome.clear);
        }
        state.set_doorbells_unmasked(gpio.unmasked());
        // Looked at after the unmask is published (see `set_doorbells_unmasked`).
        (outcome.value, gpio.line_up(k, state.pending_doorbells()))
    };
    mmio.complete(regs, value);
    if up {
        vgic::raise_doorbell_interrupt(
            partition,
            k,
            Some(&mut *resident.vcpu),
            vgic::Rise::Level,
            machine,
        );
    }
    Some(Action::Resume)
}

/// An attempt of `resident` on an interrupt it does not own: an HM event (an illegal
/// request), logged (the first few), traced, and handled as its HM table says (by default:
/// ignored, the access having done nothing).
fn gic_violation(
    resident: &mut Resident,
    violation: Violation,
    machine: &mut impl Machine,
) -> Action {
    let partition = resident.partition;
    let error = HmError::IllegalRequest;
    let action = hm::action_for(partition, error);
    let count = partition::state(usize::from(partition.id)).map_or(u32::MAX, |s| {
        s.gic_violations
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_add(1))
            })
            .map_or(u32::MAX, |previous| previous.saturating_add(1))
    });
    let name = partition.name;
    if count <= GIC_VIOLATIONS_LOGGED {
        let (what, intid) = violation.what();
        match violation {
            Violation::RouteOutside(_) => klog!(
                machine,
                "HM: partition '{name}' tried to route interrupt {intid} to a core it does not have (ignored)"
            ),
            _ => klog!(
                machine,
                "HM: partition '{name}' tried to {what} interrupt {intid}, which it does not own (ignored)"
            ),
        }
        if count == GIC_VIOLATIONS_LOGGED {
            klog!(
                machine,
                "HM: partition '{name}': {GIC_VIOLATIONS_LOGGED} attempts on interrupts; further ones are not logged"
            );
        }
    }
    match action {
        HmAction::Partition(PartitionAction::Ignore) | HmAction::Module(ModuleAction::Ignore) => {
            let now = machine.now();
            machine.trace(TraceEvent::health_monitor(
                partition.id,
                error.code(),
                hm::trace_code(action),
                now,
            ));
            Action::Resume
        }
        // The table asks for more than ignoring it: the HM applies (and traces) that. Not
        // for ignoring: `hm::apply` answers a hypercall, and this is no hypercall.
        _ => hm::apply(resident, error, machine),
    }
}

/// Logs the first emulated access of each kind a partition makes.
fn log_trapped_access(
    partition: &Partition,
    kind: TrappedKind,
    pc: u64,
    machine: &mut impl Machine,
) {
    let bit = 1u8 << (kind as u8);
    let Some(state) = partition::state(usize::from(partition.id)) else {
        return;
    };
    if state.traps_logged.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
        let effect = match kind {
            TrappedKind::CacheSetWay => "skipped",
            _ => "reads as zero, writes ignored",
        };
        klog!(
            machine,
            "partition '{}': {} access trapped at pc {pc:#x} ({effect}); further ones are not logged",
            partition.name,
            kind.name()
        );
    }
}

/// The kernel side of hypercalls, on a machine.
struct Services<'a, M: Machine> {
    machine: &'a mut M,
}

impl<M: Machine> KernelServices for Services<'_, M> {
    fn channel(&self, index: u16) -> Option<&'static Channel> {
        self.machine.channel(index)
    }

    fn application_error(&mut self, caller: &Partition, message: &[u8]) {
        // The message is the partition's own bytes: the console sanitises them, and the line
        // starts with the kernel's prefix whatever they say.
        let text = core::str::from_utf8(message).unwrap_or("(not UTF-8)");
        klog!(
            self.machine,
            "HM: partition '{}' raised an application error: {text}",
            caller.name
        );
    }

    // Inlined into the hypercall fast path: a call here costs every doorbell its prologue.
    #[inline(always)]
    fn ring(&mut self, peer: PortId) {
        let Some(state) = partition::state(usize::from(peer.partition)) else {
            return;
        };
        if let Some(core) = state.ring(peer.port) {
            self.machine.wake(core);
        }
        // A doorbell it waits for through its doorbell GPIO controller: that controller's
        // interrupt (`doorbell_gpio`).
        if state.doorbell_unmasked(peer.port) {
            raise_doorbell_line(peer, self.machine);
        }
    }

    fn read_guest(&mut self, phys: u64, buf: &mut [u8]) {
        self.machine.read_guest(phys, buf);
    }

    fn console_write(&mut self, caller: &Partition, bytes: &[u8]) {
        self.machine.console_write(caller.id, bytes);
    }

    fn refused(&mut self, caller: &Partition, refusal: Refusal) {
        let Some(counter) = partition::state(usize::from(caller.id)).map(|s| &s.refusals) else {
            return;
        };
        // Saturating, so a partition refused 4 billion times is not logged afresh.
        let count = counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_add(1))
            })
            .map_or(u32::MAX, |previous| previous.saturating_add(1));
        if count > REFUSALS_LOGGED {
            return;
        }
        let m = &mut *self.machine;
        let name = caller.name;
        match refusal {
            Refusal::UnknownFunction { id } => klog!(
                m,
                "partition '{name}': unknown hypercall {id:#x} refused (SMCCC NOT_SUPPORTED)"
            ),
            Refusal::BadRange {
                call,
                ipa,
                len,
                why,
            } => klog!(
                m,
                "partition '{name}': {call:?} refused (INVALID_PARAM): {len} bytes at {ipa:#x}: {why:?}"
            ),
            Refusal::TooLong { call, len, max } => klog!(
                m,
                "partition '{name}': {call:?} refused (INVALID_PARAM): length {len} > {max}"
            ),
            Refusal::NotPrivileged { call } => klog!(
                m,
                "partition '{name}': {call:?} refused (INVALID_MODE): not a system partition"
            ),
            Refusal::BadPort { call, port } => klog!(
                m,
                "partition '{name}': {call:?} refused (INVALID_PARAM): no port {port:#x} (it has {})",
                caller.ports.len()
            ),
            Refusal::WrongMode { call, mode } => klog!(
                m,
                "partition '{name}': {call:?} refused (INVALID_MODE): not allowed in {}",
                mode.name()
            ),
        }
        if count == REFUSALS_LOGGED {
            klog!(
                m,
                "partition '{name}': {REFUSALS_LOGGED} hypercalls refused; further refusals are not logged"
            );
        }
    }
}
