//! The `schedule-gen` command: check a configuration, generate the kernel tables, write the
//! certification reports, or import an ARINC 653 XML configuration.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use schedule_gen::PartitionPayload;
use schedule_gen::linux::LinuxPayload;

const USAGE: &str = "\
usage: schedule-gen check <config.toml>
       schedule-gen generate <config.toml> [--image <partition>=<elf>]...
                             [--linux <partition>=<Image>,<initramfs>]... --out <dir>
       schedule-gen report <config.toml> [--trace <trace.csv>] --out <dir>
       schedule-gen import <module.xml> [--board <board>] [--out <config.toml>]
       schedule-gen --help

check     parse and validate the configuration; print all errors
generate  also check each partition's ELF and write system_tables.rs,
          partition_images.rs, one <partition>.<n>.bin per load segment and
          config.toml into <dir>. Partitions with `image = { elf = ... }` use that
          file unless --image overrides it; package images must be given with --image.
          A Linux partition (`image = { linux = ... }`) needs --linux: its uncompressed
          arm64 kernel Image and its initramfs, placed with the device tree generated
          for it (`cargo xtask build` fetches and builds both).
report    write report.html, report.json and report.txt (schedule, budgets, memory
          map, channels, devices and interrupts, HM tables, SHA-256 of the
          configuration and of system_tables.rs) into <dir>; with --trace, also
          'Planned vs observed' from a trace CSV of `cargo xtask run --trace`
import    read an ARINC 653 Part 1 XML configuration and write the equivalent pkernel
          configuration to <config.toml> (default: standard output); what could not be
          mapped one to one is printed as notes and written into the file as comments.
          --board chooses the board (default qemu-virt).";

/// A command line that parsed.
enum Command {
    Help,
    Check(PathBuf),
    Generate {
        config: PathBuf,
        images: BTreeMap<String, PathBuf>,
        linux: BTreeMap<String, (PathBuf, PathBuf)>,
        out: PathBuf,
    },
    Report {
        config: PathBuf,
        trace: Option<PathBuf>,
        out: PathBuf,
    },
    Import {
        xml: PathBuf,
        board: Option<String>,
        out: Option<PathBuf>,
    },
}

