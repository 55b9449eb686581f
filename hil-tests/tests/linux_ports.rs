//! HIL evidence that Linux talks over ports (issue #9 item 7): at the shell of Debian's
//! unmodified kernel, the `ports` tool of its initramfs (linux-tools/ports) lists the
//! partition's ports from its information page, reads a sampling message a bare-metal
//! partition publishes, writes one a bare-metal partition reads, sends queuing messages a
//! bare-metal partition receives, receives (waiting, then with an overflow) and clears a
//! queue a bare-metal partition fills, and rings the doorbell of a bare-metal partition
//! blocked with no timeout, which wakes and answers. Bad input gets a clear error and a
//! non-zero exit status. Scenario: hil-tests/scenarios/linux-ports.toml.
//!
//! How it fails: no `[linux]` line for a command (the tool is not in the initramfs, or does
//! not run: not static, wrong target), an error mapping `/dev/mem` (the buffers are RAM to
//! Linux, or the kernel refuses the mapping), a message that does not arrive on the other
//! side (a layout or protocol mismatch, or memory attributes that keep a write from the
//! peer), no `pong 1` (the doorbell store did not reach pong: the kernel's emulation, or the
//! port index), a health-monitor event or a kernel line saying something was refused.

mod common;

use common::{assert_kernel_healthy, one_at_a_time, scenario, type_at_linux_shell};
use hil_tests::Target as _;

/// What is typed, one step at a time ([`type_at_linux_shell`]): each step after the line
/// `step-N` the previous one ends with, so that no command is typed while another runs.
const STEPS: [&str; 7] = [
    "ports list",
    "ports read speed",
    "ports write status hello-from-linux; ports send to_ctrl 'command from linux'",
    // pong waits with no timeout: only the doorbell of the send wakes it. Linux waits first
    // (2 s before the ping), on its doorbell GPIO line: only the doorbell of pong's answer,
    // an interrupt, wakes it (with a line, `ports` never polls).
    "(sleep 2; ports send to_pong 'ping 1') & time ports receive from_pong --timeout 20000; \
     wait",
    // display answers once per 500 ms period, once it has read `status`.
    "ports receive from_display --timeout 3000",
    // Meanwhile display fills the queue (depth 4) and has answers refused: an overflow.
    "sleep 3; ports receive from_display; ports clear from_display",
    "ports read nosuch; echo exit=$?; ports send speed x; echo exit=$?; \
     ports send to_ctrl 12345678901234567890123456789012345678901234567890123456789012345; \
     echo exit=$?; ports frobnicate; echo exit=$?",
];

