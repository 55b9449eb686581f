//! ARINC 653 port channels over shared memory: the one definition of the buffers' layout and
//! sizes (used by schedule-gen to place them and the kernel to map them) and of the sampling
//! and queuing protocols (used by partitions and Linux tools).
//!
//! # Buffers
//!
//! Every channel buffer is a whole number of 4 KiB pages (stage 2 maps pages), all zero when
//! the module starts, and never cleared when a partition restarts: a restarted side reads its
//! own counters back. Each buffer is written by exactly one side, which maps it read-write;
//! the other side maps it read-only, so a hostile peer can corrupt only what it may write
//! anyway, and every reader treats what a peer wrote as hostile input.
//!
//! A buffer is an array of 64-bit little-endian words at 8-byte-aligned offsets, and every
//! access is one aligned 64-bit single-copy-atomic load or store of a whole word: control
//! words and message data alike. No read-modify-write, no exclusive access, no smaller or
//! unaligned access: a partition running with its MMU off sees the buffers as Device memory.
//! In the Rust or C11 memory model every word is an atomic `u64`; "release" and "acquire"
//! below are those orderings (AArch64: `STLR`, `LDAR` or `LDR` + `DMB ISHLD`, fences
//! `DMB ISH` and `DMB ISHLD`); unmarked accesses are relaxed. A message of `n` bytes occupies
//! `ceil(n / 8)` words, byte `i` in bits `8 * (i % 8)..` of word `i / 8`; the unused bytes of
//! its last word are zero. `W = ceil(max_message_size / 8)` is the number of message words of
//! a slot. Counters are `u64` and wrap (they never do in practice); all arithmetic on them is
//! modulo 2^64.
//!
//! # Sampling channel: one region, written by the source
//!
//! | Word | Name | Meaning |
//! |---|---|---|
//! | 0 | `sequence` | `2 * m`: `m` messages written completely; `2 * m + 1`: message `m + 1` is being written |
//! | `1 + k * (2 + W)` | slot `k` `length` | bytes of the message in slot `k` (`k` = 0 or 1) |
//! | `2 + k * (2 + W)` | slot `k` `timestamp` | the writer's system counter when it wrote that message |
//! | `3 + k * (2 + W)` ... | slot `k` message | `W` words |
//!
//! Message number `m` (counting from 1) is written into slot `m % 2`, so the slot holding the
//! current message `m` is not touched while message `m + 1` is written: a writer stopped in
//! the middle of a write (its window ended, or it was restarted) leaves the last complete
//! message readable. To write message `m + 1` (sequence `2m`): store `sequence = 2m + 1`
//! (release); release fence; store the slot's length, timestamp and message words; store
//! `sequence = 2m + 2` (release). A writer that starts and finds an odd sequence `2m + 1`
//! writes message `m + 1` again (one that finds `2^64 - 2` or `2^64 - 1`, which only a
//! corrupted region holds, continues as if it had found 2).
//!
//! To read: load `s1 = sequence` (acquire); `m = s1 / 2`; if `m == 0` the port is empty.
//! Otherwise load slot `m % 2`'s length and timestamp; if `1 <= length <= max_message_size`,
//! load its first `ceil(length / 8)` message words; acquire fence; load `s2 = sequence`. The
//! writer starts overwriting that slot at sequence `2m + 3`, so the read is consistent if
//! `s2 - (s1 & !1) <= 2` (modulo 2^64); if not, start again (at most [`sampling::READ_ATTEMPTS`]
//! times, then give up). A consistent read with a length outside `1..=max_message_size` is
//! corrupt. The message's age is `now - timestamp`, with `now` the reader's system counter
//! read after the read (a timestamp after `now` is corrupt), and it is valid (ARINC 653
//! VALIDITY) if its age is at most the port's refresh period.
//!
//! # Queuing channel: a data buffer written by the source, an acknowledge buffer by the destination
//!
//! | Buffer | Word | Name | Meaning |
//! |---|---|---|---|
//! | data | 0 | `sent` | messages sent so far |
//! | data | 1 | `overflows` | sends refused because the queue was full, so far |
//! | data | 2 | `sender_waiting` | non-zero while the source may block on a full queue |
//! | data | `3 + k * (1 + W)` | slot `k` `length` | bytes of the message in slot `k`, `0 <= k < max_messages` |
//! | data | `4 + k * (1 + W)` ... | slot `k` message | `W` words |
//! | ack | 0 | `received` | messages received (or cleared) so far |
//! | ack | 1 | `overflows_seen` | the value of `overflows` the destination last reported |
//! | ack | 2 | `receiver_waiting` | non-zero while the destination may block on an empty queue |
//!
//! Message number `i` (counting from 0) goes into slot `i % max_messages`. The queue holds
//! `sent - received` messages; a value above `max_messages` is corrupt.
//!
//! - Send (source): load `received` (acquire). If the queue holds `max_messages`, it is full:
//!   refuse the message and, for a send that gives up (zero timeout), store `overflows + 1`.
//!   Otherwise store the slot's length and message words, then `sent + 1` (release).
//! - Receive (destination): load `sent` (acquire). If the queue is empty, there is nothing to
//!   receive. Otherwise load the slot's length (corrupt unless `1..=max_message_size`) and its
//!   message words, load `overflows`, store `received + 1` (release). If `overflows` differs
//!   from `overflows_seen`, store it as `overflows_seen` and report an overflow (ARINC 653:
//!   the message is returned with `INVALID_CONFIG`).
//! - Clear (destination, CLEAR_QUEUING_PORT): load `sent` (acquire) and `overflows`; store
//!   `received = sent` (release) and `overflows_seen = overflows`.
//! - Wake-ups: a side about to block (the destination on an empty queue, the source on a
//!   full one) stores 1 in its `*_waiting` word, makes a full fence (`DMB ISH`), and looks at
//!   the queue once more before it blocks; it stores 0 when it stops waiting (and when it is
//!   created). After each send the source makes a full fence and loads `receiver_waiting`;
//!   after each receive or clear the destination does the same with `sender_waiting`; a
//!   non-zero value means: ring the peer's doorbell. The two fences make sure that of a side
//!   about to block and a peer that just moved a message, at least one sees the other, so no
//!   wake-up is lost, and no doorbell (hypercall) is made while nobody waits. A hostile peer
//!   can only make its partner ring more doorbells, or wait for its timeout.
//!
//! # In Rust
//!
//! The protocols ([`sampling`], [`queuing`]) are written against [`SharedWords`] (a buffer the
//! caller may read) and [`SharedWordsMut`] (one it owns and writes); [`OwnBuffer`] and
//! [`PeerBuffer`] implement them over mapped memory, and tests implement them over model-checked
//! atomics. Each type checks the buffers' lengths against the port's configured sizes when it
//! is created and computes every index from those sizes, never from a value it read, so no
//! access falls outside a buffer and nothing a peer writes makes it panic, loop or overflow.
//! Every error maps to an ARINC 653 [`crate::ReturnCode`] with `return_code()`.
//!
//! Each step of a protocol is written once, generic over the words it touches: a part of the
//! buffer ([`SharedWords::part`]), seen as a buffer of its own from index 0. A sampling side
//! takes its parts (the sequence word and the two slots) once, when it is created; a queuing
//! call takes the slot it uses. Over the real buffers a part is the sub-slice of exactly its
//! size, checked once (for the sequence word and the slot headers an array,
//! [`SharedWords::fixed`], whose length the compiler knows), and copied into registers for a
//! call, so no access through it needs a check of its own; over
//! any other implementation (the tests' checked buffers, loom's atomics) a part is an
//! [`Offset`] into the buffer, and the same step reaches the same words through `load` and
//! `store`. The message copies of the real buffers move whole words (on AArch64 with Advanced
//! SIMD, 64 bytes per `LD1`/`ST1` pair, each 64-bit element on the buffer's side a
//! single-copy-atomic access, the caller's side read or written a byte element at a time, so
//! its buffer may start at any address); either way every access to a buffer is an aligned
//! 64-bit single-copy-atomic load or store, as above.
//! A slot's header (length and timestamp) moves as one pair (`LDP`/`STP` on AArch64), and an
//! acquire load from a peer's read-only buffer is one `LDAR`. The only `unsafe` code is in
//! `words.rs`: the constructors over raw memory and those few instructions in assembly.
#![deny(unsafe_code)]

