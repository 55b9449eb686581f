//! The device tree of a Linux partition, generated from the configuration with `vm-fdt`.
//!
//! It describes the partition alone, as the partition sees it (every address an IPA):
//!
//! ```text
//! /                      compatible "linux,dummy-virt", #address-cells 2, #size-cells 2,
//!                        interrupt-parent = the GIC
//!   chosen               bootargs, stdout-path = the PL011, linux,initrd-start/-end
//!   memory@<ipa>         one per "rwx" RAM region
//!   reserved-memory      no-map: port@<ipa> per port buffer, info@7ffffff000 (the
//!                        partition information page)
//!   cpus                 cpu@<n>, n = 0..vCPUs: reg n (vCPU n has MPIDR Aff0 = n),
//!                        enable-method "psci"
//!   psci                 "arm,psci-1.0", "arm,psci-0.2"; method "hvc"
//!   intc@<gicd>          "arm,gic-v3": GICD 64 KiB, GICR 128 KiB per vCPU; no ITS
//!   timer                "arm,armv8-timer": PPIs 13, 14, 11, 10
//!   apb-pclk             fixed 24 MHz clock of the PL011 (and PrimeCell devices)
//!   pl011@<uart>         the kernel's virtual PL011, at the board's UART address and INTID
//!   gpio@<ipa>           the doorbell GPIO controllers (emulated PL061s, one per 8 ports, at
//!                        apex_api::info::DOORBELL_GPIO_IPA): line i of controller k is the
//!                        doorbell of port 8k + i, named after the port (gpio-line-names)
//!   <device>@<base>      each owned board device with a known binding (PL031, PL061, fw_cfg)
//! ```
//!
//! The output depends on the configuration and the initramfs range alone, with fixed
//! phandles, so it is byte-identical for identical input.

use std::ops::Range;

use apex_api::info::{
    DOORBELL_GPIO_CONTROLLERS, DOORBELL_GPIO_IPA, DOORBELL_GPIO_LINES, DOORBELL_GPIO_SIZE,
};
use vm_fdt::{Error, FdtWriter};

use crate::model::{Access, DeviceConfig, ImageSource, LoadedConfig, PartitionConfig};

/// Phandle of the GIC, the root's interrupt parent.
const GIC_PHANDLE: u32 = 1;
/// Phandle of the 24 MHz APB clock.
const CLOCK_PHANDLE: u32 = 2;

/// GIC interrupt specifier types (first cell).
const GIC_SPI: u32 = 0;
const GIC_PPI: u32 = 1;
/// Third cell: level-sensitive, active high (as QEMU's `virt` device tree has them, the
/// architected timer's PPIs included).
const IRQ_LEVEL_HIGH: u32 = 4;

/// The architected timer's PPIs in the binding's order: secure physical (13), non-secure
/// physical (14), virtual (11), hypervisor physical (10): INTIDs 29, 30, 27, 26.
pub const TIMER_PPIS: [u32; 4] = [13, 14, 11, 10];

/// A device-tree binding pkernel knows for a board device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceBinding {
    /// Arm PL031 real-time clock.
    Pl031,
    /// Arm PL061 GPIO controller.
    Pl061,
    /// QEMU's firmware configuration device (MMIO).
    FwCfg,
}

impl DeviceBinding {
    /// Node name (before `@`).
    pub const fn node_name(self) -> &'static str {
        match self {
            Self::Pl031 => "pl031",
            Self::Pl061 => "pl061",
            Self::FwCfg => "fw-cfg",
        }
    }

    /// `compatible`.
    pub const fn compatible(self) -> &'static [&'static str] {
        match self {
            Self::Pl031 => &["arm,pl031", "arm,primecell"],
            Self::Pl061 => &["arm,pl061", "arm,primecell"],
            Self::FwCfg => &["qemu,fw-cfg-mmio"],
        }
    }
}

/// The binding of `device` of `board`, if pkernel knows one. Devices described by the
/// configuration (`mmio`) have none: nothing says what they are.
pub fn device_binding(board: &bsp::Board, device: &DeviceConfig) -> Option<DeviceBinding> {
    if !device.from_board {
        return None;
    }
    match (board.name, device.name.as_str()) {
        ("qemu-virt", "rtc") => Some(DeviceBinding::Pl031),
        ("qemu-virt", "gpio") => Some(DeviceBinding::Pl061),
        ("qemu-virt", "fw_cfg") => Some(DeviceBinding::FwCfg),
        _ => None,
    }
}

