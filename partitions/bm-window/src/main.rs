//! A partition for time-partitioned cores. It spins with known values in its general
//! registers and all 32 FP/SIMD registers, known EL1 system registers, GIC CPU interface
//! settings (priority mask, binary point, group 1 enable: on the virtual interface, whose
//! state each partition on the core must have to itself) and virtual timer settings, until
//! the counter jumps (it was switched out and back in); then it checks every one of them and
//! prints the window:
//!
//! `window <n> at <counter>: state intact` — or, if anything changed while it was out,
//! `STATE LOST in window <n>: <what>` and it stops.
//!
//! Its virtual timer is armed (masked) for a deadline 30 ms ahead, which passes while other
//! partitions run: `CNTV_CTL_EL0.ISTATUS` must read 0 before the deadline and 1 after it
//! (the timer keeps counting while the partition is switched out).
//!
//! Window starts are detected from the partition's side: a counter jump of more than half
//! the time it is out each period (from GET_PARTITION_STATUS). On a busy host QEMU itself
//! can pause a vCPU for milliseconds, so the printed windows are informative; the kernel's
//! trace is the record of when windows started.
#![no_std]
#![no_main]

use bm_runtime::apex_api::partition::INFINITE_TIME;
use bm_runtime::{BootInfo, counter, counter_frequency, println};

bm_runtime::entry!(main);

/// Without a period (a dedicated core), a counter jump bigger than this between two reads
/// is taken for a switch.
const DEFAULT_SWITCH_US: u64 = 200;

/// The smallest counter jump taken for a switch: half the time the partition is out in each
/// period (period minus duration), so that QEMU pausing a vCPU thread on a busy host for a
/// few milliseconds is not mistaken for a window change.
fn switch_gap_ticks(hz: u64) -> u64 {
    let us = match bm_runtime::apex_api::call::get_partition_status() {
        Ok(s) if s.period_ns != INFINITE_TIME && s.period_ns > s.duration_ns => {
            (s.period_ns - s.duration_ns) / 2 / 1000
        }
        _ => DEFAULT_SWITCH_US,
    };
    hz * us / 1_000_000
}

