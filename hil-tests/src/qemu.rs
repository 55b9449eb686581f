//! The QEMU `virt` target: the machine every pkernel test boots on by default.

use std::{
    env,
    ffi::OsString,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

use crate::runner::{EndOfRun, run_probed};
use crate::{HilError, MemoryRange, QEMU_STDERR_PREFIX, QmpProbe, RunLimits, RunLog, Target};

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
    machine_args(Machine::Pkernel, image)
}

/// How the `virt` machine is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// For pkernel: 4 cores entered at EL2 ([`qemu_args`]).
    Pkernel,
    /// For a guest run bare, without a hypervisor (benchmarks' reference): 1 core entered at
    /// EL1, everything else as for pkernel.
    Bare,
}

/// The arguments of [`qemu_args`], for `machine`.
pub fn machine_args(machine: Machine, image: &Path) -> Vec<String> {
    let (virt, cores) = match machine {
        Machine::Pkernel => ("virt,virtualization=on,gic-version=3", "4"),
        Machine::Bare => ("virt,gic-version=3", "1"),
    };
    [
        "-M",
        virt,
        "-cpu",
        "cortex-a53",
        "-smp",
        cores,
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

/// The arguments that give the host memory access to QEMU through QMP on `socket`:
/// `-qmp unix:SOCKET,server=on,wait=off` (QEMU listens; the guest does not wait for a client)
/// and `-no-shutdown` (PSCI `SYSTEM_OFF` stops the machine instead of ending QEMU, so its
/// memory can still be read after the module ended; the host then quits QEMU through QMP).
pub fn memory_access_args(socket: &Path) -> Vec<String> {
    // QEMU's option syntax escapes a comma by doubling it.
    let path = socket.to_string_lossy().replace(',', ",,");
    vec![
        "-qmp".to_owned(),
        format!("unix:{path},server=on,wait=off"),
        "-no-shutdown".to_owned(),
    ]
}

/// A fresh path for a QMP socket in the temporary directory, unique in this process (Unix
/// socket paths must stay short, so not under the workspace's `target/`).
pub fn temp_socket_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    env::temp_dir().join(format!(
        "pkernel-{tag}-{}-{}.qmp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Boots images on `qemu-system-aarch64 -M virt` (see [`qemu_args`]), console on stdout.
#[derive(Clone, Debug, Default)]
pub struct QemuVirt {
    /// QEMU binary to use; `None` looks it up on `PATH` at each run.
    qemu: Option<PathBuf>,
    /// Arguments appended after [`qemu_args`].
    extra_args: Vec<String>,
    /// The QMP socket of a target with memory access.
    memory_access: Option<PathBuf>,
}

/// A run of a QEMU with memory access: QMP tells the runner about the power-off and reads
/// memory at the end.
struct QemuEnd {
    probe: QmpProbe,
    range: Option<MemoryRange>,
}

impl EndOfRun for QemuEnd {
    fn powered_off(&mut self) -> bool {
        self.probe.powered_off()
    }

    fn wants_memory(&self) -> bool {
        self.range.is_some()
    }

    fn read_memory(&mut self) -> Option<Result<Vec<u8>, String>> {
        self.range.map(|range| self.probe.read(range))
    }

    fn release(&mut self) {
        self.probe.quit();
    }

    fn cpu_states(&mut self) -> Vec<String> {
        self.probe.cpu_states()
    }
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

    /// Gives the host memory access to the machine, the way a debug probe has it on a board:
    /// QEMU serves QMP on `socket` and keeps running after the guest powers off
    /// ([`memory_access_args`]). A run then ends when the machine powers off (QEMU is told to
    /// quit, and exits with status 0), and [`Target::run_reading`] can read memory at the end
    /// of the run. `socket` is removed before and after each run; keep it short (a Unix socket
    /// path has at most 107 bytes), e.g. [`temp_socket_path`].
    pub fn with_memory_access(mut self, socket: impl Into<PathBuf>) -> Self {
        self.memory_access = Some(socket.into());
        self
    }

    /// The QMP socket, if this target has memory access.
    pub fn memory_access(&self) -> Option<&Path> {
        self.memory_access.as_deref()
    }

    /// Deterministic instruction counting: adds `-icount shift=0,sleep=off`, so a run is
    /// exactly repeatable and the cycle counter advances one per instruction.
    pub fn with_icount(self) -> Self {
        self.with_args(["-icount", "shift=0,sleep=off"])
    }

    /// The full argument list this target passes to QEMU for `image`.
    pub fn args(&self, image: &Path) -> Vec<String> {
        let mut args = qemu_args(image);
        if let Some(socket) = &self.memory_access {
            args.extend(memory_access_args(socket));
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// Runs `image`, through QMP when this target has memory access (reading `range`, if
    /// given, at the end).
    fn run_with(
        &self,
        image: &Path,
        limits: &RunLimits,
        range: Option<MemoryRange>,
    ) -> Result<RunLog, HilError> {
        if !image.is_file() {
            return Err(HilError::ImageMissing(image.to_path_buf()));
        }
        let cmd = self.command(image)?;
        let Some(socket) = &self.memory_access else {
            return run_probed(cmd, limits, self.name(), QEMU_STDERR_PREFIX, None);
        };
        let mut end = QemuEnd {
            probe: QmpProbe::new(socket),
            range,
        };
        let scratch = end.probe.scratch_file();
        let clean = || {
            let _ = std::fs::remove_file(socket);
            let _ = std::fs::remove_file(&scratch);
        };
        // A stale socket would be connected to instead of this run's QEMU.
        clean();
        let log = run_probed(cmd, limits, self.name(), QEMU_STDERR_PREFIX, Some(&mut end));
        clean();
        log
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
        self.run_with(image, limits, None)
    }

    /// Needs [`with_memory_access`](QemuVirt::with_memory_access). The memory is read after
    /// the guest powered off, or, when the run ends otherwise (stop line, timeout, idle
    /// watchdog), with the machine stopped just before QEMU is killed.
    fn run_reading(
        &self,
        image: &Path,
        limits: &RunLimits,
        range: MemoryRange,
    ) -> Result<RunLog, HilError> {
        if self.memory_access.is_none() {
            return Err(HilError::NoMemoryAccess {
                target: self.name().to_owned(),
            });
        }
        self.run_with(image, limits, Some(range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RunEnd, run_command, skip_or_fail};
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

    /// Text a raw test image carries 256 bytes in, to be found again in the machine's RAM.
    const MARK: &[u8] = b"hil-tests: memory read through QMP";

    /// A raw image: `code` (AArch64 instructions), then [`MARK`] at byte 256.
    fn raw_image(tag: &str, code: &[u32]) -> PathBuf {
        let mut bytes: Vec<u8> = code.iter().flat_map(|i| i.to_le_bytes()).collect();
        bytes.resize(256, 0);
        bytes.extend_from_slice(MARK);
        bytes.resize(4096, 0);
        let image = env::temp_dir().join(format!("hil-tests-{tag}-{}.bin", std::process::id()));
        fs::write(&image, bytes).unwrap();
        image
    }

    /// `movz w0, #8; movk w0, #0x8400, lsl #16; smc #0; b .`: PSCI SYSTEM_OFF.
    const POWER_OFF: [u32; 4] = [0x5280_0100, 0x72B0_8000, 0xD400_0003, 0x1400_0000];
    /// `b .`: runs for ever.
    const SPIN: [u32; 1] = [0x1400_0000];
    /// The first 2 MiB of RAM, where QEMU loads a raw image.
    const RAM: MemoryRange = MemoryRange {
        address: 0x4000_0000,
        size: 2 << 20,
    };

    fn contains_mark(bytes: &[u8]) -> bool {
        bytes.windows(MARK.len()).any(|w| w == MARK)
    }

    #[test]
    fn memory_access_adds_qmp_and_no_shutdown() {
        let q = QemuVirt::new().with_memory_access("/tmp/a,b.qmp");
        assert_eq!(
            q.args(Path::new("/img/pk.elf")).join(" "),
            format!("{EXPECTED} -qmp unix:/tmp/a,,b.qmp,server=on,wait=off -no-shutdown")
        );
        assert_eq!(q.memory_access(), Some(Path::new("/tmp/a,b.qmp")));
        assert_ne!(temp_socket_path("x"), temp_socket_path("x"));
        assert!(temp_socket_path("x").as_os_str().len() < 100);
    }

    #[test]
    fn reading_needs_memory_access() {
        let image = raw_image("no-access", &SPIN);
        let err = QemuVirt::new()
            .with_qemu("/nonexistent/qemu")
            .run_reading(&image, &RunLimits::default(), RAM)
            .unwrap_err();
        fs::remove_file(&image).unwrap();
        assert!(matches!(err, HilError::NoMemoryAccess { .. }), "{err}");
        assert!(err.to_string().contains("with_memory_access"), "{err}");
    }

    #[test]
    fn real_qemu_memory_is_read_after_the_guest_powers_off() {
        let Some(qemu) = skip_or_fail("real_qemu_memory_is_read_after_the_guest_powers_off") else {
            return;
        };
        let image = raw_image("power-off", &POWER_OFF);
        let socket = temp_socket_path("hil-test");
        let target = QemuVirt::new().with_qemu(qemu).with_memory_access(&socket);
        let limits = RunLimits::default()
            .with_timeout(Duration::from_secs(30))
            .with_idle_timeout(Duration::from_secs(20));
        let log = target.run_reading(&image, &limits, RAM).unwrap();
        // Without a range, a power-off still ends the run at once.
        let plain = target.run(&image, &limits).unwrap();
        let left = processes_mentioning(&image.to_string_lossy());
        fs::remove_file(&image).unwrap();
        // QEMU stayed up after SYSTEM_OFF (-no-shutdown), was read, then quit with status 0.
        assert_eq!(log.end, RunEnd::Exited { code: Some(0) }, "{log}");
        assert!(contains_mark(log.assert_memory()), "{log}");
        assert!(log.elapsed < Duration::from_secs(10), "{log}");
        assert_eq!(plain.end, RunEnd::Exited { code: Some(0) }, "{plain}");
        assert_eq!(plain.memory, None);
        assert!(plain.elapsed < Duration::from_secs(10), "{plain}");
        assert!(!socket.exists());
        assert_eq!(left, Vec::<String>::new(), "QEMU left running\n{log}");
    }

    #[test]
    fn real_qemu_memory_is_read_before_a_timed_out_run_is_killed() {
        let Some(qemu) = skip_or_fail("real_qemu_memory_is_read_before_a_timed_out_run_is_killed")
        else {
            return;
        };
        let image = raw_image("spin", &SPIN);
        let target = QemuVirt::new()
            .with_qemu(qemu)
            .with_memory_access(temp_socket_path("hil-test"));
        let limits = RunLimits::default()
            .with_timeout(Duration::from_secs(2))
            .with_idle_timeout(Duration::from_secs(20));
        let log = target.run_reading(&image, &limits, RAM).unwrap();
        let left = processes_mentioning(&image.to_string_lossy());
        fs::remove_file(&image).unwrap();
        assert_eq!(log.end, RunEnd::TimedOut, "{log}");
        assert!(contains_mark(log.assert_memory()), "{log}");
        // Where each CPU was: the first one in the spin loop, in RAM.
        assert_eq!(log.cpu_states.len(), 4, "{log}");
        assert!(log.cpu_states[0].starts_with("CPU#0 PC=000000004"), "{log}");
        assert!(
            log.cpu_states.iter().all(|s| s.contains(" PSTATE=")),
            "{log}"
        );
        assert!(log.elapsed < Duration::from_secs(10), "{log}");
        assert_eq!(left, Vec::<String>::new(), "QEMU left running\n{log}");
    }
}
