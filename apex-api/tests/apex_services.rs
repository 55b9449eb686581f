//! The APEX services (`apex_api::apex`) between two partitions on the host: a source
//! partition and a destination partition built from their own information pages, sharing
//! channel buffers, with a fake kernel (a shared clock, recorded doorbells, waits that
//! advance the clock). Every ARINC 653 outcome the services document is asserted.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;

use apex_api::ReturnCode;
use apex_api::apex::{
    Apex, Buffers, INFINITE_TIME_VALUE, Kernel, QueuedMessage, SamplingPortStatus,
};
use apex_api::hypercall::NO_DEADLINE;
use apex_api::info::{
    Access, Buffer, Criticality, Description, Direction, InfoPage, PartitionKind, Port, PortKind,
    QueuingDiscipline, Region, RegionKind, Time,
};
use apex_api::partition::OperatingMode;
use apex_api::ports::sampling::Validity;
use apex_api::ports::{OwnBuffer, PeerBuffer};

/// What the peer does while a partition waits.
type Meanwhile = Box<dyn FnMut()>;

/// 1 tick = 1 µs.
const HZ: u64 = 1_000_000;

/// The kernel as both partitions see it: one clock, and what each partition asked for.
#[derive(Clone)]
struct FakeKernel {
    clock: Rc<Cell<u64>>,
    mode: Rc<Cell<OperatingMode>>,
    /// Doorbells this partition rang, by port index.
    rung: Rc<RefCell<Vec<usize>>>,
    /// Waits it made: (deadline, doorbells).
    waits: Rc<RefCell<Vec<(u64, u64)>>>,
    /// Doorbells pending for this partition (bit = port).
    pending: Rc<Cell<u64>>,
    /// The peer's pending doorbells: a doorbell rung here is pending there (both partitions
    /// have the channel's port at the same index).
    peer_pending: Rc<Cell<u64>>,
    /// Run while this partition waits: the peer acting meanwhile.
    meanwhile: Rc<RefCell<Option<Meanwhile>>>,
    reports: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl FakeKernel {
    fn new(clock: &Rc<Cell<u64>>) -> Self {
        Self {
            clock: clock.clone(),
            mode: Rc::new(Cell::new(OperatingMode::ColdStart)),
            rung: Rc::default(),
            waits: Rc::default(),
            pending: Rc::default(),
            peer_pending: Rc::default(),
            meanwhile: Rc::default(),
            reports: Rc::default(),
        }
    }
}

impl Kernel for FakeKernel {
    fn now(&self) -> u64 {
        self.clock.get()
    }
    fn mode(&self) -> Result<OperatingMode, ReturnCode> {
        Ok(self.mode.get())
    }
    fn wait(&mut self, deadline: u64, doorbells: u64) -> Result<u64, ReturnCode> {
        if self.mode.get() != OperatingMode::Normal {
            return Err(ReturnCode::InvalidMode);
        }
        self.waits.borrow_mut().push((deadline, doorbells));
        if let Some(f) = self.meanwhile.borrow_mut().as_mut() {
            f();
        }
        let rung = self.pending.get() & doorbells;
        if rung != 0 {
            self.pending.set(self.pending.get() & !rung);
            return Ok(rung);
        }
        assert_ne!(deadline, NO_DEADLINE, "a wait for ever with no doorbell");
        self.clock.set(self.clock.get().max(deadline));
        Err(ReturnCode::TimedOut)
    }
    fn doorbell(&mut self, port: usize) -> Result<(), ReturnCode> {
        self.rung.borrow_mut().push(port);
        self.peer_pending.set(self.peer_pending.get() | 1 << port);
        Ok(())
    }
    fn report(&mut self, message: &[u8]) {
        self.reports.borrow_mut().push(message.to_vec());
    }
    fn raise_application_error(&mut self, message: &[u8]) -> Result<(), ReturnCode> {
        self.reports
            .borrow_mut()
            .push([b"raised: ", message].concat());
        Ok(())
    }
}

/// Channel memory by IPA (both partitions see each buffer at the same IPA here).
#[derive(Clone, Default)]
struct Memory(Rc<RefCell<BTreeMap<u64, &'static [AtomicU64]>>>);

impl Memory {
    fn words(&self, ipa: u64, size: u64) -> &'static [AtomicU64] {
        self.0.borrow_mut().entry(ipa).or_insert_with(|| {
            let words: Vec<AtomicU64> = (0..size / 8).map(|_| AtomicU64::new(0)).collect();
            Box::leak(words.into_boxed_slice())
        })
    }
}

impl Buffers for Memory {
    type Own = OwnBuffer<'static>;
    type Peer = PeerBuffer<'static>;
    fn own(&self, ipa: u64, size: u64) -> OwnBuffer<'static> {
        OwnBuffer::new(self.words(ipa, size))
    }
    fn peer(&self, ipa: u64, size: u64) -> PeerBuffer<'static> {
        PeerBuffer::new(self.words(ipa, size))
    }
}

