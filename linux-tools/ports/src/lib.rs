//! `ports`: a Linux partition's sampling and queuing ports, from its user space.
//!
//! A pkernel partition finds its ports in its information page (`apex_api::info`) and moves
//! messages through channel buffers shared with its peers (`apex_api::ports`, the one
//! definition of their layout and protocols). This crate does the same from Linux user
//! space: the `ports` command lists the partition's ports, reads and writes sampling
//! messages, and sends, receives and clears queuing messages.
//!
//! A receive that may wait sleeps until its port's doorbell rings: pkernel gives a Linux
//! partition each port's doorbell as an interrupt-driven GPIO line named after the port
//! (emulated PL061 controllers, [`gpio`]), which the receive requests for rising-edge events
//! and `poll`s. Without such a line (an older configuration, no GPIO chips) it polls the
//! queue every [`POLL_INTERVAL`] instead.
//!
//! Everything the command decides lives here and runs on any host: the command line
//! ([`cli`]), the operations over a [`Platform`] ([`run`]), what they print ([`show`]) and
//! the GPIO character device's structures and ioctl numbers ([`gpio`]). The platform is what
//! only a Linux partition has: its guest-physical memory, mapped through `/dev/mem`, the
//! system counter, the doorbell register, the doorbell lines ([`DoorbellLine`]) and
//! sleeping. The binary's `linux.rs` and `doorbell_line.rs` implement it for Linux on
//! AArch64 (the only `unsafe` code of the tool); the tests implement it over memory. See
//! docs/linux-partition.md, "Ports from Linux".
#![forbid(unsafe_code)]

pub mod cli;
pub mod gpio;
pub mod run;
pub mod show;

use std::fmt;
use std::time::Duration;

use apex_api::ports::{OwnBuffer, PeerBuffer};

pub use cli::{Command, parse};
pub use run::run;

/// Exit status of a command that did what it was asked.
pub const EXIT_OK: i32 = 0;
/// Exit status of a command that could not do it (the message on stderr says why).
pub const EXIT_FAILED: i32 = 1;
/// Exit status of a command line that does not parse.
pub const EXIT_USAGE: i32 = 2;

/// How long a blocking receive sleeps between two looks at the queue when its port has no
/// doorbell line to wait on ([`Platform::doorbell_line`]).
pub const POLL_INTERVAL: Duration = Duration::from_millis(1);

/// A buffer mapped read-only: a peer's buffer, or the information page.
pub trait ReadOnlyMapping {
    /// Its words, for the protocols (loads only).
    fn words(&self) -> PeerBuffer<'_>;
}

/// A buffer mapped read-write: one this partition writes (and nobody else).
pub trait ReadWriteMapping {
    /// Its words, for the protocols.
    fn words(&self) -> OwnBuffer<'_>;
}

/// A port's doorbell as an interrupt the process can wait for: on Linux, the port's GPIO
/// line requested for rising-edge events ([`gpio`]). Released when dropped.
pub trait DoorbellLine {
    /// Waits until the line has an event or `timeout` has passed, then takes the events
    /// pending (so that the next wait waits for a new one). An event only says that the
    /// doorbell rang since the line was requested, perhaps for a message already taken: the
    /// caller looks at the queue again either way. `Err` says why the line cannot be waited
    /// on any more.
    fn wait(&mut self, timeout: Duration) -> Result<(), String>;
}

/// What the operations need from the machine.
///
/// On Linux: `/dev/mem` mappings of guest-physical addresses, `CNTVCT_EL0`, a store to the
/// doorbell register, the GPIO character device and `nanosleep`. Buffers are asked for by
/// guest-physical address and size, page aligned, as the information page gives them.
pub trait Platform {
    /// A mapping for reading (unmapped when dropped).
    type ReadOnly: ReadOnlyMapping;
    /// A mapping for reading and writing (unmapped when dropped).
    type ReadWrite: ReadWriteMapping;
    /// A requested doorbell line.
    type Line: DoorbellLine;

    /// Maps `size` bytes at guest-physical `ipa` for reading. `Err` says why not.
    fn map_read_only(&mut self, ipa: u64, size: u64) -> Result<Self::ReadOnly, String>;
    /// Maps `size` bytes at guest-physical `ipa` for reading and writing.
    fn map_read_write(&mut self, ipa: u64, size: u64) -> Result<Self::ReadWrite, String>;
    /// The system counter (the clock of every partition and of the sampling timestamps).
    fn now(&self) -> u64;
    /// Rings the doorbell of the peer at the other end of this partition's port `port`
    /// (its index in the information page's port list).
    fn ring(&mut self, port: usize) -> Result<(), String>;
    /// Finds and requests the doorbell line of this partition's port named `port` (the GPIO
    /// line of that name), ready to wait on: edges from now on are events. `Err` says why
    /// there is none (no GPIO chips, no line of that name, the request refused); the caller
    /// then polls.
    fn doorbell_line(&mut self, port: &str) -> Result<Self::Line, String>;
    /// Sleeps for about `duration`.
    fn sleep(&mut self, duration: Duration);
}

