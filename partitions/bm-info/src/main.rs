//! A bare-metal partition that prints what its information page says (identity, cores, time
//! budget, regions, ports with their buffer addresses), checks that it finds every port by
//! its local name, then stops. Built once, it runs under any configuration that places it: the
//! HIL test boots it under two that place its ports differently and compares its lines with
//! each configuration.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use bm_runtime::apex_api::call::partition_stop;
use bm_runtime::apex_api::info::{InfoPage, PortKind};
use bm_runtime::{BootInfo, LineWriter, println};

bm_runtime::entry!(main);

fn main(boot: BootInfo) -> ! {
    let info = match bm_runtime::info() {
        Ok(info) => info,
        Err(error) => {
            println!("information page refused: {error}");
            partition_stop(1)
        }
    };
    print_identity(&info);
    for r in info.regions() {
        println!(
            "region {}: {} ipa {:#x} size {:#x} {}",
            r.name,
            r.kind.name(),
            r.ipa,
            r.size,
            r.access.flags()
        );
    }
    for p in info.ports() {
        let mut line = LineWriter::new();
        let _ = write!(
            line,
            "port {}: {} {}, max {} bytes, data {:#x}+{:#x}",
            p.name,
            p.kind.name(),
            p.direction.name(),
            p.max_message_size,
            p.data.ipa,
            p.data.size
        );
        match p.kind {
            PortKind::Sampling { refresh: Some(t) } => {
                let _ = write!(line, ", refresh {} ns ({} ticks)", t.ns, t.ticks);
            }
            PortKind::Sampling { refresh: None } => {
                let _ = write!(line, ", no refresh");
            }
            PortKind::Queuing {
                max_messages,
                discipline,
            } => {
                let _ = write!(line, ", depth {max_messages} {}", discipline.name());
            }
        }
        if let Some(ack) = p.ack {
            let _ = write!(line, ", ack {:#x}+{:#x}", ack.ipa, ack.size);
        }
        let _ = writeln!(line);
        line.flush();
    }
    // What a partition does with the page: find its ports by their local names.
    let found = info
        .ports()
        .filter(|p| info.port(p.name) == Some(*p))
        .count();
    println!(
        "checks: page id {} x0, {found} of {} ports found by name",
        if u64::from(info.partition_id()) == boot.partition_id {
            "matches"
        } else {
            "differs from"
        },
        info.port_count()
    );
    println!("done");
    partition_stop(0)
}

fn print_identity(info: &InfoPage<'_>) {
    let mut line = LineWriter::new();
    let _ = write!(
        line,
        "partition {} '{}': {}, level {}, cores [",
        info.partition_id(),
        info.name(),
        info.kind().name(),
        info.criticality().letter()
    );
    for (vcpu, core) in info.cores().iter().enumerate() {
        let _ = write!(line, "{}{core}", if vcpu == 0 { "" } else { "," });
    }
    let _ = writeln!(line, "], counter {} Hz", info.counter_hz());
    line.flush();
    match info.time_budget() {
        Some(t) => println!(
            "time-partitioned: period {} ns ({} ticks), duration {} ns ({} ticks)",
            t.period.ns, t.period.ticks, t.duration.ns, t.duration.ticks
        ),
        None => println!("dedicated cores: period and duration infinite"),
    }
}