const SAMPLE_DATA: u64 = 0x5000_0000;
const QUEUE_DATA: u64 = 0x5000_1000;
const QUEUE_ACK: u64 = 0x5000_2000;

fn ports(direction: Direction, queue_name: &'static str) -> [Port<'static>; 2] {
    let refresh = match direction {
        Direction::Destination => Some(Time {
            ns: 100_000,
            ticks: 100,
        }),
        Direction::Source => None,
    };
    [
        Port {
            name: "speed",
            kind: PortKind::Sampling { refresh },
            direction,
            max_message_size: 64,
            data: Buffer {
                ipa: SAMPLE_DATA,
                size: 0x1000,
            },
            ack: None,
        },
        Port {
            name: queue_name,
            kind: PortKind::Queuing {
                max_messages: 2,
                discipline: QueuingDiscipline::Fifo,
            },
            direction,
            max_message_size: 32,
            data: Buffer {
                ipa: QUEUE_DATA,
                size: 0x1000,
            },
            ack: Some(Buffer {
                ipa: QUEUE_ACK,
                size: 0x1000,
            }),
        },
    ]
}

fn info(id: u32, name: &'static str, ports: &'static [Port<'static>]) -> InfoPage<'static> {
    let regions: &'static [Region<'static>] = Box::leak(Box::new([Region {
        name: "ram",
        ipa: 0x4000_0000,
        size: 0x20_0000,
        kind: RegionKind::Ram,
        access: Access {
            read: true,
            write: true,
            execute: true,
        },
    }]));
    let page = apex_api::info::encode(&Description {
        id,
        name,
        kind: PartitionKind::BareMetal,
        criticality: Criticality::C,
        cores: &[0],
        pmu: false,
        counter_hz: HZ,
        time: None,
        regions,
        ports,
    })
    .unwrap();
    InfoPage::parse(Box::leak(Box::new(page))).unwrap()
}

type Services = Apex<FakeKernel, Memory>;

/// A source partition ("ctrl": speed and cmd_out) and a destination ("nav": speed and
/// cmd_in: port names are local), with their kernels.
fn pair() -> (Services, FakeKernel, Services, FakeKernel) {
    let clock = Rc::new(Cell::new(1000));
    let memory = Memory::default();
    let (mut k1, mut k2) = (FakeKernel::new(&clock), FakeKernel::new(&clock));
    k1.peer_pending = k2.pending.clone();
    k2.peer_pending = k1.pending.clone();
    let source = Apex::new(
        info(
            0,
            "ctrl",
            Box::leak(Box::new(ports(Direction::Source, "cmd_out"))),
        ),
        k1.clone(),
        memory.clone(),
    );
    let destination = Apex::new(
        info(
            1,
            "nav",
            Box::leak(Box::new(ports(Direction::Destination, "cmd_in"))),
        ),
        k2.clone(),
        memory,
    );
    (source, k1, destination, k2)
}

#[test]
fn ports_are_created_as_configured_and_only_during_initialisation() {
    let (mut src, k1, mut dst, _) = pair();
    use Direction::*;
    let cfg = Err(ReturnCode::InvalidConfig);
    // Not configured, another kind, another size or direction or refresh period.
    assert_eq!(src.create_sampling_port("nope", 64, Source, 0), cfg);
    assert_eq!(src.create_sampling_port("cmd_out", 32, Source, 0), cfg);
    assert_eq!(src.create_sampling_port("speed", 63, Source, 0), cfg);
    assert_eq!(
        src.create_sampling_port("speed", 64, Destination, 100_000),
        cfg
    );
    assert_eq!(
        dst.create_sampling_port("speed", 64, Destination, 99_000),
        cfg
    );
    let q = |a: &mut Services, n, size, depth, dir, disc| {
        a.create_queuing_port(n, size, depth, dir, disc)
    };
    assert_eq!(
        q(&mut src, "cmd_out", 32, 3, Source, QueuingDiscipline::Fifo),
        Err(ReturnCode::InvalidConfig)
    );
    assert_eq!(
        q(
            &mut src,
            "cmd_out",
            32,
            2,
            Source,
            QueuingDiscipline::Priority
        ),
        Err(ReturnCode::InvalidConfig)
    );
    assert_eq!(
        q(&mut src, "speed", 64, 2, Source, QueuingDiscipline::Fifo),
        Err(ReturnCode::InvalidConfig)
    );
    // As configured: created once; again is NO_ACTION.
    let speed = src.create_sampling_port("speed", 64, Source, 0).unwrap();
    assert_eq!(
        src.create_sampling_port("speed", 64, Source, 0),
        Err(ReturnCode::NoAction)
    );
    assert_eq!(src.get_sampling_port_id("speed"), Ok(speed));
    assert_eq!(
        src.get_queuing_port_id("cmd_out"),
        Err(ReturnCode::InvalidConfig),
        "not created yet"
    );
    // After initialisation, CREATE is refused.
    k1.mode.set(OperatingMode::Normal);
    assert_eq!(
        q(&mut src, "cmd_out", 32, 2, Source, QueuingDiscipline::Fifo),
        Err(ReturnCode::InvalidMode)
    );
}

#[test]
fn sampling_messages_carry_age_and_validity_without_any_hypercall() {
    let (mut src, k1, mut dst, k2) = pair();
    let out = src
        .create_sampling_port("speed", 64, Direction::Source, 0)
        .unwrap();
    let inp = dst
        .create_sampling_port("speed", 64, Direction::Destination, 100_000)
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        dst.read_sampling_message(inp, &mut buf),
        Err(ReturnCode::NoAction),
        "nothing written yet"
    );
    src.write_sampling_message(out, b"42 km/h").unwrap();
    k1.clock.set(k1.clock.get() + 30);
    let m = dst.read_sampling_message(inp, &mut buf).unwrap();
    assert_eq!(&buf[..m.length], b"42 km/h");
    assert_eq!((m.validity, m.age), (Validity::Valid, 30_000));
    // Older than the refresh period (100 µs): still readable, but invalid.
    k1.clock.set(k1.clock.get() + 200);
    let m = dst.read_sampling_message(inp, &mut buf).unwrap();
    assert_eq!((m.validity, m.age), (Validity::Invalid, 230_000));
    assert_eq!(
        dst.get_sampling_port_status(inp),
        Ok(SamplingPortStatus {
            refresh_period: 100_000,
            max_message_size: 64,
            direction: Direction::Destination,
            last_msg_validity: Validity::Invalid,
        })
    );
    // Wrong side, wrong id, too long, empty.
    assert_eq!(
        src.read_sampling_message(out, &mut buf),
        Err(ReturnCode::InvalidMode)
    );
    assert_eq!(
        dst.write_sampling_message(inp, b"x"),
        Err(ReturnCode::InvalidMode)
    );
    assert_eq!(
        src.write_sampling_message(apex_api::apex::SamplingPortId(9), b"x"),
        Err(ReturnCode::InvalidParam)
    );
    assert_eq!(
        src.write_sampling_message(out, &[0; 65]),
        Err(ReturnCode::InvalidConfig)
    );
    assert_eq!(
        src.write_sampling_message(out, &[]),
        Err(ReturnCode::InvalidParam)
    );
    assert!(k1.rung.borrow().is_empty() && k2.rung.borrow().is_empty());
    assert!(k1.waits.borrow().is_empty() && k2.waits.borrow().is_empty());
}

