//! Every rule has at least one test that asserts its exact rendered message, and a row in the
//! rule tables of `docs/configuration.md`: these tests fail when a rule is added without them.
//! The first looks for `error[<code>-<name>]` in the test sources and expected-output files
//! under `tests/`, the second for `| <code> | <name> |`.

use std::path::Path;

use schedule_gen::Rule;

fn collect(dir: &Path, text: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, text);
        } else if let Ok(t) = std::fs::read_to_string(&path) {
            text.push_str(&t);
        }
    }
}

#[test]
fn every_rule_has_a_message_test() {
    let mut text = String::new();
    collect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
        &mut text,
    );
    let missing: Vec<_> = Rule::ALL
        .iter()
        .map(|r| format!("error[{}-{}]", r.code(), r.name()))
        .filter(|needle| !text.contains(needle))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a test asserting their message: {missing:?}"
    );
}

#[test]
fn every_rule_is_documented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let missing: Vec<_> = Rule::ALL
        .iter()
        .map(|r| format!("| {} | {} |", r.code(), r.name()))
        .filter(|row| !doc.contains(row))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a row in docs/configuration.md: {missing:?}"
    );
}
