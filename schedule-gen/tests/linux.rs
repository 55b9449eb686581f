//! Linux partitions: the configuration rules (E106-E109), the arm64 Image header and the
//! placement of kernel, initramfs and device tree (E110, E111), the generated device tree
//! (parsed back with the small reader below), and the tables and segment files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{error_for, load};
use schedule_gen::linux::{
    ImageHeader, LinuxPayload, devices_left_out, linux_device_tree, parse_image_header, place,
};
use schedule_gen::{
    ImageSource, LinuxImage, LinuxSource, LoadedConfig, PartitionPayload, Rule, generate_system,
};

/// A valid module with one Linux partition on cores 2-3 with 256 MiB (lines 5-16).
const LINUX: &str = r#"[module]
name = "demo"
board = "qemu-virt"

[[partition]]
name = "tux"
kind = "linux"
criticality = "E"
cores = [2, 3]
image = { linux = "debian" }
  [[partition.memory]]
  name = "ram"
  ipa = 0x4000_0000
  phys = 0x5000_0000
  size = 0x1000_0000
  access = "rwx"
"#;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/linux/linux.toml")
}

fn load_fixture() -> LoadedConfig {
    schedule_gen::load(&fixture()).unwrap_or_else(|e| panic!("{e}"))
}

/// The image size of the Debian 6.1 arm64 kernel (linux-image-6.1.0-57-arm64), and the size
/// of the initramfs xtask builds with Debian 12's busybox-static.
const DEBIAN_IMAGE_SIZE: u64 = 0x201_0000;
const INITRAMFS_LEN: u64 = 0x1c_35f0;

/// A stand-in arm64 kernel Image: `len` bytes with a valid header.
fn kernel(len: usize, text_offset: u64, image_size: u64) -> Vec<u8> {
    let mut k = vec![0u8; len];
    k[0..4].copy_from_slice(b"MZ@\xfa");
    k[8..16].copy_from_slice(&text_offset.to_le_bytes());
    k[0x10..0x18].copy_from_slice(&image_size.to_le_bytes());
    k[0x18..0x20].copy_from_slice(&0xau64.to_le_bytes());
    k[0x38..0x3c].copy_from_slice(b"ARM\x64");
    k
}

fn payload(kernel: Vec<u8>, initramfs_len: usize) -> LinuxPayload {
    LinuxPayload {
        label: "Image".into(),
        kernel,
        initramfs: vec![0x30; initramfs_len],
    }
}

// ---------------------------------------------------------------------------------------
// Configuration rules

#[test]
fn a_linux_partition_loads_with_its_bootargs() {
    let text = LINUX.replace(
        "image = { linux = \"debian\" }\n",
        "image = { linux = \"debian\" }\nbootargs = \"loglevel=8 quiet\"\n",
    );
    let cfg = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let tux = cfg.partition(0).unwrap();
    let ImageSource::Linux(linux) = &tux.image else {
        panic!("{:?}", tux.image)
    };
    assert_eq!(
        linux,
        &LinuxImage {
            source: LinuxSource::Debian,
            bootargs: Some("loglevel=8 quiet".into())
        }
    );
    assert_eq!(
        schedule_gen::linux::bootargs(cfg.board(), linux),
        "console=ttyAMA0 earlycon=pl011,0x09000000 rdinit=/init panic=-1 reboot=panic_warm loglevel=8 quiet"
    );
    assert!(cfg.elf_images().is_empty());
    // The fixture loads too.
    assert_eq!(load_fixture().partitions().count(), 2);
}

#[test]
fn linux_image_source_is_checked() {
    let text = LINUX.replace("linux = \"debian\"", "linux = \"ubuntu\"");
    assert_eq!(
        error_for(&text, Rule::InvalidImageSource),
        "sys.toml:10:19: error[E016-invalid-image-source]: partition \"tux\": \"ubuntu\" is not a Linux kernel source pkernel knows\n  help: use one of \"debian\": `image = { linux = \"debian\" }` boots Debian's arm64 kernel, fetched by package name"
    );
    let text = LINUX.replace("linux = \"debian\"", "linux = \"debian\", elf = \"k.elf\"");
    assert_eq!(
        error_for(&text, Rule::InvalidImageSource),
        "sys.toml:10:9: error[E016-invalid-image-source]: partition \"tux\": the image names more than one of a package, an ELF file and a Linux kernel\n  help: keep only one of `package`, `elf` or `linux`"
    );
}

