//! The captured console of one run, and assertions that print all of it when they fail.
//!
//! Every console line is `[pkernel] text` (the kernel) or `[<partition name>] text` (a
//! partition; the kernel adds the prefix to each line and neutralises control bytes, so a
//! partition cannot start a line itself). A partition can still print any text *after* its
//! own prefix, e.g. `[attacker] [pkernel] module end: ...`. That is why every search that
//! proves something happened matches whole-line prefixes only: a needle starting with
//! `[pkernel] ` can only be satisfied by the kernel. The substring searches
//! ([`RunLog::find_line_containing`], [`RunLog::assert_no_line_containing`]) exist for the
//! rare check that something did *not* appear anywhere.

use std::{fmt, time::Duration};

use crate::{KERNEL_PREFIX, MODULE_END_PREFIX, ModuleEnd};

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The target process exited by itself. `code` is `None` if a signal ended it.
    Exited {
        /// The exit status code, if it exited normally.
        code: Option<i32>,
    },
    /// Every line of [`RunLimits::stop_when`](crate::RunLimits::stop_when) appeared; the
    /// target was then killed.
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
    /// The target memory read at the end of the run
    /// ([`Target::run_reading`](crate::Target::run_reading)): its bytes, or why it could not
    /// be read. `None` when no memory was asked for.
    pub memory: Option<Result<Vec<u8>, String>>,
    /// Where each CPU was when a run that hung was killed ([`RunEnd::Idle`] or
    /// [`RunEnd::TimedOut`]): one line per CPU (program counter, link register, stack
    /// pointer and exception level), for a target that can say (QEMU with QMP). Empty
    /// otherwise. Map a kernel PC to its function with `llvm-addr2line -f -e pkernel.elf`.
    pub cpu_states: Vec<String>,
}

impl RunLog {
    /// Index of the first line that starts with `prefix`, if any.
    pub fn find_line(&self, prefix: &str) -> Option<usize> {
        self.lines.iter().position(|l| l.starts_with(prefix))
    }

    /// Index of the first line containing `needle` anywhere, if any.
    ///
    /// Never use this to prove that something happened: a partition can put any text after
    /// its own `[name] ` prefix. Use it only to show that something did *not* happen (see
    /// [`assert_no_line_containing`](Self::assert_no_line_containing)).
    pub fn find_line_containing(&self, needle: &str) -> Option<usize> {
        self.lines.iter().position(|l| l.contains(needle))
    }

    /// The kernel's lines (those starting with `[pkernel] `), whole, in order.
    pub fn kernel_lines(&self) -> Vec<&str> {
        self.lines_with_prefix(KERNEL_PREFIX)
    }

    /// The lines of partition `name` (those starting with `[<name>] `), whole, in order.
    /// (schedule-gen rejects a partition named `pkernel`, so these are never kernel lines.)
    pub fn partition_lines(&self, name: &str) -> Vec<&str> {
        self.lines_with_prefix(&format!("[{name}] "))
    }

    /// The last line starting with `[pkernel] module end: `, whole, even if it does not
    /// parse (see [`module_end`](Self::module_end)).
    pub fn module_end_line(&self) -> Option<&str> {
        self.lines
            .iter()
            .rev()
            .find(|l| l.starts_with(MODULE_END_PREFIX))
            .map(String::as_str)
    }

    /// How the module ended, from the last line starting with `[pkernel] module end: `;
    /// `None` if there is no such line or it is malformed.
    pub fn module_end(&self) -> Option<ModuleEnd> {
        self.module_end_line().and_then(ModuleEnd::parse_line)
    }

    /// What the module-end line says, in words, for failure messages.
    fn describe_module_end(&self) -> String {
        match (self.module_end_line(), self.module_end()) {
            (_, Some(end)) => format!("the module ended: {end}"),
            (Some(line), None) => format!("the last module-end line is malformed: {line:?}"),
            (None, None) => format!("no module-end line ({MODULE_END_PREFIX}...) came"),
        }
    }

    /// Panics (printing the log) unless the target exited by itself with code 0 *and* the
    /// kernel's last module-end line is `shutdown by '...', status 0`.
    ///
    /// Both are needed: the kernel powers off with QEMU exit status 0 whether the module shut
    /// down cleanly, was shut down with an error status or failed, so only the line tells.
    #[track_caller]
    pub fn assert_clean_exit(&self) {
        let exited_0 = self.end == (RunEnd::Exited { code: Some(0) });
        let clean_end = self.module_end().is_some_and(|e| e.is_clean());
        if !exited_0 || !clean_end {
            self.fail(format_args!(
                "expected a clean exit (QEMU exit code 0 after \
                 \"{MODULE_END_PREFIX}shutdown by '...', status 0\"), but the run {} and {}",
                self.end,
                self.describe_module_end()
            ));
        }
    }

