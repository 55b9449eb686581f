//! Model checks of the port protocols' memory orderings with `loom`: every interleaving of a
//! writer and a reader (within a preemption bound), with loom's model of relaxed, acquire and
//! release accesses and fences standing in for the hardware.
//!
//! The protocols run unchanged over loom's atomics through `SharedWords`; the read-only view
//! does what `PeerBuffer` does (a relaxed load, then an acquire fence when acquire is asked).
//!
//! Each side is created (which loads its own counters) before the other thread is spawned:
//! loom 0.7 stops exploring when a spawned thread's first atomic access is a load
//! (tokio-rs/loom#392, #166), and each model asserts that it explored many executions, so
//! such a collapse fails the test instead of passing it silently. Mutating the protocols'
//! orderings (a relaxed store of the sequence or count, a missing fence, an accepted lapped
//! read, one sampling slot instead of two) makes these models fail.

use apex_api::ports::queuing::{ACK_WORDS, OVERFLOWS, OVERFLOWS_SEEN, data_words};
use apex_api::ports::sampling::region_words;
use apex_api::ports::{
    QueuingReceiver, QueuingSender, ReadError, ReceiveError, SamplingReader, SamplingWriter,
    SendError, SharedWords, SharedWordsMut,
};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, fence};
use std::sync::atomic::Ordering;

type Words = Arc<Vec<AtomicU64>>;

fn zeroed(n: usize) -> Words {
    Arc::new((0..n).map(|_| AtomicU64::new(0)).collect())
}

/// The owner's read-write view.
#[derive(Clone)]
struct LoomOwn(Words);
/// A peer's read-only view.
#[derive(Clone)]
struct LoomPeer(Words);

impl SharedWords for LoomOwn {
    apex_api::offset_parts!();
    fn len_words(&self) -> usize {
        self.0.len()
    }
    fn load(&self, index: usize, order: Ordering) -> u64 {
        self.0[index].load(order)
    }
    fn fence(&self, order: Ordering) {
        fence(order);
    }
}

impl SharedWordsMut for LoomOwn {
    apex_api::offset_parts_mut!();
    fn store(&self, index: usize, value: u64, order: Ordering) {
        self.0[index].store(value, order);
    }
}

impl SharedWords for LoomPeer {
    apex_api::offset_parts!();
    fn len_words(&self) -> usize {
        self.0.len()
    }
    fn load(&self, index: usize, order: Ordering) -> u64 {
        let value = self.0[index].load(Ordering::Relaxed);
        if order != Ordering::Relaxed {
            fence(Ordering::Acquire);
        }
        value
    }
    fn fence(&self, order: Ordering) {
        fence(order);
    }
}

type Sender = QueuingSender<LoomOwn, LoomPeer>;
type Receiver = QueuingReceiver<LoomPeer, LoomOwn>;

/// A queuing channel of `depth` messages of `max` bytes: its two ends, and its data and
/// acknowledge buffers.
fn queue(max: usize, depth: usize) -> (Sender, Receiver, Words, Words) {
    let data = zeroed(data_words(max, depth).unwrap());
    let ack = zeroed(ACK_WORDS);
    let tx = QueuingSender::new(LoomOwn(data.clone()), LoomPeer(ack.clone()), max, depth).unwrap();
    let rx =
        QueuingReceiver::new(LoomPeer(data.clone()), LoomOwn(ack.clone()), max, depth).unwrap();
    (tx, rx, data, ack)
}

/// Runs `model` under loom with every interleaving of at most three preemptions (enough for
/// a reader to be overtaken in the middle of its copy by one whole write and the start of the
/// next), and checks that loom explored at least `min_executions` of them.
fn check(min_executions: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = counter.clone();
    builder.check(move || {
        count.fetch_add(1, Ordering::Relaxed);
        model();
    });
    let executions = counter.load(Ordering::Relaxed);
    eprintln!("loom explored {executions} executions");
    assert!(
        executions >= min_executions,
        "loom explored only {executions} executions"
    );
}