#[test]
fn linux_image_kind() {
    let text = LINUX.replace("kind = \"linux\"", "kind = \"bm\"");
    assert_eq!(
        error_for(&text, Rule::LinuxImageKind),
        "sys.toml:10:9: error[E106-linux-image-kind]: partition \"tux\" is of kind \"bm\" but its image is a Linux kernel\n  help: set kind = \"linux\" to boot Linux in it, or give it a package or ELF image"
    );
    // A Linux-kind partition may still run a bare-metal image, as before.
    let text = LINUX.replace("linux = \"debian\"", "package = \"bm-ticker\"");
    assert!(load(&text).is_ok());
}

#[test]
fn invalid_bootargs() {
    let bare = LINUX
        .replace("linux = \"debian\"", "package = \"bm-ticker\"")
        .replace("cores = [2, 3]\n", "cores = [2, 3]\nbootargs = \"quiet\"\n");
    assert_eq!(
        error_for(&bare, Rule::InvalidBootargs),
        "sys.toml:10:12: error[E107-invalid-bootargs]: partition \"tux\" has `bootargs` but its image is not a Linux kernel\n  help: remove `bootargs`: they are added to the command line of a Linux kernel (image = { linux = \"debian\" })"
    );
    let with = |args: &str| {
        LINUX.replace(
            "cores = [2, 3]\n",
            &format!("cores = [2, 3]\nbootargs = \"{args}\"\n"),
        )
    };
    assert_eq!(
        error_for(&with("quiet\\tdebug"), Rule::InvalidBootargs),
        "sys.toml:10:12: error[E107-invalid-bootargs]: the bootargs of partition \"tux\" contain '\\t', which is not printable ASCII\n  help: write the kernel command line in printable ASCII characters, separated by spaces"
    );
    assert_eq!(
        error_for(&with(&"a".repeat(1025)), Rule::InvalidBootargs),
        "sys.toml:10:12: error[E107-invalid-bootargs]: the bootargs of partition \"tux\" are 1025 characters long\n  help: keep them to at most 1024 characters (the kernel's command line, defaults included, is at most 2048)"
    );
    assert!(load(&with(&"a".repeat(1024))).is_ok());
}

#[test]
fn linux_boot_ram() {
    let help = "  help: make its first [[partition.memory]] region the Linux boot RAM: at least 64 MiB, access \"rwx\", ipa a multiple of 2 MiB";
    let text = LINUX.replace("  access = \"rwx\"", "  access = \"rw\"");
    assert_eq!(
        error_for(&text, Rule::LinuxBootRam),
        format!(
            "sys.toml:16:12: error[E108-linux-boot-ram]: region \"ram\", the boot RAM of Linux partition \"tux\", has access \"rw\"; Linux runs its code from anywhere in its RAM\n{help}"
        )
    );
    let text = LINUX.replace("size = 0x1000_0000", "size = 0x3ff_f000");
    assert_eq!(
        error_for(&text, Rule::LinuxBootRam),
        format!(
            "sys.toml:15:10: error[E108-linux-boot-ram]: region \"ram\", the boot RAM of Linux partition \"tux\", is 0x3ff_f000 bytes; it needs at least 0x400_0000 (64 MiB) for the kernel, its initramfs, its device tree and its own use\n{help}"
        )
    );
    let text = LINUX.replace("ipa = 0x4000_0000", "ipa = 0x4010_0000");
    assert_eq!(
        error_for(&text, Rule::LinuxBootRam),
        format!(
            "sys.toml:13:9: error[E108-linux-boot-ram]: region \"ram\", the boot RAM of Linux partition \"tux\", starts at IPA 0x4010_0000, which is not 2 MiB aligned; the arm64 boot protocol loads the kernel at a 2 MiB aligned base\n{help}"
        )
    );
    let text = LINUX[..LINUX.find("  [[partition.memory]]").unwrap()].to_owned();
    assert_eq!(
        error_for(&text, Rule::LinuxBootRam),
        format!(
            "sys.toml:6:8: error[E108-linux-boot-ram]: Linux partition \"tux\" has no memory region\n{help}"
        )
    );
    // Exactly 64 MiB is enough; a second, smaller region after the boot RAM is fine.
    let text = LINUX.replace("size = 0x1000_0000", "size = 0x400_0000")
        + "  [[partition.memory]]\n  name = \"data\"\n  ipa = 0x6000_0000\n  phys = 0x6000_0000\n  size = 0x1000\n  access = \"rw\"\n";
    assert!(load(&text).is_ok(), "{}", load(&text).unwrap_err());
}

