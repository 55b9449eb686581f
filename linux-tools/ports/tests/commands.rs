//! Every command and every error the host can reach, against an information page and channel
//! buffers in memory, with the peers played by apex-api's own protocol sides and the doorbell
//! lines by a fake GPIO character device.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use apex_api::info::{
    Access, Buffer, Criticality, Description, Direction, INFO_PAGE_IPA, INFO_PAGE_SIZE,
    PartitionKind, Port, PortKind, QueuingDiscipline, Region, RegionKind, Time,
};
use apex_api::ports::queuing::{self, QueuingReceiver, QueuingSender};
use apex_api::ports::sampling::{self, SamplingReader, SamplingWriter};
use apex_api::ports::{OwnBuffer, PeerBuffer};
use pkernel_ports::{
    DoorbellLine, EXIT_FAILED, Error, Platform, ReadOnlyMapping, ReadWriteMapping,
};

const HZ: u64 = 62_500_000;
/// One millisecond of the counter.
const MS: u64 = HZ / 1000;

const SPEED: u64 = 0x5000_0000; // sampling destination, 64 bytes, refresh 100 ms
const STATUS: u64 = 0x5000_1000; // sampling source, 32 bytes
const CMD: u64 = 0x5000_2000; // queuing source, 16 bytes, depth 2 (ack at CMD_ACK)
const CMD_ACK: u64 = 0x5000_3000;
const REPLIES: u64 = 0x5000_4000; // queuing destination, 64 bytes, depth 4 (ack at REPLIES_ACK)
const REPLIES_ACK: u64 = 0x5000_5000;

type Words = Rc<[AtomicU64]>;

fn words(bytes: u64) -> Words {
    (0..bytes / 8).map(|_| AtomicU64::new(0)).collect()
}

fn page(ipa: u64) -> Buffer {
    Buffer { ipa, size: 4096 }
}

/// The partition's ports: one of each kind and direction.
fn the_ports() -> [Port<'static>; 4] {
    [
        Port {
            name: "speed",
            kind: PortKind::Sampling {
                refresh: Some(Time {
                    ns: 100_000_000,
                    ticks: 100 * MS,
                }),
            },
            direction: Direction::Destination,
            max_message_size: 64,
            data: page(SPEED),
            ack: None,
        },
        Port {
            name: "status",
            kind: PortKind::Sampling { refresh: None },
            direction: Direction::Source,
            max_message_size: 32,
            data: page(STATUS),
            ack: None,
        },
        Port {
            name: "cmd",
            kind: PortKind::Queuing {
                max_messages: 2,
                discipline: QueuingDiscipline::Fifo,
            },
            direction: Direction::Source,
            max_message_size: 16,
            data: page(CMD),
            ack: Some(page(CMD_ACK)),
        },
        Port {
            name: "replies",
            kind: PortKind::Queuing {
                max_messages: 4,
                discipline: QueuingDiscipline::Fifo,
            },
            direction: Direction::Destination,
            max_message_size: 64,
            data: page(REPLIES),
            ack: Some(page(REPLIES_ACK)),
        },
    ]
}

