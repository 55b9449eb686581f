//! Word access to a channel buffer: the traits the protocols are written against, the real
//! buffers over mapped memory, and the message copies. The only `unsafe` code of the ports is
//! here: the constructors over raw memory, and on AArch64 the instructions Rust has no
//! operation for (the SIMD message copies, a slot header's `LDP`/`STP`, an acquire load from
//! read-only memory).
//!
//! Every access to a buffer is an aligned 64-bit single-copy-atomic load or store (`LDR`,
//! `LDAR`, `STR`, `STLR`, each register of an `LDP`/`STP`, each 64-bit element of an
//! `LD1`/`ST1`; never an exclusive), so it is valid on Device memory (a partition running with
//! its MMU off) and a data race with the peer is not undefined behaviour.
#![allow(unsafe_code)] // The `from_raw` constructors and the assembly named above.

use core::sync::atomic::{AtomicU64, Ordering, fence};

/// A buffer of 64-bit words the caller may read: its own buffer, or a peer's mapped read-only.
///
/// Implementations never panic. An index at or past [`len_words`](Self::len_words) loads 0
/// and stores nothing; the protocols never produce one, because they check the buffer's
/// length against the port's configured sizes when they are created and compute every index
/// from those sizes, never from a value read from the buffer (tests wrap the buffers so that
/// such an access fails).
pub trait SharedWords {
    /// What [`part`](Self::part) returns: the real buffers' own type over a shorter slice;
    /// [`Offset`] for buffers that are not slices of memory (tests, model checkers), whose
    /// implementations write these items with [`offset_parts!`](crate::offset_parts).
    type Part: SharedWords + Clone;
    /// What [`fixed`](Self::fixed) returns: the real buffers' own type over an array of `N`
    /// words, so that the compiler knows its length; [`Offset`] for the others.
    type Fixed<const N: usize>: SharedWords + Clone;
    /// Number of words in the buffer.
    fn len_words(&self) -> usize;
    /// Atomic load of word `index`; `order` is `Relaxed` or `Acquire`.
    fn load(&self, index: usize, order: Ordering) -> u64;
    /// A memory fence (`Acquire`, `Release` or `SeqCst`), in the same memory model as the
    /// accesses.
    fn fence(&self, order: Ordering);
    /// Fills `out` from the words starting at `first` with relaxed loads, little-endian
    /// (message words, see [`ports`](super)). Bytes of `out` beyond the end of the buffer are
    /// unspecified (the protocols never ask for them). The provided version loads word by
    /// word; the real buffers check the range once.
    #[inline]
    fn load_bytes(&self, first: usize, out: &mut [u8]) {
        let (chunks, tail) = out.as_chunks_mut::<8>();
        let mut index = first;
        for chunk in chunks {
            *chunk = self.load(index, Ordering::Relaxed).to_le_bytes();
            index += 1;
        }
        if !tail.is_empty() {
            copy_tail_out(self.load(index, Ordering::Relaxed), tail);
        }
    }

    /// Words `index` and `index + 1`, each by a relaxed load (a slot's header). The provided
    /// version loads one after the other; the real buffers load both with one instruction
    /// (`LDP`, two single-copy-atomic 64-bit loads) where they have both words.
    #[inline]
    fn load_pair(&self, index: usize) -> (u64, u64) {
        (
            self.load(index, Ordering::Relaxed),
            self.load(index.saturating_add(1), Ordering::Relaxed),
        )
    }

    /// Words `first..first + len` as a buffer of their own, if this buffer holds them all.
    ///
    /// The protocols' fast path (see [`ports`](super)): a side takes the words it uses (the
    /// sequence word of a sampling region, its two slots) as parts once, when it is created,
    /// and a queuing call takes the slot it uses, each with one range check, so no access
    /// through a part needs a check of its own the compiler cannot prove. A part must be
    /// the very words [`load`](Self::load) (and [`store`](SharedWordsMut::store)) reach at
    /// `first..first + len`, and an index past it is outside the buffer for it.
    fn part(&self, first: usize, len: usize) -> Option<Self::Part>;

    /// Words `first..first + N` as a part of a length known at compile time: the words whose
    /// offsets a protocol fixes (a sampling region's sequence word, a slot's header), so that
    /// no access to them needs a range check where the part is used.
    fn fixed<const N: usize>(&self, first: usize) -> Option<Self::Fixed<N>>;
}

/// A buffer the caller owns and writes: only the side that owns a buffer has this view.
pub trait SharedWordsMut: SharedWords {
    /// What [`part_mut`](Self::part_mut) returns (as [`SharedWords::Part`], to write).
    type PartMut: SharedWordsMut + Clone;
    /// What [`fixed_mut`](Self::fixed_mut) returns (as [`SharedWords::Fixed`], to write).
    type FixedMut<const N: usize>: SharedWordsMut + Clone;
    /// Atomic store to word `index`; `order` is `Relaxed` or `Release`.
    fn store(&self, index: usize, value: u64, order: Ordering);
    /// Stores `bytes` into the words starting at `first` with relaxed stores, little-endian,
    /// the unused bytes of the last word zero (message words, see [`ports`](super)). Nothing is
    /// stored beyond the end of the buffer (the protocols never ask for that). The provided
    /// version stores word by word; the real buffers check the range once.
    #[inline]
    fn store_bytes(&self, first: usize, bytes: &[u8]) {
        let (chunks, tail) = bytes.as_chunks::<8>();
        let mut index = first;
        for chunk in chunks {
            self.store(index, u64::from_le_bytes(*chunk), Ordering::Relaxed);
            index += 1;
        }
        if !tail.is_empty() {
            self.store(index, tail_word(tail), Ordering::Relaxed);
        }
    }

