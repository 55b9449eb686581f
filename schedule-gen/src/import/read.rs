//! Reading the XML into the [`super::ir`] model: the module, its partitions and ports, their
//! memory requirements, the module schedule and the connection table. (The health-monitor
//! tables are read by [`super::hm`].)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use roxmltree::Node;

use super::ir::{Channel, Partition, Port, PortRef, Region, RegionKind, Window};
use super::names::{MAX_MODULE_NAME, MAX_NAME, Namer, renames, sanitize};
use super::xml::{Cx, elements, is, norm, parse_ident, peek, shown, some_of, tag};
use crate::diag::count;

/// The module's top-level elements, by kind, in document order.
#[derive(Default)]
pub(super) struct Sections<'a, 'i> {
    pub system_hm: Vec<Node<'a, 'i>>,
    pub module_hm: Vec<Node<'a, 'i>>,
    pub partitions: Vec<Node<'a, 'i>>,
    pub memory: Vec<Node<'a, 'i>>,
    pub schedules: Vec<Node<'a, 'i>>,
    pub partition_hm: Vec<Node<'a, 'i>>,
    pub connections: Vec<Node<'a, 'i>>,
}

/// Sorts the children of `<ARINC_653_Module>`; anything else is ignored (and noted).
pub(super) fn sections<'a, 'i>(cx: &mut Cx<'_>, root: Node<'a, 'i>) -> Sections<'a, 'i> {
    let mut s = Sections::default();
    for child in elements(root) {
        let list = if is(child, &["System_HM_Table"]) {
            &mut s.system_hm
        } else if is(child, &["Module_HM_Table"]) {
            &mut s.module_hm
        } else if is(child, &["Partition"]) {
            &mut s.partitions
        } else if is(child, &["Partition_Memory"]) {
            &mut s.memory
        } else if is(child, &["Module_Schedule"]) {
            &mut s.schedules
        } else if is(child, &["Partition_HM_Table"]) {
            &mut s.partition_hm
        } else if is(child, &["Connection_Table"]) {
            &mut s.connections
        } else {
            cx.ignore(child);
            continue;
        };
        cx.visit(child);
        list.push(child);
    }
    for (list, what) in [
        (&s.system_hm, "System_HM_Table"),
        (&s.module_hm, "Module_HM_Table"),
    ] {
        if let (Some(first), Some(second)) = (list.first(), list.get(1)) {
            let (at, line) = (cx.pos(*second), cx.line(*first));
            cx.invalid(
                at,
                format!("the module has a second <{what}> (the first is at line {line})"),
                format!("merge the two into one <{what}>"),
            );
        }
    }
    s
}

/// The module name: `ModuleName`, or the file's name without extension.
pub(super) fn module_name(cx: &mut Cx<'_>, root: Node<'_, '_>) -> String {
    let given = cx
        .text_attr(root, &["ModuleName"])
        .filter(|n| !n.is_empty());
    let name = match &given {
        Some(n) => sanitize(n, MAX_MODULE_NAME, 'm'),
        None => {
            let stem = Path::new(cx.file)
                .file_stem()
                .map_or_else(|| "module".to_owned(), |s| s.to_string_lossy().into_owned());
            sanitize(&stem, MAX_MODULE_NAME, 'm')
        }
    };
    match given {
        Some(n) if n != name => cx.note(format!(
            "module name {} → {name:?} (pkernel name rules)",
            shown(&n)
        )),
        Some(_) => {}
        None => cx.note(format!(
            "the XML has no ModuleName: the module is named {name:?} after the file"
        )),
    }
    let dropped: Vec<String> = ["ModuleVersion", "ModuleId"]
        .into_iter()
        .filter_map(|a| Some(format!("{a} {}", shown(&cx.text_attr(root, &[a])?))))
        .collect();
    if !dropped.is_empty() {
        cx.note(format!(
            "{} {} not kept: a pkernel configuration has no module version or identifier",
            dropped.join(" and "),
            if dropped.len() == 1 { "is" } else { "are" }
        ));
    }
    name
}

/// Partitions by `PartitionIdentifier`.
pub(super) type Index = BTreeMap<i64, usize>;

