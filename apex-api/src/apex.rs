//! The APEX services a partition calls: ARINC 653 Part 1 time, sampling and queuing port and
//! error services, with ARINC 653 return codes, for the Part 4 profile (the initialisation
//! and one more process).
//!
//! [`Apex`] is the partition's side of the services: it reads the partition's information
//! page ([`crate::info`]) to find its ports, checks each CREATE call against it (a port the
//! configuration does not have, with another size, direction, depth or refresh period, is
//! `INVALID_CONFIG`; outside COLD_START and WARM_START, `INVALID_MODE`; twice, `NO_ACTION`),
//! and then moves messages through the channel buffers with [`crate::ports`]: no hypercall on
//! the sampling path, none on a queuing send or receive that does not block, and a doorbell
//! (the `Doorbell` hypercall) after each queuing send and receive so a blocked peer looks
//! again. Blocking calls (TIMED_WAIT, PERIODIC_WAIT, a queuing call with a timeout) are the
//! `Wait` hypercall: until a deadline on the system counter, or the port's doorbell.
//!
//! The services are written against two traits, so the same code runs on pkernel and in host
//! tests: [`Kernel`] (the hypercalls and the counter) and [`Buffers`] (turning a port's
//! buffer addresses into shared words). On AArch64, [`Apex::on_pkernel`] uses the real ones.
//!
//! Times are ARINC `SYSTEM_TIME_TYPE`: signed nanoseconds, [`INFINITE_TIME_VALUE`] (-1) for
//! "no timeout". The system counter is the partition's clock (the kernel gives every
//! partition the physical counter as its virtual one), converted with the information
//! page's counter frequency.

use crate::hypercall::{NO_DEADLINE, ReturnCode};
use crate::info::{Direction, InfoPage, PortKind, QueuingDiscipline};
use crate::partition::OperatingMode;
use crate::ports::queuing::{QueueStatus, QueuingReceiver, QueuingSender, ReceiveError, SendError};
use crate::ports::sampling::{SamplingReader, SamplingWriter, Validity};
use crate::ports::{SharedWords, SharedWordsMut};

/// ARINC 653 `INFINITE_TIME_VALUE`: a timeout that never expires.
pub const INFINITE_TIME_VALUE: i64 = -1;

/// Most ports a partition has (the information page's limit).
pub const MAX_PORTS: usize = crate::info::MAX_PORTS;

/// Longest message REPORT_APPLICATION_MESSAGE and RAISE_APPLICATION_ERROR take (ARINC 653
/// `MAX_ERROR_MESSAGE_SIZE`).
pub const MAX_ERROR_MESSAGE_SIZE: usize = 128;

