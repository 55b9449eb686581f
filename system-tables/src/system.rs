//! The shape of the static system description the kernel is compiled with.
//!
//! `schedule-gen` writes one instance of [`System`] as Rust source (`system_tables.rs`) and the
//! kernel includes it; nothing here is built at run time. The generator has already checked
//! every whole-system rule; the kernel re-checks the few invariants its own safety depends on
//! (see `boot_checks`) and refuses to start partitions if they fail.

pub use apex_api::health::{HmAction, HmError, ModuleAction, PartitionAction};
pub use bsp::{Board, PhysRange};

/// The whole module: board, partitions, and where the configuration came from.
#[derive(Debug)]
pub struct System {
    /// `[module] name` of the configuration file.
    pub module_name: &'static str,
    pub board: &'static Board,
    pub partitions: &'static [Partition],
    /// SHA-256 (hex) of the configuration file the tables were generated from.
    pub config_sha256: &'static str,
    /// SHA-256 (hex) of the generated `system_tables.rs` (the same hash the reports show).
    pub tables_sha256: &'static str,
    /// Cores the module uses: `0..core_count`; the others are never started.
    pub core_count: u8,
    /// System counter frequency the schedule was converted with; checked against CNTFRQ_EL0.
    pub counter_hz: u64,
    /// The cyclic schedule of every time-partitioned core.
    pub schedules: &'static [CoreSchedule],
    /// Every channel, with its buffers in shared memory.
    pub channels: &'static [Channel],
    /// The module HM table: what happens on module-level errors.
    pub module_hm: &'static [ModuleHmEntry],
    /// The partition (by id) that receives what is typed on the board's console UART,
    /// through the receive side of its virtual UART (`[module] console_input`); `None`:
    /// input is discarded.
    pub console_input: Option<u16>,
}

impl System {
    /// The schedule of `core`, if it is time-partitioned.
    pub fn schedule_of(&self, core: u8) -> Option<&'static CoreSchedule> {
        self.schedules.iter().find(|s| s.core == core)
    }

    /// The partition that receives console input (`console_input`), if any.
    pub fn console_input_partition(&self) -> Option<&'static Partition> {
        self.partitions.get(usize::from(self.console_input?))
    }

    /// The action for a module-level error.
    pub fn module_action(&self, error: HmError) -> Option<ModuleAction> {
        self.module_hm
            .iter()
            .find(|e| e.error == error)
            .map(|e| e.action)
    }
}

/// Design assurance level of a partition's software (DO-178C), `A` the most critical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criticality {
    A,
    B,
    C,
    D,
    E,
}

/// What kind of payload a partition carries. Decides privileges and boot protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKind {
    /// Bare-metal payload.
    BareMetal,
    /// Partition OS with ARINC 653 processes.
    Rtos,
    /// An unmodified Linux kernel.
    Linux,
    /// A system partition: may use privileged hypercalls (observe and control others).
    System,
}

impl PartitionKind {
    pub const fn name(self) -> &'static str {
        match self {
            Self::BareMetal => "bm",
            Self::Rtos => "rtos",
            Self::Linux => "linux",
            Self::System => "system",
        }
    }

    pub const fn is_privileged(self) -> bool {
        matches!(self, Self::System)
    }
}

/// One partition, fixed at build time.
#[derive(Debug)]
pub struct Partition {
    /// Index in [`System::partitions`]; also what `PartitionInfo` reports.
    pub id: u16,
    /// Unique name; prefixes the partition's console lines.
    pub name: &'static str,
    pub kind: PartitionKind,
    /// Stage-2 VMID; unique, never 0 (0 is left to the kernel).
    pub vmid: u16,
    pub criticality: Criticality,
    /// May use its cores' PMU directly (`pmu = true`, for benchmarks): it then counts what
    /// runs there, the kernel included. Otherwise every PMU access reads as zero.
    pub pmu: bool,
    /// Dedicated cores, by board core index; the partition's vCPU 0 starts on the first. For a
    /// time-partitioned partition, the one core it shares through windows.
    pub cores: &'static [u8],
    /// Period and duration of a time-partitioned partition; `None` on dedicated cores.
    pub time: Option<TimeBudget>,
    /// Every guest-physical region the partition may touch; nothing else is mapped. Port
    /// buffers are among them (`RegionKind::Port`).
    pub regions: &'static [Region],
    /// Interrupts (GIC INTIDs) of the devices the partition owns.
    pub interrupts: &'static [u32],
    /// Its ports, in configuration order.
    pub ports: &'static [Port],
    /// Its HM table: one entry per error a partition can raise.
    pub hm: &'static [PartitionHmEntry],
    /// The image to load.
    pub image: &'static PartitionImage,
}

impl Partition {
    /// Whether the partition shares its core through windows.
    pub fn is_time_partitioned(&self) -> bool {
        self.time.is_some()
    }

    /// What the health monitor does about `error` raised by this partition.
    pub fn hm_action(&self, error: HmError) -> Option<HmAction> {
        self.hm.iter().find(|e| e.error == error).map(|e| e.action)
    }
}

/// A partition's image: entry point and load segments (generated from its ELF).
#[derive(Debug)]
pub struct PartitionImage {
    /// Entry point (IPA).
    pub entry_ipa: u64,
    /// Load segments placed at their IPAs at boot.
    pub segments: &'static [Segment],
    /// What `x0` holds at the partition's first instruction (vCPU 0). 0 means the kernel's
    /// default, the partition's index. A Linux partition (`image = { linux = ... }`) gets the
    /// guest-physical address of its device tree blob here, as the arm64 boot protocol wants.
    pub boot_argument: u64,
}

