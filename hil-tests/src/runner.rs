//! Runs one target process under the run limits, capturing its output line by line.
//!
//! Two reader threads turn stdout and stderr into lines on one channel; the calling thread
//! enforces the wall-clock timeout, the idle watchdog and the stop line, and a guard kills
//! and reaps the process on every path out (including a panic).
//!
//! A target with memory access (an [`EndOfRun`], e.g. QEMU with QMP) is also asked, while it
//! runs, whether the machine has powered off (its process living on), and its memory is read
//! once before the process ends, however the run ends.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    process::{Child, Command, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError, Sender},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use crate::{ENV_ECHO, HilError, RunEnd, RunLimits, RunLog, StopLine};

/// Prefix of the log lines that QEMU wrote on its stderr.
pub const QEMU_STDERR_PREFIX: &str = "qemu stderr: ";

/// How often the exit status is polled while waiting for output.
const POLL: Duration = Duration::from_millis(20);
/// How long to keep collecting output after the process ended (exited or was killed),
/// in case something else still holds its pipes open.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// How long a target gets to exit by itself after it was asked to ([`EndOfRun::release`]).
const RELEASE_GRACE: Duration = Duration::from_secs(3);
/// A "line" longer than this without a newline is cut (binary output must not grow forever).
const MAX_LINE: usize = 64 * 1024;
/// Starts each piece of a cut line after the first. Whatever followed the cut must not count
/// as the start of a line (a needle is a whole-line prefix, see [`crate::RunLog`]); the kernel
/// only prints ASCII, so no kernel line starts with this.
const CUT_CONTINUATION: &str = "\u{2026}";

/// What the reader threads send.
enum Event {
    /// A line from stdout (the console).
    Out(String),
    /// A line from stderr.
    Err(String),
    /// One of the two streams reached end of file.
    Eof,
}

/// Memory access to a running target, as a debug probe has it: the runner uses it to end a
/// run whose machine powered off while its process lives on (QEMU `-no-shutdown`), and to
/// read memory before the process ends.
pub(crate) trait EndOfRun {
    /// True once the machine has powered off. Called about every poll while the target runs;
    /// must return quickly.
    fn powered_off(&mut self) -> bool;
    /// Whether memory is to be read at the end of the run.
    fn wants_memory(&self) -> bool;
    /// Reads the memory wanted at the end of the run; `None` if none is wanted. Called at most
    /// once, while the process still exists; bounded in time.
    fn read_memory(&mut self) -> Option<Result<Vec<u8>, String>>;
    /// Asks the process to exit by itself (after a power-off).
    fn release(&mut self);
    /// Where each CPU is, one line per CPU, for the log of a run that hung; empty if the
    /// target cannot say. Called at most once, while the process still exists; bounded in
    /// time.
    fn cpu_states(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Kills and reaps the child unless it has already been reaped.
struct ChildGuard {
    child: Child,
    reaped: bool,
}

impl ChildGuard {
    /// `Some(exit code)` once the child has ended (and is reaped), `None` while it runs.
    fn try_wait(&mut self) -> Option<Option<i32>> {
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.reaped = true;
                Some(status.code())
            }
            Ok(None) => None,
            // Not waitable (should not happen): make sure it is gone, report no code.
            Err(_) => {
                self.kill_and_reap();
                Some(None)
            }
        }
    }

