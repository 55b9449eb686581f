//! Word access to a channel buffer: the traits the protocols are written against, the real
//! buffers over mapped memory, and the message copies. The only `unsafe` code of the ports is
//! here: the constructors over raw memory and the aligned fast path of the copies.
//!
//! Every access is one aligned 64-bit atomic load or store (`LDR`/`LDAR`/`STR`/`STLR` on
//! AArch64, never an exclusive), so it is valid on Device memory (a partition running with its
//! MMU off) and a data race with the peer is not undefined behaviour.
#![allow(unsafe_code)] // The `from_raw` constructors and the aligned message copies.

use core::sync::atomic::{AtomicU64, Ordering, fence};

/// A buffer of 64-bit words the caller may read: its own buffer, or a peer's mapped read-only.
///
/// Implementations never panic. An index at or past [`len_words`](Self::len_words) loads 0
/// and stores nothing; the protocols never produce one, because they check the buffer's
/// length against the port's configured sizes when they are created and compute every index
/// from those sizes, never from a value read from the buffer (tests wrap the buffers so that
/// such an access fails).
pub trait SharedWords {
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

    /// Words `first..first + len` as a buffer of exactly `len` words, if this buffer is mapped
    /// memory that holds them all; `None` otherwise, as in the provided version (then the
    /// protocols reach those words through the methods above, at `first` plus the offset).
    ///
    /// The protocols' fast path (see [`ports`](super)): a call takes the slot it uses as a
    /// part, with one range check, and the compiler proves the slot's header offsets inside
    /// it, so the slot's accesses need no range check each. A part must be the very words
    /// [`load`](Self::load) reaches at `first..first + len`.
    #[inline]
    fn part(&self, first: usize, len: usize) -> Option<PeerBuffer<'_>> {
        let _ = (first, len);
        None
    }
}

/// A buffer the caller owns and writes: only the side that owns a buffer has this view.
pub trait SharedWordsMut: SharedWords {
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

    /// [`SharedWords::part`] to write: words `first..first + len` as an [`OwnBuffer`] of exactly
    /// `len` words, if this buffer is mapped memory that holds them all (the provided version:
    /// `None`). A part must be the very words [`store`](Self::store) reaches.
    #[inline]
    fn part_mut(&self, first: usize, len: usize) -> Option<OwnBuffer<'_>> {
        let _ = (first, len);
        None
    }
}

/// The caller's own buffer, mapped read-write.
#[derive(Debug)]
pub struct OwnBuffer<'a> {
    words: &'a [AtomicU64],
}

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

impl SharedWords for OwnBuffer<'_> {
    #[inline]
    fn len_words(&self) -> usize {
        self.words.len()
    }

    #[inline]
    fn load(&self, index: usize, order: Ordering) -> u64 {
        self.words.get(index).map_or(0, |w| w.load(order))
    }

    #[inline]
    fn fence(&self, order: Ordering) {
        fence(order);
    }

    #[inline]
    fn load_bytes(&self, first: usize, out: &mut [u8]) {
        load_bytes_from(self.words.get(first..).unwrap_or_default(), out);
    }

    #[inline]
    fn part(&self, first: usize, len: usize) -> Option<PeerBuffer<'_>> {
        Some(PeerBuffer::new(slice_part(self.words, first, len)?))
    }
}

impl SharedWordsMut for OwnBuffer<'_> {
    #[inline]
    fn store(&self, index: usize, value: u64, order: Ordering) {
        if let Some(w) = self.words.get(index) {
            w.store(value, order);
        }
    }

    #[inline]
    fn store_bytes(&self, first: usize, bytes: &[u8]) {
        store_bytes_to(self.words.get(first..).unwrap_or_default(), bytes);
    }

    #[inline]
    fn part_mut(&self, first: usize, len: usize) -> Option<OwnBuffer<'_>> {
        Some(OwnBuffer::new(slice_part(self.words, first, len)?))
    }
}

