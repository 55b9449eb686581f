//! Per-partition rules: names, placement on cores, time budget, images, memory regions,
//! devices and interrupts, port declarations.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use bsp::{Dma, PhysRange};
use toml::Spanned;

use super::{
    Checker, IPA_LIMIT, MAX_DEVICES, MAX_NAME_LEN, MAX_PARTITIONS, MAX_PORTS, MAX_REGIONS,
    PAGE_SIZE, hex, is_reserved_partition_name, is_valid_name, name_help,
};
use crate::config::{RawDevice, RawImage, RawPartition, RawRegion};
use crate::diag::Rule;
use crate::model::{
    DeviceConfig, Direction, ImageSource, LinuxImage, LinuxSource, MemoryRegion, PartitionConfig,
    Port, PortKind, QueuingDiscipline, TimeBudget,
};

/// A partition that passed its own rules, with what later steps need to point at.
pub(crate) struct CheckedPartition {
    pub config: PartitionConfig,
    /// Span of each port's `name`, in [`PartitionConfig::ports`] order.
    pub port_spans: Vec<Range<usize>>,
}

/// What earlier partitions already own, for the cross-partition rules.
#[derive(Default)]
struct Owned {
    /// Partition names → line of first use.
    names: BTreeMap<String, usize>,
    /// Dedicated core → (owning partition, line).
    cores: BTreeMap<i64, (String, usize)>,
    /// Board device name → (owning partition, line).
    devices: BTreeMap<String, (String, usize)>,
    /// MMIO window of every owned device: (partition, device, range, line).
    mmio: Vec<(String, String, PhysRange, usize)>,
    /// Interrupt → (partition, device, line).
    interrupts: BTreeMap<u32, (String, String, usize)>,
    /// Physical RAM of every earlier partition: (partition, region, range, line).
    phys: Vec<(String, String, PhysRange, usize)>,
}

/// Checks every partition on its own and against the ones before it.
pub(crate) fn check_partitions(
    cx: &mut Checker<'_>,
    raw: &[Spanned<RawPartition>],
    base_dir: &Path,
) -> Vec<CheckedPartition> {
    let mut owned = Owned::default();
    let checked: Vec<_> = raw
        .iter()
        .enumerate()
        .map(|(i, p)| cx.partition(&mut owned, i, p, base_dir))
        .collect();
    // A time-partitioned core must not also be dedicated to someone (in either file order).
    for (p, c) in raw.iter().zip(&checked) {
        if let (Some(core), Some(_)) = (&p.get_ref().core, &c.config.time)
            && let Some((owner, line)) = owned.cores.get(core.get_ref())
        {
            cx.error(
                Rule::CoreMixedUse,
                core.span(),
                format!(
                    "core {} is dedicated to partition {owner:?} (line {line}); partition {:?} cannot share it through windows",
                    core.get_ref(),
                    c.config.name
                ),
                "time-partition a core no partition has in `cores`".to_owned(),
            );
        }
    }
    // Identity-mapped devices must not hide RAM of the same partition (checked per partition
    // once all its regions are known).
    checked
}

/// E104 on one owned device: `None` if the partition may own it as written, else the message,
/// the help, and whether they are about its `dma = "trusted"` (misplaced) rather than the
/// device. `dma` is the board's description (`None`: described by the configuration, which
/// the board cannot vouch for, so any acknowledgement is taken as written).
///
/// pkernel programs no SMMU yet, so every bus master's DMA reaches all of memory, with or
/// without an SMMU in front of it on the board.
pub(crate) fn dma_verdict(
    board: &str,
    part: &str,
    device: &str,
    dma: Option<Dma>,
    trusted: bool,
) -> Option<(String, String, bool)> {
    let accept = format!(
        "give the device to no partition, or accept the risk: write dma = \"trusted\" in its [[partition.device]] entry to trust partition {part:?} with all of memory"
    );
    match (dma?, trusted) {
        (Dma::BusMaster { .. }, true) => None,
        (Dma::BusMaster { smmu: None }, false) => Some((
            format!(
                "partition {part:?} owns device {device:?}, a DMA bus master with no SMMU on board {board:?}: through it the partition could overwrite any memory, other partitions' and the kernel's included"
            ),
            accept,
            false,
        )),
        (Dma::BusMaster { smmu: Some(smmu) }, false) => Some((
            format!(
                "partition {part:?} owns device {device:?}, a DMA bus master behind SMMU {smmu:?} on board {board:?}, but SMMU confinement is not implemented yet: through it the partition could overwrite any memory, other partitions' and the kernel's included"
            ),
            accept,
            false,
        )),
        (Dma::NotBusMaster, true) => Some((
            format!(
                "device {device:?} of partition {part:?} is not a DMA bus master on board {board:?}: dma = \"trusted\" acknowledges a risk it does not have"
            ),
            "remove dma = \"trusted\": it is only for bus masters whose DMA nothing confines"
                .to_owned(),
            true,
        )),
        (Dma::NotBusMaster, false) => None,
    }
}

