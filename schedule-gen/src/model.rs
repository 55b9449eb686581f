//! The validated system description: what the rest of the tool (and xtask) works from.
//!
//! Values of these types only come out of [`crate::load`] / [`crate::load_str`], after every
//! whole-system rule has passed, so users never see spans or unchecked numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use apex_api::health::{HmAction, HmError, ModuleAction, PartitionAction};
pub use bsp::PhysRange;

pub use crate::duration::{format_duration, ns_to_ticks};

pub use crate::config::{Access, Criticality, Direction, PartitionKind, QueuingDiscipline};

/// A configuration that parsed and passed every rule.
#[derive(Debug)]
pub struct LoadedConfig {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
    pub(crate) module_name: String,
    pub(crate) board: &'static bsp::Board,
    pub(crate) core_count: u8,
    pub(crate) counter_hz: u64,
    pub(crate) shared_memory: Option<PhysRange>,
    pub(crate) partitions: Vec<PartitionConfig>,
    pub(crate) schedules: Vec<CoreSchedule>,
    pub(crate) channels: Vec<Channel>,
    pub(crate) module_hm: Vec<HmEntry<ModuleAction>>,
    pub(crate) console_input: Option<usize>,
}

impl LoadedConfig {
    /// The partitions in file order; partition `id` is the position in this sequence.
    pub fn partitions(&self) -> impl Iterator<Item = &PartitionConfig> {
        self.partitions.iter()
    }

    /// The configuration file (for [`crate::load_str`]: `base_dir` joined with the name).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name alone, as mentioned in generated files (never a directory).
    pub fn file_name(&self) -> String {
        self.path.file_name().map_or_else(
            || "config.toml".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// The exact text the configuration was read from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// SHA-256 of the configuration file's bytes, lower-case hex.
    pub fn sha256_hex(&self) -> String {
        crate::codegen::sha256_hex(self.text.as_bytes())
    }

    /// The board the configuration targets.
    pub fn board(&self) -> &'static bsp::Board {
        self.board
    }

    /// `[module] name`.
    pub fn module_name(&self) -> &str {
        &self.module_name
    }

    /// How many cores the module uses: cores `0..core_count` of the board.
    pub fn core_count(&self) -> u8 {
        self.core_count
    }

    /// The system counter frequency every time in the configuration is converted with.
    pub fn counter_hz(&self) -> u64 {
        self.counter_hz
    }

    /// The physical RAM channel buffers are placed in, if the configuration declares it.
    pub fn shared_memory(&self) -> Option<PhysRange> {
        self.shared_memory
    }

    /// The partition with id `id`.
    pub fn partition(&self, id: usize) -> Option<&PartitionConfig> {
        self.partitions.get(id)
    }

    /// The schedules of the time-partitioned cores, by core.
    pub fn schedules(&self) -> &[CoreSchedule] {
        &self.schedules
    }

    /// The channels, in file order.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// The module HM table, one entry per module-level error, in error-code order.
    pub fn module_hm(&self) -> &[HmEntry<ModuleAction>] {
        &self.module_hm
    }

    /// The id of the partition that receives what is typed on the board's console UART
    /// (`[module] console_input`), through the receive side of its virtual UART; `None`: the
    /// kernel discards console input.
    pub fn console_input(&self) -> Option<usize> {
        self.console_input
    }

    /// Converts nanoseconds to counter ticks (validation has checked that every configured
    /// time converts exactly).
    pub fn ticks(&self, ns: u64) -> u64 {
        ns_to_ticks(ns, self.counter_hz).unwrap_or(u64::MAX)
    }

    /// What a core does: run one dedicated partition, a schedule, or nothing.
    pub fn core_use(&self, core: u8) -> CoreUse {
        if let Some(s) = self.schedules.iter().position(|s| s.core == core) {
            return CoreUse::Scheduled(s);
        }
        match self
            .partitions
            .iter()
            .position(|p| p.time.is_none() && p.cores.contains(&core))
        {
            Some(p) => CoreUse::Dedicated(p),
            None => CoreUse::Idle,
        }
    }

    /// Partition name → ELF for every partition whose image is `{ elf = ... }`; partitions built
    /// from a workspace package are left for the build tool to add.
    pub fn elf_images(&self) -> BTreeMap<String, PathBuf> {
        self.partitions
            .iter()
            .filter_map(|p| match &p.image {
                ImageSource::Elf(path) => Some((p.name.clone(), path.clone())),
                ImageSource::Package(_) | ImageSource::Linux(_) => None,
            })
            .collect()
    }
}

/// What one core of the module does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreUse {
    /// Runs the partition with this id, alone.
    Dedicated(usize),
    /// Runs the schedule at this index of [`LoadedConfig::schedules`].
    Scheduled(usize),
    /// Nobody runs on it: the kernel parks it.
    Idle,
}