/// The information page of Linux partition `linux` (id 2) with `ports`.
fn info_page(ports: &[Port<'_>]) -> [u8; INFO_PAGE_SIZE] {
    apex_api::info::encode(&Description {
        id: 2,
        name: "linux",
        kind: PartitionKind::Linux,
        criticality: Criticality::E,
        cores: &[2],
        pmu: false,
        counter_hz: HZ,
        time: None,
        regions: &[Region {
            name: "ram",
            ipa: 0x4000_0000,
            size: 0x1000_0000,
            kind: RegionKind::Ram,
            access: Access {
                read: true,
                write: true,
                execute: true,
            },
        }],
        ports,
    })
    .unwrap()
}

/// The partition's memory as `/dev/mem` shows it, its clock and doorbell.
struct Memory {
    /// Guest-physical address and words of everything mapped.
    regions: Vec<(u64, Words)>,
    /// What the tool mapped read-write.
    written: RefCell<Vec<u64>>,
    /// A mapping that fails, with this address.
    refuse: Option<u64>,
    now: Rc<Cell<u64>>,
    /// Doorbells rung (port indices).
    rung: Vec<usize>,
    ring_fails: bool,
    sleeps: u32,
    /// Called with the number of sleeps so far, after each sleep: a peer at work meanwhile.
    during_sleep: Option<Box<dyn FnMut(u32)>>,
    /// The doorbell lines.
    gpio: Rc<Gpio>,
}

/// A peer at work during a wait on a doorbell line: called with the wait's number.
type Peer = Box<dyn FnMut(usize, &Gpio)>;

/// The partition's doorbell lines, as the GPIO character device shows them, and the one a
/// receive requested.
struct Gpio {
    /// The ports that have a line (`None`: no GPIO chips at all, an older configuration).
    lines: Option<Vec<&'static str>>,
    /// The lines requested so far (port names).
    requested: RefCell<Vec<String>>,
    /// Lines requested and not released yet.
    held: Cell<u32>,
    /// Edges on the requested line that no wait has taken yet.
    events: Cell<u32>,
    /// Each wait's timeout.
    waits: RefCell<Vec<Duration>>,
    /// The wait (1, 2, ...) from which waiting fails.
    fails_from: Option<usize>,
    /// Called with the wait's number when a wait starts: a peer at work meanwhile.
    during_wait: RefCell<Option<Peer>>,
    now: Rc<Cell<u64>>,
}

impl Gpio {
    /// The doorbell rings: an edge on the line.
    fn ring(&self) {
        self.events.set(self.events.get() + 1);
    }
}

/// A requested doorbell line.
struct Line(Rc<Gpio>);

impl DoorbellLine for Line {
    fn wait(&mut self, timeout: Duration) -> Result<(), String> {
        let gpio = &self.0;
        gpio.waits.borrow_mut().push(timeout);
        let n = gpio.waits.borrow().len();
        if gpio.fails_from.is_some_and(|from| n >= from) {
            return Err("line 3 of /dev/gpiochip0 reports an error (poll events 0x10)".to_owned());
        }
        if let Some(peer) = gpio.during_wait.borrow_mut().as_mut() {
            peer(n, gpio);
        }
        if gpio.events.get() > 0 {
            // An edge: the interrupt wakes it at once (10 us later), and it takes them all.
            gpio.events.set(0);
            gpio.now.set(gpio.now.get() + HZ / 100_000);
        } else {
            // None: the whole timeout passes.
            let ticks = (timeout.as_nanos() * u128::from(HZ)).div_ceil(1_000_000_000);
            gpio.now.set(gpio.now.get() + u64::try_from(ticks).unwrap());
        }
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.0.held.set(self.0.held.get() - 1);
    }
}

impl Memory {
    fn with_page(page: &[u8; INFO_PAGE_SIZE]) -> Self {
        let info = words(INFO_PAGE_SIZE as u64);
        for (word, bytes) in info.iter().zip(page.chunks_exact(8)) {
            word.store(
                u64::from_le_bytes(bytes.try_into().unwrap()),
                Ordering::Relaxed,
            );
        }
        let mut regions = vec![(INFO_PAGE_IPA, info)];
        for ipa in [SPEED, STATUS, CMD, CMD_ACK, REPLIES, REPLIES_ACK] {
            regions.push((ipa, words(4096)));
        }
        let now = Rc::new(Cell::new(1_000 * MS));
        Self {
            regions,
            written: RefCell::default(),
            refuse: None,
            now: now.clone(),
            rung: Vec::new(),
            ring_fails: false,
            sleeps: 0,
            during_sleep: None,
            gpio: Rc::new(Gpio {
                lines: None,
                requested: RefCell::default(),
                held: Cell::new(0),
                events: Cell::new(0),
                waits: RefCell::default(),
                fails_from: None,
                during_wait: RefCell::default(),
                now,
            }),
        }
    }

    /// The partition without doorbell lines (no GPIO chips).
    fn new() -> Self {
        Self::with_page(&info_page(&the_ports()))
    }

    /// The partition with a doorbell line for each of `ports`, whose waits fail from wait
    /// `fails_from` on.
    fn with_lines(ports: &[&'static str], fails_from: Option<usize>) -> Self {
        let mut memory = Self::new();
        let gpio = Rc::get_mut(&mut memory.gpio).unwrap();
        gpio.lines = Some(ports.to_vec());
        gpio.fails_from = fails_from;
        memory
    }

    fn at(&self, ipa: u64) -> Words {
        self.regions.iter().find(|r| r.0 == ipa).unwrap().1.clone()
    }

    fn map(&self, ipa: u64, size: u64) -> Result<Words, String> {
        if self.refuse == Some(ipa) {
            return Err(format!(
                "cannot map {size} bytes at {ipa:#x} from /dev/mem: refused"
            ));
        }
        let region = self
            .regions
            .iter()
            .find(|r| r.0 == ipa)
            .ok_or_else(|| format!("nothing at {ipa:#x}"))?;
        assert_eq!(region.1.len() as u64 * 8, size, "mapped with another size");
        Ok(region.1.clone())
    }

    fn advance(&self, ticks: u64) {
        self.now.set(self.now.get() + ticks);
    }
}

struct ReadOnly(Words);
impl ReadOnlyMapping for ReadOnly {
    fn words(&self) -> PeerBuffer<'_> {
        PeerBuffer::new(&self.0)
    }
}

struct ReadWrite(Words);
impl ReadWriteMapping for ReadWrite {
    fn words(&self) -> OwnBuffer<'_> {
        OwnBuffer::new(&self.0)
    }
}

impl Platform for Memory {
    type ReadOnly = ReadOnly;
    type ReadWrite = ReadWrite;
    type Line = Line;

    fn map_read_only(&mut self, ipa: u64, size: u64) -> Result<ReadOnly, String> {
        self.map(ipa, size).map(ReadOnly)
    }

    fn map_read_write(&mut self, ipa: u64, size: u64) -> Result<ReadWrite, String> {
        self.written.borrow_mut().push(ipa);
        self.map(ipa, size).map(ReadWrite)
    }

    fn now(&self) -> u64 {
        self.now.get()
    }

