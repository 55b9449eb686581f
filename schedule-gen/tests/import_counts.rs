//! ARINC 653 XML import, counted (issue #10): for a corpus of files written for this test in the
//! styles of AIR, POK and the lfarcaro ARINC 653 test scenarios (`tests/import_counts/`), every
//! partition, window, port, channel and HM action of the XML is either in the TOML the import
//! writes or in a note that says it was dropped: `in == out + noted`, kind by kind.
//!
//! - *in* is counted on the XML with a walk of the Part 1 schema's structure (comments and
//!   elements elsewhere are not counted);
//! - *out* is counted on the TOML, parsed with the `toml` crate;
//! - *noted* is counted on the import's notes, as each note states what it drops: the
//!   Module_Schedules left out (whose windows are then counted in the XML), the ports left out,
//!   the channels dropped, and the HM actions not imported or merged into another's line.
//!
//! The import must also load as a pkernel configuration.

mod common;

use std::path::{Path, PathBuf};

use roxmltree::{Document, Node};
use schedule_gen::import::{ImportOptions, Imported, import_str};

/// The fixtures, and what each holds in its XML: partitions, windows, ports, channels and HM
/// actions (as [`KINDS`]). The walk must find these, so a commented-out element or a walk that
/// misses a level fails here rather than making the balance below meaningless.
const FIXTURES: &[(&str, Counts)] = &[
    ("air_style", [3, 11, 7, 4, 25]),
    ("air_modes", [2, 9, 5, 3, 7]),
    ("pok_style", [3, 5, 7, 3, 17]),
    ("lfarcaro_style", [4, 6, 9, 4, 18]),
];

/// What is counted, in the order of a [`Counts`].
const KINDS: [&str; 5] = ["partitions", "windows", "ports", "channels", "HM actions"];
const PARTITIONS: usize = 0;
const WINDOWS: usize = 1;
const PORTS: usize = 2;
const CHANNELS: usize = 3;
const HM_ACTIONS: usize = 4;

type Counts = [usize; 5];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/import_counts")
}

fn read(name: &str) -> String {
    let path = dir().join(format!("{name}.xml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The element children of `node` whose local name is `name`.
fn children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The `<Window_Schedule>` elements of a `<Module_Schedule>`.
fn schedule_windows(schedule: Node<'_, '_>) -> usize {
    children(schedule, "Partition_Schedule")
        .flat_map(|ps| children(ps, "Window_Schedule"))
        .count()
}

/// Counts on the XML, following the schema: `<Partition>`s of the module, their
/// `<Sampling_Port>`s and `<Queuing_Port>`s, the `<Window_Schedule>`s of every
/// `<Module_Schedule>`, the `<Channel>`s of the `<Connection_Table>`, and the
/// `<Error_ID_Action>`s of the `<Module_HM_Table>` and the `<Partition_HM_Table>`s.
fn xml_counts(doc: &Document<'_>) -> Counts {
    let root = doc.root_element();
    let partitions: Vec<Node<'_, '_>> = children(root, "Partition").collect();
    let ports = partitions
        .iter()
        .map(|p| children(*p, "Sampling_Port").count() + children(*p, "Queuing_Port").count())
        .sum();
    let windows = children(root, "Module_Schedule")
        .map(schedule_windows)
        .sum();
    let channels = children(root, "Connection_Table")
        .flat_map(|t| children(t, "Channel"))
        .count();
    let hm_actions = children(root, "Module_HM_Table")
        .chain(children(root, "Partition_HM_Table"))
        .flat_map(|t| children(t, "System_State_Entry"))
        .flat_map(|e| children(e, "Error_ID_Action"))
        .count();
    [partitions.len(), windows, ports, channels, hm_actions]
}

/// The tables of the array of tables `key` in `table` (none when it is absent).
fn tables<'a>(table: &'a toml::Table, key: &str) -> Vec<&'a toml::Table> {
    table
        .get(key)
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_table).collect())
        .unwrap_or_default()
}

/// How many keys the table `key` of `table` has (none when it is absent).
fn keys(table: &toml::Table, key: &str) -> usize {
    table
        .get(key)
        .and_then(toml::Value::as_table)
        .map_or(0, toml::Table::len)
}

/// Counts on the TOML: `[[partition]]`, the `[[schedule.window]]`s of every `[[schedule]]`,
/// `[[partition.sampling_port]]` and `[[partition.queuing_port]]`, `[[channel]]`, and the
/// entries of `[module.hm]` and of every `[partition.hm]`.
fn toml_counts(text: &str) -> Counts {
    let config: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("the import is not TOML: {e}\n{text}"));
    let partitions = tables(&config, "partition");
    let ports = partitions
        .iter()
        .map(|p| tables(p, "sampling_port").len() + tables(p, "queuing_port").len())
        .sum();
    let windows = tables(&config, "schedule")
        .iter()
        .map(|s| tables(s, "window").len())
        .sum();
    let module_hm = config
        .get("module")
        .and_then(toml::Value::as_table)
        .map_or(0, |m| keys(m, "hm"));
    let partition_hm: usize = partitions.iter().map(|p| keys(p, "hm")).sum();
    [
        partitions.len(),
        windows,
        ports,
        tables(&config, "channel").len(),
        module_hm + partition_hm,
    ]
}

