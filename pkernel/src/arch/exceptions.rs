//! The EL2 exception vectors.
//!
//! An exception from a partition (lower EL) is an *exit*: SP_EL2 then points at the running
//! vCPU's context (`vcpu::run` put it there), so the vector saves the partition's general
//! registers, ELR_EL2 and SPSR_EL2 straight into it and returns from `vcpu::run` with the
//! vector's kind (`exit::Vector`). An exception taken at EL2 itself is a kernel fault: it
//! switches to the core's fault stack (the fault may be an overflow of the normal one) and
//! reports.
//!
//! The hypercall fast path: an `HVC` saves only the registers a Rust call may clobber
//! (x0..x18, x30) and calls `pkernel_fast_hypercall` on the kernel stack with the call's
//! x0..x2 still in x0..x2; x20..x29 are callee-saved, so they keep the partition's values
//! (x19 is saved too: it carries the context across the call). ELR_EL2 and SPSR_EL2 are
//! left in the CPU: nothing on the kernel's path changes them (it runs with interrupts
//! masked, and an exception taken at EL2 never returns). If the call was served, the
//! partition resumes at once; otherwise the rest is saved and the exit goes to the run loop
//! as any other.
//!
//! The interrupt fast path: an IRQ acknowledges the interrupt in the vector itself; one the
//! running vCPU is to get at once (its `FastInterrupts`, kept by `vgic`: its virtual timer,
//! its device interrupts routed to it and enabled) goes straight into a free list register
//! and the partition resumes, in about 30 instructions and four saved registers. Anything
//! else exits to the run loop with the acknowledged INTID in the context.

use core::arch::global_asm;

use super::context::{GUEST_REGS_SIZE, GuestRegs, HOST_SP_OFFSET, VcpuContext};

unsafe extern "C" {
    /// The vector table (2 KiB aligned), installed in VBAR_EL2 by `boot`.
    pub static EL2_VECTORS: [u8; 2048];
}

