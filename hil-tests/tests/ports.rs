//! HIL evidence for the ports (issue #8): sampling and queuing ports between partitions on
//! QEMU, through the APEX services (`apex_api::apex`) only, with the partitions' own words
//! checked against the configuration, the kernel's log and, where timing is the claim, the
//! kernel's schedule trace.
//!
//! Timing: QEMU without icount runs each vCPU as a host thread, so on a loaded 2-core host a
//! vCPU can be paused for milliseconds (tens of them now and then: the windows test measured
//! 38 ms worst with a build running beside, 69 ms with a second QEMU). Checks that compare a
//! time with a plan therefore allow [`HOST_TOLERANCE_NS`] (the windows test's 100 ms), and are
//! stated as such. A sampling message's age is not compared with the plan without icount at
//! all: a pause of the writer's thread (120 ms was seen on a loaded CI host) ages it beyond
//! any fixed tolerance; the icount test checks ages against the schedule exactly. Everything
//! else is exact:
//!
//! - each partition brackets each call with counter reads (`between <t0> and <t1>`), so a
//!   sampling message's age must lie between `read t0 - write t1` and `read t1 - write t0`
//!   however long the host paused anything;
//! - a blocking call's timeout can only end at or after its deadline;
//! - on a time-shared core the kernel's trace gives the real window boundaries, and every
//!   read and write must fall inside a window of its partition;
//! - under `-icount`, time is instructions: every frame repeats the one before, and ages are
//!   checked against the schedule with no tolerance beyond the few instructions by which a
//!   partition's first pass differs.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{assert_kernel_healthy, one_at_a_time, scenario};
use hil_tests::RunLog;
use schedule_gen::LoadedConfig;
use schedule_gen::model::{ChannelBuffer, PortKind};

/// How far QEMU without icount may delay a vCPU (see the module documentation).
const HOST_TOLERANCE_NS: u64 = 100_000_000;

/// Messages `bm-sampling`'s producer writes before it goes IDLE (`MESSAGES` there).
const SAMPLING_MESSAGES: u64 = 30;

/// A store becomes visible to another core a little after the writer's next counter read
/// (neither QEMU nor the architecture orders a counter read after an earlier store's
/// visibility): the "latest message" check allows this much, in ns. A real bug (a reader
/// returning the previous slot) is off by a whole write period.
const VISIBILITY_NS: u64 = 100_000;

// ------------------------------------------------------------------------------------------
// Configuration

fn load(config: &std::path::Path) -> LoadedConfig {
    schedule_gen::load(config).unwrap_or_else(|e| panic!("{}: {e:?}", config.display()))
}

fn partition_id(cfg: &LoadedConfig, name: &str) -> usize {
    cfg.partitions()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no partition {name}"))
}

/// The refresh period (ns) of `partition`'s sampling port `port`.
fn refresh_ns(cfg: &LoadedConfig, partition: &str, port: &str) -> u64 {
    let p = cfg.partition(partition_id(cfg, partition)).unwrap();
    let port = p.ports.iter().find(|q| q.name == port).expect("port");
    match port.kind {
        PortKind::Sampling {
            refresh_period_ns: Some(ns),
        } => ns,
        other => panic!("{partition}.{}: no refresh period: {other:?}", port.name),
    }
}

/// `partition`'s window on its core's schedule: (offset, end) in ns, and the major frame.
fn window(cfg: &LoadedConfig, partition: &str) -> (u64, u64, u64) {
    let id = partition_id(cfg, partition);
    cfg.schedules()
        .iter()
        .find_map(|s| {
            let w = s.windows.iter().find(|w| w.partition == id)?;
            Some((w.offset_ns, w.end_ns(), s.major_frame_ns))
        })
        .unwrap_or_else(|| panic!("{partition} has no window"))
}

fn ticks_to_ns(cfg: &LoadedConfig, ticks: i128) -> i128 {
    ticks * 1_000_000_000 / i128::from(cfg.counter_hz())
}

// ------------------------------------------------------------------------------------------
// Console lines

/// The decimal number after `key` in `line` (e.g. `between ` in `... between 12 and 13`).
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// `[<name>] wrote <n> between <w0> and <w1>`: (n, w0, w1), in order.
fn sampling_writes(log: &RunLog, name: &str) -> Vec<(u64, u64, u64)> {
    log.lines_with_prefix(&format!("[{name}] wrote "))
        .iter()
        .map(|l| {
            let n = number_after(l, "wrote ").expect(l);
            (
                n,
                number_after(l, "between ").expect(l),
                number_after(l, " and ").expect(l),
            )
        })
        .collect()
}

/// One line of a `bm-sampling` consumer.
#[derive(Clone, Debug)]
struct SampleRead {
    line: String,
    /// The message number, or `None` for a return code without a message.
    n: Option<u64>,
    age_ns: u64,
    valid: bool,
    /// The return code when there was no message.
    code: Option<String>,
    r0: u64,
    r1: u64,
}

