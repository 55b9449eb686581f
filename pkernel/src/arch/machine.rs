//! The [`Machine`] the policy runs on, on the real hardware: this core's timer, GIC CPU
//! interface, vCPU entry, trace ring and console.

use aarch64_cpu::registers::{CNTFRQ_EL0, Readable};

use super::context::VcpuContext;
use super::exit::Exit;
use super::{cache, console, gic, loader, timer, trace_buffer, vcpu};
use crate::config::{Board, Channel, Partition};
use crate::console::{DRAIN_BUDGET_BYTES, Selection};
use crate::log;
use crate::machine::{Interrupt, Machine, SpiOp, SpiState};
use crate::trace::TraceEvent;

/// One core of the board, as the run loop sees it.
pub struct Hardware {
    core: usize,
    /// Whether the virtual timer's interrupt is enabled on this core's redistributor now.
    virtual_timer_interrupt: bool,
    /// The INTID the IRQ exit vector acknowledged at the last interrupt exit and left for
    /// [`Machine::take_interrupt`] (see `exceptions`), or [`NOT_ACKNOWLEDGED`].
    acknowledged: u32,
}

/// [`Hardware::acknowledged`] when no interrupt waits to be taken (no INTID is this large).
const NOT_ACKNOWLEDGED: u32 = u32::MAX;

impl Hardware {
    /// This core (its index, as in TPIDR_EL2).
    pub fn this_core(core: usize) -> Self {
        Self {
            core,
            virtual_timer_interrupt: false,
            acknowledged: NOT_ACKNOWLEDGED,
        }
    }
}

impl Machine for Hardware {
    fn core(&self) -> usize {
        self.core
    }

    fn now(&self) -> u64 {
        timer::now()
    }

    fn log(&mut self, args: core::fmt::Arguments) {
        console::kernel_line(args);
    }

    fn set_deadline(&mut self, at: u64) {
        timer::arm(at);
    }

    fn load_vcpu(&mut self, vcpu: &VcpuContext) {
        vcpu::load(vcpu);
        // Its virtual timer's interrupt, if it was taken and not finished when the vCPU was
        // saved, is active again, so that its end deactivates it (see `save_vcpu`).
        if vcpu.virtual_timer_pending != 0 || vcpu.virtual_timer_delivered != 0 {
            gic::set_virtual_timer_active(self.board(), self.core, true);
        }
    }

    fn save_vcpu(&mut self, vcpu: &mut VcpuContext) {
        vcpu::save(vcpu);
        // Its underflow maintenance interrupt (asked for when its list registers were full)
        // is its own: left on, it would fire for as long as the core holds at most one list
        // register, waking an idle core over and over (its next load asks again if need be).
        vcpu::stop_underflow_interrupt();
        // A virtual timer interrupt taken and not finished (pending, or in a list register)
        // keeps the physical one active; the next partition's timer must be able to fire.
        if vcpu.virtual_timer_delivered != 0 {
            vcpu.virtual_timer_delivered = u64::from(vcpu::holds_virtual_timer(&vcpu.gic));
        }
        if vcpu.virtual_timer_pending != 0 || vcpu.virtual_timer_delivered != 0 {
            gic::set_virtual_timer_active(self.board(), self.core, false);
        }
    }

    fn run_vcpu(&mut self, vcpu: &mut VcpuContext) -> Exit {
        let exit = vcpu::run(vcpu);
        if exit == Exit::Interrupt {
            // The vector acknowledged it (and did not deliver it itself).
            self.acknowledged = vcpu.acknowledged as u32;
        }
        exit
    }

    fn wait_for_interrupt(&mut self) {
        // One acknowledged already is the caller's to take first: no sleep.
        if self.acknowledged != NOT_ACKNOWLEDGED {
            return;
        }
        // Interrupts stay masked at EL2: WFI still wakes when one is pending, and
        // `take_interrupt` then takes it without an exception. The loaded vCPU's pending
        // virtual interrupts must not count (see `virtual_interface_off`).
        let hcr = vcpu::virtual_interface_off();
        aarch64_cpu::asm::wfi();
        vcpu::restore_virtual_interface(hcr);
    }