    fn kill_and_reap(&mut self) {
        if !self.reaped {
            // kill() fails only if the child already exited; wait() reaps it either way.
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// Runs `cmd` (stdout and stderr captured; stdin empty, or what [`RunLimits::typed`] says)
/// under `limits` and returns its log.
///
/// `target` names the log; lines from stderr are appended prefixed with `stderr_prefix`
/// (e.g. [`QEMU_STDERR_PREFIX`]). Only stdout lines count as console output for the idle
/// watchdog and `stop_when` (a line *starting with* it). Bytes are read lossily as UTF-8, a
/// trailing `\r` is stripped, and a last line without newline is kept. The process is killed and reaped on timeout,
/// idle, stop line, or if this function unwinds. With `PKERNEL_HIL_ECHO=1` every line is
/// also echoed to stderr as it arrives.
pub fn run_command(
    cmd: Command,
    limits: &RunLimits,
    target: &str,
    stderr_prefix: &str,
) -> Result<RunLog, HilError> {
    run_probed(cmd, limits, target, stderr_prefix, None)
}

/// [`run_command`] for a target with memory access.
///
/// While the process runs, `probe` is asked whether the machine powered off; if it did, the
/// memory is read, the process is asked to exit ([`EndOfRun::release`]) and gets
/// [`RELEASE_GRACE`] to do so, past the run's limits if need be; the run then ends as
/// [`RunEnd::Exited`] with the process's own status. On a timeout, the idle watchdog or the
/// stop line, the memory is read before the process is killed. The memory read, or why it
/// failed, is [`RunLog::memory`].
pub(crate) fn run_probed(
    mut cmd: Command,
    limits: &RunLimits,
    target: &str,
    stderr_prefix: &str,
    mut probe: Option<&mut dyn EndOfRun>,
) -> Result<RunLog, HilError> {
    let echo = std::env::var(ENV_ECHO).is_ok_and(|v| v == "1");
    cmd.stdin(if limits.typed.is_empty() {
        Stdio::null()
    } else {
        Stdio::piped()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().map_err(|source| HilError::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    let mut guard = ChildGuard {
        child,
        reaped: false,
    };

    let (tx, rx) = mpsc::channel();
    let mut readers = Vec::with_capacity(2);
    if let Some(out) = guard.child.stdout.take() {
        readers.push(spawn_reader(out, tx.clone(), Event::Out));
    }
    if let Some(err) = guard.child.stderr.take() {
        readers.push(spawn_reader(err, tx.clone(), Event::Err));
    }
    drop(tx);
    let mut open_streams = readers.len();
    let mut stdin = guard.child.stdin.take();
    let mut typed = limits.typed.iter();
    let mut next_typed = typed.next();
    // The stop lines not seen yet (counted once the typing is done).
    let mut unseen: Vec<&StopLine> = limits.stop_when.iter().collect();

    let mut lines = Vec::new();
    let mut push = |line: String, is_err: bool| {
        let line = if is_err {
            format!("{stderr_prefix}{line}")
        } else {
            line
        };
        if echo {
            eprintln!("[{target}] {line}");
        }
        lines.push(line);
    };

    let mut deadline = start + limits.timeout;
    let mut idle_deadline = start + limits.idle_timeout;
    let mut exited: Option<(Instant, Option<i32>)> = None;
    let mut memory: Option<Result<Vec<u8>, String>> = None;
    let mut released = false;
    let end = loop {
        if exited.is_none() {
            exited = guard.try_wait().map(|code| (Instant::now(), code));
        }
        if let Some(p) = probe.as_deref_mut()
            && exited.is_none()
            && !released
            && p.powered_off()
        {
            memory = p.read_memory();
            p.release();
            released = true;
            // The machine is off: only the process's exit is awaited now.
            let grace = Instant::now() + RELEASE_GRACE;
            deadline = deadline.max(grace);
            idle_deadline = idle_deadline.max(grace);
        }
        let now = Instant::now();
        if let Some((at, code)) = exited {
            if open_streams == 0 || now >= at + DRAIN_GRACE {
                break RunEnd::Exited { code };
            }
        } else if now >= deadline {
            break RunEnd::TimedOut;
        } else if now >= idle_deadline {
            break RunEnd::Idle;
        }
        if open_streams == 0 {
            // Both pipes closed but the process lives on: just poll its status.
            thread::sleep(POLL);
            continue;
        }
        let wait = deadline
            .min(idle_deadline)
            .min(now + POLL)
            .saturating_duration_since(now);
        match rx.recv_timeout(wait) {
            Ok(Event::Out(line)) => {
                idle_deadline = Instant::now() + limits.idle_timeout;
                let stop = next_typed.is_none() && !unseen.is_empty() && {
                    unseen.retain(|stop_line| !stop_line.matches(&line));
                    unseen.is_empty()
                };
                if let Some((after, text)) = next_typed
                    && line.starts_with(after.as_str())
                {
                    // A target that stopped reading shows up as missing output, which
                    // the test's assertions report.
                    if let Some(pipe) = stdin.as_mut() {
                        let _ = pipe.write_all(text.as_bytes()).and_then(|()| pipe.flush());
                    }
                    next_typed = typed.next();
                }
                push(line, false);
                if stop {
                    break RunEnd::StopLineSeen;
                }
            }
            Ok(Event::Err(line)) => push(line, true),
            Ok(Event::Eof) => open_streams -= 1,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open_streams = 0,
        }
    };

    let mut cpu_states = Vec::new();
    if let Some(p) = probe
        && !released
    {
        // A run that hung: where it hung, read before the memory (which stops the machine).
        if matches!(end, RunEnd::Idle | RunEnd::TimedOut) {
            cpu_states = p.cpu_states();
        }
        memory = match end {
            // Nothing left to read (and no socket to wait for).
            RunEnd::Exited { .. } => p.wants_memory().then(|| {
                Err("the target exited by itself before its memory could be read".to_owned())
            }),
            _ => p.read_memory(),
        };
    }
    guard.kill_and_reap();
    // Collect what the process wrote before it ended (e.g. a last line without newline
    // before a hang). After a stop line the console ends there; stderr is still kept.
    let keep_stdout = end != RunEnd::StopLineSeen;
    let elapsed = start.elapsed();
    open_streams = drain(&rx, open_streams, |ev| match ev {
        Event::Out(line) if keep_stdout => push(line, false),
        Event::Err(line) => push(line, true),
        _ => {}
    });
    if open_streams == 0 {
        for r in readers {
            let _ = r.join();
        }
    } // else: something else holds the pipes; the readers end when it closes them.

    Ok(RunLog {
        target: target.to_string(),
        lines,
        end,
        elapsed,
        memory,
        cpu_states,
    })
}

/// Passes events to `f` until all `open` streams reached EOF or [`DRAIN_GRACE`] passed;
/// returns how many streams are still open.
fn drain(rx: &Receiver<Event>, mut open: usize, mut f: impl FnMut(Event)) -> usize {
    let until = Instant::now() + DRAIN_GRACE;
    while open > 0 {
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(Event::Eof) => open -= 1,
            Ok(ev) => f(ev),
            Err(RecvTimeoutError::Disconnected) => open = 0,
            Err(RecvTimeoutError::Timeout) => break,
        }
    }
    open
}

/// A thread that sends each line of `stream` as `wrap(line)`, then [`Event::Eof`].
fn spawn_reader(
    stream: impl Read + Send + 'static,
    tx: Sender<Event>,
    wrap: fn(String) -> Event,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let _ = read_lines(stream, |line| tx.send(wrap(line)).is_ok());
        let _ = tx.send(Event::Eof);
    })
}

/// Calls `sink` with each line of `stream` (lossy UTF-8, without `\n` or a trailing `\r`,
/// the last line even without a newline) until EOF or until `sink` returns false. A line is
/// cut every [`MAX_LINE`] bytes; each piece after the first starts with [`CUT_CONTINUATION`],
/// so text past a cut never poses as the start of a line.
fn read_lines(stream: impl Read, mut sink: impl FnMut(String) -> bool) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    // Bytes at the start of `line` that are the continuation marker, not console output.
    let mut marker_len = 0;
    let emit = |line: &mut Vec<u8>, sink: &mut dyn FnMut(String) -> bool| {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let keep_going = sink(String::from_utf8_lossy(line).into_owned());
        line.clear();
        keep_going
    };
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if line.len() > marker_len {
                emit(&mut line, &mut sink);
            }
            return Ok(());
        }
        let room = MAX_LINE - line.len();
        let (used, newline) = match buf.iter().take(room).position(|&b| b == b'\n') {
            Some(nl) => {
                line.extend_from_slice(&buf[..nl]);
                (nl + 1, true)
            }
            None => {
                let n = buf.len().min(room);
                line.extend_from_slice(&buf[..n]);
                (n, false)
            }
        };
        reader.consume(used);
        let cut = !newline && line.len() == MAX_LINE;
        if newline || cut {
            if !emit(&mut line, &mut sink) {
                return Ok(());
            }
            marker_len = 0;
            if cut {
                line.extend_from_slice(CUT_CONTINUATION.as_bytes());
                marker_len = line.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    fn limits(timeout_ms: u64, idle_ms: u64) -> RunLimits {
        RunLimits {
            timeout: Duration::from_millis(timeout_ms),
            idle_timeout: Duration::from_millis(idle_ms),
            ..RunLimits::default()
        }
    }

    fn run(script: &str, limits: &RunLimits) -> RunLog {
        run_command(sh(script), limits, "sh", "sh stderr: ").expect("sh spawns")
    }

    /// The pid the script printed as `pid <n>` on its first line.
    fn printed_pid(log: &RunLog) -> u32 {
        let pids = log.numbers_after("pid ");
        assert_eq!(pids.len(), 1, "{log}");
        u32::try_from(pids[0]).expect("pid fits u32")
    }

    /// True if `pid` still exists in any state, zombie included.
    fn process_exists(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    /// The end state every run below that "exits cleanly" is checked against.
    const EXITED_0: RunEnd = RunEnd::Exited { code: Some(0) };

    #[test]
    fn clean_exit_and_lines_in_order() {
        let log = run("echo one; echo two; exit 0", &limits(10_000, 10_000));
        assert_eq!(log.end, EXITED_0, "{log}");
        assert_eq!(log.lines, ["one", "two"]);
        assert_eq!(log.target, "sh");
    }

    #[test]
    fn clean_exit_needs_the_kernels_module_end_line() {
        let end = "[pkernel] module end: shutdown by 'supervisor', status 0";
        let log = run(
            &format!("echo one; echo \"{end}\""),
            &limits(10_000, 10_000),
        );
        log.assert_clean_exit();
        // Exit status 0 alone proves nothing: the kernel powers off the same way on failure.
        let log = run(
            "echo '[pkernel] module end: failed: kernel panic'",
            &limits(10_000, 10_000),
        );
        assert_eq!(log.end, EXITED_0, "{log}");
        assert!(std::panic::catch_unwind(|| log.assert_clean_exit()).is_err());
        let log = run(&format!("echo \"[evil] {end}\""), &limits(10_000, 10_000));
        assert_eq!(log.end, EXITED_0, "{log}");
        assert!(std::panic::catch_unwind(|| log.assert_clean_exit()).is_err());
    }

    #[test]
    fn non_zero_exit_code_is_captured() {
        let log = run("echo failing; exit 7", &limits(10_000, 10_000));
        assert_eq!(log.end, RunEnd::Exited { code: Some(7) }, "{log}");
        assert!(std::panic::catch_unwind(|| log.assert_clean_exit()).is_err());
    }

    #[test]
    fn death_by_signal_has_no_code() {
        let log = run("kill -9 $$", &limits(10_000, 10_000));
        assert_eq!(log.end, RunEnd::Exited { code: None }, "{log}");
    }

    #[test]
    fn wall_clock_timeout_kills_and_reaps() {
        // Output keeps coming, so only the wall clock can end this run.
        let script = "echo pid $$; exec sh -c 'while :; do echo alive; sleep 0.05; done'";
        let log = run(script, &limits(700, 5_000));
        assert_eq!(log.end, RunEnd::TimedOut, "{log}");
        assert!(log.elapsed < Duration::from_secs(5), "{log}");
        assert!(
            !process_exists(printed_pid(&log)),
            "child left behind\n{log}"
        );
    }

    #[test]
    fn timeout_kills_a_long_sleep() {
        let log = run("echo pid $$; exec sleep 100", &limits(300, 10_000));
        assert_eq!(log.end, RunEnd::TimedOut, "{log}");
        assert!(log.elapsed < Duration::from_secs(5), "{log}");
        assert!(
            !process_exists(printed_pid(&log)),
            "child left behind\n{log}"
        );
    }

    #[test]
    fn idle_watchdog_fires_after_silence() {
        let log = run(
            "echo pid $$; echo hello; exec sleep 100",
            &limits(20_000, 300),
        );
        assert_eq!(log.end, RunEnd::Idle, "{log}");
        assert_eq!(log.lines[1], "hello");
        assert!(log.elapsed < Duration::from_secs(5), "{log}");
        assert!(
            !process_exists(printed_pid(&log)),
            "child left behind\n{log}"
        );
    }

    #[test]
    fn steady_output_keeps_the_watchdog_quiet() {
        let script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.1; done";
        let log = run(script, &limits(20_000, 400));
        assert_eq!(log.end, EXITED_0, "{log}");
        assert_eq!(
            log.assert_advancing("tick ", 10),
            (1..=10).collect::<Vec<u64>>()
        );
    }

    #[test]
    fn idle_watchdog_runs_from_start_without_output() {
        let log = run("exec sleep 100", &limits(20_000, 200));
        assert_eq!(log.end, RunEnd::Idle, "{log}");
        assert!(log.lines.is_empty(), "{log}");
    }

    #[test]
    fn typed_text_is_written_once_each_after_its_line() {
        // Echoes each line it reads and says "ready" again, until "bye".
        let script = "echo ready; while read l; do echo \"got $l\"; echo ready; \
                      [ \"$l\" = bye ] && exit 0; done";
        let typing = limits(10_000, 5_000)
            .with_typed("ready", "one\n")
            .with_typed("ready", "two\n")
            .with_typed("got two", "bye\n");
        // Counts only once "bye" was typed: the "ready" after "got two", not before.
        let limits = typing.clone().with_stop_when("ready");
        let log = run(script, &limits);
        assert_eq!(log.end, RunEnd::StopLineSeen);
        assert_eq!(
            log.lines,
            ["ready", "got one", "ready", "got two", "ready"],
            "{log}"
        );
        // A stop line that must also say something: not the "ready" lines, "got bye".
        let limits = typing.with_stop_when_line("got", "bye");
        let log = run(script, &limits);
        assert_eq!(log.end, RunEnd::StopLineSeen);
        assert_eq!(
            log.lines.last().map(String::as_str),
            Some("got bye"),
            "{log}"
        );
    }

    #[test]
    fn the_run_ends_once_every_line_of_a_set_has_appeared_in_any_order() {
        let l = limits(20_000, 20_000).with_stop_when_all_seen(["[b] 2", "[a] 2"]);
        let script = "echo '[a] 1'; echo '[b] 1'; echo '[b] 2'; echo '[b] 2 again'; \
                      echo 'x [a] 2'; echo '[a] 2'; echo after; exec sleep 100";
        let log = run(script, &l);
        assert_eq!(log.end, RunEnd::StopLineSeen, "{log}");
        assert_eq!(log.lines.last().map(String::as_str), Some("[a] 2"), "{log}");
        log.assert_no_line("after");
        assert!(log.elapsed < Duration::from_secs(5), "{log}");
        // One of the set missing: the run goes on to its watchdog.
        let l = limits(20_000, 1_000).with_stop_when_all_seen(["[a] 2", "[c] 1"]);
        let log = run(script, &l);
        assert_eq!(log.end, RunEnd::Idle, "{log}");
        log.assert_line("after");
        // A prefix and a line that must also say something, both needed: the "[b] 2" line
        // does not say "again", the next one does; the run ends at "[a] 2" all the same.
        let l = limits(20_000, 20_000)
            .with_stop_when_line("[b] 2", "again")
            .with_stop_when("[a] 2");
        let log = run(script, &l);
        assert_eq!(log.end, RunEnd::StopLineSeen, "{log}");
        assert_eq!(log.lines.last().map(String::as_str), Some("[a] 2"), "{log}");
        // ... and the run waits for the line that says it, not just any line of its prefix.
        let l = limits(20_000, 1_000).with_stop_when_line("[a] 1", "again");
        let log = run(script, &l);
        assert_eq!(log.end, RunEnd::Idle, "{log}");
    }

    #[test]
    fn stop_line_ends_the_run_early() {
        let l = limits(20_000, 20_000).with_stop_when("[sys] READY");
        let script = "echo pid $$; echo booting; echo '[evil] [sys] READY'; \
                      echo '[sys] READY now'; echo after; exec sleep 100";
        let log = run(script, &l);
        assert_eq!(log.end, RunEnd::StopLineSeen, "{log}");
        assert_eq!(
            log.lines.last().map(String::as_str),
            Some("[sys] READY now"),
            "{log}"
        );
        log.assert_no_line("after");
        // The same text further along another line did not stop the run.
        log.assert_line("[evil] [sys] READY");
        assert!(log.elapsed < Duration::from_secs(5), "{log}");
        assert!(
            !process_exists(printed_pid(&log)),
            "child left behind\n{log}"
        );
    }

    #[test]
    fn partial_last_line_and_crlf() {
        let log = run(
            r"printf 'dos\r\nmid\rline\nno newline'",
            &limits(10_000, 10_000),
        );
        assert_eq!(log.lines, ["dos", "mid\rline", "no newline"], "{log}");
        assert_eq!(log.end, EXITED_0, "{log}");
    }

    #[test]
    fn partial_line_before_a_hang_is_kept() {
        let log = run("printf 'panicked at'; exec sleep 100", &limits(20_000, 300));
        assert_eq!(log.end, RunEnd::Idle, "{log}");
        assert_eq!(log.lines, ["panicked at"], "{log}");
    }

    #[test]
    fn invalid_utf8_is_lossy() {
        let log = run(r"printf 'a\377b\n'", &limits(10_000, 10_000));
        assert_eq!(log.lines, ["a\u{FFFD}b"], "{log}");
    }

    #[test]
    fn stderr_is_captured_with_prefix() {
        let log = run("echo out; echo oops >&2; exit 3", &limits(10_000, 10_000));
        assert_eq!(log.end, RunEnd::Exited { code: Some(3) }, "{log}");
        log.assert_line("sh stderr: oops");
        assert_eq!(log.lines_with_prefix("out"), ["out"]);
        assert_eq!(log.lines.len(), 2, "{log}");
    }

    #[test]
    fn stderr_does_not_feed_the_idle_watchdog() {
        let script = "exec sh -c 'while :; do echo noise >&2; sleep 0.05; done'";
        let log = run(script, &limits(20_000, 400));
        assert_eq!(log.end, RunEnd::Idle, "{log}");
        log.assert_line("sh stderr: noise");
    }

    #[test]
    fn normal_exit_leaves_no_zombie() {
        let log = run("echo pid $$; exit 0", &limits(10_000, 10_000));
        assert_eq!(log.end, EXITED_0, "{log}");
        assert!(
            !process_exists(printed_pid(&log)),
            "zombie left behind\n{log}"
        );
    }

    #[test]
    fn exit_while_a_grandchild_holds_the_pipe() {
        // The background sleep keeps stdout open; the run must still end on the exit.
        let log = run("(exec sleep 3) & echo bye; exit 5", &limits(20_000, 20_000));
        assert_eq!(log.end, RunEnd::Exited { code: Some(5) }, "{log}");
        assert_eq!(log.lines, ["bye"], "{log}");
        assert!(log.elapsed < Duration::from_secs(2), "{log}");
    }

    #[test]
    fn spawn_failure_is_an_error() {
        let cmd = Command::new("/nonexistent/hil-tests-program");
        match run_command(cmd, &limits(1_000, 1_000), "x", "") {
            Err(HilError::Spawn { program, .. }) => {
                assert_eq!(program, "/nonexistent/hil-tests-program");
            }
            other => panic!("expected a spawn error, got {other:?}"),
        }
    }

    #[test]
    fn read_lines_cuts_overlong_lines() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nend\n");
        let mut got = Vec::new();
        read_lines(&input[..], |l| {
            got.push(l);
            true
        })
        .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], format!("{CUT_CONTINUATION}{}", "x".repeat(10)));
        assert_eq!(got[2], "end");
    }

    #[test]
    fn text_after_a_cut_does_not_start_a_line() {
        let forged = "[pkernel] module end: shutdown by 'supervisor', status 0";
        let mut input = vec![b'x'; MAX_LINE];
        input.extend_from_slice(forged.as_bytes());
        input.extend_from_slice(b"\n");
        input.extend_from_slice(&vec![b'y'; MAX_LINE]); // cut exactly at EOF: no empty piece
        let mut got = Vec::new();
        read_lines(&input[..], |l| {
            got.push(l);
            true
        })
        .unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[1], format!("{CUT_CONTINUATION}{forged}"));
        assert!(got.iter().all(|l| !l.starts_with("[pkernel]")), "{got:?}");
        assert_eq!(got[2], "y".repeat(MAX_LINE));
    }

