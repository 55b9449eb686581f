//! The three ARINC 653 health-monitor tables → `[module.hm]` and each `[partition.hm]`.
//!
//! ARINC numbers errors (`ErrorIdentifier`) and lets the `System_HM_Table` say, per system
//! state, at which level each is handled and which ARINC error code it is (`ErrorCode`).
//! pkernel names its errors and has one table per level, in force whatever the system is
//! doing. So:
//!
//! - one system state is imported: the partitions' normal execution, recognised by its
//!   description ([`state_kind`]) and never the kernel's own state ([`choose_state`]);
//! - each action's error is resolved to a pkernel error through an `ErrorCode`, or else through
//!   the name or description of the error, as AIR, POK and ARINC tools write them
//!   ([`classify`]); a bare number is never guessed;
//! - module-level errors go to `[module.hm]`, partition- and process-level ones to the
//!   partition tables, with the actions translated by [`partition_action`] and [`module_action`];
//! - every action that is not imported is noted with why and what the TOML would need, and a
//!   summary note counts them: the XML's actions are the imported ones plus the noted ones.
//!
//! `docs/import.md` documents these tables and rules for users: keep the two in step.

use std::collections::BTreeMap;

use apex_api::health::{HmError, ModuleAction, PartitionAction};
use roxmltree::Node;

use super::ir::Partition;
use super::read::{Index, resolve};
use super::xml::{Cx, elements, is, norm, parse_ident, shown};

/// Where the System_HM_Table handles an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Module,
    Partition,
    Process,
}

/// An `ErrorIdentifier` as written: a number, or (liberally) a name in its place.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    Id(i64),
    /// An ARINC 653, POK or pkernel error code: `STACK_OVERFLOW`.
    Code(HmError),
    /// Any other name (`POK_ERROR_KIND_PARTITION_INIT`), resolved like a description.
    Name(String),
}

/// What an ARINC error code, AIR or POK error name, or error description stands for in pkernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Meaning {
    Error(HmError),
    /// An error ARINC tools name that pkernel has no counterpart for.
    Missing(Missing),
}

/// Errors of ARINC 653 implementations that pkernel does not have, by why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Missing {
    /// `Configuration Error`, `Partition Conf Error`, `POK_ERROR_KIND_PARTITION_CONFIGURATION`.
    Configuration,
    /// `Partition Init Error`, `POK_ERROR_KIND_PARTITION_INIT`, POK's `PARTLOAD_ERROR`.
    Initialisation,
    /// AIR's `Debug Error`.
    Debug,
    /// POK's `PARTITION_HANDLER`: an error in the partition's error handler.
    Handler,
}

impl Missing {
    fn why(self) -> &'static str {
        match self {
            Missing::Configuration => {
                "pkernel has no run-time configuration error: schedule-gen refuses an inconsistent configuration before the kernel is built"
            }
            Missing::Initialisation => {
                "pkernel has no initialisation error: it checks partition images before starting them (a failed check is kernel_fault), and a partition that fails to initialise reports it as application_error"
            }
            Missing::Debug => {
                "a debug exception is taken by the partition itself and never reaches pkernel"
            }
            Missing::Handler => {
                "pkernel has no error-handler state: an error raised while the partition handles another is an error of the partition like any other"
            }
        }
    }

    fn need(self) -> &'static str {
        match self {
            Missing::Configuration | Missing::Debug => "nothing",
            Missing::Initialisation => {
                "nothing, or application_error under [partition.hm] if the partition reports the failure"
            }
            Missing::Handler => "nothing: the line of the error itself applies",
        }
    }
}

/// `s` as an exact error code: an ARINC 653 `ErrorCode` (`DEADLINE_MISSED`, `POWER_FAIL` or
/// `POWER_FAILURE`), a POK error (`POK_ERROR_KIND_STACK_OVERFLOW`, `POK_ERROR_ID_...`), or a
/// pkernel error name.
fn error_code(s: &str) -> Option<HmError> {
    let n = norm(s);
    let n = ["pokerrorkind", "pokerrorid", "pokerror"]
        .iter()
        .find_map(|prefix| n.strip_prefix(prefix))
        .unwrap_or(&n);
    match n {
        "powerfailure" => Some(HmError::PowerFail),
        "deadlinemiss" => Some(HmError::DeadlineMissed),
        _ => HmError::ALL.iter().copied().find(|e| norm(e.name()) == n),
    }
}

/// How many words of a description are looked at: descriptions of states and errors are
/// short phrases, and hostile input must not make every rule scan a megabyte.
const MAX_WORDS: usize = 32;