/// One partition. Invariants: `name` is a valid, unique partition name; `cores` are on the board
/// and owned by no other partition (or, time-partitioned, shared only through windows); regions,
/// devices and ports obey every rule in [`crate::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionConfig {
    /// Unique name: 1..=24 chars of `[a-z0-9_-]`, starting with a letter.
    pub name: String,
    /// What the partition runs.
    pub kind: PartitionKind,
    /// Design assurance level.
    pub criticality: Criticality,
    /// Dedicated cores by board core index, as written (the first one starts vCPU 0); for a
    /// time-partitioned partition, its one core.
    pub cores: Vec<u8>,
    /// Period and duration of a time-partitioned partition; `None` for dedicated cores.
    pub time: Option<TimeBudget>,
    /// Where its ELF comes from.
    pub image: ImageSource,
    /// RAM regions in file order.
    pub memory: Vec<MemoryRegion>,
    /// Owned devices in file order; each is mapped identity, read-write, never executable.
    pub devices: Vec<DeviceConfig>,
    /// Ports in file order (sampling ports first, then queuing ports).
    pub ports: Vec<Port>,
    /// The partition HM table, one entry per error the partition can raise, in code order;
    /// module-level errors appear with their module action.
    pub hm: Vec<HmEntry<HmAction>>,
    /// May use the PMU of its cores directly (`pmu = true`): it then counts everything that
    /// runs there, the kernel included. For benchmarks.
    pub pmu: bool,
}

impl PartitionConfig {
    /// Whether the partition shares its core through windows.
    pub fn is_time_partitioned(&self) -> bool {
        self.time.is_some()
    }

    /// The action for `error`.
    pub fn hm_action(&self, error: HmError) -> Option<HmAction> {
        self.hm.iter().find(|e| e.error == error).map(|e| e.action)
    }
}

/// A time-partitioned partition's budget: `duration` of processor time in every `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeBudget {
    /// Partition period in nanoseconds; divides the major frame.
    pub period_ns: u64,
    /// Processor time needed in each period, nanoseconds.
    pub duration_ns: u64,
}

/// A device a partition owns: identity-mapped read-write, never executable, its interrupts
/// routed to the partition alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    /// The board's device name, or the integrator's.
    pub name: String,
    /// MMIO window, page-aligned.
    pub mmio: PhysRange,
    /// GIC INTIDs (SPIs).
    pub interrupts: Vec<u32>,
    /// Whether the description comes from the board (`false`: from the configuration).
    pub from_board: bool,
    /// What the board says about its DMA; `None` for a device described by the configuration,
    /// which the board cannot vouch for.
    pub dma: Option<bsp::Dma>,
    /// `dma = "trusted"`: the integrator trusts the partition with the device's DMA, which
    /// nothing confines (E104).
    pub dma_trusted: bool,
}

/// One row of an HM table: what happens about `error`, and whether the configuration said so
/// or the default applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HmEntry<A> {
    /// The error.
    pub error: HmError,
    /// What is done about it.
    pub action: A,
    /// `true` if a table in the configuration names the error, `false` for the default.
    pub configured: bool,
}

/// A port of a partition, after its channel has been resolved and its buffers placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// Name local to the partition.
    pub name: String,
    /// Sampling or queuing, with the kind's attributes.
    pub kind: PortKind,
    /// Whether the partition sends or receives.
    pub direction: Direction,
    /// Largest message in bytes.
    pub max_message_size: u64,
    /// Index of its channel in [`LoadedConfig::channels`].
    pub channel: usize,
    /// Where the channel's buffers appear to the partition, and with which rights.
    pub mappings: Vec<PortMapping>,
}

/// Sampling or queuing, with what only that kind has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// Latest-value semantics.
    Sampling {
        /// How long a message stays valid, nanoseconds (destination ports; optional on sources).
        refresh_period_ns: Option<u64>,
    },
    /// FIFO message queue.
    Queuing {
        /// Messages the queue holds.
        max_messages: u64,
        /// Order in which waiting processes are served.
        discipline: QueuingDiscipline,
    },
}

impl PortKind {
    /// `"sampling"` or `"queuing"`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Sampling { .. } => "sampling",
            Self::Queuing { .. } => "queuing",
        }
    }
}

/// One channel buffer as a partition sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortMapping {
    /// Which buffer of the channel.
    pub buffer: ChannelBuffer,
    /// Guest-physical base in the partition.
    pub ipa: u64,
    /// Host-physical base, inside the module's shared memory.
    pub phys: u64,
    /// Length, whole pages.
    pub size: u64,
    /// Whether the partition may write it (only the buffer's writer may).
    pub writable: bool,
}

