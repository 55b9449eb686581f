//! The kernel's own EL2 translation, and where every translation table comes from.
//!
//! No table is built here. schedule-gen's table linker builds the EL2 identity map and every
//! partition's stage-2 tables on the host once the kernel is linked, and writes them into the
//! image (see `system_tables::translation`): into [`TablePages`], which the image reserves,
//! with a [`TranslationHeader`] saying where each root is. The EL2 map gives text read-only
//! and executable, read-only data (the tables themselves included) read-only, everything else
//! (data, stacks, all RAM) writable and never executable, the kernel's devices (UART, GIC) as
//! device memory, and leaves the page below each core's stack unmapped. The kernel checks
//! the header at boot and proves the map with the MMU itself ([`is_mapped`]).

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::registers::{
    ID_AA64MMFR0_EL1, MAIR_EL2, Readable, SCTLR_EL2, TCR_EL2, TTBR0_EL2, Writeable,
};
use system_tables::translation::{self, TABLE_PAGE_SIZE, TranslationHeader};

use super::sysregs;

/// The header the table linker writes. Exported by name so it can find it in the ELF.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".rodata.pkernel_translation_header")]
static PKERNEL_TRANSLATION_HEADER: TranslationHeader = TranslationHeader::UNLINKED;

/// The pages the table linker writes the tables into: as many as schedule-gen's bound for
/// the configuration (`TRANSLATION_TABLE_PAGES`). The image defines the one static of this
/// type, as `PKERNEL_TRANSLATION_PAGES` in read-only data.
#[repr(C, align(4096))]
pub struct TablePages<const N: usize>([[u8; TABLE_PAGE_SIZE]; N]);

impl<const N: usize> TablePages<N> {
    /// Zero pages: what the image holds until the table linker fills them.
    pub const fn new() -> Self {
        Self([[0; TABLE_PAGE_SIZE]; N])
    }
}

impl<const N: usize> Default for TablePages<N> {
    fn default() -> Self {
        Self::new()
    }
}

const _: () = assert!(
    translation::MAIR_NORMAL_INDEX == sysregs::MAIR_NORMAL_INDEX
        && translation::MAIR_DEVICE_INDEX == sysregs::MAIR_DEVICE_INDEX
        && translation::INPUT_ADDRESS_BITS == 64 - sysregs::T0SZ
        && translation::ROOT_LEVEL == 1
);

static PAGES_BASE: AtomicU64 = AtomicU64::new(0);
static PAGES_LEN: AtomicUsize = AtomicUsize::new(0);
/// TTBR0_EL2 of every core, set by the boot core once the header has passed its checks.
static EL2_ROOT: AtomicU64 = AtomicU64::new(0);

/// Records where the image's table pages are (boot core, first thing).
pub fn install_pages<const N: usize>(pages: &'static TablePages<N>) {
    PAGES_BASE.store(pages as *const TablePages<N> as u64, Ordering::Relaxed);
    PAGES_LEN.store(N, Ordering::Release);
}

/// Physical (= EL2 virtual) address of the first table page.
pub fn pages_base() -> u64 {
    PAGES_BASE.load(Ordering::Relaxed)
}

/// Table pages the image holds.
pub fn pages_len() -> usize {
    PAGES_LEN.load(Ordering::Acquire)
}

/// The header as the table linker wrote it into this image.
pub fn linked_header() -> TranslationHeader {
    // SAFETY: the static is valid, aligned and never written at run time. The read is volatile
    // because the compiler knows only the value it was compiled with (`UNLINKED`); the table
    // linker replaced those bytes in the image afterwards.
    unsafe { core::ptr::read_volatile(&raw const PKERNEL_TRANSLATION_HEADER) }
}

/// Makes `header`'s EL2 root the one every core turns its MMU on with. The caller has
/// checked the header (`TranslationHeader::check`).
pub fn use_el2_root(header: &TranslationHeader) {
    EL2_ROOT.store(header.el2_root, Ordering::Release);
}

/// Whether this core's EL2 translation maps `address` (for writing when `write`), by asking
/// the MMU itself (AT S1E2R/S1E2W): boot uses it to prove the tables do what they claim.
pub fn is_mapped(address: usize, write: bool) -> bool {
    let par: u64;
    // SAFETY: an address translation instruction only writes PAR_EL1, which the kernel does
    // not otherwise use at this point (no partition has run on this core yet; a partition's
    // PAR_EL1 is restored from its context on entry); it touches no memory.
    unsafe {
        if write {
            core::arch::asm!("at s1e2w, {}", "isb", "mrs {}, par_el1", in(reg) address, out(reg) par, options(nostack, preserves_flags));
        } else {
            core::arch::asm!("at s1e2r, {}", "isb", "mrs {}, par_el1", in(reg) address, out(reg) par, options(nostack, preserves_flags));
        }
    }
    par & 1 == 0
}

/// Turns the EL2 MMU and caches on for this core with the root from [`use_el2_root`].
pub fn enable_on_this_core() {
    let root = EL2_ROOT.load(Ordering::Acquire);
    let pa_range = ID_AA64MMFR0_EL1.get() & 0xf;
    MAIR_EL2.set(sysregs::MAIR_EL2);
    TCR_EL2.set(sysregs::TCR_EL2_BASE | (pa_range.min(5) << sysregs::TCR_EL2_PS_SHIFT));
    TTBR0_EL2.set(root);
    // SAFETY: invalidating this core's EL2 TLB and synchronising has no effect on memory;
    // the identity map keeps the executing code and stack at the same addresses once the
    // MMU is on, and the tables are in the image, checked, and never changed.
    unsafe {
        core::arch::asm!(
            "tlbi alle2",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        );
    }
    SCTLR_EL2.set(sysregs::SCTLR_EL2_RUNNING);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// The text section's first byte and the EL2 root: boot proves with [`is_mapped`] that code
/// and tables cannot be written.
pub fn read_only_witnesses() -> [usize; 2] {
    unsafe extern "C" {
        static __image_start: u8;
    }
    // A linker-script symbol: only its address is taken.
    let text = &raw const __image_start as usize;
    [text, EL2_ROOT.load(Ordering::Relaxed) as usize]
}
