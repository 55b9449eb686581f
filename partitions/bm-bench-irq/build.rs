//! Links this partition with the bare-metal layout from bm-runtime (linked at 0x4000_0000,
//! QEMU virt's RAM base, so the same ELF also boots bare with `qemu -kernel`).
fn main() {
    println!("cargo:rustc-link-arg-bins=-Tbm-partition.x");
}
