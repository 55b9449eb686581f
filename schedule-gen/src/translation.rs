//! The table linker: builds a system's translation tables on the host and writes them into
//! the linked kernel image (layout and header: `system_tables::translation`).
//!
//! The tables are exactly what the kernel used to build at boot, made with the same crate
//! (aarch64-paging 0.12, 4 KiB granule, 39-bit input, root at level 1):
//!
//! - **EL2 stage 1**, an identity map: the board's RAM read-write and never executable; over
//!   it the kernel's text read-only and executable and its read-only data (these tables
//!   included) read-only; the page below each core's stack unmapped (a guard); the kernel's
//!   UART, GIC distributor and redistributors as device memory, never executable.
//! - **Stage 2 of each partition**: one mapping per entry of its generated `regions` table
//!   ([`regions`], the one derivation `codegen` writes too): RAM as normal write-back memory,
//!   executable only if the region says `x`; devices as Device-nGnRE; port buffers as normal
//!   memory, never executable; read/write as the region grants. And its information page
//!   (`apex_api::info`) at `INFO_PAGE_IPA`: the partition's page of the image's
//!   [`INFO_PAGES_SYMBOL`], normal write-back memory, read-only, never executable.
//!
//! Pages are handed out in order from the image's pages symbol: the EL2 root first, then each
//! partition's root, then the lower levels as the mappings need them. Nothing else in the
//! image changes, so its layout (which the EL2 map depends on) is the one that was linked.

use std::ptr::NonNull;

use aarch64_paging::Mapping;
use aarch64_paging::descriptor::{
    El23Attributes, PagingAttributes, PhysicalAddress, Stage2Attributes,
};
use aarch64_paging::paging::{Constraints, El2, MemoryRegion, PageTable, Stage2, Translation};
use apex_api::info::{INFO_PAGE_IPA, INFO_PAGE_SIZE};
use object::{Object, ObjectSection, ObjectSymbol};
use system_tables::translation::{
    self as layout, HEADER_SYMBOL, INFO_PAGES_SYMBOL, KERNEL_STACK_SIZE, MAGIC, PAGES_SYMBOL,
    STACK_GUARD_SIZE, TABLE_PAGE_SIZE, TranslationHeader, VERSION,
};

use crate::diag::{Diagnostic, Rule};
use crate::model::{ChannelBuffer, LoadedConfig, PartitionConfig};

/// What a region of a partition's address space is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Partition RAM.
    Ram,
    /// A device the partition owns (identity mapped).
    Device,
    /// A channel buffer in shared memory.
    Port,
}

/// One entry of a partition's `regions` table: what its stage 2 maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionSpec {
    /// The region's, device's or port's name (`.ack` appended for a queue's ack buffer).
    pub name: String,
    /// First guest-physical address.
    pub ipa: u64,
    /// Physical address of `ipa`.
    pub phys: u64,
    /// Length in bytes.
    pub size: u64,
    /// What it is (decides the memory type).
    pub kind: RegionKind,
    /// Writable by the partition (always readable).
    pub write: bool,
    /// Executable by the partition (RAM only).
    pub execute: bool,
}

/// The regions of `p`, in table order: RAM regions, devices (identity, read-write), then port
/// buffers (read-write for the side that writes them, read-only for the other).
pub fn regions(p: &PartitionConfig) -> Vec<RegionSpec> {
    let ram = p.memory.iter().map(|r| RegionSpec {
        name: r.name.clone(),
        ipa: r.ipa,
        phys: r.phys,
        size: r.size,
        kind: RegionKind::Ram,
        write: r.access.write(),
        execute: r.access.execute(),
    });
    let devices = p.devices.iter().map(|d| RegionSpec {
        name: d.name.clone(),
        ipa: d.mmio.base,
        phys: d.mmio.base,
        size: d.mmio.size,
        kind: RegionKind::Device,
        write: true,
        execute: false,
    });
    let ports = p.ports.iter().flat_map(|port| {
        port.mappings.iter().map(|m| RegionSpec {
            name: match m.buffer {
                ChannelBuffer::Data => port.name.clone(),
                ChannelBuffer::Ack => format!("{}.ack", port.name),
            },
            ipa: m.ipa,
            phys: m.phys,
            size: m.size,
            kind: RegionKind::Port,
            write: m.writable,
            execute: false,
        })
    });
    ram.chain(devices).chain(ports).collect()
}

