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
    assert_eq!(text(&out.stdout), "ok: 2 partitions\n");

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
