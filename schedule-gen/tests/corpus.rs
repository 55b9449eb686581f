//! Configurations and ARINC 653 XML files written by someone else, from the documentation
//! alone (see `tests/corpus/README.md`), go through the tool with no code change:
//!
//! - `valid/*.toml` load, generate their tables and write their reports;
//! - `invalid/*.toml` are refused with the rule their author expected (first line
//!   `# expect: E0xx`), every error positioned and with advice;
//! - `arinc/*.xml` import into a configuration that loads and reports, or are refused with
//!   the rule their author expected (`<!-- expect: E1xx -->`).
//!
//! Building the valid ones into kernel images is done by `hil-tests/tests/corpus_builds.rs`.

mod common;

use std::path::{Path, PathBuf};

use schedule_gen::import::{ImportOptions, import_file};
use schedule_gen::{Diagnostics, codegen, load, load_str, report};

fn corpus(kind: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.{ext} files in {}", dir.display());
    files
}

/// The code in an `expect: E0xx` comment on the file's first line.
fn expected_code(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next()?;
    let (_, rest) = first.split_once("expect:")?;
    Some(rest.trim().trim_end_matches("-->").trim().to_owned())
}

fn assert_well_formed(file: &Path, d: &Diagnostics) {
    for e in d {
        assert!(
            !e.message.is_empty() && !e.help.is_empty(),
            "{}: an error without a message or advice:\n{d}",
            file.display()
        );
    }
}

#[test]
fn valid_configurations_load_generate_and_report() {
    for file in corpus("valid", "toml") {
        let cfg =
            load(&file).unwrap_or_else(|e| panic!("{} should be valid:\n{e}", file.display()));
        assert!(!codegen::system_tables(&cfg).is_empty());
        let out = common::temp_dir(&format!(
            "corpus-report-{}",
            file.file_stem().unwrap().to_string_lossy()
        ));
        let written = report::write_reports(&cfg, &out)
            .unwrap_or_else(|e| panic!("{}: report: {e}", file.display()));
        assert_eq!(written.len(), 3, "{}", file.display());
    }
}

#[test]
fn invalid_configurations_are_refused_with_the_expected_rule() {
    for file in corpus("invalid", "toml") {
        let code = expected_code(&file)
            .unwrap_or_else(|| panic!("{}: first line must be `# expect: E0xx`", file.display()));
        let d = match load(&file) {
            Ok(_) => panic!(
                "{} was accepted; its author expected {code}",
                file.display()
            ),
            Err(d) => d,
        };
        assert_well_formed(&file, &d);
        assert!(
            d.iter().any(|e| e.rule.code() == code),
            "{}: expected {code}, got:\n{d}",
            file.display()
        );
        // Errors about the text point at it.
        assert!(
            d.iter().all(|e| e.position.is_some()),
            "{}: an error without a position:\n{d}",
            file.display()
        );
    }
}

/// An imported configuration names `<partition>.elf` images the XML cannot provide: stand in
/// a small valid ELF per partition, placed in its first executable region, and generate the
/// kernel tables, so the import is shown to go all the way through the build's checks.
fn generate_with_stand_in_images(
    file: &Path,
    cfg: &schedule_gen::LoadedConfig,
    notes: &[String],
    out: &Path,
) {
    let mut images = std::collections::BTreeMap::new();
    for p in cfg.partitions() {
        let Some(code) = p.memory.iter().find(|r| r.access.execute()) else {
            // The XML gave it no code memory: the import must have said so, and the
            // configuration cannot be built until the integrator adds a region.
            assert!(
                notes
                    .iter()
                    .any(|n| n.contains(&format!("partition {:?} has no", p.name))),
                "{}: partition {:?} has no executable region and no note says so",
                file.display(),
                p.name
            );
            return;
        };
        // `b .` at the entry point.
        let bytes = common::elf(
            code.ipa,
            &[common::load_seg(
                code.ipa,
                &[0x00, 0x00, 0x00, 0x14],
                0x1000,
                common::R | common::X,
            )],
        );
        let path = out.join(format!("{}.elf", p.name));
        std::fs::write(&path, bytes).unwrap();
        images.insert(p.name.clone(), path);
    }
    schedule_gen::generate_kernel_tables(cfg, &images, &out.join("tables"))
        .unwrap_or_else(|e| panic!("{}: generating the tables: {e}", file.display()));
}

#[test]
fn arinc_files_import_or_are_refused_with_the_expected_rule() {
    for file in corpus("arinc", "xml") {
        let result = import_file(&file, &ImportOptions::default());
        match (expected_code(&file), result) {
            (Some(code), Ok(_)) => panic!(
                "{} was imported; its author expected {code}",
                file.display()
            ),
            (Some(code), Err(d)) => {
                assert_well_formed(&file, &d);
                assert!(
                    d.iter().any(|e| e.rule.code() == code),
                    "{}: expected {code}, got:\n{d}",
                    file.display()
                );
            }
            (None, Err(d)) => panic!("{} should import:\n{d}", file.display()),
            (None, Ok(imported)) => {
                let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
                let name = format!("{stem}.toml");
                let cfg =
                    load_str(&name, &imported.toml, Path::new("/imported")).unwrap_or_else(|e| {
                        panic!(
                            "{}: the imported configuration does not load:\n{e}\n{}",
                            file.display(),
                            imported.toml
                        )
                    });
                let out = common::temp_dir(&format!("corpus-arinc-{stem}"));
                report::write_reports(&cfg, &out)
                    .unwrap_or_else(|e| panic!("{}: report: {e}", file.display()));
                generate_with_stand_in_images(&file, &cfg, &imported.notes, &out);
            }
        }
    }
}
