//! What every HIL scenario test does: build a configuration's image, boot it on QEMU one
//! run at a time, and check the kernel stayed healthy.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use hil_tests::{QemuVirt, RunLimits, RunLog, Target};

/// One QEMU at a time: partitions count ticks against the real-time counter, and two
/// 4-vCPU QEMUs on a 2-core machine would starve each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Holds the one-QEMU-at-a-time lock for a test that runs QEMU itself.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A configuration in `hil-tests/scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

/// Builds and boots the system of `config` until it shuts itself down; `None` if the test is
/// skipped (no QEMU).
pub fn boot(test: &str, config: &Path) -> Option<RunLog> {
    boot_image_until(test, config, &[]).map(|(_, log)| log)
}

/// Like [`boot`], but also stops once a console line starting with each of `stop_when` has
/// appeared, in any order (partitions sharing a core reach their lines in an order that
/// depends on the host: QEMU's counter is the host's clock, which jumps when the host is
/// busy).
pub fn boot_until_all_seen(test: &str, config: &Path, stop_when: &[&str]) -> Option<RunLog> {
    boot_image_until(test, config, stop_when).map(|(_, log)| log)
}

/// Like [`boot`], also returning the image that ran (its directory holds the generated
/// tables, segments and information pages it was built from).
pub fn boot_image(test: &str, config: &Path) -> Option<(xtask::image::SystemImage, RunLog)> {
    boot_image_until(test, config, &[])
}

fn boot_image_until(
    test: &str,
    config: &Path,
    stop_when: &[&str],
) -> Option<(xtask::image::SystemImage, RunLog)> {
    hil_tests::skip_or_fail(test)?;
    let _guard = one_at_a_time();
    let image = xtask::image::build_system(config)
        .unwrap_or_else(|e| panic!("building {}: {e}", config.display()));
    let limits = RunLimits::default()
        .with_timeout(Duration::from_secs(90))
        .with_idle_timeout(Duration::from_secs(20))
        .with_stop_when_all_seen(stop_when.iter().copied());
    let log = QemuVirt::new()
        .run(&image.kernel, &limits)
        .expect("QEMU could not be started");
    Some((image, log))
}

/// Builds and boots the system of `config` under `-icount shift=0,sleep=off` (time is
/// instructions, so runs repeat exactly) until it shuts itself down; `None` if the test is
/// skipped (no QEMU). Runs under icount are slower: they get more time.
pub fn boot_icount(test: &str, config: &Path) -> Option<RunLog> {
    hil_tests::skip_or_fail(test)?;
    let _guard = one_at_a_time();
    let image = xtask::image::build_system(config)
        .unwrap_or_else(|e| panic!("building {}: {e}", config.display()));
    let limits = RunLimits::default()
        .with_timeout(Duration::from_secs(120))
        .with_idle_timeout(Duration::from_secs(30));
    Some(
        QemuVirt::new()
            .with_icount()
            .run(&image.kernel, &limits)
            .expect("QEMU could not be started"),
    )
}

/// The busybox shell's banner in a Linux partition: Linux is up and reads its console.
pub const LINUX_SHELL: &str = "[linux] Enter 'help' for a list of built-in commands.";

/// Adds to `limits` typing each of `commands` at the Linux partition's shell, one line at a
/// time: the first once the shell's banner appeared, each next once the previous printed
/// `step-N` (`; echo step-N` is appended to the Nth command, N from 1). Never all at once:
/// the terminal echoes text typed ahead wherever the output then is (a CI run saw one
/// command's echo inside the prompt of another), so checks find a command's output by its
/// `[linux] step-N` line, never by the shell's echo of the command.
pub fn type_at_linux_shell(mut limits: RunLimits, commands: &[&str]) -> RunLimits {
    let mut after = LINUX_SHELL.to_string();
    for (n, command) in (1..).zip(commands) {
        limits = limits.with_typed(after, format!("{command}; echo step-{n}\n"));
        after = format!("[linux] step-{n}");
    }
    limits
}

/// The kernel itself never failed, whatever the partitions did: no kernel line reporting a
/// panic, a fault or a rejected configuration, and no `module end: failed: ...` line.
pub fn assert_kernel_healthy(log: &RunLog) {
    log.assert_no_line("[pkernel] KERNEL PANIC");
    log.assert_no_line("[pkernel] KERNEL FAULT");
    log.assert_no_line("[pkernel] configuration rejected");
    log.assert_no_line("[pkernel] module end: failed: ");
}
