//! Host-side HIL runner: boots a pkernel system image on a [`Target`] and captures its console.
//!
//! A scenario test builds an image, hands it to a target ([`QemuVirt`] by default; a probe-rs
//! board backend can implement the same [`Target`] trait later), and judges the [`RunLog`] it
//! gets back from structured console lines:
//!
//! ```no_run
//! use std::{path::Path, time::Duration};
//! use hil_tests::{QemuVirt, RunLimits, Target};
//!
//! let Some(_qemu) = hil_tests::skip_or_fail("ticker_advances") else { return };
//! let limits = RunLimits::default()
//!     .with_timeout(Duration::from_secs(30))
//!     .with_stop_when("[ctrl] tick 5");
//! let log = QemuVirt::new().run(Path::new("target/pkernel.elf"), &limits).unwrap();
//! let boot = log.assert_line("[pkernel] core 0: starting partition 'ctrl'");
//! log.assert_line_after(boot, "[ctrl] tick 5");
//! log.assert_advancing("[ctrl] tick ", 3);
//! ```
//!
//! Every needle is a whole-line prefix: `assert_line("[pkernel] core 0: ...")` is satisfied
//! only by a line that starts with that text. The kernel prefixes every partition line with
//! `[<partition name>] `, so a partition cannot produce a line starting with `[pkernel] `,
//! but it can print `[pkernel] ...` further along its own line. Substring searches
//! ([`RunLog::find_line_containing`], [`RunLog::assert_no_line_containing`]) exist only to
//! show that something did *not* appear.
//!
//! How the module ended is told by the kernel's last line, `[pkernel] module end: ...`
//! ([`ModuleEnd`], [`RunLog::module_end`]), not by QEMU's exit status: the kernel powers off
//! with PSCI `SYSTEM_OFF`, and QEMU then exits with status 0 whatever happened.
//!
//! A target can also read the machine's memory at the end of a run, as a debug probe reads a
//! board's RAM ([`Target::run_reading`], [`RunLog::memory`]): [`QemuVirt::with_memory_access`]
//! serves QMP on a Unix socket ([`qmp`]) and keeps QEMU up after the guest powers off
//! (`-no-shutdown`); the runner notices the power-off through QMP, reads the memory, and tells
//! QEMU to quit. On a timeout, the idle watchdog or a stop line the memory is read (the
//! machine stopped) before QEMU is killed. `xtask::trace::run_traced` uses this to read the
//! kernel's schedule trace.
//!
//! Principles: every run is bounded (wall clock and an idle watchdog, plus the bounded QMP
//! exchanges at the end), every spawned process is killed and reaped however the run ends
//! (including a panic), and every failed assertion prints the whole captured console and how
//! the run ended.
#![forbid(unsafe_code)]

mod json;
mod log;
mod module_end;
mod qemu;
pub mod qmp;
mod runner;

use std::{error::Error, fmt, io, path::PathBuf, time::Duration};

pub use log::{RunEnd, RunLog};
pub use module_end::{KERNEL_PREFIX, MODULE_END_PREFIX, ModuleEnd};
pub use qemu::{
    Machine, QemuVirt, find_qemu, machine_args, memory_access_args, qemu_args, temp_socket_path,
};
pub use qmp::{MemoryRange, QmpProbe};
pub use runner::{QEMU_STDERR_PREFIX, run_command};

/// Environment variable: when `1`, a missing QEMU fails the test instead of skipping it.
/// `cargo xtask test` and CI set it.
pub const ENV_REQUIRED: &str = "PKERNEL_HIL_REQUIRED";

/// Environment variable: when `1`, every console line is echoed to stderr as it arrives.
pub const ENV_ECHO: &str = "PKERNEL_HIL_ECHO";

/// Something that can boot a system image and report its console output.
pub trait Target {
    /// Human name for logs, e.g. "qemu-virt".
    fn name(&self) -> &str;
    /// Boots `image` and captures its console until the run ends (see [`RunLimits`]).
    fn run(&self, image: &std::path::Path, limits: &RunLimits) -> Result<RunLog, HilError>;

