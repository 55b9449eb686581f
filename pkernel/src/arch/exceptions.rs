//! EL2 exception vectors and the trap frame.
//!
//! Exceptions from a partition (lower EL, AArch64) save the partition's general registers,
//! ELR_EL2 and SPSR_EL2 into a [`TrapFrame`] on the core's kernel stack, call the handler
//! in `kernel`, restore, and `eret`. Exceptions taken at EL2 itself are kernel faults.

use core::arch::global_asm;

/// A partition's registers at the moment it trapped. Layout is fixed by the assembly below.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    /// x0..=x30.
    pub x: [u64; 31],
    /// Where the partition resumes (ELR_EL2).
    pub elr: u64,
    /// The partition's PSTATE (SPSR_EL2).
    pub spsr: u64,
    _pad: u64,
}

pub const TRAP_FRAME_SIZE: usize = 34 * 8;
const _: () = assert!(
    core::mem::size_of::<TrapFrame>() == TRAP_FRAME_SIZE && TRAP_FRAME_SIZE.is_multiple_of(16)
);

impl TrapFrame {
    /// The frame of a partition about to run its first instruction at `entry`.
    pub fn first_entry(entry: u64, x0: u64, x1: u64) -> Self {
        let mut frame = Self {
            elr: entry,
            spsr: super::sysregs::SPSR_EL1H_MASKED,
            ..Self::default()
        };
        frame.x[0] = x0;
        frame.x[1] = x1;
        frame
    }
}

unsafe extern "C" {
    /// The vector table (2 KiB aligned), installed in VBAR_EL2 by `boot`.
    pub static EL2_VECTORS: [u8; 2048];
    /// Restores `frame` (which must lie at the top of this core's stack) and enters the partition.
    fn pkernel_enter_guest(frame: *const TrapFrame) -> !;
}

/// Enters a partition with the register state in `frame`, using the top of `stack_top`'s
/// stack for it. Never returns: later traps come back through the vectors.
pub fn enter_guest(frame: TrapFrame, stack_top: usize) -> ! {
    let slot = (stack_top - TRAP_FRAME_SIZE) as *mut TrapFrame;
    // SAFETY: `stack_top` is the top of this core's own kernel stack, whose top
    // TRAP_FRAME_SIZE bytes `boot` reserves for exactly this frame (Rust code runs below it),
    // so the write clobbers nothing live; `pkernel_enter_guest` moves SP to `slot` and
    // restores from it (the Rust frames below are abandoned, as this never returns).
    unsafe {
        slot.write(frame);
        pkernel_enter_guest(slot)
    }
}

global_asm!(
    r#"
.macro SAVE_FRAME
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp, #16 * 0]
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x0, elr_el2
    mrs     x1, spsr_el2
    stp     x30, x0, [sp, #16 * 15]
    str     x1, [sp, #16 * 16]
    mov     x0, sp
.endm

.macro VECTOR handler
    .balign 0x80
    b       \handler
.endm

    .section .text.vectors, "ax"
    .balign 2048
    .global EL2_VECTORS
EL2_VECTORS:
    // Current EL with SP_EL0: never used by the kernel.
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    // Current EL with SP_EL2: a fault in the kernel itself.
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    // Lower EL, AArch64: the partition trapped.
    VECTOR  lower_sync_entry
    VECTOR  lower_irq_entry
    VECTOR  lower_irq_entry
    VECTOR  lower_serror_entry
    // Lower EL, AArch32: never configured (HCR_EL2.RW = 1); treat as a partition fault.
    VECTOR  lower_serror_entry
    VECTOR  lower_serror_entry
    VECTOR  lower_serror_entry
    VECTOR  lower_serror_entry

lower_sync_entry:
    SAVE_FRAME
    bl      {lower_sync}
    b       pkernel_restore_frame

lower_irq_entry:
    SAVE_FRAME
    bl      {lower_irq}
    b       pkernel_restore_frame

lower_serror_entry:
    SAVE_FRAME
    bl      {lower_serror}
    b       pkernel_restore_frame

// A fault in the kernel: it may be a stack overflow into a guard page, so report it from
// this core's fault stack. x0 = the faulting SP for the report; nothing is restored, the
// module stops.
el2_fault_entry:
    mov     x0, sp
    mrs     x1, tpidr_el2
    cmp     x1, #{max_cores}
    b.hs    1f
    adrp    x2, {fault_stacks}
    add     x2, x2, :lo12:{fault_stacks}
    mov     x3, #{fault_stack_size}
    madd    x2, x1, x3, x2
    add     sp, x2, x3
    bl      {el2_fault}
1:  wfi
    b       1b

    .global pkernel_enter_guest
pkernel_enter_guest:
    mov     sp, x0
pkernel_restore_frame:
    ldr     x1, [sp, #16 * 16]
    ldp     x30, x0, [sp, #16 * 15]
    msr     elr_el2, x0
    msr     spsr_el2, x1
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    add     sp, sp, #{frame_size}
    eret
"#,
    frame_size = const TRAP_FRAME_SIZE,
    lower_sync = sym super::kernel::handle_lower_sync,
    lower_irq = sym super::kernel::handle_lower_irq,
    lower_serror = sym super::kernel::handle_lower_serror,
    el2_fault = sym super::kernel::handle_el2_fault,
    max_cores = const super::MAX_CORES,
    fault_stacks = sym super::boot::FAULT_STACKS,
    fault_stack_size = const super::boot::FAULT_STACK_SIZE,
);
