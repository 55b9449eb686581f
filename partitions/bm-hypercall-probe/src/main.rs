//! A partition that makes invalid hypercalls (unknown number, pointer outside its memory,
//! over-long length, pointer that wraps, privileged call) and prints each answer as
//! `probe <case> -> <code>`, floods the kernel with 1000 more, then ticks to show it kept
//! running.
#![no_std]
#![no_main]

use bm_runtime::apex_api::call::raw;
use bm_runtime::apex_api::hypercall::{Hypercall, ReturnCode};
use bm_runtime::{BootInfo, delay_ms, println};

bm_runtime::entry!(main);

fn describe(x0: u64) -> &'static str {
    match ReturnCode::from_raw(x0) {
        Ok(code) => code.name(),
        Err(-1) => "NOT_SUPPORTED",
        Err(_) => "UNEXPECTED",
    }
}

fn main(_info: BootInfo) -> ! {
    let write = Hypercall::ConsoleWrite as u64;
    let cases: [(&str, u64, u64, u64); 6] = [
        ("unknown-function", 0xC600_0FFF, 0, 0),
        ("not-smccc", 0x1234, 0, 0),
        ("pointer-outside-memory", write, 0x0900_0000, 8),
        ("pointer-wraps", write, u64::MAX - 3, 8),
        ("length-too-long", write, 0x4000_0000, 4096),
        (
            "privileged-shutdown",
            Hypercall::ModuleShutdown as u64,
            0,
            0,
        ),
    ];
    for (name, function, a1, a2) in cases {
        let result = raw(function, a1, a2, 0);
        println!("probe {name} -> {}", describe(result.x0));
    }
    let result = raw(Hypercall::Null as u64, 0, 0, 0);
    println!("probe null -> {}", describe(result.x0));
    // A flood of bad calls: every one must still be refused, but the kernel's log of them is
    // bounded so the shared console stays usable for everyone else.
    let refused = (0..1000)
        .filter(|i| raw(0xC600_0100 + i, 0, 0, 0).x0 as i64 == -1)
        .count();
    println!("probe flood -> {refused} of 1000 refused");
    let mut tick = 0u64;
    loop {
        tick += 1;
        println!("tick {tick}");
        delay_ms(100);
    }
}
