//! `[module] console_input`: the partition named there gets the console's input (its id in
//! the kernel tables, a sentence in the reports); left out, nobody does; an unknown name is
//! E112.

mod common;

use schedule_gen::codegen::system_tables;
use schedule_gen::report::{facts, render_json, render_text};

const CONFIG: &str = r#"[module]
name = "m"
board = "qemu-virt"
console_input = "shell"

[[partition]]
name = "ctrl"
kind = "bm"
criticality = "B"
cores = [0]
image = { package = "bm-ticker" }
memory = [{ name = "ram", ipa = 0x4000_0000, phys = 0x4200_0000, size = 0x20_0000, access = "rwx" }]

[[partition]]
name = "shell"
kind = "bm"
criticality = "E"
cores = [1]
image = { package = "bm-ticker" }
memory = [{ name = "ram", ipa = 0x4000_0000, phys = 0x4240_0000, size = 0x20_0000, access = "rwx" }]
"#;

/// `text` with line breaks and indentation folded into single spaces (the text report wraps).
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_named_partition_gets_console_input() {
    let cfg = common::load(CONFIG).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.console_input(), Some(1));
    let tables = system_tables(&cfg);
    assert_eq!(tables.matches("    console_input: Some(1),\n").count(), 1);
    let f = facts::collect(&cfg);
    assert!(words(&render_text(&f)).contains(
        "Console input (typed on the kernel's UART) goes to partition shell: its virtual UART receives it, with INTID 33."
    ));
    let json: serde_json::Value = serde_json::from_str(&render_json(&f)).unwrap();
    assert_eq!(
        json["module"]["console_input"],
        serde_json::json!({ "id": 1, "name": "shell" })
    );
}

#[test]
fn without_the_key_nobody_gets_console_input() {
    let cfg = common::load(&CONFIG.replace("console_input = \"shell\"\n", ""))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.console_input(), None);
    assert_eq!(
        system_tables(&cfg)
            .matches("    console_input: None,\n")
            .count(),
        1
    );
    let f = facts::collect(&cfg);
    assert!(words(&render_text(&f)).contains(
        "Console input (typed on the kernel's UART) is discarded: [module] console_input names no partition."
    ));
    let json: serde_json::Value = serde_json::from_str(&render_json(&f)).unwrap();
    assert!(json["module"]["console_input"].is_null());
}

#[test]
fn console_input_unknown() {
    assert_eq!(
        common::errors(&CONFIG.replace("= \"shell\"\n\n", "= \"shel\"\n\n")),
        "sys.toml:4:17: error[E112-console-input-unknown]: `console_input` names partition \"shel\", which the configuration does not have\n  help: name one of the partitions: ctrl, shell; or leave `console_input` out to discard console input"
    );
    // The echo of the value is bounded.
    let long = "x".repeat(5000);
    let err = common::errors(&CONFIG.replace("= \"shell\"\n\n", &format!("= \"{long}\"\n\n")));
    assert!(
        err.contains(&format!("partition \"{}\"…, which", "x".repeat(40))),
        "{err}"
    );
    assert!(err.len() < 400, "{err}");
}

#[test]
fn console_input_is_a_string() {
    let err = common::errors(&CONFIG.replace("console_input = \"shell\"", "console_input = 1"));
    assert!(
        err.starts_with(
            "sys.toml:4:17: error[E003-invalid-value]: invalid type: integer `1`, expected a string"
        ),
        "{err}"
    );
}
