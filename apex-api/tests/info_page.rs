//! The partition information page (`apex_api::info`): the worst case fits, pages read back as
//! written, and the reader refuses (never panics on) anything else: arbitrary bytes,
//! mutations of valid pages, and every single-field corruption the layout forbids.

use apex_api::info::*;
use apex_api::partition::INFINITE_TIME;
use proptest::prelude::*;

const PAGE: u64 = 4096;

fn ram(name: &str, ipa: u64, size: u64) -> Region<'_> {
    Region {
        name,
        ipa,
        size,
        kind: RegionKind::Ram,
        access: Access {
            read: true,
            write: true,
            execute: true,
        },
    }
}

fn sampling<'a>(name: &'a str, direction: Direction, ipa: u64) -> Port<'a> {
    Port {
        name,
        kind: PortKind::Sampling {
            refresh: (direction == Direction::Destination).then_some(Time {
                ns: 100_000_000,
                ticks: 6_250_000,
            }),
        },
        direction,
        max_message_size: 64,
        data: Buffer { ipa, size: PAGE },
        ack: None,
    }
}

fn queuing<'a>(name: &'a str, direction: Direction, ipa: u64) -> Port<'a> {
    Port {
        name,
        kind: PortKind::Queuing {
            max_messages: 8,
            discipline: QueuingDiscipline::Priority,
        },
        direction,
        max_message_size: 128,
        data: Buffer {
            ipa,
            size: 2 * PAGE,
        },
        ack: Some(Buffer {
            ipa: ipa + 2 * PAGE,
            size: PAGE,
        }),
    }
}

