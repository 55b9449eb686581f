//! `cargo xtask bench`: boots the benchmark configurations (`configs/bench/`) on QEMU under
//! `-icount shift=0,sleep=off`, where the PMU cycle counter advances exactly one per
//! instruction and runs repeat exactly, with every other core never started; collects the
//! figures the benchmark partitions print (`bench <name> <instructions>`) and the window
//! start jitter from the kernel's trace; runs everything twice and fails if any figure
//! differs; prints a table against SPEC §8's targets and Bao's reference figures. The port
//! figures are also given as a ratio to a `memcpy` of the same message in the same run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use apex_api::trace::TraceKind;
use hil_tests::{QemuVirt, RunLimits, RunLog};

use crate::{image, trace, workspace_root};

/// The PMU cycle counter starts at the 7th instruction after reset (`pkernel/src/arch/boot.rs`
/// enables it first thing): add these to a count read from it to get "from reset".
const INSTRUCTIONS_BEFORE_COUNTER: u64 = 7;

/// One figure of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    pub name: &'static str,
    /// What pkernel measured, as printed.
    pub measured: String,
    pub target: &'static str,
    pub bao: &'static str,
}

/// The `bench <name> <value>` lines of `partition` in `log`.
pub fn bench_values(log: &RunLog, partition: &str) -> BTreeMap<String, u64> {
    let prefix = format!("[{partition}] bench ");
    log.lines_with_prefix(&prefix)
        .iter()
        .filter_map(|l| {
            let mut words = l[prefix.len()..].split_whitespace();
            let name = words.next()?;
            let value = words.next()?.parse().ok()?;
            Some((name.to_owned(), value))
        })
        .collect()
}

/// Per window (slot) of core 0, the spread of its start offsets from plan (max − min, in
/// counter ticks) over every frame of `dump` but the first; the largest of them is the
/// jitter. The first frame is left out because its first window follows the wait for the
/// module's start rather than the previous frame's last slot, a different (and constant)
/// path: a start-up offset, not jitter.
pub fn window_start_jitter(dump: &trace::TraceDump) -> Option<u64> {
    // (partition, window) → the lowest and highest start offset after the first frame.
    type Slot = (Option<u16>, u32);
    let mut offsets: BTreeMap<Slot, Option<(u64, u64)>> = BTreeMap::new();
    for r in dump
        .rows
        .iter()
        .filter(|r| r.core == 0 && r.kind == TraceKind::WindowStart as u8)
    {
        let d = r.actual.checked_sub(r.planned)?;
        match offsets.entry((r.partition, r.arg)).or_insert(None) {
            // The slot's first start (frame 0) only opens the series.
            slot @ None => *slot = Some((u64::MAX, 0)),
            Some((lo, hi)) => {
                *lo = (*lo).min(d);
                *hi = (*hi).max(d);
            }
        }
    }
    offsets
        .values()
        .flatten()
        .filter(|(lo, _)| *lo != u64::MAX)
        .map(|(lo, hi)| hi - lo)
        .max()
}

fn config(name: &str) -> PathBuf {
    workspace_root()
        .join("configs/bench")
        .join(format!("{name}.toml"))
}

fn limits() -> RunLimits {
    RunLimits::default()
        .with_timeout(Duration::from_secs(120))
        .with_idle_timeout(Duration::from_secs(60))
}

/// One pass over every benchmark: name → value.
fn measure() -> Result<BTreeMap<String, u64>, String> {
    let mut all = BTreeMap::new();
    let hypercall = image::build_system(&config("hypercall")).map_err(|e| e.to_string())?;
    let log = hil_tests::Target::run(&QemuVirt::new().with_icount(), &hypercall.kernel, &limits())
        .map_err(|e| e.to_string())?;
    if log.module_end().is_none_or(|end| !end.is_clean()) {
        return Err(format!(
            "the hypercall benchmark did not end cleanly\n{log}"
        ));
    }
    all.extend(bench_values(&log, "bench"));

    let switch = image::build_system(&config("switch")).map_err(|e| e.to_string())?;
    let run = trace::run_traced(QemuVirt::new().with_icount(), &switch.kernel, &limits())?;
    if run.log.module_end().is_none_or(|end| !end.is_clean()) {
        return Err(format!(
            "the switch benchmark did not end cleanly\n{}",
            run.log
        ));
    }
    all.extend(bench_values(&run.log, "incoming"));
    let dump = run
        .trace
        .map_err(|e| format!("the switch benchmark's trace: {e}"))?;
    let jitter = window_start_jitter(&dump).ok_or("the switch benchmark traced no windows")?;
    all.insert("window_start_jitter".into(), jitter);

    let ports = image::build_system(&config("ports")).map_err(|e| e.to_string())?;
    let log = hil_tests::Target::run(&QemuVirt::new().with_icount(), &ports.kernel, &limits())
        .map_err(|e| e.to_string())?;
    if log.module_end().is_none_or(|end| !end.is_clean()) {
        return Err(format!("the port benchmark did not end cleanly\n{log}"));
    }
    all.extend(bench_values(&log, "ports"));
    Ok(all)
}

