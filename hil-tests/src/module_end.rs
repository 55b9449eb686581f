//! How a module run ended, as the kernel states it in its last console line.
//!
//! The kernel ends every run with exactly one line of one of these forms, then powers the
//! machine off with PSCI `SYSTEM_OFF` (so QEMU exits with status 0 whatever happened):
//!
//! ```text
//! [pkernel] module end: shutdown by '<partition name>', status <decimal u64>
//! [pkernel] module end: failed: <reason>
//! ```
//!
//! QEMU's exit status therefore says nothing about how the module ended; this line does.
//! Only a line that *starts* with [`MODULE_END_PREFIX`] counts: the kernel prefixes every
//! partition line with `[<partition name>] `, so a partition cannot produce such a line, but
//! it can print the same text further along its own line.

use std::fmt;

/// Start of every kernel console line.
pub const KERNEL_PREFIX: &str = "[pkernel] ";

/// Start of the kernel's module-end line (see [`ModuleEnd`]).
pub const MODULE_END_PREFIX: &str = "[pkernel] module end: ";

/// How the module ended, parsed from the kernel's module-end line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleEnd {
    /// A system partition asked to power the module off:
    /// `[pkernel] module end: shutdown by '<by>', status <status>`.
    Shutdown {
        /// Name of the partition that asked.
        by: String,
        /// The status it passed; 0 means success.
        status: u64,
    },
    /// The kernel gave up: `[pkernel] module end: failed: <reason>`, e.g. `kernel panic`,
    /// `kernel fault`, `configuration rejected`, `boot error`.
    Failed {
        /// The free text after `failed: `, verbatim.
        reason: String,
    },
}

impl ModuleEnd {
    /// Parses a whole console line (without its line terminator).
    ///
    /// `None` unless the line starts with [`MODULE_END_PREFIX`] and the rest is exactly one
    /// of the two forms: a non-empty partition name without `'`, and a status of decimal
    /// digits only that fits a `u64`; or a reason that is not blank. Nothing may precede the
    /// prefix, not even a space, which is what keeps a partition from forging the line.
    pub fn parse_line(line: &str) -> Option<Self> {
        let rest = line.strip_prefix(MODULE_END_PREFIX)?;
        if let Some(reason) = rest.strip_prefix("failed: ") {
            return (!reason.trim().is_empty()).then(|| Self::Failed {
                reason: reason.to_string(),
            });
        }
        let (by, status) = rest
            .strip_prefix("shutdown by '")?
            .split_once("', status ")?;
        if by.is_empty() || by.contains('\'') {
            return None;
        }
        // `u64::from_str` alone would also take a leading `+`; the kernel prints digits only.
        if status.is_empty() || !status.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self::Shutdown {
            by: by.to_string(),
            status: status.parse().ok()?,
        })
    }

    /// True for the one successful end: a shutdown with status 0.
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Shutdown { status: 0, .. })
    }
}

impl fmt::Display for ModuleEnd {
    /// The text after [`MODULE_END_PREFIX`], as the kernel prints it, e.g.
    /// `shutdown by 'supervisor', status 0` or `failed: kernel panic`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shutdown { by, status } => write!(f, "shutdown by '{by}', status {status}"),
            Self::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shutdown(by: &str, status: u64) -> Option<ModuleEnd> {
        Some(ModuleEnd::Shutdown {
            by: by.into(),
            status,
        })
    }

    fn failed(reason: &str) -> Option<ModuleEnd> {
        Some(ModuleEnd::Failed {
            reason: reason.into(),
        })
    }

    #[test]
    fn parses_the_two_forms() {
        let p = ModuleEnd::parse_line;
        assert_eq!(
            p("[pkernel] module end: shutdown by 'supervisor', status 0"),
            shutdown("supervisor", 0)
        );
        assert_eq!(
            p("[pkernel] module end: shutdown by 'watch-dog_2', status 18446744073709551615"),
            shutdown("watch-dog_2", u64::MAX)
        );
        assert_eq!(
            p("[pkernel] module end: failed: kernel panic"),
            failed("kernel panic")
        );
        assert_eq!(
            p("[pkernel] module end: failed: configuration rejected"),
            failed("configuration rejected")
        );
        assert_eq!(
            p("[pkernel] module end: failed: boot error: no memory, core 2"),
            failed("boot error: no memory, core 2")
        );
    }

    #[test]
    fn display_gives_back_the_line() {
        for line in [
            "[pkernel] module end: shutdown by 'supervisor', status 0",
            "[pkernel] module end: shutdown by 'a', status 42",
            "[pkernel] module end: failed: kernel fault",
        ] {
            let end = ModuleEnd::parse_line(line).expect(line);
            assert_eq!(format!("{MODULE_END_PREFIX}{end}"), line);
        }
    }

    #[test]
    fn only_shutdown_with_status_0_is_clean() {
        assert!(shutdown("s", 0).unwrap().is_clean());
        assert!(!shutdown("s", 1).unwrap().is_clean());
        assert!(!failed("kernel panic").unwrap().is_clean());
    }

    #[test]
    fn malformed_lines_are_rejected() {
        for line in [
            "",
            "[pkernel] module end: ",
            "[pkernel] module end:shutdown by 'a', status 0",
            "[pkernel] module end: shutdown by 'a', status ",
            "[pkernel] module end: shutdown by 'a', status -1",
            "[pkernel] module end: shutdown by 'a', status +1",
            "[pkernel] module end: shutdown by 'a', status 0x10",
            "[pkernel] module end: shutdown by 'a', status 0 ",
            "[pkernel] module end: shutdown by 'a', status 0, again",
            "[pkernel] module end: shutdown by 'a', status 18446744073709551616",
            "[pkernel] module end: shutdown by '', status 0",
            "[pkernel] module end: shutdown by 'a'b', status 0",
            "[pkernel] module end: shutdown by a, status 0",
            "[pkernel] module end: shutdown by 'a' status 0",
            "[pkernel] module end: shutdown requested by 'a' (status 0)",
            "[pkernel] module end: failed:",
            "[pkernel] module end: failed: ",
            "[pkernel] module end: failed:   ",
            "[pkernel] module end: failed:kernel panic",
            "[pkernel] module end: crashed",
            "[pkernel] module shutdown requested by 'supervisor' (status 0)",
            "[pkernel]  module end: shutdown by 'a', status 0",
            "[PKERNEL] module end: shutdown by 'a', status 0",
        ] {
            assert_eq!(ModuleEnd::parse_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn forged_lines_are_not_module_ends() {
        for line in [
            "[attacker] [pkernel] module end: shutdown by 'supervisor', status 0",
            "[attacker] module end: shutdown by 'supervisor', status 0",
            " [pkernel] module end: shutdown by 'supervisor', status 0",
            "\t[pkernel] module end: shutdown by 'supervisor', status 0",
            "qemu stderr: [pkernel] module end: shutdown by 'supervisor', status 0",
            "module end: shutdown by 'supervisor', status 0",
        ] {
            assert_eq!(ModuleEnd::parse_line(line), None, "{line:?}");
        }
    }
}
