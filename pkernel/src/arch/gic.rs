//! The GICv3, owned by the kernel alone: distributor and redistributors initialised at
//! boot, the interrupts of partitions' devices routed to their owners' cores, and the few
//! distributor operations the virtual distributor (`crate::vgic`) passes on for a partition's
//! own interrupts.
//!
//! The kernel runs its CPU interface with EOImode = 1: ending an interrupt (ICC_EOIR1_EL1)
//! only drops the running priority, and deactivating it is separate (ICC_DIR_EL1). Its own
//! interrupts it deactivates at once; a partition's device interrupt stays active until the
//! partition deactivates the virtual interrupt linked to it (a list register with the HW bit),
//! so a level-sensitive device cannot interrupt again before its owner has served it.

use core::ptr::NonNull;

use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, Group, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, Trigger};
use safe_mmio::fields::ReadPureWrite;
use safe_mmio::{UniqueMmioPointer, field};

use crate::config::Board;
use crate::machine::{SpiOp, SpiState};
use crate::sync::SpinLock;

/// The distributor's pending and active registers (GICD_ISPENDR<n> at offset 0x200 to
/// GICD_ICACTIVER<n>), which the `arm-gic` driver offers no operation for.
#[repr(C)]
struct PendingActive {
    ispendr: [ReadPureWrite<u32>; 32],
    icpendr: [ReadPureWrite<u32>; 32],
    isactiver: [ReadPureWrite<u32>; 32],
    icactiver: [ReadPureWrite<u32>; 32],
}

/// Offset of [`PendingActive`] in the distributor.
const PENDING_ACTIVE_OFFSET: u64 = 0x200;

struct Gic(Option<(GicV3<'static>, UniqueMmioPointer<'static, PendingActive>)>);

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
    let pending_active =
        NonNull::new((board.gicd.base + PENDING_ACTIVE_OFFSET) as *mut PendingActive)
            .expect("GICD at address 0");
    // SAFETY: GICD_ISPENDR0 to GICD_ICACTIVER31 (0x200..0x400) lie inside the distributor
    // the board places at `gicd.base`, mapped as device memory for the kernel only. The
    // `arm-gic` driver touches those registers only in its save and restore operations, which
    // the kernel never calls, so this pointer is the only one used to access them; both it
    // and the driver are kept behind the `GIC` lock.
    let pending_active = unsafe { UniqueMmioPointer::new(pending_active) };
    set_split_eoi();
    GIC.lock().0 = Some((gic, pending_active));
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
    if let Some((gic, _)) = GIC.lock().0.as_mut() {
        gic.init_cpu(core);
        // Only fails for a core the board does not have, which never starts.
        let _ = enable_kernel_interrupts(gic, core);
    }
    set_split_eoi();
    GicCpuInterface::enable_group1(true);
}

/// ICC_CTLR_EL1.EOImode = 1 on this core (see the module documentation).
fn set_split_eoi() {
    // SAFETY: ICC_CTLR_EL1 at EL2 controls this core's physical CPU interface, which only the
    // kernel uses; EOImode changes what an end of interrupt does, and the kernel deactivates
    // its own interrupts itself from now on (`deactivate`).
    unsafe {
        core::arch::asm!(
            "mrs {t}, icc_ctlr_el1",
            "orr {t}, {t}, #2",
            "msr icc_ctlr_el1, {t}",
            "isb",
            t = out(reg) _,
            options(nomem, nostack, preserves_flags)
        )
    };
}

/// INTIDs from this one up are special (1023: none pending), never an interrupt.
pub const SPECIAL_INTIDS: u32 = 1020;

/// Acknowledges the highest-priority pending group 1 interrupt on this core's CPU interface
/// (ICC_IAR1_EL1): its INTID, or a special one (>= [`SPECIAL_INTIDS`]) if none.
pub fn acknowledge() -> u32 {
    let iar: u64;
    // SAFETY: reading ICC_IAR1_EL1 acknowledges the interrupt it returns (it becomes active
    // on this core), which the caller then ends; it touches nothing else.
    unsafe {
        core::arch::asm!("mrs {}, icc_iar1_el1", out(reg) iar, options(nomem, nostack, preserves_flags))
    };
    (iar & 0xff_ffff) as u32
}

