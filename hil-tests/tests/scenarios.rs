//! HIL scenarios on QEMU virt: each boots a fresh system image built from a configuration in
//! `hil-tests/scenarios/` (or written by the test) and judges the console lines.
//!
//! Every needle is a whole-line prefix (see `hil_tests::RunLog`): a `[pkernel] ...` needle
//! can only be met by a kernel line, never by a partition printing the same text.
//!
//! QEMU missing: each test prints why it skipped, unless PKERNEL_HIL_REQUIRED=1 (set by
//! `cargo xtask test` and CI), where it fails instead.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_kernel_healthy, boot, boot_until_all_seen, scenario};

#[test]
fn boot_banner_lists_partitions_and_each_partition_prints() {
    let Some(log) = boot(
        "boot_banner_lists_partitions_and_each_partition_prints",
        &scenario("two-tickers"),
    ) else {
        return;
    };
    log.assert_line("[pkernel] pkernel 0.1.0 (EL2) on qemu-virt: module 'two-tickers'");
    log.assert_line("[pkernel] configuration sha256 ");
    log.assert_line("[pkernel] tables        sha256 ");
    log.assert_line("[pkernel] GICv3: distributor and 4 redistributors initialised");
    log.assert_line("[pkernel] 3 partitions:");
    log.assert_line("[pkernel]   ctrl (bm, level C) cores [0] vmid 1 entry 0x40000000");
    log.assert_line(
        "[pkernel]     ram          ram    ipa 0x040000000-0x040200000 -> phys 0x044000000 rwx",
    );
    log.assert_line("[pkernel]   sensor (bm, level C) cores [1] vmid 2 entry 0x40000000");
    log.assert_line(
        "[pkernel]     ram          ram    ipa 0x040000000-0x040100000 -> phys 0x046000000 rwx",
    );
    log.assert_line(
        "[pkernel]     rtc          device ipa 0x009010000-0x009011000 -> phys 0x009010000 rw-",
    );
    log.assert_line("[pkernel]   supervisor (system, level A) cores [3] vmid 3 entry 0x40000000");
    // All four cores came up through PSCI: three run partitions, one idles.
    for core in [0, 1, 3] {
        log.assert_line(&format!("[pkernel] core {core}: starting partition '"));
    }
    log.assert_line("[pkernel] core 2: idle");
    log.assert_line("[ctrl] hello from partition 0 (vCPU 0)");
    log.assert_line("[sensor] hello from partition 1 (vCPU 0)");
    log.assert_advancing("[ctrl] tick ", 8);
    log.assert_advancing("[sensor] tick ", 8);
    log.assert_line("[pkernel] module end: shutdown by 'supervisor', status 0");
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
}

