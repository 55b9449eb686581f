//! A partition that walks through the ARINC 653 partition modes and reports what it sees at
//! each start: `start <n>: mode <mode>, condition <condition>, boots <k>` where `boots` is a
//! counter kept in `.data` (initial value 100) and incremented at each start, so a cold start
//! (image reloaded) shows 101 again and a warm start (memory kept) shows it growing.
//!
//! Sequence: module start (COLD_START, NORMAL_START) → NORMAL → COLD_START restart →
//! NORMAL → WARM_START restart → NORMAL → IDLE. Each step waits a few windows first.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use bm_runtime::apex_api::call::{get_partition_status, set_partition_mode};
use bm_runtime::apex_api::partition::{OperatingMode, StartCondition};
use bm_runtime::{BootInfo, delay_ms, println};

bm_runtime::entry_initialising!(main);

/// In `.data` (non-zero initial value): reloaded by a cold start, kept by a warm start.
static BOOTS: AtomicU64 = AtomicU64::new(100);

fn main(_info: BootInfo) -> ! {
    let boots = BOOTS.fetch_add(1, Ordering::Relaxed) + 1;
    let status = match get_partition_status() {
        Ok(status) => status,
        Err(code) => {
            println!("GET_PARTITION_STATUS failed: {}", code.name());
            bm_runtime::apex_api::call::partition_stop(1)
        }
    };
    println!(
        "start: mode {}, condition {}, boots {boots}, period {} ns, duration {} ns, identifier {}",
        status.operating_mode.name(),
        status.start_condition.name(),
        status.period_ns,
        status.duration_ns,
        status.identifier
    );
    // What a WARM_START request gets during cold-start initialisation: INVALID_MODE.
    if status.operating_mode == OperatingMode::ColdStart {
        match set_partition_mode(OperatingMode::WarmStart) {
            Err(code) => println!("warm start during cold start: {}", code.name()),
            Ok(()) => println!("warm start during cold start: accepted"),
        }
    }
    match set_partition_mode(OperatingMode::Normal) {
        Ok(()) => println!("mode NORMAL"),
        Err(code) => println!("NORMAL refused: {}", code.name()),
    }
    match set_partition_mode(OperatingMode::Normal) {
        Err(code) => println!("NORMAL again: {}", code.name()),
        Ok(()) => println!("NORMAL again: accepted"),
    }
    delay_ms(100);
    let next = match (status.start_condition, status.operating_mode) {
        (StartCondition::NormalStart, _) => OperatingMode::ColdStart,
        (_, OperatingMode::ColdStart) => OperatingMode::WarmStart,
        _ => OperatingMode::Idle,
    };
    println!("requesting {}", next.name());
    let result = set_partition_mode(next);
    // Only a refused request returns.
    println!("request returned: {result:?}");
    bm_runtime::apex_api::call::partition_stop(2)
}
