//! The hostile-peer pair of the HIL port tests. The role comes from the configuration: the
//! partition whose port `samples` is a source is `hostile`, the one whose port `samples` is a
//! destination is `wary`. Ports (local names, the same at both ends): `samples` (sampling,
//! hostile → wary), `queue` (queuing, hostile → wary), `progress` (sampling, wary → hostile:
//! how many reads `wary` has made, so that `hostile` moves on only once `wary` has read
//! through each corruption several times, however the host schedules the two).
//!
//! **wary** uses the APEX services only. Each iteration (a "read") it reads `samples`,
//! receives from `queue` with a [`RECEIVE_TIMEOUT_NS`] timeout (blocking on its doorbell),
//! publishes its read count on `progress` and waits [`READ_PAUSE_NS`]. It prints what it got
//! whenever that changes, and `read <k>: alive` every [`ALIVE_EVERY`] reads:
//!
//! - `read <k>: samples message <n> <VALID|INVALID> age <ns> ns`, `read <k>: samples <code>`
//!   or `read <k>: samples GARBAGE (length <l>)` (a whole message with a payload no honest
//!   `hostile` writes); printed when the outcome (VALID, INVALID, code, GARBAGE) changes;
//! - `read <k>: queue message <n> <code>` (every message), `read <k>: queue <code>` when the
//!   code changes, and `read <k>: queue TIMED_OUT EARLY after <ns> ns` if a receive ever
//!   timed out before its timeout.
//!
//! **hostile** writes its own buffers (`samples`'s, and `queue`'s data buffer) with raw
//! volatile stores at the addresses its information page gives, as no port library would,
//! one corruption per phase. Each phase puts its corruption in place, notes `wary`'s read
//! count `c0`, waits until `wary` has read at least [`READS_PER_PHASE`] more times (and for
//! some phases a minimum time), notes the count `c1`, undoes the corruption and prints
//! `phase <name>: reads <c0> to <c1>`. Every read `wary` starts after `c0 + 2` and finishes by
//! `c1` saw the corruption (one read of slack for the store becoming visible). The phases:
//!
//! | phase | what `hostile` does | what `wary` must get |
//! |---|---|---|
//! | `honest` | writes a message every ms | messages, VALID |
//! | `odd-sequence` | leaves the sequence odd (a write begun, never finished) for [`HOLD_NS`] | the last message, its age growing past the refresh period: VALID, then INVALID |
//! | `absurd-length` | the current message's length 2^40 | NOT_AVAILABLE |
//! | `zero-length` | the current message's length 0 | NOT_AVAILABLE |
//! | `future-timestamp` | the current message's timestamp 2^63 | NOT_AVAILABLE |
//! | `racing-sequence` | the sequence far ahead (2^40) and moving on as fast as it can store | NOT_AVAILABLE or an old message (INVALID) |
//! | `honest-again` | writes messages again (its port continues where it was) | new messages, VALID |
//! | `queue-far-ahead` | `sent` 1000 ahead of what `wary` received | NOT_AVAILABLE |
//! | `queue-behind` | `sent` one behind what `wary` received | NOT_AVAILABLE |
//! | `queue-absurd-length` | one message whose length is 2^40 | NOT_AVAILABLE |
//! | `doorbell-storm` | rings `wary`'s doorbell as fast as it can, sending nothing | TIMED_OUT, never early |
//! | `queue-honest` | sends messages 1, 2, 3 through the APEX service | messages 1, 2, 3 (NO_ERROR), then TIMED_OUT |
//! | `after` | writes honestly, sends nothing | messages, VALID; TIMED_OUT |
//!
//! From `honest-again` on, `hostile` keeps writing honest sampling messages. At the end it
//! prints `all phases done` and goes on writing.
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{Ordering, fence};

