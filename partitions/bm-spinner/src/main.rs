//! A partition that masks every interrupt at EL1 and spins for ever without a single
//! hypercall: the kernel must still take the core back at the end of each of its windows.
#![no_std]
#![no_main]

use bm_runtime::{BootInfo, println};

bm_runtime::entry!(main);

fn main(_info: BootInfo) -> ! {
    println!("masking interrupts and spinning for ever");
    // SAFETY: masking D, A, I and F at EL1 only affects this partition's own exceptions.
    unsafe { core::arch::asm!("msr daifset, #0xf", options(nostack)) };
    loop {
        core::hint::spin_loop();
    }
}