pub mod queuing;
pub mod sampling;
mod words;

pub use queuing::{QueueStatus, QueuingReceiver, QueuingSender, ReceiveError, Received, SendError};
pub use sampling::{ReadError, Sample, SamplingReader, SamplingWriter, Validity, WriteError};
pub use words::{Offset, OwnBuffer, PeerBuffer, SharedWords, SharedWordsMut};

use crate::ReturnCode;

/// Granule of every channel region (the stage-2 page size).
pub const PAGE_SIZE: u64 = 4096;

/// Largest message a port may declare, in bytes.
pub const MAX_MESSAGE_SIZE: u64 = 64 * 1024;
/// Most messages a queuing port may declare.
pub const MAX_QUEUE_DEPTH: u64 = 1024;

/// Bytes of one buffer word.
pub const WORD_SIZE: u64 = 8;

/// Why a port's buffers cannot be used with its configured sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The maximum message size is 0 or above [`MAX_MESSAGE_SIZE`].
    MessageSize,
    /// The queue depth is 0 or above [`MAX_QUEUE_DEPTH`].
    QueueDepth,
    /// A buffer is shorter than the sizes need.
    RegionTooSmall,
}

impl ConfigError {
    /// ARINC 653: creating a port whose configuration does not hold is `INVALID_CONFIG`.
    pub const fn return_code(self) -> ReturnCode {
        ReturnCode::InvalidConfig
    }
}

