//! `cargo xtask`: the project's commands.
//!
//!   cargo xtask run    [--config FILE] [--seconds N] [--trace CSV]
//!                                                      build and boot a system on QEMU, say
//!                                                      how the module ended; with --trace,
//!                                                      read the kernel's schedule trace at the
//!                                                      end and write CSV.csv and CSV.json
//!   cargo xtask build  [--config FILE]                 build a system image, print its path
//!   cargo xtask check  [--config FILE]                 validate a configuration
//!   cargo xtask report [--config FILE] [--out DIR] [--trace CSV]
//!                                                      write the certification reports
//!   cargo xtask fuzz   [--seconds N] [--target T]      fuzz schedule-gen (libFuzzer)
//!   cargo xtask test                                   host tests + HIL tests on QEMU
//!   cargo xtask bench                                  instruction counts under QEMU icount

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use xtask::{demo_config, image, setup, workspace_root};

const USAGE: &str = "usage: cargo xtask <command> [options]

commands:
  run   [--config FILE] [--seconds N] [--trace OUT.csv]
                                        build the system (default: configs/demo.toml) and boot it
                                        on QEMU with its console on this terminal; Ctrl-C or
                                        --seconds N ends it. Prints how the module ended; exit
                                        status 0 only after a shutdown with status 0 or when
                                        --seconds ran out with the module still running.
                                        --trace: at the end, read the kernel's schedule trace
                                        from the machine's memory (QMP) and write OUT.csv and
                                        OUT.json (Chrome/Perfetto trace events)
  build [--config FILE]                 build the system image and print the kernel ELF's path
                                        (a Linux partition's kernel and busybox are fetched
                                        with apt into target/linux-cache/)
  check [--config FILE]                 validate a configuration and report every error
  report [--config FILE] [--out DIR] [--trace FILE.csv]
                                        write report.html, report.json and report.txt for the
                                        configuration (default DIR: target/reports/<config name>);
                                        --trace adds \"Planned vs observed\" from a run's trace
  fuzz  [--seconds N] [--target T]      build schedule-gen's fuzz targets (T: config or import_xml;
                                        default both), replay the kept regressions, fuzz N seconds
                                        (default 60); needs g++
  test                                  run the host tests and the HIL tests (installs QEMU if missing)
  bench                                 boot the benchmark systems (configs/bench/) under QEMU icount,
                                        twice, and print the table of instruction counts";

struct Options {
    config: PathBuf,
    seconds: Option<u64>,
    out: Option<PathBuf>,
    target: Option<String>,
    trace: Option<PathBuf>,
}

