//! Every fact the reports show, computed once from the validated model.
//!
//! The JSON report is this structure serialized as it is; the text and HTML reports render
//! nothing that is not in it, so the three can never disagree. All arithmetic is on integers
//! (nanoseconds, counter ticks, bytes); percentages are derived last, as text with two
//! decimals, rounded in the direction that does not flatter the schedule (see [`Percent`]).

use serde::Serialize;

use crate::codegen::{sha256_hex, system_tables};
use crate::duration::{format_duration, ns_to_ticks, tick_text};
pub use crate::model::given_per_period;
use crate::model::{
    ChannelBuffer, CoreUse, HmAction, ImageSource, LoadedConfig, PartitionConfig, PhysRange,
    PortKind, Window,
};

/// The value of the JSON `format` field; bumped when a field changes meaning or disappears.
pub const FORMAT: &str = "pkernel-schedule-report/1";

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Facts {
    /// Always [`FORMAT`].
    pub format: &'static str,
    /// The tool that wrote the report.
    pub generator: Generator,
    /// The module as a whole.
    pub module: Module,
    /// What the kernel prints at boot, to tie a running system to this report.
    pub hashes: Hashes,
    /// The board description the configuration was checked against.
    pub board: Board,
    /// One entry per core the module uses, by core index.
    pub cores: Vec<Core>,
    /// One entry per partition, by id.
    pub partitions: Vec<Partition>,
    /// Every mapping of every partition, and the physical address space as a whole.
    pub memory: Memory,
    /// The channels, by id (file order).
    pub channels: Vec<ChannelFacts>,
    /// Every device: the kernel's, each partition's and the board's unassigned ones, by MMIO base.
    pub devices: Vec<DeviceFacts>,
    /// Every interrupt the configuration or the kernel owns, by INTID.
    pub interrupts: Vec<Interrupt>,
    /// The health-monitor tables.
    pub hm: Hm,
    /// Planned versus observed, from a kernel trace (`report --trace FILE`); absent from the
    /// JSON when no trace was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<crate::trace::observe::Observed>,
}

/// The tool that wrote the report.
#[derive(Clone, Debug, Serialize)]
pub struct Generator {
    /// `"schedule-gen"`.
    pub name: &'static str,
    /// Its crate version.
    pub version: &'static str,
}

/// The module as a whole.
#[derive(Clone, Debug, Serialize)]
pub struct Module {
    /// `[module] name`.
    pub name: String,
    /// The configuration's file name (never a directory).
    pub config_file: String,
    /// How many cores the module uses: cores `0..core_count`.
    pub core_count: u8,
    /// The counter frequency every time is converted to ticks with.
    pub counter_hz: u64,
    /// One counter tick, e.g. `"16ns"`.
    pub tick: String,
    /// The partition that receives what is typed on the kernel's console UART, through the
    /// receiver of its virtual UART (`[module] console_input`); `null`: the kernel discards
    /// console input.
    pub console_input: Option<PartitionRef>,
}

/// SHA-256 digests, lower-case hex, as the kernel prints them at boot.
#[derive(Clone, Debug, Serialize)]
pub struct Hashes {
    /// Of the configuration file's bytes ("configuration sha256 ..." in the boot banner).
    pub config_sha256: String,
    /// Length of the configuration file.
    pub config_bytes: u64,
    /// Name of the generated tables file.
    pub tables_file: &'static str,
    /// Of `system_tables.rs` as `schedule-gen generate` writes it ("tables sha256 ...").
    pub tables_sha256: String,
    /// Length of `system_tables.rs`.
    pub tables_bytes: u64,
}

/// The board description.
#[derive(Clone, Debug, Serialize)]
pub struct Board {
    /// Board name.
    pub name: &'static str,
    /// Cores the board has (the module may use fewer).
    pub core_count: usize,
    /// The board's counter frequency.
    pub counter_hz: u64,
    /// All RAM.
    pub ram: Range,
    /// RAM reserved for the kernel.
    pub kernel_reserved: Range,
    /// The address range device mappings must lie in.
    pub device_space: Range,
    /// The kernel's console UART (never given to a partition).
    pub kernel_uart: Range,
    /// Its interrupt (GIC INTID).
    pub kernel_uart_interrupt: u32,
    /// The GIC distributor (kernel-owned).
    pub gicd: Range,
    /// The GIC redistributors (kernel-owned).
    pub gicr: Range,
}

/// A byte range `[base, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Range {
    /// First byte.
    pub base: u64,
    /// One past the last byte.
    pub end: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Range {
    /// `[base, base + size)`.
    pub fn new(base: u64, size: u64) -> Self {
        Range {
            base,
            end: base.saturating_add(size),
            size,
        }
    }

    fn of(r: PhysRange) -> Self {
        Range::new(r.base, r.size)
    }

    fn overlaps(&self, other: &Range) -> bool {
        self.base < other.end && other.base < self.end
    }
}