/// A peer's buffer, mapped read-only: there is no way to write through it.
///
/// Loads are `Relaxed` atomic loads followed, when `Acquire` is asked for, by an acquire fence:
/// Rust defines only relaxed atomic loads of at most 8 bytes on read-only memory
/// (`core::sync::atomic`, "Atomic accesses to read-only memory"), and recommends exactly this
/// replacement for an acquire load. On AArch64 that is `LDR` then `DMB ISHLD`.
#[derive(Clone, Copy, Debug)]
pub struct PeerBuffer<'a> {
    words: &'a [AtomicU64],
}

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

impl SharedWords for PeerBuffer<'_> {
    #[inline]
    fn len_words(&self) -> usize {
        self.words.len()
    }

    #[inline]
    fn load(&self, index: usize, order: Ordering) -> u64 {
        let value = self
            .words
            .get(index)
            .map_or(0, |w| w.load(Ordering::Relaxed));
        if order != Ordering::Relaxed {
            fence(Ordering::Acquire);
        }
        value
    }

    #[inline]
    fn fence(&self, order: Ordering) {
        fence(order);
    }

    #[inline]
    fn load_bytes(&self, first: usize, out: &mut [u8]) {
        load_bytes_from(self.words.get(first..).unwrap_or_default(), out);
    }

    #[inline]
    fn part(&self, first: usize, len: usize) -> Option<PeerBuffer<'_>> {
        Some(PeerBuffer::new(slice_part(self.words, first, len)?))
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
}

impl<B: SharedWordsMut + ?Sized> SharedWordsMut for At<'_, B> {
    #[inline]
    fn store(&self, index: usize, value: u64, order: Ordering) {
        self.buffer.store(self.index(index), value, order);
    }

    #[inline]
    fn store_bytes(&self, first: usize, bytes: &[u8]) {
        self.buffer.store_bytes(self.index(first), bytes);
    }
}

/// [`SharedWordsMut::store_bytes`] over a slice of words.
#[inline]
fn store_bytes_to(words: &[AtomicU64], bytes: &[u8]) {
    if let Some((whole, tail)) = as_words(bytes) {
        // An 8-byte-aligned message: whole-word loads (a strict-alignment target would
        // otherwise assemble each word from 8 byte loads).
        let n = whole.len().min(words.len());
        store_words(&words[..n], &whole[..n]);
        if !tail.is_empty()
            && let Some(word) = words.get(n)
        {
            word.store(tail_word(tail), Ordering::Relaxed);
        }
        return;
    }
    let (chunks, tail) = bytes.as_chunks::<8>();
    let mut words = words.iter();
    // `chunks` first: `zip` takes from its left side first, so no word is skipped.
    for (chunk, word) in chunks.iter().zip(&mut words) {
        word.store(u64::from_le_bytes(*chunk), Ordering::Relaxed);
    }
    if !tail.is_empty()
        && let Some(word) = words.next()
    {
        word.store(tail_word(tail), Ordering::Relaxed);
    }
}

/// [`SharedWords::load_bytes`] over a slice of words (relaxed loads only, so also valid on
/// read-only memory).
#[inline]
fn load_bytes_from(words: &[AtomicU64], out: &mut [u8]) {
    if let Some((whole, tail)) = as_words_mut(out) {
        // An 8-byte-aligned buffer: whole-word stores (see `store_bytes_to`).
        let n = whole.len().min(words.len());
        load_words(&mut whole[..n], &words[..n]);
        if !tail.is_empty()
            && let Some(word) = words.get(n)
        {
            copy_tail_out(word.load(Ordering::Relaxed), tail);
        }
        return;
    }
    let (chunks, tail) = out.as_chunks_mut::<8>();
    let mut words = words.iter();
    // `chunks` first: `zip` takes from its left side first, so no word is skipped.
    for (chunk, word) in chunks.iter_mut().zip(&mut words) {
        *chunk = word.load(Ordering::Relaxed).to_le_bytes();
    }
    if !tail.is_empty()
        && let Some(word) = words.next()
    {
        copy_tail_out(word.load(Ordering::Relaxed), tail);
    }
}

use word_copy::{load_words, store_words};

