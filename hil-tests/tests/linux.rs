//! HIL evidence for the Linux partition (issue #9 items 4 and 6): Debian's unmodified arm64
//! kernel (fetched by package name, stored compressed in the image, inflated by the kernel
//! when it loads the partition) boots in its partition on cores 2-3 with the device tree
//! schedule-gen generated, prints through its virtual PL011, and reaches the busybox shell of
//! its initramfs, while two bare-metal partitions share core 0 through windows. What is typed
//! on the console reaches its shell (`console_input = "linux"`): a command runs, /proc/iomem
//! shows its own RAM and emulated devices only, `reboot -f` restarts Linux alone, a kernel
//! panic (sysrq) is handled as its HM table says (a cold start), and `poweroff -f` stops
//! Linux alone. Core 0's trace shows every window on plan throughout.
//!
//! No supervisor: Linux takes several seconds of host time to boot, so the run follows the
//! console (the test types at the shell's banner) and ends at the first tick of a
//! bare-metal partition after Linux powered off. Linux runs on both its cores: its second
//! vCPU is started by Linux itself (PSCI `CPU_ON`) on core 3, and /proc/cpuinfo shows two
//! CPUs. The ports from Linux are `linux_ports.rs`.
//!
//! How it fails: no `[linux]` line at all (the partition was not entered with the device
//! tree, or its console does not work), a boot that stops on the way (an emulation Linux
//! needs and does not get: the GIC, the timer, PSCI), the wrong memory or CPUs in the
//! kernel's own report, typing that does not reach the shell (no `typed-42`: the receive
//! path or the UART's emulated interrupt), a reboot, panic or power-off that touches anyone
//! else (a window late or missing in core 0's trace, ticks that stop, the module ending), or
//! any other HM event.

mod common;

use apex_api::health::{HmError, PartitionAction};
use apex_api::trace::TraceKind;
use common::{LINUX_SHELL, assert_kernel_healthy, one_at_a_time, scenario, type_at_linux_shell};

/// Partition indices in the scenario.
const CTRL: u16 = 0;
const SENSOR: u16 = 1;
const LINUX: u16 = 2;