fn small<'a>(regions: &'a [Region<'a>], ports: &'a [Port<'a>]) -> Description<'a> {
    Description {
        id: 2,
        name: "ctrl",
        kind: PartitionKind::BareMetal,
        criticality: Criticality::B,
        cores: &[1],
        pmu: false,
        counter_hz: 62_500_000,
        time: None,
        regions,
        ports,
    }
}

/// Names of exactly the longest length, distinct.
fn long_name(prefix: char, i: usize) -> String {
    format!("{prefix}{i:0>23}")
}

#[test]
fn a_small_page_reads_back() {
    let regions = [
        ram("ram", 0x4000_0000, 0x20_0000),
        Region {
            name: "rtc",
            ipa: 0x0901_0000,
            size: PAGE,
            kind: RegionKind::Device,
            access: Access {
                read: true,
                write: true,
                execute: false,
            },
        },
    ];
    let ports = [
        sampling("speed_out", Direction::Source, 0x5000_0000),
        sampling("speed_in", Direction::Destination, 0x5000_1000),
        queuing("cmd", Direction::Destination, 0x5000_2000),
    ];
    let d = small(&regions, &ports);
    let page = encode(&d).unwrap();
    let info = InfoPage::parse(&page).unwrap();
    assert_eq!(info.partition_id(), 2);
    assert_eq!(info.name(), "ctrl");
    assert_eq!(info.kind(), PartitionKind::BareMetal);
    assert_eq!(info.criticality().letter(), 'B');
    assert_eq!(info.cores(), &[1]);
    assert!(!info.is_time_partitioned() && !info.pmu());
    assert_eq!(info.period(), Time::INFINITE);
    assert_eq!(info.duration().ns, INFINITE_TIME);
    assert_eq!(info.time_budget(), None);
    assert_eq!(info.counter_hz(), 62_500_000);
    assert_eq!(
        info.size(),
        HEADER_SIZE + 2 * REGION_ENTRY_SIZE + 3 * PORT_ENTRY_SIZE
    );
    assert!(info.regions().eq(regions.iter().copied()));
    assert!(info.ports().eq(ports.iter().copied()));
    assert_eq!(info.port("cmd"), Some(ports[2]));
    assert_eq!(info.port("speed_in").unwrap().data.ipa, 0x5000_1000);
    assert_eq!(info.port("nope"), None);
    assert_eq!(info.region("rtc"), Some(regions[1]));
    assert_eq!(info.region_at(2), None);
    assert_eq!(info.port_at(3), None);

    // The bytes are where the layout says.
    assert_eq!(&page[0..8], b"PKINFOPG");
    assert_eq!(u32::from_le_bytes(page[8..12].try_into().unwrap()), 1);
    assert_eq!(&page[24..29], b"ctrl\0");
    assert_eq!(page[20], 1, "kind bm");
    assert_eq!(page[21], b'B');
    assert_eq!(page[48], 1, "core of vCPU 0");
    let first_port = HEADER_SIZE + 2 * REGION_ENTRY_SIZE;
    assert_eq!(
        u16::from_le_bytes(page[104..106].try_into().unwrap()) as usize,
        first_port
    );
    let data_ipa = first_port + 40;
    assert_eq!(
        u64::from_le_bytes(page[data_ipa..data_ipa + 8].try_into().unwrap()),
        0x5000_0000
    );
    // Nothing past the size.
    assert!(page[info.size()..].iter().all(|&b| b == 0));
}

#[test]
fn a_time_partitioned_page_reads_back() {
    let regions = [ram("ram", 0x4000_0000, 0x10_0000)];
    let mut d = small(&regions, &[]);
    d.time = Some(TimeBudget {
        period: Time {
            ns: 10_000_000,
            ticks: 625_000,
        },
        duration: Time {
            ns: 4_000_000,
            ticks: 250_000,
        },
    });
    d.pmu = true;
    d.kind = PartitionKind::System;
    d.criticality = Criticality::A;
    let page = encode(&d).unwrap();
    let info = InfoPage::parse(&page).unwrap();
    assert!(info.is_time_partitioned() && info.pmu());
    assert_eq!(info.time_budget(), d.time);
    assert_eq!(info.period().ticks, 625_000);
    assert_eq!(info.duration().ns, 4_000_000);
    assert_eq!(info.kind().name(), "system");
    assert_eq!(info.port_count(), 0);
    assert_eq!(info.ports().next(), None);
}

/// The configuration's limits: 16 RAM regions and 8 devices, 32 ports, 8 cores, every name
/// 24 characters. It must fit the page, and read back.
#[test]
fn the_worst_case_fits_in_the_page() {
    let names: Vec<String> = (0..24).map(|i| long_name('r', i)).collect();
    let regions: Vec<Region<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Region {
            name,
            ipa: 0x40_0000_0000 + i as u64 * 0x4000_0000,
            size: 0x4000_0000,
            kind: if i < 16 {
                RegionKind::Ram
            } else {
                RegionKind::Device
            },
            access: Access {
                read: true,
                write: i % 2 == 0,
                execute: i < 16 && i % 3 == 0,
            },
        })
        .collect();
    let port_names: Vec<String> = (0..32).map(|i| long_name('p', i)).collect();
    let ports: Vec<Port<'_>> = port_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // The largest buffers the configuration allows (64 KiB messages, 1024 deep).
            let ipa = 0x10_0000_0000 + i as u64 * 0x1000_0000;
            if i % 2 == 0 {
                Port {
                    name,
                    kind: PortKind::Queuing {
                        max_messages: 1024,
                        discipline: QueuingDiscipline::Fifo,
                    },
                    direction: Direction::Source,
                    max_message_size: 65_536,
                    data: Buffer {
                        ipa,
                        size: 0x401_1000,
                    },
                    ack: Some(Buffer {
                        ipa: ipa + 0x800_0000,
                        size: PAGE,
                    }),
                }
            } else {
                Port {
                    max_message_size: 65_536,
                    data: Buffer {
                        ipa,
                        size: 0x1_1000,
                    },
                    ..sampling(name, Direction::Destination, ipa)
                }
            }
        })
        .collect();
    let partition = long_name('x', 0);
    let d = Description {
        id: 15,
        name: &partition,
        kind: PartitionKind::Linux,
        criticality: Criticality::E,
        cores: &[7, 6, 5, 4, 3, 2, 1, 0],
        pmu: true,
        counter_hz: u64::MAX,
        time: None,
        regions: &regions,
        ports: &ports,
    };
    let page = encode(&d).unwrap_or_else(|e| panic!("{e}"));
    let info = InfoPage::parse(&page).unwrap();
    assert_eq!(info.size(), 3824);
    assert!(info.size() <= INFO_PAGE_SIZE);
    assert_eq!(info.name(), partition);
    assert_eq!(info.cores().len(), 8);
    assert_eq!(info.region_count(), MAX_REGIONS);
    assert_eq!(info.port_count(), MAX_PORTS);
    assert!(info.regions().eq(regions.iter().copied()));
    assert!(info.ports().eq(ports.iter().copied()));
    for p in &ports {
        assert_eq!(info.port(p.name), Some(*p));
    }

    // One more of anything does not.
    let mut more = regions.clone();
    more.push(ram("extra", 0x7e_0000_0000, PAGE));
    assert_eq!(
        encode(&Description {
            regions: &more,
            ..d
        }),
        Err(EncodeError::TooMany {
            what: "regions",
            max: 24
        })
    );
    let mut more = ports.clone();
    more.push(sampling("extra", Direction::Source, 0x7e_0000_0000));
    assert_eq!(
        encode(&Description { ports: &more, ..d })
            .unwrap_err()
            .to_string(),
        "more ports than the information page holds (32)"
    );
    assert_eq!(
        encode(&Description {
            cores: &[0; 9],
            ..d
        }),
        Err(EncodeError::TooMany {
            what: "cores",
            max: 8
        })
    );
    let longer = format!("{partition}y");
    assert_eq!(
        encode(&Description { name: &longer, ..d })
            .unwrap_err()
            .to_string(),
        "partition 0: name longer than 24 bytes"
    );
}

