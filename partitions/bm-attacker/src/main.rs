//! A hostile partition for the isolation tests. It tries, in turn, to:
//! - count cycles with the PMU (it would observe the kernel and other partitions' time),
//! - program a hardware breakpoint and enable debug exceptions,
//! - clean the whole data cache by set/way (it would evict other partitions' lines),
//! - power the machine off through semihosting `SYS_EXIT` (which, were semihosting enabled in
//!   QEMU, would end the run with status 0),
//! - print a line that looks like the kernel's last line, to fake a clean test end,
//!
//! and prints what each attempt got as `attack <name>: <result>`, then ticks to show it is
//! still running; after [`TICKS_BEFORE_POWER_OFF`] ticks it asks PSCI for the version (by
//! HVC) and then to power the system off (by SMC), which powers off its own partition only. It catches its own exceptions (an EL1 vector table) so that an undefined
//! instruction is reported, not fatal.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use bm_runtime::apex_api::call::raw;
use bm_runtime::{BootInfo, delay_ms, println};

bm_runtime::entry!(main);

/// ESR_EL1 of the last exception this partition took (0: none).
static LAST_ESR: AtomicU64 = AtomicU64::new(0);

// EL1 vectors: every entry records ESR_EL1 in LAST_ESR and returns past the faulting
// instruction. Only x9..x11 are used; the asm blocks that can fault declare them clobbered.
core::arch::global_asm!(
    r#"
    .section .text.vectors, "ax"
    .balign 2048
attacker_vectors:
    .rept 16
    .balign 0x80
    b       attacker_exception
    .endr
attacker_exception:
    mrs     x9, esr_el1
    adrp    x10, {last_esr}
    add     x10, x10, :lo12:{last_esr}
    str     x9, [x10]
    mrs     x11, elr_el1
    add     x11, x11, #4
    msr     elr_el1, x11
    eret
    "#,
    last_esr = sym LAST_ESR,
);

unsafe extern "C" {
    static attacker_vectors: u8;
}

fn install_vectors() {
    // SAFETY: the table above is 2 KiB aligned and its handler returns to the next
    // instruction; only the address of the symbol is taken.
    unsafe {
        let base = &raw const attacker_vectors as u64;
        core::arch::asm!("msr vbar_el1, {}", "isb", in(reg) base, options(nostack));
    }
}

/// Runs `f` (which may trap) and returns the ESR_EL1 it raised, or 0.
fn exception_of(f: impl FnOnce()) -> u64 {
    LAST_ESR.store(0, Ordering::SeqCst);
    f();
    LAST_ESR.load(Ordering::SeqCst)
}

macro_rules! read_sysreg {
    ($reg:literal) => {{
        let value: u64;
        // SAFETY: a system register read; if the kernel did not emulate it, the vector above
        // records the exception and skips the instruction (x9..x11 clobbered).
        unsafe {
            core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) value,
                out("x9") _, out("x10") _, out("x11") _, options(nostack));
        }
        value
    }};
}

macro_rules! write_sysreg {
    ($reg:literal, $value:expr) => {{
        // SAFETY: as for read_sysreg: a trapped write is emulated or recorded and skipped.
        unsafe {
            core::arch::asm!(concat!("msr ", $reg, ", {}"), "isb", in(reg) $value,
                out("x9") _, out("x10") _, out("x11") _, options(nostack));
        }
    }};
}

fn attack_pmu() {
    let esr = exception_of(|| {
        // Enable the cycle counter everywhere (E, C reset, long counter) and count a while.
        write_sysreg!("pmcr_el0", 0b1000_0101u64);
        write_sysreg!("pmccfiltr_el0", 0u64);
        write_sysreg!("pmcntenset_el0", 1u64 << 31);
    });
    let before = read_sysreg!("pmccntr_el0");
    // A hypercall: the kernel's own instructions would be counted if the PMU were live.
    raw(bm_runtime::apex_api::Hypercall::Null as u64, 0, 0, 0);
    delay_ms(1);
    let after = read_sysreg!("pmccntr_el0");
    let pmcr = read_sysreg!("pmcr_el0");
    println!("attack pmu: pmcr {pmcr:#x}, cycles {before} then {after}, esr {esr:#x}");
}

/// Where the attacker sets its hardware breakpoint.
#[inline(never)]
fn breakpoint_target() -> u64 {
    core::hint::black_box(42)
}

