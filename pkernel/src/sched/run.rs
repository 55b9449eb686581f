//! The per-core run loop: enter a partition, take its exit, decide, repeat; on a
//! time-partitioned core, switch partitions at the window boundaries.
//!
//! A window ends when the EL2 window timer fires, at the absolute deadline the window
//! cursor computed. The timer interrupt is taken at EL2 whatever the partition does
//! (HCR_EL2.IMO: its own PSTATE.I does not mask it), so a partition spinning with
//! interrupts masked still loses the core on time. At the switch the outgoing partition's
//! EL1 state is saved and the incoming one's loaded, so neither can tell it was switched
//! out except by the time that passed.

use apex_api::hypercall::ReturnCode;

use crate::arch::context::VcpuContext;
use crate::arch::exit::Exit;
use crate::config::{CoreSchedule, MAX_PARTITIONS, Partition};
use crate::klog;
use crate::machine::{Interrupt, Machine};
use crate::module::ModuleEnd;
use crate::partition::{self, Resident};
use crate::smp::Request;
use crate::trace::TraceEvent;
use crate::trap::{self, Action};
use crate::{vgic, vuart};

use super::window::{BEFORE_FIRST_FRAME, WindowCursor};

/// The partitions of one core, by partition index.
pub struct CorePartitions<'a> {
    entries: [Option<Resident<'a>>; MAX_PARTITIONS],
}

impl Default for CorePartitions<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> CorePartitions<'a> {
    pub fn new() -> Self {
        Self {
            entries: [const { None }; MAX_PARTITIONS],
        }
    }

    /// Adds a partition this core runs (ignored beyond `MAX_PARTITIONS`).
    pub fn insert(&mut self, partition: &'static Partition, vcpu: &'a mut VcpuContext) {
        if let Some(slot) = self.entries.get_mut(usize::from(partition.id)) {
            *slot = Some(Resident::new(partition, vcpu));
        }
    }

    /// Partition `partition`, if this core runs it.
    pub fn get_mut(&mut self, partition: u16) -> Option<&mut Resident<'a>> {
        self.entries.get_mut(usize::from(partition))?.as_mut()
    }
}

/// How a core's loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreEnd {
    /// The module must end.
    Halt(ModuleEnd<'static>),
    /// Nothing is left to run on this core.
    Idle,
}

