//! HIL evidence for the Linux partition (issue #9 items 4 and 6): Debian's unmodified arm64
//! kernel (fetched by package name, stored compressed in the image, inflated by the kernel
//! when it loads the partition) boots in its partition on cores 2-3 with the device tree
//! schedule-gen generated, prints through its virtual PL011, and reaches the busybox shell of
//! its initramfs, while a bare-metal partition on core 0 ticks on. What is typed on the
//! console reaches its shell (`console_input = "linux"`): a command runs, `reboot -f`
//! restarts Linux alone, and `poweroff -f` stops Linux alone.
//!
//! No supervisor: Linux takes several seconds of host time to boot, so the run follows the
//! console (the test types at the shell's banner) and ends at the first tick of the
//! bare-metal partition after Linux powered off. What is not shown yet: a second CPU (PSCI
//! CPU_ON is `DENIED` for now) and the ports from Linux.
//!
//! How it fails: no `[linux]` line at all (the partition was not entered with the device
//! tree, or its console does not work), a boot that stops on the way (an emulation Linux
//! needs and does not get: the GIC, the timer, PSCI), the wrong memory or CPUs in the
//! kernel's own report, typing that does not reach the shell (no `typed-42`: the receive
//! path or the UART's emulated interrupt), a reboot or power-off that touches anyone else
//! (the bare-metal partition's ticks stop, or the module ends), or any HM line.

mod common;

use common::{assert_kernel_healthy, boot_typing, scenario};

/// The busybox shell's banner: Linux is up and reads its console.
const SHELL: &str = "[linux] Enter 'help' for a list of built-in commands.";

#[test]
fn debian_linux_boots_to_its_shell_beside_a_bare_metal_partition() {
    let test = "debian_linux_boots_to_its_shell_beside_a_bare_metal_partition";
    let Some(log) = boot_typing(
        test,
        &scenario("linux-boot"),
        // The bare-metal partition's first tick after Linux powered off.
        "[ctrl] tick ",
        &[
            // The shell computes 42: the output is not the echo of what was typed.
            (
                SHELL,
                "echo typed-$((6*7))\ngrep -c ^processor /proc/cpuinfo\nreboot -f\n",
            ),
            // Linux again, after its restart.
            (SHELL, "poweroff -f\n"),
            ("[pkernel] partition 'linux' powered itself off (PSCI)", ""),
        ],
    ) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_line("[pkernel] console input goes to partition 'linux'");
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
    // What was typed ran in its shell.
    log.assert_line("[linux] typed-42");
    log.assert_line("[linux] 1");
    // `reboot -f`: Linux alone restarts, from its image, and boots to its shell again.
    log.assert_line("[pkernel] partition 'linux' reset itself (PSCI SYSTEM_RESET)");
    log.assert_line("[pkernel] partition 'linux': cold start (PARTITION_RESTART)");
    let banners = log.lines.iter().filter(|l| l.as_str() == SHELL).count();
    assert_eq!(banners, 2, "{log}");
    // `poweroff -f`: Linux alone stops; the module goes on.
    log.assert_line("[pkernel] partition 'linux' powered itself off (PSCI)");
    log.assert_line("[pkernel] partition 'linux' stopped; core 2 idle");
    let hm: Vec<&String> = log
        .lines
        .iter()
        .filter(|l| l.starts_with("[pkernel] HM:"))
        .collect();
    assert!(hm.is_empty(), "{hm:?}\n{log}");
    // The bare-metal partition ticked throughout, the run ending at a tick after Linux
    // powered off.
    log.assert_advancing("[ctrl] tick ", 10);
}
