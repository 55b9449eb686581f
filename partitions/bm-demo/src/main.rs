//! The demo system's partitions (configs/demo.toml, SPEC §7), one binary for all: what a
//! partition does follows from the ports its information page lists, never from its name or
//! from addresses built in.
//!
//! - A partition with a sampling *source* (the control partition) publishes one message per
//!   period (PERIODIC_WAIT): a frame number and a value. It drains every queuing
//!   destination it has and prints what flowed back.
//! - A partition with a sampling *destination* reads the latest message once per period and
//!   prints its frame number, its age and its validity; if it has a queuing source, it sends
//!   a short status back.
//!
//! Every line carries the partition's system counter, so the output shows the windows at
//! work: on a time-partitioned core each partition runs, and prints, only in its window.
#![no_std]
#![no_main]

use bm_runtime::apex_api::ReturnCode;
use bm_runtime::apex_api::apex::{Apex, INFINITE_TIME_VALUE, OnPkernel, PkernelBuffers};
use bm_runtime::apex_api::info::{Direction, PortKind};
use bm_runtime::apex_api::partition::OperatingMode;
use bm_runtime::apex_api::ports::sampling::Validity;
use bm_runtime::{BootInfo, counter, println};

bm_runtime::entry_initialising!(main);

/// Period of the demo's loop when the partition has none (a dedicated core): 100 ms.
const DEDICATED_PERIOD_NS: i64 = 100_000_000;

type Services = Apex<OnPkernel, PkernelBuffers>;

/// The ports created during initialisation, by role.
struct Ports {
    publish: Option<bm_runtime::apex_api::apex::SamplingPortId>,
    read: Option<(bm_runtime::apex_api::apex::SamplingPortId, u32)>,
    replies_out: Option<bm_runtime::apex_api::apex::QueuingPortId>,
    replies_in: [Option<bm_runtime::apex_api::apex::QueuingPortId>; 4],
}

fn stop(why: core::fmt::Arguments) -> ! {
    println!("demo: {why}");
    bm_runtime::apex_api::call::partition_stop(1)
}

/// Creates every port the information page lists (COLD_START: the only time it may).
fn create_ports(apex: &mut Services) -> Ports {
    let mut ports = Ports {
        publish: None,
        read: None,
        replies_out: None,
        replies_in: [None; 4],
    };
    let info = *apex.info();
    for port in info.ports() {
        match (port.kind, port.direction) {
            (PortKind::Sampling { refresh }, direction) => {
                let refresh_ns = refresh.map_or(INFINITE_TIME_VALUE, |r| r.ns as i64);
                let id = apex
                    .create_sampling_port(port.name, port.max_message_size, direction, refresh_ns)
                    .unwrap_or_else(|e| {
                        stop(format_args!("sampling port {}: {}", port.name, e.name()))
                    });
                match direction {
                    Direction::Source => ports.publish = Some(id),
                    Direction::Destination => ports.read = Some((id, port.max_message_size)),
                }
            }
            (
                PortKind::Queuing {
                    max_messages,
                    discipline,
                },
                direction,
            ) => {
                let id = apex
                    .create_queuing_port(
                        port.name,
                        port.max_message_size,
                        max_messages,
                        direction,
                        discipline,
                    )
                    .unwrap_or_else(|e| {
                        stop(format_args!("queuing port {}: {}", port.name, e.name()))
                    });
                match direction {
                    Direction::Source => ports.replies_out = Some(id),
                    Direction::Destination => {
                        if let Some(slot) = ports.replies_in.iter_mut().find(|s| s.is_none()) {
                            *slot = Some(id);
                        }
                    }
                }
            }
        }
    }
    ports
}

/// Writes `frame` and `value` as text into `buf`; returns the length.
fn message(buf: &mut [u8; 64], frame: u64, value: u64) -> usize {
    use core::fmt::Write as _;
    struct Cursor<'a>(&'a mut [u8], usize);
    impl core::fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            let dst = self.0.get_mut(self.1..end).ok_or(core::fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut cursor = Cursor(buf, 0);
    let _ = write!(cursor, "frame {frame} speed {value}");
    cursor.1
}

fn text(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes).unwrap_or("(not text)")
}

fn main(_boot: BootInfo) -> ! {
    let info = match bm_runtime::info() {
        Ok(info) => info,
        Err(e) => stop(format_args!("no information page: {e}")),
    };
    let mut apex = Apex::on_pkernel(info);
    let ports = create_ports(&mut apex);
    let period = info
        .time_budget()
        .map_or(DEDICATED_PERIOD_NS, |b| b.period.ns as i64);
    if let Err(e) = bm_runtime::apex_api::call::set_partition_mode(OperatingMode::Normal) {
        stop(format_args!("SET_PARTITION_MODE NORMAL: {}", e.name()));
    }
    let _ = apex.start_periodic(period);
    let mut frame: u64 = 0;
    loop {
        frame += 1;
        if let Some(id) = ports.publish {
            let mut buf = [0u8; 64];
            let len = message(&mut buf, frame, 40 + frame % 20);
            match apex.write_sampling_message(id, &buf[..len]) {
                Ok(()) => println!("at {}: published '{}'", counter(), text(&buf[..len])),
                Err(e) => println!("at {}: publishing failed: {}", counter(), e.name()),
            }
        }
        for id in ports.replies_in.iter().flatten() {
            let mut buf = [0u8; 64];
            loop {
                match apex.receive_queuing_message(*id, 0, &mut buf) {
                    Ok(m) => println!("at {}: received '{}'", counter(), text(&buf[..m.length])),
                    Err(ReturnCode::NotAvailable) => break,
                    Err(e) => {
                        println!("at {}: receive failed: {}", counter(), e.name());
                        break;
                    }
                }
            }
        }
        if let Some((id, _)) = ports.read {
            let mut buf = [0u8; 64];
            match apex.read_sampling_message(id, &mut buf) {
                Ok(m) => {
                    let seen = text(&buf[..m.length]);
                    println!(
                        "at {}: read '{seen}', age {} ms, {}",
                        counter(),
                        m.age / 1_000_000,
                        match m.validity {
                            Validity::Valid => "valid",
                            Validity::Invalid => "INVALID (older than its refresh period)",
                        }
                    );
                    if let Some(out) = ports.replies_out {
                        let mut reply = [0u8; 64];
                        let name = apex.info().name();
                        let n = name.len().min(20);
                        reply[..n].copy_from_slice(&name.as_bytes()[..n]);
                        reply[n..n + 6].copy_from_slice(b" saw: ");
                        let m2 = m.length.min(64 - n - 6);
                        reply[n + 6..n + 6 + m2].copy_from_slice(&buf[..m2]);
                        if let Err(e) = apex.send_queuing_message(out, &reply[..n + 6 + m2], 0) {
                            println!("at {}: reply not sent: {}", counter(), e.name());
                        }
                    }
                }
                Err(ReturnCode::NoAction) => println!("at {}: nothing published yet", counter()),
                Err(e) => println!("at {}: read failed: {}", counter(), e.name()),
            }
        }
        if let Err(e) = apex.periodic_wait() {
            stop(format_args!("PERIODIC_WAIT: {}", e.name()));
        }
    }
}
