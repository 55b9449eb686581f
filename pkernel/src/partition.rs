//! Each partition's runtime state, in one place: what any core may touch ([`PartitionState`]:
//! console queue, log counters, the vCPU context waiting to be claimed) and what only the
//! core that runs it keeps ([`Resident`]: its context, operating mode and start condition);
//! and the kernel operations on a partition: changing its mode, restarting it.

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};

use apex_api::partition::{OperatingMode, StartCondition};
use apex_api::trace::TraceKind;

use crate::arch::context::{FastInterrupts, VcpuContext};
use crate::config::{MAX_CORES, MAX_PARTITIONS, Partition};
use crate::console::PartitionConsole;
use crate::doorbell_gpio::DoorbellGpio;
use crate::klog;
use crate::machine::Machine;
use crate::smp::{Request, Secondaries};
use crate::sync::{SpinLock, TakeOnce};
use crate::trace::TraceEvent;
use crate::vgic::VirtualDistributor;
use crate::vuart::VirtualUart;

/// What the kernel keeps about one partition while the module runs.
pub struct PartitionState {
    /// Its console lines waiting for the UART.
    pub console: SpinLock<PartitionConsole>,
    /// Hypercalls refused so far (only the first few are logged).
    pub refusals: AtomicU32,
    /// Kinds of trapped access already logged (bit = `TrappedKind as u8`).
    pub traps_logged: AtomicU8,
    /// Doorbells rung and not yet taken by a wait, one bit per port of the partition.
    doorbells: AtomicU64,
    /// 1 + the core it is waiting on, idle, for a doorbell; 0 when it is not. A doorbell
    /// wakes that core, and only then: a core is never interrupted for a partition that is
    /// not waiting on it.
    waiting_on: AtomicU8,
    /// Its vCPU 0, owned by the core that runs it.
    vcpu: TakeOnce<VcpuContext>,
    /// Its interrupts waiting for delivery, one bit per line of its virtual distributor:
    /// the entries of `Partition::interrupts`, then its virtual UART's (see `vgic`).
    pub virq_pending: AtomicU64,
    /// Its virtual distributor.
    pub vgic: SpinLock<VirtualDistributor>,
    /// Whether its vCPU 0 takes its virtual timer's interrupt (kept by `vgic` from its
    /// virtual distributor, read without the lock when its vCPU is loaded).
    pub takes_virtual_timer: AtomicBool,
    /// Its attempts on interrupts it does not own so far (only the first few are logged).
    pub gic_violations: AtomicU32,
    /// Its virtual UART.
    pub vuart: SpinLock<VirtualUart>,
    /// The power states of its secondary vCPUs (see `smp`).
    pub secondaries: SpinLock<Secondaries>,
    /// Advances whenever the partition stops or restarts: a secondary vCPU started in an
    /// earlier epoch is off.
    epoch: AtomicU32,
    /// One bit per secondary vCPU whose core has it loaded (from its start until its core
    /// dropped it): a restart waits for none to be left before it touches the partition.
    secondaries_loaded: AtomicU32,
    /// What a secondary vCPU asked of vCPU 0's core, not carried out yet (see `smp`).
    request: SpinLock<Option<Request>>,
    /// Whether `request` holds one (read without the lock on every exit of vCPU 0).
    has_request: AtomicBool,
    /// SGIs waiting for delivery, per vCPU: one bit per SGI INTID (0-15).
    sgi_pending: [AtomicU16; MAX_CORES],
    /// Per vCPU: the interrupts its core's exit vector delivers by itself (kept by `vgic`).
    pub fast_interrupts: [FastInterrupts; MAX_CORES],
    /// Its doorbell GPIO controllers (see `doorbell_gpio`).
    pub doorbell_gpio: SpinLock<DoorbellGpio>,
    /// The doorbells (one bit per port) whose GPIO interrupt it unmasked, for the cores that
    /// ring them (kept from `doorbell_gpio`, read without its lock).
    doorbells_unmasked: AtomicU64,
}

impl PartitionState {
    const fn new() -> Self {
        Self {
            console: SpinLock::new(PartitionConsole::new()),
            refusals: AtomicU32::new(0),
            traps_logged: AtomicU8::new(0),
            doorbells: AtomicU64::new(0),
            waiting_on: AtomicU8::new(0),
            vcpu: TakeOnce::new(VcpuContext::ZERO),
            virq_pending: AtomicU64::new(0),
            vgic: SpinLock::new(VirtualDistributor::new()),
            takes_virtual_timer: AtomicBool::new(false),
            gic_violations: AtomicU32::new(0),
            vuart: SpinLock::new(VirtualUart::new()),
            secondaries: SpinLock::new(Secondaries::new()),
            epoch: AtomicU32::new(0),
            secondaries_loaded: AtomicU32::new(0),
            request: SpinLock::new(None),
            has_request: AtomicBool::new(false),
            sgi_pending: [const { AtomicU16::new(0) }; MAX_CORES],
            fast_interrupts: [const { FastInterrupts::new() }; MAX_CORES],
            doorbell_gpio: SpinLock::new(DoorbellGpio::new()),
            doorbells_unmasked: AtomicU64::new(0),
        }
    }