#[test]
fn linux_user_space_reads_and_writes_ports_of_bare_metal_partitions() {
    let test = "linux_user_space_reads_and_writes_ports_of_bare_metal_partitions";
    if hil_tests::skip_or_fail(test).is_none() {
        return;
    }
    let _guard = one_at_a_time();
    let image = xtask::image::build_system(&scenario("linux-ports")).expect("building linux-ports");
    let limits = type_at_linux_shell(
        hil_tests::RunLimits::default()
            .with_timeout(std::time::Duration::from_secs(240))
            .with_idle_timeout(std::time::Duration::from_secs(30)),
        &STEPS,
    )
    .with_stop_when("[linux] step-7");
    let log = hil_tests::QemuVirt::new()
        .run(&image.kernel, &limits)
        .expect("QEMU could not be started");
    assert_kernel_healthy(&log);
    log.assert_line("[pkernel] core 2: starting partition 'linux'");
    log.assert_line("[linux] step-7");

    // `ports list`: the information page, as schedule-gen placed the buffers from ports_ipa.
    for line in [
        "partition 'linux' (id 3): 7 ports, counter 62500000 Hz",
        "#  NAME          KIND      DIRECTION    MAX  DEPTH/REFRESH  BUFFERS",
        "0  speed         sampling  destination  64   refresh 1 s    data 0x50000000 (4096 bytes)",
        "1  status        sampling  source       64   no refresh     data 0x50001000 (4096 bytes)",
        "2  to_ctrl       queuing   source       64   depth 4        data 0x50002000 (4096 bytes), ack 0x50003000 (4096 bytes)",
        "3  from_display  queuing   destination  64   depth 4        data 0x50004000 (4096 bytes), ack 0x50005000 (4096 bytes)",
        "4  to_pong       queuing   source       32   depth 4        data 0x50006000 (4096 bytes), ack 0x50007000 (4096 bytes)",
        "5  from_pong     queuing   destination  32   depth 4        data 0x50008000 (4096 bytes), ack 0x50009000 (4096 bytes)",
        "6  ctl_out       queuing   source       16   depth 2        data 0x5000a000 (4096 bytes), ack 0x5000b000 (4096 bytes)",
    ] {
        log.assert_line(&format!("[linux] {line}"));
    }

    // `ports read speed`: ctrl's latest message, younger than its 1 s refresh period (ctrl
    // publishes every 500 ms).
    // (Found after the previous step's marker, not by the shell's echo of the command.)
    let read = log.assert_line("[linux] step-1");
    let frame = log.assert_line_after(read, "[linux] frame ");
    assert!(log.lines[frame].contains(" speed "), "{}", log.lines[frame]);
    let age = log.assert_line_after(frame, "[linux] age ");
    assert!(log.lines[age].ends_with(" us, valid"), "{}", log.lines[age]);

    // `ports write status`: display reads it; `ports send to_ctrl`: ctrl receives it.
    log.assert_line("[linux] wrote 16 bytes to 'status'");
    log.assert_line("[linux] sent 18 bytes to 'to_ctrl' (queue: ");
    assert_from("ctrl", &log, "received 'command from linux'");
    assert_from("display", &log, "read 'hello-from-linux', age ");

    // The doorbell: pong, blocked with no timeout, wakes at Linux's send and answers.
    let sent = log.assert_line("[linux] sent 6 bytes to 'to_pong' (queue: ");
    assert!(
        log.lines[sent].ends_with("; its receiver was waiting: doorbell rung"),
        "{}",
        log.lines[sent]
    );
    log.assert_line("[pong] receive from_ping (timeout INFINITE): NO_ERROR 'ping 1'");
    let pong = log.assert_line("[linux] pong 1");
    // Linux's receive waited for the answer on the line, and its doorbell ended the wait:
    // about 2 s (the ping's delay), far from the 20 s timeout; no fallback to polling.
    // busybox `time`: `real\t0m 2.01s`.
    let real = log.assert_line_after(pong, "[linux] real");
    let seconds = log.lines[real]
        .trim_start_matches("[linux] real")
        .split_once('m')
        .and_then(|(minutes, rest)| {
            let minutes: f64 = minutes.trim().parse().ok()?;
            let seconds: f64 = rest.trim().trim_end_matches('s').parse().ok()?;
            Some(minutes * 60.0 + seconds)
        })
        .unwrap_or_else(|| panic!("{}", log.lines[real]));
    assert!((1.5..10.0).contains(&seconds), "{}\n{log}", log.lines[real]);
    log.assert_no_line("[linux] ports: no doorbell line");
    log.assert_no_line("[linux] ports: cannot wait on the doorbell line");

    // display's answers: the first while `ports receive` waits on its line, the next after the queue
    // overflowed (reported with the message, as ARINC 653 does), then the rest cleared.
    let first = log.assert_line("[linux] display saw: hello-from-linux");
    let second = log.assert_line_after(first, "[linux] display saw: hello-from-linux");
    let overflow = log.assert_line_after(
        second,
        "[linux] overflow: the sender had messages refused (queue full) since the last receive \
         (ARINC 653: INVALID_CONFIG)",
    );
    log.assert_line_after(overflow, "[linux] cleared 'from_display': ");

    // Bad input: a clear message naming the port, a non-zero exit status. (The shell's
    // echo of this long command wraps, so the search starts after the previous step.)
    let mut at = log.assert_line("[linux] step-6");
    for line in [
        "ports: no port 'nosuch' in this partition; its ports: speed, status, to_ctrl, \
         from_display, to_pong, from_pong, ctl_out",
        "exit=1",
        "ports: port 'speed' is a sampling destination, not a queuing source (use 'ports read \
         speed')",
        "exit=1",
        "ports: port 'to_ctrl': the message is 65 bytes, the port takes at most 64",
        "exit=1",
        "ports: unknown command 'frobnicate' (see 'ports help')",
        "exit=2",
    ] {
        at = log.assert_line_after(at, &format!("[linux] {line}"));
    }

    // No kernel line says something was refused, no health-monitor event: the doorbell
    // store was a valid ring of the partition's own port.
    let refused: Vec<&String> = log
        .lines
        .iter()
        .filter(|l| l.starts_with("[pkernel] ") && l.contains("refused"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}\n{log}");
    log.assert_no_line("[pkernel] HM:");
}

/// Asserts that partition `partition` printed a line containing `text`.
fn assert_from(partition: &str, log: &hil_tests::RunLog, text: &str) {
    let prefix = format!("[{partition}] ");
    assert!(
        log.lines
            .iter()
            .any(|l| l.starts_with(&prefix) && l.contains(text)),
        "no line from {partition} containing {text:?}\n{log}"
    );
}
