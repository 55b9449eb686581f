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
//! names, `0x` numbers, `20E-3` seconds) and precise otherwise: every error points at the
//! element or attribute to change, and all of them are reported in one run.

mod emit;
mod hm;
mod ir;
mod layout;
mod names;
mod read;
mod xml;

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics, Position, Rule};
use crate::model::format_duration;
use xml::{Cx, is};

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
}

/// Imports the ARINC 653 XML file at `path`.
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<Imported, Diagnostics> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::new(
            Rule::ConfigUnreadable,
            &name,
            format!("cannot read the ARINC 653 XML file: {e}"),
            "check the path of the XML file (it must be UTF-8)",
        )
    })?;
    import_str(&name, &text, options)
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
            let message = message
                .strip_suffix(&format!(" at {pos}"))
                .unwrap_or(&message)
                .to_owned();
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
        if is(root, &["MODULE"]) {
            cx.unmappable(
                at,
                "the root element <MODULE> is the later (2015) ARINC 653 configuration schema, which this importer does not read".to_owned(),
                "export the configuration in the ARINC 653P1-2 format, whose root element is <ARINC_653_Module>",
            );
        } else {
            cx.invalid(
                at,
                format!(
                    "the root element is <{}>, not <ARINC_653_Module>",
                    root.tag_name().name()
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
    let (major_frame_ns, windows) =
        read::schedule(&mut cx, root, &sections.schedules, &mut parts, &index);
    let channels = read::channels(&mut cx, &sections.connections, &mut parts, &index);
    let module_hm = hm::tables(
        &mut cx,
        &sections.system_hm,
        &sections.module_hm,
        &sections.partition_hm,
        &mut parts,
        &index,
    );
    let mut module = ir::Module {
        name: module_name,
        partitions: parts,
        major_frame_ns,
        windows,
        channels,
        module_hm,
        shared_memory: None,
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
        "each partition's image is assumed to be { elf = \"<partition name>.elf\" } beside this file; EntryPoint is not kept: a partition starts at its ELF's entry point".to_owned(),
    ];
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
    let toml = emit::toml(name, &module, &options.board, &notes);
    Ok(Imported { toml, notes })
}

/// All errors, in the order of the text they point at (those about no text first).
fn finish(mut diags: Vec<Diagnostic>) -> Diagnostics {
    diags.sort_by_key(|d| d.position);
    Diagnostics::new(diags)
}
