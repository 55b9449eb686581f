//! The queuing port protocol (`apex_api::ports::queuing`): every path, every ARINC 653
//! outcome, the layout a Linux tool relies on, restarts, and corrupt counters.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use apex_api::ReturnCode;
use apex_api::ports::queuing::{
    ACK_WORDS, OVERFLOWS, OVERFLOWS_SEEN, RECEIVED, RECEIVER_WAITING, SENDER_WAITING, SENT,
    SLOT_HEADER, SLOTS, data_words,
};
use apex_api::ports::{
    ConfigError, MAX_MESSAGE_SIZE, MAX_QUEUE_DEPTH, OwnBuffer, PeerBuffer, QueueStatus,
    QueuingReceiver, QueuingSender, ReceiveError, Received, SendError, queuing_data_size,
};
use common::ports::{Own, Peer, message, snapshot, zeroed};

const MAX: usize = 12;
const DEPTH: usize = 3;

struct Channel {
    data: Vec<AtomicU64>,
    ack: Vec<AtomicU64>,
}

impl Channel {
    fn new() -> Self {
        Self {
            data: zeroed(data_words(MAX, DEPTH).unwrap()),
            ack: zeroed(ACK_WORDS),
        }
    }
    fn sender(&self) -> QueuingSender<Own<'_>, Peer<'_>> {
        QueuingSender::new(Own(&self.data), Peer(&self.ack), MAX, DEPTH).unwrap()
    }
    fn receiver(&self) -> QueuingReceiver<Peer<'_>, Own<'_>> {
        QueuingReceiver::new(Peer(&self.data), Own(&self.ack), MAX, DEPTH).unwrap()
    }
    fn word(&self, index: usize) -> u64 {
        self.data[index].load(Ordering::Relaxed)
    }
    fn ack_word(&self, index: usize) -> u64 {
        self.ack[index].load(Ordering::Relaxed)
    }
}

fn slot_base(slot: usize) -> usize {
    SLOTS + slot * (SLOT_HEADER + MAX.div_ceil(8))
}

fn receive(rx: &mut QueuingReceiver<Peer<'_>, Own<'_>>) -> Result<(Vec<u8>, bool), ReceiveError> {
    let mut buf = [0u8; MAX];
    let got = rx.receive(&mut buf)?;
    Ok((buf[..got.length].to_vec(), got.overflow))
}

fn status(messages: usize) -> QueueStatus {
    QueueStatus {
        messages,
        max_messages: DEPTH,
        max_message_size: MAX,
    }
}

#[test]
fn sizes_are_checked_when_the_port_is_created() {
    let c = Channel::new();
    assert_eq!(data_words(MAX, DEPTH), Some(3 + 3 * (1 + 2)));
    let short = &c.data[..c.data.len() - 1];
    let e = QueuingSender::new(Own(short), Peer(&c.ack), MAX, DEPTH).unwrap_err();
    assert_eq!(e, ConfigError::RegionTooSmall);
    let e = QueuingReceiver::new(Peer(short), Own(&c.ack), MAX, DEPTH).unwrap_err();
    assert_eq!(e, ConfigError::RegionTooSmall);
    let e = QueuingSender::new(Own(&c.data), Peer(&c.ack[..1]), MAX, DEPTH).unwrap_err();
    assert_eq!(e, ConfigError::RegionTooSmall);
    let e = QueuingReceiver::new(Peer(&c.data), Own(&c.ack[..1]), MAX, DEPTH).unwrap_err();
    assert_eq!(e, ConfigError::RegionTooSmall);
    for bad in [0, MAX_QUEUE_DEPTH as usize + 1, usize::MAX] {
        let e = QueuingSender::new(Own(&c.data), Peer(&c.ack), MAX, bad).unwrap_err();
        assert_eq!(e, ConfigError::QueueDepth);
        let e = QueuingReceiver::new(Peer(&c.data), Own(&c.ack), MAX, bad).unwrap_err();
        assert_eq!(e, ConfigError::QueueDepth);
    }
    for bad in [0, MAX_MESSAGE_SIZE as usize + 1] {
        let e = QueuingSender::new(Own(&c.data), Peer(&c.ack), bad, DEPTH).unwrap_err();
        assert_eq!(e, ConfigError::MessageSize);
        let e = QueuingReceiver::new(Peer(&c.data), Own(&c.ack), bad, DEPTH).unwrap_err();
        assert_eq!(e, ConfigError::MessageSize);
    }
    assert_eq!(
        ConfigError::QueueDepth.return_code(),
        ReturnCode::InvalidConfig
    );
    // The largest queue fits the region schedule-gen gives it.
    let (max, depth) = (MAX_MESSAGE_SIZE, MAX_QUEUE_DEPTH);
    let words = data_words(max as usize, depth as usize).unwrap() as u64;
    assert!(words * 8 <= queuing_data_size(max, depth));
}