/// The strings of `list` quoted as the notes quote names (`"a", "b\"c"`), unescaped.
fn quoted(list: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut chars = list.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut item = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => item.extend(chars.next()),
                '"' => break,
                c => item.push(c),
            }
        }
        items.push(item);
    }
    items
}

/// How a note names a module schedule: `"nominal" at line 104`, or `at line 56` without a
/// ScheduleName.
fn schedule_label(doc: &Document<'_>, schedule: Node<'_, '_>) -> String {
    let line = doc.text_pos_at(schedule.range().start).row;
    match schedule
        .attribute("ScheduleName")
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(name) => format!("{name:?} at line {line}"),
        None => format!("at line {line}"),
    }
}

/// Windows the notes drop: those of the module schedules the schedule note leaves out
/// ("only module schedule A (...) is imported: ...; left out: B (3 windows), C (1 window)").
/// Each count is checked against the schedule's windows in the XML.
fn noted_windows(file: &str, notes: &[String], doc: &Document<'_>) -> usize {
    let Some(note) = notes
        .iter()
        .find(|n| n.starts_with("only module schedule "))
    else {
        return 0;
    };
    let (_, left_out) = note
        .split_once("; left out: ")
        .unwrap_or_else(|| panic!("{file}: the schedule note names no schedule left out: {note}"));
    let schedules: Vec<(String, usize)> = children(doc.root_element(), "Module_Schedule")
        .map(|s| (schedule_label(doc, s), schedule_windows(s)))
        .collect();
    left_out
        .split("), ")
        .map(|item| {
            let (label, counted) = item
                .trim_end_matches(')')
                .rsplit_once(" (")
                .unwrap_or_else(|| panic!("{file}: no window count for {item:?}: {note}"));
            let noted: usize = counted
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{file}: not a window count {counted:?}: {note}"));
            let in_xml = schedules
                .iter()
                .find(|(l, _)| l == label)
                .map(|(_, windows)| *windows)
                .unwrap_or_else(|| {
                    panic!("{file}: the note leaves out module schedule {label}, which is not in the XML: {note}")
                });
            assert_eq!(noted, in_xml, "{file}: windows of {label}: {note}");
            noted
        })
        .sum()
}

/// Ports the notes leave out ("ports of partition "p" that no imported channel connects are
/// left out (...): "A", "B""), each checked to be a port of the XML.
fn noted_ports(file: &str, notes: &[String], doc: &Document<'_>) -> usize {
    let xml_ports: Vec<&str> = children(doc.root_element(), "Partition")
        .flat_map(|p| children(p, "Sampling_Port").chain(children(p, "Queuing_Port")))
        .filter_map(|p| p.attribute("Name"))
        .collect();
    let mut n = 0;
    for note in notes
        .iter()
        .filter(|n| n.starts_with("ports of partition "))
    {
        let Some((_, rest)) = note.split_once(" that no imported channel connects are left out")
        else {
            continue;
        };
        let (_, list) = rest
            .split_once("): ")
            .unwrap_or_else(|| panic!("{file}: a note leaves ports out but lists none: {note}"));
        let names = quoted(list);
        assert!(!names.is_empty(), "{file}: no port in: {note}");
        for name in &names {
            assert!(
                xml_ports.contains(&name.as_str()),
                "{file}: the note leaves out port {name:?}, which is not in the XML: {note}"
            );
        }
        n += names.len();
    }
    n
}

/// Channels the notes drop whole ("channel X is dropped: its source is Pseudo_Partition ...",
/// "channel X is dropped: all its destinations are pseudo partitions"). A dropped
/// Pseudo_Partition destination of a channel that is kept ("channel X: destination
/// Pseudo_Partition ... is dropped") drops no channel.
fn noted_channels(notes: &[String]) -> usize {
    notes
        .iter()
        .filter(|n| n.starts_with("channel "))
        .filter(|n| {
            n.contains(" is dropped: its source is Pseudo_Partition ")
                || n.ends_with(" is dropped: all its destinations are pseudo partitions")
        })
        .count()
}

/// HM actions the notes account for (see `common::noted_hm_actions`).
fn noted_hm(file: &str, notes: &[String]) -> (usize, usize) {
    common::noted_hm_actions(file, notes)
}

