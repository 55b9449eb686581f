//! Sampling port protocol: one writer, any number of readers, a double-buffered sequence lock
//! (the layout and the algorithms are specified in the [`ports`](super) module documentation).
#![forbid(unsafe_code)]

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::words::{SharedWords, SharedWordsMut, words_for};
use super::{ConfigError, check_message_size};
use crate::ReturnCode;

/// Word 0 of the region: twice the number of completely written messages, plus one while the
/// writer is writing the next.
pub const SEQUENCE: usize = 0;
/// Word where slot 0 starts; slot `k` starts at `SLOTS + k * (SLOT_HEADER + message words)`.
pub const SLOTS: usize = 1;
/// Offset in a slot of the message length in bytes (1 to the port's maximum).
pub const SLOT_LENGTH: usize = 0;
/// Offset in a slot of the writer's timestamp (system counter ticks).
pub const SLOT_TIMESTAMP: usize = 1;
/// Offset in a slot of the first message word; words in a slot before the message.
pub const SLOT_HEADER: usize = 2;
// The header is one pair of words, length then timestamp (`store_pair`, `load_pair`).
const _: () = assert!(SLOT_LENGTH == 0 && SLOT_TIMESTAMP == 1 && SLOT_HEADER == 2);
/// How many times a reader starts again when the writer overwrote the slot it was reading
/// before it gives up with [`ReadError::Unstable`].
pub const READ_ATTEMPTS: u32 = 8;

/// Words of a sampling region for messages of up to `max_message_size` bytes.
#[inline]
pub const fn region_words(max_message_size: usize) -> usize {
    SLOTS + 2 * (SLOT_HEADER + words_for(max_message_size))
}

/// Why a message was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The message is empty. ARINC 653: `INVALID_PARAM`.
    ZeroLength,
    /// The message is longer than the port's maximum. ARINC 653: `INVALID_CONFIG`.
    TooLong,
}

impl WriteError {
    /// The ARINC 653 return code of `WRITE_SAMPLING_MESSAGE` for this error.
    pub const fn return_code(self) -> ReturnCode {
        match self {
            Self::ZeroLength => ReturnCode::InvalidParam,
            Self::TooLong => ReturnCode::InvalidConfig,
        }
    }
}

/// Why no message was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// No message was ever completely written. ARINC 653: `NOT_AVAILABLE` (length 0).
    Empty,
    /// The caller's buffer is shorter than the port's maximum message size.
    /// ARINC 653: `INVALID_PARAM`.
    BufferTooSmall,
    /// The writer overwrote the slot being read [`READ_ATTEMPTS`] times in a row (only a
    /// writer writing faster than any real one, or a hostile one, does that).
    /// ARINC 653: `NOT_AVAILABLE`.
    Unstable,
    /// The region holds what no correct writer writes: a length of 0 or above the port's
    /// maximum, or a timestamp after `now`. ARINC 653: `NOT_AVAILABLE` (no valid message); the
    /// caller should also report it to the health monitor.
    Corrupt,
}

impl ReadError {
    /// The ARINC 653 return code of `READ_SAMPLING_MESSAGE` for this error.
    pub const fn return_code(self) -> ReturnCode {
        match self {
            Self::Empty | Self::Unstable | Self::Corrupt => ReturnCode::NotAvailable,
            Self::BufferTooSmall => ReturnCode::InvalidParam,
        }
    }
}

/// ARINC 653 `VALIDITY_TYPE` of a sampling message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Its age is at most the port's refresh period.
    Valid,
    /// It is older than the port's refresh period.
    Invalid,
}

/// A message read (or looked at) successfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Its length in bytes, 1 to the port's maximum; exactly these bytes were copied.
    pub length: usize,
    /// When the writer wrote it (its own counter value, passed to [`SamplingWriter::write`]).
    pub timestamp: u64,
    /// `now - timestamp`, in the same unit.
    pub age: u64,
    /// `Valid` if `age <= refresh_period`.
    pub validity: Validity,
}

