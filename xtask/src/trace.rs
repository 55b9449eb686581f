//! `cargo xtask run --trace FILE`: where the kernel's schedule trace is (its ELF symbol), what
//! a dump of it holds, and the CSV and Chrome JSON files written from it.
//!
//! The dump is the target's memory read at the end of the run (QEMU's `pmemsave` through
//! QMP, see `hil_tests::qmp`), so it is read like any other untrusted bytes: each core's part
//! is decoded by `apex_api::trace::decode_core_trace`, which never panics.

use std::path::{Path, PathBuf};

use apex_api::trace::{HEADER_SIZE, TRACE_CORES, TRACE_SYMBOL, decode_core_trace, split_cores};
use hil_tests::{MemoryRange, QemuVirt, QmpProbe, RunLimits, RunLog, Target};
use object::read::elf::ElfFile64;
use object::{Endianness, Object, ObjectSymbol};
use schedule_gen::LoadedConfig;
use schedule_gen::trace::TraceRow;
use schedule_gen::trace::chrome::write_chrome_json;
use schedule_gen::trace::csv::write_csv;

/// Where the kernel image keeps its trace array: the address (physical: the kernel runs on an
/// identity map) and size of [`TRACE_SYMBOL`] in `elf`'s symbol table.
pub fn trace_range(elf: &Path) -> Result<MemoryRange, String> {
    let data = std::fs::read(elf).map_err(|e| format!("cannot read {}: {e}", elf.display()))?;
    let file = ElfFile64::<Endianness>::parse(&*data)
        .map_err(|e| format!("{} is not a 64-bit ELF file: {e}", elf.display()))?;
    let symbol = file
        .symbols()
        .find(|s| s.name() == Ok(TRACE_SYMBOL))
        .ok_or_else(|| {
            format!(
                "{} has no {TRACE_SYMBOL} symbol: this kernel does not record a schedule trace",
                elf.display()
            )
        })?;
    let range = MemoryRange {
        address: symbol.address(),
        size: symbol.size(),
    };
    let stride = range.size / TRACE_CORES as u64;
    if !range.size.is_multiple_of(TRACE_CORES as u64) || stride < HEADER_SIZE as u64 {
        return Err(format!(
            "{TRACE_SYMBOL} in {} is {} bytes, not {TRACE_CORES} per-core traces",
            elf.display(),
            range.size
        ));
    }
    if range.size > hil_tests::qmp::MAX_READ {
        return Err(format!(
            "{TRACE_SYMBOL} in {} is {} bytes, more than the {} read at once",
            elf.display(),
            range.size,
            hil_tests::qmp::MAX_READ
        ));
    }
    Ok(range)
}

/// What one core's part of a dump held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreReadout {
    /// A trace: the records read (oldest first), lost to wrap-around, and slots dropped
    /// because their sequence number was not the one they must hold.
    Read {
        /// The core index in the array.
        core: usize,
        /// Records read.
        records: usize,
        /// `written - capacity` when the ring wrapped: overwritten before the read.
        lost: u64,
        /// Slots skipped as torn or stale.
        skipped: u64,
        /// Ring capacity.
        capacity: u32,
        /// The counter frequency the kernel wrote.
        counter_hz: u64,
    },
    /// No readable trace, and why (e.g. the core never started).
    Unreadable {
        /// The core index in the array.
        core: usize,
        /// Why.
        why: String,
    },
}

/// A decoded dump of the whole trace array.
#[derive(Clone, Debug, Default)]
pub struct TraceDump {
    /// Every record of every readable core, by core then sequence number.
    pub rows: Vec<TraceRow>,
    /// What each core's part held, by core.
    pub cores: Vec<CoreReadout>,
}

impl TraceDump {
    /// Decodes `bytes`, the memory of the [`TRACE_SYMBOL`] array.
    pub fn decode(bytes: &[u8]) -> Self {
        let mut dump = TraceDump::default();
        for (core, part) in split_cores(bytes) {
            match decode_core_trace(part) {
                Ok((header, mut records)) => {
                    let before = dump.rows.len();
                    // The array index is the core; a header saying otherwise is not trusted.
                    if header.core as usize != core {
                        dump.cores.push(CoreReadout::Unreadable {
                            core,
                            why: format!("its header says core {}", header.core),
                        });
                        continue;
                    }
                    dump.rows.extend(
                        records
                            .by_ref()
                            .map(|r| TraceRow::from_record(core as u32, &r)),
                    );
                    dump.cores.push(CoreReadout::Read {
                        core,
                        records: dump.rows.len() - before,
                        lost: header.lost_to_wrap(),
                        skipped: records.skipped(),
                        capacity: header.capacity,
                        counter_hz: header.counter_hz,
                    });
                }
                Err(e) => dump.cores.push(CoreReadout::Unreadable {
                    core,
                    why: e.to_string(),
                }),
            }
        }
        dump
    }