#[test]
fn messages_come_out_in_order_and_the_status_counts_them() {
    let c = Channel::new();
    let (mut tx, mut rx) = (c.sender(), c.receiver());
    assert_eq!(tx.status(), Ok(status(0)));
    assert_eq!(rx.status(), Ok(status(0)));
    let err = receive(&mut rx).unwrap_err();
    assert_eq!(err, ReceiveError::Empty);
    assert_eq!(err.return_code(), ReturnCode::NotAvailable);
    let mut tag = 0u8;
    let mut expect = std::collections::VecDeque::new();
    // Ten rounds go around the ring of three slots several times.
    for round in 0..10 {
        for _ in 0..=(round % DEPTH) {
            tag += 1;
            let m = message(tag, 1 + usize::from(tag) % MAX);
            tx.send(&m).unwrap();
            expect.push_back(m);
        }
        assert_eq!(tx.status(), Ok(status(expect.len())));
        assert_eq!(rx.status(), Ok(status(expect.len())));
        while let Some(m) = expect.pop_front() {
            assert_eq!(receive(&mut rx), Ok((m, false)));
        }
        assert_eq!(receive(&mut rx), Err(ReceiveError::Empty));
    }
    assert_eq!(c.word(SENT), u64::from(tag));
    assert_eq!(c.ack_word(RECEIVED), u64::from(tag));
}

#[test]
fn a_full_queue_refuses_and_reports_an_overflow_once() {
    let c = Channel::new();
    let (mut tx, mut rx) = (c.sender(), c.receiver());
    for tag in 1..=DEPTH as u8 {
        tx.send(&message(tag, 4)).unwrap();
    }
    let before = snapshot(&c.data);
    // A blocking send's attempts count no overflow.
    assert_eq!(tx.try_send(&message(9, 4)), Err(SendError::Full));
    assert_eq!(snapshot(&c.data), before);
    // A zero-timeout send counts one.
    let err = tx.send(&message(9, 4)).unwrap_err();
    assert_eq!(err, SendError::Full);
    assert_eq!(err.return_code(), ReturnCode::NotAvailable);
    assert_eq!(tx.send(&message(9, 4)), Err(SendError::Full));
    assert_eq!(c.word(OVERFLOWS), 2);
    assert_eq!(tx.status(), Ok(status(DEPTH)));
    // The next receive returns the oldest message with INVALID_CONFIG, once.
    let mut buf = [0u8; MAX];
    let got = rx.receive(&mut buf).unwrap();
    assert_eq!(
        got,
        Received {
            length: 4,
            overflow: true
        }
    );
    assert_eq!(got.return_code(), ReturnCode::InvalidConfig);
    assert_eq!(&buf[..4], &message(1, 4)[..]);
    assert_eq!(c.ack_word(OVERFLOWS_SEEN), 2);
    let got = rx.receive(&mut buf).unwrap();
    assert_eq!(
        got,
        Received {
            length: 4,
            overflow: false
        }
    );
    assert_eq!(got.return_code(), ReturnCode::NoError);
    assert_eq!(&buf[..4], &message(2, 4)[..]);
    // Room again.
    tx.send(&message(4, 4)).unwrap();
    assert_eq!(receive(&mut rx), Ok((message(3, 4), false)));
    assert_eq!(receive(&mut rx), Ok((message(4, 4), false)));
}

#[test]
fn send_refuses_empty_and_oversized_messages() {
    let c = Channel::new();
    let mut tx = c.sender();
    let before = snapshot(&c.data);
    for send in [QueuingSender::send, QueuingSender::try_send] {
        let err = send(&mut tx, &[]).unwrap_err();
        assert_eq!(err, SendError::ZeroLength);
        assert_eq!(err.return_code(), ReturnCode::InvalidParam);
        let err = send(&mut tx, &[1; MAX + 1]).unwrap_err();
        assert_eq!(err, SendError::TooLong);
        assert_eq!(err.return_code(), ReturnCode::InvalidConfig);
    }
    assert_eq!(snapshot(&c.data), before);
    tx.send(&[7; MAX]).unwrap();
}

#[test]
fn receive_needs_a_buffer_of_the_maximum_size() {
    let c = Channel::new();
    let (mut tx, mut rx) = (c.sender(), c.receiver());
    tx.send(b"x").unwrap();
    let mut small = [0u8; MAX - 1];
    let err = rx.receive(&mut small).unwrap_err();
    assert_eq!(err, ReceiveError::BufferTooSmall);
    assert_eq!(err.return_code(), ReturnCode::InvalidParam);
    assert_eq!(rx.status(), Ok(status(1)), "nothing consumed");
    let mut big = [0xEEu8; MAX + 3];
    assert_eq!(rx.receive(&mut big).unwrap().length, 1);
    assert_eq!(big[0], b'x');
    assert!(
        big[1..].iter().all(|&b| b == 0xEE),
        "wrote past the message"
    );
}

