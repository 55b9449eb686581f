//! The QEMU `virt` target: the machine every pkernel test boots on by default.

use std::{
    env,
    ffi::OsString,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{HilError, QEMU_STDERR_PREFIX, RunLimits, RunLog, Target, run_command};

/// The QEMU binary looked up on `PATH`.
const QEMU_BINARY: &str = "qemu-system-aarch64";

/// Arguments that boot `image` on QEMU `virt` as pkernel expects it (SPEC §4): 4 × Cortex-A53
/// entered at EL2, GICv3, 1 GiB, PL011 on stdio.
///
/// - `-nic none`: the machine's default NIC (virtio-net-pci) needs `efi-virtio.rom` from
///   `ipxe-qemu`, which Debian's `qemu-system-arm` only recommends; without the NIC QEMU
///   starts with nothing but that package installed (`--no-install-recommends`).
/// - No semihosting, ever: with it any partition (EL1 too) could write to the host, open host
///   files, or end QEMU with any exit code. The kernel ends a run with PSCI `SYSTEM_OFF`
///   after its `[pkernel] module end: ...` line, which is what tells how the run ended.
/// - No `-nographic`: the monitor must not see console bytes.
pub fn qemu_args(image: &Path) -> Vec<String> {
    [
        "-M",
        "virt,virtualization=on,gic-version=3",
        "-cpu",
        "cortex-a53",
        "-smp",
        "4",
        "-m",
        "1G",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-nic",
        "none",
        "-kernel",
    ]
    .into_iter()
    .map(String::from)
    .chain([image.to_string_lossy().into_owned()])
    .collect()
}

/// The path of `qemu-system-aarch64` found on `PATH`, if any.
pub fn find_qemu() -> Option<PathBuf> {
    find_in_path(env::var_os("PATH")?, QEMU_BINARY)
}

/// The first executable regular file named `name` in the directories of `path`.
fn find_in_path(path: OsString, name: &str) -> Option<PathBuf> {
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Boots images on `qemu-system-aarch64 -M virt` (see [`qemu_args`]), console on stdout.
#[derive(Clone, Debug, Default)]
pub struct QemuVirt {
    /// QEMU binary to use; `None` looks it up on `PATH` at each run.
    qemu: Option<PathBuf>,
    /// Arguments appended after [`qemu_args`].
    extra_args: Vec<String>,
}

impl QemuVirt {
    /// The default machine, QEMU found on `PATH`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this QEMU binary instead of looking on `PATH`.
    pub fn with_qemu(mut self, qemu: impl Into<PathBuf>) -> Self {
        self.qemu = Some(qemu.into());
        self
    }

    /// Appends arguments to the QEMU command line.
    pub fn with_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Deterministic instruction counting: adds `-icount shift=0,sleep=off`, so a run is
    /// exactly repeatable and the cycle counter advances one per instruction.
    pub fn with_icount(self) -> Self {
        self.with_args(["-icount", "shift=0,sleep=off"])
    }

    /// The full argument list this target passes to QEMU for `image`.
    pub fn args(&self, image: &Path) -> Vec<String> {
        let mut args = qemu_args(image);
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// The QEMU command for `image` (without stdio set up), for callers that run it
    /// themselves, e.g. interactively.
    pub fn command(&self, image: &Path) -> Result<Command, HilError> {
        let qemu = match &self.qemu {
            Some(q) => q.clone(),
            None => find_qemu().ok_or(HilError::QemuNotFound)?,
        };
        let mut cmd = Command::new(qemu);
        cmd.args(self.args(image));
        Ok(cmd)
    }
}

impl Target for QemuVirt {
    fn name(&self) -> &str {
        "qemu-virt"
    }

    /// Fails with [`HilError::ImageMissing`] before looking for QEMU if `image` is absent.
    fn run(&self, image: &Path, limits: &RunLimits) -> Result<RunLog, HilError> {
        if !image.is_file() {
            return Err(HilError::ImageMissing(image.to_path_buf()));
        }
        run_command(
            self.command(image)?,
            limits,
            self.name(),
            QEMU_STDERR_PREFIX,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RunEnd, skip_or_fail};
    use std::{fs, time::Duration};

    const EXPECTED: &str = "-M virt,virtualization=on,gic-version=3 -cpu cortex-a53 -smp 4 \
        -m 1G -display none -monitor none -serial stdio -nic none -kernel /img/pk.elf";

    #[test]
    fn command_line_is_the_documented_one() {
        let args = qemu_args(Path::new("/img/pk.elf"));
        assert_eq!(args.join(" "), EXPECTED);
        assert!(!args.iter().any(|a| a == "-nographic"));
    }

    #[test]
    fn no_semihosting_and_no_nic() {
        let args = qemu_args(Path::new("/img/pk.elf"));
        assert!(
            !args
                .iter()
                .any(|a| a.to_ascii_lowercase().contains("semihosting")),
            "{args:?}"
        );
        assert!(
            args.windows(2).any(|w| w[0] == "-nic" && w[1] == "none"),
            "{args:?}"
        );
    }

    #[test]
    fn builder_appends_extra_args() {
        let q = QemuVirt::new().with_icount().with_args(["-d", "int"]);
        let args = q.args(Path::new("/img/pk.elf"));
        assert_eq!(
            args.join(" "),
            format!("{EXPECTED} -icount shift=0,sleep=off -d int")
        );
        assert_eq!(q.name(), "qemu-virt");
    }

    #[test]
    fn explicit_qemu_path_is_used() {
        let cmd = QemuVirt::new()
            .with_qemu("/opt/q/qemu")
            .command(Path::new("i"))
            .unwrap();
        assert_eq!(cmd.get_program(), "/opt/q/qemu");
        assert_eq!(cmd.get_args().count(), qemu_args(Path::new("i")).len());
    }

    #[test]
    fn path_lookup_needs_an_executable_file() {
        let dir = env::temp_dir().join(format!("hil-tests-path-{}", std::process::id()));
        let (plain, exec) = (dir.join("a"), dir.join("b"));
        fs::create_dir_all(&plain).unwrap();
        fs::create_dir_all(&exec).unwrap();
        fs::write(plain.join("tool"), "").unwrap();
        fs::write(exec.join("tool"), "").unwrap();
        fs::set_permissions(exec.join("tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(dir.join("c/tool")).unwrap(); // a directory is not a program
        let path = env::join_paths([dir.join("c"), plain, exec.clone()]).unwrap();
        assert_eq!(find_in_path(path, "tool"), Some(exec.join("tool")));
        let path = env::join_paths([dir.join("c")]).unwrap();
        assert_eq!(find_in_path(path, "tool"), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_image_is_reported_before_running() {
        let image = Path::new("/nonexistent/pkernel-image.elf");
        let err = QemuVirt::new()
            .with_qemu("/nonexistent/qemu")
            .run(image, &RunLimits::default())
            .unwrap_err();
        assert!(
            matches!(&err, HilError::ImageMissing(p) if p == image),
            "{err}"
        );
        assert!(err.to_string().contains("/nonexistent/pkernel-image.elf"));
    }

    #[test]
    fn real_qemu_rejects_a_missing_kernel() {
        let Some(qemu) = skip_or_fail("real_qemu_rejects_a_missing_kernel") else {
            return;
        };
        assert!(qemu.ends_with(QEMU_BINARY));
        let mut cmd = Command::new(&qemu);
        cmd.args(qemu_args(Path::new("/nonexistent/pkernel-image.elf")));
        let limits = RunLimits::default()
            .with_timeout(Duration::from_secs(30))
            .with_idle_timeout(Duration::from_secs(30));
        let log = run_command(cmd, &limits, "qemu-virt", QEMU_STDERR_PREFIX).unwrap();
        assert!(
            matches!(log.end, RunEnd::Exited { code: Some(c) } if c != 0),
            "QEMU should fail on a missing kernel\n{log}"
        );
        let i = log.assert_line(QEMU_STDERR_PREFIX);
        assert!(log.lines[i].contains("pkernel-image.elf"), "{log}");
        assert!(log.elapsed < Duration::from_secs(10), "{log}");
    }

    /// Processes whose command line mentions `needle` (from /proc).
    fn processes_mentioning(needle: &str) -> Vec<String> {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| {
            let e = e.ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(needle)
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect()
    }

    #[test]
    fn real_qemu_running_a_silent_image_is_killed_by_the_watchdog() {
        let Some(qemu) = skip_or_fail("real_qemu_running_a_silent_image_is_killed_by_the_watchdog")
        else {
            return;
        };
        // 4 KiB of zeros loads as a raw image: UDF, then exceptions forever, never a byte out.
        let image = env::temp_dir().join(format!("hil-tests-silent-{}.bin", std::process::id()));
        fs::write(&image, vec![0u8; 4096]).unwrap();
        let limits = RunLimits::default()
            .with_timeout(Duration::from_secs(30))
            .with_idle_timeout(Duration::from_millis(1500));
        let log = QemuVirt::new()
            .with_qemu(qemu)
            .run(&image, &limits)
            .unwrap();
        let left = processes_mentioning(&image.to_string_lossy());
        fs::remove_file(&image).unwrap();
        assert_eq!(log.end, RunEnd::Idle, "{log}");
        assert!(log.lines.is_empty(), "{log}");
        assert_eq!(left, Vec::<String>::new(), "QEMU left running\n{log}");
    }
}
