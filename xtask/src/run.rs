//! The decisions behind `cargo xtask run`, kept apart from the processes so they can be tested:
//! watching QEMU's console for the kernel's module-end line, forwarding console bytes to a
//! terminal that may be non-blocking, and turning how the module and QEMU ended into one
//! summary line and an exit status.
//!
//! Why the console line and not QEMU's exit status: the kernel ends every run with one
//! `[pkernel] module end: ...` line and then powers off with PSCI `SYSTEM_OFF`, so QEMU exits
//! with status 0 after a clean shutdown, a kernel panic and a rejected configuration alike.
//! The line is parsed by [`hil_tests::ModuleEnd`], the same parser the HIL tests use.

use std::{
    io::{self, Write},
    thread,
    time::Duration,
};

use hil_tests::ModuleEnd;

/// Splits console bytes, arriving in arbitrary pieces, into lines and reports each
/// module-end line the kernel printed.
#[derive(Debug, Default)]
pub struct ConsoleWatcher {
    /// The bytes of the line so far (empty while skipping an overlong line).
    line: Vec<u8>,
    /// The current line grew past [`ConsoleWatcher::MAX_LINE`]: it is skipped to its end,
    /// so text past the limit never counts as the start of a line.
    overlong: bool,
    /// The last byte seen was not a newline.
    mid_line: bool,
}

impl ConsoleWatcher {
    /// Longest line looked at. The kernel splits its lines well below this (160 characters
    /// plus the prefix), so only non-kernel output is ever cut.
    pub const MAX_LINE: usize = 4096;

    /// A watcher at the start of a line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next console bytes; returns what each module-end line they complete says,
    /// in order. A line counts only if it starts with `[pkernel] module end: ` (see
    /// [`ModuleEnd::parse_line`]); a trailing `\r` is ignored.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<ModuleEnd> {
        let mut ends = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                if !self.overlong {
                    let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
                    if let Some(end) = ModuleEnd::parse_line(&String::from_utf8_lossy(line)) {
                        ends.push(end);
                    }
                }
                self.line.clear();
                self.overlong = false;
            } else if !self.overlong {
                if self.line.len() == Self::MAX_LINE {
                    self.line.clear();
                    self.overlong = true;
                } else {
                    self.line.push(byte);
                }
            }
        }
        if let Some(&last) = bytes.last() {
            self.mid_line = last != b'\n';
        }
        ends
    }

    /// True if the last byte seen did not end a line (so a message printed after the console
    /// should start on a new line).
    pub fn mid_line(&self) -> bool {
        self.mid_line
    }
}

/// Writes all of `bytes` to `out` and flushes it, waiting out `WouldBlock`.
///
/// QEMU's stdio console sets O_NONBLOCK on its standard input; when that is the terminal,
/// the flag is on the terminal's open file, which our standard output usually shares. A
/// write to a full terminal then fails with `WouldBlock` instead of waiting: that is not an
/// error, just a reason to try again shortly.
pub fn write_patiently(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        match out.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) => wait_if_transient(e)?,
        }
    }
    loop {
        match out.flush() {
            Ok(()) => return Ok(()),
            Err(e) => wait_if_transient(e)?,
        }
    }
}

/// `Ok` (after a short pause for `WouldBlock`) if the write may simply be tried again.
fn wait_if_transient(e: io::Error) -> io::Result<()> {
    match e.kind() {
        io::ErrorKind::Interrupted => Ok(()),
        io::ErrorKind::WouldBlock => {
            thread::sleep(Duration::from_millis(1));
            Ok(())
        }
        _ => Err(e),
    }
}

/// How QEMU's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QemuEnd {
    /// QEMU exited by itself: with an exit `code`, or ended by `signal`.
    Exited {
        /// The exit code, if it exited normally.
        code: Option<i32>,
        /// The signal that ended it, if one did.
        signal: Option<i32>,
    },
    /// `--seconds` ran out before any module-end line; xtask stopped QEMU.
    Stopped {
        /// The `--seconds` value.
        after_seconds: u64,
    },
    /// A module-end line came, but QEMU did not power off within `grace`; xtask stopped it.
    NoPowerOff {
        /// How long xtask waited after the line.
        grace: Duration,
    },
    /// The machine powered off (`--trace`: QEMU runs on under `-no-shutdown`), but QEMU did
    /// not exit within `grace` of being told to quit; xtask stopped it.
    NoQuit {
        /// How long xtask waited.
        grace: Duration,
    },
}

