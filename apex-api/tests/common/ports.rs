//! Test buffers for the port protocols: like the real ones, but any access outside the buffer
//! fails the test (the protocols promise never to make one), and the test can write into a
//! peer's buffer behind the victim's back.

#![allow(dead_code)] // Each test crate uses part of this module.

use std::sync::atomic::{AtomicU64, Ordering, fence};

use apex_api::ports::{OwnBuffer, PeerBuffer, SharedWords, SharedWordsMut};

/// Backing words of one buffer, all zero like a freshly booted module's.
pub fn zeroed(words: usize) -> Vec<AtomicU64> {
    (0..words).map(|_| AtomicU64::new(0)).collect()
}

/// The words of a buffer, for assertions.
pub fn snapshot(words: &[AtomicU64]) -> Vec<u64> {
    words.iter().map(|w| w.load(Ordering::Relaxed)).collect()
}

/// A read-write view that fails the test on an out-of-range index (its parts are checked
/// views of their words alone).
#[derive(Clone, Debug)]
pub struct Own<'a>(pub &'a [AtomicU64]);

/// A read-only view that fails the test on an out-of-range index (and has no `store`).
#[derive(Clone, Debug)]
pub struct Peer<'a>(pub &'a [AtomicU64]);

fn word(words: &[AtomicU64], index: usize) -> &AtomicU64 {
    match words.get(index) {
        Some(w) => w,
        None => panic!(
            "access to word {index} of a buffer of {} words",
            words.len()
        ),
    }
}

/// Words `first..first + len` of `words`, if it holds them all.
fn sub(words: &[AtomicU64], first: usize, len: usize) -> Option<&[AtomicU64]> {
    words.get(first..first.checked_add(len)?)
}

impl<'a> SharedWords for Own<'a> {
    type Part = Own<'a>;
    type Fixed<const N: usize> = Own<'a>;
    fn part(&self, first: usize, len: usize) -> Option<Own<'a>> {
        sub(self.0, first, len).map(Own)
    }
    fn fixed<const N: usize>(&self, first: usize) -> Option<Own<'a>> {
        self.part(first, N)
    }
    fn len_words(&self) -> usize {
        self.0.len()
    }
    fn load(&self, index: usize, order: Ordering) -> u64 {
        word(self.0, index).load(order)
    }
    fn fence(&self, order: Ordering) {
        fence(order);
    }
}

impl<'a> SharedWordsMut for Own<'a> {
    type PartMut = Own<'a>;
    type FixedMut<const N: usize> = Own<'a>;
    fn part_mut(&self, first: usize, len: usize) -> Option<Own<'a>> {
        self.part(first, len)
    }
    fn fixed_mut<const N: usize>(&self, first: usize) -> Option<Own<'a>> {
        self.part(first, N)
    }
    fn store(&self, index: usize, value: u64, order: Ordering) {
        word(self.0, index).store(value, order);
    }
}

impl<'a> SharedWords for Peer<'a> {
    type Part = Peer<'a>;
    type Fixed<const N: usize> = Peer<'a>;
    fn part(&self, first: usize, len: usize) -> Option<Peer<'a>> {
        sub(self.0, first, len).map(Peer)
    }
    fn fixed<const N: usize>(&self, first: usize) -> Option<Peer<'a>> {
        self.part(first, N)
    }
    fn len_words(&self) -> usize {
        self.0.len()
    }
    fn load(&self, index: usize, order: Ordering) -> u64 {
        word(self.0, index).load(order)
    }
    fn fence(&self, order: Ordering) {
        fence(order);
    }
}

/// Which buffers a test runs the protocols over: the checked test buffers above (every access
/// goes through `load` and `store`, and one outside the buffer or the part fails the test),
/// or the real ones (the protocols' fast path: copies by SIMD on AArch64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffers {
    Checked,
    Real,
}

impl Buffers {
    pub const BOTH: [Buffers; 2] = [Buffers::Checked, Buffers::Real];

    /// A read-write view of `words`.
    pub fn own(self, words: &[AtomicU64]) -> OwnView<'_> {
        match self {
            Self::Checked => OwnView::Checked(Own(words)),
            Self::Real => OwnView::Real(OwnBuffer::new(words)),
        }
    }

    /// A read-only view of `words`.
    pub fn peer(self, words: &[AtomicU64]) -> PeerView<'_> {
        match self {
            Self::Checked => PeerView::Checked(Peer(words)),
            Self::Real => PeerView::Real(PeerBuffer::new(words)),
        }
    }
}