/// Where the linker put what the EL2 map depends on, and where the tables go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelLayout {
    /// First byte of the image (and of its text).
    pub image_start: u64,
    /// End of the text, start of the read-only data.
    pub text_end: u64,
    /// End of the read-only data.
    pub rodata_end: u64,
    /// The per-core stack slots (`PKERNEL_STACKS`).
    pub stacks: u64,
    /// The header: address and offset in the ELF file.
    pub header: Placement,
    /// The table pages: address and offset in the file.
    pub pages: Placement,
    /// How many pages the image reserved.
    pub page_count: usize,
    /// The partition information pages: address and offset in the file.
    pub info_pages: Placement,
    /// How many information pages the image carries (one per partition).
    pub info_page_count: usize,
}

impl KernelLayout {
    /// Physical address of partition `id`'s information page in the image.
    pub fn info_page(&self, id: usize) -> u64 {
        (id as u64)
            .saturating_mul(INFO_PAGE_SIZE as u64)
            .saturating_add(self.info_pages.address)
    }
}

/// An object of the image: its address and where its bytes are in the ELF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Address in the kernel's (identity-mapped) address space.
    pub address: u64,
    /// Offset of its first byte in the ELF file.
    pub file_offset: usize,
}

/// What the tables came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedTables {
    /// The header written into the image.
    pub header: TranslationHeader,
    /// The pages' bytes, `page_count` pages (the unused ones zero).
    pub pages: Vec<u8>,
    /// Pages used by the EL2 map.
    pub el2_pages: usize,
    /// Pages used by each partition's stage 2, in partition order.
    pub stage2_pages: Vec<(String, usize)>,
}

fn image_error(file: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(
        Rule::KernelImageTables,
        file,
        message,
        "build the kernel with `cargo xtask build`, which links it with the tables it needs",
    )
}

/// Finds the symbols the table linker needs in a linked kernel ELF.
pub fn kernel_layout(elf: &[u8], file: &str) -> Result<KernelLayout, Diagnostic> {
    let object = object::File::parse(elf)
        .map_err(|e| image_error(file, format!("the kernel image is not an ELF file: {e}")))?;
    let symbol = |name: &str| {
        object
            .symbols()
            .find(|s| s.name() == Ok(name))
            .ok_or_else(|| image_error(file, format!("the kernel image has no symbol {name}")))
    };
    let address = |name: &str| symbol(name).map(|s| s.address());
    let placement = |name: &str| -> Result<(Placement, u64), Diagnostic> {
        let s = symbol(name)?;
        let section = s
            .section_index()
            .and_then(|i| object.section_by_index(i).ok())
            .ok_or_else(|| image_error(file, format!("symbol {name} is in no section")))?;
        let (section_offset, section_size) = section.file_range().ok_or_else(|| {
            image_error(
                file,
                format!("symbol {name} is in a section with no bytes in the file (NOLOAD)"),
            )
        })?;
        let within = s.address().wrapping_sub(section.address());
        if within.saturating_add(s.size()) > section_size {
            return Err(image_error(
                file,
                format!("symbol {name} runs past the end of its section"),
            ));
        }
        Ok((
            Placement {
                address: s.address(),
                file_offset: usize::try_from(section_offset + within)
                    .map_err(|_| image_error(file, "the kernel image is too large"))?,
            },
            s.size(),
        ))
    };
    let (header, header_size) = placement(HEADER_SYMBOL)?;
    if header_size != TranslationHeader::SIZE as u64 {
        return Err(image_error(
            file,
            format!(
                "{HEADER_SYMBOL} is {header_size} bytes, the table linker writes {}: the kernel and schedule-gen come from different versions",
                TranslationHeader::SIZE
            ),
        ));
    }
    let (pages, pages_size) = placement(PAGES_SYMBOL)?;
    if pages.address % TABLE_PAGE_SIZE as u64 != 0 || pages_size % TABLE_PAGE_SIZE as u64 != 0 {
        return Err(image_error(
            file,
            format!("{PAGES_SYMBOL} is not a whole number of aligned 4 KiB pages"),
        ));
    }
    let (info_pages, info_size) = placement(INFO_PAGES_SYMBOL)?;
    let info = INFO_PAGE_SIZE as u64;
    if info_pages.address % info != 0 || info_size % info != 0 {
        return Err(image_error(
            file,
            format!("{INFO_PAGES_SYMBOL} is not a whole number of aligned 4 KiB pages"),
        ));
    }
    Ok(KernelLayout {
        image_start: address(layout::IMAGE_START_SYMBOL)?,
        text_end: address(layout::TEXT_END_SYMBOL)?,
        rodata_end: address(layout::RODATA_END_SYMBOL)?,
        stacks: address(layout::STACKS_SYMBOL)?,
        header,
        pages,
        page_count: (pages_size / TABLE_PAGE_SIZE as u64) as usize,
        info_pages,
        info_page_count: (info_size / info) as usize,
    })
}