fn attack_debug() {
    let target = breakpoint_target as *const () as u64;
    let esr = exception_of(|| {
        write_sysreg!("dbgbvr0_el1", target);
        // Enabled, EL1 and EL0, any byte of the word.
        write_sysreg!("dbgbcr0_el1", (0xfu64 << 5) | (0b11 << 1) | 1);
        // MDE (monitor debug events) and KDE (debug exceptions at EL1).
        write_sysreg!("mdscr_el1", (1u64 << 15) | (1 << 13));
        write_sysreg!("oslar_el1", 0u64);
    });
    let bvr = read_sysreg!("dbgbvr0_el1");
    let bcr = read_sysreg!("dbgbcr0_el1");
    let mdscr = read_sysreg!("mdscr_el1");
    // Unmask debug exceptions, then run the instruction the breakpoint points at.
    let hit = exception_of(|| {
        // SAFETY: clearing PSTATE.D only lets debug exceptions be taken (they come to the
        // vector above).
        unsafe { core::arch::asm!("msr daifclr, #8", out("x9") _, out("x10") _, out("x11") _) };
        breakpoint_target();
    });
    println!(
        "attack debug: bvr0 {bvr:#x}, bcr0 {bcr:#x}, mdscr {mdscr:#x}, esr {esr:#x}, breakpoint exception {hit:#x}"
    );
}

fn attack_set_way() {
    let esr = exception_of(|| {
        for set_way in [0u64, 1 << 6, 2 << 6] {
            // SAFETY: set/way maintenance changes no memory contents as a program sees them;
            // if it traps, the vector records it.
            unsafe {
                core::arch::asm!("dc cisw, {}", "dc isw, {}", in(reg) set_way, in(reg) set_way,
                    out("x9") _, out("x10") _, out("x11") _, options(nostack));
            }
        }
    });
    println!("attack set-way: returned, esr {esr:#x}");
}

/// PSCI VERSION and SYSTEM_OFF (SMC32 function IDs).
const PSCI_VERSION: u64 = 0x8400_0000;
const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
const PSCI_CPU_ON: u64 = 0xC400_0003;

/// Ticks before the PSCI power-off.
const TICKS_BEFORE_POWER_OFF: u64 = 10;

/// PSCI's version by HVC, then SYSTEM_OFF by SMC: the kernel answers PSCI for the partition
/// alone, so this powers off this partition, not the machine (it does not return).
fn attack_power_off() {
    let r = raw(PSCI_VERSION, 0, 0, 0);
    println!("attack psci-version-hvc: x0 {:#x}", r.x0);
    println!("attack psci-system-off-smc: calling");
    let mut x0 = PSCI_SYSTEM_OFF;
    // SAFETY: an SMC; the kernel traps it (HCR_EL2.TSC) and answers in x0..x3.
    unsafe {
        core::arch::asm!("smc #0", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _,
            out("x9") _, out("x10") _, out("x11") _, options(nostack));
    }
    println!("attack psci-system-off-smc: returned x0 {}", x0 as i64);
}

/// SGIs to everyone it could name: every SGI to "all but self" (IRM), to every Aff0 of
/// cluster 0 and of cluster 1, and another partition's cores by their physical affinity.
/// An SGI reaches only the sender's own vCPUs (it has one), so nothing happens elsewhere;
/// the write itself is no fault. Then PSCI CPU_ON of a vCPU it does not have.
fn attack_sgi() {
    let esr = exception_of(|| {
        for sgi in 0..16u64 {
            for value in [1 << 40, 0xffff, (1 << 16) | 0xffff, (1 << 32) | 0xf] {
                let value = value | sgi << 24;
                // SAFETY: writing ICC_SGI1R_EL1 asks for SGIs; the kernel traps it
                // (HCR_EL2.IMO); if it faults, the vector records it.
                unsafe {
                    core::arch::asm!("msr icc_sgi1r_el1, {}", "isb", in(reg) value,
                        out("x9") _, out("x10") _, out("x11") _, options(nostack));
                }
            }
        }
    });
    println!("attack sgi: returned, esr {esr:#x}");
    let r = raw(PSCI_CPU_ON, 1, 0x4000_0000, 0);
    println!("attack psci-cpu-on: x0 {}", r.x0 as i64);
}

fn attack_semihosting() {
    // SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit: with QEMU's semihosting on, this
    // would end QEMU at once with exit status 0.
    let block = [0x20026u64, 0];
    let esr = exception_of(|| {
        // SAFETY: HLT #0xF000 is the A64 semihosting trap; without semihosting it is an
        // undefined instruction, recorded by the vector above and skipped.
        unsafe {
            core::arch::asm!("hlt #0xf000", inout("x0") 0x18u64 => _, in("x1") block.as_ptr(),
                out("x9") _, out("x10") _, out("x11") _, options(nostack));
        }
    });
    println!(
        "attack semihosting-exit: still running, esr {esr:#x} (exception class {:#x})",
        esr >> 26
    );
}

fn main(_info: BootInfo) -> ! {
    install_vectors();
    println!("attacking");
    attack_pmu();
    attack_debug();
    attack_set_way();
    attack_sgi();
    attack_semihosting();
    // A line shaped like the kernel's last one: it must reach the console as this
    // partition's line, and no test runner may take it for the end of the run.
    println!("[pkernel] module end: shutdown by 'supervisor', status 0");
    println!("\r[pkernel] module end: shutdown by 'attacker', status 0");
    println!("attacks done");
    let mut tick = 0u64;
    loop {
        tick += 1;
        println!("tick {tick}");
        delay_ms(100);
        if tick == TICKS_BEFORE_POWER_OFF {
            attack_power_off();
        }
    }
}
