//! A `log` backend (feature `log`): each record is one line on the partition's console,
//! `LEVEL message`, which the kernel prefixes with the partition's name.

use core::fmt::Write as _;

use log::{LevelFilter, Log, Metadata, Record};

/// The console logger the runtime installs at entry (maximum level `Info`; change it with
/// `log::set_max_level`).
pub struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Formatted on the stack, so text from anywhere (the information page included) can
        // be printed; one console hypercall per 256 bytes.
        let mut line = bm_runtime::LineWriter::new();
        let _ = writeln!(line, "{:<5} {}", record.level(), record.args());
        line.flush();
    }

    fn flush(&self) {}
}

/// Installs [`ConsoleLogger`] as the `log` logger, at level `Info`.
pub(crate) fn install() {
    // SAFETY: `set_logger_racy` must not race another logger initialisation. The partition
    // has one execution context (see `crate::cell`), and this runs at its entry, before the
    // partition's own code. (`set_logger` would use a compare-and-swap, an exclusive access,
    // which is not reliable with the MMU off.) After a warm start the logger is set already
    // if `log`'s state survived in `.data`; the error then says so and changes nothing.
    let _ = unsafe { log::set_logger_racy(&LOGGER) };
    log::set_max_level(LevelFilter::Info);
}