/// A 4 KiB table page on the host; zero is an invalid descriptor.
#[repr(C, align(4096))]
struct Page([u64; 512]);

const _: () = assert!(std::mem::size_of::<Page>() == TABLE_PAGE_SIZE);

/// Table pages handed out in order, each with the physical address it will have in the image.
struct PagePool {
    base: u64,
    pages: Vec<NonNull<Page>>,
}

impl PagePool {
    fn new(base: u64) -> Self {
        Self {
            base,
            pages: Vec::new(),
        }
    }

    /// The pages' bytes as the kernel reads them (little-endian descriptors).
    fn bytes(&self, page_count: usize) -> Vec<u8> {
        let mut out = vec![0u8; page_count.max(self.pages.len()) * TABLE_PAGE_SIZE];
        for (page, chunk) in self.pages.iter().zip(out.chunks_exact_mut(TABLE_PAGE_SIZE)) {
            // SAFETY: every pointer in `pages` came from `Box::leak` in `allocate_table` and is
            // only freed in `drop`; the mappings that wrote through it are gone (they borrowed
            // the pool mutably), so nothing else references the page now.
            let page = unsafe { page.as_ref() };
            for (descriptor, bytes) in page.0.iter().zip(chunk.chunks_exact_mut(8)) {
                bytes.copy_from_slice(&descriptor.to_le_bytes());
            }
        }
        out
    }
}

impl Drop for PagePool {
    fn drop(&mut self) {
        for page in self.pages.drain(..) {
            // SAFETY: made by `Box::leak` in `allocate_table`, freed only here, once.
            drop(unsafe { Box::from_raw(page.as_ptr()) });
        }
    }
}

impl<A: PagingAttributes> Translation<A> for &mut PagePool {
    fn allocate_table(&mut self) -> (NonNull<PageTable<A>>, PhysicalAddress) {
        let page = NonNull::from(Box::leak(Box::new(Page([0; 512]))));
        let pa = self.base + (self.pages.len() * TABLE_PAGE_SIZE) as u64;
        self.pages.push(page);
        // A zeroed, 4 KiB aligned page of the same size is a valid empty PageTable.
        (page.cast(), PhysicalAddress(pa as usize))
    }

    unsafe fn deallocate_table(&mut self, _page_table: NonNull<PageTable<A>>) {
        // As in the image: a page is never given back; the pool frees them all at the end.
    }

    fn physical_to_virtual(&self, pa: PhysicalAddress) -> NonNull<PageTable<A>> {
        let index = (pa.0 as u64 - self.base) as usize / TABLE_PAGE_SIZE;
        self.pages[index].cast()
    }
}

const EL2_NORMAL: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_0)
    .union(El23Attributes::INNER_SHAREABLE)
    .union(El23Attributes::ACCESSED);
const EL2_DEVICE: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_1)
    .union(El23Attributes::ACCESSED)
    .union(El23Attributes::XN);
const _: () = assert!(layout::MAIR_NORMAL_INDEX == 0 && layout::MAIR_DEVICE_INDEX == 1);

fn stage2_attributes(region: &RegionSpec) -> Stage2Attributes {
    let memory = match region.kind {
        RegionKind::Ram | RegionKind::Port => {
            Stage2Attributes::MEMATTR_NORMAL_INNER_WB
                | Stage2Attributes::MEMATTR_NORMAL_OUTER_WB
                | Stage2Attributes::SH_INNER
        }
        RegionKind::Device => Stage2Attributes::MEMATTR_DEVICE_nGnRE,
    };
    let access = if region.write {
        Stage2Attributes::S2AP_ACCESS_RW
    } else {
        Stage2Attributes::S2AP_ACCESS_RO
    };
    let execute = if region.execute && region.kind == RegionKind::Ram {
        Stage2Attributes::empty()
    } else {
        Stage2Attributes::XN
    };
    Stage2Attributes::VALID | Stage2Attributes::ACCESS_FLAG | memory | access | execute
}