/// Reads every `<Partition>` with its ports, checks identifiers and names are unique, and
/// gives partitions and ports their pkernel names.
pub(super) fn partitions(cx: &mut Cx<'_>, nodes: &[Node<'_, '_>]) -> (Vec<Partition>, Index) {
    let mut parts = Vec::new();
    let mut index = Index::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut defaulted = Vec::new();
    for &e in nodes {
        let Some((p, id_at, criticality_given)) = partition(cx, e) else {
            continue;
        };
        if let Some(&other) = index.get(&p.id) {
            let line = parts
                .get(other)
                .map_or(0, |o: &Partition| cx.pos_of(o.offset).line);
            cx.invalid(
                id_at,
                format!(
                    "PartitionIdentifier {} is already used by the partition at line {line}",
                    p.id
                ),
                "give every partition its own PartitionIdentifier",
            );
            continue;
        }
        if let Some(n) = &p.xml_name {
            if let Some(line) = names.get(n) {
                let at = cx.pos(e);
                cx.invalid(
                    at,
                    format!(
                        "PartitionName {} is already used by the partition at line {line}",
                        shown(n)
                    ),
                    "give every partition its own PartitionName",
                );
            } else {
                names.insert(n.clone(), cx.line(e));
            }
        }
        if !criticality_given {
            defaulted.push(parts.len());
        }
        index.insert(p.id, parts.len());
        parts.push(p);
    }

    let mut namer = Namer::new(MAX_NAME, 'p');
    namer.reserve(crate::validate::RESERVED_PARTITION_NAMES);
    let mut renamed = Vec::new();
    for p in &mut parts {
        match &p.xml_name {
            Some(n) => {
                p.name = namer.name(n);
                if p.name != *n {
                    renamed.push((n.clone(), p.name.clone()));
                }
            }
            None => {
                p.name = namer.name(&format!("partition_{}", p.id));
                cx.note(format!(
                    "partition {} has no PartitionName: it is named {:?}",
                    p.id, p.name
                ));
            }
        }
    }
    if !renamed.is_empty() {
        cx.note(format!(
            "partitions renamed (pkernel name rules): {}",
            renames(&renamed)
        ));
    }
    for p in &mut parts {
        let mut namer = Namer::new(MAX_NAME, 'p');
        let mut renamed = Vec::new();
        for port in &mut p.ports {
            port.name = namer.name(&port.xml_name);
            if port.name != port.xml_name {
                renamed.push((port.xml_name.clone(), port.name.clone()));
            }
        }
        if !renamed.is_empty() {
            cx.note(format!(
                "ports of partition {:?} renamed: {}",
                p.name,
                renames(&renamed)
            ));
        }
    }
    if !defaulted.is_empty() {
        let list: Vec<String> = defaulted
            .iter()
            .filter_map(|&i| parts.get(i))
            .map(|p| format!("{:?}", p.name))
            .collect();
        cx.note(format!(
            "no Criticality given for partition {}: criticality \"A\" (the schema's default, LEVEL_A)",
            list.join(", ")
        ));
    }
    // GET_PARTITION_STATUS gives a pkernel partition its place in the configuration as its
    // identifier: say where that is not the XML's.
    let renumbered: Vec<String> = parts
        .iter()
        .enumerate()
        .filter(|(i, p)| i64::try_from(*i).ok() != Some(p.id))
        .map(|(i, p)| format!("{:?} {} → {i}", p.name, p.id))
        .collect();
    if !renumbered.is_empty() {
        cx.note(format!(
            "PartitionIdentifier is not kept: pkernel numbers partitions in file order from 0 (the identifier GET_PARTITION_STATUS returns): {}",
            renumbered.join(", ")
        ));
    }
    let entry_points: Vec<String> = parts
        .iter()
        .filter_map(|p| Some(format!("{:?}: {}", p.name, shown(p.entry_point.as_ref()?))))
        .collect();
    if !entry_points.is_empty() {
        cx.note(format!(
            "EntryPoint is not kept: a partition starts at its ELF's entry point ({})",
            entry_points.join(", ")
        ));
    }
    (parts, index)
}

/// One `<Partition>`: the partition, where its identifier is, and whether it gave its
/// criticality. `None` when it has no usable identifier.
fn partition(cx: &mut Cx<'_>, e: Node<'_, '_>) -> Option<(Partition, crate::diag::Position, bool)> {
    let id_attr = cx.required(
        e,
        &["PartitionIdentifier"],
        "the partition's number, unique in the module",
    );
    let id = id_attr.as_ref().and_then(|a| cx.ident(a));
    let xml_name = cx
        .text_attr(e, &["PartitionName"])
        .filter(|n| !n.is_empty());
    let criticality_attr = cx.attr(e, &["Criticality"]);
    let criticality = match &criticality_attr {
        None => 'A',
        Some(a) => {
            let v = norm(a.value());
            let level = v
                .strip_prefix("level")
                .or_else(|| v.strip_prefix("dal"))
                .unwrap_or(&v);
            match level {
                "a" => 'A',
                "b" => 'B',
                "c" => 'C',
                "d" => 'D',
                "e" => 'E',
                _ => {
                    let at = cx.attr_pos(a);
                    cx.invalid(
                        at,
                        format!(
                            "Criticality {} is not a design assurance level",
                            shown(a.value())
                        ),
                        "write one of LEVEL_A, LEVEL_B, LEVEL_C, LEVEL_D, LEVEL_E",
                    );
                    'A'
                }
            }
        }
    };
    let system = match cx.attr(e, &["SystemPartition"]) {
        Some(a) => cx.boolean(&a).unwrap_or(false),
        None => false,
    };
    let entry_point = cx.text_attr(e, &["EntryPoint"]).filter(|n| !n.is_empty());

    let mut ports: Vec<Port> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for child in elements(e) {
        let queuing = if is(child, &["Sampling_Port"]) {
            false
        } else if is(child, &["Queuing_Port", "Queueing_Port"]) {
            true
        } else {
            cx.ignore(child);
            continue;
        };
        let Some(port) = port(cx, child, queuing) else {
            continue;
        };
        if let Some(line) = seen.get(&port.xml_name) {
            let at = cx.pos(child);
            cx.invalid(
                at,
                format!(
                    "the partition already has a port named {} (line {line})",
                    shown(&port.xml_name)
                ),
                "give every port of a partition its own Name",
            );
            continue;
        }
        seen.insert(port.xml_name.clone(), cx.line(child));
        ports.push(port);
    }

    let id = id?;
    let id_at = id_attr.map_or_else(|| cx.pos(e), |a| cx.attr_pos(&a));
    let p = Partition {
        id,
        xml_name,
        system,
        criticality,
        ports,
        offset: e.range().start,
        entry_point,
        ..Partition::default()
    };
    Some((p, id_at, criticality_attr.is_some()))
}

