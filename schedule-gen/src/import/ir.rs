//! The imported module between reading the XML and writing the TOML: pkernel's vocabulary,
//! with the ARINC names kept for notes.

use std::collections::BTreeMap;

use apex_api::health::{HmError, ModuleAction, PartitionAction};

/// The whole module.
#[derive(Debug, Default)]
pub(super) struct Module {
    /// pkernel module name.
    pub name: String,
    /// In document order: partition `i` here is `[[partition]]` number `i`.
    pub partitions: Vec<Partition>,
    /// Length of the (one) schedule of core 0.
    pub major_frame_ns: u64,
    /// Windows of core 0, sorted by offset.
    pub windows: Vec<Window>,
    /// Channels that survive the import, in document order.
    pub channels: Vec<Channel>,
    /// `[module.hm]`.
    pub module_hm: BTreeMap<HmError, ModuleAction>,
    /// `[module] shared_memory` as (phys, size), once laid out.
    pub shared_memory: Option<(u64, u64)>,
    /// Byte offset of `<ARINC_653_Module>` (where `[module] name` comes from).
    pub root_at: usize,
    /// Byte offset of the imported `<Module_Schedule>` (where `[[schedule]]` comes from).
    pub schedule_at: Option<usize>,
    /// Byte offset of the `<Module_HM_Table>` (where `[module.hm]` comes from).
    pub hm_at: Option<usize>,
}

/// One `[[partition]]`.
#[derive(Debug, Default)]
pub(super) struct Partition {
    /// `PartitionIdentifier`.
    pub id: i64,
    /// `PartitionName` as written, if any.
    pub xml_name: Option<String>,
    /// pkernel name.
    pub name: String,
    /// `SystemPartition="true"`.
    pub system: bool,
    /// `'A'..='E'`.
    pub criticality: char,
    /// From its `Partition_Schedule`, once read.
    pub period_ns: Option<u64>,
    /// From its `Partition_Schedule`, once read.
    pub duration_ns: Option<u64>,
    /// RAM regions and I/O windows, in document order.
    pub memory: Vec<Region>,
    /// Sampling and queuing ports, in document order.
    pub ports: Vec<Port>,
    /// `[partition.hm]`.
    pub hm: BTreeMap<HmError, PartitionAction>,
    /// Where its port buffers are mapped, once laid out.
    pub ports_ipa: Option<u64>,
    /// Byte offset of its `<Partition>` element (for errors found later).
    pub offset: usize,
    /// Byte offset of its `<Partition_Schedule>` (where `period` and `duration` come from).
    pub schedule_at: Option<usize>,
    /// `EntryPoint` as written, if any (noted: a partition starts at its ELF's entry point).
    pub entry_point: Option<String>,
    /// Byte offset of its `<Partition_HM_Table>` (where `[partition.hm]` comes from).
    pub hm_at: Option<usize>,
}

impl Partition {
    /// How the XML names it, for errors: `"Nav" (PartitionIdentifier 2)`.
    pub fn xml_label(&self) -> String {
        match &self.xml_name {
            Some(n) => format!("{} (PartitionIdentifier {})", super::xml::shown(n), self.id),
            None => format!("with PartitionIdentifier {}", self.id),
        }
    }
}

/// What a memory requirement becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RegionKind {
    /// A RAM region (`[[partition.memory]]`).
    Ram,
    /// A device window (`[[partition.device]]` with `mmio`).
    Io,
}

/// One memory requirement.
#[derive(Debug)]
pub(super) struct Region {
    /// pkernel name, unique in the partition.
    pub name: String,
    pub kind: RegionKind,
    /// Bytes, a multiple of 4 KiB.
    pub size: u64,
    /// `r`, `rw`, `rx` or `rwx` (RAM regions).
    pub access: &'static str,
    /// Physical (= guest-physical) base: from `PhysicalAddress`, or placed by the layout.
    pub phys: Option<u64>,
    /// Byte offset of its `<Memory_Requirements>` element.
    pub at: usize,
}

/// One port.
#[derive(Debug)]
pub(super) struct Port {
    /// `Name` as written: what `PortName` in the connection table refers to.
    pub xml_name: String,
    /// pkernel name, unique in the partition.
    pub name: String,
    pub queuing: bool,
    pub source: bool,
    pub max_message_size: u64,
    /// `RefreshRateSeconds` (sampling ports; required on destinations, where it is never 0).
    pub refresh_ns: Option<u64>,
    /// Queuing ports only.
    pub max_messages: u64,
    /// Whether an imported channel connects it (unconnected ports are left out).
    pub connected: bool,
    /// Byte offset of its `<Sampling_Port>` or `<Queuing_Port>` element.
    pub at: usize,
}

/// A window of core 0's schedule.
#[derive(Debug)]
pub(super) struct Window {
    /// Partition index.
    pub partition: usize,
    pub offset_ns: u64,
    pub duration_ns: u64,
    /// Byte offset of its `<Window_Schedule>` element.
    pub at: usize,
}

/// A port of a partition, by indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct PortRef {
    pub partition: usize,
    pub port: usize,
}

/// One `[[channel]]`.
#[derive(Debug)]
pub(super) struct Channel {
    pub name: String,
    pub source: PortRef,
    pub destinations: Vec<PortRef>,
    /// Byte offset of its `<Channel>` element.
    pub at: usize,
}