use bm_runtime::apex_api::ReturnCode;
use bm_runtime::apex_api::apex::{Apex, OnPkernel, PkernelBuffers, QueuingPortId, SamplingPortId};
use bm_runtime::apex_api::call::{doorbell, partition_stop, set_partition_mode};
use bm_runtime::apex_api::info::{Direction, PortKind};
use bm_runtime::apex_api::partition::OperatingMode;
use bm_runtime::apex_api::ports::{Validity, queuing, sampling};
use bm_runtime::{BootInfo, println};

bm_runtime::entry_initialising!(main);

type Services = Apex<OnPkernel, PkernelBuffers>;

/// `wary`'s timeout on `queue`.
const RECEIVE_TIMEOUT_NS: i64 = 1_000_000;
/// `wary`'s pause after each read.
const READ_PAUSE_NS: i64 = 1_000_000;
/// `wary` prints `alive` every this many reads.
const ALIVE_EVERY: u64 = 50;
/// Reads `wary` must make after a phase began before `hostile` ends it.
const READS_PER_PHASE: u64 = 8;
/// How long `hostile` leaves its sequence odd: longer than `wary`'s refresh period (150 ms in
/// the test's configuration), so its last message turns INVALID meanwhile.
const HOLD_NS: i64 = 200_000_000;
/// How often `hostile` writes an honest sampling message.
const WRITE_PERIOD_NS: i64 = 1_000_000;
/// Bytes of an honest message: its number and a check word.
const MESSAGE: usize = 16;
/// Receive buffer: every port's maximum message size must fit.
const BUFFER: usize = 64;

fn fail(what: core::fmt::Arguments) -> ! {
    println!("FAILED: {what}");
    partition_stop(1)
}

/// The check word of honest message `n`.
fn check(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5A5A_5A5A_5A5A_5A5A
}

fn honest(n: u64) -> [u8; MESSAGE] {
    let mut m = [0u8; MESSAGE];
    m[..8].copy_from_slice(&n.to_le_bytes());
    m[8..].copy_from_slice(&check(n).to_le_bytes());
    m
}

/// The number of an honest message, or `None` if `bytes` is not one.
fn number(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != MESSAGE {
        return None;
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[8 * i..8 * i + 8]);
        u64::from_le_bytes(w)
    };
    (word(1) == check(word(0))).then(|| word(0))
}

fn normal() {
    if let Err(code) = set_partition_mode(OperatingMode::Normal) {
        fail(format_args!("SET_PARTITION_MODE NORMAL: {}", code.name()));
    }
}

fn sampling_port(apex: &mut Services, name: &str) -> SamplingPortId {
    let Some(port) = apex.info().port(name) else {
        fail(format_args!("no port '{name}'"))
    };
    let PortKind::Sampling { refresh } = port.kind else {
        fail(format_args!("'{name}' is not a sampling port"))
    };
    let refresh = refresh.map_or(-1, |t| t.ns as i64);
    apex.create_sampling_port(name, port.max_message_size, port.direction, refresh)
        .unwrap_or_else(|c| fail(format_args!("CREATE_SAMPLING_PORT {name}: {}", c.name())))
}

fn queuing_port(apex: &mut Services, name: &str) -> QueuingPortId {
    let Some(port) = apex.info().port(name) else {
        fail(format_args!("no port '{name}'"))
    };
    let PortKind::Queuing {
        max_messages,
        discipline,
    } = port.kind
    else {
        fail(format_args!("'{name}' is not a queuing port"))
    };
    apex.create_queuing_port(
        name,
        port.max_message_size,
        max_messages,
        port.direction,
        discipline,
    )
    .unwrap_or_else(|c| fail(format_args!("CREATE_QUEUING_PORT {name}: {}", c.name())))
}

fn main(_boot: BootInfo) -> ! {
    let info =
        bm_runtime::info().unwrap_or_else(|e| fail(format_args!("information page refused: {e}")));
    let Some(samples) = info.port("samples") else {
        fail(format_args!("no port 'samples'"))
    };
    let apex = Apex::on_pkernel(info);
    match samples.direction {
        Direction::Source => hostile(apex),
        Direction::Destination => wary(apex),
    }
}

