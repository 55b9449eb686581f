//! Helpers shared by the integration tests: config loading shortcuts and a tiny ELF writer.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use schedule_gen::{Diagnostics, LoadedConfig, Rule, load_str};

/// Directory fake configurations claim to live in.
pub const BASE_DIR: &str = "/cfg";

/// `[module]` header used by most tests: lines 1-3.
pub const HEAD: &str = "[module]\nname = \"demo\"\nboard = \"qemu-virt\"\n";

pub fn load(text: &str) -> Result<LoadedConfig, Diagnostics> {
    load_str("sys.toml", text, Path::new(BASE_DIR))
}

/// The rendered errors of `text`, which must fail.
pub fn errors(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d.to_string(),
    }
}

/// The rendered error for `rule` alone (the configuration may break other rules too).
pub fn error_for(text: &str, rule: Rule) -> String {
    let d = load(text).expect_err("expected errors");
    let found: Vec<_> = d
        .iter()
        .filter(|d| d.rule == rule)
        .map(|d| d.to_string())
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {rule:?} in:\n{d}");
    found.into_iter().next().unwrap()
}

/// A valid two-partition system: `ctrl` (bm, core 1, package image, owns rtc) and `nav`
/// (rtos, cores 2-3, ELF image, code and data regions).
pub const TWO_PARTITIONS: &str = r#"[module]
name = "demo"
board = "qemu-virt"

[[partition]]
name = "ctrl"
kind = "bm"
cores = [1]
image = { package = "bm-ticker" }
criticality = "B"
  [[partition.memory]]
  name = "ram"
  ipa = 0x4000_0000
  phys = 0x4200_0000
  size = 0x20_0000
  access = "rwx"

  [[partition.device]]
  name = "rtc"

[[partition]]
name = "nav"
kind = "rtos"
cores = [2, 3]
image = { elf = "../vendor/nav.elf" }
criticality = "C"
  [[partition.memory]]
  name = "code"
  ipa = 0x4400_0000
  size = 0x10_0000
  access = "rx"

  [[partition.memory]]
  name = "data"
  ipa = 0x4410_0000
  size = 0x10_0000
  access = "rw"
"#;

/// PF_* flags.
pub const R: u32 = 4;
pub const W: u32 = 2;
pub const X: u32 = 1;

/// One program header to write.
#[derive(Clone)]
pub struct Seg {
    pub p_type: u32,
    pub paddr: u64,
    pub data: Vec<u8>,
    pub memsz: u64,
    pub flags: u32,
}

/// A `PT_LOAD` segment with `data` at `paddr` and `memsz` total.
pub fn load_seg(paddr: u64, data: &[u8], memsz: u64, flags: u32) -> Seg {
    Seg {
        p_type: 1,
        paddr,
        data: data.to_vec(),
        memsz,
        flags,
    }
}

/// A minimal ELF64 little-endian AArch64 `ET_EXEC` file: header, program headers, then the
/// segment data (8-byte aligned). `p_vaddr` is set to `p_paddr + 0x1_0000_0000` so tests catch
/// a reader that uses the wrong address.
pub fn elf(entry: u64, segs: &[Seg]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&2u16.to_le_bytes()); // e_type = ET_EXEC
    out.extend_from_slice(&183u16.to_le_bytes()); // e_machine = EM_AARCH64
    out.extend_from_slice(&1u32.to_le_bytes()); // e_version
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    out.extend_from_slice(&(segs.len() as u16).to_le_bytes());
    out.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    assert_eq!(out.len(), 64);
    let mut offset = (64 + 56 * segs.len()).next_multiple_of(8) as u64;
    for s in segs {
        out.extend_from_slice(&s.p_type.to_le_bytes());
        out.extend_from_slice(&s.flags.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(s.paddr + 0x1_0000_0000).to_le_bytes()); // p_vaddr
        out.extend_from_slice(&s.paddr.to_le_bytes());
        out.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&s.memsz.to_le_bytes());
        out.extend_from_slice(&0x1000u64.to_le_bytes());
        offset += (s.data.len() as u64).next_multiple_of(8);
    }
    for s in segs {
        out.resize(out.len().next_multiple_of(8), 0);
        out.extend_from_slice(&s.data);
    }
    out
}

/// A fresh empty directory under cargo's temp dir for integration tests; `name` must be unique
/// across all tests.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("schedule-gen")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles the tables generated in `out` (`system_tables.rs`, `partition_images.rs`)
/// against the `system-tables` crate, the one definition of the table types the kernel
/// uses, with rustc alone (the kernel's own target is not needed): `bsp`, `apex-api` and
/// `system-tables` are built as rlibs in `work`, then a crate that includes the two files in
/// a module `tables` and adds `extra` (Rust items that use them) is type-checked.
pub fn compile_against_kernel_types(out: &Path, work: &Path, extra: &str) {
    use std::process::Command;
    std::fs::create_dir_all(work).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let run = |cmd: &mut Command| {
        let output = cmd.output().expect("run rustc");
        assert!(
            output.status.success(),
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let rlib = |krate: &str| {
        let name = krate.replace('-', "_");
        format!("{name}={}", work.join(format!("lib{name}.rlib")).display())
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (krate, deps) in [
        ("bsp", &[][..]),
        ("apex-api", &[][..]),
        ("system-tables", &["bsp", "apex-api"][..]),
    ] {
        let mut cmd = Command::new(&rustc);
        cmd.args(["--edition", "2024", "--crate-type", "rlib", "--crate-name"])
            .arg(krate.replace('-', "_"))
            .arg("--out-dir")
            .arg(work);
        for dep in deps {
            cmd.arg("--extern").arg(rlib(dep));
        }
        run(cmd.arg(manifest.join(format!("../{krate}/src/lib.rs"))));
    }
    let check = work.join("check.rs");
    std::fs::write(
        &check,
        format!(
            "mod tables {{\n    use system_tables::*;\n    include!({:?});\n    include!({:?});\n}}\n{extra}",
            out.join("system_tables.rs"),
            out.join("partition_images.rs"),
        ),
    )
    .unwrap();
    run(Command::new(&rustc)
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "lib",
            "--emit",
            "metadata",
            "--cap-lints",
            "allow",
            "--out-dir",
        ])
        .arg(work)
        .arg("--extern")
        .arg(rlib("system-tables"))
        .arg("--extern")
        .arg(rlib("bsp"))
        .arg("-L")
        .arg(work)
        .arg(&check)
        .env("PKERNEL_SYSTEM_DIR", out));
}

/// HM actions an import's notes account for: the `N action(s)` right after a table's label
/// (`Module_HM_Table ...: `, `Partition_HM_Table ...: `), either not imported or merged into
/// the TOML line of the same pkernel error. Returns (not imported, merged); `what` names the
/// import in a failure message.
pub fn noted_hm_actions(what: &str, notes: &[String]) -> (usize, usize) {
    let (mut lost, mut merged) = (0, 0);
    for note in notes {
        if !(note.starts_with("Module_HM_Table") || note.starts_with("Partition_HM_Table")) {
            continue;
        }
        let Some((_, rest)) = note.split_once(": ") else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(n) = digits.parse::<usize>() else {
            continue;
        };
        let after = &rest[digits.len()..];
        assert!(after.starts_with(" action"), "{what}: {note}");
        if after.contains(" not imported") {
            lost += n;
        } else if after.contains(" merged into") {
            merged += n;
        } else {
            panic!("{what}: a note counts HM actions but says neither what became of them: {note}");
        }
    }
    (lost, merged)
}