/// `ticks` of a counter at `hz` in ns. In 64-bit arithmetic (one division) while
/// `ticks * 10^9` fits, which is every age and wait shorter than 18 s; 128-bit beyond (a
/// library call).
fn ticks_to_ns(ticks: u64, hz: u64) -> i64 {
    let hz = hz.max(1);
    let ns = match ticks.checked_mul(1_000_000_000) {
        Some(scaled) => u128::from(scaled / hz),
        None => u128::from(ticks) * 1_000_000_000 / u128::from(hz),
    };
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// What the services need from the kernel.
pub trait Kernel {
    /// The system counter.
    fn now(&self) -> u64;
    /// The caller's operating mode (GET_PARTITION_STATUS).
    fn mode(&self) -> Result<OperatingMode, ReturnCode>;
    /// The `Wait` hypercall: until `deadline` (counter) or one of `doorbells` (bit = port
    /// index). `Ok` with the doorbells that rang, or `Err(TimedOut)`.
    fn wait(&mut self, deadline: u64, doorbells: u64) -> Result<u64, ReturnCode>;
    /// The `Doorbell` hypercall for the caller's port `port`.
    fn doorbell(&mut self, port: usize) -> Result<(), ReturnCode>;
    /// Prints one line on the partition's console.
    fn report(&mut self, message: &[u8]);
    /// The `RaiseApplicationError` hypercall: returns only if the partition's HM table says
    /// to ignore the error.
    fn raise_application_error(&mut self, message: &[u8]) -> Result<(), ReturnCode>;
}

/// Turns a port's buffers into shared words. The partition owns the buffers it writes
/// ([`Buffers::own`]) and only reads its peer's ([`Buffers::peer`]).
pub trait Buffers {
    type Own: SharedWordsMut;
    type Peer: SharedWords;
    /// The buffer at `ipa`, `size` bytes, that this partition writes.
    fn own(&self, ipa: u64, size: u64) -> Self::Own;
    /// The buffer at `ipa`, `size` bytes, that its peer writes.
    fn peer(&self, ipa: u64, size: u64) -> Self::Peer;
}

/// A sampling port created by this partition (ARINC `SAMPLING_PORT_ID_TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SamplingPortId(pub u32);

/// A queuing port created by this partition (ARINC `QUEUING_PORT_ID_TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuingPortId(pub u32);

/// GET_SAMPLING_PORT_STATUS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SamplingPortStatus {
    /// The refresh period, ns ([`INFINITE_TIME_VALUE`] when none is configured).
    pub refresh_period: i64,
    pub max_message_size: u32,
    pub direction: Direction,
    /// Validity of the last message read (a destination's; `Invalid` before any).
    pub last_msg_validity: Validity,
}

/// GET_QUEUING_PORT_STATUS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuingPortStatus {
    /// Messages in the queue.
    pub nb_message: u32,
    pub max_nb_message: u32,
    pub max_message_size: u32,
    pub direction: Direction,
    /// Processes of this partition blocked on the port (0: the caller is the only one).
    pub waiting_processes: u32,
}

/// A message READ_SAMPLING_MESSAGE returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampledMessage {
    /// Bytes copied to the start of the caller's buffer.
    pub length: usize,
    pub validity: Validity,
    /// Its age in ns when it was read.
    pub age: i64,
}

/// A message RECEIVE_QUEUING_MESSAGE returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Bytes copied to the start of the caller's buffer.
    pub length: usize,
    /// The queue overflowed since the last receive (a message the source could not queue
    /// was lost). ARINC 653 returns the message with `INVALID_CONFIG` then.
    pub overflowed: bool,
}

impl QueuedMessage {
    /// The ARINC 653 return code of the RECEIVE_QUEUING_MESSAGE that returned it.
    pub fn return_code(&self) -> ReturnCode {
        if self.overflowed {
            ReturnCode::InvalidConfig
        } else {
            ReturnCode::NoError
        }
    }
}

/// One port's state: not created, or created as what it is configured to be.
enum Slot<B: Buffers> {
    Unused,
    SamplingSource(SamplingWriter<B::Own>),
    SamplingDestination {
        reader: SamplingReader<B::Peer>,
        last_validity: Validity,
    },
    QueuingSource(QueuingSender<B::Own, B::Peer>),
    QueuingDestination(QueuingReceiver<B::Peer, B::Own>),
}

/// The APEX services of one partition.
pub struct Apex<K: Kernel, B: Buffers> {
    info: InfoPage<'static>,
    kernel: K,
    buffers: B,
    slots: [Slot<B>; MAX_PORTS],
    /// The periodic process's next release point (counter), once it has a period.
    next_release: Option<u64>,
    /// Its period in counter ticks.
    period_ticks: u64,
}

impl<K: Kernel, B: Buffers> Apex<K, B> {
    /// The services of the partition `info` describes.
    pub fn new(info: InfoPage<'static>, kernel: K, buffers: B) -> Self {
        Self {
            info,
            kernel,
            buffers,
            slots: [const { Slot::Unused }; MAX_PORTS],
            next_release: None,
            period_ticks: 0,
        }
    }

