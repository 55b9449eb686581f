//! System partition used by test scenarios: lets the others run for a fixed time of counter
//! time, then powers the module off through the privileged hypercall, so a run ends cleanly
//! (QEMU exits with status 0) instead of being killed.
#![no_std]
#![no_main]

use bm_runtime::apex_api::call::module_shutdown;
use bm_runtime::{BootInfo, delay_ms, println};

bm_runtime::entry!(main);

/// How long the scenario runs before the module is powered off.
const RUN_MS: u64 = 2_000;

fn main(_info: BootInfo) -> ! {
    println!("supervising for {RUN_MS} ms");
    delay_ms(RUN_MS);
    println!("time is up, shutting the module down");
    match module_shutdown(0) {
        Ok(()) => println!("shutdown returned without powering off"),
        Err(code) => println!("shutdown refused: {}", code.name()),
    }
    bm_runtime::apex_api::call::partition_stop(1)
}
