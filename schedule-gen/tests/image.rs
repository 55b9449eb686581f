//! Partition ELF checks: format, segment placement and access, entry point, hostile files.

mod common;

use common::{R, TWO_PARTITIONS, W, X, elf, load, load_seg};
use schedule_gen::image::{LoadSegment, check_image, read_image};
use schedule_gen::{PartitionConfig, Rule};

/// `ctrl`: one rwx region at IPA 0x4000_0000..0x4020_0000. `nav`: rx 0x4400_0000..0x4410_0000
/// and rw 0x4410_0000..0x4420_0000.
fn partition(name: &str) -> PartitionConfig {
    load(TWO_PARTITIONS)
        .unwrap()
        .partitions()
        .find(|p| p.name == name)
        .unwrap()
        .clone()
}

fn err(bytes: &[u8], part: &str) -> String {
    let d = check_image("nav.elf", bytes, &partition(part)).expect_err("expected errors");
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn nav_elf() -> Vec<u8> {
    elf(
        0x4400_0000,
        &[
            load_seg(0x4400_0000, &[0xaa; 0x30], 0x30, R | X),
            load_seg(0x4410_0000, &[0xbb; 0x10], 0x2345, R | W),
        ],
    )
}

#[test]
fn valid_image_reads_segments_by_paddr() {
    let mut segs = vec![
        load_seg(0x4400_0000, &[0xaa; 0x30], 0x30, R | X),
        load_seg(0x4410_0000, &[0xbb; 0x10], 0x2345, R | W),
        // Empty: skipped.
        load_seg(0x5000_0000, &[], 0, R),
        // Not PT_LOAD (PT_NOTE): skipped even though it lies outside every region.
        load_seg(0x9000_0000, &[1, 2, 3, 4], 4, R),
    ];
    segs[3].p_type = 4;
    let image = check_image("nav.elf", &elf(0x4400_0010, &segs), &partition("nav")).unwrap();
    assert_eq!(image.entry, 0x4400_0010);
    assert_eq!(
        image.segments,
        vec![
            LoadSegment {
                ipa: 0x4400_0000,
                data: vec![0xaa; 0x30],
                mem_size: 0x30,
                writable: false,
                executable: true
            },
            LoadSegment {
                ipa: 0x4410_0000,
                data: vec![0xbb; 0x10],
                mem_size: 0x2345,
                writable: true,
                executable: false
            },
        ]
    );
}

#[test]
fn segment_outside_region() {
    // Straddles the end of `code`'s neighbour `data` (ends at 0x4420_0000).
    let bytes = elf(
        0x4400_0000,
        &[
            load_seg(0x4400_0000, &[0; 8], 8, R | X),
            load_seg(0x441f_f000, &[0; 8], 0x2000, R | W),
        ],
    );
    assert_eq!(
        err(&bytes, "nav"),
        "nav.elf: error[E055-segment-outside-region]: segment 1 of partition \"nav\" (IPA 0x441f_f000..0x4420_1000) is not wholly inside one of its RAM regions\n  \
         help: link the image inside one region (\"code\" is IPA 0x4400_0000..0x4410_0000, \"data\" is IPA 0x4410_0000..0x4420_0000), or grow a region to cover it"
    );
    // Spanning two adjacent regions is not "inside one".
    let bytes = elf(0x4400_0000, &[load_seg(0x440f_f000, &[0; 8], 0x2000, R)]);
    assert!(err(&bytes, "nav").contains("error[E055-segment-outside-region]: segment 0"));
}

#[test]
fn writable_segment_in_read_only_region() {
    let bytes = elf(
        0x4400_0000,
        &[load_seg(0x4400_0000, &[0; 8], 0x1000, R | W | X)],
    );
    assert_eq!(
        err(&bytes, "nav"),
        "nav.elf: error[E056-segment-access]: segment 0 of partition \"nav\" (IPA 0x4400_0000..0x4400_1000, flags rwx) needs write access, but region \"code\" is \"rx\"\n  \
         help: set the region's access to \"rwx\" or wider, or move the segment to a region that allows it"
    );
}

#[test]
fn executable_segment_in_non_executable_region() {
    let bytes = elf(
        0x4400_0000,
        &[
            load_seg(0x4400_0000, &[0; 8], 8, R | X),
            load_seg(0x4410_0000, &[0; 8], 8, R | X),
        ],
    );
    assert_eq!(
        err(&bytes, "nav"),
        "nav.elf: error[E056-segment-access]: segment 1 of partition \"nav\" (IPA 0x4410_0000..0x4410_0008, flags rx) needs execute access, but region \"data\" is \"rw\"\n  \
         help: set the region's access to \"rx\" or wider, or move the segment to a region that allows it"
    );
}

#[test]
fn entry_not_executable() {
    let bytes = elf(0x4410_0000, &[load_seg(0x4400_0000, &[0; 8], 8, R | X)]);
    assert_eq!(
        err(&bytes, "nav"),
        "nav.elf: error[E058-entry-not-executable]: the entry point 0x4410_0000 of partition \"nav\" is not inside an executable RAM region\n  \
         help: give the region holding the entry point access \"rx\" or \"rwx\", or fix the image's entry address"
    );
}

#[test]
fn overlapping_segments() {
    let bytes = elf(
        0x4000_0000,
        &[
            load_seg(0x4000_0000, &[0; 8], 0x2000, R | X),
            load_seg(0x4000_1000, &[0; 8], 8, R | W),
        ],
    );
    assert_eq!(
        err(&bytes, "ctrl"),
        "nav.elf: error[E057-segment-overlap]: segment 1 of partition \"ctrl\" (IPA 0x4000_1000..0x4000_1008) overlaps the segment at 0x4000_0000\n  \
         help: fix the partition's linker script so load segments do not overlap"
    );
}

#[test]
fn no_segments() {
    let bytes = elf(0x4000_0000, &[load_seg(0x4000_0000, &[], 0, R | X)]);
    assert_eq!(
        err(&bytes, "ctrl"),
        "nav.elf: error[E054-image-no-segments]: the image of partition \"ctrl\" has no non-empty PT_LOAD segment\n  \
         help: link the partition with a linker script that places its code in a loadable segment"
    );
}

#[test]
fn every_segment_error_is_reported() {
    let bytes = elf(
        0x4410_0000,
        &[
            load_seg(0x4400_0000, &[0; 8], 8, R | W),
            load_seg(0x1000, &[0; 8], 8, R),
            load_seg(0x4410_0000, &[0; 8], 8, R | X),
        ],
    );
    let d = check_image("nav.elf", &bytes, &partition("nav")).unwrap_err();
    let rules: Vec<_> = d.iter().map(|d| d.rule).collect();
    assert_eq!(
        rules,
        vec![
            Rule::SegmentAccess,
            Rule::SegmentOutsideRegion,
            Rule::SegmentAccess,
            Rule::EntryNotExecutable
        ]
    );
}

#[test]
fn wrong_machine() {
    let mut bytes = nav_elf();
    bytes[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    assert_eq!(
        err(&bytes, "nav"),
        "nav.elf: error[E052-image-wrong-target]: the image of partition \"nav\" is for machine 62; it must be ELF64 little-endian AArch64\n  \
         help: build the partition for aarch64-unknown-none"
    );
}

#[test]
fn wrong_class_and_endianness() {
    let mut bytes = nav_elf();
    bytes[4] = 1; // ELFCLASS32
    assert!(err(&bytes, "nav").starts_with(
        "nav.elf: error[E052-image-wrong-target]: the image of partition \"nav\" is a 32-bit ELF;"
    ));
    let mut bytes = nav_elf();
    bytes[5] = 2; // ELFDATA2MSB
    assert!(err(&bytes, "nav").starts_with(
        "nav.elf: error[E052-image-wrong-target]: the image of partition \"nav\" is big-endian;"
    ));
}

#[test]
fn not_an_executable() {
    let mut bytes = nav_elf();
    bytes[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    assert_eq!(
        err(&bytes, "nav"),
        "nav.elf: error[E053-image-not-executable]: the image of partition \"nav\" is not a static executable (e_type 3)\n  \
         help: link it as a static, non-PIE executable (ET_EXEC)"
    );
}

#[test]
fn not_elf() {
    assert_eq!(
        err(b"\x00\x00\x00\x14ftypbin", "nav"),
        "nav.elf: error[E051-image-malformed]: the image of partition \"nav\" is not an ELF file\n  \
         help: give the linked ELF executable of the partition, not a raw binary"
    );
}

#[test]
fn truncated_files_are_errors_not_panics() {
    let bytes = nav_elf();
    // Cut inside the program header table.
    assert_eq!(
        err(&bytes[..100], "nav"),
        "nav.elf: error[E051-image-malformed]: the image of partition \"nav\" has a truncated or invalid program header table\n  \
         help: rebuild the image; the file is damaged or not a complete ELF executable"
    );
    // Cut inside segment data.
    let cut = bytes.len() - 4;
    assert!(
        err(&bytes[..cut], "nav")
            .contains("truncated or invalid program header 1 (file range or sizes)")
    );
    // Every prefix fails cleanly.
    for len in 0..bytes.len() {
        assert!(
            check_image("nav.elf", &bytes[..len], &partition("nav")).is_err(),
            "prefix {len}"
        );
    }
}

#[test]
fn file_size_larger_than_memory_size_is_malformed() {
    let bytes = elf(0x4400_0000, &[load_seg(0x4400_0000, &[0; 16], 8, R | X)]);
    assert!(err(&bytes, "nav").contains("error[E051-image-malformed]"));
}

#[test]
fn unreadable_file() {
    let path = common::temp_dir("image-unreadable").join("missing.elf");
    let d = read_image(&path, &partition("nav")).unwrap_err();
    assert_eq!(d[0].rule, Rule::ImageUnreadable);
    assert!(d[0].to_string().starts_with(&format!(
        "{}: error[E050-image-unreadable]: cannot read the image of partition \"nav\":",
        path.display()
    )));
}