#[test]
fn queuing_is_fifo_with_overflow_clear_and_doorbells() {
    let (mut src, k1, mut dst, k2) = pair();
    let out = src
        .create_queuing_port("cmd_out", 32, 2, Direction::Source, QueuingDiscipline::Fifo)
        .unwrap();
    let inp = dst
        .create_queuing_port(
            "cmd_in",
            32,
            2,
            Direction::Destination,
            QueuingDiscipline::Fifo,
        )
        .unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(
        dst.receive_queuing_message(inp, 0, &mut buf),
        Err(ReturnCode::NotAvailable)
    );
    src.send_queuing_message(out, b"one", 0).unwrap();
    src.send_queuing_message(out, b"two", 0).unwrap();
    assert!(
        k1.rung.borrow().is_empty(),
        "no doorbell for a destination that does not wait"
    );
    // Full: refused at once, and counted as an overflow the receiver hears about.
    assert_eq!(
        src.send_queuing_message(out, b"three", 0),
        Err(ReturnCode::NotAvailable)
    );
    let status = dst.get_queuing_port_status(inp).unwrap();
    assert_eq!((status.nb_message, status.max_nb_message), (2, 2));
    let m = dst.receive_queuing_message(inp, 0, &mut buf).unwrap();
    assert_eq!(&buf[..m.length], b"one");
    assert_eq!(
        m.return_code(),
        ReturnCode::InvalidConfig,
        "overflow reported"
    );
    let m = dst.receive_queuing_message(inp, 0, &mut buf).unwrap();
    assert_eq!(
        (&buf[..m.length], m),
        (
            &b"two"[..],
            QueuedMessage {
                length: 3,
                overflowed: false
            }
        )
    );
    assert!(
        k2.rung.borrow().is_empty(),
        "no doorbell for a source that does not wait"
    );
    // CLEAR discards what is queued; only the destination may clear.
    src.send_queuing_message(out, b"stale", 0).unwrap();
    assert_eq!(src.clear_queuing_port(out), Err(ReturnCode::InvalidMode));
    dst.clear_queuing_port(inp).unwrap();
    assert_eq!(
        dst.receive_queuing_message(inp, 0, &mut buf),
        Err(ReturnCode::NotAvailable)
    );
    assert_eq!(
        src.send_queuing_message(out, &[0; 33], 0),
        Err(ReturnCode::InvalidConfig)
    );
    assert_eq!(
        dst.send_queuing_message(inp, b"x", 0),
        Err(ReturnCode::InvalidMode)
    );
}

