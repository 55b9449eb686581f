//! The kernel console on the board's PL011: kernel messages (`[pkernel] ...`) and partition
//! lines (`[name] ...`), whole lines at a time under one lock so cores never interleave.

use core::fmt::{self, Write};
use core::ptr::NonNull;

use arm_pl011_uart::{DataBits, LineConfig, PL011Registers, Parity, StopBits, Uart};
use safe_mmio::UniqueMmioPointer;

use crate::config::Board;
use crate::sync::SpinLock;

struct Console(Option<Uart<'static>>);

// SAFETY: the UART is an MMIO block reachable from every core at the same address; all use
// goes through the `CONSOLE` lock.
unsafe impl Send for Console {}

static CONSOLE: SpinLock<Console> = SpinLock::new(Console(None));

/// Takes ownership of the board's UART (boot core, once, before any output).
pub fn init(board: &Board) {
    let base =
        NonNull::new(board.kernel_uart.base as *mut PL011Registers).expect("UART at address 0");
    // SAFETY: the board description says a PL011 lives at this address; the kernel is its only
    // user (never mapped to a partition, checked by boot_checks) and this is the only pointer
    // made to it, stored behind the console lock.
    let mut uart = Uart::new(unsafe { UniqueMmioPointer::new(base) });
    let config = LineConfig {
        data_bits: DataBits::Bits8,
        parity: Parity::None,
        stop_bits: StopBits::One,
    };
    // QEMU ignores the divisor; on a board a bad clock would only garble output.
    let _ = uart.enable(config, 115_200, board.uart_clock_hz);
    CONSOLE.lock().0 = Some(uart);
}

struct LineWriter<'a>(&'a mut Uart<'static>);

impl Write for LineWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.0.write_word(b'\r');
            }
            self.0.write_word(byte);
        }
        Ok(())
    }
}

/// Prints one line: `[prefix] text` and a newline.
pub fn print_line(prefix: &str, args: fmt::Arguments) {
    let mut console = CONSOLE.lock();
    if let Some(uart) = console.0.as_mut() {
        let _ = writeln!(LineWriter(uart), "[{prefix}] {args}");
    }
}

/// A kernel message line, `[pkernel] ...`.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::arch::console::print_line("pkernel", format_args!($($arg)*))
    };
}