/// How a partition's turn on the core ended.
enum TurnEnd {
    /// Its window is over (time-partitioned cores).
    WindowOver,
    /// It stopped for good.
    Stopped,
    Halt(ModuleEnd<'static>),
}

/// How a partition's wait went.
enum WaitEnd {
    /// Its Wait hypercall is answered (a doorbell rang or its deadline passed); it runs on.
    Answered,
    /// Its window ended first; it goes on waiting in its next one.
    WindowOver,
}

/// Keeps `entry`, blocked in a Wait hypercall, waiting with the core idle until a doorbell
/// it waits for rings or its deadline passes (then answers the call in its registers), or
/// until its window ends at `window_end`. The core sleeps until the earlier of the wait's
/// deadline and the window end, or until another core wakes it for a doorbell; a doorbell
/// that rang before the partition announced it was waiting is seen by the look that
/// follows the announcement, so none is lost.
fn wait(machine: &mut impl Machine, entry: &mut Resident, window_end: Option<u64>) -> WaitEnd {
    let core = machine.core();
    let state = partition::state(usize::from(entry.partition.id));
    loop {
        let Some(w) = entry.waiting else {
            return WaitEnd::Answered;
        };
        let rung = state.map_or(0, |s| s.take_doorbells(w.doorbells));
        let now = machine.now();
        let answer = if rung != 0 {
            Some((ReturnCode::NoError, rung))
        } else if now >= w.deadline {
            Some((ReturnCode::TimedOut, 0))
        } else {
            None
        };
        if let Some((code, value)) = answer {
            entry.vcpu.regs.x[0] = code as u64;
            entry.vcpu.regs.x[1] = value;
            entry.waiting = None;
            // The partition runs on under its window's deadline, not the wait's.
            if let Some(end) = window_end {
                machine.set_deadline(end);
            }
            return WaitEnd::Answered;
        }
        if window_end.is_some_and(|end| now >= end) {
            return WaitEnd::WindowOver;
        }
        machine.set_deadline(window_end.map_or(w.deadline, |end| end.min(w.deadline)));
        if let Some(s) = state {
            s.wait_on(Some(core));
        }
        if !state.is_some_and(|s| s.has_doorbells(w.doorbells)) {
            machine.wait_for_interrupt();
        }
        if let Some(s) = state {
            s.wait_on(None);
        }
        let own = match machine.take_interrupt() {
            Some(Interrupt::Device(intid)) => device_interrupt(machine, intid, Some(entry)),
            Some(Interrupt::ConsoleInput) => console_input(machine, Some(entry)),
            Some(Interrupt::VirtualTimer) => {
                vgic::virtual_timer_fired(entry.partition, entry.vcpu, true, machine);
                true
            }
            Some(Interrupt::Maintenance) => {
                vgic::deliver_pending(entry.partition, entry.vcpu, machine);
                false
            }
            Some(Interrupt::Other(intid)) => {
                klog!(machine, "core {core}: unexpected interrupt {intid}");
                false
            }
            Some(Interrupt::WindowTimer | Interrupt::Wakeup) | None => false,
        };
        // Its own interrupt, which it takes (IRQs unmasked where it called): the wait ends so
        // that it does; `Wait` may end early, its callers look again.
        if own && entry.vcpu.regs.spsr & SPSR_I == 0 {
            entry.vcpu.regs.x[0] = ReturnCode::NoError as u64;
            entry.vcpu.regs.x[1] = 0;
            entry.waiting = None;
            if let Some(end) = window_end {
                machine.set_deadline(end);
            }
            return WaitEnd::Answered;
        }
    }
}

/// PSTATE.I in a saved SPSR: IRQs masked.
const SPSR_I: u64 = 1 << 7;

/// Device interrupt `intid`, taken on this core: it waits for its owner, and goes to it at
/// once if the owner is `running` (its vCPU loaded here). True if it is `running`'s.
fn device_interrupt(
    machine: &mut impl Machine,
    intid: u32,
    running: Option<&mut Resident>,
) -> bool {
    let Some(owner) = machine.interrupt_owner(intid) else {
        klog!(
            machine,
            "core {}: unexpected interrupt {intid}",
            machine.core()
        );
        return false;
    };
    vgic::interrupt_taken(owner, intid);
    match running {
        Some(entry) if entry.partition.id == owner.id => {
            vgic::deliver_pending(owner, entry.vcpu, machine);
            true
        }
        _ => false,
    }
}

/// The console UART received something: it goes into the input queue of the partition that
/// takes console input, whose UART interrupt goes to it at once if it is `running` here.
/// True if it is `running`'s.
fn console_input(machine: &mut impl Machine, running: Option<&mut Resident>) -> bool {
    let Some(partition) = machine.console_input() else {
        return false;
    };
    if !vuart::receive(partition, machine) {
        return false;
    }
    let loaded = running
        .filter(|entry| entry.partition.id == partition.id)
        .map(|entry| &mut *entry.vcpu);
    let own = loaded.is_some();
    vgic::raise_uart_interrupt(partition, loaded, vgic::Rise::Edge, machine);
    own
}

/// Takes the interrupt that made `entry`, running on this core, exit, and delivers what it
/// brings to it (or, for another partition's, to that one when it runs). True if it is the
/// window timer, which the caller acts on.
// Inlined: the window timer's path is every window switch's.
#[inline(always)]
fn interrupt_while_running(machine: &mut impl Machine, entry: &mut Resident) -> bool {
    match machine.take_interrupt() {
        Some(Interrupt::WindowTimer) => return true,
        // SGIs from its other vCPUs, room in the list registers, or a doorbell for a
        // partition that is no longer waiting here (nothing to deliver then).
        Some(Interrupt::Wakeup | Interrupt::Maintenance) => {
            vgic::deliver_pending(entry.partition, entry.vcpu, machine)
        }
        Some(Interrupt::Device(intid)) => {
            device_interrupt(machine, intid, Some(entry));
        }
        Some(Interrupt::ConsoleInput) => {
            console_input(machine, Some(entry));
        }
        Some(Interrupt::VirtualTimer) => {
            vgic::virtual_timer_fired(entry.partition, entry.vcpu, true, machine)
        }
        Some(Interrupt::Other(intid)) => {
            klog!(
                machine,
                "core {}: unexpected interrupt {intid}",
                machine.core()
            )
        }
        None => {}
    }
    false
}

/// Runs `entry` until its window ends at `deadline` (`None`: a dedicated core, no end),
/// it stops, or the module ends.
// Inlined into the window walk: a call here would cost every window switch its prologue and
// epilogue (measured: about 30 instructions of `cargo xtask bench`'s switch figure).
#[inline(always)]
fn run_turn(machine: &mut impl Machine, entry: &mut Resident, deadline: Option<u64>) -> TurnEnd {
    loop {
        // What a secondary vCPU asked (only partitions with several cores have any).
        if entry.partition.cores.len() > 1
            && let Some(request) =
                partition::state(usize::from(entry.partition.id)).and_then(|s| s.take_request())
        {
            match request {
                Request::Stop => entry.stop(machine),
                Request::Restart { cold, condition } => entry.restart(cold, condition, machine),
            }
            if !entry.is_running() {
                return stopped(machine, entry, deadline);
            }
        }
        if entry.waiting.is_some() {
            match wait(machine, entry, deadline) {
                WaitEnd::Answered => {}
                WaitEnd::WindowOver => return TurnEnd::WindowOver,
            }
        }
        let exit = machine.run_vcpu(entry.vcpu);
        if exit == Exit::Interrupt {
            if interrupt_while_running(machine, entry) {
                match deadline {
                    Some(end) if machine.now() >= end => return TurnEnd::WindowOver,
                    // Early (cannot happen with a correct timer): re-arm and go on.
                    Some(end) => machine.set_deadline(end),
                    // A dedicated core has no window to end.
                    None => {}
                }
            }
            continue;
        }
        match trap::handle(exit, entry, machine) {
            Action::Resume => {}
            Action::Wait(w) => entry.waiting = Some(w),
            Action::Stop => return stopped(machine, entry, deadline),
            Action::EndModule(end) => return TurnEnd::Halt(end),
        }
    }
}

/// `entry` stopped (IDLE): says so, and its turn is over for good.
#[cold]
fn stopped(machine: &mut impl Machine, entry: &Resident, deadline: Option<u64>) -> TurnEnd {
    let name = entry.partition.name;
    match deadline {
        Some(_) => klog!(machine, "partition '{name}' stopped; its windows stay idle"),
        None => klog!(
            machine,
            "partition '{name}' stopped; core {} idle",
            machine.core()
        ),
    }
    TurnEnd::Stopped
}

/// A core reserved for secondary vCPU `index` of `partition` (see `smp`): waits until the
/// partition starts it (PSCI `CPU_ON`), runs it until it goes off or the partition stops or
/// restarts, and waits again, until the module ends. `template` gives the partition's stage
/// 2 (VTTBR) and debug controls (MDCR), as vCPU 0 has them.
pub fn run_secondary(
    machine: &mut impl Machine,
    partition: &'static Partition,
    index: usize,
    template: &VcpuContext,
) -> CoreEnd {
    let Some(state) = partition::state(usize::from(partition.id)) else {
        return CoreEnd::Idle;
    };
    let core = machine.core();
    loop {
        let Some((entry, context, epoch)) = state.start_secondary(index) else {
            // Woken for a CPU_ON (or by a stray wake-up: look again).
            machine.wait_for_interrupt();
            match machine.take_interrupt() {
                // The timer of a vCPU this core ran before (the switch below turns it off;
                // one that fired just before is ended here, not left active).
                Some(Interrupt::VirtualTimer) => machine.end_virtual_timer(),
                // Its list registers' maintenance interrupt (its save turns it off; one
                // that fired just before is turned off here, not left to fire again).
                Some(Interrupt::Maintenance) => machine.stop_maintenance(),
                Some(Interrupt::Other(intid)) => {
                    klog!(machine, "core {core}: unexpected interrupt {intid}")
                }
                _ => {}
            }
            continue;
        };
        let mut vcpu = VcpuContext::first_entry(entry, context, index as u64, template.vttbr);
        vcpu.partition = template.partition;
        vcpu.mdcr = template.mdcr;
        vcpu.fast_interrupts = state.fast_interrupts_address(index);
        klog!(
            machine,
            "partition '{}': vCPU {index} started on core {core} at {entry:#x}",
            partition.name
        );
        machine.load_vcpu(&vcpu);
        let mut resident = Resident::secondary(partition, &mut vcpu, index);
        vgic::vcpu_loaded(partition, resident.vcpu, machine);
        if let Some(end) = run_secondary_vcpu(machine, &mut resident, epoch) {
            return CoreEnd::Halt(end);
        }
        // Its EL1 state leaves the CPU with it, and its virtual timer, which may still be
        // armed, no longer reaches this core (it would keep waking it for no one).
        machine.save_vcpu(&mut vcpu);
        machine.set_virtual_timer_interrupt(false);
        state.secondary_dropped(index);
        klog!(machine, "partition '{}': vCPU {index} off", partition.name);
    }
}

/// Runs secondary vCPU `entry` until it goes off (`None`) or the module ends. It goes off
/// when it says so (PSCI `CPU_OFF`), when it stops or restarts the partition (forwarded to
/// vCPU 0's core), or when the partition leaves `epoch` (it stopped or restarted).
fn run_secondary_vcpu(
    machine: &mut impl Machine,
    entry: &mut Resident,
    epoch: u32,
) -> Option<ModuleEnd<'static>> {
    let state = partition::state(usize::from(entry.partition.id))?;
    loop {
        let exit = machine.run_vcpu(entry.vcpu);
        if exit == Exit::Interrupt {
            // Taken before anything else (it is acknowledged already, and may be the
            // wake-up that says the epoch changed). A dedicated core: no window timer.
            let _ = interrupt_while_running(machine, entry);
        }
        if state.epoch() != epoch {
            return None;
        }
        if exit == Exit::Interrupt {
            continue;
        }
        match trap::handle(exit, entry, machine) {
            Action::Resume => {}
            // Blocking calls (the doorbells they wait for are the partition's) are vCPU 0's.
            Action::Wait(_) => entry.vcpu.regs.x[0] = ReturnCode::InvalidMode as u64,
            Action::Stop => return None,
            Action::EndModule(end) => return Some(end),
        }
    }
}

