//! Stage-2 translation: each partition's guest-physical address space, with its own VMID.
//! Only the partition's configured regions are mapped; any other access is a stage-2 fault.

use aarch64_cpu::registers::{ID_AA64MMFR0_EL1, Readable};
use aarch64_paging::descriptor::{PhysicalAddress, Stage2Attributes};
use aarch64_paging::paging::{Constraints, MemoryRegion, Stage2};
use aarch64_paging::{MapError, Mapping};

use super::page_pool::PoolTranslation;
use super::sysregs;
use crate::config::{Partition, Region, RegionKind};

fn attributes(region: &Region) -> Stage2Attributes {
    let memory = match region.kind {
        RegionKind::Ram | RegionKind::Port => {
            Stage2Attributes::MEMATTR_NORMAL_INNER_WB
                | Stage2Attributes::MEMATTR_NORMAL_OUTER_WB
                | Stage2Attributes::SH_INNER
        }
        RegionKind::Device => Stage2Attributes::MEMATTR_DEVICE_nGnRE,
    };
    let access = match (region.access.read, region.access.write) {
        (true, true) => Stage2Attributes::S2AP_ACCESS_RW,
        (true, false) => Stage2Attributes::S2AP_ACCESS_RO,
        (false, true) => Stage2Attributes::S2AP_ACCESS_WO,
        (false, false) => Stage2Attributes::S2AP_ACCESS_NONE,
    };
    let execute = if region.access.execute && region.kind == RegionKind::Ram {
        Stage2Attributes::empty()
    } else {
        Stage2Attributes::XN
    };
    Stage2Attributes::VALID | Stage2Attributes::ACCESS_FLAG | memory | access | execute
}

/// Builds `partition`'s stage-2 tables and returns its VTTBR_EL2 value (VMID and root).
pub fn build(partition: &Partition) -> Result<u64, MapError> {
    let mut map = Mapping::new(PoolTranslation, 1, Stage2);
    for region in partition.regions {
        let ipa = region.ipa as usize;
        map.map_range(
            &MemoryRegion::new(ipa, ipa + region.size as usize),
            PhysicalAddress(region.phys as usize),
            attributes(region),
            Constraints::empty(),
        )?;
    }
    let root = map.root_address().0 as u64;
    // The tables live in the static pool for the life of the system.
    core::mem::forget(map);
    Ok((u64::from(partition.vmid) << 48) | root)
}

/// VTCR_EL2 for this machine: 39-bit IPA, walk from level 1, physical size from the CPU.
pub fn vtcr() -> u64 {
    let pa_range = ID_AA64MMFR0_EL1.get() & 0xf;
    sysregs::VTCR_EL2_BASE | (pa_range.min(5) << sysregs::VTCR_EL2_PS_SHIFT)
}

/// Invalidates every stage-1 and stage-2 TLB entry of the EL1&0 regime, for all VMIDs, in
/// the inner shareable domain (boot, after all stage-2 tables are built).
pub fn invalidate_all_guest_tlbs() {
    // SAFETY: TLB invalidation changes no memory and no mapping; it only drops cached
    // translations, which the MMU then walks afresh from the tables.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi alle1is",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}