/// One `<Sampling_Port>` or `<Queuing_Port>`.
fn port(cx: &mut Cx<'_>, e: Node<'_, '_>, queuing: bool) -> Option<Port> {
    let name = cx.required(e, &["Name"], "the port's name, unique in its partition");
    let size = cx.required(e, &["MaxMessageSize"], "the largest message in bytes");
    let size = size.and_then(|a| {
        let v = cx.uint(&a)?;
        if v == 0 {
            let at = cx.attr_pos(&a);
            cx.invalid(
                at,
                "MaxMessageSize is zero".to_owned(),
                "give the largest message in bytes",
            );
            return None;
        }
        Some(v)
    });
    let direction = cx.required(e, &["Direction"], "SOURCE or DESTINATION");
    let source = direction.and_then(|a| match norm(a.value()).as_str() {
        "source" => Some(true),
        "destination" => Some(false),
        _ => {
            let at = cx.attr_pos(&a);
            cx.invalid(
                at,
                format!(
                    "Direction {} is neither SOURCE nor DESTINATION",
                    shown(a.value())
                ),
                "write SOURCE or DESTINATION",
            );
            None
        }
    });
    let (mut refresh_ns, mut max_messages) = (None, 0);
    if queuing {
        let depth = cx.required(
            e,
            &["MaxNbMessages", "MaxNbMessage"],
            "how many messages the queue holds",
        );
        max_messages = depth.and_then(|a| cx.uint(&a))?;
    } else {
        let refresh = cx.attr(e, &["RefreshRateSeconds", "RefreshPeriodSeconds"]);
        match (refresh, source) {
            (Some(a), Some(false)) => {
                let ns = cx.seconds(&a)?;
                if ns == 0 {
                    let at = cx.attr_pos(&a);
                    cx.unmappable(
                        at,
                        format!(
                            "sampling destination {} has a RefreshRateSeconds of zero",
                            tag(e)
                        ),
                        "pkernel needs a positive refresh period on a sampling destination (how long a message stays valid): give it in seconds",
                    );
                    // The port is kept, so its channel raises no error of its own.
                } else {
                    refresh_ns = Some(ns);
                }
            }
            // On a source, the refresh period has no effect in ARINC 653 or pkernel, but it is
            // kept: the source's port status reports it. Zero, which pkernel refuses, is
            // noted where the port is written.
            (Some(a), _) => refresh_ns = Some(cx.seconds(&a)?),
            (None, Some(false)) => {
                let at = cx.pos(e);
                cx.invalid(
                    at,
                    format!(
                        "sampling destination {} has no RefreshRateSeconds attribute",
                        tag(e)
                    ),
                    "add RefreshRateSeconds=\"...\": how long a message stays valid, in seconds",
                );
                return None;
            }
            _ => {}
        }
    }
    Some(Port {
        xml_name: name?.value().trim().to_owned(),
        name: String::new(),
        queuing,
        source: source?,
        max_message_size: size?,
        refresh_ns,
        max_messages,
        connected: false,
        at: e.range().start,
    })
}

/// The partition `e` refers to by `PartitionIdentifier` (or, without one, by `PartitionName`).
pub(super) fn resolve(
    cx: &mut Cx<'_>,
    e: Node<'_, '_>,
    parts: &[Partition],
    index: &Index,
) -> Option<usize> {
    let id_attr = cx.attr(e, &["PartitionIdentifier"]);
    let name = cx
        .text_attr(e, &["PartitionName"])
        .filter(|n| !n.is_empty());
    let known = || {
        let ids: Vec<String> = parts.iter().map(|p| p.id.to_string()).collect();
        if ids.is_empty() {
            "declare the partition with a <Partition> element".to_owned()
        } else {
            format!(
                "use the PartitionIdentifier of a declared partition: {}",
                some_of(&ids)
            )
        }
    };
    match id_attr {
        Some(a) => {
            let id = cx.ident(&a)?;
            let Some(&i) = index.get(&id) else {
                let at = cx.attr_pos(&a);
                cx.invalid(
                    at,
                    format!(
                        "{} refers to PartitionIdentifier {id}, which no <Partition> declares",
                        tag(e)
                    ),
                    known(),
                );
                return None;
            };
            let p = parts.get(i)?;
            if let (Some(n), Some(pn)) = (&name, &p.xml_name)
                && n != pn
            {
                let at = cx.pos(e);
                cx.invalid(
                    at,
                    format!(
                        "{} names partition {id} {}, but that partition is called {}",
                        tag(e),
                        shown(n),
                        shown(pn)
                    ),
                    "make PartitionName match the PartitionIdentifier's partition, or remove it",
                );
                return None;
            }
            Some(i)
        }
        None => {
            let found = name
                .as_ref()
                .and_then(|n| parts.iter().position(|p| p.xml_name.as_ref() == Some(n)));
            if found.is_none() {
                let at = cx.pos(e);
                let message = match &name {
                    Some(n) => format!(
                        "{} refers to PartitionName {}, which no <Partition> declares",
                        tag(e),
                        shown(n)
                    ),
                    None => format!("{} has no PartitionIdentifier attribute", tag(e)),
                };
                cx.invalid(at, message, known());
            }
            found
        }
    }
}

/// Reads every `<Partition_Memory>` into its partition's regions.
pub(super) fn memory(
    cx: &mut Cx<'_>,
    nodes: &[Node<'_, '_>],
    parts: &mut [Partition],
    index: &Index,
) {
    let mut namers: BTreeMap<usize, Namer> = BTreeMap::new();
    let mut renamed: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    let mut rounded = Vec::new();
    for &e in nodes {
        let Some(pi) = resolve(cx, e, parts, index) else {
            continue;
        };
        for child in elements(e) {
            if !is(child, &["Memory_Requirements", "Memory_Requirement"]) {
                cx.ignore(child);
                continue;
            }
            let Some((region, wanted, given, original)) = requirement(cx, child) else {
                continue;
            };
            let Some(p) = parts.get_mut(pi) else { continue };
            let name = namers
                .entry(pi)
                .or_insert_with(|| Namer::new(MAX_NAME, 'r'))
                .name(&wanted);
            if given && name != wanted {
                renamed.entry(pi).or_default().push((wanted, name.clone()));
            }
            if original != region.size {
                rounded.push(format!(
                    "{:?} of {:?} from {original} to {}",
                    name,
                    p.name,
                    super::emit::hex(region.size)
                ));
            }
            if region.kind == RegionKind::Io {
                cx.note(format!(
                    "I/O memory {name:?} of partition {:?} becomes a device with mmio = {{ base = {}, size = {} }}: add its interrupts by hand if it raises any",
                    p.name,
                    super::emit::addr(region.phys.unwrap_or(0)),
                    super::emit::hex(region.size),
                ));
            }
            p.memory.push(Region { name, ..region });
        }
    }
    for (pi, list) in renamed {
        if let Some(p) = parts.get(pi) {
            cx.note(format!(
                "memory regions of partition {:?} renamed: {}",
                p.name,
                renames(&list)
            ));
        }
    }
    if !rounded.is_empty() {
        cx.note(format!(
            "memory sizes rounded up to whole 4 KiB pages (stage 2 maps pages): {}",
            rounded.join("; ")
        ));
    }
    for p in parts.iter() {
        if p.memory.is_empty() {
            cx.note(format!(
                "partition {:?} has no Partition_Memory: it gets no memory regions; add [[partition.memory]] for its image",
                p.name
            ));
        } else if !p.memory.iter().any(|r| r.access.contains('x')) {
            cx.note(format!(
                "partition {:?} has no CODE memory: its image needs an executable region; add one with access = \"rx\" before building",
                p.name
            ));
        }
    }
}

