//! ARINC 653 Part 1 XML configuration → pkernel TOML configuration.
//!
//! Reads the module configuration of ARINC 653P1-2 (root `<ARINC_653_Module>`, as written by
//! AIR, POK-derived tools and vendor exports) and writes the equivalent configuration file.
//! What maps one to one is written; what the XML leaves open (board, core, images, addresses)
//! is chosen and noted; what pkernel cannot express is dropped and noted, or, when the system
//! would change meaning, stops the import with an error ([`Rule::XmlUnmappable`]).
//!
//! | ARINC 653 XML | pkernel TOML |
//! |---|---|
//! | `ModuleName` | `[module] name` |
//! | `<Partition>` | `[[partition]]`: `rtos`, or `system` for `SystemPartition="true"`, on core 0 |
//! | `<Sampling_Port>`, `<Queuing_Port>` | `[[partition.sampling_port]]`, `[[partition.queuing_port]]` |
//! | `<Memory_Requirements>` | `[[partition.memory]]` (CODE → `rx`, DATA → `r`/`rw`), I/O → `[[partition.device]]` |
//! | `<Module_Schedule>`, `<Partition_Schedule>`, `<Window_Schedule>` | `[[schedule]]` of core 0, `period`/`duration`, `[[schedule.window]]` |
//! | `<Channel>` | `[[channel]]` and `[module] shared_memory` |
//! | `System_HM_Table` + `Module_HM_Table` / `Partition_HM_Table` | `[module.hm]` / `[partition.hm]` |
//!
//! Reading is liberal where the meaning is unambiguous (namespace prefixes, case and `_` in
//! names, `0x` numbers, `20E-3` seconds, files in UTF-8, UTF-16 or ISO-8859-1) and precise
//! otherwise: every error points at the element or attribute to change, and all of them are
//! reported in one run. The configuration written remembers which XML element each of its
//! lines comes from, so [`Imported::check`] can point at the XML too when the result breaks
//! a pkernel rule the XML could not see.
//!
//! # No silent loss
//!
//! Every attribute of the Part 1 schema (POK's `arinc653-schema.xsd`, AIR's
//! `air_module_a653.xsd`) is imported, noted or refused; `tests/import_attributes.rs` checks
//! each fate. Attributes outside the schema (vendor extensions), and schema attributes where
//! the schema does not put them, are noted by name ("attributes with no pkernel
//! equivalent ... are ignored: MinorFrameSeconds on <Module_Schedule>"), elements likewise.
//! Notes quote the values they drop.
//!
//! | Element | Attribute | Fate |
//! |---|---|---|
//! | `ARINC_653_Module` | `ModuleName` | imported: `[module] name` (renaming to the name rules noted; absent: the file's name, noted) |
//! | | `ModuleVersion`, `ModuleId` | noted: "ModuleVersion … and ModuleId … are not kept: a pkernel configuration has no module version or identifier" |
//! | `Partition` | `PartitionIdentifier` | imported as the partition's reference; noted where it differs from the pkernel number: "PartitionIdentifier is not kept: pkernel numbers partitions in file order from 0 …"; not a number or used twice: refused (E101) |
//! | | `PartitionName` | imported: `[[partition]] name` (renaming noted; absent: `partition_<id>`, noted) |
//! | | `Criticality` | imported: `criticality` (`LEVEL_B` → `"B"`; absent: `"A"`, noted; other values refused, E101) |
//! | | `SystemPartition` | imported: `kind = "system"` (else `"rtos"`, noted) |
//! | | `EntryPoint` | noted: "EntryPoint is not kept: a partition starts at its ELF's entry point (…)" |
//! | `Sampling_Port`, `Queuing_Port` | `Name` | imported: port `name` and the channel ends (renaming noted) |
//! | | `MaxMessageSize` | imported: `max_message_size` (zero: E101) |
//! | | `Direction` | imported: `direction` |
//! | `Sampling_Port` | `RefreshRateSeconds` | imported: `refresh_period`; required on a destination (E101), zero there refused (E102); zero on a source noted: "RefreshRateSeconds 0 of sampling source … is not written …" |
//! | `Queuing_Port` | `MaxNbMessages` | imported: `max_messages` (the two ends differ: E102) |
//! | `Partition_Memory` | `PartitionIdentifier`, `PartitionName` | imported: whose `[[partition.memory]]` |
//! | `Memory_Requirements` | `RegionName` | imported: region or device `name` (renaming noted) |
//! | | `Type` | imported: `CODE` → executable `[[partition.memory]]`, `DATA` → `[[partition.memory]]`, `IO` → `[[partition.device]]` (other types noted as data) |
//! | | `SizeBytes` | imported: `size`, `mmio` size (rounding up to pages noted) |
//! | | `Access` | imported: `access` (widenings noted) |
//! | | `PhysicalAddress` | imported: `ipa` (= physical), `mmio` base; absent: placed (noted), or refused for I/O (E102); not 4 KiB aligned: E102 |
//! | `Module_Schedule` | `MajorFrameSeconds` | imported: `[[schedule]] major_frame` |
//! | | `ScheduleIdentifier`, `ScheduleName` | noted: "the module schedule's ScheduleName … and ScheduleIdentifier … are not kept …" |
//! | | `InitialModuleSchedule` | imported: chooses the one schedule imported (the others noted as left out; two initial ones: E101) |
//! | `Partition_Schedule` | `PartitionIdentifier`, `PartitionName` | imported: whose `period`, `duration` and windows |
//! | | `PeriodSeconds`, `PeriodDurationSeconds` | imported: `period`, `duration` |
//! | | `SetModuleSchedule`, `ScheduleChangeAction` | noted: "what the Partition_Schedules say about changing module schedules is not kept: …" |
//! | `Window_Schedule` | `WindowIdentifier` | noted: "WindowIdentifier is not kept (…): a pkernel window is known by its place …" |
//! | | `WindowStartSeconds`, `WindowDurationSeconds` | imported: `[[schedule.window]] offset`, `duration` (overlaps: E102) |
//! | | `PartitionPeriodStart` | noted when true: "PartitionPeriodStart is not kept (windows …): …" |
//! | `Channel` | `ChannelIdentifier` | noted: "ChannelIdentifier is not kept: a pkernel channel is known by its name" (names a channel without `ChannelName`) |
//! | | `ChannelName` | imported: `[[channel]] name` (renaming noted) |
//! | `Standard_Partition` | `PartitionIdentifier`, `PartitionName`, `PortName` | imported: `source`, `destinations` |
//! | | `PhysicalAddress` | noted: "PhysicalAddress of channel ends is not used: …" |
//! | `Pseudo_Partition` | `Name`, `PhysicalAddress`, `Procedure` | noted with the dropped end: "… Pseudo_Partition "GPS" (outside the module; PhysicalAddress …; Procedure …) …" |
//! | `System_State_Entry` | `SystemState`, `Description` | imported: which state's entries become the HM tables (choice noted) |
//! | `Error_ID_Level` | `ErrorIdentifier`, `ErrorLevel`, `ErrorCode`, `Description` | imported: which pkernel error an identifier is and whether it goes to `[module.hm]` or `[partition.hm]` (unresolved ones noted) |
//! | `Error_ID_Action` | `ErrorIdentifier`, `Action`, `Description` | imported: `[module.hm]` / `[partition.hm]` entries (dropped ones noted) |
//! | `Module_HM_Table` | `ModuleCallback` | noted: "ModuleCallback is not kept: …" |
//! | `Partition_HM_Table` | `PartitionIdentifier`, `PartitionName` | imported: whose `[partition.hm]` |
//! | | `PartitionCallback` | noted: "PartitionCallback of partition … is not kept: …" |

