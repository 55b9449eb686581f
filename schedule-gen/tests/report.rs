//! Certification reports: golden snapshots of all three files for a rich configuration and
//! the demo, determinism, agreement of the JSON with the hashes the kernel prints,
//! self-containedness of the HTML, and the budget, margin and idle arithmetic on small
//! hand-made schedules.
//!
//! Refresh the snapshots with `UPDATE_GOLDEN=1 cargo test -p schedule-gen --test report`, then
//! read the diff: a golden only freezes what someone checked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use schedule_gen::codegen::{sha256_hex, system_tables};
use schedule_gen::model::Window;
use schedule_gen::report::facts::{self, Percent, Round};
use schedule_gen::report::{render_html, render_json, render_text, write_reports};
use schedule_gen::{LoadedConfig, Rule, load};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/report/flight.toml`: a time-partitioned core with three partitions of different
/// periods, a dedicated core with devices, a two-core Linux partition, channels, HM tables.
fn flight() -> LoadedConfig {
    load(&manifest_dir().join("tests/report/flight.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The demo system `cargo xtask run` boots.
fn demo() -> LoadedConfig {
    load(&manifest_dir().join("../configs/demo.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn check_golden(name: &str, file: &str, actual: &str) {
    let golden = manifest_dir()
        .join("tests/report/golden")
        .join(name)
        .join(file);
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
            "{file} of {name} differs from {} from line {}; if the change is intended, rerun with UPDATE_GOLDEN=1 and review the diff\n--- actual line ---\n{}\n--- expected line ---\n{}",
            golden.display(),
            line + 1,
            actual.lines().nth(line).unwrap_or("<end>"),
            expected.lines().nth(line).unwrap_or("<end>")
        );
    }
}

fn goldens(name: &str, cfg: &LoadedConfig) {
    let f = facts::collect(cfg);
    check_golden(name, "report.json", &render_json(&f));
    check_golden(name, "report.txt", &render_text(&f));
    check_golden(name, "report.html", &render_html(&f));
}

#[test]
fn flight_reports_match_golden() {
    goldens("flight", &flight());
}

#[test]
fn demo_reports_match_golden() {
    goldens("demo", &demo());
}

/// `tests/report/dma.toml`: every DMA status a partition's device can have on `qemu-virt`.
#[test]
fn dma_reports_match_golden() {
    let cfg = load(&manifest_dir().join("tests/report/dma.toml")).unwrap_or_else(|e| panic!("{e}"));
    goldens("dma", &cfg);
    let f = facts::collect(&cfg);
    let text = render_text(&f);
    let row = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}"))
            .to_owned()
    };
    assert!(
        row("fw_cfg").ends_with("  bus master, DMA trusted by acknowledgement (not confined)"),
        "{}",
        row("fw_cfg")
    );
    assert!(row("rtc").ends_with("  not a bus master"), "{}", row("rtc"));
    assert!(
        row("gpio").ends_with("  not a bus master"),
        "{}",
        row("gpio")
    );
    assert!(
        row("virtio-net").ends_with(
            "  not described by the board, DMA trusted by acknowledgement (not confined)"
        ),
        "{}",
        row("virtio-net")
    );
    assert!(
        row("flash").ends_with("  not described by the board: DMA unknown, not confined"),
        "{}",
        row("flash")
    );
    assert!(row("uart").ends_with("  -"), "{}", row("uart"));
    let json: serde_json::Value = serde_json::from_str(&render_json(&f)).unwrap();
    let fw_cfg = json["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "fw_cfg")
        .unwrap();
    assert_eq!(
        fw_cfg["dma"],
        serde_json::json!({"capability": "bus-master", "smmu": null, "confined": false, "trusted": true})
    );
}

#[test]
fn writes_three_files_byte_identical_every_time() {
    let dir = common::temp_dir("report-determinism");
    let cfg = flight();
    let (a, b) = (dir.join("a"), dir.join("b/nested"));
    let first = write_reports(&cfg, &a).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = first
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.html", "report.json", "report.txt"]);
    assert!(first.iter().all(|p| p.starts_with(&a)));
    // A second configuration object from the same file, another directory, and a rewrite
    // over existing files: the same bytes each time.
    write_reports(&flight(), &b).unwrap_or_else(|e| panic!("{e}"));
    let again = write_reports(&cfg, &a).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, again);
    for name in &names {
        let x = std::fs::read(a.join(name)).unwrap();
        let y = std::fs::read(b.join(name)).unwrap();
        assert!(x == y, "{name} differs between two runs");
        let text = String::from_utf8(x).unwrap();
        // No directory of this machine, no absolute path.
        for dir in [
            &*dir.to_string_lossy(),
            env!("CARGO_MANIFEST_DIR"),
            env!("CARGO_TARGET_TMPDIR"),
        ] {
            assert!(!text.contains(dir), "{name} names {dir}");
        }
    }
}

#[test]
fn json_hashes_are_those_the_kernel_prints() {
    for cfg in [flight(), demo()] {
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&facts::collect(&cfg))).unwrap();
        assert_eq!(json["format"], "pkernel-schedule-report/1");
        assert_eq!(json["generator"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            json["hashes"]["config_sha256"],
            sha256_hex(cfg.text().as_bytes())
        );
        assert_eq!(json["hashes"]["config_sha256"], cfg.sha256_hex());
        let tables = system_tables(&cfg);
        assert_eq!(
            json["hashes"]["tables_sha256"],
            sha256_hex(tables.as_bytes())
        );
        assert_eq!(json["hashes"]["tables_bytes"], tables.len());
        assert_eq!(json["module"]["config_file"], cfg.file_name());
        assert_eq!(json["module"]["counter_hz"], cfg.counter_hz());
    }
}

#[test]
fn json_schedule_numbers_are_integers_with_ticks() {
    let cfg = flight();
    let json: serde_json::Value =
        serde_json::from_str(&render_json(&facts::collect(&cfg))).unwrap();
    let core0 = &json["cores"][0];
    assert_eq!(core0["usage"], "time-partitioned");
    let frame = &core0["schedule"]["major_frame"];
    assert_eq!(frame["ns"], 20_000_000);
    assert_eq!(frame["ticks"], 1_250_000);
    assert_eq!(frame["text"], "20ms");
    let windows = core0["schedule"]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 6);
    for (w, model) in windows.iter().zip(&cfg.schedules()[0].windows) {
        assert_eq!(w["offset"]["ns"], model.offset_ns);
        assert_eq!(w["offset"]["ticks"], cfg.ticks(model.offset_ns));
        assert_eq!(w["duration"]["ticks"], cfg.ticks(model.duration_ns));
    }
    assert_eq!(json["cores"][1]["usage"], "dedicated");
    assert_eq!(json["cores"][1]["partition"]["name"], "sensor");
    assert!(json["cores"][1]["schedule"].is_null());
}

#[test]
fn flight_numbers_checked_by_hand() {
    let f = facts::collect(&flight());
    let core0 = f.cores[0].schedule.as_ref().unwrap();
    // Windows 2.5 + 6 + 0.8 + 1.5 + 1.5 + 0.2 = 12.5ms of 20ms; gaps 9.3-9.5, 11-15, 16.5-19.8.
    assert_eq!(core0.busy.ns, 12_500_000);
    assert_eq!(core0.idle.ns, 7_500_000);
    assert_eq!(f.cores[0].idle_percent.0, "37.50");
    let gaps: Vec<_> = core0
        .gaps
        .iter()
        .map(|g| (g.offset.text.as_str(), g.end.text.as_str()))
        .collect();
    assert_eq!(
        gaps,
        [("9.3ms", "9.5ms"), ("11ms", "15ms"), ("16.5ms", "19.8ms")]
    );
    assert_eq!(core0.longest_gap.text, "4ms");

    // ctrl: 2ms every 10ms. Period 1 gets 0-2.5 and 9.5-10 (3ms), period 2 gets 10-11 and
    // 15-16.5 (2.5ms): the window at 9.5ms is split by the boundary.
    let ctrl = f.partitions[0].time.as_ref().unwrap();
    let given: Vec<_> = ctrl.periods.iter().map(|p| p.given.text.as_str()).collect();
    assert_eq!(given, ["3ms", "2.5ms"]);
    assert_eq!(ctrl.windows, 3);
    assert_eq!(ctrl.min_given_per_period.text, "2.5ms");
    assert_eq!(ctrl.margin.text, "500us");
    assert_eq!(ctrl.margin.ticks, Some(31_250));
    assert_eq!(ctrl.margin_percent_of_duration.0, "25.00");
    assert_eq!(ctrl.given_per_frame.text, "5.5ms");
    assert_eq!(ctrl.utilisation_percent.0, "27.50");
    // nav: 5ms every 20ms, one 6ms window.
    let nav = f.partitions[1].time.as_ref().unwrap();
    assert_eq!(
        (nav.margin.text.as_str(), nav.utilisation_percent.0.as_str()),
        ("1ms", "30.00")
    );
    assert_eq!(nav.margin_percent_of_duration.0, "20.00");
    // health: exactly its 1ms in two windows: no margin.
    let health = f.partitions[2].time.as_ref().unwrap();
    assert_eq!((health.windows, health.margin.ns), (2, 0));
    assert_eq!(health.utilisation_percent.0, "5.00");
    // Dedicated partitions have no budget.
    assert!(f.partitions[3].time.is_none() && f.partitions[4].time.is_none());
    assert_eq!(f.cores[2].idle_percent.0, "0.00");

    // Memory: the sampling buffer is mapped by its writer and both readers, read-only to them.
    let attitude = f
        .memory
        .physical
        .iter()
        .find(|e| e.what == "channel \"attitude\" message")
        .unwrap();
    let by: Vec<_> = attitude
        .mapped_by
        .iter()
        .map(|m| (m.partition.name.as_str(), m.access))
        .collect();
    assert_eq!(by, [("ctrl", "r"), ("nav", "r"), ("sensor", "rw")]);
    assert!(f.memory.physical_overlaps.is_empty());
    // Interrupts: the kernel's UART and the partitions' devices, by INTID.
    let irqs: Vec<_> = f
        .interrupts
        .iter()
        .map(|i| (i.intid, i.device.as_str()))
        .collect();
    assert_eq!(
        irqs,
        [
            (33, "uart"),
            (34, "rtc"),
            (39, "gpio"),
            (72, "imu"),
            (73, "imu")
        ]
    );
    // HM: power_fail is named by [module.hm], so it acts on the module for every partition.
    for t in &f.hm.partitions {
        let pf = t.entries.iter().find(|e| e.error == "power_fail").unwrap();
        assert_eq!(
            (pf.level, pf.action, pf.configured),
            ("module", "shutdown", true)
        );
    }
}

#[test]
fn demo_cores_are_reported_by_their_use_and_idle_cores_idle() {
    // The demo uses every core: core 0 shared, core 1 and Linux's cores 2-3 dedicated.
    let f = facts::collect(&demo());
    let usage: Vec<_> = f.cores.iter().map(|c| c.usage).collect();
    assert_eq!(
        usage,
        ["time-partitioned", "dedicated", "dedicated", "dedicated"]
    );
    // `tests/report/dma.toml` uses core 0 only: the others are idle.
    let cfg = load(&manifest_dir().join("tests/report/dma.toml")).unwrap_or_else(|e| panic!("{e}"));
    let f = facts::collect(&cfg);
    let usage: Vec<_> = f.cores.iter().map(|c| c.usage).collect();
    assert_eq!(usage, ["dedicated", "idle", "idle", "idle"]);
    assert_eq!(f.cores[3].idle_percent.0, "100.00");
    let html = render_html(&f);
    assert!(html.contains("idle: no partition runs on this core"));
}

#[test]
fn html_is_self_contained() {
    for cfg in [flight(), demo()] {
        let html = render_html(&facts::collect(&cfg));
        let lower = html.to_ascii_lowercase();
        for banned in [
            "http://",
            "https://",
            "<script",
            "src=",
            "@import",
            "<link",
            "<iframe",
            "<object",
            "javascript:",
            "@font-face",
        ] {
            assert!(!lower.contains(banned), "the HTML contains {banned:?}");
        }
        // `url(` only for the page's own SVG patterns, `href` only for its own anchors.
        assert_eq!(
            lower.matches("url(").count(),
            lower.matches("url(#hatch-").count()
        );
        assert_eq!(
            lower.matches("href=\"").count(),
            lower.matches("href=\"#").count()
        );
        assert!(html.starts_with("<!DOCTYPE html>\n") && html.ends_with("</html>\n"));
        assert!(html.contains("@media print") && html.contains("size: A4"));
        assert!(html.contains(env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn html_escapes_the_file_name() {
    let text = std::fs::read_to_string(manifest_dir().join("../configs/demo.toml")).unwrap();
    let name = "a<b>&\"c'.toml";
    let cfg = schedule_gen::load_str(name, &text, Path::new(common::BASE_DIR))
        .unwrap_or_else(|e| panic!("{e}"));
    let f = facts::collect(&cfg);
    let html = render_html(&f);
    assert!(!html.contains(name) && !html.contains("a<b>"));
    assert!(html.contains("a&lt;b&gt;&amp;&quot;c&#39;.toml"));
    // The JSON escapes it as JSON does, and round-trips it.
    let json: serde_json::Value = serde_json::from_str(&render_json(&f)).unwrap();
    assert_eq!(json["module"]["config_file"], name);
}

#[test]
fn elf_paths_are_shown_relative_to_the_configuration() {
    let cfg = common::load(common::TWO_PARTITIONS).unwrap_or_else(|e| panic!("{e}"));
    let f = facts::collect(&cfg);
    assert_eq!(f.partitions[1].image.source, "elf");
    assert_eq!(f.partitions[1].image.name, "../vendor/nav.elf");
    for text in [render_json(&f), render_text(&f), render_html(&f)] {
        assert!(!text.contains(common::BASE_DIR));
    }
}

#[test]
fn text_report_has_no_trailing_spaces_and_every_section() {
    let text = render_text(&facts::collect(&flight()));
    assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
    for (n, line) in text.lines().enumerate() {
        assert_eq!(line, line.trim_end(), "line {} ends in spaces", n + 1);
    }
    for section in [
        "1. Identification",
        "2. Cores",
        "Core 0 schedule",
        "3. Partitions",
        "Time budgets",
        "4. Idle time per core",
        "5. Memory map",
        "Physical address space",
        "6. Channels",
        "7. Devices and interrupts",
        "8. Health monitor",
    ] {
        assert!(text.contains(section), "missing {section}");
    }
}

#[test]
fn unwritable_output_is_a_diagnostic() {
    let dir = common::temp_dir("report-unwritable");
    let file = dir.join("not-a-directory");
    std::fs::write(&file, "x").unwrap();
    let d = write_reports(&demo(), &file.join("out")).unwrap_err();
    assert_eq!(d.rules(), [Rule::OutputUnwritable]);
    let d = write_reports(&demo(), &file).unwrap_err();
    assert_eq!(d.rules(), [Rule::OutputUnwritable]);
}

#[test]
fn command_line_writes_the_reports() {
    let dir = common::temp_dir("report-cli");
    let out = Command::new(env!("CARGO_BIN_EXE_schedule-gen"))
        .args(["report"])
        .arg(manifest_dir().join("tests/report/flight.toml"))
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    let expected = render_json(&facts::collect(&flight()));
    assert_eq!(
        std::fs::read_to_string(dir.join("report.json")).unwrap(),
        expected
    );
}

// The arithmetic on hand-made schedules.

fn w(partition: usize, offset_ns: u64, duration_ns: u64) -> Window {
    Window {
        partition,
        offset_ns,
        duration_ns,
    }
}

#[test]
fn a_window_crossing_a_period_boundary_counts_in_both_periods() {
    // Frame 20, period 10: window 8..13 gives 2 to period 1 and 3 to period 2.
    let windows = [w(0, 0, 1), w(0, 8, 5), w(1, 13, 2), w(0, 19, 1)];
    assert_eq!(
        facts::given_per_period(&windows, 0, 20, 10),
        [(0, 10, 3), (10, 20, 4)]
    );
    // Other partitions' windows do not count.
    assert_eq!(
        facts::given_per_period(&windows, 1, 20, 10),
        [(0, 10, 0), (10, 20, 2)]
    );
    // Period equal to the frame: everything in one period.
    assert_eq!(facts::given_per_period(&windows, 0, 20, 20), [(0, 20, 7)]);
}

#[test]
fn periods_shorter_than_the_frame() {
    // Frame 12, period 3: four periods; one window per period except the last, which gets
    // the tail of a window crossing from the third.
    let windows = [w(0, 0, 1), w(0, 4, 1), w(0, 8, 2)];
    assert_eq!(
        facts::given_per_period(&windows, 0, 12, 3),
        [(0, 3, 1), (3, 6, 1), (6, 9, 1), (9, 12, 1)]
    );
    // A window covering several whole periods.
    assert_eq!(
        facts::given_per_period(&[w(0, 1, 10)], 0, 12, 3),
        [(0, 3, 2), (3, 6, 3), (6, 9, 3), (9, 12, 2)]
    );
    // A zero period gives no periods rather than dividing by zero.
    assert!(facts::given_per_period(&windows, 0, 12, 0).is_empty());
}

#[test]
fn gaps_are_the_complement_of_the_windows() {
    assert_eq!(
        facts::gaps(&[w(0, 2, 3), w(1, 5, 1), w(0, 8, 1)], 10),
        [(0, 2), (6, 8), (9, 10)]
    );
    // Unsorted windows, a full frame, an empty schedule.
    assert_eq!(facts::gaps(&[w(0, 5, 5), w(0, 0, 5)], 10), []);
    assert_eq!(facts::gaps(&[], 10), [(0, 10)]);
    assert_eq!(facts::gaps(&[w(0, 0, 4)], 4), []);
}

#[test]
fn percentages_round_against_the_schedule() {
    assert_eq!(Percent::of(1, 3, Round::Up).0, "33.34");
    assert_eq!(Percent::of(1, 3, Round::Down).0, "33.33");
    assert_eq!(Percent::of(2, 3, Round::Down).0, "66.66");
    assert_eq!(Percent::of(11, 20, Round::Up).0, "55.00");
    assert_eq!(Percent::of(0, 7, Round::Up).0, "0.00");
    assert_eq!(Percent::of(7, 7, Round::Down).0, "100.00");
    assert_eq!(Percent::of(5, 0, Round::Down).0, "0.00");
    assert_eq!(Percent::of(u64::MAX, u64::MAX, Round::Up).0, "100.00");
}

/// A core-0 schedule of partitions `a` (`period_a`, `duration_a`) and `b` (20ms, 1ms) in a
/// 20ms frame, from `windows` (`(partition, offset, duration)`).
fn small(period_a: &str, duration_a: &str, windows: &[(&str, &str, &str)]) -> LoadedConfig {
    let mut text = format!("{}cores = 2\n", common::HEAD);
    for (name, period, duration, phys) in [
        ("a", period_a, duration_a, "0x4200_0000"),
        ("b", "20ms", "1ms", "0x4220_0000"),
    ] {
        text += &format!(
            "\n[[partition]]\nname = \"{name}\"\nkind = \"bm\"\ncriticality = \"C\"\ncore = 0\nperiod = \"{period}\"\nduration = \"{duration}\"\nimage = {{ package = \"bm-ticker\" }}\n  [[partition.memory]]\n  name = \"ram\"\n  ipa = 0x4000_0000\n  phys = {phys}\n  size = 0x20_0000\n  access = \"rwx\"\n"
        );
    }
    text += "\n[[schedule]]\ncore = 0\nmajor_frame = \"20ms\"\n";
    for (p, offset, duration) in windows {
        text += &format!(
            "  [[schedule.window]]\n  partition = \"{p}\"\n  offset = \"{offset}\"\n  duration = \"{duration}\"\n"
        );
    }
    common::load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn budget_of_a_small_schedule() {
    // a: 1ms every 5ms; windows 4-6 (crossing 5), 9.5-10.5 (crossing 10), 14-15, 19-20.
    let cfg = small(
        "5ms",
        "1ms",
        &[
            ("a", "4ms", "2ms"),
            ("a", "9.5ms", "1ms"),
            ("b", "11ms", "1ms"),
            ("a", "14ms", "1ms"),
            ("a", "19ms", "1ms"),
        ],
    );
    let f = facts::collect(&cfg);
    let a = f.partitions[0].time.as_ref().unwrap();
    let given: Vec<_> = a.periods.iter().map(|p| p.given.text.as_str()).collect();
    // 0-5: 4-5 (1ms); 5-10: 5-6 and 9.5-10 (1.5ms); 10-15: 10-10.5 and 14-15 (1.5ms); 15-20: 1ms.
    assert_eq!(given, ["1ms", "1.5ms", "1.5ms", "1ms"]);
    assert_eq!(a.periods_per_frame, 4);
    assert_eq!(a.min_given_per_period.text, "1ms");
    assert_eq!(
        (a.margin.ns, a.margin_percent_of_duration.0.as_str()),
        (0, "0.00")
    );
    assert_eq!(a.given_per_frame.text, "5ms");
    assert_eq!(a.utilisation_percent.0, "25.00");
    let margins: Vec<_> = a.periods.iter().map(|p| p.margin.text.as_str()).collect();
    assert_eq!(margins, ["0s", "500us", "500us", "0s"]);
    // Core 0: 6ms busy, 14ms idle in 0-4, 6-9.5, 10.5-11, 12-14, 15-19.
    let s = f.cores[0].schedule.as_ref().unwrap();
    assert_eq!(
        (s.busy.text.as_str(), s.idle.text.as_str()),
        ("6ms", "14ms")
    );
    assert_eq!(s.gaps.len(), 5);
    assert_eq!(s.longest_gap.text, "4ms");
    assert_eq!(f.cores[0].idle_percent.0, "70.00");
    // Core 1 has nobody.
    assert_eq!(f.cores[1].usage, "idle");
    assert_eq!(f.cores[1].idle_percent.0, "100.00");
}

#[test]
fn utilisation_rounds_up_and_margin_down() {
    // a: 1ms every 20ms in one window of 6666.656us (a whole number of 16ns ticks):
    // utilisation 33.33328% -> "33.34" (up); margin 5666.656us is 566.6656% of 1ms -> "566.66"
    // (down); idle 20 - 6.666656 - 1 = 12.333344ms is 61.66672% -> "61.66" (down).
    let cfg = small(
        "20ms",
        "1ms",
        &[("a", "0ms", "6666.656us"), ("b", "7ms", "1ms")],
    );
    let f = facts::collect(&cfg);
    let a = f.partitions[0].time.as_ref().unwrap();
    assert_eq!(a.given_per_frame.ticks, Some(416_666));
    assert_eq!(a.utilisation_percent.0, "33.34");
    assert_eq!(a.margin.text, "5666.656us");
    assert_eq!(a.margin_percent_of_duration.0, "566.66");
    assert_eq!(f.cores[0].idle_percent.0, "61.66");
}
