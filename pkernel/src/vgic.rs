//! The GIC as a partition sees it: a filtered distributor and its own redistributors,
//! emulated on the stage-2 faults of its accesses, and the delivery of its device interrupts
//! as virtual interrupts.
//!
//! **Ownership.** The kernel alone programs the physical distributor. A partition owns the
//! interrupts its configuration gives it (its devices' SPIs, `Partition::interrupts`); at
//! boot each is routed to the partition's first core, group 1, disabled. Through its virtual
//! distributor a partition can enable, disable, configure (trigger, priority), route (to its
//! own vCPUs), set or clear pending, and deactivate its own interrupts, and read their state;
//! every other interrupt reads as zero and ignores writes. A write that tries to make an
//! interrupt it does not own fire or go somewhere (set-enable, set-pending, set-active, a
//! routing other than the reset value 0) is a health-monitor event ([`Violation`]), logged by
//! the caller; writes that change nothing it could observe (clearing, priorities, groups,
//! trigger types, routing to vCPU 0, as every guest's initialisation does for all
//! interrupts) are ignored silently.
//!
//! **Delivery.** A device interrupt is taken by the kernel on the owner's core, ended (its
//! priority dropped, EOImode = 1) but left active, and marked pending for the owner
//! ([`interrupt_taken`]). If the owner's vCPU is loaded on that core it goes into a list
//! register at once, linked to the physical interrupt (the HW bit): the partition
//! acknowledges and ends it through its virtual CPU interface with no trap, and its end
//! deactivates the physical interrupt. If the owner is not running (another partition's
//! window) it stays pending until the owner's next window starts ([`deliver_pending`]). A
//! pending interrupt is delivered only while the partition has its distributor's group 1
//! and the interrupt enabled.
//!
//! **Emulated interrupts.** The virtual UART's interrupt (the board's console INTID, see
//! `vuart`) is every partition's own too, with a line of its distributor like the others
//! ([`UART_LINE`]), but no physical interrupt stands behind it: the kernel makes it pending
//! ([`raise_uart_interrupt`]) and delivers it without the HW bit, so the partition's end of
//! it touches nothing physical.
//!
//! **Redistributors.** One frame pair per vCPU of the partition at the board's
//! redistributor address, whose `GICR_TYPER` names that vCPU's affinity (vCPU `n` is
//! Aff0 = `n`) and marks the last. SGIs and PPIs are not virtualised yet: their registers
//! read as zero and ignore writes.

use core::sync::atomic::Ordering;

use crate::arch::context::{VcpuContext, hw_list_register};
use crate::config::{Board, Partition};
use crate::doorbell_gpio;
use crate::machine::{SpiOp, SpiState, VIRTUAL_TIMER_INTID};
use crate::partition;
use apex_api::info::DOORBELL_GPIO_CONTROLLERS;

/// Most interrupts one partition may own (one bit each in its pending set; schedule-gen
/// refuses more, rule E105).
pub const MAX_INTERRUPTS: usize = crate::config::MAX_PARTITION_INTERRUPTS;

/// The distributor line (and pending bit) of the virtual UART's interrupt, after those of
/// the partition's device interrupts.
pub const UART_LINE: usize = MAX_INTERRUPTS;
/// The lines of the doorbell GPIO controllers' interrupts (`doorbell_gpio`), after the
/// UART's: controller `k` has `FIRST_DOORBELL_LINE + k`.
pub const FIRST_DOORBELL_LINE: usize = UART_LINE + 1;
/// Every line of a distributor: the device interrupts', then the emulated ones (the UART's
/// and the doorbell controllers').
const LINES: usize = FIRST_DOORBELL_LINE + DOORBELL_GPIO_CONTROLLERS;
// One pending bit per line (`PartitionState::virq_pending`).
const _: () = assert!(LINES <= 64);

/// Whether line `index` is emulated: no physical interrupt stands behind it.
const fn is_emulated(index: usize) -> bool {
    index >= UART_LINE
}

/// Size of the distributor's window.
pub const DISTRIBUTOR_SIZE: u64 = 0x1_0000;
/// Size of one redistributor frame pair (RD_base, then SGI_base).
pub const REDISTRIBUTOR_SIZE: u64 = 0x2_0000;
/// Offset of SGI_base in a frame pair.
const SGI_BASE: u64 = 0x1_0000;

/// GICD_PIDR2 and GICR_PIDR2: architecture version 3.
const PIDR2: u64 = 0x3b;
const PIDR2_OFFSET: u64 = 0xffe8;
/// GICD_IIDR and GICR_IIDR: implementer Arm (0x43b), as the physical GIC reports.
const IIDR: u64 = 0x43b;
/// GICD_CTLR.ARE_NS: affinity routing, always on.
const CTLR_ARE_NS: u64 = 1 << 4;
/// GICD_CTLR.EnableGrp1NS.
const CTLR_ENABLE_GRP1: u64 = 1 << 1;

/// What a partition set for one of its interrupts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Line {
    enabled: bool,
    priority: u8,
    /// The vCPU it is routed to.
    vcpu: u8,
    edge: bool,
}

/// What a partition set in one vCPU's redistributor for its SGIs and PPIs (INTIDs 0-31).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Redistributor {
    /// GICR_ISENABLER0: one bit per INTID.
    enabled: u32,
    priority: [u8; 32],
}

/// Most vCPUs a partition has (one per core).
const MAX_VCPUS: usize = crate::config::MAX_CORES;

/// A partition's virtual distributor state (shared by its vCPUs), with its redistributors'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtualDistributor {
    group1: bool,
    /// Its device interrupts' lines, by index in `Partition::interrupts`, then
    /// [`UART_LINE`] and the doorbell controllers' ([`FIRST_DOORBELL_LINE`]).
    lines: [Line; LINES],
    redistributors: [Redistributor; MAX_VCPUS],
}

impl Default for VirtualDistributor {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualDistributor {
    /// The reset state: everything disabled, priority 0, routed to vCPU 0, level-sensitive.
    pub const fn new() -> Self {
        Self {
            group1: false,
            lines: [Line {
                enabled: false,
                priority: 0,
                vcpu: 0,
                edge: false,
            }; LINES],
            redistributors: [Redistributor {
                enabled: 0,
                priority: [0; 32],
            }; MAX_VCPUS],
        }
    }

    /// Whether vCPU `vcpu` takes its virtual timer's interrupt: its distributor's group 1
    /// and the interrupt enabled, with the priority it set.
    fn virtual_timer(&self, vcpu: usize) -> Option<u8> {
        let r = self.redistributors.get(vcpu)?;
        let intid = VIRTUAL_TIMER_INTID as usize;
        (self.group1 && r.enabled >> intid & 1 == 1).then_some(r.priority[intid])
    }
}

/// A partition's attempt on an interrupt it does not own (or to route its own to a core it
/// does not have): a health-monitor event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    Enable(u32),
    SetPending(u32),
    Activate(u32),
    Route(u32),
    /// Its own interrupt, to a vCPU it does not have (or "any core").
    RouteOutside(u32),
}