mod emit;
mod hm;
mod ir;
mod layout;
mod names;
mod read;
mod xml;

use std::collections::BTreeMap;
use std::path::Path;

use crate::LoadedConfig;
use crate::diag::{Diagnostic, Diagnostics, Position, Rule};
use crate::model::format_duration;
use xml::{Cx, is, shown};

/// Choices the XML cannot make.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The board the imported module runs on (`[module] board`).
    pub board: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            board: "qemu-virt".to_owned(),
        }
    }
}

/// An import that succeeded: the configuration text and what the reader must review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The pkernel configuration (TOML).
    pub toml: String,
    /// One line per thing that was not mapped one to one (also written into `toml` as comments).
    pub notes: Vec<String>,
    /// For each line of `toml` (1-based) that comes from an XML element, that element and
    /// where it is: `<Window_Schedule> at module.xml:31:7`.
    from_xml: BTreeMap<usize, String>,
}

impl Imported {
    /// Checks the configuration as `schedule-gen check` would (`name` and `base_dir` as for
    /// [`crate::load_str`]): the XML can be consistent in itself and still break a pkernel
    /// rule. Each error also names the XML element its line came from.
    pub fn check(&self, name: &str, base_dir: &Path) -> Result<LoadedConfig, Diagnostics> {
        crate::load_str(name, &self.toml, base_dir).map_err(|d| self.point_at_xml(d))
    }