/// What the notes say was dropped, by kind. No note drops a partition: a partition the import
/// cannot express stops it with an error.
fn noted_counts(file: &str, notes: &[String], doc: &Document<'_>) -> Counts {
    let (lost, merged) = noted_hm(file, notes);
    [
        0,
        noted_windows(file, notes, doc),
        noted_ports(file, notes, doc),
        noted_channels(notes),
        lost + merged,
    ]
}

/// The HM summary note agrees with the XML and the per-table notes: "HM tables: N actions in
/// the XML; ...; L not imported".
fn check_hm_summary(file: &str, imported: &Imported, xml_actions: usize) {
    let (lost, _) = noted_hm(file, &imported.notes);
    if xml_actions == 0 {
        return;
    }
    let summary = imported
        .notes
        .iter()
        .find(|n| n.starts_with("HM tables: "))
        .unwrap_or_else(|| panic!("{file}: no HM summary note\n{:#?}", imported.notes));
    assert!(
        summary.starts_with(&format!("HM tables: {xml_actions} action")),
        "{file}: the summary does not count the XML's {xml_actions} actions: {summary}"
    );
    assert_eq!(
        summary.contains(&format!("; {lost} not imported")),
        lost > 0,
        "{file}: the summary does not say the {lost} actions the notes drop: {summary}"
    );
}

struct Balance {
    name: &'static str,
    xml: Counts,
    toml: Counts,
    noted: Counts,
}

fn balance(name: &'static str) -> Balance {
    let file = format!("{name}.xml");
    let text = read(name);
    let doc = Document::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let imported = import_str(&file, &text, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{file} does not import:\n{e}"));
    if let Err(e) = imported.check(&format!("{name}.toml"), Path::new("/cfg")) {
        panic!(
            "{file}: the import does not load:\n{e}\n--- toml ---\n{}",
            imported.toml
        );
    }
    let xml = xml_counts(&doc);
    check_hm_summary(&file, &imported, xml[HM_ACTIONS]);
    Balance {
        name,
        xml,
        toml: toml_counts(&imported.toml),
        noted: noted_counts(&file, &imported.notes, &doc),
    }
    .checked(&imported)
}

impl Balance {
    /// Asserts `in == out + noted` for every kind.
    fn checked(self, imported: &Imported) -> Self {
        for (k, kind) in KINDS.iter().enumerate() {
            let (i, o, n) = (self.xml[k], self.toml[k], self.noted[k]);
            assert!(
                i == o + n,
                "{}.xml: {kind}: {i} in the XML, {o} in the TOML, {n} noted as dropped ({i} != {o} + {n})\nnotes:\n{}",
                self.name,
                imported.notes.join("\n")
            );
        }
        self
    }
}

#[test]
fn the_walk_counts_what_the_fixtures_hold() {
    for (name, expected) in FIXTURES {
        let text = read(name);
        let doc = Document::parse(&text).unwrap_or_else(|e| panic!("{name}.xml: {e}"));
        assert_eq!(
            xml_counts(&doc),
            *expected,
            "{name}.xml: counts of {KINDS:?}"
        );
    }
}

#[test]
fn every_element_is_in_the_toml_or_a_note() {
    let mut table = vec![format!(
        "| fixture | {} |",
        KINDS.map(|k| format!("{k} in / out + noted")).join(" | ")
    )];
    for (name, _) in FIXTURES {
        let b = balance(name);
        let cells: Vec<String> = (0..KINDS.len())
            .map(|k| format!("{} / {} + {}", b.xml[k], b.toml[k], b.noted[k]))
            .collect();
        table.push(format!("| {} | {} |", b.name, cells.join(" | ")));
    }
    // Shown with `--nocapture`.
    println!("{}", table.join("\n"));
}

/// Each kind of loss happens somewhere in the corpus, so the balance is tested on notes and not
/// only on files where nothing is dropped.
#[test]
fn the_corpus_drops_something_of_every_kind_that_can_be_dropped() {
    let balances: Vec<Balance> = FIXTURES.iter().map(|(name, _)| balance(name)).collect();
    for k in [WINDOWS, PORTS, CHANNELS, HM_ACTIONS] {
        assert!(
            balances.iter().any(|b| b.noted[k] > 0),
            "no fixture drops any {}",
            KINDS[k]
        );
    }
    assert!(
        balances
            .iter()
            .all(|b| b.noted[PARTITIONS] == 0 && b.xml[PARTITIONS] == b.toml[PARTITIONS]),
        "every partition is imported"
    );
    // One fixture loses nothing but HM actions: the balance also holds when in == out.
    assert!(
        balances
            .iter()
            .any(|b| b.noted[..HM_ACTIONS].iter().all(|n| *n == 0)),
        "every fixture drops a window, port or channel"
    );
}

#[test]
fn quoted_names_are_read_whole() {
    assert_eq!(quoted(r#""A", "b, c", "d\"e""#), ["A", "b, c", "d\"e"]);
    assert!(quoted("none").is_empty());
}
