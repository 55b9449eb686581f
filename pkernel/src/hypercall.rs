//! Hypercall dispatch: one handler shape, one error type, every argument checked.
//!
//! The trap handler hands over the caller's saved registers; [`dispatch`] decodes the
//! function ID (`x0`) with `TryFrom`, runs the handler, and writes the result back
//! (`x0` = [`ReturnCode`], `x1..` = values). [`serve`] is its part for the calls that need
//! only `x0..=x2` and the tables; the hypercall fast path calls it alone, with the registers
//! by value. Side effects the kernel must perform go through [`KernelServices`], so this
//! logic runs unchanged in host tests.

use apex_api::health::HmError;
use apex_api::hypercall::{
    APPLICATION_ERROR_MESSAGE_MAX, CONSOLE_WRITE_MAX, Hypercall, ReturnCode, SMCCC_NOT_SUPPORTED,
};
use apex_api::partition::{
    INFINITE_TIME, ModeTransition, OperatingMode, PartitionStatus, StartCondition,
    decide_transition,
};

use crate::config::{Channel, Partition, PortDirection, PortId, PortKind};
use crate::guest_memory::{GuestRange, RangeError, Use};
use crate::partition::Wait;
use crate::psci::Call as Psci;

/// What the kernel does for a hypercall besides computing its result.
pub trait KernelServices {
    /// Copies `buf.len()` bytes from host-physical `phys`, which [`GuestRange::resolve`] vetted.
    fn read_guest(&mut self, phys: u64, buf: &mut [u8]);
    /// Appends bytes to the caller's console.
    fn console_write(&mut self, caller: &Partition, bytes: &[u8]);
    /// Reports a refused call (logged; the health monitor's input later).
    fn refused(&mut self, caller: &Partition, call: Refusal);
    /// Channel `index` of the system, `None` if there is none.
    fn channel(&self, index: u16) -> Option<&'static Channel>;
    /// Rings the doorbell of `peer` (a port of another partition) and wakes the core it is
    /// waiting on, if it is.
    fn ring(&mut self, peer: PortId);
    /// Logs the application error `caller` raised, with its message.
    fn application_error(&mut self, caller: &Partition, message: &[u8]);
}

/// A hypercall that was refused, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    UnknownFunction {
        id: u64,
    },
    BadRange {
        call: Hypercall,
        ipa: u64,
        len: u64,
        why: RangeError,
    },
    TooLong {
        call: Hypercall,
        len: u64,
        max: u64,
    },
    NotPrivileged {
        call: Hypercall,
    },
    /// A port index the caller does not have, or a doorbell mask with such bits.
    BadPort {
        call: Hypercall,
        port: u64,
    },
    /// A Wait outside NORMAL mode.
    WrongMode {
        call: Hypercall,
        mode: OperatingMode,
    },
}

/// What the kernel knows about the caller at the time of the call, beyond its tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallerState {
    /// The calling vCPU (0 for a partition with one).
    pub vcpu: usize,
    pub mode: OperatingMode,
    pub start_condition: StartCondition,
    /// System counter frequency, to give times in nanoseconds.
    pub counter_hz: u64,
}

/// What happens to the caller after the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Return to the caller with the result in its registers.
    Resume,
    /// An accepted SET_PARTITION_MODE: the kernel changes the caller's mode (for NORMAL,
    /// `x0` already says `NO_ERROR`).
    ChangeMode(ModeTransition),
    /// The caller asked to stop.
    StopPartition { status: u64 },
    /// The caller powered itself off (PSCI): it stops.
    PowerOff,
    /// The caller reset itself (PSCI SYSTEM_RESET): it restarts, cold.
    Reset,
    /// PSCI CPU_ON of the caller's secondary vCPU `vcpu` was accepted (x0 says so): its core
    /// is to be woken to start it.
    StartVcpu { vcpu: usize },
    /// The calling secondary vCPU went off (PSCI CPU_OFF).
    VcpuOff,
    /// A system partition asked to power the module off.
    ShutdownModule { status: u64 },
    /// The caller blocks until a doorbell or a deadline (its registers get the answer when
    /// the wait ends).
    Wait(Wait),
    /// The caller raised an error for the health monitor (already logged).
    HealthMonitor(HmError),
}