/// The first [`MAX_WORDS`] words of `s`, lower case: split at anything not alphanumeric and where a lower-case
/// letter meets an upper-case one (`DeadlineMissed`, `POK_ERROR_KIND_NUMERIC_ERROR`, `I/O`).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut after_lower = false;
    for c in s.chars() {
        if out.len() >= MAX_WORDS {
            return out;
        }
        let boundary = !c.is_alphanumeric() || (c.is_uppercase() && after_lower);
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        after_lower = c.is_lowercase();
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Word tests on a description.
struct Words(Vec<String>);

impl Words {
    fn of(s: &str) -> Self {
        Words(words(s))
    }

    /// Whether one of the words is one of `list`.
    fn any(&self, list: &[&str]) -> bool {
        self.0.iter().any(|w| list.contains(&w.as_str()))
    }

    /// Whether one of the words starts with one of `stems`.
    fn stem(&self, stems: &[&str]) -> bool {
        self.0
            .iter()
            .any(|w| stems.iter().any(|s| w.starts_with(s)))
    }

    /// Whether the words hold `first` directly followed by `second` (`I/O`).
    fn pair(&self, first: &str, second: &str) -> bool {
        self.0.windows(2).any(|p| match p {
            [a, b] => a == first && b == second,
            _ => false,
        })
    }
}

/// What an error code, name or description (`ErrorCode="NUMERIC_ERROR"`, AIR's
/// `Description="Divide by zero"`, `POK_ERROR_KIND_PARTITION_INIT`) stands for in pkernel;
/// `None` when it is not recognised. The rules are tried in order, so that e.g. "App Hardware
/// Error" is a hardware fault and "Module Config Error" a configuration error; the table in
/// `docs/import.md` lists them.
fn classify(text: &str) -> Option<Meaning> {
    use HmError::*;
    if let Some(e) = error_code(text) {
        return Some(Meaning::Error(e));
    }
    let w = Words::of(text);
    let meaning = if w.stem(&["config", "conf"]) || w.any(&["cfg"]) {
        Meaning::Missing(Missing::Configuration)
    } else if w.any(&["kernel", "pmk", "microkernel", "hypervisor", "module"]) {
        // POK's KERNEL_INIT / KERNEL_SCHEDULING, ARINC's MODULE_INIT: the kernel failing.
        Meaning::Error(KernelFault)
    } else if w.stem(&["deadline", "overrun"]) || w.any(&["budget"]) {
        Meaning::Error(DeadlineMissed)
    } else if w.stem(&["init", "load", "partload", "procinit", "boot", "startup"]) {
        Meaning::Missing(Missing::Initialisation)
    } else if w.stem(&["debug", "breakpoint", "watchpoint"]) {
        Meaning::Missing(Missing::Debug)
    } else if w.any(&["handler"]) {
        Meaning::Missing(Missing::Handler)
    } else if w.stem(&["stack"]) {
        Meaning::Error(StackOverflow)
    } else if w.stem(&["power"]) {
        Meaning::Error(PowerFail)
    } else if w.stem(&["hardware", "device", "cache", "parity"])
        || w.any(&["io", "bus", "ecc", "serror", "external"])
        || w.pair("i", "o")
    {
        Meaning::Error(HardwareFault)
    } else if w.stem(&[
        "numeric",
        "arithmetic",
        "float",
        "fpu",
        "divi",
        "overflow",
        "underflow",
    ]) {
        Meaning::Error(NumericError)
    } else if w.stem(&["request"]) {
        Meaning::Error(IllegalRequest)
    } else if w.stem(&["instruction", "unimplemented", "opcode", "privileged"]) {
        Meaning::Error(IllegalInstruction)
    } else if w.stem(&[
        "memory",
        "segment",
        "segfault",
        "violation",
        "translation",
        "alignment",
        "access",
        "mmu",
        "mpu",
        "page",
    ]) {
        Meaning::Error(MemoryViolation)
    } else if w.stem(&["application", "apex"]) || w.any(&["app"]) {
        Meaning::Error(ApplicationError)
    } else {
        return None;
    };
    Some(meaning)
}

/// An `Action` as ARINC 653, AIR, POK (AADL annex) or XtratuM-style tools write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WrittenAction {
    Ignore,
    Idle,
    ColdStart,
    WarmStart,
    /// `STOP`, `HALT`: the partition's in a partition table, the module's in the module table.
    Stop,
    /// `RESTART`: likewise.
    Restart,
    /// `SHUTDOWN`, `MODULE_STOP`, `KERNEL_STOP`: the ARINC module actions.
    ModuleShutdown,
    /// `RESET`, `MODULE_RESTART`, `KERNEL_RESTART`.
    ModuleReset,
    /// `PROCESS_STOP`, `PROCESS_RESTART`, POK's `THREAD_RESTART`, ...
    Process,
    /// The AADL annex's `CONFIRM`.
    Confirm,
    Unknown,
}

fn written_action(s: &str) -> WrittenAction {
    use WrittenAction::*;
    let n = norm(s);
    let n = [
        "pokerrormoduleaction",
        "pokerroraction",
        "pokaction",
        "xmhmac",
    ]
    .iter()
    .find_map(|prefix| n.strip_prefix(prefix))
    .unwrap_or(&n);
    match n {
        "ignore" | "nothing" | "none" | "noaction" => Ignore,
        "idle" | "partitionidle" | "partitionstop" | "stoppartition" | "partitionhalt"
        | "haltpartition" | "partitionshutdown" | "shutdownpartition" => Idle,
        "coldstart"
        | "coldrestart"
        | "coldreset"
        | "partitioncoldstart"
        | "partitioncoldrestart"
        | "partitioncoldreset"
        | "partitionrestart"
        | "restartpartition" => ColdStart,
        "warmstart"
        | "warmrestart"
        | "warmreset"
        | "partitionwarmstart"
        | "partitionwarmrestart"
        | "partitionwarmreset" => WarmStart,
        "stop" | "halt" => Stop,
        "restart" => Restart,
        "shutdown" | "moduleshutdown" | "modulestop" | "stopmodule" | "modulehalt"
        | "kernelstop" | "poweroff" => ModuleShutdown,
        "reset"
        | "modulereset"
        | "modulerestart"
        | "restartmodule"
        | "kernelrestart"
        | "reboot"
        | "hypervisorcoldreset"
        | "hypervisorwarmreset" => ModuleReset,
        "confirm" => Confirm,
        _ if n.contains("process") || n.contains("thread") => Process,
        _ => Unknown,
    }
}

/// An action of a `Partition_HM_Table`, or why it is not one pkernel has.
fn partition_action(s: &str) -> Result<PartitionAction, Loss> {
    match written_action(s) {
        WrittenAction::Ignore => Ok(PartitionAction::Ignore),
        WrittenAction::Idle | WrittenAction::Stop => Ok(PartitionAction::Idle),
        WrittenAction::ColdStart | WrittenAction::Restart => Ok(PartitionAction::ColdStart),
        WrittenAction::WarmStart => Ok(PartitionAction::WarmStart),
        WrittenAction::ModuleShutdown | WrittenAction::ModuleReset => Err(Loss::ModuleAction),
        WrittenAction::Process => Err(Loss::ProcessAction),
        WrittenAction::Confirm => Err(Loss::Confirm),
        WrittenAction::Unknown => Err(Loss::UnknownAction),
    }
}

/// An action of the `Module_HM_Table`, or why it is not one pkernel has.
fn module_action(s: &str) -> Result<ModuleAction, Loss> {
    match written_action(s) {
        WrittenAction::Ignore => Ok(ModuleAction::Ignore),
        WrittenAction::ModuleShutdown | WrittenAction::Stop => Ok(ModuleAction::Shutdown),
        WrittenAction::ModuleReset | WrittenAction::Restart => Ok(ModuleAction::Reset),
        WrittenAction::Idle | WrittenAction::ColdStart | WrittenAction::WarmStart => {
            Err(Loss::PartitionAction)
        }
        WrittenAction::Process => Err(Loss::ProcessAction),
        WrittenAction::Confirm => Err(Loss::Confirm),
        WrittenAction::Unknown => Err(Loss::UnknownAction),
    }
}

/// Which kind of table an action is in (the texts of notes differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TableKind {
    Module,
    Partition,
}