#[test]
fn linux_ipa_collision() {
    let help = "  help: move it: a Linux partition sees the kernel's virtual UART and GIC at the board's addresses";
    let text = LINUX.replace("ipa = 0x4000_0000", "ipa = 0x0800_0000");
    assert_eq!(
        error_for(&text, Rule::LinuxIpaCollision),
        format!(
            "sys.toml:13:9: error[E109-linux-ipa-collision]: region \"ram\" of Linux partition \"tux\" (IPA 0x0800_0000..0x1800_0000) overlaps the virtual UART its device tree places at 0x0900_0000..0x0900_1000\n{help}"
        )
    );
    // The redistributors the device tree describes: one 128 KiB frame pair per vCPU, so two
    // here; the rest of the board's redistributor space is free for the partition's ports.
    let text = format!(
        "{}ports_ipa = 0x080C_0000\n{}",
        &LINUX[..LINUX.find("  [[partition.memory]]").unwrap()],
        &LINUX[LINUX.find("  [[partition.memory]]").unwrap()..]
    ) + "  [[partition.sampling_port]]\n  name = \"in\"\n  direction = \"destination\"\n  max_message_size = 8\n  refresh_period = \"1s\"\n\n\
         [[partition]]\nname = \"src\"\nkind = \"bm\"\ncriticality = \"C\"\ncores = [0]\nimage = { package = \"p\" }\nports_ipa = 0x5000_0000\n\
         memory = [{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4200_0000, size = 0x20_0000, access = \"rwx\" }]\n\
         sampling_port = [{ name = \"out\", direction = \"source\", max_message_size = 8 }]\n\n\
         [[channel]]\nname = \"c\"\nsource = \"src.out\"\ndestinations = [\"tux.in\"]\n";
    let text = text.replace(
        "[module]\nname = \"demo\"\nboard = \"qemu-virt\"\n",
        "[module]\nname = \"demo\"\nboard = \"qemu-virt\"\nshared_memory = { phys = 0x4800_0000, size = 0x1000 }\n",
    );
    assert_eq!(
        error_for(&text, Rule::LinuxIpaCollision),
        format!(
            "sys.toml:12:13: error[E109-linux-ipa-collision]: the buffer of port \"in\" of Linux partition \"tux\" (IPA 0x080c_0000..0x080c_1000) overlaps the GIC redistributors its device tree places at 0x080a_0000..0x080e_0000\n{help}"
        )
    );
    let one_core = text.replace("cores = [2, 3]", "cores = [2]");
    assert!(load(&one_core).is_ok(), "{}", load(&one_core).unwrap_err());
}

// ---------------------------------------------------------------------------------------
// The kernel Image header and the placement

#[test]
fn image_header_is_read_and_checked() {
    let k = kernel(0x1000, 0, 0x2000);
    assert_eq!(
        parse_image_header(&k),
        Ok(ImageHeader {
            text_offset: 0,
            image_size: 0x2000,
            flags: 0xa
        })
    );
    let check = |bytes: &[u8]| parse_image_header(bytes).unwrap_err();
    assert_eq!(
        check(&k[..63]),
        "it is 63 bytes long, shorter than the 64-byte arm64 Image header"
    );
    let mut gz = k.clone();
    gz[0..2].copy_from_slice(&[0x1f, 0x8b]);
    gz[0x38] = 0;
    assert_eq!(
        check(&gz),
        "it has no arm64 Image magic \"ARM\\x64\" at offset 0x38 (it is gzip-compressed: give the uncompressed Image)"
    );
    assert_eq!(
        check(&kernel(0x1000, 0, 0)),
        "its header gives no image_size (a kernel older than 3.17), so the memory it needs is unknown"
    );
    assert_eq!(
        check(&kernel(0x1000, 0, 0x800)),
        "its header's image_size 0x800 is smaller than the file (0x1000 bytes)"
    );
    assert_eq!(
        check(&kernel(0x1000, 0x20_0000, 0x2000)),
        "its header's text_offset 0x20_0000 is not 8-byte aligned below 2 MiB"
    );
    let mut be = k.clone();
    be[0x18] = 1;
    assert_eq!(check(&be), "it is a big-endian kernel");
}