/// One `<Memory_Requirements>`: the region (not yet named), the name it wants, whether that
/// name was given (`RegionName`), and the size as written.
fn requirement(cx: &mut Cx<'_>, e: Node<'_, '_>) -> Option<(Region, String, bool, u64)> {
    let region_name = cx
        .text_attr(e, &["RegionName", "Name"])
        .filter(|n| !n.is_empty());
    let ty = cx.required(e, &["Type"], "CODE, DATA or IO");
    let size_attr = cx.required(e, &["SizeBytes"], "the size in bytes");
    let access_attr = cx.required(e, &["Access"], "READ_ONLY, READ_WRITE or READ_EXECUTE");
    let phys_attr = cx.attr(e, &["PhysicalAddress"]);

    let ty_text = ty.map(|a| a.value().trim().to_owned());
    let ty_norm = ty_text.as_deref().map(|t| norm(t).replace('/', ""));
    let (kind, code) = match ty_norm.as_deref() {
        Some("code" | "text" | "instruction" | "instructions") => (RegionKind::Ram, true),
        Some("io" | "inputoutput" | "device" | "mmio" | "peripheral") => (RegionKind::Io, false),
        Some("data" | "ram" | "bss" | "stack" | "heap" | "rodata") | None => {
            (RegionKind::Ram, false)
        }
        Some(_) => {
            cx.note(format!(
                "memory Type {} at line {} is imported as a RAM data region",
                shown(ty_text.as_deref().unwrap_or("")),
                cx.line(e)
            ));
            (RegionKind::Ram, false)
        }
    };

    let size = size_attr.and_then(|a| {
        let v = cx.uint(&a)?;
        if v == 0 {
            let at = cx.attr_pos(&a);
            cx.invalid(
                at,
                "SizeBytes is zero".to_owned(),
                "give the size of the memory in bytes",
            );
            return None;
        }
        Some(v)
    });
    let rounded = size.and_then(|s| s.checked_add(0xfff).map(|v| v & !0xfff));
    if let (Some(a), Some(_), None) = (&size_attr, size, rounded) {
        let at = cx.attr_pos(a);
        cx.invalid(
            at,
            format!("SizeBytes {} is too large", shown(a.value())),
            "write a smaller size",
        );
    }

    let access = access_attr.and_then(|a| {
        let v = norm(a.value()).replace('/', "");
        let (read_write, execute) = match v.as_str() {
            "readonly" | "read" | "ro" | "r" => (false, false),
            "readwrite" | "rw" | "write" | "writeonly" | "wo" | "w" => (true, false),
            "readexecute" | "readexec" | "execute" | "executeonly" | "rx" | "x" => (false, true),
            "readwriteexecute" | "rwx" | "all" => (true, true),
            _ => {
                let at = cx.attr_pos(&a);
                cx.invalid(
                    at,
                    format!("Access {} is not an access right the importer knows", shown(a.value())),
                    "write READ_ONLY, READ_WRITE, READ_EXECUTE or READ_WRITE_EXECUTE",
                );
                return None;
            }
        };
        if v.contains("only") && read_write {
            cx.note(format!(
                "Access {} at line {} is imported as read-write: pkernel regions are always readable",
                shown(a.value()),
                cx.line(e)
            ));
        }
        if code && read_write && !execute {
            cx.note(format!(
                "CODE memory at line {} has Access {}: imported as \"rwx\"",
                cx.line(e),
                shown(a.value())
            ));
        }
        Some(match (read_write, execute || code) {
            (false, false) => "r",
            (true, false) => "rw",
            (false, true) => "rx",
            (true, true) => "rwx",
        })
    });

    let phys = match phys_attr {
        None => None,
        Some(a) => {
            let base = cx.uint(&a)?;
            if base & 0xfff != 0 {
                let at = cx.attr_pos(&a);
                cx.unmappable(
                    at,
                    format!(
                        "PhysicalAddress {} is not a multiple of 4 KiB",
                        shown(a.value())
                    ),
                    "stage 2 maps whole 4 KiB pages: align the memory to 0x1000",
                );
                return None;
            }
            if let Some(size) = rounded
                && base
                    .checked_add(size)
                    .is_none_or(|end| i64::try_from(end).is_err())
            {
                let at = cx.attr_pos(&a);
                cx.invalid(
                    at,
                    format!(
                        "PhysicalAddress {} plus the size runs past the end of the address space",
                        shown(a.value())
                    ),
                    "check the address and the size",
                );
                return None;
            }
            Some(base)
        }
    };
    if kind == RegionKind::Io && phys.is_none() {
        let at = cx.pos(e);
        cx.unmappable(
            at,
            format!("I/O memory {} has no PhysicalAddress", tag(e)),
            "pkernel maps a device at its physical address: add PhysicalAddress=\"0x...\"",
        );
        return None;
    }

    let wanted = region_name.clone().unwrap_or_else(|| match (kind, code) {
        (RegionKind::Io, _) => "io".to_owned(),
        (_, true) => "code".to_owned(),
        _ => "data".to_owned(),
    });
    let region = Region {
        name: String::new(),
        kind,
        size: rounded?,
        access: if kind == RegionKind::Io {
            "rw"
        } else {
            access?
        },
        phys,
        at: e.range().start,
    };
    Some((region, wanted, region_name.is_some(), size?))
}