    /// Stores `pair` into words `index` and `index + 1`, each by a relaxed store (a slot's
    /// header). The provided version stores one after the other; the real buffers store both
    /// with one instruction (`STP`) where they have both words.
    #[inline]
    fn store_pair(&self, index: usize, pair: (u64, u64)) {
        self.store(index, pair.0, Ordering::Relaxed);
        self.store(index.saturating_add(1), pair.1, Ordering::Relaxed);
    }

    /// [`SharedWords::part`] to write: the same words, through which the caller may store.
    fn part_mut(&self, first: usize, len: usize) -> Option<Self::PartMut>;

    /// [`SharedWords::fixed`] to write.
    fn fixed_mut<const N: usize>(&self, first: usize) -> Option<Self::FixedMut<N>>;
}

/// The caller's own buffer, mapped read-write: a slice of words, or (`S = [AtomicU64; N]`) a
/// part of a length known at compile time ([`SharedWords::fixed`]).
#[derive(Debug)]
pub struct OwnBuffer<'a, S: ?Sized = [AtomicU64]> {
    words: &'a S,
}

// By hand: a derive would ask `S: Clone`, which a slice is not.
impl<S: ?Sized> Clone for OwnBuffer<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for OwnBuffer<'_, S> {}

impl<'a> OwnBuffer<'a> {
    /// A buffer over words the caller already has as atomics.
    pub const fn new(words: &'a [AtomicU64]) -> Self {
        Self { words }
    }

    /// A buffer over `words` 64-bit words of mapped memory at `ptr`.
    ///
    /// # Safety
    ///
    /// For all of `'a`: `ptr` is non-null, 8-byte aligned and valid for reads and writes of
    /// `words * 8` bytes (at most `isize::MAX`), and every other access to that memory, by this
    /// program or a peer, is an aligned 64-bit atomic (single-copy atomic) load or store.
    pub unsafe fn from_raw(ptr: *mut u64, words: usize) -> Self {
        // SAFETY: `AtomicU64` has the size and alignment of `u64` on every target with 64-bit
        // atomics; the caller guarantees the pointer is aligned, valid for reads and writes of
        // `words` words for `'a`, and only accessed atomically, which is what `AtomicU64`
        // (like `AtomicU64::from_ptr`, here for a whole slice) requires.
        let words = unsafe { core::slice::from_raw_parts(ptr.cast::<AtomicU64>(), words) };
        Self { words }
    }
}

impl<'a, S: ?Sized + AsRef<[AtomicU64]>> OwnBuffer<'a, S> {
    /// The words, as a slice (of a length the compiler knows, for an array).
    #[inline(always)]
    fn words(&self) -> &'a [AtomicU64] {
        self.words.as_ref()
    }
}

impl<'a, S: ?Sized + AsRef<[AtomicU64]>> SharedWords for OwnBuffer<'a, S> {
    type Part = OwnBuffer<'a>;
    type Fixed<const N: usize> = OwnBuffer<'a, [AtomicU64; N]>;

    #[inline]
    fn len_words(&self) -> usize {
        self.words().len()
    }

    #[inline]
    fn load(&self, index: usize, order: Ordering) -> u64 {
        self.words().get(index).map_or(0, |w| w.load(order))
    }

    #[inline]
    fn fence(&self, order: Ordering) {
        fence(order);
    }

    #[inline]
    fn load_bytes(&self, first: usize, out: &mut [u8]) {
        load_bytes_from(self.words().get(first..).unwrap_or_default(), out);
    }

    #[inline]
    fn load_pair(&self, index: usize) -> (u64, u64) {
        load_pair_at(self.words(), index)
    }

    #[inline]
    fn part(&self, first: usize, len: usize) -> Option<OwnBuffer<'a>> {
        Some(OwnBuffer::new(slice_part(self.words(), first, len)?))
    }

    #[inline]
    fn fixed<const N: usize>(&self, first: usize) -> Option<OwnBuffer<'a, [AtomicU64; N]>> {
        Some(OwnBuffer {
            words: array_at(self.words(), first)?,
        })
    }
}

impl<'a, S: ?Sized + AsRef<[AtomicU64]>> SharedWordsMut for OwnBuffer<'a, S> {
    type PartMut = OwnBuffer<'a>;
    type FixedMut<const N: usize> = OwnBuffer<'a, [AtomicU64; N]>;

    #[inline]
    fn store(&self, index: usize, value: u64, order: Ordering) {
        if let Some(w) = self.words().get(index) {
            w.store(value, order);
        }
    }

    #[inline]
    fn store_bytes(&self, first: usize, bytes: &[u8]) {
        store_bytes_to(self.words().get(first..).unwrap_or_default(), bytes);
    }

    #[inline]
    fn store_pair(&self, index: usize, pair: (u64, u64)) {
        match array_at(self.words(), index) {
            Some(words) => store_pair_to(words, pair),
            None => {
                self.store(index, pair.0, Ordering::Relaxed);
                self.store(index.saturating_add(1), pair.1, Ordering::Relaxed);
            }
        }
    }

    #[inline]
    fn part_mut(&self, first: usize, len: usize) -> Option<OwnBuffer<'a>> {
        self.part(first, len)
    }

    #[inline]
    fn fixed_mut<const N: usize>(&self, first: usize) -> Option<OwnBuffer<'a, [AtomicU64; N]>> {
        self.fixed(first)
    }
}