impl Violation {
    /// The log line's words: "tried to <what> interrupt <intid>".
    pub const fn what(self) -> (&'static str, u32) {
        match self {
            Self::Enable(i) => ("enable", i),
            Self::SetPending(i) => ("set pending", i),
            Self::Activate(i) => ("activate", i),
            Self::Route(i) | Self::RouteOutside(i) => ("route", i),
        }
    }
}

/// The distributor operations the virtual GIC needs, for its owner's interrupts only.
pub trait Spis {
    fn spi(&mut self, intid: u32, op: SpiOp);
    fn spi_state(&mut self, intid: u32) -> SpiState;
    /// See `Machine::set_virtual_timer_interrupt` (this core).
    fn set_virtual_timer_interrupt(&mut self, enabled: bool);
}

impl<M: crate::machine::Machine> Spis for M {
    fn spi(&mut self, intid: u32, op: SpiOp) {
        crate::machine::Machine::spi(self, intid, op);
    }
    fn spi_state(&mut self, intid: u32) -> SpiState {
        crate::machine::Machine::spi_state(self, intid)
    }
    fn set_virtual_timer_interrupt(&mut self, enabled: bool) {
        crate::machine::Machine::set_virtual_timer_interrupt(self, enabled);
    }
}

/// Which part of the virtual GIC an address falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    Distributor,
    /// RD_base of vCPU `vcpu`'s redistributor.
    Redistributor {
        vcpu: usize,
    },
    /// SGI_base of vCPU `vcpu`'s redistributor.
    RedistributorSgi {
        vcpu: usize,
    },
}

/// The frame of `partition`'s virtual GIC at guest-physical `ipa`, and the offset in it.
pub fn frame_of(board: &Board, partition: &Partition, ipa: u64) -> Option<(Frame, u64)> {
    if let Some(offset) = ipa.checked_sub(board.gicd.base)
        && offset < DISTRIBUTOR_SIZE
    {
        return Some((Frame::Distributor, offset));
    }
    let offset = ipa.checked_sub(board.gicr.base)?;
    let vcpu = usize::try_from(offset / REDISTRIBUTOR_SIZE).ok()?;
    if vcpu >= partition.cores.len() {
        return None;
    }
    let offset = offset % REDISTRIBUTOR_SIZE;
    Some(if offset < SGI_BASE {
        (Frame::Redistributor { vcpu }, offset)
    } else {
        (Frame::RedistributorSgi { vcpu }, offset - SGI_BASE)
    })
}

/// One access to the virtual GIC, as the stage-2 fault describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Offset in the frame.
    pub offset: u64,
    /// 1, 2, 4 or 8 bytes.
    pub size: u8,
    /// The value written; `None` for a read.
    pub write: Option<u64>,
}

/// Emulates `access` by `partition`'s vCPU `vcpu` (running on this core) to `frame` of its
/// virtual GIC, whose distributor state is `dist`: the value a read returns (0 for a
/// write). Every violation goes to `report`.
#[allow(clippy::too_many_arguments)] // each is one thing the access needs
pub fn emulate(
    partition: &Partition,
    vcpu: usize,
    board: &Board,
    dist: &mut VirtualDistributor,
    frame: Frame,
    access: Access,
    spis: &mut impl Spis,
    report: &mut impl FnMut(Violation),
) -> u64 {
    let mut gic = Emulation {
        partition,
        board,
        dist,
        spis,
        report,
    };
    match frame {
        Frame::Distributor => match access.write {
            None => sub_register(gic.distributor_read(access.offset & !7), access),
            Some(value) => {
                gic.distributor_write(access.offset, access.size, value);
                if access.offset == 0 {
                    // Group 1 on or off: the timer's interrupt with it.
                    gic.virtual_timer_changed(vcpu);
                }
                0
            }
        },
        Frame::Redistributor { vcpu } => match access.write {
            None => sub_register(
                redistributor_read(partition, vcpu, access.offset & !7),
                access,
            ),
            // GICR_CTLR, GICR_WAKER, ...: nothing a partition could change (no LPIs, the
            // redistributor is always awake).
            Some(_) => 0,
        },
        Frame::RedistributorSgi { vcpu: target } => {
            let value = gic.redistributor_sgi(target, access);
            // The timer's interrupt reaches this core's kernel only while the vCPU running
            // here takes it.
            if target == vcpu && access.write.is_some() {
                gic.virtual_timer_changed(vcpu);
            }
            value
        }
    }
}

/// The `size` bytes at `offset` of the 8-byte-aligned 64-bit value `aligned` (registers are
/// little-endian, and reads of 32-bit registers see the next one in the upper half).
fn sub_register(aligned: u64, access: Access) -> u64 {
    let shifted = aligned >> ((access.offset & 7) * 8);
    match access.size {
        1 => shifted & 0xff,
        2 => shifted & 0xffff,
        4 => shifted & 0xffff_ffff,
        _ => shifted,
    }
}

/// RD_base registers of vCPU `vcpu`: the 8 bytes at `offset` (8-byte aligned).
fn redistributor_read(partition: &Partition, vcpu: usize, offset: u64) -> u64 {
    match offset {
        // GICR_CTLR (0) and GICR_IIDR (4).
        0x0000 => IIDR << 32,
        // GICR_TYPER: affinity (Aff0 = vCPU), processor number, Last.
        0x0008 => {
            let last = u64::from(vcpu + 1 == partition.cores.len());
            ((vcpu as u64) << 32) | ((vcpu as u64) << 8) | (last << 4)
        }
        // GICR_WAKER (0x14) reads 0: awake.
        PIDR2_OFFSET => PIDR2,
        _ => 0,
    }
}

/// Register blocks of the distributor, by their first offset.
const IGROUPR: u64 = 0x0080;
const ISENABLER: u64 = 0x0100;
const ICENABLER: u64 = 0x0180;
const ISPENDR: u64 = 0x0200;
const ICPENDR: u64 = 0x0280;
const ISACTIVER: u64 = 0x0300;
const ICACTIVER: u64 = 0x0380;
const IPRIORITYR: u64 = 0x0400;
const IPRIORITYR_END: u64 = 0x0800;
const ICFGR: u64 = 0x0c00;
const ICFGR_END: u64 = 0x0d00;
const IROUTER: u64 = 0x6000;
const IROUTER_END: u64 = 0x8000;

