//! The static tables a pkernel system is built with, defined once for both sides: `schedule-gen`
//! writes them (as Rust source for [`system`], as bytes for [`translation`]) and the kernel
//! reads them. Nothing here runs logic beyond small accessors; `no_std` so the kernel can use it.
#![no_std]

pub mod system;
pub mod translation;

pub use system::*;
