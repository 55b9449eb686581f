//! Window-switch benchmark (run by `cargo xtask bench` under `-icount shift=0,sleep=off`,
//! where the PMU cycle counter advances exactly one per instruction). Two partitions share
//! core 0, both with `pmu = true`, and a sampling channel from the first to the second whose
//! buffer both find at IPA 0x5000_0000 (`ports_ipa`):
//!
//! - partition 0 (the one switched out) spins storing the cycle counter into the channel
//!   buffer, so the buffer always holds the count of its last instruction before the window
//!   timer took the core;
//! - partition 1 (the one switched in) spins reading the counter and the buffer; when the
//!   buffer changed since its last window, the difference is the window switch: from the
//!   outgoing partition's last instruction, through the timer interrupt, the kernel's switch
//!   of the full context, to the incoming partition's first counter read (which comes within
//!   one turn of its loop after it resumes, hence min and max). It prints
//!   `bench window_switch_min <n>` and `bench window_switch_max <n>` over 50 switches and
//!   powers the module off (it is a system partition).
#![no_std]
#![no_main]

use bm_runtime::apex_api::call::module_shutdown;
use bm_runtime::{BootInfo, println};

bm_runtime::entry!(main);

/// The channel buffer (IPA), past its 16-byte sampling header.
const SLOT: u64 = 0x5000_0000 + 0x40;
const SWITCHES: usize = 50;

fn main(info: BootInfo) -> ! {
    if info.partition_id == 0 {
        // SAFETY: SLOT is inside this partition's read-write source buffer; the loop only
        // stores the counter there, for ever.
        unsafe {
            core::arch::asm!(
                "1:",
                "mrs x9, pmccntr_el0",
                "str x9, [{slot}]",
                "b 1b",
                slot = in(reg) SLOT,
                options(noreturn, nostack),
            )
        }
    }
    let mut deltas = [0u64; SWITCHES];
    let mut last_seen = 0u64;
    let mut n = 0;
    while n < SWITCHES {
        let (before, now, after): (u64, u64, u64);
        // SAFETY: reads this partition's read-only view of the buffer, the cycle counter, and
        // the buffer again.
        unsafe {
            core::arch::asm!(
                "ldr {b}, [{slot}]",
                "mrs {now}, pmccntr_el0",
                "ldr {a}, [{slot}]",
                slot = in(reg) SLOT,
                b = out(reg) before,
                now = out(reg) now,
                a = out(reg) after,
                options(nostack, readonly),
            )
        };
        // A switch between the reads changed the buffer: that sample means nothing.
        if before != after {
            continue;
        }
        if before != last_seen {
            // The first window has no predecessor worth measuring (the module just started).
            if last_seen != 0 {
                deltas[n] = now.wrapping_sub(before);
                n += 1;
            }
            last_seen = before;
        }
    }
    let min = deltas.iter().min().copied().unwrap_or(0);
    let max = deltas.iter().max().copied().unwrap_or(0);
    println!("bench window_switch_min {min}");
    println!("bench window_switch_max {max}");
    let _ = module_shutdown(0);
    bm_runtime::apex_api::call::partition_stop(1)
}
