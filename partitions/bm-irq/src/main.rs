//! A bare-metal partition that takes a device interrupt through its virtual GIC, or tries to
//! take one it does not own (HIL `a_device_interrupt_reaches_its_owner_and_no_one_else`,
//! `hil-tests/scenarios/irq-ownership.toml`). Its role comes from its information page:
//!
//! - **owner**, if it owns device `rtc` (the PL031 real-time clock of QEMU `virt`, SPI 2 =
//!   INTID 34, level-triggered): sets up INTID 34 in its virtual distributor (priority,
//!   routed to its vCPU, enabled), unmasks IRQs and sets an alarm one second ahead
//!   (RTCMR = RTCDR + 1, RTCIMSC = 1) three times in a row, each time sleeping in WFI until
//!   the handler saw the interrupt (timeout 3 s of counter time). The handler checks the
//!   INTID, clears the RTC's interrupt (RTCICR = 1) and records RTCDR; the runtime acknowledges
//!   and ends the interrupt around it. Prints `irq 34 taken (alarm <k>, rtc <RTCDR>)` for each,
//!   then `owner: 3 alarms taken`, and stops.
//! - **intruder**, otherwise: enables its CPU interface and unmasks IRQs too, then tries to take
//!   INTID 34 all the same (priority, route to its vCPU and then to any PE, enable), prints
//!   what its distributor reads back (`intruder: ISENABLER1 reads 0x0`,
//!   `intruder: IROUTER34 reads 0x0` under a kernel that hides the interrupt), watches for 4 s
//!   of counter time, printing `intruder: irq <intid> taken` for any interrupt that arrives,
//!   then `intruder: no interrupt taken` if none did, and stops.
//!
//! Either role prints `... FAIL ...` and stops with status 1 when something goes wrong.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use bm_runtime::apex_api::call::partition_stop;
use bm_runtime::apex_api::info::RegionKind;
use bm_runtime::irq::{self, Spi};
use bm_runtime::{BootInfo, counter, counter_frequency, println};

bm_runtime::entry!(main);

/// The device whose owner is the `owner`.
const RTC_DEVICE: &str = "rtc";
/// The PL031's interrupt on QEMU `virt`: SPI 2.
const RTC_INTID: u32 = 32 + 2;
/// The priority both roles give INTID 34 (the mask lets every priority through).
const PRIORITY: u8 = 0x80;
/// Alarms the owner takes.
const ALARMS: u32 = 3;
/// How long the owner waits for each alarm (set one second ahead), in ms of counter time.
const ALARM_TIMEOUT_MS: u64 = 3_000;
/// How long the intruder watches for an interrupt, in ms of counter time.
const INTRUDER_WATCH_MS: u64 = 4_000;

// PL031 registers (offsets in its page).
/// Data register: the current count of seconds.
const RTCDR: usize = 0x000;
/// Match register: the alarm fires when RTCDR reaches it.
const RTCMR: usize = 0x004;
/// Interrupt mask set/clear: 1 lets the alarm raise the interrupt line.
const RTCIMSC: usize = 0x010;
/// Interrupt clear: writing 1 clears the alarm and lowers the line.
const RTCICR: usize = 0x01c;

/// The owner's RTC (its IPA: the device is mapped identity); 0 in the intruder.
static RTC_BASE: AtomicUsize = AtomicUsize::new(0);
/// RTC interrupts the handler took and cleared.
static RTC_TAKEN: AtomicU32 = AtomicU32::new(0);
/// RTCDR when the last one was taken.
static RTC_AT: AtomicU32 = AtomicU32::new(0);
/// Any other interrupt taken (in the intruder: every interrupt), and the last one's INTID.
static OTHER_TAKEN: AtomicU32 = AtomicU32::new(0);
static OTHER_INTID: AtomicU32 = AtomicU32::new(0);

// The statics above are only loaded and stored, never read-modify-written atomically: with
// the MMU off every access is to Device memory, where exclusives are not guaranteed to work.
// One vCPU, and a handler that is never nested, make plain loads and stores enough.

/// A PL031 register window.
#[derive(Clone, Copy)]
struct Rtc {
    base: usize,
}