    /// Index of the first line that contains `needle`; panics (printing the log) if none
    /// does.
    #[track_caller]
    pub fn assert_line_containing(&self, needle: &str) -> usize {
        match self.find_line_containing(needle) {
            Some(i) => i,
            None => self.fail(format_args!(
                "expected a line containing {needle:?}; none found"
            )),
        }
    }

    /// Index of the first line that starts with `prefix`; panics (printing the log) if none
    /// does.
    #[track_caller]
    pub fn assert_line(&self, prefix: &str) -> usize {
        match self.find_line(prefix) {
            Some(i) => i,
            None => self.fail(format_args!(
                "expected a line starting with {prefix:?}; none found"
            )),
        }
    }

    /// Panics (printing the log) if any line starts with `prefix`.
    #[track_caller]
    pub fn assert_no_line(&self, prefix: &str) {
        if let Some(i) = self.find_line(prefix) {
            self.fail(format_args!(
                "expected no line starting with {prefix:?}, but line {i} does"
            ));
        }
    }

    /// Panics (printing the log) if any line contains `needle` anywhere, whoever printed it.
    ///
    /// Only for proving that something did *not* happen; there is deliberately no
    /// `assert_line_containing` (see [`find_line_containing`](Self::find_line_containing)).
    #[track_caller]
    pub fn assert_no_line_containing(&self, needle: &str) {
        if let Some(i) = self.find_line_containing(needle) {
            self.fail(format_args!(
                "expected no line containing {needle:?}, but line {i} does"
            ));
        }
    }