/// [`Buffers::own`].
#[derive(Clone, Debug)]
pub enum OwnView<'a> {
    Checked(Own<'a>),
    Real(OwnBuffer<'a>),
}

/// [`Buffers::peer`].
#[derive(Clone, Debug)]
pub enum PeerView<'a> {
    Checked(Peer<'a>),
    Real(PeerBuffer<'a>),
}

macro_rules! forward {
    ($self:ident, $view:ident => $call:expr) => {
        match $self {
            Self::Checked($view) => $call,
            Self::Real($view) => $call,
        }
    };
}

impl<'a> SharedWords for OwnView<'a> {
    type Part = OwnView<'a>;
    type Fixed<const N: usize> = OwnView<'a>;
    fn fixed<const N: usize>(&self, first: usize) -> Option<OwnView<'a>> {
        self.part(first, N)
    }
    fn load_pair(&self, index: usize) -> (u64, u64) {
        forward!(self, v => v.load_pair(index))
    }
    fn len_words(&self) -> usize {
        forward!(self, v => v.len_words())
    }
    fn load(&self, index: usize, order: Ordering) -> u64 {
        forward!(self, v => v.load(index, order))
    }
    fn fence(&self, order: Ordering) {
        forward!(self, v => v.fence(order))
    }
    fn load_bytes(&self, first: usize, out: &mut [u8]) {
        forward!(self, v => v.load_bytes(first, out))
    }
    fn part(&self, first: usize, len: usize) -> Option<OwnView<'a>> {
        match self {
            Self::Checked(v) => v.part(first, len).map(Self::Checked),
            Self::Real(v) => v.part(first, len).map(Self::Real),
        }
    }
}

impl<'a> SharedWordsMut for OwnView<'a> {
    type PartMut = OwnView<'a>;
    type FixedMut<const N: usize> = OwnView<'a>;
    fn fixed_mut<const N: usize>(&self, first: usize) -> Option<OwnView<'a>> {
        self.part(first, N)
    }
    fn store_pair(&self, index: usize, pair: (u64, u64)) {
        forward!(self, v => v.store_pair(index, pair))
    }
    fn store(&self, index: usize, value: u64, order: Ordering) {
        forward!(self, v => v.store(index, value, order))
    }
    fn store_bytes(&self, first: usize, bytes: &[u8]) {
        forward!(self, v => v.store_bytes(first, bytes))
    }
    fn part_mut(&self, first: usize, len: usize) -> Option<OwnView<'a>> {
        self.part(first, len)
    }
}

impl<'a> SharedWords for PeerView<'a> {
    type Part = PeerView<'a>;
    type Fixed<const N: usize> = PeerView<'a>;
    fn fixed<const N: usize>(&self, first: usize) -> Option<PeerView<'a>> {
        self.part(first, N)
    }
    fn load_pair(&self, index: usize) -> (u64, u64) {
        forward!(self, v => v.load_pair(index))
    }
    fn len_words(&self) -> usize {
        forward!(self, v => v.len_words())
    }
    fn load(&self, index: usize, order: Ordering) -> u64 {
        forward!(self, v => v.load(index, order))
    }
    fn fence(&self, order: Ordering) {
        forward!(self, v => v.fence(order))
    }
    fn load_bytes(&self, first: usize, out: &mut [u8]) {
        forward!(self, v => v.load_bytes(first, out))
    }
    fn part(&self, first: usize, len: usize) -> Option<PeerView<'a>> {
        match self {
            Self::Checked(v) => v.part(first, len).map(Self::Checked),
            Self::Real(v) => v.part(first, len).map(Self::Real),
        }
    }
}

/// A message of `len` bytes that says which message it is.
pub fn message(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| tag.wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

/// The message bytes stored from word `first` on, as the layout defines them.
pub fn bytes_at(words: &[AtomicU64], first: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut index = first;
    while out.len() < len {
        let word = words[index].load(Ordering::Relaxed).to_le_bytes();
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&word[..take]);
        index += 1;
    }
    out
}