#[test]
fn placement_in_256_mib() {
    let cfg = load_fixture();
    let linux = cfg.partition(1).unwrap();
    let region = &linux.memory[0];
    assert_eq!((region.ipa, region.size), (0x4000_0000, 0x1000_0000));
    let header = ImageHeader {
        text_offset: 0,
        image_size: DEBIAN_IMAGE_SIZE,
        flags: 0xa,
    };
    let p = place(region, &header, INITRAMFS_LEN).unwrap();
    // The kernel at the base, the device tree at the start of the last 2 MiB, the initramfs
    // right below it, page aligned.
    assert_eq!(p.kernel, 0x4000_0000..0x4201_0000);
    assert_eq!(p.dtb_block, 0x4fe0_0000..0x5000_0000);
    assert_eq!(p.initramfs, 0x4fc3_c000..0x4fc3_c000 + INITRAMFS_LEN);
    assert!(p.initramfs.end <= p.dtb_block.start);

    // text_offset is honoured; a region whose size is no multiple of 2 MiB keeps its last
    // whole 2 MiB block for the device tree.
    let mut odd = region.clone();
    odd.size = 0x400_1000;
    let header = ImageHeader {
        text_offset: 0x8_0000,
        ..header
    };
    let p = place(&odd, &header, 0x1000).unwrap();
    assert_eq!(p.kernel.start, 0x4008_0000);
    assert_eq!(p.dtb_block, 0x43e0_0000..0x4400_0000);
    assert_eq!(p.initramfs, 0x43df_f000..0x43e0_0000);

    let big = ImageHeader {
        image_size: 0x0fe0_0001,
        ..header
    };
    assert_eq!(
        place(region, &big, 0).unwrap_err(),
        "the kernel (0xfe0_0001 bytes from 0x4008_0000) and a 2 MiB block for the device tree need more than region \"ram\" (0x4000_0000..0x5000_0000)"
    );
    let header = ImageHeader {
        text_offset: 0,
        image_size: DEBIAN_IMAGE_SIZE,
        flags: 0xa,
    };
    assert_eq!(
        place(region, &header, 0x0e00_0000).unwrap_err(),
        "the initramfs (0xe00_0000 bytes) does not fit between the kernel's end at 0x4201_0000 and the device tree's block at 0x4fe0_0000 in region \"ram\""
    );
}

// ---------------------------------------------------------------------------------------
// The device tree

/// A device tree parsed back: node paths in order, each with its properties.
struct Fdt {
    nodes: Vec<(String, BTreeMap<String, Vec<u8>>)>,
}

impl Fdt {
    fn parse(blob: &[u8]) -> Fdt {
        let be32 = |o: usize| u32::from_be_bytes(blob[o..o + 4].try_into().unwrap());
        assert_eq!(be32(0), 0xd00d_feed, "magic");
        assert_eq!(be32(4) as usize, blob.len(), "totalsize");
        assert_eq!(be32(20), 17, "version");
        let (structs, strings) = (be32(8) as usize, be32(12) as usize);
        let cstr = |o: usize| {
            let end = o + blob[o..].iter().position(|&b| b == 0).unwrap();
            String::from_utf8(blob[o..end].to_vec()).unwrap()
        };
        let mut nodes = Vec::new();
        let mut path: Vec<String> = Vec::new();
        let mut at = structs;
        loop {
            let token = be32(at);
            at += 4;
            match token {
                1 => {
                    let name = cstr(at);
                    at = (at + name.len() + 1).next_multiple_of(4);
                    path.push(name);
                    let full = if path.len() == 1 {
                        "/".to_owned()
                    } else {
                        path[1..].iter().map(|c| format!("/{c}")).collect()
                    };
                    nodes.push((full, BTreeMap::new()));
                }
                2 => {
                    path.pop();
                }
                3 => {
                    let (len, name_off) = (be32(at) as usize, be32(at + 4) as usize);
                    let value = blob[at + 8..at + 8 + len].to_vec();
                    at = (at + 8 + len).next_multiple_of(4);
                    let node: &mut (String, BTreeMap<String, Vec<u8>>) = nodes.last_mut().unwrap();
                    assert!(node.1.insert(cstr(strings + name_off), value).is_none());
                }
                4 => {}
                9 => break,
                t => panic!("bad token {t}"),
            }
        }
        assert!(path.is_empty());
        Fdt { nodes }
    }

    fn paths(&self) -> Vec<&str> {
        self.nodes.iter().map(|(p, _)| p.as_str()).collect()
    }

    fn prop(&self, node: &str, name: &str) -> &[u8] {
        let (_, props) = self
            .nodes
            .iter()
            .find(|(p, _)| p == node)
            .unwrap_or_else(|| panic!("no node {node}"));
        props
            .get(name)
            .unwrap_or_else(|| panic!("no property {name} in {node}"))
    }

    fn has(&self, node: &str, name: &str) -> bool {
        self.nodes
            .iter()
            .any(|(p, props)| p == node && props.contains_key(name))
    }