    /// The counter frequency the kernel wrote (the first readable core's), if any.
    pub fn counter_hz(&self) -> Option<u64> {
        self.cores.iter().find_map(|c| match c {
            CoreReadout::Read { counter_hz, .. } if *counter_hz > 0 => Some(*counter_hz),
            _ => None,
        })
    }

    /// One line per core of the module (`cores` of them), and per other core that recorded
    /// something, saying what was read, for stderr.
    pub fn summary(&self, cores: usize) -> Vec<String> {
        self.cores
            .iter()
            .filter_map(|c| match c {
                // Cores the module does not use say something only if they recorded something.
                CoreReadout::Read {
                    core,
                    records: 0,
                    lost: 0,
                    skipped: 0,
                    ..
                } if *core >= cores => None,
                CoreReadout::Read {
                    core,
                    records,
                    lost,
                    skipped,
                    capacity,
                    ..
                } => Some(format!(
                    "trace core {core}: {records} records read, {lost} lost to ring wrap-around \
                     (ring of {capacity}){}",
                    if *skipped > 0 {
                        format!(", {skipped} torn or stale slots dropped")
                    } else {
                        String::new()
                    }
                )),
                CoreReadout::Unreadable { core, why } if *core < cores => {
                    Some(format!("trace core {core}: not read: {why}"))
                }
                CoreReadout::Unreadable { .. } => None,
            })
            .collect()
    }
}

/// The QEMU side of `cargo xtask run --trace`: the QMP probe of one run and, once read, the
/// trace array's memory.
pub struct TraceSession {
    range: MemoryRange,
    probe: QmpProbe,
    memory: Option<Result<Vec<u8>, String>>,
}

impl TraceSession {
    /// A session for the kernel image `kernel` (its trace array found in its symbols), on a
    /// fresh QMP socket.
    pub fn new(kernel: &Path) -> Result<Self, String> {
        let range = trace_range(kernel)?;
        let socket = hil_tests::temp_socket_path("xtask-run");
        let _ = std::fs::remove_file(&socket);
        Ok(Self {
            range,
            probe: QmpProbe::new(socket),
            memory: None,
        })
    }

    /// What QEMU needs on its command line: the QMP socket and `-no-shutdown`.
    pub fn qemu_args(&self) -> Vec<String> {
        hil_tests::memory_access_args(self.probe.socket())
    }

    /// True once the guest powered the machine off (QEMU runs on).
    pub fn powered_off(&mut self) -> bool {
        self.probe.powered_off()
    }

    /// Stops the machine and reads the trace array (only the first call reads).
    pub fn read(&mut self) {
        if self.memory.is_none() {
            self.memory = Some(self.probe.read(self.range));
        }
    }

    /// Tells QEMU to quit.
    pub fn quit(&mut self) {
        self.probe.quit();
    }

    /// Ends the session (removes the socket): the trace array's bytes, or why there are none.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        let _ = std::fs::remove_file(self.probe.socket());
        self.memory
            .unwrap_or_else(|| Err("QEMU ended before its memory could be read".to_owned()))
    }
}

/// A run on QEMU with the kernel's trace read at its end.
#[derive(Debug)]
pub struct TracedRun {
    /// The console and how the run ended.
    pub log: RunLog,
    /// The decoded trace, or why the memory could not be read.
    pub trace: Result<TraceDump, String>,
}

impl TracedRun {
    /// The trace; panics, printing the console, if it could not be read.
    #[track_caller]
    pub fn assert_trace(&self) -> &TraceDump {
        match &self.trace {
            Ok(dump) => dump,
            Err(why) => panic!("the trace was not read: {why}\n{}", self.log),
        }
    }
}

