//! How the module (the whole machine) ends, in the one line every run finishes with.
//!
//! The kernel powers the machine off with PSCI SYSTEM_OFF in every case, so a host running
//! it (QEMU exits with status 0 either way) learns how it ended only from this last kernel
//! line: `[pkernel] module end: shutdown by '<partition>', status <n>` or
//! `[pkernel] module end: failed: <reason>`. hil-tests and `cargo xtask run` parse it; a
//! partition cannot forge it, since every line a partition prints starts with its own name.

use core::fmt;

/// Why the module stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleEnd<'a> {
    /// A system partition asked to power off, with an exit status for whoever runs the module.
    Shutdown { by: &'a str, status: u64 },
    /// The kernel could not go on.
    Failed(Failure),
}

/// What made the kernel give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The tables failed a boot check.
    ConfigurationRejected,
    /// A resource could not be set up at boot (tables, GIC).
    BootError,
    /// A Rust panic in the kernel.
    KernelPanic,
    /// An exception taken at EL2.
    KernelFault,
    /// The health monitor's action for an error was to stop (or reset) the module.
    HealthMonitor,
}

impl Failure {
    pub const fn reason(self) -> &'static str {
        match self {
            Self::ConfigurationRejected => "configuration rejected",
            Self::BootError => "boot error",
            Self::KernelPanic => "kernel panic",
            Self::KernelFault => "kernel fault",
            Self::HealthMonitor => "health monitor",
        }
    }
}

impl fmt::Display for ModuleEnd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shutdown { by, status } => {
                write!(f, "module end: shutdown by '{by}', status {status}")
            }
            Self::Failed(failure) => write!(f, "module end: failed: {}", failure.reason()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_has_the_documented_shape() {
        let end = ModuleEnd::Shutdown {
            by: "supervisor",
            status: 0,
        };
        assert_eq!(
            end.to_string(),
            "module end: shutdown by 'supervisor', status 0"
        );
        assert_eq!(
            ModuleEnd::Failed(Failure::KernelPanic).to_string(),
            "module end: failed: kernel panic"
        );
        assert_eq!(
            ModuleEnd::Failed(Failure::ConfigurationRejected).to_string(),
            "module end: failed: configuration rejected"
        );
    }
}
