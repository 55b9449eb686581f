//! The initramfs of a Linux partition: an uncompressed `newc` cpio archive, written here
//! byte for byte, that Linux unpacks into its root file system before running `/init`.
//!
//! Contents: busybox at `/bin/busybox` with `/bin/sh` linked to it, the directories a shell
//! needs, `/dev/console` (the kernel opens it for `/init` before any file system is mounted),
//! the `/init` script ([`INIT_SCRIPT`]) and any [`InitramfsFile`] passed in: the partition
//! tools of [`extra_files`], today `/bin/ports` (linux-tools/ports).
//!
//! Reproducible: entries sorted by path, every time stamp 0, owner root, inode numbers in
//! order; the same inputs give the same bytes.

use std::collections::BTreeMap;

/// The first process of the partition: mounts the kernel file systems, makes busybox's
/// applets available, says it started, and runs a shell on the console (again whenever it
/// exits, so `/init` never ends, which Linux would take as a panic).
pub const INIT_SCRIPT: &str = "#!/bin/sh
# /init of a pkernel Linux partition (written by xtask; docs/linux-partition.md).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
echo \"pkernel-linux: init\"
while true; do
    setsid cttyhack sh
    echo \"pkernel-linux: shell exited; starting another\"
done
";

/// The line `/init` prints first, for tests and people to recognise.
pub const INIT_LINE: &str = "pkernel-linux: init";

/// Directories of the archive (besides the parents of extra files). `--install -s` puts
/// applet links in `/bin`, `/sbin`, `/usr/bin` and `/usr/sbin`.
const DIRECTORIES: &[&str] = &[
    "bin", "dev", "etc", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin",
];

/// A file added to the initramfs besides busybox and `/init`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitramfsFile {
    /// Absolute path in the partition, e.g. `/bin/pkernel-port`.
    pub path: String,
    /// Permission bits, e.g. `0o755` for a program.
    pub mode: u32,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// Target the Linux user-space tools are built for: a static binary (musl, its C runtime and
/// libc linked in by rust-lld, see .cargo/config.toml) runs on any Linux, with no library
/// from the initramfs.
pub const LINUX_TOOLS_TARGET: &str = "aarch64-unknown-linux-musl";

/// The port tool: its package, binary and place in the partition.
const PORTS_PACKAGE: &str = "pkernel-ports";
const PORTS_BINARY: &str = "ports";
const PORTS_PATH: &str = "/bin/ports";

/// Files every Linux partition's initramfs gets besides busybox and `/init`: `/bin/ports`,
/// which lists, reads and writes the partition's ports (linux-tools/ports), built here (release,
/// [`LINUX_TOOLS_TARGET`]) in the image build's own target directory.
pub fn extra_files() -> Result<Vec<InitramfsFile>, String> {
    // A toolchain installed before rust-toolchain.toml listed the target gets it here.
    crate::setup::ensure_targets()?;
    let target_dir = crate::image::images_target_dir();
    let mut cmd = crate::image::cargo();
    cmd.args([
        "build",
        "--release",
        "--target",
        LINUX_TOOLS_TARGET,
        "-p",
        PORTS_PACKAGE,
        "--bin",
        PORTS_BINARY,
        "--target-dir",
    ])
    .arg(&target_dir);
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start cargo to build {PORTS_PATH}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building {PORTS_PATH} ({PORTS_PACKAGE}, {LINUX_TOOLS_TARGET}) failed ({status}); see the output above"
        ));
    }
    let built = target_dir
        .join(LINUX_TOOLS_TARGET)
        .join("release")
        .join(PORTS_BINARY);
    let data =
        std::fs::read(&built).map_err(|e| format!("cannot read {}: {e}", built.display()))?;
    check_static_aarch64(&data).map_err(|why| format!("{}: {why}", built.display()))?;
    Ok(vec![InitramfsFile {
        path: PORTS_PATH.to_owned(),
        mode: 0o755,
        data,
    }])
}

/// Checks that `elf` is a 64-bit little-endian AArch64 executable with no program
/// interpreter (`PT_INTERP`): statically linked, so it runs from the initramfs, which has
/// no dynamic loader.
fn check_static_aarch64(elf: &[u8]) -> Result<(), String> {
    const EM_AARCH64: u16 = 183;
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    // 64-bit (class 2), little-endian (data 1).
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") || u16_at(18) != Some(EM_AARCH64) {
        return Err("not a 64-bit little-endian AArch64 ELF file".to_owned());
    }
    let table = u64_at(0x20).and_then(|off| usize::try_from(off).ok());
    let (Some(table), Some(size), Some(count)) = (table, u16_at(0x36), u16_at(0x38)) else {
        return Err("ELF header cut short".to_owned());
    };
    for i in 0..usize::from(count) {
        let entry = table.saturating_add(i * usize::from(size));
        match u32_at(entry) {
            None => return Err("program header table cut short".to_owned()),
            Some(PT_INTERP) => {
                return Err("dynamically linked (it names a program interpreter)".to_owned());
            }
            Some(_) => {}
        }
    }
    Ok(())
}

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

