//! Builds a system image: partition packages → schedule-gen tables → kernel ELF → its
//! translation tables, written into the ELF by schedule-gen's table linker.
//!
//! Everything is built in its own target directory (`target/pkernel-images`) so that a build
//! started from inside `cargo test` never waits on the outer cargo's lock. Each configuration
//! gets its own output directory, holding the generated tables, the image segments, a copy of
//! the configuration and the kernel image, so an image can always be traced to its inputs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use schedule_gen::{ImageSource, PartitionPayload};

/// Target the kernel is built for: no FP/SIMD in the kernel, so it never saves a partition's.
pub const KERNEL_TARGET: &str = "aarch64-unknown-none-softfloat";
/// Target bare-metal partitions are built for.
pub const PARTITION_TARGET: &str = "aarch64-unknown-none";

/// A built system image.
#[derive(Debug, Clone)]
pub struct SystemImage {
    /// The kernel ELF to boot (`qemu -kernel`).
    pub kernel: PathBuf,
    /// Directory with the generated tables, segments and configuration copy.
    pub dir: PathBuf,
}

/// Why a build failed; the message says what to do.
#[derive(Debug)]
pub enum BuildError {
    Config(String),
    Command { what: String, status: String },
    Io(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(text) => write!(f, "{text}"),
            Self::Command { what, status } => {
                write!(f, "{what} failed ({status}); see the output above")
            }
            Self::Io(text) => write!(f, "{text}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Where every image part is built (partition packages, the kernel, the Linux tools).
pub(crate) fn images_target_dir() -> PathBuf {
    crate::workspace_root().join("target/pkernel-images")
}

/// Serialises builds within one process: kernel builds for different configurations share
/// one cargo output path.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// `cargo`, run from the workspace root, without the host build settings of whoever runs
/// it (so bare-metal builds started from inside `cargo test` get clean flags).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(crate::workspace_root());
    // Flags meant for the host build of the caller must not leak into the bare-metal builds.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(mut cmd: Command, what: &str) -> Result<(), BuildError> {
    let status = cmd
        .status()
        .map_err(|e| BuildError::Io(format!("cannot start {what}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Command {
            what: what.to_string(),
            status: status.to_string(),
        })
    }
}

/// Builds the image for the configuration at `config`.
pub fn build_system(config: &Path) -> Result<SystemImage, BuildError> {
    let _guard = BUILD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let loaded = schedule_gen::load(config)
        .map_err(|diagnostics| BuildError::Config(diagnostics.to_string()))?;
    let target_dir = images_target_dir();
    // Other xtask processes build into the same target directory, each its own system's
    // kernel (the tables are compiled in): between cargo's build and the copy below, another
    // process's build would replace the kernel. One build at a time, across processes.
    let _exclusive = lock_builds(&target_dir)?;

    // 1. Partition packages of this workspace, in one cargo invocation.
    let packages: Vec<&str> = loaded
        .partitions()
        .filter_map(|p| match &p.image {
            ImageSource::Package(name) => Some(name.as_str()),
            ImageSource::Elf(_) | ImageSource::Linux(_) => None,
        })
        .collect();
    if !packages.is_empty() {
        let mut cmd = cargo();
        cmd.args([
            "build",
            "--release",
            "--target",
            PARTITION_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
        let mut unique = packages.clone();
        unique.sort_unstable();
        unique.dedup();
        for package in unique {
            cmd.args(["-p", package]);
        }
        run(cmd, "building the partition packages")?;
    }
    let mut images = BTreeMap::new();
    // Linux partitions: the kernel and initramfs, fetched once per source.
    let mut linux: BTreeMap<&str, crate::linux::Material> = BTreeMap::new();
    for partition in loaded.partitions() {
        let elf = match &partition.image {
            ImageSource::Package(name) => {
                target_dir.join(PARTITION_TARGET).join("release").join(name)
            }
            ImageSource::Elf(path) => path.clone(),
            ImageSource::Linux(l) => {
                let source = l.source.as_str();
                if !linux.contains_key(source) {
                    let material = crate::linux::fetch(l.source).map_err(|e| {
                        BuildError::Config(format!(
                            "partition '{}': the Linux kernel and initramfs: {e}",
                            partition.name
                        ))
                    })?;
                    eprintln!(
                        "xtask: Linux: {} {} ({}), initramfs with {} {} ({} bytes)",
                        material.kernel_package.name,
                        material.kernel_package.version,
                        material.image_path.display(),
                        material.busybox_package.name,
                        material.busybox_package.version,
                        material.payload.initramfs.len()
                    );
                    linux.insert(source, material);
                }
                let material = &linux[source];
                for device in schedule_gen::linux::devices_left_out(&loaded, partition) {
                    eprintln!(
                        "xtask: note: partition '{}': device '{}' is left out of its device tree (pkernel knows no binding for it)",
                        partition.name, device.name
                    );
                }
                images.insert(
                    partition.name.clone(),
                    PartitionPayload::Linux(material.payload.clone()),
                );
                continue;
            }
        };
        if !elf.is_file() {
            return Err(BuildError::Config(
                missing_image(config, &partition.name, &partition.image, &elf).to_string(),
            ));
        }
        images.insert(partition.name.clone(), PartitionPayload::Elf(elf));
    }

    // 2. Tables and segments, in a directory of this configuration's own.
    let stem = config
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("system");
    let digest = loaded.sha256_hex();
    let dir = target_dir
        .join("systems")
        .join(format!("{stem}-{}", &digest[..12]));
    // schedule-gen rewrites only the files whose bytes differ, so an unchanged system leaves
    // every file (and its time) as it was and cargo rebuilds nothing; what an earlier build
    // generated and this one does not (a segment gone) is removed.
    let generated = schedule_gen::generate_system(&loaded, &images, &dir)
        .map_err(|d| BuildError::Config(d.to_string()))?;
    remove_other_files(&dir, &generated, SYSTEM_IMAGE)
        .map_err(|e| BuildError::Io(format!("cannot update {}: {e}", dir.display())))?;

    // 3. The kernel, compiled with those tables.
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        "pkernel",
        "--bin",
        "pkernel",
        "--target",
        KERNEL_TARGET,
        "--target-dir",
    ])
    .arg(&target_dir)
    .env("PKERNEL_SYSTEM_DIR", &dir);
    run(cmd, "building the kernel")?;
    let built = target_dir.join(KERNEL_TARGET).join("release/pkernel");
    let kernel = dir.join(SYSTEM_IMAGE);
    // The finished image is newer than cargo's kernel and than every generated file: nothing
    // changed since it was made.
    if is_newer(&kernel, &built) && generated.iter().all(|f| is_newer(&kernel, &dir.join(f))) {
        return Ok(SystemImage { kernel, dir });
    }

    // 4. The translation tables, built now that the kernel's layout is known, written into
    //    this system's copy of the image (cargo's own output stays as cargo made it).
    let mut elf = std::fs::read(&built)
        .map_err(|e| BuildError::Io(format!("cannot read {}: {e}", built.display())))?;
    let tables_file = dir.join(schedule_gen::codegen::TABLES_FILE);
    let tables = std::fs::read(&tables_file)
        .map_err(|e| BuildError::Io(format!("cannot read {}: {e}", tables_file.display())))?;
    schedule_gen::translation::link_tables(
        &loaded,
        &mut elf,
        &schedule_gen::codegen::sha256_hex(&tables),
        &built.display().to_string(),
    )
    .map_err(|d| BuildError::Config(d.to_string()))?;
    std::fs::write(&kernel, &elf)
        .map_err(|e| BuildError::Io(format!("cannot write {}: {e}", kernel.display())))?;
    Ok(SystemImage { kernel, dir })
}

/// Why partition `partition`'s image `elf` (from `source`) is not there, as a diagnostic of
/// the configuration `config` that says what to change.
fn missing_image(
    config: &Path,
    partition: &str,
    source: &ImageSource,
    elf: &Path,
) -> schedule_gen::Diagnostic {
    let (message, help) = match source {
        ImageSource::Package(package) => (
            format!(
                "package {package:?}, the image of partition {partition:?}, built no binary {}",
                elf.display()
            ),
            format!(
                "a package image is a binary crate of this workspace whose binary has the package's name: rename the binary {package:?}, or give the ELF with `image = {{ elf = \"...\" }}`"
            ),
        ),
        _ => (
            format!(
                "the image of partition {partition:?}, {}, does not exist",
                elf.display()
            ),
            "build that ELF first, or correct `image = { elf = \"...\" }` (a relative path is taken from the configuration file's directory)".to_owned(),
        ),
    };
    schedule_gen::Diagnostic::new(
        schedule_gen::Rule::ImageUnreadable,
        config.display().to_string(),
        message,
        help,
    )
}

/// Waits for, then holds until the guard drops, the lock every `build_system` of every
/// process takes on `target_dir`.
fn lock_builds(target_dir: &Path) -> Result<std::fs::File, BuildError> {
    std::fs::create_dir_all(target_dir)
        .map_err(|e| BuildError::Io(format!("cannot create {}: {e}", target_dir.display())))?;
    let path = target_dir.join("xtask-build.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| BuildError::Io(format!("cannot open {}: {e}", path.display())))?;
    file.lock()
        .map_err(|e| BuildError::Io(format!("cannot lock {}: {e}", path.display())))?;
    Ok(file)
}

/// The finished kernel image in a system's directory (tables linked in).
const SYSTEM_IMAGE: &str = "pkernel.elf";

/// Removes the files of `dir` that are neither `generated` nor `keep`.
fn remove_other_files(dir: &Path, generated: &[String], keep: &str) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name != keep && !generated.iter().any(|g| name == g.as_str()) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Whether `path` exists and was modified after `than` (false if either cannot be read).
fn is_newer(path: &Path, than: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(path), modified(than)), (Some(a), Some(b)) if a > b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_image_says_what_it_was_and_what_to_change() {
        let config = Path::new("sys.toml");
        let elf = missing_image(
            config,
            "ctrl",
            &ImageSource::Elf(PathBuf::from("/img/ctrl.elf")),
            Path::new("/img/ctrl.elf"),
        );
        assert_eq!(
            elf.to_string(),
            "sys.toml: error[E050-image-unreadable]: the image of partition \"ctrl\", /img/ctrl.elf, does not exist\n  \
             help: build that ELF first, or correct `image = { elf = \"...\" }` (a relative path is taken from the configuration file's directory)"
        );
        let package = missing_image(
            config,
            "ctrl",
            &ImageSource::Package("bm-ctrl".to_owned()),
            Path::new("/t/release/bm-ctrl"),
        );
        assert_eq!(
            package.to_string(),
            "sys.toml: error[E050-image-unreadable]: package \"bm-ctrl\", the image of partition \"ctrl\", built no binary /t/release/bm-ctrl\n  \
             help: a package image is a binary crate of this workspace whose binary has the package's name: rename the binary \"bm-ctrl\", or give the ELF with `image = { elf = \"...\" }`"
        );
    }

    #[test]
    fn files_an_earlier_build_generated_are_removed_and_the_image_kept() {
        let dir = std::env::temp_dir().join(format!("xtask-leftovers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["system_tables.rs", "a.0.bin", "a.1.bin", SYSTEM_IMAGE] {
            std::fs::write(dir.join(name), name).unwrap();
        }
        let generated = ["system_tables.rs".to_owned(), "a.0.bin".to_owned()];
        remove_other_files(&dir, &generated, SYSTEM_IMAGE).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["a.0.bin", SYSTEM_IMAGE, "system_tables.rs"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