struct Emulation<'a, S, R> {
    partition: &'a Partition,
    board: &'a Board,
    dist: &'a mut VirtualDistributor,
    spis: &'a mut S,
    report: &'a mut R,
}

impl<S: Spis, R: FnMut(Violation)> Emulation<'_, S, R> {
    /// The line of `intid` in the partition's distributor, if it owns it.
    fn owned(&self, intid: u32) -> Option<usize> {
        owned_lines(self.partition, self.board).find_map(|(i, id)| (id == intid).then_some(i))
    }

    /// `op` at the distributor on `intid`, the interrupt of line `index`, if a physical
    /// interrupt stands behind it.
    fn physical(&mut self, intid: u32, index: usize, op: SpiOp) {
        if !is_emulated(index) {
            self.spis.spi(intid, op);
        }
    }

    /// Whether the physical interrupt behind line `index` (`intid`) is pending and active.
    fn physical_state(&mut self, intid: u32, index: usize) -> SpiState {
        if is_emulated(index) {
            SpiState::default()
        } else {
            self.spis.spi_state(intid)
        }
    }

    /// A 32-bit bitmap register (one bit per interrupt, interrupts `32 * word ..`): `f` says
    /// each owned interrupt's bit (given its ID and line); the others read 0.
    fn bitmap(&mut self, word: u64, mut f: impl FnMut(&mut Self, u32, usize) -> bool) -> u64 {
        let mut bits = 0;
        for (index, intid) in owned_lines(self.partition, self.board) {
            if u64::from(intid / 32) == word && f(self, intid, index) {
                bits |= 1 << (intid % 32);
            }
        }
        bits
    }

    /// The 8 bytes of the distributor at `offset` (8-byte aligned): two 32-bit registers, or
    /// one 64-bit one.
    fn distributor_read(&mut self, offset: u64) -> u64 {
        if (IROUTER..IROUTER_END).contains(&offset) {
            let intid = ((offset - IROUTER) / 8) as u32;
            return self
                .owned(intid)
                .map_or(0, |i| u64::from(self.dist.lines[i].vcpu));
        }
        let low = self.distributor_read32(offset);
        let high = self.distributor_read32(offset + 4);
        low | (high << 32)
    }

    fn distributor_read32(&mut self, offset: u64) -> u64 {
        let word = |base: u64| (offset - base) / 4;
        match offset {
            0x0000 => {
                CTLR_ARE_NS
                    | if self.dist.group1 {
                        CTLR_ENABLE_GRP1
                    } else {
                        0
                    }
            }
            // GICD_TYPER: 10 interrupt ID bits, the board's SPI lines.
            0x0004 => (9 << 19) | u64::from((self.board.spi_intids.1 / 32).saturating_sub(1)),
            0x0008 => IIDR,
            o if o == PIDR2_OFFSET => PIDR2,
            o if (IGROUPR..ISENABLER).contains(&o) => self.bitmap(word(IGROUPR), |_, _, _| true),
            o if (ISENABLER..ISPENDR).contains(&o) => {
                let base = if o < ICENABLER { ISENABLER } else { ICENABLER };
                self.bitmap(word(base), |g, _, i| g.dist.lines[i].enabled)
            }
            o if (ISPENDR..ISACTIVER).contains(&o) => {
                let base = if o < ICPENDR { ISPENDR } else { ICPENDR };
                self.bitmap(word(base), |g, intid, i| {
                    g.physical_state(intid, i).pending || pending_virtually(g.partition, i)
                })
            }
            o if (ISACTIVER..IPRIORITYR).contains(&o) => {
                let base = if o < ICACTIVER { ISACTIVER } else { ICACTIVER };
                // The emulated interrupt's active state is in its vCPU's list registers:
                // read as inactive.
                self.bitmap(word(base), |g, intid, i| g.physical_state(intid, i).active)
            }
            o if (IPRIORITYR..IPRIORITYR_END).contains(&o) => (0..4).fold(0, |acc, k| {
                let intid = (o - IPRIORITYR + k) as u32;
                let priority = self
                    .owned(intid)
                    .map_or(0, |i| u64::from(self.dist.lines[i].priority));
                acc | priority << (8 * k)
            }),
            o if (ICFGR..ICFGR_END).contains(&o) => (0..16).fold(0, |acc, k| {
                let intid = ((o - ICFGR) * 4 + k) as u32;
                let edge = self.owned(intid).is_some_and(|i| self.dist.lines[i].edge);
                acc | u64::from(edge) << (2 * k + 1)
            }),
            _ => 0,
        }
    }

    fn distributor_write(&mut self, offset: u64, size: u8, value: u64) {
        if (IROUTER..IROUTER_END).contains(&offset) {
            // The whole register, or its low half (the affinity and the routing mode).
            if size == 8 || (size == 4 && offset.is_multiple_of(8)) {
                self.route(((offset - IROUTER) / 8) as u32, value);
            }
            return;
        }
        if (IPRIORITYR..IPRIORITYR_END).contains(&offset) {
            for k in 0..u64::from(size.min(4)) {
                let intid = (offset - IPRIORITYR + k) as u32;
                if let Some(i) = self.owned(intid) {
                    self.dist.lines[i].priority = (value >> (8 * k)) as u8;
                }
            }
            return;
        }
        // Every other register is 32-bit.
        if size != 4 || !offset.is_multiple_of(4) {
            return;
        }
        let value = value as u32;
        let word = |base: u64| (offset - base) / 4;
        match offset {
            0x0000 => self.dist.group1 = u64::from(value) & CTLR_ENABLE_GRP1 != 0,
            o if (ISENABLER..ICENABLER).contains(&o) => {
                self.set_bits(word(ISENABLER), value, Violation::Enable, |g, intid, i| {
                    g.dist.lines[i].enabled = true;
                    g.physical(intid, i, SpiOp::Enable(true));
                })
            }
            o if (ICENABLER..ISPENDR).contains(&o) => {
                self.clear_bits(word(ICENABLER), value, |g, intid, i| {
                    g.dist.lines[i].enabled = false;
                    g.physical(intid, i, SpiOp::Enable(false));
                })
            }
            o if (ISPENDR..ICPENDR).contains(&o) => self.set_bits(
                word(ISPENDR),
                value,
                Violation::SetPending,
                |g, intid, i| {
                    if is_emulated(i) {
                        set_pending_virtually(g.partition, i);
                    } else {
                        g.spis.spi(intid, SpiOp::SetPending);
                    }
                },
            ),
            o if (ICPENDR..ISACTIVER).contains(&o) => {
                self.clear_bits(word(ICPENDR), value, |g, intid, i| {
                    g.physical(intid, i, SpiOp::ClearPending);
                    clear_pending_virtually(g.partition, i);
                })
            }
            // Making its own interrupt active by hand serves no purpose: ignored.
            o if (ISACTIVER..ICACTIVER).contains(&o) => {
                self.set_bits(word(ISACTIVER), value, Violation::Activate, |_, _, _| {})
            }
            o if (ICACTIVER..IPRIORITYR).contains(&o) => {
                self.clear_bits(word(ICACTIVER), value, |g, intid, i| {
                    g.physical(intid, i, SpiOp::Deactivate)
                })
            }
            o if (ICFGR..ICFGR_END).contains(&o) => {
                for k in 0..16 {
                    let intid = ((o - ICFGR) * 4 + k) as u32;
                    if let Some(i) = self.owned(intid) {
                        let edge = value >> (2 * k + 1) & 1 == 1;
                        if self.dist.lines[i].edge != edge {
                            self.dist.lines[i].edge = edge;
                            self.physical(intid, i, SpiOp::Edge(edge));
                        }
                    }
                }
            }
            // GICD_IGROUPR (its own are group 1 already), GICD_STATUSR, ...: nothing to do.
            _ => {}
        }
    }

    /// A write-1-to-set register: `apply` for each owned bit set, a violation for each other.
    fn set_bits(
        &mut self,
        word: u64,
        value: u32,
        violation: fn(u32) -> Violation,
        mut apply: impl FnMut(&mut Self, u32, usize),
    ) {
        for bit in (0..32).filter(|b| value >> b & 1 == 1) {
            let intid = word as u32 * 32 + bit;
            match self.owned(intid) {
                Some(i) => apply(self, intid, i),
                None => (self.report)(violation(intid)),
            }
        }
    }

    /// A write-1-to-clear register: `apply` for each owned bit set; the others are ignored.
    fn clear_bits(&mut self, word: u64, value: u32, mut apply: impl FnMut(&mut Self, u32, usize)) {
        for bit in (0..32).filter(|b| value >> b & 1 == 1) {
            let intid = word as u32 * 32 + bit;
            if let Some(i) = self.owned(intid) {
                apply(self, intid, i);
            }
        }
    }

    /// GICD_IROUTER<intid> = `value`: to one of the partition's vCPUs (Aff0, every other
    /// affinity field zero, not "any core").
    fn route(&mut self, intid: u32, value: u64) {
        let vcpu = value & 0xff;
        let valid = value & !0xff == 0 && (vcpu as usize) < self.partition.cores.len();
        match self.owned(intid) {
            Some(i) if valid => {
                self.dist.lines[i].vcpu = vcpu as u8;
                if let Some(&core) = self.partition.cores.get(vcpu as usize) {
                    self.physical(
                        intid,
                        i,
                        SpiOp::Route {
                            core: usize::from(core),
                        },
                    );
                }
            }
            Some(_) => (self.report)(Violation::RouteOutside(intid)),
            // Routing to vCPU 0 is every guest's default for every interrupt: no attempt.
            None if value == 0 => {}
            None => (self.report)(Violation::Route(intid)),
        }
    }
}

