//! The sampling port protocol (`apex_api::ports::sampling`): every path, every ARINC 653
//! outcome, the layout a Linux tool relies on, restarts, and corrupt regions.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use apex_api::ReturnCode;
use apex_api::ports::sampling::{READ_ATTEMPTS, SEQUENCE, SLOT_HEADER, SLOTS, region_words};
use apex_api::ports::{
    ConfigError, MAX_MESSAGE_SIZE, OwnBuffer, PeerBuffer, ReadError, SamplingReader,
    SamplingWriter, SharedWords, Validity, WriteError, sampling_region_size,
};
use common::ports::{Own, Peer, message, snapshot, zeroed};

const MAX: usize = 20;
const REFRESH: u64 = 100;

fn pair(words: &[AtomicU64]) -> (SamplingWriter<Own<'_>>, SamplingReader<Peer<'_>>) {
    (
        SamplingWriter::new(Own(words), MAX).unwrap(),
        SamplingReader::new(Peer(words), MAX, REFRESH).unwrap(),
    )
}

fn slot_base(slot: usize) -> usize {
    SLOTS + slot * (SLOT_HEADER + MAX.div_ceil(8))
}

#[test]
fn sizes_are_checked_when_the_port_is_created() {
    let words = zeroed(region_words(MAX));
    assert_eq!(region_words(MAX), 1 + 2 * (2 + 3));
    assert!(SamplingWriter::new(Own(&words), MAX).is_ok());
    assert!(SamplingReader::new(Peer(&words), MAX, REFRESH).is_ok());
    let short = &words[..words.len() - 1];
    assert_eq!(
        SamplingWriter::new(Own(short), MAX).unwrap_err(),
        ConfigError::RegionTooSmall
    );
    assert_eq!(
        SamplingReader::new(Peer(short), MAX, REFRESH).unwrap_err(),
        ConfigError::RegionTooSmall
    );
    for bad in [0, MAX_MESSAGE_SIZE as usize + 1, usize::MAX] {
        assert_eq!(
            SamplingWriter::new(Own(&words), bad).unwrap_err(),
            ConfigError::MessageSize
        );
        assert_eq!(
            SamplingReader::new(Peer(&words), bad, REFRESH).unwrap_err(),
            ConfigError::MessageSize
        );
    }
    assert_eq!(
        ConfigError::RegionTooSmall.return_code(),
        ReturnCode::InvalidConfig
    );
    // The largest port fits the region schedule-gen gives it.
    let max = MAX_MESSAGE_SIZE as usize;
    assert!(region_words(max) as u64 * 8 <= sampling_region_size(max as u64));
}

#[test]
fn an_empty_port_is_not_available() {
    let words = zeroed(region_words(MAX));
    let (_writer, reader) = pair(&words);
    let mut buf = [0u8; MAX];
    let err = reader.read(&mut buf, || 0).unwrap_err();
    assert_eq!(err, ReadError::Empty);
    assert_eq!(err.return_code(), ReturnCode::NotAvailable);
    assert_eq!(reader.peek(|| 0).unwrap_err(), ReadError::Empty);
    // A first write in progress (sequence 1) is still empty.
    words[SEQUENCE].store(1, Ordering::Relaxed);
    assert_eq!(reader.read(&mut buf, || 0).unwrap_err(), ReadError::Empty);
}