/// A duration or instant in nanoseconds, with counter ticks and the configuration's notation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Time {
    /// Nanoseconds.
    pub ns: u64,
    /// Counter ticks; `null` if not a whole number of ticks (never for a checked schedule).
    pub ticks: Option<u64>,
    /// Exact text, e.g. `"2.5ms"` ([`format_duration`]).
    pub text: String,
}

impl Time {
    /// `ns` at a `hz` counter.
    pub fn new(ns: u64, hz: u64) -> Self {
        Time {
            ns,
            ticks: ns_to_ticks(ns, hz),
            text: format_duration(ns),
        }
    }
}

/// A percentage as text with two decimals, e.g. `"27.50"`, derived from exact integers.
/// Utilisation is rounded up, margins and idle time are rounded down, so a rounded figure
/// never looks better than the exact one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Percent(pub String);

/// Rounding direction of a [`Percent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// Towards zero.
    Down,
    /// Away from zero.
    Up,
}

impl Percent {
    /// `part / whole` in percent, two decimals; `whole == 0` gives `"0.00"`.
    pub fn of(part: u64, whole: u64, round: Round) -> Self {
        if whole == 0 {
            return Percent("0.00".to_owned());
        }
        let scaled = u128::from(part) * 10_000;
        let whole = u128::from(whole);
        let hundredths = match round {
            Round::Down => scaled / whole,
            Round::Up => scaled.div_ceil(whole),
        };
        Percent(format!("{}.{:02}", hundredths / 100, hundredths % 100))
    }
}

/// One core of the module.
#[derive(Clone, Debug, Serialize)]
pub struct Core {
    /// Core index.
    pub core: u8,
    /// `"time-partitioned"`, `"dedicated"` or `"idle"`.
    pub usage: &'static str,
    /// The partition a dedicated core runs.
    pub partition: Option<PartitionRef>,
    /// The cyclic schedule of a time-partitioned core.
    pub schedule: Option<Schedule>,
    /// Share of the core's time no partition runs: gaps in the schedule, 0 for a dedicated
    /// core, 100 for an idle core. Rounded down.
    pub idle_percent: Percent,
}

/// A partition by id and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionRef {
    /// Partition id (position in the configuration).
    pub id: usize,
    /// Partition name.
    pub name: String,
}

/// The schedule of one time-partitioned core.
#[derive(Clone, Debug, Serialize)]
pub struct Schedule {
    /// Length of one cycle.
    pub major_frame: Time,
    /// Windows by offset.
    pub windows: Vec<WindowFacts>,
    /// The intervals of the major frame no window covers, by offset.
    pub gaps: Vec<Gap>,
    /// Total window time per major frame.
    pub busy: Time,
    /// Total gap time per major frame.
    pub idle: Time,
    /// The longest gap (`0s` if none).
    pub longest_gap: Time,
}

/// One window of a schedule.
#[derive(Clone, Debug, Serialize)]
pub struct WindowFacts {
    /// 1-based position in the major frame.
    pub index: usize,
    /// The partition that runs in it.
    pub partition: PartitionRef,
    /// Start from the beginning of the major frame.
    pub offset: Time,
    /// Length.
    pub duration: Time,
    /// One past the end.
    pub end: Time,
}

/// An interval of a major frame without a window: the kernel idles the core.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    /// Start from the beginning of the major frame.
    pub offset: Time,
    /// Length.
    pub duration: Time,
    /// One past the end.
    pub end: Time,
}

/// One partition.
#[derive(Clone, Debug, Serialize)]
pub struct Partition {
    /// Partition id (position in the configuration).
    pub id: usize,
    /// Name.
    pub name: String,
    /// `"bm"`, `"rtos"`, `"linux"` or `"system"`.
    pub kind: &'static str,
    /// Design assurance level, `"A"` to `"E"`.
    pub criticality: &'static str,
    /// Stage-2 VMID (id + 1).
    pub vmid: usize,
    /// `"dedicated"` or `"time-partitioned"`.
    pub placement: &'static str,
    /// Its cores: dedicated ones as written, or the one it shares through windows.
    pub cores: Vec<u8>,
    /// Where its ELF comes from.
    pub image: Image,
    /// Budget facts of a time-partitioned partition; `null` for a dedicated one.
    pub time: Option<Budget>,
    /// `true` when the partition may use its cores' PMU (`pmu = true`); absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pmu: bool,
}

/// Where a partition's image comes from.
#[derive(Clone, Debug, Serialize)]
pub struct Image {
    /// `"package"` (a workspace package built by xtask), `"elf"` or `"linux"` (a Linux kernel
    /// fetched by xtask).
    pub source: &'static str,
    /// The package name, the ELF path relative to the configuration's directory (its file
    /// name alone when it is elsewhere), or the Linux source (`"debian"`).
    pub name: String,
}