impl<S: Spis, R: FnMut(Violation)> Emulation<'_, S, R> {
    /// After a write that may have turned vCPU `vcpu`'s (running here) virtual timer
    /// interrupt on or off: the core's physical one follows, and so does the flag the window
    /// switch reads (without taking the distributor's lock).
    fn virtual_timer_changed(&mut self, vcpu: usize) {
        let takes = self.dist.virtual_timer(vcpu).is_some();
        self.spis.set_virtual_timer_interrupt(takes);
        if vcpu == 0
            && let Some(s) = partition::state(usize::from(self.partition.id))
        {
            s.takes_virtual_timer.store(takes, Ordering::Relaxed);
        }
    }

    /// SGI_base of vCPU `vcpu`'s redistributor: its SGIs and PPIs. A partition owns its SGIs
    /// (0-15) and its virtual timer's interrupt (27); the other PPIs read as zero and ignore
    /// writes (they are private to its own cores, so no attempt on anyone).
    fn redistributor_sgi(&mut self, vcpu: usize, access: Access) -> u64 {
        let own: u32 = 0xffff | 1 << VIRTUAL_TIMER_INTID;
        let Some(r) = self.dist.redistributors.get_mut(vcpu) else {
            return 0;
        };
        let offset = access.offset;
        match access.write {
            None => {
                let aligned = offset & !7;
                let word = |o: u64| -> u64 {
                    match o {
                        IGROUPR => u64::from(own),
                        ISENABLER | ICENABLER => u64::from(r.enabled),
                        o if (IPRIORITYR..IPRIORITYR + 32).contains(&o) => {
                            (0..4).fold(0, |acc, k| {
                                let intid = (o - IPRIORITYR + k) as usize;
                                acc | u64::from(r.priority[intid]) << (8 * k)
                            })
                        }
                        _ => 0,
                    }
                };
                sub_register(word(aligned) | word(aligned + 4) << 32, access)
            }
            Some(value) => {
                if (IPRIORITYR..IPRIORITYR + 32).contains(&offset) {
                    for k in 0..u64::from(access.size.min(4)) {
                        if let Some(p) = r.priority.get_mut((offset - IPRIORITYR + k) as usize) {
                            *p = (value >> (8 * k)) as u8;
                        }
                    }
                } else if access.size == 4 {
                    let bits = value as u32 & own;
                    match offset {
                        ISENABLER => r.enabled |= bits,
                        ICENABLER => r.enabled &= !bits,
                        _ => {}
                    }
                }
                0
            }
        }
    }
}

/// The lines of `partition`'s distributor: (line, INTID) of each device interrupt it owns,
/// then the virtual UART's, then its doorbell controllers' (one per 8 ports).
fn owned_lines<'a>(
    partition: &'a Partition,
    board: &Board,
) -> impl Iterator<Item = (usize, u32)> + use<'a> {
    let (first_doorbell, end_doorbell) = board.doorbell_interrupts;
    let doorbells = (0..doorbell_gpio::controllers_for(partition.ports.len()))
        .map(move |k| (FIRST_DOORBELL_LINE + k, first_doorbell + k as u32))
        .filter(move |&(_, intid)| intid < end_doorbell);
    partition
        .interrupts
        .iter()
        .take(MAX_INTERRUPTS)
        .copied()
        .enumerate()
        .chain(core::iter::once((UART_LINE, board.kernel_uart_interrupt)))
        .chain(doorbells)
}

/// The INTID of emulated line `line` on `board`, if it is one.
fn emulated_intid(line: usize, board: &Board) -> Option<u32> {
    match line {
        UART_LINE => Some(board.kernel_uart_interrupt),
        _ => {
            let k = u32::try_from(line.checked_sub(FIRST_DOORBELL_LINE)?).ok()?;
            let intid = board.doorbell_interrupts.0.checked_add(k)?;
            (line < LINES && intid < board.doorbell_interrupts.1).then_some(intid)
        }
    }
}

