//! Shared-memory layout of ARINC 653 port channels: the one definition of how big a channel's
//! buffers are and how they are laid out, used by schedule-gen (to size and place them), the
//! kernel (to map them) and every reader and writer (partitions and Linux tools).
//!
//! Every channel buffer is a whole number of 4 KiB pages, because stage 2 maps pages, and is
//! written by exactly one side, so a hostile peer can corrupt only what it may write anyway:
//!
//! - **sampling**: one region, written by the source, mapped read-only by every destination.
//!   A [`SamplingHeader`] followed by one message of at most `max_message_size` bytes.
//! - **queuing**: a *data* region written by the source (a [`QueuingHeader`] and a ring of
//!   `max_messages` slots) and an *acknowledge* region written by the destination (a
//!   [`QueuingAck`] saying how many messages it has consumed). Each side maps the other's
//!   region read-only.

/// Granule of every channel region (the stage-2 page size).
pub const PAGE_SIZE: u64 = 4096;

/// Largest message a port may declare, in bytes.
pub const MAX_MESSAGE_SIZE: u64 = 64 * 1024;
/// Most messages a queuing port may declare.
pub const MAX_QUEUE_DEPTH: u64 = 1024;

/// Start of a sampling region. `sequence` is odd while the source writes (a sequence lock),
/// so a reader that sees it change retries rather than returning a torn message.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SamplingHeader {
    /// Incremented before and after every write.
    pub sequence: u32,
    /// Length of the current message; never trusted beyond the port's maximum.
    pub length: u32,
    /// System counter value when the message was written (for validity and age).
    pub timestamp: u64,
}

/// Start of a queuing data region, followed by the slot ring.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueuingHeader {
    /// Messages sent so far (wrapping); slot `sent % max_messages` is the next to fill.
    pub sent: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// The destination's acknowledge region.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueuingAck {
    /// Messages received so far (wrapping).
    pub received: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Rounds `bytes` up to whole pages; `None` if that does not fit in `u64`.
pub const fn page_round(bytes: u64) -> Option<u64> {
    match bytes.checked_add(PAGE_SIZE - 1) {
        Some(b) => Some(b / PAGE_SIZE * PAGE_SIZE),
        None => None,
    }
}

/// Bytes one queuing slot takes: a `u32` length, then the message, padded to 8 bytes.
pub const fn queuing_slot_size(max_message_size: u64) -> u64 {
    (4 + max_message_size).div_ceil(8) * 8
}

/// Size of a sampling channel's region.
pub const fn sampling_region_size(max_message_size: u64) -> u64 {
    let header = core::mem::size_of::<SamplingHeader>() as u64;
    match page_round(header + max_message_size) {
        Some(size) => size,
        None => u64::MAX,
    }
}

/// Size of a queuing channel's data region (written by the source).
pub const fn queuing_data_size(max_message_size: u64, max_messages: u64) -> u64 {
    let header = core::mem::size_of::<QueuingHeader>() as u64;
    match queuing_slot_size(max_message_size).checked_mul(max_messages) {
        Some(ring) => match page_round(header + ring) {
            Some(size) => size,
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
        assert_eq!(sampling_region_size(4096 - 16), PAGE_SIZE);
        assert_eq!(sampling_region_size(4096 - 15), 2 * PAGE_SIZE);
        assert_eq!(queuing_slot_size(64), 72);
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
    }
}
