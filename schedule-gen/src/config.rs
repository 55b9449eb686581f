//! The TOML system configuration as written: a serde model that keeps every value's span.
//!
//! Nothing here is checked beyond TOML types; [`crate::validate`] turns a [`RawConfig`] into a
//! [`crate::LoadedConfig`]. Every table rejects unknown keys, so a typo (or a key of a later
//! format version) is an error with its location rather than silently ignored. Integers are
//! read wide (`i64`/`u64`) so out-of-range values reach the rule that explains them.
//!
//! ```toml
//! [module]
//! name = "demo"                       # 1..=32 chars of [a-z0-9_-], starting with a letter
//! board = "qemu-virt"                 # a board from bsp::BOARDS
//!
//! [[partition]]
//! name = "ctrl"                       # unique, 1..=24 chars of [a-z0-9_-], starting with a letter
//! kind = "bm"                         # bm | rtos | linux | system
//! cores = [1]                         # dedicated cores (board core indices), at least one
//! image = { package = "bm-ticker" }   # or { elf = "path" }, relative to this file's directory
//!
//!   [[partition.memory]]
//!   name = "ram"
//!   ipa = 0x4000_0000                 # guest-physical base
//!   phys = 0x4200_0000                # optional; default phys = ipa
//!   size = 0x20_0000
//!   access = "rwx"                    # r | rw | rx | rwx
//!
//!   [[partition.device]]
//!   name = "rtc"                      # a board device: identity-mapped, rw, never executable
//! ```

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
}

/// `[module]`: what the configuration builds and for which board.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModule {
    /// Module name; becomes `System::module_name`.
    pub name: Spanned<String>,
    /// A board name from `bsp::BOARDS`.
    pub board: Spanned<String>,
}

/// One `[[partition]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPartition {
    /// Unique partition name.
    pub name: Spanned<String>,
    /// What the partition runs.
    pub kind: Spanned<PartitionKind>,
    /// Dedicated board core indices. Absent is reported as "no cores", not as a missing key.
    #[serde(default)]
    pub cores: Option<Spanned<Vec<Spanned<i64>>>>,
    /// Where the partition's ELF comes from.
    pub image: Spanned<RawImage>,
    /// `[[partition.memory]]` RAM regions.
    #[serde(default)]
    pub memory: Vec<Spanned<RawRegion>>,
    /// `[[partition.device]]` owned devices.
    #[serde(default, rename = "device")]
    pub devices: Vec<Spanned<RawDevice>>,
}

/// `image = { package = "..." }` or `image = { elf = "..." }`; exactly one is checked later.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    /// A package of this workspace, built by xtask.
    pub package: Option<Spanned<String>>,
    /// An ELF built elsewhere, relative to the configuration file's directory.
    pub elf: Option<Spanned<String>>,
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

/// One `[[partition.device]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    /// A device of the board (`bsp::Board::devices`).
    pub name: Spanned<String>,
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
