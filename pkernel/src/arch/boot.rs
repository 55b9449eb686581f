//! Reset entry and secondary-core entry: a stack per core, `.bss` cleared, vectors installed,
//! then Rust (`pkernel_entry`, defined by the image with the system tables).

use super::MAX_CORES;

/// Kernel stack of each core.
pub const STACK_SIZE: usize = system_tables::translation::KERNEL_STACK_SIZE;
/// The page below each stack, left unmapped in the EL2 tables (built with the image by
/// schedule-gen from the `PKERNEL_STACKS` symbol): an overflow faults there instead of
/// silently overwriting the next core's stack or the kernel's statics.
pub const GUARD_SIZE: usize = system_tables::translation::STACK_GUARD_SIZE;
/// Stack of each core for reporting a kernel fault: the fault may be an overflow of the
/// normal stack, which then cannot be used.
pub const FAULT_STACK_SIZE: usize = 4096;

/// One core's guard page and stack; the stack grows down from the end of the slot.
#[repr(C, align(4096))]
pub struct CoreStack {
    pub guard: [u8; GUARD_SIZE],
    pub stack: [u8; STACK_SIZE],
}

const SLOT_SIZE: usize = core::mem::size_of::<CoreStack>();
const _: () = assert!(SLOT_SIZE == GUARD_SIZE + STACK_SIZE);

/// Per-core kernel stacks. Not zeroed at boot (`.uninit`): a stack is never read before written.
/// Exported by name: the EL2 tables are built on the host from where it was linked.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".uninit.stacks")]
pub static mut PKERNEL_STACKS: [CoreStack; MAX_CORES] = [const {
    CoreStack {
        guard: [0; GUARD_SIZE],
        stack: [0; STACK_SIZE],
    }
}; MAX_CORES];

#[repr(C, align(4096))]
pub struct FaultStacks(pub [[u8; FAULT_STACK_SIZE]; MAX_CORES]);

/// Per-core stacks the EL2 fault vector switches to (see `exceptions`).
#[unsafe(link_section = ".uninit.stacks")]
pub static mut FAULT_STACKS: FaultStacks = FaultStacks([[0; FAULT_STACK_SIZE]; MAX_CORES]);

/// Address of the top of `core`'s stack (the stack grows down from here).
pub fn stack_top(core: usize) -> usize {
    // Only the address is taken; the stack memory itself is never accessed through a reference.
    (&raw const PKERNEL_STACKS) as usize + (core + 1) * SLOT_SIZE
}

/// The guard page below `core`'s stack: `[start, start + GUARD_SIZE)`.
pub fn guard_page(core: usize) -> usize {
    (&raw const PKERNEL_STACKS) as usize + core * SLOT_SIZE
}

// The boot core enters at `_start` (QEMU and boot loaders start only it); the others at
// `_secondary_start` through PSCI CPU_ON, with their core index as the context ID in x0.
// Both mask interrupts, select SCTLR_EL2's safe reset state (MMU and caches off, no
// alignment checks), take their stack, install the EL2 vectors and call `pkernel_entry(core)`.
core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    // First, start the PMU cycle counter counting at every exception level (PMCCFILTR_EL0.NSH
    // counts EL2), so `cargo xtask bench` can measure from reset: it counts from the 7th
    // instruction after reset. Partitions cannot see it unless granted the PMU (`pmu`).
    mrs     x1, pmcr_el0
    orr     x1, x1, #1
    msr     pmcr_el0, x1
    mov     x1, #(1 << 27)
    msr     pmccfiltr_el0, x1
    mov     x1, #(1 << 31)
    msr     pmcntenset_el0, x1
    mov     x0, #0
    b       1f

    .global _secondary_start
_secondary_start:
1:  msr     daifset, #0xf
    ldr     x1, ={sctlr}
    msr     sctlr_el2, x1
    isb
    cmp     x0, #{max_cores}
    b.hs    9f
    // TPIDR_EL2 = this core's block (before anything can fault: the fault vector uses it).
    adrp    x1, {blocks}
    add     x1, x1, :lo12:{blocks}
    add     x1, x1, x0, lsl #{block_shift}
    msr     tpidr_el2, x1
    adrp    x1, {stacks}
    add     x1, x1, :lo12:{stacks}
    mov     x2, #{slot_size}
    madd    x1, x0, x2, x1
    add     x1, x1, x2
    mov     sp, x1
    adrp    x1, {vectors}
    add     x1, x1, :lo12:{vectors}
    msr     vbar_el2, x1
    isb
    cbnz    x0, 3f
    // Boot core: clear .bss before any Rust runs, 64 bytes a turn (the linker script aligns
    // both ends to 64). Not DC ZVA: with the MMU off, memory is Device, where it faults.
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
2:  cmp     x1, x2
    b.hs    3f
    stp     xzr, xzr, [x1]
    stp     xzr, xzr, [x1, #16]
    stp     xzr, xzr, [x1, #32]
    stp     xzr, xzr, [x1, #48]
    add     x1, x1, #64
    b       2b
3:  bl      pkernel_entry
9:  wfi
    b       9b
    "#,
    sctlr = const super::sysregs::SCTLR_EL2_MMU_OFF,
    max_cores = const MAX_CORES,
    slot_size = const SLOT_SIZE,
    stacks = sym PKERNEL_STACKS,
    blocks = sym super::core_block::CORE_BLOCKS,
    block_shift = const super::core_block::CORE_BLOCK_SIZE.trailing_zeros(),
    vectors = sym super::exceptions::EL2_VECTORS,
);

unsafe extern "C" {
    fn _secondary_start();
}

/// Physical address where PSCI CPU_ON starts secondary cores (identity mapped).
pub fn secondary_entry_address() -> u64 {
    _secondary_start as *const () as usize as u64
}