#[test]
fn blocking_calls_wait_for_the_doorbell_or_time_out() {
    let (mut src, k1, mut dst, k2) = pair();
    let out = src
        .create_queuing_port("cmd_out", 32, 2, Direction::Source, QueuingDiscipline::Fifo)
        .unwrap();
    let inp = dst
        .create_queuing_port(
            "cmd_in",
            32,
            2,
            Direction::Destination,
            QueuingDiscipline::Fifo,
        )
        .unwrap();
    let mut buf = [0u8; 32];
    // Initialisation does not block.
    assert_eq!(
        dst.receive_queuing_message(inp, 1000, &mut buf),
        Err(ReturnCode::InvalidMode)
    );
    k1.mode.set(OperatingMode::Normal);
    k2.mode.set(OperatingMode::Normal);
    // Empty: waits on its port's doorbell (bit 1) until the timeout, then TIMED_OUT.
    let start = k2.clock.get();
    assert_eq!(
        dst.receive_queuing_message(inp, 50_000, &mut buf),
        Err(ReturnCode::TimedOut)
    );
    assert_eq!(*k2.waits.borrow(), [(start + 50, 0b10)]);
    assert_eq!(k2.clock.get(), start + 50);
    // The source sends while the destination waits: the destination said it waits, so the
    // send rings its doorbell, which ends the wait (the wait for ever would fail otherwise).
    let sender = Rc::new(RefCell::new(Some((src, out))));
    let in_wait = sender.clone();
    *k2.meanwhile.borrow_mut() = Some(Box::new(move || {
        if let Some((src, out)) = in_wait.borrow_mut().as_mut() {
            src.send_queuing_message(*out, b"late", 0).unwrap();
        }
    }));
    let m = dst
        .receive_queuing_message(inp, INFINITE_TIME_VALUE, &mut buf)
        .unwrap();
    assert_eq!(&buf[..m.length], b"late");
    assert_eq!(k2.waits.borrow().last(), Some(&(NO_DEADLINE, 0b10)));
    assert_eq!(
        *k1.rung.borrow(),
        [1],
        "the send rang the waiting destination"
    );
    *k2.meanwhile.borrow_mut() = None;
    // It waits no more: the next send rings nothing.
    let (mut src, out) = sender.borrow_mut().take().unwrap();
    src.send_queuing_message(out, b"a", 0).unwrap();
    assert_eq!(k1.rung.borrow().len(), 1);
    // A full queue blocks the sender until its timeout; its last attempt counts an overflow.
    src.send_queuing_message(out, b"b", 0).unwrap();
    assert_eq!(
        src.send_queuing_message(out, b"c", 10_000),
        Err(ReturnCode::TimedOut)
    );
    assert_eq!(k1.waits.borrow().last(), Some(&(k1.clock.get(), 0b10)));
    let m = dst.receive_queuing_message(inp, 0, &mut buf).unwrap();
    assert!(m.overflowed);
    assert!(k2.rung.borrow().is_empty(), "the source waits no more");
    // The destination receives while the source waits on a full queue: the receive rings
    // the source's doorbell, which ends its wait for ever.
    src.send_queuing_message(out, b"c", 0).unwrap();
    let receiver = Rc::new(RefCell::new(Some((dst, inp))));
    let in_wait = receiver.clone();
    *k1.meanwhile.borrow_mut() = Some(Box::new(move || {
        if let Some((dst, inp)) = in_wait.borrow_mut().as_mut() {
            let mut buf = [0u8; 32];
            let m = dst.receive_queuing_message(*inp, 0, &mut buf).unwrap();
            assert_eq!(&buf[..m.length], b"b");
        }
    }));
    src.send_queuing_message(out, b"d", INFINITE_TIME_VALUE)
        .unwrap();
    assert_eq!(k1.waits.borrow().last(), Some(&(NO_DEADLINE, 0b10)));
    assert_eq!(
        *k2.rung.borrow(),
        [1],
        "the receive rang the waiting source"
    );
    *k1.meanwhile.borrow_mut() = None;
    let (mut dst, inp) = receiver.borrow_mut().take().unwrap();
    for expect in [&b"c"[..], b"d"] {
        let m = dst.receive_queuing_message(inp, 0, &mut buf).unwrap();
        assert_eq!(&buf[..m.length], expect);
    }
    assert_eq!(k2.rung.borrow().len(), 1, "the source waits no more");
    assert_eq!(
        src.send_queuing_message(out, b"x", -2),
        Err(ReturnCode::InvalidParam)
    );
}

