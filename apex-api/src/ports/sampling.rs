//! Sampling port protocol: one writer, any number of readers, a double-buffered sequence lock
//! (the layout and the algorithms are specified in the [`ports`](super) module documentation).
#![forbid(unsafe_code)]

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::words::{At, SharedWords, SharedWordsMut, words_for};
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

/// The sizes of a sampling region, checked against the region when a side is created.
/// `u32`, so that the compiler knows the index arithmetic on them never overflows.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    max_message_size: u32,
    /// Message words of a slot (`W`).
    message_words: u32,
}

impl Geometry {
    fn new(region_len: usize, max_message_size: usize) -> Result<Self, ConfigError> {
        check_message_size(max_message_size)?;
        if region_len < region_words(max_message_size) {
            return Err(ConfigError::RegionTooSmall);
        }
        // At most `MAX_MESSAGE_SIZE` (checked above), so both fit.
        let size = u32::try_from(max_message_size).map_err(|_| ConfigError::MessageSize)?;
        Ok(Self {
            max_message_size: size,
            message_words: size.div_ceil(8),
        })
    }

    #[inline]
    fn max_message_size(self) -> usize {
        self.max_message_size as usize
    }

    /// Words of a slot: its header and its message words.
    #[inline]
    fn slot_words(self) -> usize {
        SLOT_HEADER + self.message_words as usize
    }

    /// First word of the slot of message number `m` (counting from 1).
    #[inline]
    fn slot_of(self, m: u64) -> usize {
        if m & 1 == 0 {
            SLOTS
        } else {
            SLOTS + self.slot_words()
        }
    }
}

/// The writer (source) of a sampling channel, over its own region.
#[derive(Debug)]
pub struct SamplingWriter<W> {
    region: W,
    geometry: Geometry,
    /// Even: twice the number of messages completely written.
    sequence: u64,
}