    /// Where the exit vector of vCPU `index` finds its [`FastInterrupts`]
    /// (`VcpuContext::fast_interrupts`).
    pub fn fast_interrupts_address(&self, index: usize) -> u64 {
        self.fast_interrupts
            .get(index)
            .map_or(0, FastInterrupts::address)
    }

    /// The current epoch (see `epoch`).
    pub fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The partition stops or restarts: every secondary vCPU goes off. Returns whether any
    /// was on (or starting): then their cores are to be woken to drop them.
    pub fn end_secondaries(&self) -> bool {
        // The epoch advances under the lock `start_secondary` reads it under: a secondary
        // started before this is in the old epoch, and none starts after it.
        let mut secondaries = self.secondaries.lock();
        let any = secondaries.all_off();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        drop(secondaries);
        for pending in &self.sgi_pending {
            pending.store(0, Ordering::Relaxed);
        }
        any
    }

    /// For secondary vCPU `vcpu`'s core: the start waiting for it, if any (entry, context
    /// ID, and the epoch it belongs to); from now on the vCPU counts as loaded on its core.
    pub fn start_secondary(&self, vcpu: usize) -> Option<(u64, u64, u32)> {
        let mut secondaries = self.secondaries.lock();
        let (entry, context) = secondaries.take_start(vcpu)?;
        let bit = 1u32.checked_shl(vcpu as u32).unwrap_or(0);
        self.secondaries_loaded.fetch_or(bit, Ordering::AcqRel);
        Some((entry, context, self.epoch()))
    }

    /// For secondary vCPU `vcpu`'s core: it dropped the vCPU (saved and unloaded it).
    pub fn secondary_dropped(&self, vcpu: usize) {
        let bit = 1u32.checked_shl(vcpu as u32).unwrap_or(0);
        self.secondaries_loaded.fetch_and(!bit, Ordering::AcqRel);
    }

    /// Whether any secondary vCPU is still loaded on its core.
    pub fn any_secondary_loaded(&self) -> bool {
        self.secondaries_loaded.load(Ordering::Acquire) != 0
    }

    /// A secondary vCPU asks vCPU 0's core for `request` (a later one replaces an earlier
    /// one not yet carried out: both end the partition's current run).
    pub fn post_request(&self, request: Request) {
        *self.request.lock() = Some(request);
        self.has_request.store(true, Ordering::Release);
    }

    /// For vCPU 0's core: the request waiting, if any.
    #[inline]
    pub fn take_request(&self) -> Option<Request> {
        if !self.has_request.load(Ordering::Acquire) {
            return None;
        }
        self.has_request.store(false, Ordering::Relaxed);
        self.request.lock().take()
    }

    /// Makes SGIs `sgis` (one bit per INTID) pending for vCPU `vcpu`.
    pub fn send_sgis(&self, vcpu: usize, sgis: u16) {
        if let Some(pending) = self.sgi_pending.get(vcpu) {
            pending.fetch_or(sgis, Ordering::AcqRel);
        }
    }

    /// The SGIs pending for vCPU `vcpu` (without taking them).
    pub fn pending_sgis(&self, vcpu: usize) -> u16 {
        self.sgi_pending
            .get(vcpu)
            .map_or(0, |p| p.load(Ordering::Acquire))
    }

    /// Takes SGIs `sgis` of vCPU `vcpu` (delivered).
    pub fn take_sgis(&self, vcpu: usize, sgis: u16) {
        if let Some(pending) = self.sgi_pending.get(vcpu) {
            pending.fetch_and(!sgis, Ordering::AcqRel);
        }
    }