/// What [`schedule`] read: the major frame, the windows (sorted by offset) and where the
/// imported `<Module_Schedule>` is.
pub(super) struct Schedule {
    pub major_frame_ns: u64,
    pub windows: Vec<Window>,
    pub at: Option<usize>,
}

/// Reads the module schedule: its major frame, every partition's period and duration, and
/// the windows (sorted by offset).
pub(super) fn schedule(
    cx: &mut Cx<'_>,
    root: Node<'_, '_>,
    nodes: &[Node<'_, '_>],
    parts: &mut [Partition],
    index: &Index,
) -> Schedule {
    let Some(choice) = choose_schedule(cx, root, nodes) else {
        return Schedule {
            major_frame_ns: 0,
            windows: Vec::new(),
            at: None,
        };
    };
    let chosen = choice.node;
    let identity: Vec<String> = ["ScheduleName", "ScheduleIdentifier"]
        .into_iter()
        .filter_map(|a| Some(format!("{a} {}", shown(&cx.text_attr(chosen, &[a])?))))
        .collect();
    if !identity.is_empty() {
        cx.note(format!(
            "the module schedule's {} {} not kept: it becomes the one [[schedule]] of core 0, which has neither",
            identity.join(" and "),
            if identity.len() == 1 { "is" } else { "are" }
        ));
    }
    let major = cx
        .required(
            chosen,
            &["MajorFrameSeconds"],
            "the length of the major frame in seconds",
        )
        .and_then(|a| {
            let v = cx.seconds(&a)?;
            if v == 0 {
                let at = cx.attr_pos(&a);
                cx.invalid(
                    at,
                    "MajorFrameSeconds is zero".to_owned(),
                    "give the length of the major frame in seconds",
                );
            }
            Some(v)
        })
        .unwrap_or(0);

    let mut windows = Vec::new();
    let mut scheduled: BTreeMap<usize, usize> = BTreeMap::new();
    let mut period_start = Vec::new();
    let mut window_ids = Vec::new();
    let mut schedule_changes = Vec::new();
    for ps in elements(chosen) {
        if !is(ps, &["Partition_Schedule"]) {
            cx.ignore(ps);
            continue;
        }
        let pi = resolve(cx, ps, parts, index);
        if let Some(pi) = pi {
            if let Some(line) = scheduled.get(&pi) {
                let at = cx.pos(ps);
                cx.invalid(
                    at,
                    format!("the partition is already scheduled at line {line}"),
                    "give each partition one <Partition_Schedule> with all its windows",
                );
                continue;
            }
            scheduled.insert(pi, cx.line(ps));
        }
        let period = cx
            .required(ps, &["PeriodSeconds"], "the partition's period in seconds")
            .and_then(|a| cx.seconds(&a));
        let duration = cx
            .required(
                ps,
                &["PeriodDurationSeconds"],
                "the processor time the partition needs in every period, in seconds",
            )
            .and_then(|a| cx.seconds(&a));
        // ARINC 653P1-3 lets a partition switch module schedules and says what a switch does
        // to it; pkernel has one fixed schedule per core.
        let changes: Vec<String> = ["SetModuleSchedule", "ScheduleChangeAction"]
            .into_iter()
            .filter_map(|a| Some(format!("{a} {}", shown(&cx.text_attr(ps, &[a])?))))
            .collect();
        if let Some(p) = pi.and_then(|i| parts.get_mut(i)) {
            p.period_ns = period;
            p.duration_ns = duration;
            p.schedule_at = Some(ps.range().start);
            if !changes.is_empty() {
                schedule_changes.push(format!("{:?} ({})", p.name, changes.join(", ")));
            }
        }
        for w in elements(ps) {
            if !is(w, &["Window_Schedule"]) {
                cx.ignore(w);
                continue;
            }
            let offset = cx
                .required(
                    w,
                    &["WindowStartSeconds"],
                    "when the window starts, in seconds from the start of the major frame",
                )
                .and_then(|a| cx.seconds(&a));
            let duration = cx
                .required(
                    w,
                    &["WindowDurationSeconds"],
                    "the window's length in seconds",
                )
                .and_then(|a| cx.seconds(&a));
            let id = cx
                .text_attr(w, &["WindowIdentifier"])
                .filter(|id| !id.is_empty());
            if let Some(id) = &id {
                window_ids.push(shown(id));
            }
            if let Some(a) = cx.attr(w, &["PartitionPeriodStart"])
                && cx.boolean(&a) == Some(true)
            {
                period_start
                    .push(id.map_or_else(|| format!("line {}", cx.line(w)), |id| shown(&id)));
            }
            if let (Some(partition), Some(offset_ns), Some(duration_ns)) = (pi, offset, duration) {
                windows.push(Window {
                    partition,
                    offset_ns,
                    duration_ns,
                    at: w.range().start,
                });
            }
        }
    }
    windows.sort_by_key(|w| (w.offset_ns, w.partition, w.duration_ns));
    overlaps(cx, &windows, parts);
    if !window_ids.is_empty() {
        cx.note(format!(
            "WindowIdentifier is not kept ({}): a pkernel window is known by its place in the core's schedule, in offset order",
            window_ids.join(", ")
        ));
    }
    if !period_start.is_empty() {
        cx.note(format!(
            "PartitionPeriodStart is not kept (windows {}): pkernel starts a partition's periods at multiples of its period from the start of the major frame",
            period_start.join(", ")
        ));
    }
    if !schedule_changes.is_empty() {
        cx.note(format!(
            "what the Partition_Schedules say about changing module schedules is not kept: pkernel has one fixed schedule per core, which no partition changes: {}",
            schedule_changes.join(", ")
        ));
    }
    // Which partitions each module schedule left out schedules (read once, without checks or
    // notes): a partition missing from the imported schedule is told where it is scheduled.
    let mut left_out: Vec<(String, BTreeSet<i64>, BTreeSet<String>)> = Vec::new();
    if nodes.len() >= 2 && parts.len() > scheduled.len() {
        for &n in nodes.iter().filter(|n| n.range() != chosen.range()) {
            let (mut ids, mut names) = (BTreeSet::new(), BTreeSet::new());
            for ps in elements(n).filter(|ps| is(*ps, &["Partition_Schedule"])) {
                match peek(ps, &["PartitionIdentifier"]) {
                    Some(id) => ids.extend(parse_ident(id).ok()),
                    None => names.extend(peek(ps, &["PartitionName"]).map(|n| n.trim().to_owned())),
                }
            }
            left_out.push((schedule_label(cx, n), ids, names));
        }
    }
    for (i, p) in parts.iter().enumerate() {
        if scheduled.contains_key(&i) {
            continue;
        }
        let at = cx.pos_of(p.offset);
        if nodes.len() < 2 {
            cx.unmappable(
                at,
                format!("partition {} has no <Partition_Schedule> in the module schedule", p.xml_label()),
                "add a <Partition_Schedule> with its period, duration and windows: a pkernel partition runs in windows of core 0",
            );
            continue;
        }
        let elsewhere: Vec<&str> = left_out
            .iter()
            .filter(|(_, ids, names)| {
                ids.contains(&p.id) || p.xml_name.as_ref().is_some_and(|n| names.contains(n))
            })
            .map(|(label, _, _)| label.as_str())
            .collect();
        cx.unmappable(
            at,
            format!(
                "partition {} has no <Partition_Schedule> in module schedule {}, {}, the only one imported{}",
                p.xml_label(),
                choice.label,
                choice.why,
                if elsewhere.is_empty() {
                    String::new()
                } else {
                    format!("; only {} schedules it", elsewhere.join(" and "))
                }
            ),
            format!(
                "pkernel has one fixed schedule per core, so the import reads one module schedule: add a <Partition_Schedule> for the partition to {}, or mark the schedule to import InitialModuleSchedule=\"true\"",
                choice.label
            ),
        );
    }
    Schedule {
        major_frame_ns: major,
        windows,
        at: Some(chosen.range().start),
    }
}