// ------------------------------------------------------------------------------------------
// wary: reads through the APEX services and reports.

/// What one read of `samples` gave, as far as printing goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SampleOutcome {
    Message(Validity),
    Code(ReturnCode),
    Garbage,
}

/// What one receive from `queue` gave, as far as printing goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum QueueOutcome {
    /// A message (each one is printed): its number, or `None` for garbage; its code.
    Message(Option<u64>, ReturnCode),
    Code(ReturnCode),
    Early,
}

fn wary(mut apex: Services) -> ! {
    if apex
        .info()
        .ports()
        .any(|p| p.max_message_size as usize > BUFFER)
    {
        fail(format_args!("a port takes more than {BUFFER} bytes"));
    }
    let samples = sampling_port(&mut apex, "samples");
    let queue = queuing_port(&mut apex, "queue");
    let progress = sampling_port(&mut apex, "progress");
    normal();
    println!("reading");
    let mut buffer = [0u8; BUFFER];
    let mut last_sample = None;
    let mut last_queue = None;
    let mut reads: u64 = 0;
    loop {
        reads += 1;
        let outcome = match apex.read_sampling_message(samples, &mut buffer) {
            Ok(m) => match number(&buffer[..m.length]) {
                Some(n) => {
                    let outcome = SampleOutcome::Message(m.validity);
                    if last_sample != Some(outcome) {
                        let validity = match m.validity {
                            Validity::Valid => "VALID",
                            Validity::Invalid => "INVALID",
                        };
                        println!(
                            "read {reads}: samples message {n} {validity} age {} ns",
                            m.age
                        );
                    }
                    outcome
                }
                None => {
                    if last_sample != Some(SampleOutcome::Garbage) {
                        println!("read {reads}: samples GARBAGE (length {})", m.length);
                    }
                    SampleOutcome::Garbage
                }
            },
            Err(code) => {
                if last_sample != Some(SampleOutcome::Code(code)) {
                    println!("read {reads}: samples {}", code.name());
                }
                SampleOutcome::Code(code)
            }
        };
        last_sample = Some(outcome);

        let t0 = apex.get_time();
        let result = apex.receive_queuing_message(queue, RECEIVE_TIMEOUT_NS, &mut buffer);
        let took = apex.get_time() - t0;
        let outcome = match result {
            Ok(m) => {
                let n = number(&buffer[..m.length]);
                let code = m.return_code();
                match n {
                    Some(n) => println!("read {reads}: queue message {n} {}", code.name()),
                    None => println!("read {reads}: queue GARBAGE (length {})", m.length),
                }
                QueueOutcome::Message(n, code)
            }
            Err(ReturnCode::TimedOut) if took < RECEIVE_TIMEOUT_NS => {
                println!("read {reads}: queue TIMED_OUT EARLY after {took} ns");
                QueueOutcome::Early
            }
            Err(code) => {
                if last_queue != Some(QueueOutcome::Code(code)) {
                    println!("read {reads}: queue {}", code.name());
                }
                QueueOutcome::Code(code)
            }
        };
        last_queue = Some(outcome);

        if reads.is_multiple_of(ALIVE_EVERY) {
            println!("read {reads}: alive");
        }
        if let Err(code) = apex.write_sampling_message(progress, &reads.to_le_bytes()) {
            fail(format_args!(
                "WRITE_SAMPLING_MESSAGE progress: {}",
                code.name()
            ));
        }
        let _ = apex.timed_wait(READ_PAUSE_NS);
    }
}

// ------------------------------------------------------------------------------------------
// hostile: corrupts its own buffers.

/// One 64-bit word of a buffer this partition writes, by raw address.
#[derive(Clone, Copy)]
struct Word(u64);

impl Word {
    fn get(self) -> u64 {
        // SAFETY: the address is inside a buffer the kernel maps read-write into this
        // partition for its whole life (its information page says so), 8-byte aligned; this
        // runtime keeps the MMU off, so the IPA is the address. Reading it has no side effect.
        unsafe { read_volatile(self.0 as *const u64) }
    }

