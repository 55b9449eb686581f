//! Certification reports: the same facts as a self-contained HTML page, JSON and plain text.
//!
//! [`facts::collect`] computes every fact once from the validated model; [`render_json`],
//! [`render_text`] and [`render_html`] only present that one structure, so the three files can
//! never disagree. Output depends on the configuration alone (no clock, no directory), so the
//! same input gives byte-identical files. Given a kernel trace, the facts also hold the
//! "Planned vs observed" section (`crate::trace::observe`); without one, that section is
//! absent and nothing else changes.

pub mod facts;
mod html;
mod svg;
mod text;
mod words;

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, Rule};
use crate::model::LoadedConfig;

pub use facts::{FORMAT, Facts};

/// Name of the HTML report in the output directory.
pub const HTML_FILE: &str = "report.html";
/// Name of the JSON report in the output directory.
pub const JSON_FILE: &str = "report.json";
/// Name of the text report in the output directory.
pub const TEXT_FILE: &str = "report.txt";

/// `report.json`: the facts, pretty-printed, fields in declaration order, with a final newline.
pub fn render_json(facts: &Facts) -> String {
    // Serializing plain structs of strings and integers cannot fail.
    let mut s = serde_json::to_string_pretty(facts).unwrap_or_default();
    s.push('\n');
    s
}

/// `report.txt`: the facts as fixed-width tables.
pub fn render_text(facts: &Facts) -> String {
    text::render(facts)
}

/// `report.html`: one self-contained page (inline CSS and SVG, no script, no external resource).
pub fn render_html(facts: &Facts) -> String {
    html::render(facts)
}

/// Writes `report.html`, `report.json` and `report.txt` for `cfg` into `out_dir` (created if
/// missing; files whose content is unchanged are not rewritten); returns the paths written.
pub fn write_reports(cfg: &LoadedConfig, out_dir: &Path) -> Result<Vec<PathBuf>, Diagnostics> {
    write_facts(&facts::collect(cfg), out_dir)
}

/// Like [`write_reports`], for facts already collected (e.g. with
/// [`Facts::observed`](facts::Facts::observed) set from a trace).
pub fn write_facts(facts: &Facts, out_dir: &Path) -> Result<Vec<PathBuf>, Diagnostics> {
    let files = [
        (HTML_FILE, render_html(facts)),
        (JSON_FILE, render_json(facts)),
        (TEXT_FILE, render_text(facts)),
    ];
    let unwritable = |what: &Path, e: std::io::Error| {
        Diagnostic::new(
            Rule::OutputUnwritable,
            what.display().to_string(),
            format!("cannot write the report: {e}"),
            "check that the output directory can be created and written",
        )
    };
    std::fs::create_dir_all(out_dir).map_err(|e| unwritable(out_dir, e))?;
    let mut written = Vec::new();
    for (name, content) in files {
        let path = out_dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(content.as_bytes()) {
            std::fs::write(&path, content.as_bytes()).map_err(|e| unwritable(&path, e))?;
        }
        written.push(path);
    }
    Ok(written)
}
