//! The schedule trace on the host (K9): the kernel records, per core, every window start
//! and idle gap with its planned and actual counter value (layout: `apex_api::trace`);
//! `cargo xtask run --trace FILE` reads it out of the target's memory and writes it with
//! [`csv::write_csv`] and [`chrome::write_chrome_json`]; `schedule-gen report --trace FILE`
//! reads the CSV back ([`csv::read_csv`]) and compares it with the configuration
//! ([`observe::observe`]) for the report's "Planned vs observed" section.
//!
//! Also here: how long the kernel's trace rings are ([`ring_sizing`], the generated
//! `TRACE_RECORDS_PER_CORE`).
//!
//! A trace is untrusted input (read from a board's memory, or a file anyone can edit):
//! every function here reports what is wrong and never panics.

pub mod chrome;
pub mod csv;
pub mod observe;

use std::fmt;

use apex_api::trace::{NO_PARTITION, TraceKind, TraceRecord};

use crate::model::LoadedConfig;

/// Major frames of the busiest time-partitioned core one trace ring holds.
pub const RING_FRAMES: usize = 64;
/// Records a ring holds beyond [`RING_FRAMES`] frames of window starts, for other events.
pub const RING_OTHER_EVENTS: usize = 256;
/// The least records a ring holds.
pub const RING_MIN_RECORDS: usize = 1024;

/// The length of every core's trace ring (`TRACE_RECORDS_PER_CORE` in the generated tables),
/// and what it was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingSizing {
    /// The time-partitioned core with the most windows and its window count (the lowest core
    /// on a tie); `None` without time-partitioned cores.
    pub busiest: Option<(u8, usize)>,
    /// Records per core.
    pub records: usize,
}

impl RingSizing {
    /// Records one major frame of the busiest core writes at most: one per window and one
    /// per idle gap, `2 × windows + 1`.
    pub fn records_per_frame(&self) -> usize {
        self.busiest.map_or(0, |(_, windows)| 2 * windows + 1)
    }
}

/// Sizes the trace rings for `cfg`: [`RING_FRAMES`] major frames of the busiest
/// time-partitioned core at `2 × windows + 1` records a frame (a record per window and per
/// idle gap; a frame has at most one gap more than windows), plus [`RING_OTHER_EVENTS`], at
/// least [`RING_MIN_RECORDS`], rounded up to a power of two.
pub fn ring_sizing(cfg: &LoadedConfig) -> RingSizing {
    let busiest = cfg
        .schedules()
        .iter()
        .map(|s| (s.core, s.windows.len()))
        .fold(None, |best: Option<(u8, usize)>, (core, n)| match best {
            Some((c, m)) if m > n || (m == n && c < core) => best,
            _ => Some((core, n)),
        });
    let mut sizing = RingSizing {
        busiest,
        records: 0,
    };
    sizing.records = (RING_FRAMES * sizing.records_per_frame() + RING_OTHER_EVENTS)
        .max(RING_MIN_RECORDS)
        .next_power_of_two();
    sizing
}

/// One trace record of one core, as the host tools handle it (a CSV row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRow {
    /// The core that wrote it.
    pub core: u32,
    /// Its 1-based sequence number on that core.
    pub seq: u64,
    /// Its kind code (`apex_api::trace::TraceKind`; unknown codes are kept).
    pub kind: u8,
    /// Partition index; `None` for `NO_PARTITION` (an idle gap, or no partition).
    pub partition: Option<u16>,
    /// Planned counter value (window starts; 0 otherwise).
    pub planned: u64,
    /// Counter value when the kernel saw the event.
    pub actual: u64,
    /// Kind-specific detail.
    pub detail: u8,
    /// Kind-specific argument; for a window start, the window index (see `TraceKind`).
    pub arg: u32,
}

impl TraceRow {
    /// The row for `record`, read from `core`'s trace.
    pub fn from_record(core: u32, record: &TraceRecord) -> Self {
        Self {
            core,
            seq: record.seq,
            kind: record.kind,
            partition: (record.partition != NO_PARTITION).then_some(record.partition),
            planned: record.planned,
            actual: record.time,
            detail: record.detail,
            arg: record.arg,
        }
    }

    /// Its kind, if the code is known.
    pub fn trace_kind(&self) -> Option<TraceKind> {
        TraceKind::from_code(self.kind)
    }

    /// Whether it is a window start (or the start of an idle gap).
    pub fn is_window_start(&self) -> bool {
        self.trace_kind() == Some(TraceKind::WindowStart)
    }

