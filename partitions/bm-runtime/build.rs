//! Puts `bm-partition.x` on the linker search path of every partition that uses this runtime
//! (each partition's own build script adds `-Tbm-partition.x`).

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("bm-partition.x"), include_bytes!("bm-partition.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=bm-partition.x");
}
