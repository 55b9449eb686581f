//! Test partition for the virtual timer's interrupt (HIL `virtual_timer_interrupts_...`,
//! `hil-tests/scenarios/irq-vtimer.toml`).
//!
//! It enables its virtual GIC (distributor group 1, its redistributor's PPI 27), arms its EL1
//! virtual timer [`PERIOD_MS`] ahead and sleeps in WFI; the interrupt handler counts the tick,
//! checks that the timer's condition really was met (CNTV_CTL.ISTATUS), keeps the core for
//! [`HANDLER_US`] (so that window switches often land while a timer interrupt is active),
//! and re-arms the timer one period from now. Every [`REPORT_EVERY`] ticks it prints
//! `tick <n> at <counter>`; after [`TICKS`] it prints `vtimer: <TICKS> ticks, longest gap
//! <us> us` (the longest time between two ticks) and stops itself. Where it shares a core,
//! its timer keeps counting while it is out, so the first tick of each window comes at once.
//!
//! It fails loudly (`vtimer: FAIL ...`) on an interrupt that is not its timer's or that came
//! with the timer's condition not met, and on no tick for [`SILENCE_MS`].
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use bm_runtime::apex_api::call::partition_stop;
use bm_runtime::irq::{self, VIRTUAL_TIMER_INTID};
use bm_runtime::{BootInfo, println};

bm_runtime::entry!(main);

/// The timer's period.
const PERIOD_MS: u64 = 2;
/// Ticks before it stops.
const TICKS: u32 = 200;
/// A line every this many ticks.
const REPORT_EVERY: u32 = 50;
/// Longest wait for a tick, in its own time and others' windows alike.
const SILENCE_MS: u64 = 1000;
/// How long the handler keeps the core.
const HANDLER_US: u64 = 500;

static TICKS_TAKEN: AtomicU32 = AtomicU32::new(0);
/// A handler error: 0 none, else the unexpected INTID + 1, or `u32::MAX` (condition not met).
static ERROR: AtomicU32 = AtomicU32::new(0);
static PERIOD_TICKS: AtomicU64 = AtomicU64::new(0);
/// Counter value at the last tick (0 before the first), and the longest gap between ticks.
static LAST_TICK: AtomicU64 = AtomicU64::new(0);
static LONGEST_GAP: AtomicU64 = AtomicU64::new(0);
static HANDLER_TICKS: AtomicU64 = AtomicU64::new(0);

fn cntv_ctl() -> u64 {
    let value: u64;
    // SAFETY: reading CNTV_CTL_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {}, cntv_ctl_el0", out(reg) value, options(nomem, nostack)) };
    value
}

/// Arms the virtual timer `ticks` from now (enabled, not masked).
fn arm(ticks: u64) {
    let at = bm_runtime::counter().wrapping_add(ticks);
    // SAFETY: the virtual timer is this partition's own (the kernel saves and restores it with
    // its context); writing its compare value and control only schedules its interrupt.
    unsafe {
        core::arch::asm!(
            "msr cntv_cval_el0, {at}",
            "msr cntv_ctl_el0, {on}",
            "isb",
            at = in(reg) at,
            on = in(reg) 1u64,
            options(nomem, nostack),
        )
    };
}

fn on_irq(intid: u32) {
    if intid != VIRTUAL_TIMER_INTID {
        ERROR.store(intid + 1, Ordering::Relaxed);
        return;
    }
    // ISTATUS (bit 2): the condition is met, or this was no timer interrupt at all.
    if cntv_ctl() & 0b100 == 0 {
        ERROR.store(u32::MAX, Ordering::Relaxed);
    }
    let now = bm_runtime::counter();
    let last = LAST_TICK.swap(now, Ordering::Relaxed);
    if last != 0 {
        LONGEST_GAP.fetch_max(now.wrapping_sub(last), Ordering::Relaxed);
    }
    TICKS_TAKEN.fetch_add(1, Ordering::Relaxed);
    let busy_until = now + HANDLER_TICKS.load(Ordering::Relaxed);
    while bm_runtime::counter() < busy_until {
        core::hint::spin_loop();
    }
    arm(PERIOD_TICKS.load(Ordering::Relaxed));
}

fn fail(what: core::fmt::Arguments) -> ! {
    println!("vtimer: FAIL {what}");
    partition_stop(1)
}

fn main(_boot: BootInfo) -> ! {
    let hz = bm_runtime::counter_frequency();
    PERIOD_TICKS.store(hz * PERIOD_MS / 1000, Ordering::Relaxed);
    HANDLER_TICKS.store(hz * HANDLER_US / 1_000_000, Ordering::Relaxed);
    irq::install(on_irq);
    irq::enable_cpu_interface();
    irq::distributor().enable_group1();
    let private = irq::private_interrupts(0);
    private.set_priority(VIRTUAL_TIMER_INTID, 0x80);
    private.enable(VIRTUAL_TIMER_INTID);
    println!(
        "vtimer: PPI {VIRTUAL_TIMER_INTID} enabled ({:#x}), period {PERIOD_MS} ms",
        private.enabled()
    );
    arm(PERIOD_TICKS.load(Ordering::Relaxed));
    let mut reported = 0;
    while reported < TICKS {
        let deadline = bm_runtime::counter() + hz * SILENCE_MS / 1000;
        let ticked = irq::wait_until(deadline, || {
            TICKS_TAKEN.load(Ordering::Relaxed) >= reported + REPORT_EVERY
                || ERROR.load(Ordering::Relaxed) != 0
        });
        match ERROR.load(Ordering::Relaxed) {
            0 => {}
            u32::MAX => fail(format_args!(
                "an interrupt with the timer's condition not met"
            )),
            e => fail(format_args!("interrupt {} is not my timer's", e - 1)),
        }
        if !ticked {
            fail(format_args!(
                "no tick for {SILENCE_MS} ms after {}",
                TICKS_TAKEN.load(Ordering::Relaxed)
            ));
        }
        reported += REPORT_EVERY;
        println!("tick {reported} at {}", bm_runtime::counter());
    }
    irq::mask();
    let gap_us = LONGEST_GAP.load(Ordering::Relaxed) * 1_000_000 / hz;
    println!("vtimer: {TICKS} ticks, longest gap {gap_us} us");
    partition_stop(0)
}