/// The reference configuration uses every part of the format (time-partitioned core,
/// channels, HM tables): the kernel builds from it, maps each port buffer with the rights of
/// its end, runs the dedicated cores, and shares core 0 between its three time-partitioned
/// partitions.
#[test]
fn the_reference_configuration_builds_and_boots() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/reference.toml");
    // Every partition of core 0 ticks twice (they start in their first windows, in an order
    // the host's timing decides; a line for each, not one partition's, ends the run).
    let Some(log) = boot_until_all_seen(
        "the_reference_configuration_builds_and_boots",
        &config,
        &[
            "[ctrl] tick 2",
            "[health] tick 2",
            "[logger] tick 2",
            "[sensor] tick 2",
        ],
    ) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_line(
        "[pkernel]   ctrl (bm, level A) time-partitioned core [0] vmid 1 entry 0x40000000",
    );
    // A sampling source maps its buffer read-write, each destination read-only; a queuing
    // channel's acknowledge page is writable by the destination only.
    log.assert_line(
        "[pkernel]     speed_out    port   ipa 0x050000000-0x050001000 -> phys 0x048000000 rw-",
    );
    log.assert_line(
        "[pkernel]     speed        port   ipa 0x050000000-0x050001000 -> phys 0x048000000 r--",
    );
    log.assert_line(
        "[pkernel]     speed_in     port   ipa 0x050000000-0x050001000 -> phys 0x048000000 r--",
    );
    log.assert_line(
        "[pkernel]     cmd_in       port   ipa 0x050001000-0x050002000 -> phys 0x048001000 r--",
    );
    log.assert_line(
        "[pkernel]     cmd_in.ack   port   ipa 0x050002000-0x050003000 -> phys 0x048002000 rw-",
    );
    log.assert_line(
        "[pkernel]     commands     port   ipa 0x050000000-0x050001000 -> phys 0x048001000 rw-",
    );
    log.assert_line(
        "[pkernel]     commands.ack port   ipa 0x050001000-0x050002000 -> phys 0x048002000 r--",
    );
    log.assert_line(
        "[pkernel] core 0: time-partitioned, 5 windows in a major frame of 1250000 ticks",
    );
    log.assert_no_line("[pkernel] core 0: starting partition");
    // All three partitions of core 0 get their windows (ctrl twice a frame); a run that
    // ended before every one ticked twice fails here, saying which.
    for name in ["ctrl", "health", "logger"] {
        log.assert_advancing(&format!("[{name}] tick "), 2);
    }
    log.assert_line("[sensor] tick 2");
}

#[test]
fn a_stage2_fault_stops_only_the_faulting_partition() {
    let Some(log) = boot(
        "a_stage2_fault_stops_only_the_faulting_partition",
        &scenario("fault"),
    ) else {
        return;
    };
    log.assert_line("[faulty] tick 3");
    log.assert_line("[faulty] writing to 0x48000000, outside my memory");
    let fault = log.assert_line("[pkernel] HM: partition 'faulty' stage-2 abort on core 2: write at IPA 0x48000000 (VA 0x48000000), pc 0x4000");
    let esr = log.assert_line_after(fault, "[pkernel] HM: ESR_EL2 0x9");
    assert!(
        log.lines[esr].contains("(data abort from a lower EL: write, translation fault level"),
        "ESR not decoded as a stage-2 write translation fault: {}",
        log.lines[esr]
    );
    log.assert_line_after(esr, "[pkernel] HM: action: stop partition 'faulty'");
    log.assert_line_after(esr, "[pkernel] partition 'faulty' stopped; core 2 idle");
    log.assert_no_line("[faulty] still running after the bad write");
    assert_eq!(
        log.numbers_after("[faulty] tick "),
        [1, 2, 3],
        "the faulty partition ran on after its fault"
    );
    // The neighbour's counter keeps advancing after the fault, without a gap.
    let after: Vec<u64> = log.lines[fault..]
        .iter()
        .filter_map(|l| l.strip_prefix("[ctrl] tick "))
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    assert!(
        after.len() >= 5,
        "ctrl ticked only {after:?} after the fault\n{log}"
    );
    assert!(
        after.windows(2).all(|w| w[1] == w[0] + 1),
        "ctrl's ticks after the fault skip or repeat: {after:?}"
    );
    let all = log.assert_advancing("[ctrl] tick ", 8);
    assert!(
        all.windows(2).all(|w| w[1] == w[0] + 1),
        "ctrl's ticks skip or repeat: {all:?}"
    );
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
}

