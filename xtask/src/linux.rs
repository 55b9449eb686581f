//! The material of a Linux partition (`image = { linux = "debian" }`): Debian's arm64 kernel
//! and busybox, fetched by package name with apt into `target/linux-cache/` (never committed),
//! and the initramfs built from them ([`crate::initramfs`]).
//!
//! Cache layout, under `target/linux-cache/`:
//!
//! ```text
//! debs/<package>_<version>_arm64.deb     as `apt-get download` names them (':' as %3a)
//! <package>_<version>/                   `dpkg-deb -x` of that package
//! <package>_<version>.Image              the kernel Image, uncompressed (only when the
//!                                        package's boot/vmlinuz-* is compressed)
//! ```
//!
//! Each build asks apt (`apt-cache show linux-image-arm64:arm64 busybox-static:arm64`, the
//! local package lists, no network) which `linux-image-<abi>-arm64` the metapackage depends on
//! now, at which version, and busybox's version, and downloads only what the cache does not
//! hold yet.
//!
//! apt needs the arm64 architecture enabled in dpkg. When it is not, or the package lists
//! lack the packages, the error gives the commands to run; when running as root with `CI=true`
//! (the CI machine), xtask runs them itself, printing each, as it installs QEMU
//! ([`crate::setup`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use schedule_gen::LinuxSource;
use schedule_gen::linux::{LinuxPayload, parse_image_header};

use crate::initramfs::{extra_files, initramfs};

/// Debian architecture of the packages.
pub const ARCH: &str = "arm64";
/// The metapackage that depends on the current arm64 kernel package.
pub const KERNEL_METAPACKAGE: &str = "linux-image-arm64";
/// Busybox, statically linked: the initramfs's only program.
pub const BUSYBOX_PACKAGE: &str = "busybox-static";
/// The commands that make apt able to fetch arm64 packages on a Debian machine.
pub const ENABLE_ARM64: &str = "sudo dpkg --add-architecture arm64 && sudo apt-get update";

/// Where fetched packages and derived files are kept.
pub fn cache_dir() -> PathBuf {
    crate::workspace_root().join("target/linux-cache")
}

/// One Debian package in the cache.
#[derive(Clone, Debug)]
pub struct Package {
    /// Package name, without the architecture.
    pub name: String,
    /// Its version, as apt gives it (with any epoch).
    pub version: String,
    /// Where it is extracted.
    pub dir: PathBuf,
}

/// Everything a Linux partition needs from outside the repository.
#[derive(Debug)]
pub struct Material {
    /// The kernel package (`linux-image-<abi>-arm64`).
    pub kernel_package: Package,
    /// The busybox package.
    pub busybox_package: Package,
    /// The uncompressed kernel Image file.
    pub image_path: PathBuf,
    /// What schedule-gen places: the Image and the initramfs.
    pub payload: LinuxPayload,
}

/// Fetches (or finds in the cache) the kernel and busybox of `source` and builds the
/// initramfs.
pub fn fetch(source: LinuxSource) -> Result<Material, String> {
    match source {
        LinuxSource::Debian => fetch_debian(),
    }
}

fn fetch_debian() -> Result<Material, String> {
    let mut apt = Apt {
        may_administer: may_administer(),
        updated: false,
    };
    apt.ensure_arm64()?;
    let cache = cache_dir();
    let [kernel, busybox] = apt.resolve()?;
    let kernel_package = apt.cached_package(&cache, kernel)?;
    let busybox_package = apt.cached_package(&cache, busybox)?;

    let (image_path, kernel) = kernel_image(&cache, &kernel_package)?;
    parse_image_header(&kernel).map_err(|why| {
        format!(
            "{} is not an arm64 kernel Image: {why}",
            image_path.display()
        )
    })?;
    let busybox_path = busybox_package.dir.join("bin/busybox");
    let busybox = std::fs::read(&busybox_path)
        .map_err(|e| format!("cannot read {}: {e}", busybox_path.display()))?;
    if busybox.get(..4) != Some(b"\x7fELF") || busybox.get(18..20) != Some(&183u16.to_le_bytes()) {
        return Err(format!(
            "{} is not an AArch64 ELF program",
            busybox_path.display()
        ));
    }
    let initramfs = initramfs(&busybox, &extra_files()?)?;
    Ok(Material {
        kernel_package,
        busybox_package,
        payload: LinuxPayload {
            label: image_path.display().to_string(),
            kernel,
            initramfs,
        },
        image_path,
    })
}

