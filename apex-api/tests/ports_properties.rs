//! Property tests of the port protocols.
//!
//! - The real buffers' message copies equal the word-by-word reference at any alignment.
//! - Honest peers: any sequence of operations (with restarts of either side) behaves like a
//!   model (the last message; a FIFO with an overflow flag).
//! - Hostile peers: between the victim's operations the peer writes arbitrary words anywhere in
//!   the buffer it owns. The victim never panics, never reads or writes outside the buffers
//!   (the test buffers fail the test on any such access, and the peer's buffer has no `store`),
//!   terminates, keeps its own buffer exactly as the protocol says, and every message it
//!   returns is the one the peer's buffer published, checked word by word; anything else is an
//!   error.
//!
//! Every protocol scenario runs twice: over the checked test buffers, and over the real
//! buffers, whose parts take the protocols' fast path.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use apex_api::ports::queuing::{
    ACK_WORDS, OVERFLOWS, OVERFLOWS_SEEN, RECEIVED, SENT, SLOT_HEADER as Q_HEADER,
    SLOTS as Q_SLOTS, data_words,
};
use apex_api::ports::sampling::{
    SEQUENCE, SLOT_HEADER as S_HEADER, SLOT_LENGTH, SLOT_TIMESTAMP, SLOTS as S_SLOTS, region_words,
};
use apex_api::ports::{
    OwnBuffer, PeerBuffer, QueuingReceiver, QueuingSender, ReadError, ReceiveError, Received,
    SamplingReader, SamplingWriter, SendError, SharedWords, SharedWordsMut, Validity, WriteError,
};
use common::ports::{Buffers, bytes_at, message, snapshot, zeroed};
use proptest::prelude::*;

const MAX: usize = 13;
const DEPTH: usize = 3;
const REFRESH: u64 = 50;

fn word_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..=2 * MAX as u64,
        Just(u64::MAX),
        Just(u64::MAX - 1),
        any::<u64>(),
    ]
}

fn poke(words: &[AtomicU64], index: usize, value: u64) {
    words[index % words.len()].store(value, Ordering::Relaxed);
}

// ---------------------------------------------------------------- sampling

#[derive(Clone, Debug)]
enum SamplingOp {
    Write {
        tag: u8,
        len: usize,
        dt: u64,
    },
    Read {
        dt: u64,
    },
    Peek,
    RestartWriter,
    RestartReader,
    /// The writer scribbles on its own region (used only by the hostile test).
    Poke {
        index: usize,
        value: u64,
    },
}

fn sampling_op(hostile: bool) -> impl Strategy<Value = SamplingOp> {
    let honest = prop_oneof![
        4 => (any::<u8>(), 0..=MAX + 1, 0..80u64)
            .prop_map(|(tag, len, dt)| SamplingOp::Write { tag, len, dt }),
        4 => (0..80u64).prop_map(|dt| SamplingOp::Read { dt }),
        1 => Just(SamplingOp::Peek),
        1 => Just(SamplingOp::RestartWriter),
        1 => Just(SamplingOp::RestartReader),
    ];
    let pokes = if hostile { 6 } else { 0 };
    prop_oneof![
        8 => honest,
        pokes => (any::<usize>(), word_value())
            .prop_map(|(index, value)| SamplingOp::Poke { index, value }),
    ]
}

fn sampling_slot(m: u64) -> usize {
    S_SLOTS + (m & 1) as usize * (S_HEADER + MAX.div_ceil(8))
}

/// What a correct reader must return for the region as it is (no concurrent writer).
fn sampling_oracle(words: &[AtomicU64], now: u64) -> Result<(usize, u64, Vec<u8>), ReadError> {
    let seq = words[SEQUENCE].load(Ordering::Relaxed);
    if seq >> 1 == 0 {
        return Err(ReadError::Empty);
    }
    let slot = sampling_slot(seq >> 1);
    let len = words[slot + SLOT_LENGTH].load(Ordering::Relaxed);
    let ts = words[slot + SLOT_TIMESTAMP].load(Ordering::Relaxed);
    if len == 0 || len > MAX as u64 || ts > now {
        return Err(ReadError::Corrupt);
    }
    Ok((
        len as usize,
        ts,
        bytes_at(words, slot + S_HEADER, len as usize),
    ))
}