/// A time-partitioned partition's budget against its core's schedule.
#[derive(Clone, Debug, Serialize)]
pub struct Budget {
    /// The core it shares.
    pub core: u8,
    /// Its period.
    pub period: Time,
    /// Processor time it needs in every period.
    pub duration: Time,
    /// The major frame of its core.
    pub major_frame: Time,
    /// How many of its periods make one major frame.
    pub periods_per_frame: u64,
    /// How many windows it has in one major frame.
    pub windows: usize,
    /// Total window time per major frame.
    pub given_per_frame: Time,
    /// `given_per_frame / major_frame`, rounded up.
    pub utilisation_percent: Percent,
    /// The least window time any one period gives it.
    pub min_given_per_period: Time,
    /// `min_given_per_period - duration`: the least spare time in any period.
    pub margin: Time,
    /// `margin / duration`, rounded down.
    pub margin_percent_of_duration: Percent,
    /// Each period of the major frame.
    pub periods: Vec<PeriodFacts>,
}

/// What one period of a partition gets.
#[derive(Clone, Debug, Serialize)]
pub struct PeriodFacts {
    /// 1-based period number in the major frame.
    pub index: u64,
    /// Start from the beginning of the major frame.
    pub start: Time,
    /// One past the end.
    pub end: Time,
    /// Window time inside `[start, end)`; a window crossing a boundary counts in both
    /// periods for the part inside each.
    pub given: Time,
    /// `given - duration`.
    pub margin: Time,
}

/// Memory facts.
#[derive(Clone, Debug, Serialize)]
pub struct Memory {
    /// Every stage-2 mapping of every partition, by partition then IPA.
    pub regions: Vec<RegionFacts>,
    /// The physical address space: RAM and devices the kernel or a partition uses, shared
    /// memory with its channel buffers, and unused RAM, by physical base.
    pub physical: Vec<PhysEntry>,
    /// Pairs of top-level physical entries that overlap: always empty for a configuration
    /// that passed validation; listed so the report checks it independently.
    pub physical_overlaps: Vec<String>,
    /// The translation-table pages of the system, at most.
    pub translation_tables: TranslationTables,
}

/// The bound on the kernel's translation-table pages (`TRANSLATION_TABLE_PAGES` in the
/// generated tables; see `schedule-gen/src/table_pages.rs`).
#[derive(Clone, Debug, Serialize)]
pub struct TranslationTables {
    /// Size of one page in bytes.
    pub page_size: u64,
    /// The kernel's EL2 stage-1 identity map.
    pub el2_pages: usize,
    /// Each partition's stage-2 tables, by partition id.
    pub partitions: Vec<PartitionPages>,
    /// The sum: `TRANSLATION_TABLE_PAGES`.
    pub total_pages: usize,
}

/// One partition's stage-2 table pages.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionPages {
    /// The partition.
    pub partition: PartitionRef,
    /// Pages of its stage-2 tables.
    pub pages: usize,
}

/// One stage-2 mapping of a partition.
#[derive(Clone, Debug, Serialize)]
pub struct RegionFacts {
    /// The partition.
    pub partition: PartitionRef,
    /// Region, device or port-buffer name (`port` or `port.ack`).
    pub name: String,
    /// `"ram"`, `"device"` or `"port-buffer"`.
    pub kind: &'static str,
    /// Guest-physical range.
    pub ipa: Range,
    /// Physical range.
    pub phys: Range,
    /// `"r"`, `"rw"`, `"rx"` or `"rwx"` (devices are `"rw"`, never executable).
    pub access: &'static str,
    /// For a port buffer: its channel's name.
    pub channel: Option<String>,
}

/// One entry of the physical map.
#[derive(Clone, Debug, Serialize)]
pub struct PhysEntry {
    /// The range.
    pub range: Range,
    /// 0 for top-level entries; 1 for channel buffers inside the shared memory.
    pub level: u8,
    /// `"kernel"`, `"ram"`, `"shared-memory"`, `"channel-buffer"`, `"device"`,
    /// `"kernel-device"` or `"unused"`.
    pub kind: &'static str,
    /// What it is, in words.
    pub what: String,
    /// Who maps it, with which rights (empty for kernel-only and unused ranges).
    pub mapped_by: Vec<Mapping>,
}

/// A partition's view of a physical range.
#[derive(Clone, Debug, Serialize)]
pub struct Mapping {
    /// The partition.
    pub partition: PartitionRef,
    /// Its access rights.
    pub access: &'static str,
}