/// The words of a sampling region a side uses, taken as parts ([`SharedWords::part`]) once,
/// when the side is created, so that a call only chooses a slot: the sequence word and the
/// slots' headers as parts of a length known at compile time ([`SharedWords::fixed`]), so
/// their accesses need no range check, and the slots' message words.
#[derive(Clone, Debug)]
struct Parts<Q, H, M> {
    /// Word [`SEQUENCE`], alone.
    sequence: Q,
    /// Slot 0 and slot 1.
    slots: [Slot<H, M>; 2],
}

/// The parts of one slot. Aligned to 32 bytes, so that for the real buffers (a pointer, and a
/// pointer and a length) choosing a slot is one shifted add.
#[derive(Clone, Debug)]
#[repr(align(32))]
struct Slot<H, M> {
    /// Its header ([`SLOT_HEADER`] words).
    header: H,
    /// Its message words, as many as the largest message takes.
    words: M,
}

impl<Q, H, M> Parts<Q, H, M> {
    /// The parts of a region of `region_len` words for messages of up to `max_message_size`
    /// bytes, taken by `sequence(first)`, `header(first)` and `message(first, len)`; and the
    /// maximum as a `u32` (at most `MAX_MESSAGE_SIZE`, checked here), so that the compiler
    /// knows arithmetic on it never overflows.
    fn new(
        region_len: usize,
        max_message_size: usize,
        sequence: impl Fn(usize) -> Option<Q>,
        header: impl Fn(usize) -> Option<H>,
        message: impl Fn(usize, usize) -> Option<M>,
    ) -> Result<(Self, u32), ConfigError> {
        check_message_size(max_message_size)?;
        if region_len < region_words(max_message_size) {
            return Err(ConfigError::RegionTooSmall);
        }
        let size = u32::try_from(max_message_size).map_err(|_| ConfigError::MessageSize)?;
        let message_words = words_for(max_message_size);
        let slot = |k: usize| SLOTS + k * (SLOT_HEADER + message_words);
        // Inside the region: checked just above.
        let parts = (|| {
            Some(Self {
                sequence: sequence(SEQUENCE)?,
                slots: [
                    Slot {
                        header: header(slot(0))?,
                        words: message(slot(0) + SLOT_HEADER, message_words)?,
                    },
                    Slot {
                        header: header(slot(1))?,
                        words: message(slot(1) + SLOT_HEADER, message_words)?,
                    },
                ],
            })
        })()
        .ok_or(ConfigError::RegionTooSmall)?;
        Ok((parts, size))
    }
}

impl<Q: Clone, H: Clone, M: Clone> Parts<Q, H, M> {
    /// Copies of the sequence word's part and of the header and message parts of the slot of
    /// message number `m` (counting from 1; slot 0 for even numbers). Copies, because for real
    /// buffers they are a pointer (and a length) in registers, which the compiler would
    /// otherwise load again after every store into shared memory.
    #[inline(always)]
    fn for_message(&self, m: u64) -> (Q, H, M) {
        let slot = &self.slots[(m % 2) as usize];
        (
            self.sequence.clone(),
            slot.header.clone(),
            slot.words.clone(),
        )
    }
}

/// The parts a writer over `W` holds.
type WriterParts<W> = Parts<
    <W as SharedWordsMut>::FixedMut<1>,
    <W as SharedWordsMut>::FixedMut<SLOT_HEADER>,
    <W as SharedWordsMut>::PartMut,
>;

/// The parts a reader over `R` holds.
type ReaderParts<R> = Parts<
    <R as SharedWords>::Fixed<1>,
    <R as SharedWords>::Fixed<SLOT_HEADER>,
    <R as SharedWords>::Part,
>;

/// The writer (source) of a sampling channel, over its own region.
pub struct SamplingWriter<W: SharedWordsMut> {
    parts: WriterParts<W>,
    max_message_size: u32,
    /// Even: twice the number of messages completely written.
    sequence: u64,
}