impl TableKind {
    fn section(self) -> &'static str {
        match self {
            TableKind::Module => "[module.hm]",
            TableKind::Partition => "[partition.hm]",
        }
    }
}

/// Why an action of the imported state is not imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Loss {
    /// Nothing says which pkernel error the identifier is.
    UnknownError,
    /// The error is one pkernel does not have.
    NoSuchError(Missing),
    /// Module table: the System_HM_Table puts the error at PARTITION or PROCESS level.
    NotModuleLevel,
    /// Partition table: `[module.hm]` names the error.
    HandledByModule,
    /// Partition table: the System_HM_Table puts the error at MODULE level, but the module
    /// table gives it no action.
    ModuleLevelWithoutAction,
    /// Partition table: `kernel_fault`.
    ModuleOnly,
    /// A process-level action (`PROCESS_STOP`, ...).
    ProcessAction,
    /// Partition table: a module action (`SHUTDOWN`, `RESET`).
    ModuleAction,
    /// Module table: a partition action (`IDLE`, `COLD_START`, ...).
    PartitionAction,
    /// `CONFIRM`.
    Confirm,
    /// An action name nobody uses.
    UnknownAction,
    /// A second, different action for a pkernel error the table already maps.
    Conflict,
}

impl Loss {
    /// Why, and what the TOML would need: the two halves of the note.
    fn explain(self, kind: TableKind) -> (String, String) {
        let section = kind.section();
        let (why, need): (&str, String) = match self {
            Loss::UnknownError => (
                "the pkernel error is unknown (no ErrorCode, and neither the identifier nor its description names one of pkernel's errors)",
                format!(
                    "the error written by hand under {section} (e.g. {}), or an ErrorCode on its Error_ID_Level",
                    match kind {
                        TableKind::Module => "hardware_fault = \"reset\"",
                        TableKind::Partition => "memory_violation = \"cold_start\"",
                    }
                ),
            ),
            Loss::NoSuchError(m) => (m.why(), m.need().to_owned()),
            Loss::NotModuleLevel => (
                "the System_HM_Table puts the error at PARTITION or PROCESS level, where ARINC 653 never consults the module table",
                "nothing: the partition tables' actions for it are imported".to_owned(),
            ),
            Loss::HandledByModule => (
                "[module.hm] handles the error for every partition",
                "nothing (a partition table may not name an error of [module.hm], E093)".to_owned(),
            ),
            Loss::ModuleLevelWithoutAction => (
                "the System_HM_Table puts the error at MODULE level, but the Module_HM_Table gives it no action",
                "the error under [module.hm] as \"shutdown\" or \"reset\" to handle it at module level (without it, pkernel handles it at partition level with its default action)".to_owned(),
            ),
            Loss::ModuleOnly => (
                "kernel_fault is a module-level error in pkernel",
                "nothing here: [module.hm] kernel_fault says what happens".to_owned(),
            ),
            Loss::ProcessAction => match kind {
                TableKind::Partition => (
                    "process-level actions are left to the partition OS's error handler: pkernel acts on whole partitions",
                    "nothing for the process itself; the error under [partition.hm] as \"ignore\" keeps the partition running so that its own handler can act, as \"warm_start\" restarts the whole partition".to_owned(),
                ),
                TableKind::Module => (
                    "process-level actions have no place in [module.hm], which acts on the whole module",
                    "nothing".to_owned(),
                ),
            },
            Loss::ModuleAction => (
                "SHUTDOWN and RESET act on the whole module, and a pkernel partition table acts on its own partition only",
                "the error under [module.hm] as \"shutdown\" or \"reset\" to act on the module for every partition, or under [partition.hm] as \"idle\" or \"cold_start\" to act on this partition alone".to_owned(),
            ),
            Loss::PartitionAction => (
                "IDLE, WARM_START and COLD_START act on one partition, and [module.hm] acts on the whole module",
                "the error under [partition.hm] of each partition with that action, e.g. \"idle\"".to_owned(),
            ),
            Loss::Confirm => (
                "pkernel has no error confirmation",
                format!(
                    "the error under {section} as \"ignore\" (log it and carry on) or as another action"
                ),
            ),
            Loss::UnknownAction => (
                "pkernel has no such action",
                format!(
                    "the error under {section} as {}",
                    match kind {
                        TableKind::Module => "\"ignore\", \"shutdown\" or \"reset\"",
                        TableKind::Partition =>
                            "\"ignore\", \"idle\", \"warm_start\" or \"cold_start\"",
                    }
                ),
            ),
            Loss::Conflict => (
                "pkernel has one action per error, and an earlier entry of the table gives the same pkernel error another action, which is kept",
                "nothing, or the kept line changed by hand if this action should win".to_owned(),
            ),
        };
        (why.to_owned(), need)
    }
}

/// `n action(s)`.
fn actions_count(n: usize) -> String {
    if n == 1 {
        "1 action".to_owned()
    } else {
        format!("{n} actions")
    }
}

/// What a system state is, from its description.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum StateKind {
    /// Partitions run: their OS or their processes execute ("Partition is Running",
    /// "Partition Operating System", "Process execution", "normal operation", POK's `USER`).
    Running,
    /// The description says nothing known (or there is none).
    #[default]
    Unknown,
    /// A partition not in normal execution: initialising, idle, halted, in its error handler
    /// or HM callback.
    NotRunning,
    /// The kernel's own state: the kernel (AIR's PMK), the module or its health monitor
    /// executes ("PMK Execution", "Module Initialization", "Health Monitor Processing").
    Kernel,
}

