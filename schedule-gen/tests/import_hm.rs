//! ARINC 653 health-monitor tables → `[module.hm]` / `[partition.hm]` (issue #10 item 1).
//!
//! The fixtures in `tests/import_hm/` are written for these tests in the styles of AIR (system
//! states named by description, the kernel's own "PMK Execution" among them), POK (error-kind
//! names, AADL annex actions) and the lfarcaro test scenarios (error identifiers with and
//! without `ErrorCode`, schema extensions). For each, every `<Error_ID_Action>` of the module
//! and partition tables must be accounted for: a TOML line, an action merged into the line of
//! the same pkernel error, or an action a note says is not imported, with why and what the TOML
//! would need (`docs/import.md`).

mod common;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use schedule_gen::import::{ImportOptions, Imported, import_str};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/import_hm")
}

fn read(name: &str) -> String {
    let path = dir().join(format!("{name}.xml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import_text(file: &str, xml: &str) -> Imported {
    import_str(file, xml, &ImportOptions::default()).unwrap_or_else(|e| panic!("{file}:\n{e}"))
}

fn import(name: &str) -> Imported {
    import_text(&format!("{name}.xml"), &read(name))
}

/// The `<Error_ID_Action>` elements of the module and partition tables (not those of schema
/// extensions elsewhere), counted on the XML itself.
fn xml_actions(xml: &str) -> usize {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.tag_name().name() == "Error_ID_Action")
        .filter(|n| {
            n.ancestors().any(|a| {
                matches!(
                    a.tag_name().name(),
                    "Module_HM_Table" | "Partition_HM_Table"
                )
            })
        })
        .count()
}

/// The lines of `[module.hm]` and of each `[partition.hm]`, as `module: error = "action"` and
/// `<partition>: error = "action"`.
fn hm_lines(toml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut partition = String::new();
    let mut table: Option<String> = None;
    for line in toml.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with('[') {
            table = match trimmed {
                "[module.hm]" => Some("module".to_owned()),
                "[partition.hm]" => Some(partition.clone()),
                _ => None,
            };
            continue;
        }
        if let Some(name) = line.strip_prefix("name = ") {
            partition = name.trim_matches('"').to_owned();
        }
        if let Some(t) = &table {
            out.push(format!("{t}: {trimmed}"));
        }
    }
    out
}

/// Actions the notes say are not imported, and those they say are merged into a line.
fn noted(notes: &[String]) -> (usize, usize) {
    common::noted_hm_actions("import", notes)
}

/// The XML's actions = TOML lines + merged + not imported; the summary note says the same;
/// and the configuration loads.
fn accounted(file: &str, xml: &str, imported: &Imported) -> (usize, usize, usize, usize) {
    let total = xml_actions(xml);
    let lines = hm_lines(&imported.toml).len();
    let (lost, merged) = noted(&imported.notes);
    assert_eq!(
        total,
        lines + merged + lost,
        "{file}: {total} actions in the XML, {lines} TOML lines, {merged} merged, {lost} noted\n{:#?}",
        imported.notes
    );
    if total > 0 {
        let summary = imported
            .notes
            .iter()
            .find(|n| n.starts_with("HM tables: "))
            .unwrap_or_else(|| panic!("{file}: no summary note"));
        assert!(
            summary.starts_with(&format!("HM tables: {total} action")),
            "{summary}"
        );
        let counts = if lost == 0 {
            format!(", all imported, as {lines} line")
        } else {
            format!("; {} imported, as {lines} line", lines + merged)
        };
        assert!(summary.contains(&counts), "{summary}");
        assert_eq!(
            summary.contains(&format!("; {lost} not imported")),
            lost > 0,
            "{summary}"
        );
    }
    if let Err(e) = schedule_gen::load_str("imported.toml", &imported.toml, Path::new("/cfg")) {
        panic!("{file}: the import does not load:\n{e}\n{}", imported.toml);
    }
    (total, lines, merged, lost)
}

fn assert_note(imported: &Imported, note: &str) {
    assert!(
        imported.notes.iter().any(|n| n == note),
        "missing note:\n{note}\nnotes:\n{:#?}",
        imported.notes
    );
}

