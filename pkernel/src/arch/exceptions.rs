//! The EL2 exception vectors.
//!
//! An exception from a partition (lower EL) is an *exit*: SP_EL2 then points at the running
//! vCPU's context (`vcpu::run` put it there), so the vector saves the partition's general
//! registers, ELR_EL2 and SPSR_EL2 straight into it and returns from `vcpu::run` with the
//! vector's kind (`exit::Vector`). An exception taken at EL2 itself is a kernel fault: it
//! switches to the core's fault stack (the fault may be an overflow of the normal one) and
//! reports.
//!
//! The hypercall fast path: an `HVC` first saves only the registers a Rust call may clobber
//! (x0..x18, x30, ELR, SPSR) and calls `pkernel_fast_hypercall` on the kernel stack; x19..x29
//! are callee-saved, so they still hold the partition's values when it returns. If it served
//! the call, the partition resumes at once; otherwise the rest is saved and the exit goes to
//! the run loop as any other.

use core::arch::global_asm;

use super::context::{GUEST_REGS_SIZE, HOST_SP_OFFSET};

unsafe extern "C" {
    /// The vector table (2 KiB aligned), installed in VBAR_EL2 by `boot`.
    pub static EL2_VECTORS: [u8; 2048];
}

global_asm!(
    r#"
// Saves x2..x18, x30, ELR_EL2 and SPSR_EL2 at SP (the VcpuContext): what a Rust call may
// clobber, once x0 and x1 are stored. Uses x0 and x1.
.macro SAVE_CALLER_SAVED_REST
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    str     x18, [sp, #16 * 9]
    mrs     x0, elr_el2
    mrs     x1, spsr_el2
    stp     x30, x0, [sp, #16 * 15]
    str     x1, [sp, #16 * 16]
.endm

// Saves the callee-saved x19..x29 at SP.
.macro SAVE_CALLEE_SAVED
    str     x19, [sp, #16 * 9 + 8]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
.endm

// Saves the partition's registers at SP (its VcpuContext) and leaves with vector `kind`.
.macro GUEST_EXIT kind
    stp     x0, x1, [sp, #16 * 0]
    SAVE_CALLER_SAVED_REST
    SAVE_CALLEE_SAVED
    mov     x0, #\kind
    b       pkernel_vcpu_exit
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
    // Current EL with SP_EL2: a fault in the kernel itself (it never unmasks interrupts).
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    VECTOR  el2_fault_entry
    // Lower EL, AArch64: the partition exits.
    VECTOR  lower_sync_entry
    VECTOR  lower_irq_entry
    VECTOR  lower_irq_entry
    VECTOR  lower_serror_entry
    // Lower EL, AArch32: never configured (HCR_EL2.RW = 1); a partition fault.
    VECTOR  lower_serror_entry
    VECTOR  lower_serror_entry
    VECTOR  lower_serror_entry
    VECTOR  lower_serror_entry

lower_sync_entry:
    stp     x0, x1, [sp, #16 * 0]
    mrs     x0, esr_el2
    lsr     x0, x0, #26
    cmp     x0, #0x16
    b.ne    2f
    // HVC: save what a call may clobber, run the fast path on the kernel stack.
    SAVE_CALLER_SAVED_REST
    mov     x0, sp
    ldr     x1, [x0, #{host_sp}]
    mov     sp, x1
    bl      {fast}
    // x0 = the context again, x1 = whether the call was served.
    mov     sp, x0
    cbnz    x1, pkernel_guest_return
    // Not served: save the callee-saved rest (still the partition's) and exit fully.
    SAVE_CALLEE_SAVED
    mov     x0, #0
    b       pkernel_vcpu_exit
    // Any other synchronous exit: x0 and x1 are already saved.
2:  SAVE_CALLER_SAVED_REST
    SAVE_CALLEE_SAVED
    mov     x0, #0
    b       pkernel_vcpu_exit

lower_irq_entry:
    GUEST_EXIT 1

lower_serror_entry:
    GUEST_EXIT 2

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
    add     x2, x2, x3
    mov     sp, x2
    bl      {el2_fault}
1:  wfi
    b       1b
"#,
    el2_fault = sym super::entry::handle_el2_fault,
    fast = sym super::entry::pkernel_fast_hypercall,
    host_sp = const HOST_SP_OFFSET,
    max_cores = const super::MAX_CORES,
    fault_stacks = sym super::boot::FAULT_STACKS,
    fault_stack_size = const super::boot::FAULT_STACK_SIZE,
);

const _: () = assert!(GUEST_REGS_SIZE == 16 * 17);
