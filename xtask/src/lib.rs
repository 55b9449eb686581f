//! The build orchestration behind `cargo xtask`: from a system configuration to a bootable
//! kernel image, and the set-up (QEMU, Rust target) the commands need.
//!
//! Used by the `xtask` binary and by the HIL scenario tests, so both build images the same way.
#![forbid(unsafe_code)]

pub mod bench;
pub mod fuzz;
pub mod image;
pub mod initramfs;
pub mod linux;
pub mod run;
pub mod setup;
pub mod trace;

use std::path::{Path, PathBuf};

/// The workspace root (where the top-level Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The demo system `cargo xtask run` boots when no `--config` is given.
pub fn demo_config() -> PathBuf {
    workspace_root().join("configs/demo.toml")
}