#[test]
fn air_style_tables() {
    let xml = read("air_style");
    let imported = import("air_style");
    assert_eq!(accounted("air_style.xml", &xml, &imported), (30, 11, 1, 18));
    assert_eq!(
        hm_lines(&imported.toml),
        [
            "nav_ctl: memory_violation = \"cold_start\"",
            "nav_ctl: illegal_instruction = \"cold_start\"",
            "nav_ctl: deadline_missed = \"warm_start\"",
            "nav_ctl: application_error = \"warm_start\"",
            "nav_ctl: numeric_error = \"warm_start\"",
            "nav_ctl: stack_overflow = \"cold_start\"",
            "nav_ctl: hardware_fault = \"idle\"",
            "nav_ctl: power_fail = \"ignore\"",
            "payload: memory_violation = \"idle\"",
            "payload: deadline_missed = \"cold_start\"",
            "payload: application_error = \"ignore\"",
        ]
    );
    assert_note(
        &imported,
        "HM tables: 30 actions in the XML; 12 imported, as 11 lines of [module.hm] and [partition.hm] (1 action merged into the line of the same pkernel error); 18 not imported, each noted below with why and what the TOML would need",
    );
    // Merged: two AIR errors are one pkernel error with the same action.
    assert_note(
        &imported,
        "Partition_HM_Table of \"nav_ctl\", system state 3 (\"Partition Operating System\"): 1 action merged into the line of the same pkernel error (error identifier 5 (\"Floating Point Error\", numeric_error) → \"WARM_START\"): several ARINC errors are one pkernel error",
    );
    // Loss: a state that is not imported.
    assert_note(
        &imported,
        "Partition_HM_Table of \"nav_ctl\": 3 actions of system state 2 (\"Partition Initialization\") not imported: pkernel imports one system state, 3 (\"Partition Operating System\"); the TOML would need nothing, unless this state's actions should win: [partition.hm] applies in every state, this one included",
    );
    // Loss: the kernel's own state.
    assert_note(
        &imported,
        "Module_HM_Table: 4 actions of system state 1 (\"PMK Execution\") not imported: it is the kernel's own state, not the partitions' execution; the TOML would need [module.hm] kernel_fault = \"reset\", the nearest equivalent: pkernel's own failures are the one error kernel_fault",
    );
    // Loss: an error nothing names.
    assert_note(
        &imported,
        "Partition_HM_Table of \"nav_ctl\", system state 3 (\"Partition Operating System\"): 1 action not imported (error identifier 14 (\"Double Fault\") → \"COLD_START\"): the pkernel error is unknown (no ErrorCode, and neither the identifier nor its description names one of pkernel's errors); the TOML would need the error written by hand under [partition.hm] (e.g. memory_violation = \"cold_start\"), or an ErrorCode on its Error_ID_Level",
    );
    // Loss: an error pkernel does not have.
    assert_note(
        &imported,
        "Partition_HM_Table of \"nav_ctl\", system state 3 (\"Partition Operating System\"): 1 action not imported (error identifier 10 (\"Debug Error\") → \"IGNORE\"): a debug exception is taken by the partition itself and never reaches pkernel; the TOML would need nothing",
    );
    // Loss: a second action for the same pkernel error.
    assert_note(
        &imported,
        "Partition_HM_Table of \"nav_ctl\", system state 3 (\"Partition Operating System\"): 1 action not imported (error identifier 13 (\"App Hardware Error\", hardware_fault) → \"COLD_START\" (kept: hardware_fault = \"idle\" from line 100)): pkernel has one action per error, and an earlier entry of the table gives the same pkernel error another action, which is kept; the TOML would need nothing, or the kept line changed by hand if this action should win",
    );
}