/// A peer's buffer, mapped read-only: there is no way to write through it. A slice of words,
/// or (`S = [AtomicU64; N]`) a part of a length known at compile time.
///
/// Loads are `Relaxed` atomic loads, and an `Acquire` load is a relaxed load followed by an
/// acquire fence: Rust defines only relaxed atomic loads of at most 8 bytes on read-only memory
/// (`core::sync::atomic`, "Atomic accesses to read-only memory"), and recommends exactly this
/// replacement for an acquire load. On AArch64 it is instead one `LDAR`, in inline assembly,
/// whose meaning is the instruction's: a load-acquire, which only reads.
#[derive(Debug)]
pub struct PeerBuffer<'a, S: ?Sized = [AtomicU64]> {
    words: &'a S,
}

impl<S: ?Sized> Clone for PeerBuffer<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for PeerBuffer<'_, S> {}

impl<'a> PeerBuffer<'a> {
    /// A read-only view of words the caller already has as atomics.
    pub const fn new(words: &'a [AtomicU64]) -> Self {
        Self { words }
    }

    /// A read-only view of `words` 64-bit words of mapped memory at `ptr`, which may be mapped
    /// read-only.
    ///
    /// # Safety
    ///
    /// For all of `'a`: `ptr` is non-null, 8-byte aligned and valid for reads of `words * 8`
    /// bytes (at most `isize::MAX`), and every write to that memory, by this program or a peer,
    /// is an aligned 64-bit atomic (single-copy atomic) store.
    pub unsafe fn from_raw(ptr: *const u64, words: usize) -> Self {
        // SAFETY: as for `OwnBuffer::from_raw`, except that the memory may be read-only: a
        // shared reference to atomics does not assert that they are writable, and this type
        // only ever performs relaxed 8-byte loads through it, which Rust defines on read-only
        // memory on 64-bit targets (`core::sync::atomic`, "Atomic accesses to read-only memory").
        let words = unsafe { core::slice::from_raw_parts(ptr.cast::<AtomicU64>(), words) };
        Self { words }
    }
}

impl<'a, S: ?Sized + AsRef<[AtomicU64]>> PeerBuffer<'a, S> {
    /// The words, as a slice (of a length the compiler knows, for an array).
    #[inline(always)]
    fn words(&self) -> &'a [AtomicU64] {
        self.words.as_ref()
    }
}

impl<'a, S: ?Sized + AsRef<[AtomicU64]>> SharedWords for PeerBuffer<'a, S> {
    type Part = PeerBuffer<'a>;
    type Fixed<const N: usize> = PeerBuffer<'a, [AtomicU64; N]>;

    #[inline]
    fn len_words(&self) -> usize {
        self.words().len()
    }

    #[inline]
    fn load(&self, index: usize, order: Ordering) -> u64 {
        match self.words().get(index) {
            Some(word) if order == Ordering::Relaxed => word.load(Ordering::Relaxed),
            Some(word) => load_acquire(word),
            None => {
                if order != Ordering::Relaxed {
                    fence(Ordering::Acquire);
                }
                0
            }
        }
    }

    #[inline]
    fn fence(&self, order: Ordering) {
        fence(order);
    }

    #[inline]
    fn load_bytes(&self, first: usize, out: &mut [u8]) {
        load_bytes_from(self.words().get(first..).unwrap_or_default(), out);
    }

    #[inline]
    fn load_pair(&self, index: usize) -> (u64, u64) {
        load_pair_at(self.words(), index)
    }

    #[inline]
    fn part(&self, first: usize, len: usize) -> Option<PeerBuffer<'a>> {
        Some(PeerBuffer::new(slice_part(self.words(), first, len)?))
    }

    #[inline]
    fn fixed<const N: usize>(&self, first: usize) -> Option<PeerBuffer<'a, [AtomicU64; N]>> {
        Some(PeerBuffer {
            words: array_at(self.words(), first)?,
        })
    }
}

/// Words `first..first + N` of `words`, if it holds them all.
#[inline(always)]
fn array_at<const N: usize>(words: &[AtomicU64], first: usize) -> Option<&[AtomicU64; N]> {
    words.get(first..)?.first_chunk()
}

/// [`SharedWords::load_pair`] over a slice of words (relaxed loads only, so also valid on
/// read-only memory): one `LDP` where it holds both words, and 0 for a word outside it.
#[inline(always)]
fn load_pair_at(words: &[AtomicU64], index: usize) -> (u64, u64) {
    match array_at(words, index) {
        Some(pair) => load_pair_from(pair),
        None => {
            let load = |i: usize| words.get(i).map_or(0, |w| w.load(Ordering::Relaxed));
            (load(index), load(index.saturating_add(1)))
        }
    }
}

/// Words `first..first + len` of `words`, if it holds them all.
#[inline(always)]
fn slice_part(words: &[AtomicU64], first: usize, len: usize) -> Option<&[AtomicU64]> {
    words.get(first..first.checked_add(len)?)
}

/// Words `first..` of a buffer, seen as a buffer of their own: how the protocols reach a slot
/// of a buffer that has no [`SharedWords::part`] (every index is shifted by `first`, and the
/// buffer's own handling of indices past its end applies).
#[derive(Debug)]
pub(crate) struct At<'r, B: ?Sized> {
    buffer: &'r B,
    first: usize,
}

impl<'r, B: ?Sized> At<'r, B> {
    #[inline]
    pub(crate) fn new(buffer: &'r B, first: usize) -> Self {
        Self { buffer, first }
    }

