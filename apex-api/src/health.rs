//! Health-monitor vocabulary: the errors pkernel detects or partitions raise, and the actions
//! an HM table may name for them. The one definition used by schedule-gen (configuration names),
//! the kernel (its tables and HM log) and partitions (error status).
//!
//! Codes are stable ABI: a variant keeps its number for ever, new ones are appended.

/// Declares an enum of stable codes with its configuration names, in one table.
macro_rules! named_codes {
    ($(#[$m:meta])* $ty:ident { $($(#[$doc:meta])* $variant:ident = $code:literal, $name:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum $ty {
            $($(#[$doc])* $variant = $code,)*
        }

        impl $ty {
            /// Every value, in code order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)*];
            /// How many values there are (table sizes).
            pub const COUNT: usize = Self::ALL.len();

            /// The name configuration files use, e.g. `"memory_violation"`.
            pub const fn name(self) -> &'static str {
                match self { $($ty::$variant => $name,)* }
            }

            /// The value a configuration name stands for.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == name)
            }

            /// The stable numeric code.
            pub const fn code(self) -> u8 {
                self as u8
            }
        }
    };
}

named_codes! {
    /// An error the health monitor handles.
    HmError {
        /// A stage-2 fault: an access outside the partition's regions or beyond their rights.
        MemoryViolation = 0, "memory_violation";
        /// An undefined instruction or a trapped system-register access.
        IllegalInstruction = 1, "illegal_instruction";
        /// A hypercall with a bad ID or bad arguments, or a privileged call from a normal partition.
        IllegalRequest = 2, "illegal_request";
        /// A partition or process missed a deadline, or a window's budget overran.
        DeadlineMissed = 3, "deadline_missed";
        /// Raised by the partition itself (RAISE_APPLICATION_ERROR).
        ApplicationError = 4, "application_error";
        /// A floating-point or arithmetic exception the partition reports.
        NumericError = 5, "numeric_error";
        /// A stack overflow the partition reports.
        StackOverflow = 6, "stack_overflow";
        /// An external abort (SError, synchronous external abort) attributed to the partition.
        HardwareFault = 7, "hardware_fault";
        /// Power failure warning.
        PowerFail = 8, "power_fail";
        /// The kernel itself failed (a kernel panic or a failed boot check): module level only.
        KernelFault = 9, "kernel_fault";
    }
}

named_codes! {
    /// What the module does about a module-level error.
    ModuleAction {
        /// Log it and carry on.
        Ignore = 0, "ignore";
        /// Stop every core (PSCI SYSTEM_OFF).
        Shutdown = 1, "shutdown";
        /// Restart the whole module (PSCI SYSTEM_RESET).
        Reset = 2, "reset";
    }
}

named_codes! {
    /// What happens to a partition about a partition-level error.
    PartitionAction {
        /// Log it; the partition continues (a refused hypercall still gets its error code).
        Ignore = 0, "ignore";
        /// Stop the partition: it keeps its resources and runs nothing until the module restarts.
        Idle = 1, "idle";
        /// Restart the partition from a freshly loaded image.
        ColdStart = 2, "cold_start";
        /// Restart the partition at its entry point, memory kept.
        WarmStart = 3, "warm_start";
    }
}

impl HmError {
    /// Whether the error can only be handled at module level (no partition raised it).
    pub const fn is_module_only(self) -> bool {
        matches!(self, HmError::KernelFault)
    }

    /// The action used when a partition's HM table does not name this error.
    pub const fn default_partition_action(self) -> PartitionAction {
        match self {
            // A refused hypercall already returns its error code to the caller.
            HmError::IllegalRequest => PartitionAction::Ignore,
            _ => PartitionAction::Idle,
        }
    }

    /// The action used when the module HM table does not name a module-only error.
    pub const fn default_module_action(self) -> ModuleAction {
        ModuleAction::Shutdown
    }
}

/// What the health monitor does about one error of one partition, after the module and
/// partition tables are merged: module-level errors act on the module whoever raised them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HmAction {
    /// Handled at partition level.
    Partition(PartitionAction),
    /// Handled at module level.
    Module(ModuleAction),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_positions_and_names_round_trip() {
        for (i, e) in HmError::ALL.iter().enumerate() {
            assert_eq!(usize::from(e.code()), i);
            assert_eq!(HmError::from_name(e.name()), Some(*e));
        }
        for (i, a) in PartitionAction::ALL.iter().enumerate() {
            assert_eq!(usize::from(a.code()), i);
            assert_eq!(PartitionAction::from_name(a.name()), Some(*a));
        }
        for (i, a) in ModuleAction::ALL.iter().enumerate() {
            assert_eq!(usize::from(a.code()), i);
            assert_eq!(ModuleAction::from_name(a.name()), Some(*a));
        }
        assert_eq!(HmError::from_name("MEMORY_VIOLATION"), None);
    }
}
