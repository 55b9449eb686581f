//! The binding's logic, independent of the hardware: the a653rs P4 services on
//! [`apex_api::apex::Apex`], and the Part 4 process table. Written against apex-api's
//! [`Kernel`] and [`Buffers`] traits, so the host tests run it with a fake kernel; the
//! runtime (`runtime.rs`) keeps one [`Binding`] in a static and forwards each trait method
//! of [`PkernelHypervisor`](crate::PkernelHypervisor) to it.

use a653rs::bindings::{
    ApexByte, ApexName, ApexProcessAttribute, ApexSystemTime, ErrorCode, ErrorReturnCode,
    MAX_PRIORITY_VALUE, MIN_PRIORITY_VALUE, MessageRange, MessageSize, PortDirection, ProcessId,
    QueueOverflow, QueuingDiscipline, QueuingPortId, QueuingPortStatus, SamplingPortId,
    SystemAddress, Validity,
};
use apex_api::ReturnCode;
use apex_api::apex::{self, Apex, Buffers, INFINITE_TIME_VALUE, Kernel};
use apex_api::info;
use apex_api::partition::OperatingMode;
use apex_api::ports::sampling;

/// The identifier of the one process a Part 4 partition creates (the initialisation process
/// is a653rs' `MAIN_PROCESS_ID`, -1; `NULL_PROCESS_ID` is 0).
pub const PROCESS_ID: ProcessId = 1;

/// ARINC 653 Part 4's processes: the initialisation process and one more.
pub const MAX_PROCESSES: u32 = 2;

/// The Part 4 process: created (and perhaps started) during initialisation, run once the
/// partition is NORMAL.
#[derive(Clone, Copy, Debug)]
pub struct Process {
    pub name: ApexName,
    pub entry_point: SystemAddress,
    /// ns; [`INFINITE_TIME_VALUE`] for an aperiodic process.
    pub period: ApexSystemTime,
    /// START was called (ARINC: READY, waiting for NORMAL); otherwise DORMANT.
    pub started: bool,
}

/// The binding's state: the partition's APEX services and its process table.
pub struct Binding<K: Kernel, B: Buffers> {
    apex: Apex<K, B>,
    process: Option<Process>,
    /// Bytes of stack the process gets: the partition's whole stack (it starts at its top;
    /// the initialisation process never comes back).
    stack_bytes: u64,
}

/// An apex-api error as an a653rs one. The services return `NO_ERROR` as `Ok`, never as an
/// error; should one ever arrive, it is reported as `NOT_AVAILABLE` rather than dropped.
pub fn error(code: ReturnCode) -> ErrorReturnCode {
    match code {
        ReturnCode::NoAction => ErrorReturnCode::NoAction,
        ReturnCode::NotAvailable | ReturnCode::NoError => ErrorReturnCode::NotAvailable,
        ReturnCode::InvalidParam => ErrorReturnCode::InvalidParam,
        ReturnCode::InvalidConfig => ErrorReturnCode::InvalidConfig,
        ReturnCode::InvalidMode => ErrorReturnCode::InvalidMode,
        ReturnCode::TimedOut => ErrorReturnCode::TimedOut,
    }
}

/// An a653rs operating mode as pkernel's.
pub fn mode(mode: a653rs::bindings::OperatingMode) -> OperatingMode {
    match mode {
        a653rs::bindings::OperatingMode::Idle => OperatingMode::Idle,
        a653rs::bindings::OperatingMode::ColdStart => OperatingMode::ColdStart,
        a653rs::bindings::OperatingMode::WarmStart => OperatingMode::WarmStart,
        a653rs::bindings::OperatingMode::Normal => OperatingMode::Normal,
    }
}

/// pkernel's operating mode as a653rs'.
pub fn a653rs_mode(mode: OperatingMode) -> a653rs::bindings::OperatingMode {
    match mode {
        OperatingMode::Idle => a653rs::bindings::OperatingMode::Idle,
        OperatingMode::ColdStart => a653rs::bindings::OperatingMode::ColdStart,
        OperatingMode::WarmStart => a653rs::bindings::OperatingMode::WarmStart,
        OperatingMode::Normal => a653rs::bindings::OperatingMode::Normal,
    }
}