fn sampling_reads(log: &RunLog, name: &str) -> Vec<SampleRead> {
    log.lines_with_prefix(&format!("[{name}] read"))
        .iter()
        .map(|l| {
            let rest = &l[name.len() + 3..];
            let (r0, r1) = (
                number_after(l, "between ").expect(l),
                number_after(l, " and ").expect(l),
            );
            let mut read = SampleRead {
                line: l.to_string(),
                n: None,
                age_ns: 0,
                valid: false,
                code: None,
                r0,
                r1,
            };
            if let Some(code) = rest.strip_prefix("read: ") {
                read.code = Some(code.split(' ').next().unwrap().to_owned());
            } else {
                assert!(!l.contains("CORRUPT"), "a torn or mixed-up message: {l}");
                read.n = number_after(l, "read ");
                read.age_ns = number_after(l, "age ").expect(l);
                read.valid = l.contains(" ns VALID ");
                assert!(read.valid || l.contains(" ns INVALID "), "{l}");
            }
            read
        })
        .collect()
}

/// Everything exact about a sampling channel, whatever the host did: the producer wrote
/// 1..=SAMPLING_MESSAGES in order and then went IDLE; and every read of `consumer`
/// - returned a whole message the producer wrote (its payload checked by the consumer), never
///   an older one than it read before, and never one older than the latest completely
///   written when the read began (a reader returning the previous slot fails here);
/// - gives an age between `r0 - w1` and `r1 - w0` of that message's brackets (an age taken
///   from anything but the writer's timestamp and the reader's clock fails here);
/// - says VALID exactly when that age is at most the port's refresh period;
/// - is NO_ACTION only before the first message was written.
///
/// Returns the reads.
fn check_sampling(
    log: &RunLog,
    cfg: &LoadedConfig,
    producer: &str,
    consumer: &str,
) -> Vec<SampleRead> {
    let writes = sampling_writes(log, producer);
    let numbers: Vec<u64> = writes.iter().map(|w| w.0).collect();
    assert_eq!(
        numbers,
        (1..=SAMPLING_MESSAGES).collect::<Vec<_>>(),
        "{producer} wrote\n{log}"
    );
    assert!(writes.iter().all(|w| w.1 <= w.2));
    log.assert_line(&format!(
        "[{producer}] stopping after {SAMPLING_MESSAGES} messages"
    ));
    log.assert_line(&format!(
        "[pkernel] partition '{producer}': mode NORMAL -> IDLE"
    ));
    let written: BTreeMap<u64, (u64, u64)> = writes.iter().map(|w| (w.0, (w.1, w.2))).collect();
    let refresh = refresh_ns(cfg, consumer, "samples");
    let visibility = i128::from(cfg.ticks(VISIBILITY_NS));
    let reads = sampling_reads(log, consumer);
    let mut last = 0;
    for r in &reads {
        let line = &r.line;
        assert!(r.r0 <= r.r1, "{line}");
        let Some(n) = r.n else {
            assert_eq!(r.code.as_deref(), Some("NO_ACTION"), "{line}\n{log}");
            assert_eq!(last, 0, "NO_ACTION after a message was read: {line}");
            let first_done = written[&1].1;
            assert!(
                i128::from(first_done) + visibility >= i128::from(r.r0),
                "empty although message 1 was written at {first_done}: {line}"
            );
            continue;
        };
        let Some(&(w0, w1)) = written.get(&n) else {
            panic!("{consumer} read message {n}, which {producer} never wrote: {line}\n{log}");
        };
        assert!(n >= last, "message {n} read after {last}: {line}");
        last = n;
        if let Some(&(_, next_done)) = written.get(&(n + 1)) {
            assert!(
                i128::from(next_done) + visibility >= i128::from(r.r0),
                "read {n} although {} was complete at {next_done}: {line}",
                n + 1
            );
        }
        let low = ticks_to_ns(cfg, i128::from(r.r0) - i128::from(w1));
        let high = ticks_to_ns(cfg, i128::from(r.r1) - i128::from(w0));
        let age = i128::from(r.age_ns);
        assert!(
            low <= age && age <= high,
            "age {age} ns outside [{low}, {high}] from the brackets of write {n} \
             ({w0}..{w1}) and the read: {line}"
        );
        assert_eq!(
            r.valid,
            r.age_ns <= refresh,
            "validity wrong for age {} ns, refresh period {refresh} ns: {line}",
            r.age_ns
        );
    }
    reads
}

/// The reads of message `SAMPLING_MESSAGES`, made after the producer went IDLE: their ages
/// grow, and once older than the refresh period they read INVALID (at least one does).
fn check_after_the_producer_stopped(
    log: &RunLog,
    cfg: &LoadedConfig,
    consumer: &str,
    reads: &[SampleRead],
) {
    let refresh = refresh_ns(cfg, consumer, "samples");
    let last: Vec<&SampleRead> = reads
        .iter()
        .filter(|r| r.n == Some(SAMPLING_MESSAGES))
        .collect();
    assert!(
        last.windows(2).all(|w| w[1].age_ns > w[0].age_ns),
        "{consumer}: the last message did not age\n{log}"
    );
    assert!(
        last.iter().any(|r| !r.valid && r.age_ns > refresh),
        "{consumer}: the last message never became INVALID (refresh period {refresh} ns)\n{log}"
    );
}