/// Whole message words between a caller's aligned buffer and a channel buffer (the shorter
/// length counts): with Advanced SIMD where the target has it.
#[cfg(all(
    target_arch = "aarch64",
    target_endian = "little",
    target_feature = "neon"
))]
mod word_copy {
    use core::sync::atomic::AtomicU64;

    /// Stores `from` into `to`, each word one single-copy-atomic 64-bit store (a relaxed
    /// atomic store).
    #[inline(always)]
    pub(super) fn store_words(to: &[AtomicU64], from: &[u64]) {
        let n = to.len().min(from.len());
        // SAFETY: `copy_words` moves `n` words from `from` to `to`, both valid for that many
        // (the shorter length) and 8-byte aligned (`u64` and `AtomicU64` slices). Its stores
        // into `to` are single-copy atomic 64-bit stores, which is what every other access to
        // `to` is (`AtomicU64`: relaxed stores, as the protocols ask of message words);
        // `from` is borrowed shared, so nothing writes it meanwhile.
        unsafe { copy_words(from.as_ptr(), to.as_ptr().cast::<u64>().cast_mut(), n) };
    }

    /// Loads `from` into `to`, each word one single-copy-atomic 64-bit load (a relaxed atomic
    /// load). Only loads from `from`, so it may be mapped read-only.
    #[inline(always)]
    pub(super) fn load_words(to: &mut [u64], from: &[AtomicU64]) {
        let n = to.len().min(from.len());
        // SAFETY: as in `store_words`, the roles swapped: the loads from `from` are
        // single-copy atomic 64-bit loads (loads only, so valid on read-only memory), and `to`
        // is borrowed exclusively and valid for `n` words.
        unsafe { copy_words(from.as_ptr().cast::<u64>(), to.as_mut_ptr(), n) };
    }

    /// Copies `n` 64-bit words from `from` to `to` with Advanced SIMD loads and stores of
    /// 64-bit elements: `LD1`/`ST1` of four 128-bit registers move 64 bytes in two
    /// instructions, where word-by-word atomics take sixteen (LLVM never merges atomic
    /// accesses). Each 64-bit element of an `LD1`/`ST1` (multiple structures, `.2D`) at an
    /// 8-byte-aligned address is a single-copy atomic access of 64 bits (Arm ARM B2.2.1), as a
    /// relaxed `AtomicU64` access is, and needs only 8-byte alignment, so it is also valid on
    /// Device memory (a partition with its MMU off). Uses `v0`-`v3`, which every caller saves
    /// anyway (AAPCS64: caller-saved).
    ///
    /// # Safety
    ///
    /// `from` is valid for reads and `to` for writes of `n` 8-byte-aligned words, the two do
    /// not overlap, and every concurrent access to either is a 64-bit single-copy atomic
    /// access.
    #[inline(always)]
    unsafe fn copy_words(from: *const u64, to: *mut u64, n: usize) {
        // SAFETY: the caller guarantees both ranges; the assembly accesses exactly words
        // `0..n` of each, moving forward, uses no stack, and clobbers only what it declares.
        unsafe {
            core::arch::asm!(
                "cbz {blocks}, 2f",
                // 8 words per turn.
                "1:",
                "ld1 {{v0.2d, v1.2d, v2.2d, v3.2d}}, [{from}], #64",
                "st1 {{v0.2d, v1.2d, v2.2d, v3.2d}}, [{to}], #64",
                "subs {blocks}, {blocks}, #1",
                "b.ne 1b",
                // Then 4, 2 and 1 words, as bits 2, 1 and 0 of `n` say.
                "2:",
                "tst {n}, #7",
                "b.eq 5f",
                "tbz {n}, #2, 3f",
                "ld1 {{v0.2d, v1.2d}}, [{from}], #32",
                "st1 {{v0.2d, v1.2d}}, [{to}], #32",
                "3:",
                "tbz {n}, #1, 4f",
                "ld1 {{v0.2d}}, [{from}], #16",
                "st1 {{v0.2d}}, [{to}], #16",
                "4:",
                "tbz {n}, #0, 5f",
                "ld1 {{v0.1d}}, [{from}]",
                "st1 {{v0.1d}}, [{to}]",
                "5:",
                blocks = inout(reg) n / 8 => _,
                n = in(reg) n,
                from = inout(reg) from => _,
                to = inout(reg) to => _,
                out("v0") _,
                out("v1") _,
                out("v2") _,
                out("v3") _,
                options(nostack),
            );
        }
    }
}

