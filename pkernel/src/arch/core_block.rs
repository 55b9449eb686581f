//! Each core's own block, reached through TPIDR_EL2: what code running on a core needs
//! without being told which core it is. The boot assembly points TPIDR_EL2 at the core's
//! block before anything else runs there, and nothing changes it afterwards (partitions
//! cannot reach an EL2 register); the EL2 fault vector reads the fault stack from it before
//! any Rust runs.
//!
//! The blocks are constants: a core's index and where its fault stack ends are known when
//! the kernel is linked.

use aarch64_cpu::registers::{Readable, TPIDR_EL2};

use super::MAX_CORES;
use super::boot::{FAULT_STACK_SIZE, FAULT_STACKS};

/// One core's block.
#[repr(C, align(16))]
pub struct CoreBlock {
    /// The core's index (0 is the boot core).
    pub index: usize,
    /// Top of the core's fault stack (the stack grows down from here).
    pub fault_stack_top: *const u8,
}

// SAFETY: the blocks are immutable constants; the pointer is only an address the fault
// vector loads into SP, never dereferenced from Rust.
unsafe impl Sync for CoreBlock {}

/// Size of a block: a power of two, so the fault vector can check TPIDR_EL2 points at one.
pub const CORE_BLOCK_SIZE: usize = core::mem::size_of::<CoreBlock>();
/// Offset of [`CoreBlock::fault_stack_top`], for the fault vector.
pub const FAULT_STACK_TOP_OFFSET: usize = core::mem::offset_of!(CoreBlock, fault_stack_top);
const _: () = assert!(CORE_BLOCK_SIZE == 16 && FAULT_STACK_TOP_OFFSET == 8);

/// Every core's block, indexed by core.
pub static CORE_BLOCKS: [CoreBlock; MAX_CORES] = {
    let mut blocks = [const {
        CoreBlock {
            index: 0,
            fault_stack_top: core::ptr::null(),
        }
    }; MAX_CORES];
    let mut core = 0;
    while core < MAX_CORES {
        blocks[core] = CoreBlock {
            index: core,
            fault_stack_top: (&raw const FAULT_STACKS)
                .cast::<u8>()
                .wrapping_add((core + 1) * FAULT_STACK_SIZE),
        };
        core += 1;
    }
    blocks
};

/// This core's block.
pub fn this() -> &'static CoreBlock {
    // SAFETY: TPIDR_EL2 is written only by the boot assembly, with the address of this
    // core's entry of `CORE_BLOCKS`, before any Rust code runs on the core; partitions cannot
    // write EL2 registers. So it points at a valid, immutable, 'static block.
    unsafe { &*(TPIDR_EL2.get() as *const CoreBlock) }
}

/// This core's index.
pub fn this_core() -> usize {
    this().index
}
