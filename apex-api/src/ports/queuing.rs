//! Queuing port protocol: one sender, one receiver, a FIFO of fixed-size slots with counters
//! each side writes in its own buffer (specified in the [`ports`](super) module documentation).
#![forbid(unsafe_code)]

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use super::words::{At, SharedWords, SharedWordsMut, words_for};
use super::{ConfigError, MAX_QUEUE_DEPTH, check_message_size};
use crate::ReturnCode;

/// Data buffer word 0: messages sent so far.
pub const SENT: usize = 0;
/// Data buffer word 1: messages refused because the queue was full, so far.
pub const OVERFLOWS: usize = 1;
/// Data buffer word 2: non-zero while the sender may block until the queue has room (it
/// rings no doorbell of its own; the receiver reads it to know whether to ring the sender's).
pub const SENDER_WAITING: usize = 2;
/// Data buffer word where slot 0 starts; slot `k` starts at
/// `SLOTS + k * (SLOT_HEADER + message words)`.
pub const SLOTS: usize = 3;
/// Offset in a slot of the message length in bytes (1 to the port's maximum).
pub const SLOT_LENGTH: usize = 0;
/// Offset in a slot of the first message word; words in a slot before the message.
pub const SLOT_HEADER: usize = 1;
/// Acknowledge buffer word 0: messages received (or cleared) so far.
pub const RECEIVED: usize = 0;
/// Acknowledge buffer word 1: the value of [`OVERFLOWS`] the receiver last reported.
pub const OVERFLOWS_SEEN: usize = 1;
/// Acknowledge buffer word 2: non-zero while the receiver may block until a message comes.
pub const RECEIVER_WAITING: usize = 2;
/// Words of the acknowledge buffer.
pub const ACK_WORDS: usize = 3;

/// Words of a queuing data buffer for `max_messages` messages of up to `max_message_size`
/// bytes; `None` if that does not fit in `usize`.
#[inline]
pub const fn data_words(max_message_size: usize, max_messages: usize) -> Option<usize> {
    match (SLOT_HEADER + words_for(max_message_size)).checked_mul(max_messages) {
        Some(ring) => ring.checked_add(SLOTS),
        None => None,
    }
}

/// Why a message was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The message is empty. ARINC 653: `INVALID_PARAM`.
    ZeroLength,
    /// The message is longer than the port's maximum. ARINC 653: `INVALID_CONFIG`.
    TooLong,
    /// The queue holds `max_messages` messages. ARINC 653: `NOT_AVAILABLE` (with a zero
    /// timeout; `TIMED_OUT` when a blocking send gives up).
    Full,
    /// The receiver's acknowledge buffer claims more messages received than were sent.
    /// ARINC 653: `NOT_AVAILABLE` (nothing was sent); the caller should also report it to the
    /// health monitor.
    Corrupt,
}

impl SendError {
    /// The ARINC 653 return code of `SEND_QUEUING_MESSAGE` (zero timeout) for this error.
    pub const fn return_code(self) -> ReturnCode {
        match self {
            Self::ZeroLength => ReturnCode::InvalidParam,
            Self::TooLong => ReturnCode::InvalidConfig,
            Self::Full | Self::Corrupt => ReturnCode::NotAvailable,
        }
    }
}

/// Why no message was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveError {
    /// The queue is empty. ARINC 653: `NOT_AVAILABLE` (with a zero timeout; `TIMED_OUT`
    /// when a blocking receive gives up).
    Empty,
    /// The caller's buffer is shorter than the port's maximum message size.
    /// ARINC 653: `INVALID_PARAM`.
    BufferTooSmall,
    /// The sender's buffer holds what no correct sender writes: more messages in the queue than
    /// it has slots, or a slot length of 0 or above the maximum. Nothing is consumed (a
    /// CLEAR_QUEUING_PORT discards the queue). ARINC 653: `NOT_AVAILABLE`; the caller should
    /// also report it to the health monitor.
    Corrupt,
}

impl ReceiveError {
    /// The ARINC 653 return code of `RECEIVE_QUEUING_MESSAGE` (zero timeout) for this error.
    pub const fn return_code(self) -> ReturnCode {
        match self {
            Self::Empty | Self::Corrupt => ReturnCode::NotAvailable,
            Self::BufferTooSmall => ReturnCode::InvalidParam,
        }
    }
}

/// A message received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Its length in bytes, 1 to the port's maximum; exactly these bytes were copied.
    pub length: usize,
    /// The sender refused messages (queue full) since the last receive that said so.
    pub overflow: bool,
}