    fn ring(&mut self, port: usize) -> Result<(), String> {
        if self.ring_fails {
            return Err("no doorbell page".to_owned());
        }
        self.rung.push(port);
        Ok(())
    }

    fn doorbell_line(&mut self, port: &str) -> Result<Line, String> {
        match &self.gpio.lines {
            None => Err("no GPIO chips in /dev".to_owned()),
            Some(lines) if lines.contains(&port) => {
                self.gpio.requested.borrow_mut().push(port.to_owned());
                self.gpio.held.set(self.gpio.held.get() + 1);
                Ok(Line(self.gpio.clone()))
            }
            Some(_) => Err("no GPIO line of that name on /dev/gpiochip0".to_owned()),
        }
    }

    fn sleep(&mut self, duration: Duration) {
        assert_eq!(duration, pkernel_ports::POLL_INTERVAL);
        self.advance(MS);
        self.sleeps += 1;
        if let Some(peer) = &mut self.during_sleep {
            peer(self.sleeps);
        }
    }
}

/// What a command printed, and how it ended.
struct Outcome {
    result: Result<(), Error>,
    out: String,
    warnings: String,
}

impl Outcome {
    /// The error message, as `ports` prints it (after `ports: `).
    fn error(&self) -> String {
        match &self.result {
            Err(e) => {
                assert_eq!(e.exit_code(), EXIT_FAILED, "{e}");
                e.to_string()
            }
            Ok(()) => panic!("succeeded: {}", self.out),
        }
    }

    fn ok(&self) -> &str {
        if let Err(e) = &self.result {
            panic!("failed: {e}");
        }
        &self.out
    }
}

fn ports_cmd(memory: &mut Memory, args: &[&[u8]]) -> Outcome {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    let command = pkernel_ports::parse(&args).unwrap();
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    let result = pkernel_ports::run(&command, memory, &mut out, &mut warnings);
    Outcome {
        result,
        out: String::from_utf8(out).unwrap(),
        warnings: String::from_utf8(warnings).unwrap(),
    }
}

/// `ports` with text arguments.
fn ports(memory: &mut Memory, args: &[&str]) -> Outcome {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    ports_cmd(memory, &args)
}

// Peers, played by apex-api's protocol sides over the same words.

fn publish(memory: &Memory, message: &[u8], timestamp: u64) {
    let speed = memory.at(SPEED);
    let mut writer = SamplingWriter::new(OwnBuffer::new(&speed), 64).unwrap();
    writer.write(message, timestamp).unwrap();
}

fn reply(memory: &Memory, message: &[u8]) -> Result<(), queuing::SendError> {
    let (data, ack) = (memory.at(REPLIES), memory.at(REPLIES_ACK));
    let mut sender =
        QueuingSender::new(OwnBuffer::new(&data), PeerBuffer::new(&ack), 64, 4).unwrap();
    sender.send(message)
}

/// The peer at the other end of `replies` sends `message` (which fits) and, as apex-api's
/// services do, rings the receiver's doorbell if the receiver said it waits.
fn reply_and_ring(data: &Words, ack: &Words, gpio: &Gpio, message: &[u8]) {
    let mut sender = QueuingSender::new(OwnBuffer::new(data), PeerBuffer::new(ack), 64, 4).unwrap();
    sender.send(message).unwrap();
    if sender.receiver_waiting() {
        gpio.ring();
    }
}

fn receiver_waiting(memory: &Memory) -> u64 {
    memory.at(REPLIES_ACK)[queuing::RECEIVER_WAITING].load(Ordering::Relaxed)
}

fn set_replies_sender_waiting(memory: &Memory) {
    let (data, ack) = (memory.at(REPLIES), memory.at(REPLIES_ACK));
    let mut sender =
        QueuingSender::new(OwnBuffer::new(&data), PeerBuffer::new(&ack), 64, 4).unwrap();
    sender.set_waiting(true);
}

/// What the peer at the other end of `cmd` receives: the messages, and whether the first
/// came with an overflow.
fn take_cmd(memory: &Memory) -> (Vec<String>, bool) {
    let (data, ack) = (memory.at(CMD), memory.at(CMD_ACK));
    let mut receiver =
        QueuingReceiver::new(PeerBuffer::new(&data), OwnBuffer::new(&ack), 16, 2).unwrap();
    let (mut messages, mut overflow) = (Vec::new(), false);
    let mut buffer = [0u8; 16];
    while let Ok(received) = receiver.receive(&mut buffer) {
        overflow |= received.overflow;
        messages.push(String::from_utf8(buffer[..received.length].to_vec()).unwrap());
    }
    (messages, overflow)
}

fn status_seen(memory: &Memory) -> Result<(Vec<u8>, u64), sampling::ReadError> {
    let status = memory.at(STATUS);
    let reader = SamplingReader::new(PeerBuffer::new(&status), 32, u64::MAX).unwrap();
    let mut buffer = [0u8; 32];
    let sample = reader.read(&mut buffer, || memory.now.get())?;
    Ok((buffer[..sample.length].to_vec(), sample.timestamp))
}

