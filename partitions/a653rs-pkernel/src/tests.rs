//! The binding's logic on the host: two partitions built from their own information pages,
//! sharing channel buffers, with a fake kernel (one clock, doorbells, waits that advance the
//! clock). `cargo test -p a653rs-pkernel`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::vec::Vec;

use a653rs::bindings::{
    ApexName, ApexProcessAttribute, Deadline, ErrorCode, ErrorReturnCode, INFINITE_TIME_VALUE,
    PortDirection, QueuingDiscipline, Validity,
};
use apex_api::ReturnCode;
use apex_api::apex::{Apex, Buffers, Kernel};
use apex_api::hypercall::NO_DEADLINE;
use apex_api::info::{
    Access, Buffer, Criticality, Description, Direction, InfoPage, PartitionKind, Port, PortKind,
    Region, RegionKind, Time, TimeBudget,
};
use apex_api::partition::OperatingMode;
use apex_api::ports::{OwnBuffer, PeerBuffer};

use crate::binding::{self, Binding, PROCESS_ID};

/// 1 tick = 1 µs.
const HZ: u64 = 1_000_000;
/// The time-partitioned partitions' period: 100 ms.
const PERIOD_NS: u64 = 100_000_000;
const STACK: u64 = 64 * 1024;

#[derive(Clone)]
struct FakeKernel {
    clock: Rc<Cell<u64>>,
    mode: Rc<Cell<OperatingMode>>,
    pending: Rc<Cell<u64>>,
    waits: Rc<RefCell<Vec<(u64, u64)>>>,
    reports: Rc<RefCell<Vec<Vec<u8>>>>,
    /// The doorbells this partition rings land in the peer's `pending`.
    peer_pending: Rc<Cell<u64>>,
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
        let rung = self.pending.get() & doorbells;
        if rung != 0 {
            self.pending.set(self.pending.get() & !rung);
            return Ok(rung);
        }
        assert_ne!(deadline, NO_DEADLINE, "a wait for ever that nothing ends");
        self.clock.set(self.clock.get().max(deadline));
        Err(ReturnCode::TimedOut)
    }
    fn doorbell(&mut self, _port: usize) -> Result<(), ReturnCode> {
        // Both test partitions have the queue as their port 1.
        self.peer_pending.set(self.peer_pending.get() | 1 << 1);
        Ok(())
    }
    fn report(&mut self, message: &[u8]) {
        self.reports.borrow_mut().push(message.to_vec());
    }
    fn raise_application_error(&mut self, message: &[u8]) -> Result<(), ReturnCode> {
        self.reports
            .borrow_mut()
            .push([b"raised: ".as_slice(), message].concat());
        Ok(())
    }
}

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

fn ports(direction: Direction, sample: &'static str, queue: &'static str) -> [Port<'static>; 2] {
    let refresh = (direction == Direction::Destination).then_some(Time {
        ns: 200_000_000,
        ticks: 200_000,
    });
    [
        Port {
            name: sample,
            kind: PortKind::Sampling { refresh },
            direction,
            max_message_size: 16,
            data: Buffer {
                ipa: 0x5000_0000,
                size: 0x1000,
            },
            ack: None,
        },
        Port {
            name: queue,
            kind: PortKind::Queuing {
                max_messages: 2,
                discipline: apex_api::info::QueuingDiscipline::Fifo,
            },
            direction,
            max_message_size: 8,
            data: Buffer {
                ipa: 0x5000_1000,
                size: 0x1000,
            },
            ack: Some(Buffer {
                ipa: 0x5000_2000,
                size: 0x1000,
            }),
        },
    ]
}

fn info(id: u32, name: &'static str, ports: [Port<'static>; 2]) -> InfoPage<'static> {
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
        time: Some(TimeBudget {
            period: Time {
                ns: PERIOD_NS,
                ticks: PERIOD_NS / 1000,
            },
            duration: Time {
                ns: 20_000_000,
                ticks: 20_000,
            },
        }),
        regions,
        ports: Box::leak(Box::new(ports)),
    })
    .unwrap();
    InfoPage::parse(Box::leak(Box::new(page))).unwrap()
}

type TestBinding = Binding<FakeKernel, Memory>;

