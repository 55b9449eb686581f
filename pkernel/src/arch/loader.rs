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
        let file_len = segment.loaded_size() as usize;
        let zero_len = (segment.mem_size as usize).saturating_sub(file_len);
        if segment.inflated_size != 0 {
            // SAFETY: `[phys, phys + mem_size)` is RAM of this partition only (boot_checks:
            // inside the board's RAM, outside the kernel's reserved window, not shared with any
            // other partition, and `inflated_size <= mem_size`), identity mapped writable at
            // EL2; the partition does not run while it is loaded, so this is the only
            // reference to it; the input is kernel rodata and cannot overlap it.
            let out = unsafe { core::slice::from_raw_parts_mut(phys as *mut u8, file_len) };
            super::inflate::inflate(segment.data, out).map_err(|_| NoRamFor {
                segment_ipa: segment.ipa,
            })?;
        } else {
            // SAFETY: as above, for `data.len() <= mem_size` bytes copied from kernel rodata.
            unsafe {
                core::ptr::copy_nonoverlapping(segment.data.as_ptr(), phys as *mut u8, file_len)
            };
        }
        // SAFETY: the rest of the segment, inside the same RAM (see above).
        unsafe { cache::zero(phys + file_len as u64, zero_len as u64) };
        cache::clean_to_poc_and_invalidate_icache(phys, segment.mem_size);
    }
    Ok(())
}