#[test]
fn the_writer_refuses_what_the_reader_would() {
    let regions = [ram("ram", 0x4000_0000, 0x20_0000)];
    let d = small(&regions, &[]);
    let refused = |d: Description<'_>| match encode(&d) {
        Err(EncodeError::Invalid(e)) => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(Description { name: "", ..d }),
        "information page header: partition name is not NUL-padded printable ASCII"
    );
    assert_eq!(
        refused(Description { cores: &[], ..d }),
        "information page header: vCPU count is not 1 to 8"
    );
    assert_eq!(
        refused(Description {
            cores: &[1, 1],
            ..d
        }),
        "information page header: a vCPU's core is out of range or given twice"
    );
    assert_eq!(
        refused(Description { counter_hz: 0, ..d }),
        "information page header: counter frequency is zero"
    );
    let overlapping = [ram("a", 0x4000_0000, 0x2000), ram("b", 0x4000_1000, 0x1000)];
    assert_eq!(
        refused(Description {
            regions: &overlapping,
            ..d
        }),
        "information page: regions entry 1: range overlaps another region or port buffer"
    );
    let twice = [ram("a", 0x4000_0000, 0x1000), ram("a", 0x5000_0000, 0x1000)];
    assert_eq!(
        refused(Description {
            regions: &twice,
            ..d
        }),
        "information page: regions entry 1: name used twice"
    );
    let on_the_page = [ram("top", INFO_PAGE_IPA, PAGE)];
    assert_eq!(
        refused(Description {
            regions: &on_the_page,
            ..d
        }),
        "information page: regions entry 0: range is not whole pages below the information page"
    );
    let port_on_ram = [sampling("p", Direction::Source, 0x4010_0000)];
    assert_eq!(
        refused(Description {
            ports: &port_on_ram,
            ..d
        }),
        "information page: ports entry 0: range overlaps another region or port buffer"
    );
    let mut with_ack = sampling("p", Direction::Source, 0x5000_0000);
    with_ack.ack = Some(Buffer {
        ipa: 0x5000_1000,
        size: PAGE,
    });
    // A sampling port's acknowledge buffer is not part of the layout: it would not read back.
    assert!(matches!(
        encode(&Description {
            ports: &[with_ack],
            ..d
        }),
        Err(EncodeError::Invalid(_))
    ));
    let mut huge = queuing("q", Direction::Source, 0x5000_0000);
    huge.data.size = 1 << 32;
    assert_eq!(
        encode(&Description {
            ports: &[huge],
            ..d
        })
        .unwrap_err()
        .to_string(),
        "port 0: data buffer size does not fit 32 bits"
    );
}

