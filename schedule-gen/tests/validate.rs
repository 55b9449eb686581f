//! One negative test per validation rule, asserting the exact rendered message and position.

mod common;

use std::path::Path;

use common::{HEAD, TWO_PARTITIONS, error_for, errors, load};
use schedule_gen::{Access, ImageSource, PartitionKind, Rule};

/// A partition block of 6 lines (name, kind, criticality, cores, image) followed by `extra`.
fn part(name: &str, cores: &str, extra: &str) -> String {
    format!(
        "[[partition]]\nname = \"{name}\"\nkind = \"bm\"\ncriticality = \"C\"\ncores = {cores}\nimage = {{ package = \"p\" }}\n{extra}"
    )
}

/// One RAM region as an inline `memory` array entry.
fn ram(name: &str, ipa: &str, size: &str, access: &str) -> String {
    format!(
        "memory = [{{ name = \"{name}\", ipa = {ipa}, size = {size}, access = \"{access}\" }}]\n"
    )
}

#[test]
fn two_partitions_pass() {
    let cfg = load(TWO_PARTITIONS).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.module_name(), "demo");
    assert_eq!(cfg.board().name, "qemu-virt");
    assert_eq!(cfg.path(), Path::new("/cfg/sys.toml"));
    let parts: Vec<_> = cfg.partitions().collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].name, "ctrl");
    assert_eq!(parts[0].kind, PartitionKind::BareMetal);
    assert_eq!(parts[0].cores, vec![1]);
    assert_eq!(parts[0].image, ImageSource::Package("bm-ticker".into()));
    assert_eq!(
        (parts[0].memory[0].ipa, parts[0].memory[0].phys),
        (0x4000_0000, 0x4200_0000)
    );
    assert_eq!(parts[0].devices[0].name, "rtc");
    assert_eq!(parts[1].kind, PartitionKind::Rtos);
    assert_eq!(parts[1].cores, vec![2, 3]);
    assert_eq!(
        parts[1].image,
        ImageSource::Elf("/cfg/../vendor/nav.elf".into())
    );
    // No `phys`: identity.
    assert_eq!(parts[1].memory[0].phys, 0x4400_0000);
    assert_eq!(parts[1].memory[1].access, Access::Rw);
    assert_eq!(cfg.elf_images().len(), 1);
    assert_eq!(cfg.sha256_hex().len(), 64);
}

#[test]
fn toml_syntax() {
    assert_eq!(
        errors("[module]\nname = \"demo\nboard = \"qemu-virt\"\n"),
        "sys.toml:2:13: error[E001-toml-syntax]: invalid basic string, expected `\"`\n  help: fix the TOML syntax here"
    );
}

#[test]
fn unknown_field() {
    let text = TWO_PARTITIONS.replace("  access = \"rx\"", "  access = \"rx\"\n  cache = true");
    assert_eq!(
        errors(&text),
        "sys.toml:32:3: error[E002-unknown-field]: unknown field `cache`, expected one of `name`, `ipa`, `phys`, `size`, `access`\n  help: remove or rename the key; the keys this table accepts are listed above"
    );
    let text = TWO_PARTITIONS.replace("[module]\n", "[module]\nversion = 2\n");
    assert_eq!(
        errors(&text),
        "sys.toml:2:1: error[E002-unknown-field]: unknown field `version`, expected one of `name`, `board`, `cores`, `counter_hz`, `shared_memory`, `hm`, `console_input`\n  help: remove or rename the key; the keys this table accepts are listed above"
    );
}

