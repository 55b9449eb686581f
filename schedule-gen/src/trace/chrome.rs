//! The trace as Chrome trace-event JSON, which Perfetto UI (<https://ui.perfetto.dev>) and
//! speedscope open: the module is one process, each core one thread (`core N`), each window
//! or idle gap one complete event from its observed start to just before the next observed
//! start on that core, every other record an instant event.
//!
//! ```text
//! {"displayTimeUnit":"ms","traceEvents":[
//! {"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"module demo"}},
//! {"name":"thread_name","ph":"M","pid":1,"tid":0,"args":{"name":"core 0"}},
//! {"name":"ctrl","cat":"window","ph":"X","pid":1,"tid":0,"ts":0.000,"dur":4000.015,"args":{...}},
//! ...
//! ]}
//! ```
//!
//! Timestamps are microseconds (exact to the nanosecond) since the earliest record of the
//! trace, converted with the counter frequency the kernel wrote in the trace header. A
//! window's event ends 1 ns before the next start on its core rather than on it: viewers add
//! `ts + dur` in floating point (or truncate each to whole nanoseconds), and an end that lands
//! a rounding error after the next start makes them nest the next window inside this one
//! (speedscope draws a staircase). The last start of a core has no next one: its event ends
//! at the trace's last record, with `"open": true` in its args. Output is deterministic: the
//! same rows give the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use apex_api::health::HmError;
use apex_api::trace::TraceKind;

use super::{TraceRow, div_round, kind_name, micros};
use crate::model::LoadedConfig;

/// The process id every event carries: the module is the one process.
pub const MODULE_PID: u32 = 1;

/// `s` as a JSON string literal.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The Chrome trace-event JSON of `rows` (names from `cfg`; ticks of a `counter_hz` counter,
/// the configuration's frequency if that is 0).
pub fn write_chrome_json(cfg: &LoadedConfig, rows: &[TraceRow], counter_hz: u64) -> String {
    let counter_hz = if counter_hz == 0 {
        cfg.counter_hz()
    } else {
        counter_hz
    };
    let mut by_core: BTreeMap<u32, Vec<&TraceRow>> = BTreeMap::new();
    for r in rows {
        by_core.entry(r.core).or_default().push(r);
    }
    for rows in by_core.values_mut() {
        rows.sort_by_key(|r| r.seq);
    }
    let base = rows.iter().map(|r| r.actual).min().unwrap_or(0);
    let end = rows.iter().map(|r| r.actual).max().unwrap_or(0);
    // Nanoseconds since `base`, rounded half away from zero; every timestamp and duration
    // is made of these, so an event's end is exactly what it should be in decimal.
    let ns = |ticks: u64| {
        div_round(
            i128::from(ticks.saturating_sub(base)) * 1_000_000_000,
            i128::from(counter_hz.max(1)),
        )
    };
    let ts = |ticks: u64| micros_of_ns(ns(ticks));

    let mut events: Vec<String> = vec![format!(
        "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{MODULE_PID},\"tid\":0,\"args\":{{\"name\":{}}}}}",
        q(&format!("module {}", cfg.module_name()))
    )];
    for (&core, rows) in &by_core {
        events.push(format!(
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{MODULE_PID},\"tid\":{core},\"args\":{{\"name\":\"core {core}\"}}}}"
        ));
        events.push(format!(
            "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":{MODULE_PID},\"tid\":{core},\"args\":{{\"sort_index\":{core}}}}}"
        ));
        let starts: Vec<&TraceRow> = rows
            .iter()
            .copied()
            .filter(|r| r.is_window_start())
            .collect();
        for (i, r) in starts.iter().enumerate() {
            let next = starts.get(i + 1).map(|n| n.actual);
            let until = next.unwrap_or(end).max(r.actual);
            let name = r.partition_name(cfg);
            let delay = i128::from(r.actual) - i128::from(r.planned);
            let mut args = format!(
                "\"partition\":{},\"window\":{},\"seq\":{},\"planned_ticks\":{},\"actual_ticks\":{},\"start_delay_ticks\":{delay},\"start_delay_us\":{}",
                r.partition
                    .map_or_else(|| "null".to_owned(), |p| p.to_string()),
                r.arg,
                r.seq,
                r.planned,
                r.actual,
                micros(delay, counter_hz),
            );
            if next.is_none() {
                args.push_str(",\"open\":true");
            }
            events.push(format!(
                "{{\"name\":{},\"cat\":{},\"ph\":\"X\",\"pid\":{MODULE_PID},\"tid\":{core},\"ts\":{},\"dur\":{},\"args\":{{{args}}}}}",
                q(name),
                q(if r.partition.is_some() { "window" } else { "idle" }),
                ts(r.actual),
                // Up to 1 ns before the next start, never onto it (see the file comment).
                micros_of_ns(
                    (ns(until) - ns(r.actual) - i128::from(next.is_some())).max(0)
                ),
            ));
        }
        for r in rows.iter().filter(|r| !r.is_window_start()) {
            let mut args = format!(
                "\"partition\":{},\"name\":{},\"seq\":{},\"actual_ticks\":{},\"detail\":{},\"arg\":{}",
                r.partition
                    .map_or_else(|| "null".to_owned(), |p| p.to_string()),
                q(r.partition_name(cfg)),
                r.seq,
                r.actual,
                r.detail,
                r.arg
            );
            if r.trace_kind() == Some(TraceKind::HealthMonitor)
                && let Some(e) = HmError::ALL.get(usize::from(r.detail))
            {
                let _ = write!(args, ",\"error\":{}", q(e.name()));
            }
            events.push(format!(
                "{{\"name\":{},\"cat\":\"event\",\"ph\":\"i\",\"s\":\"t\",\"pid\":{MODULE_PID},\"tid\":{core},\"ts\":{},\"args\":{{{args}}}}}",
                q(&kind_name(r.kind)),
                ts(r.actual)
            ));
        }
    }
    let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    out.push_str(&events.join(",\n"));
    out.push_str("\n]}\n");
    out
}