/// Every field the layout constrains, broken one at a time in a valid page, is refused.
#[test]
fn each_corruption_is_refused() {
    let regions = [ram("ram", 0x4000_0000, 0x20_0000)];
    let ports = [
        sampling("s", Direction::Destination, 0x5000_0000),
        queuing("q", Direction::Source, 0x5000_1000),
    ];
    let page = encode(&small(&regions, &ports)).unwrap();
    assert!(InfoPage::parse(&page).is_ok());
    let r = HEADER_SIZE;
    let s = r + REGION_ENTRY_SIZE;
    let q = s + PORT_ENTRY_SIZE;
    let cases: &[(&str, usize, &[u8])] = &[
        ("magic", 0, b"X"),
        ("version", 8, &[2]),
        ("size too small", 12, &[8, 0]),
        ("size too large", 12, &[0x01, 0x10]),
        ("size cutting a table", 12, &[0x20, 0x01]),
        ("kind", 20, &[0]),
        ("kind", 20, &[5]),
        ("criticality", 21, b"F"),
        ("flags", 22, &[4]),
        ("time-partitioned with infinite times", 22, &[1]),
        ("vCPUs", 23, &[0]),
        ("vCPUs", 23, &[9]),
        ("core past the vCPU count", 49, &[3]),
        ("core out of range", 48, &[8]),
        ("name empty", 24, &[0]),
        ("name with a space", 25, b" "),
        ("name not padded", 30, b"x"),
        ("counter", 56, &[0, 0, 0, 0, 0, 0, 0, 0]),
        ("finite period on a dedicated core", 64, &[1]),
        ("regions offset", 96, &[0]),
        ("regions offset unaligned", 96, &[113]),
        ("regions count", 98, &[9]),
        ("regions entry size", 100, &[47]),
        ("regions reserved", 102, &[1]),
        ("ports count past the size", 106, &[3]),
        ("ports overlapping regions", 104, &[112]),
        ("region name", r, &[0]),
        ("region ipa unaligned", r + 24, &[1]),
        ("region size zero", r + 34, &[0]),
        ("region kind", r + 40, &[3]),
        ("region not readable", r + 41, &[2]),
        ("region access bits", r + 41, &[9]),
        ("region reserved", r + 47, &[1]),
        (
            "region reaching the page",
            r + 24,
            &[0, 0, 0xf0, 0xff, 0x7f],
        ),
        ("port name", s, b"q"),
        ("port kind", s + 24, &[3]),
        ("port direction", s + 25, &[0]),
        ("sampling port discipline", s + 26, &[1]),
        ("port reserved", s + 27, &[1]),
        ("message size zero", s + 28, &[0]),
        ("sampling port depth", s + 32, &[1]),
        ("data size below a message", s + 36, &[0x20, 0, 0, 0]),
        ("data ipa unaligned", s + 40, &[8]),
        ("sampling port ack", s + 48, &[0, 0x10]),
        ("port reserved", s + 60, &[1]),
        ("refresh in one unit", s + 72, &[0, 0, 0, 0, 0, 0, 0, 0]),
        ("queuing discipline", q + 26, &[3]),
        ("queuing depth zero", q + 32, &[0]),
        ("ack size zero", q + 57, &[0]),
        ("ack on the data buffer", q + 49, &[0x10]),
        ("queuing refresh", q + 64, &[1]),
        ("byte past the size", 4000, &[1]),
    ];
    for (what, at, bytes) in cases {
        let mut bad = page;
        bad[*at..*at + bytes.len()].copy_from_slice(bytes);
        assert_ne!(bad, page, "{what}: the case changes nothing");
        assert!(
            InfoPage::parse(&bad).is_err(),
            "{what} (offset {at}) was accepted"
        );
    }
    // Too short, at every length below the size.
    let size = InfoPage::parse(&page).unwrap().size();
    for len in 0..size {
        assert!(matches!(
            InfoPage::parse(&page[..len]),
            Err(InfoError::TooShort { .. })
        ));
    }
    // Exactly the size is enough: a reader may be given only the bytes in use.
    assert!(InfoPage::parse(&page[..size]).is_ok());
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        InfoPage::parse(&[0; 4096]).unwrap_err().to_string(),
        "not an information page (magic 0x0000000000000000)"
    );
    assert_eq!(
        InfoPage::parse(&[0; 10]).unwrap_err().to_string(),
        "information page too short: 10 bytes, 112 needed"
    );
    let regions = [ram("ram", 0x4000_0000, 0x20_0000)];
    let mut page = encode(&small(&regions, &[])).unwrap();
    page[8] = 7;
    assert_eq!(
        InfoPage::parse(&page).unwrap_err().to_string(),
        "information page layout version 7, this reader knows 1"
    );
}

// ---------------------------------------------------------------------------------------
// Properties.

const NAME_CHARS: &str = "[a-z][a-z0-9_-]{0,23}";