/// The window starts of core `core` in the trace, as (partition, start, end) with the end
/// the next slot's start (the last one open).
fn traced_windows(dump: &xtask::trace::TraceDump, core: u32) -> Vec<(Option<u16>, u64, u64)> {
    let starts: Vec<_> = dump
        .rows
        .iter()
        .filter(|r| r.core == core && r.kind == apex_api::trace::TraceKind::WindowStart as u8)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let end = starts.get(i + 1).map_or(u64::MAX, |next| next.actual);
            (r.partition, r.actual, end)
        })
        .collect()
}

/// Whether counter value `t` falls inside a traced window of partition `id`.
fn in_window(windows: &[(Option<u16>, u64, u64)], id: usize, t: u64) -> bool {
    windows
        .iter()
        .any(|&(p, start, end)| p == Some(id as u16) && start < t && t < end)
}

/// Sampling across cores (dedicated producer and consumer) and across windows of one
/// time-shared core (a writer and two consumers), without icount, with the kernel's trace.
///
/// Exact (see `check_sampling`): every read's message, age bracket and validity; on the
/// shared core, every write and read inside a traced window of its partition, so the age of a
/// message read across windows is the time between the writer's window and the reader's.
/// With the host tolerance: while the producers write, a message read across cores is at most
/// the write period plus the tolerance old, and one read across windows at most the planned
/// gap from the writer's window start to the reader's window end plus the tolerance. After
/// the producers stop, their last message ages and turns INVALID (exact). At least one read
/// of `fresh` (refresh period 15 ms, read about 10 ms after the write) is VALID and at least
/// one of `stale` (5 ms, about 14 ms after) INVALID while the writer writes: a frame the host
/// did not disturb shows each (here about nine in ten are undisturbed).
///
/// How it fails: a torn read (payload check), a stale slot ("latest" check), a wrong
/// timestamp or clock (age bracket), a wrong refresh comparison (validity), a writer or reader
/// running outside its windows (trace), a message that never ages (after the stop), or a
/// reader blocked or stopped (too few reads).
#[test]
fn sampling_messages_age_across_cores_and_across_windows() {
    let test = "sampling_messages_age_across_cores_and_across_windows";
    if hil_tests::skip_or_fail(test).is_none() {
        return;
    }
    let config = scenario("ports-sampling");
    let cfg = load(&config);
    let _guard = one_at_a_time();
    let image = xtask::image::build_system(&config).expect("building ports-sampling");
    let limits = hil_tests::RunLimits::default()
        .with_timeout(Duration::from_secs(90))
        .with_idle_timeout(Duration::from_secs(20));
    let run = xtask::trace::run_traced(hil_tests::QemuVirt::new(), &image.kernel, &limits)
        .expect("QEMU could not be started");
    let log = &run.log;
    assert_kernel_healthy(log);
    log.assert_clean_exit();
    log.assert_no_line("[pkernel] HM:");
    // Every line is evidence: none may have been dropped.
    log.assert_no_line("[pkernel] console of ");
    log.assert_no_line_containing("FAILED");

    // Across cores: written every 10 ms, read every 25 ms.
    let reads = check_sampling(log, &cfg, "producer", "consumer");
    let while_writing: Vec<&SampleRead> = reads
        .iter()
        .filter(|r| r.n.is_some_and(|n| n < SAMPLING_MESSAGES))
        .collect();
    assert!(
        while_writing.len() >= 10,
        "only {} reads while the producer wrote\n{log}",
        while_writing.len()
    );
    // How old a message may be against the plan (write period) depends on how long the host
    // paused the writer's vCPU thread, which no tolerance bounds on a loaded CI machine (a
    // 120 ms pause was seen): the exact bracket checks above hold whatever the host does, and
    // the plan itself is checked under icount.
    check_after_the_producer_stopped(log, &cfg, "consumer", &reads);

    // Across windows of core 0.
    let trace = traced_windows(run.assert_trace(), 0);
    let writer = partition_id(&cfg, "writer");
    let writes: BTreeMap<u64, (u64, u64)> = sampling_writes(log, "writer")
        .into_iter()
        .map(|(n, w0, w1)| (n, (w0, w1)))
        .collect();
    for (name, expect_valid) in [("fresh", true), ("stale", false)] {
        let reads = check_sampling(log, &cfg, "writer", name);
        let id = partition_id(&cfg, name);
        let mut traced = 0;
        for r in &reads {
            let Some(n) = r.n else { continue };
            let (w0, w1) = writes[&n];
            // Reads and writes before the trace's oldest record cannot be placed.
            if trace.first().is_some_and(|&(_, first, _)| w0 > first) {
                traced += 1;
                for (who, pid, t) in [
                    ("writer", writer, w0),
                    ("writer", writer, w1),
                    (name, id, r.r0),
                    (name, id, r.r1),
                ] {
                    assert!(
                        in_window(&trace, pid, t),
                        "{who} ran at {t}, outside its windows: {}\n{:?}",
                        r.line,
                        trace
                            .iter()
                            .filter(|w| w.1 <= t + 2_000_000 && t < w.2 + 2_000_000)
                            .collect::<Vec<_>>()
                    );
                }
            }
            // Not checked here against the gap between the windows: a host pause of the
            // writer's thread makes any bound luck (see the cross-core case); the icount test
            // checks the gap exactly.
        }
        assert!(
            traced >= 20,
            "{name}: only {traced} reads in the trace\n{log}"
        );
        assert!(
            reads
                .iter()
                .any(|r| r.n.is_some_and(|n| n < SAMPLING_MESSAGES) && r.valid == expect_valid),
            "{name}: no read while the writer wrote was {}\n{log}",
            if expect_valid { "VALID" } else { "INVALID" }
        );
        check_after_the_producer_stopped(log, &cfg, name, &reads);
    }
}

