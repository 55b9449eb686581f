//! A fixed pool of 4 KiB pages for translation tables (EL2 stage 1 and every partition's
//! stage 2), handed out at boot only. No allocator: the pool is a static array.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use aarch64_paging::descriptor::PagingAttributes;
use aarch64_paging::descriptor::PhysicalAddress;
use aarch64_paging::paging::{PageTable, Translation};

/// Enough for the EL2 map plus 16 partitions with a few regions each (about 6 tables each).
pub const POOL_PAGES: usize = 160;

#[repr(C, align(4096))]
pub struct Page([u64; 512]);

/// The pool. Not zeroed at boot (`.uninit`); each page is zeroed when handed out.
#[unsafe(link_section = ".uninit.page_pool")]
static mut POOL: [Page; POOL_PAGES] = [const { Page([0; 512]) }; POOL_PAGES];
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Pages handed out so far (for the boot report).
pub fn pages_used() -> usize {
    NEXT.load(Ordering::Relaxed).min(POOL_PAGES)
}

/// Table allocation for aarch64-paging over the pool. The kernel runs identity mapped, so a
/// table's physical address is its virtual address.
pub struct PoolTranslation;

impl<A: PagingAttributes> Translation<A> for PoolTranslation {
    fn allocate_table(&mut self) -> (NonNull<PageTable<A>>, PhysicalAddress) {
        let index = NEXT.fetch_add(1, Ordering::Relaxed);
        // Boot-time only, from the static configuration: exhausting the pool is a build
        // configuration error (schedule-gen's limits keep real configurations far below it).
        assert!(
            index < POOL_PAGES,
            "translation table pool exhausted: raise POOL_PAGES"
        );
        // SAFETY: `index` is in bounds and each index is handed out exactly once (atomic
        // fetch_add), so this page has no other reference; the pointer is derived from the
        // static without creating a reference to the whole array.
        let page = unsafe { &raw mut POOL[index] };
        // SAFETY: `page` is valid for writes of one `Page` and unaliased (see above).
        unsafe { page.write(Page([0; 512])) };
        let pa = PhysicalAddress(page as usize);
        // SAFETY: `page` is non-null (derived from a static) and 4 KiB aligned, which is what
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
