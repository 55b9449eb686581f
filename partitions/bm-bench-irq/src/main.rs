//! Interrupt latency and compute-loop benchmark (`cargo xtask bench`): one ELF run three ways
//! under `-icount shift=0,sleep=off`, where the PMU cycle counter advances exactly one per
//! instruction: bare on QEMU virt (entered at EL1, no hypervisor), and under pkernel on a
//! time-partitioned and on a dedicated core (`configs/bench/irq-*.toml`, `pmu = true`).
//!
//! It uses nothing that exists only under pkernel, so the three runs execute the same
//! instructions: no hypercall and no information page; it prints through the PL011 at QEMU
//! virt's UART address (under pkernel its virtual UART), programs the GIC as on bare hardware
//! (under pkernel its virtual distributor and redistributor), starts the PMU cycle counter
//! itself (under pkernel it runs already) and ends with PSCI `SYSTEM_OFF` by `HVC` (bare QEMU
//! powers off; pkernel stops the partition). It ignores x0 at entry (the partition index
//! under pkernel, the device tree's address bare).
//!
//! Prints, each line through the UART:
//! - `bench irq_latency_min <n>` and `bench irq_latency_max <n>`: over [`SAMPLES`] interrupts
//!   of its EL1 virtual timer (PPI 27), the instructions executed, at any exception level,
//!   between the interrupt being taken and the first instruction of its handler (that
//!   instruction excluded). The timer is armed while the partition spins in a two-instruction
//!   loop reading the counter; the handler's first instruction reads the counter too, and
//!   ELR_EL1 says where in the loop the interrupt came, so how many loop instructions ran
//!   after the last read (1 or 2) is known exactly and taken off. Bare on QEMU an interrupt
//!   is taken at an instruction boundary with no instruction in between: 0;
//! - `bench compute_loop <n>`: counter ticks over [`ITERATIONS`] turns of a four-instruction
//!   integer loop with interrupts masked (at EL1: under pkernel the kernel's own interrupts
//!   still reach EL2, and their instructions are counted);
//!
//! then `bench-irq: done` (or `bench-irq: FAIL <what>`), and powers off.
#![no_std]
#![no_main]

use core::fmt::Write;

// bm-runtime provides the entry (`_start`: FP/SIMD on, stack, .bss), the linker script and
// the panic handler; nothing else of it is used (its console is a hypercall).
use bm_runtime as _;

/// Virtual timer interrupts measured.
const SAMPLES: u64 = 16;
/// Counter ticks from arming the timer to its interrupt, for the first sample (the loop is
/// reached long before: a tick is 16 instructions at QEMU virt's 62.5 MHz under icount);
/// each next sample waits [`DELAY_STEP`] more.
const FIRST_DELAY: u64 = 64;
const DELAY_STEP: u64 = 3;
/// Turns of the compute loop (four instructions each).
const ITERATIONS: u64 = 5_000_000;

/// QEMU virt's PL011 (under pkernel, the partition's virtual UART).
const UART: usize = 0x0900_0000;
const UART_DR: usize = 0x000;
const UART_FR: usize = 0x018;
const UART_IBRD: usize = 0x024;
const UART_FBRD: usize = 0x028;
const UART_LCR_H: usize = 0x02c;
const UART_CR: usize = 0x030;
/// UARTFR.TXFF: the transmit FIFO is full.
const FR_TXFF: u32 = 1 << 5;

/// QEMU virt's GICv3 distributor, and the first redistributor's two frames (RD_base,
/// SGI_base): core 0's bare, vCPU 0's under pkernel.
const GICD: usize = 0x0800_0000;
const GICR_RD: usize = 0x080A_0000;
const GICR_SGI: usize = GICR_RD + 0x1_0000;
const GICD_CTLR: usize = 0x0000;
/// GICD_CTLR: EnableGrp1 (bit 1 with one security state, as QEMU virt without EL3 has;
/// EnableGrp1NS with two), ARE (affinity routing, bit 4), RWP (bit 31).
const CTLR_ENABLE_GRP1: u32 = 1 << 1;
const CTLR_ARE: u32 = 1 << 4;
const CTLR_RWP: u32 = 1 << 31;
const GICR_WAKER: usize = 0x0014;
/// GICR_WAKER: ProcessorSleep (bit 1), ChildrenAsleep (bit 2).
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
const GICR_IGROUPR0: usize = 0x0080;
const GICR_ISENABLER0: usize = 0x0100;
const GICR_IPRIORITYR: usize = 0x0400;
/// The EL1 virtual timer's interrupt (PPI 11).
const VIRTUAL_TIMER_INTID: u32 = 27;
const TIMER_PRIORITY: u32 = 0x80;