/// Fills x9..x15 and v0..v31 with values derived from `seed`, spins until the counter jumps
/// by more than `gap` ticks (or `limit` iterations pass), then checks them all. Returns
/// (jumped, first bad register: 0 none, 1..=7 x9..x15, 8..=39 v0..v31, counter after).
fn spin_until_switched(seed: u64, gap: u64, limit: u64) -> (bool, u64, u64) {
    let (jumped, bad, now): (u64, u64, u64);
    // SAFETY: only registers declared as clobbered or as operands are touched; no memory.
    unsafe {
        core::arch::asm!(
            // Patterns: x9..x15 = seed + i; v_i = seed + 0x100 + i in both halves.
            "add x9, {seed}, #1",
            "add x10, {seed}, #2",
            "add x11, {seed}, #3",
            "add x12, {seed}, #4",
            "add x13, {seed}, #5",
            "add x14, {seed}, #6",
            "add x15, {seed}, #7",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "add x16, {seed}, #(0x100 + \\i)",
            "dup v\\i\\().2d, x16",
            ".endr",
            "isb",
            "mrs x17, cntvct_el0",
            "mov {jumped}, #0",
            "2:",
            "isb",
            "mrs x16, cntvct_el0",
            "sub {bad}, x16, x17",
            "mov x17, x16",
            "cmp {bad}, {gap}",
            "b.hi 3f",
            "subs {limit}, {limit}, #1",
            "b.ne 2b",
            "b 4f",
            "3:",
            "mov {jumped}, #1",
            "4:",
            "mov {now}, x17",
            // Check, first mismatch wins.
            "mov {bad}, #0",
            "add x16, {seed}, #1", "cmp x9, x16", "b.ne 11f",
            "add x16, {seed}, #2", "cmp x10, x16", "b.ne 12f",
            "add x16, {seed}, #3", "cmp x11, x16", "b.ne 13f",
            "add x16, {seed}, #4", "cmp x12, x16", "b.ne 14f",
            "add x16, {seed}, #5", "cmp x13, x16", "b.ne 15f",
            "add x16, {seed}, #6", "cmp x14, x16", "b.ne 16f",
            "add x16, {seed}, #7", "cmp x15, x16", "b.ne 17f",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "add x16, {seed}, #(0x100 + \\i)",
            "umov x17, v\\i\\().d[0]",
            "cmp x16, x17",
            "b.ne 30f",
            "umov x17, v\\i\\().d[1]",
            "cmp x16, x17",
            "b.ne 30f",
            "add {bad}, {bad}, #1",
            ".endr",
            "mov {bad}, #0",
            "b 40f",
            "11: mov {bad}, #1", "b 40f",
            "12: mov {bad}, #2", "b 40f",
            "13: mov {bad}, #3", "b 40f",
            "14: mov {bad}, #4", "b 40f",
            "15: mov {bad}, #5", "b 40f",
            "16: mov {bad}, #6", "b 40f",
            "17: mov {bad}, #7", "b 40f",
            "30: add {bad}, {bad}, #8",
            "40:",
            seed = in(reg) seed,
            gap = in(reg) gap,
            limit = inout(reg) limit => _,
            jumped = out(reg) jumped,
            bad = out(reg) bad,
            now = out(reg) now,
            out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
            out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _,
            out("v6") _, out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _,
            out("v12") _, out("v13") _, out("v14") _, out("v15") _, out("v16") _,
            out("v17") _, out("v18") _, out("v19") _, out("v20") _, out("v21") _,
            out("v22") _, out("v23") _, out("v24") _, out("v25") _, out("v26") _,
            out("v27") _, out("v28") _, out("v29") _, out("v30") _, out("v31") _,
            options(nostack, nomem),
        );
    }
    (jumped != 0, bad, now)
}

macro_rules! sysreg {
    (read $reg:literal) => {{
        let v: u64;
        // SAFETY: reading an EL1/EL0 register of this partition's own.
        unsafe { core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nomem, nostack)) };
        v
    }};
    (write $reg:literal, $v:expr) => {{
        // SAFETY: these registers only configure this partition (thread IDs, context ID,
        // its own virtual timer, its own view of the GIC CPU interface, with interrupts
        // masked in PSTATE); none is in use by the bare-metal runtime.
        unsafe { core::arch::asm!(concat!("msr ", $reg, ", {}"), "isb", in(reg) $v, options(nomem, nostack)) };
    }};
}