    /// The partition's information page.
    pub fn info(&self) -> &InfoPage<'static> {
        &self.info
    }

    /// The kernel interface (for calls this module does not wrap).
    pub fn kernel(&mut self) -> &mut K {
        &mut self.kernel
    }

    fn ticks_to_ns(&self, ticks: u64) -> i64 {
        ticks_to_ns(ticks, self.info.counter_hz())
    }

    /// `ns` (non-negative) in counter ticks, rounded up so a wait is never short.
    fn ns_to_ticks(&self, ns: i64) -> u64 {
        let hz = u128::from(self.info.counter_hz().max(1));
        let ticks = (u128::from(ns.unsigned_abs()) * hz).div_ceil(1_000_000_000);
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// The counter deadline of a timeout of `timeout` ns from now (`None`: never).
    fn deadline(&self, timeout: i64) -> Option<u64> {
        (timeout != INFINITE_TIME_VALUE)
            .then(|| self.kernel.now().saturating_add(self.ns_to_ticks(timeout)))
    }

    /// Blocks in the `Wait` hypercall until `deadline` or one of `doorbells`; reaching the
    /// deadline is not an error here (the caller decides what it means).
    fn block(&mut self, deadline: u64, doorbells: u64) -> Result<(), ReturnCode> {
        match self.kernel.wait(deadline, doorbells) {
            Ok(_) | Err(ReturnCode::TimedOut) => Ok(()),
            Err(code) => Err(code),
        }
    }

    // ----------------------------------------------------------------------------------
    // Time

    /// GET_TIME: the system time in ns.
    pub fn get_time(&self) -> i64 {
        self.ticks_to_ns(self.kernel.now())
    }

    /// TIMED_WAIT: suspends the caller for `delay` ns (0: returns at once). `INVALID_PARAM`
    /// for a negative or infinite delay; `INVALID_MODE` during initialisation.
    pub fn timed_wait(&mut self, delay: i64) -> Result<(), ReturnCode> {
        if delay < 0 {
            return Err(ReturnCode::InvalidParam);
        }
        if delay == 0 {
            return Ok(());
        }
        let deadline = self.deadline(delay).unwrap_or(NO_DEADLINE);
        self.block(deadline, 0)
    }

    /// Makes the caller a periodic process of period `period` ns whose first release point
    /// is now (what START does for the Part 4 process). `INVALID_PARAM` for a period that is
    /// not positive.
    pub fn start_periodic(&mut self, period: i64) -> Result<(), ReturnCode> {
        if period <= 0 {
            return Err(ReturnCode::InvalidParam);
        }
        self.period_ticks = self.ns_to_ticks(period).max(1);
        self.next_release = Some(self.kernel.now());
        Ok(())
    }

    /// PERIODIC_WAIT: suspends the caller until its next release point (the first one after
    /// now, so a missed period is skipped, not made up). `INVALID_MODE` if it is not periodic.
    pub fn periodic_wait(&mut self) -> Result<(), ReturnCode> {
        let Some(mut next) = self.next_release else {
            return Err(ReturnCode::InvalidMode);
        };
        let now = self.kernel.now();
        next = next.saturating_add(self.period_ticks);
        if next <= now {
            let missed = (now - next) / self.period_ticks + 1;
            next = next.saturating_add(missed.saturating_mul(self.period_ticks));
        }
        self.next_release = Some(next);
        self.block(next, 0)
    }

    // ----------------------------------------------------------------------------------
    // Creating ports

    /// The configured port `name` of kind `is_sampling`, and whether it may be created now.
    fn find_port(
        &self,
        name: &str,
        sampling: bool,
    ) -> Result<(usize, crate::info::Port<'static>), ReturnCode> {
        let (index, port) = self
            .info
            .ports()
            .enumerate()
            .find(|(_, p)| p.name == name)
            .ok_or(ReturnCode::InvalidConfig)?;
        if matches!(port.kind, PortKind::Sampling { .. }) != sampling {
            return Err(ReturnCode::InvalidConfig);
        }
        if !matches!(self.slots.get(index), Some(Slot::Unused)) {
            return Err(ReturnCode::NoAction);
        }
        match self.kernel.mode()? {
            OperatingMode::ColdStart | OperatingMode::WarmStart => Ok((index, port)),
            _ => Err(ReturnCode::InvalidMode),
        }
    }

    /// CREATE_SAMPLING_PORT: the configured sampling port `name`, which must have this
    /// maximum message size and direction and, for a destination with a configured refresh
    /// period, this refresh period (ns).
    pub fn create_sampling_port(
        &mut self,
        name: &str,
        max_message_size: u32,
        direction: Direction,
        refresh_period: i64,
    ) -> Result<SamplingPortId, ReturnCode> {
        let (index, port) = self.find_port(name, true)?;
        let PortKind::Sampling { refresh } = port.kind else {
            return Err(ReturnCode::InvalidConfig);
        };
        if port.max_message_size != max_message_size || port.direction != direction {
            return Err(ReturnCode::InvalidConfig);
        }
        let refresh_ticks = match (direction, refresh) {
            (Direction::Destination, Some(r)) => {
                if i64::try_from(r.ns).ok() != Some(refresh_period) {
                    return Err(ReturnCode::InvalidConfig);
                }
                r.ticks
            }
            _ if refresh_period < INFINITE_TIME_VALUE => return Err(ReturnCode::InvalidConfig),
            _ => u64::MAX,
        };
        let size = max_message_size as usize;
        let slot = match direction {
            Direction::Source => Slot::SamplingSource(
                SamplingWriter::new(self.buffers.own(port.data.ipa, port.data.size), size)
                    .map_err(|e| e.return_code())?,
            ),
            Direction::Destination => Slot::SamplingDestination {
                reader: SamplingReader::new(
                    self.buffers.peer(port.data.ipa, port.data.size),
                    size,
                    refresh_ticks,
                )
                .map_err(|e| e.return_code())?,
                last_validity: Validity::Invalid,
            },
        };
        self.slots[index] = slot;
        Ok(SamplingPortId(index as u32 + 1))
    }

    /// CREATE_QUEUING_PORT: the configured queuing port `name`, which must have this maximum
    /// message size, depth, direction and discipline.
    pub fn create_queuing_port(
        &mut self,
        name: &str,
        max_message_size: u32,
        max_nb_message: u32,
        direction: Direction,
        discipline: QueuingDiscipline,
    ) -> Result<QueuingPortId, ReturnCode> {
        let (index, port) = self.find_port(name, false)?;
        let PortKind::Queuing {
            max_messages,
            discipline: configured,
        } = port.kind
        else {
            return Err(ReturnCode::InvalidConfig);
        };
        if port.max_message_size != max_message_size
            || max_messages != max_nb_message
            || port.direction != direction
            || configured != discipline
        {
            return Err(ReturnCode::InvalidConfig);
        }
        let ack = port.ack.ok_or(ReturnCode::InvalidConfig)?;
        let (size, depth) = (max_message_size as usize, max_nb_message as usize);
        let data = port.data;
        let slot = match direction {
            Direction::Source => Slot::QueuingSource(
                QueuingSender::new(
                    self.buffers.own(data.ipa, data.size),
                    self.buffers.peer(ack.ipa, ack.size),
                    size,
                    depth,
                )
                .map_err(|e| e.return_code())?,
            ),
            Direction::Destination => Slot::QueuingDestination(
                QueuingReceiver::new(
                    self.buffers.peer(data.ipa, data.size),
                    self.buffers.own(ack.ipa, ack.size),
                    size,
                    depth,
                )
                .map_err(|e| e.return_code())?,
            ),
        };
        self.slots[index] = slot;
        Ok(QueuingPortId(index as u32 + 1))
    }

    /// The slot of port id `id` (1-based), if created.
    fn slot(&mut self, id: u32) -> Result<(usize, &mut Slot<B>), ReturnCode> {
        let index = (id as usize).wrapping_sub(1);
        match self.slots.get_mut(index) {
            Some(Slot::Unused) | None => Err(ReturnCode::InvalidParam),
            Some(slot) => Ok((index, slot)),
        }
    }

    /// The id of the created port `name` of kind `sampling`.
    fn id_of(&self, name: &str, sampling: bool) -> Result<u32, ReturnCode> {
        let index = self
            .info
            .ports()
            .position(|p| p.name == name)
            .ok_or(ReturnCode::InvalidConfig)?;
        match (&self.slots[index], sampling) {
            (Slot::SamplingSource(_) | Slot::SamplingDestination { .. }, true)
            | (Slot::QueuingSource(_) | Slot::QueuingDestination(_), false) => Ok(index as u32 + 1),
            _ => Err(ReturnCode::InvalidConfig),
        }
    }

    // ----------------------------------------------------------------------------------
    // Sampling ports

    /// GET_SAMPLING_PORT_ID.
    pub fn get_sampling_port_id(&self, name: &str) -> Result<SamplingPortId, ReturnCode> {
        self.id_of(name, true).map(SamplingPortId)
    }

    /// WRITE_SAMPLING_MESSAGE: `message` becomes the port's current message, stamped with
    /// the system counter. No hypercall.
    pub fn write_sampling_message(
        &mut self,
        id: SamplingPortId,
        message: &[u8],
    ) -> Result<(), ReturnCode> {
        let now = self.kernel.now();
        match self.slot(id.0)?.1 {
            Slot::SamplingSource(writer) => writer.write(message, now).map_err(|e| e.return_code()),
            Slot::SamplingDestination { .. } => Err(ReturnCode::InvalidMode),
            _ => Err(ReturnCode::InvalidParam),
        }
    }

    /// READ_SAMPLING_MESSAGE: copies the current message to the start of `buffer` (at least
    /// the port's maximum size). `NO_ACTION` if nothing was ever written; `NOT_AVAILABLE` if
    /// the buffer holds no consistent message (a writer that misbehaves). No hypercall.
    pub fn read_sampling_message(
        &mut self,
        id: SamplingPortId,
        buffer: &mut [u8],
    ) -> Result<SampledMessage, ReturnCode> {
        let hz = self.info.counter_hz();
        let index = (id.0 as usize).wrapping_sub(1);
        let kernel = &self.kernel;
        match self.slots.get_mut(index).ok_or(ReturnCode::InvalidParam)? {
            Slot::SamplingDestination {
                reader,
                last_validity,
            } => {
                let sample = reader.read(buffer, || kernel.now()).map_err(|e| match e {
                    crate::ports::sampling::ReadError::Empty => ReturnCode::NoAction,
                    other => other.return_code(),
                })?;
                *last_validity = sample.validity;
                Ok(SampledMessage {
                    length: sample.length,
                    validity: sample.validity,
                    age: ticks_to_ns(sample.age, hz),
                })
            }
            Slot::SamplingSource(_) => Err(ReturnCode::InvalidMode),
            _ => Err(ReturnCode::InvalidParam),
        }
    }

    /// GET_SAMPLING_PORT_STATUS.
    pub fn get_sampling_port_status(
        &mut self,
        id: SamplingPortId,
    ) -> Result<SamplingPortStatus, ReturnCode> {
        let (index, slot) = self.slot(id.0)?;
        let last_msg_validity = match slot {
            Slot::SamplingDestination { last_validity, .. } => *last_validity,
            Slot::SamplingSource(_) => Validity::Invalid,
            _ => return Err(ReturnCode::InvalidParam),
        };
        let port = self.info.port_at(index).ok_or(ReturnCode::InvalidParam)?;
        let refresh_period = match port.kind {
            PortKind::Sampling { refresh: Some(r) } => i64::try_from(r.ns).unwrap_or(i64::MAX),
            _ => INFINITE_TIME_VALUE,
        };
        Ok(SamplingPortStatus {
            refresh_period,
            max_message_size: port.max_message_size,
            direction: port.direction,
            last_msg_validity,
        })
    }

    // ----------------------------------------------------------------------------------
    // Queuing ports

    /// GET_QUEUING_PORT_ID.
    pub fn get_queuing_port_id(&self, name: &str) -> Result<QueuingPortId, ReturnCode> {
        self.id_of(name, false).map(QueuingPortId)
    }

    /// SEND_QUEUING_MESSAGE: queues `message`. When the queue is full: with a zero timeout,
    /// `NOT_AVAILABLE` at once; otherwise the caller waits for the destination to take a
    /// message (its doorbell) until `timeout` ns ([`INFINITE_TIME_VALUE`]: for ever), then
    /// `TIMED_OUT`. A message that could not be queued counts as an overflow, which the
    /// destination's next receive reports. Rings the destination's doorbell after queuing.
    pub fn send_queuing_message(
        &mut self,
        id: QueuingPortId,
        message: &[u8],
        timeout: i64,
    ) -> Result<(), ReturnCode> {
        if timeout < INFINITE_TIME_VALUE {
            return Err(ReturnCode::InvalidParam);
        }
        let deadline = self.deadline(timeout);
        let (index, slot) = self.slot(id.0)?;
        let Slot::QueuingSource(_) = slot else {
            return Err(match slot {
                Slot::QueuingDestination(_) => ReturnCode::InvalidMode,
                _ => ReturnCode::InvalidParam,
            });
        };
        let mut waiting = false;
        let result = loop {
            let expired = deadline.is_some_and(|d| self.kernel.now() >= d);
            let Slot::QueuingSource(sender) = &mut self.slots[index] else {
                return Err(ReturnCode::InvalidParam);
            };
            // The last attempt (zero timeout, or the timeout has expired) counts an overflow
            // if it fails; the ones before it do not: the message may still go.
            let result = if timeout == 0 || expired {
                sender.send(message)
            } else {
                sender.try_send(message)
            };
            match result {
                Ok(()) => {
                    // A destination blocked on an empty queue looks again.
                    if sender.receiver_waiting() {
                        let _ = self.kernel.doorbell(index);
                    }
                    break Ok(());
                }
                Err(SendError::Full) if timeout == 0 => break Err(ReturnCode::NotAvailable),
                Err(SendError::Full) if expired => break Err(ReturnCode::TimedOut),
                Err(SendError::Full) if !waiting => {
                    // Say so, then look once more before blocking: a receive that did not
                    // see the flag is seen by that look.
                    sender.set_waiting(true);
                    waiting = true;
                }
                Err(SendError::Full) => {
                    if let Err(code) = self.block(deadline.unwrap_or(NO_DEADLINE), 1u64 << index) {
                        break Err(code);
                    }
                }
                Err(other) => break Err(other.return_code()),
            }
        };
        if waiting && let Slot::QueuingSource(sender) = &mut self.slots[index] {
            sender.set_waiting(false);
        }
        result
    }

    /// RECEIVE_QUEUING_MESSAGE: takes the oldest message into the start of `buffer` (at
    /// least the port's maximum size). When the queue is empty: with a zero timeout,
    /// `NOT_AVAILABLE`; otherwise the caller waits for the source's doorbell until `timeout`
    /// ns, then `TIMED_OUT`. Rings the source's doorbell after taking a message, so a source
    /// blocked on a full queue looks again.
    pub fn receive_queuing_message(
        &mut self,
        id: QueuingPortId,
        timeout: i64,
        buffer: &mut [u8],
    ) -> Result<QueuedMessage, ReturnCode> {
        if timeout < INFINITE_TIME_VALUE {
            return Err(ReturnCode::InvalidParam);
        }
        let deadline = self.deadline(timeout);
        let (index, slot) = self.slot(id.0)?;
        let Slot::QueuingDestination(_) = slot else {
            return Err(match slot {
                Slot::QueuingSource(_) => ReturnCode::InvalidMode,
                _ => ReturnCode::InvalidParam,
            });
        };
        let mut waiting = false;
        let result = loop {
            let Slot::QueuingDestination(receiver) = &mut self.slots[index] else {
                return Err(ReturnCode::InvalidParam);
            };
            match receiver.receive(buffer) {
                Ok(received) => {
                    // A source blocked on a full queue looks again.
                    if receiver.sender_waiting() {
                        let _ = self.kernel.doorbell(index);
                    }
                    break Ok(QueuedMessage {
                        length: received.length,
                        overflowed: received.overflow,
                    });
                }
                Err(ReceiveError::Empty) => {
                    if timeout == 0 {
                        break Err(ReturnCode::NotAvailable);
                    }
                    if deadline.is_some_and(|d| self.kernel.now() >= d) {
                        break Err(ReturnCode::TimedOut);
                    }
                    if !waiting {
                        // Say so, then look once more before blocking (as a blocked send does).
                        receiver.set_waiting(true);
                        waiting = true;
                    } else if let Err(code) =
                        self.block(deadline.unwrap_or(NO_DEADLINE), 1u64 << index)
                    {
                        break Err(code);
                    }
                }
                Err(other) => break Err(other.return_code()),
            }
        };
        if waiting && let Slot::QueuingDestination(receiver) = &mut self.slots[index] {
            receiver.set_waiting(false);
        }
        result
    }

    /// CLEAR_QUEUING_PORT: discards every queued message (destinations only).
    pub fn clear_queuing_port(&mut self, id: QueuingPortId) -> Result<(), ReturnCode> {
        let (index, slot) = self.slot(id.0)?;
        match slot {
            Slot::QueuingDestination(receiver) => {
                receiver.clear();
                if receiver.sender_waiting() {
                    let _ = self.kernel.doorbell(index);
                }
                Ok(())
            }
            Slot::QueuingSource(_) => Err(ReturnCode::InvalidMode),
            _ => Err(ReturnCode::InvalidParam),
        }
    }

    /// GET_QUEUING_PORT_STATUS.
    pub fn get_queuing_port_status(
        &mut self,
        id: QueuingPortId,
    ) -> Result<QueuingPortStatus, ReturnCode> {
        let (index, slot) = self.slot(id.0)?;
        let status: QueueStatus = match slot {
            Slot::QueuingSource(sender) => sender.status().map_err(|e| e.return_code())?,
            Slot::QueuingDestination(receiver) => receiver.status().map_err(|e| e.return_code())?,
            _ => return Err(ReturnCode::InvalidParam),
        };
        let direction = self
            .info
            .port_at(index)
            .map(|p| p.direction)
            .ok_or(ReturnCode::InvalidParam)?;
        Ok(QueuingPortStatus {
            nb_message: u32::try_from(status.messages).unwrap_or(u32::MAX),
            max_nb_message: u32::try_from(status.max_messages).unwrap_or(u32::MAX),
            max_message_size: u32::try_from(status.max_message_size).unwrap_or(u32::MAX),
            direction,
            waiting_processes: 0,
        })
    }

    // ----------------------------------------------------------------------------------
    // Errors

    /// REPORT_APPLICATION_MESSAGE: prints `message` (at most [`MAX_ERROR_MESSAGE_SIZE`]
    /// bytes) on the partition's console.
    pub fn report_application_message(&mut self, message: &[u8]) -> Result<(), ReturnCode> {
        if message.len() > MAX_ERROR_MESSAGE_SIZE {
            return Err(ReturnCode::InvalidParam);
        }
        self.kernel.report(message);
        Ok(())
    }

    /// RAISE_APPLICATION_ERROR: reports an application error with `message` (at most
    /// [`MAX_ERROR_MESSAGE_SIZE`] bytes) to the health monitor, which applies the action the
    /// partition's HM table names for `application_error`. Returns only if that action lets
    /// the partition continue (`ignore`); otherwise the partition stops or restarts.
    pub fn raise_application_error(&mut self, message: &[u8]) -> Result<(), ReturnCode> {
        if message.len() > MAX_ERROR_MESSAGE_SIZE {
            return Err(ReturnCode::InvalidParam);
        }
        self.kernel.raise_application_error(message)
    }
}