/// A time in ns as ARINC's signed form (`u64::MAX`, pkernel's infinite, is -1).
pub fn system_time(ns: u64) -> ApexSystemTime {
    i64::try_from(ns).unwrap_or(INFINITE_TIME_VALUE)
}

/// The text of an ARINC name: the bytes before the first NUL (all 32 if there is none), as
/// C reads it. `None` if they are not UTF-8, which no configured name is.
pub fn name(name: &ApexName) -> Option<&str> {
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    core::str::from_utf8(&name[..end]).ok()
}

fn direction(direction: PortDirection) -> info::Direction {
    match direction {
        PortDirection::Source => info::Direction::Source,
        PortDirection::Destination => info::Direction::Destination,
    }
}

fn port_direction(direction: info::Direction) -> PortDirection {
    match direction {
        info::Direction::Source => PortDirection::Source,
        info::Direction::Destination => PortDirection::Destination,
    }
}

fn discipline(discipline: QueuingDiscipline) -> info::QueuingDiscipline {
    match discipline {
        QueuingDiscipline::Fifo => info::QueuingDiscipline::Fifo,
        QueuingDiscipline::Priority => info::QueuingDiscipline::Priority,
    }
}

fn validity(validity: sampling::Validity) -> Validity {
    match validity {
        sampling::Validity::Valid => Validity::Valid,
        sampling::Validity::Invalid => Validity::Invalid,
    }
}

/// A port identifier a653rs holds as the u32 apex-api gave. Anything else names no port.
fn port_id(id: i64) -> Result<u32, ErrorReturnCode> {
    u32::try_from(id)
        .ok()
        .filter(|&id| id != 0)
        .ok_or(ErrorReturnCode::InvalidParam)
}

impl<K: Kernel, B: Buffers> Binding<K, B> {
    /// The binding over `apex`, whose process may use `stack_bytes` of stack.
    pub fn new(apex: Apex<K, B>, stack_bytes: u64) -> Self {
        Self {
            apex,
            process: None,
            stack_bytes,
        }
    }

