//! The invariants the kernel's own safety rests on, re-checked on the tables before any
//! partition starts.
//!
//! schedule-gen enforces these (and many more) with messages for the integrator; this is the
//! kernel refusing to trust a table it did not build. A failure stops the boot with the
//! offending partition named.

use core::fmt;

use crate::config::{CoreSchedule, HmError, Region, RegionKind, System};

/// The first broken invariant found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootCheckError {
    pub partition: &'static str,
    pub what: &'static str,
    /// For a counter frequency that differs: the tables' and the hardware's, in Hz.
    pub counter_hz: Option<(u64, u64)>,
}

impl fmt::Display for BootCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((tables, hardware)) = self.counter_hz {
            return write!(
                f,
                "{}: the tables were built for a system counter of {tables} Hz (the board's \
                 counter_hz), this hardware's runs at {hardware} Hz (CNTFRQ_EL0); correct the \
                 board description (bsp) or run on the board it describes, and rebuild",
                self.what
            );
        }
        write!(f, "partition '{}': {}", self.partition, self.what)
    }
}

const PAGE: u64 = 4096;
/// Stage-2 input range: the kernel configures a 39-bit IPA space (VTCR_EL2.T0SZ = 25).
pub const IPA_LIMIT: u64 = 1 << 39;

/// Checks `system` against the invariants the kernel relies on; `counter_hz` is the
/// frequency the hardware reports (CNTFRQ_EL0).
pub fn check(system: &System, counter_hz: u64) -> Result<(), BootCheckError> {
    let board = system.board;
    let module = |what| {
        Err(BootCheckError {
            partition: "*",
            what,
            counter_hz: None,
        })
    };
    if system.partitions.len() > crate::config::MAX_PARTITIONS {
        return module("more partitions than the kernel supports");
    }
    if system.core_count == 0 || usize::from(system.core_count) > board.core_count() {
        return module("the module uses more cores than the board has");
    }
    if system.counter_hz != counter_hz {
        return Err(BootCheckError {
            partition: "*",
            what: "the schedule was built for another system counter frequency",
            counter_hz: Some((system.counter_hz, counter_hz)),
        });
    }
    if system
        .console_input
        .is_some_and(|id| usize::from(id) >= system.partitions.len())
    {
        return module("console input goes to a partition the tables do not have");
    }
    let mut dedicated = 0u64;
    for (index, p) in system.partitions.iter().enumerate() {
        let fail = |what| {
            Err(BootCheckError {
                partition: p.name,
                what,
                counter_hz: None,
            })
        };
        if usize::from(p.id) != index {
            return fail("id does not match its table index");
        }
        if p.vmid == 0 || system.partitions[..index].iter().any(|q| q.vmid == p.vmid) {
            return fail("VMID is 0 or shared");
        }
        if p.cores.is_empty() {
            return fail("has no core");
        }
        for &core in p.cores {
            if core >= system.core_count || core >= 64 {
                return fail("core does not exist on this board");
            }
            if p.is_time_partitioned() {
                if p.cores.len() != 1 || system.schedule_of(core).is_none() {
                    return fail("time-partitioned core has no schedule");
                }
            } else {
                if dedicated & (1 << core) != 0 || system.schedule_of(core).is_some() {
                    return fail("core already given to another partition");
                }
                dedicated |= 1 << core;
            }
        }
        if HmError::ALL
            .iter()
            .any(|&e| !e.is_module_only() && p.hm_action(e).is_none())
        {
            return fail("HM table incomplete");
        }
        for r in p.regions {
            check_region(system, index, r).or_else(fail)?;
        }
        for s in p.image.segments {
            let fits = p.regions.iter().any(|r| {
                r.kind == RegionKind::Ram
                    && s.mem_size >= s.loaded_size()
                    && r.translate(s.ipa, s.mem_size).is_some()
            });
            if !fits {
                return fail("image segment outside the partition's RAM");
            }
        }
        if !p.regions.iter().any(|r| {
            r.kind == RegionKind::Ram
                && r.access.execute
                && r.translate(p.image.entry_ipa, 4).is_some()
        }) {
            return fail("entry point not in executable RAM");
        }
    }
    for schedule in system.schedules {
        check_schedule(system, schedule).map_err(|what| BootCheckError {
            counter_hz: None,
            partition: "*",
            what,
        })?;
    }
    if HmError::ALL
        .iter()
        .any(|&e| e.is_module_only() && system.module_action(e).is_none())
    {
        return module("module HM table incomplete");
    }
    Ok(())
}