/// Issue #10: AIR names its states by description, and the kernel's own state 1, "PMK
/// Execution", says "execution": it must never be taken for the partitions' normal execution.
#[test]
fn the_kernels_own_state_is_never_imported() {
    let imported = import("air_style");
    assert_note(
        &imported,
        "the HM tables give system states 0 (\"Module Initialization\"), 1 (\"PMK Execution\"), 2 (\"Partition Initialization\"), 3 (\"Partition Operating System\"), 4 (\"Partition Application\"), 5 (\"Error Handler\"), 6 (\"Health Monitor Processing\"); pkernel has one HM table for the module and one per partition, in force in every state, so only system state 3 (\"Partition Operating System\") is imported: of the states described as the partitions' normal execution (3 (\"Partition Operating System\"), 4 (\"Partition Application\")), it has the most Partition_HM_Table actions; the kernel's own states are never imported: 0 (\"Module Initialization\"), 1 (\"PMK Execution\"), 6 (\"Health Monitor Processing\")",
    );
    assert!(
        !imported.toml.contains("\n[module.hm]\n"),
        "{}",
        imported.toml
    );

    // Even with the most entries, and first in the file.
    let xml = r#"<ARINC_653_Module ModuleName="m">
  <System_HM_Table>
    <System_State_Entry SystemState="1" Description="PMK Execution">
      <Error_ID_Level ErrorIdentifier="1" Description="Segmentation Error" ErrorLevel="PARTITION"/>
      <Error_ID_Level ErrorIdentifier="2" Description="Stack error" ErrorLevel="PARTITION"/>
      <Error_ID_Level ErrorIdentifier="3" Description="Deadline Miss" ErrorLevel="PARTITION"/>
    </System_State_Entry>
    <System_State_Entry SystemState="2" Description="Partition execution">
      <Error_ID_Level ErrorIdentifier="1" Description="Segmentation Error" ErrorLevel="PARTITION"/>
    </System_State_Entry>
  </System_HM_Table>
  <Partition PartitionIdentifier="1" PartitionName="a"/>
  <Module_Schedule MajorFrameSeconds="1">
    <Partition_Schedule PartitionIdentifier="1" PeriodSeconds="1" PeriodDurationSeconds="1">
      <Window_Schedule WindowStartSeconds="0" WindowDurationSeconds="1"/>
    </Partition_Schedule>
  </Module_Schedule>
  <Partition_HM_Table PartitionIdentifier="1">
    <System_State_Entry SystemState="1" Description="PMK Execution">
      <Error_ID_Action ErrorIdentifier="1" Action="IDLE"/>
      <Error_ID_Action ErrorIdentifier="2" Action="IDLE"/>
      <Error_ID_Action ErrorIdentifier="3" Action="IDLE"/>
    </System_State_Entry>
    <System_State_Entry SystemState="2" Description="Partition execution">
      <Error_ID_Action ErrorIdentifier="1" Action="COLD_START"/>
    </System_State_Entry>
  </Partition_HM_Table>
</ARINC_653_Module>"#;
    let imported = import_text("pmk_first.xml", xml);
    accounted("pmk_first.xml", xml, &imported);
    assert_eq!(
        hm_lines(&imported.toml),
        ["a: memory_violation = \"cold_start\""]
    );
    assert_note(
        &imported,
        "Partition_HM_Table of \"a\": 3 actions of system state 1 (\"PMK Execution\") not imported: it is the kernel's own state, not the partitions' execution; the TOML would need nothing: a pkernel partition table holds the errors of the partition's own execution",
    );

    // With no state of the partitions' normal execution, nothing is imported, and said so.
    let xml = xml.replace("Partition execution", "Partition Initialization");
    let imported = import_text("no_normal_state.xml", &xml);
    assert_eq!(
        accounted("no_normal_state.xml", &xml, &imported),
        (4, 0, 0, 4)
    );
    assert_note(
        &imported,
        "the HM tables give system states 1 (\"PMK Execution\"), 2 (\"Partition Initialization\"), none described as the partitions' normal execution: no HM action is imported; the kernel's own states are never imported: 1 (\"PMK Execution\")",
    );
    assert_note(
        &imported,
        "Partition_HM_Table of \"a\": 1 action of system state 2 (\"Partition Initialization\") not imported: no system state is described as the partitions' normal execution; the TOML would need the actions of the state in force while partitions run, written by hand under [partition.hm]",
    );
}

