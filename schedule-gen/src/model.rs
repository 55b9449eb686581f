//! The validated system description: what the rest of the tool (and xtask) works from.
//!
//! Values of these types only come out of [`crate::load`] / [`crate::load_str`], after every
//! whole-system rule has passed, so users never see spans or unchecked numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use crate::config::{Access, PartitionKind};

/// A configuration that parsed and passed every rule.
#[derive(Debug)]
pub struct LoadedConfig {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
    pub(crate) module_name: String,
    pub(crate) board: &'static bsp::Board,
    pub(crate) partitions: Vec<PartitionConfig>,
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
        Sha256::digest(self.text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The board the configuration targets.
    pub fn board(&self) -> &'static bsp::Board {
        self.board
    }

    /// `[module] name`.
    pub fn module_name(&self) -> &str {
        &self.module_name
    }

    /// Partition name → ELF for every partition whose image is `{ elf = ... }`; partitions built
    /// from a workspace package are left for the build tool to add.
    pub fn elf_images(&self) -> BTreeMap<String, PathBuf> {
        self.partitions
            .iter()
            .filter_map(|p| match &p.image {
                ImageSource::Elf(path) => Some((p.name.clone(), path.clone())),
                ImageSource::Package(_) => None,
            })
            .collect()
    }
}

/// One partition. Invariants: `name` is a valid, unique partition name; `cores` are on the board
/// and owned by no other partition; regions and devices obey every rule in [`crate::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionConfig {
    /// Unique name: 1..=24 chars of `[a-z0-9_-]`, starting with a letter.
    pub name: String,
    /// What the partition runs.
    pub kind: PartitionKind,
    /// Dedicated cores by board core index, as written (the first one starts vCPU 0).
    pub cores: Vec<u8>,
    /// Where its ELF comes from.
    pub image: ImageSource,
    /// RAM regions in file order.
    pub memory: Vec<MemoryRegion>,
    /// Owned devices in file order; each is mapped identity, read-write, never executable.
    pub devices: Vec<&'static bsp::Device>,
}

/// Where a partition's ELF comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// A package of this workspace, built by xtask.
    Package(String),
    /// An ELF built elsewhere; already resolved against the configuration file's directory.
    Elf(PathBuf),
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