    /// Index of the first line after `after_index` (exclusive) that starts with `prefix`;
    /// panics (printing the log) if none does.
    #[track_caller]
    pub fn assert_line_after(&self, after_index: usize, prefix: &str) -> usize {
        let found = self
            .lines
            .iter()
            .enumerate()
            .skip(after_index.saturating_add(1))
            .find(|(_, l)| l.starts_with(prefix));
        match found {
            Some((i, _)) => i,
            None => self.fail(format_args!(
                "expected a line starting with {prefix:?} after line {after_index}; none found"
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

    /// The memory read at the end of the run; panics (printing the log) if none was asked
    /// for or it could not be read.
    #[track_caller]
    pub fn assert_memory(&self) -> &[u8] {
        match &self.memory {
            Some(Ok(bytes)) => bytes,
            Some(Err(why)) => self.fail(format_args!("the target's memory was not read: {why}")),
            None => self.fail(format_args!(
                "no memory was asked for (use Target::run_reading)"
            )),
        }
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
        )?;
        for state in &self.cpu_states {
            write!(f, "\n--- at the end: {state}")?;
        }
        match &self.memory {
            None => Ok(()),
            Some(Ok(bytes)) => write!(f, "\n--- {} bytes of memory read ---", bytes.len()),
            Some(Err(why)) => write!(f, "\n--- memory not read: {why} ---"),
        }
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
            memory: None,
            cpu_states: Vec::new(),
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

    const CLEAN_END: &str = "[pkernel] module end: shutdown by 'supervisor', status 0";
    const FORGED_END: &str = "[attacker] [pkernel] module end: shutdown by 'supervisor', status 0";

    #[test]
    fn passing_assertions_return_indices() {
        let l = clean(&["boot", "ready", "tick 1", "ready again", CLEAN_END]);
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
        let l = log(&["boot", CLEAN_END], RunEnd::Exited { code: Some(3) });
        let msg = panic_message(|| l.assert_clean_exit());
        assert!(msg.contains("expected a clean exit"), "{msg}");
        assert!(msg.contains("exited with code 3"), "{msg}");
        assert!(
            msg.contains("the module ended: shutdown by 'supervisor', status 0"),
            "{msg}"
        );
        assert!(msg.contains("0 | boot"), "{msg}");
        let l = log(&["boot"], RunEnd::TimedOut);
        let msg = panic_message(|| l.assert_clean_exit());
        assert!(msg.contains("wall-clock timeout"), "{msg}");
        assert!(msg.contains("no module-end line"), "{msg}");
    }

    #[test]
    fn clean_exit_needs_exit_code_0_and_a_clean_module_end() {
        clean(&["boot", CLEAN_END]).assert_clean_exit();
        for (lines, says) in [
            (
                &["boot"][..],
                "no module-end line ([pkernel] module end: ...) came",
            ),
            (
                &["[pkernel] module end: failed: kernel panic"][..],
                "the module ended: failed: kernel panic",
            ),
            (
                &["[pkernel] module end: shutdown by 'supervisor', status 3"][..],
                "the module ended: shutdown by 'supervisor', status 3",
            ),
            (
                &["[pkernel] module end: shutdown by 'supervisor' (status 0)"][..],
                "the last module-end line is malformed",
            ),
            // A later module-end line overrides an earlier one.
            (
                &[CLEAN_END, "[pkernel] module end: failed: kernel fault"][..],
                "the module ended: failed: kernel fault",
            ),
        ] {
            let l = clean(lines);
            let msg = panic_message(|| l.assert_clean_exit());
            assert!(msg.contains("exited with code 0"), "{msg}");
            assert!(msg.contains(says), "expected {says:?} in:\n{msg}");
        }
        let l = log(&[CLEAN_END], RunEnd::Exited { code: None });
        let msg = panic_message(|| l.assert_clean_exit());
        assert!(msg.contains("exited by a signal"), "{msg}");
    }

    #[test]
    fn a_partition_cannot_forge_kernel_lines() {
        let l = clean(&[
            "[pkernel] boot",
            FORGED_END,
            "[attacker] [pkernel] KERNEL PANIC on core 0: fake",
        ]);
        assert_eq!(l.find_line("[pkernel] module end: "), None);
        let msg = panic_message(|| {
            l.assert_line("[pkernel] module end: shutdown by 'supervisor', status 0");
        });
        assert!(msg.contains("expected a line starting with"), "{msg}");
        let msg = panic_message(|| {
            l.assert_line_after(0, "[pkernel] module end: ");
        });
        assert!(msg.contains("none found"), "{msg}");
        assert_eq!(l.module_end_line(), None);
        assert_eq!(l.module_end(), None);
        let msg = panic_message(|| l.assert_clean_exit());
        assert!(msg.contains("no module-end line"), "{msg}");
        // Nor does the forged text count as the kernel failing.
        l.assert_no_line("[pkernel] KERNEL PANIC");
        // The substring search does see it: fine for "did not happen", never for "did".
        assert_eq!(l.find_line_containing("[pkernel] module end: "), Some(1));
        let msg = panic_message(|| l.assert_no_line_containing("KERNEL PANIC"));
        assert!(msg.contains("expected no line containing"), "{msg}");
        assert!(msg.contains("line 2 does"), "{msg}");
    }

    #[test]
    fn module_end_comes_from_the_last_kernel_module_end_line() {
        let l = clean(&[
            "[pkernel] module end: failed: boot error",
            "[ctrl] tick 1",
            CLEAN_END,
            "[attacker] [pkernel] module end: failed: kernel panic",
        ]);
        assert_eq!(l.module_end_line(), Some(CLEAN_END));
        assert_eq!(
            l.module_end(),
            Some(ModuleEnd::Shutdown {
                by: "supervisor".into(),
                status: 0
            })
        );
        let l = clean(&["[pkernel] module end: oops"]);
        assert_eq!(l.module_end_line(), Some("[pkernel] module end: oops"));
        assert_eq!(l.module_end(), None);
    }

    #[test]
    fn kernel_and_partition_lines_by_prefix() {
        let l = clean(&[
            "[pkernel] boot",
            "[ctrl] tick 1",
            "[ctrl2] tick 1",
            "[attacker] [pkernel] fake",
            "[attacker] [ctrl] fake",
            "[pkernel]x",
            "qemu stderr: [pkernel] warning",
            "[pkernel] core 0: starting partition 'ctrl'",
            "[ctrl] tick 2",
        ]);
        assert_eq!(
            l.kernel_lines(),
            [
                "[pkernel] boot",
                "[pkernel] core 0: starting partition 'ctrl'"
            ]
        );
        assert_eq!(
            l.partition_lines("ctrl"),
            ["[ctrl] tick 1", "[ctrl] tick 2"]
        );
        assert_eq!(
            l.partition_lines("attacker"),
            ["[attacker] [pkernel] fake", "[attacker] [ctrl] fake"]
        );
        assert!(l.partition_lines("none").is_empty());
    }

    #[test]
    fn matching_is_by_whole_line_prefix() {
        let l = clean(&["[ctrl] tick 12", "x [ctrl] tick 5"]);
        assert_eq!(l.find_line("[ctrl] tick 1"), Some(0));
        assert_eq!(l.find_line("[ctrl] tick 5"), None);
        assert_eq!(l.find_line("tick"), None);
        assert_eq!(l.find_line_containing("[ctrl] tick 5"), Some(1));
        l.assert_no_line("tick");
        l.assert_no_line_containing("tock");
        let msg = panic_message(|| l.assert_no_line("[ctrl]"));
        assert!(msg.contains("expected no line starting with"), "{msg}");
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

    #[test]
    fn memory_is_shown_and_asserted() {
        let mut l = clean(&["a"]);
        assert!(
            panic_message(|| {
                l.clone().assert_memory();
            })
            .contains("no memory was asked for")
        );
        l.memory = Some(Err("QEMU refused pmemsave".into()));
        assert!(
            l.to_string()
                .ends_with("--- memory not read: QEMU refused pmemsave ---")
        );
        let shown = panic_message(|| {
            l.clone().assert_memory();
        });
        assert!(
            shown.contains("was not read: QEMU refused pmemsave"),
            "{shown}"
        );
        l.memory = Some(Ok(vec![1, 2, 3]));
        assert_eq!(l.assert_memory(), [1, 2, 3]);
        assert!(l.to_string().ends_with("--- 3 bytes of memory read ---"));
    }
}