/// What the description of a system state says it is. The kernel's own states come first:
/// "PMK Execution" says "execution", but it is the kernel that executes.
fn state_kind(description: &str) -> StateKind {
    let w = Words::of(description);
    let partition_side = w.any(&[
        "partition",
        "partitions",
        "part",
        "partos",
        "process",
        "processes",
        "application",
        "applications",
        "app",
        "user",
    ]);
    if w.any(&[
        "pmk",
        "kernel",
        "microkernel",
        "hypervisor",
        "module",
        "mod",
    ]) || (!partition_side && (w.any(&["hm", "interrupt"]) || w.stem(&["health"])))
    {
        return StateKind::Kernel;
    }
    if w.any(&[
        "not",
        "no",
        "idle",
        "ready",
        "halted",
        "halt",
        "stopped",
        "stop",
        "shutdown",
        "handler",
        "callback",
        "error",
        "switch",
        "switching",
        "default",
        "hm",
    ]) || w.stem(&["init", "start", "boot", "load", "health"])
    {
        return StateKind::NotRunning;
    }
    if partition_side
        || w.any(&[
            "normal",
            "run",
            "running",
            "execution",
            "executing",
            "execute",
            "operational",
            "operation",
            "operating",
            "os",
        ])
    {
        return StateKind::Running;
    }
    StateKind::Unknown
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

/// The `<Error_ID_Action>` (or, for the system table, `<Error_ID_Level>`) children of `entry`.
fn entries_named<'a, 'i>(
    entry: Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    elements(entry).filter(move |e| is(*e, &[name]))
}

/// The value of `node`'s attribute `name` (compared by [`norm`]), read without [`Cx`]: for
/// entries of system states that are not imported, which neither raise errors nor count as
/// read.
fn raw<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    let wanted = norm(name);
    node.attributes()
        .find(|a| norm(a.name()) == wanted)
        .map(|a| a.value().trim())
}

/// What the tables say about one system state.
#[derive(Default)]
struct StateInfo {
    /// The first description any table gives the state.
    description: String,
    /// `<Error_ID_Action>` entries of partition tables in the state.
    partition_actions: usize,
    /// `<Error_ID_Action>` entries of the module table in the state.
    module_actions: usize,
    /// `<Error_ID_Level>` entries of the system table in the state.
    levels: usize,
    /// What the description says the state is (set once all descriptions are known).
    kind: StateKind,
}

/// Adds what `entries` hold to `states`: their descriptions, and the number of their `what`
/// children to the count `field` picks.
fn count_states(
    states: &mut BTreeMap<i64, StateInfo>,
    entries: &[StateEntry<'_, '_>],
    what: &'static str,
    field: fn(&mut StateInfo) -> &mut usize,
) {
    for e in entries {
        let info = states.entry(e.state).or_default();
        if info.description.is_empty() {
            info.description.clone_from(&e.description);
        }
        let n = entries_named(e.node, what).count();
        let count = field(info);
        *count = count.saturating_add(n);
    }
}

/// `3 ("Partition Operating System")`, or `3` without a description.
fn state_label(state: i64, states: &BTreeMap<i64, StateInfo>) -> String {
    match states.get(&state).map(|s| s.description.as_str()) {
        Some(d) if !d.is_empty() => format!("{state} ({})", shown(d)),
        _ => state.to_string(),
    }
}

/// The system state whose entries are imported: of the states described as the partitions'
/// normal execution (or, when none is, of those whose description says nothing known), the one
/// with the most partition-table actions, then module-table actions, then system-table entries,
/// then the lowest number. The kernel's own states and those of partitions not in normal
/// execution are never imported. Notes the choice when there was one to make.
fn choose_state(cx: &mut Cx<'_>, states: &BTreeMap<i64, StateInfo>) -> Option<i64> {
    let best = |kind: StateKind| {
        states
            .iter()
            .filter(|(_, s)| s.kind == kind)
            .max_by_key(|(n, s)| {
                (
                    s.partition_actions,
                    s.module_actions,
                    s.levels,
                    std::cmp::Reverse(**n),
                )
            })
            .map(|(n, _)| *n)
    };
    let of_kind = |kind: StateKind| -> Vec<String> {
        states
            .iter()
            .filter(|(_, s)| s.kind == kind)
            .map(|(n, _)| state_label(*n, states))
            .collect()
    };
    let chosen = best(StateKind::Running).or_else(|| best(StateKind::Unknown));
    if states.is_empty() || (states.len() == 1 && chosen.is_some()) {
        return chosen;
    }
    let all: Vec<String> = states.keys().map(|n| state_label(*n, states)).collect();
    let kernel = of_kind(StateKind::Kernel);
    let kernel_part = if kernel.is_empty() {
        String::new()
    } else {
        format!(
            "; the kernel's own states are never imported: {}",
            kernel.join(", ")
        )
    };
    match chosen {
        Some(c) => {
            let running = of_kind(StateKind::Running);
            let why = if running.is_empty() {
                "none is described as the partitions' normal execution, and it has the most Partition_HM_Table actions: check that it is the state in force while partitions run".to_owned()
            } else if running.len() == 1 {
                "it is the one described as the partitions' normal execution".to_owned()
            } else {
                format!(
                    "of the states described as the partitions' normal execution ({}), it has the most Partition_HM_Table actions",
                    running.join(", ")
                )
            };
            cx.note(format!(
                "the HM tables give system states {}; pkernel has one HM table for the module and one per partition, in force in every state, so only system state {} is imported: {why}{kernel_part}",
                all.join(", "),
                state_label(c, states)
            ));
        }
        None => cx.note(format!(
            "the HM tables give system states {}, none described as the partitions' normal execution: no HM action is imported{kernel_part}",
            all.join(", ")
        )),
    }
    chosen
}

/// A description of an error, classified once: system-table descriptions are looked at for
/// every action that refers to them, and may be as long as the file.
struct Described {
    /// Quoted and cut for notes.
    shown: String,
    meaning: Option<Meaning>,
}

impl Described {
    /// `None` for an empty description.
    fn of(description: &str) -> Option<Self> {
        (!description.is_empty()).then(|| Described {
            shown: shown(description),
            meaning: classify(description),
        })
    }
}

/// One `<Error_ID_Level>` of the imported state.
struct LevelEntry {
    level: Level,
    code: Option<Meaning>,
    description: Option<Described>,
}

/// What the System_HM_Table says about errors: their level in the imported state, and what
/// other states add about what they are.
#[derive(Default)]
struct SystemTable {
    /// Entries of the imported state, by identifier.
    ids: BTreeMap<i64, LevelEntry>,
    /// Levels in the imported state by pkernel error, for actions that name the error.
    errors: BTreeMap<HmError, Level>,
    /// Levels in the imported state by identifier name (normalised), for named identifiers.
    names: BTreeMap<String, Level>,
    /// The first `ErrorCode` other states give each identifier.
    other_codes: BTreeMap<i64, Meaning>,
    /// The first description other states give each identifier.
    other_descriptions: BTreeMap<i64, Described>,
}

/// An action's error, resolved.
struct Resolved {
    meaning: Option<Meaning>,
    level: Option<Level>,
    /// The description that names the error, quoted for notes (empty if none).
    description: String,
}