/// One channel.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelFacts {
    /// Channel id (file order).
    pub id: usize,
    /// Name.
    pub name: String,
    /// `"sampling"` or `"queuing"`.
    pub kind: &'static str,
    /// The source port.
    pub source: PortEnd,
    /// The destination ports.
    pub destinations: Vec<PortEnd>,
    /// Largest message in bytes.
    pub max_message_size: u64,
    /// Queue depth of a queuing channel.
    pub max_messages: Option<u64>,
    /// The data buffer (sampling message or queuing ring), physical.
    pub data: Range,
    /// The acknowledge buffer of a queuing channel, physical.
    pub ack: Option<Range>,
}

/// One end of a channel.
#[derive(Clone, Debug, Serialize)]
pub struct PortEnd {
    /// The partition.
    pub partition: PartitionRef,
    /// Port name.
    pub port: String,
    /// Largest message the port takes.
    pub max_message_size: u64,
    /// Sampling ports: how long a message stays valid, if set.
    pub refresh_period: Option<Time>,
    /// Queuing ports: `"fifo"` or `"priority"`.
    pub discipline: Option<&'static str>,
}

/// A device: its MMIO window and interrupts, and who owns it.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceFacts {
    /// Device name (`"uart"`, `"gicd"`, `"gicr"` for the kernel's).
    pub name: String,
    /// `"kernel"`, `"partition"` or `"unassigned"`.
    pub owner_kind: &'static str,
    /// The owning partition.
    pub partition: Option<PartitionRef>,
    /// MMIO window (identity-mapped for partitions).
    pub mmio: Range,
    /// GIC INTIDs.
    pub interrupts: Vec<u32>,
    /// `"board"` (from the board description) or `"configuration"`.
    pub described_by: &'static str,
    /// Cores the owning partition runs on (its interrupts go to them alone); empty for the
    /// kernel's devices and unassigned ones.
    pub cores: Vec<u8>,
    /// What it can do to memory by itself (DMA); `null` for the kernel's devices.
    pub dma: Option<DmaFacts>,
}

/// A device's DMA: whether it is a bus master, what confines it, and whether the
/// configuration trusts its owner with it (`dma = "trusted"`, rule E104).
#[derive(Clone, Debug, Serialize)]
pub struct DmaFacts {
    /// `"not-bus-master"`, `"bus-master"` (both from the board description) or `"unknown"`
    /// (a device described by the configuration, which the board cannot vouch for).
    pub capability: &'static str,
    /// The SMMU in front of it, by the board's name for it; `null` if none.
    pub smmu: Option<&'static str>,
    /// Whether its DMA is confined to its owner's memory. Always `false` today: pkernel
    /// programs no SMMU yet.
    pub confined: bool,
    /// Whether the configuration acknowledges the device's unconfined DMA (`dma = "trusted"`).
    pub trusted: bool,
}

impl DmaFacts {
    fn of(dma: Option<bsp::Dma>, trusted: bool) -> DmaFacts {
        let (capability, smmu) = match dma {
            Some(bsp::Dma::NotBusMaster) => ("not-bus-master", None),
            Some(bsp::Dma::BusMaster { smmu }) => ("bus-master", smmu),
            None => ("unknown", None),
        };
        DmaFacts {
            capability,
            smmu,
            confined: false,
            trusted,
        }
    }
}

/// One interrupt and its owner.
#[derive(Clone, Debug, Serialize)]
pub struct Interrupt {
    /// GIC INTID.
    pub intid: u32,
    /// The device that raises it.
    pub device: String,
    /// `"kernel"` or `"partition"`.
    pub owner_kind: &'static str,
    /// The owning partition.
    pub partition: Option<PartitionRef>,
    /// Cores the owning partition runs on; empty for the kernel's interrupts.
    pub cores: Vec<u8>,
}

/// The health-monitor tables.
#[derive(Clone, Debug, Serialize)]
pub struct Hm {
    /// The module table: module-only errors and errors `[module.hm]` names.
    pub module: Vec<HmRow>,
    /// Each partition's complete table.
    pub partitions: Vec<PartitionHm>,
}

/// One partition's HM table.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionHm {
    /// The partition.
    pub partition: PartitionRef,
    /// Every error the partition can raise, in code order.
    pub entries: Vec<HmRow>,
}

/// One HM table row.
#[derive(Clone, Debug, Serialize)]
pub struct HmRow {
    /// Error name.
    pub error: &'static str,
    /// Stable error code.
    pub code: u8,
    /// `"partition"` or `"module"`: who the action applies to.
    pub level: &'static str,
    /// Action name.
    pub action: &'static str,
    /// `true` if a table in the configuration names the error, `false` for the default.
    pub configured: bool,
}

/// The intervals of `[0, major_frame)` no window covers, as `(offset, end)`. Windows need
/// not be sorted and may touch; overlaps are tolerated.
pub fn gaps(windows: &[Window], major_frame: u64) -> Vec<(u64, u64)> {
    let mut sorted: Vec<_> = windows.iter().map(|w| (w.offset_ns, w.end_ns())).collect();
    sorted.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for (start, end) in sorted {
        if start > at {
            out.push((at, start.min(major_frame)));
        }
        at = at.max(end);
    }
    if at < major_frame {
        out.push((at, major_frame));
    }
    out.retain(|(a, b)| b > a);
    out
}

