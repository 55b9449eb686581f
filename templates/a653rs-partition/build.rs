//! Links the partition with the layout of pkernel's bare-metal runtime (`bm-partition.x`,
//! which the runtime puts on the linker's search path): code at guest-physical 0x4000_0000,
//! then data, bss and a 64 KiB stack.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Tbm-partition.x");
}