/// Whether the partition's interrupt of line `index` waits for delivery.
fn pending_virtually(partition: &Partition, index: usize) -> bool {
    partition::state(usize::from(partition.id))
        .is_some_and(|s| s.virq_pending.load(Ordering::Relaxed) >> index & 1 == 1)
}

fn set_pending_virtually(partition: &Partition, index: usize) {
    if let Some(s) = partition::state(usize::from(partition.id)) {
        s.virq_pending.fetch_or(1 << index, Ordering::Relaxed);
    }
}

fn clear_pending_virtually(partition: &Partition, index: usize) {
    if let Some(s) = partition::state(usize::from(partition.id)) {
        s.virq_pending.fetch_and(!(1 << index), Ordering::Relaxed);
    }
}

/// The kernel took device interrupt `intid`, which `owner` owns: it waits for delivery to the
/// owner (see the module documentation).
pub fn interrupt_taken(owner: &Partition, intid: u32) {
    let Some(index) = owner
        .interrupts
        .iter()
        .take(MAX_INTERRUPTS)
        .position(|&i| i == intid)
    else {
        return;
    };
    set_pending_virtually(owner, index);
}

/// The virtual UART's interrupt line of `partition` is up: see [`raise_emulated`].
pub fn raise_uart_interrupt(
    partition: &Partition,
    loaded: Option<&mut VcpuContext>,
    rise: Rise,
    machine: &mut impl crate::machine::Machine,
) {
    raise_emulated(partition, UART_LINE, loaded, rise, machine);
}

/// The interrupt line of doorbell GPIO controller `k` of `partition` is up (a doorbell it
/// unmasked rang, on any core): see [`raise_emulated`].
pub fn raise_doorbell_interrupt(
    partition: &Partition,
    k: usize,
    loaded: Option<&mut VcpuContext>,
    rise: Rise,
    machine: &mut impl crate::machine::Machine,
) {
    raise_emulated(partition, FIRST_DOORBELL_LINE + k, loaded, rise, machine);
}

/// Emulated line `line` of `partition` is up: its interrupt becomes pending and goes to the
/// vCPU the partition routed it to: at once if that is `loaded` (running on this core), or
/// when it next delivers (its core, if another, is woken; on a time-partitioned core, its
/// next window).
///
/// `Rise::Edge`: the line just went up (input arrived, a doorbell rang), so the interrupt is
/// pending even if the partition is handling it (it may have looked just before).
/// `Rise::Level`: after an access of the partition that leaves the line up; pending only if
/// it is neither pending nor active, so that the handler running now does not get a second,
/// empty call.
pub fn raise_emulated(
    partition: &Partition,
    line: usize,
    loaded: Option<&mut VcpuContext>,
    rise: Rise,
    machine: &mut impl crate::machine::Machine,
) {
    let Some(intid) = emulated_intid(line, machine.board()) else {
        return;
    };
    let Some(state) = partition::state(usize::from(partition.id)) else {
        return;
    };
    let target = usize::from(state.vgic.lock().lines[line].vcpu);
    let loaded = loaded.filter(|vcpu| vcpu.index() == target);
    if rise == Rise::Level
        && (pending_virtually(partition, line)
            || (loaded.is_some() && machine.holds_virtual(intid)))
    {
        return;
    }
    set_pending_virtually(partition, line);
    match loaded {
        Some(vcpu) => deliver_pending(partition, vcpu, machine),
        None => {
            if let Some(&core) = partition.cores.get(target)
                && usize::from(core) != machine.core()
            {
                machine.wake(usize::from(core));
            }
        }
    }
}

/// See [`raise_uart_interrupt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rise {
    Edge,
    Level,
}

/// The virtual timer of `partition`'s vCPU `vcpu`, loaded on this core, fired: delivered at
/// once if it takes it, or when it next runs if it is not running (`running` false) or has
/// no free list register. If it does not take it (its virtual GIC has the interrupt or group
/// 1 disabled) the interrupt ends here and stays off on this core until it does.
pub fn virtual_timer_fired(
    partition: &Partition,
    vcpu: &mut VcpuContext,
    running: bool,
    machine: &mut impl crate::machine::Machine,
) {
    if !takes_virtual_timer(partition, vcpu.index()) {
        machine.end_virtual_timer();
        return;
    }
    vcpu.virtual_timer_pending = 1;
    if running {
        deliver_pending(partition, vcpu, machine);
    }
}

/// `partition`'s vCPU `vcpu` was just loaded on this core: its virtual timer's interrupt
/// reaches the kernel only if it takes it, and what waited for it is delivered.
/// On every window switch: the usual case (nothing waits) costs two flag loads.
#[inline]
pub fn vcpu_loaded(
    partition: &Partition,
    vcpu: &mut VcpuContext,
    machine: &mut impl crate::machine::Machine,
) {
    // One look-up of its state on this path, which every window switch takes.
    let Some(state) = partition::state(usize::from(partition.id)) else {
        return;
    };
    let index = vcpu.index();
    let takes = if index == 0 {
        state.takes_virtual_timer.load(Ordering::Relaxed)
    } else {
        takes_virtual_timer(partition, index)
    };
    machine.set_virtual_timer_interrupt(takes);
    // SGIs wait only in partitions with several vCPUs (one with a single vCPU gets its own
    // when it sends them, or when it enables them: `trap` delivers after each GIC write).
    if vcpu.virtual_timer_pending != 0
        || state.virq_pending.load(Ordering::Relaxed) != 0
        || (partition.cores.len() > 1 && state.pending_sgis(index) != 0)
    {
        deliver_pending(partition, vcpu, machine);
    }
}

/// Whether `partition`'s vCPU `index` takes its virtual timer's interrupt: for vCPU 0, the
/// flag its virtual distributor keeps up to date, read without the distributor's lock (on
/// every window switch); for a secondary (on a dedicated core), its redistributor's state.
fn takes_virtual_timer(partition: &Partition, index: usize) -> bool {
    partition::state(usize::from(partition.id)).is_some_and(|s| {
        if index == 0 {
            s.takes_virtual_timer.load(Ordering::Relaxed)
        } else {
            s.vgic.lock().virtual_timer(index).is_some()
        }
    })
}

