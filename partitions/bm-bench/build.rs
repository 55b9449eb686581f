//! Links this partition with the bare-metal layout from bm-runtime, entering at
//! `bench_start` (which reads the cycle counter before the runtime's `_start`).
fn main() {
    println!("cargo:rustc-link-arg-bins=-Tbm-partition.x");
    println!("cargo:rustc-link-arg-bins=--entry=bench_start");
}