/// `ns` nanoseconds as microseconds with three decimals: `"4000.015"`, `"-0.032"`.
fn micros_of_ns(ns: i128) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    format!("{sign}{}.{:03}", ns / 1000, ns % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{sample_config, synthetic_rows};
    use serde_json::Value;

    /// Checks what Perfetto's and Chrome's JSON importers need, and returns the events.
    fn check_shape(text: &str) -> Vec<Value> {
        let v: Value = serde_json::from_str(text).expect("valid JSON");
        let events = v["traceEvents"]
            .as_array()
            .expect("traceEvents array")
            .clone();
        let mut named_threads = Vec::new();
        for e in &events {
            let ph = e["ph"].as_str().expect("ph");
            assert!(e["name"].is_string(), "{e}");
            assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
            match ph {
                "M" => {
                    if e["name"] == "thread_name" {
                        named_threads.push(e["tid"].as_u64().unwrap());
                        assert!(e["args"]["name"].is_string(), "{e}");
                    }
                }
                "X" => {
                    assert!(e["ts"].as_f64().unwrap() >= 0.0, "{e}");
                    assert!(e["dur"].as_f64().unwrap() >= 0.0, "{e}");
                    assert!(e["args"]["planned_ticks"].is_u64(), "{e}");
                    assert!(e["args"]["start_delay_ticks"].is_number(), "{e}");
                }
                "i" => {
                    assert_eq!(e["s"], "t", "{e}");
                    assert!(e["ts"].as_f64().unwrap() >= 0.0, "{e}");
                }
                other => panic!("unexpected phase {other}: {e}"),
            }
        }
        for e in events.iter().filter(|e| e["ph"] != "M") {
            assert!(
                named_threads.contains(&e["tid"].as_u64().unwrap()),
                "thread {} has no name",
                e["tid"]
            );
        }
        events
    }

    #[test]
    fn windows_tile_each_core_in_order() {
        let cfg = sample_config();
        let rows = synthetic_rows(&cfg, 2, 1_000_000, |core, n| u64::from(core) * 100 + n);
        let text = write_chrome_json(&cfg, &rows, 62_500_000);
        let events = check_shape(&text);
        let core0: Vec<&Value> = events
            .iter()
            .filter(|e| e["ph"] == "X" && e["tid"] == 0)
            .collect();
        assert_eq!(core0.len(), 10);
        let names: Vec<&str> = core0[..5]
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ctrl", "health", "idle", "ctrl", "idle"]);
        // Each event ends 1 ns before the next begins, also in floating point.
        for w in core0.windows(2) {
            let end = w[0]["ts"].as_f64().unwrap() + w[0]["dur"].as_f64().unwrap();
            let gap = w[1]["ts"].as_f64().unwrap() - end;
            assert!(gap > 0.0005 && gap < 0.0015, "{} {}", w[0], w[1]);
        }
        // The first window: at the earliest record, 4 ms and one tick long (start 1 is one
        // tick later than start 0), less the nanosecond.
        assert_eq!(core0[0]["ts"].as_f64(), Some(0.0));
        assert!(text.contains("\"ts\":0.000,\"dur\":4000.015,"), "{text}");
        assert_eq!(core0[1]["args"]["start_delay_ticks"], 1);
        assert_eq!(core0[1]["args"]["start_delay_us"].as_f64(), Some(0.016));
        assert_eq!(core0[9]["args"]["open"], true);
        // The dedicated core: one event, open to the end of the trace.
        let core1: Vec<&Value> = events
            .iter()
            .filter(|e| e["ph"] == "X" && e["tid"] == 1)
            .collect();
        assert_eq!(core1.len(), 1);
        assert_eq!(core1[0]["name"], "sensor");
        assert_eq!(core1[0]["args"]["start_delay_ticks"], 100);
        let thread_names: Vec<&str> = events
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(thread_names, ["core 0", "core 1"]);
        assert_eq!(events[0]["args"]["name"], "module sample");
        // Deterministic.
        assert_eq!(write_chrome_json(&cfg, &rows, 62_500_000), text);
    }

    #[test]
    fn other_records_are_instants_and_garbage_stays_valid_json() {
        let cfg = sample_config();
        let rows = [
            TraceRow {
                core: 0,
                seq: 1,
                kind: 4,
                partition: Some(0),
                planned: 0,
                actual: 500,
                detail: 0,
                arg: 1,
            },
            TraceRow {
                core: 7,
                seq: 3,
                kind: 1,
                partition: Some(999),
                planned: u64::MAX,
                actual: 0,
                detail: 255,
                arg: u32::MAX,
            },
            TraceRow {
                core: 7,
                seq: 4,
                kind: 99,
                partition: None,
                planned: 0,
                actual: u64::MAX,
                detail: 255,
                arg: 0,
            },
        ];
        let events = check_shape(&write_chrome_json(&cfg, &rows, 0));
        let hm = events
            .iter()
            .find(|e| e["name"] == "health_monitor")
            .unwrap();
        assert_eq!(hm["args"]["error"], "memory_violation");
        assert_eq!(hm["args"]["name"], "ctrl");
        assert!(events.iter().any(|e| e["name"] == "kind_99"));
        assert!(events.iter().any(|e| e["name"] == "?"));
        // An empty trace is an empty timeline.
        let events = check_shape(&write_chrome_json(&cfg, &[], 62_500_000));
        assert_eq!(events.len(), 1);
    }
}
