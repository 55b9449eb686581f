//! pkernel: a static partitioning kernel for multi-core AArch64, running at EL2.
//!
//! Design principles (see docs/architecture.md):
//! - **Static configuration.** The system is one configuration file; `schedule-gen` turns it
//!   into the tables in [`config`] at build time. Nothing is allocated or created at run time.
//! - **Divide, don't emulate.** A partition owns its cores, memory and devices and uses them
//!   natively; the kernel traps only what it must (stage-2 faults, hypercalls, PSCI, and
//!   the per-core state partitions must not share: PMU, debug registers, set/way cache
//!   maintenance).
//! - **Small and boring.** Each module has one purpose. All `unsafe` lives in `arch` (and the
//!   one lock in `sync`), each
//!   block with a `// SAFETY:` argument; the logic here is safe and host-tested.
//! - **Untrusted partitions.** Every address and length a partition hands the kernel is an
//!   allegation, checked against that partition's own map ([`guest_memory`]) before use.
//!   Nothing a partition does may panic the kernel.
#![cfg_attr(target_os = "none", no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod arch;
#[cfg(target_os = "none")]
pub mod boot;
pub mod boot_checks;
pub mod config;
pub mod console;
pub mod doorbell_gpio;
pub mod guest_memory;
pub mod hm;
pub mod hypercall;
pub mod log;
pub mod machine;
pub mod module;
pub mod partition;
pub mod psci;
pub mod sched;
pub mod smp;
pub mod sync;
pub mod trace;
pub mod trap;
pub mod vgic;
pub mod vuart;