/// Sampling: a writer writes messages 1..=3 whose every byte is the message number and whose
/// length depends on it (8 or 16 bytes: one or two words), while a reader reads.
/// A read never returns a torn message (mixed bytes, or a length that does not match them),
/// never goes back in time, and after the writer is done returns its last message.
#[test]
fn sampling_reads_are_never_torn() {
    const MAX: usize = 16;
    const MESSAGES: u8 = 3;
    fn len(v: u8) -> usize {
        if v % 2 == 1 { 16 } else { 8 }
    }
    fn verify(got: Result<apex_api::ports::Sample, ReadError>, buf: &[u8], last: &mut u8) {
        match got {
            Ok(s) => {
                let v = s.timestamp as u8;
                assert!((1..=MESSAGES).contains(&v), "timestamp {}", s.timestamp);
                assert_eq!(s.length, len(v), "length of message {v}");
                assert!(
                    buf[..s.length].iter().all(|&b| b == v),
                    "torn: {:?}",
                    &buf[..s.length]
                );
                assert!(v >= *last, "message {v} after message {last}");
                *last = v;
            }
            Err(ReadError::Empty) => assert_eq!(*last, 0, "empty after a message"),
            // Possible only if the writer overtakes the reader READ_ATTEMPTS times.
            Err(e) => panic!("read failed: {e:?}"),
        }
    }
    check(1000, || {
        let words = zeroed(region_words(MAX));
        let mut writer = SamplingWriter::new(LoomOwn(words.clone()), MAX).unwrap();
        let reader = SamplingReader::new(LoomPeer(words), MAX, u64::MAX).unwrap();
        let writer = loom::thread::spawn(move || {
            for v in 1..=MESSAGES {
                writer.write(&[v; MAX][..len(v)], u64::from(v)).unwrap();
            }
        });
        let mut buf = [0u8; MAX];
        let mut last = 0;
        let got = reader.read(&mut buf, || u64::MAX);
        verify(got, &buf, &mut last);
        writer.join().unwrap();
        let got = reader.read(&mut buf, || u64::MAX);
        verify(got, &buf, &mut last);
        assert_eq!(last, MESSAGES);
    });
}

/// Queuing: a sender sends messages 1..=3 through a queue of 2, waiting (`try_send`, yield)
/// while it is full; a receiver receives until it has all three, yielding while it is empty.
/// FIFO, nothing lost or duplicated, no torn message, no overflow reported; full only with
/// two messages not yet acknowledged, and empty at the end on both sides.
#[test]
fn queuing_is_a_fifo_without_loss_or_duplication() {
    const MAX: usize = 8;
    const DEPTH: usize = 2;
    const MESSAGES: u8 = 3;
    check(1000, || {
        let (mut tx, mut rx, _, _) = queue(MAX, DEPTH);
        let sender = loom::thread::spawn(move || {
            for v in 1..=MESSAGES {
                loop {
                    match tx.try_send(&[v; MAX]) {
                        Ok(()) => break,
                        Err(SendError::Full) => {
                            // Full means DEPTH messages sent and not yet acknowledged.
                            assert!(usize::from(v - 1) >= DEPTH);
                            loom::thread::yield_now();
                        }
                        Err(e) => panic!("send failed: {e:?}"),
                    }
                }
            }
            tx
        });
        let mut buf = [0u8; MAX];
        let mut next = 1u8;
        while next <= MESSAGES {
            match rx.receive(&mut buf) {
                Ok(r) => {
                    assert_eq!(r.length, MAX);
                    assert!(!r.overflow);
                    assert_eq!(buf, [next; MAX], "expected message {next}");
                    next += 1;
                }
                Err(ReceiveError::Empty) => loom::thread::yield_now(),
                Err(e) => panic!("receive failed: {e:?}"),
            }
        }
        let tx = sender.join().unwrap();
        assert_eq!(rx.receive(&mut buf), Err(ReceiveError::Empty));
        assert_eq!(tx.status().unwrap().messages, 0);
        assert_eq!(rx.status().unwrap().messages, 0);
    });
}