/// Why a command failed. Every message names the port it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The command line does not parse: what is wrong with it.
    Usage(String),
    /// The information page could not be mapped.
    NoInfoPage(String),
    /// The information page is not valid.
    BadInfoPage(apex_api::info::InfoError),
    /// The partition has no port of that name.
    UnknownPort {
        port: String,
        /// The ports it has.
        known: Vec<String>,
    },
    /// The port is of another kind or direction than the command needs.
    WrongPort {
        port: String,
        /// What it is, e.g. `sampling destination`.
        is: String,
        /// What the command needs, e.g. `sampling source`.
        needs: &'static str,
        /// The command that works on this port.
        instead: &'static str,
    },
    /// A port's buffers could not be mapped.
    Map { port: String, why: String },
    /// The information page gives buffers that do not hold the port's sizes.
    BadBuffers {
        port: String,
        why: apex_api::ports::ConfigError,
    },
    /// An empty message (a message has at least 1 byte).
    EmptyMessage { port: String },
    /// A message longer than the port's maximum.
    TooLong {
        port: String,
        len: usize,
        max: usize,
    },
    /// Nothing was ever written to a sampling port.
    NoMessage { port: String },
    /// The writer rewrote the message every time it was read.
    Unstable { port: String },
    /// The peer's buffer holds what no correct peer writes.
    Corrupt {
        port: String,
        /// What is wrong, from the protocol's point of view.
        what: &'static str,
    },
    /// The queue is full: the message was not sent (and counts as an overflow).
    QueueFull { port: String, depth: u32 },
    /// The queue is empty (a receive that does not wait).
    QueueEmpty { port: String },
    /// No message came within the timeout.
    TimedOut { port: String, timeout_ms: u64 },
    /// Writing the output failed.
    Output(String),
    /// Something the tool's own logic rules out happened: a bug in `ports`.
    Internal(&'static str),
}

impl Error {
    /// The exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            _ => EXIT_FAILED,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(why) => write!(f, "{why} (see 'ports help')"),
            Self::NoInfoPage(why) => write!(
                f,
                "cannot read this partition's information page: {why} (ports runs only in a \
                 Linux partition of pkernel)"
            ),
            Self::BadInfoPage(why) => write!(
                f,
                "{why} at {:#x} (ports runs only in a Linux partition of pkernel)",
                apex_api::info::INFO_PAGE_IPA
            ),
            Self::UnknownPort { port, known } if known.is_empty() => {
                write!(f, "no port '{port}': this partition has no ports")
            }
            Self::UnknownPort { port, known } => write!(
                f,
                "no port '{port}' in this partition; its ports: {}",
                known.join(", ")
            ),
            Self::WrongPort {
                port,
                is,
                needs,
                instead,
            } => write!(
                f,
                "port '{port}' is a {is}, not a {needs} (use 'ports {instead} {port}')"
            ),
            Self::Map { port, why } => write!(f, "port '{port}': {why}"),
            Self::BadBuffers { port, why } => write!(
                f,
                "port '{port}': the information page does not describe a usable channel: {}",
                match why {
                    apex_api::ports::ConfigError::MessageSize =>
                        "maximum message size out of range",
                    apex_api::ports::ConfigError::QueueDepth => "queue depth out of range",
                    apex_api::ports::ConfigError::RegionTooSmall => {
                        "a buffer is smaller than its sizes need"
                    }
                }
            ),
            Self::EmptyMessage { port } => {
                write!(f, "port '{port}': a message has at least 1 byte")
            }
            Self::TooLong { port, len, max } => write!(
                f,
                "port '{port}': the message is {len} bytes, the port takes at most {max}"
            ),
            Self::NoMessage { port } => {
                write!(f, "port '{port}': no message has been written yet")
            }
            Self::Unstable { port } => write!(
                f,
                "port '{port}': the writer rewrote the message every time it was read; try again"
            ),
            Self::Corrupt { port, what } => write!(
                f,
                "port '{port}': the peer's buffer is corrupt ({what}); the peer partition \
                 misbehaves"
            ),
            Self::QueueFull { port, depth } => write!(
                f,
                "port '{port}': the queue is full ({depth} messages); the message was not sent \
                 (the receiver's next message reports the overflow)"
            ),
            Self::QueueEmpty { port } => write!(f, "port '{port}': no message in the queue"),
            Self::TimedOut { port, timeout_ms } => {
                write!(f, "port '{port}': no message within {timeout_ms} ms")
            }
            Self::Output(why) => write!(f, "cannot write the output: {why}"),
            Self::Internal(what) => write!(f, "internal error: {what} (a bug in ports)"),
        }
    }
}

impl std::error::Error for Error {}
