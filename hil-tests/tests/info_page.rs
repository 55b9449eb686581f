//! The partition information page on QEMU: one partition binary (`bm-info`) boots under two
//! configurations that place it and its ports differently (`info-a.toml`, `info-b.toml`), and
//! under each prints exactly what that configuration decided for it: identity, cores, time
//! budget, regions, and every port with its buffer addresses. The expected lines come from
//! the configuration through schedule-gen's API, never from constants in this test.

mod common;

use std::collections::BTreeMap;

use common::{assert_kernel_healthy, boot_image, scenario};
use schedule_gen::model::{ChannelBuffer, Criticality, Direction, PortKind, QueuingDiscipline};
use schedule_gen::{Access, ImageSource, LoadedConfig, PartitionKind, load};

/// What `bm-info` must print (after its `[name] ` prefix) as partition `id` of `cfg`.
fn expected_lines(cfg: &LoadedConfig, id: usize) -> Vec<String> {
    let p = cfg.partition(id).expect("partition");
    let kind = match p.kind {
        PartitionKind::BareMetal => "bm",
        PartitionKind::Rtos => "rtos",
        PartitionKind::Linux => "linux",
        PartitionKind::System => "system",
    };
    let level = match p.criticality {
        Criticality::A => "A",
        Criticality::B => "B",
        Criticality::C => "C",
        Criticality::D => "D",
        Criticality::E => "E",
    };
    let cores: Vec<String> = p.cores.iter().map(u8::to_string).collect();
    let mut lines = vec![format!(
        "partition {id} '{}': {kind}, level {level}, cores [{}], counter {} Hz",
        p.name,
        cores.join(","),
        cfg.counter_hz()
    )];
    lines.push(match p.time {
        Some(t) => format!(
            "time-partitioned: period {} ns ({} ticks), duration {} ns ({} ticks)",
            t.period_ns,
            cfg.ticks(t.period_ns),
            t.duration_ns,
            cfg.ticks(t.duration_ns)
        ),
        None => "dedicated cores: period and duration infinite".to_owned(),
    });
    for r in &p.memory {
        let flags = match r.access {
            Access::R => "r--",
            Access::Rw => "rw-",
            Access::Rx => "r-x",
            Access::Rwx => "rwx",
        };
        lines.push(format!(
            "region {}: ram ipa {:#x} size {:#x} {flags}",
            r.name, r.ipa, r.size
        ));
    }
    for d in &p.devices {
        lines.push(format!(
            "region {}: device ipa {:#x} size {:#x} rw-",
            d.name, d.mmio.base, d.mmio.size
        ));
    }
    for port in &p.ports {
        let buffer = |which: ChannelBuffer| {
            port.mappings
                .iter()
                .find(|m| m.buffer == which)
                .map(|m| format!("{:#x}+{:#x}", m.ipa, m.size))
        };
        let mut line = format!(
            "port {}: {} {}, max {} bytes, data {}",
            port.name,
            port.kind.name(),
            match port.direction {
                Direction::Source => "source",
                Direction::Destination => "destination",
            },
            port.max_message_size,
            buffer(ChannelBuffer::Data).expect("a data buffer")
        );
        match port.kind {
            PortKind::Sampling {
                refresh_period_ns: Some(ns),
            } => line += &format!(", refresh {ns} ns ({} ticks)", cfg.ticks(ns)),
            PortKind::Sampling {
                refresh_period_ns: None,
            } => line += ", no refresh",
            PortKind::Queuing {
                max_messages,
                discipline,
            } => {
                line += &format!(
                    ", depth {max_messages} {}",
                    match discipline {
                        QueuingDiscipline::Fifo => "fifo",
                        QueuingDiscipline::Priority => "priority",
                    }
                );
            }
        }
        if let Some(ack) = buffer(ChannelBuffer::Ack) {
            line += &format!(", ack {ack}");
        }
        lines.push(line);
    }
    lines.push(format!(
        "checks: page id matches x0, {n} of {n} ports found by name",
        n = p.ports.len()
    ));
    lines.push("done".to_owned());
    lines
}