/// A producer ("out", "to_consumer") and a consumer ("in", "from_producer"): port names are
/// local, the fake channel joins them by address.
fn pair() -> (TestBinding, FakeKernel, TestBinding, FakeKernel) {
    let clock = Rc::new(Cell::new(1_000));
    let memory = Memory::default();
    let (pending_p, pending_c) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let kernel = |pending: &Rc<Cell<u64>>, peer: &Rc<Cell<u64>>| FakeKernel {
        clock: clock.clone(),
        mode: Rc::new(Cell::new(OperatingMode::ColdStart)),
        pending: pending.clone(),
        waits: Rc::default(),
        reports: Rc::default(),
        peer_pending: peer.clone(),
    };
    let (kp, kc) = (
        kernel(&pending_p, &pending_c),
        kernel(&pending_c, &pending_p),
    );
    let producer = Binding::new(
        Apex::new(
            info(
                0,
                "producer",
                ports(Direction::Source, "out", "to_consumer"),
            ),
            kp.clone(),
            memory.clone(),
        ),
        STACK,
    );
    let consumer = Binding::new(
        Apex::new(
            info(
                1,
                "consumer",
                ports(Direction::Destination, "in", "from_producer"),
            ),
            kc.clone(),
            memory,
        ),
        STACK,
    );
    (producer, kp, consumer, kc)
}

fn name(text: &str) -> ApexName {
    let mut name = [0; 32];
    name[..text.len()].copy_from_slice(text.as_bytes());
    name
}

extern "C" fn process_entry() {}

fn attributes(period: i64) -> ApexProcessAttribute {
    ApexProcessAttribute {
        period,
        time_capacity: INFINITE_TIME_VALUE,
        entry_point: process_entry,
        stack_size: 16 * 1024,
        base_priority: 10,
        deadline: Deadline::Soft,
        name: name("worker"),
    }
}

#[test]
fn names_are_read_as_c_strings() {
    assert_eq!(binding::name(&name("speed")), Some("speed"));
    assert_eq!(
        binding::name(&[b'a'; 32]),
        Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    );
    let mut after_nul = name("speed");
    after_nul[10] = b'x';
    assert_eq!(binding::name(&after_nul), Some("speed"));
    let mut bad = name("speed");
    bad[0] = 0xff;
    assert_eq!(binding::name(&bad), None);
}

#[test]
fn return_codes_and_times_map_one_to_one() {
    use ErrorReturnCode as E;
    for (from, to) in [
        (ReturnCode::NoAction, E::NoAction),
        (ReturnCode::NotAvailable, E::NotAvailable),
        (ReturnCode::InvalidParam, E::InvalidParam),
        (ReturnCode::InvalidConfig, E::InvalidConfig),
        (ReturnCode::InvalidMode, E::InvalidMode),
        (ReturnCode::TimedOut, E::TimedOut),
    ] {
        assert_eq!(binding::error(from), to);
        assert_eq!(from as u32, to as u32, "the same ARINC value");
    }
    assert_eq!(binding::system_time(u64::MAX), INFINITE_TIME_VALUE);
    assert_eq!(binding::system_time(5), 5);
    for mode in [
        OperatingMode::Idle,
        OperatingMode::ColdStart,
        OperatingMode::WarmStart,
        OperatingMode::Normal,
    ] {
        assert_eq!(binding::mode(binding::a653rs_mode(mode)), mode);
        assert_eq!(binding::a653rs_mode(mode) as u32, mode as u32);
    }
}

#[test]
fn one_process_is_created_during_initialisation_and_no_more() {
    let (mut p, kp, ..) = pair();
    assert_eq!(
        p.create_process(&attributes(PERIOD_NS as i64)),
        Ok(PROCESS_ID)
    );
    // Part 4: the initialisation process and one more.
    assert_eq!(
        p.create_process(&attributes(INFINITE_TIME_VALUE)),
        Err(ErrorReturnCode::InvalidConfig)
    );
    let mut same = attributes(PERIOD_NS as i64);
    same.name = name("worker");
    assert_eq!(p.create_process(&same), Err(ErrorReturnCode::InvalidConfig));
    // Outside COLD_START and WARM_START: INVALID_MODE.
    let (mut q, kq, ..) = pair();
    kq.mode.set(OperatingMode::Normal);
    assert_eq!(
        q.create_process(&attributes(PERIOD_NS as i64)),
        Err(ErrorReturnCode::InvalidMode)
    );
    kq.mode.set(OperatingMode::WarmStart);
    assert_eq!(
        q.create_process(&attributes(PERIOD_NS as i64)),
        Ok(PROCESS_ID)
    );
    drop(kp);
}