    fn take_interrupt(&mut self) -> Option<Interrupt> {
        let id = match core::mem::replace(&mut self.acknowledged, NOT_ACKNOWLEDGED) {
            NOT_ACKNOWLEDGED => gic::acknowledge(),
            // Left by the IRQ exit vector.
            id => id,
        };
        if id >= gic::SPECIAL_INTIDS {
            return None;
        }
        if id == timer::INTID {
            // Level-sensitive: stop it asserting before ending it; the next window re-arms.
            timer::mask();
        }
        // Priority drop only (EOImode = 1): see `gic`.
        gic::end_priority(id);
        if self.interrupt_owner(id).is_some() {
            // Stays active until its owner deactivates the virtual interrupt linked to it.
            return Some(Interrupt::Device(id));
        }
        if id == crate::machine::VIRTUAL_TIMER_INTID {
            // The same, for the partition whose vCPU is loaded here.
            return Some(Interrupt::VirtualTimer);
        }
        // Level-sensitive: if the UART still has data when the kernel has read what it
        // will, the interrupt is pending again.
        gic::deactivate(id);
        if id == self.board().kernel_uart_interrupt {
            return Some(Interrupt::ConsoleInput);
        }
        Some(match id {
            timer::INTID => Interrupt::WindowTimer,
            gic::WAKEUP_SGI => Interrupt::Wakeup,
            gic::MAINTENANCE_INTID => Interrupt::Maintenance,
            other => Interrupt::Other(other),
        })
    }

    fn trace(&mut self, event: TraceEvent) {
        trace_buffer::record(self.core, &event);
    }

    fn read_guest(&mut self, phys: u64, buf: &mut [u8]) {
        // The partition may have written these bytes with its caches off: clean and
        // invalidate first so the kernel's cacheable read sees memory, not a stale line.
        cache::clean_and_invalidate(phys, buf.len() as u64);
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: `phys..phys + len` was resolved by GuestRange::resolve to RAM of the
            // calling partition, which the EL2 map covers (all RAM, readable). The partition
            // may write it concurrently, hence volatile byte reads: any value is acceptable.
            *byte = unsafe { core::ptr::read_volatile((phys as usize + i) as *const u8) };
        }
    }

    fn console_write(&mut self, partition: u16, bytes: &[u8]) {
        let id = usize::from(partition);
        log::partition_write(id, bytes);
        // The caller's own time pays for printing its own lines (and pending kernel lines),
        // never another partition's.
        console::drain(Selection::Only(id), DRAIN_BUDGET_BYTES);
    }

    fn end_console_line(&mut self, partition: u16) {
        log::partition_end_line(usize::from(partition));
    }

    fn counter_hz(&self) -> u64 {
        CNTFRQ_EL0.get()
    }

    fn reload_image(&mut self, partition: &Partition) -> bool {
        loader::load_image(partition).is_ok()
    }

    fn channel(&self, index: u16) -> Option<&'static Channel> {
        super::entry::system().channels.get(usize::from(index))
    }

    fn partition(&self, id: u16) -> Option<&'static Partition> {
        super::entry::system().partitions.get(usize::from(id))
    }

    fn wake(&mut self, core: usize) {
        if let Some(&mpidr) = super::entry::system().board.core_mpidrs.get(core) {
            super::gic::wake(mpidr);
        }
    }

    fn board(&self) -> &'static Board {
        super::entry::system().board
    }

    fn interrupt_owner(&self, intid: u32) -> Option<&'static Partition> {
        // Only SPIs are given to partitions; the kernel's own interrupts are private ones.
        if intid < 32 {
            return None;
        }
        super::entry::system()
            .partitions
            .iter()
            .find(|p| p.interrupts.contains(&intid))
    }

    fn inject(&mut self, intid: u32, priority: u8) -> bool {
        vcpu::inject(intid, priority)
    }

    fn inject_emulated(&mut self, intid: u32, priority: u8) -> bool {
        vcpu::inject_emulated(intid, priority)
    }

    fn holds_virtual(&mut self, intid: u32) -> bool {
        vcpu::holds(intid)
    }

    fn console_input(&self) -> Option<&'static Partition> {
        super::entry::system().console_input_partition()
    }

    fn console_receive(&mut self, buf: &mut [u8]) -> usize {
        console::receive(buf)
    }

    fn console_receive_interrupt(&mut self, enabled: bool) {
        console::receive_interrupt(enabled);
    }

    fn stop_maintenance(&mut self) {
        vcpu::stop_underflow_interrupt();
    }

    fn spi(&mut self, intid: u32, op: SpiOp) {
        gic::spi(intid, op, super::entry::system().board);
    }

    fn spi_state(&mut self, intid: u32) -> SpiState {
        gic::spi_state(intid)
    }

    fn end_virtual_timer(&mut self) {
        gic::deactivate(crate::machine::VIRTUAL_TIMER_INTID);
        self.set_virtual_timer_interrupt(false);
    }

    #[inline]
    fn set_virtual_timer_interrupt(&mut self, enabled: bool) {
        if self.virtual_timer_interrupt != enabled {
            gic::set_virtual_timer_interrupt(self.core, enabled);
            self.virtual_timer_interrupt = enabled;
        }
    }
}