#[test]
fn help_needs_no_partition() {
    let mut memory = Memory::new();
    memory.regions.clear();
    let out = ports(&mut memory, &["help"]);
    assert!(out.ok().starts_with("usage: ports <command> [arguments]\n"));
    assert!(out.ok().contains("receive NAME [--timeout MS]"));
}

#[test]
fn list_shows_every_port_in_page_order() {
    let mut memory = Memory::new();
    let out = ports(&mut memory, &["list"]);
    assert_eq!(
        out.ok(),
        "partition 'linux' (id 2): 4 ports, counter 62500000 Hz\n\
         #  NAME     KIND      DIRECTION    MAX  DEPTH/REFRESH   BUFFERS\n\
         0  speed    sampling  destination  64   refresh 100 ms  data 0x50000000 (4096 bytes)\n\
         1  status   sampling  source       32   no refresh      data 0x50001000 (4096 bytes)\n\
         2  cmd      queuing   source       16   depth 2         data 0x50002000 (4096 bytes), ack 0x50003000 (4096 bytes)\n\
         3  replies  queuing   destination  64   depth 4         data 0x50004000 (4096 bytes), ack 0x50005000 (4096 bytes)\n"
    );
    assert!(memory.written.borrow().is_empty(), "list writes nothing");
}

#[test]
fn a_partition_without_ports_says_so() {
    let mut memory = Memory::with_page(&info_page(&[]));
    assert_eq!(
        ports(&mut memory, &["list"]).ok(),
        "partition 'linux' (id 2): 0 ports, counter 62500000 Hz\n"
    );
    assert_eq!(
        ports(&mut memory, &["read", "speed"]).error(),
        "no port 'speed': this partition has no ports"
    );
}

#[test]
fn read_shows_the_message_its_age_and_validity() {
    let mut memory = Memory::new();
    assert_eq!(
        ports(&mut memory, &["read", "speed"]).error(),
        "port 'speed': no message has been written yet"
    );
    let written = memory.now.get();
    publish(&memory, b"frame 1 speed 42", written);
    memory.advance(MS + MS / 2);
    assert_eq!(
        ports(&mut memory, &["read", "speed"]).ok(),
        "frame 1 speed 42\nage 1500 us, valid\n"
    );
    // Older than the refresh period (100 ms).
    memory.advance(100 * MS);
    assert_eq!(
        ports(&mut memory, &["read", "speed"]).ok(),
        "frame 1 speed 42\nage 101500 us, invalid (older than its refresh period, 100 ms)\n"
    );
    // Not text: in hexadecimal.
    publish(&memory, &[0, 1, 0xfe], memory.now.get());
    assert_eq!(
        ports(&mut memory, &["read", "speed"]).ok(),
        "(3 bytes, not text) 00 01 fe\nage 0 us, valid\n"
    );
    assert!(
        memory.written.borrow().is_empty(),
        "a reader writes nothing"
    );
}

#[test]
fn write_publishes_with_the_counter_as_timestamp() {
    let mut memory = Memory::new();
    assert_eq!(
        ports(&mut memory, &["write", "status", "all good"]).ok(),
        "wrote 8 bytes to 'status'\n"
    );
    assert_eq!(
        status_seen(&memory),
        Ok((b"all good".to_vec(), memory.now.get()))
    );
    // A second write continues from the sequence the buffer holds.
    memory.advance(MS);
    ports(&mut memory, &["write", "status", "still good"]).ok();
    assert_eq!(
        status_seen(&memory),
        Ok((b"still good".to_vec(), memory.now.get()))
    );
    assert_eq!(*memory.written.borrow(), [STATUS, STATUS]);
}

#[test]
fn write_refuses_empty_and_long_messages_before_mapping_anything() {
    let mut memory = Memory::new();
    assert_eq!(
        ports(&mut memory, &["write", "status", ""]).error(),
        "port 'status': a message has at least 1 byte"
    );
    assert_eq!(
        ports(&mut memory, &["write", "status", &"x".repeat(33)]).error(),
        "port 'status': the message is 33 bytes, the port takes at most 32"
    );
    assert_eq!(
        ports(&mut memory, &["send", "cmd", ""]).error(),
        "port 'cmd': a message has at least 1 byte"
    );
    assert_eq!(
        ports(&mut memory, &["send", "cmd", &"x".repeat(17)]).error(),
        "port 'cmd': the message is 17 bytes, the port takes at most 16"
    );
    assert!(memory.written.borrow().is_empty());
    assert_eq!(status_seen(&memory), Err(sampling::ReadError::Empty));
    assert_eq!(take_cmd(&memory), (vec![], false));
}