/// Builds the facts of `cfg`.
pub fn collect(cfg: &LoadedConfig) -> Facts {
    let hz = cfg.counter_hz();
    let t = |ns: u64| Time::new(ns, hz);
    let pref = |id: usize| PartitionRef {
        id,
        name: cfg
            .partition(id)
            .map_or_else(String::new, |p| p.name.clone()),
    };
    let board = cfg.board();
    let tables = system_tables(cfg);

    let cores: Vec<Core> = (0..cfg.core_count())
        .map(|core| match cfg.core_use(core) {
            CoreUse::Dedicated(id) => Core {
                core,
                usage: "dedicated",
                partition: Some(pref(id)),
                schedule: None,
                idle_percent: Percent::of(0, 1, Round::Down),
            },
            CoreUse::Idle => Core {
                core,
                usage: "idle",
                partition: None,
                schedule: None,
                idle_percent: Percent::of(1, 1, Round::Down),
            },
            CoreUse::Scheduled(s) => {
                let s = &cfg.schedules()[s];
                let frame = s.major_frame_ns;
                let gaps: Vec<Gap> = gaps(&s.windows, frame)
                    .into_iter()
                    .map(|(a, b)| Gap {
                        offset: t(a),
                        duration: t(b - a),
                        end: t(b),
                    })
                    .collect();
                let idle: u64 = gaps.iter().map(|g| g.duration.ns).sum();
                let busy: u64 = s.windows.iter().map(|w| w.duration_ns).sum();
                let longest = gaps.iter().map(|g| g.duration.ns).max().unwrap_or(0);
                Core {
                    core,
                    usage: "time-partitioned",
                    partition: None,
                    idle_percent: Percent::of(idle, frame, Round::Down),
                    schedule: Some(Schedule {
                        major_frame: t(frame),
                        windows: s
                            .windows
                            .iter()
                            .enumerate()
                            .map(|(i, w)| WindowFacts {
                                index: i + 1,
                                partition: pref(w.partition),
                                offset: t(w.offset_ns),
                                duration: t(w.duration_ns),
                                end: t(w.end_ns()),
                            })
                            .collect(),
                        gaps,
                        busy: t(busy),
                        idle: t(idle),
                        longest_gap: t(longest),
                    }),
                }
            }
        })
        .collect();

    let partitions = cfg
        .partitions()
        .enumerate()
        .map(|(id, p)| partition(cfg, id, p))
        .collect();

    Facts {
        format: FORMAT,
        generator: Generator {
            name: "schedule-gen",
            version: env!("CARGO_PKG_VERSION"),
        },
        module: Module {
            name: cfg.module_name().to_owned(),
            config_file: cfg.file_name(),
            core_count: cfg.core_count(),
            counter_hz: hz,
            tick: tick_text(hz),
            console_input: cfg.console_input().map(pref),
        },
        hashes: Hashes {
            config_sha256: cfg.sha256_hex(),
            config_bytes: cfg.text().len() as u64,
            tables_file: crate::codegen::TABLES_FILE,
            tables_sha256: sha256_hex(tables.as_bytes()),
            tables_bytes: tables.len() as u64,
        },
        board: Board {
            name: board.name,
            core_count: board.core_count(),
            counter_hz: board.counter_hz,
            ram: Range::of(board.ram),
            kernel_reserved: Range::of(board.kernel_reserved),
            device_space: Range::of(board.device_space),
            kernel_uart: Range::of(board.kernel_uart),
            kernel_uart_interrupt: board.kernel_uart_interrupt,
            gicd: Range::of(board.gicd),
            gicr: Range::of(board.gicr),
        },
        cores,
        partitions,
        memory: memory(cfg),
        channels: channels(cfg),
        devices: devices(cfg),
        interrupts: interrupts(cfg),
        hm: hm(cfg),
        observed: None,
    }
}