/// One archive member.
#[derive(Clone, Debug)]
enum Entry {
    Dir,
    File { mode: u32, data: Vec<u8> },
    Symlink(String),
    CharDevice { major: u32, minor: u32 },
}

/// The initramfs for `busybox` (a static aarch64 busybox binary) and `extra` files. Fails if
/// an extra file's path is not a normal absolute path, or names something already in the
/// archive, or goes through something that is not a directory.
pub fn initramfs(busybox: &[u8], extra: &[InitramfsFile]) -> Result<Vec<u8>, String> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    for dir in DIRECTORIES {
        entries.insert((*dir).to_owned(), Entry::Dir);
    }
    entries.insert(
        "bin/busybox".to_owned(),
        Entry::File {
            mode: 0o755,
            data: busybox.to_vec(),
        },
    );
    entries.insert("bin/sh".to_owned(), Entry::Symlink("busybox".to_owned()));
    entries.insert(
        "dev/console".to_owned(),
        Entry::CharDevice { major: 5, minor: 1 },
    );
    entries.insert(
        "init".to_owned(),
        Entry::File {
            mode: 0o755,
            data: INIT_SCRIPT.as_bytes().to_vec(),
        },
    );
    for file in extra {
        let path = file
            .path
            .strip_prefix('/')
            .filter(|p| {
                !p.is_empty() && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
            })
            .ok_or_else(|| format!("initramfs file {:?}: not a normal absolute path", file.path))?;
        let mut parent = String::new();
        for component in path.split('/').take(path.split('/').count() - 1) {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            match entries.get(&parent) {
                None => {
                    entries.insert(parent.clone(), Entry::Dir);
                }
                Some(Entry::Dir) => {}
                Some(_) => {
                    return Err(format!(
                        "initramfs file {:?}: /{parent} is not a directory",
                        file.path
                    ));
                }
            }
        }
        let new = Entry::File {
            mode: file.mode & 0o7777,
            data: file.data.clone(),
        };
        if entries.insert(path.to_owned(), new).is_some() {
            return Err(format!(
                "initramfs file {:?} is already in the archive",
                file.path
            ));
        }
    }

    let mut out = Vec::new();
    for (ino, (path, entry)) in entries.iter().enumerate() {
        let (mode, nlink, data, rdev): (u32, u32, &[u8], (u32, u32)) = match entry {
            Entry::Dir => (S_IFDIR | 0o755, 2, &[], (0, 0)),
            Entry::File { mode, data } => (S_IFREG | mode, 1, data, (0, 0)),
            Entry::Symlink(target) => (S_IFLNK | 0o777, 1, target.as_bytes(), (0, 0)),
            Entry::CharDevice { major, minor } => (S_IFCHR | 0o600, 1, &[], (*major, *minor)),
        };
        member(&mut out, ino as u32 + 1, mode, nlink, rdev, path, data)?;
    }
    member(&mut out, 0, 0, 1, (0, 0), "TRAILER!!!", &[])?;
    Ok(out)
}

