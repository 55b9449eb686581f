//! HIL evidence for device interrupts routed to partitions: a device's interrupt reaches the
//! partition that owns the device, as a virtual interrupt through the GICv3 virtual CPU
//! interface, and no other partition, whatever that partition writes to its distributor.
//!
//! Scenario `irq-ownership.toml`, one binary (`partitions/bm-irq`) in two roles:
//!
//! - `owner` (core 1) owns the PL031 `rtc` (INTID 34). It enables INTID 34 in its filtered
//!   virtual distributor, unmasks IRQs and takes three RTC alarms, one a second, sleeping in
//!   WFI for each: its vector acknowledges `ICC_IAR1_EL1` (the virtual interface), its handler
//!   clears the RTC, and the EOI deactivates the physical interrupt (list register HW bit), so
//!   the next alarm can fire. It reads its enable bit back as set.
//! - `intruder` (core 2) owns no device. It enables its CPU interface, unmasks IRQs and sets
//!   the priority, the route (its vCPU 0, the reset value, which changes nothing and is not
//!   reported; then any PE, IRM = 1) and the enable of INTID 34 anyway; its distributor reads
//!   the interrupt back as disabled and unrouted, the kernel's HM logs the enable and the route
//!   and ignores them (the intruder keeps running), and in 4 s of watching, while the owner
//!   takes its alarms, no interrupt at all reaches it.
//!
//! A `test-supervisor` in a window at 5 s of a 10 s frame on core 3 ends the run at about 7 s,
//! after both stopped themselves.
//!
//! How it fails: fewer than three `[owner] irq 34 taken` lines, or an `owner: FAIL ...` line
//! (an alarm not taken within 3 s: the interrupt was not delivered, or delivered once and
//! never deactivated; or an unexpected INTID) means the owner's path is broken; an
//! `[intruder] intruder: irq` line, a non-zero read-back, or a missing HM line means the
//! filtering is; an HM line about `owner`, or any partition stopped by the HM, means the
//! kernel treated a legitimate access (or an intruder's ignored one) as a fault. Every
//! assertion prints the whole console.

mod common;

use common::{assert_kernel_healthy, boot, scenario};

#[test]
fn a_device_interrupt_reaches_its_owner_and_no_one_else() {
    let Some(log) = boot(
        "a_device_interrupt_reaches_its_owner_and_no_one_else",
        &scenario("irq-ownership"),
    ) else {
        return;
    };

    // The owner: its distributor shows INTID 34 enabled (ISENABLER1 bit 2) and routed to its
    // vCPU 0, and it takes three alarms, in order, each a later RTC second than the one before.
    log.assert_line("[owner] owner: ISENABLER1 reads 0x4");
    log.assert_line("[owner] owner: IROUTER34 reads 0x0");
    let taken = log.lines_with_prefix("[owner] irq 34 taken (alarm ");
    assert_eq!(
        taken.len(),
        3,
        "the owner took {} alarms\n{log}",
        taken.len()
    );
    let mut rtc_seconds = Vec::new();
    for (k, line) in taken.iter().enumerate() {
        let rest = line
            .strip_prefix(&format!("[owner] irq 34 taken (alarm {}, rtc ", k + 1))
            .unwrap_or_else(|| panic!("alarm {} out of order: {line}\n{log}", k + 1));
        let seconds: u64 = rest
            .strip_suffix(')')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no RTC value in {line}\n{log}"));
        rtc_seconds.push(seconds);
    }
    assert!(
        rtc_seconds.windows(2).all(|w| w[1] > w[0]),
        "the alarms did not come at successive RTC seconds: {rtc_seconds:?}\n{log}"
    );
    let last_alarm = log.assert_line("[owner] irq 34 taken (alarm 3, ");
    let owner_done = log.assert_line("[owner] owner: 3 alarms taken");
    assert!(owner_done > last_alarm, "{log}");
    log.assert_no_line("[owner] owner: FAIL");
    log.assert_no_line("[owner] FAIL");
    log.assert_no_line("[owner] panic");
    log.assert_line("[pkernel] partition 'owner' stopped; core 1 idle");

    // The intruder: its writes changed nothing it can see, and nothing reached it while it
    // watched (from before the owner's last alarm until after the owner was done).
    log.assert_line("[intruder] intruder: ISENABLER1 reads 0x0");
    let watching = log.assert_line("[intruder] intruder: IROUTER34 reads 0x0");
    let none = log.assert_line("[intruder] intruder: no interrupt taken");
    log.assert_no_line("[intruder] intruder: irq");
    log.assert_no_line("[intruder] FAIL");
    log.assert_no_line("[intruder] panic");
    assert!(
        watching < last_alarm && none > owner_done,
        "the intruder did not watch while the owner took its alarms (lines {watching}..{none}, \
         alarms until {last_alarm}, owner done at {owner_done})\n{log}"
    );
    log.assert_line("[pkernel] partition 'intruder' stopped; core 2 idle");

    // The health monitor: the intruder's enable and route are reported and ignored; nothing
    // of the owner's is reported; no partition was stopped by it.
    log.assert_line(
        "[pkernel] HM: partition 'intruder' tried to enable interrupt 34, which it does not own (ignored)",
    );
    log.assert_line(
        "[pkernel] HM: partition 'intruder' tried to route interrupt 34, which it does not own (ignored)",
    );
    log.assert_no_line("[pkernel] HM: partition 'owner'");
    log.assert_no_line("[pkernel] HM: action: stop partition");

    log.assert_line("[pkernel] module end: shutdown by 'supervisor', status 0");
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
}

