//! Board support: each supported board as plain data (memory map, cores, devices).
//!
//! One description per board, used by both sides: `schedule-gen` validates a system
//! configuration against it on the host, and the kernel takes its UART, GIC and core
//! addresses from it. A board is data, never code; bring-up lives in the kernel's arch layer.
#![no_std]
#![forbid(unsafe_code)]

mod qemu_virt;

pub use qemu_virt::QEMU_VIRT;

/// A physical address range `[base, base + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    pub base: u64,
    pub size: u64,
}

impl PhysRange {
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    /// One past the last byte; saturates rather than wrapping so hostile values cannot alias low memory.
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    pub const fn contains_range(&self, base: u64, size: u64) -> bool {
        match base.checked_add(size) {
            Some(end) => base >= self.base && end <= self.end(),
            None => false,
        }
    }

    pub const fn overlaps(&self, other: &PhysRange) -> bool {
        self.base < other.end() && other.base < self.end()
    }
}

/// A device a partition may own: its MMIO window, the interrupts (GIC INTIDs) it raises and
/// whether it reaches memory by itself (DMA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// Name used in configuration files, e.g. `"rtc"`.
    pub name: &'static str,
    pub mmio: PhysRange,
    /// GIC interrupt IDs (SPIs are 32 + SPI number).
    pub interrupts: &'static [u32],
    /// Whether the device is a bus master, and what confines its DMA.
    pub dma: Dma,
}

/// What a device can do to memory on its own. Stage 2 confines a partition's CPU accesses
/// only: a bus master reads and writes physical memory at addresses software gives it, so
/// unless an SMMU translates its accesses through the owner's tables it reaches all of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dma {
    /// Not a bus master: it only answers the CPU's accesses to its MMIO window.
    NotBusMaster,
    /// A bus master (DMA-capable).
    BusMaster {
        /// The SMMU that translates its accesses, by name, or `None` if nothing does: then its
        /// DMA reaches any physical address.
        smmu: Option<&'static str>,
    },
}

impl Dma {
    /// Whether the device masters the bus.
    pub const fn is_bus_master(&self) -> bool {
        matches!(self, Dma::BusMaster { .. })
    }
}

/// Everything the kernel and the configuration tool need to know about one board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Name used in configuration files (`[module] board = "..."`).
    pub name: &'static str,
    /// MPIDR affinity value (Aff3..Aff0, no flag bits) of each core, by core index.
    pub core_mpidrs: &'static [u64],
    /// All of the board's RAM.
    pub ram: PhysRange,
    /// RAM reserved for the kernel: its image, embedded partition images, stacks and tables.
    /// No partition region may overlap it.
    pub kernel_reserved: PhysRange,
    /// The kernel's console UART (PL011). Owned by the kernel, never given to a partition.
    pub kernel_uart: PhysRange,
    /// The kernel console's interrupt (GIC INTID). Never given to a partition.
    pub kernel_uart_interrupt: u32,
    /// The interrupts (GIC INTIDs, SPIs, `[first, end)`) of the doorbell GPIO controllers the
    /// kernel emulates for every partition (`apex_api::info::DOORBELL_GPIO_IPA`): controller
    /// `k` has `first + k`, so there must be one per controller (the kernel and schedule-gen
    /// check). Virtual only: no device of the board raises them, and they are never given to
    /// a partition.
    pub doorbell_interrupts: (u32, u32),
    /// UART reference clock in Hz, for baud-rate setup.
    pub uart_clock_hz: u32,
    /// Frequency of the Arm generic timer's system counter (CNTFRQ_EL0) in Hz: schedules are
    /// converted to counter ticks with it, and the kernel checks it against the hardware at boot.
    pub counter_hz: u64,
    /// Shared peripheral interrupts the GIC implements, as GIC INTIDs `[first, end)`.
    pub spi_intids: (u32, u32),
    /// GICv3 distributor.
    pub gicd: PhysRange,
    /// GICv3 redistributors, one 128 KiB frame pair per core.
    pub gicr: PhysRange,
    /// The whole device address space: kernel and partition device mappings must lie inside it,
    /// RAM regions outside it.
    pub device_space: PhysRange,
    /// Devices a partition may own.
    pub devices: &'static [Device],
}