fn run_sampling(buffers: Buffers, ops: &[SamplingOp]) -> Result<(), TestCaseError> {
    let words = zeroed(region_words(MAX));
    let mut writer = SamplingWriter::new(buffers.own(&words), MAX).unwrap();
    let mut reader = SamplingReader::new(buffers.peer(&words), MAX, REFRESH).unwrap();
    let mut now = 0u64;
    let mut last: Option<(Vec<u8>, u64)> = None;
    let mut poked = false;
    let mut buf = [0u8; MAX];
    for op in ops {
        match *op {
            SamplingOp::Write { tag, len, dt } => {
                now += dt;
                let m = message(tag, len);
                let got = writer.write(&m, now);
                match len {
                    0 => prop_assert_eq!(got, Err(WriteError::ZeroLength)),
                    l if l > MAX => prop_assert_eq!(got, Err(WriteError::TooLong)),
                    _ => {
                        prop_assert_eq!(got, Ok(()));
                        last = Some((m, now));
                        // Whatever the writer's region held, its new message is readable.
                        let (length, ts, bytes) = sampling_oracle(&words, now)
                            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                        prop_assert_eq!((length, ts), (len, now));
                        prop_assert_eq!(bytes, message(tag, len));
                        poked = false;
                    }
                }
            }
            SamplingOp::Read { dt } => {
                now += dt;
                let got = reader.read(&mut buf, || now);
                let expect = sampling_oracle(&words, now);
                match (&got, &expect) {
                    (Ok(s), Ok((len, ts, bytes))) => {
                        prop_assert_eq!((s.length, s.timestamp, s.age), (*len, *ts, now - ts));
                        let valid = if now - ts <= REFRESH {
                            Validity::Valid
                        } else {
                            Validity::Invalid
                        };
                        prop_assert_eq!(s.validity, valid);
                        prop_assert_eq!(&buf[..*len], &bytes[..]);
                    }
                    (Err(e), Err(f)) => prop_assert_eq!(e, f),
                    _ => prop_assert!(false, "read {:?}, expected {:?}", got, expect),
                }
                if !poked {
                    // An honest writer: the model's last message.
                    match &last {
                        None => prop_assert_eq!(got.unwrap_err(), ReadError::Empty),
                        Some((m, ts)) => {
                            let s = got.unwrap();
                            prop_assert_eq!((s.length, s.timestamp), (m.len(), *ts));
                            prop_assert_eq!(&buf[..m.len()], &m[..]);
                        }
                    }
                }
            }
            SamplingOp::Peek => {
                let got = reader.peek(|| now).map(|s| (s.length, s.timestamp));
                let expect = sampling_oracle(&words, now).map(|(l, t, _)| (l, t));
                prop_assert_eq!(got, expect);
            }
            SamplingOp::RestartWriter => {
                writer = SamplingWriter::new(buffers.own(&words), MAX).unwrap();
            }
            SamplingOp::RestartReader => {
                reader = SamplingReader::new(buffers.peer(&words), MAX, REFRESH).unwrap();
            }
            SamplingOp::Poke { index, value } => {
                poke(&words, index, value);
                poked = true;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- queuing

#[derive(Clone, Debug)]
enum QueuingOp {
    Send {
        tag: u8,
        len: usize,
    },
    TrySend {
        tag: u8,
        len: usize,
    },
    Receive,
    Clear,
    Status,
    RestartSender,
    RestartReceiver,
    /// The peer of the side under test scribbles on its own buffer.
    Poke {
        index: usize,
        value: u64,
    },
}

fn queuing_op(pokes: u32) -> impl Strategy<Value = QueuingOp> {
    prop_oneof![
        5 => (any::<u8>(), 0..=MAX + 1).prop_map(|(tag, len)| QueuingOp::Send { tag, len }),
        2 => (any::<u8>(), 0..=MAX + 1).prop_map(|(tag, len)| QueuingOp::TrySend { tag, len }),
        5 => Just(QueuingOp::Receive),
        1 => Just(QueuingOp::Clear),
        1 => Just(QueuingOp::Status),
        1 => Just(QueuingOp::RestartSender),
        1 => Just(QueuingOp::RestartReceiver),
        pokes => (any::<usize>(), word_value())
            .prop_map(|(index, value)| QueuingOp::Poke { index, value }),
    ]
}

fn queuing_slot(slot: usize) -> usize {
    Q_SLOTS + slot * (Q_HEADER + MAX.div_ceil(8))
}

fn load(words: &[AtomicU64], index: usize) -> u64 {
    words[index].load(Ordering::Relaxed)
}

/// Both sides honest: a FIFO of `DEPTH` messages with an "overflow since last reported" flag.
fn run_queuing_honest(buffers: Buffers, ops: &[QueuingOp]) -> Result<(), TestCaseError> {
    let data = zeroed(data_words(MAX, DEPTH).unwrap());
    let ack = zeroed(ACK_WORDS);
    let sender = || QueuingSender::new(buffers.own(&data), buffers.peer(&ack), MAX, DEPTH).unwrap();
    let receiver =
        || QueuingReceiver::new(buffers.peer(&data), buffers.own(&ack), MAX, DEPTH).unwrap();
    let (mut tx, mut rx) = (sender(), receiver());
    let mut queue = VecDeque::new();
    let mut overflow = false;
    let mut buf = [0u8; MAX];
    for op in ops {
        match *op {
            QueuingOp::Send { tag, len } | QueuingOp::TrySend { tag, len } => {
                let counts = matches!(op, QueuingOp::Send { .. });
                let m = message(tag, len);
                let got = if counts { tx.send(&m) } else { tx.try_send(&m) };
                let expect = if len == 0 {
                    Err(SendError::ZeroLength)
                } else if len > MAX {
                    Err(SendError::TooLong)
                } else if queue.len() == DEPTH {
                    overflow |= counts;
                    Err(SendError::Full)
                } else {
                    queue.push_back(m);
                    Ok(())
                };
                prop_assert_eq!(got, expect);
            }
            QueuingOp::Receive => {
                let got = rx.receive(&mut buf);
                match queue.pop_front() {
                    None => prop_assert_eq!(got, Err(ReceiveError::Empty)),
                    Some(m) => {
                        prop_assert_eq!(
                            got,
                            Ok(Received {
                                length: m.len(),
                                overflow
                            })
                        );
                        prop_assert_eq!(&buf[..m.len()], &m[..]);
                        overflow = false;
                    }
                }
            }
            QueuingOp::Clear => {
                rx.clear();
                queue.clear();
                overflow = false;
            }
            QueuingOp::Status => {
                prop_assert_eq!(tx.status().unwrap().messages, queue.len());
                prop_assert_eq!(rx.status().unwrap().messages, queue.len());
            }
            QueuingOp::RestartSender => tx = sender(),
            QueuingOp::RestartReceiver => rx = receiver(),
            QueuingOp::Poke { .. } => {}
        }
    }
    Ok(())
}

/// The receiver is the victim: the sender's data buffer is poked at random (and an honest
/// sender keeps sending into it too). The oracle is computed from the buffers before each
/// operation; the receiver's slot cursor is modelled as the protocol defines it.
fn run_queuing_hostile_sender(buffers: Buffers, ops: &[QueuingOp]) -> Result<(), TestCaseError> {
    let data = zeroed(data_words(MAX, DEPTH).unwrap());
    let ack = zeroed(ACK_WORDS);
    let mut tx = QueuingSender::new(buffers.own(&data), buffers.peer(&ack), MAX, DEPTH).unwrap();
    let receiver =
        || QueuingReceiver::new(buffers.peer(&data), buffers.own(&ack), MAX, DEPTH).unwrap();
    let mut rx = receiver();
    let mut slot = 0usize;
    let mut buf = [0u8; MAX];
    for op in ops {
        let (sent, received) = (load(&data, SENT), load(&ack, RECEIVED));
        let (overflows, seen) = (load(&data, OVERFLOWS), load(&ack, OVERFLOWS_SEEN));
        let in_queue = sent.wrapping_sub(received);
        let ack_before = snapshot(&ack);
        match *op {
            QueuingOp::Send { tag, len } | QueuingOp::TrySend { tag, len } => {
                // The peer's own business; whatever it returns.
                let _ = tx.send(&message(tag, len));
            }
            QueuingOp::RestartSender => {
                tx =
                    QueuingSender::new(buffers.own(&data), buffers.peer(&ack), MAX, DEPTH).unwrap();
            }
            QueuingOp::Poke { index, value } => poke(&data, index, value),
            QueuingOp::Receive => {
                let got = rx.receive(&mut buf);
                let base = queuing_slot(slot);
                let length = load(&data, base);
                if in_queue > DEPTH as u64 {
                    prop_assert_eq!(got, Err(ReceiveError::Corrupt));
                } else if in_queue == 0 {
                    prop_assert_eq!(got, Err(ReceiveError::Empty));
                } else if length == 0 || length > MAX as u64 {
                    prop_assert_eq!(got, Err(ReceiveError::Corrupt));
                } else {
                    let length = length as usize;
                    let overflow = overflows != seen;
                    prop_assert_eq!(got, Ok(Received { length, overflow }));
                    prop_assert_eq!(
                        &buf[..length],
                        &bytes_at(&data, base + Q_HEADER, length)[..]
                    );
                    prop_assert_eq!(load(&ack, RECEIVED), received.wrapping_add(1));
                    prop_assert_eq!(load(&ack, OVERFLOWS_SEEN), overflows);
                    slot = (slot + 1) % DEPTH;
                    continue;
                }
                prop_assert_eq!(snapshot(&ack), ack_before, "a failed receive wrote");
            }
            QueuingOp::Clear => {
                rx.clear();
                prop_assert_eq!(snapshot(&ack), vec![sent, overflows, 0]);
                slot = (sent % DEPTH as u64) as usize;
            }
            QueuingOp::Status => {
                let expect = if in_queue <= DEPTH as u64 {
                    Ok(in_queue as usize)
                } else {
                    Err(ReceiveError::Corrupt)
                };
                prop_assert_eq!(rx.status().map(|s| s.messages), expect);
                prop_assert_eq!(snapshot(&ack), ack_before);
            }
            QueuingOp::RestartReceiver => {
                rx = receiver();
                slot = (received % DEPTH as u64) as usize;
                prop_assert_eq!(snapshot(&ack), ack_before);
            }
        }
    }
    Ok(())
}

/// The sender is the victim: the receiver's acknowledge buffer is poked at random (and an
/// honest receiver keeps receiving from the data buffer too).
fn run_queuing_hostile_receiver(buffers: Buffers, ops: &[QueuingOp]) -> Result<(), TestCaseError> {
    let data = zeroed(data_words(MAX, DEPTH).unwrap());
    let ack = zeroed(ACK_WORDS);
    let sender = || QueuingSender::new(buffers.own(&data), buffers.peer(&ack), MAX, DEPTH).unwrap();
    let mut tx = sender();
    let mut rx = QueuingReceiver::new(buffers.peer(&data), buffers.own(&ack), MAX, DEPTH).unwrap();
    let mut slot = 0usize;
    let mut buf = [0u8; MAX];
    for op in ops {
        let (sent, received) = (load(&data, SENT), load(&ack, RECEIVED));
        let overflows = load(&data, OVERFLOWS);
        let in_queue = sent.wrapping_sub(received);
        let before = snapshot(&data);
        match *op {
            QueuingOp::Send { tag, len } | QueuingOp::TrySend { tag, len } => {
                let counts = matches!(op, QueuingOp::Send { .. });
                let m = message(tag, len);
                let got = if counts { tx.send(&m) } else { tx.try_send(&m) };
                let mut after = before.clone();
                if len == 0 {
                    prop_assert_eq!(got, Err(SendError::ZeroLength));
                } else if len > MAX {
                    prop_assert_eq!(got, Err(SendError::TooLong));
                } else if in_queue > DEPTH as u64 {
                    prop_assert_eq!(got, Err(SendError::Corrupt));
                } else if in_queue == DEPTH as u64 {
                    prop_assert_eq!(got, Err(SendError::Full));
                    if counts {
                        after[OVERFLOWS] = overflows.wrapping_add(1);
                    }
                } else {
                    prop_assert_eq!(got, Ok(()));
                    let base = queuing_slot(slot);
                    prop_assert_eq!(load(&data, base), len as u64);
                    prop_assert_eq!(bytes_at(&data, base + Q_HEADER, len), m);
                    // Exactly the slot's words (and no more) and the count changed.
                    let used = Q_HEADER + len.div_ceil(8);
                    after[base..base + used].copy_from_slice(&snapshot(&data)[base..base + used]);
                    after[SENT] = sent.wrapping_add(1);
                    slot = (slot + 1) % DEPTH;
                }
                prop_assert_eq!(snapshot(&data), after);
            }
            QueuingOp::Status => {
                let expect = if in_queue <= DEPTH as u64 {
                    Ok(in_queue as usize)
                } else {
                    Err(SendError::Corrupt)
                };
                prop_assert_eq!(tx.status().map(|s| s.messages), expect);
            }
            QueuingOp::RestartSender => {
                tx = sender();
                slot = (sent % DEPTH as u64) as usize;
                prop_assert_eq!(snapshot(&data), before);
            }
            QueuingOp::Receive => {
                let _ = rx.receive(&mut buf);
            }
            QueuingOp::Clear => rx.clear(),
            QueuingOp::RestartReceiver => {
                rx = QueuingReceiver::new(buffers.peer(&data), buffers.own(&ack), MAX, DEPTH)
                    .unwrap();
            }
            QueuingOp::Poke { index, value } => poke(&ack, index, value),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- message copies

/// The real buffer without its range-checked SIMD copies: the provided word-by-word
/// `load_bytes` and `store_bytes` of the traits are the reference.
#[derive(Clone)]
struct WordByWord<'a>(OwnBuffer<'a>);

impl SharedWords for WordByWord<'_> {
    apex_api::offset_parts!();
    fn len_words(&self) -> usize {
        self.0.len_words()
    }
    fn load(&self, index: usize, order: Ordering) -> u64 {
        self.0.load(index, order)
    }
    fn fence(&self, order: Ordering) {
        self.0.fence(order);
    }
}

impl SharedWordsMut for WordByWord<'_> {
    apex_api::offset_parts_mut!();
    fn store(&self, index: usize, value: u64, order: Ordering) {
        self.0.store(index, value, order);
    }
}

/// Bytes at an 8-byte-aligned address, so offset 0 is aligned and 1..8 are not.
#[repr(align(8))]
struct Aligned([u8; 80]);

/// A buffer's `load_bytes` from a fixed first word into the bytes given.
type LoadBytes<'a> = dyn Fn(&mut [u8]) + 'a;

/// The real buffers copy exactly like the word-by-word reference and the layout, whatever the
/// alignment of the caller's bytes.
fn run_copies(bytes: &[u8], src: usize, dst: usize, first: usize) -> Result<(), TestCaseError> {
    let words = first + bytes.len().div_ceil(8);
    let (a, b) = (zeroed(words + 1), zeroed(words + 1));
    for w in a.iter().chain(&b) {
        w.store(0x5555_5555_5555_5555, Ordering::Relaxed);
    }
    let mut source = Aligned([0; 80]);
    source.0[src..src + bytes.len()].copy_from_slice(bytes);
    let message = &source.0[src..src + bytes.len()];
    OwnBuffer::new(&a).store_bytes(first, message);
    WordByWord(OwnBuffer::new(&b)).store_bytes(first, message);
    prop_assert_eq!(snapshot(&a), snapshot(&b));
    prop_assert_eq!(bytes_at(&a, first, bytes.len()), bytes);
    let loads: [&LoadBytes; 3] = [
        &|out| OwnBuffer::new(&a).load_bytes(first, out),
        &|out| PeerBuffer::new(&a).load_bytes(first, out),
        &|out| WordByWord(OwnBuffer::new(&a)).load_bytes(first, out),
    ];
    for load in loads {
        let mut out = Aligned([0xEE; 80]);
        load(&mut out.0[dst..dst + bytes.len()]);
        prop_assert_eq!(&out.0[dst..dst + bytes.len()], bytes);
        prop_assert!(out.0[dst + bytes.len()..].iter().all(|&x| x == 0xEE));
    }
    Ok(())
}

/// 512 cases, or more with `PROPTEST_CASES`.
fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: default.cases.max(512),
        ..default
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn real_buffers_copy_like_the_reference(
        bytes in prop::collection::vec(any::<u8>(), 0..=64),
        src in 0..8usize,
        dst in 0..8usize,
        first in 0..4usize,
    ) {
        run_copies(&bytes, src, dst, first)?;
    }

    #[test]
    fn sampling_behaves_like_the_last_message(ops in prop::collection::vec(sampling_op(false), 1..60)) {
        for buffers in Buffers::BOTH {
            run_sampling(buffers, &ops)?;
        }
    }

    #[test]
    fn sampling_reader_survives_a_hostile_writer(ops in prop::collection::vec(sampling_op(true), 1..60)) {
        for buffers in Buffers::BOTH {
            run_sampling(buffers, &ops)?;
        }
    }

    #[test]
    fn queuing_behaves_like_a_fifo(ops in prop::collection::vec(queuing_op(0), 1..80)) {
        for buffers in Buffers::BOTH {
            run_queuing_honest(buffers, &ops)?;
        }
    }

    #[test]
    fn queuing_receiver_survives_a_hostile_sender(ops in prop::collection::vec(queuing_op(6), 1..80)) {
        for buffers in Buffers::BOTH {
            run_queuing_hostile_sender(buffers, &ops)?;
        }
    }

    #[test]
    fn queuing_sender_survives_a_hostile_receiver(ops in prop::collection::vec(queuing_op(6), 1..80)) {
        for buffers in Buffers::BOTH {
            run_queuing_hostile_receiver(buffers, &ops)?;
        }
    }
}
