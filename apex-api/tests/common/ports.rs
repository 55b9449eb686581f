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

/// A read-write view that fails the test on an out-of-range index.
#[derive(Debug)]
pub struct Own<'a>(pub &'a [AtomicU64]);

/// A read-only view that fails the test on an out-of-range index (and has no `store`).
#[derive(Debug)]
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

impl SharedWords for Own<'_> {
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

impl SharedWordsMut for Own<'_> {
    fn store(&self, index: usize, value: u64, order: Ordering) {
        word(self.0, index).store(value, order);
    }
}

impl SharedWords for Peer<'_> {
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
/// goes through `load` and `store`, and one outside the buffer fails the test), or the real
/// ones, whose parts ([`SharedWords::part`]) take the protocols' fast path.
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
#[derive(Debug)]
pub enum OwnView<'a> {
    Checked(Own<'a>),
    Real(OwnBuffer<'a>),
}

/// [`Buffers::peer`].
#[derive(Debug)]
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

impl SharedWords for OwnView<'_> {
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
    fn part(&self, first: usize, len: usize) -> Option<PeerBuffer<'_>> {
        forward!(self, v => v.part(first, len))
    }
}

impl SharedWordsMut for OwnView<'_> {
    fn store(&self, index: usize, value: u64, order: Ordering) {
        forward!(self, v => v.store(index, value, order))
    }
    fn store_bytes(&self, first: usize, bytes: &[u8]) {
        forward!(self, v => v.store_bytes(first, bytes))
    }
    fn part_mut(&self, first: usize, len: usize) -> Option<OwnBuffer<'_>> {
        forward!(self, v => v.part_mut(first, len))
    }
}

impl SharedWords for PeerView<'_> {
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
    fn part(&self, first: usize, len: usize) -> Option<PeerBuffer<'_>> {
        forward!(self, v => v.part(first, len))
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