/// Drops the running priority of interrupt `intid`, acknowledged on this core
/// (ICC_EOIR1_EL1; with EOImode = 1 it stays active until deactivated).
pub fn end_priority(intid: u32) {
    // SAFETY: the priority drop of an interrupt this core acknowledged; it touches nothing
    // else.
    unsafe {
        core::arch::asm!("msr icc_eoir1_el1, {}", in(reg) u64::from(intid), options(nomem, nostack, preserves_flags))
    };
}

/// Deactivates interrupt `intid` on this core's CPU interface (ICC_DIR_EL1): the kernel's own
/// interrupts, after it ended them.
pub fn deactivate(intid: u32) {
    // SAFETY: deactivating an interrupt the kernel acknowledged and ended on this core is the
    // second half of the end of interrupt (EOImode = 1); it touches nothing else.
    unsafe {
        core::arch::asm!("msr icc_dir_el1, {}", in(reg) u64::from(intid), options(nomem, nostack, preserves_flags))
    };
}

/// The priority of every partition's device interrupt at the distributor: below the kernel's
/// own (0x80), so a window deadline is taken first when both are pending.
const DEVICE_PRIORITY: u8 = 0xa0;

/// Sets up SPI `intid`, which a partition owns, at boot: group 1, level-sensitive, its
/// priority, routed to the core whose MPIDR is `mpidr`, disabled until its owner enables it.
pub fn configure_partition_spi(intid: u32, mpidr: u64) -> Result<(), arm_gic::gicv3::GicError> {
    let mut guard = GIC.lock();
    let Some((gic, _)) = guard.0.as_mut() else {
        return Ok(());
    };
    let id = spi_id(intid);
    gic.enable_interrupt(id, None, false)?;
    gic.set_group(id, None, Group::Group1NS)?;
    gic.set_trigger(id, None, Trigger::Level)?;
    gic.set_interrupt_priority(id, None, DEVICE_PRIORITY)?;
    gic.distributor().set_routing(id, Some(mpidr))?;
    Ok(())
}

/// Redistributor SGI-frame registers for the active state of this core's SGIs and PPIs
/// (GICR_ISACTIVER0 at SGI_base + 0x300, GICR_ICACTIVER0 at + 0x380).
#[repr(C)]
struct LocalActive {
    isactiver0: ReadPureWrite<u32>,
    _reserved: [u32; 31],
    icactiver0: ReadPureWrite<u32>,
}

/// Offset of [`LocalActive`] in a core's redistributor frame pair.
const LOCAL_ACTIVE_OFFSET: u64 = 0x1_0300;
/// Size of one core's redistributor frame pair.
const REDISTRIBUTOR_STRIDE: u64 = 0x2_0000;

/// Sets up the virtual timer's interrupt on `core`'s redistributor at boot: group 1, the
/// device priority, disabled until a partition on the core enables it.
fn configure_virtual_timer(gic: &mut GicV3, core: usize) -> Result<(), arm_gic::gicv3::GicError> {
    let id = IntId::ppi(crate::machine::VIRTUAL_TIMER_INTID - 16);
    gic.enable_interrupt(id, Some(core), false)?;
    gic.set_group(id, Some(core), Group::Group1NS)?;
    gic.set_interrupt_priority(id, Some(core), DEVICE_PRIORITY)
}

/// Enables or disables the virtual timer's interrupt on `core`'s redistributor.
pub fn set_virtual_timer_interrupt(core: usize, enabled: bool) {
    if let Some((gic, _)) = GIC.lock().0.as_mut() {
        let id = IntId::ppi(crate::machine::VIRTUAL_TIMER_INTID - 16);
        // Only fails for a core the board does not have, which never runs partitions.
        let _ = gic.enable_interrupt(id, Some(core), enabled);
    }
}

