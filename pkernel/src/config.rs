//! The shape of the static system description the kernel is compiled with.
//!
//! `schedule-gen` writes one instance of [`System`] as Rust source (`system_tables.rs`) and the
//! kernel includes it; nothing here is built at run time. The generator has already checked
//! every whole-system rule; the kernel re-checks the few invariants its own safety depends on
//! (see `boot_checks`) and refuses to start partitions if they fail.

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
    /// Dedicated cores, by board core index; the partition's vCPU 0 starts on the first.
    pub cores: &'static [u8],
    /// Entry point (IPA) of the image.
    pub entry_ipa: u64,
    /// Every guest-physical region the partition may touch; nothing else is mapped.
    pub regions: &'static [Region],
    /// The image, as load segments placed at their IPAs at boot.
    pub segments: &'static [Segment],
}

/// Memory type of a region, which decides its stage-2 attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Normal write-back cacheable memory.
    Ram,
    /// Device-nGnRE memory: MMIO of a device the partition owns.
    Device,
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

/// One loadable piece of a partition image: `data` is copied to `ipa`, then the rest of
/// `mem_size` is zeroed (the image's `.bss`).
#[derive(Debug)]
pub struct Segment {
    pub ipa: u64,
    pub data: &'static [u8],
    pub mem_size: u64,
}

/// Most partitions one system may have (sizes per-partition kernel state).
pub const MAX_PARTITIONS: usize = 16;