/// What a call [`serve`] answered leaves in the caller's x0..=x2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `x0` = `NO_ERROR`, `x1` and `x2` = the results.
    Done(u64, u64),
    /// `x0` = this code (a [`ReturnCode`], or SMCCC `NOT_SUPPORTED`); `x1`, `x2` unchanged.
    Failed(u64),
    /// `x0` = this value (a PSCI call's answer); `x1`, `x2` unchanged.
    Value(u64),
}

impl Reply {
    /// Writes the reply into the caller's registers `x`.
    pub fn write_to(self, x: &mut [u64; 31]) {
        match self {
            Self::Done(v1, v2) => {
                x[0] = ReturnCode::NoError as u64;
                x[1] = v1;
                x[2] = v2;
            }
            Self::Failed(code) | Self::Value(code) => x[0] = code,
        }
    }
}

/// The calls [`serve`] leaves to the run loop: they may stop, restart or change the mode of
/// the caller, end the module, or read the caller's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunLoopCall {
    PartitionStop,
    /// A PSCI call (it may need x3 or the partition's vCPU states).
    Psci,
    GetPartitionStatus,
    SetPartitionMode,
    Wait,
    RaiseApplicationError,
    ModuleShutdown,
}

/// Serves the call `id` (x0) with arguments `a1`, `a2` (x1, x2) of `caller` on `core` if it
/// needs nothing but these and the tables, as every call does, unknown ones included, but
/// the [`RunLoopCall`]s, which come back decoded for [`dispatch`]. Takes no
/// [`CallerState`], so what it answers cannot depend on the caller's mode. The hypercall
/// fast path calls it without a full exit.
// Inlined: on the fast path its result then stays in registers.
#[inline]
pub fn serve(
    id: u64,
    a1: u64,
    a2: u64,
    caller: &Partition,
    core: usize,
    services: &mut impl KernelServices,
) -> Result<Reply, RunLoopCall> {
    let result = match Hypercall::try_from(id) {
        Ok(Hypercall::Null) => Ok((0, 0)),
        Ok(Hypercall::ConsoleWrite) => console_write(caller, a1, a2, services).map(|n| (n, 0)),
        Ok(Hypercall::PartitionInfo) => Ok((u64::from(caller.id), core as u64)),
        Ok(Hypercall::PartitionStop) => return Err(RunLoopCall::PartitionStop),
        Ok(Hypercall::GetPartitionStatus) => return Err(RunLoopCall::GetPartitionStatus),
        Ok(Hypercall::SetPartitionMode) => return Err(RunLoopCall::SetPartitionMode),
        Ok(Hypercall::Wait) => return Err(RunLoopCall::Wait),
        Ok(Hypercall::Doorbell) => doorbell(caller, a1, services).map(|()| (0, 0)),
        Ok(Hypercall::RaiseApplicationError) => return Err(RunLoopCall::RaiseApplicationError),
        Ok(Hypercall::ModuleShutdown) => return Err(RunLoopCall::ModuleShutdown),
        Err(id) if crate::psci::is_psci(id) => return Err(RunLoopCall::Psci),
        Err(id) => {
            services.refused(caller, Refusal::UnknownFunction { id });
            return Ok(Reply::Failed(SMCCC_NOT_SUPPORTED as u64));
        }
    };
    Ok(match result {
        Ok((v1, v2)) => Reply::Done(v1, v2),
        Err(code) => Reply::Failed(code as u64),
    })
}