/// Delivers what waits for `partition`, whose vCPU `vcpu` is loaded on this core, into its
/// list registers: its virtual timer's interrupt, the SGIs sent to it, and each pending
/// device interrupt routed to it that it has enabled (with its distributor's group 1), as
/// long as there is room. What does not fit waits for the maintenance interrupt.
pub fn deliver_pending(
    partition: &Partition,
    vcpu: &mut VcpuContext,
    machine: &mut impl crate::machine::Machine,
) {
    let Some(state) = partition::state(usize::from(partition.id)) else {
        return;
    };
    let index = vcpu.index();
    let pending = state.virq_pending.load(Ordering::Relaxed);
    let sgis = state.pending_sgis(index);
    if pending == 0 && sgis == 0 && vcpu.virtual_timer_pending == 0 {
        return;
    }
    // Held while the list registers are written (no other lock is taken meanwhile).
    let dist = state.vgic.lock();
    if !dist.group1 {
        return;
    }
    let mut left = false;
    if vcpu.virtual_timer_pending != 0
        && let Some(priority) = dist.virtual_timer(index)
    {
        if machine.inject(VIRTUAL_TIMER_INTID, priority) {
            vcpu.virtual_timer_pending = 0;
            vcpu.virtual_timer_delivered = 1;
        } else {
            left = true;
        }
    }
    // SGIs, emulated (no physical interrupt behind them), if enabled in its redistributor.
    if let Some(r) = dist.redistributors.get(index) {
        // Only the set bits: this runs on every delivery, SGIs or not.
        let mut deliverable = u32::from(sgis) & r.enabled;
        while deliverable != 0 && !left {
            let sgi = deliverable.trailing_zeros();
            deliverable &= deliverable - 1;
            if machine.inject_emulated(sgi, r.priority[sgi as usize]) {
                state.take_sgis(index, 1 << sgi);
            } else {
                left = true;
            }
        }
    }
    for (line_index, intid) in owned_lines(partition, machine.board()) {
        if left {
            break;
        }
        let line = dist.lines[line_index];
        if pending >> line_index & 1 == 0 || !line.enabled || usize::from(line.vcpu) != index {
            continue;
        }
        let delivered = if is_emulated(line_index) {
            machine.inject_emulated(intid, line.priority)
        } else {
            machine.inject(intid, line.priority)
        };
        if delivered {
            state
                .virq_pending
                .fetch_and(!(1 << line_index), Ordering::Relaxed);
        } else {
            left = true;
            break;
        }
    }
    if !left {
        machine.stop_maintenance();
    }
}

/// Publishes, for each of `partition`'s vCPUs, the interrupts the exit vector of the core
/// running it delivers by itself (`FastInterrupts`): exactly those [`deliver_pending`]
/// would deliver to it the moment they fire while it runs, its virtual timer's first (the
/// most frequent), then each of its device interrupts routed to it and enabled, all only
/// while its distributor's group 1 is. Called after every change of `dist` (with its lock
/// held, so two publications never interleave).
pub fn publish_fast_interrupts(partition: &Partition, dist: &VirtualDistributor) {
    let Some(state) = partition::state(usize::from(partition.id)) else {
        return;
    };
    for (vcpu, list) in state
        .fast_interrupts
        .iter()
        .enumerate()
        .take(partition.cores.len())
    {
        let timer = dist
            .virtual_timer(vcpu)
            .map(|priority| hw_list_register(VIRTUAL_TIMER_INTID, priority));
        let lines = partition
            .interrupts
            .iter()
            .take(MAX_INTERRUPTS)
            .zip(dist.lines)
            .filter(move |(_, line)| dist.group1 && line.enabled && usize::from(line.vcpu) == vcpu)
            .map(|(&intid, line)| hw_list_register(intid, line.priority));
        list.publish(timer.into_iter().chain(lines));
    }
}

