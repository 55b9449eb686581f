//! QEMU `virt` machine (AArch64, GICv3, `virtualization=on`), as started by `cargo xtask run`.
//!
//! Addresses are QEMU's fixed `virt` memory map (hw/arm/virt.c); SPI n is INTID 32 + n.

use crate::{Board, Device, Dma, PhysRange};

const MIB: u64 = 1024 * 1024;

pub const QEMU_VIRT: Board = Board {
    name: "qemu-virt",
    // `-smp 4` with a Cortex-A53 gives Aff0 = 0..3 in cluster 0.
    core_mpidrs: &[0, 1, 2, 3],
    // `-m 1G`.
    ram: PhysRange::new(0x4000_0000, 1024 * MIB),
    // The kernel ELF is linked at the bottom of RAM; QEMU puts its own DTB above the image,
    // still inside this window, so no partition can be given that page either.
    kernel_reserved: PhysRange::new(0x4000_0000, 32 * MIB),
    kernel_uart: PhysRange::new(0x0900_0000, 0x1000),
    kernel_uart_interrupt: 32 + 1,
    // The last four SPIs of VIRT_GIC's 256, which no device of `virt` uses.
    doorbell_interrupts: (32 + 252, 32 + 256),
    uart_clock_hz: 24_000_000,
    // QEMU 7.2 runs the A53's generic timer at 1 GHz / 16 (GTIMER_SCALE = 16 ns per tick).
    counter_hz: 62_500_000,
    // VIRT_GIC has 256 external interrupts: INTIDs 32..288.
    spi_intids: (32, 32 + 256),
    gicd: PhysRange::new(0x0800_0000, 0x1_0000),
    gicr: PhysRange::new(0x080A_0000, 4 * 0x2_0000),
    device_space: PhysRange::new(0x0800_0000, 0x3800_0000),
    // Only devices whose MMIO window fills whole 4 KiB pages can be given to one partition
    // (stage-2 maps pages); the virtio-mmio transports share pages and are left out for now.
    // The SMMUv3 of `virt` (`iommu=smmuv3`) fronts only the PCIe root complex: no device listed
    // here is behind it.
    devices: &[
        // PL031.
        Device {
            name: "rtc",
            mmio: PhysRange::new(0x0901_0000, 0x1000),
            interrupts: &[32 + 2],
            dma: Dma::NotBusMaster,
        },
        // QEMU's firmware configuration device: 0x18 bytes of registers, alone on its page, no
        // interrupt. Its DMA interface (FW_CFG_DMA, the register at +0x10) reads and writes
        // whatever physical addresses the guest writes there.
        Device {
            name: "fw_cfg",
            mmio: PhysRange::new(0x0902_0000, 0x1000),
            interrupts: &[],
            dma: Dma::BusMaster { smmu: None },
        },
        // PL061.
        Device {
            name: "gpio",
            mmio: PhysRange::new(0x0903_0000, 0x1000),
            interrupts: &[32 + 7],
            dma: Dma::NotBusMaster,
        },
    ],
};
