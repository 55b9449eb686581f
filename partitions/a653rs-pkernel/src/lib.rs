//! The [a653rs](https://crates.io/crates/a653rs) binding for pkernel: partitions written
//! against a653rs' ARINC 653 Part 4 traits run on pkernel by naming [`PkernelHypervisor`] and
//! linking this crate's runtime ([`entry!`]).
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use a653rs::prelude::PartitionExt;
//!
//! a653rs_pkernel::entry!(main);
//!
//! fn main() -> ! {
//!     MyPartition.run() // MyPartition: a653rs::prelude::Partition<a653rs_pkernel::PkernelHypervisor>
//! }
//! ```
//!
//! plus a build script adding `-Tbm-partition.x` to the link (docs/writing-partitions.md).
//!
//! # What it implements
//!
//! [`PkernelHypervisor`] implements the six Part 4 traits, `ApexPartitionP4`,
//! `ApexProcessP4`, `ApexTimeP4`, `ApexErrorP4`, `ApexSamplingPortP4` and
//! `ApexQueuingPortP4` (and `ApexLimits` with pkernel's limits), on the partition's APEX
//! services (`apex_api::apex::Apex`): ports by their configured local names from the
//! partition information page, ARINC 653 return codes, no hypercall on the sampling path.
//!
//! # Processes
//!
//! Part 4 allows the initialisation process and one more. The runtime's entry runs the
//! a653rs partition (`PartitionExt::run`), whose cold or warm start function is the
//! initialisation process: it creates the ports and the one process (CREATE_PROCESS; a
//! second is `INVALID_CONFIG`) and starts it (START). When `run` then calls
//! SET_PARTITION_MODE(NORMAL) and the kernel accepts it, the initialisation process ends: the
//! call does not return. The started process runs on the partition's stack, from its top
//! (its STACK_SIZE must fit that stack, 64 KiB with `bm-partition.x`), until the partition
//! restarts or stops; a periodic process's first release point is the switch to NORMAL, and
//! each PERIODIC_WAIT waits for the next. With no process started, the partition idles.
//!
//! # State
//!
//! The services and the process table are in one static [`cell::SingleCore`]: a partition
//! has one vCPU and no interrupt handlers, and Part 4 runs one process at a time, so no lock
//! (and no atomic read-modify-write, unreliable with the MMU off) is needed; the cell checks
//! against re-entrant use. The runtime refills it at every entry, so a warm start begins with
//! an empty process table and no ports.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod binding;
pub mod cell;
#[cfg(all(target_os = "none", feature = "log"))]
pub mod logger;
#[cfg(target_os = "none")]
mod runtime;
#[cfg(test)]
mod tests;

/// The bare-metal runtime the binding runs on: console printing (`bm_runtime::println!`),
/// the information page, the counter.
#[cfg(target_os = "none")]
pub use bm_runtime;

/// pkernel as an a653rs hypervisor: name it where a653rs asks for the hypervisor type
/// (`impl Partition<PkernelHypervisor>`, `#[partition(a653rs_pkernel::PkernelHypervisor)]`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PkernelHypervisor;

/// Declares the partition's main function, `fn() -> !`, which runs the a653rs partition
/// (`PartitionExt::run`). The runtime calls it in COLD_START or WARM_START mode, once it has
/// read the partition information page (and, with feature `log`, installed the console
/// logger).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        // The runtime and the trait impls exist only for the partitions' target: say so
        // first, before the errors their absence causes.
        #[cfg(not(target_os = "none"))]
        ::core::compile_error!(
            "a pkernel partition builds for aarch64-unknown-none: pass `--target \
             aarch64-unknown-none`, or set it in .cargo/config.toml (see \
             templates/a653rs-partition)"
        );

        #[unsafe(export_name = "__a653rs_pkernel_main")]
        fn __a653rs_pkernel_main() -> ! {
            let main: fn() -> ! = $main;
            main()
        }
    };
}