/// One region of partition `index`.
fn check_region(system: &System, index: usize, r: &Region) -> Result<(), &'static str> {
    let board = system.board;
    if r.size == 0 || !(r.ipa | r.phys | r.size).is_multiple_of(PAGE) {
        return Err("region empty or not 4 KiB aligned");
    }
    let (Some(ipa_end), Some(_)) = (r.ipa.checked_add(r.size), r.phys.checked_add(r.size)) else {
        return Err("region wraps the address space");
    };
    if ipa_end > IPA_LIMIT {
        return Err("region beyond the 39-bit IPA space");
    }
    let phys = bsp::PhysRange::new(r.phys, r.size);
    if phys.overlaps(&board.kernel_reserved)
        || phys.overlaps(&board.kernel_uart)
        || phys.overlaps(&board.gicd)
        || phys.overlaps(&board.gicr)
    {
        return Err("region overlaps kernel memory or a kernel-owned device");
    }
    let inside = match r.kind {
        RegionKind::Ram | RegionKind::Port => board.ram.contains_range(r.phys, r.size),
        RegionKind::Device => board.device_space.contains_range(r.phys, r.size),
    };
    if !inside {
        return Err("region outside the board's RAM or device space");
    }
    if r.kind != RegionKind::Ram && r.access.execute {
        return Err("device or port region is executable");
    }
    // RAM is private: it overlaps no RAM and no port buffer of anyone (port buffers are
    // shared between the ends of a channel, so they may overlap each other).
    let others = system
        .partitions
        .iter()
        .enumerate()
        .flat_map(|(i, q)| q.regions.iter().map(move |o| (i, o)))
        .filter(|(i, o)| !(*i == index && core::ptr::eq(*o, r)));
    for (_, o) in others {
        let overlaps = bsp::PhysRange::new(o.phys, o.size).overlaps(&phys);
        let private = |k| k == RegionKind::Ram;
        if overlaps
            && o.kind != RegionKind::Device
            && r.kind != RegionKind::Device
            && (private(r.kind) || private(o.kind))
        {
            return Err("RAM region overlaps another partition's RAM");
        }
    }
    Ok(())
}