/// PSCI SYSTEM_OFF (SMC32 function ID).
const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;

fn mmio_read(address: usize) -> u32 {
    let value: u32;
    // SAFETY: a single 32-bit load, base register only (what pkernel's emulation decodes), of
    // a UART or GIC register of QEMU virt, below the partition's RAM, where no Rust object
    // lives. None of the registers read here has a read side effect.
    unsafe {
        core::arch::asm!("ldr {v:w}, [{a}]", a = in(reg) address, v = out(reg) value,
            options(nostack, preserves_flags, readonly))
    };
    value
}

fn mmio_write(address: usize, value: u32) {
    // SAFETY: a single 32-bit store to a UART or GIC register (see `mmio_read`); it changes
    // only the device's state.
    unsafe {
        core::arch::asm!("str {v:w}, [{a}]", a = in(reg) address, v = in(reg) value,
            options(nostack, preserves_flags))
    };
}

/// The PL011 as a `fmt::Write`: polled, a byte at a time.
struct Uart;

impl Uart {
    /// 115200 baud from 24 MHz, 8N1 with FIFOs, UART, transmitter and receiver on.
    fn init() {
        mmio_write(UART + UART_CR, 0);
        mmio_write(UART + UART_IBRD, 13);
        mmio_write(UART + UART_FBRD, 1);
        mmio_write(UART + UART_LCR_H, 0x70);
        mmio_write(UART + UART_CR, 0x301);
    }

    fn put(byte: u8) {
        // Bounded: a FIFO that stays full must not hang the run (the bench's watchdog would
        // end it, but without a word).
        for _ in 0..1_000_000 {
            if mmio_read(UART + UART_FR) & FR_TXFF == 0 {
                break;
            }
        }
        mmio_write(UART + UART_DR, u32::from(byte));
    }
}

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(Uart::put);
        Ok(())
    }
}

/// Prints a line through the UART.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(Uart, $($arg)*);
    }};
}

/// PSCI SYSTEM_OFF by HVC: bare, QEMU's PSCI powers the machine off; under pkernel the
/// partition stops.
fn power_off() -> ! {
    // SAFETY: a PSCI call; SYSTEM_OFF does not return (if it did, x0..x3 are its results).
    unsafe {
        core::arch::asm!("hvc #0", inout("x0") PSCI_SYSTEM_OFF => _, out("x1") _, out("x2") _,
            out("x3") _, options(nomem, nostack))
    };
    loop {
        // SAFETY: WFI only waits.
        unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
    }
}

fn fail(what: core::fmt::Arguments) -> ! {
    say!("bench-irq: FAIL {what}");
    power_off()
}

/// Starts the PMU cycle counter (PMCR_EL0.E, PMCNTENSET_EL0.C), the other PMCR bits kept.
/// Bare it is off at reset; under pkernel it runs already, counting every exception level,
/// and these writes change nothing. PMCCFILTR_EL0 is left alone: bare its reset value counts
/// EL1 and EL0, which is everything there is.
fn start_cycle_counter() {
    // SAFETY: enabling the cycle counter affects only the PMU's counting (the partition is
    // granted the PMU under pkernel; bare it owns the machine). P and C (counter resets) are
    // not written.
    unsafe {
        core::arch::asm!(
            "mrs {t}, pmcr_el0",
            "orr {t}, {t}, #1",
            "msr pmcr_el0, {t}",
            "mov {t}, #(1 << 31)",
            "msr pmcntenset_el0, {t}",
            "isb",
            t = out(reg) _,
            options(nomem, nostack, preserves_flags),
        )
    };
}