#[test]
fn the_last_message_is_read_with_its_age_and_validity() {
    let words = zeroed(region_words(MAX));
    let (mut writer, reader) = pair(&words);
    let mut buf = [0xEEu8; MAX + 4];
    for (tag, len, at) in [(1u8, 1, 10u64), (2, MAX, 20), (3, 9, 30), (4, 8, 1000)] {
        writer.write(&message(tag, len), at).unwrap();
        let sample = reader.read(&mut buf, || at + REFRESH).unwrap();
        assert_eq!(sample.length, len);
        assert_eq!(&buf[..len], &message(tag, len)[..]);
        assert_eq!(sample.timestamp, at);
        assert_eq!(sample.age, REFRESH);
        assert_eq!(sample.validity, Validity::Valid);
        let old = reader.read(&mut buf, || at + REFRESH + 1).unwrap();
        assert_eq!((old.age, old.validity), (REFRESH + 1, Validity::Invalid));
        assert_eq!(reader.peek(|| at).unwrap().age, 0);
        assert_eq!(reader.peek(|| at).unwrap().length, len);
    }
    // Only `length` bytes were written into the caller's buffer.
    assert_eq!(buf[MAX..], [0xEE; 4]);
    assert_eq!(writer.max_message_size(), MAX);
    assert_eq!(reader.max_message_size(), MAX);
    assert_eq!(reader.refresh_period(), REFRESH);
}

#[test]
fn write_refuses_empty_and_oversized_messages() {
    let words = zeroed(region_words(MAX));
    let (mut writer, reader) = pair(&words);
    let before = snapshot(&words);
    let err = writer.write(&[], 5).unwrap_err();
    assert_eq!(err, WriteError::ZeroLength);
    assert_eq!(err.return_code(), ReturnCode::InvalidParam);
    let err = writer.write(&[0; MAX + 1], 5).unwrap_err();
    assert_eq!(err, WriteError::TooLong);
    assert_eq!(err.return_code(), ReturnCode::InvalidConfig);
    assert_eq!(
        snapshot(&words),
        before,
        "a refused write touched the region"
    );
    let mut buf = [0; MAX];
    assert_eq!(reader.read(&mut buf, || 5).unwrap_err(), ReadError::Empty);
}

#[test]
fn read_needs_a_buffer_of_the_maximum_size() {
    let words = zeroed(region_words(MAX));
    let (mut writer, reader) = pair(&words);
    writer.write(b"ab", 1).unwrap();
    let mut small = [0u8; MAX - 1];
    let err = reader.read(&mut small, || 1).unwrap_err();
    assert_eq!(err, ReadError::BufferTooSmall);
    assert_eq!(err.return_code(), ReturnCode::InvalidParam);
    assert_eq!(small, [0; MAX - 1]);
}