#[test]
fn pok_style_tables() {
    let xml = read("pok_style");
    let imported = import("pok_style");
    assert_eq!(accounted("pok_style.xml", &xml, &imported), (24, 7, 0, 17));
    assert_eq!(
        hm_lines(&imported.toml),
        [
            "module: hardware_fault = \"shutdown\"",
            "module: power_fail = \"reset\"",
            "flight: memory_violation = \"idle\"",
            "flight: application_error = \"cold_start\"",
            "flight: numeric_error = \"ignore\"",
            "radio: deadline_missed = \"ignore\"",
            "radio: numeric_error = \"cold_start\"",
        ]
    );
    assert_note(
        &imported,
        "HM tables: 24 actions in the XML; 7 imported, as 7 lines of [module.hm] and [partition.hm]; 17 not imported, each noted below with why and what the TOML would need",
    );
    for note in [
        // An error pkernel does not have: configuration, initialisation, error handler.
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_PARTITION_CONFIGURATION\" → \"PARTITION_STOP\"): pkernel has no run-time configuration error: schedule-gen refuses an inconsistent configuration before the kernel is built; the TOML would need nothing",
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_PARTITION_INIT\" → \"PARTITION_RESTART\"): pkernel has no initialisation error: it checks partition images before starting them (a failed check is kernel_fault), and a partition that fails to initialise reports it as application_error; the TOML would need nothing, or application_error under [partition.hm] if the partition reports the failure",
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_PARTITION_HANDLER\" → \"PARTITION_STOP\"): pkernel has no error-handler state: an error raised while the partition handles another is an error of the partition like any other; the TOML would need nothing: the line of the error itself applies",
        // An error name nothing maps.
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_PARTITION_SCHEDULING\" → \"PARTITION_STOP\"): the pkernel error is unknown (no ErrorCode, and neither the identifier nor its description names one of pkernel's errors); the TOML would need the error written by hand under [partition.hm] (e.g. memory_violation = \"cold_start\"), or an ErrorCode on its Error_ID_Level",
        // Level: [module.hm] has the error; kernel_fault is module level only.
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_HARDWARE_FAULT\" (hardware_fault) → \"PARTITION_STOP\"): [module.hm] handles the error for every partition; the TOML would need nothing (a partition table may not name an error of [module.hm], E093)",
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_KERNEL_SCHEDULING\" (kernel_fault) → \"PARTITION_RESTART\"): kernel_fault is a module-level error in pkernel; the TOML would need nothing here: [module.hm] kernel_fault says what happens",
        // Actions pkernel does not have at that level, or at all.
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_DEADLINE_MISSED\" (deadline_missed) → \"PROCESS_RESTART\"): process-level actions are left to the partition OS's error handler: pkernel acts on whole partitions; the TOML would need nothing for the process itself; the error under [partition.hm] as \"ignore\" keeps the partition running so that its own handler can act, as \"warm_start\" restarts the whole partition",
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_STACK_OVERFLOW\" (stack_overflow) → \"MODULE_RESTART\"): SHUTDOWN and RESET act on the whole module, and a pkernel partition table acts on its own partition only; the TOML would need the error under [module.hm] as \"shutdown\" or \"reset\" to act on the module for every partition, or under [partition.hm] as \"idle\" or \"cold_start\" to act on this partition alone",
        "Partition_HM_Table of \"flight\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_ILLEGAL_REQUEST\" (illegal_request) → \"CONFIRM\"): pkernel has no error confirmation; the TOML would need the error under [partition.hm] as \"ignore\" (log it and carry on) or as another action",
        "Partition_HM_Table of \"radio\", system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_MEMORY_VIOLATION\" (memory_violation) → \"SUSPEND\"): pkernel has no such action; the TOML would need the error under [partition.hm] as \"ignore\", \"idle\", \"warm_start\" or \"cold_start\"",
        "Module_HM_Table, system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_KERNEL_INIT\" (kernel_fault) → \"IDLE\"): IDLE, WARM_START and COLD_START act on one partition, and [module.hm] acts on the whole module; the TOML would need the error under [partition.hm] of each partition with that action, e.g. \"idle\"",
        // Level: the module table for an error handled at PROCESS level.
        "Module_HM_Table, system state 4 (\"POK_SYSTEM_STATE_OS_PART\"): 1 action not imported (error identifier \"POK_ERROR_KIND_APPLICATION_ERROR\" (application_error) → \"MODULE_STOP\"): the System_HM_Table puts the error at PARTITION or PROCESS level, where ARINC 653 never consults the module table; the TOML would need nothing: the partition tables' actions for it are imported",
    ] {
        assert_note(&imported, note);
    }
}

