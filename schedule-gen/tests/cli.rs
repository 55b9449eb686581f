//! The `schedule-gen` binary: exit codes and output of `check`, `generate` and bad command lines.

mod common;

use std::process::{Command, Output};

use common::{R, TWO_PARTITIONS, X, elf, load_seg};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schedule-gen"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_ok_and_errors() {
    let dir = common::temp_dir("cli-check");
    let good = dir.join("good.toml");
    std::fs::write(&good, TWO_PARTITIONS).unwrap();
    let out = run(&["check", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "ok: 2 partitions, 0 schedules, 0 channels\n"
    );

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        TWO_PARTITIONS.replace("cores = [2, 3]", "cores = [1, 7]"),
    )
    .unwrap();
    let out = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(":24:10: error[E022-core-shared]")
            && err.contains(":24:13: error[E021-core-not-on-board]"),
        "{err}"
    );
    assert!(err.ends_with("schedule-gen: 2 error(s)\n"), "{err}");
}

#[test]
fn generate_uses_config_elf_paths_and_image_flags() {
    let dir = common::temp_dir("cli-generate");
    let config = dir.join("sys.toml");
    std::fs::write(
        &config,
        TWO_PARTITIONS.replace("../vendor/nav.elf", "nav.elf"),
    )
    .unwrap();
    std::fs::write(
        dir.join("nav.elf"),
        elf(0x4400_0000, &[load_seg(0x4400_0000, &[1; 8], 8, R | X)]),
    )
    .unwrap();
    let ctrl = dir.join("ctrl.elf");
    std::fs::write(
        &ctrl,
        elf(0x4000_0000, &[load_seg(0x4000_0000, &[2; 8], 8, R | X)]),
    )
    .unwrap();
    let out_dir = dir.join("out");
    let image = format!("ctrl={}", ctrl.display());
    let out = run(&[
        "generate",
        config.to_str().unwrap(),
        "--image",
        &image,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out_dir.join("system_tables.rs").exists() && out_dir.join("nav.0.bin").exists());

    // Without --image for the package partition: an error, exit 1.
    let out = run(&[
        "generate",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("error[E060-missing-image]: no image was given for partition \"ctrl\"")
    );
}

#[test]
fn bad_command_lines_exit_2_with_usage() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["check"],
        &["check", "a.toml", "b.toml"],
        &["generate", "a.toml"],
        &["generate", "a.toml", "--out"],
        &["generate", "a.toml", "--image", "nav", "--out", "o"],
        &[
            "generate", "a.toml", "--image", "a=x", "--image", "a=y", "--out", "o",
        ],
        &["generate", "a.toml", "--bogus", "x", "--out", "o"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("usage: schedule-gen check <config.toml>"),
            "{args:?}"
        );
    }
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("usage: schedule-gen check"));
}

#[test]
fn report_and_import_commands() {
    let dir = common::temp_dir("cli-report-import");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    // report: three files, listed on stdout.
    let config = root.join("configs/reference.toml");
    let out_dir = dir.join("reports");
    let out = run(&[
        "report",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for f in ["report.html", "report.json", "report.txt"] {
        assert!(text(&out.stdout).contains(f) && out_dir.join(f).is_file());
    }
    assert_eq!(
        run(&["report", config.to_str().unwrap()]).status.code(),
        Some(2)
    );

    // import: a consistent file is written, noted and checked.
    let xml = root.join("schedule-gen/tests/arinc/minimal.xml");
    let toml = dir.join("minimal.toml");
    let out = run(&[
        "import",
        xml.to_str().unwrap(),
        "--out",
        toml.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("note: "));
    assert!(schedule_gen::load(&toml).is_ok());

    // An XML file that is valid ARINC 653 but breaks a pkernel rule: written, then refused by
    // the check, with the rule.
    let no_windows = dir.join("no-windows.xml");
    std::fs::write(
        &no_windows,
        r#"<ARINC_653_Module ModuleName="m"><Partition PartitionIdentifier="1" PartitionName="p"/>
<Module_Schedule MajorFrameSeconds="1"><Partition_Schedule PartitionIdentifier="1" PeriodSeconds="1" PeriodDurationSeconds="1"/></Module_Schedule></ARINC_653_Module>"#,
    )
    .unwrap();
    let toml = dir.join("no-windows.toml");
    let out = run(&[
        "import",
        no_windows.to_str().unwrap(),
        "--out",
        toml.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(toml.is_file());
    let err = text(&out.stderr);
    assert!(
        err.contains("error[E064-invalid-schedule]")
            && err.contains("the imported configuration does not pass `check`"),
        "{err}"
    );
}