    #[test]
    fn read_lines_stops_when_sink_refuses() {
        let mut got = Vec::new();
        read_lines(&b"a\nb\nc\n"[..], |l| {
            got.push(l);
            false
        })
        .unwrap();
        assert_eq!(got, ["a"]);
    }

    /// A pretend machine with memory access: "powered off" once the script created `off`;
    /// its memory is the text of `mem` (or an error if absent); release creates `quit`,
    /// which the script waits for before it exits.
    struct FakeProbe {
        dir: std::path::PathBuf,
        polls: usize,
        reads: usize,
        released: bool,
    }

    impl FakeProbe {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("hil-probe-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self {
                dir,
                polls: 0,
                reads: 0,
                released: false,
            }
        }

        fn path(&self, name: &str) -> String {
            self.dir.join(name).to_string_lossy().into_owned()
        }
    }

    impl Drop for FakeProbe {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    impl EndOfRun for FakeProbe {
        fn powered_off(&mut self) -> bool {
            self.polls += 1;
            self.dir.join("off").exists()
        }

        fn wants_memory(&self) -> bool {
            true
        }

        fn read_memory(&mut self) -> Option<Result<Vec<u8>, String>> {
            self.reads += 1;
            Some(std::fs::read(self.dir.join("mem")).map_err(|e| e.to_string()))
        }

        fn release(&mut self) {
            self.released = true;
            std::fs::write(self.dir.join("quit"), "").unwrap();
        }

        fn cpu_states(&mut self) -> Vec<String> {
            vec!["CPU#0 PC=0000000040080000".to_owned()]
        }
    }

    fn run_probe(script: &str, limits: &RunLimits, probe: &mut FakeProbe) -> RunLog {
        run_probed(sh(script), limits, "sh", "sh stderr: ", Some(probe)).expect("sh spawns")
    }

    #[test]
    fn a_power_off_reads_memory_then_lets_the_target_exit() {
        let mut probe = FakeProbe::new("off");
        let script = format!(
            "echo pid $$; echo bytes > {mem}; echo bye; touch {off}; \
             while [ ! -f {quit} ]; do sleep 0.02; done; exit 0",
            mem = probe.path("mem"),
            off = probe.path("off"),
            quit = probe.path("quit")
        );
        let log = run_probe(&script, &limits(20_000, 20_000), &mut probe);
        assert_eq!(log.end, EXITED_0, "{log}");
        assert_eq!(log.memory, Some(Ok(b"bytes\n".to_vec())), "{log}");
        assert!(probe.released);
        assert_eq!(probe.reads, 1);
        assert!(log.elapsed < Duration::from_secs(5), "{log}");
        assert!(!process_exists(printed_pid(&log)), "{log}");
    }

    #[test]
    fn a_target_that_will_not_exit_after_release_is_killed() {
        let mut probe = FakeProbe::new("stuck");
        let script = format!(
            "echo pid $$; touch {off}; exec sleep 100",
            off = probe.path("off")
        );
        let log = run_probe(&script, &limits(500, 20_000), &mut probe);
        assert_eq!(log.end, RunEnd::TimedOut, "{log}");
        assert!(probe.released);
        // Read once, at the power-off; the memory file never existed.
        assert_eq!(probe.reads, 1);
        assert!(matches!(log.memory, Some(Err(_))), "{log}");
        assert!(log.elapsed >= RELEASE_GRACE, "{log}");
        assert!(
            log.elapsed < RELEASE_GRACE + Duration::from_secs(3),
            "{log}"
        );
        assert!(!process_exists(printed_pid(&log)), "{log}");
    }

    #[test]
    fn memory_is_read_before_the_kill_on_every_other_ending() {
        // Stop line.
        let mut probe = FakeProbe::new("stop");
        let script = format!(
            "echo pid $$; echo state > {mem}; echo READY; exec sleep 100",
            mem = probe.path("mem")
        );
        let l = limits(20_000, 20_000).with_stop_when("READY");
        let log = run_probe(&script, &l, &mut probe);
        assert_eq!(log.end, RunEnd::StopLineSeen, "{log}");
        assert_eq!(log.memory, Some(Ok(b"state\n".to_vec())), "{log}");
        assert!(!probe.released);
        // A run that ended as planned did not hang: no CPU states.
        assert!(log.cpu_states.is_empty(), "{log}");
        assert!(!process_exists(printed_pid(&log)), "{log}");
        // Timeout (output keeps the idle watchdog quiet).
        let mut probe = FakeProbe::new("timeout");
        let script = format!(
            "echo pid $$; echo late > {mem}; while :; do echo x; sleep 0.05; done",
            mem = probe.path("mem")
        );
        let log = run_probe(&script, &limits(600, 20_000), &mut probe);
        assert_eq!(log.end, RunEnd::TimedOut, "{log}");
        assert_eq!(log.memory, Some(Ok(b"late\n".to_vec())), "{log}");
        assert!(probe.polls > 0);
        assert_eq!(log.cpu_states, ["CPU#0 PC=0000000040080000"], "{log}");
        assert!(!process_exists(printed_pid(&log)), "{log}");
        // Idle watchdog.
        let mut probe = FakeProbe::new("idle");
        let log = run_probe(
            "echo pid $$; exec sleep 100",
            &limits(20_000, 300),
            &mut probe,
        );
        assert_eq!(log.end, RunEnd::Idle, "{log}");
        assert_eq!(probe.reads, 1);
        // Where it hung is in the log's text.
        assert_eq!(log.cpu_states, ["CPU#0 PC=0000000040080000"], "{log}");
        assert!(
            log.to_string()
                .contains("--- at the end: CPU#0 PC=0000000040080000"),
            "{log}"
        );
        assert!(!process_exists(printed_pid(&log)), "{log}");
    }

    #[test]
    fn a_target_that_exits_by_itself_has_no_memory_to_read() {
        let mut probe = FakeProbe::new("exit");
        let log = run_probe("echo done; exit 4", &limits(20_000, 20_000), &mut probe);
        assert_eq!(log.end, RunEnd::Exited { code: Some(4) }, "{log}");
        let err = log.memory.clone().unwrap().unwrap_err();
        assert_eq!(
            err,
            "the target exited by itself before its memory could be read"
        );
        assert_eq!(probe.reads, 0);
        // Without a probe there is no memory at all.
        let log = run("exit 0", &limits(20_000, 20_000));
        assert_eq!(log.memory, None);
    }
}