#[test]
fn bad_hypercalls_get_error_codes_and_the_caller_runs_on() {
    let Some(log) = boot(
        "bad_hypercalls_get_error_codes_and_the_caller_runs_on",
        &scenario("bad-hypercalls"),
    ) else {
        return;
    };
    for expected in [
        "[probe] probe unknown-function -> NOT_SUPPORTED",
        "[probe] probe not-smccc -> NOT_SUPPORTED",
        "[probe] probe pointer-outside-memory -> INVALID_PARAM",
        "[probe] probe pointer-wraps -> INVALID_PARAM",
        "[probe] probe length-too-long -> INVALID_PARAM",
        "[probe] probe privileged-shutdown -> INVALID_MODE",
        "[probe] probe null -> NO_ERROR",
    ] {
        log.assert_line(expected);
    }
    // Each refusal is logged by the kernel with the caller's name and the reason.
    log.assert_line(
        "[pkernel] partition 'probe': unknown hypercall 0xc6000fff refused (SMCCC NOT_SUPPORTED)",
    );
    log.assert_line(
        "[pkernel] partition 'probe': unknown hypercall 0x1234 refused (SMCCC NOT_SUPPORTED)",
    );
    log.assert_line("[pkernel] partition 'probe': ConsoleWrite refused (INVALID_PARAM): 8 bytes at 0x9000000: NotMapped");
    log.assert_line("[pkernel] partition 'probe': ConsoleWrite refused (INVALID_PARAM): 8 bytes at 0xfffffffffffffffc: Overflow");
    log.assert_line(
        "[pkernel] partition 'probe': ConsoleWrite refused (INVALID_PARAM): length 4096 > 256",
    );
    log.assert_line("[pkernel] partition 'probe': ModuleShutdown refused (INVALID_MODE): not a system partition");
    log.assert_line("[probe] probe flood -> 1000 of 1000 refused");
    log.assert_line(
        "[pkernel] partition 'probe': 16 hypercalls refused; further refusals are not logged",
    );
    let refusal_lines = log
        .lines
        .iter()
        .filter(|l| l.starts_with("[pkernel] partition 'probe':") && l.contains("refused ("))
        .count();
    assert_eq!(refusal_lines, 16, "the refusal log is not bounded\n{log}");
    log.assert_advancing("[probe] tick ", 8);
    log.assert_advancing("[ctrl] tick ", 8);
    log.assert_no_line("[pkernel] HM:");
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
}

/// A configuration written by someone else: new names, other cores and placement, and a
/// partition ELF built outside this workspace, linked at a different guest address.
#[test]
fn an_integrator_configuration_with_a_supplier_elf_boots_unchanged() {
    let test = "an_integrator_configuration_with_a_supplier_elf_boots_unchanged";
    if hil_tests::skip_or_fail(test).is_none() {
        return;
    }
    let root = xtask::workspace_root();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let supplier_target = root.join("target/pkernel-images/external");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(fixtures.join("external-partition"))
        .args([
            "build",
            "--release",
            "--target",
            "aarch64-unknown-none",
            "--target-dir",
        ])
        .arg(&supplier_target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo could not be started");
    assert!(status.success(), "building the supplier partition failed");
    let elf = supplier_target.join("aarch64-unknown-none/release/nav-supplier");
    let template = std::fs::read_to_string(fixtures.join("external/system.toml.in")).unwrap();
    let config_dir = root.join("target/pkernel-images/integrator");
    std::fs::create_dir_all(&config_dir).unwrap();
    let config = config_dir.join("avionics-bench.toml");
    std::fs::write(
        &config,
        template.replace("@NAV_ELF@", elf.to_str().unwrap()),
    )
    .unwrap();

    let log = boot(test, &config).expect("QEMU is available");
    log.assert_line("[pkernel] pkernel 0.1.0 (EL2) on qemu-virt: module 'avionics-bench'");
    log.assert_line("[pkernel]   nav (bm, level C) cores [2] vmid 2 entry 0x80000000");
    log.assert_line(
        "[pkernel]     code         ram    ipa 0x080000000-0x080100000 -> phys 0x050000000 rwx",
    );
    log.assert_line(
        "[pkernel]     gpio         device ipa 0x009030000-0x009031000 -> phys 0x009030000 rw-",
    );
    log.assert_line("[pkernel] core 0: idle");
    log.assert_line("[nav] supplier nav partition 1 on core 2, linked at 0x80000000");
    log.assert_advancing("[nav] fix ", 6);
    log.assert_advancing("[hud] tick ", 8);
    log.assert_line("[pkernel] module end: shutdown by 'watchdog', status 0");
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
}
