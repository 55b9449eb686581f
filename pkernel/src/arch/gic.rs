//! The GICv3, owned by the kernel: distributor and redistributors initialised at boot.
//! Interrupt routing to partitions builds on this (a later increment).

use core::ptr::NonNull;

use arm_gic::IntId;
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3};
use safe_mmio::UniqueMmioPointer;

use crate::config::Board;
use crate::sync::SpinLock;

struct Gic(Option<GicV3<'static>>);

// SAFETY: the GIC's MMIO frames are reachable from every core at the same addresses; all use
// goes through the `GIC` lock.
unsafe impl Send for Gic {}

static GIC: SpinLock<Gic> = SpinLock::new(Gic(None));

/// Initialises the distributor, every redistributor, and the boot core's CPU interface.
pub fn init(board: &Board, core: usize) -> Result<(), arm_gic::gicv3::GicError> {
    let gicd = NonNull::new(board.gicd.base as *mut Gicd).expect("GICD at address 0");
    let gicr = NonNull::new(board.gicr.base as *mut GicrSgi).expect("GICR at address 0");
    // SAFETY: the board description places the GICv3 distributor and redistributors here; the
    // kernel maps them (device memory) and never to a partition, and this is the only driver
    // instance, kept behind the `GIC` lock.
    let mut gic = unsafe { GicV3::new(UniqueMmioPointer::new(gicd), gicr, board.core_count())? };
    GicCpuInterface::enable_system_register_el2(true);
    gic.setup(core);
    enable_window_timer(&mut gic, core)?;
    GIC.lock().0 = Some(gic);
    crate::kprintln!(
        "GICv3: distributor and {} redistributors initialised",
        board.core_count()
    );
    Ok(())
}

/// Wakes this core's redistributor and enables its CPU interface (secondary cores), Group 1
/// included: without it no interrupt the kernel routes to this core would ever be taken.
pub fn init_this_core(core: usize) {
    GicCpuInterface::enable_system_register_el2(true);
    if let Some(gic) = GIC.lock().0.as_mut() {
        gic.init_cpu(core);
        // Only fails for a core the board does not have, which never starts.
        let _ = enable_window_timer(gic, core);
    }
    GicCpuInterface::enable_group1(true);
}

/// Lets the EL2 timer's interrupt reach `core` (its PPI, group 1 like every interrupt the
/// kernel takes) and opens the core's priority mask, so a window deadline wakes it from WFI
/// and interrupts a partition.
fn enable_window_timer(gic: &mut GicV3, core: usize) -> Result<(), arm_gic::gicv3::GicError> {
    let timer = IntId::ppi(super::timer::INTID - 16);
    gic.set_interrupt_priority(timer, Some(core), 0x80)?;
    gic.enable_interrupt(timer, Some(core), true)?;
    GicCpuInterface::set_priority_mask(0xff);
    Ok(())
}

/// Whether this core's CPU interface signals Group 1 interrupts (ICC_IGRPEN1_EL1.Enable),
/// read back from the register for the boot report.
pub fn group1_enabled() -> bool {
    let value: u64;
    // SAFETY: reading ICC_IGRPEN1_EL1 has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, icc_igrpen1_el1", out(reg) value, options(nomem, nostack, preserves_flags))
    };
    value & 1 == 1
}
