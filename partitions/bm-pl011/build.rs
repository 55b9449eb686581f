//! Links this partition with the bare-metal layout from bm-runtime.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Tbm-partition.x");
}