/// A module schedule for messages: `"main" at line 4`, or `at line 4` without a ScheduleName.
fn schedule_label(cx: &Cx<'_>, node: Node<'_, '_>) -> String {
    let line = cx.line(node);
    match peek(node, &["ScheduleName"])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(name) => format!("{} at line {line}", shown(name)),
        None => format!("at line {line}"),
    }
}

/// Reports windows (sorted by offset) that overlap: Part 1 runs one window at a time, so
/// overlapping windows come from a multi-core extension pkernel's import cannot follow.
fn overlaps(cx: &mut Cx<'_>, windows: &[Window], parts: &[Partition]) {
    let label = |w: &Window| {
        parts
            .get(w.partition)
            .map_or_else(String::new, Partition::xml_label)
    };
    for pair in windows.windows(2) {
        let [a, b] = pair else { continue };
        if a.offset_ns.saturating_add(a.duration_ns) > b.offset_ns {
            let (at, line) = (cx.pos_of(b.at), cx.pos_of(a.at).line);
            cx.unmappable(
                at,
                format!(
                    "this window of partition {} overlaps the window of partition {} at line {line}",
                    label(b),
                    label(a)
                ),
                "a Part 1 module schedule runs one window at a time: move the windows apart (multi-core window extensions are not imported)",
            );
        }
    }
}

/// The imported module schedule, how messages name it and why it was chosen.
struct Chosen<'a, 'i> {
    node: Node<'a, 'i>,
    label: String,
    why: &'static str,
}

/// The `<Module_Schedule>` to import: the only one, the one marked `InitialModuleSchedule`,
/// or the first. The others are noted and left out.
fn choose_schedule<'a, 'i>(
    cx: &mut Cx<'_>,
    root: Node<'_, '_>,
    nodes: &[Node<'a, 'i>],
) -> Option<Chosen<'a, 'i>> {
    let Some(&first) = nodes.first() else {
        let at = cx.pos(root);
        cx.invalid(
            at,
            "the module has no <Module_Schedule>".to_owned(),
            "add a <Module_Schedule MajorFrameSeconds=\"...\"> with a <Partition_Schedule> for every partition",
        );
        return None;
    };
    let mut initial = Vec::new();
    for &n in nodes {
        if let Some(a) = cx.attr(n, &["InitialModuleSchedule"])
            && cx.boolean(&a) == Some(true)
        {
            initial.push(n);
        }
    }
    if nodes.len() == 1 {
        return Some(Chosen {
            node: first,
            label: schedule_label(cx, first),
            why: "the only one",
        });
    }
    if let (Some(a), Some(b)) = (initial.first(), initial.get(1)) {
        let (at, line) = (cx.pos(*b), cx.line(*a));
        cx.invalid(
            at,
            format!("a second <Module_Schedule> is marked InitialModuleSchedule (the first is at line {line})"),
            "mark one module schedule as the initial one",
        );
    }
    let (chosen, why) = match initial.first() {
        Some(&n) => (n, "the initial one"),
        None => (first, "the first, as none is marked InitialModuleSchedule"),
    };
    let label = schedule_label(cx, chosen);
    let mut others = Vec::new();
    for &n in nodes.iter().filter(|n| n.range() != chosen.range()) {
        // What is lost with it, counted: its windows.
        let windows = elements(n)
            .filter(|ps| is(*ps, &["Partition_Schedule"]))
            .flat_map(elements)
            .filter(|w| is(*w, &["Window_Schedule"]))
            .count();
        others.push(format!(
            "{} ({})",
            schedule_label(cx, n),
            crate::diag::count(windows, "window", "windows")
        ));
        cx.skip(n);
    }
    cx.note(format!(
        "only module schedule {label} ({why}) is imported: pkernel has one fixed schedule per core; left out: {}",
        others.join(", ")
    ));
    Some(Chosen {
        node: chosen,
        label,
        why,
    })
}

