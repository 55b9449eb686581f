//! What runs on pkernel: the binding's state in a static, the partition's entry, the six
//! a653rs P4 traits on [`PkernelHypervisor`], and the switch from the initialisation process
//! to the Part 4 process.

use a653rs::bindings::{
    ApexByte, ApexErrorP4, ApexLimits, ApexName, ApexPartitionP4, ApexPartitionStatus,
    ApexProcessAttribute, ApexProcessP4, ApexQueuingPortP4, ApexSamplingPortP4, ApexSystemTime,
    ApexTimeP4, ErrorCode, ErrorReturnCode, MessageRange, MessageSize, OperatingMode,
    PortDirection, ProcessId, QueueOverflow, QueuingDiscipline, QueuingPortId, QueuingPortStatus,
    SamplingPortId, StartCondition, SystemAddress, Validity,
};
use apex_api::apex::{Apex, OnPkernel, PkernelBuffers};
use apex_api::call;
use apex_api::hypercall::NO_DEADLINE;
use bm_runtime::{BootInfo, println};

use crate::PkernelHypervisor;
use crate::binding::{self, Binding};
use crate::cell::SingleCore;

/// The APEX services and the process table of this partition (see [`SingleCore`] for why a
/// single-core cell is enough). Filled at every entry, so a warm start, which keeps `.data`,
/// starts from a clean table too.
static STATE: SingleCore<Binding<OnPkernel, PkernelBuffers>> = SingleCore::new();

fn with<R>(f: impl FnOnce(&mut Binding<OnPkernel, PkernelBuffers>) -> R) -> R {
    STATE.with(f)
}

// ----------------------------------------------------------------------------------------
// Entry

bm_runtime::entry_initialising!(partition_entry);

unsafe extern "Rust" {
    /// The partition's main function, defined by [`entry!`](crate::entry) in the partition
    /// crate: `fn() -> !`, which runs the a653rs partition.
    fn __a653rs_pkernel_main() -> !;
}

unsafe extern "C" {
    /// Bottom and top of the partition's stack (`bm-partition.x`).
    static __stack_bottom: u8;
    static __stack_top: u8;
}

/// The partition's stack: its top and its size in bytes.
fn stack() -> (usize, u64) {
    let bottom = &raw const __stack_bottom as usize;
    let top = &raw const __stack_top as usize;
    (top, top.saturating_sub(bottom) as u64)
}

/// bm-runtime's entry calls this in COLD_START or WARM_START mode, on a fresh stack.
fn partition_entry(_boot: BootInfo) -> ! {
    let info = match bm_runtime::info() {
        Ok(info) => info,
        Err(e) => {
            println!("a653rs-pkernel: the partition information page is unreadable: {e}");
            call::partition_stop(1)
        }
    };
    let (_, stack_bytes) = stack();
    // SAFETY: this is the partition's entry: bm-runtime's `_start` set up a fresh stack and
    // called it, so no frame holding a borrow of STATE exists (a restart abandons every
    // frame of the previous run, any live borrow included).
    unsafe { STATE.reset(Binding::new(Apex::on_pkernel(info), stack_bytes)) };
    #[cfg(feature = "log")]
    crate::logger::install();
    // SAFETY: `entry!` defines this symbol in the partition crate with exactly this
    // signature (it type-checks the function it is given as `fn() -> !`).
    unsafe { __a653rs_pkernel_main() }
}

// ----------------------------------------------------------------------------------------
// From initialisation to the process

/// The kernel accepted NORMAL: the initialisation process is over. Runs the started process
/// on the partition's stack from its top (the initialisation process's frames are dropped
/// without unwinding: Part 4's initialisation process never comes back), or, if none was
/// started, idles.
fn run_process(entry: Option<SystemAddress>) -> ! {
    let Some(entry) = entry else { idle() };
    let (top, _) = stack();
    // SAFETY: switches SP to the top of the partition's own stack (16-byte aligned: the
    // linker script aligns it to a page) and calls the process's entry point, an
    // `extern "C" fn()`, which finds the AAPCS64 state it expects (SP aligned, frame pointer
    // cleared as at the bottom of a call chain). Every frame below is abandoned, never
    // returned to: nothing in them can be referenced by the process, which is a function of
    // no arguments reaching only statics, and the binding's state is not borrowed (this
    // runs after `with` returned). `process_returned` never returns either.
    unsafe {
        core::arch::asm!(
            "mov sp, {top}",
            "mov x29, xzr",
            "blr {entry}",
            "b {returned}",
            top = in(reg) top,
            entry = in(reg) entry,
            returned = sym process_returned,
            options(noreturn),
        )
    }
}

