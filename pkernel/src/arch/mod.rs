//! The AArch64 EL2 layer: everything that touches hardware, one file per hardware block.
//! Every `unsafe` block of the kernel lives here, each with its `// SAFETY:` argument.

pub mod boot;
pub mod cache;
pub mod console;
pub mod exceptions;
pub mod gic;
pub mod kernel;
pub mod mmu;
pub mod page_pool;
pub mod psci;
pub mod stage2;
pub mod sysregs;
pub mod vcpu;

pub use crate::config::MAX_CORES;

/// Stops this core for good, with interrupts masked.
pub fn park_core() -> ! {
    loop {
        aarch64_cpu::asm::wfi();
    }
}
