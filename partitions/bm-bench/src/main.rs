//! Benchmark partition (run by `cargo xtask bench` under `-icount shift=0,sleep=off`, where
//! the PMU cycle counter advances exactly one per instruction). Needs `pmu = true` in its
//! configuration, and the other cores idle.
//!
//! Prints `bench <figure> <instructions>` lines:
//! - `reset_to_partition`: the cycle counter at this partition's first instruction; the
//!   kernel starts the counter, counting every exception level, in its first instructions
//!   after reset (`pkernel/src/arch/boot.rs`), so this is reset to first partition
//!   instruction on one core;
//! - `null_hypercall`: a `Null` hypercall round trip as this partition sees it, from the
//!   instruction before the `hvc` to the one after it returns, minus what the two counter
//!   reads cost on their own.
//!
//! Then it powers the module off (it is a system partition), so the run ends on its own.
#![no_std]
#![no_main]

use bm_runtime::apex_api::Hypercall;
use bm_runtime::apex_api::call::module_shutdown;
use bm_runtime::println;

/// The cycle counter, read as the very first thing the partition does (see `global_asm!`
/// below). Not zero-initialised, so it lives in `.data`, which `_start` leaves alone.
static mut FIRST_COUNT: u64 = u64::MAX;

// A partition entry of its own, ahead of the runtime's: read PMCCNTR_EL0 before anything
// else, then continue with the runtime's `_start`.
core::arch::global_asm!(
    r#"
    .section .text.bench_entry, "ax"
    .global bench_start
bench_start:
    mrs     x9, pmccntr_el0
    adrp    x10, {first}
    add     x10, x10, :lo12:{first}
    str     x9, [x10]
    b       _start
    "#,
    first = sym FIRST_COUNT,
);

/// Cycle count of `f`'s instructions between two PMCCNTR_EL0 reads.
macro_rules! count {
    ($($body:literal),*) => {{
        let (before, after): (u64, u64);
        // SAFETY: reads the cycle counter around the given instructions; only x0..x3 (the
        // hypercall registers) are clobbered besides the outputs.
        unsafe {
            core::arch::asm!(
                "isb",
                "mrs {before}, pmccntr_el0",
                $($body,)*
                "mrs {after}, pmccntr_el0",
                before = out(reg) before,
                after = out(reg) after,
                inout("x0") Hypercall::Null as u64 => _,
                out("x1") _, out("x2") _, out("x3") _,
                options(nostack),
            );
        }
        after - before
    }};
}

#[unsafe(no_mangle)]
extern "C" fn bm_partition_main(_partition_id: u64, _vcpu: u64) -> ! {
    // SAFETY: written once by the entry code above before any Rust ran; read once here.
    let first = unsafe { FIRST_COUNT };
    println!("bench reset_to_partition {first}");
    // Deterministic under icount: every iteration costs the same; take the minimum anyway.
    let bare = (0..100).map(|_| count!()).min().unwrap_or(0);
    let with_call = (0..100).map(|_| count!("hvc #0")).min().unwrap_or(0);
    println!("bench null_hypercall {}", with_call - bare);
    println!("bench counter_read_pair {bare}");
    let _ = module_shutdown(0);
    bm_runtime::apex_api::call::partition_stop(1)
}
