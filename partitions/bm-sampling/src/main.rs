//! A sampling-port partition for the HIL port tests. Its role comes from its configuration:
//! the partition whose port `samples` is a source is the producer, one whose port `samples`
//! is a destination a consumer. Both use only the APEX services (`apex_api::apex`): the port
//! is created by name during initialisation (COLD_START), then the partition goes NORMAL.
//!
//! **Producer.** Writes message 1, 2, ... every refresh period of its source port (10 ms if
//! none is configured; on a time-partitioned core a period longer than the time it is out
//! means one message a window), with PERIODIC_WAIT between writes, and prints each one with
//! the counter values read just before and just after the write:
//!
//! `wrote <n> between <w0> and <w1>`
//!
//! After [`MESSAGES`] messages it says `stopping after <n> messages` and goes IDLE, so its
//! last message ages in the port from then on.
//!
//! **Consumer.** Reads the port once a period (its partition period on a time-partitioned
//! core, so once a window at the same offset; [`DEDICATED_READ_PERIOD_NS`] on a dedicated
//! core) and prints what READ_SAMPLING_MESSAGE returned, with the counter values read just
//! before and just after the read:
//!
//! `read <n> age <ns> ns <VALID|INVALID> between <r0> and <r1>`, or
//! `read: <return code> between <r0> and <r1>` (NO_ACTION before the first message), or
//! `read <n>: CORRUPT payload (length <l>) between <r0> and <r1>`.
//!
//! A message is 64 bytes: its number, the producer's counter before the write, and six words
//! derived from the number, which the consumer checks (a torn or mixed-up read would not
//! match). The two counter pairs bracket the library's own timestamps: the message's age
//! must lie between `r0 - w1` and `r1 - w0` whatever the host did meanwhile; the test checks
//! exactly that.
#![no_std]
#![no_main]

use bm_runtime::apex_api::apex::{
    Apex, INFINITE_TIME_VALUE, OnPkernel, PkernelBuffers, SamplingPortId,
};
use bm_runtime::apex_api::call::{partition_stop, set_partition_mode};
use bm_runtime::apex_api::info::{Direction, Port, PortKind};
use bm_runtime::apex_api::partition::OperatingMode;
use bm_runtime::apex_api::ports::Validity;
use bm_runtime::{BootInfo, counter, println};

bm_runtime::entry_initialising!(main);

type Services = Apex<OnPkernel, PkernelBuffers>;

/// The port's local name in every configuration that uses this partition.
const PORT: &str = "samples";
/// Messages the producer writes before it goes IDLE.
const MESSAGES: u64 = 30;
/// The producer's write period when its source port has no refresh period.
const DEFAULT_WRITE_PERIOD_NS: i64 = 10_000_000;
/// How often a consumer on a dedicated core reads.
const DEDICATED_READ_PERIOD_NS: i64 = 25_000_000;
/// Bytes of every message.
const MESSAGE_SIZE: usize = 64;
/// The consumer's receive buffer: the port's maximum message size must fit.
const BUFFER_SIZE: usize = 256;

/// A message buffer at an 8-byte-aligned address.
#[repr(C, align(8))]
struct Buffer<const N: usize>([u8; N]);

/// Word `i` (2..8) of message `n`: a pattern only message `n` has.
fn check_word(n: u64, i: usize) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(8 * i as u32)
        ^ i as u64
}

fn word(bytes: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[8 * i..8 * i + 8]);
    u64::from_le_bytes(w)
}

fn fail(what: core::fmt::Arguments) -> ! {
    println!("FAILED: {what}");
    partition_stop(1)
}

fn main(_boot: BootInfo) -> ! {
    let info =
        bm_runtime::info().unwrap_or_else(|e| fail(format_args!("information page refused: {e}")));
    let Some(port) = info.port(PORT) else {
        fail(format_args!("no port '{PORT}' in my configuration"))
    };
    let PortKind::Sampling { refresh } = port.kind else {
        fail(format_args!("port '{PORT}' is not a sampling port"))
    };
    let refresh_ns = refresh.map_or(INFINITE_TIME_VALUE, |t| t.ns as i64);
    let mut apex = Apex::on_pkernel(info);
    match port.direction {
        Direction::Source => produce(&mut apex, &port, refresh_ns),
        Direction::Destination => consume(&mut apex, &port, refresh_ns),
    }
}