    fn set(self, value: u64) {
        // SAFETY: as for `get`: a word of this partition's own channel buffer. Writing anything
        // there is what this test partition is for; the only other reader of the buffer is
        // the peer partition, which must cope, and the port library in this partition only
        // writes it between phases, after the word is restored.
        unsafe { write_volatile(self.0 as *mut u64, value) };
        // Make the store visible before the peer's progress is looked at.
        fence(Ordering::SeqCst);
    }
}

struct Hostile {
    apex: Services,
    samples: SamplingPortId,
    queue: QueuingPortId,
    progress: SamplingPortId,
    /// The `queue` port's index (its doorbell).
    queue_index: u64,
    /// Words of `samples`'s buffer: the sequence, and the slots' first words.
    sequence: Word,
    sampling_slot: [u64; 2],
    /// Words of `queue`'s buffers: `sent` (data) and `received` (acknowledge, read-only).
    sent: Word,
    received: Word,
    queue_slot_words: u64,
    queue_slots: u64,
    queue_data: u64,
    /// The last honest sampling message written.
    written: u64,
    /// Whether honest sampling messages are written while waiting.
    writing: bool,
}

impl Hostile {
    /// `wary`'s read count (0 before it published any).
    fn reads(&mut self) -> u64 {
        let mut buffer = [0u8; BUFFER];
        match self.apex.read_sampling_message(self.progress, &mut buffer) {
            Ok(m) if m.length == 8 => {
                let mut w = [0u8; 8];
                w.copy_from_slice(&buffer[..8]);
                u64::from_le_bytes(w)
            }
            _ => 0,
        }
    }

    fn write_honest(&mut self) {
        self.written += 1;
        if let Err(code) = self
            .apex
            .write_sampling_message(self.samples, &honest(self.written))
        {
            fail(format_args!("WRITE_SAMPLING_MESSAGE: {}", code.name()));
        }
    }

    /// Waits a millisecond, writing an honest message first if the phase allows it.
    fn tick(&mut self) {
        if self.writing {
            self.write_honest();
        }
        let _ = self.apex.timed_wait(WRITE_PERIOD_NS);
    }

    /// The first word of the sampling slot holding the current message.
    fn current_slot(&self) -> u64 {
        let complete = self.sequence.get() >> 1;
        self.sampling_slot[(complete & 1) as usize]
    }

    /// Runs a phase: `wary`'s count now is `c0`; waits at least `min_ns`, then until `wary` has
    /// read READS_PER_PHASE more times, calling `busy` meanwhile; prints the phase.
    fn phase(&mut self, name: &str, min_ns: i64, mut busy: impl FnMut(&mut Self)) {
        let c0 = self.reads();
        let until = self.apex.get_time() + min_ns;
        while self.apex.get_time() < until {
            busy(self);
        }
        let target = self.reads().max(c0) + READS_PER_PHASE;
        let c1 = loop {
            let c = self.reads();
            if c >= target {
                break c;
            }
            busy(self);
        };
        println!("phase {name}: reads {c0} to {c1}");
    }
}