    /// The partition's information page.
    pub fn info(&self) -> &info::InfoPage<'static> {
        self.apex.info()
    }

    /// The process table (for the runtime and the tests).
    pub fn process(&self) -> Option<Process> {
        self.process
    }

    fn initialising(&mut self) -> Result<(), ErrorReturnCode> {
        match self.apex.kernel().mode().map_err(error)? {
            OperatingMode::ColdStart | OperatingMode::WarmStart => Ok(()),
            _ => Err(ErrorReturnCode::InvalidMode),
        }
    }

    // ------------------------------------------------------------------------------------
    // Processes (ARINC 653 Part 4: the initialisation process and one more)

    /// CREATE_PROCESS, with the checks in ARINC 653's order: storage (the stack), the
    /// process limit, the name, stack size, priority, period (and that it is a multiple of
    /// the partition's period), time capacity, period against time capacity, mode.
    pub fn create_process(
        &mut self,
        attributes: &ApexProcessAttribute,
    ) -> Result<ProcessId, ErrorReturnCode> {
        if u64::from(attributes.stack_size) > self.stack_bytes {
            return Err(ErrorReturnCode::InvalidConfig);
        }
        if self.process.is_some() {
            // Part 4's limit comes before the name check: a second process, whatever its
            // name, is one too many.
            return Err(ErrorReturnCode::InvalidConfig);
        }
        if attributes.stack_size == 0 {
            return Err(ErrorReturnCode::InvalidParam);
        }
        if !(MIN_PRIORITY_VALUE..=MAX_PRIORITY_VALUE).contains(&attributes.base_priority) {
            return Err(ErrorReturnCode::InvalidParam);
        }
        let period = attributes.period;
        if period != INFINITE_TIME_VALUE && period <= 0 {
            return Err(ErrorReturnCode::InvalidParam);
        }
        // On dedicated cores the partition's period is infinite: any period will do.
        if let Some(budget) = self.apex.info().time_budget().filter(|_| period > 0) {
            let partition = i64::try_from(budget.period.ns).unwrap_or(i64::MAX);
            if partition <= 0 || period % partition != 0 {
                return Err(ErrorReturnCode::InvalidConfig);
            }
        }
        let capacity = attributes.time_capacity;
        if capacity != INFINITE_TIME_VALUE && capacity <= 0 {
            return Err(ErrorReturnCode::InvalidParam);
        }
        if period > 0 && capacity != INFINITE_TIME_VALUE && period < capacity {
            return Err(ErrorReturnCode::InvalidParam);
        }
        self.initialising()?;
        self.process = Some(Process {
            name: attributes.name,
            entry_point: attributes.entry_point,
            period,
            started: false,
        });
        Ok(PROCESS_ID)
    }

    /// START during initialisation: the process becomes ready and runs when the partition
    /// is NORMAL. `INVALID_PARAM` for an identifier that is not the created process,
    /// `NO_ACTION` if it is started already (or running: in NORMAL mode the only process that
    /// can call START is the process itself).
    pub fn start(&mut self, id: ProcessId) -> Result<(), ErrorReturnCode> {
        let process = match &mut self.process {
            Some(process) if id == PROCESS_ID => process,
            _ => return Err(ErrorReturnCode::InvalidParam),
        };
        if process.started {
            return Err(ErrorReturnCode::NoAction);
        }
        process.started = true;
        Ok(())
    }

    /// The kernel has accepted SET_PARTITION_MODE(NORMAL): the initialisation process ends,
    /// and the started process (if any) becomes the running one. A periodic process's first
    /// release point is now. Returns its entry point; `None` if no process was started (the
    /// partition then has nothing to run).
    pub fn enter_normal(&mut self) -> Option<SystemAddress> {
        let process = self.process.filter(|p| p.started)?;
        if process.period > 0 {
            // Cannot fail: the period is positive.
            let _ = self.apex.start_periodic(process.period);
        }
        Some(process.entry_point)
    }

    // ------------------------------------------------------------------------------------
    // Time

    /// GET_TIME.
    pub fn get_time(&self) -> ApexSystemTime {
        self.apex.get_time()
    }

    /// PERIODIC_WAIT: `INVALID_MODE` unless the caller is the periodic process.
    pub fn periodic_wait(&mut self) -> Result<(), ErrorReturnCode> {
        self.apex.periodic_wait().map_err(error)
    }

    // ------------------------------------------------------------------------------------
    // Sampling ports

    /// CREATE_SAMPLING_PORT.
    pub fn create_sampling_port(
        &mut self,
        port_name: &ApexName,
        max_message_size: MessageSize,
        port_direction: PortDirection,
        refresh_period: ApexSystemTime,
    ) -> Result<SamplingPortId, ErrorReturnCode> {
        let name = name(port_name).ok_or(ErrorReturnCode::InvalidConfig)?;
        self.apex
            .create_sampling_port(
                name,
                max_message_size,
                direction(port_direction),
                refresh_period,
            )
            .map(|id| SamplingPortId::from(id.0))
            .map_err(error)
    }

    /// WRITE_SAMPLING_MESSAGE.
    pub fn write_sampling_message(
        &mut self,
        id: SamplingPortId,
        message: &[ApexByte],
    ) -> Result<(), ErrorReturnCode> {
        self.apex
            .write_sampling_message(apex::SamplingPortId(port_id(id)?), message)
            .map_err(error)
    }

    /// READ_SAMPLING_MESSAGE: the validity and length of the message copied to the start of
    /// `message`. `NO_ACTION` when nothing was written yet.
    pub fn read_sampling_message(
        &mut self,
        id: SamplingPortId,
        message: &mut [ApexByte],
    ) -> Result<(Validity, MessageSize), ErrorReturnCode> {
        let read = self
            .apex
            .read_sampling_message(apex::SamplingPortId(port_id(id)?), message)
            .map_err(error)?;
        // The length is at most the port's maximum message size, a u32.
        let length =
            MessageSize::try_from(read.length).map_err(|_| ErrorReturnCode::InvalidConfig)?;
        Ok((validity(read.validity), length))
    }

    // ------------------------------------------------------------------------------------
    // Queuing ports

    /// CREATE_QUEUING_PORT.
    pub fn create_queuing_port(
        &mut self,
        port_name: &ApexName,
        max_message_size: MessageSize,
        max_nb_message: MessageRange,
        port_direction: PortDirection,
        queuing_discipline: QueuingDiscipline,
    ) -> Result<QueuingPortId, ErrorReturnCode> {
        let name = name(port_name).ok_or(ErrorReturnCode::InvalidConfig)?;
        self.apex
            .create_queuing_port(
                name,
                max_message_size,
                max_nb_message,
                direction(port_direction),
                discipline(queuing_discipline),
            )
            .map(|id| QueuingPortId::from(id.0))
            .map_err(error)
    }

    /// SEND_QUEUING_MESSAGE (`time_out` in ns, -1 for ever, 0 not at all).
    pub fn send_queuing_message(
        &mut self,
        id: QueuingPortId,
        message: &[ApexByte],
        time_out: ApexSystemTime,
    ) -> Result<(), ErrorReturnCode> {
        self.apex
            .send_queuing_message(apex::QueuingPortId(port_id(id)?), message, time_out)
            .map_err(error)
    }

    /// RECEIVE_QUEUING_MESSAGE: the length of the message copied to the start of `message`,
    /// and whether the queue overflowed since the last receive. ARINC 653 returns such a
    /// message with `INVALID_CONFIG`; a653rs returns it as `Ok` with `QueueOverflow` set,
    /// which is what this does.
    pub fn receive_queuing_message(
        &mut self,
        id: QueuingPortId,
        time_out: ApexSystemTime,
        message: &mut [ApexByte],
    ) -> Result<(MessageSize, QueueOverflow), ErrorReturnCode> {
        let received = self
            .apex
            .receive_queuing_message(apex::QueuingPortId(port_id(id)?), time_out, message)
            .map_err(error)?;
        let length =
            MessageSize::try_from(received.length).map_err(|_| ErrorReturnCode::InvalidConfig)?;
        Ok((length, received.overflowed))
    }

    /// GET_QUEUING_PORT_STATUS.
    pub fn get_queuing_port_status(
        &mut self,
        id: QueuingPortId,
    ) -> Result<QueuingPortStatus, ErrorReturnCode> {
        let status = self
            .apex
            .get_queuing_port_status(apex::QueuingPortId(port_id(id)?))
            .map_err(error)?;
        Ok(QueuingPortStatus {
            nb_message: status.nb_message,
            max_nb_message: status.max_nb_message,
            max_message_size: status.max_message_size,
            port_direction: port_direction(status.direction),
            waiting_processes: i32::try_from(status.waiting_processes).unwrap_or(i32::MAX),
        })
    }

    /// CLEAR_QUEUING_PORT.
    pub fn clear_queuing_port(&mut self, id: QueuingPortId) -> Result<(), ErrorReturnCode> {
        self.apex
            .clear_queuing_port(apex::QueuingPortId(port_id(id)?))
            .map_err(error)
    }

    // ------------------------------------------------------------------------------------
    // Health monitoring

    /// REPORT_APPLICATION_MESSAGE: one line on the partition's console.
    pub fn report_application_message(
        &mut self,
        message: &[ApexByte],
    ) -> Result<(), ErrorReturnCode> {
        self.apex.report_application_message(message).map_err(error)
    }

    /// RAISE_APPLICATION_ERROR. Part 4 raises only `APPLICATION_ERROR` (anything else is
    /// `INVALID_PARAM`); the health monitor applies the partition's `application_error`
    /// action, so this returns only when that action is `ignore`.
    pub fn raise_application_error(
        &mut self,
        error_code: ErrorCode,
        message: &[ApexByte],
    ) -> Result<(), ErrorReturnCode> {
        if error_code != ErrorCode::ApplicationError {
            return Err(ErrorReturnCode::InvalidParam);
        }
        self.apex.raise_application_error(message).map_err(error)
    }
}