    /// `diagnostics` about this configuration, each about a line that comes from an XML
    /// element ending in `(from <Element> at MODULE.xml:LINE:COL)`.
    pub fn point_at_xml(&self, diagnostics: Diagnostics) -> Diagnostics {
        Diagnostics::new(
            diagnostics
                .into_vec()
                .into_iter()
                .map(|mut d| {
                    if let Some(from) = d.position.and_then(|p| self.from_xml.get(&p.line)) {
                        d.message = format!("{} (from {from})", d.message);
                    }
                    d
                })
                .collect(),
        )
    }
}

/// Imports the ARINC 653 XML file at `path`.
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<Imported, Diagnostics> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::new(
            Rule::ConfigUnreadable,
            &name,
            format!("cannot read the ARINC 653 XML file: {e}"),
            "check the path of the XML file and that it can be read",
        )
    })?;
    import_bytes(&name, &bytes, options)
}

/// Imports an ARINC 653 XML file's bytes, in any encoding the importer reads (UTF-8,
/// UTF-16, ISO-8859-1, ...); `name` is used in messages.
pub fn import_bytes(
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<Imported, Diagnostics> {
    let text = xml::decode(name, bytes)?;
    import_str(name, &text, options)
}

/// Imports ARINC 653 XML text; `name` is used in messages.
pub fn import_str(name: &str, xml: &str, options: &ImportOptions) -> Result<Imported, Diagnostics> {
    let mut cx = Cx::new(name, xml);
    let board = bsp::board_by_name(&options.board);
    if board.is_none() {
        let known: Vec<&str> = bsp::BOARDS.iter().map(|b| b.name).collect();
        cx.diags.push(Diagnostic::new(
            Rule::UnknownBoard,
            name,
            format!("unknown board {:?} in the import options", options.board),
            format!(
                "import for one of the boards pkernel supports: {}",
                known.join(", ")
            ),
        ));
    }
    if let Some(offset) = xml::too_deep(xml) {
        let at = cx.pos_of(offset);
        cx.invalid(
            at,
            format!("elements nest more than {} levels deep here", xml::MAX_DEPTH),
            "an ARINC 653 module configuration nests a few levels deep: check that this is the right file",
        );
        return Err(finish(cx.diags));
    }
    let parsed = roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 1_000_000,
        },
    );
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => {
            let pos = e.pos();
            let message = e.to_string();
            // The parser's message may repeat a name from the text: bounded like the others.
            let message = xml::bounded_to(
                message
                    .strip_suffix(&format!(" at {pos}"))
                    .unwrap_or(&message),
                200,
            );
            cx.error(
                Rule::XmlSyntax,
                Position {
                    line: usize::try_from(pos.row).unwrap_or(usize::MAX),
                    column: usize::try_from(pos.col).unwrap_or(usize::MAX),
                },
                format!("the file is not well-formed XML: {message}"),
                "fix the XML syntax here".to_owned(),
            );
            return Err(finish(cx.diags));
        }
    };
    let root = doc.root_element();
    if !is(root, &["ARINC_653_Module"]) {
        let at = cx.pos(root);
        if let Some((message, help)) = other_format(root) {
            cx.invalid(at, message, help);
        } else if is(root, &["MODULE"]) {
            cx.unmappable(
                at,
                "the root element <MODULE> is the later (2015) ARINC 653 configuration schema, which this importer does not read".to_owned(),
                "export the configuration in the ARINC 653P1-2 format, whose root element is <ARINC_653_Module>",
            );
        } else {
            cx.invalid(
                at,
                format!(
                    "the root element is {}, not <ARINC_653_Module>",
                    xml::tag(root)
                ),
                "import an ARINC 653 Part 1 module configuration (root element <ARINC_653_Module>)",
            );
        }
        return Err(finish(cx.diags));
    }

    let module_name = read::module_name(&mut cx, root);
    let sections = read::sections(&mut cx, root);
    if sections.partitions.is_empty() {
        let at = cx.pos(root);
        cx.invalid(
            at,
            "the module has no <Partition>".to_owned(),
            "declare the module's partitions with <Partition> elements",
        );
    }
    let (mut parts, index) = read::partitions(&mut cx, &sections.partitions);
    read::memory(&mut cx, &sections.memory, &mut parts, &index);
    let schedule = read::schedule(&mut cx, root, &sections.schedules, &mut parts, &index);
    let channels = read::channels(&mut cx, &sections.connections, &mut parts, &index);
    let module_hm = hm::tables(
        &mut cx,
        &sections.system_hm,
        &sections.module_hm,
        &sections.partition_hm,
        &mut parts,
        &index,
    );
    hm_origins(&sections, &mut parts, &index);
    let mut module = ir::Module {
        name: module_name,
        partitions: parts,
        major_frame_ns: schedule.major_frame_ns,
        windows: schedule.windows,
        channels,
        module_hm,
        shared_memory: None,
        root_at: root.range().start,
        schedule_at: schedule.at,
        hm_at: sections.module_hm.first().map(|t| t.range().start),
    };
    if let (Some(board), true) = (board, cx.diags.is_empty()) {
        layout::place(&mut cx, &mut module, board, root.range().start);
    }
    if !cx.diags.is_empty() {
        return Err(finish(cx.diags));
    }

    let mut notes = vec![
        format!("board {:?} comes from the import options, not from the XML", options.board),
        format!(
            "every partition is time-partitioned on core 0 with the module schedule's major frame ({}): ARINC 653 Part 1 schedules one processor",
            format_duration(module.major_frame_ns)
        ),
        "partitions get kind \"rtos\" (an ARINC 653 partition OS), or \"system\" for SystemPartition=\"true\": change it where the payload is bare-metal or Linux".to_owned(),
        "each partition's image is assumed to be { elf = \"<partition name>.elf\" } beside this file".to_owned(),
    ];
    cx.note_unread_attributes(root);
    notes.append(&mut cx.notes);
    if !cx.ignored.is_empty() {
        let list: Vec<String> = cx
            .ignored
            .iter()
            .map(|(tag, n)| {
                if *n == 1 {
                    tag.clone()
                } else {
                    format!("{tag} ×{n}")
                }
            })
            .collect();
        notes.push(format!(
            "elements with no pkernel equivalent (implementation extensions, process attributes, ...) are ignored: {}",
            list.join(", ")
        ));
    }
    let written = emit::toml(name, &module, &options.board, &notes);
    let from_xml = origins(&cx, root, &written.origins);
    Ok(Imported {
        toml: written.toml,
        notes,
        from_xml,
    })
}