/// Where each port's data buffer of partition `name` appears to it, by local port name.
fn data_ipas(cfg: &LoadedConfig, name: &str) -> BTreeMap<String, u64> {
    let p = cfg.partitions().find(|p| p.name == name).expect(name);
    p.ports
        .iter()
        .map(|port| (port.name.clone(), port.mappings[0].ipa))
        .collect()
}

/// The load segments the image of partition `name` was built from, as schedule-gen wrote them.
fn segments(dir: &std::path::Path, name: &str) -> Vec<Vec<u8>> {
    (0..)
        .map_while(|n| std::fs::read(dir.join(format!("{name}.{n}.bin"))).ok())
        .collect()
}

#[test]
fn one_partition_binary_boots_under_two_configurations_that_place_its_ports_differently() {
    let test =
        "one_partition_binary_boots_under_two_configurations_that_place_its_ports_differently";
    let mut runs = Vec::new();
    for name in ["info-a", "info-b"] {
        let path = scenario(name);
        let cfg = load(&path).unwrap_or_else(|e| panic!("{e}"));
        let Some((image, log)) = boot_image(test, &path) else {
            return;
        };
        assert_kernel_healthy(&log);
        log.assert_clean_exit();
        log.assert_line("[pkernel] module end: shutdown by 'supervisor', status 0");
        // The kernel's banner says where each page is: the partition's page of the image.
        let elf = std::fs::read(&image.kernel).unwrap();
        let kernel = schedule_gen::translation::kernel_layout(&elf, "pkernel.elf")
            .unwrap_or_else(|e| panic!("{e}"));
        for (id, p) in cfg.partitions().enumerate() {
            log.assert_line(&format!(
                "[pkernel]     (info page)  info   ipa 0x7ffffff000-0x8000000000 -> phys {:#011x} r--",
                kernel.info_page(id)
            ));
            // The page in the image is the one schedule-gen wrote for this partition.
            let page = std::fs::read(image.dir.join(format!("{}.info.bin", p.name))).unwrap();
            let info = apex_api::info::InfoPage::parse(&page).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((info.partition_id() as usize, info.name()), (id, &*p.name));
        }
        let mut printed = 0;
        for (id, p) in cfg.partitions().enumerate() {
            if p.image != ImageSource::Package("bm-info".into()) {
                continue;
            }
            let lines: Vec<&str> = log
                .partition_lines(&p.name)
                .into_iter()
                .map(|l| &l[p.name.len() + 3..])
                .collect();
            let expected = expected_lines(&cfg, id);
            assert_eq!(
                lines, expected,
                "{name}: partition {:?} printed other than its configuration says\n{log}",
                p.name
            );
            printed += 1;
        }
        assert_eq!(printed, 2, "{name}: two bm-info partitions");
        runs.push((cfg, image));
    }

    // The evidence: the same binary (the same segments went into both images) ...
    let (a, b) = (&runs[0], &runs[1]);
    let info_in_a = segments(&a.1.dir, "info");
    assert!(!info_in_a.is_empty());
    for other in [
        ("info-a", &a.1.dir, "peer"),
        ("info-b", &b.1.dir, "watch"),
        ("info-b", &b.1.dir, "other"),
    ] {
        assert_eq!(
            segments(other.1, other.2),
            info_in_a,
            "{}: partition {:?} runs another binary",
            other.0,
            other.2
        );
    }
    // ... found every one of its ports somewhere else in the second configuration.
    let (ports_a, ports_b) = (data_ipas(&a.0, "info"), data_ipas(&b.0, "watch"));
    assert_eq!(
        ports_a.keys().collect::<Vec<_>>(),
        ports_b.keys().collect::<Vec<_>>()
    );
    for (port, ipa) in &ports_a {
        assert_ne!(ports_b[port], *ipa, "port {port} did not move");
    }
}