impl SystemTable {
    /// Reads the `<Error_ID_Level>` entries of the imported state (reporting what is wrong),
    /// and the codes and descriptions of the others (quietly: they are not imported).
    fn read(cx: &mut Cx<'_>, chosen: &[Node<'_, '_>], others: &[Node<'_, '_>]) -> Self {
        let mut table = SystemTable::default();
        // Byte offsets, turned into line numbers only for a message: a line number costs a
        // scan of the text before it.
        let mut first_at: BTreeMap<i64, usize> = BTreeMap::new();
        for &entry in chosen {
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
                let description =
                    Described::of(&cx.text_attr(e, &["Description"]).unwrap_or_default());
                let (Some((key, _)), Some(level), Some(code)) = (key, level, code) else {
                    continue;
                };
                let meaning = code
                    .or_else(|| key_meaning(&key))
                    .or_else(|| description.as_ref().and_then(|d| d.meaning));
                if let Some(Meaning::Error(e)) = meaning {
                    table.errors.entry(e).or_insert(level);
                }
                match key {
                    Key::Id(n) => {
                        if let Some(&first) = first_at.get(&n) {
                            let line = cx.pos_of(first).line;
                            let at = cx.pos(e);
                            cx.invalid(
                                at,
                                format!(
                                    "error identifier {n} is already given a level at line {line}"
                                ),
                                "list every error identifier once per system state",
                            );
                            continue;
                        }
                        first_at.insert(n, e.range().start);
                        table.ids.insert(
                            n,
                            LevelEntry {
                                level,
                                code,
                                description,
                            },
                        );
                    }
                    Key::Code(_) => {}
                    Key::Name(name) => {
                        table.names.entry(norm(&name)).or_insert(level);
                    }
                }
            }
        }
        for &entry in others {
            for e in entries_named(entry, "Error_ID_Level") {
                let Some(n) = raw(e, "ErrorIdentifier").and_then(|v| parse_ident(v).ok()) else {
                    continue;
                };
                if let Some(code) = raw(e, "ErrorCode").and_then(classify) {
                    table.other_codes.entry(n).or_insert(code);
                }
                if !table.other_descriptions.contains_key(&n)
                    && let Some(d) = raw(e, "Description").and_then(Described::of)
                {
                    table.other_descriptions.insert(n, d);
                }
            }
        }
        table
    }

    /// The pkernel error and level of an action written with `key`, its own `ErrorCode` and
    /// `Description`. In order: the action's own code or a code written as its identifier; the
    /// `ErrorCode` the imported state gives the identifier; the descriptions (the action's,
    /// then the imported state's, then another state's); the `ErrorCode` another state gives
    /// it. A bare number is never guessed: files number errors from 0 or 1, in any order.
    fn resolve(&self, key: &Key, own_code: Option<Meaning>, own_description: &str) -> Resolved {
        let id = match key {
            Key::Id(n) => Some(*n),
            _ => None,
        };
        let entry = id.and_then(|n| self.ids.get(&n));
        let own = Described::of(own_description);
        let descriptions: Vec<&Described> = [
            own.as_ref(),
            entry.and_then(|l| l.description.as_ref()),
            id.and_then(|n| self.other_descriptions.get(&n)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let meaning = own_code
            .or_else(|| key_meaning(key))
            .or_else(|| entry.and_then(|l| l.code))
            .or_else(|| descriptions.iter().find_map(|d| d.meaning))
            .or_else(|| id.and_then(|n| self.other_codes.get(&n).copied()));
        let level = match key {
            Key::Id(n) => self.ids.get(n).map(|l| l.level),
            Key::Name(name) => self.names.get(&norm(name)).copied(),
            Key::Code(_) => None,
        }
        .or_else(|| match meaning {
            Some(Meaning::Error(e)) => self.errors.get(&e).copied(),
            _ => None,
        });
        Resolved {
            meaning,
            level,
            description: descriptions
                .first()
                .map_or_else(String::new, |d| d.shown.clone()),
        }
    }
}

/// What an identifier written as a name stands for.
fn key_meaning(key: &Key) -> Option<Meaning> {
    match key {
        Key::Id(_) => None,
        Key::Code(c) => Some(Meaning::Error(*c)),
        Key::Name(name) => classify(name),
    }
}

/// `ErrorIdentifier` of `e`, with its text as written: a number, an error code, or a name.
fn error_key(cx: &mut Cx<'_>, e: Node<'_, '_>) -> Option<(Key, String)> {
    let a = cx.required(e, &["ErrorIdentifier"], "the number of the error")?;
    let written = a.value().trim().to_owned();
    if let Ok(n) = parse_ident(&written) {
        return Some((Key::Id(n), written));
    }
    if let Some(c) = error_code(&written) {
        return Some((Key::Code(c), written));
    }
    if written.is_empty() {
        let at = cx.attr_pos(&a);
        cx.invalid(
            at,
            "ErrorIdentifier is empty".to_owned(),
            "write the error's number, e.g. ErrorIdentifier=\"3\"",
        );
        return None;
    }
    Some((Key::Name(written.clone()), written))
}

/// `ErrorCode` of `e`: `Some(None)` when absent, `None` when invalid (reported).
fn code_attr(cx: &mut Cx<'_>, e: Node<'_, '_>) -> Option<Option<Meaning>> {
    let Some(a) = cx.attr(e, &["ErrorCode"]) else {
        return Some(None);
    };
    // An exact code, or a vendor name `classify` recognises.
    match classify(a.value()) {
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

/// One `<Error_ID_Action>` of the imported state, read and its error resolved.
struct ActionEntry {
    /// `error identifier 7 ("Power Interrupt", power_fail)`: as written, with the pkernel error.
    label: String,
    meaning: Option<Meaning>,
    level: Option<Level>,
    /// `Action`, as written.
    action: String,
    /// Byte offset of the `<Error_ID_Action>` (for a line number in a note, when needed).
    at: usize,
}

impl ActionEntry {
    /// `error identifier 7 ("Power Interrupt", power_fail) → "IGNORE"`.
    fn item(&self) -> String {
        format!("{} → {}", self.label, shown(&self.action))
    }
}

/// The `<Error_ID_Action>` entries of one state entry, read (what is malformed is reported and
/// left out; it stops the import).
fn read_actions(
    cx: &mut Cx<'_>,
    entry: Node<'_, '_>,
    table: &SystemTable,
    allowed: &str,
) -> Vec<ActionEntry> {
    let mut out = Vec::new();
    for e in elements(entry) {
        if !is(e, &["Error_ID_Action"]) {
            cx.ignore(e);
            continue;
        }
        let key = error_key(cx, e);
        let action = cx
            .required(e, &["Action"], allowed)
            .map(|a| a.value().trim().to_owned());
        let own_code = code_attr(cx, e);
        let own_description = cx.text_attr(e, &["Description"]).unwrap_or_default();
        let (Some((key, written)), Some(action), Some(own_code)) = (key, action, own_code) else {
            continue;
        };
        let resolved = table.resolve(&key, own_code, &own_description);
        let base = match key {
            Key::Id(n) => format!("error identifier {n}"),
            Key::Code(_) | Key::Name(_) => format!("error identifier {}", shown(&written)),
        };
        let mut parts = Vec::new();
        if !resolved.description.is_empty() {
            parts.push(resolved.description);
        }
        if let Some(Meaning::Error(e)) = resolved.meaning {
            parts.push(e.name().to_owned());
        }
        let label = if parts.is_empty() {
            base
        } else {
            format!("{base} ({})", parts.join(", "))
        };
        out.push(ActionEntry {
            label,
            meaning: resolved.meaning,
            level: resolved.level,
            action,
            at: e.range().start,
        });
    }
    out
}

/// Where one action goes.
enum Placement<A> {
    Keep(HmError, A),
    Lose(Loss),
}

fn place_module(a: &ActionEntry) -> Placement<ModuleAction> {
    let error = match a.meaning {
        None => return Placement::Lose(Loss::UnknownError),
        Some(Meaning::Missing(m)) => return Placement::Lose(Loss::NoSuchError(m)),
        Some(Meaning::Error(e)) => e,
    };
    if matches!(a.level, Some(Level::Partition | Level::Process)) {
        return Placement::Lose(Loss::NotModuleLevel);
    }
    match module_action(&a.action) {
        Ok(action) => Placement::Keep(error, action),
        Err(loss) => Placement::Lose(loss),
    }
}

fn place_partition(
    a: &ActionEntry,
    module_hm: &BTreeMap<HmError, ModuleAction>,
) -> Placement<PartitionAction> {
    let error = match a.meaning {
        None => return Placement::Lose(Loss::UnknownError),
        Some(Meaning::Missing(m)) => return Placement::Lose(Loss::NoSuchError(m)),
        Some(Meaning::Error(e)) => e,
    };
    if module_hm.contains_key(&error) {
        return Placement::Lose(Loss::HandledByModule);
    }
    if error.is_module_only() {
        return Placement::Lose(Loss::ModuleOnly);
    }
    if a.level == Some(Level::Module) {
        return Placement::Lose(Loss::ModuleLevelWithoutAction);
    }
    match partition_action(&a.action) {
        Ok(action) => Placement::Keep(error, action),
        Err(loss) => Placement::Lose(loss),
    }
}

/// How the import went, for the summary note.
#[derive(Default)]
struct Tally {
    /// TOML lines written.
    lines: usize,
    /// Actions that repeat a line for the same pkernel error.
    merged: usize,
    /// Actions not imported (noted).
    lost: usize,
}

/// What every table is imported against.
struct Context<'s> {
    /// The imported system state, if any.
    chosen: Option<i64>,
    states: &'s BTreeMap<i64, StateInfo>,
    system: &'s SystemTable,
}

/// One table to import: the module table or a partition's.
struct Table<'e, 'a, 'i> {
    /// `Module_HM_Table`, `Partition_HM_Table of "nav"`.
    label: String,
    kind: TableKind,
    entries: &'e [StateEntry<'a, 'i>],
}

/// Imports one table's actions of the `chosen` state, placed by `place`, and notes every
/// action of the table that is not imported. Returns the pkernel table and the errors the
/// System_HM_Table puts at PROCESS level that it imports.
fn import_table<A: Copy + PartialEq>(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_, '_>,
    context: &Context<'_>,
    place: impl Fn(&ActionEntry) -> Placement<A>,
    name: fn(A) -> &'static str,
    tally: &mut Tally,
) -> (BTreeMap<HmError, A>, Vec<HmError>) {
    note_other_states(cx, t, context, tally);
    let allowed = match t.kind {
        TableKind::Module => "IGNORE, SHUTDOWN or RESET",
        TableKind::Partition => "IGNORE, IDLE, WARM_START or COLD_START",
    };
    let mut kept: BTreeMap<HmError, (A, usize)> = BTreeMap::new();
    let mut process = Vec::new();
    let mut losses: BTreeMap<Loss, Vec<String>> = BTreeMap::new();
    let mut merged = Vec::new();
    for entry in t.entries.iter().filter(|e| Some(e.state) == context.chosen) {
        for a in read_actions(cx, entry.node, context.system, allowed) {
            let (error, action) = match place(&a) {
                Placement::Keep(error, action) => (error, action),
                Placement::Lose(loss) => {
                    losses.entry(loss).or_default().push(a.item());
                    continue;
                }
            };
            match kept.get(&error) {
                None => {
                    kept.insert(error, (action, a.at));
                    if a.level == Some(Level::Process) {
                        process.push(error);
                    }
                }
                Some(&(first, _)) if first == action => merged.push(a.item()),
                Some(&(first, at)) => losses.entry(Loss::Conflict).or_default().push(format!(
                    "{} (kept: {} = {:?} from line {})",
                    a.item(),
                    error.name(),
                    name(first),
                    cx.pos_of(at).line
                )),
            }
        }
    }
    // Which table and state the actions come from, as the XML says it.
    let label = match context.chosen {
        Some(c) => format!(
            "{}, system state {}",
            t.label,
            state_label(c, context.states)
        ),
        None => t.label.clone(),
    };
    if !merged.is_empty() {
        tally.merged = tally.merged.saturating_add(merged.len());
        cx.note(format!(
            "{label}: {} merged into the line of the same pkernel error ({}): several ARINC errors are one pkernel error",
            actions_count(merged.len()),
            merged.join(", ")
        ));
    }
    for (loss, items) in losses {
        tally.lost = tally.lost.saturating_add(items.len());
        let (why, need) = loss.explain(t.kind);
        cx.note(format!(
            "{label}: {} not imported ({}): {why}; the TOML would need {need}",
            actions_count(items.len()),
            items.join(", ")
        ));
    }
    tally.lines = tally.lines.saturating_add(kept.len());
    (
        kept.into_iter().map(|(e, (a, _))| (e, a)).collect(),
        process,
    )
}

/// Notes the actions of `t` in the states that are not imported, one note per state.
fn note_other_states(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_, '_>,
    context: &Context<'_>,
    tally: &mut Tally,
) {
    let (chosen, states) = (context.chosen, context.states);
    let mut by_state: BTreeMap<i64, Vec<Node<'_, '_>>> = BTreeMap::new();
    for e in t.entries.iter().filter(|e| Some(e.state) != chosen) {
        by_state.entry(e.state).or_default().push(e.node);
    }
    for (state, nodes) in by_state {
        let actions: Vec<Node<'_, '_>> = nodes
            .iter()
            .flat_map(|n| entries_named(*n, "Error_ID_Action"))
            .collect();
        if actions.is_empty() {
            continue;
        }
        let kind = states.get(&state).map_or(StateKind::Unknown, |s| s.kind);
        let section = t.kind.section();
        let (why, need) = match (kind, chosen) {
            (StateKind::Kernel, _) => (
                "it is the kernel's own state, not the partitions' execution".to_owned(),
                match t.kind {
                    TableKind::Module => format!(
                        "[module.hm] kernel_fault{}, the nearest equivalent: pkernel's own failures are the one error kernel_fault",
                        kernel_fault_suggestion(&actions)
                            .map(|a| format!(" = {:?}", a.name()))
                            .unwrap_or_default()
                    ),
                    TableKind::Partition => {
                        "nothing: a pkernel partition table holds the errors of the partition's own execution".to_owned()
                    }
                },
            ),
            (_, Some(c)) => (
                format!(
                    "pkernel imports one system state, {}",
                    state_label(c, states)
                ),
                format!(
                    "nothing, unless this state's actions should win: {section} applies in every state, this one included"
                ),
            ),
            (_, None) => (
                "no system state is described as the partitions' normal execution".to_owned(),
                format!(
                    "the actions of the state in force while partitions run, written by hand under {section}"
                ),
            ),
        };
        tally.lost = tally.lost.saturating_add(actions.len());
        cx.note(format!(
            "{}: {} of system state {} not imported: {why}; the TOML would need {need}",
            t.label,
            actions_count(actions.len()),
            state_label(state, states)
        ));
    }
}

/// The module action most of `actions` give (the first of equals): what `kernel_fault` would
/// nearest be for the module table of a kernel state.
fn kernel_fault_suggestion(actions: &[Node<'_, '_>]) -> Option<ModuleAction> {
    let mut counts: Vec<(ModuleAction, usize)> = Vec::new();
    for a in actions {
        let Some(Ok(action)) = raw(*a, "Action").map(module_action) else {
            continue;
        };
        match counts.iter_mut().find(|(x, _)| *x == action) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => counts.push((action, 1)),
        }
    }
    let most = counts.iter().map(|(_, n)| *n).max()?;
    counts.iter().find(|(_, n)| *n == most).map(|(a, _)| *a)
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
    let first_note = cx.notes.len();
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
        if let Some(&first) = seen.get(&pi) {
            let line = cx.pos_of(first).line;
            let at = cx.pos(t);
            cx.invalid(
                at,
                format!("the partition already has a <Partition_HM_Table> at line {line}"),
                "merge the partition's HM tables into one",
            );
            continue;
        }
        seen.insert(pi, t.range().start);
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

    let mut states: BTreeMap<i64, StateInfo> = BTreeMap::new();
    count_states(&mut states, &system_entries, "Error_ID_Level", |s| {
        &mut s.levels
    });
    count_states(&mut states, &module_entries, "Error_ID_Action", |s| {
        &mut s.module_actions
    });
    for (_, entries) in &partition_entries {
        count_states(&mut states, entries, "Error_ID_Action", |s| {
            &mut s.partition_actions
        });
    }
    for s in states.values_mut() {
        s.kind = state_kind(&s.description);
    }
    let total = states.values().fold(0usize, |sum, s| {
        sum.saturating_add(s.module_actions)
            .saturating_add(s.partition_actions)
    });

    let chosen = choose_state(cx, &states);
    let (chosen_system, other_system): (Vec<Node>, Vec<Node>) = {
        let (a, b): (Vec<&StateEntry>, Vec<&StateEntry>) =
            system_entries.iter().partition(|e| Some(e.state) == chosen);
        (
            a.into_iter().map(|e| e.node).collect(),
            b.into_iter().map(|e| e.node).collect(),
        )
    };
    let system_table = SystemTable::read(cx, &chosen_system, &other_system);
    let mut tally = Tally::default();
    let context = Context {
        chosen,
        states: &states,
        system: &system_table,
    };

    let (module_hm, _) = import_table(
        cx,
        &Table {
            label: "Module_HM_Table".to_owned(),
            kind: TableKind::Module,
            entries: &module_entries,
        },
        &context,
        place_module,
        ModuleAction::name,
        &mut tally,
    );

    let mut process: Vec<&'static str> = Vec::new();
    for (pi, entries) in &partition_entries {
        let Some(name) = parts.get(*pi).map(|p| p.name.clone()) else {
            continue;
        };
        let (hm, at_process) = import_table(
            cx,
            &Table {
                label: format!("Partition_HM_Table of {name:?}"),
                kind: TableKind::Partition,
                entries,
            },
            &context,
            |a| place_partition(a, &module_hm),
            PartitionAction::name,
            &mut tally,
        );
        for e in at_process {
            if !process.contains(&e.name()) {
                process.push(e.name());
            }
        }
        if let Some(p) = parts.get_mut(*pi) {
            p.hm = hm;
        }
    }
    if !process.is_empty() {
        process.sort_unstable();
        cx.note(format!(
            "errors the System_HM_Table puts at PROCESS level ({}) are handled by the partition OS's error handler in ARINC 653; their Partition_HM_Table actions become partition HM actions",
            process.join(", ")
        ));
    }
    if total > 0 {
        let merged = if tally.merged == 0 {
            String::new()
        } else {
            format!(
                " ({} merged into the line of the same pkernel error)",
                actions_count(tally.merged)
            )
        };
        let lines = if tally.lines == 1 {
            "1 line".to_owned()
        } else {
            format!("{} lines", tally.lines)
        };
        let summary = if tally.lost == 0 {
            format!(
                "HM tables: {} in the XML, all imported, as {lines} of [module.hm] and [partition.hm]{merged}",
                actions_count(total)
            )
        } else {
            format!(
                "HM tables: {} in the XML; {} imported, as {lines} of [module.hm] and [partition.hm]{merged}; {} not imported, each noted below with why and what the TOML would need",
                actions_count(total),
                tally.lines.saturating_add(tally.merged),
                tally.lost
            )
        };
        let at = first_note.min(cx.notes.len());
        cx.notes.insert(at, summary);
    }
    module_hm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_descriptions() {
        for (description, kind) in [
            ("Partition is Running", StateKind::Running),
            ("Process execution", StateKind::Running),
            ("normal mode", StateKind::Running),
            ("NORMAL", StateKind::Running),
            ("Partition Operating System", StateKind::Running),
            ("Partition Application", StateKind::Running),
            ("Operating system", StateKind::Running),
            ("OS_PART", StateKind::Running),
            ("USER", StateKind::Running),
            ("Partition is not Running", StateKind::NotRunning),
            ("Partition is Ready but not Running", StateKind::NotRunning),
            ("Partition Execution is Halted", StateKind::NotRunning),
            ("Partition is Initializing", StateKind::NotRunning),
            ("Partition Initialization", StateKind::NotRunning),
            ("Error handler execution", StateKind::NotRunning),
            ("Partition HM callback", StateKind::NotRunning),
            ("Partition default process", StateKind::NotRunning),
            ("PMK Execution", StateKind::Kernel),
            ("Module initialization", StateKind::Kernel),
            ("Module HM callback", StateKind::Kernel),
            ("Health Monitor Processing", StateKind::Kernel),
            ("OS_MOD", StateKind::Kernel),
            ("INTERRUPT_HANDLER", StateKind::Kernel),
            ("", StateKind::Unknown),
            ("System-specific function", StateKind::Unknown),
        ] {
            assert_eq!(state_kind(description), kind, "{description:?}");
        }
    }

    #[test]
    fn error_names_and_descriptions() {
        use HmError::*;
        let error = |e| Some(Meaning::Error(e));
        let missing = |m| Some(Meaning::Missing(m));
        for (text, meaning) in [
            ("POWER_FAILURE", error(PowerFail)),
            ("deadline_missed", error(DeadlineMissed)),
            ("DEADLINE MISSED", error(DeadlineMissed)),
            ("POK_ERROR_KIND_STACK_OVERFLOW", error(StackOverflow)),
            ("POK_ERROR_ID_ILLEGAL_REQUEST", error(IllegalRequest)),
            ("POK_ERROR_KIND_KERNEL_INIT", error(KernelFault)),
            (
                "POK_ERROR_KIND_PARTITION_CONFIGURATION",
                missing(Missing::Configuration),
            ),
            (
                "POK_ERROR_KIND_PARTITION_INIT",
                missing(Missing::Initialisation),
            ),
            (
                "POK_ERROR_KIND_PARTITION_HANDLER",
                missing(Missing::Handler),
            ),
            ("Deadline Miss", error(DeadlineMissed)),
            ("DeadlineMissed", error(DeadlineMissed)),
            ("Application Error", error(ApplicationError)),
            ("APEX Error", error(ApplicationError)),
            ("App Hardware Error", error(HardwareFault)),
            ("I/O Error", error(HardwareFault)),
            ("Device Error", error(HardwareFault)),
            ("Cache fault", error(HardwareFault)),
            ("Floating Point Error", error(NumericError)),
            ("Divide by zero", error(NumericError)),
            ("Overflow Error", error(NumericError)),
            ("Stack error", error(StackOverflow)),
            ("Stack overflow", error(StackOverflow)),
            ("Illegal request", error(IllegalRequest)),
            ("Illegal Instruction", error(IllegalInstruction)),
            ("Undefined instruction", error(IllegalInstruction)),
            ("Unimplemented Error", error(IllegalInstruction)),
            ("Segmentation Error", error(MemoryViolation)),
            ("Memory alignment fault", error(MemoryViolation)),
            ("Violation Error", error(MemoryViolation)),
            ("Power Interrupt", error(PowerFail)),
            ("Power fail", error(PowerFail)),
            ("Configuration Error", missing(Missing::Configuration)),
            ("Module Config Error", missing(Missing::Configuration)),
            ("Partition Conf Error", missing(Missing::Configuration)),
            ("Partition Init Error", missing(Missing::Initialisation)),
            ("Debug Error", missing(Missing::Debug)),
            ("Watchdog", None),
            ("Double Fault", None),
            ("User defined Error 5", None),
            ("OVERFLOW", error(NumericError)),
            ("", None),
        ] {
            assert_eq!(classify(text), meaning, "{text:?}");
        }
    }

    #[test]
    fn actions() {
        assert_eq!(
            partition_action("COLD_RESTART"),
            Ok(PartitionAction::ColdStart)
        );
        assert_eq!(
            partition_action("Cold Start"),
            Ok(PartitionAction::ColdStart)
        );
        assert_eq!(partition_action("Idle"), Ok(PartitionAction::Idle));
        assert_eq!(partition_action("STOP"), Ok(PartitionAction::Idle));
        assert_eq!(
            partition_action("POK_ERROR_ACTION_WARM_START"),
            Ok(PartitionAction::WarmStart)
        );
        assert_eq!(partition_action("RESET"), Err(Loss::ModuleAction));
        assert_eq!(
            partition_action("PROCESS_RESTART"),
            Err(Loss::ProcessAction)
        );
        assert_eq!(partition_action("Thread_Stop"), Err(Loss::ProcessAction));
        assert_eq!(partition_action("CONFIRM"), Err(Loss::Confirm));
        assert_eq!(partition_action("REBOOT_TWICE"), Err(Loss::UnknownAction));
        assert_eq!(module_action("STOP"), Ok(ModuleAction::Shutdown));
        assert_eq!(module_action("Module_Restart"), Ok(ModuleAction::Reset));
        assert_eq!(module_action("IDLE"), Err(Loss::PartitionAction));
    }

    #[test]
    fn words_split_names_and_descriptions() {
        assert_eq!(words("I/O Error"), ["i", "o", "error"]);
        assert_eq!(words("DeadlineMissed"), ["deadline", "missed"]);
        assert_eq!(
            words("POK_ERROR_KIND_NUMERIC_ERROR"),
            ["pok", "error", "kind", "numeric", "error"]
        );
        assert!(words("").is_empty());
    }
}
