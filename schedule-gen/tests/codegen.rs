//! Code generation: golden snapshot of `system_tables.rs`, determinism, segment files, and a
//! compile check of the output against the kernel's real `config.rs` types.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{R, W, X, elf, load_seg};
use schedule_gen::{LoadedConfig, Rule, generate_kernel_tables, load};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden_dir() -> PathBuf {
    manifest_dir().join("tests/golden")
}

/// Loads `tests/golden/demo.toml` and writes the three partitions' ELFs into `dir`.
fn demo(dir: &Path) -> (LoadedConfig, BTreeMap<String, PathBuf>) {
    let cfg = load(&golden_dir().join("demo.toml")).unwrap_or_else(|e| panic!("{e}"));
    let ctrl = elf(
        0x4000_0000,
        &[
            load_seg(
                0x4000_0000,
                &[0x1f, 0x20, 0x03, 0xd5, 0xff, 0xff, 0xff, 0x17],
                0x40,
                R | X,
            ),
            load_seg(0x4001_0000, b"ctrl data", 0x2345, R | W),
        ],
    );
    // `.bss` only in `data`: an empty segment file.
    let nav = elf(
        0x4400_0100,
        &[
            load_seg(0x4400_0000, &[0xd5; 0x200], 0x200, R | X),
            load_seg(0x4410_0000, &[], 0x1000, R | W),
        ],
    );
    let mut images = BTreeMap::new();
    // `spare` runs the same program as `ctrl`, from its own physical memory.
    for (name, bytes) in [("ctrl", ctrl.clone()), ("spare", ctrl), ("nav", nav)] {
        let path = dir.join(format!("{name}.elf"));
        std::fs::write(&path, bytes).unwrap();
        images.insert(name.to_owned(), path);
    }
    (cfg, images)
}

fn generate(name: &str) -> PathBuf {
    let dir = common::temp_dir(name);
    let (cfg, images) = demo(&dir);
    let out = dir.join("out");
    generate_kernel_tables(&cfg, &images, &out).unwrap_or_else(|e| panic!("{e}"));
    out
}

#[test]
fn generated_files_match_golden() {
    let out = generate("golden");
    for file in ["system_tables.rs", "partition_images.rs"] {
        let actual = std::fs::read_to_string(out.join(file)).unwrap();
        let golden = golden_dir().join(file);
        if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
            std::fs::write(&golden, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        assert!(
            actual == expected,
            "{file} differs from {}; if the change is intended, rerun with UPDATE_GOLDEN=1\n--- actual ---\n{actual}",
            golden.display()
        );
        // No directory of this machine leaks into the tables.
        assert!(
            !actual.contains(&*out.to_string_lossy())
                && !actual.contains(env!("CARGO_MANIFEST_DIR"))
        );
    }
    // The images file carries the hash of the tables file it goes with.
    let tables = std::fs::read(out.join("system_tables.rs")).unwrap();
    let images = std::fs::read_to_string(out.join("partition_images.rs")).unwrap();
    assert!(images.contains(&format!(
        "TABLES_SHA256: &str = \"{}\"",
        schedule_gen::codegen::sha256_hex(&tables)
    )));
}

#[test]
fn segment_files_and_config_copy() {
    let out = generate("files");
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "config.toml",
            "ctrl.0.bin",
            "ctrl.1.bin",
            "ctrl.info.bin",
            "nav.0.bin",
            "nav.1.bin",
            "nav.info.bin",
            "partition_images.rs",
            "spare.0.bin",
            "spare.1.bin",
            "spare.info.bin",
            "system_tables.rs"
        ]
    );
    // Each partition's information page describes it alone.
    for (id, name) in ["ctrl", "spare", "nav"].into_iter().enumerate() {
        let bytes = std::fs::read(out.join(format!("{name}.info.bin"))).unwrap();
        assert_eq!(bytes.len(), apex_api::info::INFO_PAGE_SIZE);
        let info = apex_api::info::InfoPage::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((info.partition_id() as usize, info.name()), (id, name));
    }
    let tables = std::fs::read_to_string(out.join("system_tables.rs")).unwrap();
    let ctrl = std::fs::read(out.join("ctrl.info.bin")).unwrap();
    assert!(tables.contains(&format!(
        "//   ctrl.info.bin: sha256 {}\n",
        schedule_gen::codegen::sha256_hex(&ctrl)
    )));
    assert_eq!(
        std::fs::read(out.join("ctrl.0.bin")).unwrap(),
        [0x1f, 0x20, 0x03, 0xd5, 0xff, 0xff, 0xff, 0x17]
    );
    assert_eq!(std::fs::read(out.join("ctrl.1.bin")).unwrap(), b"ctrl data");
    assert_eq!(std::fs::read(out.join("nav.0.bin")).unwrap(), [0xd5; 0x200]);
    assert_eq!(std::fs::read(out.join("nav.1.bin")).unwrap(), b"");
    assert_eq!(
        std::fs::read(out.join("config.toml")).unwrap(),
        std::fs::read(golden_dir().join("demo.toml")).unwrap()
    );
}

#[test]
fn output_is_deterministic() {
    let (a, b) = (generate("det-a"), generate("det-b"));
    for entry in std::fs::read_dir(&a).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
            "{name:?}"
        );
    }
    assert_eq!(
        std::fs::read_dir(&a).unwrap().count(),
        std::fs::read_dir(&b).unwrap().count()
    );
}