impl<W: SharedWordsMut> core::fmt::Debug for SamplingWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SamplingWriter")
            .field("max_message_size", &self.max_message_size)
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl<W: SharedWordsMut> SamplingWriter<W> {
    /// A writer for messages of up to `max_message_size` bytes over `region`. It continues
    /// from the sequence the region holds (all zero the first time): a writer restarted in the
    /// middle of a write writes that message again, into the same slot.
    pub fn new(region: W, max_message_size: usize) -> Result<Self, ConfigError> {
        let (parts, max_message_size) = Parts::new(
            region.len_words(),
            max_message_size,
            |first| region.fixed_mut(first),
            |first| region.fixed_mut(first),
            |first, len| region.part_mut(first, len),
        )?;
        let mut sequence = parts.sequence.load(0, Relaxed) & !1;
        if sequence == u64::MAX - 1 {
            // Only a region the writer itself corrupted gets here (2^63 messages never do):
            // continuing would wrap to 0, "empty". Message 2 goes to slot 0, and the current
            // message (number 2^63 - 1) is in slot 1, so no slot a reader uses is overwritten.
            sequence = 2;
        }
        Ok(Self {
            parts,
            max_message_size,
            sequence,
        })
    }

    /// WRITE_SAMPLING_MESSAGE: publishes `message`, written at `timestamp` (the caller's
    /// system counter value), as the port's current message. Never blocks.
    #[inline(always)]
    pub fn write(&mut self, message: &[u8], timestamp: u64) -> Result<(), WriteError> {
        if message.is_empty() {
            return Err(WriteError::ZeroLength);
        }
        if message.len() > self.max_message_size as usize {
            return Err(WriteError::TooLong);
        }
        let next = self.sequence.wrapping_add(2);
        // Message number `next / 2` goes to slot `(next / 2) % 2`, not the one readers use now.
        let (sequence_word, header, words) = self.parts.for_message(next / 2);
        // Release: a reader that sees the odd value also sees the previous message complete.
        sequence_word.store(0, self.sequence | 1, Release);
        // Orders the odd sequence before the slot's words: a reader that sees any of them
        // afterwards also sees the sequence at least this odd value.
        sequence_word.fence(Release);
        // Relaxed, both (one `STP` over the real buffers): length, then timestamp.
        header.store_pair(SLOT_LENGTH, (message.len() as u64, timestamp));
        words.store_bytes(0, message);
        sequence_word.store(0, next, Release);
        self.sequence = next;
        Ok(())
    }

    /// The port's maximum message size in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size as usize
    }
}

/// A reader (destination) of a sampling channel, over the writer's region mapped read-only.
pub struct SamplingReader<R: SharedWords> {
    parts: ReaderParts<R>,
    max_message_size: u32,
    refresh_period: u64,
}

impl<R: SharedWords> core::fmt::Debug for SamplingReader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SamplingReader")
            .field("max_message_size", &self.max_message_size)
            .field("refresh_period", &self.refresh_period)
            .finish_non_exhaustive()
    }
}

impl<R: SharedWords> SamplingReader<R> {
    /// A reader of messages of up to `max_message_size` bytes, valid for `refresh_period`
    /// (in the unit of the writer's timestamps) after they were written.
    pub fn new(
        region: R,
        max_message_size: usize,
        refresh_period: u64,
    ) -> Result<Self, ConfigError> {
        let (parts, max_message_size) = Parts::new(
            region.len_words(),
            max_message_size,
            |first| region.fixed(first),
            |first| region.fixed(first),
            |first, len| region.part(first, len),
        )?;
        Ok(Self {
            parts,
            max_message_size,
            refresh_period,
        })
    }

    /// READ_SAMPLING_MESSAGE: copies the current message into the start of `buffer` (which
    /// must hold the port's maximum message size) and returns its length, age and validity.
    /// `now` is called once, after the message was read; it returns the caller's system
    /// counter (read so that it is not reordered before the message's loads: on AArch64 an
    /// `ISB` before reading `CNTVCT_EL0`). On an error, `buffer` may have been written.
    #[inline(always)]
    pub fn read(&self, buffer: &mut [u8], now: impl FnOnce() -> u64) -> Result<Sample, ReadError> {
        // Exactly the maximum: the compiler then knows that a length checked against it fits.
        let max = self.max_message_size;
        let Some(buffer) = buffer.get_mut(..max as usize) else {
            return Err(ReadError::BufferTooSmall);
        };
        let (length, timestamp) = self.snapshot(Some(buffer), max)?;
        self.sample(length, timestamp, now())
    }