    /// The partition's vCPU 0 context, for the core that runs it (`None` once taken).
    #[allow(clippy::mut_from_ref)] // handed out once, by `TakeOnce`
    pub fn take_vcpu(&'static self) -> Option<&'static mut VcpuContext> {
        self.vcpu.take()
    }

    /// Rings the doorbell of its port `port` (any core). Returns the core to wake: the one
    /// it is waiting on right now, if any.
    pub fn ring(&self, port: u16) -> Option<usize> {
        let bit = 1u64.checked_shl(u32::from(port)).unwrap_or(0);
        // SeqCst pairs with `wait_on`: either the waiter sees this doorbell when it looks
        // again after announcing itself, or this sees the waiter and wakes its core.
        self.doorbells.fetch_or(bit, Ordering::SeqCst);
        self.waiting_core()
    }

    /// The doorbells that have rung and not been taken (one bit per port).
    pub fn pending_doorbells(&self) -> u64 {
        self.doorbells.load(Ordering::SeqCst)
    }

    /// Publishes which doorbells' GPIO interrupt is unmasked (`doorbell_gpio`). SeqCst pairs
    /// with `ring`: either the ringer sees the unmask and raises the interrupt, or the
    /// unmasking access sees the doorbell when it looks at its lines afterwards.
    pub fn set_doorbells_unmasked(&self, mask: u64) {
        self.doorbells_unmasked.store(mask, Ordering::SeqCst);
    }

    /// Whether the GPIO interrupt of port `port`'s doorbell is unmasked.
    pub fn doorbell_unmasked(&self, port: u16) -> bool {
        let bit = 1u64.checked_shl(u32::from(port)).unwrap_or(0);
        self.doorbells_unmasked.load(Ordering::SeqCst) & bit != 0
    }

    /// Whether a doorbell in `mask` has rung (and not been taken).
    pub fn has_doorbells(&self, mask: u64) -> bool {
        self.doorbells.load(Ordering::SeqCst) & mask != 0
    }

    /// Takes the doorbells in `mask` that have rung, leaving the others pending.
    pub fn take_doorbells(&self, mask: u64) -> u64 {
        self.doorbells.fetch_and(!mask, Ordering::SeqCst) & mask
    }

    /// Announces that it waits idle on `core` (`None`: it no longer does). After
    /// announcing, the waiter looks at its doorbells once more before it sleeps.
    pub fn wait_on(&self, core: Option<usize>) {
        let value = core.map_or(0, |c| u8::try_from(c + 1).unwrap_or(u8::MAX));
        self.waiting_on.store(value, Ordering::SeqCst);
    }

    /// The core it is waiting on right now, if any.
    pub fn waiting_core(&self) -> Option<usize> {
        match self.waiting_on.load(Ordering::SeqCst) {
            0 => None,
            core => Some(usize::from(core - 1)),
        }
    }

    /// Forgets every doorbell (the partition restarts).
    pub fn clear_doorbells(&self) {
        self.doorbells.store(0, Ordering::SeqCst);
    }
}

static PARTITIONS: [PartitionState; MAX_PARTITIONS] =
    [const { PartitionState::new() }; MAX_PARTITIONS];

/// What `x0` holds at `partition`'s first instruction: its image's boot argument (a Linux
/// kernel's device tree address, as the arm64 boot protocol wants), or by default its index.
pub fn entry_x0(partition: &Partition) -> u64 {
    match partition.image.boot_argument {
        0 => u64::from(partition.id),
        argument => argument,
    }
}

/// The runtime state of partition `id` (`None` beyond `MAX_PARTITIONS`).
pub fn state(id: usize) -> Option<&'static PartitionState> {
    PARTITIONS.get(id)
}

/// A partition on the core that runs it: its configuration, its vCPU and its mode.
pub struct Resident<'a> {
    pub partition: &'static Partition,
    pub vcpu: &'a mut VcpuContext,
    /// Which of its vCPUs this is: 0, which carries the partition's mode, or a secondary
    /// (see `smp`).
    pub vcpu_index: usize,
    pub mode: OperatingMode,
    pub start_condition: StartCondition,
    /// The wait it is blocked in (its Wait hypercall not yet answered), if any.
    pub waiting: Option<Wait>,
}

/// A partition blocked in a Wait hypercall: until `deadline` (system counter) or one of
/// `doorbells` rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    pub deadline: u64,
    pub doorbells: u64,
}

impl<'a> Resident<'a> {
    /// A partition at module start: cold-start initialisation, normal start.
    pub fn new(partition: &'static Partition, vcpu: &'a mut VcpuContext) -> Self {
        Self {
            partition,
            vcpu,
            vcpu_index: 0,
            mode: OperatingMode::ColdStart,
            start_condition: StartCondition::NormalStart,
            waiting: None,
        }
    }