#[cfg(target_arch = "aarch64")]
pub use self::pkernel::{OnPkernel, PkernelBuffers};

#[cfg(target_arch = "aarch64")]
mod pkernel {
    use super::{Apex, Buffers, Kernel};
    use crate::call;
    use crate::hypercall::ReturnCode;
    use crate::info::InfoPage;
    use crate::partition::OperatingMode;
    use crate::ports::{OwnBuffer, PeerBuffer};

    /// The kernel interface on pkernel: the hypercalls and the virtual counter.
    pub struct OnPkernel;

    impl Kernel for OnPkernel {
        fn now(&self) -> u64 {
            let value: u64;
            // SAFETY: reading the virtual counter has no side effects; the ISB keeps it from
            // being read before the loads of a message that precede it.
            unsafe {
                core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack, preserves_flags))
            };
            value
        }
        fn mode(&self) -> Result<OperatingMode, ReturnCode> {
            call::get_partition_status().map(|s| s.operating_mode)
        }
        fn wait(&mut self, deadline: u64, doorbells: u64) -> Result<u64, ReturnCode> {
            call::wait(deadline, doorbells)
        }
        fn doorbell(&mut self, port: usize) -> Result<(), ReturnCode> {
            call::doorbell(port as u64)
        }
        fn raise_application_error(&mut self, message: &[u8]) -> Result<(), ReturnCode> {
            call::raise_application_error(message)
        }
        fn report(&mut self, message: &[u8]) {
            let mut line = [0u8; super::MAX_ERROR_MESSAGE_SIZE + 1];
            let len = message.len().min(super::MAX_ERROR_MESSAGE_SIZE);
            line[..len].copy_from_slice(&message[..len]);
            line[len] = b'\n';
            let _ = call::console_write(&line[..=len]);
        }
    }

    /// Port buffers on pkernel: the guest-physical addresses the information page gives,
    /// which the kernel maps for the partition's whole life (its own buffers read-write,
    /// its peers' read-only).
    pub struct PkernelBuffers;

    impl Buffers for PkernelBuffers {
        type Own = OwnBuffer<'static>;
        type Peer = PeerBuffer<'static>;

        fn own(&self, ipa: u64, size: u64) -> OwnBuffer<'static> {
            // SAFETY: the information page (validated) gives a page-aligned buffer of `size`
            // bytes that the kernel maps read-write into this partition for as long as it
            // runs; the partition runs with its MMU off (or identity mapped), so the IPA is
            // the address; the only other party is the peer partition, which reaches it only
            // through the same protocol: aligned 64-bit atomic loads and stores.
            unsafe { OwnBuffer::from_raw(ipa as *mut u64, (size / 8) as usize) }
        }

        fn peer(&self, ipa: u64, size: u64) -> PeerBuffer<'static> {
            // SAFETY: as for `own`, mapped read-only: the reader only loads.
            unsafe { PeerBuffer::from_raw(ipa as *const u64, (size / 8) as usize) }
        }
    }

    impl Apex<OnPkernel, PkernelBuffers> {
        /// The services of the calling partition on pkernel, from its information page.
        pub fn on_pkernel(info: InfoPage<'static>) -> Self {
            Apex::new(info, OnPkernel, PkernelBuffers)
        }
    }
}