    /// The index in the buffer of word `index` of the part (`usize::MAX`, past any buffer,
    /// if that overflows).
    #[inline]
    fn index(&self, index: usize) -> usize {
        self.first.saturating_add(index)
    }
}

impl<B: SharedWords + ?Sized> SharedWords for At<'_, B> {
    type Part = B::Part;
    type Fixed<const N: usize> = B::Fixed<N>;

    #[inline]
    fn len_words(&self) -> usize {
        self.buffer.len_words().saturating_sub(self.first)
    }

    #[inline]
    fn load(&self, index: usize, order: Ordering) -> u64 {
        self.buffer.load(self.index(index), order)
    }

    #[inline]
    fn fence(&self, order: Ordering) {
        self.buffer.fence(order);
    }

    #[inline]
    fn load_bytes(&self, first: usize, out: &mut [u8]) {
        self.buffer.load_bytes(self.index(first), out);
    }

    #[inline]
    fn part(&self, first: usize, len: usize) -> Option<B::Part> {
        self.buffer.part(self.first.checked_add(first)?, len)
    }

    #[inline]
    fn fixed<const N: usize>(&self, first: usize) -> Option<B::Fixed<N>> {
        self.buffer.fixed(self.first.checked_add(first)?)
    }
}

impl<B: SharedWordsMut + ?Sized> SharedWordsMut for At<'_, B> {
    type PartMut = B::PartMut;
    type FixedMut<const N: usize> = B::FixedMut<N>;

    #[inline]
    fn fixed_mut<const N: usize>(&self, first: usize) -> Option<B::FixedMut<N>> {
        self.buffer.fixed_mut(self.first.checked_add(first)?)
    }

    #[inline]
    fn part_mut(&self, first: usize, len: usize) -> Option<B::PartMut> {
        self.buffer.part_mut(self.first.checked_add(first)?, len)
    }

    #[inline]
    fn store(&self, index: usize, value: u64, order: Ordering) {
        self.buffer.store(self.index(index), value, order);
    }

    #[inline]
    fn store_bytes(&self, first: usize, bytes: &[u8]) {
        self.buffer.store_bytes(self.index(first), bytes);
    }
}

/// Words `first..first + len` of a buffer that is not a slice of memory (a test's checked
/// buffer, a model checker's atomics), as a buffer of their own: the [`SharedWords::Part`] of
/// such buffers. Every access goes to the buffer at `first` plus the index; an index at or
/// past `len` is outside the part, so it loads 0 and stores nothing, as outside any buffer.
#[derive(Clone, Debug)]
pub struct Offset<B> {
    buffer: B,
    first: usize,
    len: usize,
}

/// Inside `impl SharedWords for B` (`B: Clone`), for a buffer that is not a slice of memory:
/// its parts are [`Offset`]s (`Part`, `Fixed`, `part`, `fixed`).
#[macro_export]
macro_rules! offset_parts {
    () => {
        type Part = $crate::ports::Offset<Self>;
        type Fixed<const N: usize> = $crate::ports::Offset<Self>;
        fn part(&self, first: usize, len: usize) -> Option<Self::Part> {
            $crate::ports::Offset::of(self, first, len)
        }
        fn fixed<const N: usize>(&self, first: usize) -> Option<Self::Fixed<N>> {
            $crate::ports::Offset::of(self, first, N)
        }
    };
}

/// [`offset_parts!`] inside `impl SharedWordsMut for B`.
#[macro_export]
macro_rules! offset_parts_mut {
    () => {
        type PartMut = $crate::ports::Offset<Self>;
        type FixedMut<const N: usize> = $crate::ports::Offset<Self>;
        fn part_mut(&self, first: usize, len: usize) -> Option<Self::PartMut> {
            $crate::ports::Offset::of(self, first, len)
        }
        fn fixed_mut<const N: usize>(&self, first: usize) -> Option<Self::FixedMut<N>> {
            $crate::ports::Offset::of(self, first, N)
        }
    };
}

impl<B: SharedWords + Clone> Offset<B> {
    /// Words `first..first + len` of `buffer` (a clone of it), if it holds them all: what
    /// [`SharedWords::part`] of such a buffer returns.
    pub fn of(buffer: &B, first: usize, len: usize) -> Option<Self> {
        (first.checked_add(len)? <= buffer.len_words()).then(|| Self {
            buffer: buffer.clone(),
            first,
            len,
        })
    }

    /// The index in the buffer of word `index` of the part, if it is in the part.
    fn index(&self, index: usize) -> Option<usize> {
        (index < self.len).then_some(self.first + index)
    }
}

impl<B: SharedWords + Clone> SharedWords for Offset<B> {
    type Part = Self;
    type Fixed<const N: usize> = Self;

    fn len_words(&self) -> usize {
        self.len
    }

    fn load(&self, index: usize, order: Ordering) -> u64 {
        self.index(index)
            .map_or(0, |index| self.buffer.load(index, order))
    }

    fn fence(&self, order: Ordering) {
        self.buffer.fence(order);
    }

    fn part(&self, first: usize, len: usize) -> Option<Self> {
        (first.checked_add(len)? <= self.len).then(|| Self {
            buffer: self.buffer.clone(),
            first: self.first + first,
            len,
        })
    }

    fn fixed<const N: usize>(&self, first: usize) -> Option<Self> {
        self.part(first, N)
    }
}

impl<B: SharedWordsMut + Clone> SharedWordsMut for Offset<B> {
    type PartMut = Self;
    type FixedMut<const N: usize> = Self;

