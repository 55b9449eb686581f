//! The `pmu` grant: off unless written, carried into the kernel tables, and marked in the
//! reports so a certification reader sees which partitions can observe the kernel.

mod common;

use schedule_gen::codegen::system_tables;
use schedule_gen::report::{facts, render_json, render_text};

const CONFIG: &str = r#"
[module]
name = "m"
board = "qemu-virt"

[[partition]]
name = "bench"
kind = "system"
criticality = "E"
cores = [0]
pmu = true
image = { package = "bm-bench" }
  [[partition.memory]]
  name = "ram"
  ipa = 0x4000_0000
  phys = 0x4400_0000
  size = 0x20_0000
  access = "rwx"

[[partition]]
name = "other"
kind = "bm"
criticality = "C"
cores = [1]
image = { package = "bm-ticker" }
  [[partition.memory]]
  name = "ram"
  ipa = 0x4000_0000
  phys = 0x4600_0000
  size = 0x20_0000
  access = "rwx"
"#;

#[test]
fn the_grant_reaches_the_tables_and_the_reports_and_nothing_else_gets_it() {
    let cfg = common::load(CONFIG).unwrap_or_else(|e| panic!("{e}"));
    let pmu: Vec<bool> = cfg.partitions().map(|p| p.pmu).collect();
    assert_eq!(pmu, [true, false]);
    let tables = system_tables(&cfg);
    assert_eq!(tables.matches("            pmu: true,\n").count(), 1);
    assert_eq!(tables.matches("            pmu: false,\n").count(), 1);
    let f = facts::collect(&cfg);
    let text = render_text(&f);
    assert!(text.contains("system, PMU"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&render_json(&f)).unwrap();
    assert_eq!(json["partitions"][0]["pmu"], true);
    assert!(json["partitions"][1].get("pmu").is_none());
}

#[test]
fn the_grant_must_be_a_boolean() {
    let text = CONFIG.replace("pmu = true", "pmu = \"yes\"");
    let err = common::errors(&text);
    assert!(
        err.starts_with("sys.toml:11:7: error[E003-invalid-value]: invalid type: string \"yes\", expected a boolean"),
        "{err}"
    );
}
