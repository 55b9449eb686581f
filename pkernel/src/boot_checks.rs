//! The invariants the kernel's own safety rests on, re-checked on the tables before any
//! partition starts.
//!
//! schedule-gen enforces these (and many more) with messages for the integrator; this is the
//! kernel refusing to trust a table it did not build. A failure stops the boot with the
//! offending partition named.

use core::fmt;

use crate::config::{RegionKind, System};

/// The first broken invariant found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootCheckError {
    pub partition: &'static str,
    pub what: &'static str,
}

impl fmt::Display for BootCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "partition '{}': {}", self.partition, self.what)
    }
}

const PAGE: u64 = 4096;
/// Stage-2 input range: the kernel configures a 39-bit IPA space (VTCR_EL2.T0SZ = 25).
pub const IPA_LIMIT: u64 = 1 << 39;

pub fn check(system: &System) -> Result<(), BootCheckError> {
    let board = system.board;
    let mut cores_taken = 0u64;
    if system.partitions.len() > crate::config::MAX_PARTITIONS {
        return Err(BootCheckError {
            partition: "*",
            what: "more partitions than the kernel supports",
        });
    }
    for (index, p) in system.partitions.iter().enumerate() {
        let fail = |what| {
            Err(BootCheckError {
                partition: p.name,
                what,
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
            if usize::from(core) >= board.core_count() || core >= 64 {
                return fail("core does not exist on this board");
            }
            if cores_taken & (1 << core) != 0 {
                return fail("core already given to another partition");
            }
            cores_taken |= 1 << core;
        }
        for r in p.regions {
            if r.size == 0 || (r.ipa | r.phys | r.size) % PAGE != 0 {
                return fail("region empty or not 4 KiB aligned");
            }
            let (Some(ipa_end), Some(_)) = (r.ipa.checked_add(r.size), r.phys.checked_add(r.size))
            else {
                return fail("region wraps the address space");
            };
            if ipa_end > IPA_LIMIT {
                return fail("region beyond the 39-bit IPA space");
            }
            let phys = bsp::PhysRange::new(r.phys, r.size);
            if phys.overlaps(&board.kernel_reserved)
                || phys.overlaps(&board.kernel_uart)
                || phys.overlaps(&board.gicd)
                || phys.overlaps(&board.gicr)
            {
                return fail("region overlaps kernel memory or a kernel-owned device");
            }
            let inside = match r.kind {
                RegionKind::Ram => board.ram.contains_range(r.phys, r.size),
                RegionKind::Device => board.device_space.contains_range(r.phys, r.size),
            };
            if !inside {
                return fail("region outside the board's RAM or device space");
            }
            if r.kind == RegionKind::Device && r.access.execute {
                return fail("device region is executable");
            }
            let other_ram = system.partitions[..index]
                .iter()
                .flat_map(|q| q.regions.iter());
            if r.kind == RegionKind::Ram
                && other_ram
                    .filter(|o| o.kind == RegionKind::Ram)
                    .any(|o| bsp::PhysRange::new(o.phys, o.size).overlaps(&phys))
            {
                return fail("RAM region overlaps another partition's RAM");
            }
        }
        for s in p.segments {
            let fits = p.regions.iter().any(|r| {
                r.kind == RegionKind::Ram
                    && s.mem_size >= s.data.len() as u64
                    && r.translate(s.ipa, s.mem_size).is_some()
            });
            if !fits {
                return fail("image segment outside the partition's RAM");
            }
        }
        if !p.regions.iter().any(|r| {
            r.kind == RegionKind::Ram && r.access.execute && r.translate(p.entry_ipa, 4).is_some()
        }) {
            return fail("entry point not in executable RAM");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Access, Partition, PartitionKind, Region, Segment};

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
        mem_size: 0x100,
    }];
    static SEG_OUT: [Segment; 1] = [Segment {
        ipa: 0x401f_ff00,
        data: &[0; 16],
        mem_size: 0x1000,
    }];

    const fn partition(
        id: u16,
        vmid: u16,
        cores: &'static [u8],
        regions: &'static [Region],
        segments: &'static [Segment],
    ) -> Partition {
        Partition {
            id,
            name: "p",
            kind: PartitionKind::BareMetal,
            vmid,
            cores,
            entry_ipa: 0x4000_0000,
            regions,
            segments,
        }
    }

    fn system(partitions: &'static [Partition]) -> System {
        System {
            module_name: "t",
            board: &bsp::QEMU_VIRT,
            partitions,
            config_sha256: "",
        }
    }

    #[test]
    fn accepts_a_sound_table() {
        static P: [Partition; 1] = [partition(0, 1, &[1], &RAM_A, &SEG)];
        assert_eq!(check(&system(&P)), Ok(()));
    }

    #[test]
    fn rejects_each_broken_invariant() {
        static SHARED_CORE: [Partition; 2] = [
            partition(0, 1, &[1], &RAM_A, &[]),
            partition(1, 2, &[1], &[], &[]),
        ];
        static OVERLAP: [Partition; 2] = [
            partition(0, 1, &[1], &RAM_A, &[]),
            partition(1, 2, &[2], &RAM_B, &[]),
        ];
        static KERNEL: [Partition; 1] = [partition(0, 1, &[1], &IN_KERNEL, &[])];
        static NO_CORE: [Partition; 1] = [partition(0, 1, &[9], &RAM_A, &[])];
        static VMID0: [Partition; 1] = [partition(0, 0, &[1], &RAM_A, &[])];
        static SEGMENT: [Partition; 1] = [partition(0, 1, &[1], &RAM_A, &SEG_OUT)];
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
            assert_eq!(check(&system(table)).unwrap_err().what, what);
        }
    }
}
