//! `cargo xtask bench`: boots the benchmark configurations (`configs/bench/`) on QEMU under
//! `-icount shift=0,sleep=off`, where the PMU cycle counter advances exactly one per
//! instruction and runs repeat exactly, with every other core never started; collects the
//! figures the benchmark partitions print (`bench <name> <instructions>`) and the window
//! start jitter from the kernel's trace; runs everything twice and fails if any figure
//! differs; prints a table against SPEC §8's targets and Bao's reference figures. The port
//! figures are also given as a ratio to a `memcpy` of the same message in the same run.
//!
//! The interrupt latency and compute-loop figures come from one partition ELF
//! (`partitions/bm-bench-irq`) run three ways: bare on QEMU (no hypervisor: QEMU virt without
//! virtualization enters it at EL1, [`bare_qemu_args`]), and under pkernel on a
//! time-partitioned and on a dedicated core (`configs/bench/irq-*.toml`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use apex_api::trace::TraceKind;
use hil_tests::{QemuVirt, RunLimits, RunLog};

use crate::{image, trace, workspace_root};

/// The interrupt-latency partition: one ELF, run bare and under pkernel.
const IRQ_PACKAGE: &str = "bm-bench-irq";
/// How bm-bench-irq's last line starts (`done`, or `FAIL <what>`).
const IRQ_END: &str = "bench-irq: ";
/// The name of the partition in `configs/bench/irq-*.toml`.
const IRQ_PARTITION: &str = "bench";

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
    values_after(log, &format!("[{partition}] bench "))
}

/// The `<name> <value>` after `prefix` of each line of `log` that starts with it.
fn values_after(log: &RunLog, prefix: &str) -> BTreeMap<String, u64> {
    log.lines_with_prefix(prefix)
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
/// module's start rather than the previous frame's last slot, a different path: a start-up
/// offset, not jitter (and one QEMU does not hold constant: 3 ticks as a rule, 5 once, see
/// the HIL test `under_icount_every_window_starts_on_plan_with_zero_jitter`).
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

/// QEMU arguments that boot the partition ELF `elf` bare: the machine of the pkernel runs
/// (QEMU virt, Cortex-A53, GICv3, 1 GiB, the same icount) without virtualization, so that
/// QEMU enters the ELF at EL1 at its entry point (it is linked at 0x4000_0000, the board's
/// RAM base) and answers PSCI by HVC; one core, as the benchmark systems start only one.
/// No semihosting and no monitor, as for every run (`hil_tests::qemu_args`).
pub fn bare_qemu_args(elf: &Path) -> Vec<String> {
    let mut args = hil_tests::machine_args(hil_tests::Machine::Bare, elf);
    args.extend(["-icount".to_owned(), "shift=0,sleep=off".to_owned()]);
    args
}

/// The figures of one run of bm-bench-irq whose lines start with `prefix` (the partition's
/// name under pkernel, nothing bare), named `<run>_<figure>`; an error unless it ended with
/// `done`.
fn irq_values(log: &RunLog, prefix: &str, run: &str) -> Result<BTreeMap<String, u64>, String> {
    let end = format!("{prefix}{IRQ_END}");
    match log.lines_with_prefix(&end).last() {
        Some(line) if line[end.len()..].trim() == "done" => {}
        _ => {
            return Err(format!(
                "the interrupt benchmark ({run}) did not finish\n{log}"
            ));
        }
    }
    Ok(values_after(log, &format!("{prefix}bench "))
        .into_iter()
        .map(|(name, value)| (format!("{run}_{name}"), value))
        .collect())
}

/// bm-bench-irq bare, on a dedicated core and on a time-partitioned core.
fn measure_irq() -> Result<BTreeMap<String, u64>, String> {
    let mut all = BTreeMap::new();
    let partition_prefix = format!("[{IRQ_PARTITION}] ");
    let pkernel_limits = limits().with_stop_when(format!("{partition_prefix}{IRQ_END}"));

    // Building the dedicated system builds the partition package too.
    let dedicated = image::build_system(&config("irq-dedicated")).map_err(|e| e.to_string())?;
    // Where image::build_system has cargo put the partition packages.
    let elf = workspace_root()
        .join("target/pkernel-images")
        .join(image::PARTITION_TARGET)
        .join("release")
        .join(IRQ_PACKAGE);
    let qemu = hil_tests::find_qemu().ok_or("qemu-system-aarch64 is not on PATH")?;
    let mut bare = std::process::Command::new(qemu);
    bare.args(bare_qemu_args(&elf));
    let log = hil_tests::run_command(
        bare,
        &limits().with_stop_when(IRQ_END),
        "qemu-virt-bare",
        hil_tests::QEMU_STDERR_PREFIX,
    )
    .map_err(|e| e.to_string())?;
    all.extend(irq_values(&log, "", "bare")?);

    let log = hil_tests::Target::run(
        &QemuVirt::new().with_icount(),
        &dedicated.kernel,
        &pkernel_limits,
    )
    .map_err(|e| e.to_string())?;
    all.extend(irq_values(&log, &partition_prefix, "dedicated")?);

    let windows = image::build_system(&config("irq-windows")).map_err(|e| e.to_string())?;
    let log = hil_tests::Target::run(
        &QemuVirt::new().with_icount(),
        &windows.kernel,
        &pkernel_limits,
    )
    .map_err(|e| e.to_string())?;
    // Its compute loop runs on through idle gaps of the schedule: only the latency counts.
    all.extend(
        irq_values(&log, &partition_prefix, "windows")?
            .into_iter()
            .filter(|(name, _)| name.contains("irq_latency")),
    );
    Ok(all)
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

    all.extend(measure_irq()?);
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

/// `lo`, or "lo to hi" if they differ.
fn span((lo, hi): (u64, u64)) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo} to {hi}")
    }
}