#[test]
fn debian_linux_boots_to_its_shell_beside_bare_metal_partitions() {
    let test = "debian_linux_boots_to_its_shell_beside_bare_metal_partitions";
    if hil_tests::skip_or_fail(test).is_none() {
        return;
    }
    let _guard = one_at_a_time();
    let image = xtask::image::build_system(&scenario("linux-boot")).expect("building linux-boot");
    let limits = type_at_linux_shell(
        hil_tests::RunLimits::default()
            .with_timeout(std::time::Duration::from_secs(240))
            .with_idle_timeout(std::time::Duration::from_secs(30)),
        // The shell computes 42: the output is not the echo of what was typed. (`reboot -f`
        // never returns to print its step.)
        &[
            "echo typed-$((6*7)); grep -c ^processor /proc/cpuinfo; \
             echo iomem-begin; cat /proc/iomem",
            "reboot -f",
        ],
    )
    // Linux again, after its restart: a kernel panic, through sysrq, on its second CPU
    // (core 3), so that the restart its HM table orders is forwarded to vCPU 0's core,
    // which must first get vCPU 1 off core 3. (`reboot -f` moves to CPU 0 itself.)
    .with_typed(
        LINUX_SHELL,
        "taskset 2 sh -c 'echo c > /proc/sysrq-trigger'\n",
    )
    // Linux again, restarted by its HM table.
    .with_typed(LINUX_SHELL, "poweroff -f\n")
    .with_typed("[pkernel] partition 'linux' powered itself off (PSCI)", "")
    // The bare-metal partition's first tick after Linux powered off.
    .with_stop_when("[ctrl] tick ");
    // Under icount: core 0's windows are then timed by the kernel alone, not by the host.
    let run = xtask::trace::run_traced(
        hil_tests::QemuVirt::new().with_icount(),
        &image.kernel,
        &limits,
    )
    .expect("QEMU could not be started");
    let log = &run.log;
    assert_kernel_healthy(log);
    log.assert_line("[pkernel] console input goes to partition 'linux'");
    log.assert_line("[pkernel] core 2: starting partition 'linux'");
    log.assert_line("[pkernel] core 3: reserved for partition 'linux' (vCPU 1, started by it)");
    log.assert_line_containing("Booting Linux on physical CPU 0x0000000000");
    log.assert_line_containing("Machine model: pkernel partition linux of module linux-boot");
    log.assert_line_containing("psci: PSCIv1.0 detected in firmware.");
    log.assert_line_containing("GICv3: CPU0: found redistributor 0 region 0:0x00000000080a0000");
    log.assert_line_containing("arch_timer: cp15 timer(s) running at 62.50MHz (virt).");
    // Its memory is exactly its 256 MiB region, and it runs on its two cores: its second
    // vCPU started through PSCI CPU_ON on core 3, with its own redistributor.
    log.assert_line_containing("node   0: [mem 0x0000000040000000-0x000000004fffffff]");
    log.assert_line_containing("[pkernel] partition 'linux': vCPU 1 started on core 3 at 0x");
    log.assert_line_containing("GICv3: CPU1: found redistributor 1 region 0:0x00000000080c0000");
    log.assert_line_containing("CPU1: Booted secondary processor 0x0000000001");
    log.assert_line_containing("smp: Brought up 1 node, 2 CPUs");
    log.assert_line_containing("ttyAMA0 at MMIO 0x9000000");
    log.assert_line("[linux] pkernel-linux: init");
    log.assert_line("[linux] BusyBox v1.35.0");
    // What was typed ran in its shell.
    log.assert_line("[linux] typed-42");
    // /proc/cpuinfo: exactly its two cores.
    log.assert_line("[linux] 2");
    // /proc/iomem: its own RAM and the devices the kernel emulates for it, nothing else.
    let iomem: Vec<&str> = log
        .lines
        .iter()
        .filter_map(|l| l.strip_prefix("[linux] "))
        .skip_while(|l| *l != "iomem-begin")
        .skip(1)
        .take_while(|l| *l != "step-1")
        .filter(|l| !l.starts_with(' '))
        .collect();
    assert_eq!(
        iomem,
        [
            "08000000-0800ffff : GICD",
            "080a0000-080dffff : GICR",
            "09000000-09000fff : pl011@9000000",
            "40000000-4fffffff : System RAM",
        ],
        "{log}"
    );
    // Each of its three boots started its second vCPU again, after the restart dropped it.
    let started = log
        .lines_with_prefix("[pkernel] partition 'linux': vCPU 1 started on core 3")
        .len();
    assert_eq!(started, 3, "{log}");
    // `reboot -f`: Linux alone restarts, from its image, and boots to its shell again.
    log.assert_line("[pkernel] partition 'linux' reset itself (PSCI SYSTEM_RESET)");
    log.assert_line("[pkernel] partition 'linux': cold start (PARTITION_RESTART)");
    // The panic: reported by Linux's own last words, then handled by its HM table.
    log.assert_line_containing("Kernel panic - not syncing: sysrq triggered crash");
    log.assert_line_containing("] CPU: 1 PID: ");
    log.assert_line(
        "[pkernel] HM: partition 'linux' raised an application error: its operating system \
         failed (PSCI SYSTEM_RESET2, e.g. a Linux panic)",
    );
    log.assert_line("[pkernel] HM: action: cold_start partition 'linux'");
    log.assert_line("[pkernel] partition 'linux': cold start (HM_PARTITION_RESTART)");
    let banners = log.lines.iter().filter(|l| l.as_str() == LINUX_SHELL).count();
    assert_eq!(banners, 3, "{log}");
    // `poweroff -f`: Linux alone stops; the module goes on.
    log.assert_line("[pkernel] partition 'linux' powered itself off (PSCI)");
    log.assert_line("[pkernel] partition 'linux' stopped; core 2 idle");
    // No other HM event, from anyone.
    let hm: Vec<&String> = log
        .lines
        .iter()
        .filter(|l| l.starts_with("[pkernel] HM:"))
        .collect();
    assert_eq!(hm.len(), 2, "{hm:?}\n{log}");
    // The bare-metal partitions ticked throughout.
    log.assert_advancing("[ctrl] tick ", 10);
    log.assert_advancing("[sensor] tick ", 10);

    // The trace: Linux's one HM event (application_error, cold start) on one of its cores
    // (the CPU that panicked), and
    // core 0's windows, every one in order and on plan, through Linux's boots, reboot,
    // panic and power-off.
    let trace = run.assert_trace();
    let hm_events: Vec<_> = trace
        .rows
        .iter()
        .filter(|r| r.kind == TraceKind::HealthMonitor as u8)
        .map(|r| (r.partition, r.detail, r.arg))
        .collect();
    assert_eq!(
        hm_events,
        [(
            Some(LINUX),
            HmError::ApplicationError.code(),
            u32::from(PartitionAction::ColdStart.code())
        )]
    );
    assert!(
        trace
            .rows
            .iter()
            .filter(|r| r.kind == TraceKind::HealthMonitor as u8)
            .all(|r| r.core == 2 || r.core == 3),
        "on Linux's own cores"
    );
    let starts: Vec<_> = trace
        .rows
        .iter()
        .filter(|r| r.core == 0 && r.kind == TraceKind::WindowStart as u8)
        .collect();
    // ctrl, a gap, sensor, a gap (`arg`: the window a gap precedes).
    let cycle = [(Some(CTRL), 0), (None, 1), (Some(SENSOR), 1), (None, 2)];
    const MAJOR: u64 = 6_250_000; // 100 ms at 62.5 MHz
    // Under icount the host's load plays no part (without it, QEMU's core-0 thread waits for
    // host time whenever Linux keeps two others busy: 105 ms late was seen on this 2-core
    // machine with a build beside). What is left is the kernel's switch (a few ticks) and
    // QEMU itself: it runs every vCPU in one thread, and moves on from a vCPU that runs
    // without pause (core 2 inflating Linux's image again at a restart) only at its kick
    // period, 100 ms of virtual time; 95 ms late was seen then. 150 ms bounds that; the
    // order and grid checks above catch any window lost or moved.
    const TOLERANCE: u64 = 62_500 * 150;
    assert!(
        starts.len() >= 4 * 50,
        "only {} window starts traced",
        starts.len()
    );
    let first = starts
        .iter()
        .position(|r| (r.partition, r.arg) == cycle[0])
        .expect("a frame start traced");
    for (i, r) in starts[first..].iter().enumerate() {
        assert_eq!(
            (r.partition, r.arg),
            cycle[i % 4],
            "start {i} out of order: {r:?}"
        );
        let plan = starts[first + i % 4].planned + (i as u64 / 4) * MAJOR;
        assert_eq!(
            r.planned, plan,
            "start {i} planned off the frame grid: {r:?}"
        );
        let late = r.actual - r.planned;
        assert!(late <= TOLERANCE, "start {i} is {late} ticks late: {r:?}");
    }
    let latest = starts[first..].iter().map(|r| r.actual - r.planned).max();
    eprintln!(
        "core 0: {} window starts, the latest {latest:?} ticks after plan",
        starts.len() - first
    );
}
