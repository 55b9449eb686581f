//! Every valid configuration of the outside corpus (`schedule-gen/tests/corpus/valid/`,
//! written from the documentation alone) builds into a kernel image with no code change:
//! partitions built, images checked against the memory map, tables compiled into pkernel.
//! (Loading, checking and reporting them is `schedule-gen/tests/corpus.rs`.)

use std::path::Path;

#[test]
fn valid_corpus_configurations_build() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schedule-gen/tests/corpus/valid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no configurations in {}", dir.display());
    for file in files {
        let image = xtask::image::build_system(&file)
            .unwrap_or_else(|e| panic!("building {}: {e}", file.display()));
        assert!(image.kernel.is_file(), "{}", image.kernel.display());
    }
}
