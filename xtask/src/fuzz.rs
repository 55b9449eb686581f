//! `cargo xtask fuzz`: builds schedule-gen's libFuzzer targets (`schedule-gen/fuzz/`, its own
//! cargo project) with the stable toolchain, replays the kept regressions, then fuzzes.
//!
//! The coverage flags are the ones `cargo fuzz build -s none` passes, so neither cargo-fuzz nor
//! a nightly compiler is needed; libFuzzer itself is C++, built by `libfuzzer-sys` (needs
//! `g++`). See `schedule-gen/fuzz/README.md`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::workspace_root;

/// The fuzz targets, as named in `schedule-gen/fuzz/Cargo.toml`.
pub const TARGETS: &[&str] = &["config", "import_xml"];

/// Seed inputs of each target: the repository's own configurations and XML files, read in
/// place (libFuzzer reads directories recursively and never writes to seed directories), so
/// the seeds are never stale copies.
pub fn seed_dirs(target: &str) -> &'static [&'static str] {
    match target {
        "config" => &[
            "configs",
            "hil-tests/scenarios",
            "schedule-gen/tests/golden",
            "schedule-gen/tests/report",
            "schedule-gen/tests/arinc",
            "schedule-gen/tests/corpus/valid",
            "schedule-gen/tests/corpus/invalid",
        ],
        _ => &[
            "schedule-gen/tests/arinc",
            "schedule-gen/tests/corpus/arinc",
        ],
    }
}

const RUSTFLAGS: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth \
    -Ccodegen-units=1";

fn fuzz_dir() -> PathBuf {
    workspace_root().join("schedule-gen/fuzz")
}

fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or_else(|| "rustc -vV printed no host triple".to_owned())
}

/// Builds the fuzz binaries; returns the directory they are in.
pub fn build() -> Result<PathBuf, String> {
    if Command::new("c++").arg("--version").output().is_err() {
        return Err(
            "libFuzzer is C++: install a compiler first (sudo apt-get install -y g++)".to_owned(),
        );
    }
    let host = host_triple()?;
    let target_dir = fuzz_dir().join("target");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root())
        .env("RUSTFLAGS", RUSTFLAGS)
        .arg("build")
        .arg("--manifest-path")
        .arg(fuzz_dir().join("Cargo.toml"))
        .args(["--release", "--target", &host, "--target-dir"])
        .arg(&target_dir);
    for t in TARGETS {
        cmd.args(["--bin", t]);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the fuzz targets failed ({status})"));
    }
    Ok(target_dir.join(host).join("release"))
}

/// Replays `schedule-gen/tests/fuzz-regressions/<target>/`, then fuzzes each of `targets` for
/// `seconds`, both at once (one per core), from the corpus under `schedule-gen/fuzz/target/`
/// and the [`seed_dirs`]. New corpus entries and crash artifacts go under
/// `schedule-gen/fuzz/target/`.
pub fn run(bin_dir: &Path, targets: &[&str], seconds: u64) -> Result<(), String> {
    let fuzz = fuzz_dir();
    for t in targets {
        let dir = workspace_root()
            .join("schedule-gen/tests/fuzz-regressions")
            .join(t);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        inputs.retain(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        });
        if inputs.is_empty() {
            continue;
        }
        inputs.sort();
        let status = Command::new(bin_dir.join(t))
            .args(&inputs)
            .status()
            .map_err(|e| format!("cannot run the {t} fuzz target: {e}"))?;
        if !status.success() {
            return Err(format!("a kept regression of {t} fails again ({status})"));
        }
        println!("{t}: {} kept regressions replayed", inputs.len());
    }
    let mut children: Vec<(&str, Child, PathBuf)> = Vec::new();
    for t in targets {
        let corpus = fuzz.join("target/fuzz-corpus").join(t);
        let artifacts = fuzz.join("target/fuzz-artifacts").join(t);
        for d in [&corpus, &artifacts] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let child = Command::new(bin_dir.join(t))
            .arg(&corpus)
            .args(seed_dirs(t).iter().map(|d| workspace_root().join(d)))
            .arg(format!(
                "-dict={}",
                fuzz.join(format!("{t}.dict")).display()
            ))
            .arg(format!("-max_total_time={seconds}"))
            .args([
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-max_len=16384",
                "-print_final_stats=1",
            ])
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .spawn()
            .map_err(|e| format!("cannot run the {t} fuzz target: {e}"))?;
        children.push((t, child, artifacts));
    }
    let mut failed = Vec::new();
    for (t, mut child, artifacts) in children {
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            failed.push(format!(
                "{t} ({status}; the input is in {})",
                artifacts.display()
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzzing found a failure: {}", failed.join(", ")))
    }
}
