//! The captured console of one run, and assertions that print all of it when they fail.

use std::{fmt, time::Duration};

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The target process exited by itself. `code` is `None` if a signal ended it.
    Exited {
        /// The exit status code, if it exited normally.
        code: Option<i32>,
    },
    /// A console line containing [`RunLimits::stop_when`](crate::RunLimits::stop_when)
    /// appeared; the target was then killed.
    StopLineSeen,
    /// The wall-clock [`timeout`](crate::RunLimits::timeout) passed; the target was killed.
    TimedOut,
    /// No console line for [`idle_timeout`](crate::RunLimits::idle_timeout); the target was
    /// killed.
    Idle,
}

impl fmt::Display for RunEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited { code: Some(c) } => write!(f, "exited with code {c}"),
            Self::Exited { code: None } => write!(f, "exited by a signal (no exit code)"),
            Self::StopLineSeen => write!(f, "stop line seen (target killed)"),
            Self::TimedOut => write!(f, "wall-clock timeout (target killed)"),
            Self::Idle => write!(f, "idle watchdog: no console output (target killed)"),
        }
    }
}

/// Everything one run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLog {
    /// [`Target::name`](crate::Target::name) of the target that ran.
    pub target: String,
    /// Console lines in arrival order, without line terminators. Lines the target wrote on
    /// its stderr are included too, prefixed (e.g. `qemu stderr: `).
    pub lines: Vec<String>,
    /// How the run ended.
    pub end: RunEnd,
    /// Wall-clock time from spawning the target to the end of the run.
    pub elapsed: Duration,
}

impl RunLog {
    /// Index of the first line containing `needle`, if any.
    pub fn find_line(&self, needle: &str) -> Option<usize> {
        self.lines.iter().position(|l| l.contains(needle))
    }

    /// Panics (printing the log) unless the target exited by itself with code 0.
    #[track_caller]
    pub fn assert_clean_exit(&self) {
        if self.end != (RunEnd::Exited { code: Some(0) }) {
            self.fail(format_args!(
                "expected a clean exit (code 0), but the run {}",
                self.end
            ));
        }
    }

    /// Index of the first line containing `needle`; panics (printing the log) if none does.
    #[track_caller]
    pub fn assert_line(&self, needle: &str) -> usize {
        match self.find_line(needle) {
            Some(i) => i,
            None => self.fail(format_args!(
                "expected a line containing {needle:?}; none found"
            )),
        }
    }

    /// Panics (printing the log) if any line contains `needle`.
    #[track_caller]
    pub fn assert_no_line(&self, needle: &str) {
        if let Some(i) = self.find_line(needle) {
            self.fail(format_args!(
                "expected no line containing {needle:?}, but line {i} does"
            ));
        }
    }

    /// Index of the first line after `after_index` (exclusive) containing `needle`; panics
    /// (printing the log) if none does.
    #[track_caller]
    pub fn assert_line_after(&self, after_index: usize, needle: &str) -> usize {
        let found = self
            .lines
            .iter()
            .enumerate()
            .skip(after_index.saturating_add(1))
            .find(|(_, l)| l.contains(needle));
        match found {
            Some((i, _)) => i,
            None => self.fail(format_args!(
                "expected a line containing {needle:?} after line {after_index}; none found"
            )),
        }
    }

    /// The lines that start with `prefix`, in order.
    pub fn lines_with_prefix(&self, prefix: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.starts_with(prefix))
            .map(String::as_str)
            .collect()
    }

    /// For each line starting with `prefix` (e.g. `"[ctrl] tick "`), the decimal number that
    /// follows it (spaces before the digits are skipped; anything after the digits is
    /// ignored). Lines with no number there, or one that overflows `u64`, are skipped.
    pub fn numbers_after(&self, prefix: &str) -> Vec<u64> {
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|rest| {
                let rest = rest.trim_start_matches(' ');
                let end = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                rest[..end].parse().ok()
            })
            .collect()
    }

    /// The numbers of [`numbers_after`](Self::numbers_after); panics (printing the log)
    /// unless there are at least `at_least` of them and each is greater than the one before.
    /// Proves a counter kept advancing.
    #[track_caller]
    pub fn assert_advancing(&self, prefix: &str, at_least: usize) -> Vec<u64> {
        let nums = self.numbers_after(prefix);
        if nums.len() < at_least {
            self.fail(format_args!(
                "expected at least {at_least} lines starting with {prefix:?} followed by a \
                 number, found {}: {nums:?}",
                nums.len()
            ));
        }
        if let Some(w) = nums.windows(2).find(|w| w[1] <= w[0]) {
            self.fail(format_args!(
                "expected the numbers after {prefix:?} to increase, but {} follows {}: {nums:?}",
                w[1], w[0]
            ));
        }
        nums
    }

    #[track_caller]
    fn fail(&self, what: fmt::Arguments<'_>) -> ! {
        panic!("HIL assertion failed: {what}\n{self}")
    }
}