/// The time-shared half of the sampling scenario on a one-core module under
/// `-icount shift=0,sleep=off`, where time is instructions and nothing else runs: every frame
/// repeats the one before. While the writer writes (once a frame, early in its window at
/// 0 ms), every message `fresh` reads (in its window at 10 ms) is between 8 and 12 ms old
/// (the planned gap from the end of the writer's window to the start of fresh's, to the end of
/// fresh's from the start of the writer's) and VALID (refresh period 15 ms); every one `stale`
/// reads (window at 14 ms) is between 12 and 16 ms old and INVALID (5 ms); in each the age is
/// the same in every frame within 1 µs (the first write and read take a few more
/// instructions than the later ones: they run right after initialisation). After the writer
/// stops, its last message is one major frame older at every read.
///
/// How it fails: a message that is not the one written in the same frame (age off by a
/// frame), an age or validity computed wrongly, or windows or waits that drift.
#[test]
fn under_icount_a_sampling_message_read_across_windows_is_as_old_as_their_gap() {
    let test = "under_icount_a_sampling_message_read_across_windows_is_as_old_as_their_gap";
    let config = scenario("ports-sampling-icount");
    let Some(log) = common::boot_icount(test, &config) else {
        return;
    };
    let cfg = load(&config);
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
    log.assert_no_line("[pkernel] HM:");
    log.assert_no_line("[pkernel] console of ");
    log.assert_no_line_containing("FAILED");
    let (writer_start, writer_end, frame) = window(&cfg, "writer");
    for (name, valid) in [("fresh", true), ("stale", false)] {
        let reads = check_sampling(&log, &cfg, "writer", name);
        let (start, end, _) = window(&cfg, name);
        let ages: Vec<u64> = reads
            .iter()
            .filter(|r| r.n.is_some_and(|n| n < SAMPLING_MESSAGES))
            .map(|r| {
                assert_eq!(r.valid, valid, "{}", r.line);
                assert!(
                    start - writer_end <= r.age_ns && r.age_ns <= end - writer_start,
                    "{name}: age outside the gap between the windows: {}",
                    r.line
                );
                r.age_ns
            })
            .collect();
        assert!(
            ages.len() >= SAMPLING_MESSAGES as usize - 2,
            "{name}: {ages:?}"
        );
        let (min, max) = (ages.iter().min().unwrap(), ages.iter().max().unwrap());
        assert!(
            max - min <= 1_000,
            "{name}: ages vary from {min} to {max} ns"
        );
        let stopped: Vec<u64> = reads
            .iter()
            .filter(|r| r.n == Some(SAMPLING_MESSAGES))
            .map(|r| r.age_ns)
            .collect();
        assert!(stopped.len() >= 10, "{name}: {stopped:?}");
        check_after_the_producer_stopped(&log, &cfg, name, &reads);
        for pair in stopped.windows(2) {
            let aged = pair[1] - pair[0]; // increasing: checked just above
            assert!(
                aged.abs_diff(frame) <= 1_000,
                "{name}: the last message aged {aged} ns between two reads a frame apart"
            );
        }
        eprintln!("{name}: age {min}..={max} ns in {} frames", ages.len());
    }
}

// ------------------------------------------------------------------------------------------
// Queuing

/// Round trips of `bm-queuing`'s step 1 (`ROUNDS` there).
const ROUNDS: u64 = 10;

/// `name`'s lines (after its prefix) with any trailing ` after <us> us` taken off, and that
/// number.
fn script(log: &RunLog, name: &str) -> Vec<(String, Option<u64>)> {
    log.partition_lines(name)
        .iter()
        .map(|l| {
            let l = &l[name.len() + 3..];
            match l.rsplit_once(" after ") {
                Some((head, tail)) if tail.ends_with(" us") => {
                    (head.to_owned(), tail.trim_end_matches(" us").parse().ok())
                }
                _ => (l.to_owned(), None),
            }
        })
        .collect()
}

/// The microseconds `name`'s line `line` (exactly, without its time) took.
fn took_us(lines: &[(String, Option<u64>)], name: &str, line: &str) -> u64 {
    lines
        .iter()
        .find(|(l, _)| l == line)
        .and_then(|(_, us)| *us)
        .unwrap_or_else(|| panic!("{name}: no timed line {line:?}"))
}