/// `figure` as "N (R x memcpy)", R to one decimal.
fn against_memcpy(figure: u64, memcpy: u64) -> String {
    if memcpy == 0 {
        return figure.to_string();
    }
    // Tenths, rounded half up, in integers: the same string on every machine.
    let tenths = (figure * 20 + memcpy) / (2 * memcpy);
    format!("{figure} ({}.{} x memcpy)", tenths / 10, tenths % 10)
}

/// The table rows from one pass's values.
pub fn figures(v: &BTreeMap<String, u64>) -> Result<Vec<Figure>, String> {
    let get = |k: &str| {
        v.get(k)
            .copied()
            .ok_or_else(|| format!("no `bench {k}` figure was printed"))
    };
    let thousands = |n: u64| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    Ok(vec![
        Figure {
            name: "null hypercall round trip, as the guest sees it",
            measured: get("null_hypercall")?.to_string(),
            target: "<= 75",
            bao: "146",
        },
        Figure {
            name: "window switch, full context: last instruction of one partition to first of the next",
            measured: format!(
                "{} to {}",
                get("window_switch_min")?,
                get("window_switch_max")?
            ),
            target: "<= 600",
            bao: "n/a (no time windows)",
        },
        Figure {
            name: "memcpy of a 64-byte message (the reference of the two port figures)",
            measured: get("memcpy_64")?.to_string(),
            target: "-",
            bao: "n/a",
        },
        Figure {
            name: "sampling write + read of a 64-byte message, no kernel involvement",
            measured: against_memcpy(get("sampling_write_read")?, get("memcpy_64")?),
            target: "<= 80",
            bao: "n/a",
        },
        Figure {
            name: "queuing send + receive of a 64-byte message, with the doorbell hypercall",
            measured: against_memcpy(get("queuing_send_receive")?, get("memcpy_64")?),
            target: "<= 400",
            bao: "n/a",
        },
        Figure {
            name: "the same sampling write + read through the APEX calls",
            measured: against_memcpy(get("apex_sampling_write_read")?, get("memcpy_64")?),
            target: "-",
            bao: "n/a",
        },
        Figure {
            name: "the same queuing send + receive through the APEX calls, no side waiting (no hypercall)",
            measured: against_memcpy(get("apex_queuing_send_receive")?, get("memcpy_64")?),
            target: "-",
            bao: "n/a",
        },
        Figure {
            name: "reset to first instruction of a partition, one core",
            measured: thousands(get("reset_to_partition")? + INSTRUCTIONS_BEFORE_COUNTER),
            target: "<= 60,000",
            bao: "359,030 (9 KB guest)",
        },
        Figure {
            name: "window start jitter under icount, from the second frame (counter ticks)",
            measured: get("window_start_jitter")?.to_string(),
            target: "0",
            bao: "n/a",
        },
    ])
}