/// Parses `--flag value` options, accepting only those in `allowed`.
fn parse_options(args: &[String], allowed: &[&str]) -> Result<Options, String> {
    let mut options = Options {
        config: demo_config(),
        seconds: None,
        out: None,
        target: None,
        trace: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if !allowed.contains(&arg.as_str()) {
            return Err(format!(
                "unknown option '{arg}' (this command takes {})",
                allowed.join(", ")
            ));
        }
        match arg.as_str() {
            "--config" => {
                let value = iter.next().ok_or("--config needs a file")?;
                options.config = PathBuf::from(value);
            }
            "--seconds" => {
                let value = iter.next().ok_or("--seconds needs a number")?;
                options.seconds = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--seconds: '{value}' is not a whole number"))?,
                );
            }
            "--target" => {
                let value = iter.next().ok_or("--target needs a fuzz target name")?;
                if !xtask::fuzz::TARGETS.contains(&value.as_str()) {
                    return Err(format!(
                        "--target: no fuzz target '{value}' (there are {})",
                        xtask::fuzz::TARGETS.join(", ")
                    ));
                }
                options.target = Some(value.clone());
            }
            "--out" => {
                let value = iter.next().ok_or("--out needs a directory")?;
                options.out = Some(PathBuf::from(value));
            }
            "--trace" => {
                let value = iter.next().ok_or("--trace needs a CSV file")?;
                options.trace = Some(PathBuf::from(value));
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    config_file_check(&options.config)?;
    Ok(options)
}

/// That `config` is a configuration file, or what it is instead.
fn config_file_check(config: &Path) -> Result<(), String> {
    if config.is_dir() {
        let tomls: Vec<String> = std::fs::read_dir(config)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.display().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .take(5)
            .collect();
        return Err(if tomls.is_empty() {
            format!(
                "{} is a directory: --config takes a configuration file (.toml)",
                config.display()
            )
        } else {
            format!(
                "{} is a directory: --config takes a configuration file (.toml), e.g. {}",
                config.display(),
                tomls.join(", ")
            )
        });
    }
    if !config.is_file() {
        return Err(format!("configuration file {} not found", config.display()));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match command.as_str() {
        "run" => parse_options(rest, &["--config", "--seconds", "--trace"]).and_then(|o| run(&o)),
        "build" => parse_options(rest, &["--config"]).and_then(|o| build(&o).map(|_| ())),
        "check" => parse_options(rest, &["--config"]).and_then(|o| check(&o)),
        "report" => parse_options(rest, &["--config", "--out", "--trace"]).and_then(|o| report(&o)),
        "fuzz" => parse_options(rest, &["--seconds", "--target"]).and_then(|o| fuzz(&o)),
        "test" if rest.is_empty() => test(),
        "bench" if rest.is_empty() => bench(),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!(
            "unknown command or arguments: {}\n\n{USAGE}",
            args.join(" ")
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn build(options: &Options) -> Result<image::SystemImage, String> {
    setup::ensure_targets()?;
    let image = image::build_system(&options.config).map_err(|e| e.to_string())?;
    println!("{}", image.kernel.display());
    Ok(image)
}

fn check(options: &Options) -> Result<(), String> {
    let loaded = schedule_gen::load(&options.config).map_err(|d| d.to_string())?;
    println!(
        "{}: ok, {} partitions, {} schedules, {} channels",
        options.config.display(),
        loaded.partitions().count(),
        loaded.schedules().len(),
        loaded.channels().len()
    );
    Ok(())
}

fn report(options: &Options) -> Result<(), String> {
    let loaded = schedule_gen::load(&options.config).map_err(|d| d.to_string())?;
    let out = options.out.clone().unwrap_or_else(|| {
        let stem = options
            .config
            .file_stem()
            .map_or_else(|| "config".into(), |s| s.to_string_lossy().into_owned());
        workspace_root().join("target/reports").join(stem)
    });
    let mut facts = schedule_gen::report::facts::collect(&loaded);
    if let Some(trace) = &options.trace {
        facts.observed = Some(
            schedule_gen::trace::observe::observe_file(&loaded, trace)
                .map_err(|problems| problems.to_string())?,
        );
    }
    for file in schedule_gen::report::write_facts(&facts, &out).map_err(|d| d.to_string())? {
        println!("{}", file.display());
    }
    Ok(())
}

fn fuzz(options: &Options) -> Result<(), String> {
    let bins = xtask::fuzz::build()?;
    let targets: Vec<&str> = match &options.target {
        Some(t) => vec![t.as_str()],
        None => xtask::fuzz::TARGETS.to_vec(),
    };
    xtask::fuzz::run(&bins, &targets, options.seconds.unwrap_or(60))
}

/// How long QEMU may take to power off after the kernel's module-end line.
const POWER_OFF_GRACE: Duration = Duration::from_secs(5);
/// How long QEMU may take to exit after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long to keep reading the console after QEMU ended, for bytes still in the pipe.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// How often QEMU's status is polled.
const POLL: Duration = Duration::from_millis(50);

/// What the console thread tells `run`.
enum ConsoleEvent {
    /// The kernel printed its module-end line.
    ModuleEnd(hil_tests::ModuleEnd),
    /// QEMU's console closed; `mid_line` if its last byte did not end a line.
    Closed { mid_line: bool },
}

/// How long QEMU may take to exit after it was told to quit (through QMP, `--trace`).
const QUIT_GRACE: Duration = Duration::from_secs(3);

/// Builds the system, boots it on QEMU with the console on this terminal, and reports how
/// the module ended (see `xtask::run::decide` for the exit status).
///
/// QEMU's standard output is piped through here so the kernel's module-end line can be
/// seen; every byte is passed on at once (the console is interactive). Standard input and
/// standard error stay QEMU's own. Ctrl-C sends SIGINT to QEMU and xtask alike: both end at
/// once (QEMU restores the terminal), no summary is printed, and the shell reports status 130.
///
/// With `--trace`, QEMU also serves QMP and stays up when the guest powers off
/// (`-no-shutdown`): the kernel's trace array is read from the machine's memory at the end
/// (after the power-off, or before QEMU is stopped when `--seconds` runs out), then QEMU is
/// told to quit (or stopped), and the CSV and JSON are written.
fn run(options: &Options) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt;
    use std::sync::mpsc::RecvTimeoutError;
    use xtask::run::{QemuEnd, decide};

    let qemu = setup::ensure_qemu()?;
    let image = build(options)?;
    let mut args = hil_tests::qemu_args(&image.kernel);
    let mut tracing = match &options.trace {
        Some(csv) if xtask::trace::json_path(csv) == *csv => {
            return Err(format!(
                "--trace {}: give the CSV a name not ending in .json (the JSON goes beside it)",
                csv.display()
            ));
        }
        Some(_) => Some(xtask::trace::TraceSession::new(&image.kernel)?),
        None => None,
    };
    if let Some(t) = &tracing {
        args.extend(t.qemu_args());
    }
    let mut child = Command::new(&qemu)
        .args(&args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", qemu.display()))?;
    let console = child.stdout.take().expect("QEMU's stdout is piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || forward_console(console, &tx));

    let deadline = options
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut seen = Seen {
        module_end: None,
        power_off_by: None,
        mid_line: false,
        console_open: true,
    };
    // With --trace, once the guest powered off: when QEMU, told to quit, must have exited.
    let mut quit_by: Option<Instant> = None;
    let qemu_end = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                break QemuEnd::Exited {
                    code: status.code(),
                    signal: status.signal(),
                };
            }
            Ok(None) => {}
            Err(e) => {
                stop_qemu(&mut child);
                return Err(format!("cannot watch QEMU: {e}"));
            }
        }
        let now = Instant::now();
        if let Some(by) = quit_by {
            if now >= by {
                stop_qemu(&mut child);
                break QemuEnd::NoQuit { grace: QUIT_GRACE };
            }
        } else if let Some(t) = tracing.as_mut()
            && t.powered_off()
        {
            // -no-shutdown: the machine is off and QEMU runs on. Read, then let QEMU go.
            t.read();
            t.quit();
            quit_by = Some(Instant::now() + QUIT_GRACE);
        } else if let Some(by) = seen.power_off_by {
            // Once the module has ended, only QEMU's power-off is awaited, not --seconds.
            if now >= by {
                if let Some(t) = tracing.as_mut() {
                    t.read();
                }
                stop_qemu(&mut child);
                break QemuEnd::NoPowerOff {
                    grace: POWER_OFF_GRACE,
                };
            }
        } else if deadline.is_some_and(|d| now >= d) {
            if let Some(t) = tracing.as_mut() {
                t.read();
            }
            stop_qemu(&mut child);
            break QemuEnd::Stopped {
                after_seconds: options.seconds.unwrap_or(0),
            };
        }
        if seen.console_open {
            match rx.recv_timeout(POLL) {
                Ok(event) => seen.record(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => seen.console_open = false,
            }
        } else {
            std::thread::sleep(POLL);
        }
    };
    // QEMU has ended: read what it wrote before, unless something else holds the pipe open.
    let until = Instant::now() + DRAIN_GRACE;
    while seen.console_open {
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(event) => seen.record(event),
            Err(RecvTimeoutError::Disconnected) => seen.console_open = false,
            Err(RecvTimeoutError::Timeout) => break,
        }
    }
    if !seen.console_open {
        let _ = reader.join();
    }
    if seen.mid_line || seen.console_open {
        // Start the summary on a line of its own.
        eprintln!();
    }
    let trace_result = match (tracing, &options.trace) {
        (Some(t), Some(csv)) => Some(write_trace(options, csv, t.finish())),
        _ => None,
    };
    let outcome = decide(seen.module_end.as_ref(), &qemu_end);
    match trace_result {
        Some(Err(e)) if outcome.success => Err(format!("{}; but the trace: {e}", outcome.summary)),
        Some(Err(e)) => Err(format!("{} (and the trace: {e})", outcome.summary)),
        _ if outcome.success => {
            eprintln!("xtask: {}", outcome.summary);
            Ok(())
        }
        _ => Err(outcome.summary),
    }
}

/// Decodes the trace array read at the end of a run, says on stderr what each core held, and
/// writes `csv` and the JSON beside it.
fn write_trace(
    options: &Options,
    csv: &std::path::Path,
    memory: Result<Vec<u8>, String>,
) -> Result<(), String> {
    let bytes = memory.map_err(|e| format!("not read: {e}"))?;
    let cfg = schedule_gen::load(&options.config).map_err(|d| d.to_string())?;
    let dump = xtask::trace::TraceDump::decode(&bytes);
    for line in dump.summary(usize::from(cfg.core_count())) {
        eprintln!("xtask: {line}");
    }
    let json = xtask::trace::write_files(&cfg, &dump, csv)?;
    eprintln!(
        "xtask: trace written to {} and {} ({} records)",
        csv.display(),
        json.display(),
        dump.rows.len()
    );
    Ok(())
}

/// What `run` has learnt from the console so far.
struct Seen {
    /// The last module-end line.
    module_end: Option<hil_tests::ModuleEnd>,
    /// When QEMU must have powered off: [`POWER_OFF_GRACE`] after the first module-end line.
    power_off_by: Option<Instant>,
    /// The console's last byte did not end a line.
    mid_line: bool,
    /// The console thread has not reported [`ConsoleEvent::Closed`] yet.
    console_open: bool,
}

impl Seen {
    fn record(&mut self, event: ConsoleEvent) {
        match event {
            ConsoleEvent::ModuleEnd(end) => {
                self.module_end = Some(end);
                self.power_off_by
                    .get_or_insert_with(|| Instant::now() + POWER_OFF_GRACE);
            }
            ConsoleEvent::Closed { mid_line } => {
                self.mid_line = mid_line;
                self.console_open = false;
            }
        }
    }
}

/// Copies QEMU's console to our stdout as bytes arrive (flushing each piece) and sends the
/// kernel's module-end lines to `run`, then [`ConsoleEvent::Closed`].
fn forward_console(mut console: impl Read, tx: &mpsc::Sender<ConsoleEvent>) {
    let mut watcher = xtask::run::ConsoleWatcher::new();
    let mut stdout = Some(io::stdout());
    let mut buf = [0u8; 4096];
    loop {
        let n = match console.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        // If our stdout is gone (e.g. a closed pipe), keep watching for the module end.
        if let Some(out) = stdout.as_mut()
            && xtask::run::write_patiently(&mut out.lock(), &buf[..n]).is_err()
        {
            stdout = None;
        }
        for end in watcher.push(&buf[..n]) {
            let _ = tx.send(ConsoleEvent::ModuleEnd(end));
        }
    }
    let _ = tx.send(ConsoleEvent::Closed {
        mid_line: watcher.mid_line(),
    });
}

/// Ends QEMU and reaps it: SIGTERM first, so QEMU restores the terminal settings it changed
/// (a SIGKILLed QEMU leaves the terminal without echo), then SIGKILL if it lingers.
fn stop_qemu(child: &mut Child) {
    let asked = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if asked {
        let until = Instant::now() + TERM_GRACE;
        while Instant::now() < until {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn bench() -> Result<(), String> {
    setup::ensure_qemu()?;
    setup::ensure_targets()?;
    xtask::bench::run()
}

fn test() -> Result<(), String> {
    setup::ensure_qemu()?;
    setup::ensure_targets()?;
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(workspace_root())
        // The workspace's default members: every host crate, including the HIL scenarios.
        .arg("test")
        .env(hil_tests::ENV_REQUIRED, "1")
        .status()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("tests failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_given_as_the_configuration_is_called_one() {
        let root = workspace_root();
        let err = config_file_check(&root.join("configs")).unwrap_err();
        assert!(
            err.contains(
                "configs is a directory: --config takes a configuration file (.toml), e.g. "
            ),
            "{err}"
        );
        assert!(err.contains("configs/demo.toml"), "{err}");
        let empty = std::env::temp_dir().join(format!("xtask-empty-dir-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        assert_eq!(
            config_file_check(&empty).unwrap_err(),
            format!(
                "{} is a directory: --config takes a configuration file (.toml)",
                empty.display()
            )
        );
        std::fs::remove_dir(&empty).unwrap();
        assert_eq!(
            config_file_check(Path::new("/no/such.toml")).unwrap_err(),
            "configuration file /no/such.toml not found"
        );
        assert_eq!(config_file_check(&root.join("configs/demo.toml")), Ok(()));
    }
}