/// Whole message words between a caller's aligned buffer and a channel buffer, word by word.
#[cfg(not(all(
    target_arch = "aarch64",
    target_endian = "little",
    target_feature = "neon"
)))]
mod word_copy {
    use core::sync::atomic::{AtomicU64, Ordering};

    /// Stores `from` into `to`, each word one relaxed atomic store.
    #[inline(always)]
    pub(super) fn store_words(to: &[AtomicU64], from: &[u64]) {
        for (word, value) in to.iter().zip(from) {
            word.store(u64::from_le(*value), Ordering::Relaxed);
        }
    }

    /// Loads `from` into `to`, each word one relaxed atomic load.
    #[inline(always)]
    pub(super) fn load_words(to: &mut [u64], from: &[AtomicU64]) {
        for (value, word) in to.iter_mut().zip(from) {
            *value = u64::to_le(word.load(Ordering::Relaxed));
        }
    }
}

/// `bytes` as whole 64-bit words and the bytes after them, if it starts at an 8-byte-aligned
/// address.
#[inline(always)]
fn as_words(bytes: &[u8]) -> Option<(&[u64], &[u8])> {
    if !bytes.as_ptr().addr().is_multiple_of(align_of::<u64>()) {
        return None;
    }
    let (chunks, tail) = bytes.as_chunks::<8>();
    // SAFETY: `chunks` is `chunks.len() * 8` initialised bytes borrowed from `bytes` at an
    // address checked above to be aligned for `u64`, whose size is 8 and for which every
    // bit pattern is valid; the result borrows `bytes` for as long.
    let whole = unsafe { core::slice::from_raw_parts(chunks.as_ptr().cast::<u64>(), chunks.len()) };
    Some((whole, tail))
}

/// [`as_words`] for a buffer to write.
#[inline(always)]
fn as_words_mut(bytes: &mut [u8]) -> Option<(&mut [u64], &mut [u8])> {
    if !bytes.as_ptr().addr().is_multiple_of(align_of::<u64>()) {
        return None;
    }
    let (chunks, tail) = bytes.as_chunks_mut::<8>();
    // SAFETY: as in `as_words`; `chunks` is borrowed mutably and exclusively from `bytes`, and
    // every `u64` written through the result is 8 valid bytes.
    let whole =
        unsafe { core::slice::from_raw_parts_mut(chunks.as_mut_ptr().cast::<u64>(), chunks.len()) };
    Some((whole, tail))
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
        /// 8-byte aligned, so offset 0 takes the aligned path and 1..8 the other.
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
                    for view in [&own as &dyn SharedWords, &peer] {
                        let mut out = Aligned([0xEE; 48]);
                        view.load_bytes(1, &mut out.0[out_start..out_start + len]);
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
        for view in [&own as &dyn SharedWords, &peer] {
            let part = view.part(1, 3).unwrap();
            assert_eq!(part.len_words(), 3);
            assert_eq!(part.load(0, Ordering::Acquire), 1);
            assert_eq!(part.load(2, Ordering::Relaxed), 3);
            assert_eq!(part.load(3, Ordering::Relaxed), 0, "past the part");
            assert!(view.part(5, 0).is_some());
            assert!(view.part(3, 3).is_none());
            assert!(view.part(usize::MAX, 2).is_none());
        }
        let part = own.part_mut(2, 2).unwrap();
        part.store(1, 30, Ordering::Release);
        part.store(2, 99, Ordering::Relaxed);
        assert_eq!(own.load(3, Ordering::Relaxed), 30);
        assert_eq!(own.load(4, Ordering::Relaxed), 4, "past the part");
        assert!(own.part_mut(4, 2).is_none());
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