    fn fixed_mut<const N: usize>(&self, first: usize) -> Option<Self> {
        self.part(first, N)
    }

    fn part_mut(&self, first: usize, len: usize) -> Option<Self> {
        self.part(first, len)
    }

    fn store(&self, index: usize, value: u64, order: Ordering) {
        if let Some(index) = self.index(index) {
            self.buffer.store(index, value, order);
        }
    }
}

use copies::{load_acquire, load_bytes_from, load_pair_from, store_bytes_to, store_pair_to};

/// The message copies between a caller's bytes, at any address, and a channel buffer's words,
/// by Advanced SIMD where the target has it.
#[cfg(all(
    target_arch = "aarch64",
    target_endian = "little",
    target_feature = "neon"
))]
mod copies {
    use core::sync::atomic::AtomicU64;

    /// An acquire load of `word` that only reads, so valid on read-only memory: one `LDAR`
    /// (what a Rust acquire load is on AArch64, which Rust does not promise for read-only
    /// memory, so it is written out here).
    #[inline(always)]
    pub(super) fn load_acquire(word: &AtomicU64) -> u64 {
        let value: u64;
        // SAFETY: `word` is a valid, 8-byte-aligned word every access to which is
        // single-copy atomic; `LDAR` loads it single-copy atomically with acquire order and
        // writes no memory. Without `readonly` or `nomem`, so the compiler keeps every later
        // memory access after it, as an acquire load asks.
        unsafe {
            core::arch::asm!(
                "ldar {value}, [{word}]",
                word = in(reg) word.as_ptr(),
                value = out(reg) value,
                options(nostack, preserves_flags),
            );
        }
        value
    }

    /// Both words of `pair`, by one `LDP`: at an 8-byte-aligned address, two single-copy-atomic
    /// 64-bit loads (Arm ARM B2.2.1), as two relaxed `AtomicU64` loads are; loads only, so
    /// valid on read-only memory, and needing only 8-byte alignment, so on Device memory too.
    #[inline(always)]
    pub(super) fn load_pair_from(pair: &[AtomicU64; 2]) -> (u64, u64) {
        let (first, second): (u64, u64);
        // SAFETY: `pair` is two valid, 8-byte-aligned words (`AtomicU64`), every access to
        // which is a single-copy-atomic 64-bit access; the assembly only loads them.
        unsafe {
            core::arch::asm!(
                "ldp {first}, {second}, [{pair}]",
                pair = in(reg) pair.as_ptr(),
                first = out(reg) first,
                second = out(reg) second,
                options(nostack, readonly, preserves_flags),
            );
        }
        (first, second)
    }

    /// Stores both words of `pair` by one `STP`: two single-copy-atomic 64-bit stores, as two
    /// relaxed `AtomicU64` stores are.
    #[inline(always)]
    pub(super) fn store_pair_to(pair: &[AtomicU64; 2], (first, second): (u64, u64)) {
        // SAFETY: as in `load_pair_from`; the words are the caller's own (`AtomicU64`, whose
        // stores through a shared reference are allowed), and the assembly stores only them.
        unsafe {
            core::arch::asm!(
                "stp {first}, {second}, [{pair}]",
                pair = in(reg) pair.as_ptr(),
                first = in(reg) first,
                second = in(reg) second,
                options(nostack, preserves_flags),
            );
        }
    }

    /// [`SharedWordsMut::store_bytes`](super::SharedWordsMut::store_bytes) over a slice of
    /// words: as many of `bytes` as the words hold, the unused bytes of the last word zero.
    #[inline(always)]
    pub(super) fn store_bytes_to(words: &[AtomicU64], bytes: &[u8]) {
        let n = bytes.len().min(size_of_val(words));
        // SAFETY: `bytes` is valid for reads of `n` bytes, and `words` (8-byte aligned) for
        // writes of the `n.div_ceil(8)` words the copy stores, as `n` is at most its size. The
        // stores into `words` are single-copy-atomic 64-bit stores, which is what every other
        // access to them is (`AtomicU64`: relaxed stores, as the protocols ask of message
        // words); `bytes` is borrowed shared, so nothing writes it meanwhile, and it is read a
        // byte element at a time, so its address needs no alignment.
        unsafe {
            core::arch::asm!(
                "lsr {blocks}, {n}, #6",
                "cbz {blocks}, 2f",
                // 64 bytes per turn.
                "1:",
                "ld1 {{v0.16b, v1.16b, v2.16b, v3.16b}}, [{from}], #64",
                "st1 {{v0.2d, v1.2d, v2.2d, v3.2d}}, [{to}], #64",
                "subs {blocks}, {blocks}, #1",
                "b.ne 1b",
                // Nothing more for a multiple of 64 bytes, else 32, 16 and 8 bytes as bits 5,
                // 4 and 3 of `n` say.
                "2:",
                "tst {n}, #63",
                "b.eq 9f",
                "tbz {n}, #5, 3f",
                "ld1 {{v0.16b, v1.16b}}, [{from}], #32",
                "st1 {{v0.2d, v1.2d}}, [{to}], #32",
                "3:",
                "tbz {n}, #4, 4f",
                "ld1 {{v0.16b}}, [{from}], #16",
                "st1 {{v0.2d}}, [{to}], #16",
                "4:",
                "tbz {n}, #3, 5f",
                "ld1 {{v0.8b}}, [{from}], #8",
                "st1 {{v0.1d}}, [{to}], #8",
                // Then the last 1 to 7 bytes, gathered into one zero-padded word.
                "5:",
                "ands {blocks}, {n}, #7",
                "b.eq 9f",
                "mov {word}, #0",
                "mov {shift}, #0",
                "6:",
                "ldrb {byte:w}, [{from}], #1",
                "lsl {byte}, {byte}, {shift}",
                "orr {word}, {word}, {byte}",
                "add {shift}, {shift}, #8",
                "subs {blocks}, {blocks}, #1",
                "b.ne 6b",
                "str {word}, [{to}]",
                "9:",
                n = in(reg) n,
                blocks = out(reg) _,
                word = out(reg) _,
                shift = out(reg) _,
                byte = out(reg) _,
                from = inout(reg) bytes.as_ptr() => _,
                to = inout(reg) words.as_ptr() => _,
                out("v0") _,
                out("v1") _,
                out("v2") _,
                out("v3") _,
                options(nostack),
            );
        }
    }

