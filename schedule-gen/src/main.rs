//! The `schedule-gen` command: `check` a configuration or `generate` the kernel tables from it.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: schedule-gen check <config.toml>
       schedule-gen generate <config.toml> [--image <partition>=<elf>]... --out <dir>
       schedule-gen --help

check     parse and validate the configuration; print all errors
generate  also check each partition's ELF and write system_tables.rs, one
          <partition>.<n>.bin per load segment and config.toml into <dir>.
          Partitions with `image = { elf = ... }` use that file unless --image
          overrides it; package images must be given with --image.";

/// A command line that parsed.
enum Command {
    Help,
    Check(PathBuf),
    Generate {
        config: PathBuf,
        images: BTreeMap<String, PathBuf>,
        out: PathBuf,
    },
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Command::Help);
    }
    match args {
        [cmd, config] if cmd == "check" => Ok(Command::Check(config.into())),
        [cmd, config, rest @ ..] if cmd == "generate" && !config.starts_with('-') => {
            let mut images = BTreeMap::new();
            let mut out = None;
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--out" if out.is_none() => out = Some(PathBuf::from(value)),
                    "--out" => return Err("--out given twice".to_owned()),
                    "--image" => {
                        let (name, elf) = value.split_once('=').ok_or_else(|| {
                            format!("--image {value}: expected <partition>=<elf>")
                        })?;
                        if images.insert(name.to_owned(), PathBuf::from(elf)).is_some() {
                            return Err(format!("--image given twice for partition {name:?}"));
                        }
                    }
                    _ => return Err(format!("unknown option {flag:?}")),
                }
            }
            let out = out.ok_or("generate needs --out <dir>")?;
            Ok(Command::Generate {
                config: config.into(),
                images,
                out,
            })
        }
        [] => Err("no command given".to_owned()),
        [cmd, ..] if cmd == "check" || cmd == "generate" => {
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
                println!("ok: {} partitions", cfg.partitions().count());
                ExitCode::SUCCESS
            }
            Err(d) => fail(&d),
        },
        Command::Generate {
            config,
            images,
            out,
        } => {
            let cfg = match schedule_gen::load(&config) {
                Ok(cfg) => cfg,
                Err(d) => return fail(&d),
            };
            let mut all = cfg.elf_images();
            all.extend(images);
            match schedule_gen::generate_kernel_tables(&cfg, &all, &out) {
                Ok(()) => {
                    println!(
                        "ok: {} partitions, tables written to {}",
                        cfg.partitions().count(),
                        out.join(schedule_gen::codegen::TABLES_FILE).display()
                    );
                    ExitCode::SUCCESS
                }
                Err(d) => fail(&d),
            }
        }
    }
}

fn fail(d: &schedule_gen::Diagnostics) -> ExitCode {
    eprintln!("{d}\n\nschedule-gen: {} error(s)", d.len());
    ExitCode::FAILURE
}