impl Rtc {
    fn read(self, offset: usize) -> u32 {
        // SAFETY: `base` is the IPA of the `rtc` device the kernel maps into this partition
        // (read from its information page), a 4 KiB PL031 register window outside all Rust
        // objects; the offsets used are aligned 32-bit registers inside it, and reading them
        // has no side effect.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(self, offset: usize, value: u32) {
        // SAFETY: as in `read`; the writes set the alarm, its mask and clear its interrupt,
        // device state only.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }
}

/// The PL031 at `ipa` (a device is mapped identity, and this partition's MMU is off).
fn rtc_at(ipa: u64) -> Rtc {
    match usize::try_from(ipa) {
        Ok(base) => Rtc { base },
        Err(_) => unreachable!("a 64-bit target"),
    }
}

/// The interrupt handler of both roles (the runtime acknowledged `intid` and ends it after).
fn on_irq(intid: u32) {
    let base = RTC_BASE.load(Ordering::Relaxed);
    if intid == RTC_INTID && base != 0 {
        let rtc = Rtc { base };
        // Lower the level-triggered line before the runtime's EOI deactivates the interrupt.
        rtc.write(RTCICR, 1);
        RTC_AT.store(rtc.read(RTCDR), Ordering::Relaxed);
        RTC_TAKEN.store(RTC_TAKEN.load(Ordering::Relaxed) + 1, Ordering::Release);
    } else {
        OTHER_INTID.store(intid, Ordering::Relaxed);
        OTHER_TAKEN.store(OTHER_TAKEN.load(Ordering::Relaxed) + 1, Ordering::Release);
        if base == 0 {
            // The intruder cannot quiet a device it does not own: mask every priority so a
            // level-triggered interrupt that got through does not storm, and report it.
            irq::set_priority_mask(0);
        }
    }
}

fn main(boot: BootInfo) -> ! {
    let info = match bm_runtime::info() {
        Ok(info) => info,
        Err(error) => {
            println!("FAIL information page refused: {error}");
            partition_stop(1)
        }
    };
    let Ok(vcpu) = u8::try_from(boot.vcpu) else {
        println!("FAIL vCPU index {} out of range", boot.vcpu);
        partition_stop(1)
    };
    let spi = Spi::new(RTC_INTID).expect("INTID 34 is an SPI");
    match info
        .region(RTC_DEVICE)
        .filter(|r| r.kind == RegionKind::Device)
    {
        Some(region) => owner(rtc_at(region.ipa), spi, vcpu),
        None => intruder(spi, vcpu),
    }
}

fn owner(rtc: Rtc, spi: Spi, vcpu: u8) -> ! {
    println!(
        "owner: rtc at {:#x}, INTID {}, vCPU {vcpu}",
        rtc.base,
        spi.intid()
    );
    // Quiet the device before the interrupt is enabled.
    rtc.write(RTCIMSC, 0);
    rtc.write(RTCICR, 1);
    RTC_BASE.store(rtc.base, Ordering::Relaxed);
    irq::install(on_irq);
    irq::enable_cpu_interface();
    let gicd = irq::distributor();
    gicd.enable_group1();
    gicd.set_priority(spi, PRIORITY);
    gicd.route_to_vcpu(spi, vcpu);
    gicd.enable(spi);
    println!("owner: ISENABLER1 reads {:#x}", gicd.isenabler(spi.word()));
    println!("owner: IROUTER34 reads {:#x}", gicd.irouter(spi));
    irq::unmask();

    let ticks_per_ms = counter_frequency() / 1000;
    let mut others = 0;
    for alarm in 1..=ALARMS {
        let now = rtc.read(RTCDR);
        rtc.write(RTCMR, now.wrapping_add(1));
        rtc.write(RTCIMSC, 1);
        let deadline = counter() + ALARM_TIMEOUT_MS * ticks_per_ms;
        let taken = irq::wait_until(deadline, || RTC_TAKEN.load(Ordering::Acquire) >= alarm);
        others = report_new("owner: FAIL unexpected irq", others);
        if !taken {
            println!(
                "owner: FAIL alarm {alarm} not taken within {ALARM_TIMEOUT_MS} ms (rtc {}, ISENABLER1 {:#x})",
                rtc.read(RTCDR),
                gicd.isenabler(spi.word())
            );
            partition_stop(1)
        }
        println!(
            "irq {} taken (alarm {alarm}, rtc {})",
            spi.intid(),
            RTC_AT.load(Ordering::Relaxed)
        );
    }
    irq::mask();
    rtc.write(RTCIMSC, 0);
    gicd.disable(spi);
    println!("owner: {ALARMS} alarms taken");
    partition_stop(0)
}

fn intruder(spi: Spi, vcpu: u8) -> ! {
    println!(
        "intruder: no {RTC_DEVICE} of my own, trying INTID {} on vCPU {vcpu} anyway",
        spi.intid()
    );
    irq::install(on_irq);
    irq::enable_cpu_interface();
    let gicd = irq::distributor();
    gicd.enable_group1();
    gicd.set_priority(spi, PRIORITY);
    // To its own vCPU, as the owner does: the reset value, which pkernel ignores silently for
    // an interrupt the partition does not own (it changes nothing). Then to any PE (IRM),
    // which would take it wherever it fires: an attempt pkernel reports.
    gicd.route_to_vcpu(spi, vcpu);
    gicd.set_irouter(spi, irq::IROUTER_IRM);
    gicd.enable(spi);
    println!(
        "intruder: ISENABLER1 reads {:#x}",
        gicd.isenabler(spi.word())
    );
    println!("intruder: IROUTER34 reads {:#x}", gicd.irouter(spi));
    irq::unmask();

    // Watch with IRQs unmasked, spinning on the counter: no interrupt may wake this core, so
    // WFI could sleep for ever.
    let deadline = counter() + INTRUDER_WATCH_MS * (counter_frequency() / 1000);
    let mut reported = 0;
    while counter() < deadline {
        reported = report_new("intruder: irq", reported);
        core::hint::spin_loop();
    }
    reported = report_new("intruder: irq", reported);
    if reported == 0 {
        println!("intruder: no interrupt taken");
    }
    partition_stop(0)
}

/// For interrupts other than the owner's RTC taken since `reported` of them were, prints
/// `<what> <intid> taken` (the last one's INTID, and how many so far); returns how many have
/// been taken.
fn report_new(what: &str, reported: u32) -> u32 {
    let taken = OTHER_TAKEN.load(Ordering::Acquire);
    if taken != reported {
        println!(
            "{what} {} taken ({taken} so far)",
            OTHER_INTID.load(Ordering::Relaxed)
        );
    }
    taken
}
