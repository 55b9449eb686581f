//! A bare-metal partition that prints `tick N` every 100 ms of counter time, forever.
#![no_std]
#![no_main]

use bm_runtime::{BootInfo, delay_ms, println};

bm_runtime::entry!(main);

fn main(info: BootInfo) -> ! {
    println!(
        "hello from partition {} (vCPU {})",
        info.partition_id, info.vcpu
    );
    let mut tick: u64 = 0;
    loop {
        tick += 1;
        println!("tick {tick}");
        delay_ms(100);
    }
}