/// The GIC as bare-metal code programs it for the virtual timer's interrupt: distributor
/// group 1 on, the redistributor awake, PPI 27 group 1 with [`TIMER_PRIORITY`], enabled; the
/// CPU interface's system registers on, priority mask open, group 1 on. Under pkernel the
/// writes pkernel has no use for (ARE, GICR_WAKER, GICR_IGROUPR0) are ignored.
fn gic_init() {
    let ctlr = mmio_read(GICD + GICD_CTLR) & !CTLR_RWP;
    mmio_write(GICD + GICD_CTLR, ctlr | CTLR_ARE | CTLR_ENABLE_GRP1);
    for _ in 0..100_000 {
        if mmio_read(GICD + GICD_CTLR) & CTLR_RWP == 0 {
            break;
        }
    }
    let waker = mmio_read(GICR_RD + GICR_WAKER);
    mmio_write(GICR_RD + GICR_WAKER, waker & !WAKER_PROCESSOR_SLEEP);
    for _ in 0..100_000 {
        if mmio_read(GICR_RD + GICR_WAKER) & WAKER_CHILDREN_ASLEEP == 0 {
            break;
        }
    }
    let bit = 1 << VIRTUAL_TIMER_INTID;
    let group = mmio_read(GICR_SGI + GICR_IGROUPR0);
    mmio_write(GICR_SGI + GICR_IGROUPR0, group | bit);
    let word = GICR_SGI + GICR_IPRIORITYR + (VIRTUAL_TIMER_INTID as usize & !3);
    let shift = 8 * (VIRTUAL_TIMER_INTID % 4);
    let priorities = mmio_read(word) & !(0xff << shift);
    mmio_write(word, priorities | TIMER_PRIORITY << shift);
    mmio_write(GICR_SGI + GICR_ISENABLER0, bit);
    // SAFETY: the CPU interface's system register enable (SRE, set if it is not), priority
    // mask and group 1 enable only decide what is signalled to this PE; PSTATE.I stays set
    // until a sample unmasks it.
    unsafe {
        core::arch::asm!(
            "mrs {t}, icc_sre_el1",
            "orr {t}, {t}, #1",
            "msr icc_sre_el1, {t}",
            "isb",
            "mov {t}, #0xff",
            "msr icc_pmr_el1, {t}",
            "mov {t}, #1",
            "msr icc_igrpen1_el1, {t}",
            "isb",
            t = out(reg) _,
            options(nomem, nostack, preserves_flags),
        )
    };
}

// The vector table. The IRQ entry (current EL with SP_ELx, offset 0x280) is the measured
// handler: its first instruction reads the cycle counter (x10); then it keeps ELR_EL1 (x11,
// where the loop was interrupted), acknowledges (x12, the INTID), turns the timer off so its
// level drops, ends the interrupt, and returns with IRQs masked to the address the sample
// left in x13. Every other entry reports and powers off.
core::arch::global_asm!(
    r#"
    .section .text.bench_irq_vectors, "ax"
    .balign 2048
bench_irq_vectors:
    .rept 5
    .balign 0x80
    b       bench_irq_unexpected_entry
    .endr
    .balign 0x80
    mrs     x10, pmccntr_el0
    mrs     x11, elr_el1
    mrs     x12, icc_iar1_el1
    msr     cntv_ctl_el0, xzr
    isb
    msr     icc_eoir1_el1, x12
    msr     elr_el1, x13
    mrs     x14, spsr_el1
    orr     x14, x14, #(1 << 7)
    msr     spsr_el1, x14
    eret
    .rept 10
    .balign 0x80
    b       bench_irq_unexpected_entry
    .endr

bench_irq_unexpected_entry:
    mrs     x0, esr_el1
    mrs     x1, elr_el1
    bl      bench_irq_unexpected
1:  wfi
    b       1b
    "#
);

/// Any exception but the measured IRQ: a failed run.
#[unsafe(no_mangle)]
extern "C" fn bench_irq_unexpected(esr: u64, elr: u64) -> ! {
    fail(format_args!(
        "unexpected exception, ESR_EL1 {esr:#x} ELR_EL1 {elr:#x}"
    ))
}

fn install_vectors() {
    // SAFETY: `bench_irq_vectors` is the 2 KiB-aligned table above, whose entries never
    // return into the code they interrupted except the IRQ one, which returns to the
    // sample's continuation; IRQs are masked until a sample unmasks them.
    unsafe {
        core::arch::asm!(
            "adr {t}, bench_irq_vectors",
            "msr vbar_el1, {t}",
            "isb",
            t = out(reg) _,
            options(nomem, nostack, preserves_flags),
        )
    };
}