#[test]
fn send_queues_until_full_and_the_receiver_hears_of_the_overflow() {
    let mut memory = Memory::new();
    assert_eq!(
        ports(&mut memory, &["send", "cmd", "go"]).ok(),
        "sent 2 bytes to 'cmd' (queue: 1 of 2)\n"
    );
    assert_eq!(
        ports(&mut memory, &["send", "cmd", "stop"]).ok(),
        "sent 4 bytes to 'cmd' (queue: 2 of 2)\n"
    );
    assert_eq!(
        ports(&mut memory, &["send", "cmd", "lost"]).error(),
        "port 'cmd': the queue is full (2 messages); the message was not sent (the receiver's \
         next message reports the overflow)"
    );
    assert_eq!(take_cmd(&memory), (vec!["go".into(), "stop".into()], true));
    assert!(memory.rung.is_empty(), "nobody waited");
    // Any bytes go, as they are.
    ports_cmd(&mut memory, &[b"send", b"cmd", &[0xff, 0]]).ok();
    let (data, ack) = (memory.at(CMD), memory.at(CMD_ACK));
    let mut receiver =
        QueuingReceiver::new(PeerBuffer::new(&data), OwnBuffer::new(&ack), 16, 2).unwrap();
    let mut buffer = [0u8; 16];
    let received = receiver.receive(&mut buffer).unwrap();
    assert_eq!(buffer[..received.length], [0xff, 0]);
    assert_eq!(
        *memory.written.borrow(),
        [CMD; 4],
        "only its own data buffer"
    );
}

#[test]
fn send_rings_a_waiting_receiver() {
    let mut memory = Memory::new();
    let (data, ack) = (memory.at(CMD), memory.at(CMD_ACK));
    QueuingReceiver::new(PeerBuffer::new(&data), OwnBuffer::new(&ack), 16, 2)
        .unwrap()
        .set_waiting(true);
    assert_eq!(
        ports(&mut memory, &["send", "cmd", "wake"]).ok(),
        "sent 4 bytes to 'cmd' (queue: 1 of 2); its receiver was waiting: doorbell rung\n"
    );
    assert_eq!(memory.rung, [2], "cmd is port 2");
    // A doorbell that cannot be rung: the message went all the same.
    memory.ring_fails = true;
    let out = ports(&mut memory, &["send", "cmd", "again"]);
    assert!(
        out.ok()
            .starts_with("sent 5 bytes to 'cmd' (queue: 2 of 2)")
    );
    assert_eq!(
        out.warnings,
        "ports: warning: port 'cmd': its peer's doorbell could not be rung (no doorbell page); \
         the peer sees the change when it next looks\n"
    );
}

#[test]
fn receive_takes_messages_in_order_and_reports_an_overflow_once() {
    let mut memory = Memory::new();
    assert_eq!(
        ports(&mut memory, &["receive", "replies"]).error(),
        "port 'replies': no message in the queue"
    );
    for n in 1..=4 {
        reply(&memory, format!("reply {n}").as_bytes()).unwrap();
    }
    assert_eq!(
        reply(&memory, b"reply 5"),
        Err(queuing::SendError::Full),
        "an overflow"
    );
    assert_eq!(
        ports(&mut memory, &["receive", "replies"]).ok(),
        "reply 1\noverflow: the sender had messages refused (queue full) since the last receive \
         (ARINC 653: INVALID_CONFIG)\n"
    );
    for n in 2..=4 {
        assert_eq!(
            ports(&mut memory, &["receive", "replies"]).ok(),
            format!("reply {n}\n")
        );
    }
    assert!(ports(&mut memory, &["receive", "replies"]).result.is_err());
    assert!(memory.rung.is_empty(), "the sender never waited");
    assert_eq!(memory.sleeps, 0, "no timeout, no wait");
    assert!(
        memory
            .written
            .borrow()
            .iter()
            .all(|ipa| *ipa == REPLIES_ACK)
    );
}

#[test]
fn receive_with_a_timeout_polls_until_a_message_or_the_timeout() {
    let mut memory = Memory::new();
    assert_eq!(
        ports(&mut memory, &["receive", "replies", "--timeout", "5"]).error(),
        "port 'replies': no message within 5 ms"
    );
    assert_eq!(memory.sleeps, 5, "one look per millisecond");
    // A message that comes while it polls.
    memory.sleeps = 0;
    let (data, ack) = (memory.at(REPLIES), memory.at(REPLIES_ACK));
    memory.during_sleep = Some(Box::new(move |sleeps| {
        if sleeps == 3 {
            QueuingSender::new(OwnBuffer::new(&data), PeerBuffer::new(&ack), 64, 4)
                .unwrap()
                .send(b"late")
                .unwrap();
        }
    }));
    assert_eq!(
        ports(&mut memory, &["receive", "replies", "--timeout", "1000"]).ok(),
        "late\n"
    );
    assert_eq!(memory.sleeps, 3);
    // It never says it waits: no doorbell could wake it, so none is rung for it.
    assert_eq!(receiver_waiting(&memory), 0);
}

