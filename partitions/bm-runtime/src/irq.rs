//! Interrupts for bare-metal partitions: an EL1 exception vector table, the GICv3 (virtual)
//! CPU interface, and a minimal driver for the partition's own shared peripheral interrupts
//! (SPIs) in its virtual distributor.
//!
//! Under pkernel a partition receives the interrupts of the devices it owns as *virtual*
//! interrupts: its `ICC_*_EL1` accesses reach the GICv3 virtual CPU interface (`ICV_*`), and
//! the distributor it sees at the board's GICD address is the kernel's filtered copy, in which
//! only its own SPIs can be read or changed (every other bit reads as zero and ignores writes;
//! enabling, pending or routing one is a health-monitor event). Everything here is the
//! standard GICv3 programming model (Arm IHI 0069), so it would drive a real GIC the same way.
//!
//! Use:
//!
//! ```ignore
//! fn on_irq(intid: u32) { /* quiet the device that raised `intid` */ }
//!
//! irq::install(on_irq);          // vector table + handler
//! irq::enable_cpu_interface();   // ICC_SRE_EL1.SRE, ICC_PMR_EL1 = 0xFF, ICC_IGRPEN1_EL1 = 1
//! let spi = Spi::new(34).unwrap();
//! let gicd = irq::distributor();
//! gicd.enable_group1();
//! gicd.set_priority(spi, 0x80);
//! gicd.route_to_vcpu(spi, 0);
//! gicd.enable(spi);
//! irq::unmask();
//! ```
//!
//! The IRQ vector (current EL with SP_EL1, where a partition runs) saves every register the
//! handler may change (x0-x18, x30, q0-q31, FPCR, FPSR, ELR_EL1, SPSR_EL1), acknowledges the
//! interrupt (`ICC_IAR1_EL1`), calls the registered [`Handler`] with its INTID, ends it
//! (`ICC_EOIR1_EL1`, which also deactivates it) and returns with `ERET`. The handler runs with
//! IRQs masked (no nesting) and must make the device lower a level-triggered line before it
//! returns, or the interrupt is taken again at once. Every other vector (a synchronous
//! exception, FIQ, SError, or anything from SP_EL0 or a lower EL) reports the exception
//! through the runtime's panic path, which prints it and stops the partition.
//!
//! Accesses to the distributor are single 32-bit loads and stores (64-bit for `GICD_IROUTER`)
//! of a general register with a plain base-register address: the kernel emulates the virtual
//! distributor from the syndrome of the trapped access, which it only has for such
//! instructions (no pair, writeback or SIMD forms), so they are written in `asm!` rather than
//! left to the compiler.

use core::sync::atomic::{AtomicUsize, Ordering};

/// A partition's interrupt handler: called with the INTID of each interrupt it takes, after
/// the runtime acknowledged it and before the runtime ends it.
pub type Handler = fn(intid: u32);

/// The first of the special INTIDs (1020..=1023): `ICC_IAR1_EL1` returns one of these when
/// there is no interrupt to acknowledge.
pub const SPECIAL_INTID_START: u32 = 1020;

/// The registered [`Handler`] as an address; 0 while none is.
static HANDLER: AtomicUsize = AtomicUsize::new(0);

// ------------------------------------------------------------------------------------------
// Vector table

/// Size of the frame the IRQ entry saves on the stack: x0-x18 and x30 (160 bytes), ELR_EL1
/// and SPSR_EL1 (16), FPCR and FPSR (16), q0-q31 (512).
const IRQ_FRAME: usize = 160 + 16 + 16 + 512;
const _: () = assert!(IRQ_FRAME.is_multiple_of(16));