/// A partition's information page: normal memory like its RAM (the partition may turn its
/// caches on), read-only, never executable.
const STAGE2_INFO_PAGE: Stage2Attributes = Stage2Attributes::VALID
    .union(Stage2Attributes::ACCESS_FLAG)
    .union(Stage2Attributes::MEMATTR_NORMAL_INNER_WB)
    .union(Stage2Attributes::MEMATTR_NORMAL_OUTER_WB)
    .union(Stage2Attributes::SH_INNER)
    .union(Stage2Attributes::S2AP_ACCESS_RO)
    .union(Stage2Attributes::XN);

/// Maps `[start, end)` to `output` onwards with `attributes`.
fn map<R>(
    mapping: &mut Mapping<&mut PagePool, R>,
    start: u64,
    end: u64,
    output: u64,
    attributes: R::Attributes,
) -> Result<(), String>
where
    R: aarch64_paging::paging::TranslationRegime<Asid = ()>,
{
    mapping
        .map_range(
            &MemoryRegion::new(start as usize, end as usize),
            PhysicalAddress(output as usize),
            attributes,
            Constraints::empty(),
        )
        .map_err(|e| format!("{start:#x}..{end:#x}: {e}"))
}

/// Builds every table of `cfg` for a kernel linked as `kernel`, and the header that says
/// where they are; `tables_sha256` is the hash of the `system_tables.rs` compiled into it.
pub fn build_tables(
    cfg: &LoadedConfig,
    kernel: &KernelLayout,
    tables_sha256: &str,
    file: &str,
) -> Result<LinkedTables, Diagnostic> {
    let board = cfg.board();
    let partitions: Vec<&PartitionConfig> = cfg.partitions().collect();
    if partitions.len() > system_tables::MAX_PARTITIONS || tables_sha256.len() != 64 {
        return Err(image_error(
            file,
            "too many partitions or a malformed tables hash for the table header",
        ));
    }
    let mut pool = PagePool::new(kernel.pages.address);
    let failed = |what: &str, e: String| image_error(file, format!("{what}: {e}"));
    // Each partition is given its page of the image: one per partition, in the read-only data
    // (which nothing writes at run time and the EL2 map keeps read-only).
    let info_end = kernel.info_page(kernel.info_page_count);
    if kernel.info_page_count != partitions.len()
        || kernel.info_pages.address < kernel.text_end
        || info_end > kernel.rodata_end
    {
        return Err(image_error(
            file,
            format!(
                "{INFO_PAGES_SYMBOL} holds {} at {:#x}..{info_end:#x}; the configuration has {}, and the pages must lie in the read-only data ({:#x}..{:#x})",
                crate::diag::count(
                    kernel.info_page_count,
                    "information page",
                    "information pages"
                ),
                kernel.info_pages.address,
                crate::diag::count(partitions.len(), "partition", "partitions"),
                kernel.text_end,
                kernel.rodata_end
            ),
        ));
    }

    let el2_root;
    {
        let mut el2 = Mapping::new(&mut pool, layout::ROOT_LEVEL, El2);
        el2_root = el2.root_address().0 as u64;
        let identity = |m: &mut Mapping<&mut PagePool, El2>, r: bsp::PhysRange, a| {
            map(m, r.base, r.end(), r.base, a)
        };
        identity(&mut el2, board.ram, EL2_NORMAL | El23Attributes::XN)
            .map_err(|e| failed("EL2 map of RAM", e))?;
        map(
            &mut el2,
            kernel.image_start,
            kernel.text_end,
            kernel.image_start,
            EL2_NORMAL | El23Attributes::READ_ONLY,
        )
        .map_err(|e| failed("EL2 map of the kernel text", e))?;
        map(
            &mut el2,
            kernel.text_end,
            kernel.rodata_end,
            kernel.text_end,
            EL2_NORMAL | El23Attributes::READ_ONLY | El23Attributes::XN,
        )
        .map_err(|e| failed("EL2 map of the kernel's read-only data", e))?;
        for device in [board.kernel_uart, board.gicd, board.gicr] {
            identity(&mut el2, device, EL2_DEVICE)
                .map_err(|e| failed("EL2 map of a kernel device", e))?;
        }
        // Cores beyond the board's never run, so their stacks need no guard.
        let slot = (STACK_GUARD_SIZE + KERNEL_STACK_SIZE) as u64;
        for core in 0..board.core_count().min(system_tables::MAX_CORES) {
            let guard = kernel.stacks + core as u64 * slot;
            map(
                &mut el2,
                guard,
                guard + STACK_GUARD_SIZE as u64,
                guard,
                El23Attributes::empty(),
            )
            .map_err(|e| failed("EL2 stack guard", e))?;
        }
    }
    let el2_pages = pool.pages.len();

    let mut stage2_roots = [0u64; system_tables::MAX_PARTITIONS];
    let mut stage2_pages = Vec::new();
    for (id, p) in partitions.iter().enumerate() {
        let before = pool.pages.len();
        let mut stage2 = Mapping::new(&mut pool, layout::ROOT_LEVEL, Stage2);
        stage2_roots[id] = stage2.root_address().0 as u64;
        for region in regions(p) {
            map(
                &mut stage2,
                region.ipa,
                region.ipa + region.size,
                region.phys,
                stage2_attributes(&region),
            )
            .map_err(|e| failed(&format!("stage 2 of partition '{}'", p.name), e))?;
        }
        // Validation keeps every region and port buffer below the page (E094).
        map(
            &mut stage2,
            INFO_PAGE_IPA,
            INFO_PAGE_IPA + INFO_PAGE_SIZE as u64,
            kernel.info_page(id),
            STAGE2_INFO_PAGE,
        )
        .map_err(|e| failed(&format!("information page of partition '{}'", p.name), e))?;
        drop(stage2);
        stage2_pages.push((p.name.clone(), pool.pages.len() - before));
    }

    let used = pool.pages.len();
    if used > kernel.page_count {
        return Err(Diagnostic::new(
            Rule::KernelImageTables,
            file,
            format!(
                "the translation tables need {used} pages, the kernel image reserved {} (TRANSLATION_TABLE_PAGES)",
                kernel.page_count
            ),
            "this is a schedule-gen bug (its bound in table_pages.rs is wrong): please report it with the configuration",
        ));
    }
    let mut sha = [0u8; 64];
    sha.copy_from_slice(tables_sha256.as_bytes());
    let header = TranslationHeader {
        magic: MAGIC,
        version: VERSION,
        partition_count: partitions.len() as u32,
        pages_used: used as u32,
        pages_total: kernel.page_count as u32,
        el2_root,
        stage2_roots,
        tables_sha256: sha,
    };
    Ok(LinkedTables {
        header,
        pages: pool.bytes(kernel.page_count),
        el2_pages,
        stage2_pages,
    })
}