    /// [`SharedWords::load_bytes`](super::SharedWords::load_bytes) over a slice of words
    /// (loads only, so also valid on read-only memory): as many bytes of `out` as the words
    /// hold.
    #[inline(always)]
    pub(super) fn load_bytes_from(words: &[AtomicU64], out: &mut [u8]) {
        let n = out.len().min(size_of_val(words));
        // SAFETY: as in `store_bytes_to`, the roles swapped: the loads from `words` are
        // single-copy-atomic 64-bit loads (loads only, so valid on read-only memory) of the
        // `n.div_ceil(8)` words it holds, and `out` is borrowed exclusively, valid for `n`
        // bytes and written a byte element at a time.
        unsafe {
            core::arch::asm!(
                "lsr {blocks}, {n}, #6",
                "cbz {blocks}, 2f",
                "1:",
                "ld1 {{v0.2d, v1.2d, v2.2d, v3.2d}}, [{from}], #64",
                "st1 {{v0.16b, v1.16b, v2.16b, v3.16b}}, [{to}], #64",
                "subs {blocks}, {blocks}, #1",
                "b.ne 1b",
                "2:",
                "tst {n}, #63",
                "b.eq 9f",
                "tbz {n}, #5, 3f",
                "ld1 {{v0.2d, v1.2d}}, [{from}], #32",
                "st1 {{v0.16b, v1.16b}}, [{to}], #32",
                "3:",
                "tbz {n}, #4, 4f",
                "ld1 {{v0.2d}}, [{from}], #16",
                "st1 {{v0.16b}}, [{to}], #16",
                "4:",
                "tbz {n}, #3, 5f",
                "ld1 {{v0.1d}}, [{from}], #8",
                "st1 {{v0.8b}}, [{to}], #8",
                // Then the last 1 to 7 bytes, from one whole word.
                "5:",
                "ands {blocks}, {n}, #7",
                "b.eq 9f",
                "ldr {word}, [{from}]",
                "6:",
                "strb {word:w}, [{to}], #1",
                "lsr {word}, {word}, #8",
                "subs {blocks}, {blocks}, #1",
                "b.ne 6b",
                "9:",
                n = in(reg) n,
                blocks = out(reg) _,
                word = out(reg) _,
                from = inout(reg) words.as_ptr() => _,
                to = inout(reg) out.as_mut_ptr() => _,
                out("v0") _,
                out("v1") _,
                out("v2") _,
                out("v3") _,
                options(nostack),
            );
        }
    }
}

/// The message copies between a caller's bytes and a channel buffer's words, word by word.
#[cfg(not(all(
    target_arch = "aarch64",
    target_endian = "little",
    target_feature = "neon"
)))]
mod copies {
    use core::sync::atomic::{AtomicU64, Ordering};

    use super::{copy_tail_out, tail_word};

    /// An acquire load of `word` that only reads, so valid on read-only memory: a relaxed
    /// load and an acquire fence.
    #[inline(always)]
    pub(super) fn load_acquire(word: &AtomicU64) -> u64 {
        let value = word.load(Ordering::Relaxed);
        core::sync::atomic::fence(Ordering::Acquire);
        value
    }

    /// Both words of `pair`, by two relaxed loads.
    #[inline(always)]
    pub(super) fn load_pair_from(pair: &[AtomicU64; 2]) -> (u64, u64) {
        (
            pair[0].load(Ordering::Relaxed),
            pair[1].load(Ordering::Relaxed),
        )
    }

    /// Stores both words of `pair` by two relaxed stores.
    #[inline(always)]
    pub(super) fn store_pair_to(pair: &[AtomicU64; 2], (first, second): (u64, u64)) {
        pair[0].store(first, Ordering::Relaxed);
        pair[1].store(second, Ordering::Relaxed);
    }

    /// [`SharedWordsMut::store_bytes`](super::SharedWordsMut::store_bytes) over a slice of
    /// words: as many of `bytes` as the words hold, the unused bytes of the last word zero.
    #[inline(always)]
    pub(super) fn store_bytes_to(words: &[AtomicU64], bytes: &[u8]) {
        let (chunks, tail) = bytes.as_chunks::<8>();
        for (word, chunk) in words.iter().zip(chunks) {
            word.store(u64::from_le_bytes(*chunk), Ordering::Relaxed);
        }
        if !tail.is_empty()
            && let Some(word) = words.get(chunks.len())
        {
            word.store(tail_word(tail), Ordering::Relaxed);
        }
    }