impl Checker<'_> {
    fn partition(
        &mut self,
        owned: &mut Owned,
        index: usize,
        raw: &Spanned<RawPartition>,
        base_dir: &Path,
    ) -> CheckedPartition {
        let p = raw.get_ref();
        let name = p.name.get_ref().clone();
        if index == MAX_PARTITIONS {
            self.error(
                Rule::TooManyPartitions,
                p.name.span(),
                format!("partition {name:?} is number {}; at most {MAX_PARTITIONS} partitions are supported", index + 1),
                "merge or remove partitions".to_owned(),
            );
        }
        if !is_valid_name(&name, MAX_NAME_LEN) {
            self.error(
                Rule::InvalidPartitionName,
                p.name.span(),
                format!("partition name {name:?} is not valid"),
                name_help(MAX_NAME_LEN),
            );
        } else if is_reserved_partition_name(&name) {
            self.error(
                Rule::ReservedPartitionName,
                p.name.span(),
                format!("partition name {name:?} is reserved for the kernel"),
                format!("choose another name: the kernel's own console lines start with \"[{name}]\", and a partition's lines start with its name in brackets"),
            );
        } else if let Some(&line) = owned.names.get(&name) {
            self.error(
                Rule::DuplicatePartitionName,
                p.name.span(),
                format!("partition name {name:?} is already used on line {line}"),
                "give every partition a different name".to_owned(),
            );
        } else {
            owned.names.insert(name.clone(), self.line(&p.name));
        }

        let image = self.image(&name, &p.image, base_dir);
        let (cores, time) = self.placement(owned, &name, p);

        // Region and device names share one namespace: all become the partition's regions.
        let mut region_names: BTreeMap<String, usize> = BTreeMap::new();
        let mut memory = Vec::new();
        let mut ipa_ranges: Vec<(String, PhysRange, usize)> = Vec::new();
        let mut phys_ranges = Vec::new();
        for (j, r) in p.memory.iter().enumerate() {
            if j == MAX_REGIONS {
                self.error(
                    Rule::TooManyRegions,
                    r.span(),
                    format!("partition {name:?} has more than {MAX_REGIONS} memory regions"),
                    "merge adjacent regions or remove some".to_owned(),
                );
            }
            if let Some(region) = self.region(&name, r.get_ref(), &mut region_names) {
                let line = self.line(r);
                let rn = &region.name;
                let ipa = PhysRange::new(region.ipa, region.size);
                let ipa_span = r.get_ref().ipa.span();
                if let Some((other, _, other_line)) =
                    ipa_ranges.iter().find(|(_, o, _)| o.overlaps(&ipa))
                {
                    self.error(
                        Rule::RegionIpaOverlap,
                        ipa_span.clone(),
                        format!(
                            "region {rn:?} of partition {name:?} overlaps region {other:?} (line {other_line}) in IPA space"
                        ),
                        "move one of the regions so their [ipa, ipa + size) ranges do not overlap".to_owned(),
                    );
                }
                let phys = PhysRange::new(region.phys, region.size);
                let phys_span = r.get_ref().phys.as_ref().map_or(ipa_span, |s| s.span());
                if let Some((op, or, _, ol)) =
                    owned.phys.iter().find(|(_, _, o, _)| o.overlaps(&phys))
                {
                    self.error(
                        Rule::PhysOverlap,
                        phys_span,
                        format!(
                            "physical memory of region {rn:?} of partition {name:?} overlaps region {or:?} of partition {op:?} (line {ol})"
                        ),
                        "give each partition its own physical RAM (set `phys` to a free range); share data through channels".to_owned(),
                    );
                }
                ipa_ranges.push((rn.clone(), ipa, line));
                phys_ranges.push((name.clone(), rn.clone(), phys, line));
                memory.push(region);
            }
        }

        let mut devices = Vec::new();
        for (k, d) in p.devices.iter().enumerate() {
            let span = d.get_ref().name.span();
            if k == MAX_DEVICES {
                self.error(
                    Rule::TooManyDevices,
                    span.clone(),
                    format!("partition {name:?} owns more than {MAX_DEVICES} devices"),
                    "give some devices to another partition or remove them".to_owned(),
                );
            }
            self.unique_region_name(&name, d.get_ref().name.get_ref(), &span, &mut region_names);
            let Some(device) = self.device(owned, &name, d.get_ref()) else {
                continue;
            };
            if let Some((rn, _, line)) =
                ipa_ranges.iter().find(|(_, r, _)| r.overlaps(&device.mmio))
            {
                self.error(
                    Rule::DeviceIpaCollision,
                    span,
                    format!(
                        "device {:?} is mapped at IPA {}..{}, which collides with RAM region {rn:?} (line {line}) of partition {name:?}",
                        device.name,
                        hex(device.mmio.base, true),
                        hex(device.mmio.end(), true)
                    ),
                    "move the RAM region's `ipa` away from the device's address".to_owned(),
                );
            }
            devices.push(device);
        }
        owned.phys.extend(phys_ranges);
        let interrupts: usize = devices.iter().map(|d| d.interrupts.len()).sum();
        if interrupts > system_tables::MAX_PARTITION_INTERRUPTS {
            self.error(
                Rule::TooManyInterrupts,
                p.name.span(),
                format!(
                    "partition {name:?} owns {interrupts} interrupts through its devices; a partition may own at most {}",
                    system_tables::MAX_PARTITION_INTERRUPTS
                ),
                "give some of its devices to another partition".to_owned(),
            );
        }

        let (ports, port_spans) = self.ports(&name, p);

        CheckedPartition {
            config: PartitionConfig {
                name,
                kind: *p.kind.get_ref(),
                criticality: *p.criticality.get_ref(),
                cores,
                time,
                image,
                memory,
                devices,
                ports,
                hm: Vec::new(),
                pmu: p.pmu.as_ref().is_some_and(|b| *b.get_ref()),
            },
            port_spans,
        }
    }

    /// `cores = [..]` (dedicated) or `core = n` with `period` and `duration` (time-partitioned).
    fn placement(
        &mut self,
        owned: &mut Owned,
        name: &str,
        p: &RawPartition,
    ) -> (Vec<u8>, Option<TimeBudget>) {
        match (&p.cores, &p.core) {
            (Some(_), Some(core)) => {
                self.error(
                    Rule::ConflictingPlacement,
                    core.span(),
                    format!("partition {name:?} has both `cores` (dedicated) and `core` (time-partitioned)"),
                    "keep `cores = [..]` to give it whole cores, or `core = N` to share core N through windows".to_owned(),
                );
                (Vec::new(), None)
            }
            (None, Some(core)) => {
                let c = self.core_index(core);
                // An invalid budget is already reported; the partition is still
                // time-partitioned (a zero budget, which later steps skip), so its windows
                // and core are not reported again as if it had dedicated cores.
                let time = self
                    .time_budget(name, p, core.span())
                    .unwrap_or(TimeBudget {
                        period_ns: 0,
                        duration_ns: 0,
                    });
                (c.into_iter().collect(), Some(time))
            }
            (cores, None) => {
                for d in [&p.period, &p.duration].into_iter().flatten() {
                    self.error(
                        Rule::InvalidTimeBudget,
                        d.span(),
                        format!("partition {name:?} has dedicated cores; `period` and `duration` apply only to time-partitioned partitions"),
                        "remove them, or replace `cores` by `core = N` to share core N through windows".to_owned(),
                    );
                }
                (self.dedicated_cores(owned, name, p, cores.as_ref()), None)
            }
        }
    }

    /// A core index of the module, or an error at `core`.
    pub(super) fn core_index(&mut self, core: &Spanned<i64>) -> Option<u8> {
        let c = *core.get_ref();
        let board = self.board?;
        let count = i64::from(self.core_count);
        if (0..count).contains(&c) {
            return u8::try_from(c).ok();
        }
        let (message, help) = if count == board.core_count() as i64 {
            (
                format!("board {:?} has no core {c}", board.name),
                format!("use a core index from 0 to {}", count - 1),
            )
        } else {
            (
                format!(
                    "core {c} is not one of the module's {}",
                    crate::diag::count(count, "core", "cores")
                ),
                format!(
                    "use a core index from 0 to {}, or raise `[module] cores`",
                    count - 1
                ),
            )
        };
        self.error(Rule::CoreNotOnBoard, core.span(), message, help);
        None
    }

    fn dedicated_cores(
        &mut self,
        owned: &mut Owned,
        name: &str,
        p: &RawPartition,
        list: Option<&Spanned<Vec<Spanned<i64>>>>,
    ) -> Vec<u8> {
        let list = match list {
            Some(list) if !list.get_ref().is_empty() => list.get_ref(),
            other => {
                let span = other.map_or_else(|| p.name.span(), |l| l.span());
                self.error(
                    Rule::NoCores,
                    span,
                    format!("partition {name:?} has no cores"),
                    "give it dedicated cores, e.g. `cores = [1]`, or share one through windows with `core = 0`".to_owned(),
                );
                return Vec::new();
            }
        };
        let mut cores = Vec::new();
        for core in list {
            let Some(c) = self.core_index(core) else {
                continue;
            };
            match owned.cores.get(core.get_ref()) {
                Some((owner, line)) => {
                    let whom = if owner == name {
                        "this partition".to_owned()
                    } else {
                        format!("partition {owner:?}")
                    };
                    self.error(
                        Rule::CoreShared,
                        core.span(),
                        format!("core {c} is already given to {whom} (line {line})"),
                        "give each core to exactly one partition, once".to_owned(),
                    );
                }
                None => {
                    owned
                        .cores
                        .insert(*core.get_ref(), (name.to_owned(), self.line(core)));
                }
            }
            cores.push(c);
        }
        cores
    }

    /// `period` and `duration` of a time-partitioned partition.
    fn time_budget(
        &mut self,
        name: &str,
        p: &RawPartition,
        core_span: Range<usize>,
    ) -> Option<TimeBudget> {
        let missing = |cx: &mut Self, key: &str| {
            cx.error(
                Rule::InvalidTimeBudget,
                core_span.clone(),
                format!("time-partitioned partition {name:?} has no `{key}`"),
                "give it `period` (how often it must run) and `duration` (how long in each period), e.g. period = \"20ms\", duration = \"5ms\"".to_owned(),
            );
        };
        let period = match &p.period {
            Some(d) => self.duration("period", d),
            None => {
                missing(self, "period");
                None
            }
        };
        let duration = match &p.duration {
            Some(d) => self.duration("duration", d),
            None => {
                missing(self, "duration");
                None
            }
        };
        let (period_ns, duration_ns) = (period?, duration?);
        let (Some(period_raw), Some(duration_raw)) = (&p.period, &p.duration) else {
            return None;
        };
        if period_ns == 0 {
            self.error(
                Rule::InvalidTimeBudget,
                period_raw.span(),
                format!("partition {name:?} has a period of zero"),
                "give it a positive period that divides its core's major frame".to_owned(),
            );
            return None;
        }
        if duration_ns == 0 || duration_ns > period_ns {
            self.error(
                Rule::InvalidTimeBudget,
                duration_raw.span(),
                format!(
                    "partition {name:?} has duration {:?}, which is not in 0 < duration <= period ({:?})",
                    duration_raw.get_ref().0,
                    period_raw.get_ref().0
                ),
                "give it a positive duration no longer than its period".to_owned(),
            );
            return None;
        }
        Some(TimeBudget {
            period_ns,
            duration_ns,
        })
    }

    /// A board device by name, or an integrator-described one with `mmio` and `interrupts`.
    fn device(&mut self, owned: &mut Owned, part: &str, d: &RawDevice) -> Option<DeviceConfig> {
        let board = self.board?;
        let dn = d.name.get_ref();
        let span = d.name.span();
        let line = self.line(&d.name);
        let device = match &d.mmio {
            None => {
                if let Some(irqs) = &d.interrupts {
                    self.error(
                        Rule::InvalidInterrupt,
                        irqs.span(),
                        format!("device {dn:?}: `interrupts` can only be given with `mmio`"),
                        "leave interrupts out for a board device (the board lists them), or describe the device with `mmio` too".to_owned(),
                    );
                }
                let Some(device) = board.device(dn) else {
                    let known: Vec<_> = board.devices.iter().map(|d| d.name).collect();
                    self.error(
                        Rule::UnknownDevice,
                        span,
                        format!(
                            "board {:?} has no device {dn:?} a partition can own",
                            board.name
                        ),
                        format!(
                            "use one of: {}, or describe the device with `mmio` and `interrupts`",
                            known.join(", ")
                        ),
                    );
                    return None;
                };
                match owned.devices.get(dn) {
                    Some((owner, l)) if owner != part => {
                        self.error(
                            Rule::DeviceShared,
                            span,
                            format!(
                                "device {dn:?} is already owned by partition {owner:?} (line {l})"
                            ),
                            "give each device to one partition only".to_owned(),
                        );
                        return None;
                    }
                    // Listed twice in this partition: already a duplicate name.
                    Some(_) => return None,
                    None => {
                        owned.devices.insert(dn.clone(), (part.to_owned(), line));
                    }
                }
                DeviceConfig {
                    name: dn.clone(),
                    mmio: device.mmio,
                    interrupts: device.interrupts.to_vec(),
                    from_board: true,
                    dma: Some(device.dma),
                    dma_trusted: d.dma.is_some(),
                }
            }
            Some(mmio) => {
                let (base, size) = (
                    *mmio.get_ref().base.get_ref(),
                    *mmio.get_ref().size.get_ref(),
                );
                let bad = |cx: &mut Self, why: String, help: String| {
                    cx.error(
                        Rule::InvalidDeviceMmio,
                        mmio.span(),
                        format!("device {dn:?} of partition {part:?}: {why}"),
                        help,
                    );
                };
                if board.device(dn).is_some() {
                    bad(self, format!("{dn:?} is a device of board {:?}, whose MMIO window is fixed", board.name),
                        "remove `mmio` and `interrupts` to own the board's device, or give your device another name".to_owned());
                    return None;
                }
                if size == 0 || (base | size) % PAGE_SIZE != 0 {
                    bad(self, format!("MMIO window {}+{} is empty or not 4 KiB aligned", hex(base, true), hex(size, false)),
                        "stage 2 maps whole 4 KiB pages: use a page-aligned base and a non-zero multiple of 0x1000 as size".to_owned());
                    return None;
                }
                if !board.device_space.contains_range(base, size) {
                    bad(
                        self,
                        format!(
                            "MMIO window {}+{} is outside the device space of board {:?}",
                            hex(base, true),
                            hex(size, false),
                            board.name
                        ),
                        format!(
                            "place it inside {}..{}",
                            hex(board.device_space.base, true),
                            hex(board.device_space.end(), true)
                        ),
                    );
                    return None;
                }
                let range = PhysRange::new(base, size);
                if range.overlaps(&board.kernel_uart)
                    || range.overlaps(&board.gicd)
                    || range.overlaps(&board.gicr)
                {
                    bad(
                        self,
                        "the MMIO window covers the kernel's UART or the GIC".to_owned(),
                        "the kernel owns its console UART and the GIC; choose another window"
                            .to_owned(),
                    );
                    return None;
                }
                if let Some(b) = board.devices.iter().find(|b| b.mmio.overlaps(&range)) {
                    bad(
                        self,
                        format!("the MMIO window covers board device {:?}", b.name),
                        format!(
                            "own the board's device by name (`name = {:?}` without `mmio`)",
                            b.name
                        ),
                    );
                    return None;
                }
                if !is_valid_name(dn, MAX_NAME_LEN) {
                    self.error(
                        Rule::InvalidRegionName,
                        span,
                        format!("device name {dn:?} of partition {part:?} is not valid"),
                        name_help(MAX_NAME_LEN),
                    );
                    return None;
                }
                let mut interrupts = Vec::new();
                for irq in d
                    .interrupts
                    .as_ref()
                    .map(|l| l.get_ref().as_slice())
                    .unwrap_or(&[])
                {
                    let v = *irq.get_ref();
                    let board_device = board
                        .devices
                        .iter()
                        .find(|b| u32::try_from(v).is_ok_and(|i| b.interrupts.contains(&i)));
                    match u32::try_from(v) {
                        Ok(_) if board_device.is_some() => {
                            let b = board_device.map_or("", |b| b.name);
                            self.error(
                                Rule::InvalidInterrupt,
                                irq.span(),
                                format!(
                                    "interrupt {v} of device {dn:?} belongs to board device {b:?}"
                                ),
                                format!(
                                    "an interrupt goes with its device: own {b:?} by name to get it"
                                ),
                            );
                        }
                        Ok(intid) if board.is_spi(intid) && !board.is_kernel_interrupt(intid) => {
                            interrupts.push((intid, irq.span()))
                        }
                        _ => {
                            let why = if u32::try_from(v)
                                .is_ok_and(|i| i == board.kernel_uart_interrupt)
                            {
                                "is the kernel console's interrupt".to_owned()
                            } else if u32::try_from(v).is_ok_and(|i| board.is_doorbell_interrupt(i))
                            {
                                format!(
                                    "is one of the kernel's doorbell GPIO interrupts ({} to {}, virtual, every partition's)",
                                    board.doorbell_interrupts.0,
                                    board.doorbell_interrupts.1 - 1
                                )
                            } else {
                                format!(
                                    "is not a shared peripheral interrupt of board {:?}",
                                    board.name
                                )
                            };
                            self.error(
                                Rule::InvalidInterrupt,
                                irq.span(),
                                format!("interrupt {v} of device {dn:?} {why}"),
                                format!(
                                    "use a GIC INTID (SPI number + 32) from {} to {}, other than the kernel's own ({} and {} to {})",
                                    board.spi_intids.0,
                                    board.spi_intids.1 - 1,
                                    board.kernel_uart_interrupt,
                                    board.doorbell_interrupts.0,
                                    board.doorbell_interrupts.1 - 1
                                ),
                            );
                        }
                    }
                }
                for (intid, irq_span) in &interrupts {
                    if let Some((op, od, l)) = owned.interrupts.get(intid) {
                        self.error(
                            Rule::InterruptShared,
                            irq_span.clone(),
                            format!("interrupt {intid} is already owned by device {od:?} of partition {op:?} (line {l})"),
                            "route each interrupt to one device of one partition".to_owned(),
                        );
                    }
                }
                DeviceConfig {
                    name: dn.clone(),
                    mmio: range,
                    interrupts: interrupts.into_iter().map(|(i, _)| i).collect(),
                    from_board: false,
                    dma: None,
                    dma_trusted: d.dma.is_some(),
                }
            }
        };
        if let Some((op, od, _, l)) = owned
            .mmio
            .iter()
            .find(|(op, od, r, _)| r.overlaps(&device.mmio) && !(op == part && *od == device.name))
        {
            self.error(
                Rule::DeviceOverlap,
                span,
                format!(
                    "device {dn:?} ({}..{}) overlaps device {od:?} of partition {op:?} (line {l})",
                    hex(device.mmio.base, true),
                    hex(device.mmio.end(), true)
                ),
                "each MMIO page belongs to one device of one partition".to_owned(),
            );
            return None;
        }
        owned
            .mmio
            .push((part.to_owned(), dn.clone(), device.mmio, line));
        for &intid in &device.interrupts {
            owned
                .interrupts
                .entry(intid)
                .or_insert((part.to_owned(), dn.clone(), line));
        }
        if let Some((message, help, at_ack)) =
            dma_verdict(board.name, part, dn, device.dma, device.dma_trusted)
        {
            let at = match (&d.dma, at_ack) {
                (Some(ack), true) => ack.span(),
                _ => span,
            };
            self.error(Rule::UnconfinedDma, at, message, help);
        }
        Some(device)
    }

    /// The partition's sampling then queuing ports, each checked on its own.
    fn ports(&mut self, part: &str, p: &RawPartition) -> (Vec<Port>, Vec<Range<usize>>) {
        let mut ports = Vec::new();
        let mut spans = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let total = p.sampling_ports.len() + p.queuing_ports.len();
        if total > MAX_PORTS {
            self.error(
                Rule::TooManyPorts,
                p.name.span(),
                format!("partition {part:?} has {total} ports; at most {MAX_PORTS} are supported"),
                "merge messages into fewer ports".to_owned(),
            );
        }
        let mut name_ok = |cx: &mut Self, n: &Spanned<String>| {
            let name = n.get_ref();
            if !is_valid_name(name, MAX_NAME_LEN) {
                cx.error(
                    Rule::InvalidPortName,
                    n.span(),
                    format!("port name {name:?} of partition {part:?} is not valid"),
                    name_help(MAX_NAME_LEN),
                );
            } else if let Some(line) = names.get(name) {
                cx.error(
                    Rule::InvalidPortName,
                    n.span(),
                    format!("partition {part:?} already has a port named {name:?} (line {line})"),
                    "give every port of a partition a different name (sampling and queuing ports share one namespace)".to_owned(),
                );
            } else {
                names.insert(name.clone(), cx.line(n));
            }
        };
        for sp in &p.sampling_ports {
            let s = sp.get_ref();
            name_ok(self, &s.name);
            let size = self.message_size(part, s.name.get_ref(), &s.max_message_size);
            let refresh = match (&s.refresh_period, s.direction.get_ref()) {
                (Some(r), _) => match self.duration("refresh period", r) {
                    Some(0) => {
                        self.error(
                            Rule::InvalidRefreshPeriod,
                            r.span(),
                            format!("sampling port {:?} of partition {part:?} has a refresh period of zero", s.name.get_ref()),
                            "give how long a message stays valid, e.g. refresh_period = \"40ms\"".to_owned(),
                        );
                        None
                    }
                    other => other,
                },
                (None, Direction::Destination) => {
                    self.error(
                        Rule::InvalidRefreshPeriod,
                        s.name.span(),
                        format!("sampling destination port {:?} of partition {part:?} has no refresh period", s.name.get_ref()),
                        "add `refresh_period`, how long a message stays valid, e.g. refresh_period = \"40ms\"".to_owned(),
                    );
                    None
                }
                (None, Direction::Source) => None,
            };
            ports.push(Port {
                name: s.name.get_ref().clone(),
                kind: PortKind::Sampling {
                    refresh_period_ns: refresh,
                },
                direction: *s.direction.get_ref(),
                max_message_size: size,
                channel: usize::MAX,
                mappings: Vec::new(),
            });
            spans.push(s.name.span());
        }
        for qp in &p.queuing_ports {
            let q = qp.get_ref();
            name_ok(self, &q.name);
            let size = self.message_size(part, q.name.get_ref(), &q.max_message_size);
            let depth = *q.max_messages.get_ref();
            let max = apex_api::ports::MAX_QUEUE_DEPTH;
            let depth = match u64::try_from(depth) {
                Ok(d) if (1..=max).contains(&d) => d,
                _ => {
                    self.error(
                        Rule::InvalidQueueDepth,
                        q.max_messages.span(),
                        format!(
                            "queuing port {:?} of partition {part:?} holds {depth} messages",
                            q.name.get_ref()
                        ),
                        format!("use 1 to {max} messages"),
                    );
                    1
                }
            };
            ports.push(Port {
                name: q.name.get_ref().clone(),
                kind: PortKind::Queuing {
                    max_messages: depth,
                    discipline: q
                        .discipline
                        .as_ref()
                        .map_or(QueuingDiscipline::Fifo, |d| *d.get_ref()),
                },
                direction: *q.direction.get_ref(),
                max_message_size: size,
                channel: usize::MAX,
                mappings: Vec::new(),
            });
            spans.push(q.name.span());
        }
        (ports, spans)
    }

    fn message_size(&mut self, part: &str, port: &str, size: &Spanned<i64>) -> u64 {
        let max = apex_api::ports::MAX_MESSAGE_SIZE;
        match u64::try_from(*size.get_ref()) {
            Ok(s) if (1..=max).contains(&s) => s,
            _ => {
                self.error(
                    Rule::InvalidMessageSize,
                    size.span(),
                    format!("port {port:?} of partition {part:?} has a maximum message size of {} bytes", size.get_ref()),
                    format!("use 1 to {max} bytes"),
                );
                1
            }
        }
    }

    fn image(&mut self, name: &str, raw: &Spanned<RawImage>, base_dir: &Path) -> ImageSource {
        let img = raw.get_ref();
        let bad = |cx: &mut Self, span: Range<usize>, what: String, help: &str| {
            cx.error(
                Rule::InvalidImageSource,
                span,
                format!("partition {name:?}: {what}"),
                help.to_owned(),
            );
        };
        match (&img.package, &img.elf, &img.linux) {
            (Some(pkg), None, None) => {
                let valid = !pkg.get_ref().is_empty()
                    && pkg
                        .get_ref()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    bad(
                        self,
                        pkg.span(),
                        format!("{:?} is not a package name", pkg.get_ref()),
                        "name a package of this workspace, e.g. `image = { package = \"bm-ticker\" }`",
                    );
                }
                ImageSource::Package(pkg.get_ref().clone())
            }
            (None, Some(elf), None) => {
                if elf.get_ref().is_empty() {
                    bad(
                        self,
                        elf.span(),
                        "the ELF path is empty".to_owned(),
                        "give the path of the partition's ELF file",
                    );
                }
                ImageSource::Elf(base_dir.join(elf.get_ref()))
            }
            (None, None, Some(linux)) => {
                let source = LinuxSource::ALL
                    .iter()
                    .copied()
                    .find(|s| s.as_str() == linux.get_ref());
                if source.is_none() {
                    let known: Vec<_> = LinuxSource::ALL
                        .iter()
                        .map(|s| format!("{:?}", s.as_str()))
                        .collect();
                    bad(
                        self,
                        linux.span(),
                        format!(
                            "{:?} is not a Linux kernel source pkernel knows",
                            linux.get_ref()
                        ),
                        &format!(
                            "use one of {}: `image = {{ linux = \"debian\" }}` boots Debian's arm64 kernel, fetched by package name",
                            known.join(", ")
                        ),
                    );
                }
                // `bootargs` is a key of the partition: checked with the other Linux rules.
                ImageSource::Linux(LinuxImage {
                    source: source.unwrap_or(LinuxSource::Debian),
                    bootargs: None,
                })
            }
            (None, None, None) => {
                bad(
                    self,
                    raw.span(),
                    "the image names no package, ELF file or Linux kernel".to_owned(),
                    "write `image = { package = \"<crate>\" }`, `image = { elf = \"<path>\" }` or `image = { linux = \"debian\" }`",
                );
                ImageSource::Package(String::new())
            }
            _ => {
                bad(
                    self,
                    raw.span(),
                    "the image names more than one of a package, an ELF file and a Linux kernel"
                        .to_owned(),
                    "keep only one of `package`, `elf` or `linux`",
                );
                ImageSource::Package(String::new())
            }
        }
    }

    fn unique_region_name(
        &mut self,
        part: &str,
        name: &str,
        span: &Range<usize>,
        seen: &mut BTreeMap<String, usize>,
    ) {
        if let Some(line) = seen.get(name) {
            self.error(
                Rule::DuplicateRegionName,
                span.clone(),
                format!(
                    "partition {part:?} already has a region or device named {name:?} (line {line})"
                ),
                "give every memory region and device of a partition a different name".to_owned(),
            );
        } else {
            seen.insert(name.to_owned(), self.pos(span).line);
        }
    }

    /// Checks one region on its own; returns it when its numbers are usable for overlap checks.
    fn region(
        &mut self,
        part: &str,
        r: &RawRegion,
        names: &mut BTreeMap<String, usize>,
    ) -> Option<MemoryRegion> {
        let rn = r.name.get_ref();
        if !is_valid_name(rn, MAX_NAME_LEN) {
            self.error(
                Rule::InvalidRegionName,
                r.name.span(),
                format!("region name {rn:?} of partition {part:?} is not valid"),
                name_help(MAX_NAME_LEN),
            );
        }
        self.unique_region_name(part, rn, &r.name.span(), names);
        let what = format!("region {rn:?} of partition {part:?}");
        let ipa = *r.ipa.get_ref();
        let size = *r.size.get_ref();
        let phys = r.phys.as_ref().map_or(ipa, |p| *p.get_ref());
        let mut fields = vec![("ipa", &r.ipa, false), ("size", &r.size, true)];
        if let Some(p) = &r.phys {
            fields.insert(1, ("phys", p, false));
        }
        for (field, value, round_up) in fields {
            let v = *value.get_ref();
            if v % PAGE_SIZE != 0 {
                let suggestion = if round_up {
                    v.div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE)
                } else {
                    v & !(PAGE_SIZE - 1)
                };
                self.error(
                    Rule::UnalignedRegion,
                    value.span(),
                    format!(
                        "{what}: {field} {} is not a multiple of 4 KiB",
                        hex(v, !round_up)
                    ),
                    format!(
                        "use a multiple of 0x1000, e.g. {}",
                        hex(suggestion, !round_up)
                    ),
                );
            }
        }
        if size == 0 {
            self.error(
                Rule::EmptyRegion,
                r.size.span(),
                format!("{what} has size 0"),
                "give the region a size of at least 0x1000, or remove it".to_owned(),
            );
            return None;
        }
        let phys_span = r.phys.as_ref().map_or_else(|| r.ipa.span(), |p| p.span());
        let mut usable = true;
        for (field, base, span) in [
            ("ipa", ipa, r.ipa.span()),
            ("phys", phys, phys_span.clone()),
        ] {
            if base.checked_add(size).is_none() && (field == "ipa" || r.phys.is_some()) {
                self.error(
                    Rule::AddressOverflow,
                    span,
                    format!(
                        "{what}: {field} {} + size {} overflows 64 bits",
                        hex(base, true),
                        hex(size, false)
                    ),
                    "lower the address or the size".to_owned(),
                );
                usable = false;
            }
        }
        if !usable {
            return None;
        }
        if ipa + size > IPA_LIMIT {
            self.error(
                Rule::IpaOutOfRange,
                r.ipa.span(),
                format!(
                    "{what} ends at IPA {}, beyond the 39-bit stage-2 input range",
                    hex(ipa + size, true)
                ),
                format!("keep ipa + size at or below {}", hex(IPA_LIMIT, true)),
            );
        } else {
            self.clear_of_info_page(r.ipa.span(), &what, (ipa, ipa + size), "ipa + size");
        }
        if let Some(board) = self.board {
            let identity = if r.phys.is_none() {
                " (identity-mapped: phys = ipa)"
            } else {
                ""
            };
            let range = format!("{}..{}", hex(phys, true), hex(phys + size, true));
            if !board.ram.contains_range(phys, size) {
                self.error(
                    Rule::RegionOutsideRam,
                    phys_span.clone(),
                    format!("{what}: physical range {range}{identity} is not inside the RAM of board {:?}", board.name),
                    format!("place it inside {}..{}", hex(board.ram.base, true), hex(board.ram.end(), true)),
                );
            }
            if board.kernel_reserved.overlaps(&PhysRange::new(phys, size)) {
                self.error(
                    Rule::RegionInKernelReserved,
                    phys_span,
                    format!("{what}: physical range {range}{identity} overlaps the RAM reserved for the kernel"),
                    format!(
                        "place it outside {}..{}{}",
                        hex(board.kernel_reserved.base, true),
                        hex(board.kernel_reserved.end(), true),
                        if r.phys.is_none() { " (set `phys` to keep the IPA)" } else { "" }
                    ),
                );
            }
        }
        Some(MemoryRegion {
            name: rn.clone(),
            ipa,
            phys,
            size,
            access: *r.access.get_ref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No board has a device behind an SMMU yet, so E104's SMMU wording is checked here.
    #[test]
    fn a_bus_master_behind_an_smmu_is_refused_until_smmu_confinement_exists() {
        let smmu = Some(Dma::BusMaster {
            smmu: Some("smmuv3"),
        });
        let (message, help, at_ack) = dma_verdict("b", "net", "eth", smmu, false).unwrap();
        assert_eq!(
            message,
            "partition \"net\" owns device \"eth\", a DMA bus master behind SMMU \"smmuv3\" on board \"b\", but SMMU confinement is not implemented yet: through it the partition could overwrite any memory, other partitions' and the kernel's included"
        );
        assert_eq!(
            help,
            "give the device to no partition, or accept the risk: write dma = \"trusted\" in its [[partition.device]] entry to trust partition \"net\" with all of memory"
        );
        assert!(!at_ack);
        assert_eq!(dma_verdict("b", "net", "eth", smmu, true), None);
    }

    #[test]
    fn devices_the_board_does_not_describe_take_the_configuration_at_its_word() {
        assert_eq!(dma_verdict("b", "p", "virtio0", None, false), None);
        assert_eq!(dma_verdict("b", "p", "virtio0", None, true), None);
        let plain = Some(Dma::NotBusMaster);
        assert_eq!(dma_verdict("b", "p", "rtc", plain, false), None);
        assert!(dma_verdict("b", "p", "rtc", plain, true).is_some_and(|v| v.2));
    }
}
