//! The demo system (`configs/demo.toml`, what `cargo xtask run` boots) does what SPEC §7 and
//! the README say: the control partition publishes a sampling message once a period, the
//! other three read it (under their own port names) with its age and validity, and queuing
//! messages flow back to the control partition.

mod common;

use std::time::Duration;

use hil_tests::{QemuVirt, RunLimits, Target};

use common::{assert_kernel_healthy, one_at_a_time, type_at_linux_shell};

/// `'frame N speed V'` in `line`: N.
fn frame_in(line: &str) -> Option<u64> {
    let start = line.find("'frame ")? + "'frame ".len();
    line[start..].split(' ').next()?.parse().ok()
}

/// `age A ms` in `line`: A.
fn age_in(line: &str) -> Option<u64> {
    let start = line.find(", age ")? + ", age ".len();
    line[start..].split(' ').next()?.parse().ok()
}

/// Boots the demo (unless `test` is skipped) under `limits`.
fn boot_demo(test: &str, limits: &RunLimits) -> Option<hil_tests::RunLog> {
    hil_tests::skip_or_fail(test)?;
    let _guard = one_at_a_time();
    let image = xtask::image::build_system(&xtask::demo_config()).unwrap();
    Some(
        QemuVirt::new()
            .run(&image.kernel, limits)
            .expect("QEMU could not be started"),
    )
}

#[test]
fn the_demo_publishes_reads_and_replies_through_its_channels() {
    // The demo runs until stopped: a few seconds give some 20 major frames of 100 ms.
    let limits = RunLimits::default()
        .with_timeout(Duration::from_secs(4))
        .with_idle_timeout(Duration::from_secs(4));
    let Some(log) = boot_demo(
        "the_demo_publishes_reads_and_replies_through_its_channels",
        &limits,
    ) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_no_line("[pkernel] HM:");
    for name in ["ctrl", "nav", "logger", "sensor"] {
        for line in log.partition_lines(name) {
            assert!(
                !line.contains("failed") && !line.contains("not sent") && !line.contains("demo:"),
                "{line}"
            );
        }
    }
    // ctrl publishes frames 1, 2, 3, ... one per period.
    let published: Vec<u64> = log
        .partition_lines("ctrl")
        .iter()
        .filter(|l| l.contains(": published "))
        .filter_map(|l| frame_in(l))
        .collect();
    assert!(
        published.len() >= 10,
        "only {} frames published",
        published.len()
    );
    assert!(
        published.windows(2).all(|w| w[1] == w[0] + 1),
        "frames skipped or repeated: {published:?}"
    );
    let last = *published.last().unwrap();
    // Every reader sees published frames, in order, and reports validity as its age says
    // (VALID up to its refresh period, 100 ms for nav and logger, 150 ms for sensor; the age
    // is printed in whole ms, truncated). How old a message is depends on the host pausing
    // QEMU's vCPU threads, so ages are not bounded here. Each reads once per period, so it
    // sees (almost) every frame.
    for (name, refresh_ms) in [("nav", 100), ("logger", 100), ("sensor", 150)] {
        let reads: Vec<(u64, u64)> = log
            .partition_lines(name)
            .iter()
            .filter(|l| l.contains(": read "))
            .map(|l| {
                let age = age_in(l).unwrap();
                if l.ends_with(", valid") {
                    assert!(age <= refresh_ms, "{l}");
                } else {
                    assert!(l.contains(", INVALID") && age >= refresh_ms, "{l}");
                }
                (frame_in(l).unwrap(), age)
            })
            .collect();
        assert!(
            reads.len() >= 8,
            "{name} read only {} messages",
            reads.len()
        );
        assert!(
            reads.windows(2).all(|w| w[1].0 >= w[0].0),
            "{name} read frames out of order: {reads:?}"
        );
        for &(frame, _) in &reads {
            assert!(
                frame <= last + 1,
                "{name} read frame {frame}, never published"
            );
        }
    }
    // What nav and sensor saw flows back to ctrl through their queuing ports.
    for from in ["nav", "sensor"] {
        let replies: Vec<u64> = log
            .partition_lines("ctrl")
            .iter()
            .filter(|l| l.contains(&format!("received '{from} saw: ")))
            .filter_map(|l| frame_in(&l.replace(&format!("{from} saw: "), "")))
            .collect();
        assert!(
            replies.len() >= 8,
            "ctrl got {} replies from {from}",
            replies.len()
        );
        // A reader whose period is not the publisher's may see one frame twice, and says so.
        assert!(
            replies.windows(2).all(|w| w[1] >= w[0]),
            "replies from {from} lost their order: {replies:?}"
        );
    }
}

/// The demo's Linux partition (cores 2-3) boots to its shell beside the bare-metal ones, and
/// what is typed there goes through the same channels: `ports read speed` gets ctrl's
/// sampling message (a frame ctrl published, with its age), and `ports send to_ctrl` reaches
/// ctrl, which prints it. No supervisor and no icount: the run follows the console and ends
/// once Linux said it sent the message and ctrl said it received it.
///
/// How it fails: Linux not reaching its shell (a stuck boot), the tool failing to find its
/// ports or read the channel (an error line instead of a frame), or ctrl never receiving the
/// message (the line never comes: the run times out).
#[test]
fn the_demo_linux_reads_speed_and_sends_to_ctrl() {
    let limits = type_at_linux_shell(
        RunLimits::default()
            .with_timeout(Duration::from_secs(180))
            .with_idle_timeout(Duration::from_secs(30)),
        &["ports read speed", "ports send to_ctrl hello-from-linux"],
    )
    // Both lines: Linux's and ctrl's consoles drain in an order the host's timing decides.
    .with_stop_when("[linux] sent 16 bytes to 'to_ctrl'")
    .with_stop_when_line("[ctrl] at ", "received 'hello-from-linux'");
    let Some(log) = boot_demo("the_demo_linux_reads_speed_and_sends_to_ctrl", &limits) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_no_line("[pkernel] HM:");
    log.assert_line("[pkernel] core 3: reserved for partition 'linux' (vCPU 1, started by it)");
    log.assert_line_containing("smp: Brought up 1 node, 2 CPUs");
    let frame = log.assert_line("[linux] frame ");
    let age = log.assert_line_after(frame, "[linux] age ");
    log.assert_line_after(age, "[linux] step-1");
    log.assert_line("[linux] sent 16 bytes to 'to_ctrl'");
    // The run ended once ctrl said it received the message (or timed out).
    assert_eq!(log.end, hil_tests::RunEnd::StopLineSeen, "{log}");
}