/// Error identifiers with no `ErrorCode` are mapped from their description (the imported
/// state's description before another state's `ErrorCode`); a bare number is never guessed.
#[test]
fn lfarcaro_style_tables_and_errors_without_codes() {
    let xml = read("lfarcaro_style");
    let imported = import("lfarcaro_style");
    assert_eq!(
        accounted("lfarcaro_style.xml", &xml, &imported),
        (19, 9, 1, 9)
    );
    assert_eq!(
        hm_lines(&imported.toml),
        [
            "module: power_fail = \"reset\"",
            "ctrl: memory_violation = \"warm_start\"",
            // "Undefined instruction": the description, not the other state's MEMORY_VIOLATION.
            "ctrl: illegal_instruction = \"cold_start\"",
            "ctrl: illegal_request = \"ignore\"",
            // "Watchdog expiry": no description says what it is; the Process state's code does.
            "ctrl: deadline_missed = \"warm_start\"",
            "ctrl: numeric_error = \"ignore\"",
            "ctrl: stack_overflow = \"cold_start\"",
            "io_gate: memory_violation = \"idle\"",
            "io_gate: application_error = \"ignore\"",
        ]
    );
    assert_note(
        &imported,
        "HM tables: 19 actions in the XML; 10 imported, as 9 lines of [module.hm] and [partition.hm] (1 action merged into the line of the same pkernel error); 9 not imported, each noted below with why and what the TOML would need",
    );
    for note in [
        "Partition_HM_Table of \"ctrl\", system state 9 (\"Operating system\"): 1 action not imported (error identifier 130 → \"IDLE\"): the pkernel error is unknown (no ErrorCode, and neither the identifier nor its description names one of pkernel's errors); the TOML would need the error written by hand under [partition.hm] (e.g. memory_violation = \"cold_start\"), or an ErrorCode on its Error_ID_Level",
        "Partition_HM_Table of \"ctrl\", system state 9 (\"Operating system\"): 1 action not imported (error identifier 7 (\"Hardware fault\", hardware_fault) → \"IDLE\"): the System_HM_Table puts the error at MODULE level, but the Module_HM_Table gives it no action; the TOML would need the error under [module.hm] as \"shutdown\" or \"reset\" to handle it at module level (without it, pkernel handles it at partition level with its default action)",
        "Module_HM_Table: 2 actions of system state 1 (\"Module HM callback\") not imported: it is the kernel's own state, not the partitions' execution; the TOML would need [module.hm] kernel_fault = \"ignore\", the nearest equivalent: pkernel's own failures are the one error kernel_fault",
        "Partition_HM_Table of \"ctrl\": 1 action of system state 6 (\"Partition default process\") not imported: pkernel imports one system state, 9 (\"Operating system\"); the TOML would need nothing, unless this state's actions should win: [partition.hm] applies in every state, this one included",
    ] {
        assert_note(&imported, note);
    }
}

/// The outside integrator's ARINC files (`tests/corpus/arinc`) name their errors by
/// description only, without `ErrorCode`: every HM action they hold is imported.
#[test]
fn corpus_files_without_error_codes_import_every_action() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/arinc");
    let mut imported_actions = 0;
    for name in ["plain_fms", "ns_prefixed_displays", "exponent_times_engine"] {
        let path = corpus.join(format!("{name}.xml"));
        let xml = std::fs::read_to_string(&path).unwrap();
        let imported = import_text(&format!("{name}.xml"), &xml);
        let (total, lines, merged, lost) = accounted(name, &xml, &imported);
        assert_eq!((lost, merged), (0, 0), "{name}: {:#?}", imported.notes);
        assert!(total > 0 && lines == total, "{name}");
        imported_actions += lines;
    }
    assert_eq!(imported_actions, 11 + 4 + 4);
}

/// The importer is fuzzed: mutated HM fixtures never panic, and whatever imports still accounts
/// for every action.
fn mutated() -> impl Strategy<Value = String> {
    let sources: Vec<String> = ["air_style", "pok_style", "lfarcaro_style"]
        .iter()
        .map(|n| read(n))
        .collect();
    (
        0..sources.len(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0..3u8,
        "[ -~]{0,8}",
    )
        .prop_map(move |(which, a, b, op, insert)| {
            let chars: Vec<char> = sources[which].chars().collect();
            let (mut i, mut j) = (a.index(chars.len() + 1), b.index(chars.len() + 1));
            if i > j {
                std::mem::swap(&mut i, &mut j);
            }
            let s = |c: &[char]| c.iter().collect::<String>();
            match op {
                0 => s(&chars[..i]) + &s(&chars[j..]),
                1 => s(&chars[..i]) + &insert + &s(&chars[j..]),
                _ => s(&chars[..j]) + &s(&chars[i..]),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn mutated_hm_tables_never_panic(text in mutated()) {
        if let Ok(imported) = import_str("fuzz.xml", &text, &ImportOptions::default()) {
            let total = xml_actions(&text);
            let (lost, merged) = noted(&imported.notes);
            prop_assert_eq!(total, hm_lines(&imported.toml).len() + merged + lost);
        }
    }
}