/// Makes the virtual timer's interrupt active (`true`) or inactive on `core`'s
/// redistributor: the state the partition whose vCPU is loaded there left it in.
pub fn set_virtual_timer_active(board: &Board, core: usize, active: bool) {
    let _guard = GIC.lock();
    let address = board.gicr.base + core as u64 * REDISTRIBUTOR_STRIDE + LOCAL_ACTIVE_OFFSET;
    let Some(pointer) = NonNull::new(address as *mut LocalActive) else {
        return;
    };
    // SAFETY: GICR_ISACTIVER0 and GICR_ICACTIVER0 of `core` lie in the redistributor frames
    // the board places at `gicr.base`, mapped as device memory for the kernel only. The
    // `arm-gic` driver touches the active registers only in its save and restore operations,
    // which the kernel never calls, and every use of this pointer holds the `GIC` lock, so it
    // is the only access to them while it exists.
    let mut regs = unsafe { UniqueMmioPointer::new(pointer) };
    let bit = 1 << crate::machine::VIRTUAL_TIMER_INTID;
    if active {
        field!(regs, isactiver0).write(bit);
    } else {
        field!(regs, icactiver0).write(bit);
    }
}

fn spi_id(intid: u32) -> IntId {
    IntId::spi(intid.saturating_sub(32))
}

/// Carries out `op` on SPI `intid` at the distributor. The caller (`crate::vgic`, through
/// the `Machine`) checked that the partition asking owns the interrupt, and resolved a
/// routing request to a core of that partition (`mpidr`).
pub fn spi(intid: u32, op: SpiOp, board: &Board) {
    let mut guard = GIC.lock();
    let Some((gic, pending_active)) = guard.0.as_mut() else {
        return;
    };
    let id = spi_id(intid);
    let (word, bit) = ((intid / 32) as usize, 1u32 << (intid % 32));
    // Errors only come from an interrupt ID that is not an SPI, which the tables never hold.
    let _ = match op {
        SpiOp::Enable(on) => gic.enable_interrupt(id, None, on),
        SpiOp::Edge(edge) => {
            gic.set_trigger(id, None, if edge { Trigger::Edge } else { Trigger::Level })
        }
        SpiOp::Route { core } => match board.core_mpidrs.get(core) {
            Some(&mpidr) => gic.distributor().set_routing(id, Some(mpidr)),
            None => Ok(()),
        },
        SpiOp::SetPending => {
            write(field!(*pending_active, ispendr), word, bit);
            Ok(())
        }
        SpiOp::ClearPending => {
            write(field!(*pending_active, icpendr), word, bit);
            Ok(())
        }
        SpiOp::Deactivate => {
            write(field!(*pending_active, icactiver), word, bit);
            Ok(())
        }
    };
}

/// Whether SPI `intid` is pending and whether it is active, at the distributor.
pub fn spi_state(intid: u32) -> SpiState {
    let mut guard = GIC.lock();
    let Some((_, pending_active)) = guard.0.as_mut() else {
        return SpiState::default();
    };
    let (word, bit) = ((intid / 32) as usize, 1u32 << (intid % 32));
    let read = |mut regs: UniqueMmioPointer<'_, [ReadPureWrite<u32>; 32]>| {
        regs.get(word).is_some_and(|r| r.read() & bit != 0)
    };
    SpiState {
        pending: read(field!(*pending_active, ispendr)),
        active: read(field!(*pending_active, isactiver)),
    }
}

fn write(mut regs: UniqueMmioPointer<'_, [ReadPureWrite<u32>; 32]>, word: usize, bit: u32) {
    if let Some(mut r) = regs.get(word) {
        r.write(bit);
    }
}

/// The SGI one core sends another to wake it: a doorbell rang for a partition waiting there.
pub const WAKEUP_SGI: u32 = 1;

/// The GIC virtual interface's maintenance interrupt (PPI 9, the Arm-recommended INTID 25):
/// the list registers drained while virtual interrupts were still waiting for one.
pub const MAINTENANCE_INTID: u32 = 25;

/// Lets the EL2 timer's interrupt, the wake-up SGI and the maintenance interrupt reach `core` (group 1 like every
/// interrupt the kernel takes) and opens the core's priority mask, so a window deadline or a
/// doorbell wakes it from WFI and a deadline interrupts a partition.
fn enable_kernel_interrupts(gic: &mut GicV3, core: usize) -> Result<(), arm_gic::gicv3::GicError> {
    for intid in [
        IntId::ppi(super::timer::INTID - 16),
        IntId::sgi(WAKEUP_SGI),
        IntId::ppi(MAINTENANCE_INTID - 16),
    ] {
        gic.set_interrupt_priority(intid, Some(core), 0x80)?;
        gic.enable_interrupt(intid, Some(core), true)?;
    }
    configure_virtual_timer(gic, core)?;
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