fn partition(cfg: &LoadedConfig, id: usize, p: &PartitionConfig) -> Partition {
    let hz = cfg.counter_hz();
    let t = |ns: u64| Time::new(ns, hz);
    let image = match &p.image {
        ImageSource::Package(name) => Image {
            source: "package",
            name: name.clone(),
        },
        ImageSource::Linux(linux) => Image {
            source: "linux",
            name: linux.source.as_str().to_owned(),
        },
        ImageSource::Elf(path) => {
            let dir = cfg.path().parent().unwrap_or(std::path::Path::new(""));
            let shown = match path.strip_prefix(dir) {
                Ok(rel) if rel.is_relative() && !dir.as_os_str().is_empty() => rel,
                _ => path
                    .file_name()
                    .map_or(path.as_path(), std::path::Path::new),
            };
            Image {
                source: "elf",
                name: shown.to_string_lossy().replace('\\', "/"),
            }
        }
    };
    let time = match (p.time, p.cores.first()) {
        (Some(budget), Some(&core)) => cfg.schedules().iter().find(|s| s.core == core).map(|s| {
            let frame = s.major_frame_ns;
            let periods = given_per_period(&s.windows, id, frame, budget.period_ns);
            let given_per_frame: u64 = s
                .windows
                .iter()
                .filter(|w| w.partition == id)
                .map(|w| w.duration_ns)
                .sum();
            let min_given = periods.iter().map(|&(_, _, g)| g).min().unwrap_or(0);
            let margin = min_given.saturating_sub(budget.duration_ns);
            Budget {
                core,
                period: t(budget.period_ns),
                duration: t(budget.duration_ns),
                major_frame: t(frame),
                periods_per_frame: periods.len() as u64,
                windows: s.windows.iter().filter(|w| w.partition == id).count(),
                given_per_frame: t(given_per_frame),
                utilisation_percent: Percent::of(given_per_frame, frame, Round::Up),
                min_given_per_period: t(min_given),
                margin: t(margin),
                margin_percent_of_duration: Percent::of(margin, budget.duration_ns, Round::Down),
                periods: periods
                    .iter()
                    .enumerate()
                    .map(|(k, &(start, end, given))| PeriodFacts {
                        index: k as u64 + 1,
                        start: t(start),
                        end: t(end),
                        given: t(given),
                        margin: t(given.saturating_sub(budget.duration_ns)),
                    })
                    .collect(),
            }
        }),
        _ => None,
    };
    Partition {
        id,
        name: p.name.clone(),
        kind: kind_name(p),
        criticality: p.criticality.as_str(),
        vmid: id + 1,
        placement: if p.is_time_partitioned() {
            "time-partitioned"
        } else {
            "dedicated"
        },
        cores: p.cores.clone(),
        image,
        time,
        pmu: p.pmu,
    }
}

fn kind_name(p: &PartitionConfig) -> &'static str {
    use crate::model::PartitionKind::*;
    match p.kind {
        BareMetal => "bm",
        Rtos => "rtos",
        Linux => "linux",
        System => "system",
    }
}

fn access_name(write: bool, execute: bool) -> &'static str {
    match (write, execute) {
        (false, false) => "r",
        (true, false) => "rw",
        (false, true) => "rx",
        (true, true) => "rwx",
    }
}

