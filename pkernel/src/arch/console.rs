//! The board's PL011, owned by the kernel, and when the console queues are drained into it.
//!
//! Nobody ever waits for the UART on the way to something else: a drain takes the UART only
//! if it is free ([`drain`]), writes only while the FIFO has room, and stops after a byte
//! budget (see `crate::console` for the policy). Only the module's last words
//! ([`flush_for_halt`]) and a kernel ring that is full wait for it. "Room" is read from the
//! flag register: TXFE (transmit FIFO empty) means a burst of `FIFO_BURST` bytes fits, as
//! `enable` turns the FIFOs on; otherwise TXFF is checked before each byte.

use core::fmt::{self, Write};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};

use arm_pl011_uart::{DataBits, Interrupts, LineConfig, PL011Registers, Parity, StopBits, Uart};
use safe_mmio::UniqueMmioPointer;

use crate::config::{Board, System};
use crate::console::{
    ConsoleDevice, DRAIN_BUDGET_BYTES, DrainStop, Drainer, Line, LineAssembler, Selection,
};
use crate::log;
use crate::sync::SpinLock;

struct Console {
    uart: Option<Uart<'static>>,
    drainer: Drainer,
}

// SAFETY: the UART is an MMIO block reachable from every core at the same address; all use
// goes through the `CONSOLE` lock.
unsafe impl Send for Console {}

static CONSOLE: SpinLock<Console> = SpinLock::new(Console {
    uart: None,
    drainer: Drainer::new(),
});

/// The system whose partitions' consoles are drained; null until the boot core publishes it.
static SYSTEM: AtomicPtr<System> = AtomicPtr::new(core::ptr::null_mut());

/// The UART's base address, for the last-resort path of [`emergency_line`].
static UART_BASE: AtomicPtr<PL011Registers> = AtomicPtr::new(core::ptr::null_mut());

/// Takes ownership of the board's UART (boot core, once, before any output).
pub fn init(board: &Board) {
    let base =
        NonNull::new(board.kernel_uart.base as *mut PL011Registers).expect("UART at address 0");
    // SAFETY: the board description says a PL011 lives at this address; the kernel is its only
    // user (never mapped to a partition, checked by boot_checks) and this is the only pointer
    // made to it, stored behind the console lock (`emergency_line` aside, see there).
    let mut uart = Uart::new(unsafe { UniqueMmioPointer::new(base) });
    let config = LineConfig {
        data_bits: DataBits::Bits8,
        parity: Parity::None,
        stop_bits: StopBits::One,
    };
    // QEMU ignores the divisor; on a board a bad clock would only garble output.
    let _ = uart.enable(config, 115_200, board.uart_clock_hz);
    UART_BASE.store(base.as_ptr(), Ordering::Release);
    CONSOLE.lock().uart = Some(uart);
}

/// From now on partition consoles are drained too, with the names of `system`.
pub fn attach_system(system: &'static System) {
    SYSTEM.store(system as *const System as *mut System, Ordering::Release);
}

struct Device<'a>(&'a mut Uart<'static>);

impl ConsoleDevice for Device<'_> {
    /// TXFE: with the FIFOs enabled (`Uart::enable` sets LCR_H.FEN, and nothing clears it)
    /// the transmit FIFO is empty, so `FIFO_BURST` bytes, the smallest PL011 depth, fit.
    fn is_empty(&self) -> bool {
        self.0.is_tx_fifo_empty()
    }
    fn has_room(&self) -> bool {
        !self.0.is_tx_fifo_full()
    }
    fn put(&mut self, byte: u8) {
        self.0.write_word(byte);
    }
}

/// One drain step under the lock: partition consoles once the system is attached.
fn drain_locked(console: &mut Console, selected: Selection, budget: &mut usize) -> DrainStop {
    let Console { uart, drainer } = console;
    // Taken out of the console (under its lock) for the drain: held in a local, the UART's
    // address stays in a register instead of being loaded again for every byte written.
    let Some(mut local) = uart.take() else {
        return DrainStop::Empty;
    };
    // SAFETY: the only non-null value stored is derived from a `&'static System`
    // (attach_system).
    let system = unsafe { SYSTEM.load(Ordering::Acquire).as_ref() };
    let stop = drainer.drain(
        &mut log::Queues { system },
        &mut Device(&mut local),
        selected,
        budget,
    );
    *uart = Some(local);
    stop
}

/// Drains at most `budget` bytes of kernel lines and the `selected` partitions' lines, if
/// no other core is draining; never waits. If output is left (budget or FIFO), idle cores
/// are woken to finish it.
pub fn drain(selected: Selection, mut budget: usize) {
    loop {
        let Some(mut console) = CONSOLE.try_lock() else {
            // Whoever holds the UART sees the pending flag when it lets go.
            return;
        };
        log::take_pending();
        let stop = drain_locked(&mut console, selected, &mut budget);
        drop(console);
        match stop {
            // Something may have been queued while we held the UART, by a core that then
            // found it taken: go round again, within what is left of the budget.
            DrainStop::Empty if log::is_pending() && budget > 0 => {}
            DrainStop::Empty if log::is_pending() => {
                wake_idle_cores();
                return;
            }
            DrainStop::Empty => return,
            DrainStop::Budget | DrainStop::DeviceFull => {
                log::set_pending();
                wake_idle_cores();
                return;
            }
        }
    }
}