/// The process returned from its entry point: it is DORMANT (as after STOP_SELF), and the
/// partition has nothing more to run.
extern "C" fn process_returned() -> ! {
    println!("a653rs-pkernel: the process returned from its entry point; nothing left to run");
    idle()
}

/// Nothing to run: wait for ever. The kernel parks the vCPU (a `Wait` for no doorbell and no
/// deadline), so the partition's windows stay idle instead of spinning.
fn idle() -> ! {
    loop {
        let _ = call::wait(NO_DEADLINE, 0);
    }
}

// ----------------------------------------------------------------------------------------
// The a653rs traits

impl ApexPartitionP4 for PkernelHypervisor {
    /// GET_PARTITION_STATUS, from the kernel; the number of cores from the information page.
    fn get_partition_status() -> ApexPartitionStatus {
        let status = call::get_partition_status()
            .expect("a653rs-pkernel: the kernel refused GET_PARTITION_STATUS");
        ApexPartitionStatus {
            period: binding::system_time(status.period_ns),
            duration: binding::system_time(status.duration_ns),
            identifier: status.identifier as i64,
            lock_level: status.lock_level as i32,
            operating_mode: binding::a653rs_mode(status.operating_mode),
            start_condition: match status.start_condition {
                apex_api::partition::StartCondition::NormalStart => StartCondition::NormalStart,
                apex_api::partition::StartCondition::PartitionRestart => {
                    StartCondition::PartitionRestart
                }
                apex_api::partition::StartCondition::HmModuleRestart => {
                    StartCondition::HmModuleRestart
                }
                apex_api::partition::StartCondition::HmPartitionRestart => {
                    StartCondition::HmPartitionRestart
                }
            },
            num_assigned_cores: with(|b| b.info().cores().len() as u32),
        }
    }

    /// SET_PARTITION_MODE. The kernel checks the transition (`NO_ACTION`, `INVALID_MODE`).
    /// IDLE, COLD_START and WARM_START do not return when accepted. NORMAL does not return
    /// either: the initialisation process ends and the started process runs (or, with none,
    /// the partition idles).
    fn set_partition_mode(operating_mode: OperatingMode) -> Result<(), ErrorReturnCode> {
        let requested = binding::mode(operating_mode);
        call::set_partition_mode(requested).map_err(binding::error)?;
        if requested != apex_api::partition::OperatingMode::Normal {
            // The kernel does not return from an accepted IDLE or restart.
            return Ok(());
        }
        let entry = with(|b| b.enter_normal());
        run_process(entry)
    }
}

impl ApexProcessP4 for PkernelHypervisor {
    fn create_process(attributes: &ApexProcessAttribute) -> Result<ProcessId, ErrorReturnCode> {
        with(|b| b.create_process(attributes))
    }

    fn start(process_id: ProcessId) -> Result<(), ErrorReturnCode> {
        with(|b| b.start(process_id))
    }
}

impl ApexTimeP4 for PkernelHypervisor {
    fn periodic_wait() -> Result<(), ErrorReturnCode> {
        with(|b| b.periodic_wait())
    }

    fn get_time() -> ApexSystemTime {
        with(|b| b.get_time())
    }
}

impl ApexErrorP4 for PkernelHypervisor {
    fn report_application_message(message: &[ApexByte]) -> Result<(), ErrorReturnCode> {
        with(|b| b.report_application_message(message))
    }

    fn raise_application_error(
        error_code: ErrorCode,
        message: &[ApexByte],
    ) -> Result<(), ErrorReturnCode> {
        with(|b| b.raise_application_error(error_code, message))
    }
}

