//! `cargo xtask`: the project's commands.
//!
//!   cargo xtask run    [--config FILE] [--seconds N]   build and boot a system on QEMU
//!   cargo xtask build  [--config FILE]                 build a system image, print its path
//!   cargo xtask check  [--config FILE]                 validate a configuration
//!   cargo xtask report [--config FILE] [--out DIR]     write the certification reports
//!   cargo xtask fuzz   [--seconds N] [--target T]      fuzz schedule-gen (libFuzzer)
//!   cargo xtask test                                   host tests + HIL tests on QEMU

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use xtask::{demo_config, image, setup, workspace_root};

const USAGE: &str = "usage: cargo xtask <command> [options]

commands:
  run   [--config FILE] [--seconds N]   build the system (default: configs/demo.toml) and boot it
                                        on QEMU with its console on this terminal; Ctrl-C or
                                        --seconds N ends it
  build [--config FILE]                 build the system image and print the kernel ELF's path
  check [--config FILE]                 validate a configuration and report every error
  report [--config FILE] [--out DIR]    write report.html, report.json and report.txt for the
                                        configuration (default DIR: target/reports/<config name>)
  fuzz  [--seconds N] [--target T]      build schedule-gen's fuzz targets (T: config or import_xml;
                                        default both), replay the kept regressions, fuzz N seconds
                                        (default 60); needs g++
  test                                  run the host tests and the HIL tests (installs QEMU if missing)";

struct Options {
    config: PathBuf,
    seconds: Option<u64>,
    out: Option<PathBuf>,
    target: Option<String>,
}

/// Parses `--flag value` options, accepting only those in `allowed`.
fn parse_options(args: &[String], allowed: &[&str]) -> Result<Options, String> {
    let mut options = Options {
        config: demo_config(),
        seconds: None,
        out: None,
        target: None,
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
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if !options.config.is_file() {
        return Err(format!(
            "configuration file {} not found",
            options.config.display()
        ));
    }
    Ok(options)
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
        "run" => parse_options(rest, &["--config", "--seconds"]).and_then(|o| run(&o)),
        "build" => parse_options(rest, &["--config"]).and_then(|o| build(&o).map(|_| ())),
        "check" => parse_options(rest, &["--config"]).and_then(|o| check(&o)),
        "report" => parse_options(rest, &["--config", "--out"]).and_then(|o| report(&o)),
        "fuzz" => parse_options(rest, &["--seconds", "--target"]).and_then(|o| fuzz(&o)),
        "test" if rest.is_empty() => test(),
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
    for file in schedule_gen::report::write_reports(&loaded, &out).map_err(|d| d.to_string())? {
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

fn run(options: &Options) -> Result<(), String> {
    let qemu = setup::ensure_qemu()?;
    let image = build(options)?;
    let mut child = Command::new(&qemu)
        .args(hil_tests::qemu_args(&image.kernel))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", qemu.display()))?;
    let deadline = options
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("QEMU exited: {status}"))
            };
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("\nxtask: stopped after {} s", options.seconds.unwrap_or(0));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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
