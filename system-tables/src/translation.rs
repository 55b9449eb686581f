//! The translation tables of a system image: the kernel's EL2 identity map and every
//! partition's stage-2 tables, built on the host after the kernel is linked and written into the
//! image, so the kernel only points its translation base registers at them.
//!
//! Why at build time: the tables depend only on the configuration and on where the linker put
//! the kernel's pieces, both known once the kernel is linked. Building them there takes the
//! table code (and its allocator) out of the kernel, makes reset time independent of how many
//! regions a configuration has, and lets the host check every mapping before anything boots.
//!
//! How: the kernel image reserves two symbols in its read-only data, [`HEADER_SYMBOL`] (a
//! [`TranslationHeader`], zero until linked) and [`PAGES_SYMBOL`] (as many zeroed 4 KiB pages as
//! schedule-gen's bound `TRANSLATION_TABLE_PAGES`). `schedule-gen`'s table linker finds them in
//! the linked ELF, builds the tables with aarch64-paging at the pages' physical addresses, and
//! writes pages and header into the file. The kernel maps both read-only: nothing at run time
//! can change a translation.
//!
//! The image also carries every partition's information page ([`INFO_PAGES_SYMBOL`]), which
//! the table linker maps, read-only and never executable, into its partition's stage 2.

use crate::system::MAX_PARTITIONS;

/// The header's symbol in the kernel image.
pub const HEADER_SYMBOL: &str = "PKERNEL_TRANSLATION_HEADER";
/// The table pages' symbol in the kernel image (4 KiB aligned, a whole number of pages).
pub const PAGES_SYMBOL: &str = "PKERNEL_TRANSLATION_PAGES";
/// The per-core kernel stacks' symbol: `MAX_CORES` slots of [`STACK_GUARD_SIZE`] unmapped
/// bytes followed by [`KERNEL_STACK_SIZE`] bytes of stack.
pub const STACKS_SYMBOL: &str = "PKERNEL_STACKS";
/// The partition information pages' symbol (`apex_api::info`): one [`InfoPageBytes`] per
/// partition, by partition id, in read-only data. The table linker maps page `id` read-only at
/// `apex_api::info::INFO_PAGE_IPA` in partition `id`'s stage 2; the kernel never reads them.
pub const INFO_PAGES_SYMBOL: &str = "PKERNEL_INFO_PAGES";
/// Linker-script symbols bounding the kernel's pieces: text (executable, read-only) from the
/// image start, then read-only data (tables included) up to the rodata end.
pub const IMAGE_START_SYMBOL: &str = "__image_start";
pub const TEXT_END_SYMBOL: &str = "__text_end";
pub const RODATA_END_SYMBOL: &str = "__rodata_end";

/// Kernel stack of each core.
pub const KERNEL_STACK_SIZE: usize = 16 * 1024;
/// The page below each stack, left unmapped so an overflow faults.
pub const STACK_GUARD_SIZE: usize = 4096;

/// One translation table.
pub const TABLE_PAGE_SIZE: usize = 4096;
/// Input address bits of both regimes (EL2 stage 1 and stage 2): T0SZ = 64 - 39.
pub const INPUT_ADDRESS_BITS: u32 = 39;
/// Level of the root table of both regimes (4 KiB granule, 39 bits: level 1).
pub const ROOT_LEVEL: usize = 1;
/// MAIR_EL2 attribute index of Normal write-back memory in the EL2 tables.
pub const MAIR_NORMAL_INDEX: usize = 0;
/// MAIR_EL2 attribute index of Device-nGnRE memory in the EL2 tables.
pub const MAIR_DEVICE_INDEX: usize = 1;

/// One partition's information page as the kernel image carries it: exactly one page, page
/// aligned, so stage 2 can map it to the partition without exposing anything next to it.
/// schedule-gen generates the bytes (`<partition>.info.bin`, `apex_api::info::encode`).
#[repr(C, align(4096))]
pub struct InfoPageBytes(pub [u8; apex_api::info::INFO_PAGE_SIZE]);

const _: () = assert!(
    core::mem::size_of::<InfoPageBytes>() == TABLE_PAGE_SIZE
        && core::mem::align_of::<InfoPageBytes>() == TABLE_PAGE_SIZE
);

/// `"PKTABLES"`: the header was written by the table linker.
pub const MAGIC: u64 = u64::from_le_bytes(*b"PKTABLES");
/// Layout version of [`TranslationHeader`]; a kernel refuses any other.
pub const VERSION: u32 = 1;