/// `ping` (dedicated core 1) and `pong` (time-shared core 0, a 3 ms window every 10 ms) play
/// bm-queuing's script through the APEX queuing services. Each prints one line per call, and
/// the lines must be exactly the script (below: every return code, every message and its
/// order), so:
///
/// - a lost doorbell fails it: `pong` receives with no timeout, so it would wait for ever and
///   its lines stop; `ping` would get its answer only when its 1 s timeout let it look again,
///   which the round-trip bound below (two of `pong`'s periods plus the host tolerance)
///   refuses;
/// - a full queue not refused (NOT_AVAILABLE), an overflow not reported with the next message
///   (INVALID_CONFIG), a CLEAR that leaves messages (status, then NOT_AVAILABLE), an overflow
///   reported twice, or a blocked send not woken by the receive that makes room, all change a
///   line;
/// - a timeout that ends early fails the bounds below exactly (a wait ends at or after its
///   deadline); one that ends late fails them beyond the host tolerance.
#[test]
fn queuing_ping_pong_with_timeouts_overflow_and_clear() {
    let config = scenario("ports-queuing");
    let Some(log) = common::boot(
        "queuing_ping_pong_with_timeouts_overflow_and_clear",
        &config,
    ) else {
        return;
    };
    let cfg = load(&config);
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
    log.assert_no_line("[pkernel] HM:");
    log.assert_no_line("[pkernel] console of ");
    let depth = 4; // max_messages of to_pong / from_ping
    let reply = "(timeout 1000000 us)";
    let mut want_ping = Vec::new();
    let mut want_pong = Vec::new();
    let round = |k: u64, ping: &mut Vec<String>, pong: &mut Vec<String>| {
        ping.push(format!("send to_pong 'ping {k}' (timeout 0): NO_ERROR"));
        ping.push(format!("receive from_pong {reply}: NO_ERROR 'pong {k}'"));
        pong.push(format!(
            "receive from_ping (timeout INFINITE): NO_ERROR 'ping {k}'"
        ));
        pong.push(format!("send to_ping 'pong {k}' (timeout 0): NO_ERROR"));
    };
    for k in 1..=ROUNDS {
        round(k, &mut want_ping, &mut want_pong);
    }
    want_ping.extend([
        "send to_pong 'quiet' (timeout 0): NO_ERROR".to_owned(),
        "receive from_pong (timeout 30000 us): TIMED_OUT".to_owned(),
        "send to_pong 'hold' (timeout 0): NO_ERROR".to_owned(),
        format!("receive from_pong {reply}: NO_ERROR 'holding'"),
    ]);
    want_pong.extend([
        "receive from_ping (timeout INFINITE): NO_ERROR 'quiet'".to_owned(),
        "receive ctl_in (timeout 20000 us): TIMED_OUT".to_owned(),
        "receive from_ping (timeout INFINITE): NO_ERROR 'hold'".to_owned(),
        "send to_ping 'holding' (timeout 0): NO_ERROR".to_owned(),
        "receive ctl_in (timeout INFINITE): NO_ERROR 'filled'".to_owned(),
        // The oldest message, with the overflow of the two refused sends.
        "receive from_ping (timeout 0): INVALID_CONFIG 'fill 1'".to_owned(),
        format!("status from_ping: {} of {depth} messages", depth - 1),
        "clear from_ping: NO_ERROR".to_owned(),
        format!("status from_ping: 0 of {depth} messages"),
        "receive from_ping (timeout 0): NOT_AVAILABLE".to_owned(),
        "send to_ping 'cleared' (timeout 0): NO_ERROR".to_owned(),
    ]);
    for i in 1..=depth {
        want_ping.push(format!("send to_pong 'fill {i}' (timeout 0): NO_ERROR"));
    }
    want_ping.extend([
        format!(
            "send to_pong 'fill {}' (timeout 0): NOT_AVAILABLE",
            depth + 1
        ),
        format!(
            "send to_pong 'fill {}' (timeout 20000 us): TIMED_OUT",
            depth + 2
        ),
        "send ctl_out 'filled' (timeout 0): NO_ERROR".to_owned(),
        format!("receive from_pong {reply}: NO_ERROR 'cleared'"),
    ]);
    // The cleared queue works, and reports no overflow again.
    round(ROUNDS + 1, &mut want_ping, &mut want_pong);
    for i in 1..=depth {
        want_ping.push(format!("send to_pong 'more {i}' (timeout 0): NO_ERROR"));
    }
    want_ping.extend([
        "send ctl_out 'refilled' (timeout 0): NO_ERROR".to_owned(),
        format!(
            "send to_pong 'more {}' (timeout INFINITE): NO_ERROR",
            depth + 1
        ),
        format!("receive from_pong {reply}: NO_ERROR 'got {}'", depth + 1),
        "done".to_owned(),
    ]);
    want_pong.push("receive ctl_in (timeout INFINITE): NO_ERROR 'refilled'".to_owned());
    for i in 1..=depth + 1 {
        want_pong.push(format!("receive from_ping {reply}: NO_ERROR 'more {i}'"));
    }
    want_pong.extend([
        format!("send to_ping 'got {}' (timeout 0): NO_ERROR", depth + 1),
        "done".to_owned(),
    ]);
    let ping = script(&log, "ping");
    let pong = script(&log, "pong");
    let lines =
        |s: &[(String, Option<u64>)]| -> Vec<String> { s.iter().map(|(l, _)| l.clone()).collect() };
    assert_eq!(lines(&ping), want_ping, "ping's script\n{log}");
    assert_eq!(lines(&pong), want_pong, "pong's script\n{log}");

    // Times, in µs. `pong` runs 3 ms of every 10 ms: a wait of `pong` that ends while it is
    // out is answered at its next window, up to 7 ms later; and it answers a ping after the
    // 7 ms pause that follows its line about it, so in its next window or the one after.
    let (start, end, frame) = window(&cfg, "pong");
    let out_us = (frame - (end - start)) / 1000;
    let frame_us = frame / 1000;
    let tolerance_us = HOST_TOLERANCE_NS / 1000;
    for k in 1..=ROUNDS + 1 {
        let us = took_us(
            &ping,
            "ping",
            &format!("receive from_pong {reply}: NO_ERROR 'pong {k}'"),
        );
        assert!(
            us <= 2 * frame_us + tolerance_us,
            "round {k} took {us} us: more than two of pong's periods and the host tolerance"
        );
    }
    for (name, lines, line, timeout_us, late_us) in [
        (
            "ping",
            &ping,
            "receive from_pong (timeout 30000 us): TIMED_OUT".to_owned(),
            30_000,
            0,
        ),
        (
            "ping",
            &ping,
            format!(
                "send to_pong 'fill {}' (timeout 20000 us): TIMED_OUT",
                depth + 2
            ),
            20_000,
            0,
        ),
        (
            "pong",
            &pong,
            "receive ctl_in (timeout 20000 us): TIMED_OUT".to_owned(),
            20_000,
            out_us,
        ),
    ] {
        let us = took_us(lines, name, &line);
        assert!(
            timeout_us <= us && us <= timeout_us + late_us + tolerance_us,
            "{name}: {line:?} after {us} us"
        );
    }
    // The last send found the queue full and blocked until pong's first receive, which pong
    // makes 150 ms after it learnt of the refill (bm-queuing's LET_SENDER_BLOCK_NS): ping
    // sent 'refilled' just before that send, so unless the host held ping back between the
    // two for more than the tolerance, it waited at least 150 ms less the tolerance.
    let blocked = took_us(
        &ping,
        "ping",
        &format!(
            "send to_pong 'more {}' (timeout INFINITE): NO_ERROR",
            depth + 1
        ),
    );
    assert!(
        (150_000 - tolerance_us..=150_000 + 2 * frame_us + tolerance_us).contains(&blocked),
        "the send to the full queue took {blocked} us: it did not block until pong received"
    );
}