    /// Secondary vCPU `index` of a partition in NORMAL mode, started by it (see `smp`).
    pub fn secondary(
        partition: &'static Partition,
        vcpu: &'a mut VcpuContext,
        index: usize,
    ) -> Self {
        Self {
            partition,
            vcpu,
            vcpu_index: index,
            mode: OperatingMode::Normal,
            start_condition: StartCondition::NormalStart,
            waiting: None,
        }
    }

    /// On a secondary vCPU: `request` is for vCPU 0's core, which is woken for it; this vCPU
    /// stops.
    fn forward(&mut self, request: Request, machine: &mut impl Machine) {
        if let Some(state) = state(usize::from(self.partition.id)) {
            state.post_request(request);
        }
        if let Some(&core) = self.partition.cores.first() {
            machine.wake(usize::from(core));
        }
        self.mode = OperatingMode::Idle;
    }

    /// It stops (IDLE) without a mode-change record (it stopped itself, or the health
    /// monitor stopped it, and said so); on a secondary vCPU, forwarded to vCPU 0's core.
    pub fn stop(&mut self, machine: &mut impl Machine) {
        if self.vcpu_index != 0 {
            self.forward(Request::Stop, machine);
            return;
        }
        self.end_secondaries(machine);
        self.mode = OperatingMode::Idle;
    }

    /// On vCPU 0, as the partition stops or restarts: its secondary vCPUs go off, their
    /// cores woken to drop them.
    fn end_secondaries(&self, machine: &mut impl Machine) {
        let p = self.partition;
        if p.cores.len() > 1
            && let Some(state) = state(usize::from(p.id))
            && state.end_secondaries()
        {
            for &core in &p.cores[1..] {
                machine.wake(usize::from(core));
            }
        }
    }

    /// Whether it still runs (not IDLE).
    pub fn is_running(&self) -> bool {
        self.mode != OperatingMode::Idle
    }

    /// Changes its operating mode, tracing and logging the change. On a secondary vCPU, IDLE
    /// is forwarded to vCPU 0's core (the partition stops there).
    pub fn set_mode(&mut self, mode: OperatingMode, machine: &mut impl Machine) {
        if self.vcpu_index != 0 {
            if mode == OperatingMode::Idle {
                self.forward(Request::Stop, machine);
            }
            return;
        }
        if mode == OperatingMode::Idle {
            self.end_secondaries(machine);
        }
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
        if self.vcpu_index != 0 {
            self.forward(Request::Restart { cold, condition }, machine);
            return;
        }
        self.end_secondaries(machine);
        let p = self.partition;
        // Its other vCPUs must be out of the CPUs before its memory and state start afresh
        // (as on hardware, where a system reset stops every core): their cores were woken
        // and drop them at once, in a few hundred instructions. A core that has not after
        // 100 ms would be a kernel fault: said, and the restart goes on.
        if let Some(state) = state(usize::from(p.id)) {
            let give_up = machine.now() + machine.counter_hz() / 10;
            while state.any_secondary_loaded() {
                if machine.now() > give_up {
                    klog!(
                        machine,
                        "partition '{}': a secondary vCPU did not leave its core for the restart",
                        p.name
                    );
                    break;
                }
                core::hint::spin_loop();
            }
        }
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
        // A restarted partition waits for nothing and has no doorbell from its past run, and
        // its interrupts are as at boot (its list registers go with the old context).
        self.waiting = None;
        if let Some(state) = state(usize::from(p.id)) {
            state.clear_doorbells();
            *state.doorbell_gpio.lock() = DoorbellGpio::new();
            state.set_doorbells_unmasked(0);
        }
        crate::vgic::reset(p, machine);
        crate::vuart::reset(p, machine);
        let (vttbr, mdcr) = (self.vcpu.vttbr, self.vcpu.mdcr);
        *self.vcpu = VcpuContext::first_entry(p.image.entry_ipa, entry_x0(p), 0, vttbr);
        self.vcpu.partition = u64::from(p.id);
        self.vcpu.fast_interrupts =
            state(usize::from(p.id)).map_or(0, |s| s.fast_interrupts_address(0));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PartitionImage;
    use crate::guest_memory::tests::PARTITION;

    fn partition(boot_argument: u64) -> Partition {
        Partition {
            id: 5,
            image: Box::leak(Box::new(PartitionImage {
                boot_argument,
                ..*PARTITION.image
            })),
            ..PARTITION
        }
    }

    #[test]
    fn x0_at_entry_is_the_boot_argument_or_the_partition_index() {
        assert_eq!(entry_x0(&partition(0)), 5);
        // A Linux kernel's device tree, as the arm64 boot protocol wants it.
        assert_eq!(entry_x0(&partition(0x4fe0_0000)), 0x4fe0_0000);
    }
}
