//! What the kernel's policy needs from the machine it runs on, as one trait.
//!
//! The per-core run loop (`sched::run`), trap handling (`trap`) and the health monitor
//! (`hm`) are plain safe Rust written against [`Machine`]; `arch::machine` implements it on
//! the hardware, and the host tests implement it with a simulated core and clock, so every
//! policy decision runs in a unit test (the way Hafnium tests its core against a fake arch).

use core::fmt;

use crate::arch::context::VcpuContext;
use crate::arch::exit::Exit;
use crate::config::{Board, Channel, Partition};
use crate::trace::TraceEvent;

/// An interrupt the kernel took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// The EL2 timer that ends windows (and waits).
    WindowTimer,
    /// Another core woke this one: a doorbell rang for a partition waiting here.
    Wakeup,
    /// The GIC's list registers drained while virtual interrupts waited for one.
    Maintenance,
    /// The virtual timer of the partition loaded on this core fired (PPI 27). It stays
    /// active until the partition deactivates the virtual interrupt delivered for it.
    VirtualTimer,
    /// The board's console UART received something (its receive interrupt, taken on the
    /// first core of the partition that takes console input, and ended).
    ConsoleInput,
    /// A partition's device interrupt (an SPI its configuration gives it), by GIC interrupt
    /// ID. It stays active at the distributor until the owner deactivates the virtual
    /// interrupt the kernel delivers for it.
    Device(u32),
    /// Anything else, by GIC interrupt ID.
    Other(u32),
}

/// A distributor operation on a shared peripheral interrupt a partition owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpiOp {
    Enable(bool),
    /// Edge-triggered (`true`) or level-sensitive.
    Edge(bool),
    /// Route it to this core (one of the owner's).
    Route {
        core: usize,
    },
    SetPending,
    ClearPending,
    Deactivate,
}

/// An SPI's state at the distributor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpiState {
    pub pending: bool,
    pub active: bool,
}

/// One core of the machine, as policy sees it.
pub trait Machine {
    /// This core's index.
    fn core(&self) -> usize;
    /// The system counter (CNTPCT_EL0).
    fn now(&self) -> u64;
    /// Writes a kernel console line.
    fn log(&mut self, args: fmt::Arguments);
    /// Arms the window timer to fire at counter value `at` (replacing any earlier deadline).
    fn set_deadline(&mut self, at: u64);
    /// Makes `vcpu` the one whose EL1 state (system registers, FP/SIMD, virtual timer,
    /// stage 2) is in the CPU.
    fn load_vcpu(&mut self, vcpu: &VcpuContext);
    /// Saves the EL1 state of the vCPU loaded by [`Machine::load_vcpu`] into `vcpu`.
    fn save_vcpu(&mut self, vcpu: &mut VcpuContext);
    /// Runs the loaded `vcpu` until it exits; its general registers are saved in it. An
    /// [`Exit::Interrupt`] must be followed by [`Machine::take_interrupt`] (the exit may have
    /// acknowledged the interrupt already) before the core sleeps. Interrupts the vCPU is
    /// to get at once (its own timer and device interrupts) may be delivered without an exit.
    fn run_vcpu(&mut self, vcpu: &mut VcpuContext) -> Exit;
    /// Sleeps with interrupts masked until one is pending (or returns at once if one is
    /// acknowledged and not taken yet).
    fn wait_for_interrupt(&mut self);
    /// Acknowledges and ends the pending interrupt (or the one the last interrupt exit
    /// acknowledged); `None` if there was none (spurious).
    fn take_interrupt(&mut self) -> Option<Interrupt>;
    /// Records an event in this core's trace.
    fn trace(&mut self, event: TraceEvent);
    /// Copies `buf.len()` bytes from host-physical `phys`, which the caller resolved from
    /// a partition's own RAM (`guest_memory::GuestRange::resolve`).
    fn read_guest(&mut self, phys: u64, buf: &mut [u8]);
    /// Appends bytes to partition `partition`'s console and prints what it can of its own
    /// lines (see `console`).
    fn console_write(&mut self, partition: u16, bytes: &[u8]);
    /// Queues a partition's unfinished console line (it stopped mid-line).
    fn end_console_line(&mut self, partition: u16);
    /// System counter frequency (CNTFRQ_EL0).
    fn counter_hz(&self) -> u64;
    /// Loads `partition`'s image again from the pristine copy in the kernel image (cold
    /// start); false if it cannot be placed (the tables were checked at boot, so never).
    fn reload_image(&mut self, partition: &Partition) -> bool;
    /// Channel `index` of the system's tables.
    fn channel(&self, index: u16) -> Option<&'static Channel>;
    /// Partition `id` of the system.
    fn partition(&self, id: u16) -> Option<&'static Partition>;
    /// Interrupts core `core` (a partition waiting there has a doorbell); this core too.
    fn wake(&mut self, core: usize);
    /// The board the module runs on.
    fn board(&self) -> &'static Board;
    /// The partition whose configuration gives it interrupt `intid`, if any.
    fn interrupt_owner(&self, intid: u32) -> Option<&'static Partition>;
    /// Delivers physical interrupt `intid` to the vCPU loaded on this core as the same
    /// virtual interrupt, with `priority`, linked to the physical one (its deactivation by the
    /// partition deactivates it). False if the virtual interface has no room now; then the
    /// core gets [`Interrupt::Maintenance`] once it has.
    fn inject(&mut self, intid: u32, priority: u8) -> bool;
    /// Makes virtual interrupt `intid`, which the kernel emulates (no physical interrupt
    /// behind it), pending for the vCPU loaded on this core, with `priority`: in the list
    /// register that holds it already (pending, or active: then pending and active), else in
    /// a free one. False if there is none; then as [`Machine::inject`].
    fn inject_emulated(&mut self, intid: u32, priority: u8) -> bool;
    /// Whether a list register of the vCPU loaded on this core holds virtual interrupt
    /// `intid`, pending or active.
    fn holds_virtual(&mut self, intid: u32) -> bool;
    /// The partition that takes what is typed on the board's console, if any.
    fn console_input(&self) -> Option<&'static Partition>;
    /// Reads what the board's console UART received, up to `buf.len()` bytes; how many.
    fn console_receive(&mut self, buf: &mut [u8]) -> usize;
    /// Turns the console UART's receive interrupt on or off (off while the partition's
    /// input queue is full: the bytes wait in the UART and its sender).
    fn console_receive_interrupt(&mut self, enabled: bool);
    /// No [`Interrupt::Maintenance`] is needed any more.
    fn stop_maintenance(&mut self);
    /// Carries out `op` on SPI `intid` at the distributor.
    fn spi(&mut self, intid: u32, op: SpiOp);
    /// SPI `intid`'s state at the distributor.
    fn spi_state(&mut self, intid: u32) -> SpiState;
    /// Lets the virtual timer's interrupt (PPI 27) reach this core's kernel, or not: on only
    /// while the partition loaded here has it enabled in its virtual GIC, so that a partition
    /// that polls its timer is never interrupted by it.
    fn set_virtual_timer_interrupt(&mut self, enabled: bool);
    /// Ends the virtual timer interrupt the kernel took on this core and turns it off here
    /// (its partition does not take it).
    fn end_virtual_timer(&mut self);
}

/// The INTID of the EL1 virtual timer's interrupt (PPI 11), as the guest sees it too.
pub const VIRTUAL_TIMER_INTID: u32 = 27;

/// Writes a kernel line through a [`Machine`].
#[macro_export]
macro_rules! klog {
    ($machine:expr, $($arg:tt)*) => {
        $crate::machine::Machine::log($machine, format_args!($($arg)*))
    };
}