/// A time-partitioned partition's budget, in system counter ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeBudget {
    pub period_ticks: u64,
    pub duration_ticks: u64,
}

/// The cyclic schedule of one core.
#[derive(Debug)]
pub struct CoreSchedule {
    pub core: u8,
    pub major_frame_ticks: u64,
    /// Sorted by offset, non-overlapping, inside the major frame.
    pub windows: &'static [Window],
}

/// One window: `partition` runs from `offset_ticks` for `duration_ticks` in every major frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub partition: u16,
    pub offset_ticks: u64,
    pub duration_ticks: u64,
}

/// Port direction, seen from the partition that declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortDirection {
    Source,
    Destination,
}

/// Order in which processes waiting on a queuing port are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueuingDiscipline {
    Fifo,
    Priority,
}

/// Sampling or queuing, with what only that kind has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    Sampling {
        /// Validity of a message in ticks; 0 when not configured (source ports).
        refresh_ticks: u64,
    },
    Queuing {
        max_messages: u32,
        discipline: QueuingDiscipline,
    },
}

/// A port of a partition; its buffers are mapped at `data_ipa` (and `ack_ipa`).
#[derive(Debug)]
pub struct Port {
    pub name: &'static str,
    pub kind: PortKind,
    pub direction: PortDirection,
    pub max_message_size: u32,
    /// Index in [`System::channels`].
    pub channel: u16,
    /// Where the channel's data buffer appears to this partition.
    pub data_ipa: u64,
    /// Where a queuing channel's acknowledge page appears (0 for sampling).
    pub ack_ipa: u64,
}

/// A port by partition id and index in that partition's ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortId {
    pub partition: u16,
    pub port: u16,
}

/// A channel: one source port, its destinations, and its buffers in shared memory.
#[derive(Debug)]
pub struct Channel {
    pub name: &'static str,
    pub source: PortId,
    pub destinations: &'static [PortId],
    pub max_message_size: u32,
    /// Written by the source.
    pub data: PhysRange,
    /// Written by the destination (queuing channels).
    pub ack: Option<PhysRange>,
}

/// One row of the module HM table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleHmEntry {
    pub error: HmError,
    pub action: ModuleAction,
}

/// One row of a partition HM table (module-level errors appear with their module action).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionHmEntry {
    pub error: HmError,
    pub action: HmAction,
}

/// Memory type of a region, which decides its stage-2 attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Normal write-back cacheable memory.
    Ram,
    /// Device-nGnRE memory: MMIO of a device the partition owns.
    Device,
    /// Normal memory of a channel buffer, inside the module's shared memory; shared with the
    /// channel's other ends, writable only by the buffer's writer, never executable.
    Port,
}

/// Access a partition has to a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

impl Access {
    pub const R: Access = Access {
        read: true,
        write: false,
        execute: false,
    };
    pub const RW: Access = Access {
        read: true,
        write: true,
        execute: false,
    };
    pub const RX: Access = Access {
        read: true,
        write: false,
        execute: true,
    };
    pub const RWX: Access = Access {
        read: true,
        write: true,
        execute: true,
    };
}

/// A guest-physical window onto host-physical memory: `[ipa, ipa + size)` → `[phys, phys + size)`.
/// Invariants (checked by schedule-gen, re-checked at boot): 4 KiB aligned, non-empty, no
/// overlap with the kernel or with another partition's RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub ipa: u64,
    pub phys: u64,
    pub size: u64,
    pub kind: RegionKind,
    pub access: Access,
}

impl Region {
    /// Translates `[ipa, ipa + len)` to a physical address if it lies wholly inside this region.
    pub fn translate(&self, ipa: u64, len: u64) -> Option<u64> {
        let end = ipa.checked_add(len)?;
        let region_end = self.ipa.checked_add(self.size)?;
        if ipa >= self.ipa && end <= region_end {
            Some(self.phys + (ipa - self.ipa))
        } else {
            None
        }
    }
}

/// Bytes aligned to a cache line. The generated segment data is wrapped in it so that loading
/// an image copies whole aligned words (strict alignment: byte-wise otherwise).
#[repr(C, align(64))]
pub struct CacheAligned<T: ?Sized>(pub T);

/// One loadable piece of a partition image: `data` is copied to `ipa`, then the rest of
/// `mem_size` is zeroed (the image's `.bss`).
#[derive(Debug)]
pub struct Segment {
    pub ipa: u64,
    /// The segment's bytes; or, when `inflated_size` is not 0, a raw DEFLATE stream
    /// (RFC 1951) that inflates to exactly that many bytes (large segments, such as a Linux
    /// kernel, are stored compressed so that the kernel image fits its reserved window).
    pub data: &'static [u8],
    /// 0, or the size `data` inflates to (at most `mem_size`).
    pub inflated_size: u64,
    /// Bytes the segment takes in the partition's RAM; what `data` does not fill is zeroed.
    pub mem_size: u64,
}

impl Segment {
    /// Bytes the segment's contents take once loaded (before the zeroed rest).
    pub const fn loaded_size(&self) -> u64 {
        if self.inflated_size != 0 {
            self.inflated_size
        } else {
            self.data.len() as u64
        }
    }
}

/// Most partitions one system may have (sizes per-partition kernel state).
pub const MAX_PARTITIONS: usize = 16;

/// Most interrupts one partition may own (its virtual distributor keeps one bit of
/// delivery state per interrupt in a word).
pub const MAX_PARTITION_INTERRUPTS: usize = 32;

/// Most cores any supported board has; sizes the per-core stacks and state.
pub const MAX_CORES: usize = 8;