/// Runs the hypercall in `regs` (the caller's x0..x30) for `caller` on `core`.
pub fn dispatch(
    regs: &mut [u64; 31],
    caller: &Partition,
    state: &CallerState,
    core: usize,
    services: &mut impl KernelServices,
) -> Outcome {
    let a1 = regs[1];
    let call = match serve(regs[0], a1, regs[2], caller, core, services) {
        Ok(reply) => {
            reply.write_to(regs);
            return Outcome::Resume;
        }
        Err(call) => call,
    };
    let reply = match call {
        RunLoopCall::PartitionStop => return Outcome::StopPartition { status: a1 },
        RunLoopCall::Psci => {
            let Some(partition) = crate::partition::state(usize::from(caller.id)) else {
                return Outcome::Resume;
            };
            let call = crate::psci::call(
                regs[0],
                [regs[1], regs[2], regs[3]],
                caller,
                state.vcpu,
                &mut partition.secondaries.lock(),
            );
            match call {
                Psci::Answer(value) => Reply::Value(value as u64),
                Psci::PowerOff => return Outcome::PowerOff,
                Psci::Reset => return Outcome::Reset,
                Psci::Failed => {
                    services.application_error(
                        caller,
                        b"its operating system failed (PSCI SYSTEM_RESET2, e.g. a Linux panic)",
                    );
                    return Outcome::HealthMonitor(HmError::ApplicationError);
                }
                Psci::Start { vcpu } => {
                    regs[0] = crate::psci::SUCCESS as u64;
                    return Outcome::StartVcpu { vcpu };
                }
                Psci::VcpuOff => return Outcome::VcpuOff,
            }
        }
        RunLoopCall::GetPartitionStatus => {
            regs[0] = ReturnCode::NoError as u64;
            regs[1..=6].copy_from_slice(&status_of(caller, state).to_registers());
            return Outcome::Resume;
        }
        RunLoopCall::SetPartitionMode => match decide_transition(state.mode, a1) {
            Ok(transition) => {
                regs[0] = ReturnCode::NoError as u64;
                return Outcome::ChangeMode(transition);
            }
            Err(code) => Reply::Failed(code as u64),
        },
        RunLoopCall::Wait => match wait(caller, state, a1, regs[2]) {
            Ok(wait) => return Outcome::Wait(wait),
            Err(refusal) => {
                services.refused(caller, refusal);
                Reply::Failed(match refusal {
                    Refusal::WrongMode { .. } => ReturnCode::InvalidMode,
                    _ => ReturnCode::InvalidParam,
                } as u64)
            }
        },
        RunLoopCall::RaiseApplicationError => {
            match read_message(
                caller,
                Hypercall::RaiseApplicationError,
                a1,
                regs[2],
                services,
            ) {
                Ok((buf, len)) => {
                    services.application_error(caller, &buf[..len]);
                    // What the partition gets back if the health monitor lets it continue.
                    regs[0] = ReturnCode::NoError as u64;
                    return Outcome::HealthMonitor(HmError::ApplicationError);
                }
                Err(code) => Reply::Failed(code as u64),
            }
        }
        RunLoopCall::ModuleShutdown => {
            if caller.kind.is_privileged() {
                return Outcome::ShutdownModule { status: a1 };
            }
            let call = Hypercall::ModuleShutdown;
            services.refused(caller, Refusal::NotPrivileged { call });
            Reply::Failed(ReturnCode::InvalidMode as u64)
        }
    };
    reply.write_to(regs);
    Outcome::Resume
}

/// Copies a message of `len` bytes at `ipa` from `caller`'s memory (RAISE_APPLICATION_ERROR);
/// refuses one too long or outside its RAM.
fn read_message(
    caller: &Partition,
    call: Hypercall,
    ipa: u64,
    len: u64,
    services: &mut impl KernelServices,
) -> Result<([u8; APPLICATION_ERROR_MESSAGE_MAX], usize), ReturnCode> {
    let mut buf = [0u8; APPLICATION_ERROR_MESSAGE_MAX];
    let max = APPLICATION_ERROR_MESSAGE_MAX as u64;
    // No message (length 0) needs no address.
    if len > 0 {
        let phys = readable_range(caller, call, ipa, len, max, services)?;
        services.read_guest(phys, &mut buf[..len as usize]);
    }
    Ok((buf, len as usize))
}

/// Where the `len` bytes at `ipa` that `caller` passes to `call` are: at most `max` bytes of
/// its own readable RAM; anything else is refused (logged) with `INVALID_PARAM`.
fn readable_range(
    caller: &Partition,
    call: Hypercall,
    ipa: u64,
    len: u64,
    max: u64,
    services: &mut impl KernelServices,
) -> Result<u64, ReturnCode> {
    if len > max {
        services.refused(caller, Refusal::TooLong { call, len, max });
        return Err(ReturnCode::InvalidParam);
    }
    GuestRange::new(ipa, len)
        .resolve(caller, Use::Read)
        .map_err(|why| {
            services.refused(
                caller,
                Refusal::BadRange {
                    call,
                    ipa,
                    len,
                    why,
                },
            );
            ReturnCode::InvalidParam
        })
}

/// The bits of a doorbell mask that name ports `caller` has.
fn port_mask(caller: &Partition) -> u64 {
    match caller.ports.len() {
        n if n >= 64 => u64::MAX,
        n => (1u64 << n) - 1,
    }
}

