//! The partition information pages (`apex_api::info`, K12): what each partition's page says,
//! derived from the validated configuration alone.
//!
//! [`crate::codegen`] writes one page per partition (`<partition>.info.bin`) and the array the
//! kernel image carries them in; [`crate::translation`] maps each at
//! [`INFO_PAGE_IPA`](apex_api::info::INFO_PAGE_IPA) in its partition's stage 2 and checks that
//! the linked image holds exactly these bytes.

use apex_api::info::{
    self, Access, Buffer, Criticality, Description, Direction, EncodeError, INFO_PAGE_SIZE,
    PartitionKind, Port, PortKind, QueuingDiscipline, Region, RegionKind, Time, TimeBudget,
};

use crate::model::{self, ChannelBuffer, LoadedConfig, PartitionConfig};

/// Name of partition `p`'s page in the output directory.
pub fn file_name(p: &PartitionConfig) -> String {
    format!("{}.info.bin", p.name)
}

/// The information page of the partition with id `id` (`None` if there is none). Fails only
/// where the configuration breaks a limit validation enforces, so never for a loaded one.
pub fn info_page(
    cfg: &LoadedConfig,
    id: usize,
) -> Option<Result<[u8; INFO_PAGE_SIZE], EncodeError>> {
    let p = cfg.partition(id)?;
    let time = |ns: u64| Time {
        ns,
        ticks: cfg.ticks(ns),
    };
    let regions: Vec<Region<'_>> = p
        .memory
        .iter()
        .map(|r| Region {
            name: &r.name,
            ipa: r.ipa,
            size: r.size,
            kind: RegionKind::Ram,
            access: Access {
                read: true,
                write: r.access.write(),
                execute: r.access.execute(),
            },
        })
        .chain(p.devices.iter().map(|d| Region {
            name: &d.name,
            ipa: d.mmio.base,
            size: d.mmio.size,
            kind: RegionKind::Device,
            access: Access {
                read: true,
                write: true,
                execute: false,
            },
        }))
        .collect();
    let ports: Vec<Port<'_>> = p
        .ports
        .iter()
        .map(|port| {
            let buffer = |which: ChannelBuffer| {
                port.mappings
                    .iter()
                    .find(|m| m.buffer == which)
                    .map(|m| Buffer {
                        ipa: m.ipa,
                        size: m.size,
                    })
            };
            Port {
                name: &port.name,
                kind: match port.kind {
                    model::PortKind::Sampling { refresh_period_ns } => PortKind::Sampling {
                        refresh: refresh_period_ns.map(time),
                    },
                    model::PortKind::Queuing {
                        max_messages,
                        discipline,
                    } => PortKind::Queuing {
                        // At most 1024 (E077).
                        max_messages: u32::try_from(max_messages).unwrap_or(u32::MAX),
                        discipline: match discipline {
                            model::QueuingDiscipline::Fifo => QueuingDiscipline::Fifo,
                            model::QueuingDiscipline::Priority => QueuingDiscipline::Priority,
                        },
                    },
                },
                direction: match port.direction {
                    model::Direction::Source => Direction::Source,
                    model::Direction::Destination => Direction::Destination,
                },
                // At most 64 KiB (E076).
                max_message_size: u32::try_from(port.max_message_size).unwrap_or(u32::MAX),
                // Every port of a loaded configuration has its data buffer mapped; a missing one
                // would be an empty buffer, which the page refuses.
                data: buffer(ChannelBuffer::Data).unwrap_or(Buffer { ipa: 0, size: 0 }),
                ack: buffer(ChannelBuffer::Ack),
            }
        })
        .collect();
    let description = Description {
        id: u32::try_from(id).unwrap_or(u32::MAX),
        name: &p.name,
        kind: match p.kind {
            model::PartitionKind::BareMetal => PartitionKind::BareMetal,
            model::PartitionKind::Rtos => PartitionKind::Rtos,
            model::PartitionKind::Linux => PartitionKind::Linux,
            model::PartitionKind::System => PartitionKind::System,
        },
        criticality: match p.criticality {
            model::Criticality::A => Criticality::A,
            model::Criticality::B => Criticality::B,
            model::Criticality::C => Criticality::C,
            model::Criticality::D => Criticality::D,
            model::Criticality::E => Criticality::E,
        },
        cores: &p.cores,
        pmu: p.pmu,
        counter_hz: cfg.counter_hz(),
        time: p.time.map(|t| TimeBudget {
            period: time(t.period_ns),
            duration: time(t.duration_ns),
        }),
        regions: &regions,
        ports: &ports,
    };
    Some(info::encode(&description))
}

/// One partition's page: the partition's name and the page's bytes.
pub type NamedPage = (String, [u8; INFO_PAGE_SIZE]);

/// Every partition's page, in id order, with the partition's name; the first partition whose
/// page cannot be written stops it, with that partition's name and the reason.
pub fn info_pages(cfg: &LoadedConfig) -> Result<Vec<NamedPage>, (String, EncodeError)> {
    let mut pages = Vec::new();
    for (id, p) in cfg.partitions().enumerate() {
        match info_page(cfg, id) {
            Some(Ok(page)) => pages.push((p.name.clone(), page)),
            Some(Err(e)) => return Err((p.name.clone(), e)),
            None => {}
        }
    }
    Ok(pages)
}