    /// The name the CSV gives its partition: the configuration's, `idle` for the start of an
    /// idle gap, empty for no partition, `?` for an index the configuration does not have.
    pub fn partition_name<'c>(&self, cfg: &'c LoadedConfig) -> &'c str {
        match self.partition {
            Some(p) => cfg
                .partition(usize::from(p))
                .map_or("?", |p| p.name.as_str()),
            None if self.is_window_start() => "idle",
            None => "",
        }
    }
}

/// The name trace files give a kind code: the `TraceKind` name, or `kind_<code>`.
pub fn kind_name(code: u8) -> String {
    TraceKind::from_code(code).map_or_else(|| format!("kind_{code}"), |k| k.name().to_owned())
}

/// The kind code of a trace-file kind name (the inverse of [`kind_name`]).
pub fn kind_code(name: &str) -> Option<u8> {
    match name.strip_prefix("kind_") {
        Some(digits) if !digits.starts_with('+') => digits
            .parse()
            .ok()
            .filter(|&code| TraceKind::from_code(code).is_none()),
        _ => {
            (1..=u8::MAX).find(|&code| TraceKind::from_code(code).is_some_and(|k| k.name() == name))
        }
    }
}

/// `ticks` of a `hz` counter in microseconds, exact to the nanosecond (rounded half away
/// from zero), with three decimals: `"1.016"`, `"-0.032"`. A zero `hz` gives `"?"`.
pub fn micros(ticks: i128, hz: u64) -> String {
    ratio_micros(ticks, 1, hz)
}

/// `ticks / count` ticks in microseconds, as [`micros`] (for means).
pub fn ratio_micros(ticks: i128, count: u64, hz: u64) -> String {
    let den = i128::from(count) * i128::from(hz);
    if den == 0 {
        return "?".to_owned();
    }
    let ns = div_round(ticks.saturating_mul(1_000_000_000), den);
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    format!("{sign}{}.{:03}", ns / 1000, ns % 1000)
}

/// `num / den` (den > 0) rounded half away from zero.
pub(crate) fn div_round(num: i128, den: i128) -> i128 {
    let (q, r) = (num / den, num % den);
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

/// What is wrong with a trace file, by line (line 0: the file as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceProblem {
    /// 1-based line of the CSV; 0 for the whole file.
    pub line: usize,
    /// What is wrong, and what the trace says.
    pub message: String,
}

/// Every problem found in one trace file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceProblems {
    /// The file, as given.
    pub file: String,
    /// The problems, by line.
    pub problems: Vec<TraceProblem>,
}

/// At most this many problems are printed; the rest are counted.
const SHOWN_PROBLEMS: usize = 50;