impl fmt::Display for RunLog {
    /// A header, every line numbered by its index, and how the run ended.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "--- console of {} ({} lines) ---",
            self.target,
            self.lines.len()
        )?;
        let width = self.lines.len().saturating_sub(1).to_string().len();
        for (i, line) in self.lines.iter().enumerate() {
            writeln!(f, "{i:>width$} | {line}")?;
        }
        write!(
            f,
            "--- run {} after {:.3} s ---",
            self.end,
            self.elapsed.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{UnwindSafe, catch_unwind};

    fn log(lines: &[&str], end: RunEnd) -> RunLog {
        RunLog {
            target: "fake".into(),
            lines: lines.iter().map(|s| s.to_string()).collect(),
            end,
            elapsed: Duration::from_millis(1234),
        }
    }

    fn clean(lines: &[&str]) -> RunLog {
        log(lines, RunEnd::Exited { code: Some(0) })
    }

    /// The panic message of `f`, which must panic.
    fn panic_message(f: impl FnOnce() + UnwindSafe) -> String {
        let err = catch_unwind(f).expect_err("assertion should have failed");
        match err.downcast::<String>() {
            Ok(s) => *s,
            Err(e) => e.downcast_ref::<&str>().expect("string panic").to_string(),
        }
    }

    #[test]
    fn numbers_after_parses_each_prefixed_line() {
        let l = clean(&[
            "[ctrl] tick 1",
            "[other] tick 99",
            "[ctrl] tick 2 window=A",
            "  [ctrl] tick 3",
            "[ctrl] tick x",
            "[ctrl] tick 18446744073709551616",
            "[ctrl] tick 40",
        ]);
        assert_eq!(l.numbers_after("[ctrl] tick "), vec![1, 2, 40]);
        assert_eq!(l.numbers_after("[ctrl] tick"), vec![1, 2, 40]);
        assert_eq!(l.numbers_after("[none]"), Vec::<u64>::new());
    }

    #[test]
    fn lines_with_prefix_keeps_whole_lines() {
        let l = clean(&["[a] 1", "[b] 2", "[a] 3", "x [a] 4"]);
        assert_eq!(l.lines_with_prefix("[a]"), vec!["[a] 1", "[a] 3"]);
    }

    #[test]
    fn passing_assertions_return_indices() {
        let l = clean(&["boot", "ready", "tick 1", "ready again"]);
        l.assert_clean_exit();
        assert_eq!(l.assert_line("ready"), 1);
        assert_eq!(l.assert_line_after(1, "ready"), 3);
        assert_eq!(l.assert_line_after(0, "ready"), 1);
        l.assert_no_line("panic");
        assert_eq!(l.assert_advancing("tick ", 1), vec![1]);
    }

    #[test]
    fn failed_assert_line_prints_expectation_log_and_end() {
        let l = log(&["boot ok", "partition A up"], RunEnd::Idle);
        let msg = panic_message(|| {
            l.assert_line("partition B up");
        });
        assert!(msg.contains("\"partition B up\""), "{msg}");
        assert!(msg.contains("0 | boot ok"), "{msg}");
        assert!(msg.contains("1 | partition A up"), "{msg}");
        assert!(msg.contains("idle watchdog"), "{msg}");
        assert!(msg.contains("1.234 s"), "{msg}");
    }

    #[test]
    fn failed_assert_clean_exit_says_how_it_ended() {
        let l = log(&["boot"], RunEnd::Exited { code: Some(3) });
        let msg = panic_message(|| l.assert_clean_exit());
        assert!(msg.contains("expected a clean exit"), "{msg}");
        assert!(msg.contains("exited with code 3"), "{msg}");
        assert!(msg.contains("0 | boot"), "{msg}");
        let l = log(&["boot"], RunEnd::TimedOut);
        let msg = panic_message(|| l.assert_clean_exit());
        assert!(msg.contains("wall-clock timeout"), "{msg}");
    }

    #[test]
    fn failed_assert_no_line_names_the_line() {
        let l = clean(&["boot", "PANIC: oops"]);
        let msg = panic_message(|| l.assert_no_line("PANIC"));
        assert!(msg.contains("line 1 does"), "{msg}");
        assert!(msg.contains("1 | PANIC: oops"), "{msg}");
    }

    #[test]
    fn assert_line_after_is_exclusive() {
        let l = clean(&["a", "b"]);
        let msg = panic_message(|| {
            l.assert_line_after(1, "b");
        });
        assert!(msg.contains("after line 1"), "{msg}");
        assert!(msg.contains("1 | b"), "{msg}");
        let msg = panic_message(|| {
            l.assert_line_after(usize::MAX, "a");
        });
        assert!(msg.contains("none found"), "{msg}");
    }

    #[test]
    fn assert_advancing_rejects_stalls_and_too_few() {
        let l = clean(&["t 1", "t 2", "t 2"]);
        let msg = panic_message(|| {
            l.assert_advancing("t ", 1);
        });
        assert!(msg.contains("2 follows 2"), "{msg}");
        let l = clean(&["t 1"]);
        let msg = panic_message(|| {
            l.assert_advancing("t ", 2);
        });
        assert!(msg.contains("at least 2"), "{msg}");
    }

    #[test]
    fn display_numbers_lines_and_aligns() {
        let lines: Vec<String> = (0..11).map(|i| format!("l{i}")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let shown = log(&refs, RunEnd::StopLineSeen).to_string();
        assert!(
            shown.starts_with("--- console of fake (11 lines) ---\n"),
            "{shown}"
        );
        assert!(shown.contains("\n 0 | l0\n"), "{shown}");
        assert!(shown.contains("\n10 | l10\n"), "{shown}");
        assert!(shown.ends_with("--- run stop line seen (target killed) after 1.234 s ---"));
    }
}
