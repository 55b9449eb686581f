//! The AArch64 EL2 layer: everything that touches hardware, one file per hardware block.
//! Every `unsafe` block of the kernel lives here (and in the one lock of `sync`), each with
//! its `// SAFETY:` argument. The data types and decoders (`context`, `esr`, `exit`,
//! `sysregs`) and the image inflater (`inflate`) build on the host too, so the policy that
//! uses them, and they themselves, are host-tested.

// Data and decoding, also built (and tested) on the host.
pub mod context;
pub mod esr;
pub mod exit;
pub mod inflate;
pub mod sysregs;

// The hardware itself: AArch64 at EL2 only.
#[cfg(target_os = "none")]
pub mod boot;
#[cfg(target_os = "none")]
pub mod cache;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod core_block;
#[cfg(target_os = "none")]
pub mod entry;
#[cfg(target_os = "none")]
pub mod exceptions;
#[cfg(target_os = "none")]
pub mod gic;
#[cfg(target_os = "none")]
pub mod loader;
#[cfg(target_os = "none")]
pub mod machine;
#[cfg(target_os = "none")]
pub mod mmu;
#[cfg(target_os = "none")]
pub mod psci;
#[cfg(target_os = "none")]
pub mod stage2;
#[cfg(target_os = "none")]
pub mod timer;
#[cfg(target_os = "none")]
pub mod trace_buffer;
#[cfg(target_os = "none")]
pub mod vcpu;

pub use crate::config::MAX_CORES;

/// Stops this core for good, with interrupts masked.
#[cfg(target_os = "none")]
pub fn park_core() -> ! {
    loop {
        aarch64_cpu::asm::wfi();
    }
}
