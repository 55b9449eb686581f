//! Links both partitions with the bare-metal layout of pkernel's runtime (`bm-partition.x`,
//! which the runtime puts on the linker's search path): linked at guest-physical
//! 0x4000_0000, with a 64 KiB stack.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Tbm-partition.x");
}