fn memory(cfg: &LoadedConfig) -> Memory {
    let pref = |id: usize, p: &PartitionConfig| PartitionRef {
        id,
        name: p.name.clone(),
    };
    let mut regions = Vec::new();
    for (id, p) in cfg.partitions().enumerate() {
        let mut mine = Vec::new();
        for r in &p.memory {
            mine.push(RegionFacts {
                partition: pref(id, p),
                name: r.name.clone(),
                kind: "ram",
                ipa: Range::new(r.ipa, r.size),
                phys: Range::new(r.phys, r.size),
                access: r.access.as_str(),
                channel: None,
            });
        }
        for d in &p.devices {
            mine.push(RegionFacts {
                partition: pref(id, p),
                name: d.name.clone(),
                kind: "device",
                ipa: Range::of(d.mmio),
                phys: Range::of(d.mmio),
                access: "rw",
                channel: None,
            });
        }
        for port in &p.ports {
            for m in &port.mappings {
                let name = match m.buffer {
                    ChannelBuffer::Data => port.name.clone(),
                    ChannelBuffer::Ack => format!("{}.ack", port.name),
                };
                mine.push(RegionFacts {
                    partition: pref(id, p),
                    name,
                    kind: "port-buffer",
                    ipa: Range::new(m.ipa, m.size),
                    phys: Range::new(m.phys, m.size),
                    access: access_name(m.writable, false),
                    channel: cfg.channels().get(port.channel).map(|c| c.name.clone()),
                });
            }
        }
        mine.sort_by_key(|r| (r.ipa.base, r.ipa.end));
        regions.extend(mine);
    }

    let board = cfg.board();
    let mut physical = vec![
        PhysEntry {
            range: Range::of(board.kernel_reserved),
            level: 0,
            kind: "kernel",
            what: "kernel image, stacks and tables".to_owned(),
            mapped_by: Vec::new(),
        },
        PhysEntry {
            range: Range::of(board.kernel_uart),
            level: 0,
            kind: "kernel-device",
            what: "kernel console UART".to_owned(),
            mapped_by: Vec::new(),
        },
        PhysEntry {
            range: Range::of(board.gicd),
            level: 0,
            kind: "kernel-device",
            what: "GIC distributor".to_owned(),
            mapped_by: Vec::new(),
        },
        PhysEntry {
            range: Range::of(board.gicr),
            level: 0,
            kind: "kernel-device",
            what: "GIC redistributors".to_owned(),
            mapped_by: Vec::new(),
        },
    ];
    for r in regions.iter().filter(|r| r.kind != "port-buffer") {
        let (kind, what) = match r.kind {
            "ram" => (
                "ram",
                format!("RAM region {:?} of {}", r.name, r.partition.name),
            ),
            _ => (
                "device",
                format!("device {:?} of {}", r.name, r.partition.name),
            ),
        };
        physical.push(PhysEntry {
            range: r.phys,
            level: 0,
            kind,
            what,
            mapped_by: vec![Mapping {
                partition: r.partition.clone(),
                access: r.access,
            }],
        });
    }
    if let Some(shared) = cfg.shared_memory() {
        physical.push(PhysEntry {
            range: Range::of(shared),
            level: 0,
            kind: "shared-memory",
            what: "shared memory (channel buffers)".to_owned(),
            mapped_by: Vec::new(),
        });
        let mut used_to = shared.base;
        for c in cfg.channels() {
            used_to = used_to.max(c.data.end()).max(c.ack.map_or(0, |a| a.end()));
            for (buffer, range) in [
                (ChannelBuffer::Data, Some(c.data)),
                (ChannelBuffer::Ack, c.ack),
            ] {
                let Some(range) = range else { continue };
                let mut mapped_by: Vec<Mapping> = regions
                    .iter()
                    .filter(|r| r.kind == "port-buffer" && r.phys == Range::of(range))
                    .map(|r| Mapping {
                        partition: r.partition.clone(),
                        access: r.access,
                    })
                    .collect();
                mapped_by.sort_by_key(|m| m.partition.id);
                physical.push(PhysEntry {
                    range: Range::of(range),
                    level: 1,
                    kind: "channel-buffer",
                    what: format!(
                        "channel {:?} {}",
                        c.name,
                        match buffer {
                            ChannelBuffer::Data if c.kind == "sampling" => "message",
                            ChannelBuffer::Data => "queue",
                            ChannelBuffer::Ack => "acknowledge",
                        }
                    ),
                    mapped_by,
                });
            }
        }
        // Buffers are placed one after another from the base: the rest is spare.
        if used_to < shared.end() {
            physical.push(PhysEntry {
                range: Range::new(used_to, shared.end() - used_to),
                level: 1,
                kind: "unused",
                what: "unused shared memory".to_owned(),
                mapped_by: Vec::new(),
            });
        }
    }
    // Unused RAM between the top-level entries inside board RAM.
    let ram = Range::of(board.ram);
    let mut used: Vec<Range> = physical
        .iter()
        .filter(|e| e.level == 0 && e.range.overlaps(&ram))
        .map(|e| e.range)
        .collect();
    used.sort_by_key(|r| (r.base, r.end));
    let mut at = ram.base;
    let mut unused = Vec::new();
    for r in &used {
        if r.base > at {
            unused.push(Range::new(at, r.base - at));
        }
        at = at.max(r.end);
    }
    if at < ram.end {
        unused.push(Range::new(at, ram.end - at));
    }
    for r in unused {
        physical.push(PhysEntry {
            range: r,
            level: 0,
            kind: "unused",
            what: "unused RAM".to_owned(),
            mapped_by: Vec::new(),
        });
    }
    physical.sort_by_key(|e| (e.range.base, e.level, e.range.end));

    let top: Vec<&PhysEntry> = physical.iter().filter(|e| e.level == 0).collect();
    let mut physical_overlaps = Vec::new();
    for (i, a) in top.iter().enumerate() {
        for b in &top[i + 1..] {
            if a.range.overlaps(&b.range) {
                physical_overlaps.push(format!("{} overlaps {}", a.what, b.what));
            }
        }
    }
    let pages = crate::table_pages::table_pages(cfg);
    let translation_tables = TranslationTables {
        page_size: crate::table_pages::TABLE_PAGE_SIZE,
        el2_pages: pages.el2,
        partitions: pages
            .partitions
            .iter()
            .enumerate()
            .map(|(id, (name, n))| PartitionPages {
                partition: PartitionRef {
                    id,
                    name: name.clone(),
                },
                pages: *n,
            })
            .collect(),
        total_pages: pages.total(),
    };
    Memory {
        regions,
        physical,
        physical_overlaps,
        translation_tables,
    }
}