#[test]
fn process_attributes_are_checked_as_arinc_653_says() {
    let check = |f: &dyn Fn(&mut ApexProcessAttribute), expected: ErrorReturnCode| {
        let (mut p, ..) = pair();
        let mut a = attributes(PERIOD_NS as i64);
        f(&mut a);
        assert_eq!(p.create_process(&a), Err(expected));
        assert!(p.process().is_none(), "a refused process is not created");
    };
    use ErrorReturnCode::*;
    // More stack than the partition has: storage.
    check(&|a| a.stack_size = STACK as u32 + 1, InvalidConfig);
    check(&|a| a.stack_size = 0, InvalidParam);
    check(&|a| a.base_priority = 0, InvalidParam);
    check(&|a| a.base_priority = 240, InvalidParam);
    check(&|a| a.period = 0, InvalidParam);
    check(&|a| a.period = -2, InvalidParam);
    // Not a multiple of the partition's 100 ms period.
    check(&|a| a.period = 150_000_000, InvalidConfig);
    check(&|a| a.time_capacity = 0, InvalidParam);
    check(&|a| a.time_capacity = -5, InvalidParam);
    check(&|a| a.time_capacity = PERIOD_NS as i64 + 1, InvalidParam);
    // These are fine: a multiple of the period, a capacity up to the period, aperiodic.
    let fine: [&dyn Fn(&mut ApexProcessAttribute); 4] = [
        &|a| a.period = 2 * PERIOD_NS as i64,
        &|a| a.time_capacity = PERIOD_NS as i64,
        &|a| a.period = INFINITE_TIME_VALUE,
        &|a| a.stack_size = STACK as u32,
    ];
    for ok in fine {
        let (mut p, ..) = pair();
        let mut a = attributes(PERIOD_NS as i64);
        ok(&mut a);
        assert_eq!(p.create_process(&a), Ok(PROCESS_ID));
    }
}

#[test]
fn start_readies_the_created_process_once() {
    let (mut p, ..) = pair();
    assert_eq!(
        p.start(PROCESS_ID),
        Err(ErrorReturnCode::InvalidParam),
        "not created"
    );
    p.create_process(&attributes(PERIOD_NS as i64)).unwrap();
    assert_eq!(p.start(0), Err(ErrorReturnCode::InvalidParam));
    assert_eq!(
        p.start(-1),
        Err(ErrorReturnCode::InvalidParam),
        "the main process"
    );
    assert_eq!(p.start(PROCESS_ID), Ok(()));
    assert_eq!(p.start(PROCESS_ID), Err(ErrorReturnCode::NoAction));
    assert!(p.process().unwrap().started);
}

#[test]
fn normal_mode_runs_the_started_process_and_periodic_wait_paces_it() {
    let (mut p, kp, ..) = pair();
    // The initialisation process is not periodic.
    assert_eq!(p.periodic_wait(), Err(ErrorReturnCode::InvalidMode));
    p.create_process(&attributes(PERIOD_NS as i64)).unwrap();
    // Created but never started: nothing runs in NORMAL mode.
    assert!(p.enter_normal().is_none());
    p.start(PROCESS_ID).unwrap();
    kp.mode.set(OperatingMode::Normal);
    let released = kp.clock.get();
    let entry = p.enter_normal().expect("the started process runs");
    assert_eq!(entry as usize, process_entry as extern "C" fn() as usize);
    // Each PERIODIC_WAIT ends at the next release point: one period (100 000 ticks) apart.
    for k in 1..=3 {
        assert_eq!(p.periodic_wait(), Ok(()));
        assert_eq!(kp.clock.get(), released + k * PERIOD_NS / 1000);
    }
    assert!(p.get_time() >= (released + 3 * PERIOD_NS / 1000) as i64 * 1000);
}