/// Boots `kernel` on `target` (given memory access on a fresh QMP socket) under `limits`, and
/// reads and decodes its trace at the end of the run, however it ends: for HIL tests that
/// judge what the kernel recorded, not only what it printed.
pub fn run_traced(
    target: QemuVirt,
    kernel: &Path,
    limits: &RunLimits,
) -> Result<TracedRun, String> {
    let range = trace_range(kernel)?;
    let target = target.with_memory_access(hil_tests::temp_socket_path("trace"));
    let log = target
        .run_reading(kernel, limits, range)
        .map_err(|e| e.to_string())?;
    let trace = match &log.memory {
        Some(Ok(bytes)) => Ok(TraceDump::decode(bytes)),
        Some(Err(why)) => Err(why.clone()),
        None => Err("no memory was read".to_owned()),
    };
    Ok(TracedRun { log, trace })
}

/// The Chrome JSON file that goes with the CSV file `csv`: the same name, `.json`.
pub fn json_path(csv: &Path) -> PathBuf {
    csv.with_extension("json")
}

/// Writes the CSV to `csv` and the Chrome trace-event JSON next to it ([`json_path`]);
/// returns the JSON's path.
pub fn write_files(cfg: &LoadedConfig, dump: &TraceDump, csv: &Path) -> Result<PathBuf, String> {
    let json = json_path(csv);
    if json == csv {
        return Err(format!(
            "--trace {}: give the CSV a name not ending in .json (the JSON goes beside it)",
            csv.display()
        ));
    }
    let hz = dump.counter_hz().unwrap_or_else(|| cfg.counter_hz());
    if let Some(dir) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(csv, write_csv(cfg, &dump.rows))
        .map_err(|e| format!("cannot write {}: {e}", csv.display()))?;
    std::fs::write(&json, write_chrome_json(cfg, &dump.rows, hz))
        .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_api::trace::{
        NO_PARTITION, TRACE_MAGIC, TRACE_VERSION, TraceHeader, TraceKind, TraceRecord,
    };

    /// One core's trace as the kernel leaves it after writing records `1..=written`, each
    /// made by `record(seq)`.
    fn core_trace(core: u32, capacity: u32, written: u64) -> Vec<u8> {
        let mut bytes = TraceHeader {
            magic: TRACE_MAGIC,
            version: TRACE_VERSION,
            core,
            capacity,
            record_size: 32,
            written,
            counter_hz: 62_500_000,
        }
        .to_le_bytes()
        .to_vec();
        let mut ring = vec![TraceRecord::default(); capacity as usize];
        for seq in 1..=written {
            ring[((seq - 1) % u64::from(capacity)) as usize] = TraceRecord {
                seq,
                time: 1000 * seq + 3,
                planned: 1000 * seq,
                kind: TraceKind::WindowStart as u8,
                detail: 0,
                partition: if seq % 2 == 0 { NO_PARTITION } else { 0 },
                arg: 0,
            };
        }
        for r in ring {
            bytes.extend_from_slice(&r.to_le_bytes());
        }
        bytes
    }

    /// A dump of the array: core 0 wrapped (10 written in 4 slots, one torn), core 1 not
    /// wrapped, core 2 claims to be core 5, the rest never initialised (zeros).
    fn dump_bytes() -> Vec<u8> {
        let mut all = Vec::new();
        let mut core0 = core_trace(0, 4, 10);
        // Slots hold seqs 9, 10, 7, 8; seq 8 (slot 3) is torn: its old seq 4 is still there.
        let at = 40 + 3 * 32;
        core0[at..at + 8].copy_from_slice(&4u64.to_le_bytes());
        all.extend(core0);
        all.extend(core_trace(1, 4, 2));
        all.extend(core_trace(5, 4, 1));
        for _ in 3..TRACE_CORES {
            all.extend(vec![0u8; 40 + 4 * 32]);
        }
        all
    }

    #[test]
    fn a_dump_decodes_per_core_with_losses_counted() {
        let dump = TraceDump::decode(&dump_bytes());
        let seqs: Vec<(u32, u64)> = dump.rows.iter().map(|r| (r.core, r.seq)).collect();
        assert_eq!(seqs, [(0, 7), (0, 9), (0, 10), (1, 1), (1, 2)]);
        assert_eq!(dump.rows[0].partition, Some(0));
        assert_eq!(dump.rows[1].actual, 9003);
        assert_eq!(dump.counter_hz(), Some(62_500_000));
        assert_eq!(
            dump.summary(4),
            [
                "trace core 0: 3 records read, 6 lost to ring wrap-around (ring of 4), \
                 1 torn or stale slots dropped"
                    .to_owned(),
                "trace core 1: 2 records read, 0 lost to ring wrap-around (ring of 4)".to_owned(),
                "trace core 2: not read: its header says core 5".to_owned(),
                format!(
                    "trace core 3: not read: no trace (magic 0x0000000000000000, expected \
                     {TRACE_MAGIC:#018x}): not initialised"
                ),
            ]
        );
        // Cores beyond the module's are left out when unreadable.
        assert_eq!(dump.summary(3).len(), 3);
        // Garbage never panics.
        let mut state = 7u64;
        for len in [0, 1, 7, 8, 100, 1000, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (state >> 33) as u8
                })
                .collect();
            let _ = TraceDump::decode(&bytes).summary(8);
        }
    }

    #[test]
    fn writes_the_csv_and_the_json_beside_it() {
        let cfg = schedule_gen::load(&crate::demo_config()).unwrap();
        let dir = std::env::temp_dir().join(format!("xtask-trace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let csv = dir.join("sub/out.csv");
        let dump = TraceDump::decode(&dump_bytes());
        let json = write_files(&cfg, &dump, &csv).unwrap();
        assert_eq!(json, dir.join("sub/out.json"));
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.starts_with(
            "core,seq,kind,partition,name,window,planned,actual,detail,arg\n\
             0,7,window_start,0,ctrl,0,7000,7003,0,0\n\
             0,9,window_start,0,ctrl,0,9000,9003,0,0\n"
        ));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert!(v["traceEvents"].as_array().unwrap().len() > 5);
        assert!(write_files(&cfg, &dump, &dir.join("x.json")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_trace_symbol_comes_from_the_elf() {
        let dir = std::env::temp_dir().join(format!("xtask-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let with = dir.join("with.elf");
        std::fs::write(
            &with,
            elf_with_symbol(TRACE_SYMBOL, 0x4010_0000, 8 * (40 + 1024 * 32)),
        )
        .unwrap();
        assert_eq!(
            trace_range(&with).unwrap(),
            MemoryRange {
                address: 0x4010_0000,
                size: 8 * (40 + 1024 * 32)
            }
        );
        let odd = dir.join("odd.elf");
        std::fs::write(&odd, elf_with_symbol(TRACE_SYMBOL, 0x4010_0000, 100)).unwrap();
        assert!(
            trace_range(&odd)
                .unwrap_err()
                .contains("not 8 per-core traces")
        );
        let other = dir.join("other.elf");
        std::fs::write(&other, elf_with_symbol("SOMETHING_ELSE", 0x4010_0000, 64)).unwrap();
        assert!(
            trace_range(&other)
                .unwrap_err()
                .contains("has no PKERNEL_TRACE symbol")
        );
        let junk = dir.join("junk.elf");
        std::fs::write(&junk, b"\x7fELF not really").unwrap();
        assert!(trace_range(&junk).unwrap_err().contains("not a 64-bit ELF"));
        assert!(
            trace_range(&dir.join("missing"))
                .unwrap_err()
                .contains("cannot read")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The real kernel: boots the reference configuration (core 0 time-partitioned, cores
    /// 1-3 dedicated) for a few seconds, reads its trace through QMP, and checks that every
    /// record fits the configuration.
    #[test]
    fn real_kernel_trace_fits_its_configuration() {
        let Some(qemu) = hil_tests::skip_or_fail("real_kernel_trace_fits_its_configuration") else {
            return;
        };
        let config = crate::workspace_root().join("configs/reference.toml");
        let image = crate::image::build_system(&config).unwrap_or_else(|e| panic!("{e}"));
        let limits = RunLimits::default()
            .with_timeout(std::time::Duration::from_secs(4))
            .with_idle_timeout(std::time::Duration::from_secs(20));
        let run = run_traced(QemuVirt::new().with_qemu(qemu), &image.kernel, &limits).unwrap();
        assert_eq!(run.log.end, hil_tests::RunEnd::TimedOut, "{}", run.log);
        let dump = run.assert_trace();
        let cfg = schedule_gen::load(&config).unwrap();
        // Every core of the module has an initialised trace.
        for c in &dump.cores[..usize::from(cfg.core_count())] {
            assert!(matches!(c, CoreReadout::Read { .. }), "{c:?}\n{}", run.log);
        }
        assert!(
            dump.rows.iter().filter(|r| r.core == 0).count() > 20,
            "{:?}",
            dump.cores
        );
        let csv = write_csv(&cfg, &dump.rows);
        let observed = schedule_gen::trace::observe::observe(&cfg, "run.csv", &csv)
            .unwrap_or_else(|e| panic!("{e}\n{csv}"));
        assert!(observed.cores[0].frames_observed > 5, "{observed:?}");
        let json: serde_json::Value = serde_json::from_str(
            &schedule_gen::trace::chrome::write_chrome_json(&cfg, &dump.rows, 0),
        )
        .unwrap();
        let windows = json["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "X" && e["tid"] == 0)
            .count();
        assert_eq!(
            windows,
            dump.rows
                .iter()
                .filter(|r| r.core == 0 && r.is_window_start())
                .count()
        );
        // The dedicated cores each recorded their partition's start.
        let dedicated: Vec<u8> = observed.dedicated.iter().map(|d| d.core).collect();
        assert!(
            dedicated.contains(&1) && dedicated.contains(&2),
            "{dedicated:?}"
        );
    }

    /// A minimal little-endian AArch64 ELF64 with one data symbol: the header, a string
    /// table, a symbol table, and their section headers.
    fn elf_with_symbol(name: &str, address: u64, size: u64) -> Vec<u8> {
        let strtab = [b"\0".as_slice(), name.as_bytes(), b"\0"].concat();
        let shstrtab = b"\0.strtab\0.symtab\0.shstrtab\0".to_vec();
        let mut symtab = vec![0u8; 24]; // the null symbol
        symtab.extend_from_slice(&1u32.to_le_bytes()); // st_name
        symtab.push(0x11); // STB_GLOBAL, STT_OBJECT
        symtab.push(0);
        symtab.extend_from_slice(&0xfff1u16.to_le_bytes()); // SHN_ABS
        symtab.extend_from_slice(&address.to_le_bytes());
        symtab.extend_from_slice(&size.to_le_bytes());
        let mut out = vec![0u8; 64];
        let str_off = out.len();
        out.extend_from_slice(&strtab);
        let sym_off = out.len().next_multiple_of(8);
        out.resize(sym_off, 0);
        out.extend_from_slice(&symtab);
        let shstr_off = out.len();
        out.extend_from_slice(&shstrtab);
        let sh_off = out.len().next_multiple_of(8);
        out.resize(sh_off, 0);
        let section =
            |name: u32, kind: u32, off: usize, size: usize, link: u32, info: u32, entsize: u64| {
                let mut s = Vec::new();
                s.extend_from_slice(&name.to_le_bytes());
                s.extend_from_slice(&kind.to_le_bytes());
                s.extend_from_slice(&0u64.to_le_bytes()); // flags
                s.extend_from_slice(&0u64.to_le_bytes()); // addr
                s.extend_from_slice(&(off as u64).to_le_bytes());
                s.extend_from_slice(&(size as u64).to_le_bytes());
                s.extend_from_slice(&link.to_le_bytes());
                s.extend_from_slice(&info.to_le_bytes());
                s.extend_from_slice(&1u64.to_le_bytes()); // align
                s.extend_from_slice(&entsize.to_le_bytes());
                s
            };
        out.extend(vec![0u8; 64]); // SHN_UNDEF
        out.extend(section(1, 3, str_off, strtab.len(), 0, 0, 0)); // .strtab
        out.extend(section(9, 2, sym_off, symtab.len(), 1, 1, 24)); // .symtab
        out.extend(section(17, 3, shstr_off, shstrtab.len(), 0, 0, 0)); // .shstrtab
        // ELF header.
        let mut h = Vec::new();
        h.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        h.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        h.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        h.extend_from_slice(&1u32.to_le_bytes());
        h.extend_from_slice(&0x4000_0000u64.to_le_bytes()); // entry
        h.extend_from_slice(&0u64.to_le_bytes()); // phoff
        h.extend_from_slice(&(sh_off as u64).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // flags
        h.extend_from_slice(&64u16.to_le_bytes()); // ehsize
        h.extend_from_slice(&56u16.to_le_bytes()); // phentsize
        h.extend_from_slice(&0u16.to_le_bytes()); // phnum
        h.extend_from_slice(&64u16.to_le_bytes()); // shentsize
        h.extend_from_slice(&4u16.to_le_bytes()); // shnum
        h.extend_from_slice(&3u16.to_le_bytes()); // shstrndx
        out[..64].copy_from_slice(&h);
        out
    }
}