fn time_strategy() -> impl Strategy<Value = Option<TimeBudget>> {
    prop_oneof![
        Just(None),
        (1u64..1_000_000, 1u64..1_000_000).prop_map(|(p, d)| {
            let (period, duration) = (p.max(d), p.min(d));
            Some(TimeBudget {
                period: Time {
                    ns: period * 16,
                    ticks: period,
                },
                duration: Time {
                    ns: duration * 16,
                    ticks: duration,
                },
            })
        }),
    ]
}

/// An owned description the strategies build; [`Owned::description`] borrows it.
#[derive(Debug, Clone)]
struct Owned {
    id: u32,
    name: String,
    kind: u8,
    criticality: u8,
    cores: Vec<u8>,
    pmu: bool,
    counter_hz: u64,
    time: Option<TimeBudget>,
    regions: Vec<(String, u64, u8, u8)>,
    ports: Vec<(String, u8, u8, u32, u32, u64)>,
}

fn owned_strategy() -> impl Strategy<Value = Owned> {
    (
        any::<u32>(),
        NAME_CHARS,
        1u8..=4,
        0u8..5,
        proptest::sample::subsequence((0u8..8).collect::<Vec<_>>(), 1..=8).prop_shuffle(),
        any::<bool>(),
        1u64..,
        time_strategy(),
        proptest::collection::btree_map(NAME_CHARS, (1u64..64, 0u8..2, 0u8..8), 0..=24),
        proptest::collection::btree_map(
            NAME_CHARS,
            (0u8..4, 0u8..3, 1u32..70_000, 1u32..1025, 0u64..4),
            0..=32,
        ),
    )
        .prop_map(
            |(id, name, kind, criticality, cores, pmu, counter_hz, time, regions, ports)| Owned {
                id,
                name,
                kind,
                criticality,
                cores,
                pmu,
                counter_hz,
                time,
                regions: regions
                    .into_iter()
                    .map(|(n, (pages, kind, access))| (n, pages, kind, access))
                    .collect(),
                ports: ports
                    .into_iter()
                    .map(|(n, (kind, disc, size, depth, refresh))| {
                        (n, kind, disc, size, depth, refresh)
                    })
                    .collect(),
            },
        )
}

impl Owned {
    /// Lays regions out one after another from 1 GiB and port buffers from 256 GiB, as a
    /// configuration would: never overlapping, always below the page.
    fn build(&self) -> (Vec<Region<'_>>, Vec<Port<'_>>) {
        let mut ipa = 0x4000_0000;
        let regions = self
            .regions
            .iter()
            .map(|(name, pages, kind, access)| {
                let kind = if *kind == 0 {
                    RegionKind::Ram
                } else {
                    RegionKind::Device
                };
                let r = Region {
                    name,
                    ipa,
                    size: pages * PAGE,
                    kind,
                    access: Access {
                        read: true,
                        write: access & 1 != 0,
                        execute: kind == RegionKind::Ram && access & 2 != 0,
                    },
                };
                ipa += (pages + u64::from(*access)) * PAGE;
                r
            })
            .collect();
        let mut ipa = 0x40_0000_0000;
        let ports = self
            .ports
            .iter()
            .map(|(name, kind, disc, size, depth, refresh)| {
                let direction = if kind & 1 == 0 {
                    Direction::Source
                } else {
                    Direction::Destination
                };
                let data = u64::from(*size).div_ceil(PAGE) * PAGE;
                let port = if kind & 2 == 0 {
                    Port {
                        name,
                        kind: PortKind::Sampling {
                            refresh: (*refresh > 0).then_some(Time {
                                ns: refresh * 1_000_000,
                                ticks: refresh * 62_500,
                            }),
                        },
                        direction,
                        max_message_size: *size,
                        data: Buffer { ipa, size: data },
                        ack: None,
                    }
                } else {
                    let p = Port {
                        name,
                        kind: PortKind::Queuing {
                            max_messages: *depth,
                            discipline: if *disc == 0 {
                                QueuingDiscipline::Fifo
                            } else {
                                QueuingDiscipline::Priority
                            },
                        },
                        direction,
                        max_message_size: *size,
                        data: Buffer { ipa, size: data },
                        ack: Some(Buffer {
                            ipa: ipa + data,
                            size: PAGE,
                        }),
                    };
                    ipa += PAGE;
                    p
                };
                ipa += data;
                port
            })
            .collect();
        (regions, ports)
    }
}

