//! The pkernel image: boot, then run each core's partition. All of it is in `pkernel::arch`;
//! this file only ties the generated system tables in.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod system {
    #[allow(unused_imports)]
    use pkernel::config::*;
    include!(concat!(env!("PKERNEL_SYSTEM_DIR"), "/system_tables.rs"));
    include!(concat!(env!("PKERNEL_SYSTEM_DIR"), "/partition_images.rs"));

    // The generated table must fit the kernel's per-partition state (checked at compile time).
    const _: () = assert!(
        PARTITION_COUNT <= pkernel::config::MAX_PARTITIONS,
        "too many partitions for this kernel"
    );
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "pkernel is an AArch64 EL2 kernel image; build it with `cargo xtask build --config <file>`."
    );
    std::process::exit(2);
}

/// The pages schedule-gen's table linker writes this system's translation tables into, after
/// the kernel is linked: as many as its bound for this configuration. Read-only data, like
/// the tables' header (`arch::mmu`); exported by name so the linker finds them in the ELF.
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".rodata.pkernel_translation_pages")]
static PKERNEL_TRANSLATION_PAGES: pkernel::arch::mmu::TablePages<
    { system::TRANSLATION_TABLE_PAGES },
> = pkernel::arch::mmu::TablePages::new();

/// Every partition's information page (`apex_api::info`), by partition id, as schedule-gen
/// generated them. Read-only data the kernel only names in its banner: the table linker finds
/// them by name and maps page `id` read-only into partition `id` at `INFO_PAGE_IPA`.
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".rodata.pkernel_info_pages")]
static PKERNEL_INFO_PAGES: [system_tables::translation::InfoPageBytes; system::PARTITION_COUNT] =
    system::INFO_PAGES;

/// The schedule trace of every core, as many records per core as schedule-gen computed.
/// Exported by name so a host can find it in the ELF and read it out of RAM like a probe.
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".uninit.trace")]
static PKERNEL_TRACE: pkernel::arch::trace_buffer::TraceArea<{ system::TRACE_RECORDS_PER_CORE }> =
    pkernel::arch::trace_buffer::TraceArea::new();

/// Every core's first Rust code (called from the boot assembly with its core index).
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "C" fn pkernel_entry(core: usize) -> ! {
    pkernel::arch::entry::run(
        &system::SYSTEM,
        &PKERNEL_TRANSLATION_PAGES,
        &PKERNEL_INFO_PAGES,
        &PKERNEL_TRACE,
        core,
    )
}