#[test]
fn invalid_value() {
    let text = TWO_PARTITIONS.replace("kind = \"rtos\"", "kind = \"freertos\"");
    assert_eq!(
        errors(&text),
        "sys.toml:23:8: error[E003-invalid-value]: unknown variant `freertos`, expected one of `bm`, `rtos`, `linux`, `system`\n  help: change the value to what the message expects"
    );
    let text = TWO_PARTITIONS.replace("  access = \"rw\"", "  access = \"w\"");
    assert!(
        errors(&text).starts_with("sys.toml:37:12: error[E003-invalid-value]: unknown variant `w`"),
        "{}",
        errors(&text)
    );
    let text = TWO_PARTITIONS.replace("  ipa = 0x4410_0000", "  ipa = -4096");
    assert_eq!(
        errors(&text),
        "sys.toml:35:9: error[E003-invalid-value]: invalid value: integer `-4096`, expected a non-negative integer\n  help: change the value to what the message expects"
    );
    let text = TWO_PARTITIONS.replace("kind = \"rtos\"\n", "");
    assert_eq!(
        errors(&text),
        "sys.toml:21:1: error[E003-invalid-value]: missing field `kind`\n  help: add the missing key to this table"
    );
}

#[test]
fn unknown_board() {
    let text = TWO_PARTITIONS.replace("qemu-virt", "rpi4");
    // Board-dependent checks are skipped: one error only.
    assert_eq!(
        errors(&text),
        "sys.toml:3:9: error[E010-unknown-board]: unknown board \"rpi4\"\n  help: use one of the boards pkernel supports: qemu-virt"
    );
}

#[test]
fn invalid_module_name() {
    let text = TWO_PARTITIONS.replace("name = \"demo\"", "name = \"My Demo\"");
    assert_eq!(
        errors(&text),
        "sys.toml:2:8: error[E011-invalid-module-name]: module name \"My Demo\" is not an identifier\n  help: use 1 to 32 characters of a-z, 0-9, '_' or '-', starting with a letter"
    );
}

#[test]
fn no_partitions() {
    assert_eq!(
        errors(HEAD),
        "sys.toml:1:1: error[E012-no-partitions]: the configuration has no partitions\n  help: add at least one [[partition]] table"
    );
}

#[test]
fn too_many_partitions() {
    // 17 partitions with no cores and no memory: each also breaks "no cores".
    let mut text = HEAD.to_owned();
    for i in 0..17 {
        text += &format!(
            "[[partition]]\nname = \"p{i}\"\nkind = \"bm\"\ncriticality = \"E\"\nimage = {{ package = \"p\" }}\n"
        );
    }
    // Partition 17 starts on line 4 + 16 * 5 = 84; its name is on line 85.
    assert_eq!(
        error_for(&text, Rule::TooManyPartitions),
        "sys.toml:85:8: error[E013-too-many-partitions]: partition \"p16\" is number 17; at most 16 partitions are supported\n  help: merge or remove partitions"
    );
}

#[test]
fn invalid_partition_name() {
    let text = TWO_PARTITIONS.replace("name = \"nav\"", "name = \"9nav\"");
    assert_eq!(
        errors(&text),
        "sys.toml:22:8: error[E014-invalid-partition-name]: partition name \"9nav\" is not valid\n  help: use 1 to 24 characters of a-z, 0-9, '_' or '-', starting with a letter"
    );
    let long = format!("name = \"{}\"", "a".repeat(25));
    assert!(
        errors(&TWO_PARTITIONS.replace("name = \"nav\"", &long))
            .contains("error[E014-invalid-partition-name]")
    );
}

