//! The three ARINC 653 health-monitor tables → `[module.hm]` and each `[partition.hm]`.
//!
//! ARINC numbers errors (`ErrorIdentifier`) and lets the `System_HM_Table` say which error
//! code each number is (`ErrorCode`) and at which level it is handled, per system state.
//! pkernel names errors and has one table per level, so: one system state is imported (the
//! normal-execution one), numbers are resolved to error names through `ErrorCode`, module-level
//! errors go to `[module.hm]`, partition- and process-level ones to the partition tables.

use std::collections::{BTreeMap, BTreeSet};

use apex_api::health::{HmError, ModuleAction, PartitionAction};
use roxmltree::Node;

use super::ir::Partition;
use super::read::{Index, resolve};
use super::xml::{Cx, elements, is, norm, parse_ident, shown, tag};

/// Where the System_HM_Table handles an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Module,
    Partition,
    Process,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Module => "MODULE",
            Level::Partition => "PARTITION",
            Level::Process => "PROCESS",
        }
    }
}

/// An `ErrorIdentifier`: a number, or (liberally) an error code written in its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Id(i64),
    Code(HmError),
}

/// An ARINC error code (`DEADLINE_MISSED`, `POWER_FAILURE`, ...) or a pkernel error name.
fn error_code(s: &str) -> Option<HmError> {
    let n = norm(s);
    if n == "powerfailure" {
        return Some(HmError::PowerFail);
    }
    HmError::ALL.iter().copied().find(|e| norm(e.name()) == n)
}

fn module_action(s: &str) -> Option<ModuleAction> {
    let n = norm(s);
    ModuleAction::ALL
        .iter()
        .copied()
        .find(|a| norm(a.name()) == n)
}

/// A partition action; ARINC tools also write `WARM_RESTART` / `COLD_RESTART`.
fn partition_action(s: &str) -> Option<PartitionAction> {
    let n = norm(s);
    let n = n
        .strip_suffix("restart")
        .map_or(n.clone(), |stem| format!("{stem}start"));
    PartitionAction::ALL
        .iter()
        .copied()
        .find(|a| norm(a.name()) == n)
}

/// One `<System_State_Entry>`.
struct StateEntry<'a, 'i> {
    node: Node<'a, 'i>,
    state: i64,
    description: String,
}

fn state_entries<'a, 'i>(cx: &mut Cx<'_>, table: Node<'a, 'i>) -> Vec<StateEntry<'a, 'i>> {
    let mut out = Vec::new();
    for e in elements(table) {
        if !is(e, &["System_State_Entry"]) {
            cx.ignore(e);
            continue;
        }
        let state = cx
            .required(e, &["SystemState"], "the system state the entry applies in")
            .and_then(|a| cx.ident(&a));
        let description = cx.text_attr(e, &["Description"]).unwrap_or_default();
        if let Some(state) = state {
            out.push(StateEntry {
                node: e,
                state,
                description,
            });
        }
    }
    out
}

/// Whether a state's description says it is normal execution ("Partition is Running",
/// "Process execution", "normal mode") rather than initialisation, idling or error handling.
fn describes_normal(description: &str) -> bool {
    let words: Vec<String> = description
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    has(&[
        "normal",
        "running",
        "run",
        "execution",
        "executing",
        "operational",
        "operation",
    ]) && !has(&[
        "not",
        "no",
        "halted",
        "halt",
        "stopped",
        "idle",
        "init",
        "initialization",
        "initialisation",
        "initializing",
        "initialising",
        "ready",
        "shutdown",
        "startup",
        "start",
        "handler",
        "error",
        "switching",
        "switch",
    ])
}

/// What the System_HM_Table says about error numbers and codes in the imported state.
#[derive(Default)]
struct SystemTable {
    ids: BTreeMap<i64, (Level, Option<HmError>)>,
    codes: BTreeMap<HmError, Level>,
}