/// A Wait of `caller` until `deadline` or one of `doorbells`.
fn wait(
    caller: &Partition,
    state: &CallerState,
    deadline: u64,
    doorbells: u64,
) -> Result<Wait, Refusal> {
    let call = Hypercall::Wait;
    if state.mode != OperatingMode::Normal {
        return Err(Refusal::WrongMode {
            call,
            mode: state.mode,
        });
    }
    if doorbells & !port_mask(caller) != 0 {
        return Err(Refusal::BadPort {
            call,
            port: doorbells,
        });
    }
    Ok(Wait {
        deadline,
        doorbells,
    })
}

/// Rings the peer(s) at the other end of `caller`'s queuing port `port`: a source's
/// destination, a destination's source. The peer's doorbell is its own port's index. Also
/// what a store to the doorbell register page does (`trap`).
pub fn doorbell(
    caller: &Partition,
    port: u64,
    services: &mut impl KernelServices,
) -> Result<(), ReturnCode> {
    let call = Hypercall::Doorbell;
    let Some(own) = usize::try_from(port).ok().and_then(|i| caller.ports.get(i)) else {
        services.refused(caller, Refusal::BadPort { call, port });
        return Err(ReturnCode::InvalidParam);
    };
    if matches!(own.kind, PortKind::Sampling { .. }) {
        return Err(ReturnCode::InvalidConfig);
    }
    // The tables connect every port to a channel (schedule-gen and boot_checks).
    let Some(channel) = services.channel(own.channel) else {
        return Err(ReturnCode::InvalidConfig);
    };
    match own.direction {
        PortDirection::Source => {
            for &peer in channel.destinations {
                services.ring(peer);
            }
        }
        PortDirection::Destination => services.ring(channel.source),
    }
    Ok(())
}

/// GET_PARTITION_STATUS of `caller`.
fn status_of(caller: &Partition, state: &CallerState) -> PartitionStatus {
    let ns = |ticks: u64| {
        let hz = u128::from(state.counter_hz.max(1));
        u64::try_from(u128::from(ticks) * 1_000_000_000 / hz).unwrap_or(INFINITE_TIME)
    };
    let (period_ns, duration_ns) = match caller.time {
        Some(t) => (ns(t.period_ticks), ns(t.duration_ticks)),
        None => (INFINITE_TIME, INFINITE_TIME),
    };
    PartitionStatus {
        identifier: u64::from(caller.id),
        period_ns,
        duration_ns,
        lock_level: 0,
        operating_mode: state.mode,
        start_condition: state.start_condition,
    }
}