impl Received {
    /// The ARINC 653 return code of this successful receive: `INVALID_CONFIG` when an
    /// overflow is reported (the message is still returned), `NO_ERROR` otherwise.
    pub const fn return_code(self) -> ReturnCode {
        if self.overflow {
            ReturnCode::InvalidConfig
        } else {
            ReturnCode::NoError
        }
    }
}

/// What GET_QUEUING_PORT_STATUS reports of the queue itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueStatus {
    /// NB_MESSAGE: messages sent and not yet received.
    pub messages: usize,
    /// MAX_NB_MESSAGE.
    pub max_messages: usize,
    /// MAX_MESSAGE_SIZE.
    pub max_message_size: usize,
}

/// The sizes of a queue and where its slots are, checked against the buffers when a side is
/// created. `u32`, so that the compiler knows the index arithmetic on them never overflows.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    max_message_size: u32,
    max_messages: u32,
    /// Message words of a slot (`W`).
    message_words: u32,
}

impl Geometry {
    fn new(
        data_len: usize,
        ack_len: usize,
        max_message_size: usize,
        max_messages: usize,
    ) -> Result<Self, ConfigError> {
        check_message_size(max_message_size)?;
        if max_messages == 0 || max_messages as u64 > MAX_QUEUE_DEPTH {
            return Err(ConfigError::QueueDepth);
        }
        // Both are at most their limits (checked above), so they fit.
        let size = u32::try_from(max_message_size).map_err(|_| ConfigError::MessageSize)?;
        let depth = u32::try_from(max_messages).map_err(|_| ConfigError::QueueDepth)?;
        match data_words(max_message_size, max_messages) {
            Some(need) if data_len >= need && ack_len >= ACK_WORDS => Ok(Self {
                max_message_size: size,
                max_messages: depth,
                message_words: size.div_ceil(8),
            }),
            _ => Err(ConfigError::RegionTooSmall),
        }
    }

    #[inline]
    fn max_message_size(&self) -> usize {
        self.max_message_size as usize
    }

    #[inline]
    fn max_messages(&self) -> usize {
        self.max_messages as usize
    }

    /// Words of a slot: its header and its message words.
    #[inline]
    fn slot_words(&self) -> usize {
        SLOT_HEADER + self.message_words as usize
    }

    /// Messages in the queue given both counters, if that is possible at all.
    #[inline]
    fn in_queue(&self, sent: u64, received: u64) -> Option<usize> {
        let n = sent.wrapping_sub(received);
        if n <= u64::from(self.max_messages) {
            Some(n as usize)
        } else {
            None
        }
    }

    /// Slot index of message number `count` (counting from 0).
    fn slot_of(&self, count: u64) -> u32 {
        // Below `max_messages`, a `u32`.
        (count % u64::from(self.max_messages)) as u32
    }

    /// First word of slot `slot` (< max_messages), inside the data buffer.
    #[inline]
    fn slot_base(&self, slot: u32) -> usize {
        SLOTS + slot as usize * self.slot_words()
    }

    #[inline]
    fn next_slot(&self, slot: u32) -> u32 {
        if slot + 1 >= self.max_messages {
            0
        } else {
            slot + 1
        }
    }

    fn status(&self, messages: usize) -> QueueStatus {
        QueueStatus {
            messages,
            max_messages: self.max_messages(),
            max_message_size: self.max_message_size(),
        }
    }
}

/// The sender (source) of a queuing channel: its own data buffer and the receiver's
/// acknowledge buffer mapped read-only.
#[derive(Debug)]
pub struct QueuingSender<D, A> {
    data: D,
    ack: A,
    geometry: Geometry,
    sent: u64,
    overflows: u64,
    /// `sent % max_messages`.
    slot: u32,
}

impl<D: SharedWordsMut, A: SharedWords> QueuingSender<D, A> {
    /// A sender of up to `max_messages` queued messages of up to `max_message_size` bytes. It
    /// continues from the counters its data buffer holds (all zero the first time).
    pub fn new(
        data: D,
        ack: A,
        max_message_size: usize,
        max_messages: usize,
    ) -> Result<Self, ConfigError> {
        let geometry = Geometry::new(
            data.len_words(),
            ack.len_words(),
            max_message_size,
            max_messages,
        )?;
        let sent = data.load(SENT, Relaxed);
        let overflows = data.load(OVERFLOWS, Relaxed);
        // A sender that stopped while it waited (its partition restarted) waits no more.
        data.store(SENDER_WAITING, 0, Relaxed);
        Ok(Self {
            data,
            ack,
            geometry,
            sent,
            overflows,
            slot: geometry.slot_of(sent),
        })
    }