#[test]
fn reserved_partition_name() {
    // `[pkernel] ...` lines are the kernel's: no partition may print them.
    let text = TWO_PARTITIONS.replace("name = \"nav\"", "name = \"pkernel\"");
    assert_eq!(
        errors(&text),
        "sys.toml:22:8: error[E103-reserved-partition-name]: partition name \"pkernel\" is reserved for the kernel\n  help: choose another name: the kernel's own console lines start with \"[pkernel]\", and a partition's lines start with its name in brackets"
    );
    // Upper case is already an invalid name (E014), and only that is reported.
    let text = TWO_PARTITIONS.replace("name = \"nav\"", "name = \"PKernel\"");
    assert_eq!(
        load(&text).unwrap_err().rules(),
        vec![Rule::InvalidPartitionName]
    );
    // Names that merely start like it print a different prefix.
    for name in ["pkernel-app", "pkernel2", "kernel"] {
        let text = TWO_PARTITIONS.replace("name = \"nav\"", &format!("name = \"{name}\""));
        load(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn duplicate_partition_name() {
    let text = TWO_PARTITIONS.replace("name = \"nav\"", "name = \"ctrl\"");
    assert_eq!(
        errors(&text),
        "sys.toml:22:8: error[E015-duplicate-partition-name]: partition name \"ctrl\" is already used on line 6\n  help: give every partition a different name"
    );
}

#[test]
fn invalid_image_source() {
    let text = TWO_PARTITIONS.replace(
        "{ package = \"bm-ticker\" }",
        "{ package = \"bm-ticker\", elf = \"x.elf\" }",
    );
    assert_eq!(
        errors(&text),
        "sys.toml:9:9: error[E016-invalid-image-source]: partition \"ctrl\": the image names more than one of a package, an ELF file and a Linux kernel\n  help: keep only one of `package`, `elf` or `linux`"
    );
    let text = TWO_PARTITIONS.replace("{ package = \"bm-ticker\" }", "{}");
    assert_eq!(
        errors(&text),
        "sys.toml:9:9: error[E016-invalid-image-source]: partition \"ctrl\": the image names no package, ELF file or Linux kernel\n  help: write `image = { package = \"<crate>\" }`, `image = { elf = \"<path>\" }` or `image = { linux = \"debian\" }`"
    );
    let text = TWO_PARTITIONS.replace("{ elf = \"../vendor/nav.elf\" }", "{ elf = \"\" }");
    assert_eq!(
        errors(&text),
        "sys.toml:25:17: error[E016-invalid-image-source]: partition \"nav\": the ELF path is empty\n  help: give the path of the partition's ELF file"
    );
}

#[test]
fn no_cores() {
    let text = TWO_PARTITIONS.replace("cores = [2, 3]", "cores = []");
    assert_eq!(
        errors(&text),
        "sys.toml:24:9: error[E020-no-cores]: partition \"nav\" has no cores\n  help: give it dedicated cores, e.g. `cores = [1]`, or share one through windows with `core = 0`"
    );
    // Missing entirely: reported at the partition's name.
    let text = TWO_PARTITIONS.replace("cores = [2, 3]\n", "");
    assert_eq!(
        errors(&text),
        "sys.toml:22:8: error[E020-no-cores]: partition \"nav\" has no cores\n  help: give it dedicated cores, e.g. `cores = [1]`, or share one through windows with `core = 0`"
    );
}

#[test]
fn core_not_on_board() {
    let text = TWO_PARTITIONS.replace("cores = [2, 3]", "cores = [2, 4, -1]");
    assert_eq!(
        errors(&text),
        "sys.toml:24:13: error[E021-core-not-on-board]: board \"qemu-virt\" has no core 4\n  help: use a core index from 0 to 3\n\n\
         sys.toml:24:16: error[E021-core-not-on-board]: board \"qemu-virt\" has no core -1\n  help: use a core index from 0 to 3"
    );
}

#[test]
fn core_shared() {
    let text = TWO_PARTITIONS.replace("cores = [2, 3]", "cores = [2, 1, 2]");
    assert_eq!(
        errors(&text),
        "sys.toml:24:13: error[E022-core-shared]: core 1 is already given to partition \"ctrl\" (line 8)\n  help: give each core to exactly one partition, once\n\n\
         sys.toml:24:16: error[E022-core-shared]: core 2 is already given to this partition (line 24)\n  help: give each core to exactly one partition, once"
    );
}

#[test]
fn too_many_regions() {
    let mut extra = String::new();
    for i in 0..17u64 {
        extra += &format!(
            "[[partition.memory]]\nname = \"r{i}\"\nipa = {:#x}\nsize = 0x1000\naccess = \"rw\"\n",
            0x4400_0000 + i * 0x1000
        );
    }
    let text = format!("{HEAD}{}", part("a", "[1]", &extra));
    // Region 17 starts on line 10 + 16 * 5 = 90.
    assert_eq!(
        errors(&text),
        "sys.toml:90:1: error[E030-too-many-regions]: partition \"a\" has more than 16 memory regions\n  help: merge adjacent regions or remove some"
    );
}

#[test]
fn invalid_region_name() {
    let text = format!(
        "{HEAD}{}",
        part("a", "[1]", &ram("Big RAM", "0x4400_0000", "0x1000", "rw"))
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:20: error[E031-invalid-region-name]: region name \"Big RAM\" of partition \"a\" is not valid\n  help: use 1 to 24 characters of a-z, 0-9, '_' or '-', starting with a letter"
    );
}

#[test]
fn duplicate_region_name() {
    let text = TWO_PARTITIONS.replace("  name = \"data\"", "  name = \"code\"");
    assert_eq!(
        errors(&text),
        "sys.toml:34:10: error[E032-duplicate-region-name]: partition \"nav\" already has a region or device named \"code\" (line 28)\n  help: give every memory region and device of a partition a different name"
    );
    // Region and device names share one namespace.
    let text = TWO_PARTITIONS.replace("  name = \"ram\"", "  name = \"rtc\"");
    assert_eq!(
        errors(&text),
        "sys.toml:19:10: error[E032-duplicate-region-name]: partition \"ctrl\" already has a region or device named \"rtc\" (line 12)\n  help: give every memory region and device of a partition a different name"
    );
}

#[test]
fn unaligned_region() {
    let text = format!(
        "{HEAD}{}",
        part(
            "a",
            "[1]",
            "memory = [{ name = \"ram\", ipa = 0x4400_0800, phys = 0x4500_0010, size = 0x1001, access = \"rw\" }]\n"
        )
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:33: error[E033-unaligned-region]: region \"ram\" of partition \"a\": ipa 0x4400_0800 is not a multiple of 4 KiB\n  help: use a multiple of 0x1000, e.g. 0x4400_0000\n\n\
         sys.toml:10:53: error[E033-unaligned-region]: region \"ram\" of partition \"a\": phys 0x4500_0010 is not a multiple of 4 KiB\n  help: use a multiple of 0x1000, e.g. 0x4500_0000\n\n\
         sys.toml:10:73: error[E033-unaligned-region]: region \"ram\" of partition \"a\": size 0x1001 is not a multiple of 4 KiB\n  help: use a multiple of 0x1000, e.g. 0x2000"
    );
}

#[test]
fn empty_region() {
    let text = format!(
        "{HEAD}{}",
        part("a", "[1]", &ram("ram", "0x4400_0000", "0", "rw"))
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:53: error[E034-empty-region]: region \"ram\" of partition \"a\" has size 0\n  help: give the region a size of at least 0x1000, or remove it"
    );
}

#[test]
fn address_overflow() {
    let text = format!(
        "{HEAD}{}",
        part(
            "a",
            "[1]",
            "memory = [{ name = \"ram\", ipa = 0x4400_0000, phys = 0xffff_ffff_ffff_f000, size = 0x2000, access = \"rw\" }]\n"
        )
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:53: error[E035-address-overflow]: region \"ram\" of partition \"a\": phys 0xffff_ffff_ffff_f000 + size 0x2000 overflows 64 bits\n  help: lower the address or the size"
    );
}

#[test]
fn info_page_collision() {
    // The last 2 MiB of the IPA space reach into the kernel's pages (its last 24 KiB: the
    // doorbell GPIO controllers, the doorbell register page, then the information page).
    let text = format!(
        "{HEAD}{}",
        part(
            "a",
            "[1]",
            "memory = [{ name = \"top\", ipa = 0x7f_ffe0_0000, phys = 0x4400_0000, size = 0x20_0000, access = \"rw\" }]\n"
        )
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:33: error[E094-info-page-collision]: region \"top\" of partition \"a\" (0x007f_ffe0_0000..0x0080_0000_0000) overlaps the kernel's pages at 0x007f_ffff_a000 (the doorbell GPIO controllers, the doorbell register page, then the partition information page at 0x007f_ffff_f000)\n  help: keep ipa + size at or below 0x007f_ffff_a000: the kernel keeps the last 24 KiB of each partition's IPA space for its doorbell GPIO controllers, doorbell register page and information page (apex_api::info)"
    );
    // Reaching only the doorbell register page, or only the last doorbell GPIO controller,
    // is refused too.
    for size in ["0x1f_f000", "0x1f_b000"] {
        let lower = text.replace("size = 0x20_0000", &format!("size = {size}"));
        assert!(
            errors(&lower).contains("error[E094-info-page-collision]"),
            "{}",
            errors(&lower)
        );
    }
    // Ending right below them all is fine.
    let text = text.replace("size = 0x20_0000", "size = 0x1f_a000");
    let cfg = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let top = &cfg.partition(0).unwrap().memory[0];
    assert_eq!(top.ipa + top.size, apex_api::info::KERNEL_PAGES_IPA);
}

/// Devices are identity mapped inside their board's device space (E041) and RAM regions
/// without `phys` inside its RAM (E037): every board keeps both below the information page, so
/// only regions with their own `ipa` and port windows can reach it (E094).
#[test]
fn boards_keep_devices_and_ram_below_the_info_page() {
    for board in bsp::BOARDS {
        for range in [board.device_space, board.ram] {
            assert!(
                range.end() <= apex_api::info::INFO_PAGE_IPA,
                "{}: {range:x?}",
                board.name
            );
        }
    }
}

#[test]
fn ipa_out_of_range() {
    let text = format!(
        "{HEAD}{}",
        part(
            "a",
            "[1]",
            "memory = [{ name = \"ram\", ipa = 0x7f_ffff_f000, phys = 0x4400_0000, size = 0x2000, access = \"rw\" }]\n"
        )
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:33: error[E036-ipa-out-of-range]: region \"ram\" of partition \"a\" ends at IPA 0x0080_0000_1000, beyond the 39-bit stage-2 input range\n  help: keep ipa + size at or below 0x0080_0000_0000"
    );
}

#[test]
fn region_outside_ram() {
    let text = format!(
        "{HEAD}{}",
        part("a", "[1]", &ram("ram", "0x7fff_f000", "0x2000", "rw"))
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:33: error[E037-region-outside-ram]: region \"ram\" of partition \"a\": physical range 0x7fff_f000..0x8000_1000 (identity-mapped: phys = ipa) is not inside the RAM of board \"qemu-virt\"\n  help: place it inside 0x4000_0000..0x8000_0000"
    );
}

#[test]
fn region_in_kernel_reserved() {
    let text = format!(
        "{HEAD}{}",
        part("a", "[1]", &ram("ram", "0x41ff_0000", "0x2_0000", "rw"))
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:33: error[E038-region-in-kernel-reserved]: region \"ram\" of partition \"a\": physical range 0x41ff_0000..0x4201_0000 (identity-mapped: phys = ipa) overlaps the RAM reserved for the kernel\n  help: place it outside 0x4000_0000..0x4200_0000 (set `phys` to keep the IPA)"
    );
}

#[test]
fn region_ipa_overlap() {
    let text = TWO_PARTITIONS.replace("  ipa = 0x4410_0000", "  ipa = 0x440f_f000");
    assert_eq!(
        errors(&text),
        "sys.toml:35:9: error[E039-region-ipa-overlap]: region \"data\" of partition \"nav\" overlaps region \"code\" (line 27) in IPA space\n  help: move one of the regions so their [ipa, ipa + size) ranges do not overlap"
    );
}

#[test]
fn phys_overlap() {
    // nav's code region, identity-mapped, lands inside ctrl's physical RAM.
    let text = TWO_PARTITIONS.replace("  ipa = 0x4400_0000", "  ipa = 0x4210_0000");
    assert_eq!(
        errors(&text),
        "sys.toml:29:9: error[E040-phys-overlap]: physical memory of region \"code\" of partition \"nav\" overlaps region \"ram\" of partition \"ctrl\" (line 11)\n  help: give each partition its own physical RAM (set `phys` to a free range); share data through channels"
    );
}

#[test]
fn too_many_devices() {
    let extra: String = (0..9)
        .map(|_| "[[partition.device]]\nname = \"rtc\"\n")
        .collect();
    let text = format!("{HEAD}{}", part("a", "[1]", &extra));
    // Device 9 starts on line 10 + 8 * 2 = 26.
    assert_eq!(
        error_for(&text, Rule::TooManyDevices),
        "sys.toml:27:8: error[E045-too-many-devices]: partition \"a\" owns more than 8 devices\n  help: give some devices to another partition or remove them"
    );
}

#[test]
fn unknown_device() {
    let text = TWO_PARTITIONS.replace("name = \"rtc\"", "name = \"uart\"");
    assert_eq!(
        errors(&text),
        "sys.toml:19:10: error[E046-unknown-device]: board \"qemu-virt\" has no device \"uart\" a partition can own\n  help: use one of: rtc, fw_cfg, gpio, or describe the device with `mmio` and `interrupts`"
    );
}

#[test]
fn device_shared() {
    let text = format!("{TWO_PARTITIONS}\n  [[partition.device]]\n  name = \"rtc\"\n");
    assert_eq!(
        errors(&text),
        "sys.toml:40:10: error[E047-device-shared]: device \"rtc\" is already owned by partition \"ctrl\" (line 19)\n  help: give each device to one partition only"
    );
}

#[test]
fn device_ipa_collision() {
    let text = format!(
        "{HEAD}{}",
        part(
            "a",
            "[1]",
            "memory = [{ name = \"ram\", ipa = 0x0900_0000, phys = 0x4400_0000, size = 0x10_0000, access = \"rw\" }]\ndevice = [{ name = \"gpio\" }]\n"
        )
    );
    assert_eq!(
        errors(&text),
        "sys.toml:11:20: error[E048-device-ipa-collision]: device \"gpio\" is mapped at IPA 0x0903_0000..0x0903_1000, which collides with RAM region \"ram\" (line 10) of partition \"a\"\n  help: move the RAM region's `ipa` away from the device's address"
    );
}

#[test]
fn unconfined_dma() {
    // fw_cfg's DMA interface writes wherever the guest says; no SMMU fronts it on qemu-virt.
    let text = format!(
        "{HEAD}{}",
        part("a", "[1]", "device = [{ name = \"fw_cfg\" }]\n")
    );
    assert_eq!(
        errors(&text),
        "sys.toml:10:20: error[E104-unconfined-dma]: partition \"a\" owns device \"fw_cfg\", a DMA bus master with no SMMU on board \"qemu-virt\": through it the partition could overwrite any memory, other partitions' and the kernel's included\n  help: give the device to no partition, or accept the risk: write dma = \"trusted\" in its [[partition.device]] entry to trust partition \"a\" with all of memory"
    );
}

#[test]
fn unconfined_dma_accepted_with_the_acknowledgement() {
    let text = format!(
        "{HEAD}{}",
        part(
            "a",
            "[1]",
            "[[partition.device]]\nname = \"fw_cfg\"\ndma = \"trusted\"\n"
        )
    );
    let cfg = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let d = &cfg.partitions().next().unwrap().devices[0];
    assert_eq!(d.name, "fw_cfg");
    assert_eq!(d.dma, Some(bsp::Dma::BusMaster { smmu: None }));
    assert!(d.dma_trusted);
    // A device described with `mmio` is one the board cannot vouch for: the acknowledgement
    // is taken as written, and its absence is not an error.
    let text = format!(
        "{HEAD}{}",
        part(
            "a",
            "[1]",
            "device = [{ name = \"v0\", mmio = { base = 0x0a00_0000, size = 0x1000 }, dma = \"trusted\" }, { name = \"v1\", mmio = { base = 0x0a00_1000, size = 0x1000 } }]\n"
        )
    );
    let cfg = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let d = &cfg.partitions().next().unwrap().devices;
    assert_eq!((d[0].dma, d[0].dma_trusted), (None, true));
    assert_eq!((d[1].dma, d[1].dma_trusted), (None, false));
}

#[test]
fn dma_trusted_on_a_device_that_is_not_a_bus_master() {
    let text = TWO_PARTITIONS.replace(
        "  name = \"rtc\"\n",
        "  name = \"rtc\"\n  dma = \"trusted\"\n",
    );
    assert_eq!(
        errors(&text),
        "sys.toml:20:9: error[E104-unconfined-dma]: device \"rtc\" of partition \"ctrl\" is not a DMA bus master on board \"qemu-virt\": dma = \"trusted\" acknowledges a risk it does not have\n  help: remove dma = \"trusted\": it is only for bus masters whose DMA nothing confines"
    );
    // `trusted` is the only value.
    let text = TWO_PARTITIONS.replace("  name = \"rtc\"\n", "  name = \"rtc\"\n  dma = \"none\"\n");
    assert_eq!(
        errors(&text),
        "sys.toml:20:9: error[E003-invalid-value]: unknown variant `none`, expected `trusted`\n  help: change the value to what the message expects"
    );
}

#[test]
fn all_errors_in_one_run_sorted_by_position() {
    let text = TWO_PARTITIONS
        .replace("name = \"demo\"", "name = \"\"")
        .replace("cores = [2, 3]", "cores = [1]")
        .replace(
            "  size = 0x10_0000\n  access = \"rw\"",
            "  size = 0\n  access = \"rw\"",
        );
    let d = load(&text).unwrap_err();
    assert_eq!(
        d.rules(),
        vec![Rule::InvalidModuleName, Rule::CoreShared, Rule::EmptyRegion]
    );
    let lines: Vec<_> = d.iter().map(|d| d.position.unwrap().line).collect();
    assert_eq!(lines, vec![2, 24, 36]);
}

#[test]
fn unreadable_and_non_utf8_files() {
    let dir = common::temp_dir("unreadable");
    let missing = dir.join("nope.toml");
    let d = schedule_gen::load(&missing).unwrap_err();
    assert_eq!(d.rules(), vec![Rule::ConfigUnreadable]);
    assert!(d.to_string().starts_with(&format!(
        "{}: error[E000-config-unreadable]: cannot read the configuration:",
        missing.display()
    )));

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, b"[module]\nname = \"d\xffmo\"\n").unwrap();
    let d = schedule_gen::load(&bad).unwrap_err();
    assert_eq!(
        d.to_string(),
        format!(
            "{}:2:10: error[E001-toml-syntax]: the configuration is not valid UTF-8\n  help: save the file as UTF-8",
            bad.display()
        )
    );

    // A real file: relative ELF paths resolve against its directory.
    let good = dir.join("sys.toml");
    std::fs::write(&good, TWO_PARTITIONS).unwrap();
    let cfg = schedule_gen::load(&good).unwrap();
    assert_eq!(
        cfg.partitions().nth(1).unwrap().image,
        ImageSource::Elf(dir.join("../vendor/nav.elf"))
    );
}
