//! A partition that misbehaves on purpose: it ticks a few times, then writes to an address
//! outside its memory (one store to an unmapped guest-physical address). The kernel must stop
//! it there; the line after the write must never appear.
#![no_std]
#![no_main]

use bm_runtime::{BootInfo, delay_ms, println};

bm_runtime::entry!(main);

/// Guest-physical address outside every region this partition has (its RAM is the first
/// MiBs at 0x4000_0000): stage 2 has no mapping for it.
const FORBIDDEN: u64 = 0x4000_0000 + 0x0800_0000;

fn main(_info: BootInfo) -> ! {
    for tick in 1..=3 {
        println!("tick {tick}");
        delay_ms(100);
    }
    println!("writing to {FORBIDDEN:#x}, outside my memory");
    // SAFETY (test payload): this write is meant to fault; stage 2 has no mapping for it.
    unsafe { core::ptr::write_volatile(FORBIDDEN as *mut u32, 0xdead_beef) };
    println!("still running after the bad write: isolation is broken");
    loop {
        delay_ms(1000);
    }
}
