//! Checking addresses a partition hands the kernel, before the kernel touches anything.
//!
//! An address and length from a partition is an allegation ([`GuestRange`]); the only way to
//! a physical address is [`GuestRange::resolve`], which checks it lies wholly inside one RAM
//! region of *that* partition with the access the kernel is about to exercise on its behalf.
//! Device regions never resolve: a kernel read of MMIO could have side effects.

use crate::config::{Partition, RegionKind};

/// What the kernel will do with the memory on the caller's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// The kernel reads it (the partition must be allowed to read it too).
    Read,
    /// The kernel writes it (the partition must be allowed to write it too).
    Write,
}

/// Why a guest range was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// `ipa + len` overflows.
    Overflow,
    /// Not wholly inside one of the partition's RAM regions.
    NotMapped,
    /// Inside a region, but the partition itself lacks the access.
    AccessDenied,
}

/// An address range a partition claims is its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestRange {
    pub ipa: u64,
    pub len: u64,
}

impl GuestRange {
    pub fn new(ipa: u64, len: u64) -> Self {
        Self { ipa, len }
    }

    /// The host-physical address of the range, if `owner` may `use_` all of it.
    pub fn resolve(self, owner: &Partition, use_: Use) -> Result<u64, RangeError> {
        self.ipa.checked_add(self.len).ok_or(RangeError::Overflow)?;
        let region = owner
            .regions
            .iter()
            .filter(|r| r.kind == RegionKind::Ram)
            .find(|r| r.translate(self.ipa, self.len).is_some())
            .ok_or(RangeError::NotMapped)?;
        let allowed = match use_ {
            Use::Read => region.access.read,
            Use::Write => region.access.write,
        };
        if !allowed {
            return Err(RangeError::AccessDenied);
        }
        region
            .translate(self.ipa, self.len)
            .ok_or(RangeError::NotMapped)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{Access, PartitionKind, Region};

    pub(crate) static REGIONS: [Region; 3] = [
        Region {
            name: "ram",
            ipa: 0x4000_0000,
            phys: 0x4800_0000,
            size: 0x10_0000,
            kind: RegionKind::Ram,
            access: Access::RWX,
        },
        Region {
            name: "ro",
            ipa: 0x5000_0000,
            phys: 0x4900_0000,
            size: 0x1000,
            kind: RegionKind::Ram,
            access: Access {
                read: false,
                write: false,
                execute: true,
            },
        },
        Region {
            name: "rtc",
            ipa: 0x0901_0000,
            phys: 0x0901_0000,
            size: 0x1000,
            kind: RegionKind::Device,
            access: Access::RW,
        },
    ];

    pub(crate) static PARTITION: Partition = Partition {
        id: 0,
        name: "p",
        kind: PartitionKind::BareMetal,
        vmid: 1,
        criticality: crate::config::Criticality::E,
        pmu: false,
        cores: &[1],
        time: None,
        regions: &REGIONS,
        interrupts: &[],
        ports: &[],
        hm: &[],
        image: &crate::config::PartitionImage {
            entry_ipa: 0x4000_0000,
            segments: &[],
            boot_argument: 0,
        },
    };

    #[test]
    fn resolves_inside_ram_only() {
        let p = &PARTITION;
        assert_eq!(
            GuestRange::new(0x4000_0010, 16).resolve(p, Use::Read),
            Ok(0x4800_0010)
        );
        assert_eq!(
            GuestRange::new(0x400f_fff0, 16).resolve(p, Use::Write),
            Ok(0x480f_fff0)
        );
        assert_eq!(
            GuestRange::new(0x400f_fff0, 17).resolve(p, Use::Read),
            Err(RangeError::NotMapped)
        );
        assert_eq!(
            GuestRange::new(0x3fff_ffff, 2).resolve(p, Use::Read),
            Err(RangeError::NotMapped)
        );
        assert_eq!(
            GuestRange::new(0x0901_0000, 4).resolve(p, Use::Read),
            Err(RangeError::NotMapped)
        );
        assert_eq!(
            GuestRange::new(u64::MAX, 2).resolve(p, Use::Read),
            Err(RangeError::Overflow)
        );
        assert_eq!(
            GuestRange::new(0x5000_0000, 4).resolve(p, Use::Read),
            Err(RangeError::AccessDenied)
        );
    }
}