fn hostile(mut apex: Services) -> ! {
    let Some(samples_port) = apex.info().port("samples") else {
        fail(format_args!("no port 'samples'"))
    };
    let Some(queue_port) = apex.info().port("queue") else {
        fail(format_args!("no port 'queue'"))
    };
    let Some(queue_index) = apex.info().ports().position(|p| p.name == "queue") else {
        fail(format_args!("no port 'queue'"))
    };
    let Some(ack) = queue_port.ack else {
        fail(format_args!("'queue' has no acknowledge buffer"))
    };
    let PortKind::Queuing { max_messages, .. } = queue_port.kind else {
        fail(format_args!("'queue' is not a queuing port"))
    };
    if (samples_port.max_message_size as usize) < MESSAGE
        || (queue_port.max_message_size as usize) < MESSAGE
    {
        fail(format_args!(
            "'samples' and 'queue' must take {MESSAGE} bytes"
        ));
    }
    let word = |base: u64, index: usize| Word(base + 8 * index as u64);
    let sampling_slot_words =
        (sampling::SLOT_HEADER as u64) + u64::from(samples_port.max_message_size).div_ceil(8);
    let samples_base = samples_port.data.ipa;
    let queue_data = queue_port.data.ipa;
    let samples = sampling_port(&mut apex, "samples");
    let queue = queuing_port(&mut apex, "queue");
    let progress = sampling_port(&mut apex, "progress");
    normal();
    let mut h = Hostile {
        apex,
        samples,
        queue,
        progress,
        queue_index: queue_index as u64,
        sequence: word(samples_base, sampling::SEQUENCE),
        sampling_slot: [
            samples_base + 8 * sampling::SLOTS as u64,
            samples_base + 8 * (sampling::SLOTS as u64 + sampling_slot_words),
        ],
        sent: word(queue_data, queuing::SENT),
        received: word(ack.ipa, queuing::RECEIVED),
        queue_slot_words: queuing::SLOT_HEADER as u64
            + u64::from(queue_port.max_message_size).div_ceil(8),
        queue_slots: u64::from(max_messages),
        queue_data,
        written: 0,
        writing: true,
    };
    println!("waiting for wary");
    while h.reads() == 0 {
        h.tick();
    }

    // Sampling.
    h.phase("honest", 0, Hostile::tick);
    h.writing = false;
    let sequence = h.sequence.get();
    println!("phase odd-sequence: last honest message {}", h.written);
    h.sequence.set(sequence | 1);
    h.phase("odd-sequence", HOLD_NS, Hostile::tick);
    h.sequence.set(sequence);
    for (name, offset, value) in [
        ("absurd-length", sampling::SLOT_LENGTH, 1u64 << 40),
        ("zero-length", sampling::SLOT_LENGTH, 0),
        ("future-timestamp", sampling::SLOT_TIMESTAMP, 1u64 << 63),
    ] {
        let target = Word(h.current_slot() + 8 * offset as u64);
        let saved = target.get();
        target.set(value);
        h.phase(name, 0, Hostile::tick);
        target.set(saved);
    }
    let mut racing = 1u64 << 40;
    h.phase("racing-sequence", 0, |h| {
        for _ in 0..256 {
            racing += 2;
            h.sequence.set(racing);
        }
    });
    h.sequence.set(sequence);
    h.writing = true;
    h.write_honest();
    println!("phase honest-again: first message {}", h.written);
    h.phase("honest-again", 0, Hostile::tick);

    // Queuing: `wary` has received nothing yet, and this side has sent nothing.
    let sent = h.sent.get();
    let received = h.received.get();
    h.sent.set(received.wrapping_add(1000));
    h.phase("queue-far-ahead", 0, Hostile::tick);
    h.sent.set(received.wrapping_sub(1));
    h.phase("queue-behind", 0, Hostile::tick);
    let slot = received % h.queue_slots;
    let length = Word(h.queue_data + 8 * (queuing::SLOTS as u64 + slot * h.queue_slot_words));
    let saved = length.get();
    length.set(1 << 40);
    h.sent.set(received.wrapping_add(1));
    h.phase("queue-absurd-length", 0, Hostile::tick);
    h.sent.set(sent);
    length.set(saved);
    h.phase("doorbell-storm", 0, |h| {
        h.write_honest();
        for _ in 0..1000 {
            let _ = doorbell(h.queue_index);
        }
    });
    for m in 1..=3 {
        if let Err(code) = h.apex.send_queuing_message(h.queue, &honest(m), 0) {
            fail(format_args!("SEND_QUEUING_MESSAGE {m}: {}", code.name()));
        }
    }
    h.phase("queue-honest", 0, Hostile::tick);
    h.phase("after", 0, Hostile::tick);
    println!("all phases done");
    loop {
        h.tick();
    }
}
