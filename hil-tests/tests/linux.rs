//! HIL evidence for the Linux partition (issue #9 item 6): Debian's unmodified arm64 kernel
//! (fetched by package name, stored compressed in the image, inflated by the kernel when it
//! loads the partition) boots in its partition on cores 2-3 with the device tree schedule-gen
//! generated, prints through its virtual PL011, and reaches the busybox shell of its
//! initramfs, while a bare-metal partition on core 0 ticks on.
//!
//! The run is stopped at the shell's banner (no supervisor: Linux takes several seconds of
//! host time to get there). What is not shown yet: typing a command (the virtual UART has no
//! input), a second CPU (PSCI CPU_ON is `DENIED` for now), and the ports from Linux.
//!
//! How it fails: no `[linux]` line at all (the partition was not entered with the device
//! tree, or its console does not work), a boot that stops on the way (an emulation Linux
//! needs and does not get: the GIC, the timer, PSCI), the wrong memory or CPUs in the
//! kernel's own report, an HM line other than the known one (the UART's interrupt, which is
//! not emulated yet), or the bare-metal partition losing ticks.

mod common;

use common::{assert_kernel_healthy, boot_until, scenario};

#[test]
fn debian_linux_boots_to_its_shell_beside_a_bare_metal_partition() {
    let test = "debian_linux_boots_to_its_shell_beside_a_bare_metal_partition";
    let Some(log) = boot_until(
        test,
        &scenario("linux-boot"),
        Some("[linux] Enter 'help' for a list of built-in commands."),
    ) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_line("[pkernel] core 2: starting partition 'linux'");
    log.assert_line("[pkernel] core 3: reserved for partition 'linux'");
    log.assert_line_containing("Booting Linux on physical CPU 0x0000000000");
    log.assert_line_containing("Machine model: pkernel partition linux of module linux-boot");
    log.assert_line_containing("psci: PSCIv1.0 detected in firmware.");
    log.assert_line_containing("GICv3: CPU0: found redistributor 0 region 0:0x00000000080a0000");
    log.assert_line_containing("arch_timer: cp15 timer(s) running at 62.50MHz (virt).");
    // Its memory is exactly its 256 MiB region, and it runs on one CPU so far.
    log.assert_line_containing("node   0: [mem 0x0000000040000000-0x000000004fffffff]");
    log.assert_line_containing("smp: Brought up 1 node, 1 CPU");
    log.assert_line_containing("ttyAMA0 at MMIO 0x9000000");
    log.assert_line("[linux] pkernel-linux: init");
    log.assert_line("[linux] BusyBox v1.35.0");
    // The only HM event: it enables its UART's interrupt, which the kernel does not provide
    // yet (ignored).
    let hm: Vec<&String> = log
        .lines
        .iter()
        .filter(|l| l.starts_with("[pkernel] HM:"))
        .collect();
    assert!(
        hm.iter().all(|l| l.as_str()
            == "[pkernel] HM: partition 'linux' tried to enable interrupt 33, which it does not own (ignored)"),
        "{hm:?}\n{log}"
    );
    log.assert_advancing("[ctrl] tick ", 10);
}