/// Renders the table.
pub fn table(figures: &[Figure]) -> String {
    let headers = [
        "figure (instructions unless stated)",
        "pkernel",
        "target",
        "Bao 2.0",
    ];
    let rows: Vec<[&str; 4]> = figures
        .iter()
        .map(|f| [f.name, f.measured.as_str(), f.target, f.bao])
        .collect();
    let mut width = headers.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(width) {
            s.push_str(&format!(" {c:<w$} |"));
        }
        s.push('\n');
        s
    };
    let mut out = line(headers);
    out.push('|');
    for w in width {
        out.push_str(&format!("{}|", "-".repeat(w + 2)));
    }
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// Runs every benchmark twice; the figures must be identical.
pub fn run() -> Result<(), String> {
    eprintln!("xtask: bench: first pass (QEMU -icount shift=0,sleep=off)");
    let first = measure()?;
    eprintln!("xtask: bench: second pass, to check the figures repeat exactly");
    let second = measure()?;
    if first != second {
        return Err(format!(
            "the figures differ between two runs, so they are not exact:\n  first:  {first:?}\n  second: {second:?}"
        ));
    }
    print!("{}", table(&figures(&first)?));
    println!(
        "Instruction figures are PMU cycle counts under icount (one per instruction); the jitter is in\n\
         system-counter ticks from the kernel's trace. Every figure was identical in two runs.\n\
         Bao 2.0's figures are from SPEC §8, measured on this kind of machine with the same method.\n\
         Port figures: the apex_api::ports protocol calls, then the APEX services over them, as a\n\
         partition compiles them (configs/bench/ports.toml, one partition owning both ends of each\n\
         channel, 8-byte-aligned message buffers), timestamps included, and for the protocol queuing\n\
         figure the Doorbell hypercall; memcpy is <[u8]>::copy_from_slice of the same 64 bytes\n\
         (the library memcpy). For scale, not a pkernel figure: the seed 002 system's IPC round trip\n\
         was 3302 cycles."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hil_tests::RunEnd;

    fn log(lines: &[&str]) -> RunLog {
        RunLog {
            target: "t".into(),
            lines: lines.iter().map(|s| s.to_string()).collect(),
            end: RunEnd::Exited { code: Some(0) },
            elapsed: Duration::ZERO,
            memory: None,
        }
    }

    #[test]
    fn only_the_benchmark_partition_s_lines_count() {
        let l = log(&[
            "[bench] bench null_hypercall 136",
            "[other] bench null_hypercall 1",
            "[bench] [bench] bench reset_to_partition 5",
            "[bench] bench garbage x",
            "[bench] bench reset_to_partition 216683",
        ]);
        let v = bench_values(&l, "bench");
        assert_eq!(v.len(), 2);
        assert_eq!(v["null_hypercall"], 136);
        assert_eq!(v["reset_to_partition"], 216683);
    }

    #[test]
    fn the_table_has_every_figure() {
        let v: BTreeMap<String, u64> = [
            ("null_hypercall", 136),
            ("window_switch_min", 464),
            ("window_switch_max", 468),
            ("reset_to_partition", 216683),
            ("window_start_jitter", 0),
            ("memcpy_64", 63),
            ("sampling_write_read", 141),
            ("queuing_send_receive", 312),
            ("apex_sampling_write_read", 185),
            ("apex_queuing_send_receive", 197),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let t = table(&figures(&v).unwrap());
        assert!(t.contains("| 464 to 468 "), "{t}");
        assert!(t.contains("| 216,690 "), "{t}");
        assert!(t.contains("| 141 (2.2 x memcpy) "), "{t}");
        assert!(t.contains("| 312 (5.0 x memcpy) "), "{t}");
        assert!(t.contains("| 185 (2.9 x memcpy) "), "{t}");
        assert!(t.contains("| 197 (3.1 x memcpy) "), "{t}");
        assert_eq!(t.lines().count(), 11);
        let mut missing = v.clone();
        missing.remove("null_hypercall");
        assert!(figures(&missing).unwrap_err().contains("null_hypercall"));
        missing.insert("null_hypercall".into(), 1);
        missing.remove("memcpy_64");
        assert!(figures(&missing).unwrap_err().contains("memcpy_64"));
    }

    #[test]
    fn ratios_to_memcpy_round_to_a_tenth() {
        assert_eq!(against_memcpy(141, 63), "141 (2.2 x memcpy)");
        assert_eq!(against_memcpy(315, 63), "315 (5.0 x memcpy)");
        assert_eq!(against_memcpy(5, 100), "5 (0.1 x memcpy)");
        assert_eq!(against_memcpy(4, 100), "4 (0.0 x memcpy)");
        assert_eq!(against_memcpy(7, 0), "7");
    }
}