#[test]
fn an_aperiodic_process_may_not_periodic_wait() {
    let (mut p, kp, ..) = pair();
    p.create_process(&attributes(INFINITE_TIME_VALUE)).unwrap();
    p.start(PROCESS_ID).unwrap();
    kp.mode.set(OperatingMode::Normal);
    assert!(p.enter_normal().is_some());
    assert_eq!(p.periodic_wait(), Err(ErrorReturnCode::InvalidMode));
}

#[test]
fn sampling_messages_flow_under_local_names() {
    let (mut p, kp, mut c, kc) = pair();
    use ErrorReturnCode::*;
    // a653rs creates a source with a refresh period of 1 ns, which a source ignores.
    let out = p
        .create_sampling_port(&name("out"), 16, PortDirection::Source, 1)
        .unwrap();
    assert_eq!(
        p.create_sampling_port(&name("out"), 16, PortDirection::Source, 1),
        Err(NoAction)
    );
    // Not configured under that name (names are local), another size, direction, refresh.
    assert_eq!(
        c.create_sampling_port(&name("out"), 16, PortDirection::Destination, 200_000_000),
        Err(InvalidConfig)
    );
    assert_eq!(
        c.create_sampling_port(&name("in"), 8, PortDirection::Destination, 200_000_000),
        Err(InvalidConfig)
    );
    assert_eq!(
        c.create_sampling_port(&name("in"), 16, PortDirection::Source, 200_000_000),
        Err(InvalidConfig)
    );
    assert_eq!(
        c.create_sampling_port(&name("in"), 16, PortDirection::Destination, 100_000_000),
        Err(InvalidConfig)
    );
    let inp = c
        .create_sampling_port(&name("in"), 16, PortDirection::Destination, 200_000_000)
        .unwrap();
    kp.mode.set(OperatingMode::Normal);
    kc.mode.set(OperatingMode::Normal);
    assert_eq!(
        p.create_sampling_port(&name("out"), 16, PortDirection::Source, 1),
        Err(NoAction),
        "created already"
    );
    let mut buf = [0u8; 16];
    assert_eq!(
        c.read_sampling_message(inp, &mut buf),
        Err(NoAction),
        "empty"
    );
    p.write_sampling_message(out, b"speed 42").unwrap();
    assert_eq!(
        c.read_sampling_message(inp, &mut buf),
        Ok((Validity::Valid, 8))
    );
    assert_eq!(&buf[..8], b"speed 42");
    // Older than its refresh period: returned, INVALID.
    kc.clock.set(kc.clock.get() + 300_000);
    assert_eq!(
        c.read_sampling_message(inp, &mut buf),
        Ok((Validity::Invalid, 8))
    );
    // Wrong ends, ids that name nothing, a buffer too small.
    assert_eq!(c.write_sampling_message(inp, b"x"), Err(InvalidMode));
    assert_eq!(p.read_sampling_message(out, &mut buf), Err(InvalidMode));
    for bad in [0, -1, i64::MAX, 7] {
        assert_eq!(p.write_sampling_message(bad, b"x"), Err(InvalidParam));
    }
    assert_eq!(
        c.read_sampling_message(inp, &mut [0u8; 15]),
        Err(InvalidParam)
    );
    assert_eq!(
        p.write_sampling_message(out, &[0u8; 17]),
        Err(InvalidConfig)
    );
}

#[test]
fn sampling_ports_are_created_only_during_initialisation() {
    let (mut p, kp, ..) = pair();
    kp.mode.set(OperatingMode::Normal);
    assert_eq!(
        p.create_sampling_port(&name("out"), 16, PortDirection::Source, 1),
        Err(ErrorReturnCode::InvalidMode)
    );
    assert_eq!(
        p.create_queuing_port(
            &name("to_consumer"),
            8,
            2,
            PortDirection::Source,
            QueuingDiscipline::Fifo
        ),
        Err(ErrorReturnCode::InvalidMode)
    );
}