/// Checks a configured maximum message size against the limits.
fn check_message_size(max_message_size: usize) -> Result<(), ConfigError> {
    if max_message_size == 0 || max_message_size as u64 > MAX_MESSAGE_SIZE {
        Err(ConfigError::MessageSize)
    } else {
        Ok(())
    }
}

/// Rounds `bytes` up to whole pages; `None` if that does not fit in `u64`.
pub const fn page_round(bytes: u64) -> Option<u64> {
    match bytes.checked_add(PAGE_SIZE - 1) {
        Some(b) => Some(b / PAGE_SIZE * PAGE_SIZE),
        None => None,
    }
}

/// Bytes of the message words of a slot (`W` words).
const fn message_bytes(max_message_size: u64) -> u64 {
    max_message_size
        .div_ceil(WORD_SIZE)
        .saturating_mul(WORD_SIZE)
}

/// Bytes one queuing slot takes: a length word, then the message words (saturating).
pub const fn queuing_slot_size(max_message_size: u64) -> u64 {
    message_bytes(max_message_size).saturating_add(WORD_SIZE)
}

/// Size of a sampling channel's region: the sequence word and two slots of a length word,
/// a timestamp word and the message words, in whole pages (`u64::MAX` if too large).
pub const fn sampling_region_size(max_message_size: u64) -> u64 {
    let slot = message_bytes(max_message_size).saturating_add(2 * WORD_SIZE);
    match slot.checked_mul(2) {
        Some(slots) => match slots.checked_add(WORD_SIZE) {
            Some(bytes) => match page_round(bytes) {
                Some(size) => size,
                None => u64::MAX,
            },
            None => u64::MAX,
        },
        None => u64::MAX,
    }
}

/// Size of a queuing channel's data region (written by the source): its control words and
/// `max_messages` slots, in whole pages (`u64::MAX` if too large).
pub const fn queuing_data_size(max_message_size: u64, max_messages: u64) -> u64 {
    match queuing_slot_size(max_message_size).checked_mul(max_messages) {
        Some(ring) => match ring.checked_add(queuing::SLOTS as u64 * WORD_SIZE) {
            Some(bytes) => match page_round(bytes) {
                Some(size) => size,
                None => u64::MAX,
            },
            None => u64::MAX,
        },
        None => u64::MAX,
    }
}

/// Size of a queuing channel's acknowledge region (written by the destination).
pub const QUEUING_ACK_SIZE: u64 = PAGE_SIZE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_whole_pages_and_hold_the_messages() {
        assert_eq!(sampling_region_size(1), PAGE_SIZE);
        // 8 + 2 * (16 + 2024) = 4088 bytes.
        assert_eq!(sampling_region_size(2024), PAGE_SIZE);
        assert_eq!(sampling_region_size(2025), 2 * PAGE_SIZE);
        assert_eq!(queuing_slot_size(64), 72);
        assert_eq!(queuing_slot_size(1), 16);
        assert_eq!(queuing_data_size(64, 8), PAGE_SIZE);
        assert_eq!(
            queuing_data_size(MAX_MESSAGE_SIZE, MAX_QUEUE_DEPTH) % PAGE_SIZE,
            0
        );
        assert!(
            queuing_data_size(MAX_MESSAGE_SIZE, MAX_QUEUE_DEPTH)
                >= MAX_MESSAGE_SIZE * MAX_QUEUE_DEPTH
        );
        assert_eq!(queuing_data_size(u64::MAX / 2, 4), u64::MAX);
        assert_eq!(queuing_data_size(u64::MAX, 1), u64::MAX);
        assert_eq!(sampling_region_size(u64::MAX), u64::MAX);
        assert_eq!(sampling_region_size(u64::MAX / 2), u64::MAX);
        assert!(QUEUING_ACK_SIZE / WORD_SIZE >= queuing::ACK_WORDS as u64);
    }

    #[test]
    fn byte_sizes_hold_the_words_the_protocols_use() {
        for max in [1u64, 7, 8, 9, 64, 100, 2024, 2025, 4096, MAX_MESSAGE_SIZE] {
            let words = sampling::region_words(max as usize) as u64;
            assert!(
                words * WORD_SIZE <= sampling_region_size(max),
                "sampling {max}"
            );
            for depth in [1u64, 2, 7, 64, MAX_QUEUE_DEPTH] {
                let words = queuing::data_words(max as usize, depth as usize).unwrap() as u64;
                assert!(
                    words * WORD_SIZE <= queuing_data_size(max, depth),
                    "queuing {max} x {depth}"
                );
                assert_eq!(
                    words * WORD_SIZE,
                    queuing::SLOTS as u64 * WORD_SIZE + depth * queuing_slot_size(max)
                );
            }
        }
        assert_eq!(queuing::data_words(usize::MAX, 8), None);
        assert_eq!(queuing::data_words(8, usize::MAX), None);
    }
}