/// Builds the tables for the linked kernel `elf` and writes them into it, after checking that
/// the image carries exactly this configuration's information pages.
pub fn link_tables(
    cfg: &LoadedConfig,
    elf: &mut [u8],
    tables_sha256: &str,
    file: &str,
) -> Result<LinkedTables, Diagnostic> {
    let kernel = kernel_layout(elf, file)?;
    let tables = build_tables(cfg, &kernel, tables_sha256, file)?;
    let expected = crate::info_page::info_pages(cfg).map_err(|(name, e)| {
        image_error(
            file,
            format!("the information page of partition {name:?} cannot be written: {e}"),
        )
    })?;
    for (id, (name, page)) in expected.iter().enumerate() {
        let at = (id * INFO_PAGE_SIZE).saturating_add(kernel.info_pages.file_offset);
        if elf.get(at..at.saturating_add(INFO_PAGE_SIZE)) != Some(&page[..]) {
            return Err(image_error(
                file,
                format!(
                    "{INFO_PAGES_SYMBOL} does not hold this configuration's information page for partition {name:?}: the kernel was compiled with other generated tables"
                ),
            ));
        }
    }
    write_tables(elf, &kernel, &tables, file)?;
    Ok(tables)
}

/// Writes `tables` (built for `kernel`, the layout of `elf`) into `elf`: header and pages, and
/// nothing else. [`link_tables`] is this after its checks; tests use it alone to forge
/// images the kernel must refuse at boot.
pub fn write_tables(
    elf: &mut [u8],
    kernel: &KernelLayout,
    tables: &LinkedTables,
    file: &str,
) -> Result<(), Diagnostic> {
    let header_at = kernel.header.file_offset;
    let pages_at = kernel.pages.file_offset;
    let fits = |at: usize, len: usize| at.checked_add(len).is_some_and(|end| end <= elf.len());
    if !fits(header_at, TranslationHeader::SIZE) || !fits(pages_at, tables.pages.len()) {
        return Err(image_error(file, "the kernel image is truncated"));
    }
    elf[header_at..header_at + TranslationHeader::SIZE].copy_from_slice(&tables.header.to_bytes());
    elf[pages_at..pages_at + tables.pages.len()].copy_from_slice(&tables.pages);
    Ok(())
}