/// For each TOML line with an origin (1-based), its XML element and where it is.
fn origins(
    cx: &Cx<'_>,
    root: roxmltree::Node<'_, '_>,
    lines: &[Option<usize>],
) -> BTreeMap<usize, String> {
    let wanted: std::collections::BTreeSet<usize> = lines.iter().flatten().copied().collect();
    let elements: BTreeMap<usize, String> = root
        .descendants()
        .filter(|n| n.is_element() && wanted.contains(&n.range().start))
        .map(|n| {
            let p = cx.pos(n);
            (
                n.range().start,
                format!("{} at {}:{}:{}", xml::tag(n), cx.file, p.line, p.column),
            )
        })
        .collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, at)| Some((i.saturating_add(1), elements.get(&(*at)?)?.clone())))
        .collect()
}

/// Where each partition's `[partition.hm]` comes from: its `<Partition_HM_Table>`, matched as
/// the HM reader matches it (by `PartitionIdentifier`, or `PartitionName` without one).
fn hm_origins(sections: &read::Sections<'_, '_>, parts: &mut [ir::Partition], index: &read::Index) {
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, p) in parts.iter().enumerate() {
        if let Some(name) = &p.xml_name {
            by_name.entry(name.as_str()).or_insert(i);
        }
    }
    let mut found_at = Vec::new();
    for t in &sections.partition_hm {
        let found = match xml::peek(*t, &["PartitionIdentifier"]) {
            Some(id) => xml::parse_ident(id)
                .ok()
                .and_then(|id| index.get(&id).copied()),
            None => {
                xml::peek(*t, &["PartitionName"]).and_then(|name| by_name.get(name.trim()).copied())
            }
        };
        if let Some(i) = found {
            found_at.push((i, t.range().start));
        }
    }
    // The first table of a partition is the one read (a second is an error).
    for (i, at) in found_at {
        if let Some(p) = parts.get_mut(i).filter(|p| p.hm_at.is_none()) {
            p.hm_at = Some(at);
        }
    }
}