    /// Like [`run`](Self::run), and at the end of the run, however it ends, reads `range` of
    /// the target's physical memory the way a debug probe does (no help from the running
    /// system) into [`RunLog::memory`]. A target without memory access refuses with
    /// [`HilError::NoMemoryAccess`] (the default).
    fn run_reading(
        &self,
        image: &std::path::Path,
        limits: &RunLimits,
        range: MemoryRange,
    ) -> Result<RunLog, HilError> {
        let _ = (image, limits, range);
        Err(HilError::NoMemoryAccess {
            target: self.name().to_owned(),
        })
    }
}

/// Bounds on one run. Whatever happens, a run ends within `timeout` (plus the time to kill
/// and reap the target).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Wall-clock limit for the whole run; the run ends with [`RunEnd::TimedOut`].
    pub timeout: Duration,
    /// No-output watchdog: if no console line arrives for this long, the run ends with
    /// [`RunEnd::Idle`]. Measured from the start of the run, then from each console line.
    pub idle_timeout: Duration,
    /// End the run (with [`RunEnd::StopLineSeen`]) once a console line matching each of
    /// these has appeared, in any order; the line that completes the set is the last console
    /// line of the log. Lines from the target's stderr never count. Several lines are for "each
    /// of these partitions got this far", which no single line says when their order depends
    /// on the host's timing (without icount QEMU's counter is the host's clock, and the kernel
    /// drains partitions' consoles round-robin). Empty: no stop line.
    pub stop_when: Vec<StopLine>,
    /// What is typed on the console, in order: when a console line starting with the first
    /// text of the next pair appears, the second is written to the target's stdin (QEMU's
    /// `-serial stdio`). Each pair is used once; none: stdin is empty. With typed text, the
    /// stop lines count only once the last pair was typed.
    pub typed: Vec<(String, String)>,
}

/// A console line a run waits for: one starting with `prefix` (a whole-line prefix, like
/// every needle of [`RunLog`]) and, if given, containing `containing` (a partition's line that
/// says something in particular: the prefix names the partition, which no other can fake,
/// the rest what it said).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopLine {
    /// What the line starts with.
    pub prefix: String,
    /// What the line also contains, anywhere after the prefix.
    pub containing: Option<String>,
}

impl StopLine {
    /// Whether `line` is this stop line.
    pub fn matches(&self, line: &str) -> bool {
        line.starts_with(&self.prefix)
            && self
                .containing
                .as_deref()
                .is_none_or(|c| line[self.prefix.len()..].contains(c))
    }
}

impl Default for RunLimits {
    /// 60 s wall clock, 20 s idle watchdog, no stop line.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(20),
            stop_when: Vec::new(),
            typed: Vec::new(),
        }
    }
}

impl RunLimits {
    /// Sets the wall-clock limit of the whole run.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the no-output watchdog.
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Ends the run once a console line starting with `prefix` has appeared (and every
    /// other stop line given).
    pub fn with_stop_when(mut self, prefix: impl Into<String>) -> Self {
        self.stop_when.push(StopLine {
            prefix: prefix.into(),
            containing: None,
        });
        self
    }

    /// Ends the run once a console line starting with `prefix` and containing `text` has
    /// appeared (and every other stop line given).
    pub fn with_stop_when_line(
        mut self,
        prefix: impl Into<String>,
        containing: impl Into<String>,
    ) -> Self {
        self.stop_when.push(StopLine {
            prefix: prefix.into(),
            containing: Some(containing.into()),
        });
        self
    }

    /// Ends the run once a console line starting with each of `prefixes` has appeared, in
    /// any order (and every other stop line given).
    pub fn with_stop_when_all_seen<S: Into<String>>(
        self,
        prefixes: impl IntoIterator<Item = S>,
    ) -> Self {
        prefixes.into_iter().fold(self, Self::with_stop_when)
    }

    /// Types `text` on the console once a line starting with `after` appears (after the
    /// earlier pairs were typed).
    pub fn with_typed(mut self, after: impl Into<String>, text: impl Into<String>) -> Self {
        self.typed.push((after.into(), text.into()));
        self
    }
}

/// Why a run could not be started. (How a started run ended is a [`RunEnd`], not an error.)
#[derive(Debug)]
pub enum HilError {
    /// `qemu-system-aarch64` is not on `PATH`.
    QemuNotFound,
    /// The target process could not be spawned.
    Spawn {
        /// The program that was being started.
        program: String,
        /// What the OS said.
        source: io::Error,
    },
    /// The system image to boot does not exist.
    ImageMissing(PathBuf),
    /// Memory was asked for from a target that cannot read it (for [`QemuVirt`]: not made
    /// with [`QemuVirt::with_memory_access`]).
    NoMemoryAccess {
        /// The target's name.
        target: String,
    },
}

impl fmt::Display for HilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::QemuNotFound => write!(
                f,
                "qemu-system-aarch64 not found on PATH: install with `sudo apt-get install \
                 qemu-system-arm` or run `cargo xtask test`, which installs it"
            ),
            Self::Spawn { program, source } => write!(f, "could not start `{program}`: {source}"),
            Self::ImageMissing(path) => write!(
                f,
                "system image {} does not exist (build it first, e.g. `cargo xtask build`)",
                path.display()
            ),
            Self::NoMemoryAccess { target } => write!(
                f,
                "target {target} has no memory access (QemuVirt: use with_memory_access)"
            ),
        }
    }
}

