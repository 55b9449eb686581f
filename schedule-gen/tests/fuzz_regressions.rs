//! Inputs the fuzz targets (`schedule-gen/fuzz/`, run with `cargo xtask fuzz`) once crashed
//! on, replayed under plain `cargo test`: each must now load or be refused with diagnostics.

use std::path::Path;

use schedule_gen::import::{ImportOptions, import_bytes, import_str};
use schedule_gen::{codegen, load_str};

fn inputs(target: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect()
}

#[test]
fn kept_config_inputs_do_not_panic() {
    for (name, text) in inputs("config") {
        if let Ok(cfg) = load_str(&name, &text, Path::new("/fuzz")) {
            let _ = codegen::system_tables(&cfg);
        }
    }
}

#[test]
fn kept_xml_inputs_do_not_panic() {
    for (name, text) in inputs("import_xml") {
        // As text (how the target fed them when they were found), and as the bytes the
        // target now feeds through the importer's decoders.
        if let Ok(imported) = import_str(&name, &text, &ImportOptions::default()) {
            let _ = load_str("imported.toml", &imported.toml, Path::new("/fuzz"));
        }
        let bytes = std::fs::read(&name).unwrap();
        if let Ok(imported) = import_bytes(&name, &bytes, &ImportOptions::default()) {
            let _ = imported.check("imported.toml", Path::new("/fuzz"));
        }
    }
}