/// Reads the connection table into channels, marks the ports they connect, and notes what
/// cannot be connected (pseudo partitions, unconnected ports).
pub(super) fn channels(
    cx: &mut Cx<'_>,
    tables: &[Node<'_, '_>],
    parts: &mut [Partition],
    index: &Index,
) -> Vec<Channel> {
    let mut channels: Vec<(Option<String>, Option<i64>, Channel)> = Vec::new();
    let mut used: BTreeMap<PortRef, usize> = BTreeMap::new();
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let mut reused_ids = BTreeSet::new();
    let mut address_ignored = false;
    for &table in tables {
        for c in elements(table) {
            if !is(c, &["Channel"]) {
                cx.ignore(c);
                continue;
            }
            let id = cx
                .attr(c, &["ChannelIdentifier"])
                .and_then(|a| cx.ident(&a));
            if let Some(id) = id
                && !ids.insert(id)
            {
                reused_ids.insert(id);
            }
            let xml_name = cx.text_attr(c, &["ChannelName"]).filter(|n| !n.is_empty());
            let label = xml_name
                .as_ref()
                .map(|n| shown(n))
                .or_else(|| id.map(|i| format!("{i}")))
                .unwrap_or_else(|| format!("at line {}", cx.line(c)));
            let mut sources = Vec::new();
            let mut destinations = Vec::new();
            for end in elements(c) {
                let list = if is(end, &["Source"]) {
                    &mut sources
                } else if is(end, &["Destination"]) {
                    &mut destinations
                } else {
                    cx.ignore(end);
                    continue;
                };
                cx.visit(end);
                for p in elements(end) {
                    if is(p, &["Standard_Partition", "Pseudo_Partition"]) {
                        list.push(p);
                    } else {
                        cx.ignore(p);
                    }
                }
            }
            let at = cx.pos(c);
            if sources.len() != 1 {
                cx.invalid(
                    at,
                    if sources.is_empty() {
                        format!("channel {label} has no source")
                    } else {
                        format!("channel {label} has {} sources", sources.len())
                    },
                    "give the channel one <Source> holding one <Standard_Partition>",
                );
                continue;
            }
            if destinations.is_empty() {
                cx.invalid(
                    at,
                    format!("channel {label} has no destination"),
                    "add a <Destination> holding a <Standard_Partition>",
                );
                continue;
            }
            for e in sources.iter().chain(&destinations) {
                if is(*e, &["Standard_Partition"]) && cx.attr(*e, &["PhysicalAddress"]).is_some() {
                    address_ignored = true;
                }
            }
            let source = sources.first().copied();
            let source_ref = match source {
                Some(s) if is(s, &["Standard_Partition"]) => {
                    end_port(cx, s, parts, index, true, None)
                }
                Some(s) => {
                    let pseudo = pseudo_label(cx, s);
                    cx.note(format!(
                        "channel {label} is dropped: its source is Pseudo_Partition {pseudo}, which pkernel cannot connect"
                    ));
                    cx.skip(c);
                    continue;
                }
                None => continue,
            };
            let mut dests = Vec::new();
            let mut ends_at = vec![source.map_or(at, |s| cx.pos(s))];
            let mut ok = source_ref.is_some();
            for d in &destinations {
                if is(*d, &["Pseudo_Partition"]) {
                    let pseudo = pseudo_label(cx, *d);
                    cx.note(format!(
                        "channel {label}: destination Pseudo_Partition {pseudo} is dropped"
                    ));
                    continue;
                }
                match end_port(cx, *d, parts, index, false, source_ref) {
                    Some(r) if dests.contains(&r) => {
                        let at = cx.pos(*d);
                        cx.invalid(
                            at,
                            format!("channel {label} lists this destination port twice"),
                            "list every destination once",
                        );
                        ok = false;
                    }
                    Some(r) => {
                        dests.push(r);
                        ends_at.push(cx.pos(*d));
                    }
                    None => ok = false,
                }
            }
            let Some(source_ref) = source_ref.filter(|_| ok) else {
                continue;
            };
            if dests.is_empty() {
                cx.note(format!(
                    "channel {label} is dropped: all its destinations are pseudo partitions"
                ));
                cx.skip(c);
                continue;
            }
            let queuing = port_at(parts, source_ref).is_some_and(|p| p.queuing);
            if queuing && dests.len() > 1 {
                cx.unmappable(
                    at,
                    format!("queuing channel {label} has {} destinations", dests.len()),
                    "a pkernel queuing channel has exactly one destination: split it into one channel per destination",
                );
                continue;
            }
            let line = cx.line(c);
            for (r, end_at) in std::iter::once(source_ref)
                .chain(dests.iter().copied())
                .zip(ends_at)
            {
                if let Some(first) = used.get(&r) {
                    let name = port_at(parts, r)
                        .map(|p| p.xml_name.clone())
                        .unwrap_or_default();
                    cx.invalid(
                        end_at,
                        format!("port {} is already connected by the channel at line {first}", shown(&name)),
                        "connect every port with one channel; a sampling channel may have several destinations",
                    );
                    ok = false;
                } else {
                    used.insert(r, line);
                }
            }
            if ok {
                channels.push((
                    xml_name,
                    id,
                    Channel {
                        name: String::new(),
                        source: source_ref,
                        destinations: dests,
                        at: c.range().start,
                    },
                ));
            }
        }
    }
    if !reused_ids.is_empty() {
        let list: Vec<String> = reused_ids.iter().map(i64::to_string).collect();
        cx.note(format!(
            "ChannelIdentifier {} is used by several channels: channel identifiers are not kept, channels are known by name",
            list.join(", ")
        ));
    } else if !ids.is_empty() {
        cx.note("ChannelIdentifier is not kept: a pkernel channel is known by its name".to_owned());
    }
    if address_ignored {
        cx.note("PhysicalAddress of channel ends is not used: pkernel places every channel buffer in [module] shared_memory".to_owned());
    }

    let mut namer = Namer::new(MAX_NAME, 'c');
    let mut renamed = Vec::new();
    let mut out = Vec::new();
    for (n, (xml_name, id, mut channel)) in channels.into_iter().enumerate() {
        let wanted = xml_name.clone().unwrap_or_else(|| match id {
            Some(id) => format!("channel_{id}"),
            None => format!("channel_{}", n.saturating_add(1)),
        });
        channel.name = namer.name(&wanted);
        match xml_name {
            Some(x) if x != channel.name => renamed.push((x, channel.name.clone())),
            Some(_) => {}
            None => cx.note(format!(
                "a channel without ChannelName is named {:?}",
                channel.name
            )),
        }
        for r in std::iter::once(channel.source).chain(channel.destinations.iter().copied()) {
            if let Some(p) = parts
                .get_mut(r.partition)
                .and_then(|p| p.ports.get_mut(r.port))
            {
                p.connected = true;
            }
        }
        out.push(channel);
    }
    if !renamed.is_empty() {
        cx.note(format!(
            "channels renamed (pkernel name rules): {}",
            renames(&renamed)
        ));
    }
    let zero_refresh: Vec<String> = parts
        .iter()
        .flat_map(|p| {
            p.ports
                .iter()
                .filter(|q| q.connected && q.refresh_ns == Some(0))
                .map(move |q| format!("{:?} of {:?}", q.name, p.name))
        })
        .collect();
    if !zero_refresh.is_empty() {
        cx.note(format!(
            "RefreshRateSeconds 0 of sampling source {} is not written: pkernel refuses a zero refresh_period, and a source's has no effect",
            zero_refresh.join(", ")
        ));
    }
    for p in parts.iter() {
        let loose: Vec<String> = p
            .ports
            .iter()
            .filter(|q| !q.connected)
            .map(|q| shown(&q.xml_name))
            .collect();
        if !loose.is_empty() {
            cx.note(format!(
                "ports of partition {:?} that no imported channel connects are left out (pkernel rejects unconnected ports): {}",
                p.name,
                loose.join(", ")
            ));
        }
    }
    out
}