    /// [`SharedWords::load_bytes`](super::SharedWords::load_bytes) over a slice of words
    /// (relaxed loads only, so also valid on read-only memory): as many bytes of `out` as the
    /// words hold.
    #[inline(always)]
    pub(super) fn load_bytes_from(words: &[AtomicU64], out: &mut [u8]) {
        let (chunks, tail) = out.as_chunks_mut::<8>();
        let whole = chunks.len();
        for (chunk, word) in chunks.iter_mut().zip(words) {
            *chunk = word.load(Ordering::Relaxed).to_le_bytes();
        }
        if !tail.is_empty()
            && let Some(word) = words.get(whole)
        {
            copy_tail_out(word.load(Ordering::Relaxed), tail);
        }
    }
}

/// The word holding the last `tail.len()` (< 8) bytes of a message, zero-padded.
#[inline]
fn tail_word(tail: &[u8]) -> u64 {
    // Byte by byte (at most 7), so no call to `memcpy`.
    let mut word = 0;
    for (i, byte) in tail.iter().enumerate() {
        word |= u64::from(*byte) << (8 * (i % 8));
    }
    word
}

/// Copies the first `tail.len()` (< 8) bytes of `word`, little-endian, into `tail`.
#[inline]
fn copy_tail_out(word: u64, tail: &mut [u8]) {
    for (i, byte) in tail.iter_mut().enumerate() {
        *byte = (word >> (8 * (i % 8))) as u8;
    }
}