/// One interrupt, as the loop and the handler saw it.
struct Sample {
    /// The loop's last counter read.
    last_read: u64,
    /// The handler's first instruction's counter read.
    handler: u64,
    /// ELR_EL1 in the handler: the loop instruction the interrupt came before.
    interrupted: u64,
    /// Address of the loop's counter read (the `b` back to it follows).
    loop_read: u64,
    intid: u64,
}

impl Sample {
    /// Instructions executed between the interrupt being taken and the handler's first
    /// instruction: the two reads' difference, less the handler's read itself and the loop's
    /// instructions after its last read (the `b` if the interrupt came before the read,
    /// nothing if it came before the `b`).
    fn latency(&self) -> Result<u64, &'static str> {
        if self.intid != u64::from(VIRTUAL_TIMER_INTID) {
            return Err("the interrupt acknowledged is not the virtual timer's");
        }
        let after_read = if self.interrupted == self.loop_read {
            2
        } else if self.interrupted == self.loop_read + 4 {
            1
        } else {
            return Err("the interrupt came outside the measuring loop");
        };
        self.handler
            .checked_sub(self.last_read)
            .and_then(|d| d.checked_sub(after_read))
            .ok_or("the counter went backwards")
    }
}

/// Arms the virtual timer `delay` ticks ahead, unmasks IRQs and spins reading the counter
/// until the handler ends the loop.
fn sample(delay: u64) -> Sample {
    let (last_read, handler, interrupted, intid, loop_read): (u64, u64, u64, u64, u64);
    // SAFETY: the timer and PSTATE.I are this partition's own; the handler (the vector table
    // above) changes only x10..x14, which are outputs or clobbers here, and returns to label
    // 2 with IRQs masked. No memory is touched.
    unsafe {
        core::arch::asm!(
            "adr x13, 2f",
            "adr {loop_read}, 1f",
            "mrs {t}, cntvct_el0",
            "add {t}, {t}, {delay}",
            "msr cntv_cval_el0, {t}",
            "mov {t}, #1",
            "msr cntv_ctl_el0, {t}",
            "isb",
            "msr daifclr, #2",
            "1:",
            "mrs x9, pmccntr_el0",
            "b 1b",
            "2:",
            delay = in(reg) delay,
            loop_read = out(reg) loop_read,
            t = out(reg) _,
            out("x9") last_read,
            out("x10") handler,
            out("x11") interrupted,
            out("x12") intid,
            out("x13") _,
            out("x14") _,
            options(nomem, nostack),
        )
    };
    Sample {
        last_read,
        handler,
        interrupted,
        loop_read,
        intid,
    }
}

/// Counter ticks over [`ITERATIONS`] turns of a four-instruction integer loop, IRQs masked.
fn compute_loop() -> u64 {
    let (start, end): (u64, u64);
    // SAFETY: registers only; the loop ends after ITERATIONS turns.
    unsafe {
        core::arch::asm!(
            "msr daifset, #2",
            "isb",
            "mrs {start}, pmccntr_el0",
            "1:",
            "add {acc}, {acc}, {n}",
            "eor {acc}, {acc}, {acc}, ror #13",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            "mrs {end}, pmccntr_el0",
            start = out(reg) start,
            end = out(reg) end,
            n = inout(reg) ITERATIONS => _,
            acc = inout(reg) 0x9e37_79b9_7f4a_7c15u64 => _,
            options(nomem, nostack),
        )
    };
    end - start
}

#[unsafe(no_mangle)]
extern "C" fn bm_partition_main(_x0: u64, _x1: u64) -> ! {
    Uart::init();
    start_cycle_counter();
    install_vectors();
    gic_init();
    let (mut min, mut max) = (u64::MAX, 0);
    for i in 0..SAMPLES {
        match sample(FIRST_DELAY + i * DELAY_STEP).latency() {
            Ok(latency) => {
                min = min.min(latency);
                max = max.max(latency);
            }
            Err(what) => fail(format_args!("sample {i}: {what}")),
        }
    }
    say!("bench irq_latency_min {min}");
    say!("bench irq_latency_max {max}");
    say!("bench compute_loop {}", compute_loop());
    say!("bench-irq: done");
    power_off()
}