#[test]
fn time_services() {
    let (mut src, k1, _, _) = pair();
    assert_eq!(src.get_time(), 1_000_000, "1000 ticks at 1 MHz");
    assert_eq!(src.timed_wait(-1), Err(ReturnCode::InvalidParam));
    assert_eq!(src.timed_wait(5_000), Err(ReturnCode::InvalidMode));
    k1.mode.set(OperatingMode::Normal);
    src.timed_wait(0).unwrap();
    assert!(k1.waits.borrow().is_empty(), "TIMED_WAIT(0) does not block");
    src.timed_wait(5_500).unwrap();
    assert_eq!(k1.clock.get(), 1006, "5.5 µs rounds up to 6 ticks");
    // Periodic: release points every 100 µs from the start; a missed one is skipped.
    assert_eq!(src.periodic_wait(), Err(ReturnCode::InvalidMode));
    src.start_periodic(100_000).unwrap();
    src.periodic_wait().unwrap();
    assert_eq!(k1.clock.get(), 1106);
    k1.clock.set(1350);
    src.periodic_wait().unwrap();
    assert_eq!(k1.clock.get(), 1406);
    assert_eq!(src.start_periodic(0), Err(ReturnCode::InvalidParam));
}

#[test]
fn application_messages_are_bounded() {
    let (mut src, k1, _, _) = pair();
    src.report_application_message(b"sensor degraded").unwrap();
    assert_eq!(
        src.report_application_message(&[b'x'; 129]),
        Err(ReturnCode::InvalidParam)
    );
    src.raise_application_error(b"sensor lost").unwrap();
    assert_eq!(
        src.raise_application_error(&[b'x'; 129]),
        Err(ReturnCode::InvalidParam)
    );
    assert_eq!(
        *k1.reports.borrow(),
        [b"sensor degraded".to_vec(), b"raised: sensor lost".to_vec()]
    );
}