global_asm!(
    r#"
// Saves x0..x19 at SP (the VcpuContext): x0..x18, which a Rust call may clobber (as x30,
// which the vectors store first: it is their scratch register), and x19, which the fast
// path then uses to keep the context across its call.
.macro SAVE_X0_X19
    stp     x0, x1, [sp, #16 * 0]
    stp     x2, x3, [sp, #16 * 1]
    SAVE_X4_X19
.endm

// Saves x4..x19 at SP (the IRQ vector saved x0..x3 already).
.macro SAVE_X4_X19
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
.endm

// Saves x20..x29, ELR_EL2 and SPSR_EL2 at SP. Uses x0 and x1 (saved already).
.macro SAVE_REST
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x0, elr_el2
    mrs     x1, spsr_el2
    stp     x0, x1, [sp, #16 * 15 + 8]
.endm

// Saves the partition's registers at SP (its VcpuContext) and leaves with vector `kind`.
.macro GUEST_EXIT kind
    str     x30, [sp, #16 * 15]
    SAVE_X0_X19
    SAVE_REST
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
    str     x30, [sp, #16 * 15]
    mrs     x30, esr_el2
    lsr     x30, x30, #26
    cmp     x30, #0x16              // EC: HVC from AArch64
    b.ne    2f
    // HVC: save what a call may clobber, run the fast path on the kernel stack with
    // x0..x2 (the call) as they are, x3 = the context, kept in x19 across the call.
    SAVE_X0_X19
    mov     x19, sp
    mov     x3, sp
    ldr     x30, [sp, #{host_sp}]
    mov     sp, x30
    bl      {fast}
    mov     sp, x19
    cbz     x0, 1f
    // Served: the context holds the results; ELR_EL2 and SPSR_EL2 are the partition's.
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
    ldr     x30, [sp, #16 * 15]
    eret
    // Not served: x20..x29 are still the partition's; save them and exit fully.
1:  SAVE_REST
    mov     x0, #0
    b       pkernel_vcpu_exit
    // Any other synchronous exit: x30 is already saved.
2:  SAVE_X0_X19
    SAVE_REST
    mov     x0, #0
    b       pkernel_vcpu_exit

// An interrupt while a partition runs. The fast path: acknowledge it here and, if it is in
// the running vCPU's list of interrupts to deliver at once (`FastInterrupts`: its virtual
// timer, its device interrupts routed to it and enabled) and a list register is free, put
// it there, linked to the physical one, drop the physical priority (EOImode = 1: it stays
// active until the partition deactivates the virtual one) and return, having used x0..x3
// only. Anything else (the window timer, a wake-up, another partition's interrupt, no free
// list register) exits to the run loop as before, with the INTID acknowledged here in the
// context (`acknowledged`) for `take_interrupt`.
lower_irq_entry:
    str     x30, [sp, #16 * 15]
    stp     x0, x1, [sp, #16 * 0]
    stp     x2, x3, [sp, #16 * 1]
    mrs     x0, icc_iar1_el1
    ldr     x1, [sp, #{fast_interrupts}]
    cbz     x1, 3f
    // Find the INTID among the entries' low 32 bits; the first 0 ends the list.
1:  ldr     x2, [x1], #8
    cbz     x2, 3f
    cmp     w2, w0
    b.ne    1b
    // The lowest free list register (none free: the run loop waits for room).
    mrs     x3, ich_elrsr_el2
    cbz     x3, 3f
    rbit    x3, x3
    clz     x3, x3
    adr     x1, 2f
    add     x1, x1, x3, lsl #3
    br      x1
    // Eight bytes per list register: `msr`, then `b 4f`. ICH_ELRSR_EL2 has bits only for
    // the list registers the GIC implements (at most 16).
2:
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    msr     ich_lr\n\()_el2, x2
    b       4f
    .endr
4:  msr     icc_eoir1_el1, x0
    // Its virtual timer's interrupt is now in a list register (see `save_vcpu`).
    cmp     w0, #{virtual_timer}
    b.ne    5f
    mov     x3, #1
    str     x3, [sp, #{virtual_timer_delivered}]
5:  ldp     x2, x3, [sp, #16 * 1]
    ldp     x0, x1, [sp, #16 * 0]
    ldr     x30, [sp, #16 * 15]
    eret
    // For the run loop: the INTID, and the rest of the registers.
3:  str     x0, [sp, #{acknowledged}]
    SAVE_X4_X19
    SAVE_REST
    mov     x0, #1
    b       pkernel_vcpu_exit

lower_serror_entry:
    GUEST_EXIT 2

// A fault in the kernel: it may be a stack overflow into a guard page, so report it from
// this core's fault stack, found in its block (TPIDR_EL2). x0 = the faulting SP for the
// report; nothing is restored, the module stops. A TPIDR_EL2 that is not the address of a
// block (a fault before boot set it) parks the core instead of faulting again.
el2_fault_entry:
    mov     x0, sp
    mrs     x1, tpidr_el2
    adrp    x2, {blocks}
    add     x2, x2, :lo12:{blocks}
    sub     x2, x1, x2
    cmp     x2, #{blocks_size}
    b.hs    1f
    tst     x2, #({block_size} - 1)
    b.ne    1f
    ldr     x2, [x1, #{fault_stack_top}]
    mov     sp, x2
    bl      {el2_fault}
1:  wfi
    b       1b
"#,
    el2_fault = sym super::entry::handle_el2_fault,
    fast = sym super::entry::pkernel_fast_hypercall,
    host_sp = const HOST_SP_OFFSET,
    blocks = sym super::core_block::CORE_BLOCKS,
    blocks_size = const super::core_block::CORE_BLOCK_SIZE * super::MAX_CORES,
    block_size = const super::core_block::CORE_BLOCK_SIZE,
    fault_stack_top = const super::core_block::FAULT_STACK_TOP_OFFSET,
    fast_interrupts = const core::mem::offset_of!(VcpuContext, fast_interrupts),
    acknowledged = const core::mem::offset_of!(VcpuContext, acknowledged),
    virtual_timer_delivered = const core::mem::offset_of!(VcpuContext, virtual_timer_delivered),
    virtual_timer = const crate::machine::VIRTUAL_TIMER_INTID,
);

const _: () = assert!(GUEST_REGS_SIZE == 16 * 17);
// The IRQ vector's loads and stores of these reach them with an unsigned 12-bit offset
// scaled by 8.
const _: () = assert!(
    core::mem::offset_of!(VcpuContext, fast_interrupts) < 8 * 4096
        && core::mem::offset_of!(VcpuContext, acknowledged) < 8 * 4096
        && core::mem::offset_of!(VcpuContext, virtual_timer_delivered) < 8 * 4096
);
// The offsets the assembly stores ELR_EL2 and SPSR_EL2 at, as one pair.
const _: () = assert!(
    core::mem::offset_of!(GuestRegs, elr) == 16 * 15 + 8
        && core::mem::offset_of!(GuestRegs, spsr) == 16 * 16
);
