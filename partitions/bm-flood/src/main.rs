//! A partition that prints as fast as it can, for ever: `flood <n>` lines, each numbered.
//! The console tests run it beside others to show its output costs only its own time and
//! its own lost lines.
#![no_std]
#![no_main]

use bm_runtime::{BootInfo, println};

bm_runtime::entry!(main);

fn main(_info: BootInfo) -> ! {
    let mut n = 0u64;
    loop {
        n += 1;
        println!("flood {n} ..................................................................");
    }
}