#[test]
fn clear_discards_messages_and_pending_overflows() {
    let c = Channel::new();
    let (mut tx, mut rx) = (c.sender(), c.receiver());
    for tag in 1..=DEPTH as u8 {
        tx.send(&message(tag, 2)).unwrap();
    }
    assert_eq!(tx.send(&message(9, 2)), Err(SendError::Full));
    rx.clear();
    assert_eq!(rx.status(), Ok(status(0)));
    assert_eq!(tx.status(), Ok(status(0)));
    assert_eq!(receive(&mut rx), Err(ReceiveError::Empty));
    assert_eq!((c.ack_word(RECEIVED), c.ack_word(OVERFLOWS_SEEN)), (3, 1));
    // A whole queue fits again, and no stale overflow is reported.
    for tag in 10..10 + DEPTH as u8 {
        tx.send(&message(tag, 2)).unwrap();
    }
    for tag in 10..10 + DEPTH as u8 {
        assert_eq!(receive(&mut rx), Ok((message(tag, 2), false)));
    }
}

#[test]
fn restarted_sides_continue_from_their_own_counters() {
    let c = Channel::new();
    let (mut tx, mut rx) = (c.sender(), c.receiver());
    for tag in 1..=DEPTH as u8 {
        tx.send(&message(tag, 3)).unwrap();
    }
    assert_eq!(tx.send(&message(9, 3)), Err(SendError::Full));
    assert_eq!(receive(&mut rx), Ok((message(1, 3), true)));
    // Both restart (new ones over the same buffers): the sender knows it counted one
    // overflow, the receiver that it reported it.
    let (mut tx, mut rx) = (c.sender(), c.receiver());
    tx.send(&message(4, 3)).unwrap();
    assert_eq!(tx.send(&message(9, 3)), Err(SendError::Full));
    assert_eq!(c.word(OVERFLOWS), 2);
    assert_eq!(receive(&mut rx), Ok((message(2, 3), true)));
    assert_eq!(receive(&mut rx), Ok((message(3, 3), false)));
    assert_eq!(receive(&mut rx), Ok((message(4, 3), false)));
    assert_eq!(receive(&mut rx), Err(ReceiveError::Empty));
}