// ------------------------------------------------------------------------------------------
// A hostile writer

/// What `wary` got from one port, from its `read <k>: <port> ...` lines: for each line, the
/// read it was printed at and the outcome (`VALID`, `INVALID`, a return code, `GARBAGE`,
/// `EARLY`) with the message number if there was one. `wary` prints a line whenever the
/// outcome changes, so the outcome of read `k` is the last line at or before `k`.
fn outcomes(log: &RunLog, port: &str) -> Vec<(u64, String, Option<u64>)> {
    let key = format!(": {port} ");
    log.lines_with_prefix("[wary] read ")
        .iter()
        .filter_map(|l| {
            let k = number_after(l, "read ")?;
            let rest = &l[l.find(&key)? + key.len()..];
            Some(match rest.strip_prefix("message ") {
                Some(m) => {
                    let n = number_after(m, "").expect(l);
                    // Sampling: `message <n> <VALID|INVALID> age ...`; queuing: `message <n> <code>`.
                    let what = m.split(' ').nth(1).expect(l).to_owned();
                    (k, what, Some(n))
                }
                None if rest.contains(" EARLY ") => (k, "EARLY".to_owned(), None),
                None => (k, rest.split(' ').next().unwrap().to_owned(), None),
            })
        })
        .collect()
}

/// The outcome of read `k` (see [`outcomes`]).
fn outcome_at(timeline: &[(u64, String, Option<u64>)], k: u64) -> &str {
    timeline
        .iter()
        .rev()
        .find(|(at, _, _)| *at <= k)
        .map_or("none", |(_, what, _)| what.as_str())
}