/// A `<Pseudo_Partition>` for notes: `"GPS" (outside the module; PhysicalAddress "0x1000")`,
/// with the `PhysicalAddress` and `Procedure` that go with it, so dropping the end drops
/// nothing silently.
fn pseudo_label(cx: &mut Cx<'_>, e: Node<'_, '_>) -> String {
    let name = cx.text_attr(e, &["Name"]).unwrap_or_default();
    let details: String = ["PhysicalAddress", "Procedure"]
        .into_iter()
        .filter_map(|a| Some(format!("; {a} {}", shown(&cx.text_attr(e, &[a])?))))
        .collect();
    format!("{} (outside the module{details})", shown(&name))
}

fn port_at(parts: &[Partition], r: PortRef) -> Option<&Port> {
    parts.get(r.partition).and_then(|p| p.ports.get(r.port))
}

/// The port a `<Standard_Partition>` channel end names, checked against the end it is
/// (`source`) and, for destinations, against the channel's source port.
fn end_port(
    cx: &mut Cx<'_>,
    e: Node<'_, '_>,
    parts: &[Partition],
    index: &Index,
    source: bool,
    source_port: Option<PortRef>,
) -> Option<PortRef> {
    let pi = resolve(cx, e, parts, index);
    let port_attr = cx.required(e, &["PortName"], "the name of the partition's port");
    let (pi, port_attr) = (pi?, port_attr?);
    let p = parts.get(pi)?;
    let wanted = port_attr.value().trim();
    let shown_wanted = shown(wanted);
    let at = cx.attr_pos(&port_attr);
    let Some(qi) = p.ports.iter().position(|q| q.xml_name == wanted) else {
        let names: Vec<String> = p.ports.iter().map(|q| shown(&q.xml_name)).collect();
        cx.invalid(
            at,
            format!(
                "partition {} has no port named {shown_wanted}",
                p.xml_label()
            ),
            if names.is_empty() {
                "declare the port with a <Sampling_Port> or <Queuing_Port> in the partition"
                    .to_owned()
            } else {
                format!("use one of its ports: {}", some_of(&names))
            },
        );
        return None;
    };
    let port = p.ports.get(qi)?;
    if port.source != source {
        cx.invalid(
            at,
            format!(
                "port {shown_wanted} is a {} port but is the channel's {}",
                if port.source { "SOURCE" } else { "DESTINATION" },
                if source { "source" } else { "destination" }
            ),
            "a channel goes from a SOURCE port to DESTINATION ports: swap the ends or fix the port's Direction",
        );
        return None;
    }
    if let Some((src, src_part)) =
        source_port.and_then(|r| Some((port_at(parts, r)?, parts.get(r.partition)?)))
    {
        if src.queuing != port.queuing {
            let kind = |q: bool| if q { "queuing" } else { "sampling" };
            cx.invalid(
                at,
                format!(
                    "port {shown_wanted} is a {} port but the channel's source is a {} port",
                    kind(port.queuing),
                    kind(src.queuing)
                ),
                "connect sampling ports to sampling ports and queuing ports to queuing ports",
            );
            return None;
        }
        if port.max_message_size < src.max_message_size {
            cx.invalid(
                at,
                format!(
                    "destination port {shown_wanted} takes messages of at most {}, but source port {} sends up to {}",
                    count(port.max_message_size, "byte", "bytes"),
                    shown(&src.xml_name),
                    src.max_message_size
                ),
                format!("raise the destination's MaxMessageSize to at least {}", src.max_message_size),
            );
            return None;
        }
        if port.queuing && port.max_messages != src.max_messages {
            cx.unmappable(
                at,
                format!(
                    "destination port {shown_wanted} holds {}, but source port {} of partition {} holds {}",
                    count(port.max_messages, "message", "messages"),
                    shown(&src.xml_name),
                    src_part.xml_label(),
                    src.max_messages
                ),
                "a pkernel queuing channel has one queue: give both ports the same MaxNbMessages",
            );
            return None;
        }
    }
    Some(PortRef {
        partition: pi,
        port: qi,
    })
}