/// The EL1/EL0 registers this partition sets, with its own values. The GIC values fit any
/// GICv3 (at least 5 priority bits, so the low 3 bits of the mask are kept as multiples of 8;
/// a group 1 binary point of 4 to 7).
fn expected(id: u64) -> [(&'static str, u64); 8] {
    [
        ("TPIDR_EL1", 0x1111_0000 + id),
        ("TPIDR_EL0", 0x2222_0000 + id),
        ("TPIDRRO_EL0", 0x3333_0000 + id),
        ("CONTEXTIDR_EL1", 0x4400 + id),
        ("CNTKCTL_EL1", 0b11),
        ("ICC_PMR_EL1", 0xa0 + (id & 7) * 8),
        ("ICC_BPR1_EL1", 4 + (id & 3)),
        ("ICC_IGRPEN1_EL1", 1),
    ]
}

fn read_all() -> [u64; 8] {
    [
        sysreg!(read "tpidr_el1"),
        sysreg!(read "tpidr_el0"),
        sysreg!(read "tpidrro_el0"),
        sysreg!(read "contextidr_el1"),
        sysreg!(read "cntkctl_el1"),
        sysreg!(read "icc_pmr_el1"),
        sysreg!(read "icc_bpr1_el1"),
        sysreg!(read "icc_igrpen1_el1"),
    ]
}

fn lost(window: u64, what: core::fmt::Arguments) -> ! {
    println!("STATE LOST in window {window}: {what}");
    bm_runtime::apex_api::call::partition_stop(1)
}

fn main(info: BootInfo) -> ! {
    let id = info.partition_id;
    for (name, value) in expected(id) {
        match name {
            "TPIDR_EL1" => sysreg!(write "tpidr_el1", value),
            "TPIDR_EL0" => sysreg!(write "tpidr_el0", value),
            "TPIDRRO_EL0" => sysreg!(write "tpidrro_el0", value),
            "CONTEXTIDR_EL1" => sysreg!(write "contextidr_el1", value),
            "CNTKCTL_EL1" => sysreg!(write "cntkctl_el1", value),
            "ICC_PMR_EL1" => sysreg!(write "icc_pmr_el1", value),
            "ICC_BPR1_EL1" => sysreg!(write "icc_bpr1_el1", value),
            _ => sysreg!(write "icc_igrpen1_el1", value),
        }
    }
    let gap = switch_gap_ticks(counter_frequency());
    // The virtual timer: enabled and masked (no interrupt is routed to partitions yet), due
    // 30 ms from now, so the deadline passes during some other partition's window.
    let deadline = counter() + counter_frequency() * 30 / 1000;
    sysreg!(write "cntv_cval_el0", deadline);
    sysreg!(write "cntv_ctl_el0", 0b11u64);
    println!("partition {id} checking its state across window switches");
    let mut window = 0u64;
    let mut timer_seen = false;
    loop {
        let seed = 0x5A5A_0000_0000_0000 ^ (id << 32) ^ window;
        let (jumped, bad, now) = spin_until_switched(seed, gap, 50_000_000);
        match bad {
            0 => {}
            1..=7 => lost(window, format_args!("x{} changed", 8 + bad)),
            _ => lost(window, format_args!("v{} (FP/SIMD) changed", bad - 8)),
        }
        let values = read_all();
        for ((name, want), got) in expected(id).iter().zip(values) {
            if *want != got {
                lost(window, format_args!("{name} is {got:#x}, not {want:#x}"));
            }
        }
        // The partition may be switched out between any two instructions, so bracket the
        // status read with counter reads: "condition met" must mean the deadline had passed
        // by the read after it, "not met" that it had not passed by the read before it.
        let before = counter();
        let cval = sysreg!(read "cntv_cval_el0");
        let ctl = sysreg!(read "cntv_ctl_el0");
        let after = counter();
        if cval != deadline || ctl & 0b11 != 0b11 {
            lost(
                window,
                format_args!("virtual timer is cval {cval:#x} ctl {ctl:#x}"),
            );
        }
        let mut condition = ctl & 0b100 != 0;
        if condition && after < deadline {
            lost(
                window,
                format_args!(
                    "virtual timer condition met at {after}, before its deadline {deadline}"
                ),
            );
        }
        if !condition && before >= deadline {
            // The deadline has passed, so the condition must read as met. QEMU without icount
            // updates the status bit from a host timer callback, which a loaded host can
            // delay by milliseconds: allow it 100 ms of counter time to catch up.
            let give_up = before + counter_frequency() / 10;
            while !condition && counter() < give_up {
                condition = sysreg!(read "cntv_ctl_el0") & 0b100 != 0;
            }
            if !condition {
                lost(
                    window,
                    format_args!(
                        "virtual timer condition still not met 100 ms after {before}, deadline {deadline}"
                    ),
                );
            }
        }
        if condition && !timer_seen {
            timer_seen = true;
            println!("virtual timer deadline {deadline} passed: condition met at {after}");
        }
        if jumped {
            window += 1;
            println!("window {window} at {now}: state intact");
        }
    }
}
