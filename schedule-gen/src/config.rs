//! The TOML system configuration as written: a serde model that keeps every value's span.
//!
//! Nothing here is checked beyond TOML types; [`crate::validate`] turns a [`RawConfig`] into a
//! [`crate::LoadedConfig`]. Every table rejects unknown keys, so a typo (or a key of a later
//! format version) is an error with its location rather than silently ignored. Integers are
//! read wide (`i64`/`u64`) so out-of-range values reach the rule that explains them, and
//! durations and HM tables are read as text so their rules can name the exact value.
//!
//! The format is documented, key by key, in `docs/configuration.md`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[module]`.
    pub module: Spanned<RawModule>,
    /// `[[partition]]` tables, in file order (their order fixes partition ids).
    #[serde(default, rename = "partition")]
    pub partitions: Vec<Spanned<RawPartition>>,
    /// `[[schedule]]`: one per time-partitioned core.
    #[serde(default, rename = "schedule")]
    pub schedules: Vec<Spanned<RawSchedule>>,
    /// `[[channel]]`: one per channel, joining a source port to its destinations.
    #[serde(default, rename = "channel")]
    pub channels: Vec<Spanned<RawChannel>>,
}

/// `[module]`: what the configuration builds, for which board, and module-wide settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModule {
    /// Module name; becomes `System::module_name`.
    pub name: Spanned<String>,
    /// A board name from `bsp::BOARDS`.
    pub board: Spanned<String>,
    /// How many of the board's cores the module uses (cores `0..cores`); default: all.
    pub cores: Option<Spanned<i64>>,
    /// The system counter frequency the schedule is built for; default: the board's.
    pub counter_hz: Option<Spanned<i64>>,
    /// Physical RAM the channel buffers are placed in; needed once a channel exists.
    pub shared_memory: Option<Spanned<RawPhysRange>>,
    /// The module HM table: error → module action.
    pub hm: Option<Spanned<RawHmTable>>,
    /// The partition, by name, that receives what is typed on the board's console UART;
    /// default: nobody (the kernel discards it).
    pub console_input: Option<Spanned<String>>,
}

/// `{ phys = ..., size = ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhysRange {
    /// Physical base.
    pub phys: Spanned<u64>,
    /// Length in bytes.
    pub size: Spanned<u64>,
}

/// An HM table as written: error name → action name, both checked by the validator.
pub type RawHmTable = BTreeMap<Spanned<String>, Spanned<String>>;

/// One `[[partition]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPartition {
    /// Unique partition name.
    pub name: Spanned<String>,
    /// What the partition runs.
    pub kind: Spanned<PartitionKind>,
    /// Design assurance level of the partition's software, `A` (highest) to `E`.
    pub criticality: Spanned<Criticality>,
    /// Dedicated board core indices.
    pub cores: Option<Spanned<Vec<Spanned<i64>>>>,
    /// The one core a time-partitioned partition shares through windows.
    pub core: Option<Spanned<i64>>,
    /// Partition period (time-partitioned only).
    pub period: Option<Spanned<RawDuration>>,
    /// Processor time the partition needs in every period (time-partitioned only).
    pub duration: Option<Spanned<RawDuration>>,
    /// Where the partition's ELF (or Linux kernel) comes from.
    pub image: Spanned<RawImage>,
    /// Extra Linux kernel command line, appended to the defaults (Linux images only).
    pub bootargs: Option<Spanned<String>>,
    /// `[[partition.memory]]` RAM regions.
    #[serde(default)]
    pub memory: Vec<Spanned<RawRegion>>,
    /// `[[partition.device]]` owned devices.
    #[serde(default, rename = "device")]
    pub devices: Vec<Spanned<RawDevice>>,
    /// Guest-physical base of the window the partition's port buffers are mapped into.
    pub ports_ipa: Option<Spanned<u64>>,
    /// Whether the partition may use its cores' PMU directly (benchmarks); default false.
    pub pmu: Option<Spanned<bool>>,
    /// `[[partition.sampling_port]]`.
    #[serde(default, rename = "sampling_port")]
    pub sampling_ports: Vec<Spanned<RawSamplingPort>>,
    /// `[[partition.queuing_port]]`.
    #[serde(default, rename = "queuing_port")]
    pub queuing_ports: Vec<Spanned<RawQueuingPort>>,
    /// `[partition.hm]`: the partition HM table, error → partition action.
    pub hm: Option<Spanned<RawHmTable>>,
}

/// `image = { package = "..." }`, `image = { elf = "..." }` or `image = { linux = "..." }`;
/// exactly one is checked later.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    /// A package of this workspace, built by xtask.
    pub package: Option<Spanned<String>>,
    /// An ELF built elsewhere, relative to the configuration file's directory.
    pub elf: Option<Spanned<String>>,
    /// An unmodified Linux kernel from a distribution, by name (`"debian"`), fetched by xtask.
    pub linux: Option<Spanned<String>>,
}

/// One `[[partition.memory]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    /// Region name, unique within the partition.
    pub name: Spanned<String>,
    /// Guest-physical base: where the partition sees the region.
    pub ipa: Spanned<u64>,
    /// Absent means identity (`phys = ipa`).
    pub phys: Option<Spanned<u64>>,
    /// Length in bytes.
    pub size: Spanned<u64>,
    /// What the partition may do with it.
    pub access: Spanned<Access>,
}

/// One `[[partition.device]]`: a board device by name, or a device described here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    /// A device of the board (`bsp::Board::devices`), or the name of the device described by
    /// `mmio` and `interrupts`.
    pub name: Spanned<String>,
    /// MMIO window of a device the board description does not list.
    pub mmio: Option<Spanned<RawMmio>>,
    /// Its interrupts (GIC INTIDs); only with `mmio`.
    pub interrupts: Option<Spanned<Vec<Spanned<i64>>>>,
    /// `dma = "trusted"`: the integrator accepts that nothing confines the device's DMA.
    pub dma: Option<Spanned<DmaTrust>>,
}