#[test]
fn the_region_has_the_documented_layout() {
    let words = zeroed(region_words(MAX));
    let (mut writer, _reader) = pair(&words);
    let first: Vec<u8> = (1..=11).collect();
    writer.write(&first, 0x1234).unwrap();
    // Message 1 goes to slot 1; sequence 2.
    let s1 = slot_base(1);
    let w = snapshot(&words);
    assert_eq!(w[SEQUENCE], 2);
    assert_eq!(w[s1], 11);
    assert_eq!(w[s1 + 1], 0x1234);
    assert_eq!(w[s1 + 2], u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(w[s1 + 3], u64::from_le_bytes([9, 10, 11, 0, 0, 0, 0, 0]));
    writer.write(&[0xAA; MAX], 0x5678).unwrap();
    // Message 2 goes to slot 0; slot 1 keeps message 1.
    let s0 = slot_base(0);
    let w = snapshot(&words);
    assert_eq!(w[SEQUENCE], 4);
    assert_eq!(s0, 1);
    assert_eq!((w[s0], w[s0 + 1]), (MAX as u64, 0x5678));
    assert_eq!(w[s0 + 2..s0 + 4], [u64::from_le_bytes([0xAA; 8]); 2]);
    assert_eq!(
        w[s0 + 4],
        u64::from_le_bytes([0xAA, 0xAA, 0xAA, 0xAA, 0, 0, 0, 0])
    );
    assert_eq!(w[s1], 11);
    // The last word of the region is the last message word of slot 1.
    assert_eq!(s1 + SLOT_HEADER + MAX.div_ceil(8), words.len());
}

#[test]
fn a_writer_stopped_mid_write_leaves_the_last_message_readable() {
    let words = zeroed(region_words(MAX));
    let (mut writer, reader) = pair(&words);
    writer.write(&message(1, 5), 10).unwrap();
    writer.write(&message(2, 7), 20).unwrap();
    // The writer stops after starting message 3 (slot 1): sequence odd, slot 1 half written.
    words[SEQUENCE].store(5, Ordering::Relaxed);
    words[slot_base(1)].store(3, Ordering::Relaxed);
    words[slot_base(1) + 2].store(u64::MAX, Ordering::Relaxed);
    let mut buf = [0u8; MAX];
    let sample = reader.read(&mut buf, || 25).unwrap();
    assert_eq!((sample.length, sample.timestamp), (7, 20));
    assert_eq!(&buf[..7], &message(2, 7)[..]);
    // Restarted, it writes message 3 again and readers see it.
    let mut writer = SamplingWriter::new(Own(&words), MAX).unwrap();
    writer.write(&message(3, 4), 30).unwrap();
    assert_eq!(words[SEQUENCE].load(Ordering::Relaxed), 6);
    let sample = reader.read(&mut buf, || 30).unwrap();
    assert_eq!((sample.length, sample.timestamp), (4, 30));
    assert_eq!(&buf[..4], &message(3, 4)[..]);
}

#[test]
fn a_restarted_writer_continues_the_sequence() {
    let words = zeroed(region_words(MAX));
    let (mut writer, reader) = pair(&words);
    writer.write(&message(1, 3), 1).unwrap();
    writer.write(&message(2, 3), 2).unwrap();
    // The writer restarts: a new one over the same region.
    let mut writer = SamplingWriter::new(Own(&words), MAX).unwrap();
    writer.write(&message(3, 3), 3).unwrap();
    assert_eq!(words[SEQUENCE].load(Ordering::Relaxed), 6);
    let mut buf = [0u8; MAX];
    assert_eq!(reader.read(&mut buf, || 3).unwrap().timestamp, 3);
    // A restarted reader reads the same.
    let reader = SamplingReader::new(Peer(&words), MAX, REFRESH).unwrap();
    assert_eq!(reader.read(&mut buf, || 3).unwrap().timestamp, 3);
}

#[test]
fn corrupt_lengths_and_future_timestamps_are_errors() {
    let words = zeroed(region_words(MAX));
    let (mut writer, reader) = pair(&words);
    writer.write(&message(1, 5), 50).unwrap();
    let length = slot_base(1);
    let mut buf = [0u8; MAX];
    for bad in [0, MAX as u64 + 1, u64::MAX] {
        words[length].store(bad, Ordering::Relaxed);
        let err = reader.read(&mut buf, || 60).unwrap_err();
        assert_eq!(err, ReadError::Corrupt);
        assert_eq!(err.return_code(), ReturnCode::NotAvailable);
        assert_eq!(reader.peek(|| 60).unwrap_err(), ReadError::Corrupt);
    }
    words[length].store(5, Ordering::Relaxed);
    assert!(reader.read(&mut buf, || 60).is_ok());
    // Now is before the timestamp: corrupt, not valid.
    assert_eq!(
        reader.read(&mut buf, || 49).unwrap_err(),
        ReadError::Corrupt
    );
    assert_eq!(reader.peek(|| 49).unwrap_err(), ReadError::Corrupt);
    // The writer repairs everything with its next message.
    writer.write(&message(2, 6), 70).unwrap();
    assert_eq!(reader.read(&mut buf, || 70).unwrap().length, 6);
}

/// A region whose sequence changes on every load: a writer rewriting the slot all the time.
#[derive(Clone)]
struct Racing<'a> {
    words: &'a [AtomicU64],
    loads: &'a AtomicU64,
}