/// Queuing with zero-timeout sends: three messages into a queue of 2 while the receiver takes
/// one. Whatever was refused is reported to the receiver as an overflow (with a message, or
/// still pending when none is left), and what was accepted arrives in order.
#[test]
fn queuing_overflows_are_reported() {
    const MAX: usize = 8;
    const DEPTH: usize = 2;
    check(20, || {
        let (mut tx, mut rx, data, ack) = queue(MAX, DEPTH);
        let sender = loom::thread::spawn(move || {
            let mut accepted = Vec::new();
            for v in 1..=3u8 {
                match tx.send(&[v; MAX]) {
                    Ok(()) => accepted.push(v),
                    Err(SendError::Full) => {}
                    Err(e) => panic!("send failed: {e:?}"),
                }
            }
            accepted
        });
        let mut buf = [0u8; MAX];
        let mut got = Vec::new();
        let mut reports = 0;
        let mut receive = |got: &mut Vec<u8>, reports: &mut u32| match rx.receive(&mut buf) {
            Ok(r) => {
                got.push(buf[0]);
                *reports += u32::from(r.overflow);
                true
            }
            Err(ReceiveError::Empty) => false,
            Err(e) => panic!("receive failed: {e:?}"),
        };
        receive(&mut got, &mut reports);
        let accepted = sender.join().unwrap();
        while receive(&mut got, &mut reports) {}
        assert_eq!(got, accepted);
        let refused = 3 - accepted.len() as u64;
        let overflows = data[OVERFLOWS].load(Ordering::Relaxed);
        let pending = overflows != ack[OVERFLOWS_SEEN].load(Ordering::Relaxed);
        assert_eq!(overflows, refused);
        if refused == 0 {
            assert_eq!((reports, pending), (0, false));
        } else {
            assert!(
                reports == 1 || pending,
                "refused {refused}, reported {reports}"
            );
        }
    });
}

/// Queuing wake-ups: a receiver finds the queue empty, says it waits (`set_waiting`), looks
/// once more and would block; meanwhile a sender sends one message and rings the doorbell
/// only if `receiver_waiting`. Never both: the receiver about to block with no doorbell rung
/// while a message is queued (a lost wake-up). And the mirror: a sender blocked on a full
/// queue and a receiver that takes a message.
#[test]
fn queuing_wake_ups_are_never_lost() {
    const MAX: usize = 8;
    const DEPTH: usize = 1;
    check(10, || {
        let (mut tx, mut rx, _, _) = queue(MAX, DEPTH);
        let sender = loom::thread::spawn(move || {
            tx.send(&[1; MAX]).unwrap();
            tx.receiver_waiting()
        });
        let mut buf = [0u8; MAX];
        let blocks = match rx.receive(&mut buf) {
            Ok(_) => false,
            Err(ReceiveError::Empty) => {
                rx.set_waiting(true);
                match rx.receive(&mut buf) {
                    Ok(_) => false,
                    Err(ReceiveError::Empty) => true,
                    Err(e) => panic!("receive failed: {e:?}"),
                }
            }
            Err(e) => panic!("receive failed: {e:?}"),
        };
        let rang = sender.join().unwrap();
        assert!(!blocks || rang, "the receiver blocks and no doorbell rings");
    });
    check(10, || {
        let (mut tx, mut rx, _, _) = queue(MAX, DEPTH);
        // The queue is full before the receiver starts.
        tx.send(&[1; MAX]).unwrap();
        let receiver = loom::thread::spawn(move || {
            let mut buf = [0u8; MAX];
            rx.receive(&mut buf).unwrap();
            rx.sender_waiting()
        });
        let blocks = match tx.try_send(&[2; MAX]) {
            Ok(()) => false,
            Err(SendError::Full) => {
                tx.set_waiting(true);
                match tx.try_send(&[2; MAX]) {
                    Ok(()) => false,
                    Err(SendError::Full) => true,
                    Err(e) => panic!("send failed: {e:?}"),
                }
            }
            Err(e) => panic!("send failed: {e:?}"),
        };
        let rang = receiver.join().unwrap();
        assert!(!blocks || rang, "the sender blocks and no doorbell rings");
    });
}