// VBAR_EL1 needs 2 KiB alignment; each of the 16 entries is 0x80 bytes. Only "current EL with
// SP_ELx, IRQ" (offset 0x280) is handled: the kernel enters a partition in EL1h and a
// bare-metal partition never leaves it. The others pass their index (0..=15) to the report.
core::arch::global_asm!(
    r#"
    .section .text.bm_runtime_vectors, "ax"
    .balign 2048
    .global bm_runtime_vectors
bm_runtime_vectors:
    .balign 0x80
    mov     x0, #0
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #1
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #2
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #3
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #4
    b       bm_runtime_unexpected_entry
    .balign 0x80
    b       bm_runtime_irq_entry
    .balign 0x80
    mov     x0, #6
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #7
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #8
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #9
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #10
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #11
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #12
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #13
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #14
    b       bm_runtime_unexpected_entry
    .balign 0x80
    mov     x0, #15
    b       bm_runtime_unexpected_entry

    .balign 4
bm_runtime_unexpected_entry:
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    bl      bm_runtime_unexpected_exception
1:  wfi
    b       1b

bm_runtime_irq_entry:
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x30, [sp, #144]
    mrs     x0, elr_el1
    mrs     x1, spsr_el1
    stp     x0, x1, [sp, #160]
    mrs     x0, fpcr
    mrs     x1, fpsr
    stp     x0, x1, [sp, #176]
    add     x0, sp, #192
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]

    bl      bm_runtime_irq_dispatch

    add     x0, sp, #192
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    ldp     x0, x1, [sp, #176]
    msr     fpcr, x0
    msr     fpsr, x1
    ldp     x0, x1, [sp, #160]
    msr     elr_el1, x0
    msr     spsr_el1, x1
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x30, [sp, #144]
    add     sp, sp, #{frame}
    eret
    "#,
    frame = const IRQ_FRAME,
);

/// The IRQ entry's Rust half: acknowledge, call the handler, end.
#[unsafe(no_mangle)]
extern "C" fn bm_runtime_irq_dispatch() {
    let Some(intid) = acknowledge() else {
        // Spurious: withdrawn between the signal and the acknowledge; nothing to end.
        return;
    };
    if let Some(handler) = handler() {
        handler(intid);
    }
    end_of_interrupt(intid);
}

/// Where every vector but the IRQ one ends: the runtime's panic path prints the report and
/// stops the partition.
#[unsafe(no_mangle)]
extern "C" fn bm_runtime_unexpected_exception(vector: u64, esr: u64, elr: u64, far: u64) -> ! {
    const ORIGIN: [&str; 4] = [
        "current EL with SP_EL0",
        "current EL with SP_EL1",
        "lower EL (AArch64)",
        "lower EL (AArch32)",
    ];
    const KIND: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];
    let vector = (vector & 15) as usize;
    panic!(
        "unexpected {} exception from {}: ESR_EL1 {esr:#x}, ELR_EL1 {elr:#x}, FAR_EL1 {far:#x}",
        KIND[vector % 4],
        ORIGIN[vector / 4]
    )
}

fn handler() -> Option<Handler> {
    let address = HANDLER.load(Ordering::Acquire);
    if address == 0 {
        return None;
    }
    // SAFETY: HANDLER only ever holds 0 or a `Handler` cast to `usize` by `install` (function
    // pointers and `usize` have the same size on this target, checked below), so a non-zero
    // value is a valid `fn(u32)` pointer.
    Some(unsafe { core::mem::transmute::<usize, Handler>(address) })
}

const _: () = assert!(core::mem::size_of::<Handler>() == core::mem::size_of::<usize>());

/// Registers `handler` for every interrupt this partition takes and points VBAR_EL1 at the
/// runtime's vector table. Call before [`unmask`]; calling it again replaces the handler.
pub fn install(handler: Handler) {
    HANDLER.store(handler as usize, Ordering::Release);
    // SAFETY: bm_runtime_vectors is the 2 KiB aligned table above; every entry either
    // branches to the IRQ entry, which preserves all registers the handler call may change
    // and returns with ERET, or ends in the panic path. Writing VBAR_EL1 changes nothing
    // else, and the ISB makes it apply before any interrupt is unmasked.
    unsafe {
        core::arch::asm!(
            "adrp {t}, bm_runtime_vectors",
            "add {t}, {t}, :lo12:bm_runtime_vectors",
            "msr vbar_el1, {t}",
            "isb",
            t = out(reg) _,
            options(nostack, preserves_flags),
        );
    }
}

// ------------------------------------------------------------------------------------------
// CPU interface (ICC_*_EL1, the virtual interface under pkernel)

/// Enables the CPU interface for group 1 interrupts: the system register interface
/// (`ICC_SRE_EL1.SRE`, if it is not already on), the lowest priority mask (`ICC_PMR_EL1 =
/// 0xFF`: every priority is signalled) and the group 1 enable (`ICC_IGRPEN1_EL1 = 1`).
/// IRQs stay masked at the processor until [`unmask`].
pub fn enable_cpu_interface() {
    let sre: u64;
    // SAFETY: reading ICC_SRE_EL1 has no side effects (pkernel sets ICC_SRE_EL2.Enable, so
    // EL1 may access it).
    unsafe {
        core::arch::asm!("mrs {}, icc_sre_el1", out(reg) sre, options(nomem, nostack, preserves_flags))
    };
    if sre & 1 == 0 {
        // SAFETY: setting SRE (0 -> 1) selects the system register interface this module
        // uses; the other bits are written back unchanged. Under pkernel SRE is already 1 (the
        // virtual interface is system-register only) and this is not reached.
        unsafe {
            core::arch::asm!(
                "msr icc_sre_el1, {}",
                "isb",
                in(reg) sre | 1,
                options(nomem, nostack, preserves_flags),
            )
        };
    }
    // SAFETY: the priority mask and the group 1 enable only decide which interrupts the CPU
    // interface signals to this PE; no memory is involved. Nothing is taken until PSTATE.I is
    // cleared by `unmask`.
    unsafe {
        core::arch::asm!(
            "msr icc_pmr_el1, {pmr}",
            "msr icc_igrpen1_el1, {one}",
            "isb",
            pmr = in(reg) 0xffu64,
            one = in(reg) 1u64,
            options(nomem, nostack, preserves_flags),
        )
    };
}

/// Sets the priority mask (`ICC_PMR_EL1`): only interrupts of a higher priority (numerically
/// lower) than `mask` are signalled; 0 signals none, 0xFF all.
pub fn set_priority_mask(mask: u8) {
    // SAFETY: the priority mask only decides which interrupts are signalled to this PE.
    unsafe {
        core::arch::asm!(
            "msr icc_pmr_el1, {}",
            "isb",
            in(reg) u64::from(mask),
            options(nomem, nostack, preserves_flags),
        )
    };
}

/// Acknowledges the highest-priority pending group 1 interrupt (`ICC_IAR1_EL1`), which
/// becomes active: its INTID, or `None` if there was none (a special INTID, 1020..=1023).
/// The IRQ entry does this before calling the handler; a partition polling with IRQs masked
/// may do it itself, and must then [`end_of_interrupt`] what it got.
pub fn acknowledge() -> Option<u32> {
    let iar: u64;
    // SAFETY: reading ICC_IAR1_EL1 changes only the interrupt controller's state (the
    // interrupt becomes active); it touches no memory.
    unsafe {
        core::arch::asm!("mrs {}, icc_iar1_el1", out(reg) iar, options(nomem, nostack, preserves_flags))
    };
    let intid = (iar & 0x00ff_ffff) as u32;
    (intid < SPECIAL_INTID_START).then_some(intid)
}

/// Ends `intid` (`ICC_EOIR1_EL1`): drops the running priority and, with the EOI mode pkernel
/// leaves (`EOImode` 0), deactivates it, which for a device interrupt also deactivates the
/// physical interrupt. A DSB first makes the handler's device writes (the ones that lower a
/// level-triggered line) complete before that.
pub fn end_of_interrupt(intid: u32) {
    // SAFETY: the DSB orders earlier memory accesses; writing ICC_EOIR1_EL1 changes only the
    // interrupt controller's state. Ending an INTID that is not active is ignored by the GIC.
    unsafe {
        core::arch::asm!(
            "dsb sy",
            "msr icc_eoir1_el1, {}",
            in(reg) u64::from(intid),
            options(nostack, preserves_flags),
        )
    };
}

/// Unmasks IRQs at the processor (clears PSTATE.I): from here on a signalled interrupt is
/// taken through the vector table of [`install`].
pub fn unmask() {
    // SAFETY: clearing PSTATE.I lets IRQs be taken; the IRQ vector preserves the interrupted
    // code's registers (install must have run: before it, VBAR_EL1 is whatever the kernel
    // left, and an interrupt would go there).
    // Not `nomem`: the compiler must not move memory accesses across it (it ends a critical
    // section of `mask`).
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// Masks IRQs at the processor (sets PSTATE.I).
pub fn mask() {
    // SAFETY: setting PSTATE.I only defers IRQs. Not `nomem`: the compiler must not move
    // memory accesses out of the critical section it begins.
    unsafe { core::arch::asm!("msr daifset, #2", options(nostack, preserves_flags)) };
}

/// Whether IRQs are masked at the processor (PSTATE.I).
pub fn masked() -> bool {
    let daif: u64;
    // SAFETY: reading DAIF has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, daif", out(reg) daif, options(nomem, nostack, preserves_flags))
    };
    daif & (1 << 7) != 0
}

/// Waits for an interrupt (WFI). Returns when an interrupt is pending for this PE, masked or
/// not, or for any other reason the core wakes.
pub fn wait_for_interrupt() {
    // SAFETY: WFI only suspends the PE until a wake-up event. Not `nomem`: memory the
    // handler changes must be read again after it.
    unsafe { core::arch::asm!("wfi", options(nostack, preserves_flags)) };
}

/// Sleeps in WFI until `done()` holds (true) or the counter ([`crate::counter`]) reaches
/// `deadline` (false), taking interrupts meanwhile. Returns with IRQs unmasked.
///
/// `done` is checked with IRQs masked and the WFI entered still masked (a pending interrupt
/// wakes WFI even then), so an interrupt that makes `done` true between the check and the WFI
/// cannot be slept through. The deadline is checked each time the core wakes: with no
/// interrupt at all for this core (pkernel does not route its timer interrupts to partitions
/// yet), WFI can sleep past it.
pub fn wait_until(deadline: u64, mut done: impl FnMut() -> bool) -> bool {
    loop {
        mask();
        if done() {
            unmask();
            return true;
        }
        if crate::counter() >= deadline {
            unmask();
            return false;
        }
        wait_for_interrupt();
        unmask(); // the interrupt that woke us is taken here
    }
}

// ------------------------------------------------------------------------------------------
// Distributor (the partition's filtered virtual GICD)

/// Guest-physical address of the (virtual) GIC distributor on QEMU `virt`, where pkernel
/// shows each partition its filtered distributor.
pub const QEMU_VIRT_GICD: usize = 0x0800_0000;

/// Size of the distributor's register window.
pub const GICD_SIZE: usize = 0x1_0000;

const GICD_CTLR: usize = 0x0000;
const GICD_TYPER: usize = 0x0004;
const GICD_IGROUPR: usize = 0x0080;
const GICD_ISENABLER: usize = 0x0100;
const GICD_ICENABLER: usize = 0x0180;
const GICD_IPRIORITYR: usize = 0x0400;
const GICD_IROUTER: usize = 0x6000;
/// GICD_IROUTER.IRM: route to any one participating PE rather than the affinity given.
pub const IROUTER_IRM: u64 = 1 << 31;
/// GICD_CTLR.EnableGrp1NS (with ARE_NS = 1: bit 1).
const CTLR_ENABLE_GRP1NS: u32 = 1 << 1;
/// GICD_CTLR.RWP: a register write is still taking effect.
const CTLR_RWP: u32 = 1 << 31;

/// A shared peripheral interrupt: INTID 32..=1019 (SPI n is INTID 32 + n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spi(u32);

impl Spi {
    /// `intid` if it is an SPI.
    pub const fn new(intid: u32) -> Option<Self> {
        if intid >= 32 && intid < SPECIAL_INTID_START {
            Some(Self(intid))
        } else {
            None
        }
    }

    /// Its INTID.
    pub const fn intid(self) -> u32 {
        self.0
    }

    /// Index `n` of the 32-interrupt register (`GICD_ISENABLER<n>` ...) holding its bit.
    pub const fn word(self) -> usize {
        (self.0 / 32) as usize
    }

    /// Its bit in that register.
    pub const fn bit(self) -> u32 {
        1 << (self.0 % 32)
    }
}

/// The GIC distributor this partition sees (under pkernel: its filtered virtual
/// distributor, where only its own SPIs are visible).
///
/// Every method is one or two single-register accesses to the register window; an SPI the
/// partition does not own reads as zero and ignores writes (enabling or routing one is
/// reported by the kernel's health monitor).
#[derive(Debug)]
pub struct Distributor {
    base: usize,
}

/// The distributor at [`QEMU_VIRT_GICD`].
pub fn distributor() -> Distributor {
    // SAFETY: QEMU_VIRT_GICD is the distributor's address on the only board pkernel runs
    // partitions on; the linker script places every Rust object of the partition at
    // 0x4000_0000 and above, so nothing of the program lives in that window.
    unsafe { Distributor::at(QEMU_VIRT_GICD) }
}

impl Distributor {
    /// The distributor whose 64 KiB register window is at `base`.
    ///
    /// # Safety
    ///
    /// `base..base + GICD_SIZE` must be a GICv3 distributor's register window (or unmapped),
    /// and no Rust object may live there: the methods read and write it with device
    /// accesses.
    pub const unsafe fn at(base: usize) -> Self {
        Self { base }
    }

    fn read32(&self, offset: usize) -> u32 {
        debug_assert!(offset < GICD_SIZE && offset.is_multiple_of(4));
        let value: u32;
        // SAFETY: by the contract of `at`, base + offset (inside the window, 4-byte aligned)
        // is a distributor register and no Rust object; a single `ldr w` with a base register
        // is what the kernel's emulation decodes. Reading a GICD register has no side effect
        // (none of the registers read here is an acknowledge register).
        unsafe {
            core::arch::asm!(
                "ldr {v:w}, [{a}]",
                a = in(reg) self.base + offset,
                v = out(reg) value,
                options(nostack, preserves_flags, readonly),
            )
        };
        value
    }

    fn write32(&self, offset: usize, value: u32) {
        debug_assert!(offset < GICD_SIZE && offset.is_multiple_of(4));
        // SAFETY: as in `read32`; the store changes only interrupt controller state, of this
        // partition's own interrupts under pkernel.
        unsafe {
            core::arch::asm!(
                "str {v:w}, [{a}]",
                a = in(reg) self.base + offset,
                v = in(reg) value,
                options(nostack, preserves_flags),
            )
        };
    }

    fn read64(&self, offset: usize) -> u64 {
        debug_assert!(offset < GICD_SIZE && offset.is_multiple_of(8));
        let value: u64;
        // SAFETY: as in `read32`, with a single 64-bit `ldr x` (GICD_IROUTER<n> is 64 bits).
        unsafe {
            core::arch::asm!(
                "ldr {v}, [{a}]",
                a = in(reg) self.base + offset,
                v = out(reg) value,
                options(nostack, preserves_flags, readonly),
            )
        };
        value
    }

    fn write64(&self, offset: usize, value: u64) {
        debug_assert!(offset < GICD_SIZE && offset.is_multiple_of(8));
        // SAFETY: as in `write32`, with a single 64-bit `str x`.
        unsafe {
            core::arch::asm!(
                "str {v}, [{a}]",
                a = in(reg) self.base + offset,
                v = in(reg) value,
                options(nostack, preserves_flags),
            )
        };
    }

    /// Waits (bounded) until GICD_CTLR.RWP says the last write took effect.
    fn wait_rwp(&self) {
        for _ in 0..100_000 {
            if self.read32(GICD_CTLR) & CTLR_RWP == 0 {
                return;
            }
            core::hint::spin_loop();
        }
    }

    /// GICD_CTLR.
    pub fn ctlr(&self) -> u32 {
        self.read32(GICD_CTLR)
    }

    /// GICD_TYPER.
    pub fn typer(&self) -> u32 {
        self.read32(GICD_TYPER)
    }

    /// Enables group 1 (non-secure) interrupts in the distributor (GICD_CTLR.EnableGrp1NS,
    /// the other bits kept).
    pub fn enable_group1(&self) {
        let ctlr = self.read32(GICD_CTLR) & !CTLR_RWP;
        self.write32(GICD_CTLR, ctlr | CTLR_ENABLE_GRP1NS);
        self.wait_rwp();
    }

    /// GICD_IGROUPR<n>: 1 bits are group 1 interrupts (pkernel makes each of the partition's
    /// SPIs group 1).
    pub fn igroupr(&self, n: usize) -> u32 {
        self.read32(GICD_IGROUPR + 4 * (n % 32))
    }

    /// Sets `spi`'s priority (0 is the highest; the GIC may implement only the upper bits).
    /// A 32-bit read-modify-write of its GICD_IPRIORITYR<n>, whose other bytes belong to
    /// neighbouring SPIs (written back as read: unchanged, or zero and ignored if not owned).
    pub fn set_priority(&self, spi: Spi, priority: u8) {
        let offset = GICD_IPRIORITYR + (spi.0 as usize & !3);
        let shift = 8 * (spi.0 % 4);
        let word = self.read32(offset) & !(0xff << shift);
        self.write32(offset, word | (u32::from(priority) << shift));
    }

    /// `spi`'s priority as the distributor reads it.
    pub fn priority(&self, spi: Spi) -> u8 {
        let word = self.read32(GICD_IPRIORITYR + (spi.0 as usize & !3));
        (word >> (8 * (spi.0 % 4))) as u8
    }

    /// Routes `spi` to the vCPU with index `vcpu` in this partition (GICD_IROUTER: Aff0 =
    /// `vcpu`, IRM = 0).
    pub fn route_to_vcpu(&self, spi: Spi, vcpu: u8) {
        self.write64(GICD_IROUTER + 8 * spi.0 as usize, u64::from(vcpu));
    }

    /// Writes `spi`'s GICD_IROUTER as given (Aff3.Aff2.Aff1.Aff0, and [`IROUTER_IRM`]).
    /// pkernel accepts only a vCPU of the partition with IRM = 0 ([`route_to_vcpu`]); this
    /// is for other values (and tests that try them).
    ///
    /// [`route_to_vcpu`]: Self::route_to_vcpu
    pub fn set_irouter(&self, spi: Spi, value: u64) {
        self.write64(GICD_IROUTER + 8 * spi.0 as usize, value);
    }

    /// `spi`'s GICD_IROUTER as it reads.
    pub fn irouter(&self, spi: Spi) -> u64 {
        self.read64(GICD_IROUTER + 8 * spi.0 as usize)
    }

    /// Enables `spi` (sets its GICD_ISENABLER bit; the other bits of the write do nothing).
    pub fn enable(&self, spi: Spi) {
        self.write32(GICD_ISENABLER + 4 * spi.word(), spi.bit());
    }

    /// Disables `spi` (GICD_ICENABLER) and waits for the distributor to apply it.
    pub fn disable(&self, spi: Spi) {
        self.write32(GICD_ICENABLER + 4 * spi.word(), spi.bit());
        self.wait_rwp();
    }

    /// GICD_ISENABLER<n>: 1 bits are enabled interrupts (`n` taken modulo 32).
    pub fn isenabler(&self, n: usize) -> u32 {
        self.read32(GICD_ISENABLER + 4 * (n % 32))
    }

    /// Whether `spi` is enabled.
    pub fn is_enabled(&self, spi: Spi) -> bool {
        self.isenabler(spi.word()) & spi.bit() != 0
    }
}

// ------------------------------------------------------------------------------------------
// Redistributor (the partition's own SGIs and PPIs)

/// QEMU virt's first redistributor frame pair (vCPU 0's, as the partition sees it).
pub const QEMU_VIRT_GICR: usize = 0x080A_0000;
/// Size of one redistributor frame pair; SGI_base is the second half.
const GICR_FRAME_PAIR: usize = 0x2_0000;
const GICR_SGI_BASE: usize = 0x1_0000;

/// The INTID of the EL1 virtual timer's interrupt (PPI 11).
pub const VIRTUAL_TIMER_INTID: u32 = 27;

/// The SGI_base registers of one of the partition's vCPUs: its SGIs (0-15) and PPIs (16-31),
/// which have the same register layout as the distributor's first word of each block.
#[derive(Debug)]
pub struct PrivateInterrupts {
    registers: Distributor,
}

/// vCPU `vcpu`'s private interrupts, on QEMU virt.
pub fn private_interrupts(vcpu: usize) -> PrivateInterrupts {
    // SAFETY: as for `distributor`: the redistributor frames lie below the partition's RAM on
    // QEMU virt, where no Rust object of the partition lives.
    let registers =
        unsafe { Distributor::at(QEMU_VIRT_GICR + vcpu * GICR_FRAME_PAIR + GICR_SGI_BASE) };
    PrivateInterrupts { registers }
}

impl PrivateInterrupts {
    /// Enables private interrupt `intid` (below 32) on this vCPU.
    pub fn enable(&self, intid: u32) {
        if intid < 32 {
            self.registers.write32(GICD_ISENABLER, 1 << intid);
        }
    }

    /// Disables private interrupt `intid` (below 32) on this vCPU.
    pub fn disable(&self, intid: u32) {
        if intid < 32 {
            self.registers.write32(GICD_ICENABLER, 1 << intid);
        }
    }

    /// GICR_ISENABLER0: which private interrupts are enabled.
    pub fn enabled(&self) -> u32 {
        self.registers.read32(GICD_ISENABLER)
    }

    /// Sets private interrupt `intid`'s priority (a 32-bit read-modify-write of its
    /// GICR_IPRIORITYR word).
    pub fn set_priority(&self, intid: u32, priority: u8) {
        if intid < 32 {
            let offset = GICD_IPRIORITYR + (intid as usize & !3);
            let shift = 8 * (intid % 4);
            let word = self.registers.read32(offset) & !(0xff << shift);
            self.registers
                .write32(offset, word | u32::from(priority) << shift);
        }
    }
}
