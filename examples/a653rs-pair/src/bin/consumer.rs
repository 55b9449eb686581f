//! The consumer: an a653rs partition written against the a653rs traits without the macro.
//! Its cold start creates the ports `speed_in` and `events_in` (the configuration's channels
//! join them to the producer's `speed` and `events`: port names are local) and one aperiodic
//! process, which receives events with a 150 ms timeout and then reads the latest sample,
//! for ever. It prints with the `log` crate. Nothing here is pkernel's except the hypervisor
//! type and the `entry!` line that links the runtime.
#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use core::str::FromStr;
use core::time::Duration;

use a653rs::prelude::*;
use a653rs_pkernel::PkernelHypervisor as Hypervisor;
use log::info;

a653rs_pkernel::entry!(main);

fn main() -> ! {
    Consumer.run()
}

/// How long the process waits for an event.
const EVENT_TIMEOUT: Duration = Duration::from_millis(150);

struct Consumer;

/// The ports, created by the initialisation process and used by the process.
struct Ports {
    speed: SamplingPortDestination<Hypervisor>,
    events: QueuingPortReceiver<Hypervisor>,
}

/// A value the initialisation process sets once and the process only reads afterwards
/// (a653rs hands a process no arguments: what it uses must be in a static).
struct SetDuringStart<T>(UnsafeCell<Option<T>>);

// SAFETY: ARINC 653 Part 4 runs the initialisation process and then the one process, one at
// a time on the partition's one core, never concurrently: the value is written (`set`) only
// during cold or warm start, before the process exists, and only read (`get`) after.
unsafe impl<T: Sync> Sync for SetDuringStart<T> {}

impl<T> SetDuringStart<T> {
    const fn new() -> Self {
        Self(UnsafeCell::new(None))
    }

    /// Called by the initialisation process only (see `Sync` above).
    fn set(&self, value: T) {
        // SAFETY: only the initialisation process runs, and it holds no reference from `get`
        // (the process, the only caller of `get`, has not started).
        unsafe { *self.0.get() = Some(value) }
    }

    /// Called by the process only, once initialisation is over (see `Sync` above).
    fn get(&self) -> Option<&T> {
        // SAFETY: nothing writes the value any more: `set` runs only during initialisation,
        // which has ended for good when the process runs.
        unsafe { (*self.0.get()).as_ref() }
    }
}

static PORTS: SetDuringStart<Ports> = SetDuringStart::new();

fn name(text: &str) -> Name {
    Name::from_str(text).expect("names are at most 32 bytes")
}

impl Partition<Hypervisor> for Consumer {
    fn cold_start(&self, ctx: &mut StartContext<Hypervisor>) {
        let status = <Self as PartitionExt<Hypervisor>>::get_status();
        info!(
            "{:?} ({:?}): partition {} on {} core(s)",
            status.operating_mode,
            status.start_condition,
            status.identifier,
            status.num_assigned_cores
        );
        let speed = ctx
            .create_sampling_port_destination(name("speed_in"), 16, Duration::from_millis(200))
            .expect("speed_in as configured");
        let events = ctx
            .create_queuing_port_receiver(name("events_in"), 32, 4, QueuingDiscipline::Fifo)
            .expect("events_in as configured");
        PORTS.set(Ports { speed, events });
        let attributes = |process_name: &str| ProcessAttribute {
            period: SystemTime::Infinite,
            time_capacity: SystemTime::Infinite,
            entry_point: listener,
            stack_size: 16 * 1024,
            base_priority: 1,
            deadline: Deadline::Soft,
            name: name(process_name),
        };
        let process = ctx
            .create_process(attributes("listener"))
            .expect("one process");
        // ARINC 653 Part 4: the initialisation process and one more, no third.
        match ctx.create_process(attributes("another")) {
            Ok(_) => info!("a second process was accepted"),
            Err(e) => info!("a second process is refused: {e:?}"),
        }
        process.start().expect("START");
    }

    fn warm_start(&self, ctx: &mut StartContext<Hypervisor>) {
        self.cold_start(ctx)
    }
}

/// The aperiodic process: wait up to [`EVENT_TIMEOUT`] for an event, then look at the latest
/// sample.
extern "C" fn listener() {
    let ports = PORTS.get().expect("created during cold start");
    let mut event = [0u8; 32];
    let mut sample = [0u8; 16];
    loop {
        match ports
            .events
            .receive(&mut event, SystemTime::Normal(EVENT_TIMEOUT))
        {
            Ok((message, overflow)) => info!(
                "received '{}'{}",
                text(message),
                if overflow { " after an overflow" } else { "" }
            ),
            Err(Error::TimedOut) => {
                info!("no event within {} ms: TimedOut", EVENT_TIMEOUT.as_millis())
            }
            Err(e) => info!("receive failed: {e:?}"),
        }
        match ports.speed.receive(&mut sample) {
            Ok((validity, message)) => info!("sampled '{}' ({validity:?})", text(message)),
            Err(e) => info!("nothing sampled: {e:?}"),
        }
    }
}

fn text(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes).unwrap_or("(not text)")
}