/// One core schedule: windows sorted, disjoint, inside the frame, each for a partition
/// time-partitioned on that core.
fn check_schedule(system: &System, s: &CoreSchedule) -> Result<(), &'static str> {
    if s.major_frame_ticks == 0 || s.windows.is_empty() {
        return Err("empty schedule");
    }
    let mut end = 0;
    for w in s.windows {
        let Some(p) = system.partitions.get(usize::from(w.partition)) else {
            return Err("window for a partition that does not exist");
        };
        if !p.is_time_partitioned() || p.cores.first() != Some(&s.core) {
            return Err("window for a partition not time-partitioned on its core");
        }
        let Some(w_end) = w.offset_ticks.checked_add(w.duration_ticks) else {
            return Err("window wraps");
        };
        if w.duration_ticks == 0 || w.offset_ticks < end || w_end > s.major_frame_ticks {
            return Err("windows overlap, are empty or cross the major frame");
        }
        end = w_end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        Access, Criticality, HmAction, ModuleAction, ModuleHmEntry, Partition, PartitionAction,
        PartitionHmEntry, PartitionImage, PartitionKind, Region, Segment,
    };

    /// A complete partition HM table: every partition-level error → IDLE.
    const HM: [PartitionHmEntry; 9] = {
        let mut t = [PartitionHmEntry {
            error: HmError::MemoryViolation,
            action: HmAction::Partition(PartitionAction::Idle),
        }; 9];
        let mut i = 0;
        while i < 9 {
            t[i].error = HmError::ALL[i];
            i += 1;
        }
        t
    };
    static MODULE_HM: [ModuleHmEntry; 1] = [ModuleHmEntry {
        error: HmError::KernelFault,
        action: ModuleAction::Shutdown,
    }];

    static RAM_A: [Region; 1] = [Region {
        name: "ram",
        ipa: 0x4000_0000,
        phys: 0x4200_0000,
        size: 0x20_0000,
        kind: RegionKind::Ram,
        access: Access::RWX,
    }];
    static RAM_B: [Region; 1] = [Region {
        name: "ram",
        ipa: 0x4000_0000,
        phys: 0x4210_0000,
        size: 0x20_0000,
        kind: RegionKind::Ram,
        access: Access::RWX,
    }];
    static IN_KERNEL: [Region; 1] = [Region {
        name: "ram",
        ipa: 0x4000_0000,
        phys: 0x4000_0000,
        size: 0x20_0000,
        kind: RegionKind::Ram,
        access: Access::RWX,
    }];
    static SEG: [Segment; 1] = [Segment {
        ipa: 0x4000_0000,
        data: &[0; 16],
        inflated_size: 0,
        mem_size: 0x100,
    }];
    static SEG_OUT: [Segment; 1] = [Segment {
        ipa: 0x401f_ff00,
        data: &[0; 16],
        inflated_size: 0,
        mem_size: 0x1000,
    }];

    const fn partition(
        id: u16,
        vmid: u16,
        cores: &'static [u8],
        regions: &'static [Region],
        image: &'static PartitionImage,
    ) -> Partition {
        Partition {
            id,
            name: "p",
            kind: PartitionKind::BareMetal,
            vmid,
            criticality: Criticality::C,
            pmu: false,
            cores,
            time: None,
            regions,
            interrupts: &[],
            ports: &[],
            hm: &HM,
            image,
        }
    }

    static IMAGE: PartitionImage = PartitionImage {
        entry_ipa: 0x4000_0000,
        segments: &SEG,
        boot_argument: 0,
    };
    static IMAGE_OUT: PartitionImage = PartitionImage {
        entry_ipa: 0x4000_0000,
        segments: &SEG_OUT,
        boot_argument: 0,
    };
    static NO_IMAGE: PartitionImage = PartitionImage {
        entry_ipa: 0x4000_0000,
        segments: &[],
        boot_argument: 0,
    };

    fn system(partitions: &'static [Partition]) -> System {
        System {
            module_name: "t",
            board: &bsp::QEMU_VIRT,
            partitions,
            config_sha256: "",
            tables_sha256: "",
            core_count: 4,
            counter_hz: 62_500_000,
            schedules: &[],
            channels: &[],
            module_hm: &MODULE_HM,
            console_input: None,
        }
    }

    #[test]
    fn accepts_a_sound_table() {
        static P: [Partition; 1] = [partition(0, 1, &[1], &RAM_A, &IMAGE)];
        assert_eq!(check(&system(&P), 62_500_000), Ok(()));
    }

    #[test]
    fn rejects_console_input_for_a_partition_it_does_not_have() {
        static P: [Partition; 1] = [partition(0, 1, &[1], &RAM_A, &IMAGE)];
        let mut s = system(&P);
        s.console_input = Some(0);
        assert_eq!(check(&s, 62_500_000), Ok(()));
        s.console_input = Some(1);
        assert_eq!(
            check(&s, 62_500_000),
            Err(BootCheckError {
                partition: "*",
                what: "console input goes to a partition the tables do not have",
                counter_hz: None,
            })
        );
    }

    #[test]
    fn rejects_another_counter_frequency() {
        static P: [Partition; 1] = [partition(0, 1, &[1], &RAM_A, &IMAGE)];
        let error = check(&system(&P), 1_000_000_000).unwrap_err();
        assert_eq!(
            error.what,
            "the schedule was built for another system counter frequency"
        );
        // Both frequencies, and what to change.
        assert_eq!(
            error.to_string(),
            "the schedule was built for another system counter frequency: the tables were \
             built for a system counter of 62500000 Hz (the board's counter_hz), this \
             hardware's runs at 1000000000 Hz (CNTFRQ_EL0); correct the board description \
             (bsp) or run on the board it describes, and rebuild"
        );
    }

    #[test]
    fn rejects_each_broken_invariant() {
        static SHARED_CORE: [Partition; 2] = [
            partition(0, 1, &[1], &RAM_A, &NO_IMAGE),
            partition(1, 2, &[1], &[], &NO_IMAGE),
        ];
        static OVERLAP: [Partition; 2] = [
            partition(0, 1, &[1], &RAM_A, &NO_IMAGE),
            partition(1, 2, &[2], &RAM_B, &NO_IMAGE),
        ];
        static KERNEL: [Partition; 1] = [partition(0, 1, &[1], &IN_KERNEL, &NO_IMAGE)];
        static NO_CORE: [Partition; 1] = [partition(0, 1, &[9], &RAM_A, &NO_IMAGE)];
        static VMID0: [Partition; 1] = [partition(0, 0, &[1], &RAM_A, &NO_IMAGE)];
        static SEGMENT: [Partition; 1] = [partition(0, 1, &[1], &RAM_A, &IMAGE_OUT)];
        for (table, what) in [
            (&SHARED_CORE[..], "core already given to another partition"),
            (&OVERLAP[..], "RAM region overlaps another partition's RAM"),
            (
                &KERNEL[..],
                "region overlaps kernel memory or a kernel-owned device",
            ),
            (&NO_CORE[..], "core does not exist on this board"),
            (&VMID0[..], "VMID is 0 or shared"),
            (&SEGMENT[..], "image segment outside the partition's RAM"),
        ] {
            assert_eq!(check(&system(table), 62_500_000).unwrap_err().what, what);
        }
    }
}