#[test]
fn receive_without_a_doorbell_line_polls_and_says_so_on_stderr_only() {
    // No GPIO chips (an older configuration).
    let mut memory = Memory::new();
    reply(&memory, b"there").unwrap();
    let out = ports(&mut memory, &["receive", "replies", "--timeout", "10"]);
    assert_eq!(out.ok(), "there\n");
    assert_eq!(
        out.warnings, "",
        "a message already there needs no wait, no line"
    );
    let out = ports(&mut memory, &["receive", "replies", "--timeout", "2"]);
    assert_eq!(out.error(), "port 'replies': no message within 2 ms");
    assert_eq!(
        out.warnings,
        "ports: no doorbell line for 'replies' (no GPIO chips in /dev): polling\n"
    );
    assert_eq!(memory.sleeps, 2);
    // GPIO chips, but no line for this port.
    let mut memory = Memory::with_lines(&["cmd"], None);
    let (data, ack) = (memory.at(REPLIES), memory.at(REPLIES_ACK));
    let gpio = memory.gpio.clone();
    memory.during_sleep = Some(Box::new(move |sleeps| {
        if sleeps == 2 {
            reply_and_ring(&data, &ack, &gpio, b"polled");
        }
    }));
    let out = ports(&mut memory, &["receive", "replies", "--timeout", "1000"]);
    assert_eq!(out.ok(), "polled\n", "nothing more on stdout");
    assert_eq!(
        out.warnings,
        "ports: no doorbell line for 'replies' (no GPIO line of that name on /dev/gpiochip0): \
         polling\n"
    );
    assert_eq!(memory.sleeps, 2);
    assert!(memory.gpio.requested.borrow().is_empty());
    assert_eq!(memory.gpio.events.get(), 0, "never said it waits: not rung");
}

#[test]
fn receive_waits_on_the_doorbell_line_and_a_message_wakes_it_at_once() {
    let mut memory = Memory::with_lines(&["cmd", "replies"], None);
    let (data, ack) = (memory.at(REPLIES), memory.at(REPLIES_ACK));
    memory
        .gpio
        .during_wait
        .replace(Some(Box::new(move |wait, gpio| {
            assert_eq!(wait, 1, "one wait: the message's doorbell ends it");
            reply_and_ring(&data, &ack, gpio, b"prompt");
        })));
    let start = memory.now.get();
    let out = ports(&mut memory, &["receive", "replies", "--timeout", "1000"]);
    assert_eq!(out.ok(), "prompt\n");
    assert_eq!(out.warnings, "");
    assert_eq!(*memory.gpio.requested.borrow(), ["replies"]);
    assert_eq!(
        *memory.gpio.waits.borrow(),
        [Duration::from_secs(1)],
        "one wait, for the whole timeout"
    );
    assert_eq!(memory.sleeps, 0, "no polling");
    assert!(
        memory.now.get() - start < MS,
        "woken at once, not at the timeout"
    );
    assert_eq!(
        memory.gpio.events.get(),
        0,
        "the sender rang: it saw the flag"
    );
    assert_eq!(receiver_waiting(&memory), 0, "no longer waiting");
    assert_eq!(memory.gpio.held.get(), 0, "the line is released");
    assert!(memory.rung.is_empty(), "its sender does not wait");
}

#[test]
fn receive_on_a_doorbell_line_times_out_with_the_usual_error() {
    let mut memory = Memory::with_lines(&["replies"], None);
    let (data, ack) = (memory.at(REPLIES), memory.at(REPLIES_ACK));
    let waiting_seen = Rc::new(Cell::new(u64::MAX));
    let seen = waiting_seen.clone();
    memory.gpio.during_wait.replace(Some(Box::new(move |_, _| {
        seen.set(ack[queuing::RECEIVER_WAITING].load(Ordering::Relaxed));
        let _ = &data;
    })));
    let out = ports(&mut memory, &["receive", "replies", "--timeout", "5"]);
    assert_eq!(out.error(), "port 'replies': no message within 5 ms");
    assert_eq!(out.warnings, "");
    assert_eq!(*memory.gpio.waits.borrow(), [Duration::from_millis(5)]);
    assert_eq!(memory.sleeps, 0);
    assert_eq!(waiting_seen.get(), 1, "it said it waits while it waited");
    assert_eq!(
        receiver_waiting(&memory),
        0,
        "and no longer once it gave up"
    );
    assert_eq!(memory.gpio.held.get(), 0);
}

#[test]
fn a_stale_doorbell_only_makes_receive_look_again() {
    let mut memory = Memory::with_lines(&["replies"], None);
    let (data, ack) = (memory.at(REPLIES), memory.at(REPLIES_ACK));
    memory
        .gpio
        .during_wait
        .replace(Some(Box::new(move |wait, gpio| match wait {
            // A doorbell with no message behind it (rung for one already taken, or a peer
            // that rings for nothing).
            1 => gpio.ring(),
            2 => reply_and_ring(&data, &ack, gpio, b"real"),
            _ => panic!("wait {wait}: the message's doorbell was missed"),
        })));
    let start = memory.now.get();
    let out = ports(&mut memory, &["receive", "replies", "--timeout", "1000"]);
    assert_eq!(out.ok(), "real\n");
    assert!(
        memory.now.get() - start < MS,
        "woken by the message's doorbell"
    );
    let waits = memory.gpio.waits.borrow();
    assert_eq!(waits.len(), 2);
    assert!(
        waits[1] < waits[0] && waits[1] > Duration::from_millis(999),
        "the second wait is for what is left of the timeout: {waits:?}"
    );
    assert_eq!(memory.sleeps, 0);
}

