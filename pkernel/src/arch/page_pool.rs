//! The pool of 4 KiB pages for translation tables (EL2 stage 1 and every partition's
//! stage 2), handed out at boot only. No allocator: the pool is a static array whose length
//! schedule-gen computes from the configuration (`TRANSLATION_TABLE_PAGES`, a safe upper bound
//! on what these tables need), so a configuration that passes its checks cannot exhaust it.

use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use aarch64_paging::descriptor::PagingAttributes;
use aarch64_paging::descriptor::PhysicalAddress;
use aarch64_paging::paging::{PageTable, Translation};

#[repr(C, align(4096))]
pub struct Page([u64; 512]);

/// The pool's storage, declared by the image (`main.rs`) with the generated length and
/// placed in `.uninit` (never zeroed at boot; each page is zeroed when handed out).
pub struct TablePool<const N: usize>(UnsafeCell<[Page; N]>);

// SAFETY: the pages are reached only through `PoolTranslation::allocate_table`, which hands
// each index out once (atomic cursor), so no two users share a page.
unsafe impl<const N: usize> Sync for TablePool<N> {}

impl<const N: usize> TablePool<N> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(UnsafeCell::new([const { Page([0; 512]) }; N]))
    }
}

static BASE: AtomicPtr<Page> = AtomicPtr::new(core::ptr::null_mut());
static LEN: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Makes `pool` the pool tables are taken from (boot core, before any table is built).
pub fn install<const N: usize>(pool: &'static TablePool<N>) {
    BASE.store(pool.0.get().cast::<Page>(), Ordering::Relaxed);
    LEN.store(N, Ordering::Release);
}

/// Pages handed out so far (for the boot report).
pub fn pages_used() -> usize {
    NEXT.load(Ordering::Relaxed).min(pages_total())
}

/// Pages in the pool.
pub fn pages_total() -> usize {
    LEN.load(Ordering::Acquire)
}

/// Table allocation for aarch64-paging over the pool. The kernel runs identity mapped, so a
/// table's physical address is its virtual address.
pub struct PoolTranslation;

impl<A: PagingAttributes> Translation<A> for PoolTranslation {
    fn allocate_table(&mut self) -> (NonNull<PageTable<A>>, PhysicalAddress) {
        let index = NEXT.fetch_add(1, Ordering::Relaxed);
        // Boot-time only. schedule-gen sizes the pool with an upper bound it tests against
        // this very allocator, so running out is a bug in that bound, not a configuration
        // error: there is nothing sensible to do but stop (the panic ends the module).
        assert!(
            index < pages_total(),
            "translation table pool exhausted: schedule-gen's TRANSLATION_TABLE_PAGES bound is wrong"
        );
        // SAFETY: `index` is below the pool's length (checked above) and BASE points at the
        // installed pool's first page, so the result stays inside that static array; each
        // index is handed out exactly once (atomic fetch_add), so the page has no other user.
        let page = unsafe { BASE.load(Ordering::Relaxed).add(index) };
        // SAFETY: `page` is valid for writes of one `Page` and unaliased (see above).
        unsafe { page.write(Page([0; 512])) };
        let pa = PhysicalAddress(page as usize);
        // SAFETY: `page` is non-null (inside a static) and 4 KiB aligned, which is what
        // `PageTable` requires; a zeroed page is a valid table of invalid descriptors.
        (unsafe { NonNull::new_unchecked(page.cast()) }, pa)
    }

    unsafe fn deallocate_table(&mut self, _page_table: NonNull<PageTable<A>>) {
        // Tables live for the life of the system; a page given back is simply not reused.
    }

    fn physical_to_virtual(&self, pa: PhysicalAddress) -> NonNull<PageTable<A>> {
        NonNull::new(pa.0 as *mut PageTable<A>).expect("page table at physical address 0")
    }
}
