//! Copying partition images to their physical homes, from the pristine copy in the kernel
//! image.

use super::cache;
use crate::config::{Partition, RegionKind};

/// Why an image could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRamFor {
    pub segment_ipa: u64,
}

/// Copies each segment of `partition`'s image to its RAM and zeroes the rest of the segment,
/// then cleans and invalidates it to the point of coherency (the partition starts with its
/// caches off).
pub fn load_image(partition: &Partition) -> Result<(), NoRamFor> {
    for segment in partition.image.segments {
        // boot_checks guarantees the segment lies in one RAM region of this partition.
        let phys = partition
            .regions
            .iter()
            .filter(|r| r.kind == RegionKind::Ram)
            .find_map(|r| r.translate(segment.ipa, segment.mem_size))
            .ok_or(NoRamFor {
                segment_ipa: segment.ipa,
            })?;
        let file_len = segment.data.len();
        let zero_len = (segment.mem_size as usize).saturating_sub(file_len);
        // SAFETY: `[phys, phys + mem_size)` is RAM of this partition only (boot_checks: inside
        // the board's RAM, outside the kernel's reserved window, not shared with any other
        // partition), identity mapped writable at EL2; the partition does not run while it is
        // loaded, so nothing else accesses it; the source is kernel rodata and cannot overlap
        // it.
        unsafe {
            core::ptr::copy_nonoverlapping(segment.data.as_ptr(), phys as *mut u8, file_len);
            cache::zero(phys + file_len as u64, zero_len as u64);
        }
        cache::clean_to_poc_and_invalidate_icache(phys, segment.mem_size);
    }
    Ok(())
}