/// Number of words a message of up to `bytes` bytes takes.
#[inline]
pub(crate) const fn words_for(bytes: usize) -> usize {
    bytes.div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_indices_load_zero_and_store_nothing() {
        let words = [AtomicU64::new(7), AtomicU64::new(8)];
        let own = OwnBuffer::new(&words);
        own.store(2, 99, Ordering::Release);
        own.store(usize::MAX, 99, Ordering::Relaxed);
        assert_eq!(own.load(2, Ordering::Acquire), 0);
        assert_eq!(own.load(usize::MAX, Ordering::Relaxed), 0);
        assert_eq!(own.load(1, Ordering::Relaxed), 8);
        let peer = PeerBuffer::new(&words);
        assert_eq!(peer.load(2, Ordering::Acquire), 0);
        assert_eq!(peer.load(0, Ordering::Acquire), 7);
        assert_eq!(peer.len_words(), 2);
    }

    #[test]
    fn messages_round_trip_little_endian_at_any_alignment() {
        /// 8-byte aligned, so the messages start at every offset from an 8-byte boundary.
        #[repr(align(8))]
        struct Aligned([u8; 48]);
        let words: [AtomicU64; 6] = Default::default();
        let own = OwnBuffer::new(&words);
        let peer = PeerBuffer::new(&words);
        let source = Aligned(core::array::from_fn(|i| i as u8 + 1));
        for start in 0..8 {
            for len in 0..=33 {
                let message = &source.0[start..start + len];
                for w in &words {
                    w.store(u64::MAX, Ordering::Relaxed);
                }
                own.store_bytes(1, message);
                for (i, chunk) in message.chunks(8).enumerate() {
                    // Little-endian, padding zero.
                    let mut expect = [0u8; 8];
                    expect[..chunk.len()].copy_from_slice(chunk);
                    let word = own.load(1 + i, Ordering::Relaxed);
                    assert_eq!(word, u64::from_le_bytes(expect), "{start} {len} {i}");
                }
                assert_eq!(
                    own.load(0, Ordering::Relaxed),
                    u64::MAX,
                    "word before touched"
                );
                let used = words_for(len);
                if 1 + used < 6 {
                    assert_eq!(own.load(1 + used, Ordering::Relaxed), u64::MAX);
                }
                for out_start in [0, 3, 8] {
                    let own_load = |out: &mut [u8]| own.load_bytes(1, out);
                    let peer_load = |out: &mut [u8]| peer.load_bytes(1, out);
                    for load in [&own_load as &dyn Fn(&mut [u8]), &peer_load] {
                        let mut out = Aligned([0xEE; 48]);
                        load(&mut out.0[out_start..out_start + len]);
                        assert_eq!(&out.0[out_start..out_start + len], message);
                        assert!(out.0[out_start + len..].iter().all(|&b| b == 0xEE));
                    }
                }
            }
        }
    }

    #[test]
    fn parts_are_the_words_the_indices_reach() {
        let words: [AtomicU64; 5] = core::array::from_fn(|i| AtomicU64::new(i as u64));
        let own = OwnBuffer::new(&words);
        let peer = PeerBuffer::new(&words);
        let parts = [
            own.part(1, 3).unwrap().words,
            peer.part(1, 3).unwrap().words,
        ];
        for part in parts.map(PeerBuffer::new) {
            assert_eq!(part.len_words(), 3);
            assert_eq!(part.load(0, Ordering::Acquire), 1);
            assert_eq!(part.load(2, Ordering::Relaxed), 3);
            assert_eq!(part.load(3, Ordering::Relaxed), 0, "past the part");
        }
        assert!(own.part(5, 0).is_some() && peer.part(5, 0).is_some());
        assert!(own.part(3, 3).is_none() && peer.part(3, 3).is_none());
        assert!(own.part(usize::MAX, 2).is_none() && peer.part(usize::MAX, 2).is_none());
        let part = own.part_mut(2, 2).unwrap();
        part.store(1, 30, Ordering::Release);
        part.store(2, 99, Ordering::Relaxed);
        assert_eq!(own.load(3, Ordering::Relaxed), 30);
        assert_eq!(own.load(4, Ordering::Relaxed), 4, "past the part");
        assert!(own.part_mut(4, 2).is_none());
        // A part of a shifted view is the buffer's part at the sum of the offsets.
        let at = At::new(&own, 1);
        assert_eq!(at.part(1, 2).unwrap().load(0, Ordering::Relaxed), 2);
        assert!(At::new(&own, usize::MAX).part(1, 1).is_none());
    }

    /// A buffer that is not a slice, as a test's or a model checker's: its parts are
    /// [`Offset`]s.
    #[derive(Clone)]
    struct Plain<'a>(&'a [AtomicU64]);

    impl SharedWords for Plain<'_> {
        crate::offset_parts!();
        fn len_words(&self) -> usize {
            self.0.len()
        }
        fn load(&self, index: usize, order: Ordering) -> u64 {
            self.0[index].load(order)
        }
        fn fence(&self, order: Ordering) {
            fence(order);
        }
    }

    impl SharedWordsMut for Plain<'_> {
        crate::offset_parts_mut!();
        fn store(&self, index: usize, value: u64, order: Ordering) {
            self.0[index].store(value, order);
        }
    }

    #[test]
    fn offsets_reach_the_buffer_at_their_first_word_and_nothing_past_their_end() {
        let words: [AtomicU64; 6] = core::array::from_fn(|i| AtomicU64::new(i as u64));
        let plain = Plain(&words);
        assert!(plain.part(4, 3).is_none());
        assert!(plain.part(usize::MAX, 2).is_none());
        let part = plain.part_mut(2, 3).unwrap();
        assert_eq!(part.len_words(), 3);
        assert_eq!(part.load(0, Ordering::Acquire), 2);
        // Past the part: 0 and nothing stored, though the buffer goes on.
        assert_eq!(part.load(3, Ordering::Relaxed), 0);
        part.store(3, 99, Ordering::Relaxed);
        assert_eq!(words[5].load(Ordering::Relaxed), 5);
        part.store(1, 30, Ordering::Relaxed);
        assert_eq!(words[3].load(Ordering::Relaxed), 30);
        let inner = part.part(1, 2).unwrap();
        assert_eq!(inner.load(1, Ordering::Relaxed), 4);
        assert!(part.part(2, 2).is_none());
        assert!(part.part_mut(1, 2).is_some());
    }

    #[test]
    fn pairs_are_two_words_and_nothing_outside_the_buffer() {
        let words: [AtomicU64; 3] = core::array::from_fn(|i| AtomicU64::new(i as u64 + 1));
        let own = OwnBuffer::new(&words);
        let peer = PeerBuffer::new(&words);
        assert_eq!(own.load_pair(1), (2, 3));
        assert_eq!(peer.load_pair(0), (1, 2));
        // Half outside, or all: the words outside load 0, as `load` says.
        assert_eq!(peer.load_pair(2), (3, 0));
        assert_eq!(own.load_pair(usize::MAX), (0, 0));
        own.store_pair(1, (20, 30));
        assert_eq!(
            (
                own.load(1, Ordering::Relaxed),
                own.load(2, Ordering::Relaxed)
            ),
            (20, 30)
        );
        own.store_pair(2, (40, 50));
        own.store_pair(usize::MAX, (60, 70));
        assert_eq!(peer.load_pair(1), (20, 40));
        // A fixed part: the same words, its length known.
        let header = own.fixed_mut::<2>(1).unwrap();
        header.store_pair(0, (7, 8));
        assert_eq!(peer.fixed::<2>(1).unwrap().load_pair(0), (7, 8));
        assert_eq!(header.load_pair(1), (8, 0), "past the part");
        assert!(own.fixed::<2>(2).is_none() && peer.fixed::<4>(0).is_none());
        assert!(own.fixed::<0>(3).is_some());
    }

    #[test]
    fn a_shifted_view_reaches_the_buffer_at_first_plus_the_index() {
        let words: [AtomicU64; 4] = core::array::from_fn(|i| AtomicU64::new(i as u64));
        let own = OwnBuffer::new(&words);
        let at = At::new(&own, 2);
        assert_eq!(at.len_words(), 2);
        assert_eq!(at.load(1, Ordering::Relaxed), 3);
        assert_eq!(at.load(2, Ordering::Relaxed), 0);
        at.store(0, 20, Ordering::Relaxed);
        at.store_bytes(1, &[9; 8]);
        assert_eq!(own.load(2, Ordering::Relaxed), 20);
        assert_eq!(own.load(3, Ordering::Relaxed), u64::from_le_bytes([9; 8]));
        let mut out = [0u8; 8];
        at.load_bytes(1, &mut out);
        assert_eq!(out, [9; 8]);
        let far = At::new(&own, usize::MAX);
        assert_eq!(far.load(1, Ordering::Relaxed), 0);
        far.store(1, 5, Ordering::Relaxed);
        assert_eq!(far.len_words(), 0);
    }

    #[test]
    fn copies_stop_at_the_end_of_the_buffer() {
        let words: [AtomicU64; 2] = Default::default();
        let own = OwnBuffer::new(&words);
        own.store_bytes(1, &[7; 40]);
        own.store_bytes(5, &[7; 40]);
        assert_eq!(own.load(0, Ordering::Relaxed), 0);
        assert_eq!(own.load(1, Ordering::Relaxed), u64::from_le_bytes([7; 8]));
        let mut out = [0u8; 40];
        own.load_bytes(1, &mut out);
        PeerBuffer::new(&words).load_bytes(9, &mut out);
        assert_eq!(out[..8], [7; 8]);
    }
}
