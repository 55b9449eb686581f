//! The shape of the static system tables this kernel is compiled with. Defined once, in the
//! `system-tables` crate, which `schedule-gen` writes them against.
pub use system_tables::system::*;
