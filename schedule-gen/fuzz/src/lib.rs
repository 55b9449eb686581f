//! What the fuzz targets do with an input once it is text; shared by `fuzz_targets/*.rs`.
//!
//! Every function here must return normally for every input: a panic (or abort, overflow,
//! out-of-bounds index, stack overflow) is the bug libFuzzer reports.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use schedule_gen::LoadedConfig;
use schedule_gen::import::ImportOptions;

/// Name given to every configuration; also the file name `system_tables.rs` mentions.
const CONFIG_NAME: &str = "fuzz.toml";

/// Directory relative ELF paths are resolved against. Validation only joins paths, it reads
/// no file, so this need not exist.
fn base_dir() -> &'static Path {
    Path::new("/fuzz-config")
}

/// `SCHEDULE_GEN_FUZZ_STRICT=1`: also fail when an import succeeds but its TOML does not load
/// (a wrong import rather than a panic). Off by default: the targets look for panics.
fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("SCHEDULE_GEN_FUZZ_STRICT").is_some_and(|v| v != "0"))
}

/// Per-process scratch directory for the reports (several fuzzing jobs may run at once).
fn report_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::temp_dir().join(format!("schedule-gen-fuzz-{}", std::process::id()))
    })
}

/// Bytes → text the way a user's editor would hand it over: invalid UTF-8 is replaced, so
/// mutations that break one byte of a multi-byte character still reach the parser.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// `schedule-gen check` and `report`/`generate` for one configuration text: load it; print its
/// errors, or generate the tables and the three reports.
pub fn config(text: &str) -> Option<LoadedConfig> {
    match schedule_gen::load_str(CONFIG_NAME, text, base_dir()) {
        Ok(cfg) => {
            valid_config(&cfg);
            Some(cfg)
        }
        Err(diags) => {
            // The CLI prints every diagnostic; positions come from spans into `text`.
            std::hint::black_box(diags.to_string());
            None
        }
    }
}

/// Everything downstream of a configuration that validated.
fn valid_config(cfg: &LoadedConfig) {
    std::hint::black_box(schedule_gen::codegen::system_tables(cfg));
    // The reports: facts computed once, rendered three ways, written like `schedule-gen report`.
    let dir = report_dir();
    // An error here can only come from the file system (fixed directory and file names), not
    // from the input, so it is not a finding.
    let _ = std::hint::black_box(schedule_gen::report::write_reports(cfg, dir));
    // Removed each time so a long run leaves nothing behind; a crash may leave one directory.
    let _ = std::fs::remove_dir_all(dir);
}

/// `schedule-gen import` of a file's bytes: decoded as the importer reads files (UTF-8,
/// UTF-16, ISO-8859-1, windows-1252, by byte order mark and XML declaration), then as
/// [`import_xml`].
pub fn import_xml_bytes(bytes: &[u8]) {
    match schedule_gen::import::import_bytes("fuzz.xml", bytes, &ImportOptions::default()) {
        Ok(imported) => imported_config(&imported),
        Err(diags) => {
            std::hint::black_box(diags.to_string());
        }
    }
}

/// `schedule-gen import`: XML → TOML; a successful import's TOML then goes through [`config`].
pub fn import_xml(xml: &str) {
    match schedule_gen::import::import_str("fuzz.xml", xml, &ImportOptions::default()) {
        Ok(imported) => imported_config(&imported),
        Err(diags) => {
            std::hint::black_box(diags.to_string());
        }
    }
}

/// A successful import: its notes, its check (errors pointed back at the XML elements, as
/// `schedule-gen import` prints them), and its TOML through [`config`].
fn imported_config(imported: &schedule_gen::import::Imported) {
    std::hint::black_box(&imported.notes);
    if let Err(diags) = imported.check(CONFIG_NAME, base_dir()) {
        std::hint::black_box(diags.to_string());
    }
    if config(&imported.toml).is_none() && strict() {
        let diags = schedule_gen::load_str(CONFIG_NAME, &imported.toml, base_dir())
            .err()
            .map(|d| d.to_string())
            .unwrap_or_default();
        panic!(
            "the import succeeded but its configuration does not load:\n{diags}\n--- imported TOML ---\n{}",
            imported.toml
        );
    }
}