fn port_end(cfg: &LoadedConfig, r: crate::model::PortRef) -> PortEnd {
    let p = cfg.partition(r.partition);
    let port = p.and_then(|p| p.ports.get(r.port));
    let hz = cfg.counter_hz();
    PortEnd {
        partition: PartitionRef {
            id: r.partition,
            name: p.map_or_else(String::new, |p| p.name.clone()),
        },
        port: port.map_or_else(String::new, |q| q.name.clone()),
        max_message_size: port.map_or(0, |q| q.max_message_size),
        refresh_period: port.and_then(|q| match q.kind {
            PortKind::Sampling { refresh_period_ns } => {
                refresh_period_ns.map(|ns| Time::new(ns, hz))
            }
            PortKind::Queuing { .. } => None,
        }),
        discipline: port.and_then(|q| match q.kind {
            PortKind::Queuing { discipline, .. } => Some(discipline.as_str()),
            PortKind::Sampling { .. } => None,
        }),
    }
}

fn channels(cfg: &LoadedConfig) -> Vec<ChannelFacts> {
    cfg.channels()
        .iter()
        .enumerate()
        .map(|(id, c)| {
            let max_messages = cfg
                .partition(c.source.partition)
                .and_then(|p| p.ports.get(c.source.port))
                .and_then(|q| match q.kind {
                    PortKind::Queuing { max_messages, .. } => Some(max_messages),
                    PortKind::Sampling { .. } => None,
                });
            ChannelFacts {
                id,
                name: c.name.clone(),
                kind: c.kind,
                source: port_end(cfg, c.source),
                destinations: c.destinations.iter().map(|&d| port_end(cfg, d)).collect(),
                max_message_size: c.max_message_size,
                max_messages,
                data: Range::of(c.data),
                ack: c.ack.map(Range::of),
            }
        })
        .collect()
}

fn devices(cfg: &LoadedConfig) -> Vec<DeviceFacts> {
    let board = cfg.board();
    let kernel = |name: &str, mmio: PhysRange, interrupts: Vec<u32>| DeviceFacts {
        name: name.to_owned(),
        owner_kind: "kernel",
        partition: None,
        mmio: Range::of(mmio),
        interrupts,
        described_by: "board",
        cores: Vec::new(),
        dma: None,
    };
    let mut out = vec![
        kernel("uart", board.kernel_uart, vec![board.kernel_uart_interrupt]),
        kernel("gicd", board.gicd, Vec::new()),
        kernel("gicr", board.gicr, Vec::new()),
    ];
    for (id, p) in cfg.partitions().enumerate() {
        for d in &p.devices {
            out.push(DeviceFacts {
                name: d.name.clone(),
                owner_kind: "partition",
                partition: Some(PartitionRef {
                    id,
                    name: p.name.clone(),
                }),
                mmio: Range::of(d.mmio),
                interrupts: d.interrupts.clone(),
                described_by: if d.from_board {
                    "board"
                } else {
                    "configuration"
                },
                cores: p.cores.clone(),
                dma: Some(DmaFacts::of(d.dma, d.dma_trusted)),
            });
        }
    }
    for d in board.devices {
        let taken = cfg
            .partitions()
            .any(|p| p.devices.iter().any(|o| o.from_board && o.name == d.name));
        if !taken {
            out.push(DeviceFacts {
                name: d.name.to_owned(),
                owner_kind: "unassigned",
                partition: None,
                mmio: Range::of(d.mmio),
                interrupts: d.interrupts.to_vec(),
                described_by: "board",
                cores: Vec::new(),
                dma: Some(DmaFacts::of(Some(d.dma), false)),
            });
        }
    }
    out.sort_by_key(|d| (d.mmio.base, d.mmio.end));
    out
}

fn interrupts(cfg: &LoadedConfig) -> Vec<Interrupt> {
    let mut out: Vec<Interrupt> = devices(cfg)
        .into_iter()
        .filter(|d| d.owner_kind != "unassigned")
        .flat_map(|d| {
            d.interrupts
                .iter()
                .map(|&intid| Interrupt {
                    intid,
                    device: d.name.clone(),
                    owner_kind: d.owner_kind,
                    partition: d.partition.clone(),
                    cores: d.cores.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by_key(|i| i.intid);
    out
}

fn hm(cfg: &LoadedConfig) -> Hm {
    Hm {
        module: cfg
            .module_hm()
            .iter()
            .map(|e| HmRow {
                error: e.error.name(),
                code: e.error.code(),
                level: "module",
                action: e.action.name(),
                configured: e.configured,
            })
            .collect(),
        partitions: cfg
            .partitions()
            .enumerate()
            .map(|(id, p)| PartitionHm {
                partition: PartitionRef {
                    id,
                    name: p.name.clone(),
                },
                entries: p
                    .hm
                    .iter()
                    .map(|e| {
                        let (level, action) = match e.action {
                            HmAction::Partition(a) => ("partition", a.name()),
                            HmAction::Module(a) => ("module", a.name()),
                        };
                        HmRow {
                            error: e.error.name(),
                            code: e.error.code(),
                            level,
                            action,
                            configured: e.configured,
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}