/// What a root element that is not `<ARINC_653_Module>` is, when it is a configuration format
/// people try to import: message and advice.
fn other_format(root: roxmltree::Node<'_, '_>) -> Option<(String, String)> {
    let namespace = root.tag_name().namespace().unwrap_or("");
    let by_hand = |format: &str| {
        format!(
            "import the system's ARINC 653 Part 1 module configuration (root <ARINC_653_Module>) if it has one, or write the pkernel configuration from the {format} one by hand (docs/configuration.md describes the format)"
        )
    };
    if namespace.to_ascii_lowercase().contains("fentiss") {
        return Some((
            format!(
                "this is a fentISS XNG module configuration ({} in namespace {}), not an ARINC 653 Part 1 module configuration (root <ARINC_653_Module>): XNG's format is not imported",
                xml::tag(root),
                shown(namespace)
            ),
            by_hand("XNG"),
        ));
    }
    if is(root, &["SystemDescription"]) || namespace.to_ascii_lowercase().contains("xtratum") {
        return Some((
            format!(
                "this is an XtratuM system description (root {}, XtratuM's XML configuration), not an ARINC 653 Part 1 module configuration (root <ARINC_653_Module>): XtratuM's format is not imported",
                xml::tag(root)
            ),
            by_hand("XtratuM"),
        ));
    }
    if is(root, &["IOPartition"]) {
        return Some((
            format!(
                "this is an AIR I/O partition description (root {}: the devices and routes of AIR's I/O partition), not an ARINC 653 Part 1 module configuration (root <ARINC_653_Module>)",
                xml::tag(root)
            ),
            "import the AIR module configuration (root <ARINC_653_Module>) instead; give the I/O partition's devices to its partition by hand with [[partition.device]]".to_owned(),
        ));
    }
    None
}

/// All errors, in the order of the text they point at (those about no text first).
fn finish(mut diags: Vec<Diagnostic>) -> Diagnostics {
    diags.sort_by_key(|d| d.position);
    Diagnostics::new(diags)
}