/// The buffers of a channel (see `apex_api::ports`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelBuffer {
    /// The sampling message, or the queuing ring: written by the source.
    Data,
    /// The queuing acknowledge page: written by the destination.
    Ack,
}

/// A channel: one source port, its destination ports, and its buffers in shared memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Unique name.
    pub name: String,
    /// `"sampling"` or `"queuing"` (the ports' kind).
    pub kind: &'static str,
    /// The source port.
    pub source: PortRef,
    /// The destination ports (exactly one for queuing).
    pub destinations: Vec<PortRef>,
    /// The source's largest message.
    pub max_message_size: u64,
    /// Data buffer (physical).
    pub data: PhysRange,
    /// Acknowledge buffer (physical), queuing channels only.
    pub ack: Option<PhysRange>,
}

/// A port by partition id and index in that partition's [`PartitionConfig::ports`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRef {
    /// Partition id.
    pub partition: usize,
    /// Index of the port in the partition.
    pub port: usize,
}

/// The cyclic schedule of one time-partitioned core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreSchedule {
    /// The core.
    pub core: u8,
    /// Length of one cycle, nanoseconds.
    pub major_frame_ns: u64,
    /// Windows sorted by offset; they neither overlap nor cross the end of the frame.
    pub windows: Vec<Window>,
}

/// A window of a core schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Partition id.
    pub partition: usize,
    /// Start from the beginning of the major frame, nanoseconds.
    pub offset_ns: u64,
    /// Length, nanoseconds.
    pub duration_ns: u64,
}

impl Window {
    /// One past the last nanosecond.
    pub fn end_ns(&self) -> u64 {
        self.offset_ns + self.duration_ns
    }
}

/// Window time each period of `[0, major_frame)` of length `period` gets from the windows
/// of `partition`: `(period start, period end, given)` for every period. A window crossing
/// a period boundary counts in each period for its part inside it. A zero period has no
/// periods. Validation checks budgets with it and the reports show it, so both agree.
pub fn given_per_period(
    windows: &[Window],
    partition: usize,
    major_frame: u64,
    period: u64,
) -> Vec<(u64, u64, u64)> {
    let count = major_frame.checked_div(period).unwrap_or(0);
    (0..count)
        .map(|k| {
            let (start, end) = (k * period, (k + 1) * period);
            let given = windows
                .iter()
                .filter(|w| w.partition == partition)
                .map(|w| w.end_ns().min(end).saturating_sub(w.offset_ns.max(start)))
                .sum();
            (start, end, given)
        })
        .collect()
}

/// Where a partition's image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// A package of this workspace, built by xtask.
    Package(String),
    /// An ELF built elsewhere; already resolved against the configuration file's directory.
    Elf(PathBuf),
    /// An unmodified Linux kernel, booted with a device tree generated from the configuration
    /// and an initramfs ([`crate::linux`]); only on a `kind = "linux"` partition.
    Linux(LinuxImage),
}

/// `image = { linux = "..." }` and the partition's `bootargs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxImage {
    /// Where the kernel (and the initramfs's busybox) come from.
    pub source: LinuxSource,
    /// Kernel command-line arguments appended to the defaults
    /// ([`crate::linux::DEFAULT_BOOTARGS`]); printable ASCII, validated.
    pub bootargs: Option<String>,
}

/// A distribution whose arm64 kernel the build fetches by package name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinuxSource {
    /// Debian's `linux-image-arm64` (the current `linux-image-<abi>-arm64`) and
    /// `busybox-static`, for arm64, fetched with apt by xtask.
    Debian,
}

impl LinuxSource {
    /// Every source, as written in `image = { linux = "..." }`.
    pub const ALL: &'static [LinuxSource] = &[LinuxSource::Debian];

    /// As written in the configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Debian => "debian",
        }
    }
}

/// A RAM region: `[ipa, ipa + size)` → `[phys, phys + size)`, 4 KiB aligned, non-empty, inside
/// board RAM, outside the kernel's reservation, below the 39-bit IPA limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Unique within the partition (regions and devices together).
    pub name: String,
    /// Guest-physical base.
    pub ipa: u64,
    /// Host-physical base (`ipa` unless the configuration set `phys`).
    pub phys: u64,
    /// Length in bytes, a non-zero multiple of 4 KiB.
    pub size: u64,
    /// What the partition may do with it.
    pub access: Access,
}

impl MemoryRegion {
    /// Whether `[ipa, ipa + len)` lies wholly inside this region (in IPA space).
    pub fn contains_ipa(&self, ipa: u64, len: u64) -> bool {
        bsp::PhysRange::new(self.ipa, self.size).contains_range(ipa, len)
    }
}