#[test]
fn the_buffers_have_the_documented_layout() {
    let c = Channel::new();
    let (mut tx, mut rx) = (c.sender(), c.receiver());
    let m: Vec<u8> = (1..=10).collect();
    tx.send(&m).unwrap();
    tx.send(&[0xAB]).unwrap();
    assert_eq!(c.word(SENT), 2);
    assert_eq!(c.word(OVERFLOWS), 0);
    assert_eq!(c.word(SENDER_WAITING), 0);
    let s0 = slot_base(0);
    assert_eq!(s0, 3);
    assert_eq!(c.word(s0), 10);
    assert_eq!(c.word(s0 + 1), u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(
        c.word(s0 + 2),
        u64::from_le_bytes([9, 10, 0, 0, 0, 0, 0, 0])
    );
    let s1 = slot_base(1);
    assert_eq!((c.word(s1), c.word(s1 + 1)), (1, 0xAB));
    assert_eq!(
        slot_base(DEPTH),
        c.data.len(),
        "the last slot ends the buffer"
    );
    receive(&mut rx).unwrap();
    assert_eq!(c.ack_word(RECEIVED), 1);
    assert_eq!(c.ack_word(OVERFLOWS_SEEN), 0);
    // The waiting words: each side sets only its own, and a new side clears a stale one.
    rx.set_waiting(true);
    assert_eq!(c.ack_word(RECEIVER_WAITING), 1);
    assert!(tx.receiver_waiting());
    rx.set_waiting(false);
    assert!(!tx.receiver_waiting());
    tx.set_waiting(true);
    assert_eq!(c.word(SENDER_WAITING), 1);
    assert!(rx.sender_waiting());
    rx.set_waiting(true);
    let (tx, rx) = (c.sender(), c.receiver());
    assert!(!tx.receiver_waiting() && !rx.sender_waiting());
}

#[test]
fn corrupt_counters_and_lengths_are_errors_and_clear_recovers() {
    let c = Channel::new();
    let (mut tx, mut rx) = (c.sender(), c.receiver());
    tx.send(&message(1, 5)).unwrap();
    // The receiver claims more received than sent.
    c.ack[RECEIVED].store(2, Ordering::Relaxed);
    let err = tx.send(&message(2, 5)).unwrap_err();
    assert_eq!(err, SendError::Corrupt);
    assert_eq!(err.return_code(), ReturnCode::NotAvailable);
    assert_eq!(tx.status(), Err(SendError::Corrupt));
    assert_eq!(c.word(SENT), 1, "nothing sent");
    c.ack[RECEIVED].store(0, Ordering::Relaxed);
    // The sender claims more in the queue than there are slots.
    c.data[SENT].store(DEPTH as u64 + 1, Ordering::Relaxed);
    let err = receive(&mut rx).unwrap_err();
    assert_eq!(err, ReceiveError::Corrupt);
    assert_eq!(err.return_code(), ReturnCode::NotAvailable);
    assert_eq!(rx.status(), Err(ReceiveError::Corrupt));
    c.data[SENT].store(1, Ordering::Relaxed);
    // Bad slot lengths; nothing is consumed.
    for bad in [0, MAX as u64 + 1, u64::MAX] {
        c.data[slot_base(0)].store(bad, Ordering::Relaxed);
        assert_eq!(receive(&mut rx), Err(ReceiveError::Corrupt));
        assert_eq!(c.ack_word(RECEIVED), 0);
    }
    c.data[slot_base(0)].store(5, Ordering::Relaxed);
    assert_eq!(receive(&mut rx), Ok((message(1, 5), false)));
    // A wild sent count, then CLEAR: the receiver follows it and the queue works again.
    c.data[SENT].store(u64::MAX - 7, Ordering::Relaxed);
    assert_eq!(receive(&mut rx), Err(ReceiveError::Corrupt));
    rx.clear();
    assert_eq!(rx.status(), Ok(status(0)));
    assert_eq!(c.ack_word(RECEIVED), u64::MAX - 7);
}

#[test]
fn counters_wrap_modulo_2_to_the_64() {
    // Depth 4 divides 2^64, so slot numbers stay in step across the wrap.
    const DEPTH4: usize = 4;
    let data = zeroed(data_words(MAX, DEPTH4).unwrap());
    let ack = zeroed(ACK_WORDS);
    data[SENT].store(u64::MAX - 5, Ordering::Relaxed);
    ack[RECEIVED].store(u64::MAX - 5, Ordering::Relaxed);
    let mut tx = QueuingSender::new(Own(&data), Peer(&ack), MAX, DEPTH4).unwrap();
    let mut rx = QueuingReceiver::new(Peer(&data), Own(&ack), MAX, DEPTH4).unwrap();
    let mut buf = [0u8; MAX];
    for tag in 1..=12u8 {
        tx.send(&message(tag, 6)).unwrap();
        if tag % 2 == 0 {
            tx.send(&message(tag + 100, 6)).unwrap();
            rx.receive(&mut buf).unwrap();
            assert_eq!(&buf[..6], &message(tag - 1, 6)[..]);
            rx.receive(&mut buf).unwrap();
            assert_eq!(&buf[..6], &message(tag, 6)[..]);
            rx.receive(&mut buf).unwrap();
            assert_eq!(&buf[..6], &message(tag + 100, 6)[..]);
        }
    }
    assert_eq!(data[SENT].load(Ordering::Relaxed), 12);
}

#[test]
fn the_real_buffers_work_over_raw_memory() {
    let words = data_words(MAX, DEPTH).unwrap();
    let mut data = vec![0u64; words];
    let mut ack = vec![0u64; ACK_WORDS];
    let (d, a) = (data.as_mut_ptr(), ack.as_mut_ptr());
    {
        // SAFETY: both vectors outlive the views (this block), are aligned and are only
        // accessed through them while they exist.
        let (own_d, peer_a) = unsafe {
            (
                OwnBuffer::from_raw(d, words),
                PeerBuffer::from_raw(a, ACK_WORDS),
            )
        };
        // SAFETY: as above.
        let (peer_d, own_a) = unsafe {
            (
                PeerBuffer::from_raw(d, words),
                OwnBuffer::from_raw(a, ACK_WORDS),
            )
        };
        let mut tx = QueuingSender::new(own_d, peer_a, MAX, DEPTH).unwrap();
        let mut rx = QueuingReceiver::new(peer_d, own_a, MAX, DEPTH).unwrap();
        let mut buf = [0u8; MAX + 1];
        for tag in 1..=7u8 {
            let len = 1 + usize::from(tag) % MAX;
            let mut src = vec![0u8; len + 1];
            src[1..].copy_from_slice(&message(tag, len));
            tx.send(&src[1..]).unwrap();
            let got = rx.receive(&mut buf[1..]).unwrap();
            assert_eq!(&buf[1..=got.length], &message(tag, len)[..]);
        }
    }
    assert_eq!((data[SENT], ack[RECEIVED]), (7, 7));
}