impl<W: SharedWordsMut> SamplingWriter<W> {
    /// A writer for messages of up to `max_message_size` bytes over `region`. It continues
    /// from the sequence the region holds (all zero the first time): a writer restarted in the
    /// middle of a write writes that message again, into the same slot.
    pub fn new(region: W, max_message_size: usize) -> Result<Self, ConfigError> {
        let geometry = Geometry::new(region.len_words(), max_message_size)?;
        let mut sequence = region.load(SEQUENCE, Relaxed) & !1;
        if sequence == u64::MAX - 1 {
            // Only a region the writer itself corrupted gets here (2^63 messages never do):
            // continuing would wrap to 0, "empty". Message 2 goes to slot 0, and the current
            // message (number 2^63 - 1) is in slot 1, so no slot a reader uses is overwritten.
            sequence = 2;
        }
        Ok(Self {
            region,
            geometry,
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
        if message.len() > self.geometry.max_message_size() {
            return Err(WriteError::TooLong);
        }
        let next = self.sequence.wrapping_add(2);
        // Message number `next / 2` goes to slot `(next / 2) % 2`, not the one readers use now.
        let slot = self.geometry.slot_of(next / 2);
        let words = self.geometry.slot_words();
        match self.region.part_mut(slot, words) {
            Some(part) => write_message(&self.region, &part, self.sequence, message, timestamp),
            None => write_message(
                &self.region,
                &At::new(&self.region, slot),
                self.sequence,
                message,
                timestamp,
            ),
        }
        self.sequence = next;
        Ok(())
    }

    /// The port's maximum message size in bytes.
    pub fn max_message_size(&self) -> usize {
        self.geometry.max_message_size()
    }
}

/// Writes message `sequence / 2 + 1` into `slot` (the words of its slot, its header first) of
/// `region` (whose word [`SEQUENCE`] holds `sequence`, even).
#[inline(always)]
fn write_message<W: SharedWordsMut, S: SharedWordsMut>(
    region: &W,
    slot: &S,
    sequence: u64,
    message: &[u8],
    timestamp: u64,
) {
    // Release: a reader that sees the odd value also sees the previous message complete.
    region.store(SEQUENCE, sequence | 1, Release);
    // Orders the odd sequence before the slot's words: a reader that sees any of them
    // afterwards also sees the sequence at least this odd value.
    region.fence(Release);
    slot.store(SLOT_LENGTH, message.len() as u64, Relaxed);
    slot.store(SLOT_TIMESTAMP, timestamp, Relaxed);
    slot.store_bytes(SLOT_HEADER, message);
    region.store(SEQUENCE, sequence.wrapping_add(2), Release);
}

/// A reader (destination) of a sampling channel, over the writer's region mapped read-only.
#[derive(Debug)]
pub struct SamplingReader<R> {
    region: R,
    geometry: Geometry,
    refresh_period: u64,
}

impl<R: SharedWords> SamplingReader<R> {
    /// A reader of messages of up to `max_message_size` bytes, valid for `refresh_period`
    /// (in the unit of the writer's timestamps) after they were written.
    pub fn new(
        region: R,
        max_message_size: usize,
        refresh_period: u64,
    ) -> Result<Self, ConfigError> {
        let geometry = Geometry::new(region.len_words(), max_message_size)?;
        Ok(Self {
            region,
            geometry,
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
        if buffer.len() < self.geometry.max_message_size() {
            return Err(ReadError::BufferTooSmall);
        }
        let (length, timestamp) = self.snapshot(Some(buffer))?;
        self.sample(length, timestamp, now())
    }

    /// The current message's length, age and validity without copying it (for
    /// GET_SAMPLING_PORT_STATUS's LAST_MSG_VALIDITY).
    pub fn peek(&self, now: impl FnOnce() -> u64) -> Result<Sample, ReadError> {
        let (length, timestamp) = self.snapshot(None)?;
        self.sample(length, timestamp, now())
    }

    /// The port's maximum message size in bytes.
    pub fn max_message_size(&self) -> usize {
        self.geometry.max_message_size()
    }

    /// The port's refresh period.
    pub fn refresh_period(&self) -> u64 {
        self.refresh_period
    }

    /// A consistent (length, timestamp) of the current message, its bytes copied into `out`.
    #[inline(always)]
    fn snapshot(&self, mut out: Option<&mut [u8]>) -> Result<(usize, u64), ReadError> {
        match self.attempt(out.as_deref_mut()) {
            Some(result) => result,
            None => self.retry(out),
        }
    }

    /// [`snapshot`](Self::snapshot) after a first attempt found its slot overwritten: the
    /// other attempts, out of the way of the usual path.
    #[cold]
    #[inline(never)]
    fn retry(&self, mut out: Option<&mut [u8]>) -> Result<(usize, u64), ReadError> {
        for _ in 1..READ_ATTEMPTS {
            core::hint::spin_loop();
            if let Some(result) = self.attempt(out.as_deref_mut()) {
                return result;
            }
        }
        Err(ReadError::Unstable)
    }

    /// One attempt at a snapshot: its result, or `None` if the writer overwrote the slot
    /// while it was read.
    #[inline(always)]
    fn attempt(&self, out: Option<&mut [u8]>) -> Option<Result<(usize, u64), ReadError>> {
        let first = self.region.load(SEQUENCE, Acquire);
        let complete = first >> 1;
        if complete == 0 {
            return Some(Err(ReadError::Empty));
        }
        let slot = self.geometry.slot_of(complete);
        let read = match self.region.part(slot, self.geometry.slot_words()) {
            Some(part) => read_slot(&part, self.geometry, out),
            None => read_slot(&At::new(&self.region, slot), self.geometry, out),
        };
        // Orders the loads above before the check: if any of them saw a later write into
        // this slot, the sequence below is at least that write's odd value.
        self.region.fence(Acquire);
        let last = self.region.load(SEQUENCE, Relaxed);
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

/// Loads the length and timestamp of the message in `slot` (the words of its slot, its header
/// first) and, if the length is valid, copies that many bytes into `out`: the length and the
/// timestamp, or `None` for a length outside `1..=max_message_size`. Whether they are
/// consistent is for the caller to check.
#[inline(always)]
fn read_slot<S: SharedWords>(
    slot: &S,
    geometry: Geometry,
    out: Option<&mut [u8]>,
) -> Option<(usize, u64)> {
    let length = slot.load(SLOT_LENGTH, Relaxed);
    let timestamp = slot.load(SLOT_TIMESTAMP, Relaxed);
    if length == 0 || length > u64::from(geometry.max_message_size) {
        return None;
    }
    let length = length as usize;
    // `length <= max_message_size <= out.len()`, and the slot holds that many.
    if let Some(out) = out.and_then(|out| out.get_mut(..length)) {
        slot.load_bytes(SLOT_HEADER, out);
    }
    Some((length, timestamp))
}