#[test]
fn queuing_messages_flow_with_timeouts_overflow_and_clear() {
    let (mut p, kp, mut c, kc) = pair();
    use ErrorReturnCode::*;
    let q =
        |b: &mut TestBinding, n: &str, dir, disc| b.create_queuing_port(&name(n), 8, 2, dir, disc);
    assert_eq!(
        q(
            &mut p,
            "to_consumer",
            PortDirection::Source,
            QueuingDiscipline::Priority
        ),
        Err(InvalidConfig)
    );
    let tx = q(
        &mut p,
        "to_consumer",
        PortDirection::Source,
        QueuingDiscipline::Fifo,
    )
    .unwrap();
    let rx = q(
        &mut c,
        "from_producer",
        PortDirection::Destination,
        QueuingDiscipline::Fifo,
    )
    .unwrap();
    kp.mode.set(OperatingMode::Normal);
    kc.mode.set(OperatingMode::Normal);
    let mut buf = [0u8; 8];
    // Empty: NOT_AVAILABLE at once, TIMED_OUT after the timeout (the clock moved on).
    assert_eq!(
        c.receive_queuing_message(rx, 0, &mut buf),
        Err(NotAvailable)
    );
    let before = kc.clock.get();
    assert_eq!(
        c.receive_queuing_message(rx, 5_000_000, &mut buf),
        Err(TimedOut)
    );
    assert_eq!(kc.clock.get(), before + 5_000);
    // FIFO order.
    p.send_queuing_message(tx, b"one", 0).unwrap();
    p.send_queuing_message(tx, b"two", 0).unwrap();
    assert_eq!(
        p.get_queuing_port_status(tx)
            .map(|s| (s.nb_message, s.max_nb_message)),
        Ok((2, 2))
    );
    assert_eq!(
        c.get_queuing_port_status(rx).map(|s| s.port_direction),
        Ok(PortDirection::Destination)
    );
    // Full: NOT_AVAILABLE with no timeout (an overflow), TIMED_OUT with one.
    assert_eq!(p.send_queuing_message(tx, b"three", 0), Err(NotAvailable));
    assert_eq!(
        p.send_queuing_message(tx, b"four", 1_000_000),
        Err(TimedOut)
    );
    // The receiver gets its messages in order; the first reports the overflow (a653rs:
    // Ok with QueueOverflow, where ARINC's C API says INVALID_CONFIG).
    assert_eq!(c.receive_queuing_message(rx, 0, &mut buf), Ok((3, true)));
    assert_eq!(&buf[..3], b"one");
    assert_eq!(c.receive_queuing_message(rx, -1, &mut buf), Ok((3, false)));
    assert_eq!(&buf[..3], b"two");
    // CLEAR discards what is queued; only a destination may.
    p.send_queuing_message(tx, b"stale", 0).unwrap();
    assert_eq!(p.clear_queuing_port(tx), Err(InvalidMode));
    assert_eq!(c.clear_queuing_port(rx), Ok(()));
    assert_eq!(
        c.receive_queuing_message(rx, 0, &mut buf),
        Err(NotAvailable)
    );
    // Wrong ends and bad arguments.
    assert_eq!(p.receive_queuing_message(tx, 0, &mut buf), Err(InvalidMode));
    assert_eq!(c.send_queuing_message(rx, b"x", 0), Err(InvalidMode));
    assert_eq!(p.send_queuing_message(tx, b"x", -2), Err(InvalidParam));
    assert_eq!(p.send_queuing_message(0, b"x", 0), Err(InvalidParam));
    assert_eq!(
        c.receive_queuing_message(rx, 0, &mut [0u8; 7]),
        Err(InvalidParam)
    );
}

#[test]
fn errors_are_reported_and_raised_as_part_4_allows() {
    let (mut p, kp, ..) = pair();
    assert_eq!(p.report_application_message(b"hello"), Ok(()));
    assert_eq!(
        p.report_application_message(&[b'x'; 129]),
        Err(ErrorReturnCode::InvalidParam)
    );
    assert_eq!(
        p.raise_application_error(ErrorCode::ApplicationError, b"bad input"),
        Ok(())
    );
    assert_eq!(
        p.raise_application_error(ErrorCode::DeadlineMissed, b"no"),
        Err(ErrorReturnCode::InvalidParam)
    );
    assert_eq!(
        *kp.reports.borrow(),
        [b"hello".to_vec(), b"raised: bad input".to_vec()]
    );
}
