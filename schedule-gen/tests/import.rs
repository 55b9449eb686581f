//! ARINC 653 XML import: golden TOML for valid files, golden error text for invalid ones,
//! round trips through the loader, and robustness against arbitrary and mutated input.
//!
//! Goldens live beside the inputs in `tests/arinc/` (`x.xml` → `x.toml` or `x.err`); rerun
//! with `UPDATE_GOLDEN=1` to refresh them after an intended change.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use schedule_gen::Rule;
use schedule_gen::import::{ImportOptions, Imported, import_file, import_str};

/// Files that import (each has a `.toml` golden).
const VALID: &[&str] = &["full", "minimal", "namespaced"];
/// Files that do not (each has a `.err` golden: the rendered diagnostics).
const INVALID: &[&str] = &[
    "malformed",
    "no_major_frame",
    "unknown_partition",
    "bad_numbers",
    "duplicate_ids",
    "unmappable",
    "later_schema",
    "bad_channels",
    "overlap",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/arinc")
}

fn read(name: &str) -> String {
    let path = dir().join(format!("{name}.xml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Imports `tests/arinc/<name>.xml` under its bare file name, so goldens hold no paths.
fn import(name: &str) -> Result<Imported, schedule_gen::Diagnostics> {
    import_str(
        &format!("{name}.xml"),
        &read(name),
        &ImportOptions::default(),
    )
}

/// Compares `actual` with the golden file, or rewrites it under `UPDATE_GOLDEN=1`.
fn golden(file: &str, actual: &str) {
    let path = dir().join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} differs; if the change is intended, rerun with UPDATE_GOLDEN=1\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn valid_files_match_golden() {
    for name in VALID {
        let imported = import(name).unwrap_or_else(|e| panic!("{name}.xml:\n{e}"));
        golden(&format!("{name}.toml"), &imported.toml);
    }
}

#[test]
fn invalid_files_match_golden_errors() {
    for name in INVALID {
        let errors = match import(name) {
            Ok(i) => panic!("{name}.xml imported:\n{}", i.toml),
            Err(e) => e,
        };
        golden(&format!("{name}.err"), &format!("{errors}\n"));
    }
}

/// Every valid import loads as a pkernel configuration: the importer writes what the
/// validator accepts.
#[test]
fn imported_configurations_load() {
    for name in VALID {
        let imported = import(name).unwrap_or_else(|e| panic!("{name}.xml:\n{e}"));
        if let Err(e) =
            schedule_gen::load_str(&format!("{name}.toml"), &imported.toml, Path::new("/cfg"))
        {
            panic!(
                "{name}.toml does not load:\n{e}\n--- toml ---\n{}",
                imported.toml
            );
        }
    }
}

#[test]
fn notes_are_returned_and_written_as_comments() {
    let imported = import("full").unwrap();
    assert!(!imported.notes.is_empty());
    for note in &imported.notes {
        assert!(!note.contains('\n'), "{note}");
        assert!(
            imported.toml.contains(&format!("# note: {note}\n")),
            "{note}"
        );
    }
    let first = imported.toml.lines().next().unwrap();
    assert_eq!(
        first,
        "# Imported by schedule-gen from the ARINC 653 XML configuration full.xml."
    );
}

#[test]
fn a_partition_named_like_the_kernel_is_renamed() {
    // `pkernel` is reserved for the kernel's console lines (E103): the import picks another
    // name and says so, so the configuration it writes still loads.
    let xml = read("minimal").replace("PartitionName=\"solo\"", "PartitionName=\"PKERNEL\"");
    let imported = import_str("kernel_named.xml", &xml, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        imported
            .notes
            .iter()
            .any(|n| n.contains("partitions renamed") && n.contains("\"pkernel_2\"")),
        "{:?}",
        imported.notes
    );
    let cfg = schedule_gen::load_str("kernel_named.toml", &imported.toml, Path::new("/cfg"))
        .unwrap_or_else(|e| panic!("{e}\n{}", imported.toml));
    assert_eq!(cfg.partition(0).unwrap().name, "pkernel_2");
}

#[test]
fn output_is_deterministic() {
    for name in VALID {
        let a = import(name).unwrap();
        let b = import(name).unwrap();
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn import_file_reads_and_reports_unreadable_files() {
    let path = dir().join("minimal.xml");
    let imported = import_file(&path, &ImportOptions::default()).unwrap();
    assert!(imported.toml.contains("[[partition]]\nname = \"solo\"\n"));

    let missing = dir().join("does-not-exist.xml");
    let e = import_file(&missing, &ImportOptions::default()).unwrap_err();
    assert_eq!(e.rules(), vec![Rule::ConfigUnreadable]);
    assert!(
        e.to_string().starts_with(&format!(
            "{}: error[E000-config-unreadable]: cannot read the ARINC 653 XML file:",
            missing.display()
        )),
        "{e}"
    );
}

#[test]
fn unknown_board_is_reported_with_the_xml_errors() {
    let options = ImportOptions {
        board: "pdp-11".to_owned(),
    };
    let e = import_str("no_major_frame.xml", &read("no_major_frame"), &options).unwrap_err();
    assert_eq!(e.rules(), vec![Rule::UnknownBoard, Rule::XmlInvalid]);
    let text = e.to_string();
    assert!(
        text.starts_with(
            "no_major_frame.xml: error[E010-unknown-board]: unknown board \"pdp-11\" in the import options\n  help: import for one of the boards pkernel supports: qemu-virt"
        ),
        "{text}"
    );
    // A valid file with an unknown board still fails.
    let e = import_str("minimal.xml", &read("minimal"), &options).unwrap_err();
    assert_eq!(e.rules(), vec![Rule::UnknownBoard]);
}

#[test]
fn the_board_option_is_written() {
    let imported = import("minimal").unwrap();
    assert!(imported.toml.contains("\nboard = \"qemu-virt\"\n"));
    assert!(
        imported
            .notes
            .iter()
            .any(|n| n.contains("board \"qemu-virt\""))
    );
}

#[test]
fn seconds_convert_exactly() {
    let xml = |frame: &str| {
        format!(
            r#"<ARINC_653_Module><Partition PartitionIdentifier="1" PartitionName="a"/>
<Module_Schedule MajorFrameSeconds="{frame}"><Partition_Schedule PartitionIdentifier="1" PeriodSeconds="{frame}" PeriodDurationSeconds="{frame}">
<Window_Schedule WindowStartSeconds="0" WindowDurationSeconds="{frame}"/></Partition_Schedule></Module_Schedule></ARINC_653_Module>"#
        )
    };
    for (written, toml) in [
        ("0.1", "100ms"),
        ("100E-3", "100ms"),
        ("1.5e-3", "1.5ms"),
        ("0.000016", "16us"),
        ("2", "2s"),
        ("0.000000016", "16ns"),
    ] {
        let imported = import_str("t.xml", &xml(written), &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{written}: {e}"));
        assert!(
            imported.toml.contains(&format!("major_frame = \"{toml}\"")),
            "{written}:\n{}",
            imported.toml
        );
    }
    // 0.1 is not exactly representable as a float; 1.0000000001 s is not whole nanoseconds.
    let e = import_str("t.xml", &xml("1.0000000001"), &ImportOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("MajorFrameSeconds \"1.0000000001\" is not a whole number of nanoseconds"),
        "{e}"
    );
}

#[test]
fn errors_are_all_reported_in_text_order() {
    let e = import("bad_numbers").unwrap_err();
    assert!(e.len() > 3);
    let positions: Vec<_> = e.iter().map(|d| d.position.unwrap()).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
}

/// The XML parser recurses once per nesting level: absurd nesting is refused before parsing,
/// not allowed to exhaust the stack; absurdly long values are cut in messages.
#[test]
fn deep_nesting_and_long_values_are_refused_politely() {
    let n = 100_000;
    let deep = format!(
        "<ARINC_653_Module>{}{}</ARINC_653_Module>",
        "<a>".repeat(n),
        "</a>".repeat(n)
    );
    let e = import_str("deep.xml", &deep, &ImportOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "deep.xml:1:208: error[E101-xml-invalid]: elements nest more than 64 levels deep here\n  help: an ARINC 653 module configuration nests a few levels deep: check that this is the right file"
    );

    let long = format!(
        "<ARINC_653_Module><Partition PartitionIdentifier=\"{}\"/></ARINC_653_Module>",
        "9".repeat(100_000)
    );
    let e = import_str("long.xml", &long, &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().len() < 1000, "{e}");
    assert!(
        e.to_string().contains(
            "PartitionIdentifier \"9999999999999999999999999999999999999999\"… (100000 bytes) is too large"
        ),
        "{e}"
    );
}

/// Single-character and substring mutations of the valid inputs.
fn mutated() -> impl Strategy<Value = String> {
    let sources: Vec<String> = VALID.iter().map(|n| read(n)).collect();
    (
        0..sources.len(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0..6u8,
        "[ -~]{0,12}",
    )
        .prop_map(move |(which, a, b, op, insert)| {
            let text = &sources[which];
            let chars: Vec<char> = text.chars().collect();
            let (mut i, mut j) = (a.index(chars.len() + 1), b.index(chars.len() + 1));
            if i > j {
                std::mem::swap(&mut i, &mut j);
            }
            let (head, rest) = chars.split_at(i);
            let (middle, tail) = rest.split_at(j - i);
            let s = |c: &[char]| c.iter().collect::<String>();
            match op {
                // Delete a range.
                0 => s(head) + &s(tail),
                // Replace a range by random printable text.
                1 => s(head) + &insert + &s(tail),
                // Duplicate a range (duplicate elements, attributes, digits).
                2 => s(head) + &s(middle) + &s(middle) + &s(tail),
                // Replace digits in a range by other digits or signs.
                3 => {
                    let swapped: String = middle
                        .iter()
                        .enumerate()
                        .map(|(k, c)| {
                            if c.is_ascii_digit() {
                                ['9', '0', '-', '.', 'e', 'x'][k % 6]
                            } else {
                                *c
                            }
                        })
                        .collect();
                    s(head) + &swapped + &s(tail)
                }
                // Truncate.
                4 => s(head),
                // Insert at one point.
                _ => s(head) + &insert + &s(rest),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = import_str("fuzz.xml", &text, &ImportOptions::default());
    }

    #[test]
    fn xml_like_text_never_panics(text in "(<[A-Za-z_:]{1,20}( [A-Za-z]{1,12}=\"[-+.0-9xEA-Z_]{0,10}\"){0,4}/?>|</[A-Za-z_]{1,20}>| ){0,40}") {
        let _ = import_str("fuzz.xml", &text, &ImportOptions::default());
    }

    #[test]
    fn mutated_files_never_panic(text in mutated()) {
        match import_str("fuzz.xml", &text, &ImportOptions::default()) {
            // Whatever imports is deterministic and every error has a position in the text.
            Ok(imported) => prop_assert_eq!(import_str("fuzz.xml", &text, &ImportOptions::default()), Ok(imported)),
            Err(errors) => {
                for d in &errors {
                    let p = d.position.expect("every XML error has a position");
                    prop_assert!(p.line >= 1 && p.column >= 1);
                    prop_assert!(p.line <= text.lines().count() + 1, "{}", d);
                }
            }
        }
    }
}