/// How much `figure` exceeds `reference`, both (min, max) ranges: "+d", or "+d1 to +d2"
/// (min against min, max against max) if either is a range.
fn added(figure: (u64, u64), reference: (u64, u64)) -> String {
    let d = |a: u64, b: u64| format!("{:+}", i128::from(a) - i128::from(b));
    if figure.0 == figure.1 && reference.0 == reference.1 {
        d(figure.0, reference.0)
    } else {
        format!(
            "{} to {}",
            d(figure.0, reference.0),
            d(figure.1, reference.1)
        )
    }
}

/// (`figure` − `reference`) / `reference` in percent with its sign, to four decimals
/// (rounded half away from zero, in integers: the same string on every machine).
fn overhead_percent(figure: u64, reference: u64) -> String {
    if reference == 0 {
        return "n/a".into();
    }
    let difference = i128::from(figure) - i128::from(reference);
    let reference = i128::from(reference);
    // In units of 0.0001 %.
    let scaled = (difference.abs() * 2_000_000 + reference) / (2 * reference);
    let sign = if difference < 0 { '-' } else { '+' };
    format!("{sign}{}.{:04} %", scaled / 10_000, scaled % 10_000)
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
    let latency = |run: &str| -> Result<(u64, u64), String> {
        Ok((
            get(&format!("{run}_irq_latency_min"))?,
            get(&format!("{run}_irq_latency_max"))?,
        ))
    };
    let (bare, windows, dedicated) = (latency("bare")?, latency("windows")?, latency("dedicated")?);
    let (loop_bare, loop_dedicated) = (get("bare_compute_loop")?, get("dedicated_compute_loop")?);
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
        Figure {
            name: "virtual timer interrupt taken to first instruction of the guest's handler, bare (no hypervisor)",
            measured: span(bare),
            target: "-",
            bao: "2 (counted from its loop's read)",
        },
        Figure {
            name: "the same guest under pkernel, time-partitioned core, its window running",
            measured: span(windows),
            target: "-",
            bao: "n/a (no time windows)",
        },
        Figure {
            name: "the same guest under pkernel, dedicated core",
            measured: span(dedicated),
            target: "-",
            bao: "201 (the same way)",
        },
        Figure {
            name: "interrupt latency pkernel adds, time-partitioned core",
            measured: added(windows, bare),
            target: "<= bare + 60",
            bao: "n/a",
        },
        Figure {
            name: "interrupt latency pkernel adds, dedicated core",
            measured: added(dedicated, bare),
            target: "~0 (<= bare + 60)",
            bao: "+199",
        },
        Figure {
            name: "compute loop on a dedicated core against the same loop bare (instructions bare)",
            measured: format!(
                "{} ({})",
                overhead_percent(loop_dedicated, loop_bare),
                thousands(loop_bare)
            ),
            target: "<= 0.1 %",
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
         was 3302 cycles.\n\
         Interrupt figures: one ELF (bm-bench-irq) bare on QEMU and under pkernel arms its EL1 virtual\n\
         timer and spins in a two-instruction loop reading the counter; its handler's first\n\
         instruction reads it too. The figure is the instructions executed, at any exception level,\n\
         between the interrupt being taken and that instruction: the two reads' difference less the\n\
         loop instructions after the last read (ELR_EL1 says which), min to max of 16 interrupts.\n\
         Bao's figures count from the loop's read, so include 1 or 2 loop instructions; its added\n\
         latency is their difference. The compute loop is 5,000,000 turns of a four-instruction\n\
         integer loop with the partition's interrupts masked, counted at every exception level."
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
            cpu_states: Vec::new(),
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
            ("bare_irq_latency_min", 0),
            ("bare_irq_latency_max", 0),
            ("windows_irq_latency_min", 434),
            ("windows_irq_latency_max", 440),
            ("dedicated_irq_latency_min", 434),
            ("dedicated_irq_latency_max", 434),
            ("bare_compute_loop", 20_000_001),
            ("dedicated_compute_loop", 20_000_001),
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
        assert!(t.contains("| 434 to 440 "), "{t}");
        assert!(t.contains("| +434 to +440 "), "{t}");
        assert!(t.contains("| +434 "), "{t}");
        assert!(t.contains("| +0.0000 % (20,000,001) "), "{t}");
        assert_eq!(t.lines().count(), 17);
        let mut missing = v.clone();
        missing.remove("null_hypercall");
        assert!(figures(&missing).unwrap_err().contains("null_hypercall"));
        missing.insert("null_hypercall".into(), 1);
        missing.remove("memcpy_64");
        assert!(figures(&missing).unwrap_err().contains("memcpy_64"));
        missing.insert("memcpy_64".into(), 1);
        missing.remove("windows_irq_latency_max");
        assert!(
            figures(&missing)
                .unwrap_err()
                .contains("windows_irq_latency_max")
        );
    }

    #[test]
    fn differences_and_overheads_keep_their_sign() {
        assert_eq!(span((3, 3)), "3");
        assert_eq!(span((3, 5)), "3 to 5");
        assert_eq!(added((434, 434), (0, 0)), "+434");
        assert_eq!(added((434, 440), (0, 1)), "+434 to +439");
        assert_eq!(added((1, 1), (2, 2)), "-1");
        assert_eq!(overhead_percent(20_000_001, 20_000_001), "+0.0000 %");
        assert_eq!(overhead_percent(1_001_000, 1_000_000), "+0.1000 %");
        assert_eq!(overhead_percent(1_000_001, 1_000_000), "+0.0001 %");
        assert_eq!(overhead_percent(1_000_000, 2_000_000), "-50.0000 %");
        assert_eq!(overhead_percent(200_000_003, 200_000_000), "+0.0000 %");
        assert_eq!(overhead_percent(1, 0), "n/a");
    }

    #[test]
    fn the_bare_run_enters_the_partition_at_el1_under_the_same_icount() {
        let args = bare_qemu_args(Path::new("/img/bm-bench-irq"));
        let joined = args.join(" ");
        assert!(
            joined.starts_with("-M virt,gic-version=3 -cpu cortex-a53 -smp 1 "),
            "{joined}"
        );
        assert!(!joined.contains("virtualization"), "{joined}");
        assert!(joined.contains(" -kernel /img/bm-bench-irq"), "{joined}");
        assert!(joined.ends_with(" -icount shift=0,sleep=off"), "{joined}");
        assert!(!joined.to_ascii_lowercase().contains("semihosting"));
        let pkernel = QemuVirt::new().with_icount().args(Path::new("k"));
        assert!(
            pkernel
                .windows(2)
                .any(|w| w == ["-icount", "shift=0,sleep=off"])
        );
    }

    #[test]
    fn an_interrupt_run_counts_only_if_it_finished() {
        let bare = log(&[
            "bench irq_latency_min 0",
            "bench irq_latency_max 0",
            "bench compute_loop 20000001",
            "bench-irq: done",
        ]);
        let v = irq_values(&bare, "", "bare").unwrap();
        assert_eq!(v["bare_irq_latency_min"], 0);
        assert_eq!(v["bare_compute_loop"], 20_000_001);
        assert_eq!(v.len(), 3);
        let pk = log(&[
            "[pkernel] core 0: starting partition 'bench'",
            "[bench] bench irq_latency_min 434",
            "[bench] bench-irq: done",
        ]);
        let v = irq_values(&pk, "[bench] ", "dedicated").unwrap();
        assert_eq!(
            v.into_iter().collect::<Vec<_>>(),
            [("dedicated_irq_latency_min".to_owned(), 434)]
        );
        let failed = log(&["bench irq_latency_min 0", "bench-irq: FAIL sample 3: no"]);
        assert!(
            irq_values(&failed, "", "bare")
                .unwrap_err()
                .contains("did not finish")
        );
        assert!(irq_values(&log(&[]), "", "bare").is_err());
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