/// Puts `partition`'s interrupts back in their boot state when it restarts: disabled,
/// neither pending nor active, nothing waiting for delivery, its distributor reset (its list
/// registers go with its vCPU context, which a restart replaces).
pub fn reset(partition: &Partition, spis: &mut impl Spis) {
    for (index, &intid) in partition.interrupts.iter().take(MAX_INTERRUPTS).enumerate() {
        spis.spi(intid, SpiOp::Enable(false));
        spis.spi(intid, SpiOp::ClearPending);
        spis.spi(intid, SpiOp::Deactivate);
        if let Some(&core) = partition.cores.first() {
            spis.spi(
                intid,
                SpiOp::Route {
                    core: usize::from(core),
                },
            );
        }
        clear_pending_virtually(partition, index);
    }
    if let Some(s) = partition::state(usize::from(partition.id)) {
        let mut dist = s.vgic.lock();
        *dist = VirtualDistributor::new();
        publish_fast_interrupts(partition, &dist);
        drop(dist);
        s.virq_pending.store(0, Ordering::Relaxed);
        s.takes_virtual_timer.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_memory::tests::PARTITION;

    /// Records the distributor operations.
    #[derive(Default)]
    struct Recorder {
        ops: Vec<(u32, SpiOp)>,
        pending: Vec<u32>,
        virtual_timer_interrupt: Vec<bool>,
    }

    impl Spis for Recorder {
        fn spi(&mut self, intid: u32, op: SpiOp) {
            self.ops.push((intid, op));
        }
        fn spi_state(&mut self, intid: u32) -> SpiState {
            SpiState {
                pending: self.pending.contains(&intid),
                active: false,
            }
        }
        fn set_virtual_timer_interrupt(&mut self, enabled: bool) {
            self.virtual_timer_interrupt.push(enabled);
        }
    }

    /// A partition (id 9, used by no other test) on cores 2 and 3 owning INTIDs 34 and 70.
    fn owner() -> &'static Partition {
        Box::leak(Box::new(Partition {
            id: 9,
            name: "owner",
            cores: &[2, 3],
            interrupts: &[34, 70],
            ..PARTITION
        }))
    }

    struct Gic {
        p: &'static Partition,
        dist: VirtualDistributor,
        spis: Recorder,
        violations: Vec<Violation>,
    }

    impl Gic {
        fn new() -> Self {
            Self {
                p: owner(),
                dist: VirtualDistributor::new(),
                spis: Recorder::default(),
                violations: Vec::new(),
            }
        }

        fn access(&mut self, frame: Frame, offset: u64, size: u8, write: Option<u64>) -> u64 {
            let violations = &mut self.violations;
            emulate(
                self.p,
                0,
                &bsp::QEMU_VIRT,
                &mut self.dist,
                frame,
                Access {
                    offset,
                    size,
                    write,
                },
                &mut self.spis,
                &mut |v| violations.push(v),
            )
        }

        fn read(&mut self, offset: u64) -> u64 {
            self.access(Frame::Distributor, offset, 4, None)
        }

        fn write(&mut self, offset: u64, value: u64) {
            self.access(Frame::Distributor, offset, 4, Some(value));
        }
    }

    #[test]
    fn addresses_map_to_the_distributor_and_the_partitions_own_redistributors() {
        let p = owner();
        let board = &bsp::QEMU_VIRT;
        let gicd = board.gicd.base;
        let gicr = board.gicr.base;
        assert_eq!(
            frame_of(board, p, gicd + 0x104),
            Some((Frame::Distributor, 0x104))
        );
        assert_eq!(
            frame_of(board, p, gicr + 8),
            Some((Frame::Redistributor { vcpu: 0 }, 8))
        );
        assert_eq!(
            frame_of(board, p, gicr + 0x3_0100),
            Some((Frame::RedistributorSgi { vcpu: 1 }, 0x100))
        );
        assert_eq!(frame_of(board, p, gicr + 0x4_0000), None, "two vCPUs only");
        assert_eq!(frame_of(board, p, gicd - 4), None);
        assert_eq!(frame_of(board, p, 0x4000_0000), None);
    }

    #[test]
    fn identification_registers_describe_a_gicv3_with_the_boards_lines() {
        let mut g = Gic::new();
        assert_eq!(g.read(0xffe8), PIDR2);
        // 10 ID bits, 256 SPIs: ITLinesNumber 8.
        assert_eq!(g.read(0x4), (9 << 19) | 8);
        assert_eq!(g.read(0x0), CTLR_ARE_NS);
        g.write(0x0, 2);
        assert_eq!(g.read(0x0), CTLR_ARE_NS | CTLR_ENABLE_GRP1);
        // Redistributors: vCPU n is Aff0 = n, the last one says so.
        let typer = |g: &mut Gic, vcpu| g.access(Frame::Redistributor { vcpu }, 8, 8, None);
        assert_eq!(typer(&mut g, 0), 0);
        assert_eq!(typer(&mut g, 1), (1 << 32) | (1 << 8) | (1 << 4));
        assert_eq!(
            g.access(Frame::Redistributor { vcpu: 1 }, 0xc, 4, None),
            1,
            "upper half of GICR_TYPER"
        );
        assert_eq!(
            g.access(Frame::Redistributor { vcpu: 0 }, 0xffe8, 4, None),
            PIDR2
        );
        assert!(g.violations.is_empty());
    }

    #[test]
    fn its_own_interrupts_are_enabled_configured_and_routed_and_no_other() {
        let mut g = Gic::new();
        // ISENABLER1 (INTIDs 32..64): 34 is its own, 35 is not.
        g.write(0x104, (1 << 2) | (1 << 3));
        assert_eq!(g.spis.ops, [(34, SpiOp::Enable(true))]);
        assert_eq!(g.violations, [Violation::Enable(35)]);
        assert_eq!(g.read(0x104), 1 << 2);
        assert_eq!(g.read(0x184), 1 << 2, "ICENABLER reads the same");
        assert_eq!(
            g.read(0x84),
            (1 << 2) | (1 << 1),
            "group 1: its own only (34, and its virtual UART's 33)"
        );
        // Clearing someone else's is no attempt on it.
        g.write(0x184, u64::from(u32::MAX));
        assert_eq!(g.spis.ops[1..], [(34, SpiOp::Enable(false))]);
        assert_eq!(g.violations.len(), 1);
        // Priorities, byte by byte or a word at a time; others read 0.
        g.access(Frame::Distributor, 0x400 + 34, 1, Some(0xa0));
        g.write(0x400 + 68, 0x11_22_33_44);
        assert_eq!(g.read(0x400 + 32), 0xa0 << 16);
        assert_eq!(g.read(0x400 + 68), 0x22 << 16, "70 is the third byte");
        assert_eq!(g.access(Frame::Distributor, 0x400 + 70, 1, None), 0x22);
        // Trigger: edge for its own; others ignored.
        g.write(0xc00 + 8, u64::from(u32::MAX));
        assert_eq!(g.spis.ops.last(), Some(&(34, SpiOp::Edge(true))));
        assert_eq!(g.read(0xc00 + 8), (0b10 << 4) | (0b10 << 2), "34 and 33");
        // Routing: to its vCPU 1 (core 3); vCPU 2 or "any" is a violation, so is routing
        // someone else's anywhere but vCPU 0.
        g.access(Frame::Distributor, 0x6000 + 8 * 34, 8, Some(1));
        assert_eq!(g.spis.ops.last(), Some(&(34, SpiOp::Route { core: 3 })));
        assert_eq!(g.access(Frame::Distributor, 0x6000 + 8 * 34, 8, None), 1);
        g.access(Frame::Distributor, 0x6000 + 8 * 70, 8, Some(2));
        g.access(Frame::Distributor, 0x6000 + 8 * 70, 8, Some(1 << 31));
        g.access(Frame::Distributor, 0x6000 + 8 * 35, 8, Some(0));
        g.access(Frame::Distributor, 0x6000 + 8 * 36, 8, Some(1));
        assert_eq!(
            g.violations[1..],
            [
                Violation::RouteOutside(70),
                Violation::RouteOutside(70),
                Violation::Route(36)
            ]
        );
        assert_eq!(g.access(Frame::Distributor, 0x6000 + 8 * 36, 8, None), 0);
    }

    #[test]
    fn its_virtual_uart_interrupt_is_its_own_and_touches_nothing_physical() {
        let mut g = Gic::new();
        let uart = bsp::QEMU_VIRT.kernel_uart_interrupt;
        let bit = 1u64 << (uart % 32);
        // Enabled, prioritised, configured, routed, set and cleared pending: no physical
        // operation, no violation (it is every partition's own).
        g.write(0x104, bit);
        g.access(Frame::Distributor, 0x400 + u64::from(uart), 1, Some(0x80));
        g.write(0xc00 + 8, 0b10 << 2);
        g.access(Frame::Distributor, 0x6000 + 8 * u64::from(uart), 8, Some(1));
        g.write(0x204, bit);
        assert_eq!(g.read(0x204) & bit, bit, "pending");
        g.write(0x284, bit);
        assert_eq!(g.read(0x204) & bit, 0, "cleared");
        g.write(0x184, bit);
        g.write(0x384, bit);
        assert_eq!(g.spis.ops, []);
        assert!(g.violations.is_empty(), "{:?}", g.violations);
        assert_eq!(g.read(0x104) & bit, 0, "disabled again");
        assert_eq!(
            g.access(Frame::Distributor, 0x400 + u64::from(uart), 1, None),
            0x80
        );
        assert_eq!(
            g.access(Frame::Distributor, 0x6000 + 8 * u64::from(uart), 8, None),
            1
        );
    }

    #[test]
    fn its_sgis_and_virtual_timer_are_its_own_in_its_redistributor() {
        let mut g = Gic::new();
        let sgi = |g: &mut Gic, offset: u64, size: u8, write: Option<u64>| {
            g.access(Frame::RedistributorSgi { vcpu: 0 }, offset, size, write)
        };
        // Every SGI and the virtual timer (27) are its own; other PPIs (26, 30) are not.
        sgi(&mut g, 0x100, 4, Some(u64::from(u32::MAX)));
        assert_eq!(sgi(&mut g, 0x100, 4, None), 0x0800_ffff);
        assert_eq!(sgi(&mut g, 0x80, 4, None), 0x0800_ffff, "group 1");
        // Its timer reaches the kernel on its core only once group 1 is on too.
        assert_eq!(g.spis.virtual_timer_interrupt, [false]);
        g.write(0, 2);
        assert_eq!(g.spis.virtual_timer_interrupt, [false, true]);
        assert_eq!(g.dist.virtual_timer(0), Some(0));
        sgi(&mut g, 0x400 + 27, 1, Some(0x90));
        assert_eq!(g.dist.virtual_timer(0), Some(0x90));
        assert_eq!(sgi(&mut g, 0x418, 4, None), 0x90 << 24);
        sgi(&mut g, 0x180, 4, Some(1 << 27));
        assert_eq!(g.spis.virtual_timer_interrupt.last(), Some(&false));
        assert_eq!(g.dist.virtual_timer(0), None);
        // vCPU 1's redistributor is its own; nothing is an attempt on anyone.
        g.access(Frame::RedistributorSgi { vcpu: 1 }, 0x100, 4, Some(1 << 27));
        assert_eq!(g.dist.virtual_timer(1), Some(0));
        assert!(g.violations.is_empty());
        assert!(g.spis.ops.is_empty(), "no distributor operation");
    }

    #[test]
    fn pending_and_active_reach_only_its_own_interrupts() {
        let mut g = Gic::new();
        g.write(0x208, (1 << 6) | (1 << 7));
        assert_eq!(g.spis.ops, [(70, SpiOp::SetPending)]);
        assert_eq!(g.violations, [Violation::SetPending(71)]);
        g.spis.pending = vec![70, 71];
        assert_eq!(g.read(0x208), 1 << 6, "71 is not its own to see");
        g.write(0x288, u64::from(u32::MAX));
        g.write(0x388, u64::from(u32::MAX));
        assert_eq!(
            g.spis.ops[1..],
            [(70, SpiOp::ClearPending), (70, SpiOp::Deactivate)]
        );
        g.write(0x304, 1 << 5);
        assert_eq!(g.violations[1..], [Violation::Activate(37)]);
        // Outside every register: reads 0, writes do nothing.
        assert_eq!(g.read(0x7ff0 + 0x1_0000), 0);
        g.write(0x2000, 1);
        assert_eq!(g.spis.ops.len(), 3);
    }

    #[test]
    fn the_exit_vector_delivers_exactly_what_would_be_delivered_at_once() {
        // Partition 11: used by no other test.
        let p: &'static Partition = Box::leak(Box::new(Partition {
            id: 11,
            name: "fast",
            cores: &[2, 3],
            interrupts: &[34, 70],
            ..PARTITION
        }));
        let mut g = Gic { p, ..Gic::new() };
        let state = partition::state(11).unwrap();
        let lists = || -> Vec<Vec<u64>> {
            state.fast_interrupts[..3]
                .iter()
                .map(|l| l.values().collect())
                .collect()
        };
        // As `trap` does after each write.
        let write = |g: &mut Gic, frame: Frame, offset: u64, size: u8, value: u64| {
            g.access(frame, offset, size, Some(value));
            publish_fast_interrupts(g.p, &g.dist);
        };
        let sgi0 = Frame::RedistributorSgi { vcpu: 0 };
        let sgi1 = Frame::RedistributorSgi { vcpu: 1 };
        let none: Vec<Vec<u64>> = vec![vec![], vec![], vec![]];
        // 34, its UART's line and vCPU 0's timer enabled, with priorities; group 1 still
        // off: nothing.
        let uart = u64::from(bsp::QEMU_VIRT.kernel_uart_interrupt);
        write(
            &mut g,
            Frame::Distributor,
            0x104,
            4,
            (1 << 2) | (1 << (uart % 32)),
        );
        write(&mut g, Frame::Distributor, 0x400 + 34, 1, 0xa0);
        write(&mut g, sgi0, 0x100, 4, 1 << 27);
        write(&mut g, sgi0, 0x400 + 27, 1, 0x90);
        assert_eq!(lists(), none);
        // Group 1 on: vCPU 0 gets its timer first, then 34; never the UART's emulated line
        // (no physical interrupt of its own stands behind it).
        write(&mut g, Frame::Distributor, 0, 4, 2);
        let timer0 = hw_list_register(27, 0x90);
        assert_eq!(
            lists(),
            [vec![timer0, hw_list_register(34, 0xa0)], vec![], vec![]]
        );
        // 34 routed to vCPU 1, 70 enabled (on vCPU 0), vCPU 1's timer enabled.
        write(&mut g, Frame::Distributor, 0x6000 + 8 * 34, 8, 1);
        write(&mut g, Frame::Distributor, 0x108, 4, 1 << 6);
        write(&mut g, sgi1, 0x100, 4, 1 << 27);
        assert_eq!(
            lists(),
            [
                vec![timer0, hw_list_register(70, 0)],
                vec![hw_list_register(27, 0), hw_list_register(34, 0xa0)],
                vec![]
            ]
        );
        // Disabled again (34, vCPU 0's timer): gone, the others stay.
        write(&mut g, Frame::Distributor, 0x184, 4, 1 << 2);
        write(&mut g, sgi0, 0x180, 4, 1 << 27);
        assert_eq!(
            lists(),
            [
                vec![hw_list_register(70, 0)],
                vec![hw_list_register(27, 0)],
                vec![]
            ]
        );
        // Group 1 off: nothing at all.
        write(&mut g, Frame::Distributor, 0, 4, 0);
        assert_eq!(lists(), none);
        // A restart empties them (it publishes the reset distributor).
        write(&mut g, Frame::Distributor, 0, 4, 2);
        assert_ne!(lists(), none);
        *state.vgic.lock() = g.dist;
        reset(p, &mut Recorder::default());
        assert_eq!(lists(), none);
    }

    #[test]
    fn a_restart_puts_its_interrupts_back_to_boot_state() {
        let p = owner();
        let mut spis = Recorder::default();
        interrupt_taken(p, 70);
        let state = partition::state(9).unwrap();
        assert_eq!(state.virq_pending.load(Ordering::Relaxed), 0b10);
        reset(p, &mut spis);
        assert_eq!(state.virq_pending.load(Ordering::Relaxed), 0);
        assert!(spis.ops.contains(&(34, SpiOp::Enable(false))));
        assert!(spis.ops.contains(&(70, SpiOp::Deactivate)));
        assert!(spis.ops.contains(&(70, SpiOp::Route { core: 2 })));
    }
}