impl QemuEnd {
    /// The exit status in words, e.g. `status 1` or `signal 9`.
    fn status(&self) -> String {
        match self {
            Self::Exited {
                code: Some(code), ..
            } => format!("status {code}"),
            Self::Exited {
                signal: Some(signal),
                ..
            } => format!("signal {signal}"),
            Self::Exited { .. } => "status unknown".into(),
            Self::Stopped { .. } | Self::NoPowerOff { .. } | Self::NoQuit { .. } => {
                "stopped by xtask".into()
            }
        }
    }
}

/// What `cargo xtask run` reports at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// True for exit status 0.
    pub success: bool,
    /// The summary, printed on stderr after `xtask: `.
    pub summary: String,
}

/// Decides the summary and the exit status of `cargo xtask run` from the last module-end
/// line seen (if any) and how QEMU ended.
///
/// Success (exit status 0) only if
/// - the module ended with `shutdown by '...', status 0` and QEMU then exited with status 0
///   (or `--seconds` ran out just as it was powering off), or
/// - `--seconds` ran out while the module was still running (no module-end line yet).
///
/// Everything else fails: a shutdown with another status, `failed: ...`, QEMU exiting
/// without the line (whatever its status), or QEMU not powering off after the line.
pub fn decide(module_end: Option<&ModuleEnd>, qemu: &QemuEnd) -> Outcome {
    let Some(end) = module_end else {
        return match qemu {
            QemuEnd::Stopped { after_seconds } => Outcome {
                success: true,
                summary: format!("stopped after {after_seconds} s; the module was still running"),
            },
            QemuEnd::Exited { .. } | QemuEnd::NoPowerOff { .. } | QemuEnd::NoQuit { .. } => {
                Outcome {
                    success: false,
                    summary: format!(
                        "QEMU exited ({}) without the kernel's module-end line",
                        qemu.status()
                    ),
                }
            }
        };
    };
    let (qemu_ok, note) = match qemu {
        QemuEnd::Exited { code: Some(0), .. } => (true, String::new()),
        QemuEnd::Exited { .. } => (false, format!(", but QEMU then exited ({})", qemu.status())),
        // The line was already written when time ran out; QEMU just had not exited yet.
        QemuEnd::Stopped { after_seconds } => (
            true,
            format!(" (QEMU stopped at the {after_seconds} s limit before it powered off)"),
        ),
        QemuEnd::NoPowerOff { grace } => (
            false,
            format!(
                ", but QEMU did not power off within {} s (stopped by xtask)",
                grace.as_secs()
            ),
        ),
        QemuEnd::NoQuit { grace } => (
            false,
            format!(
                ", but QEMU did not quit within {} s after the power-off (stopped by xtask)",
                grace.as_secs()
            ),
        ),
    };
    Outcome {
        success: end.is_clean() && qemu_ok,
        summary: format!("module end: {end}{note}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "[pkernel] module end: shutdown by 'supervisor', status 0\n";

    fn shutdown(status: u64) -> ModuleEnd {
        ModuleEnd::Shutdown {
            by: "supervisor".into(),
            status,
        }
    }

    fn failed(reason: &str) -> ModuleEnd {
        ModuleEnd::Failed {
            reason: reason.into(),
        }
    }

    const EXITED_0: QemuEnd = QemuEnd::Exited {
        code: Some(0),
        signal: None,
    };

    #[test]
    fn watcher_finds_the_line_in_any_pieces() {
        let input = format!("[pkernel] boot\r\n[ctrl] tick 1\n{CLEAN}");
        for piece in [1, 2, 7, input.len()] {
            let mut w = ConsoleWatcher::new();
            let ends: Vec<ModuleEnd> = input
                .as_bytes()
                .chunks(piece)
                .flat_map(|c| w.push(c))
                .collect();
            assert_eq!(ends, [shutdown(0)], "pieces of {piece}");
            assert!(!w.mid_line());
        }
    }

    #[test]
    fn watcher_needs_the_whole_line_and_accepts_crlf() {
        let mut w = ConsoleWatcher::new();
        assert_eq!(w.push(CLEAN.trim_end().as_bytes()), []);
        assert!(w.mid_line());
        assert_eq!(w.push(b"\r\n"), [shutdown(0)]);
        assert!(!w.mid_line());
        assert_eq!(
            w.push(b"[pkernel] module end: failed: kernel panic\n"),
            [failed("kernel panic")]
        );
    }

    #[test]
    fn watcher_ignores_forged_and_malformed_lines() {
        let mut w = ConsoleWatcher::new();
        let input = "[attacker] [pkernel] module end: shutdown by 'supervisor', status 0\n\
                     [pkernel] module shutdown requested by 'supervisor' (status 0)\n\
                     [pkernel] module end: shutdown by 'supervisor', status zero\n \
                     [pkernel] module end: failed: kernel panic\n";
        assert_eq!(w.push(input.as_bytes()), []);
    }

    #[test]
    fn watcher_skips_the_rest_of_an_overlong_line() {
        let mut w = ConsoleWatcher::new();
        let mut input = vec![b'x'; ConsoleWatcher::MAX_LINE];
        input.extend_from_slice(CLEAN.as_bytes());
        input.extend_from_slice(CLEAN.as_bytes());
        assert_eq!(w.push(&input), [shutdown(0)], "only the second, whole line");
    }

    /// Accepts at most `chunk` bytes per write and fails every other call with `WouldBlock`,
    /// like a full non-blocking terminal.
    struct Stingy {
        got: Vec<u8>,
        chunk: usize,
        calls: usize,
        flush_refusals: usize,
    }

    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 2 == 1 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.chunk);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            if self.flush_refusals > 0 {
                self.flush_refusals -= 1;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        }
    }

    #[test]
    fn write_patiently_waits_out_would_block() {
        let mut out = Stingy {
            got: Vec::new(),
            chunk: 3,
            calls: 0,
            flush_refusals: 2,
        };
        write_patiently(&mut out, b"[ctrl] tick 1\n").unwrap();
        assert_eq!(out.got, b"[ctrl] tick 1\n");
        assert_eq!(out.flush_refusals, 0);
    }

    #[test]
    fn write_patiently_reports_real_errors() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = write_patiently(&mut Closed, b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn clean_shutdown_succeeds() {
        let o = decide(Some(&shutdown(0)), &EXITED_0);
        assert_eq!(
            o,
            Outcome {
                success: true,
                summary: "module end: shutdown by 'supervisor', status 0".into()
            }
        );
    }

    #[test]
    fn failures_and_error_statuses_fail_although_qemu_exits_0() {
        for (end, summary) in [
            (
                shutdown(3),
                "module end: shutdown by 'supervisor', status 3",
            ),
            (failed("kernel panic"), "module end: failed: kernel panic"),
            (
                failed("configuration rejected"),
                "module end: failed: configuration rejected",
            ),
        ] {
            let o = decide(Some(&end), &EXITED_0);
            assert!(!o.success, "{o:?}");
            assert_eq!(o.summary, summary);
        }
    }

    #[test]
    fn time_running_out_succeeds_only_while_the_module_runs() {
        let stopped = QemuEnd::Stopped { after_seconds: 3 };
        let o = decide(None, &stopped);
        assert!(o.success);
        assert_eq!(o.summary, "stopped after 3 s; the module was still running");
        let o = decide(Some(&failed("kernel panic")), &stopped);
        assert!(!o.success);
        assert!(
            o.summary.starts_with("module end: failed: kernel panic"),
            "{o:?}"
        );
        let o = decide(Some(&shutdown(0)), &stopped);
        assert!(o.success, "{o:?}");
        assert!(o.summary.contains("3 s limit"), "{o:?}");
    }

    #[test]
    fn qemu_ending_without_the_line_fails_whatever_its_status() {
        for (qemu, status) in [
            (EXITED_0, "status 0"),
            (
                QemuEnd::Exited {
                    code: Some(1),
                    signal: None,
                },
                "status 1",
            ),
            (
                QemuEnd::Exited {
                    code: None,
                    signal: Some(9),
                },
                "signal 9",
            ),
        ] {
            let o = decide(None, &qemu);
            assert!(!o.success, "{o:?}");
            assert_eq!(
                o.summary,
                format!("QEMU exited ({status}) without the kernel's module-end line")
            );
        }
    }

    #[test]
    fn qemu_misbehaving_after_a_clean_line_fails() {
        let o = decide(
            Some(&shutdown(0)),
            &QemuEnd::Exited {
                code: Some(1),
                signal: None,
            },
        );
        assert!(!o.success);
        assert_eq!(
            o.summary,
            "module end: shutdown by 'supervisor', status 0, but QEMU then exited (status 1)"
        );
        let o = decide(
            Some(&shutdown(0)),
            &QemuEnd::NoPowerOff {
                grace: Duration::from_secs(5),
            },
        );
        assert!(!o.success);
        assert!(o.summary.contains("did not power off within 5 s"), "{o:?}");
        let o = decide(
            Some(&shutdown(0)),
            &QemuEnd::NoQuit {
                grace: Duration::from_secs(3),
            },
        );
        assert!(!o.success);
        assert!(
            o.summary
                .contains("did not quit within 3 s after the power-off"),
            "{o:?}"
        );
        let o = decide(
            None,
            &QemuEnd::NoQuit {
                grace: Duration::from_secs(3),
            },
        );
        assert!(!o.success);
        assert_eq!(
            o.summary,
            "QEMU exited (stopped by xtask) without the kernel's module-end line"
        );
    }
}