impl SharedWords for Racing<'_> {
    apex_api::offset_parts!();
    fn len_words(&self) -> usize {
        self.words.len()
    }
    fn load(&self, index: usize, order: Ordering) -> u64 {
        if index == SEQUENCE {
            // 2, 8, 14, ...: the slot read is always overwritten before the check.
            return 2 + 6 * self.loads.fetch_add(1, Ordering::Relaxed);
        }
        self.words[index].load(order)
    }
    fn fence(&self, order: Ordering) {
        std::sync::atomic::fence(order);
    }
}

#[test]
fn a_reader_gives_up_on_a_writer_that_never_lets_it_finish() {
    let words = zeroed(region_words(MAX));
    let (mut writer, _) = pair(&words);
    writer.write(&message(1, 5), 1).unwrap();
    let loads = AtomicU64::new(0);
    let racing = Racing {
        words: &words,
        loads: &loads,
    };
    let reader = SamplingReader::new(racing, MAX, REFRESH).unwrap();
    let mut buf = [0u8; MAX];
    let err = reader.read(&mut buf, || 1).unwrap_err();
    assert_eq!(err, ReadError::Unstable);
    assert_eq!(err.return_code(), ReturnCode::NotAvailable);
}

#[test]
fn a_reader_retries_when_the_writer_overwrote_its_slot_once() {
    // Sequence 2 at the first load, 5 at the check (message 3 being written into slot 1, the
    // slot of message 1): retry; then 6 and 6: message 3.
    #[derive(Clone)]
    struct Once<'a> {
        words: &'a [AtomicU64],
        seq: &'a std::cell::Cell<usize>,
    }
    impl SharedWords for Once<'_> {
        apex_api::offset_parts!();
        fn len_words(&self) -> usize {
            self.words.len()
        }
        fn load(&self, index: usize, order: Ordering) -> u64 {
            if index == SEQUENCE {
                let n = self.seq.get();
                self.seq.set(n + 1);
                return [2, 5, 6, 6][n.min(3)];
            }
            self.words[index].load(order)
        }
        fn fence(&self, _: Ordering) {}
    }
    let words = zeroed(region_words(MAX));
    let (mut writer, _) = pair(&words);
    writer.write(&message(1, 5), 1).unwrap();
    writer.write(&message(2, 6), 2).unwrap();
    writer.write(&message(3, 7), 3).unwrap();
    let seq = std::cell::Cell::new(0);
    let reader = SamplingReader::new(
        Once {
            words: &words,
            seq: &seq,
        },
        MAX,
        REFRESH,
    )
    .unwrap();
    let mut buf = [0u8; MAX];
    let sample = reader.read(&mut buf, || 3).unwrap();
    assert_eq!((sample.length, sample.timestamp), (7, 3));
    const { assert!(READ_ATTEMPTS >= 2) };
}

#[test]
fn the_real_buffers_work_over_raw_memory() {
    let mut backing = vec![0u64; region_words(MAX)];
    let ptr = backing.as_mut_ptr();
    {
        // SAFETY: `backing` outlives both views (this block), is aligned, and is only
        // accessed through them while they exist.
        let own = unsafe { OwnBuffer::from_raw(ptr, region_words(MAX)) };
        // SAFETY: as above.
        let peer = unsafe { PeerBuffer::from_raw(ptr, region_words(MAX)) };
        let mut writer = SamplingWriter::new(own, MAX).unwrap();
        let reader = SamplingReader::new(peer, MAX, REFRESH).unwrap();
        let mut buf = [0u8; MAX + 1];
        for (tag, len) in [(1u8, MAX), (2, 1), (3, 13)] {
            // Unaligned messages and buffers too.
            let mut src = vec![0u8; len + 1];
            src[1..].copy_from_slice(&message(tag, len));
            writer.write(&src[1..], tag.into()).unwrap();
            let sample = reader.read(&mut buf[1..], || 100).unwrap();
            assert_eq!(&buf[1..=sample.length], &message(tag, len)[..]);
        }
    }
    assert_eq!(backing[SEQUENCE], 6);
}
