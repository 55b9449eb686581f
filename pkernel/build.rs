//! Points the kernel build at its generated system tables and linker script.
//!
//! `cargo xtask build --config <file>` runs schedule-gen, which writes `system_tables.rs` and
//! the partition image segments into a directory, then builds this crate with
//! `PKERNEL_SYSTEM_DIR` set to it. Host builds (unit tests) need neither.

use std::{env, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=PKERNEL_SYSTEM_DIR");
    println!("cargo:rerun-if-changed=link.ld");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        manifest_dir.join("link.ld").display()
    );
    match env::var("PKERNEL_SYSTEM_DIR") {
        Ok(dir) => {
            let tables = PathBuf::from(&dir).join("system_tables.rs");
            if !tables.is_file() {
                panic!(
                    "PKERNEL_SYSTEM_DIR={dir} has no system_tables.rs; build with `cargo xtask build --config <file>`"
                );
            }
            // Rebuild whenever schedule-gen rewrote the tables or any image segment (xtask
            // rewrites only what changed, so an unchanged system rebuilds nothing). Not the
            // whole directory: xtask writes the finished image there afterwards, which must
            // not make the next build look stale.
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                if entry.file_name() != "pkernel.elf" {
                    println!("cargo:rerun-if-changed={}", entry.path().display());
                }
            }
        }
        Err(_) => panic!(
            "the kernel image is built from a system configuration: run `cargo xtask build --config <file>` \
             (or `cargo xtask run`), which generates the tables and sets PKERNEL_SYSTEM_DIR"
        ),
    }
}
