//! The schedule trace on the host: the generated ring length for every configuration in the
//! repository, and the "Planned vs observed" report from a trace of the flight configuration
//! (golden snapshots of the trace CSV and of the three reports, determinism, and that the
//! rest of the report does not change). The trace is synthetic: it walks the schedule the way
//! the kernel's window cursor does and records each start a few ticks late.
//!
//! Refresh the snapshots with `UPDATE_GOLDEN=1 cargo test -p schedule-gen --test trace`, then
//! read the diff.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use apex_api::trace::TraceKind;
use schedule_gen::codegen::system_tables;
use schedule_gen::model::CoreUse;
use schedule_gen::report::facts;
use schedule_gen::report::{render_html, render_json, render_text};
use schedule_gen::trace::csv::write_csv;
use schedule_gen::trace::observe::observe;
use schedule_gen::trace::{TraceRow, ring_sizing};
use schedule_gen::{LoadedConfig, load};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn flight() -> LoadedConfig {
    load(&manifest_dir().join("tests/report/flight.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Every configuration file of the repository that loads.
fn repository_configs() -> Vec<PathBuf> {
    let root = manifest_dir().join("..");
    let mut files = Vec::new();
    for dir in [
        root.join("configs"),
        root.join("hil-tests/scenarios"),
        manifest_dir().join("tests/corpus/valid"),
        manifest_dir().join("tests/report"),
        manifest_dir().join("tests/golden"),
    ] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_ring_holds_64_frames_of_its_busiest_core() {
    let mut seen_64_windows = false;
    for path in repository_configs() {
        let Ok(cfg) = load(&path) else { continue };
        let most = cfg
            .schedules()
            .iter()
            .map(|s| s.windows.len())
            .max()
            .unwrap_or(0);
        let n = ring_sizing(&cfg).records;
        assert!(n.is_power_of_two() && n >= 1024, "{}: {n}", path.display());
        assert!(n >= 64 * (2 * most + 1) + 256, "{}: {n}", path.display());
        assert!(
            n / 2 < (64 * (2 * most + 1) + 256).max(1024),
            "{}: {n}",
            path.display()
        );
        let tables = system_tables(&cfg);
        assert!(
            tables.ends_with(&format!("pub const TRACE_RECORDS_PER_CORE: usize = {n};\n")),
            "{}",
            path.display()
        );
        if most == 64 {
            seen_64_windows = true;
            // 64 × 129 + 256 = 8512 → 16384 records, 512 KiB a core.
            assert_eq!(n, 16384, "{}", path.display());
        }
    }
    assert!(seen_64_windows, "the corpus has a 64-window schedule");
    let dedicated = load(&manifest_dir().join("../hil-tests/scenarios/two-tickers.toml")).unwrap();
    assert_eq!(ring_sizing(&dedicated).busiest, None);
    assert!(system_tables(&dedicated).contains(
        "// (no time-partitioned core here, so 0 a frame), plus 256 for other events,\n\
         // at least 1024, rounded up to a power of two: 64 x 0 + 256 = 256 -> 1024.\n"
    ));
}

/// What the kernel records over `frames` major frames from `t0` (see the file comment);
/// start `n` of core `c` is observed `delay(c, n)` ticks late.
fn synthetic(
    cfg: &LoadedConfig,
    frames: u64,
    t0: u64,
    delay: impl Fn(u8, u64) -> u64,
) -> Vec<TraceRow> {
    let mut rows = Vec::new();
    for core in 0..cfg.core_count() {
        let mut n = 0u64;
        let mut push = |partition: Option<usize>, arg: usize, planned: u64| {
            n += 1;
            rows.push(TraceRow {
                core: u32::from(core),
                seq: n,
                kind: TraceKind::WindowStart as u8,
                partition: partition.map(|p| p as u16),
                planned,
                actual: planned + delay(core, n - 1),
                detail: 0,
                arg: arg as u32,
            });
        };
        match cfg.core_use(core) {
            // The kernel starts a partition on its first core; the others wait for it.
            CoreUse::Dedicated(p) if cfg.partition(p).unwrap().cores[0] == core => {
                push(Some(p), 0, t0)
            }
            CoreUse::Dedicated(_) | CoreUse::Idle => {}
            CoreUse::Scheduled(s) => {
                let s = &cfg.schedules()[s];
                let frame = cfg.ticks(s.major_frame_ns);
                for k in 0..frames {
                    let mut at = 0;
                    for (i, w) in s.windows.iter().enumerate() {
                        let offset = cfg.ticks(w.offset_ns);
                        if offset > at {
                            push(None, i, t0 + k * frame + at);
                        }
                        push(Some(w.partition), i, t0 + k * frame + offset);
                        at = offset + cfg.ticks(w.duration_ns);
                    }
                    if at < frame {
                        push(None, s.windows.len(), t0 + k * frame + at);
                    }
                }
            }
        }
    }
    rows
}

/// The flight trace of the snapshots: 4 frames, each start 20 to 52 ticks late, one `nav`
/// window 2000 ticks late (so `ctrl` before it gets more, `nav` less), the dedicated cores
/// 700 ticks late, and one HM event.
fn flight_trace(cfg: &LoadedConfig) -> Vec<TraceRow> {
    let mut rows = synthetic(cfg, 4, 3_125_000, |core, n| match core {
        0 if n == 10 => 2000,
        0 => 20 + (n * 7919) % 33,
        _ => 700,
    });
    let core0 = rows.iter().filter(|r| r.core == 0).count() as u64;
    rows.push(TraceRow {
        core: 0,
        seq: core0 + 1,
        kind: TraceKind::HealthMonitor as u8,
        partition: Some(1),
        planned: 0,
        actual: 3_125_000 + 4 * 1_250_000 + 5,
        detail: 3,
        arg: 1,
    });
    rows
}

fn check_golden(file: &str, actual: &str) {
    let golden = manifest_dir().join("tests/report/golden").join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "{} differs from line {}; if intended, rerun with UPDATE_GOLDEN=1 and review the diff\n--- actual ---\n{}\n--- expected ---\n{}",
            golden.display(),
            line + 1,
            actual.lines().nth(line).unwrap_or("<end>"),
            expected.lines().nth(line).unwrap_or("<end>")
        );
    }
}

#[test]
fn flight_trace_report_matches_golden() {
    let cfg = flight();
    let csv = write_csv(&cfg, &flight_trace(&cfg));
    check_golden("flight-trace/trace.csv", &csv);
    let observed =
        observe(&cfg, "results/flight-trace.csv", &csv).unwrap_or_else(|e| panic!("{e}"));
    let plain = facts::collect(&cfg);
    let mut traced = facts::collect(&cfg);
    traced.observed = Some(observed);
    let (json, text, html) = (
        render_json(&traced),
        render_text(&traced),
        render_html(&traced),
    );
    check_golden("flight-trace/report.json", &json);
    check_golden("flight-trace/report.txt", &text);
    check_golden("flight-trace/report.html", &html);

    // Only the new section is added.
    let plain_text = render_text(&plain);
    assert!(
        text.starts_with(&plain_text),
        "the text report changed before section 9"
    );
    let mut without: serde_json::Value = serde_json::from_str(&json).unwrap();
    without.as_object_mut().unwrap().remove("observed");
    let plain_json: serde_json::Value = serde_json::from_str(&render_json(&plain)).unwrap();
    assert_eq!(without, plain_json);
    assert!(!render_json(&plain).contains("\"observed\""));
    assert!(html.contains("<section id=\"observed\"><h2>8. Planned vs observed</h2>"));
    assert!(html.contains("<section id=\"verify\"><h2>9. How to verify</h2>"));
    assert!(html.contains("--trace flight-trace.csv --out DIR"));
    assert!(!render_html(&plain).contains("observed"));

    // What the numbers say.
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    let o = &j["observed"];
    assert_eq!(o["trace_file"], "flight-trace.csv");
    assert_eq!(o["cores"][0]["frames_observed"], 4);
    assert_eq!(o["cores"][0]["complete_frames"], 4);
    assert_eq!(o["cores"][0]["other_events"], 1);
    let slots = o["cores"][0]["slots"].as_array().unwrap();
    // Start 10 of core 0 (seq 11) is frame 1's `nav` window: 9 starts a frame (6 windows, 3
    // gaps; see the CSV).
    let late_nav = slots
        .iter()
        .find(|s| s["partition"]["name"] == "nav")
        .unwrap();
    assert_eq!(late_nav["start_delay"]["max"]["ticks"], 2000);
    assert!(late_nav["given"]["min"]["ticks"].as_i64().unwrap() < 375_000 - 1900);
    // Every start is a few ticks late, so every window start counts as late.
    assert_eq!(late_nav["late"], 4);
    assert_eq!(late_nav["overruns"], 4);
    let ctrl_before = &slots[0];
    assert!(ctrl_before["given"]["max"]["ticks"].as_i64().unwrap() > 156_250 + 1900);
    assert_eq!(o["partitions"][1]["max_jitter"]["ticks"], 2000);
    assert_eq!(o["dedicated"].as_array().unwrap().len(), 2);
    assert_eq!(o["dedicated"][0]["delay"]["us"], "11.200");
}

#[test]
fn traced_reports_are_byte_identical_every_time() {
    let cfg = flight();
    let csv = write_csv(&cfg, &flight_trace(&cfg));
    let render = || {
        let mut f = facts::collect(&flight());
        f.observed = Some(observe(&cfg, "a/t.csv", &csv).unwrap());
        (render_json(&f), render_text(&f), render_html(&f))
    };
    assert_eq!(render(), render());
}

#[test]
fn report_command_takes_a_trace_and_refuses_a_wrong_one() {
    let dir = common::temp_dir("trace-cli");
    let cfg = flight();
    let good = dir.join("good.csv");
    std::fs::write(&good, write_csv(&cfg, &flight_trace(&cfg))).unwrap();
    let config = manifest_dir().join("tests/report/flight.toml");
    let run = |trace: &Path, out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_schedule-gen"))
            .args(["report".as_ref(), config.as_os_str(), "--trace".as_ref()])
            .arg(trace)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let out = run(&good, &dir.join("ok"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("ok/report.txt")).unwrap();
    assert!(text.contains("9. Planned vs observed (trace)"));

    // A trace of another configuration: names and windows do not fit.
    let two = load(&manifest_dir().join("../hil-tests/scenarios/two-tickers.toml")).unwrap();
    let other = dir.join("other.csv");
    std::fs::write(&other, write_csv(&two, &synthetic(&two, 1, 0, |_, _| 0))).unwrap();
    let out = run(&other, &dir.join("bad"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // Partition 0 is `ctrl` in both, partition 1 is `sensor` in two-tickers and `nav` here.
    assert!(
        err.contains(
            "other.csv:3: error: the name `sensor` does not fit: the configuration calls this `nav`"
        ),
        "{err}"
    );
    assert!(
        err.contains("the trace does not fit the configuration"),
        "{err}"
    );
    assert!(!dir.join("bad/report.txt").exists());

    let out = run(&dir.join("missing.csv"), &dir.join("bad"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the trace"));
}