/// Where the tables are: written by the table linker, checked by the kernel at boot.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TranslationHeader {
    /// [`MAGIC`] once linked; zero in an image the table linker never saw.
    pub magic: u64,
    /// [`VERSION`].
    pub version: u32,
    /// Partitions with a stage-2 root in `stage2_roots` (the rest are zero).
    pub partition_count: u32,
    /// Pages the tables use, from the start of the pages symbol.
    pub pages_used: u32,
    /// Pages the image has room for (the pages symbol's size).
    pub pages_total: u32,
    /// Physical address of the EL2 root table (for TTBR0_EL2).
    pub el2_root: u64,
    /// Physical address of each partition's stage-2 root table, by partition id (for
    /// VTTBR_EL2, with the partition's VMID).
    pub stage2_roots: [u64; MAX_PARTITIONS],
    /// SHA-256 (lower-case hex) of the `system_tables.rs` the tables were built for: the
    /// kernel refuses tables built for another system.
    pub tables_sha256: [u8; 64],
}

impl TranslationHeader {
    /// What the kernel image holds before the table linker writes it.
    pub const UNLINKED: Self = Self {
        magic: 0,
        version: 0,
        partition_count: 0,
        pages_used: 0,
        pages_total: 0,
        el2_root: 0,
        stage2_roots: [0; MAX_PARTITIONS],
        tables_sha256: [0; 64],
    };

    /// Size in the image.
    pub const SIZE: usize = core::mem::size_of::<Self>();

    /// The header as the kernel (little-endian AArch64) reads it, field by field at the
    /// offsets of this `repr(C)` struct.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        use core::mem::offset_of;
        let mut out = [0u8; Self::SIZE];
        let mut put = |offset: usize, bytes: &[u8]| {
            out[offset..offset + bytes.len()].copy_from_slice(bytes);
        };
        put(offset_of!(Self, magic), &self.magic.to_le_bytes());
        put(offset_of!(Self, version), &self.version.to_le_bytes());
        put(
            offset_of!(Self, partition_count),
            &self.partition_count.to_le_bytes(),
        );
        put(offset_of!(Self, pages_used), &self.pages_used.to_le_bytes());
        put(
            offset_of!(Self, pages_total),
            &self.pages_total.to_le_bytes(),
        );
        put(offset_of!(Self, el2_root), &self.el2_root.to_le_bytes());
        for (i, root) in self.stage2_roots.iter().enumerate() {
            put(offset_of!(Self, stage2_roots) + 8 * i, &root.to_le_bytes());
        }
        put(offset_of!(Self, tables_sha256), &self.tables_sha256);
        out
    }
}

/// Why the kernel refuses the tables in its image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TablesError {
    /// The header was never written: the image was not built by `cargo xtask build` (which
    /// runs the table linker after linking the kernel).
    NotLinked,
    /// Written by a table linker of another layout version.
    Version(u32),
    /// Built for another `system_tables.rs` than the one compiled into this kernel.
    OtherSystem,
    /// The header names a different number of partitions than the system has.
    PartitionCount { header: u32, system: usize },
    /// More pages used than the image has, or a page count that disagrees with the image.
    Pages { used: u32, total: u32, image: usize },
    /// A root table (EL2 if `partition` is None) outside the used pages or not page aligned.
    Root {
        partition: Option<usize>,
        address: u64,
    },
}

impl core::fmt::Display for TablesError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotLinked => write!(
                f,
                "the image holds no translation tables: build it with `cargo xtask build`, which writes them after linking"
            ),
            Self::Version(v) => write!(
                f,
                "translation tables of layout version {v}, this kernel reads version {VERSION}: rebuild the image"
            ),
            Self::OtherSystem => write!(
                f,
                "the translation tables were built for other system tables: rebuild the image"
            ),
            Self::PartitionCount { header, system } => write!(
                f,
                "the translation tables hold {header} partitions, the system has {system}: rebuild the image"
            ),
            Self::Pages { used, total, image } => write!(
                f,
                "the translation tables claim {used} of {total} pages, the image has {image}"
            ),
            Self::Root {
                partition: None,
                address,
            } => write!(
                f,
                "EL2 root table at {address:#x} is outside the table pages"
            ),
            Self::Root {
                partition: Some(id),
                address,
            } => write!(
                f,
                "stage-2 root table of partition {id} at {address:#x} is outside the table pages"
            ),
        }
    }
}