/// `mmio = { base = ..., size = ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMmio {
    /// Physical (and guest-physical: devices are identity-mapped) base.
    pub base: Spanned<u64>,
    /// Length in bytes.
    pub size: Spanned<u64>,
}

/// One `[[partition.sampling_port]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSamplingPort {
    /// Port name, local to the partition.
    pub name: Spanned<String>,
    /// `source` or `destination`.
    pub direction: Spanned<Direction>,
    /// Largest message in bytes.
    pub max_message_size: Spanned<i64>,
    /// How long a message stays valid (destinations; required there).
    pub refresh_period: Option<Spanned<RawDuration>>,
}

/// One `[[partition.queuing_port]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueuingPort {
    /// Port name, local to the partition.
    pub name: Spanned<String>,
    /// `source` or `destination`.
    pub direction: Spanned<Direction>,
    /// Largest message in bytes.
    pub max_message_size: Spanned<i64>,
    /// Messages the queue holds.
    pub max_messages: Spanned<i64>,
    /// Order in which waiting processes are served; default `fifo`.
    pub discipline: Option<Spanned<QueuingDiscipline>>,
}

/// One `[[schedule]]`: the cyclic schedule of one time-partitioned core.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// The core this schedule runs on.
    pub core: Spanned<i64>,
    /// Length of one cycle of the windows.
    pub major_frame: Spanned<RawDuration>,
    /// `[[schedule.window]]`, in any order.
    #[serde(default, rename = "window")]
    pub windows: Vec<Spanned<RawWindow>>,
}

/// One `[[schedule.window]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// The partition that runs in the window.
    pub partition: Spanned<String>,
    /// Start, from the beginning of the major frame.
    pub offset: Spanned<RawDuration>,
    /// Length.
    pub duration: Spanned<RawDuration>,
}

/// One `[[channel]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// Channel name, unique in the module.
    pub name: Spanned<String>,
    /// `"partition.port"` of the source port.
    pub source: Spanned<String>,
    /// `"partition.port"` of each destination port.
    pub destinations: Spanned<Vec<Spanned<String>>>,
}

/// A duration as written, e.g. `"20ms"`, `"2.5ms"`, `"500us"`, `"1s"`, `"16ns"`: decimal digits
/// with an optional fraction and a unit. Parsed to nanoseconds by the validator, which can say
/// exactly what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawDuration(pub String);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration with a unit, such as \"20ms\", \"2.5ms\" or \"500us\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_owned()))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// `kind = "bm" | "rtos" | "linux" | "system"`; mirrors the kernel's `PartitionKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum PartitionKind {
    /// Bare-metal payload.
    #[serde(rename = "bm")]
    BareMetal,
    /// Partition OS with ARINC 653 processes.
    #[serde(rename = "rtos")]
    Rtos,
    /// An unmodified Linux kernel.
    #[serde(rename = "linux")]
    Linux,
    /// May use privileged hypercalls.
    #[serde(rename = "system")]
    System,
}

impl PartitionKind {
    /// As written in the configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BareMetal => "bm",
            Self::Rtos => "rtos",
            Self::Linux => "linux",
            Self::System => "system",
        }
    }

    /// The kernel's `PartitionKind` variant name.
    pub const fn rust_variant(self) -> &'static str {
        match self {
            Self::BareMetal => "BareMetal",
            Self::Rtos => "Rtos",
            Self::Linux => "Linux",
            Self::System => "System",
        }
    }
}

/// `criticality = "A" | "B" | "C" | "D" | "E"`: the design assurance level (DO-178C) of the
/// partition's software, `A` the most critical. Reported, and decides nothing in the kernel:
/// isolation is the same for every level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum Criticality {
    /// Catastrophic failure condition.
    A,
    /// Hazardous.
    B,
    /// Major.
    C,
    /// Minor.
    D,
    /// No safety effect.
    E,
}

impl Criticality {
    /// As written: `"A"` to `"E"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
            Self::E => "E",
        }
    }
}

/// A port's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The partition writes (sends) messages.
    Source,
    /// The partition reads (receives) messages.
    Destination,
}

impl Direction {
    /// As written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Destination => "destination",
        }
    }
}

/// Order in which processes blocked on a queuing port are released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueuingDiscipline {
    /// First come, first served.
    Fifo,
    /// Highest process priority first.
    Priority,
}

impl QueuingDiscipline {
    /// As written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Fifo => "fifo",
            Self::Priority => "priority",
        }
    }
}

/// `dma = "trusted"` on a `[[partition.device]]`: the integrator knows the device is a bus
/// master whose DMA nothing confines to its partition's memory, and trusts that partition with
/// all of memory through it. The only value; required for such a device (E104).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmaTrust {
    /// The partition is trusted with the device's unconfined DMA.
    Trusted,
}

/// `access = "r" | "rw" | "rx" | "rwx"`. Every region is readable; write-execute without read
/// is not expressible on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read-only.
    R,
    /// Read-write.
    Rw,
    /// Read-execute.
    Rx,
    /// Read-write-execute.
    Rwx,
}

impl Access {
    /// Whether the partition may write.
    pub const fn write(self) -> bool {
        matches!(self, Self::Rw | Self::Rwx)
    }

    /// Whether the partition may execute.
    pub const fn execute(self) -> bool {
        matches!(self, Self::Rx | Self::Rwx)
    }

    /// As written in the configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::R => "r",
            Self::Rw => "rw",
            Self::Rx => "rx",
            Self::Rwx => "rwx",
        }
    }
}