    fn u32s(&self, node: &str, name: &str) -> Vec<u32> {
        self.prop(node, name)
            .chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn u64s(&self, node: &str, name: &str) -> Vec<u64> {
        self.prop(node, name)
            .chunks(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn strings(&self, node: &str, name: &str) -> Vec<String> {
        let v = self.prop(node, name);
        assert_eq!(v.last(), Some(&0), "{node} {name} is not NUL-terminated");
        v[..v.len() - 1]
            .split(|&b| b == 0)
            .map(|s| String::from_utf8(s.to_vec()).unwrap())
            .collect()
    }
}

const INITRD: std::ops::Range<u64> = 0x4fc3_c000..0x4fdf_f5f0;

#[test]
fn device_tree_of_the_fixture() {
    let cfg = load_fixture();
    let linux = cfg.partition(1).unwrap();
    let blob = linux_device_tree(&cfg, linux, INITRD);
    assert_eq!(
        blob,
        linux_device_tree(&cfg, linux, INITRD),
        "deterministic"
    );
    let fdt = Fdt::parse(&blob);
    assert_eq!(
        fdt.paths(),
        [
            "/",
            "/chosen",
            "/memory@40000000",
            "/reserved-memory",
            "/reserved-memory/port@50000000",
            "/reserved-memory/info@7ffffff000",
            "/cpus",
            "/cpus/cpu@0",
            "/cpus/cpu@1",
            "/psci",
            "/intc@8000000",
            "/timer",
            "/apb-pclk",
            "/pl011@9000000",
            "/gpio@7fffffa000",
            "/pl031@9010000",
        ]
    );
    // Root.
    assert_eq!(fdt.u32s("/", "#address-cells"), [2]);
    assert_eq!(fdt.u32s("/", "#size-cells"), [2]);
    assert_eq!(
        fdt.u32s("/", "interrupt-parent"),
        fdt.u32s("/intc@8000000", "phandle")
    );
    assert_eq!(fdt.strings("/", "compatible"), ["linux,dummy-virt"]);
    // Chosen.
    assert_eq!(
        fdt.strings("/chosen", "bootargs"),
        [
            "console=ttyAMA0 earlycon=pl011,0x09000000 rdinit=/init panic=-1 reboot=panic_warm loglevel=7"
        ]
    );
    assert_eq!(fdt.strings("/chosen", "stdout-path"), ["/pl011@9000000"]);
    assert_eq!(fdt.u64s("/chosen", "linux,initrd-start"), [INITRD.start]);
    assert_eq!(fdt.u64s("/chosen", "linux,initrd-end"), [INITRD.end]);
    // Memory.
    assert_eq!(fdt.strings("/memory@40000000", "device_type"), ["memory"]);
    assert_eq!(
        fdt.u64s("/memory@40000000", "reg"),
        [0x4000_0000, 0x1000_0000]
    );
    // Reserved: the port buffer and the information page, never mapped.
    assert_eq!(fdt.u32s("/reserved-memory", "#address-cells"), [2]);
    assert!(fdt.has("/reserved-memory", "ranges"));
    let port = &linux.ports[0].mappings[0];
    assert_eq!(
        fdt.u64s("/reserved-memory/port@50000000", "reg"),
        [port.ipa, port.size]
    );
    assert_eq!(
        fdt.u64s("/reserved-memory/info@7ffffff000", "reg"),
        [apex_api::info::INFO_PAGE_IPA, 0x1000]
    );
    for node in [
        "/reserved-memory/port@50000000",
        "/reserved-memory/info@7ffffff000",
    ] {
        assert!(fdt.has(node, "no-map"), "{node}");
    }
    // CPUs: vCPU n has MPIDR Aff0 = n.
    assert_eq!(fdt.u32s("/cpus", "#address-cells"), [1]);
    assert_eq!(fdt.u32s("/cpus", "#size-cells"), [0]);
    for n in 0..2u32 {
        let cpu = format!("/cpus/cpu@{n}");
        assert_eq!(fdt.u32s(&cpu, "reg"), [n]);
        assert_eq!(fdt.strings(&cpu, "device_type"), ["cpu"]);
        assert_eq!(fdt.strings(&cpu, "enable-method"), ["psci"]);
    }
    // PSCI through HVC.
    assert_eq!(fdt.strings("/psci", "compatible")[0], "arm,psci-1.0");
    assert_eq!(fdt.strings("/psci", "method"), ["hvc"]);
    // GICv3: the distributor and one redistributor per vCPU, no ITS.
    let gic = "/intc@8000000";
    assert_eq!(fdt.strings(gic, "compatible"), ["arm,gic-v3"]);
    assert_eq!(fdt.u32s(gic, "#interrupt-cells"), [3]);
    assert!(fdt.has(gic, "interrupt-controller"));
    assert_eq!(
        fdt.u64s(gic, "reg"),
        [0x0800_0000, 0x1_0000, 0x080a_0000, 2 * 0x2_0000]
    );
    assert!(!fdt.paths().iter().any(|p| p.contains("its")));
    // The architected timer: PPIs 13, 14, 11, 10, level-sensitive as in QEMU's tree.
    assert_eq!(fdt.strings("/timer", "compatible")[0], "arm,armv8-timer");
    assert_eq!(
        fdt.u32s("/timer", "interrupts"),
        [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]
    );
    // The clock and the virtual PL011 (SPI 1 = INTID 33).
    let clock = fdt.u32s("/apb-pclk", "phandle");
    assert_eq!(fdt.strings("/apb-pclk", "compatible"), ["fixed-clock"]);
    assert_eq!(fdt.u32s("/apb-pclk", "clock-frequency"), [24_000_000]);
    assert_eq!(fdt.u32s("/apb-pclk", "#clock-cells"), [0]);
    let uart = "/pl011@9000000";
    assert_eq!(
        fdt.strings(uart, "compatible"),
        ["arm,pl011", "arm,primecell"]
    );
    assert_eq!(fdt.u64s(uart, "reg"), [0x0900_0000, 0x1000]);
    assert_eq!(fdt.u32s(uart, "interrupts"), [0, 1, 4]);
    assert_eq!(fdt.u32s(uart, "clocks"), [clock[0], clock[0]]);
    assert_eq!(fdt.strings(uart, "clock-names"), ["uartclk", "apb_pclk"]);
    // One doorbell GPIO controller (it has one port): an emulated PL061 at the first of the
    // kernel's doorbell pages, with the first doorbell interrupt (INTID 284 = SPI 252), its
    // line 0 named after the port, the other seven unnamed.
    let gpio = "/gpio@7fffffa000";
    assert_eq!(
        fdt.strings(gpio, "compatible"),
        ["arm,pl061", "arm,primecell"]
    );
    assert_eq!(
        fdt.u64s(gpio, "reg"),
        [apex_api::info::DOORBELL_GPIO_IPA, 0x1000]
    );
    assert_eq!(fdt.u32s(gpio, "interrupts"), [0, 252, 4]);
    assert_eq!(fdt.u32s(gpio, "clocks"), [clock[0]]);
    assert_eq!(fdt.strings(gpio, "clock-names"), ["apb_pclk"]);
    for flag in ["gpio-controller", "interrupt-controller"] {
        assert!(fdt.has(gpio, flag), "{flag}");
    }
    assert_eq!(fdt.u32s(gpio, "#gpio-cells"), [2]);
    assert_eq!(fdt.u32s(gpio, "#interrupt-cells"), [2]);
    let mut names = vec![linux.ports[0].name.clone()];
    names.resize(8, String::new());
    assert_eq!(fdt.strings(gpio, "gpio-line-names"), names);
    // Its own RTC (SPI 2 = INTID 34); the virtio page has no known binding and is left out.
    let rtc = "/pl031@9010000";
    assert_eq!(
        fdt.strings(rtc, "compatible"),
        ["arm,pl031", "arm,primecell"]
    );
    assert_eq!(fdt.u64s(rtc, "reg"), [0x0901_0000, 0x1000]);
    assert_eq!(fdt.u32s(rtc, "interrupts"), [0, 2, 4]);
    assert_eq!(fdt.strings(rtc, "clock-names"), ["apb_pclk"]);
    let left_out: Vec<_> = devices_left_out(&cfg, linux)
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(left_out, ["virtio"]);
}

#[test]
fn device_tree_lists_executable_ram_and_known_devices_only() {
    let text = LINUX.replace("cores = [2, 3]", "cores = [1]")
        + "  [[partition.memory]]\n  name = \"more\"\n  ipa = 0x6000_0000\n  phys = 0x6000_0000\n  size = 0x20_0000\n  access = \"rwx\"\n\
           [[partition.memory]]\n  name = \"table\"\n  ipa = 0x7000_0000\n  phys = 0x6100_0000\n  size = 0x1000\n  access = \"r\"\n\
           [[partition.device]]\n  name = \"gpio\"\n\
           [[partition.device]]\n  name = \"fw_cfg\"\n  dma = \"trusted\"\n";
    let cfg = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let fdt = Fdt::parse(&linux_device_tree(
        &cfg,
        cfg.partition(0).unwrap(),
        0x4f00_0000..0x4f00_1000,
    ));
    let paths = fdt.paths();
    assert!(paths.contains(&"/memory@60000000"));
    assert!(
        !paths.contains(&"/memory@70000000"),
        "read-only RAM is not Linux's memory"
    );
    assert_eq!(
        paths.iter().filter(|p| p.starts_with("/cpus/cpu@")).count(),
        1
    );
    assert_eq!(fdt.u64s("/intc@8000000", "reg")[3], 0x2_0000);
    assert_eq!(
        fdt.strings("/pl061@9030000", "compatible"),
        ["arm,pl061", "arm,primecell"]
    );
    assert_eq!(fdt.u32s("/pl061@9030000", "interrupts"), [0, 7, 4]);
    assert!(fdt.has("/pl061@9030000", "gpio-controller"));
    assert_eq!(fdt.u32s("/pl061@9030000", "#gpio-cells"), [2]);
    assert_eq!(
        fdt.strings("/fw-cfg@9020000", "compatible"),
        ["qemu,fw-cfg-mmio"]
    );
    assert_eq!(fdt.u64s("/fw-cfg@9020000", "reg"), [0x0902_0000, 0x18]);
    assert!(devices_left_out(&cfg, cfg.partition(0).unwrap()).is_empty());
}

// ---------------------------------------------------------------------------------------
// Tables and segment files

/// The fixture's payloads: a stand-in ELF for `ctrl`, a stand-in kernel (4 KiB, with the
/// Debian kernel's image_size) and an initramfs of the Debian size for `linux`.
fn fixture_payloads(dir: &Path) -> BTreeMap<String, PartitionPayload> {
    let elf = common::elf(
        0x4000_0000,
        &[common::load_seg(
            0x4000_0000,
            &[0; 8],
            0x40,
            common::R | common::X,
        )],
    );
    let path = dir.join("ctrl.elf");
    std::fs::write(&path, elf).unwrap();
    BTreeMap::from([
        ("ctrl".to_owned(), PartitionPayload::Elf(path)),
        (
            "linux".to_owned(),
            PartitionPayload::Linux(payload(
                kernel(0x1000, 0, DEBIAN_IMAGE_SIZE),
                INITRAMFS_LEN as usize,
            )),
        ),
    ])
}

#[test]
fn tables_and_segments_of_a_linux_partition() {
    let dir = common::temp_dir("linux-generate");
    let cfg = load_fixture();
    let payloads = fixture_payloads(&dir);
    let out = dir.join("out");
    generate_system(&cfg, &payloads, &out).unwrap_or_else(|e| panic!("{e}"));
    let PartitionPayload::Linux(linux) = &payloads["linux"] else {
        unreachable!()
    };
    // What the image stores: segments above `DEFLATE_ABOVE` DEFLATE-compressed, and their
    // inflated size in the tables (0 for the others).
    let stored = |data: &[u8]| -> (Vec<u8>, String) {
        if data.len() > schedule_gen::codegen::DEFLATE_ABOVE {
            (
                miniz_oxide::deflate::compress_to_vec(data, 6),
                schedule_gen::validate::hex(data.len() as u64, false),
            )
        } else {
            (data.to_vec(), "0".to_owned())
        }
    };
    let (kernel, kernel_inflated) = stored(&linux.kernel);
    let (initramfs, initramfs_inflated) = stored(&linux.initramfs);
    assert_eq!(std::fs::read(out.join("linux.0.bin")).unwrap(), kernel);
    assert_eq!(std::fs::read(out.join("linux.1.bin")).unwrap(), initramfs);
    assert_eq!(
        miniz_oxide::inflate::decompress_to_vec(&std::fs::read(out.join("linux.1.bin")).unwrap())
            .unwrap(),
        linux.initramfs,
        "the initramfs inflates back"
    );
    let dtb = std::fs::read(out.join("linux.2.bin")).unwrap();
    let expected_dtb = linux_device_tree(
        &cfg,
        cfg.partition(1).unwrap(),
        0x4fc3_c000..0x4fc3_c000 + INITRAMFS_LEN,
    );
    assert_eq!(dtb, expected_dtb);
    let images = std::fs::read_to_string(out.join("partition_images.rs")).unwrap();
    let linux_part = &images[images.find("    // linux\n").unwrap()..];
    let seg = |n: usize, ipa: &str, inflated: &str, size: &str| {
        format!(
            "        Segment {{ ipa: {ipa}, data: &CacheAligned(*include_bytes!(concat!(env!(\"PKERNEL_SYSTEM_DIR\"), \"/linux.{n}.bin\"))).0, inflated_size: {inflated}, mem_size: {size} }},\n"
        )
    };
    assert_eq!(
        linux_part,
        format!(
            "    // linux\n\
             \x20   // Linux (debian): segment 0 the kernel Image, 1 the initramfs, 2 the device tree;\n\
             \x20   // entered at the Image with x0 = the device tree's address.\n\
             \x20   // device \"virtio\" is not in its device tree (no binding known)\n\
             \x20   PartitionImage {{ entry_ipa: 0x4000_0000, boot_argument: 0x4fe0_0000, segments: &[\n{}{}{}    ] }},\n];\n",
            seg(0, "0x4000_0000", &kernel_inflated, "0x201_0000"),
            seg(1, "0x4fc3_c000", &initramfs_inflated, "0x1c_35f0"),
            seg(2, "0x4fe0_0000", "0", &format!("{:#x}", dtb.len())),
        )
    );
    assert!(images.contains(
        "    PartitionImage { entry_ipa: 0x4000_0000, boot_argument: 0x0, segments: &[\n"
    ));
    // Byte-identical again.
    let again = dir.join("again");
    generate_system(&cfg, &payloads, &again).unwrap();
    for f in ["linux.2.bin", "partition_images.rs", "system_tables.rs"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn linux_kernel_image_and_placement_errors() {
    let dir = common::temp_dir("linux-errors");
    let cfg = load_fixture();
    let mut payloads = fixture_payloads(&dir);
    let mut bad = kernel(0x1000, 0, 0x2000);
    bad[0x38..0x3c].copy_from_slice(b"ARM\x00");
    payloads.insert("linux".into(), PartitionPayload::Linux(payload(bad, 16)));
    let d = generate_system(&cfg, &payloads, &dir.join("out")).unwrap_err();
    assert_eq!(
        d.to_string(),
        "Image: error[E110-linux-kernel-image]: the kernel of Linux partition \"linux\" is not an arm64 Image: it has no arm64 Image magic \"ARM\\x64\" at offset 0x38\n  help: give the uncompressed arm64 kernel Image (xtask unpacks Debian's vmlinuz)"
    );
    payloads.insert(
        "linux".into(),
        PartitionPayload::Linux(payload(kernel(0x1000, 0, DEBIAN_IMAGE_SIZE), 0x0e00_0000)),
    );
    let d = generate_system(&cfg, &payloads, &dir.join("out")).unwrap_err();
    assert_eq!(
        d.to_string(),
        "Image: error[E111-linux-placement]: Linux partition \"linux\" does not fit its boot RAM: the initramfs (0xe00_0000 bytes) does not fit between the kernel's end at 0x4201_0000 and the device tree's block at 0x4fe0_0000 in region \"ram\"\n  help: grow the partition's first memory region (the boot RAM)"
    );
    assert!(!dir.join("out").exists(), "nothing is written on an error");
}

#[test]
fn a_linux_partition_needs_linux_material() {
    let dir = common::temp_dir("linux-material");
    let cfg = load_fixture();
    let file = cfg.path().display().to_string();
    let mut payloads = fixture_payloads(&dir);
    let elf = match &payloads["ctrl"] {
        PartitionPayload::Elf(p) => p.clone(),
        PartitionPayload::Linux(_) => unreachable!(),
    };
    payloads.insert("linux".into(), PartitionPayload::Elf(elf));
    let d = generate_system(&cfg, &payloads, &dir.join("out")).unwrap_err();
    assert_eq!(
        d.to_string(),
        format!(
            "{file}: error[E060-missing-image]: an ELF was given for Linux partition \"linux\", which boots a Linux kernel\n  help: pass `--linux linux=<Image>,<initramfs>` instead (xtask fetches and builds them)"
        )
    );
    payloads.remove("linux");
    let linux = PartitionPayload::Linux(payload(kernel(0x1000, 0, 0x2000), 16));
    payloads.insert("ctrl".into(), linux);
    let d = generate_system(&cfg, &payloads, &dir.join("out")).unwrap_err();
    assert_eq!(
        d.to_string(),
        format!(
            "{file}: error[E061-unexpected-image]: a Linux kernel was given for partition \"ctrl\", whose image is not `linux`\n  help: pass `--image ctrl=<elf>` instead\n\n\
             {file}: error[E060-missing-image]: no kernel and initramfs were given for Linux partition \"linux\"\n  help: pass `--linux linux=<Image>,<initramfs>` (xtask fetches and builds them)"
        )
    );
}

/// The generated tables of a Linux system compile against the kernel's types, with the
/// Linux partition's boot argument in them.
#[test]
fn linux_tables_compile_against_kernel_types() {
    let dir = common::temp_dir("linux-compile");
    let cfg = load_fixture();
    let out = dir.join("out");
    generate_system(&cfg, &fixture_payloads(&dir), &out).unwrap_or_else(|e| panic!("{e}"));
    common::compile_against_kernel_types(
        &out,
        &dir.join("rustc"),
        "pub fn boot_argument(id: usize) -> u64 { tables::PARTITION_IMAGES[id].boot_argument }\n",
    );
}

#[test]
fn every_board_reserves_an_interrupt_per_doorbell_controller() {
    for board in bsp::BOARDS {
        let (first, end) = board.doorbell_interrupts;
        assert!(
            (end - first) as usize >= apex_api::info::DOORBELL_GPIO_CONTROLLERS,
            "{}",
            board.name
        );
    }
}