/// The device tree blob of Linux partition `partition` of `cfg`, its initramfs at `initrd`
/// (IPAs). See the module documentation for its nodes.
///
/// Empty only if the partition was not validated (a name or `bootargs` with a NUL byte): a
/// configuration from [`crate::load`] always gives a device tree.
pub fn linux_device_tree(
    cfg: &LoadedConfig,
    partition: &PartitionConfig,
    initrd: Range<u64>,
) -> Vec<u8> {
    write(cfg, partition, initrd).unwrap_or_default()
}

fn reg(base: u64, size: u64) -> [u64; 2] {
    [base, size]
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn spi(intid: u32) -> [u32; 3] {
    [GIC_SPI, intid.saturating_sub(32), IRQ_LEVEL_HIGH]
}

fn write(cfg: &LoadedConfig, p: &PartitionConfig, initrd: Range<u64>) -> Result<Vec<u8>, Error> {
    let board = cfg.board();
    let bootargs = match &p.image {
        ImageSource::Linux(linux) => super::bootargs(board, linux),
        _ => super::default_bootargs(board),
    };
    let uart = board.kernel_uart;
    let uart_node = format!("pl011@{:x}", uart.base);
    let vcpus = p.cores.len().max(1);

    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_string("compatible", "linux,dummy-virt")?;
    fdt.property_string(
        "model",
        &format!(
            "pkernel partition {} of module {}",
            p.name,
            cfg.module_name()
        ),
    )?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_u32("interrupt-parent", GIC_PHANDLE)?;

    let chosen = fdt.begin_node("chosen")?;
    fdt.property_string("bootargs", &bootargs)?;
    fdt.property_string("stdout-path", &format!("/{uart_node}"))?;
    fdt.property_u64("linux,initrd-start", initrd.start)?;
    fdt.property_u64("linux,initrd-end", initrd.end)?;
    fdt.end_node(chosen)?;

    // Linux runs code from any page of its RAM (user programs from the page cache), so only
    // regions it may execute from are its memory; the others are not described.
    let mut ram: Vec<_> = p
        .memory
        .iter()
        .filter(|r| r.access == Access::Rwx)
        .collect();
    ram.sort_by_key(|r| r.ipa);
    for r in ram {
        let node = fdt.begin_node(&format!("memory@{:x}", r.ipa))?;
        fdt.property_string("device_type", "memory")?;
        fdt.property_array_u64("reg", &reg(r.ipa, r.size))?;
        fdt.end_node(node)?;
    }

    // Memory Linux must neither use nor map as RAM: the port buffers and the information page.
    let mut reserved: Vec<(&str, u64, u64)> = p
        .ports
        .iter()
        .flat_map(|port| port.mappings.iter().map(|m| ("port", m.ipa, m.size)))
        .collect();
    reserved.push((
        "info",
        apex_api::info::INFO_PAGE_IPA,
        apex_api::info::INFO_PAGE_SIZE as u64,
    ));
    reserved.sort_by_key(|&(_, ipa, _)| ipa);
    reserved.dedup_by_key(|&mut (_, ipa, _)| ipa);
    let rsv = fdt.begin_node("reserved-memory")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_null("ranges")?;
    for (name, ipa, size) in reserved {
        let node = fdt.begin_node(&format!("{name}@{ipa:x}"))?;
        fdt.property_array_u64("reg", &reg(ipa, size))?;
        fdt.property_null("no-map")?;
        fdt.end_node(node)?;
    }
    fdt.end_node(rsv)?;

    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    for n in 0..vcpus {
        let node = fdt.begin_node(&format!("cpu@{n:x}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_string("compatible", "arm,armv8")?;
        fdt.property_u32("reg", n as u32)?;
        fdt.property_string("enable-method", "psci")?;
        fdt.end_node(node)?;
    }
    fdt.end_node(cpus)?;

    let psci = fdt.begin_node("psci")?;
    fdt.property_string_list("compatible", strings(&["arm,psci-1.0", "arm,psci-0.2"]))?;
    fdt.property_string("method", "hvc")?;
    fdt.end_node(psci)?;

    let gic = fdt.begin_node(&format!("intc@{:x}", board.gicd.base))?;
    fdt.property_string("compatible", "arm,gic-v3")?;
    fdt.property_u32("#interrupt-cells", 3)?;
    fdt.property_null("interrupt-controller")?;
    // As QEMU's: room for children (an ITS, which pkernel does not give), and what dtc
    // expects of an interrupt provider.
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_null("ranges")?;
    let gicr_size = vcpus as u64 * super::GICR_FRAME_SIZE;
    fdt.property_array_u64(
        "reg",
        &[board.gicd.base, board.gicd.size, board.gicr.base, gicr_size],
    )?;
    fdt.property_phandle(GIC_PHANDLE)?;
    fdt.end_node(gic)?;

    let timer = fdt.begin_node("timer")?;
    fdt.property_string_list(
        "compatible",
        strings(&["arm,armv8-timer", "arm,armv7-timer"]),
    )?;
    let cells: Vec<u32> = TIMER_PPIS
        .iter()
        .flat_map(|&ppi| [GIC_PPI, ppi, IRQ_LEVEL_HIGH])
        .collect();
    fdt.property_array_u32("interrupts", &cells)?;
    fdt.property_null("always-on")?;
    fdt.end_node(timer)?;

    let clock = fdt.begin_node("apb-pclk")?;
    fdt.property_string("compatible", "fixed-clock")?;
    fdt.property_u32("#clock-cells", 0)?;
    fdt.property_u32("clock-frequency", board.uart_clock_hz)?;
    fdt.property_string("clock-output-names", "clk24mhz")?;
    fdt.property_phandle(CLOCK_PHANDLE)?;
    fdt.end_node(clock)?;

    let pl011 = fdt.begin_node(&uart_node)?;
    fdt.property_string_list("compatible", strings(&["arm,pl011", "arm,primecell"]))?;
    fdt.property_array_u64("reg", &reg(uart.base, uart.size))?;
    fdt.property_array_u32("interrupts", &spi(board.kernel_uart_interrupt))?;
    fdt.property_array_u32("clocks", &[CLOCK_PHANDLE, CLOCK_PHANDLE])?;
    fdt.property_string_list("clock-names", strings(&["uartclk", "apb_pclk"]))?;
    fdt.end_node(pl011)?;

    // The doorbell GPIO controllers: an interrupt controller each, so that Linux's GPIO
    // character device turns a doorbell into a line event its user space waits for.
    let controllers = p
        .ports
        .len()
        .div_ceil(DOORBELL_GPIO_LINES)
        .min(DOORBELL_GPIO_CONTROLLERS);
    for k in 0..controllers {
        let base = DOORBELL_GPIO_IPA + k as u64 * DOORBELL_GPIO_SIZE;
        let node = fdt.begin_node(&format!("gpio@{base:x}"))?;
        fdt.property_string_list("compatible", strings(&["arm,pl061", "arm,primecell"]))?;
        fdt.property_array_u64("reg", &reg(base, DOORBELL_GPIO_SIZE))?;
        fdt.property_array_u32("interrupts", &spi(board.doorbell_interrupts.0 + k as u32))?;
        fdt.property_u32("clocks", CLOCK_PHANDLE)?;
        fdt.property_string("clock-names", "apb_pclk")?;
        fdt.property_null("gpio-controller")?;
        fdt.property_u32("#gpio-cells", 2)?;
        fdt.property_null("interrupt-controller")?;
        fdt.property_u32("#interrupt-cells", 2)?;
        let names: Vec<String> = (0..DOORBELL_GPIO_LINES)
            .map(|i| {
                p.ports
                    .get(k * DOORBELL_GPIO_LINES + i)
                    .map_or_else(String::new, |port| port.name.clone())
            })
            .collect();
        fdt.property_string_list("gpio-line-names", names)?;
        fdt.end_node(node)?;
    }

    let mut devices: Vec<_> = p
        .devices
        .iter()
        .filter_map(|d| device_binding(board, d).map(|b| (d, b)))
        .collect();
    devices.sort_by_key(|(d, _)| d.mmio.base);
    for (d, binding) in devices {
        let node = fdt.begin_node(&format!("{}@{:x}", binding.node_name(), d.mmio.base))?;
        fdt.property_string_list("compatible", strings(binding.compatible()))?;
        match binding {
            DeviceBinding::FwCfg => {
                // Its registers, not the page: QEMU's own device tree says 0x18.
                fdt.property_array_u64("reg", &reg(d.mmio.base, 0x18))?;
                fdt.property_null("dma-coherent")?;
            }
            DeviceBinding::Pl031 | DeviceBinding::Pl061 => {
                fdt.property_array_u64("reg", &reg(d.mmio.base, d.mmio.size))?;
                let cells: Vec<u32> = d.interrupts.iter().flat_map(|&i| spi(i)).collect();
                fdt.property_array_u32("interrupts", &cells)?;
                fdt.property_u32("clocks", CLOCK_PHANDLE)?;
                fdt.property_string("clock-names", "apb_pclk")?;
                if binding == DeviceBinding::Pl061 {
                    fdt.property_null("gpio-controller")?;
                    fdt.property_u32("#gpio-cells", 2)?;
                }
            }
        }
        fdt.end_node(node)?;
    }

    fdt.end_node(root)?;
    fdt.finish()
}