/// `--flag value` pairs after the positional argument; each flag at most once unless listed
/// in `repeatable`.
fn flags<'a>(
    rest: &'a [String],
    allowed: &[&str],
    repeatable: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        if !allowed.contains(&flag.as_str()) {
            return Err(format!("unknown option {flag:?}"));
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        if !repeatable.contains(&flag.as_str()) && out.iter().any(|(f, _)| f == flag) {
            return Err(format!("{flag} given twice"));
        }
        out.push((flag, value));
    }
    Ok(out)
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Command::Help);
    }
    let find = |flags: &[(&str, &str)], name: &str| {
        flags
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, v)| (*v).to_owned())
    };
    match args {
        [cmd, config] if cmd == "check" => Ok(Command::Check(config.into())),
        [cmd, config, rest @ ..] if cmd == "generate" && !config.starts_with('-') => {
            let given = flags(
                rest,
                &["--out", "--image", "--linux"],
                &["--image", "--linux"],
            )?;
            let mut images = BTreeMap::new();
            for (_, value) in given.iter().filter(|(f, _)| *f == "--image") {
                let (name, elf) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--image {value}: expected <partition>=<elf>"))?;
                if images.insert(name.to_owned(), PathBuf::from(elf)).is_some() {
                    return Err(format!("--image given twice for partition {name:?}"));
                }
            }
            let mut linux = BTreeMap::new();
            for (_, value) in given.iter().filter(|(f, _)| *f == "--linux") {
                let (name, kernel, initramfs) = value
                    .split_once('=')
                    .and_then(|(name, files)| files.split_once(',').map(|(k, i)| (name, k, i)))
                    .ok_or_else(|| {
                        format!("--linux {value}: expected <partition>=<Image>,<initramfs>")
                    })?;
                if images.contains_key(name)
                    || linux
                        .insert(name.to_owned(), (kernel.into(), initramfs.into()))
                        .is_some()
                {
                    return Err(format!("two images given for partition {name:?}"));
                }
            }
            let out = find(&given, "--out").ok_or("generate needs --out <dir>")?;
            Ok(Command::Generate {
                config: config.into(),
                images,
                linux,
                out: out.into(),
            })
        }
        [cmd, config, rest @ ..] if cmd == "report" && !config.starts_with('-') => {
            let given = flags(rest, &["--out", "--trace"], &[])?;
            let out = find(&given, "--out").ok_or("report needs --out <dir>")?;
            Ok(Command::Report {
                config: config.into(),
                trace: find(&given, "--trace").map(PathBuf::from),
                out: out.into(),
            })
        }
        [cmd, xml, rest @ ..] if cmd == "import" && !xml.starts_with('-') => {
            let given = flags(rest, &["--out", "--board"], &[])?;
            Ok(Command::Import {
                xml: xml.into(),
                board: find(&given, "--board"),
                out: find(&given, "--out").map(PathBuf::from),
            })
        }
        [] => Err("no command given".to_owned()),
        [cmd, ..] if ["check", "generate", "report", "import"].contains(&cmd.as_str()) => {
            Err(format!("wrong arguments for {cmd}"))
        }
        [cmd, ..] => Err(format!("unknown command {cmd:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("schedule-gen: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Check(path) => match schedule_gen::load(&path) {
            Ok(cfg) => {
                println!(
                    "ok: {}, {}, {}",
                    count(cfg.partitions().count(), "partition", "partitions"),
                    count(cfg.schedules().len(), "schedule", "schedules"),
                    count(cfg.channels().len(), "channel", "channels")
                );
                ExitCode::SUCCESS
            }
            Err(d) => fail(&d),
        },
        Command::Generate {
            config,
            images,
            linux,
            out,
        } => {
            let cfg = match schedule_gen::load(&config) {
                Ok(cfg) => cfg,
                Err(d) => return fail(&d),
            };
            let mut all: BTreeMap<_, _> = cfg
                .elf_images()
                .into_iter()
                .chain(images)
                .map(|(name, elf)| (name, PartitionPayload::Elf(elf)))
                .collect();
            for (name, (kernel, initramfs)) in linux {
                let read = |path: &PathBuf| {
                    std::fs::read(path).map_err(|e| {
                        eprintln!("schedule-gen: cannot read {}: {e}", path.display());
                        ExitCode::FAILURE
                    })
                };
                let payload = match (read(&kernel), read(&initramfs)) {
                    (Ok(kernel_bytes), Ok(initramfs)) => LinuxPayload {
                        label: kernel.display().to_string(),
                        kernel: kernel_bytes,
                        initramfs,
                    },
                    (Err(code), _) | (_, Err(code)) => return code,
                };
                all.insert(name, PartitionPayload::Linux(payload));
            }
            match schedule_gen::generate_system(&cfg, &all, &out) {
                Ok(_) => {
                    println!(
                        "ok: {}, tables written to {}",
                        count(cfg.partitions().count(), "partition", "partitions"),
                        out.join(schedule_gen::codegen::TABLES_FILE).display()
                    );
                    ExitCode::SUCCESS
                }
                Err(d) => fail(&d),
            }
        }
        Command::Report { config, trace, out } => {
            let cfg = match schedule_gen::load(&config) {
                Ok(cfg) => cfg,
                Err(d) => return fail(&d),
            };
            let mut facts = schedule_gen::report::facts::collect(&cfg);
            if let Some(trace) = trace {
                match schedule_gen::trace::observe::observe_file(&cfg, &trace) {
                    Ok(observed) => facts.observed = Some(observed),
                    Err(problems) => {
                        eprintln!("{problems}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            match schedule_gen::report::write_facts(&facts, &out) {
                Ok(files) => {
                    for f in files {
                        println!("wrote {}", f.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(d) => fail(&d),
            }
        }
        Command::Import { xml, board, out } => {
            let mut options = schedule_gen::import::ImportOptions::default();
            if let Some(board) = board {
                options.board = board;
            }
            let imported = match schedule_gen::import::import_file(&xml, &options) {
                Ok(i) => i,
                Err(d) => return fail(&d),
            };
            for note in &imported.notes {
                eprintln!("note: {note}");
            }
            // The XML can be consistent in itself and still break a pkernel rule (a schedule
            // without windows, a window past the frame): check what was written, so the
            // integrator learns it now and not at the next build.
            let (name, base_dir) = match &out {
                Some(path) => (
                    path.file_name().map_or_else(
                        || "imported.toml".to_owned(),
                        |n| n.to_string_lossy().into_owned(),
                    ),
                    path.parent().map(PathBuf::from).unwrap_or_default(),
                ),
                None => ("<stdout>".to_owned(), PathBuf::new()),
            };
            // Errors name the XML element their line came from, too.
            let checked = imported.check(&name, &base_dir);
            match &out {
                Some(path) => {
                    if let Err(e) = std::fs::write(path, &imported.toml) {
                        eprintln!("schedule-gen: cannot write {}: {e}", path.display());
                        return ExitCode::FAILURE;
                    }
                    println!(
                        "wrote {} ({} to review)",
                        path.display(),
                        count(imported.notes.len(), "note", "notes")
                    );
                }
                None => print!("{}", imported.toml),
            }
            match checked {
                Ok(_) => ExitCode::SUCCESS,
                Err(d) => {
                    eprintln!(
                        "{d}\n\nschedule-gen: the imported configuration does not pass `check` ({} error(s)); fix it before building",
                        d.len()
                    );
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `n` with the noun that agrees with it: `1 partition`, `2 partitions`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn fail(d: &schedule_gen::Diagnostics) -> ExitCode {
    eprintln!("{d}\n\nschedule-gen: {} error(s)", d.len());
    ExitCode::FAILURE
}