    /// The current message's length, age and validity without copying it (for
    /// GET_SAMPLING_PORT_STATUS's LAST_MSG_VALIDITY).
    pub fn peek(&self, now: impl FnOnce() -> u64) -> Result<Sample, ReadError> {
        let (length, timestamp) = self.snapshot(None, self.max_message_size)?;
        self.sample(length, timestamp, now())
    }

    /// The port's maximum message size in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size as usize
    }

    /// The port's refresh period.
    pub fn refresh_period(&self) -> u64 {
        self.refresh_period
    }

    /// A consistent (length, timestamp) of the current message, its bytes copied into `out`
    /// (`max` is the port's maximum message size).
    #[inline(always)]
    fn snapshot(&self, mut out: Option<&mut [u8]>, max: u32) -> Result<(usize, u64), ReadError> {
        match self.attempt(out.as_deref_mut(), max) {
            Some(result) => result,
            None => self.retry(out, max),
        }
    }

    /// [`snapshot`](Self::snapshot) after a first attempt found its slot overwritten: the
    /// other attempts, out of the way of the usual path.
    #[cold]
    #[inline(never)]
    fn retry(&self, mut out: Option<&mut [u8]>, max: u32) -> Result<(usize, u64), ReadError> {
        for _ in 1..READ_ATTEMPTS {
            core::hint::spin_loop();
            if let Some(result) = self.attempt(out.as_deref_mut(), max) {
                return result;
            }
        }
        Err(ReadError::Unstable)
    }

    /// One attempt at a snapshot: its result, or `None` if the writer overwrote the slot
    /// while it was read.
    #[inline(always)]
    fn attempt(&self, out: Option<&mut [u8]>, max: u32) -> Option<Result<(usize, u64), ReadError>> {
        let sequence_word = self.parts.sequence.clone();
        let first = sequence_word.load(0, Acquire);
        let complete = first >> 1;
        if complete == 0 {
            return Some(Err(ReadError::Empty));
        }
        let (_, header, words) = self.parts.for_message(complete);
        let read = read_slot(&header, &words, max, out);
        // Orders the loads above before the check: if any of them saw a later write into
        // this slot, the sequence below is at least that write's odd value.
        sequence_word.fence(Acquire);
        let last = sequence_word.load(0, Relaxed);
        // The slot is overwritten from sequence 2 * complete + 3 on.
        if last.wrapping_sub(first & !1) <= 2 {
            Some(read.ok_or(ReadError::Corrupt))
        } else {
            None
        }
    }

    #[inline(always)]
    fn sample(&self, length: usize, timestamp: u64, now: u64) -> Result<Sample, ReadError> {
        let Some(age) = now.checked_sub(timestamp) else {
            return Err(ReadError::Corrupt);
        };
        let validity = if age <= self.refresh_period {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        Ok(Sample {
            length,
            timestamp,
            age,
            validity,
        })
    }
}

/// Loads the length and timestamp of a message from its slot's `header` and, if the length
/// is valid, copies that many bytes of its message `words` into `out`: the length and the
/// timestamp, or `None` for a length outside `1..=max_message_size`. Whether they are
/// consistent is for the caller to check.
#[inline(always)]
fn read_slot<H: SharedWords, M: SharedWords>(
    header: &H,
    words: &M,
    max_message_size: u32,
    out: Option<&mut [u8]>,
) -> Option<(usize, u64)> {
    // Relaxed, both (one `LDP` over the real buffers): length, then timestamp.
    let (length, timestamp) = header.load_pair(SLOT_LENGTH);
    if length == 0 || length > u64::from(max_message_size) {
        return None;
    }
    let length = length as usize;
    // `length <= max_message_size <= out.len()`, and the slot holds that many.
    if let Some(out) = out.and_then(|out| out.get_mut(..length)) {
        words.load_bytes(0, out);
    }
    Some((length, timestamp))
}