#[test]
fn a_receive_that_need_not_wait_opens_no_line() {
    let mut memory = Memory::with_lines(&["replies"], None);
    // No timeout: one look.
    assert_eq!(
        ports(&mut memory, &["receive", "replies"]).error(),
        "port 'replies': no message in the queue"
    );
    assert_eq!(
        ports(&mut memory, &["receive", "replies", "--timeout", "0"]).error(),
        "port 'replies': no message in the queue"
    );
    // A message already there.
    reply(&memory, b"ready").unwrap();
    assert_eq!(
        ports(&mut memory, &["receive", "replies", "--timeout", "100"]).ok(),
        "ready\n"
    );
    // A corrupt queue is not an empty one.
    memory.at(REPLIES)[queuing::SENT].store(9, Ordering::Relaxed);
    assert!(
        ports(&mut memory, &["receive", "replies", "--timeout", "100"])
            .error()
            .contains("corrupt")
    );
    assert!(memory.gpio.requested.borrow().is_empty());
    assert!(memory.gpio.waits.borrow().is_empty());
    assert_eq!(memory.sleeps, 0);
    assert_eq!(receiver_waiting(&memory), 0);
}

#[test]
fn a_doorbell_line_that_fails_falls_back_to_polling() {
    let mut memory = Memory::with_lines(&["replies"], Some(1));
    let (data, ack) = (memory.at(REPLIES), memory.at(REPLIES_ACK));
    let gpio = memory.gpio.clone();
    memory.during_sleep = Some(Box::new(move |sleeps| {
        assert_eq!(
            ack[queuing::RECEIVER_WAITING].load(Ordering::Relaxed),
            0,
            "polling, it no longer says it waits"
        );
        if sleeps == 4 {
            reply_and_ring(&data, &ack, &gpio, b"polled");
        }
    }));
    let out = ports(&mut memory, &["receive", "replies", "--timeout", "1000"]);
    assert_eq!(out.ok(), "polled\n");
    assert_eq!(
        out.warnings,
        "ports: cannot wait on the doorbell line of 'replies' (line 3 of /dev/gpiochip0 reports \
         an error (poll events 0x10)): polling\n"
    );
    assert_eq!(memory.sleeps, 4);
    assert_eq!(memory.gpio.waits.borrow().len(), 1);
    assert_eq!(memory.gpio.held.get(), 0);
}

#[test]
fn receive_and_clear_ring_a_waiting_sender() {
    let mut memory = Memory::new();
    reply(&memory, b"one").unwrap();
    reply(&memory, b"two").unwrap();
    set_replies_sender_waiting(&memory);
    assert_eq!(ports(&mut memory, &["receive", "replies"]).ok(), "one\n");
    assert_eq!(memory.rung, [3], "replies is port 3");
    assert_eq!(
        ports(&mut memory, &["clear", "replies"]).ok(),
        "cleared 'replies': 1 messages discarded\n"
    );
    assert_eq!(memory.rung, [3, 3]);
    assert!(ports(&mut memory, &["receive", "replies"]).result.is_err());
}

#[test]
fn clear_discards_the_queue_and_its_overflow() {
    let mut memory = Memory::new();
    for n in 0..5 {
        let _ = reply(&memory, format!("m{n}").as_bytes());
    }
    assert_eq!(
        ports(&mut memory, &["clear", "replies"]).ok(),
        "cleared 'replies': 4 messages discarded\n"
    );
    assert!(memory.rung.is_empty());
    reply(&memory, b"fresh").unwrap();
    assert_eq!(
        ports(&mut memory, &["receive", "replies"]).ok(),
        "fresh\n",
        "no overflow reported after a clear"
    );
}

#[test]
fn each_command_refuses_a_port_of_another_kind_or_direction() {
    let mut memory = Memory::new();
    let cases: [(&[&str], &str); 6] = [
        (
            &["read", "cmd"],
            "port 'cmd' is a queuing source, not a sampling destination (use 'ports send cmd')",
        ),
        (
            &["read", "status"],
            "port 'status' is a sampling source, not a sampling destination (use 'ports write status')",
        ),
        (
            &["write", "speed", "x"],
            "port 'speed' is a sampling destination, not a sampling source (use 'ports read speed')",
        ),
        (
            &["send", "replies", "x"],
            "port 'replies' is a queuing destination, not a queuing source (use 'ports receive replies')",
        ),
        (
            &["receive", "cmd"],
            "port 'cmd' is a queuing source, not a queuing destination (use 'ports send cmd')",
        ),
        (
            &["clear", "status"],
            "port 'status' is a sampling source, not a queuing destination (use 'ports write status')",
        ),
    ];
    for (args, message) in cases {
        assert_eq!(ports(&mut memory, args).error(), message, "{args:?}");
    }
    assert_eq!(
        ports(&mut memory, &["read", "nope"]).error(),
        "no port 'nope' in this partition; its ports: speed, status, cmd, replies"
    );
    assert!(memory.written.borrow().is_empty());
}