/// Waits (interrupts masked, core asleep) until the counter reaches `end`; the window timer
/// must already be armed for `end`. `loaded` is the partition whose vCPU is in the CPU, not
/// running (its window is over or it stopped), if any.
fn idle_until(machine: &mut impl Machine, end: u64, mut loaded: Option<&mut Resident>) {
    while machine.now() < end {
        machine.wait_for_interrupt();
        match machine.take_interrupt() {
            // For a partition whose window it is not: it waits for that window.
            Some(Interrupt::Device(intid)) => {
                device_interrupt(machine, intid, None);
            }
            Some(Interrupt::ConsoleInput) => {
                console_input(machine, None);
            }
            // Its virtual timer fired after its window: for its next one.
            Some(Interrupt::VirtualTimer) => match loaded.as_deref_mut() {
                Some(entry) => {
                    vgic::virtual_timer_fired(entry.partition, entry.vcpu, false, machine)
                }
                None => machine.end_virtual_timer(),
            },
            Some(Interrupt::Other(intid)) => {
                klog!(
                    machine,
                    "core {}: unexpected interrupt {intid}",
                    machine.core()
                )
            }
            // Room in the list registers of a vCPU that is not running: what waits for it is
            // delivered when its next window starts (`vcpu_loaded`); meanwhile the interrupt
            // would fire again and again.
            Some(Interrupt::Maintenance) => machine.stop_maintenance(),
            Some(Interrupt::WindowTimer | Interrupt::Wakeup) | None => {}
        }
    }
}

/// A dedicated core: `entry` runs from `start` (the counter value at which the core starts
/// it, traced as its planned start) until it stops or the module ends.
pub fn run_dedicated(machine: &mut impl Machine, entry: &mut Resident, start: u64) -> CoreEnd {
    let now = machine.now();
    machine.trace(TraceEvent::window_start(
        Some(entry.partition.id),
        0,
        start,
        now,
    ));
    machine.load_vcpu(entry.vcpu);
    vgic::vcpu_loaded(entry.partition, entry.vcpu, machine);
    match run_turn(machine, entry, None) {
        TurnEnd::Halt(end) => CoreEnd::Halt(end),
        TurnEnd::Stopped | TurnEnd::WindowOver => CoreEnd::Idle,
    }
}