    /// SEND_QUEUING_MESSAGE with a zero timeout: queues `message`, or refuses it when the
    /// queue is full and counts an overflow, which the receiver's next receive reports.
    #[inline]
    pub fn send(&mut self, message: &[u8]) -> Result<(), SendError> {
        let result = self.try_send(message);
        if result == Err(SendError::Full) {
            self.overflows = self.overflows.wrapping_add(1);
            // Relaxed: the sent counter's next release store publishes it with the next message.
            self.data.store(OVERFLOWS, self.overflows, Relaxed);
        }
        result
    }

    /// Like [`send`](Self::send), but a full queue counts no overflow: for a blocking send
    /// that will wait for room and try again (if it times out, its last attempt is a `send`).
    #[inline(always)]
    pub fn try_send(&mut self, message: &[u8]) -> Result<(), SendError> {
        if message.is_empty() {
            return Err(SendError::ZeroLength);
        }
        if message.len() > self.geometry.max_message_size() {
            return Err(SendError::TooLong);
        }
        // Acquire: the receiver finished reading a slot before it acknowledged it, so the slot
        // may be overwritten.
        let received = self.ack.load(RECEIVED, Acquire);
        match self.geometry.in_queue(self.sent, received) {
            None => return Err(SendError::Corrupt),
            Some(n) if n == self.geometry.max_messages() => return Err(SendError::Full),
            Some(_) => {}
        }
        let base = self.geometry.slot_base(self.slot);
        match self.data.part_mut(base, self.geometry.slot_words()) {
            Some(slot) => fill_slot(&slot, message),
            None => fill_slot(&At::new(&self.data, base), message),
        }
        self.sent = self.sent.wrapping_add(1);
        // Release: the slot's words are visible to a receiver that sees the new count.
        self.data.store(SENT, self.sent, Release);
        self.slot = self.geometry.next_slot(self.slot);
        Ok(())
    }

    /// Whether the receiver said it may be blocked on an empty queue, so that the caller must
    /// ring its doorbell: asked after every message sent. A full fence first orders the
    /// send's count before this load, the mirror of [`QueuingReceiver::set_waiting`]: of a
    /// receiver about to block and a sender that just sent, at least one sees the other.
    /// A hostile receiver can only make its sender ring more doorbells, in its own time.
    #[inline]
    pub fn receiver_waiting(&self) -> bool {
        self.ack.fence(SeqCst);
        self.ack.load(RECEIVER_WAITING, Relaxed) != 0
    }

    /// Says whether this sender may block until the queue has room (`true` before it looks at
    /// the queue one last time and blocks; `false` once it stops waiting). Saying `true` is
    /// followed by a full fence, so that the look after it sees a receive that did not see
    /// the flag (see [`receiver_waiting`](Self::receiver_waiting)).
    pub fn set_waiting(&mut self, waiting: bool) {
        self.data.store(SENDER_WAITING, u64::from(waiting), Relaxed);
        if waiting {
            self.data.fence(SeqCst);
        }
    }

    /// The queue's state for GET_QUEUING_PORT_STATUS.
    pub fn status(&self) -> Result<QueueStatus, SendError> {
        let received = self.ack.load(RECEIVED, Acquire);
        match self.geometry.in_queue(self.sent, received) {
            Some(n) => Ok(self.geometry.status(n)),
            None => Err(SendError::Corrupt),
        }
    }
}

/// The receiver (destination) of a queuing channel: the sender's data buffer mapped
/// read-only and its own acknowledge buffer.
#[derive(Debug)]
pub struct QueuingReceiver<D, A> {
    data: D,
    ack: A,
    geometry: Geometry,
    received: u64,
    overflows_seen: u64,
    /// `received % max_messages`.
    slot: u32,
}

impl<D: SharedWords, A: SharedWordsMut> QueuingReceiver<D, A> {
    /// A receiver of up to `max_messages` queued messages of up to `max_message_size` bytes.
    /// It continues from the counters its acknowledge buffer holds (all zero the first time).
    pub fn new(
        data: D,
        ack: A,
        max_message_size: usize,
        max_messages: usize,
    ) -> Result<Self, ConfigError> {
        let geometry = Geometry::new(
            data.len_words(),
            ack.len_words(),
            max_message_size,
            max_messages,
        )?;
        let received = ack.load(RECEIVED, Relaxed);
        let overflows_seen = ack.load(OVERFLOWS_SEEN, Relaxed);
        ack.store(RECEIVER_WAITING, 0, Relaxed);
        Ok(Self {
            data,
            ack,
            geometry,
            received,
            overflows_seen,
            slot: geometry.slot_of(received),
        })
    }