#[test]
fn generating_again_rewrites_nothing_and_names_every_file() {
    let dir = common::temp_dir("again");
    let (cfg, images) = demo(&dir);
    let out = dir.join("out");
    let payloads: BTreeMap<String, schedule_gen::PartitionPayload> = images
        .iter()
        .map(|(name, path)| {
            (
                name.clone(),
                schedule_gen::PartitionPayload::Elf(path.clone()),
            )
        })
        .collect();
    let mut first = schedule_gen::generate_system(&cfg, &payloads, &out).unwrap();
    let times = |names: &[String]| -> Vec<std::time::SystemTime> {
        names
            .iter()
            .map(|n| std::fs::metadata(out.join(n)).unwrap().modified().unwrap())
            .collect()
    };
    let before = times(&first);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = schedule_gen::generate_system(&cfg, &payloads, &out).unwrap();
    // The same files, each left as it was (a kernel build depending on them redoes nothing).
    assert_eq!(first, second);
    assert_eq!(times(&second), before);
    // And they are every file there is.
    let mut present: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    first.sort();
    assert_eq!(present, first);
}

#[test]
fn images_must_match_partitions() {
    let dir = common::temp_dir("image-map");
    let (cfg, mut images) = demo(&dir);
    let nav = images.remove("nav").unwrap();
    images.insert("radar".into(), nav);
    let out = dir.join("out");
    let d = generate_kernel_tables(&cfg, &images, &out).unwrap_err();
    let file = cfg.path().display();
    assert_eq!(
        d.to_string(),
        format!(
            "{file}: error[E061-unexpected-image]: an image was given for partition \"radar\", which the configuration does not have\n  help: give images only for: ctrl, spare, nav\n\n\
             {file}: error[E060-missing-image]: no image was given for partition \"nav\"\n  help: pass `--image nav=<elf>` (xtask does this for package images)"
        )
    );
    assert!(
        !out.exists(),
        "nothing is written when an image is rejected"
    );
}

#[test]
fn image_errors_of_all_partitions_are_reported_together() {
    let dir = common::temp_dir("image-errors");
    let (cfg, images) = demo(&dir);
    std::fs::write(&images["ctrl"], b"not an elf").unwrap();
    std::fs::write(
        &images["nav"],
        elf(0x4410_0000, &[load_seg(0x4400_0000, &[0; 4], 4, R | X)]),
    )
    .unwrap();
    let d = generate_kernel_tables(&cfg, &images, &dir.join("out")).unwrap_err();
    assert_eq!(
        d.rules(),
        vec![Rule::ImageMalformed, Rule::EntryNotExecutable]
    );
}

/// The generated file must compile, as a module with `use system_tables::*;` (what the
/// kernel's `config` module re-exports), against the `system-tables` crate: the one definition
/// of the tables generator and kernel share.
#[test]
fn generated_tables_compile_against_kernel_types() {
    let out = generate("compile");
    let work = out.parent().unwrap().join("rustc");
    common::compile_against_kernel_types(
        &out,
        &work,
        "const _: () = assert!(tables::PARTITION_COUNT == 3);\n\
         const _: usize = tables::TRANSLATION_TABLE_PAGES;\n\
         pub fn system() -> &'static system_tables::System { &tables::SYSTEM }\n",
    );
}

#[test]
fn unwritable_output() {
    let dir = common::temp_dir("unwritable");
    let (cfg, images) = demo(&dir);
    // The output "directory" is a file.
    let out = dir.join("out");
    std::fs::write(&out, b"").unwrap();
    let d = generate_kernel_tables(&cfg, &images, &out).unwrap_err();
    assert_eq!(d.rules(), vec![Rule::OutputUnwritable]);
    assert!(d.to_string().starts_with(&format!(
        "{}: error[E062-output-unwritable]: cannot write generated output:",
        out.display()
    )));
}

#[test]
fn images_too_large_for_the_kernel_window_are_refused_before_the_link() {
    let dir = common::temp_dir("too-large");
    let config = dir.join("big.toml");
    std::fs::write(
        &config,
        "[module]\nname = \"big\"\nboard = \"qemu-virt\"\n\n\
         [[partition]]\nname = \"huge\"\nkind = \"bm\"\ncriticality = \"E\"\ncores = [1]\n\
         image = { elf = \"huge.elf\" }\n\
         [[partition.memory]]\nname = \"ram\"\nipa = 0x4000_0000\nphys = 0x4400_0000\n\
         size = 0x400_0000\naccess = \"rwx\"\n",
    )
    .unwrap();
    let cfg = load(&config).unwrap_or_else(|e| panic!("{e}"));
    // 30 segments of 1 MiB, each stored as it is (compression starts above 1 MiB), and its
    // 4 KiB information page: with the kernel's own 1 MiB, within the 32 MiB window; one
    // more segment is not.
    let image = |segments: u64| {
        let segs: Vec<_> = (0..segments)
            .map(|n| {
                common::load_seg(
                    0x4000_0000 + n * 0x10_0000,
                    &vec![0xd5; 0x10_0000],
                    0x10_0000,
                    R | X,
                )
            })
            .collect();
        elf(0x4000_0000, &segs)
    };
    let images = BTreeMap::from([("huge".to_owned(), dir.join("huge.elf"))]);
    std::fs::write(&images["huge"], image(30)).unwrap();
    generate_kernel_tables(&cfg, &images, &dir.join("fits")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&images["huge"], image(31)).unwrap();
    let error = generate_kernel_tables(&cfg, &images, &dir.join("out")).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: error[E113-kernel-image-too-large]: the kernel image would carry 31.0 MiB of partition images (\"huge\" 31.0 MiB), which with the kernel's own 1.0 MiB exceeds the 32.0 MiB board \"qemu-virt\" reserves for the kernel image (0x40000000..0x42000000)\n  \
             help: make the largest images smaller (segments above 1.0 MiB are stored compressed; uninitialised data costs nothing), or give the board a larger kernel_reserved window",
            config.display()
        )
    );
}