// Not inlined: its 256-byte copy buffer would otherwise give every call, the cheapest too,
// its stack frame and saved registers.
#[inline(never)]
fn console_write(
    caller: &Partition,
    ipa: u64,
    len: u64,
    services: &mut impl KernelServices,
) -> Result<u64, ReturnCode> {
    let call = Hypercall::ConsoleWrite;
    let phys = readable_range(caller, call, ipa, len, CONSOLE_WRITE_MAX as u64, services)?;
    // Copy first, then print: the partition's other cores may change the bytes meanwhile,
    // and the kernel must print one consistent snapshot.
    let mut buf = [0u8; CONSOLE_WRITE_MAX];
    let buf = &mut buf[..len as usize];
    services.read_guest(phys, buf);
    services.console_write(caller, buf);
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_memory::tests::PARTITION;

    #[derive(Default)]
    struct Fake {
        memory: Vec<(u64, u8)>,
        console: Vec<u8>,
        refusals: Vec<Refusal>,
        channels: Vec<&'static Channel>,
        rung: Vec<PortId>,
        raised: Vec<Vec<u8>>,
    }

    impl KernelServices for Fake {
        fn read_guest(&mut self, phys: u64, buf: &mut [u8]) {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self
                    .memory
                    .iter()
                    .find(|(a, _)| *a == phys + i as u64)
                    .map_or(0, |(_, v)| *v);
            }
        }

        fn console_write(&mut self, _: &Partition, bytes: &[u8]) {
            self.console.extend_from_slice(bytes);
        }
        fn refused(&mut self, _: &Partition, call: Refusal) {
            self.refusals.push(call);
        }
        fn channel(&self, index: u16) -> Option<&'static Channel> {
            self.channels.get(usize::from(index)).copied()
        }
        fn ring(&mut self, peer: PortId) {
            self.rung.push(peer);
        }
        fn application_error(&mut self, _: &Partition, message: &[u8]) {
            self.raised.push(message.to_vec());
        }
    }

    const STATE: CallerState = CallerState {
        vcpu: 0,
        mode: OperatingMode::Normal,
        start_condition: StartCondition::NormalStart,
        counter_hz: 62_500_000,
    };

    fn call_in(state: &CallerState, regs: [u64; 3], fake: &mut Fake) -> ([u64; 31], Outcome) {
        let mut all = [0xEEu64; 31];
        all[..3].copy_from_slice(&regs);
        let outcome = dispatch(&mut all, &PARTITION, state, 1, fake);
        (all, outcome)
    }

    fn call(regs: [u64; 3], fake: &mut Fake) -> ([u64; 31], Outcome) {
        call_in(&STATE, regs, fake)
    }

    #[test]
    fn partition_status_and_modes() {
        let mut fake = Fake::default();
        let state = CallerState {
            mode: OperatingMode::ColdStart,
            ..STATE
        };
        let (regs, outcome) = call_in(
            &state,
            [Hypercall::GetPartitionStatus as u64, 0, 0],
            &mut fake,
        );
        assert_eq!(outcome, Outcome::Resume);
        // A dedicated partition: infinite period and duration; mode and condition as told.
        assert_eq!(
            regs[..8],
            [0, 0, INFINITE_TIME, INFINITE_TIME, 0, 1, 0, 0xEE]
        );
        let (regs, outcome) = call_in(
            &state,
            [Hypercall::SetPartitionMode as u64, 3, 0],
            &mut fake,
        );
        assert_eq!(
            (regs[0], outcome),
            (0, Outcome::ChangeMode(ModeTransition::ToNormal))
        );
        let (regs, outcome) = call_in(
            &state,
            [Hypercall::SetPartitionMode as u64, 2, 0],
            &mut fake,
        );
        assert_eq!(
            (regs[0], outcome),
            (ReturnCode::InvalidMode as u64, Outcome::Resume)
        );
        let (regs, _) = call([Hypercall::SetPartitionMode as u64, 3, 0], &mut fake);
        assert_eq!(regs[0], ReturnCode::NoAction as u64);
        let (regs, _) = call([Hypercall::SetPartitionMode as u64, 7, 0], &mut fake);
        assert_eq!(regs[0], ReturnCode::InvalidParam as u64);
        let (_, outcome) = call([Hypercall::SetPartitionMode as u64, 1, 0], &mut fake);
        assert_eq!(
            outcome,
            Outcome::ChangeMode(ModeTransition::Restart { cold: true })
        );
    }

    #[test]
    fn a_time_partitioned_status_gives_nanoseconds() {
        let p = Partition {
            time: Some(crate::config::TimeBudget {
                period_ticks: 1_250_000,
                duration_ticks: 312_500,
            }),
            ..PARTITION
        };
        let s = status_of(&p, &STATE);
        assert_eq!((s.period_ns, s.duration_ns), (20_000_000, 5_000_000));
    }

    #[test]
    fn console_write_copies_from_the_translated_address() {
        let mut fake = Fake {
            memory: vec![(0x4800_0100, b'h'), (0x4800_0101, b'i')],
            ..Default::default()
        };
        let (regs, outcome) = call([Hypercall::ConsoleWrite as u64, 0x4000_0100, 2], &mut fake);
        assert_eq!(outcome, Outcome::Resume);
        assert_eq!((regs[0], regs[1]), (0, 2));
        assert_eq!(fake.console, b"hi");
    }

    #[test]
    fn bad_arguments_get_error_codes() {
        let mut fake = Fake::default();
        let (regs, _) = call([Hypercall::ConsoleWrite as u64, 0x1000, 8], &mut fake);
        assert_eq!(regs[0], ReturnCode::InvalidParam as u64);
        let (regs, _) = call(
            [Hypercall::ConsoleWrite as u64, 0x4000_0000, 100_000],
            &mut fake,
        );
        assert_eq!(regs[0], ReturnCode::InvalidParam as u64);
        let (regs, _) = call([Hypercall::ConsoleWrite as u64, u64::MAX - 2, 8], &mut fake);
        assert_eq!(regs[0], ReturnCode::InvalidParam as u64);
        let (regs, _) = call([0xC600_0FFF, 0, 0], &mut fake);
        assert_eq!(regs[0] as i64, SMCCC_NOT_SUPPORTED);
        let (regs, outcome) = call([Hypercall::ModuleShutdown as u64, 0, 0], &mut fake);
        assert_eq!(
            (regs[0], outcome),
            (ReturnCode::InvalidMode as u64, Outcome::Resume)
        );
        assert!(fake.console.is_empty());
        assert_eq!(fake.refusals.len(), 5);
    }

    /// 20 000 (function ID, argument seed) pairs from `seed` (xorshift): half near the
    /// vendor range, half anything.
    fn random_calls(seed: u64) -> impl Iterator<Item = (u64, u64)> {
        let mut x = seed;
        (0..20_000).map(move |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = if x & 1 == 0 {
                0xC600_0000 + (x >> 8) % 0x20
            } else {
                x
            };
            (id, x)
        })
    }

    #[test]
    fn serve_answers_all_but_the_run_loops_calls_as_dispatch_does_in_any_mode() {
        let mut fake = Fake::default();
        let run_loop_calls = [
            Hypercall::PartitionStop,
            Hypercall::GetPartitionStatus,
            Hypercall::SetPartitionMode,
            Hypercall::Wait,
            Hypercall::RaiseApplicationError,
            Hypercall::ModuleShutdown,
        ];
        let idle = CallerState {
            vcpu: 0,
            mode: OperatingMode::Idle,
            start_condition: StartCondition::HmModuleRestart,
            counter_hz: 1,
        };
        for (id, x) in random_calls(0x2545_f491_4f6c_dd1d) {
            let regs = [id, x.rotate_left(17), x.rotate_left(31) % 1024];
            let served = serve(regs[0], regs[1], regs[2], &PARTITION, 1, &mut fake);
            let for_run_loop = run_loop_calls.iter().any(|&call| call as u64 == id);
            assert_eq!(served.is_err(), for_run_loop, "{id:#x}");
            let Ok(reply) = served else { continue };
            let mut expected = [0xEEu64; 31];
            expected[..3].copy_from_slice(&regs);
            reply.write_to(&mut expected);
            for state in [&STATE, &idle] {
                let (after, outcome) = call_in(state, regs, &mut fake);
                assert_eq!((after, outcome), (expected, Outcome::Resume), "{id:#x}");
            }
        }
    }

    #[test]
    fn random_registers_never_panic() {
        let mut fake = Fake::default();
        for (id, x) in random_calls(0x9e37_79b9_7f4a_7c15) {
            let _ = call([id, x.rotate_left(17), x.rotate_left(31) % 1024], &mut fake);
        }
    }

    /// A partition with a queuing source (port 0, channel 0), a sampling source (port 1,
    /// channel 1) and a queuing destination (port 2, channel 2); its peers are partition 1.
    fn with_ports() -> (&'static Partition, Fake) {
        use crate::config::{PhysRange, Port, QueuingDiscipline};
        let queuing = PortKind::Queuing {
            max_messages: 4,
            discipline: QueuingDiscipline::Fifo,
        };
        let port = |kind, direction, channel| Port {
            name: "port",
            kind,
            direction,
            max_message_size: 64,
            channel,
            data_ipa: 0x5000_0000,
            ack_ipa: 0,
        };
        let ports: &'static [Port] = Box::leak(Box::new([
            port(queuing, PortDirection::Source, 0),
            port(
                PortKind::Sampling { refresh_ticks: 0 },
                PortDirection::Source,
                1,
            ),
            port(queuing, PortDirection::Destination, 2),
        ]));
        let partition: &'static Partition = Box::leak(Box::new(Partition { ports, ..PARTITION }));
        let id = |partition, port| PortId { partition, port };
        let channel = |source, destinations: &'static [PortId]| -> &'static Channel {
            Box::leak(Box::new(Channel {
                name: "c",
                source,
                destinations,
                max_message_size: 64,
                data: PhysRange::new(0x4800_0000, 0x1000),
                ack: None,
            }))
        };
        let fake = Fake {
            channels: vec![
                channel(id(0, 0), Box::leak(Box::new([id(1, 3)]))),
                channel(id(0, 1), Box::leak(Box::new([id(1, 4), id(2, 0)]))),
                channel(id(1, 5), Box::leak(Box::new([id(0, 2)]))),
            ],
            ..Fake::default()
        };
        (partition, fake)
    }

    #[test]
    fn doorbells_ring_the_other_end_of_queuing_ports_only() {
        let (p, mut fake) = with_ports();
        let ring = |port: u64, fake: &mut Fake| {
            let mut regs = [0xEEu64; 31];
            regs[..2].copy_from_slice(&[Hypercall::Doorbell as u64, port]);
            let outcome = dispatch(&mut regs, p, &STATE, 0, fake);
            assert_eq!(outcome, Outcome::Resume);
            regs[0]
        };
        // A source rings its destination; a destination its source.
        assert_eq!(ring(0, &mut fake), 0);
        assert_eq!(ring(2, &mut fake), 0);
        let rung = [
            PortId {
                partition: 1,
                port: 3,
            },
            PortId {
                partition: 1,
                port: 5,
            },
        ];
        assert_eq!(fake.rung, rung);
        // Sampling ports never block, so they have no doorbell; unknown ports are refused.
        assert_eq!(ring(1, &mut fake), ReturnCode::InvalidConfig as u64);
        assert_eq!(ring(3, &mut fake), ReturnCode::InvalidParam as u64);
        assert_eq!(ring(u64::MAX, &mut fake), ReturnCode::InvalidParam as u64);
        assert_eq!(fake.rung, rung, "nothing more rang");
        assert!(matches!(
            fake.refusals.as_slice(),
            [Refusal::BadPort { .. }, Refusal::BadPort { .. }]
        ));
    }

    #[test]
    fn a_wait_blocks_in_normal_mode_on_its_own_ports_only() {
        let (p, mut fake) = with_ports();
        let mut wait = |state: &CallerState, deadline: u64, mask: u64| {
            let mut regs = [0xEEu64; 31];
            regs[..3].copy_from_slice(&[Hypercall::Wait as u64, deadline, mask]);
            let outcome = dispatch(&mut regs, p, state, 0, &mut fake);
            (regs[0], outcome)
        };
        assert_eq!(
            wait(&STATE, 1000, 0b101).1,
            Outcome::Wait(Wait {
                deadline: 1000,
                doorbells: 0b101
            })
        );
        // A plain timed wait: no doorbell.
        assert_eq!(
            wait(&STATE, 5, 0).1,
            Outcome::Wait(Wait {
                deadline: 5,
                doorbells: 0
            })
        );
        // Bit 3: the partition has 3 ports.
        assert_eq!(
            wait(&STATE, 1000, 0b1000),
            (ReturnCode::InvalidParam as u64, Outcome::Resume)
        );
        let initialising = CallerState {
            mode: OperatingMode::ColdStart,
            ..STATE
        };
        assert_eq!(
            wait(&initialising, 1000, 1),
            (ReturnCode::InvalidMode as u64, Outcome::Resume)
        );
    }

    #[test]
    fn an_application_error_is_logged_and_goes_to_the_health_monitor() {
        let mut fake = Fake {
            memory: b"sensor lost"
                .iter()
                .enumerate()
                .map(|(i, &b)| (0x4800_0100 + i as u64, b))
                .collect(),
            ..Fake::default()
        };
        let raise = Hypercall::RaiseApplicationError as u64;
        let (regs, outcome) = call([raise, 0x4000_0100, 11], &mut fake);
        assert_eq!(outcome, Outcome::HealthMonitor(HmError::ApplicationError));
        assert_eq!(
            regs[0],
            ReturnCode::NoError as u64,
            "if the HM lets it go on"
        );
        assert_eq!(fake.raised, [b"sensor lost".to_vec()]);
        // No message is fine; a message too long or outside its memory raises nothing.
        assert_eq!(
            call([raise, 0, 0], &mut fake).1,
            Outcome::HealthMonitor(HmError::ApplicationError)
        );
        for (ipa, len) in [(0x4000_0100, 129), (0x9000_0000, 4)] {
            let (regs, outcome) = call([raise, ipa, len], &mut fake);
            assert_eq!(
                (regs[0], outcome),
                (ReturnCode::InvalidParam as u64, Outcome::Resume)
            );
        }
        assert_eq!(fake.raised.len(), 2);
    }

    #[test]
    fn info_and_stop() {
        let mut fake = Fake::default();
        let (regs, _) = call([Hypercall::PartitionInfo as u64, 0, 0], &mut fake);
        assert_eq!(regs[..3], [0, 0, 1]);
        let (_, outcome) = call([Hypercall::PartitionStop as u64, 7, 0], &mut fake);
        assert_eq!(outcome, Outcome::StopPartition { status: 7 });
    }
}