/// A time-partitioned core: walks `schedule` from its first major frame at `first_frame`,
/// giving each window to its partition, until the module ends.
pub fn run_time_partitioned(
    machine: &mut impl Machine,
    schedule: &'static CoreSchedule,
    partitions: &mut CorePartitions,
    first_frame: u64,
) -> CoreEnd {
    // Every time-partitioned core starts its first frame at the same counter value, waiting
    // for it like for any idle gap; a core that arrives late joins the slot that contains
    // the present.
    let now = machine.now();
    let mut cursor = if now < first_frame {
        WindowCursor::waiting_for(schedule, first_frame)
    } else {
        let mut cursor = WindowCursor::new(schedule, first_frame);
        cursor.catch_up(now);
        cursor
    };
    let mut loaded: Option<u16> = None;
    let mut slot = cursor.current();
    machine.set_deadline(slot.end);
    let mut started = machine.now();
    loop {
        if slot.window != BEFORE_FIRST_FRAME {
            machine.trace(TraceEvent::window_start(
                slot.partition,
                slot.window,
                slot.start,
                started,
            ));
        }
        // Work out the next slot now, so that the path from the window timer to the next
        // start (below) is the same few steps whatever the schedule looks like: every start
        // then lies the same distance after its plan.
        let mut next_cursor = cursor;
        next_cursor.advance();
        let next = next_cursor.current();
        let runnable = slot
            .partition
            .filter(|&p| partitions.get_mut(p).is_some_and(|e| e.is_running()));
        match runnable {
            Some(p) => {
                if loaded != Some(p) {
                    if let Some(old) = loaded.and_then(|old| partitions.get_mut(old)) {
                        machine.save_vcpu(old.vcpu);
                    }
                    if let Some(entry) = partitions.get_mut(p) {
                        machine.load_vcpu(entry.vcpu);
                    }
                    loaded = Some(p);
                }
                if let Some(entry) = partitions.get_mut(p) {
                    // What came for it since its last window.
                    vgic::vcpu_loaded(entry.partition, entry.vcpu, machine);
                    match run_turn(machine, entry, Some(slot.end)) {
                        TurnEnd::WindowOver => {}
                        TurnEnd::Stopped => idle_until(machine, slot.end, Some(entry)),
                        TurnEnd::Halt(end) => return CoreEnd::Halt(end),
                    }
                }
            }
            None => idle_until(
                machine,
                slot.end,
                loaded.and_then(|p| partitions.get_mut(p)),
            ),
        }
        // The slot is over (its deadline passed): the next one starts now.
        machine.set_deadline(next.end);
        started = machine.now();
        cursor = next_cursor;
        slot = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::exit::Syndrome;
    use crate::config::{Criticality, PartitionImage, PartitionKind, TimeBudget, Window};
    use apex_api::hypercall::Hypercall;
    use apex_api::partition::OperatingMode;
    use apex_api::trace::TraceKind;
    use std::collections::VecDeque;
    use std::fmt;

    /// Ticks from a timer deadline to the kernel seeing it (constant, as under icount).
    const LATENCY: u64 = 3;

    /// What a simulated partition does each time it is entered.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        /// Runs (with interrupts masked, say) until the window timer takes the core.
        Spin,
        /// Makes a hypercall after `after` ticks.
        Call { function: u64, after: u64 },
        /// The same, with `x1` = `arg`.
        CallWith { function: u64, arg: u64, after: u64 },
        /// The same, with `x1`, `x2` = `args`.
        Call2 {
            function: u64,
            args: [u64; 2],
            after: u64,
        },
        /// Touches memory it does not have after `after` ticks.
        Fault { after: u64 },
        /// Stores the 32-bit `value` (from x5) at `ipa`, which is not mapped, after `after`
        /// ticks.
        Store { ipa: u64, value: u64, after: u64 },
    }

    impl Step {
        fn with_arg(self, arg: u64) -> Self {
            match self {
                Step::Call { function, after } => Step::CallWith {
                    function,
                    arg,
                    after,
                },
                other => other,
            }
        }
    }

    struct Fake {
        now: u64,
        deadline: Option<u64>,
        loaded: Option<u16>,
        scripts: Vec<VecDeque<Step>>,
        log: Vec<String>,
        trace: Vec<TraceEvent>,
        switches: Vec<(&'static str, u16)>,
        /// The simulated EL1 state in the CPU: which partition wrote it.
        cpu_el1_owner: Option<u64>,
        reloads: Vec<u16>,
        wakes: Vec<usize>,
        /// Each entry into a partition: (partition, x0, x1, now).
        entries: Vec<(u16, u64, u64, u64)>,
        /// A doorbell another core rings while this one sleeps: (partition, port, after).
        ring_while_asleep: Option<(u16, u16, u64)>,
        woken: bool,
        /// Device interrupts that fire, in time order: (time, INTID).
        device_irqs: VecDeque<(u64, u32)>,
        device_pending: Option<u32>,
        /// The partitions, for `interrupt_owner`.
        owners: Vec<&'static Partition>,
        /// Free list registers of the loaded vCPU.
        free_list_registers: usize,
        /// Virtual interrupts delivered: (partition loaded, INTID, when).
        injected: Vec<(u16, u32, u64)>,
        maintenance_asked: bool,
        spis: Vec<(u32, crate::machine::SpiOp)>,
        virtual_timer_interrupt: bool,
        virtual_timer_ended: usize,
        /// The partition that takes console input, and what its UART has received.
        console_input: Option<&'static Partition>,
        typed: VecDeque<u8>,
        receive_interrupt: bool,
    }

    impl Fake {
        /// The next device interrupt, if it fires before `deadline`: then the time is its.
        fn device_irq_before(&mut self, deadline: u64) -> bool {
            match self.device_irqs.front() {
                Some(&(at, intid)) if at < deadline => {
                    self.device_irqs.pop_front();
                    self.now = self.now.max(at) + LATENCY;
                    self.device_pending = Some(intid);
                    true
                }
                _ => false,
            }
        }
    }

    fn id_of(vcpu: &VcpuContext) -> u16 {
        (vcpu.vttbr >> 48) as u16 - 1
    }

    impl Machine for Fake {
        fn core(&self) -> usize {
            0
        }
        fn now(&self) -> u64 {
            self.now
        }
        fn log(&mut self, args: fmt::Arguments) {
            self.log.push(args.to_string());
        }
        fn set_deadline(&mut self, at: u64) {
            self.deadline = Some(at);
        }
        fn load_vcpu(&mut self, vcpu: &VcpuContext) {
            assert!(
                self.loaded.is_none(),
                "loaded over a vCPU that was not saved"
            );
            self.loaded = Some(id_of(vcpu));
            self.cpu_el1_owner = Some(vcpu.el1.tpidr_el1);
            self.switches.push(("load", id_of(vcpu)));
        }
        fn save_vcpu(&mut self, vcpu: &mut VcpuContext) {
            assert_eq!(self.loaded, Some(id_of(vcpu)), "saved into the wrong vCPU");
            vcpu.el1.tpidr_el1 = self.cpu_el1_owner.unwrap();
            self.loaded = None;
            self.switches.push(("save", id_of(vcpu)));
        }
        fn run_vcpu(&mut self, vcpu: &mut VcpuContext) -> Exit {
            let id = id_of(vcpu);
            assert_eq!(self.loaded, Some(id), "ran a vCPU that is not loaded");
            self.entries
                .push((id, vcpu.regs.x[0], vcpu.regs.x[1], self.now));
            // The partition's own EL1 state is what it finds in the CPU (its marker, or the
            // reset value after a restart), never another partition's.
            let owner = self.cpu_el1_owner;
            assert!(
                owner == Some(u64::from(id) + 100) || owner == Some(0),
                "{owner:?}"
            );
            let deadline = self
                .deadline
                .expect("a partition runs only under a deadline");
            if self.now >= deadline {
                self.now = self.now.max(deadline + LATENCY);
                return Exit::Interrupt;
            }
            // A device interrupt interrupts a spinning partition (device tests only spin).
            let spins = matches!(
                self.scripts[usize::from(id)].front(),
                None | Some(Step::Spin)
            );
            if spins && self.device_irq_before(deadline) {
                return Exit::Interrupt;
            }
            let step = self.scripts[usize::from(id)]
                .pop_front()
                .unwrap_or(Step::Spin);
            match step {
                Step::Spin => {
                    self.now = deadline + LATENCY;
                    Exit::Interrupt
                }
                Step::Call { function, after } => {
                    self.now += after;
                    vcpu.regs.x[0] = function;
                    Exit::Hypercall { smc: false }
                }
                Step::Call2 {
                    function,
                    args,
                    after,
                } => {
                    self.now += after;
                    vcpu.regs.x[0] = function;
                    vcpu.regs.x[1..3].copy_from_slice(&args);
                    Exit::Hypercall { smc: false }
                }
                Step::CallWith {
                    function,
                    arg,
                    after,
                } => {
                    self.now += after;
                    vcpu.regs.x[0] = function;
                    vcpu.regs.x[1] = arg;
                    Exit::Hypercall { smc: false }
                }
                Step::Store { ipa, value, after } => {
                    self.now += after;
                    vcpu.regs.x[5] = value;
                    // Data abort from a lower EL, ISV, word (SAS = 2), x5, write,
                    // translation fault level 3.
                    let esr = (0x24 << 26) | (1 << 25) | (1 << 24) | (2 << 22) | (5 << 16);
                    Exit::decode(
                        crate::arch::exit::Vector::Sync,
                        Syndrome {
                            esr: esr | (1 << 6) | 0x07,
                            far: ipa,
                            hpfar: (ipa >> 12) << 4,
                        },
                    )
                }
                Step::Fault { after } => {
                    self.now += after;
                    Exit::decode(
                        crate::arch::exit::Vector::Sync,
                        Syndrome {
                            esr: (0x24 << 26) | (1 << 6) | 0x06,
                            far: 0x4800_0000,
                            hpfar: (0x4800_0000 >> 12) << 4,
                        },
                    )
                }
            }
        }
        fn wait_for_interrupt(&mut self) {
            let deadline = self
                .deadline
                .expect("idle without a deadline would sleep forever");
            if self.device_irq_before(deadline) {
                return;
            }
            if let Some((partition, port, after)) = self.ring_while_asleep {
                let state = crate::partition::state(usize::from(partition)).unwrap();
                if state.waiting_core().is_some() && self.now + after < deadline {
                    self.ring_while_asleep = None;
                    self.now += after;
                    let core =
                        crate::partition::state(usize::from(partition)).and_then(|s| s.ring(port));
                    assert_eq!(core, Some(0), "the sleeper announced it waits on core 0");
                    self.woken = true;
                    return;
                }
            }
            self.now = self.now.max(deadline + LATENCY);
        }
        fn take_interrupt(&mut self) -> Option<Interrupt> {
            if let Some(intid) = self.device_pending.take() {
                return Some(if intid == crate::machine::VIRTUAL_TIMER_INTID {
                    Interrupt::VirtualTimer
                } else if intid == bsp::QEMU_VIRT.kernel_uart_interrupt {
                    Interrupt::ConsoleInput
                } else {
                    Interrupt::Device(intid)
                });
            }
            if core::mem::take(&mut self.woken) {
                return Some(Interrupt::Wakeup);
            }
            (self.deadline.is_some_and(|d| self.now >= d)).then_some(Interrupt::WindowTimer)
        }
        fn trace(&mut self, event: TraceEvent) {
            self.trace.push(event);
        }
        fn read_guest(&mut self, _phys: u64, buf: &mut [u8]) {
            buf.fill(b'x');
        }
        fn console_write(&mut self, _partition: u16, _bytes: &[u8]) {}
        fn end_console_line(&mut self, _partition: u16) {}
        fn counter_hz(&self) -> u64 {
            1_000_000
        }
        fn reload_image(&mut self, partition: &Partition) -> bool {
            self.reloads.push(partition.id);
            true
        }
        fn channel(&self, index: u16) -> Option<&'static crate::config::Channel> {
            // Channel 0 (every partition's port 0 names it): from b to a.
            static CHANNEL: crate::config::Channel = crate::config::Channel {
                name: "b_to_a",
                source: crate::config::PortId {
                    partition: 1,
                    port: 0,
                },
                destinations: &[crate::config::PortId {
                    partition: 0,
                    port: 0,
                }],
                max_message_size: 8,
                data: crate::config::PhysRange::new(0x4800_0000, 0x1000),
                ack: Some(crate::config::PhysRange::new(0x4800_1000, 0x1000)),
            };
            (index == 0).then_some(&CHANNEL)
        }
        fn wake(&mut self, core: usize) {
            self.wakes.push(core);
        }
        fn board(&self) -> &'static crate::config::Board {
            &bsp::QEMU_VIRT
        }
        fn partition(&self, id: u16) -> Option<&'static Partition> {
            self.owners.iter().copied().find(|p| p.id == id)
        }
        fn interrupt_owner(&self, intid: u32) -> Option<&'static Partition> {
            self.owners
                .iter()
                .copied()
                .find(|p| p.interrupts.contains(&intid))
        }
        fn inject(&mut self, intid: u32, _priority: u8) -> bool {
            if self.free_list_registers == 0 {
                self.maintenance_asked = true;
                return false;
            }
            self.free_list_registers -= 1;
            let loaded = self.loaded.expect("injected with no vCPU loaded");
            self.injected.push((loaded, intid, self.now));
            true
        }
        fn inject_emulated(&mut self, intid: u32, priority: u8) -> bool {
            self.inject(intid, priority)
        }
        fn holds_virtual(&mut self, intid: u32) -> bool {
            let loaded = self.loaded;
            self.injected
                .iter()
                .any(|&(p, i, _)| Some(p) == loaded && i == intid)
        }
        fn console_input(&self) -> Option<&'static Partition> {
            self.console_input
        }
        fn console_receive(&mut self, buf: &mut [u8]) -> usize {
            let n = buf.len().min(self.typed.len());
            for b in &mut buf[..n] {
                *b = self.typed.pop_front().unwrap();
            }
            n
        }
        fn console_receive_interrupt(&mut self, enabled: bool) {
            self.receive_interrupt = enabled;
        }
        fn stop_maintenance(&mut self) {
            self.maintenance_asked = false;
        }
        fn spi(&mut self, intid: u32, op: crate::machine::SpiOp) {
            self.spis.push((intid, op));
        }
        fn spi_state(&mut self, _intid: u32) -> crate::machine::SpiState {
            crate::machine::SpiState::default()
        }
        fn set_virtual_timer_interrupt(&mut self, enabled: bool) {
            self.virtual_timer_interrupt = enabled;
        }
        fn end_virtual_timer(&mut self) {
            self.virtual_timer_ended += 1;
            self.virtual_timer_interrupt = false;
        }
    }

    fn partition(id: u16, kind: PartitionKind) -> &'static Partition {
        Box::leak(Box::new(Partition {
            id,
            name: ["a", "b", "c", "sup"][usize::from(id)],
            kind,
            vmid: id + 1,
            criticality: Criticality::C,
            pmu: false,
            cores: &[0],
            time: Some(TimeBudget {
                period_ticks: 100,
                duration_ticks: 10,
            }),
            regions: &[],
            // a owns INTID 40, b 41 (only the device interrupt tests make them fire).
            interrupts: match id {
                0 => &[40],
                1 => &[41],
                _ => &[],
            },
            // RAISE_APPLICATION_ERROR: a is ignored, c cold-started, b and sup get the
            // default (IDLE).
            hm: match id {
                0 => &[crate::config::PartitionHmEntry {
                    error: apex_api::health::HmError::ApplicationError,
                    action: crate::config::HmAction::Partition(
                        apex_api::health::PartitionAction::Ignore,
                    ),
                }],
                2 => &[crate::config::PartitionHmEntry {
                    error: apex_api::health::HmError::ApplicationError,
                    action: crate::config::HmAction::Partition(
                        apex_api::health::PartitionAction::ColdStart,
                    ),
                }],
                _ => &[],
            },
            // One queuing port each, so a partition can wait for its doorbell.
            ports: &[crate::config::Port {
                name: "in",
                kind: crate::config::PortKind::Queuing {
                    max_messages: 1,
                    discipline: crate::config::QueuingDiscipline::Fifo,
                },
                direction: crate::config::PortDirection::Destination,
                max_message_size: 8,
                channel: 0,
                data_ipa: 0x5000_0000,
                ack_ipa: 0x5000_1000,
            }],
            image: &PartitionImage {
                entry_ipa: 0x4000_0000,
                segments: &[],
                boot_argument: 0,
            },
        }))
    }

    /// Core 0: a, b, c in uneven windows with gaps, and the supervisor last.
    fn schedule() -> &'static CoreSchedule {
        let windows = [(0, 0, 20), (1, 20, 50), (2, 80, 5), (3, 90, 5)].map(
            |(partition, offset_ticks, duration_ticks)| Window {
                partition,
                offset_ticks,
                duration_ticks,
            },
        );
        Box::leak(Box::new(CoreSchedule {
            core: 0,
            major_frame_ticks: 100,
            windows: Box::leak(Box::new(windows)),
        }))
    }

    fn run(scripts: [Vec<Step>; 4], start_at: u64, first_frame: u64) -> (Fake, CoreEnd) {
        run_with(scripts, start_at, first_frame, None)
    }

    fn run_with(
        scripts: [Vec<Step>; 4],
        start_at: u64,
        first_frame: u64,
        ring_while_asleep: Option<(u16, u16, u64)>,
    ) -> (Fake, CoreEnd) {
        run_devices(
            scripts,
            start_at,
            first_frame,
            ring_while_asleep,
            &[],
            4,
            None,
        )
    }

    fn run_devices(
        scripts: [Vec<Step>; 4],
        start_at: u64,
        first_frame: u64,
        ring_while_asleep: Option<(u16, u16, u64)>,
        device_irqs: &[(u64, u32)],
        free_list_registers: usize,
        console_input: Option<(u16, &[u8])>,
    ) -> (Fake, CoreEnd) {
        let mut fake = Fake {
            now: start_at,
            deadline: None,
            loaded: None,
            scripts: scripts.into_iter().map(VecDeque::from).collect(),
            log: Vec::new(),
            trace: Vec::new(),
            switches: Vec::new(),
            cpu_el1_owner: None,
            reloads: Vec::new(),
            wakes: Vec::new(),
            entries: Vec::new(),
            ring_while_asleep,
            woken: false,
            device_irqs: device_irqs.iter().copied().collect(),
            device_pending: None,
            owners: Vec::new(),
            free_list_registers,
            injected: Vec::new(),
            maintenance_asked: false,
            spis: Vec::new(),
            virtual_timer_interrupt: false,
            virtual_timer_ended: 0,
            console_input: None,
            typed: VecDeque::new(),
            receive_interrupt: true,
        };
        let mut partitions = CorePartitions::new();
        for id in 0..4u16 {
            let kind = if id == 3 {
                PartitionKind::System
            } else {
                PartitionKind::BareMetal
            };
            let p = partition(id, kind);
            fake.owners.push(p);
            let vcpu = Box::leak(Box::new(VcpuContext::first_entry(
                0x4000_0000,
                u64::from(id),
                0,
                u64::from(id + 1) << 48,
            )));
            vcpu.el1.tpidr_el1 = u64::from(id) + 100;
            partitions.insert(p, vcpu);
        }
        if let Some((id, typed)) = console_input {
            fake.console_input = Some(fake.owners[usize::from(id)]);
            fake.typed.extend(typed);
        }
        let end = run_time_partitioned(&mut fake, schedule(), &mut partitions, first_frame);
        (fake, end)
    }

    fn shutdown_in_frame(frame: usize) -> Vec<Step> {
        let mut steps = vec![Step::Spin; frame];
        steps.push(Step::Call {
            function: Hypercall::ModuleShutdown as u64,
            after: 1,
        });
        steps
    }

    fn window_starts(fake: &Fake) -> Vec<(Option<u16>, u64, u64)> {
        fake.trace
            .iter()
            .filter(|e| e.kind == TraceKind::WindowStart)
            .map(|e| (e.partition, e.planned, e.time))
            .collect()
    }

    #[test]
    fn windows_start_on_plan_plus_a_constant_and_spinners_lose_the_core() {
        // Everyone spins with interrupts masked; the supervisor ends the module in frame 50.
        let (fake, end) = run([vec![], vec![], vec![], shutdown_in_frame(50)], 0, 1000);
        assert_eq!(
            end,
            CoreEnd::Halt(ModuleEnd::Shutdown {
                by: "sup",
                status: 0
            })
        );
        let starts = window_starts(&fake);
        // 50 whole frames of 4 windows and 3 gaps, then frame 51 up to the supervisor's
        // window.
        assert_eq!(starts.len(), 50 * 7 + 6);
        for (i, &(_, planned, actual)) in starts.iter().enumerate() {
            let frame = 1000 + (i as u64 / 7) * 100;
            assert!(planned >= frame && planned < frame + 100);
            // Jitter 0: every window starts LATENCY after its plan; the first one on time
            // because the core waited for the frame with nothing else to do.
            assert_eq!(actual - planned, LATENCY, "slot {i}: {starts:?}");
        }
        let frame: Vec<(Option<u16>, u64)> = starts[..7].iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(
            frame,
            [
                (Some(0), 1000),
                (Some(1), 1020),
                (None, 1070),
                (Some(2), 1080),
                (None, 1085),
                (Some(3), 1090),
                (None, 1095)
            ]
        );
    }

    #[test]
    fn each_switch_saves_the_outgoing_state_and_loads_the_incoming() {
        let (fake, _) = run([vec![], vec![], vec![], shutdown_in_frame(2)], 0, 0);
        // The fake asserts on every entry that the partition finds its own EL1 state.
        assert_eq!(
            fake.switches[..6],
            [
                ("load", 0),
                ("save", 0),
                ("load", 1),
                ("save", 1),
                ("load", 2),
                ("save", 2)
            ]
        );
    }

    #[test]
    fn a_faulting_partition_stops_and_no_one_elses_timing_changes() {
        let (quiet, _) = run([vec![], vec![], vec![], shutdown_in_frame(10)], 0, 0);
        let (faulty, _) = run(
            [
                vec![],
                vec![Step::Spin, Step::Fault { after: 7 }],
                vec![],
                shutdown_in_frame(10),
            ],
            0,
            0,
        );
        assert!(faulty.log.iter().any(|l| {
            l.starts_with("HM: partition 'b' stage-2 abort on core 0: write at IPA 0x48000000")
        }));
        assert!(
            faulty
                .log
                .iter()
                .any(|l| l == "partition 'b' stopped; its windows stay idle")
        );
        // Every window starts exactly when it did without the fault, the stopped partition's
        // windows included (they are idle now).
        assert_eq!(window_starts(&quiet), window_starts(&faulty));
        assert!(
            faulty
                .trace
                .iter()
                .any(|e| e.kind == TraceKind::HealthMonitor && e.partition == Some(1))
        );
    }

    #[test]
    fn hypercalls_in_a_window_do_not_move_its_end() {
        let calls: Vec<Step> = (0..5)
            .map(|_| Step::Call {
                function: Hypercall::Null as u64,
                after: 2,
            })
            .collect();
        let (quiet, _) = run([vec![], vec![], vec![], shutdown_in_frame(3)], 0, 0);
        let (busy, _) = run([calls, vec![], vec![], shutdown_in_frame(3)], 0, 0);
        assert_eq!(window_starts(&quiet), window_starts(&busy));
    }

    #[test]
    fn restarts_and_idle_touch_only_the_partition_itself() {
        let mode = |m: u64| {
            Step::Call {
                function: Hypercall::SetPartitionMode as u64,
                after: 1,
            }
            .with_arg(m)
        };
        let (quiet, _) = run([vec![], vec![], vec![], shutdown_in_frame(6)], 0, 0);
        let (busy, _) = run(
            [
                vec![],
                // Normal, then a cold start in frame 1, a warm start in frame 2, IDLE in 3.
                vec![
                    mode(3),
                    Step::Spin,
                    mode(3),
                    mode(1),
                    Step::Spin,
                    mode(3),
                    mode(2),
                    Step::Spin,
                    mode(0),
                ],
                vec![],
                shutdown_in_frame(6),
            ],
            0,
            0,
        );
        assert_eq!(window_starts(&quiet), window_starts(&busy));
        assert_eq!(busy.reloads, [1], "only the cold start reloads, and only b");
        let restarts: Vec<(u8, u32)> = busy
            .trace
            .iter()
            .filter(|e| e.kind == TraceKind::Restart)
            .map(|e| (e.detail, e.arg))
            .collect();
        assert_eq!(
            restarts,
            [(0, 1), (1, 1)],
            "cold then warm, both PARTITION_RESTART"
        );
        let modes: Vec<&str> = busy
            .log
            .iter()
            .filter(|l| l.starts_with("partition 'b': mode"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            modes,
            [
                "partition 'b': mode COLD_START -> NORMAL",
                "partition 'b': mode NORMAL -> COLD_START",
                "partition 'b': mode COLD_START -> NORMAL",
                "partition 'b': mode NORMAL -> WARM_START",
                "partition 'b': mode WARM_START -> IDLE",
            ]
        );
        // NORMAL when already NORMAL is refused with NO_ACTION and changes nothing.
        assert_eq!(modes.len(), 5);
        // After IDLE, b never runs again: its script's remaining steps are never taken.
        assert!(busy.scripts[1].is_empty());
    }

    #[test]
    fn a_core_that_starts_late_joins_the_current_window() {
        let (fake, _) = run([vec![], vec![], vec![], shutdown_in_frame(1)], 1035, 1000);
        let first = window_starts(&fake)[0];
        assert_eq!(first, (Some(1), 1020, 1035));
    }

    fn normal() -> Step {
        Step::Call {
            function: Hypercall::SetPartitionMode as u64,
            after: 1,
        }
        .with_arg(OperatingMode::Normal as u64)
    }

    fn wait(deadline: u64, doorbells: u64) -> Step {
        Step::Call2 {
            function: Hypercall::Wait as u64,
            args: [deadline, doorbells],
            after: 1,
        }
    }

    /// The entries into partition `id` after its first `skip`: (x0, x1, now).
    fn entries_of(fake: &Fake, id: u16, skip: usize) -> Vec<(u64, u64, u64)> {
        fake.entries
            .iter()
            .filter(|e| e.0 == id)
            .skip(skip)
            .map(|e| (e.1, e.2, e.3))
            .collect()
    }

    #[test]
    fn a_timed_wait_idles_the_window_and_keeps_everyone_s_timing() {
        // a (window 0..20 of each 100-tick frame) waits until 10: answered TIMED_OUT at
        // the timer, then runs on to its window's end. Then it waits until 250, which
        // outlasts two of its windows: it idles through them and is answered in frame 2.
        let (quiet, _) = run([vec![], vec![], vec![], shutdown_in_frame(4)], 0, 0);
        let (fake, _) = run(
            [
                vec![normal(), wait(10, 0), Step::Spin, wait(250, 0)],
                vec![],
                vec![],
                shutdown_in_frame(4),
            ],
            0,
            0,
        );
        assert_eq!(window_starts(&quiet), window_starts(&fake));
        let timed_out = ReturnCode::TimedOut as u64;
        // Entries after the first two calls: the first wait answered at its deadline (plus
        // the timer latency), not at the window's, then spinning to the window's end; the
        // second wait in frame 1; answered only when a's window in frame 3 (300..320)
        // comes: frame 2's window (200..220) ends before 250.
        let entries = entries_of(&fake, 0, 2);
        assert_eq!(entries[0], (timed_out, 0, 10 + LATENCY), "{entries:?}");
        assert!((100..120).contains(&entries[1].2), "{entries:?}");
        let (x0, x1, at) = entries[2];
        assert_eq!((x0, x1), (timed_out, 0));
        assert!((300..320).contains(&at), "answered at {at}: {entries:?}");
    }

    #[test]
    fn a_doorbell_that_rang_before_the_wait_ends_it_at_once() {
        let state = crate::partition::state(0).unwrap();
        state.take_doorbells(u64::MAX);
        state.ring(0);
        let (fake, _) = run(
            [
                vec![normal(), wait(apex_api::hypercall::NO_DEADLINE, 1)],
                vec![],
                vec![],
                shutdown_in_frame(2),
            ],
            0,
            0,
        );
        let (x0, x1, at) = entries_of(&fake, 0, 2)[0];
        assert_eq!((x0, x1), (ReturnCode::NoError as u64, 1));
        assert!(at < 10, "answered at once, at {at}");
        assert!(!state.has_doorbells(1), "the doorbell was taken");
    }

    #[test]
    fn a_doorbell_wakes_a_waiting_partition_on_its_core() {
        // c (window 80..85) waits with no deadline from the end of its first window; in
        // the next, another core rings its doorbell 1 tick after it falls asleep.
        crate::partition::state(2).unwrap().take_doorbells(u64::MAX);
        let (fake, _) = run_with(
            [
                vec![],
                vec![],
                vec![normal(), wait(apex_api::hypercall::NO_DEADLINE, 1)],
                shutdown_in_frame(2),
            ],
            0,
            0,
            Some((2, 0, 1)),
        );
        let entries = entries_of(&fake, 2, 0);
        let (x0, x1, at) = *entries
            .get(2)
            .unwrap_or_else(|| panic!("c ran again after its wait: {entries:?} {:?}", fake.log));
        assert_eq!((x0, x1), (ReturnCode::NoError as u64, 1), "{entries:?}");
        assert!((180..185).contains(&at), "woken within its window, at {at}");
    }

    #[test]
    fn application_errors_get_the_action_of_the_partition_s_hm_table() {
        let raise = || Step::Call {
            function: Hypercall::RaiseApplicationError as u64,
            after: 1,
        };
        let (quiet, _) = run([vec![], vec![], vec![], shutdown_in_frame(4)], 0, 0);
        let (fake, _) = run(
            [
                // a: ignored, goes on; b: the default, IDLE; c: cold start.
                vec![raise(), Step::Spin],
                vec![raise()],
                vec![raise()],
                shutdown_in_frame(4),
            ],
            0,
            0,
        );
        assert_eq!(window_starts(&quiet), window_starts(&fake));
        let hm: Vec<(Option<u16>, u8, u32)> = fake
            .trace
            .iter()
            .filter(|e| e.kind == TraceKind::HealthMonitor)
            .map(|e| (e.partition, e.detail, e.arg))
            .collect();
        let error = apex_api::health::HmError::ApplicationError.code();
        assert_eq!(
            hm,
            [
                (Some(0), error, 0),
                (Some(1), error, 1),
                (Some(2), error, 2)
            ]
        );
        // a resumed with NO_ERROR; c was reloaded (cold) and restarted; b never ran again.
        assert_eq!(entries_of(&fake, 0, 1)[0].0, ReturnCode::NoError as u64);
        assert_eq!(fake.reloads, [2]);
        assert_eq!(entries_of(&fake, 1, 1), [], "b stopped");
        assert!(
            entries_of(&fake, 2, 1).len() >= 3,
            "c runs on after its restart"
        );
    }

    /// The device interrupt tests share partitions' global state (their virtual
    /// distributors and pending sets): one at a time.
    static DEVICE_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Distributor operations nobody looks at.
    struct NoSpis;
    impl crate::vgic::Spis for NoSpis {
        fn spi(&mut self, _intid: u32, _op: crate::machine::SpiOp) {}
        fn spi_state(&mut self, _intid: u32) -> crate::machine::SpiState {
            crate::machine::SpiState::default()
        }
        fn set_virtual_timer_interrupt(&mut self, _enabled: bool) {}
    }

    /// As [`devices_of`], and its virtual timer's interrupt enabled in its redistributor.
    fn timer_of(id: u16) {
        devices_of(id, true);
        let sgi = crate::vgic::Frame::RedistributorSgi { vcpu: 0 };
        guest_writes(id, sgi, 0x100, 1 << crate::machine::VIRTUAL_TIMER_INTID);
    }

    /// Partition `id`'s vCPU 0 stores `value` at `offset` of `frame` of its virtual GIC, as
    /// it would itself (none of these writes is an attempt on anyone else's interrupt).
    fn guest_writes(id: u16, frame: crate::vgic::Frame, offset: u64, value: u64) {
        let p = partition(id, PartitionKind::BareMetal);
        let state = crate::partition::state(usize::from(id)).unwrap();
        let access = crate::vgic::Access {
            offset,
            size: 4,
            write: Some(value),
        };
        crate::vgic::emulate(
            p,
            0,
            &bsp::QEMU_VIRT,
            &mut state.vgic.lock(),
            frame,
            access,
            &mut NoSpis,
            &mut |v| panic!("{v:?}"),
        );
    }

    #[test]
    fn a_virtual_timer_interrupt_goes_to_the_vcpu_whose_timer_it_is() {
        let _one = DEVICE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        devices_of(0, false);
        timer_of(1);
        // a has not enabled its timer's interrupt (t = 5, its window): it ends there. b's
        // fires in its window (t = 30): at once; and in the gap after it (t = 75, b's vCPU
        // still loaded): at b's next window (120).
        let (fake, _) = run_devices(
            [vec![], vec![], vec![], shutdown_in_frame(3)],
            0,
            0,
            None,
            &[(5, 27), (30, 27), (75, 27)],
            4,
            None,
        );
        assert_eq!(fake.virtual_timer_ended, 1);
        assert_eq!(
            fake.injected,
            [(1, 27, 30 + LATENCY), (1, 27, 120 + LATENCY)]
        );
        assert!(
            fake.log.iter().all(|l| !l.contains("unexpected")),
            "{:?}",
            fake.log
        );
        devices_of(1, false);
    }

    /// Partition `id`'s interrupts back to their boot state, then, if `enable`, its
    /// distributor's group 1 and every interrupt of its own enabled, as the partition itself
    /// would through its virtual distributor.
    fn devices_of(id: u16, enable: bool) {
        let p = partition(id, PartitionKind::BareMetal);
        crate::vgic::reset(p, &mut NoSpis);
        if !enable {
            return;
        }
        let distributor = crate::vgic::Frame::Distributor;
        guest_writes(id, distributor, 0, 2);
        for &intid in p.interrupts {
            let word = 0x100 + u64::from(intid / 32) * 4;
            guest_writes(id, distributor, word, 1 << (intid % 32));
        }
    }

    #[test]
    fn a_device_interrupt_waits_for_its_owners_window() {
        let _one = DEVICE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        devices_of(1, true);
        // b's INTID 41 fires in a's window (t = 5) and in b's own (t = 130, frame 1).
        let (fake, _) = run_devices(
            [vec![], vec![], vec![], shutdown_in_frame(3)],
            0,
            0,
            None,
            &[(5, 41), (130, 41)],
            4,
            None,
        );
        // Delivered when b's window starts (20 + LATENCY), not before, and at once when b
        // runs: into b's vCPU both times.
        assert_eq!(
            fake.injected,
            [(1, 41, 20 + LATENCY), (1, 41, 130 + LATENCY)]
        );
        // Nobody's windows moved.
        let (quiet, _) = run([vec![], vec![], vec![], shutdown_in_frame(3)], 0, 0);
        assert_eq!(window_starts(&quiet), window_starts(&fake));
    }

    #[test]
    fn a_device_interrupt_is_delivered_only_once_its_owner_enabled_it() {
        let _one = DEVICE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        devices_of(1, false);
        let (fake, _) = run_devices(
            [vec![], vec![], vec![], shutdown_in_frame(2)],
            0,
            0,
            None,
            &[(30, 41)],
            4,
            None,
        );
        assert_eq!(fake.injected, [], "b never enabled it");
        let state = crate::partition::state(1).unwrap();
        assert_eq!(
            state
                .virq_pending
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        devices_of(1, false);
    }

    #[test]
    fn with_no_free_list_register_a_device_interrupt_waits_for_the_maintenance_interrupt() {
        let _one = DEVICE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        devices_of(0, true);
        let (fake, _) = run_devices(
            [vec![], vec![], vec![], shutdown_in_frame(2)],
            0,
            0,
            None,
            &[(5, 40)],
            0,
            None,
        );
        assert_eq!(fake.injected, []);
        assert!(fake.maintenance_asked);
        let state = crate::partition::state(0).unwrap();
        assert_eq!(
            state
                .virq_pending
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        devices_of(0, false);
    }

    /// Partition `id`'s virtual UART with its receive interrupts unmasked, as Linux's
    /// amba-pl011 driver leaves it, and its input queue empty.
    fn uart_receives(id: u16) {
        let state = crate::partition::state(usize::from(id)).unwrap();
        state
            .vuart
            .lock()
            .access(0x038, Some(0x50), None, &mut |_| {});
        *crate::vuart::CONSOLE_INPUT.lock() = crate::vuart::InputQueue::new();
    }

    /// What partition `id` reads from its UART's data register while its receiver has data.
    fn uart_reads(id: u16) -> Vec<u8> {
        let state = crate::partition::state(usize::from(id)).unwrap();
        let mut uart = state.vuart.lock();
        let mut queue = crate::vuart::CONSOLE_INPUT.lock();
        let mut read = Vec::new();
        while uart.access(0x018, None, Some(&mut queue), &mut |_| {}) & (1 << 4) == 0 {
            read.push(uart.access(0x000, None, Some(&mut queue), &mut |_| {}) as u8);
        }
        read
    }

    #[test]
    fn typed_input_reaches_only_the_partition_that_takes_it_in_its_window() {
        let _one = DEVICE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        devices_of(1, true);
        let uart = bsp::QEMU_VIRT.kernel_uart_interrupt;
        guest_writes(1, crate::vgic::Frame::Distributor, 0x104, 1 << (uart % 32));
        uart_receives(1);
        // b takes console input; "ls\r" arrives in a's window (t = 5), "x" in b's (t = 130).
        let (fake, _) = run_devices(
            [vec![], vec![], vec![], shutdown_in_frame(3)],
            0,
            0,
            None,
            &[(5, uart), (130, uart)],
            4,
            Some((1, b"ls\rx")),
        );
        // Its UART interrupt, emulated: at b's window, then at once in b's own window (the
        // Fake's UART gave everything typed at the first interrupt; the second finds the
        // line already up and pending in the list register: one injection each time b runs).
        assert_eq!(fake.injected[0], (1, uart, 20 + LATENCY));
        assert!(fake.injected.iter().all(|&(p, i, _)| p == 1 && i == uart));
        assert_eq!(uart_reads(1), b"ls\rx");
        assert!(fake.receive_interrupt, "never throttled");
        // Nobody's windows moved.
        let (quiet, _) = run([vec![], vec![], vec![], shutdown_in_frame(3)], 0, 0);
        assert_eq!(window_starts(&quiet), window_starts(&fake));
        devices_of(1, false);
    }

    #[test]
    fn typed_input_that_does_not_fit_waits_in_the_uart_and_nothing_is_lost() {
        let _one = DEVICE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        devices_of(1, true);
        uart_receives(1);
        let uart = bsp::QEMU_VIRT.kernel_uart_interrupt;
        let typed: Vec<u8> = (0..300u16).map(|i| b'a' + (i % 26) as u8).collect();
        let (mut fake, _) = run_devices(
            [vec![], vec![], vec![], shutdown_in_frame(1)],
            0,
            0,
            None,
            &[(5, uart)],
            4,
            Some((1, &typed)),
        );
        assert!(!fake.receive_interrupt, "throttled when the queue filled");
        assert_eq!(fake.typed.len(), 300 - crate::vuart::INPUT_CAPACITY);
        // b reads its queue: the kernel turns the receive interrupt back on (the Machine
        // call happens in the trap path; here the queue says so), and the rest follows.
        let mut read = uart_reads(1);
        assert!(crate::vuart::CONSOLE_INPUT.lock().resume());
        let p = fake.owners[1];
        crate::vuart::receive(p, &mut fake);
        read.extend(uart_reads(1));
        assert_eq!(read, typed);
        devices_of(1, false);
    }

    #[test]
    fn a_store_to_the_doorbell_register_rings_like_the_hypercall() {
        let b = crate::partition::state(1).unwrap();
        b.take_doorbells(u64::MAX);
        let register = apex_api::info::DOORBELL_PAGE_IPA;
        let store = |ipa: u64, value: u64| Step::Store {
            ipa,
            value,
            after: 1,
        };
        // a stores a port it does not have (refused: nothing rings), a store elsewhere in the
        // page (nothing), then its port 0, whose source is b.
        let (fake, _) = run(
            [
                vec![
                    store(register, 7),
                    store(register + 8, 0),
                    Step::Spin,
                    store(register, 0),
                ],
                vec![],
                vec![],
                shutdown_in_frame(2),
            ],
            0,
            0,
        );
        assert!(b.has_doorbells(1), "b's port 0 rang");
        assert_eq!(b.take_doorbells(u64::MAX), 1, "and nothing else");
        assert!(
            fake.log
                .iter()
                .all(|l| !l.contains("HM") && !l.contains("fault")),
            "{:?}",
            fake.log
        );
        // a ran on through all of it.
        assert!(entries_of(&fake, 0, 1).len() >= 2, "{:?}", fake.entries);
    }

    #[test]
    fn a_doorbell_raises_the_interrupt_of_a_doorbell_gpio_line_its_partition_unmasked() {
        let _one = DEVICE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        devices_of(0, false);
        devices_of(1, true);
        let b = crate::partition::state(1).unwrap();
        b.take_doorbells(u64::MAX);
        // b's doorbell controller's interrupt, enabled in its distributor like any of its own.
        let doorbell_irq = bsp::QEMU_VIRT.doorbell_interrupts.0;
        let distributor = crate::vgic::Frame::Distributor;
        guest_writes(
            1,
            distributor,
            0x100 + u64::from(doorbell_irq / 32) * 4,
            1 << (doorbell_irq % 32),
        );
        let gpio = apex_api::info::DOORBELL_GPIO_IPA;
        let store = |ipa: u64, value: u64| Step::Store {
            ipa,
            value,
            after: 1,
        };
        // Frame 0: b unmasks line 0 (its port 0's doorbell), GPIOIE. Frame 1: a stores its
        // port 0 in its doorbell register, ringing b's port 0 while b is out (same core:
        // nobody to wake). Frame 2: b clears the line (GPIOIC).
        let (fake, _) = run_devices(
            [
                vec![Step::Spin, store(apex_api::info::DOORBELL_PAGE_IPA, 0)],
                vec![
                    store(gpio + 0x410, 1),
                    Step::Spin,
                    Step::Spin,
                    store(gpio + 0x41c, 1),
                ],
                vec![],
                shutdown_in_frame(3),
            ],
            0,
            0,
            None,
            &[],
            4,
            None,
        );
        // Delivered, emulated, when b's next window starts; once.
        let to_b: Vec<_> = fake
            .injected
            .iter()
            .filter(|i| i.1 == doorbell_irq)
            .collect();
        assert_eq!(
            to_b,
            [&(1, doorbell_irq, 120 + LATENCY)],
            "{:?}",
            fake.injected
        );
        assert!(fake.wakes.is_empty(), "{:?}", fake.wakes);
        // The clear took the doorbell: nothing pending, the line down.
        assert_eq!(b.pending_doorbells(), 0);
        assert!(!b.doorbell_gpio.lock().line_up(0, b.pending_doorbells()));
        assert!(
            fake.log
                .iter()
                .all(|l| !l.contains("HM") && !l.contains("fault")),
            "{:?}",
            fake.log
        );
        devices_of(1, false);
        *b.doorbell_gpio.lock() = crate::doorbell_gpio::DoorbellGpio::new();
        b.set_doorbells_unmasked(0);
    }
}