impl ApexSamplingPortP4 for PkernelHypervisor {
    fn create_sampling_port(
        sampling_port_name: ApexName,
        max_message_size: MessageSize,
        port_direction: PortDirection,
        refresh_period: ApexSystemTime,
    ) -> Result<SamplingPortId, ErrorReturnCode> {
        with(|b| {
            b.create_sampling_port(
                &sampling_port_name,
                max_message_size,
                port_direction,
                refresh_period,
            )
        })
    }

    fn write_sampling_message(
        sampling_port_id: SamplingPortId,
        message: &[ApexByte],
    ) -> Result<(), ErrorReturnCode> {
        with(|b| b.write_sampling_message(sampling_port_id, message))
    }

    /// Never writes past `message`: a buffer shorter than the port's maximum message size is
    /// `INVALID_PARAM`.
    unsafe fn read_sampling_message(
        sampling_port_id: SamplingPortId,
        message: &mut [ApexByte],
    ) -> Result<(Validity, MessageSize), ErrorReturnCode> {
        with(|b| b.read_sampling_message(sampling_port_id, message))
    }
}

impl ApexQueuingPortP4 for PkernelHypervisor {
    fn create_queuing_port(
        queuing_port_name: ApexName,
        max_message_size: MessageSize,
        max_nb_message: MessageRange,
        port_direction: PortDirection,
        queuing_discipline: QueuingDiscipline,
    ) -> Result<QueuingPortId, ErrorReturnCode> {
        with(|b| {
            b.create_queuing_port(
                &queuing_port_name,
                max_message_size,
                max_nb_message,
                port_direction,
                queuing_discipline,
            )
        })
    }

    fn send_queuing_message(
        queuing_port_id: QueuingPortId,
        message: &[ApexByte],
        time_out: ApexSystemTime,
    ) -> Result<(), ErrorReturnCode> {
        with(|b| b.send_queuing_message(queuing_port_id, message, time_out))
    }

    /// Never writes past `message`: a buffer shorter than the port's maximum message size is
    /// `INVALID_PARAM`.
    unsafe fn receive_queuing_message(
        queuing_port_id: QueuingPortId,
        time_out: ApexSystemTime,
        message: &mut [ApexByte],
    ) -> Result<(MessageSize, QueueOverflow), ErrorReturnCode> {
        with(|b| b.receive_queuing_message(queuing_port_id, time_out, message))
    }

    fn get_queuing_port_status(
        queuing_port_id: QueuingPortId,
    ) -> Result<QueuingPortStatus, ErrorReturnCode> {
        with(|b| b.get_queuing_port_status(queuing_port_id))
    }

    fn clear_queuing_port(queuing_port_id: QueuingPortId) -> Result<(), ErrorReturnCode> {
        with(|b| b.clear_queuing_port(queuing_port_id))
    }
}

/// pkernel's limits, where a653rs' defaults (Part 1's) would promise more.
impl ApexLimits for PkernelHypervisor {
    const SYSTEM_LIMIT_NUMBER_OF_PARTITIONS: u32 = 16;
    const SYSTEM_LIMIT_NUMBER_OF_MESSAGES: MessageRange =
        apex_api::ports::MAX_QUEUE_DEPTH as MessageRange;
    const SYSTEM_LIMIT_MESSAGE_SIZE: MessageSize = apex_api::ports::MAX_MESSAGE_SIZE as MessageSize;
    const SYSTEM_LIMIT_NUMBER_OF_PROCESSES: u32 = binding::MAX_PROCESSES;
    const SYSTEM_LIMIT_NUMBER_OF_SAMPLING_PORTS: u32 = apex_api::apex::MAX_PORTS as u32;
    const SYSTEM_LIMIT_NUMBER_OF_QUEUING_PORTS: u32 = apex_api::apex::MAX_PORTS as u32;
    const SYSTEM_LIMIT_NUMBER_OF_BUFFERS: u32 = 0;
    const SYSTEM_LIMIT_NUMBER_OF_BLACKBOARDS: u32 = 0;
    const SYSTEM_LIMIT_NUMBER_OF_SEMAPHORES: u32 = 0;
    const SYSTEM_LIMIT_NUMBER_OF_EVENTS: u32 = 0;
    const SYSTEM_LIMIT_NUMBER_OF_MUTEXES: u32 = 0;
}