fn description<'a>(
    o: &'a Owned,
    regions: &'a [Region<'a>],
    ports: &'a [Port<'a>],
) -> Description<'a> {
    Description {
        id: o.id,
        name: &o.name,
        kind: PartitionKind::from_code(o.kind).unwrap(),
        criticality: Criticality::from_code(b'A' + o.criticality).unwrap(),
        cores: &o.cores,
        pmu: o.pmu,
        counter_hz: o.counter_hz,
        time: o.time,
        regions,
        ports,
    }
}

/// Every accessor of a page that parsed works and agrees with the counts.
fn exercise(info: &InfoPage<'_>) {
    assert!(info.size() <= INFO_PAGE_SIZE);
    let _ = (
        info.partition_id(),
        info.kind(),
        info.criticality(),
        info.pmu(),
    );
    assert!(!info.name().is_empty());
    assert!((1..=MAX_CORES).contains(&info.cores().len()));
    assert!(info.counter_hz() > 0);
    if let Some(t) = info.time_budget() {
        assert!(0 < t.duration.ns && t.duration.ns <= t.period.ns);
    } else {
        assert_eq!(info.period(), Time::INFINITE);
    }
    assert_eq!(info.regions().count(), info.region_count());
    assert_eq!(info.ports().count(), info.port_count());
    for r in info.regions() {
        assert!(r.size > 0 && r.ipa + r.size <= INFO_PAGE_IPA);
        assert_eq!(info.region(r.name), Some(r));
    }
    for p in info.ports() {
        assert!(p.data.ipa + p.data.size <= INFO_PAGE_IPA);
        assert_eq!(info.port(p.name), Some(p));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any description within the limits is written, parses, and reads back exactly.
    #[test]
    fn descriptions_round_trip(o in owned_strategy()) {
        let (regions, ports) = o.build();
        let d = description(&o, &regions, &ports);
        let page = encode(&d).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let info = InfoPage::parse(&page).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(info.partition_id(), d.id);
        prop_assert_eq!(info.name(), d.name);
        prop_assert_eq!(info.kind(), d.kind);
        prop_assert_eq!(info.criticality(), d.criticality);
        prop_assert_eq!(info.cores(), d.cores);
        prop_assert_eq!(info.pmu(), d.pmu);
        prop_assert_eq!(info.counter_hz(), d.counter_hz);
        prop_assert_eq!(info.time_budget(), d.time);
        prop_assert!(info.regions().eq(regions.iter().copied()));
        prop_assert!(info.ports().eq(ports.iter().copied()));
        exercise(&info);
    }

    /// Arbitrary bytes never panic the reader; whatever it accepts is consistent.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4200)) {
        if let Ok(info) = InfoPage::parse(&bytes) {
            exercise(&info);
        }
    }

    /// Arbitrary bytes behind a valid header still never panic (so the reader gets past the
    /// magic and version and into the tables).
    #[test]
    fn arbitrary_bodies_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..4096),
        size in 0u32..5000,
    ) {
        let mut bytes = Vec::with_capacity(16 + body.len());
        bytes.extend_from_slice(&INFO_MAGIC.to_le_bytes());
        bytes.extend_from_slice(&INFO_VERSION.to_le_bytes());
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(&body);
        if let Ok(info) = InfoPage::parse(&bytes) {
            exercise(&info);
        }
    }

    /// Mutations of valid pages: a few bytes changed, or the page cut short, never panic the
    /// reader; whatever it still accepts is consistent.
    #[test]
    fn mutated_pages_never_panic(
        o in owned_strategy(),
        edits in proptest::collection::vec((0usize..4096, any::<u8>()), 1..6),
        cut in proptest::option::of(0usize..4096),
    ) {
        let (regions, ports) = o.build();
        let mut page = encode(&description(&o, &regions, &ports)).unwrap().to_vec();
        let size = InfoPage::parse(&page).unwrap().size();
        for (at, value) in edits {
            // Most edits land in the bytes in use, where they matter.
            let at = if at % 4 == 0 { at } else { at % size };
            page[at] = value;
        }
        if let Some(cut) = cut {
            page.truncate(cut);
        }
        if let Ok(info) = InfoPage::parse(&page) {
            exercise(&info);
        }
    }
}
