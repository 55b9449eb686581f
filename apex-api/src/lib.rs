//! What a partition links: pkernel's hypercall ABI and (later) the APEX services built on it.
//!
//! This crate is the one definition of every number and layout shared by the kernel, the
//! partitions and the host tools. The pure definitions are host-testable; only
//! [`call`] contains the `hvc` instruction, and only on AArch64.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod apex;
pub mod health;
pub mod hypercall;
pub mod info;
pub mod partition;
pub mod ports;
pub mod trace;
pub use hypercall::{Hypercall, ReturnCode};

#[cfg(target_arch = "aarch64")]
pub mod call;