/// Creates the port during initialisation, then ends it (SET_PARTITION_MODE NORMAL).
fn create(apex: &mut Services, port: &Port, refresh_ns: i64) -> SamplingPortId {
    let id = apex
        .create_sampling_port(PORT, port.max_message_size, port.direction, refresh_ns)
        .unwrap_or_else(|code| fail(format_args!("CREATE_SAMPLING_PORT: {}", code.name())));
    if let Err(code) = set_partition_mode(OperatingMode::Normal) {
        fail(format_args!("SET_PARTITION_MODE NORMAL: {}", code.name()));
    }
    id
}

fn produce(apex: &mut Services, port: &Port, refresh_ns: i64) -> ! {
    if (port.max_message_size as usize) < MESSAGE_SIZE {
        fail(format_args!(
            "port '{PORT}' takes less than {MESSAGE_SIZE} bytes"
        ));
    }
    let id = create(apex, port, refresh_ns);
    let period = if refresh_ns > 0 {
        refresh_ns
    } else {
        DEFAULT_WRITE_PERIOD_NS
    };
    println!("producer: a message every {period} ns");
    if let Err(code) = apex.start_periodic(period) {
        fail(format_args!("start_periodic: {}", code.name()));
    }
    let mut message = Buffer([0u8; MESSAGE_SIZE]);
    for n in 1..=MESSAGES {
        let w0 = counter();
        message.0[..8].copy_from_slice(&n.to_le_bytes());
        message.0[8..16].copy_from_slice(&w0.to_le_bytes());
        for i in 2..MESSAGE_SIZE / 8 {
            message.0[8 * i..8 * i + 8].copy_from_slice(&check_word(n, i).to_le_bytes());
        }
        let result = apex.write_sampling_message(id, &message.0);
        let w1 = counter();
        if let Err(code) = result {
            fail(format_args!("WRITE_SAMPLING_MESSAGE {n}: {}", code.name()));
        }
        println!("wrote {n} between {w0} and {w1}");
        if let Err(code) = apex.periodic_wait() {
            fail(format_args!("PERIODIC_WAIT: {}", code.name()));
        }
    }
    println!("stopping after {MESSAGES} messages");
    let _ = set_partition_mode(OperatingMode::Idle);
    fail(format_args!("SET_PARTITION_MODE IDLE returned"))
}

fn consume(apex: &mut Services, port: &Port, refresh_ns: i64) -> ! {
    if port.max_message_size as usize > BUFFER_SIZE {
        fail(format_args!(
            "port '{PORT}' takes more than {BUFFER_SIZE} bytes"
        ));
    }
    let id = create(apex, port, refresh_ns);
    let period = if apex.info().is_time_partitioned() {
        apex.info().period().ns as i64
    } else {
        DEDICATED_READ_PERIOD_NS
    };
    println!("consumer: reading every {period} ns, refresh period {refresh_ns} ns");
    if let Err(code) = apex.start_periodic(period) {
        fail(format_args!("start_periodic: {}", code.name()));
    }
    let mut buffer = Buffer([0u8; BUFFER_SIZE]);
    loop {
        let r0 = counter();
        let result = apex.read_sampling_message(id, &mut buffer.0);
        let r1 = counter();
        match result {
            Ok(m) => {
                let bytes = &buffer.0[..m.length];
                let n = if m.length >= 8 { word(bytes, 0) } else { 0 };
                let intact = m.length == MESSAGE_SIZE
                    && (2..MESSAGE_SIZE / 8).all(|i| word(bytes, i) == check_word(n, i));
                if intact {
                    let validity = match m.validity {
                        Validity::Valid => "VALID",
                        Validity::Invalid => "INVALID",
                    };
                    println!("read {n} age {} ns {validity} between {r0} and {r1}", m.age);
                } else {
                    println!(
                        "read {n}: CORRUPT payload (length {}) between {r0} and {r1}",
                        m.length
                    );
                }
            }
            Err(code) => println!("read: {} between {r0} and {r1}", code.name()),
        }
        if let Err(code) = apex.periodic_wait() {
            fail(format_args!("PERIODIC_WAIT: {}", code.name()));
        }
    }
}
