//! Making sure the tools the commands need are present: QEMU (Debian's `qemu-system-arm`)
//! and the bare-metal Rust targets (from rust-toolchain.toml, installed by rustup itself).

use std::path::PathBuf;
use std::process::Command;

const QEMU_PACKAGE: &str = "qemu-system-arm";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Finds qemu-system-aarch64, installing it with apt-get when running as root.
/// Otherwise the error says the exact command to run.
pub fn ensure_qemu() -> Result<PathBuf, String> {
    if let Some(path) = hil_tests::find_qemu() {
        return Ok(path);
    }
    let hint = format!(
        "qemu-system-aarch64 not found; install it with: sudo apt-get update && sudo apt-get install -y {QEMU_PACKAGE}"
    );
    if !is_root() || Command::new("apt-get").arg("--version").output().is_err() {
        return Err(hint);
    }
    eprintln!("xtask: installing {QEMU_PACKAGE} (apt-get)");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    // Try without refreshing first (fast when the lists are fresh), then with.
    let install = || apt(&["install", "-y", "--no-install-recommends", QEMU_PACKAGE]);
    let installed = install() || (apt(&["update"]) && install());
    if !installed {
        return Err(hint);
    }
    hil_tests::find_qemu().ok_or(hint)
}

/// The targets images are built for: the kernel's and the bare-metal partitions', and the
/// static Linux one of the tools in a Linux partition's initramfs. rust-toolchain.toml lists
/// them so rustup installs them with the toolchain; a toolchain installed earlier without
/// them gets them here.
pub const TARGETS: [&str; 3] = [
    crate::image::KERNEL_TARGET,
    crate::image::PARTITION_TARGET,
    crate::initramfs::LINUX_TOOLS_TARGET,
];

/// Adds any of [`TARGETS`] the active toolchain lacks (through rustup, when it is there).
pub fn ensure_targets() -> Result<(), String> {
    let root = crate::workspace_root();
    let Ok(output) = Command::new("rustup")
        .current_dir(&root)
        .args(["target", "list", "--installed"])
        .output()
    else {
        // No rustup: the toolchain was installed some other way; cargo will say what is missing.
        return Ok(());
    };
    let installed = String::from_utf8_lossy(&output.stdout);
    let missing: Vec<&str> = TARGETS
        .into_iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: adding Rust targets {}", missing.join(", "));
    let status = Command::new("rustup")
        .current_dir(&root)
        .args(["target", "add"])
        .args(&missing)
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => Err(format!(
            "could not add the Rust targets; run: rustup target add {}",
            missing.join(" ")
        )),
    }
}