impl fmt::Display for TraceProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.problems.iter().take(SHOWN_PROBLEMS) {
            if p.line == 0 {
                writeln!(f, "{}: error: {}", self.file, p.message)?;
            } else {
                writeln!(f, "{}:{}: error: {}", self.file, p.line, p.message)?;
            }
        }
        if self.problems.len() > SHOWN_PROBLEMS {
            writeln!(
                f,
                "... and {} more problems",
                self.problems.len() - SHOWN_PROBLEMS
            )?;
        }
        write!(
            f,
            "{}: the trace does not fit the configuration ({} problem{})",
            self.file,
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for TraceProblems {}

/// A small system the trace tests share: core 0 time-partitioned with a 20 ms frame
/// (`ctrl` 0–4 ms, `health` 4–7 ms, idle 7–10 ms, `ctrl` 10–14 ms, idle 14–20 ms), core 1
/// dedicated to `sensor`, core 2 idle; 62.5 MHz, so 1 ms is 62 500 ticks.
#[cfg(test)]
pub(crate) fn sample_config() -> LoadedConfig {
    let ram = |phys: u32| {
        format!(
            "  [[partition.memory]]\n  name = \"ram\"\n  ipa = 0x4000_0000\n  phys = {phys:#x}\n  size = 0x20_0000\n  access = \"rwx\"\n"
        )
    };
    let text = format!(
        r#"[module]
name = "sample"
board = "qemu-virt"
cores = 3
[[partition]]
name = "ctrl"
kind = "bm"
criticality = "B"
core = 0
period = "10ms"
duration = "4ms"
image = {{ package = "bm-ticker" }}
{}[[partition]]
name = "health"
kind = "bm"
criticality = "B"
core = 0
period = "20ms"
duration = "3ms"
image = {{ package = "bm-ticker" }}
{}[[partition]]
name = "sensor"
kind = "bm"
criticality = "C"
cores = [1]
image = {{ package = "bm-ticker" }}
{}[[schedule]]
core = 0
major_frame = "20ms"
  [[schedule.window]]
  partition = "ctrl"
  offset = "0ms"
  duration = "4ms"
  [[schedule.window]]
  partition = "health"
  offset = "4ms"
  duration = "3ms"
  [[schedule.window]]
  partition = "ctrl"
  offset = "10ms"
  duration = "4ms"
"#,
        ram(0x4200_0000),
        ram(0x4240_0000),
        ram(0x4280_0000)
    );
    crate::load_str("sample.toml", &text, std::path::Path::new("/nonexistent"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The window starts the kernel records for `frames` major frames of every core of `cfg`
/// from counter value `t0`, as its window cursor walks the schedule: on a time-partitioned
/// core each window (`arg` = its index) and each idle gap (`arg` = the index of the window it
/// precedes), on a dedicated core one start (`planned` = `t0`, `arg` = 0). `delay(core, n)`
/// is how late the `n`-th start of a core is observed.
#[cfg(test)]
pub(crate) fn synthetic_rows(
    cfg: &LoadedConfig,
    frames: u64,
    t0: u64,
    delay: impl Fn(u8, u64) -> u64,
) -> Vec<TraceRow> {
    use crate::model::CoreUse;
    let mut rows = Vec::new();
    for core in 0..cfg.core_count() {
        let mut push = |partition: Option<usize>, arg: usize, planned: u64| {
            let seq = rows
                .iter()
                .filter(|r: &&TraceRow| r.core == u32::from(core))
                .count() as u64
                + 1;
            rows.push(TraceRow {
                core: u32::from(core),
                seq,
                kind: TraceKind::WindowStart as u8,
                partition: partition.map(|p| p as u16),
                planned,
                actual: planned + delay(core, seq - 1),
                detail: 0,
                arg: arg as u32,
            });
        };
        match cfg.core_use(core) {
            CoreUse::Dedicated(p) if cfg.partition(p).is_some_and(|p| p.cores[0] == core) => {
                push(Some(p), 0, t0)
            }
            CoreUse::Dedicated(_) | CoreUse::Idle => {}
            CoreUse::Scheduled(s) => {
                let s = &cfg.schedules()[s];
                let frame = cfg.ticks(s.major_frame_ns);
                for k in 0..frames {
                    let start = t0 + k * frame;
                    let mut at = 0;
                    for (i, w) in s.windows.iter().enumerate() {
                        let offset = cfg.ticks(w.offset_ns);
                        if offset > at {
                            push(None, i, start + at);
                        }
                        push(Some(w.partition), i, start + offset);
                        at = offset + cfg.ticks(w.duration_ns);
                    }
                    if at < frame {
                        push(None, s.windows.len(), start + at);
                    }
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_hold_64_frames_of_the_busiest_core() {
        let cfg = sample_config();
        let s = ring_sizing(&cfg);
        assert_eq!(s.busiest, Some((0, 3)));
        assert_eq!(s.records_per_frame(), 7);
        // 64 × 7 + 256 = 704 → at least 1024.
        assert_eq!(s.records, 1024);
    }

    #[test]
    fn kind_names_round_trip() {
        for code in 0..=u8::MAX {
            assert_eq!(kind_code(&kind_name(code)), Some(code), "{code}");
        }
        assert_eq!(kind_name(1), "window_start");
        assert_eq!(kind_name(77), "kind_77");
        for bad in [
            "kind_1",
            "kind_+77",
            "kind_",
            "kind_256",
            "Window_start",
            "",
        ] {
            assert_eq!(kind_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn micros_are_exact_to_the_nanosecond() {
        let hz = 62_500_000; // 16 ns a tick
        assert_eq!(micros(0, hz), "0.000");
        assert_eq!(micros(1, hz), "0.016");
        assert_eq!(micros(-2, hz), "-0.032");
        assert_eq!(micros(62_500, hz), "1000.000");
        assert_eq!(micros(1, 3), "333333.333");
        assert_eq!(micros(2, 3), "666666.667");
        assert_eq!(micros(-2, 3), "-666666.667");
        assert_eq!(micros(5, 0), "?");
        assert_eq!(ratio_micros(3, 2, hz), "0.024");
        assert_eq!(
            micros(i128::from(u64::MAX), 1),
            "18446744073709551615000000.000"
        );
    }
}