/// Reads the three kinds of HM table into `[module.hm]` (returned) and each partition's table.
pub(super) fn tables(
    cx: &mut Cx<'_>,
    system: &[Node<'_, '_>],
    module: &[Node<'_, '_>],
    partition_tables: &[Node<'_, '_>],
    parts: &mut [Partition],
    index: &Index,
) -> BTreeMap<HmError, ModuleAction> {
    let system_entries: Vec<StateEntry> =
        system.iter().flat_map(|t| state_entries(cx, *t)).collect();
    let module_entries: Vec<StateEntry> =
        module.iter().flat_map(|t| state_entries(cx, *t)).collect();
    let mut partition_entries = Vec::new();
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for &t in partition_tables {
        let Some(pi) = resolve(cx, t, parts, index) else {
            continue;
        };
        if let Some(line) = seen.get(&pi) {
            let at = cx.pos(t);
            cx.invalid(
                at,
                format!("the partition already has a <Partition_HM_Table> at line {line}"),
                "merge the partition's HM tables into one",
            );
            continue;
        }
        seen.insert(pi, cx.line(t));
        if cx.attr(t, &["PartitionCallback"]).is_some() {
            let name = parts.get(pi).map(|p| p.name.clone()).unwrap_or_default();
            cx.note(format!(
                "PartitionCallback of partition {name:?} is not kept: the partition installs its error handler itself"
            ));
        }
        partition_entries.push((pi, state_entries(cx, t)));
    }
    for &t in module {
        if cx.attr(t, &["ModuleCallback"]).is_some() {
            cx.note("ModuleCallback is not kept: pkernel has no module HM callback".to_owned());
        }
    }

    let all: Vec<&StateEntry> = system_entries
        .iter()
        .chain(&module_entries)
        .chain(partition_entries.iter().flat_map(|(_, e)| e))
        .collect();
    let chosen = choose_state(cx, &all);
    let table = system_table(cx, &in_state(&system_entries, chosen));
    let mut module_hm = BTreeMap::new();
    let mut unresolved = Vec::new();
    let mut dropped = Vec::new();
    for entry in in_state(&module_entries, chosen) {
        for (error, key, level, action, at_line) in actions(
            cx,
            entry,
            &table,
            &mut unresolved,
            module_action,
            "SHUTDOWN, RESET or IGNORE",
        ) {
            if let Some(level @ (Level::Partition | Level::Process)) = level {
                dropped.push(format!(
                    "{} ({}: the System_HM_Table handles it at {} level)",
                    error.name(),
                    key_label(key),
                    level.name()
                ));
                continue;
            }
            insert(
                cx,
                &mut module_hm,
                error,
                action,
                "Module_HM_Table",
                at_line,
                ModuleAction::name,
            );
        }
    }
    unresolved_note(cx, "Module_HM_Table", &unresolved);
    if !dropped.is_empty() {
        cx.note(format!(
            "Module_HM_Table entries dropped (ARINC never consults the module table for them): {}",
            dropped.join("; ")
        ));
    }

    let mut process = BTreeSet::new();
    for (pi, entries) in partition_entries {
        let Some(name) = parts.get(pi).map(|p| p.name.clone()) else {
            continue;
        };
        let label = format!("Partition_HM_Table of {name:?}");
        let mut hm = BTreeMap::new();
        let mut unresolved = Vec::new();
        let mut dropped = Vec::new();
        for entry in in_state(&entries, chosen) {
            for (error, key, level, action, at_line) in actions(
                cx,
                entry,
                &table,
                &mut unresolved,
                partition_action,
                "IGNORE, IDLE, WARM_START or COLD_START",
            ) {
                let why = if level == Some(Level::Module) {
                    Some("the System_HM_Table handles it at MODULE level")
                } else if module_hm.contains_key(&error) {
                    Some("[module.hm] handles it")
                } else if error.is_module_only() {
                    Some("it is a module-level error")
                } else {
                    None
                };
                if let Some(why) = why {
                    dropped.push(format!("{} ({}: {why})", error.name(), key_label(key)));
                    continue;
                }
                if level == Some(Level::Process) {
                    process.insert(error.name());
                }
                insert(
                    cx,
                    &mut hm,
                    error,
                    action,
                    &label,
                    at_line,
                    PartitionAction::name,
                );
            }
        }
        unresolved_note(cx, &label, &unresolved);
        if !dropped.is_empty() {
            cx.note(format!("{label}: entries dropped: {}", dropped.join("; ")));
        }
        if let Some(p) = parts.get_mut(pi) {
            p.hm = hm.into_iter().map(|(e, (a, _))| (e, a)).collect();
        }
    }
    if !process.is_empty() {
        cx.note(format!(
            "errors the System_HM_Table puts at PROCESS level ({}) are handled by the partition OS's error handler in ARINC 653; their Partition_HM_Table actions become partition HM actions",
            process.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    module_hm.into_iter().map(|(e, (a, _))| (e, a)).collect()
}

/// The state entries of the imported system state.
fn in_state<'a, 'i>(entries: &[StateEntry<'a, 'i>], chosen: Option<i64>) -> Vec<Node<'a, 'i>> {
    entries
        .iter()
        .filter(|e| Some(e.state) == chosen)
        .map(|e| e.node)
        .collect()
}

fn key_label(key: Key) -> String {
    match key {
        Key::Id(n) => format!("error identifier {n}"),
        Key::Code(c) => format!("error {}", c.name()),
    }
}

/// Adds `error → action`; a second, different action for the same error is noted and dropped.
fn insert<A: Copy + PartialEq>(
    cx: &mut Cx<'_>,
    table: &mut BTreeMap<HmError, (A, usize)>,
    error: HmError,
    action: A,
    label: &str,
    line: usize,
    name: fn(A) -> &'static str,
) {
    match table.get(&error) {
        Some(&(first, first_line)) if first != action => cx.note(format!(
            "{label}: {} is given {:?} at line {first_line} and {:?} at line {line}; the first is kept",
            error.name(),
            name(first),
            name(action)
        )),
        Some(_) => {}
        None => {
            table.insert(error, (action, line));
        }
    }
}

/// The system state whose entries are imported: the only one, the first described as normal
/// execution, or the one with the most entries.
fn choose_state(cx: &mut Cx<'_>, entries: &[&StateEntry<'_, '_>]) -> Option<i64> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for e in entries {
        let n = counts.entry(e.state).or_insert(0);
        *n = n.saturating_add(elements(e.node).count());
    }
    if counts.len() <= 1 {
        return counts.keys().next().copied();
    }
    let states: Vec<String> = counts.keys().map(i64::to_string).collect();
    let normal = entries.iter().find(|e| describes_normal(&e.description));
    let chosen = match normal {
        Some(e) => {
            cx.note(format!(
                "the HM tables give system states {}; pkernel has one HM table per level, so only system state {} ({}) is imported and the entries of the other states are dropped",
                states.join(", "),
                e.state,
                shown(&e.description)
            ));
            e.state
        }
        None => {
            let most = counts
                .iter()
                .max_by_key(|(state, n)| (**n, std::cmp::Reverse(**state)))
                .map_or(0, |(state, _)| *state);
            cx.note(format!(
                "the HM tables give system states {}, none described as normal execution; pkernel has one HM table per level, so only system state {most} (the one with the most entries) is imported: check that it is the one in force while partitions run",
                states.join(", ")
            ));
            most
        }
    };
    Some(chosen)
}

/// Reads the `<Error_ID_Level>` entries of the imported state.
fn system_table(cx: &mut Cx<'_>, entries: &[Node<'_, '_>]) -> SystemTable {
    let mut table = SystemTable::default();
    let mut lines: BTreeMap<i64, usize> = BTreeMap::new();
    for &entry in entries {
        for e in elements(entry) {
            if !is(e, &["Error_ID_Level"]) {
                cx.ignore(e);
                continue;
            }
            let key = error_key(cx, e);
            let level = cx
                .required(e, &["ErrorLevel"], "MODULE, PARTITION or PROCESS")
                .and_then(|a| match norm(a.value()).as_str() {
                    "module" => Some(Level::Module),
                    "partition" => Some(Level::Partition),
                    "process" => Some(Level::Process),
                    _ => {
                        let at = cx.attr_pos(&a);
                        cx.invalid(
                            at,
                            format!(
                                "ErrorLevel {} is not MODULE, PARTITION or PROCESS",
                                shown(a.value())
                            ),
                            "write MODULE, PARTITION or PROCESS",
                        );
                        None
                    }
                });
            let code = code_attr(cx, e);
            let (Some(key), Some(level), Some(code)) = (key, level, code) else {
                continue;
            };
            match key {
                Key::Id(n) => {
                    if let Some(line) = lines.get(&n) {
                        let at = cx.pos(e);
                        cx.invalid(
                            at,
                            format!("error identifier {n} is already given a level at line {line}"),
                            "list every error identifier once per system state",
                        );
                        continue;
                    }
                    lines.insert(n, cx.line(e));
                    table.ids.insert(n, (level, code));
                    if let Some(c) = code {
                        table.codes.entry(c).or_insert(level);
                    }
                }
                Key::Code(c) => {
                    table.codes.entry(c).or_insert(level);
                }
            }
        }
    }
    table
}

/// `ErrorIdentifier` of `e`: a number, or an error code.
fn error_key(cx: &mut Cx<'_>, e: Node<'_, '_>) -> Option<Key> {
    let a = cx.required(e, &["ErrorIdentifier"], "the number of the error")?;
    if let Ok(n) = parse_ident(a.value()) {
        return Some(Key::Id(n));
    }
    if let Some(c) = error_code(a.value()) {
        return Some(Key::Code(c));
    }
    let at = cx.attr_pos(&a);
    cx.invalid(
        at,
        format!(
            "ErrorIdentifier {} is neither a number nor an ARINC 653 error code",
            shown(a.value())
        ),
        "write the error's number, e.g. ErrorIdentifier=\"3\"",
    );
    None
}

/// `ErrorCode` of `e`: `Some(None)` when absent, `None` when invalid (reported).
fn code_attr(cx: &mut Cx<'_>, e: Node<'_, '_>) -> Option<Option<HmError>> {
    let Some(a) = cx.attr(e, &["ErrorCode"]) else {
        return Some(None);
    };
    match error_code(a.value()) {
        Some(c) => Some(Some(c)),
        None => {
            let at = cx.attr_pos(&a);
            cx.invalid(
                at,
                format!("ErrorCode {} is not an ARINC 653 error code", shown(a.value())),
                "write one of DEADLINE_MISSED, APPLICATION_ERROR, NUMERIC_ERROR, ILLEGAL_REQUEST, STACK_OVERFLOW, MEMORY_VIOLATION, HARDWARE_FAULT, POWER_FAILURE",
            );
            None
        }
    }
}

/// One resolved `<Error_ID_Action>`: error, as written, its level, action, line.
type Resolved<A> = (HmError, Key, Option<Level>, A, usize);

/// The `<Error_ID_Action>` entries of one state entry, resolved to pkernel errors; those the
/// System_HM_Table gives no error code are added to `unresolved`.
fn actions<A>(
    cx: &mut Cx<'_>,
    entry: Node<'_, '_>,
    table: &SystemTable,
    unresolved: &mut Vec<String>,
    parse: fn(&str) -> Option<A>,
    allowed: &str,
) -> Vec<Resolved<A>> {
    let mut out = Vec::new();
    for e in elements(entry) {
        if !is(e, &["Error_ID_Action"]) {
            cx.ignore(e);
            continue;
        }
        let key = error_key(cx, e);
        let action = cx
            .required(e, &["Action"], allowed)
            .and_then(|a| match parse(a.value()) {
                Some(action) => Some(action),
                None => {
                    let at = cx.attr_pos(&a);
                    cx.invalid(
                        at,
                        format!(
                            "Action {} is not an action of {}",
                            shown(a.value()),
                            tag(entry.parent().unwrap_or(entry))
                        ),
                        format!("write {allowed}"),
                    );
                    None
                }
            });
        let own_code = code_attr(cx, e);
        let (Some(key), Some(action), Some(own_code)) = (key, action, own_code) else {
            continue;
        };
        let (error, level) = match (own_code, key) {
            (Some(c), Key::Id(n)) => (
                c,
                table
                    .ids
                    .get(&n)
                    .map(|(l, _)| *l)
                    .or_else(|| table.codes.get(&c).copied()),
            ),
            (Some(c), Key::Code(_)) | (None, Key::Code(c)) => (c, table.codes.get(&c).copied()),
            (None, Key::Id(n)) => match table.ids.get(&n) {
                Some((level, Some(c))) => (*c, Some(*level)),
                _ => {
                    let description = cx.text_attr(e, &["Description"]).unwrap_or_default();
                    unresolved.push(if description.is_empty() {
                        n.to_string()
                    } else {
                        format!("{n} ({})", shown(&description))
                    });
                    continue;
                }
            },
        };
        out.push((error, key, level, action, cx.line(e)));
    }
    out
}

fn unresolved_note(cx: &mut Cx<'_>, label: &str, unresolved: &[String]) {
    if !unresolved.is_empty() {
        let (these, them) = if unresolved.len() == 1 {
            ("error identifier", "it")
        } else {
            ("error identifiers", "them")
        };
        cx.note(format!(
            "{label}: {these} {} not imported: the System_HM_Table gives {them} no ErrorCode, so the pkernel error is unknown",
            unresolved.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_state_descriptions() {
        for yes in [
            "Partition is Running",
            "Process execution",
            "normal mode",
            "NORMAL",
        ] {
            assert!(describes_normal(yes), "{yes}");
        }
        for no in [
            "Partition is not Running",
            "Partition is Ready but not Running",
            "Partition Execution is Halted",
            "Partition is Initializing",
            "Error handler execution",
            "Module initialization",
            "",
        ] {
            assert!(!describes_normal(no), "{no}");
        }
    }

    #[test]
    fn codes_and_actions() {
        assert_eq!(error_code("POWER_FAILURE"), Some(HmError::PowerFail));
        assert_eq!(error_code("deadline_missed"), Some(HmError::DeadlineMissed));
        assert_eq!(error_code("DEADLINE MISSED"), Some(HmError::DeadlineMissed));
        assert_eq!(error_code("OVERFLOW"), None);
        assert_eq!(
            partition_action("COLD_RESTART"),
            Some(PartitionAction::ColdStart)
        );
        assert_eq!(module_action("IDLE"), None);
    }
}