/// The virtual timer's interrupt (PPI 27) reaches the partition whose timer fired, on a
/// dedicated core and on a time-shared one (scenario `irq-vtimer.toml`, `bm-vtimer`). `left`
/// and `right` share core 1 in 10 ms windows and each re-arm a 2 ms timer from their handler;
/// `alone` has core 2. Each must take 200 ticks, every one with its timer's condition met
/// (checked in the handler), no interrupt of any other INTID, and no 1 s without a tick.
///
/// How it fails: a timer interrupt left active across a window switch (the kernel must make
/// it inactive when it switches a vCPU out and active again when it comes back) starves the
/// other partition on core 1 (`no tick for 1000 ms`); a lost tick stops that partition's
/// re-arming and does the same; a tick delivered to the wrong partition, or without the
/// timer's condition met, is a `vtimer: FAIL` line; a timer interrupt the kernel cannot
/// attribute is an `unexpected interrupt` line.
#[test]
fn virtual_timer_interrupts_reach_their_own_partition_on_shared_and_dedicated_cores() {
    let Some(log) = boot(
        "virtual_timer_interrupts_reach_their_own_partition_on_shared_and_dedicated_cores",
        &scenario("irq-vtimer"),
    ) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
    log.assert_no_line_containing("FAIL");
    log.assert_no_line_containing("unexpected interrupt");
    for name in ["left", "right", "alone"] {
        log.assert_line(&format!(
            "[{name}] vtimer: PPI 27 enabled (0x8000000), period 2 ms"
        ));
        let ticks = log.numbers_after(&format!("[{name}] tick "));
        assert_eq!(ticks, [50, 100, 150, 200], "{name}\n{log}");
        log.assert_line(&format!("[{name}] vtimer: 200 ticks, longest gap "));
        log.assert_line(&format!(
            "[pkernel] partition '{name}' stopped itself (status 0)"
        ));
    }
    log.assert_no_line_containing("HM:");
}

/// The same across window switches under `-icount` (scenario `irq-vtimer-icount.toml`), where
/// runs repeat exactly: `left` and `right` share the only core in 9 ms windows of a 20 ms
/// frame (the supervisor has the other 2 ms), and their handlers keep the core 0.5 ms of each
/// 2 ms period, so windows often end with a timer interrupt active. Neither may ever go
/// longer between two ticks than the 11 ms it is out, plus its period and its handler, plus
/// 1 ms of slack: a timer interrupt left active at a switch would silence the other partition
/// for its whole window (a gap of at least 20 ms).
#[test]
fn under_icount_no_window_goes_without_its_timer_ticks() {
    let Some(log) = common::boot_icount(
        "under_icount_no_window_goes_without_its_timer_ticks",
        &scenario("irq-vtimer-icount"),
    ) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
    log.assert_no_line_containing("FAIL");
    log.assert_no_line_containing("unexpected interrupt");
    log.assert_no_line_containing("HM:");
    const LIMIT_US: u64 = 11_000 + 2_000 + 500 + 1_000;
    for name in ["left", "right"] {
        let gaps = log.numbers_after(&format!("[{name}] vtimer: 200 ticks, longest gap"));
        assert_eq!(gaps.len(), 1, "{name} did not finish\n{log}");
        assert!(
            gaps[0] <= LIMIT_US,
            "{name} went {} us without a tick (at most {LIMIT_US})\n{log}",
            gaps[0]
        );
    }
}