/// `hostile` corrupts its own channel buffers with raw stores, one way after the other (see
/// bm-hostile's table), and `wary` reads through the APEX services. For every phase, every
/// read `wary` started once the corruption was in place (after read `c0 + 2`: one read of
/// slack for the store to become visible) and finished before it was undone (read `c1`) got
/// what the table says, on both ports; and `wary` made at least `READS_PER_PHASE - 2` such
/// reads in each phase (`hostile` waits for them), so it never hung, whatever the corruption.
/// `wary` never faulted (no HM line) and never saw a timeout end early; after the honest
/// phases it reads the new messages again, and it is still reading when the run ends.
///
/// Exact, except that the honest phases expect VALID messages, which holds while the host
/// never delays the writer by the refresh period (150 ms) less its write period (1 ms).
///
/// How it fails: a reader that follows a length or counter it read (reads outside the
/// buffer: a fault, or garbage), spins on an odd sequence or a racing writer (no progress:
/// `hostile` never ends the phase), takes a corrupted message for a valid one (an outcome
/// other than NOT_AVAILABLE), keeps state from the corruption (not reading the honest
/// messages again), or whose blocking receive is ended early by a doorbell storm.
#[test]
fn a_reader_survives_a_hostile_writer_and_reads_again_when_it_is_honest() {
    let test = "a_reader_survives_a_hostile_writer_and_reads_again_when_it_is_honest";
    let Some(log) = common::boot(test, &scenario("ports-hostile")) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
    log.assert_no_line("[pkernel] HM:");
    log.assert_no_line("[pkernel] console of ");
    log.assert_no_line_containing("FAILED");
    log.assert_no_line_containing("EARLY");
    log.assert_no_line_containing("GARBAGE");
    log.assert_line("[hostile] all phases done");
    let samples = outcomes(&log, "samples");
    let queue = outcomes(&log, "queue");
    let last_honest = number_after(
        &log.lines[log.assert_line("[hostile] phase odd-sequence: last honest message ")],
        "message ",
    )
    .unwrap();
    let first_again = number_after(
        &log.lines[log.assert_line("[hostile] phase honest-again: first message ")],
        "message ",
    )
    .unwrap();
    let phases: Vec<(String, u64, u64)> = log
        .lines_with_prefix("[hostile] phase ")
        .iter()
        .filter(|l| l.contains(": reads "))
        .map(|l| {
            let name = l["[hostile] phase ".len()..].split(':').next().unwrap();
            (
                name.to_owned(),
                number_after(l, ": reads ").unwrap(),
                number_after(l, " to ").unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = phases.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "honest",
            "odd-sequence",
            "absurd-length",
            "zero-length",
            "future-timestamp",
            "racing-sequence",
            "honest-again",
            "queue-far-ahead",
            "queue-behind",
            "queue-absurd-length",
            "doorbell-storm",
            "queue-honest",
            "after",
        ],
        "{log}"
    );
    for (name, c0, c1) in &phases {
        let (want_samples, want_queue): (&[&str], &[&str]) = match name.as_str() {
            "honest" | "honest-again" | "doorbell-storm" | "after" => (&["VALID"], &["TIMED_OUT"]),
            "odd-sequence" => (&["VALID", "INVALID"], &["TIMED_OUT"]),
            "absurd-length" | "zero-length" | "future-timestamp" => {
                (&["NOT_AVAILABLE"], &["TIMED_OUT"])
            }
            "racing-sequence" => (&["NOT_AVAILABLE", "INVALID"], &["TIMED_OUT"]),
            "queue-far-ahead" | "queue-behind" | "queue-absurd-length" => {
                (&["VALID"], &["NOT_AVAILABLE"])
            }
            // Checked below: the messages were sent before c0.
            "queue-honest" => (&["VALID"], &["TIMED_OUT", "NO_ERROR"]),
            other => panic!("unknown phase {other}"),
        };
        let checked = c0 + 3..=*c1;
        assert!(
            checked.clone().count() as u64 >= 6,
            "phase {name}: only reads {c0} to {c1}\n{log}"
        );
        for k in checked {
            for (port, timeline, want) in [
                ("samples", &samples, want_samples),
                ("queue", &queue, want_queue),
            ] {
                let got = outcome_at(timeline, k);
                assert!(
                    want.contains(&got),
                    "phase {name}, read {k}: {port} gave {got}, not one of {want:?}\n{log}"
                );
            }
        }
        // Every message read during a phase is one the writer wrote honestly: during the
        // corruptions an old one, after them a new one. The same slack as above: a read
        // started before `c0 + 2` may see what was there before the phase (CI once saw
        // the last honest message at the start of honest-again).
        let in_phase = |t: &(u64, String, Option<u64>)| c0 + 2 < t.0 && t.0 <= *c1;
        for (k, what, n) in samples.iter().filter(|t| in_phase(t)) {
            if let Some(n) = n {
                match name.as_str() {
                    "odd-sequence" | "racing-sequence" => assert!(
                        *n <= last_honest,
                        "read {k}: message {n} {what} during {name}, after {last_honest}\n{log}"
                    ),
                    "honest-again" => assert!(
                        *n >= first_again,
                        "read {k}: message {n} during honest-again (reads {c0} to {c1}), \
                         before {first_again}\n{log}"
                    ),
                    _ => {}
                }
            }
        }
    }
    // The odd sequence leaves the last complete message readable, ageing: INVALID by the end.
    let (_, _, odd_end) = phases[1];
    assert_eq!(outcome_at(&samples, odd_end), "INVALID", "{log}");
    assert!(
        samples
            .iter()
            .any(|(_, what, n)| what == "INVALID" && *n == Some(last_honest)),
        "the last honest message {last_honest} never read INVALID\n{log}"
    );
    // Back to honest: new messages, VALID.
    let (_, again_c0, again_c1) = phases[6];
    assert!(
        samples.iter().any(|(k, what, n)| {
            (again_c0..=again_c1).contains(k)
                && what == "VALID"
                && n.is_some_and(|n| n >= first_again)
        }),
        "no new message read after the writer was honest again\n{log}"
    );
    // The queue: the three honest messages, in order, then empty again.
    let storm_end = phases[10].2;
    let after: Vec<(String, Option<u64>)> = queue
        .iter()
        .filter(|(k, _, _)| *k > storm_end)
        .map(|(_, what, n)| (what.clone(), *n))
        .collect();
    assert_eq!(
        after,
        [
            ("NO_ERROR".to_owned(), Some(1)),
            ("NO_ERROR".to_owned(), Some(2)),
            ("NO_ERROR".to_owned(), Some(3)),
            ("TIMED_OUT".to_owned(), None),
        ],
        "{log}"
    );
    // Its own heartbeat: reads counted up without a gap in its numbering (the phase `after`
    // already showed it reading on once everything was over).
    let alive: Vec<u64> = log
        .lines_with_prefix("[wary] read ")
        .iter()
        .filter(|l| l.ends_with(": alive"))
        .filter_map(|l| number_after(l, "read "))
        .collect();
    assert!(
        alive.len() >= 2 && alive.windows(2).all(|w| w[1] == w[0] + 50),
        "wary's heartbeat: {alive:?}\n{log}"
    );
}

// ------------------------------------------------------------------------------------------
// A destination writing its read-only view

/// `vandal`, a destination of the channel `producer` writes every 10 ms (to `consumer` as
/// well), reads three messages and then stores into its view of the channel buffer, which
/// the kernel maps read-only for a destination. The kernel's health monitor reports a
/// stage-2 *permission* fault for a write at exactly that buffer address (from the
/// configuration), decodes it, stops `vandal` (its next line never appears) and nothing else:
/// the producer writes all its messages and the consumer reads them, with every exact check
/// of the sampling tests, long after the fault (judged by their counter values against the one
/// `vandal` printed just before its store, not by the order of lines on the console, which
/// mixes sources).
///
/// How it fails: a writable view (no HM line, and `vandal` goes on), a fault reported as
/// something else or at another address, an HM action that reaches another partition, or a
/// store that went through and broke the readers (the consumer's checks).
#[test]
fn a_destination_writing_its_read_only_view_is_stopped_and_the_writer_runs_on() {
    let test = "a_destination_writing_its_read_only_view_is_stopped_and_the_writer_runs_on";
    let config = scenario("ports-read-only");
    let Some(log) = common::boot(test, &config) else {
        return;
    };
    let cfg = load(&config);
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
    log.assert_no_line("[pkernel] console of ");
    log.assert_no_line_containing("FAILED");
    let vandal = cfg.partition(partition_id(&cfg, "vandal")).unwrap();
    let core = vandal.cores[0];
    let ipa = vandal
        .ports
        .iter()
        .find(|p| p.name == "samples")
        .and_then(|p| p.mappings.iter().find(|m| m.buffer == ChannelBuffer::Data))
        .expect("vandal's samples buffer")
        .ipa;
    let read = log.numbers_after("[vandal] read ");
    assert!(
        read.len() == 3 && read.windows(2).all(|w| w[1] > w[0]),
        "vandal did not read three messages first\n{log}"
    );
    let store = log.assert_line(&format!(
        "[vandal] writing 0 to my read-only view of 'samples' at {ipa:#x} (counter "
    ));
    let at = number_after(&log.lines[store], "(counter ").unwrap();
    let fault = log.assert_line(&format!(
        "[pkernel] HM: partition 'vandal' stage-2 abort on core {core}: write at IPA {ipa:#x} (VA {ipa:#x}), pc 0x"
    ));
    let esr = log.assert_line_after(fault, "[pkernel] HM: ESR_EL2 0x9");
    assert!(
        log.lines[esr].contains(
            "(data abort from a lower EL: write, permission fault level 3, 8-byte access"
        ),
        "not decoded as a stage-2 write permission fault: {}",
        log.lines[esr]
    );
    let action = log.assert_line_after(esr, "[pkernel] HM: action: stop partition 'vandal'");
    log.assert_line_after(
        action,
        &format!("[pkernel] partition 'vandal' stopped; core {core} idle"),
    );
    log.assert_no_line("[vandal] still running");
    // The fault was the only HM event.
    assert_eq!(
        log.lines_with_prefix("[pkernel] HM: partition ").len(),
        1,
        "{log}"
    );
    // The writer and the other reader carry on, checked exactly; and after the fault.
    let reads = check_sampling(&log, &cfg, "producer", "consumer");
    let writes_after = sampling_writes(&log, "producer")
        .iter()
        .filter(|w| w.1 > at)
        .count();
    assert!(
        writes_after >= 20,
        "the producer wrote only {writes_after} messages after the fault\n{log}"
    );
    let reads_after: Vec<u64> = reads
        .iter()
        .filter(|r| r.r0 > at)
        .filter_map(|r| r.n)
        .collect();
    assert!(
        reads_after.len() >= 10
            && reads_after.first() < reads_after.last()
            && reads_after.last() == Some(&SAMPLING_MESSAGES),
        "the consumer read {reads_after:?} after the fault\n{log}"
    );
}

/// The message copies as they run on the target: on AArch64 a caller's message words, at any
/// address, move by SIMD loads and stores, which no host test executes. `bm-port-copies` sends every
/// length from 1 to 200 bytes (every path of the copy: whole 64-byte blocks, then 4, 2 and 1
/// words, then a tail of 1 to 7 bytes) from every offset 0..8 of an aligned buffer into an
/// aligned and an unaligned receive buffer, through both protocols over its kernel-mapped
/// buffers, and checks each message and the guard bytes around it.
///
/// How it fails: a wrong word count or tail, a byte written outside the caller's buffer, an
/// alignment fault on the Device-memory buffers (the partition would stop with an HM line),
/// or fewer cases than 3 x 8 x 200.
#[test]
fn ports_copy_every_length_and_alignment() {
    let test = "ports_copy_every_length_and_alignment";
    let Some(log) = common::boot(test, &scenario("ports-copies")) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
    log.assert_no_line_containing("FAIL");
    log.assert_line("[copies] copies: 4800 cases ok");
}