    /// RECEIVE_QUEUING_MESSAGE with a zero timeout: copies the oldest message into the start
    /// of `buffer` (which must hold the port's maximum message size) and removes it from the
    /// queue. On an error, `buffer` may have been written.
    #[inline(always)]
    pub fn receive(&mut self, buffer: &mut [u8]) -> Result<Received, ReceiveError> {
        if buffer.len() < self.geometry.max_message_size() {
            return Err(ReceiveError::BufferTooSmall);
        }
        // Acquire: the slot's words were written before the sender published this count.
        let sent = self.data.load(SENT, Acquire);
        match self.geometry.in_queue(sent, self.received) {
            None => return Err(ReceiveError::Corrupt),
            Some(0) => return Err(ReceiveError::Empty),
            Some(_) => {}
        }
        let base = self.geometry.slot_base(self.slot);
        let length = match self.data.part(base, self.geometry.slot_words()) {
            Some(slot) => empty_slot(&slot, self.geometry, buffer),
            None => empty_slot(&At::new(&self.data, base), self.geometry, buffer),
        }
        .ok_or(ReceiveError::Corrupt)?;
        let overflows = self.data.load(OVERFLOWS, Relaxed);
        self.received = self.received.wrapping_add(1);
        // Release: the slot was read before the sender may reuse it.
        self.ack.store(RECEIVED, self.received, Release);
        self.slot = self.geometry.next_slot(self.slot);
        let overflow = overflows != self.overflows_seen;
        if overflow {
            self.overflows_seen = overflows;
            self.ack.store(OVERFLOWS_SEEN, overflows, Relaxed);
        }
        Ok(Received { length, overflow })
    }

    /// CLEAR_QUEUING_PORT: discards every message sent so far and any overflow not yet
    /// reported. Works whatever the sender's buffer holds.
    pub fn clear(&mut self) {
        let sent = self.data.load(SENT, Acquire);
        let overflows = self.data.load(OVERFLOWS, Relaxed);
        self.received = sent;
        self.overflows_seen = overflows;
        self.slot = self.geometry.slot_of(sent);
        self.ack.store(RECEIVED, sent, Release);
        self.ack.store(OVERFLOWS_SEEN, overflows, Relaxed);
    }

    /// Whether the sender said it may be blocked on a full queue, so that the caller must ring
    /// its doorbell: asked after every message received and every clear (the mirror of
    /// [`QueuingSender::receiver_waiting`]).
    #[inline]
    pub fn sender_waiting(&self) -> bool {
        self.data.fence(SeqCst);
        self.data.load(SENDER_WAITING, Relaxed) != 0
    }

    /// Says whether this receiver may block until a message comes (the mirror of
    /// [`QueuingSender::set_waiting`]).
    pub fn set_waiting(&mut self, waiting: bool) {
        self.ack
            .store(RECEIVER_WAITING, u64::from(waiting), Relaxed);
        if waiting {
            self.ack.fence(SeqCst);
        }
    }

    /// The queue's state for GET_QUEUING_PORT_STATUS.
    pub fn status(&self) -> Result<QueueStatus, ReceiveError> {
        let sent = self.data.load(SENT, Acquire);
        match self.geometry.in_queue(sent, self.received) {
            Some(n) => Ok(self.geometry.status(n)),
            None => Err(ReceiveError::Corrupt),
        }
    }
}

/// Stores `message` (its length, then its words) into `slot`, the words of its slot.
#[inline(always)]
fn fill_slot<S: SharedWordsMut>(slot: &S, message: &[u8]) {
    slot.store(SLOT_LENGTH, message.len() as u64, Relaxed);
    slot.store_bytes(SLOT_HEADER, message);
}

/// Copies the message in `slot` (the words of its slot) into the start of `buffer` (at least
/// the maximum message size): its length, or `None` for a length outside
/// `1..=max_message_size`.
#[inline(always)]
fn empty_slot<S: SharedWords>(slot: &S, geometry: Geometry, buffer: &mut [u8]) -> Option<usize> {
    let length = slot.load(SLOT_LENGTH, Relaxed);
    if length == 0 || length > u64::from(geometry.max_message_size) {
        return None;
    }
    let length = length as usize;
    // `length <= max_message_size <= buffer.len()`, and the slot holds that many.
    if let Some(out) = buffer.get_mut(..length) {
        slot.load_bytes(SLOT_HEADER, out);
    }
    Some(length)
}