/// Reads what the UART received, up to `buf.len()` bytes (a byte received with an error,
/// overrun, break, parity or framing, is skipped); returns how many. Waits only for the
/// console lock, which no one holds for longer than a drain's budget.
pub fn receive(buf: &mut [u8]) -> usize {
    let mut console = CONSOLE.lock();
    let Some(uart) = console.uart.as_mut() else {
        return 0;
    };
    let mut count = 0;
    // A bound on the bytes looked at, errors included: the FIFO holds at most 32.
    for _ in 0..buf.len() + 32 {
        if count == buf.len() {
            break;
        }
        match uart.read_word() {
            Ok(Some(byte)) => {
                buf[count] = byte;
                count += 1;
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
    count
}

/// Turns the UART's receive and receive-timeout interrupts on or off.
pub fn receive_interrupt(enabled: bool) {
    let mut console = CONSOLE.lock();
    if let Some(uart) = console.uart.as_mut() {
        let masks = uart.interrupt_masks();
        let receive = Interrupts::RXI | Interrupts::RTI;
        uart.set_interrupt_masks(if enabled {
            masks | receive
        } else {
            masks - receive
        });
    }
}

/// Drains everything queued (boot core during boot, idle cores, full kernel rings), waiting
/// for the UART and its FIFO; stops after `max_bytes` so a flooding partition cannot keep
/// the caller here.
pub fn drain_waiting(max_bytes: usize) {
    drain_waiting_locked(&mut CONSOLE.lock(), max_bytes);
}

fn drain_waiting_locked(console: &mut Console, max_bytes: usize) {
    let mut left = max_bytes;
    log::take_pending();
    loop {
        match drain_locked(console, Selection::All, &mut left) {
            DrainStop::Empty => return,
            DrainStop::Budget => break,
            DrainStop::DeviceFull => core::hint::spin_loop(),
        }
    }
    log::set_pending();
}

fn wake_idle_cores() {
    aarch64_cpu::asm::sev();
}

/// The queue lengths times the longest line: an upper bound on what is queued at once.
const ALL_QUEUED_BYTES: usize = (crate::config::MAX_PARTITIONS
    * crate::console::PARTITION_RING_LINES
    + crate::config::MAX_CORES * crate::console::KERNEL_RING_LINES)
    * (crate::console::LINE_MAX + 40);

/// Prints what is queued, then `last` as the very last kernel line, waiting for the UART:
/// the module is about to stop.
pub fn flush_for_halt(last: fmt::Arguments) {
    drain_waiting(ALL_QUEUED_BYTES);
    kernel_line(last);
    drain_waiting(ALL_QUEUED_BYTES);
}

/// Formats a kernel line and queues it on this core's ring, then drains within the budget.
pub fn kernel_line(args: fmt::Arguments) {
    let core = super::core_block::this_core();
    let mut writer = KernelLineWriter {
        assembler: LineAssembler::new(),
        core,
    };
    let _ = writer.write_fmt(args);
    writer.assembler.flush(|line| queue_kernel_line(core, line));
    drain(Selection::KernelLines, DRAIN_BUDGET_BYTES);
}

fn queue_kernel_line(core: usize, line: &Line) {
    while !log::kernel_line(core, line) {
        // This core's ring is full: kernel lines are never dropped, so wait for the UART.
        drain_waiting(DRAIN_BUDGET_BYTES);
    }
}

/// Splits formatted text into kernel lines (a long message continues on the next line).
struct KernelLineWriter {
    assembler: LineAssembler,
    core: usize,
}

impl Write for KernelLineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let core = self.core;
        self.assembler
            .push(s.as_bytes(), |line| queue_kernel_line(core, line));
        Ok(())
    }
}

/// For the kernel's last words after a panic or a kernel fault, which may have happened
/// while this very core held a console lock: prints what is queued and then the line
/// straight to the UART, waiting for FIFO room. If the console lock cannot be had after a
/// bounded wait, writes the line anyway (its bytes may mix with a line in progress).
pub fn emergency_line(args: fmt::Arguments) {
    if let Some(mut console) = (0..1_000_000).find_map(|_| CONSOLE.try_lock()) {
        // The drainer only tries the queue locks, so a lock this core held when it failed
        // cannot hang it here.
        drain_waiting_locked(&mut console, ALL_QUEUED_BYTES);
        let mid_line = console.drainer.is_mid_line();
        if let Some(uart) = console.uart.as_mut() {
            // Never continue a half-sent line: the kernel's line must start a line.
            let start = if mid_line { "\n" } else { "" };
            let _ = writeln!(Emergency(uart), "{start}[pkernel] {args}");
        }
        return;
    }
    let Some(base) = NonNull::new(UART_BASE.load(Ordering::Acquire)) else {
        return;
    };
    // SAFETY: a second pointer to the UART while the lock holder may still use it: both only
    // write the data register and read the flags, so the worst outcome is interleaved bytes.
    // Used only on the way to powering the module off.
    let mut uart = Uart::new(unsafe { UniqueMmioPointer::new(base) });
    let _ = writeln!(Emergency(&mut uart), "\n[pkernel] {args}");
}

struct Emergency<'a, 'b>(&'a mut Uart<'b>);

impl Write for Emergency<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            let bytes: &[u8] = if byte == b'\n' {
                b"\r\n"
            } else {
                core::slice::from_ref(&byte)
            };
            for &b in bytes {
                while self.0.is_tx_fifo_full() {
                    core::hint::spin_loop();
                }
                self.0.write_word(b);
            }
        }
        Ok(())
    }
}

/// A kernel message line, `[pkernel] ...`, queued and drained within the budget.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::arch::console::kernel_line(format_args!($($arg)*))
    };
}