/// Appends one `newc` member: the 110-byte header (magic `070701` and 13 fields of 8
/// hexadecimal digits), the name with its NUL, padding to 4 bytes, the data, padding to 4.
fn member(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    nlink: u32,
    (rdev_major, rdev_minor): (u32, u32),
    name: &str,
    data: &[u8],
) -> Result<(), String> {
    let size = u32::try_from(data.len())
        .map_err(|_| format!("initramfs member {name:?} is larger than 4 GiB"))?;
    let name_size = name.len() as u32 + 1;
    let fields = [
        ino, mode, 0, // uid
        0, // gid
        nlink, 0, // mtime
        size, 0, // devmajor
        0, // devminor
        rdev_major, rdev_minor, name_size, 0, // check
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parsed member: name, mode, nlink, rdev, data.
    type Member = (String, u32, u32, (u32, u32), Vec<u8>);

    /// Reads a `newc` archive back, checking the format on the way.
    fn parse(mut bytes: &[u8]) -> Vec<Member> {
        let total = bytes.len();
        let mut members = Vec::new();
        loop {
            assert_eq!((total - bytes.len()) % 4, 0, "member not 4-byte aligned");
            assert_eq!(&bytes[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(
                    std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap(),
                    16,
                )
                .unwrap()
            };
            let (mode, nlink, mtime, size) = (field(1), field(4), field(5), field(6) as usize);
            let (rmaj, rmin, name_size) = (field(9), field(10), field(11) as usize);
            assert_eq!((field(2), field(3), mtime, field(12)), (0, 0, 0, 0));
            let name = std::str::from_utf8(&bytes[110..110 + name_size - 1])
                .unwrap()
                .to_owned();
            assert_eq!(bytes[110 + name_size - 1], 0);
            let data_at = (110 + name_size).next_multiple_of(4);
            let data = bytes[data_at..data_at + size].to_vec();
            bytes = &bytes[(data_at + size).next_multiple_of(4)..];
            if name == "TRAILER!!!" {
                assert!(bytes.is_empty(), "bytes after the trailer");
                return members;
            }
            members.push((name, mode, nlink, (rmaj, rmin), data));
        }
    }

    #[test]
    fn archive_holds_busybox_the_shell_link_console_and_init() {
        let archive = initramfs(b"\x7fELF busybox", &[]).unwrap();
        let members = parse(&archive);
        let names: Vec<_> = members.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "dev",
                "dev/console",
                "etc",
                "init",
                "proc",
                "root",
                "sbin",
                "sys",
                "tmp",
                "usr",
                "usr/bin",
                "usr/sbin"
            ]
        );
        let get = |name: &str| members.iter().find(|m| m.0 == name).unwrap();
        assert_eq!(get("bin/busybox").1, 0o100_755);
        assert_eq!(get("bin/busybox").4, b"\x7fELF busybox");
        assert_eq!(
            (get("bin/sh").1, get("bin/sh").4.as_slice()),
            (0o120_777, &b"busybox"[..])
        );
        assert_eq!(
            (get("dev/console").1, get("dev/console").3),
            (0o020_600, (5, 1))
        );
        assert_eq!(get("proc").1, 0o040_755);
        let init = String::from_utf8(get("init").4.clone()).unwrap();
        assert_eq!(get("init").1, 0o100_755);
        assert!(init.starts_with("#!/bin/sh\n"));
        assert!(init.contains(&format!("echo \"{INIT_LINE}\"")));
        for fs in [
            "proc proc /proc",
            "sysfs sysfs /sys",
            "devtmpfs devtmpfs /dev",
        ] {
            assert!(init.contains(&format!("mount -t {fs}\n")), "{fs}");
        }
    }

    #[test]
    fn archive_is_reproducible() {
        let extra = [InitramfsFile {
            path: "/opt/tools/port".into(),
            mode: 0o755,
            data: vec![1, 2, 3],
        }];
        let a = initramfs(b"busybox", &extra).unwrap();
        assert_eq!(a, initramfs(b"busybox", &extra).unwrap());
        let members = parse(&a);
        let names: Vec<_> = members.iter().map(|m| m.0.as_str()).collect();
        // Parents are created, and come before their children.
        let opt = names.iter().position(|n| *n == "opt").unwrap();
        let tools = names.iter().position(|n| *n == "opt/tools").unwrap();
        let port = names.iter().position(|n| *n == "opt/tools/port").unwrap();
        assert!(opt < tools && tools < port);
        assert_eq!(members[port].4, [1, 2, 3]);
        assert_eq!(members[port].1, 0o100_755);
    }

    /// An ELF header for AArch64 with program headers of the given types.
    fn elf(machine: u16, types: &[u32]) -> Vec<u8> {
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[18..20].copy_from_slice(&machine.to_le_bytes());
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for t in types {
            let mut entry = vec![0u8; 56];
            entry[..4].copy_from_slice(&t.to_le_bytes());
            elf.extend(entry);
        }
        elf
    }

    #[test]
    fn only_static_aarch64_programs_go_in() {
        // PT_PHDR, PT_LOAD, PT_NOTE, PT_TLS, PT_GNU_STACK: a static program.
        assert_eq!(
            check_static_aarch64(&elf(183, &[6, 1, 1, 4, 7, 0x6474_e551])),
            Ok(())
        );
        // PT_INTERP: a dynamic one.
        assert!(
            check_static_aarch64(&elf(183, &[6, 3, 1]))
                .unwrap_err()
                .contains("dynamically linked")
        );
        assert!(
            check_static_aarch64(&elf(62, &[1]))
                .unwrap_err()
                .contains("AArch64")
        );
        assert!(check_static_aarch64(b"#!/bin/sh\n").is_err());
        let mut cut = elf(183, &[1, 1]);
        cut.truncate(64 + 56 + 2);
        assert!(
            check_static_aarch64(&cut)
                .unwrap_err()
                .contains("cut short")
        );
        assert!(check_static_aarch64(&elf(183, &[])[..0x30]).is_err());
    }

    #[test]
    fn bad_extra_files_are_refused() {
        let file = |path: &str| InitramfsFile {
            path: path.into(),
            mode: 0o644,
            data: Vec::new(),
        };
        for bad in ["relative", "/", "/a/../b", "/init", "/bin/sh/x"] {
            assert!(initramfs(b"", &[file(bad)]).is_err(), "{bad}");
        }
        assert!(initramfs(b"", &[file("/etc/a"), file("/etc/a")]).is_err());
        assert!(initramfs(b"", &[file("/etc/motd")]).is_ok());
    }
}
