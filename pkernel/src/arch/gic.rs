//! The GICv3, owned by the kernel: distributor and redistributors initialised at boot.
//! Interrupt routing to partitions builds on this (a later increment).

use core::ptr::NonNull;

use arm_gic::IntId;
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget, SgiTargetGroup};
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
    enable_kernel_interrupts(&mut gic, core)?;
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
        let _ = enable_kernel_interrupts(gic, core);
    }
    GicCpuInterface::enable_group1(true);
}

/// The SGI one core sends another to wake it: a doorbell rang for a partition waiting there.
pub const WAKEUP_SGI: u32 = 1;

/// Lets the EL2 timer's interrupt and the wake-up SGI reach `core` (group 1 like every
/// interrupt the kernel takes) and opens the core's priority mask, so a window deadline or a
/// doorbell wakes it from WFI and a deadline interrupts a partition.
fn enable_kernel_interrupts(gic: &mut GicV3, core: usize) -> Result<(), arm_gic::gicv3::GicError> {
    for intid in [IntId::ppi(super::timer::INTID - 16), IntId::sgi(WAKEUP_SGI)] {
        gic.set_interrupt_priority(intid, Some(core), 0x80)?;
        gic.enable_interrupt(intid, Some(core), true)?;
    }
    GicCpuInterface::set_priority_mask(0xff);
    Ok(())
}

/// Sends the wake-up SGI to the core whose MPIDR is `mpidr`.
pub fn wake(mpidr: u64) {
    let target = SgiTarget::List {
        affinity3: (mpidr >> 32) as u8,
        affinity2: (mpidr >> 16) as u8,
        affinity1: (mpidr >> 8) as u8,
        // Aff0 of a core is below 16 on every supported board (core_mpidrs).
        target_list: 1u16.checked_shl((mpidr & 0xff) as u32).unwrap_or(0),
    };
    // Only fails for a non-SGI interrupt ID, which WAKEUP_SGI is not.
    let _ = GicCpuInterface::send_sgi(
        IntId::sgi(WAKEUP_SGI),
        target,
        SgiTargetGroup::CurrentGroup1,
    );
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
