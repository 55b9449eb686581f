//! A partition pair written against the a653rs traits only, in a crate outside this
//! workspace (`examples/a653rs-pair`), runs on pkernel unchanged apart from the binding type:
//! the test builds that crate as its user would (its own workspace, lock file and target
//! directory), builds the system of its `pair.toml` (which names the two ELFs by path), boots
//! it, and checks that sampling values, queuing messages and a receive timeout all come
//! through the binding (`partitions/a653rs-pkernel`). It also builds a copy of the template
//! `templates/a653rs-partition` the way docs/writing-partitions.md tells a new user to.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use common::{assert_kernel_healthy, boot};

/// The two tests build into the same target directory: one cargo at a time.
static BUILDS: Mutex<()> = Mutex::new(());

/// `'frame N'` or `'event N'` (after `word`) in `line`: N.
fn number_in(line: &str, word: &str) -> Option<u64> {
    let start = line.find(word)? + word.len();
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `cargo build --release --target aarch64-unknown-none` in the example's directory, into
/// `target/a653rs-pair` (where pair.toml looks for the ELFs), with the same hygiene as
/// `xtask::image`: none of the outer cargo's host build settings leak into the bare-metal
/// build. The example's Cargo.lock pins a653rs and its macro crate's dependencies; cargo keeps
/// those pins and only adds entries should the binding's path dependencies gain some.
fn build_the_pair(example: &Path) {
    let _one_build = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let target_dir = pair_target_dir();
    let status = partition_build(example, &target_dir)
        .status()
        .expect("cargo could not be started");
    assert!(
        status.success(),
        "building examples/a653rs-pair failed ({status}); see the output above"
    );
    for bin in ["producer", "consumer"] {
        let elf = target_dir.join("aarch64-unknown-none/release").join(bin);
        assert!(elf.is_file(), "{} was not built", elf.display());
    }
}

fn pair_target_dir() -> std::path::PathBuf {
    xtask::workspace_root().join("target/a653rs-pair")
}

/// `cargo build --release --target aarch64-unknown-none --target-dir TARGET` in `dir`,
/// without the outer cargo's host settings.
fn partition_build(dir: &Path, target_dir: &Path) -> Command {
    let mut cargo = xtask::image::cargo();
    cargo
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            xtask::image::PARTITION_TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    cargo
}

/// The template, copied and pointed at this checkout as docs/writing-partitions.md says,
/// builds. Its dependencies are the example's, so it is built with the example's lock file,
/// offline, into the example's target directory (nothing new to download or compile but the
/// template itself). Needs no QEMU: it only builds.
#[test]
fn the_template_builds_as_a_copied_project() {
    let root = xtask::workspace_root();
    build_the_pair(&root.join("examples/a653rs-pair"));
    let _one_build = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let copy = root.join("target/a653rs-template/my-partition");
    if copy.exists() {
        std::fs::remove_dir_all(&copy).unwrap();
    }
    copy_dir(&root.join("templates/a653rs-partition"), &copy);
    let manifest = copy.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let binding = root.join("partitions/a653rs-pkernel");
    let pointed = text.replace(
        "path = \"../pkernel/partitions/a653rs-pkernel\"",
        &format!("path = {:?}", binding.to_str().unwrap()),
    );
    assert_ne!(
        pointed, text,
        "the template names the binding's path differently"
    );
    std::fs::write(&manifest, pointed).unwrap();
    std::fs::copy(
        root.join("examples/a653rs-pair/Cargo.lock"),
        copy.join("Cargo.lock"),
    )
    .unwrap();
    let status = partition_build(&copy, &pair_target_dir())
        .arg("--offline")
        .status()
        .expect("cargo could not be started");
    assert!(
        status.success(),
        "building the template failed ({status}); see the output above"
    );
    let elf = pair_target_dir().join("aarch64-unknown-none/release/my-partition");
    assert!(elf.is_file(), "{} was not built", elf.display());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn an_a653rs_pair_built_outside_the_workspace_exchanges_messages() {
    let test = "an_a653rs_pair_built_outside_the_workspace_exchanges_messages";
    if hil_tests::skip_or_fail(test).is_none() {
        return;
    }
    let example = xtask::workspace_root().join("examples/a653rs-pair");
    build_the_pair(&example);
    let Some(log) = boot(test, &example.join("pair.toml")) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_no_line("[pkernel] HM:");
    log.assert_line("[pkernel] pkernel 0.1.0 (EL2) on qemu-virt: module 'a653rs-pair'");

    // Initialisation (the a653rs cold start) runs in COLD_START, as each partition's
    // GET_PARTITION_STATUS says; the binding's SET_PARTITION_MODE(NORMAL) then hands over to
    // the process. (Only a partition's own lines keep their order: the kernel prints its
    // lines before queued partition lines.)
    let cold = log.assert_line("[producer] ColdStart: partition 0, period Normal(100ms)");
    log.assert_line_after(cold, "[producer] frame 1: published Ok(())");
    log.assert_line("[pkernel] partition 'producer': mode COLD_START -> NORMAL");
    let cold =
        log.assert_line("[consumer] INFO  ColdStart (NormalStart): partition 1 on 1 core(s)");
    // Part 4: the initialisation process and one more; creating another is INVALID_CONFIG.
    let refused = log.assert_line_after(
        cold,
        "[consumer] INFO  a second process is refused: InvalidConfig",
    );
    log.assert_line_after(refused, "[consumer] INFO  sampled 'frame ");
    log.assert_line("[pkernel] partition 'consumer': mode COLD_START -> NORMAL");

    // The producer's periodic process runs once a period (PERIODIC_WAIT), and every write
    // and send succeeds.
    let frames = log.assert_advancing("[producer] frame ", 8);
    assert_eq!(frames[0], 1, "the first activation is frame 1: {frames:?}");
    for line in log.partition_lines("producer") {
        if line.starts_with("[producer] frame ") {
            assert!(
                !line.contains("Err("),
                "a write or send failed: {line}\n{log}"
            );
        }
    }

    // Sampling: the consumer reads the producer's latest frame, valid (within the 200 ms
    // refresh period), never going back.
    let sampled: Vec<&str> = log
        .partition_lines("consumer")
        .into_iter()
        .filter(|l| l.starts_with("[consumer] INFO  sampled '"))
        .collect();
    let values: Vec<u64> = sampled
        .iter()
        .filter_map(|l| number_in(l, "'frame "))
        .collect();
    assert_eq!(
        values.len(),
        sampled.len(),
        "unreadable samples: {sampled:?}"
    );
    assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "a sample went back in time: {values:?}\n{log}"
    );
    let mut distinct = values.clone();
    distinct.dedup();
    assert!(
        distinct.len() >= 6,
        "too few new samples: {values:?}\n{log}"
    );
    let valid = sampled.iter().filter(|l| l.ends_with("(Valid)")).count();
    assert!(valid >= 6, "too few valid samples: {sampled:?}\n{log}");

    // Queuing: events 1, 2, 3, ... arrive in order, none lost, none after an overflow.
    let events: Vec<u64> = log
        .partition_lines("consumer")
        .into_iter()
        .filter(|l| l.starts_with("[consumer] INFO  received 'event "))
        .filter_map(|l| number_in(l, "'event "))
        .collect();
    assert!(events.len() >= 4, "too few events: {events:?}\n{log}");
    assert_eq!(
        events,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "events lost, repeated or out of order\n{log}"
    );
    log.assert_no_line_containing("after an overflow");
    log.assert_no_line("[consumer] INFO  receive failed");

    // Timeout: with an event only every other period, some 150 ms receives time out.
    log.assert_line("[consumer] INFO  no event within 150 ms: TimedOut");

    log.assert_line("[pkernel] module end: shutdown by 'supervisor', status 0");
    log.assert_clean_exit();
}