impl Board {
    pub fn core_count(&self) -> usize {
        self.core_mpidrs.len()
    }

    pub fn device(&self, name: &str) -> Option<&'static Device> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// Whether `intid` is a shared peripheral interrupt of this board's GIC.
    pub const fn is_spi(&self, intid: u32) -> bool {
        intid >= self.spi_intids.0 && intid < self.spi_intids.1
    }

    /// Whether `intid` is one of the doorbell GPIO controllers' (virtual) interrupts.
    pub const fn is_doorbell_interrupt(&self, intid: u32) -> bool {
        intid >= self.doorbell_interrupts.0 && intid < self.doorbell_interrupts.1
    }

    /// Whether `intid` is the kernel's own (its console's, or a doorbell controller's):
    /// never given to a partition.
    pub const fn is_kernel_interrupt(&self, intid: u32) -> bool {
        intid == self.kernel_uart_interrupt || self.is_doorbell_interrupt(intid)
    }
}

/// Every board this build knows, by configuration name.
pub const BOARDS: &[&Board] = &[&QEMU_VIRT];

pub fn board_by_name(name: &str) -> Option<&'static Board> {
    BOARDS.iter().copied().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_do_not_wrap() {
        let r = PhysRange::new(0x1000, 0x1000);
        assert!(r.contains_range(0x1000, 0x1000));
        assert!(!r.contains_range(0x1800, 0x1000));
        assert!(!r.contains_range(u64::MAX, 2));
        assert!(PhysRange::new(u64::MAX - 1, 16).end() == u64::MAX);
    }

    #[test]
    fn qemu_virt_is_consistent() {
        let b = board_by_name("qemu-virt").unwrap();
        assert_eq!(b.core_count(), 4);
        assert!(
            b.ram
                .contains_range(b.kernel_reserved.base, b.kernel_reserved.size)
        );
        assert!(!b.ram.overlaps(&b.device_space));
        for (i, d) in b.devices.iter().enumerate() {
            assert!(
                b.device_space.contains_range(d.mmio.base, d.mmio.size),
                "{}",
                d.name
            );
            // Stage 2 maps whole 4 KiB pages: a device is given with everything on its pages.
            assert!(
                d.mmio.size > 0 && (d.mmio.base | d.mmio.size) % 0x1000 == 0,
                "{} is not whole pages",
                d.name
            );
            assert!(
                b.devices[i + 1..]
                    .iter()
                    .all(|o| o.name != d.name && !o.mmio.overlaps(&d.mmio)),
                "{} shares a name or a page with another device",
                d.name
            );
            if let Dma::BusMaster { smmu: Some(s) } = d.dma {
                assert!(!s.is_empty(), "{}", d.name);
            }
            assert!(
                !d.mmio.overlaps(&b.kernel_uart),
                "{} overlaps the kernel UART",
                d.name
            );
            assert!(
                !d.mmio.overlaps(&b.gicd) && !d.mmio.overlaps(&b.gicr),
                "{}",
                d.name
            );
            for &intid in d.interrupts {
                assert!(b.is_spi(intid), "{} interrupt {intid}", d.name);
                assert!(
                    !b.is_kernel_interrupt(intid),
                    "{} interrupt {intid}",
                    d.name
                );
            }
        }
        // The doorbell controllers' interrupts are SPIs the GIC has, and the console's is not
        // among them.
        let (first, end) = b.doorbell_interrupts;
        assert!(first < end);
        for intid in first..end {
            assert!(b.is_spi(intid));
            assert!(b.is_kernel_interrupt(intid));
        }
        assert!(!b.is_doorbell_interrupt(b.kernel_uart_interrupt));
        assert!(!b.is_doorbell_interrupt(first - 1) && !b.is_doorbell_interrupt(end));
    }
}