impl Error for HilError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Spawn { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The path of `qemu-system-aarch64`, or [`HilError::QemuNotFound`] with the install hint.
pub fn qemu_available() -> Result<PathBuf, HilError> {
    find_qemu().ok_or(HilError::QemuNotFound)
}

/// Call at the top of a test that needs QEMU; returns QEMU's path, or `None` to skip.
///
/// When QEMU is missing: if `PKERNEL_HIL_REQUIRED=1` (set by `cargo xtask test` and CI) this
/// panics with the install hint; otherwise it prints
/// `SKIPPED <test>: qemu-system-aarch64 not found (install qemu-system-arm, or run cargo xtask test)`
/// to stderr and returns `None`, so the test can `return` early.
#[track_caller]
pub fn skip_or_fail(test: &str) -> Option<PathBuf> {
    let required = std::env::var(ENV_REQUIRED).is_ok_and(|v| v == "1");
    decide_skip(qemu_available(), required, test)
}

/// The decision behind [`skip_or_fail`], separated from the environment so it can be tested.
#[track_caller]
fn decide_skip(found: Result<PathBuf, HilError>, required: bool, test: &str) -> Option<PathBuf> {
    match found {
        Ok(path) => Some(path),
        Err(e) if required => panic!("{test}: {e} ({ENV_REQUIRED}=1, so this is a failure)"),
        Err(_) => {
            eprintln!(
                "SKIPPED {test}: qemu-system-aarch64 not found \
                 (install qemu-system-arm, or run cargo xtask test)"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::catch_unwind;

    #[test]
    fn qemu_not_found_message_has_install_hint() {
        let msg = HilError::QemuNotFound.to_string();
        assert!(
            msg.contains("install with `sudo apt-get install qemu-system-arm`"),
            "{msg}"
        );
        assert!(
            msg.contains("or run `cargo xtask test`, which installs it"),
            "{msg}"
        );
    }

    #[test]
    fn missing_qemu_skips_when_not_required() {
        assert_eq!(decide_skip(Err(HilError::QemuNotFound), false, "t"), None);
    }

    #[test]
    fn missing_qemu_fails_when_required() {
        let err = catch_unwind(|| decide_skip(Err(HilError::QemuNotFound), true, "my_test"))
            .expect_err("must panic when PKERNEL_HIL_REQUIRED=1");
        let msg = err
            .downcast_ref::<String>()
            .expect("formatted panic message");
        assert!(msg.contains("my_test"), "{msg}");
        assert!(
            msg.contains("sudo apt-get install qemu-system-arm"),
            "{msg}"
        );
    }

    #[test]
    fn present_qemu_is_returned() {
        let p = PathBuf::from("/usr/bin/qemu-system-aarch64");
        assert_eq!(decide_skip(Ok(p.clone()), true, "t"), Some(p));
    }

    #[test]
    fn limits_builder() {
        let l = RunLimits::default()
            .with_timeout(Duration::from_secs(5))
            .with_idle_timeout(Duration::from_secs(2))
            .with_stop_when("done");
        assert_eq!(l.timeout, Duration::from_secs(5));
        assert_eq!(l.idle_timeout, Duration::from_secs(2));
        assert_eq!(
            l.stop_when,
            [StopLine {
                prefix: "done".into(),
                containing: None
            }]
        );
    }
}