#[test]
fn a_corrupt_sampling_buffer_is_an_error_not_a_message() {
    let mut memory = Memory::new();
    let speed = memory.at(SPEED);
    // A length longer than the port's maximum, in the slot of message 1 (slot 1: message
    // `m` goes to slot `m % 2`, each slot a header and 8 words of message).
    publish(&memory, b"ok", memory.now.get());
    let slot_1 = sampling::SLOTS + sampling::SLOT_HEADER + 64 / 8;
    speed[slot_1 + sampling::SLOT_LENGTH].store(1000, Ordering::Relaxed);
    let corrupt = "port 'speed': the peer's buffer is corrupt (a message length out of range, or \
                   a timestamp in the future); the peer partition misbehaves";
    assert_eq!(ports(&mut memory, &["read", "speed"]).error(), corrupt);
    // A timestamp after now.
    publish(&memory, b"from the future", memory.now.get() + 10 * MS);
    assert_eq!(ports(&mut memory, &["read", "speed"]).error(), corrupt);
}

#[test]
fn corrupt_queue_counters_are_errors_and_clear_still_works() {
    let mut memory = Memory::new();
    // The receiver of cmd claims more received than sent.
    memory.at(CMD_ACK)[queuing::RECEIVED].store(7, Ordering::Relaxed);
    assert_eq!(
        ports(&mut memory, &["send", "cmd", "x"]).error(),
        "port 'cmd': the peer's buffer is corrupt (its acknowledge buffer counts more messages \
         received than were sent); the peer partition misbehaves"
    );
    assert_eq!(take_cmd(&memory).0, Vec::<String>::new());
    // The sender of replies claims more queued than the queue holds.
    let replies = memory.at(REPLIES);
    replies[queuing::SENT].store(9, Ordering::Relaxed);
    let corrupt = "port 'replies': the peer's buffer is corrupt (its data buffer holds more \
                   messages than the queue has slots, or a message length out of range); the \
                   peer partition misbehaves";
    assert_eq!(ports(&mut memory, &["receive", "replies"]).error(), corrupt);
    assert_eq!(
        ports(&mut memory, &["receive", "replies", "--timeout", "10"]).error(),
        corrupt,
        "corrupt is not empty: no waiting"
    );
    assert_eq!(memory.sleeps, 0);
    assert_eq!(
        ports(&mut memory, &["clear", "replies"]).ok(),
        "cleared 'replies'\n"
    );
    // One message with a length of 0.
    replies[queuing::SENT].store(10, Ordering::Relaxed);
    assert_eq!(ports(&mut memory, &["receive", "replies"]).error(), corrupt);
}

#[test]
fn no_or_a_bad_information_page_says_ports_needs_pkernel() {
    let mut memory = Memory::new();
    memory.refuse = Some(INFO_PAGE_IPA);
    let error = ports(&mut memory, &["list"]).error();
    assert!(
        error.starts_with(
            "cannot read this partition's information page: cannot map 4096 bytes at 0x7ffffff000"
        ),
        "{error}"
    );
    assert!(error.ends_with("(ports runs only in a Linux partition of pkernel)"));
    let mut memory = Memory::with_page(&[0; INFO_PAGE_SIZE]);
    assert_eq!(
        ports(&mut memory, &["list"]).error(),
        "not an information page (magic 0x0000000000000000) at 0x7ffffff000 (ports runs only in \
         a Linux partition of pkernel)"
    );
}

#[test]
fn a_buffer_that_cannot_be_mapped_names_its_port() {
    let mut memory = Memory::new();
    memory.refuse = Some(REPLIES_ACK);
    assert_eq!(
        ports(&mut memory, &["receive", "replies"]).error(),
        "port 'replies': cannot map 4096 bytes at 0x50005000 from /dev/mem: refused"
    );
    memory.refuse = Some(SPEED);
    assert!(
        ports(&mut memory, &["read", "speed"])
            .error()
            .starts_with("port 'speed': cannot map")
    );
}

#[test]
fn buffers_too_small_for_the_port_are_refused() {
    // One page holds a message of 4096 bytes, not the two slots a sampling port needs; the
    // page says so all the same (it only asks for one message).
    let mut big = the_ports();
    big[0].max_message_size = 4096;
    let mut memory = Memory::with_page(&info_page(&big));
    assert_eq!(
        ports(&mut memory, &["read", "speed"]).error(),
        "port 'speed': the information page does not describe a usable channel: a buffer is \
         smaller than its sizes need"
    );
}

#[test]
fn a_failing_output_is_an_error() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("pipe closed"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut memory = Memory::new();
    let result = pkernel_ports::run(
        &pkernel_ports::Command::List,
        &mut memory,
        &mut Broken,
        &mut Vec::new(),
    );
    assert_eq!(
        result.unwrap_err().to_string(),
        "cannot write the output: pipe closed"
    );
}

#[test]
fn a_page_with_a_queuing_port_needs_its_sizes_in_range() {
    // Depth beyond what the protocol takes.
    let mut deep = the_ports();
    deep[3].kind = PortKind::Queuing {
        max_messages: 2000,
        discipline: QueuingDiscipline::Fifo,
    };
    let mut memory = Memory::with_page(&info_page(&deep));
    assert_eq!(
        ports(&mut memory, &["receive", "replies"]).error(),
        "port 'replies': the information page does not describe a usable channel: queue depth \
         out of range"
    );
}