/// Root with `CI=true`: the CI machine, where xtask may change the package configuration.
fn may_administer() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        && Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run_output(program: &str, args: &[&str]) -> Result<Output, String> {
    Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))
}

/// Runs `program args` in `dir` with its output on ours, after saying so.
fn run_visibly(program: &str, args: &[&str], dir: Option<&Path>) -> Result<(), String> {
    let line = format!("{program} {}", args.join(" "));
    match dir {
        Some(dir) => eprintln!("xtask: running {line} (in {})", dir.display()),
        None => eprintln!("xtask: running {line}"),
    }
    let mut cmd = Command::new(program);
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("`{line}` failed ({s})")),
        Err(e) => Err(format!("cannot run {program}: {e}")),
    }
}

/// apt, as the fetch uses it.
struct Apt {
    /// Whether xtask may enable the architecture and refresh the lists itself.
    may_administer: bool,
    /// Whether it already ran `apt-get update` in this fetch.
    updated: bool,
}

impl Apt {
    /// Makes sure dpkg (and so apt) takes arm64 packages.
    fn ensure_arm64(&mut self) -> Result<(), String> {
        let native = run_output("dpkg", &["--print-architecture"]).map_err(|e| {
            format!(
                "{e}: a Linux partition's kernel and busybox are fetched with Debian's apt, by package name"
            )
        })?;
        let foreign = run_output("dpkg", &["--print-foreign-architectures"])?;
        let enabled = String::from_utf8_lossy(&native.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&foreign.stdout).lines())
            .any(|a| a.trim() == ARCH);
        if enabled {
            return Ok(());
        }
        if !self.may_administer {
            return Err(format!(
                "the {ARCH} architecture is not enabled in dpkg, so apt cannot fetch the Linux partition's kernel ({KERNEL_METAPACKAGE}:{ARCH}) and busybox ({BUSYBOX_PACKAGE}:{ARCH}); enable it with: {ENABLE_ARM64}"
            ));
        }
        run_visibly("dpkg", &["--add-architecture", ARCH], None)?;
        self.update()
    }

    fn update(&mut self) -> Result<(), String> {
        self.updated = true;
        run_visibly("apt-get", &["update"], None)
    }

    /// Runs an `apt-cache` query; if the lists do not know `what`, refreshes them once (on the
    /// CI machine) or says how to.
    fn query(&mut self, args: &[&str], what: &str) -> Result<String, String> {
        loop {
            let out = run_output("apt-cache", args)?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() && !text.trim().is_empty() {
                return Ok(text);
            }
            if self.may_administer && !self.updated {
                self.update()?;
                continue;
            }
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "apt's package lists do not have {what} (`apt-cache {}`: {}); refresh them with: sudo apt-get update",
                args.join(" "),
                said.lines().next().unwrap_or("nothing found").trim()
            ));
        }
    }

    /// What to fetch, from one `apt-cache show` of the kernel metapackage and busybox: the
    /// versioned kernel package the metapackage depends on (e.g. `linux-image-6.1.0-57-arm64`,
    /// at the version it pins), and busybox's current version. (Every apt-cache run loads
    /// the package lists, seconds where apt keeps no binary cache, so there is one.)
    fn resolve(&mut self) -> Result<[(String, String); 2], String> {
        let (meta, busybox) = (
            format!("{KERNEL_METAPACKAGE}:{ARCH}"),
            format!("{BUSYBOX_PACKAGE}:{ARCH}"),
        );
        let args = ["show", "--no-all-versions", meta.as_str(), busybox.as_str()];
        let text = self.query(&args, &format!("{meta} and {busybox}"))?;
        let stanzas = stanzas(&text);
        let field = |package: &str, name: &str| {
            stanzas
                .iter()
                .find(|s| s.get("Package").map(String::as_str) == Some(package))
                .and_then(|s| s.get(name).cloned())
                .ok_or_else(|| {
                    format!(
                        "`apt-cache {}` gives no {name} for {package}",
                        args.join(" ")
                    )
                })
        };
        let depends = field(KERNEL_METAPACKAGE, "Depends")?;
        let (kernel, version) = kernel_dependency(&depends).ok_or_else(|| {
            format!("{KERNEL_METAPACKAGE} depends on no linux-image-<abi>-{ARCH} package at one version: {depends}")
        })?;
        Ok([
            (kernel, version),
            (
                BUSYBOX_PACKAGE.to_owned(),
                field(BUSYBOX_PACKAGE, "Version")?,
            ),
        ])
    }

    /// Package `name` at `version`, downloaded and extracted into the cache if it is not
    /// there yet.
    fn cached_package(
        &mut self,
        cache: &Path,
        (name, version): (String, String),
    ) -> Result<Package, String> {
        let name = name.as_str();
        let qualified = format!("{name}:{ARCH}");
        let escaped = version.replace(':', "%3a");
        let debs = cache.join("debs");
        let deb = debs.join(format!("{name}_{escaped}_{ARCH}.deb"));
        if !deb.is_file() {
            // Into a directory of its own first, so a cut download never looks cached.
            let partial = debs.join(format!("partial-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&partial);
            std::fs::create_dir_all(&partial)
                .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
            let pinned = format!("{qualified}={version}");
            let result =
                run_visibly("apt-get", &["download", &pinned], Some(&partial)).and_then(|()| {
                    let got = partial.join(deb.file_name().unwrap_or_default());
                    std::fs::rename(&got, &deb).map_err(|e| {
                        format!("apt-get download did not leave {}: {e}", got.display())
                    })
                });
            let _ = std::fs::remove_dir_all(&partial);
            result?;
        }
        let dir = cache.join(format!("{name}_{escaped}"));
        if !dir.is_dir() {
            let partial = cache.join(format!("partial-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&partial);
            let deb_text = deb.display().to_string();
            let partial_text = partial.display().to_string();
            run_visibly("dpkg-deb", &["-x", &deb_text, &partial_text], None)?;
            if let Err(e) = std::fs::rename(&partial, &dir) {
                let _ = std::fs::remove_dir_all(&partial);
                // Another build extracted it meanwhile.
                if !dir.is_dir() {
                    return Err(format!(
                        "cannot move {partial_text} to {}: {e}",
                        dir.display()
                    ));
                }
            }
        }
        Ok(Package {
            name: name.to_owned(),
            version,
            dir,
        })
    }
}

/// The `linux-image-<abi>-arm64` package and the version it is pinned to in the kernel
/// metapackage's `Depends` field, e.g. `linux-image-6.1.0-57-arm64 (= 6.1.192-3)`.
pub fn kernel_dependency(depends: &str) -> Option<(String, String)> {
    depends.split([',', '|']).find_map(|item| {
        let (name, rest) = item.trim().split_once(' ')?;
        let name = name.strip_suffix(&format!(":{ARCH}")).unwrap_or(name);
        let version = rest.trim().strip_prefix("(=")?.strip_suffix(')')?.trim();
        (name.starts_with("linux-image-") && name.ends_with(&format!("-{ARCH}")))
            .then(|| (name.to_owned(), version.to_owned()))
    })
}

/// The stanzas of `apt-cache show` output: field name → value (the first line of it).
fn stanzas(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    text.split("\n\n")
        .map(|stanza| {
            stanza
                .lines()
                .filter(|l| !l.starts_with(' '))
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect()
        })
        .collect()
}

/// The kernel's uncompressed Image: the package's `boot/vmlinuz-*` itself, or its content
/// unpacked once into the cache.
fn kernel_image(cache: &Path, package: &Package) -> Result<(PathBuf, Vec<u8>), String> {
    let boot = package.dir.join("boot");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&boot)
        .map_err(|e| format!("cannot read {}: {e}", boot.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .collect();
    found.sort();
    let [vmlinuz] = found.as_slice() else {
        return Err(format!(
            "{} has {} vmlinuz-* files; expected one",
            boot.display(),
            found.len()
        ));
    };
    let bytes =
        std::fs::read(vmlinuz).map_err(|e| format!("cannot read {}: {e}", vmlinuz.display()))?;
    let Some(compressed) = compressed_payload(&bytes) else {
        return Ok((vmlinuz.clone(), bytes));
    };
    let unpacked_path = cache.join(format!(
        "{}.Image",
        package
            .dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
    ));
    if let Ok(image) = std::fs::read(&unpacked_path) {
        return Ok((unpacked_path, image));
    }
    eprintln!(
        "xtask: unpacking {} into {}",
        vmlinuz.display(),
        unpacked_path.display()
    );
    let image =
        gunzip(compressed).map_err(|e| format!("cannot unpack {}: {e}", vmlinuz.display()))?;
    let partial = unpacked_path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, &image)
        .and_then(|()| std::fs::rename(&partial, &unpacked_path))
        .map_err(|e| format!("cannot write {}: {e}", unpacked_path.display()))?;
    Ok((unpacked_path, image))
}

/// The gzip stream inside a compressed kernel, if it is one: a plain gzip file (`1f 8b`), or
/// an EFI zboot image (`MZ`, `zimg` at 4, payload offset and size at 8 and 12, compression
/// name at 24) whose payload is gzip. `None` for anything else (an uncompressed Image).
pub fn compressed_payload(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Some(bytes);
    }
    if bytes.starts_with(b"MZ") && bytes.get(4..8) == Some(b"zimg") {
        let u32_at = |o: usize| {
            bytes
                .get(o..o + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let (offset, size) = (u32_at(8)? as usize, u32_at(12)? as usize);
        let kind = bytes.get(24..28)?;
        let payload = bytes.get(offset..offset.checked_add(size)?)?;
        return (kind == b"gzip").then_some(payload);
    }
    None
}

fn gunzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_versioned_kernel_package_is_read_from_apt_cache_show() {
        let shown = "Package: linux-image-arm64\nSource: linux-signed-arm64 (6.1.192+3)\nVersion: 6.1.192-3\n\
                     Depends: linux-image-6.1.0-57-arm64 (= 6.1.192-3)\nDescription: Linux for 64-bit ARMv8 machines (meta-package)\n\
                     \x20This package depends on the latest Linux kernel.\n\n\
                     Package: busybox-static\nVersion: 1:1.35.0-4+deb12u1+b1\nDepends: libc6\n\n";
        let stanzas = stanzas(shown);
        assert_eq!(stanzas.len(), 3);
        assert_eq!(stanzas[1]["Version"], "1:1.35.0-4+deb12u1+b1");
        assert_eq!(
            kernel_dependency(&stanzas[0]["Depends"]),
            Some(("linux-image-6.1.0-57-arm64".into(), "6.1.192-3".into()))
        );
        assert_eq!(
            kernel_dependency("linux-base, linux-image-6.1.0-1-arm64:arm64 (= 6.1.1-1) | foo"),
            Some(("linux-image-6.1.0-1-arm64".into(), "6.1.1-1".into()))
        );
        assert_eq!(kernel_dependency("linux-image-6.1.0-57-arm64"), None);
        assert_eq!(kernel_dependency("linux-image-6.1.0-57-amd64 (= 1)"), None);
    }

    #[test]
    fn compressed_kernels_are_recognised_and_unpacked() {
        use std::io::Write;
        let mut image = vec![0u8; 4096];
        image[0x38..0x3c].copy_from_slice(b"ARM\x64");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&image).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(compressed_payload(&image), None);
        assert_eq!(gunzip(compressed_payload(&gz).unwrap()).unwrap(), image);
        // EFI zboot: the gzip payload at the offset its header gives.
        let mut zboot = b"MZ\0\0zimg".to_vec();
        zboot.extend_from_slice(&64u32.to_le_bytes());
        zboot.extend_from_slice(&(gz.len() as u32).to_le_bytes());
        zboot.resize(24, 0);
        zboot.extend_from_slice(b"gzip");
        zboot.resize(64, 0);
        zboot.extend_from_slice(&gz);
        assert_eq!(gunzip(compressed_payload(&zboot).unwrap()).unwrap(), image);
        zboot[24..28].copy_from_slice(b"zstd");
        assert_eq!(compressed_payload(&zboot), None);
    }
}