impl TranslationHeader {
    /// Checks the header the kernel found against the system it was compiled with and the
    /// pages it reserved (`pages_base`, `image_pages` pages): every root inside the pages used.
    pub fn check(
        &self,
        system_tables_sha256: &str,
        partitions: usize,
        pages_base: u64,
        image_pages: usize,
    ) -> Result<(), TablesError> {
        if self.magic != MAGIC {
            return Err(TablesError::NotLinked);
        }
        if self.version != VERSION {
            return Err(TablesError::Version(self.version));
        }
        if self.tables_sha256.as_slice() != system_tables_sha256.as_bytes() {
            return Err(TablesError::OtherSystem);
        }
        if self.partition_count as usize != partitions || partitions > MAX_PARTITIONS {
            return Err(TablesError::PartitionCount {
                header: self.partition_count,
                system: partitions,
            });
        }
        if self.pages_used > self.pages_total || self.pages_total as usize != image_pages {
            return Err(TablesError::Pages {
                used: self.pages_used,
                total: self.pages_total,
                image: image_pages,
            });
        }
        let used_end = pages_base + u64::from(self.pages_used) * TABLE_PAGE_SIZE as u64;
        let in_pages = |address: u64| {
            address >= pages_base
                && address < used_end
                && address.is_multiple_of(TABLE_PAGE_SIZE as u64)
        };
        if !in_pages(self.el2_root) {
            return Err(TablesError::Root {
                partition: None,
                address: self.el2_root,
            });
        }
        for (id, &root) in self.stage2_roots[..partitions].iter().enumerate() {
            if !in_pages(root) {
                return Err(TablesError::Root {
                    partition: Some(id),
                    address: root,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const BASE: u64 = 0x4001_0000;

    fn linked() -> TranslationHeader {
        let mut sha = [0; 64];
        sha.copy_from_slice(SHA.as_bytes());
        let mut roots = [0; MAX_PARTITIONS];
        roots[0] = BASE + 0x1000;
        roots[1] = BASE + 0x3000;
        TranslationHeader {
            magic: MAGIC,
            version: VERSION,
            partition_count: 2,
            pages_used: 5,
            pages_total: 8,
            el2_root: BASE,
            stage2_roots: roots,
            tables_sha256: sha,
        }
    }

    #[test]
    fn a_linked_header_passes() {
        assert_eq!(linked().check(SHA, 2, BASE, 8), Ok(()));
    }

    #[test]
    fn every_inconsistency_is_refused() {
        let check = |h: TranslationHeader| h.check(SHA, 2, BASE, 8);
        assert_eq!(
            TranslationHeader::UNLINKED.check(SHA, 2, BASE, 8),
            Err(TablesError::NotLinked)
        );
        assert_eq!(
            check(TranslationHeader {
                version: 2,
                ..linked()
            }),
            Err(TablesError::Version(2))
        );
        assert_eq!(
            linked().check(&SHA.replace('0', "f"), 2, BASE, 8),
            Err(TablesError::OtherSystem)
        );
        assert!(matches!(
            linked().check(SHA, 3, BASE, 8),
            Err(TablesError::PartitionCount { .. })
        ));
        assert!(matches!(
            check(TranslationHeader {
                pages_used: 9,
                ..linked()
            }),
            Err(TablesError::Pages { .. })
        ));
        assert!(matches!(
            linked().check(SHA, 2, BASE, 9),
            Err(TablesError::Pages { .. })
        ));
        // A root in an unused page, one misaligned, one below the pages.
        for (partition, address) in [(None, BASE + 0x5000), (Some(1), BASE + 0x1008)] {
            let mut h = linked();
            match partition {
                None => h.el2_root = address,
                Some(id) => h.stage2_roots[id] = address,
            }
            assert_eq!(check(h), Err(TablesError::Root { partition, address }));
        }
        let mut h = linked();
        h.stage2_roots[0] = BASE - 0x1000;
        assert!(matches!(check(h), Err(TablesError::Root { .. })));
    }

    #[test]
    fn bytes_follow_the_struct_layout() {
        let h = linked();
        let bytes = h.to_bytes();
        assert_eq!(&bytes[..8], b"PKTABLES");
        let at = core::mem::offset_of!(TranslationHeader, el2_root);
        assert_eq!(bytes[at..at + 8], BASE.to_le_bytes());
        let at = core::mem::offset_of!(TranslationHeader, stage2_roots) + 8;
        assert_eq!(bytes[at..at + 8], (BASE + 0x3000).to_le_bytes());
        let at = core::mem::offset_of!(TranslationHeader, tables_sha256);
        assert_eq!(&bytes[at..at + 64], SHA.as_bytes());
        // On a little-endian host the struct's own bytes are exactly these.
        #[cfg(target_endian = "little")]
        {
            // SAFETY: TranslationHeader is repr(C) plain integers with no padding (checked:
            // 8 + 4 * 4 + 8 + 8 * MAX_PARTITIONS + 64 bytes).
            let raw: [u8; TranslationHeader::SIZE] = unsafe { core::mem::transmute(h) };
            assert_eq!(raw, bytes);
        }
        assert_eq!(
            TranslationHeader::SIZE,
            8 + 4 * 4 + 8 + 8 * MAX_PARTITIONS + 64
        );
    }
}
