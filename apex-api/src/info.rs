//! The partition information page (K12; seed 000's boot parameter table in ARINC terms): the
//! one definition of its layout, with the writer schedule-gen uses and the validating reader
//! partitions and host or Linux tools use.
//!
//! The kernel maps one read-only 4 KiB page into every partition at [`INFO_PAGE_IPA`], the last
//! page of the 39-bit IPA space. It describes that partition alone: its identity, kind,
//! criticality, cores, time budget, memory regions and devices, and its ports with the
//! guest-physical addresses of their buffers. So a partition binary learns at run time what a
//! configuration decided for it, and the same binary runs under any configuration that places
//! it, with no rebuild. The page is generated from the configuration at build time and lives in
//! the kernel image's read-only data; nothing writes it at run time.
//!
//! # Layout (version 1)
//!
//! All fields are little-endian and naturally aligned (bare-metal partitions read the page with
//! their MMU off, where memory is Device memory and every access must be aligned). Names are
//! [`NAME_SIZE`] bytes of ASCII, padded with NUL bytes (a name of exactly `NAME_SIZE`
//! characters has no NUL). Bytes from `size` to the end of the page are zero.
//!
//! Header, 112 bytes at offset 0:
//!
//! | Offset | Type | Field |
//! |---|---|---|
//! | 0 | u64 | magic, [`INFO_MAGIC`] (`"PKINFOPG"`) |
//! | 8 | u32 | layout version, [`INFO_VERSION`] |
//! | 12 | u32 | size: bytes in use from offset 0 (header and tables), at most 4096 |
//! | 16 | u32 | partition identifier (its index in the configuration) |
//! | 20 | u8 | kind: 1 bare metal, 2 RTOS, 3 Linux, 4 system |
//! | 21 | u8 | criticality: ASCII `'A'` to `'E'` |
//! | 22 | u8 | flags: bit 0 time-partitioned, bit 1 PMU granted; other bits zero |
//! | 23 | u8 | vCPU count, 1 to [`MAX_CORES`] |
//! | 24 | [u8; 24] | partition name |
//! | 48 | [u8; 8] | physical core of vCPU 0, 1, ...; zero past the vCPU count |
//! | 56 | u64 | system counter frequency, Hz |
//! | 64 | u64 | period, ns ([`INFINITE_TIME`] on dedicated cores) |
//! | 72 | u64 | duration, ns ([`INFINITE_TIME`] on dedicated cores) |
//! | 80 | u64 | period, counter ticks ([`INFINITE_TIME`] on dedicated cores) |
//! | 88 | u64 | duration, counter ticks ([`INFINITE_TIME`] on dedicated cores) |
//! | 96 | table | regions: u16 offset, u16 count, u16 entry size (48), u16 zero |
//! | 104 | table | ports: u16 offset, u16 count, u16 entry size (80), u16 zero |
//!
//! Region entry (RAM regions, then devices), 48 bytes:
//!
//! | Offset | Type | Field |
//! |---|---|---|
//! | 0 | [u8; 24] | name |
//! | 24 | u64 | first guest-physical address |
//! | 32 | u64 | size in bytes |
//! | 40 | u8 | kind: 1 RAM, 2 device |
//! | 41 | u8 | access: bit 0 read, bit 1 write, bit 2 execute |
//! | 42 | [u8; 6] | zero |
//!
//! Port entry, 80 bytes:
//!
//! | Offset | Type | Field |
//! |---|---|---|
//! | 0 | [u8; 24] | local name |
//! | 24 | u8 | kind: 1 sampling, 2 queuing |
//! | 25 | u8 | direction: 1 source, 2 destination |
//! | 26 | u8 | queuing discipline: 0 for sampling, 1 FIFO, 2 priority |
//! | 27 | u8 | zero |
//! | 28 | u32 | largest message, bytes |
//! | 32 | u32 | queue depth (0 for sampling) |
//! | 36 | u32 | data buffer size |
//! | 40 | u64 | data buffer IPA (written by the source) |
//! | 48 | u64 | acknowledge buffer IPA (queuing, written by the destination; 0 for sampling) |
//! | 56 | u32 | acknowledge buffer size (0 for sampling) |
//! | 60 | u32 | zero |
//! | 64 | u64 | refresh period, ns (0: none) |
//! | 72 | u64 | refresh period, counter ticks (0: none) |
//!
//! At the configuration's limits (16 RAM regions, 8 devices, 32 ports) the page uses
//! 112 + 24 × 48 + 32 × 80 = 3824 bytes.
//!
//! # Reading it
//!
//! [`InfoPage::parse`] trusts nothing: it checks the magic, version and size, every count,
//! offset and entry size against the page, that every name is NUL-padded printable ASCII and
//! unique in its table, that every code is one this version knows, that reserved bytes are
//! zero, and that every range is page aligned, does not wrap and ends below the page itself.
//! It never panics and never reads outside the bytes it is given. Once a page has parsed,
//! every accessor is infallible. [`encode`] is the writer; whatever it produces parses.
#![forbid(unsafe_code)]

use crate::partition::INFINITE_TIME;

/// Where the kernel maps every partition's information page: the last 4 KiB of the 39-bit
/// guest-physical (IPA) space. No board RAM or device is there, and schedule-gen refuses a
/// region or port buffer that would overlap it (rule E094).
pub const INFO_PAGE_IPA: u64 = (1 << 39) - INFO_PAGE_SIZE as u64;
/// Size of the page.
pub const INFO_PAGE_SIZE: usize = 4096;
/// The doorbell register page, just below the information page: a 32-bit store of one of
/// the partition's own queuing port indices (its place in the information page) at offset 0
/// rings the peer at the other end of that port, exactly as the `Doorbell` hypercall does.
/// For code that cannot make hypercalls (Linux user space, through `/dev/mem`). The page is
/// never mapped: the kernel emulates the store on the fault it takes; loads read 0, and a
/// store of a port the partition does not have is refused like the hypercall (logged, no
/// effect). Schedule-gen keeps it clear like the information page (rule E094).
pub const DOORBELL_PAGE_IPA: u64 = INFO_PAGE_IPA - INFO_PAGE_SIZE as u64;
/// Lines of one doorbell GPIO controller (an Arm PL061 has 8).
pub const DOORBELL_GPIO_LINES: usize = 8;
/// Doorbell GPIO controllers a partition may have: one per 8 ports, enough for every port.
pub const DOORBELL_GPIO_CONTROLLERS: usize = MAX_PORTS / DOORBELL_GPIO_LINES;
/// Size of one doorbell GPIO controller's window (a PL061's).
pub const DOORBELL_GPIO_SIZE: u64 = 4096;
/// The doorbell GPIO controllers, consecutive pages just below the doorbell register page:
/// each an emulated Arm PL061 whose input line `i` of controller `k` has a rising edge each
/// time the doorbell of the partition's port `8k + i` rings, with the PL061's interrupt, so
/// that an operating system with a PL061 driver (Linux: gpio-pl061 and the GPIO character
/// device) can wait for a doorbell in its interrupt handling instead of polling. A partition
/// has as many as its ports need (none without ports); the kernel emulates their accesses
/// (never mapped), and the partition's device tree describes them (schedule-gen). Their
/// raw interrupt status is the partition's pending doorbells, which an interrupt clear
/// (GPIOIC) takes, as a `Wait` that returns them would.
pub const DOORBELL_GPIO_IPA: u64 =
    DOORBELL_PAGE_IPA - DOORBELL_GPIO_CONTROLLERS as u64 * DOORBELL_GPIO_SIZE;
/// The lowest of the pages the kernel keeps at the top of every partition's IPA space (the
/// doorbell GPIO controllers, the doorbell register page, the information page): every
/// region and port buffer ends at or below it (schedule-gen rule E094).
pub const KERNEL_PAGES_IPA: u64 = DOORBELL_GPIO_IPA;
/// `"PKINFOPG"`, little-endian.
pub const INFO_MAGIC: u64 = u64::from_le_bytes(*b"PKINFOPG");
/// Layout version; bumped on any change to the layout.
pub const INFO_VERSION: u32 = 1;

/// Bytes of every name field (the configuration's longest name).
pub const NAME_SIZE: usize = 24;
/// Most vCPUs a partition has (the kernel's core limit).
pub const MAX_CORES: usize = 8;
/// Most entries of the region table: 16 RAM regions and 8 devices.
pub const MAX_REGIONS: usize = 24;
/// Most entries of the port table.
pub const MAX_PORTS: usize = 32;

/// Bytes of the header.
pub const HEADER_SIZE: usize = 112;
/// Bytes of one region entry.
pub const REGION_ENTRY_SIZE: usize = 48;
/// Bytes of one port entry.
pub const PORT_ENTRY_SIZE: usize = 80;

/// Granule every range is aligned to (the stage-2 page).
const GRANULE: u64 = 4096;

/// Header flag: the partition shares its core through windows.
const FLAG_TIME_PARTITIONED: u8 = 1 << 0;
/// Header flag: the partition may use its cores' PMU.
const FLAG_PMU: u8 = 1 << 1;

// Header offsets.
const H_MAGIC: usize = 0;
const H_VERSION: usize = 8;
const H_SIZE: usize = 12;
const H_ID: usize = 16;
const H_KIND: usize = 20;
const H_CRITICALITY: usize = 21;
const H_FLAGS: usize = 22;
const H_VCPUS: usize = 23;
const H_NAME: usize = 24;
const H_CORES: usize = 48;
const H_COUNTER_HZ: usize = 56;
const H_PERIOD_NS: usize = 64;
const H_DURATION_NS: usize = 72;
const H_PERIOD_TICKS: usize = 80;
const H_DURATION_TICKS: usize = 88;
const H_REGIONS: usize = 96;
const H_PORTS: usize = 104;

// Region entry offsets.
const R_NAME: usize = 0;
const R_IPA: usize = 24;
const R_SIZE: usize = 32;
const R_KIND: usize = 40;
const R_ACCESS: usize = 41;
const R_RESERVED: usize = 42;

// Port entry offsets.
const P_NAME: usize = 0;
const P_KIND: usize = 24;
const P_DIRECTION: usize = 25;
const P_DISCIPLINE: usize = 26;
const P_RESERVED8: usize = 27;
const P_MAX_MESSAGE: usize = 28;
const P_MAX_MESSAGES: usize = 32;
const P_DATA_SIZE: usize = 36;
const P_DATA_IPA: usize = 40;
const P_ACK_IPA: usize = 48;
const P_ACK_SIZE: usize = 56;
const P_RESERVED32: usize = 60;
const P_REFRESH_NS: usize = 64;
const P_REFRESH_TICKS: usize = 72;

const _: () = assert!(H_PORTS + 8 == HEADER_SIZE);
const _: () = assert!(R_RESERVED + 6 == REGION_ENTRY_SIZE);
const _: () = assert!(P_REFRESH_TICKS + 8 == PORT_ENTRY_SIZE);
const _: () = assert!(H_CORES - H_NAME == NAME_SIZE && H_COUNTER_HZ - H_CORES == MAX_CORES);
const _: () = assert!(
    HEADER_SIZE + MAX_REGIONS * REGION_ENTRY_SIZE + MAX_PORTS * PORT_ENTRY_SIZE <= INFO_PAGE_SIZE
);
const _: () = assert!(
    HEADER_SIZE.is_multiple_of(8)
        && REGION_ENTRY_SIZE.is_multiple_of(8)
        && PORT_ENTRY_SIZE.is_multiple_of(8)
);

/// What a partition runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PartitionKind {
    /// A bare-metal payload.
    BareMetal = 1,
    /// A partition OS with ARINC 653 processes.
    Rtos = 2,
    /// A Linux kernel.
    Linux = 3,
    /// A system partition (may observe and control others).
    System = 4,
}

impl PartitionKind {
    /// The kind with code `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::BareMetal,
            2 => Self::Rtos,
            3 => Self::Linux,
            4 => Self::System,
            _ => return None,
        })
    }

    /// The configuration's word for it: `bm`, `rtos`, `linux` or `system`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BareMetal => "bm",
            Self::Rtos => "rtos",
            Self::Linux => "linux",
            Self::System => "system",
        }
    }
}

/// Design assurance level of the partition's software, `A` the most critical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Criticality {
    A = b'A',
    B = b'B',
    C = b'C',
    D = b'D',
    E = b'E',
}

impl Criticality {
    /// The level with code `code` (its ASCII letter).
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            b'A' => Self::A,
            b'B' => Self::B,
            b'C' => Self::C,
            b'D' => Self::D,
            b'E' => Self::E,
            _ => return None,
        })
    }

    /// The letter.
    pub const fn letter(self) -> char {
        self as u8 as char
    }
}

/// A time, in nanoseconds and in system counter ticks (the configuration's times are whole
/// ticks, so both are exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time {
    /// Nanoseconds.
    pub ns: u64,
    /// Counter ticks at the page's counter frequency.
    pub ticks: u64,
}

impl Time {
    /// ARINC 653's infinite time: the period and duration of a partition with dedicated cores.
    pub const INFINITE: Time = Time {
        ns: INFINITE_TIME,
        ticks: INFINITE_TIME,
    };
}

/// A time-partitioned partition's budget: `duration` of processor time in every `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeBudget {
    /// How often it must run. Non-zero, finite.
    pub period: Time,
    /// Processor time in each period: `0 < duration <= period`.
    pub duration: Time,
}

/// What a region is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RegionKind {
    /// RAM of the partition.
    Ram = 1,
    /// A device the partition owns (its MMIO window, identity mapped).
    Device = 2,
}

impl RegionKind {
    /// The kind with code `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Ram,
            2 => Self::Device,
            _ => return None,
        })
    }

    /// `ram` or `device`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ram => "ram",
            Self::Device => "device",
        }
    }
}

/// What the partition may do with a region. Every region is readable; devices are never
/// executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

impl Access {
    const READ: u8 = 1 << 0;
    const WRITE: u8 = 1 << 1;
    const EXECUTE: u8 = 1 << 2;

    fn code(self) -> u8 {
        (if self.read { Self::READ } else { 0 })
            | (if self.write { Self::WRITE } else { 0 })
            | (if self.execute { Self::EXECUTE } else { 0 })
    }

    fn from_code(code: u8) -> Option<Self> {
        (code & !(Self::READ | Self::WRITE | Self::EXECUTE) == 0).then_some(Self {
            read: code & Self::READ != 0,
            write: code & Self::WRITE != 0,
            execute: code & Self::EXECUTE != 0,
        })
    }

    /// `rwx`, `rw-`, `r--`, ...
    pub const fn flags(self) -> &'static str {
        match (self.read, self.write, self.execute) {
            (true, true, true) => "rwx",
            (true, true, false) => "rw-",
            (true, false, true) => "r-x",
            (true, false, false) => "r--",
            (false, true, true) => "-wx",
            (false, true, false) => "-w-",
            (false, false, true) => "--x",
            (false, false, false) => "---",
        }
    }
}

/// A memory region or device of the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region<'a> {
    /// Name, unique among the partition's regions and devices.
    pub name: &'a str,
    /// First guest-physical address, page aligned.
    pub ipa: u64,
    /// Size in bytes, a non-zero number of pages.
    pub size: u64,
    pub kind: RegionKind,
    pub access: Access,
}

/// Whether a port sends or receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Direction {
    /// Writes the data buffer.
    Source = 1,
    /// Reads the data buffer (and, for queuing, writes the acknowledge buffer).
    Destination = 2,
}

impl Direction {
    /// The direction with code `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Source,
            2 => Self::Destination,
            _ => return None,
        })
    }

    /// `source` or `destination`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Destination => "destination",
        }
    }
}

/// Order in which a queuing port serves the partition's waiting processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum QueuingDiscipline {
    Fifo = 1,
    Priority = 2,
}

impl QueuingDiscipline {
    /// The discipline with code `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Fifo,
            2 => Self::Priority,
            _ => return None,
        })
    }

    /// `fifo` or `priority`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Fifo => "fifo",
            Self::Priority => "priority",
        }
    }
}

/// Sampling or queuing, with what only that kind has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// Latest-value semantics.
    Sampling {
        /// How long a message stays valid (a destination's; optional on a source).
        refresh: Option<Time>,
    },
    /// A FIFO of messages.
    Queuing {
        /// Messages the queue holds, at least 1.
        max_messages: u32,
        discipline: QueuingDiscipline,
    },
}

impl PortKind {
    /// `sampling` or `queuing`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Sampling { .. } => "sampling",
            Self::Queuing { .. } => "queuing",
        }
    }
}

/// A channel buffer as the partition sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    /// First guest-physical address, page aligned.
    pub ipa: u64,
    /// Size in bytes, a non-zero number of pages (at most `u32::MAX`).
    pub size: u64,
}

/// A port of the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port<'a> {
    /// The name local to this partition (what APEX services create the port by).
    pub name: &'a str,
    pub kind: PortKind,
    pub direction: Direction,
    /// Largest message in bytes, at least 1.
    pub max_message_size: u32,
    /// The buffer the source writes: mapped read-write for the source, read-only for a
    /// destination. At least `max_message_size` bytes.
    pub data: Buffer,
    /// A queuing channel's acknowledge buffer, written by the destination (read-only for the
    /// source); `None` for sampling ports.
    pub ack: Option<Buffer>,
}

/// Everything the page says, as the writer takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Description<'a> {
    /// The partition's index in the configuration.
    pub id: u32,
    pub name: &'a str,
    pub kind: PartitionKind,
    pub criticality: Criticality,
    /// Physical core of each vCPU, vCPU 0 first (1 to [`MAX_CORES`] of them).
    pub cores: &'a [u8],
    /// Whether the partition may use its cores' PMU.
    pub pmu: bool,
    /// System counter frequency, Hz.
    pub counter_hz: u64,
    /// The time budget of a time-partitioned partition; `None` on dedicated cores.
    pub time: Option<TimeBudget>,
    /// RAM regions, then devices.
    pub regions: &'a [Region<'a>],
    pub ports: &'a [Port<'a>],
}

/// Why bytes are not a valid information page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoError {
    /// Fewer bytes than the header, or than the header's `size`.
    TooShort {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// Not [`INFO_MAGIC`]: not an information page (or not mapped yet).
    BadMagic {
        /// The value found.
        found: u64,
    },
    /// A layout version this reader does not know.
    BadVersion {
        /// The value found.
        found: u32,
    },
    /// A header field is invalid.
    BadHeader {
        /// Which field, and what is wrong with it.
        field: &'static str,
    },
    /// A table's offset, count or entry size does not fit the page.
    BadTable {
        /// `regions` or `ports`.
        table: &'static str,
    },
    /// An entry of a table is invalid.
    BadEntry {
        /// `regions` or `ports`.
        table: &'static str,
        /// Its index in the table.
        index: usize,
        /// Which field, and what is wrong with it.
        field: &'static str,
    },
}

impl core::fmt::Display for InfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::TooShort { len, need } => {
                write!(f, "information page too short: {len} bytes, {need} needed")
            }
            Self::BadMagic { found } => {
                write!(f, "not an information page (magic {found:#018x})")
            }
            Self::BadVersion { found } => write!(
                f,
                "information page layout version {found}, this reader knows {INFO_VERSION}"
            ),
            Self::BadHeader { field } => write!(f, "information page header: {field}"),
            Self::BadTable { table } => {
                write!(
                    f,
                    "information page: the {table} table does not fit the page"
                )
            }
            Self::BadEntry {
                table,
                index,
                field,
            } => write!(f, "information page: {table} entry {index}: {field}"),
        }
    }
}

/// Why a [`Description`] cannot be written into a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// More entries than the layout has room for.
    TooMany {
        /// `cores`, `regions` or `ports`.
        what: &'static str,
        /// The layout's limit.
        max: usize,
    },
    /// A name longer than [`NAME_SIZE`] bytes.
    NameTooLong {
        /// Whose name: `partition`, `region` or `port`.
        what: &'static str,
        /// The entry's index (0 for the partition).
        index: usize,
    },
    /// A number larger than its field (a port buffer of 4 GiB or more).
    TooLarge {
        /// Which field.
        what: &'static str,
        /// The port's index.
        index: usize,
    },
    /// The page was written but does not read back: the description breaks a rule of the
    /// layout (an invalid name, time budget, range, ...).
    Invalid(InfoError),
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::TooMany { what, max } => {
                write!(f, "more {what} than the information page holds ({max})")
            }
            Self::NameTooLong { what, index } => {
                write!(f, "{what} {index}: name longer than {NAME_SIZE} bytes")
            }
            Self::TooLarge { what, index } => {
                write!(f, "port {index}: {what} does not fit 32 bits")
            }
            Self::Invalid(e) => write!(f, "{e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading.

/// `N` bytes of `bytes` at `at`, zero if out of range (callers check ranges first).
fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = at.checked_add(N).and_then(|end| bytes.get(at..end)) {
        out.copy_from_slice(src);
    }
    out
}

fn u8_at(bytes: &[u8], at: usize) -> u8 {
    bytes.get(at).copied().unwrap_or(0)
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(field(bytes, at))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(field(bytes, at))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(field(bytes, at))
}

/// The name in the [`NAME_SIZE`] bytes at `at`: 1 or more printable ASCII characters
/// (`!` to `~`), then only NUL bytes. `None` otherwise.
fn name_at(bytes: &[u8], at: usize) -> Option<&str> {
    let raw = bytes.get(at..at.checked_add(NAME_SIZE)?)?;
    let len = raw.iter().position(|&b| b == 0).unwrap_or(NAME_SIZE);
    let (name, padding) = raw.split_at(len);
    if name.is_empty() || !name.iter().all(u8::is_ascii_graphic) || padding.iter().any(|&b| b != 0)
    {
        return None;
    }
    core::str::from_utf8(name).ok()
}

fn all_zero(bytes: &[u8], at: usize, len: usize) -> bool {
    at.checked_add(len)
        .and_then(|end| bytes.get(at..end))
        .is_some_and(|b| b.iter().all(|&x| x == 0))
}

/// `[ipa, ipa + size)` is page aligned, non-empty, does not wrap and ends at or below the
/// information page.
fn range_ok(ipa: u64, size: u64) -> bool {
    ipa.is_multiple_of(GRANULE)
        && size.is_multiple_of(GRANULE)
        && size > 0
        && ipa
            .checked_add(size)
            .is_some_and(|end| end <= INFO_PAGE_IPA)
}

/// A table of the page: where its entries are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Table {
    offset: usize,
    count: usize,
}

impl Table {
    fn entry(&self, index: usize, entry_size: usize) -> usize {
        self.offset + index * entry_size
    }

    fn end(&self, entry_size: usize) -> usize {
        self.offset + self.count * entry_size
    }
}

/// A validated information page. Every accessor reads the page's bytes again, but only what
/// [`InfoPage::parse`] checked, so none of them can fail.
#[derive(Clone, Copy)]
pub struct InfoPage<'a> {
    /// The page's bytes in use (`size` of them).
    bytes: &'a [u8],
    regions: Table,
    ports: Table,
}

impl<'a> InfoPage<'a> {
    /// Checks `bytes` (at least the page's `size`; normally the whole 4 KiB page) and returns
    /// the page, or what is wrong with it. Never panics, whatever the bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, InfoError> {
        if bytes.len() < HEADER_SIZE {
            return Err(InfoError::TooShort {
                len: bytes.len(),
                need: HEADER_SIZE,
            });
        }
        let magic = u64_at(bytes, H_MAGIC);
        if magic != INFO_MAGIC {
            return Err(InfoError::BadMagic { found: magic });
        }
        let version = u32_at(bytes, H_VERSION);
        if version != INFO_VERSION {
            return Err(InfoError::BadVersion { found: version });
        }
        let size = u32_at(bytes, H_SIZE) as usize;
        if !(HEADER_SIZE..=INFO_PAGE_SIZE).contains(&size) {
            return Err(InfoError::BadHeader {
                field: "size is not between the header size and 4096",
            });
        }
        if bytes.len() < size {
            return Err(InfoError::TooShort {
                len: bytes.len(),
                need: size,
            });
        }
        // Past `size`, the page is zero: whatever is there was not written by the writer.
        let page_end = bytes.len().min(INFO_PAGE_SIZE);
        if !all_zero(bytes, size, page_end - size) {
            return Err(InfoError::BadHeader {
                field: "bytes after size are not zero",
            });
        }
        let page = &bytes[..size];
        let header = |field| Err(InfoError::BadHeader { field });

        if PartitionKind::from_code(u8_at(page, H_KIND)).is_none() {
            return header("unknown partition kind");
        }
        if Criticality::from_code(u8_at(page, H_CRITICALITY)).is_none() {
            return header("unknown criticality");
        }
        let flags = u8_at(page, H_FLAGS);
        if flags & !(FLAG_TIME_PARTITIONED | FLAG_PMU) != 0 {
            return header("unknown flags");
        }
        if name_at(page, H_NAME).is_none() {
            return header("partition name is not NUL-padded printable ASCII");
        }
        let vcpus = usize::from(u8_at(page, H_VCPUS));
        if !(1..=MAX_CORES).contains(&vcpus) {
            return header("vCPU count is not 1 to 8");
        }
        let cores = &page[H_CORES..H_CORES + MAX_CORES];
        let (used, unused) = cores.split_at(vcpus);
        if unused.iter().any(|&c| c != 0) {
            return header("core bytes past the vCPU count are not zero");
        }
        for (i, &core) in used.iter().enumerate() {
            if usize::from(core) >= MAX_CORES || used[..i].contains(&core) {
                return header("a vCPU's core is out of range or given twice");
            }
        }
        if u64_at(page, H_COUNTER_HZ) == 0 {
            return header("counter frequency is zero");
        }
        let period = Time {
            ns: u64_at(page, H_PERIOD_NS),
            ticks: u64_at(page, H_PERIOD_TICKS),
        };
        let duration = Time {
            ns: u64_at(page, H_DURATION_NS),
            ticks: u64_at(page, H_DURATION_TICKS),
        };
        if flags & FLAG_TIME_PARTITIONED != 0 {
            let valid = |p: u64, d: u64| 0 < d && d <= p && p != INFINITE_TIME;
            if !valid(period.ns, duration.ns) || !valid(period.ticks, duration.ticks) {
                return header("time budget is not 0 < duration <= period < infinite");
            }
        } else if period != Time::INFINITE || duration != Time::INFINITE {
            return header("a partition on dedicated cores has a finite period or duration");
        }

        let regions = Self::table(page, H_REGIONS, REGION_ENTRY_SIZE, MAX_REGIONS, "regions")?;
        let ports = Self::table(page, H_PORTS, PORT_ENTRY_SIZE, MAX_PORTS, "ports")?;
        let (r_end, p_end) = (regions.end(REGION_ENTRY_SIZE), ports.end(PORT_ENTRY_SIZE));
        let overlap = regions.offset < p_end && ports.offset < r_end;
        if regions.count > 0 && ports.count > 0 && overlap {
            return Err(InfoError::BadTable { table: "ports" });
        }
        let info = InfoPage {
            bytes: page,
            regions,
            ports,
        };
        for index in 0..regions.count {
            info.check_region(index)?;
        }
        for index in 0..ports.count {
            info.check_port(index)?;
        }
        // Stage 2 maps each range once: no two may share an address.
        let ranges = regions.count + 2 * ports.count;
        for i in 0..ranges {
            let Some((a, a_size)) = info.mapped_range(i) else {
                continue;
            };
            for j in 0..i {
                if let Some((b, b_size)) = info.mapped_range(j)
                    && a < b + b_size
                    && b < a + a_size
                {
                    return Err(InfoError::BadEntry {
                        table: if i < regions.count {
                            "regions"
                        } else {
                            "ports"
                        },
                        index: if i < regions.count {
                            i
                        } else {
                            (i - regions.count) / 2
                        },
                        field: "range overlaps another region or port buffer",
                    });
                }
            }
        }
        Ok(info)
    }

    /// Range `i` of everything the page says is mapped: the regions, then each port's data
    /// and acknowledge buffers (`None` for a sampling port's missing acknowledge buffer).
    /// Only called on checked entries, whose ranges do not wrap.
    fn mapped_range(&self, i: usize) -> Option<(u64, u64)> {
        if let Some(r) = self.region_at(i) {
            return Some((r.ipa, r.size));
        }
        let k = i.checked_sub(self.regions.count)?;
        let port = self.port_at(k / 2)?;
        let buffer = if k % 2 == 0 {
            Some(port.data)
        } else {
            port.ack
        };
        buffer.map(|b| (b.ipa, b.size))
    }

    /// Reads and checks a table descriptor at `at`.
    fn table(
        page: &[u8],
        at: usize,
        entry_size: usize,
        max: usize,
        table: &'static str,
    ) -> Result<Table, InfoError> {
        let offset = usize::from(u16_at(page, at));
        let count = usize::from(u16_at(page, at + 2));
        let size = usize::from(u16_at(page, at + 4));
        let reserved = u16_at(page, at + 6);
        let fits = count
            .checked_mul(entry_size)
            .and_then(|len| offset.checked_add(len))
            .is_some_and(|end| end <= page.len());
        if size != entry_size
            || reserved != 0
            || count > max
            || offset < HEADER_SIZE
            || !offset.is_multiple_of(8)
            || !fits
        {
            return Err(InfoError::BadTable { table });
        }
        Ok(Table { offset, count })
    }

    fn check_region(&self, index: usize) -> Result<(), InfoError> {
        let at = self.regions.entry(index, REGION_ENTRY_SIZE);
        let b = self.bytes;
        let bad = |field| {
            Err(InfoError::BadEntry {
                table: "regions",
                index,
                field,
            })
        };
        let Some(name) = name_at(b, at + R_NAME) else {
            return bad("name is not NUL-padded printable ASCII");
        };
        if (0..index).any(|i| self.region_name(i) == Some(name)) {
            return bad("name used twice");
        }
        let Some(kind) = RegionKind::from_code(u8_at(b, at + R_KIND)) else {
            return bad("unknown kind");
        };
        let Some(access) = Access::from_code(u8_at(b, at + R_ACCESS)) else {
            return bad("unknown access bits");
        };
        if !access.read || (kind == RegionKind::Device && access.execute) {
            return bad("access is not readable, or a device is executable");
        }
        if !all_zero(b, at + R_RESERVED, REGION_ENTRY_SIZE - R_RESERVED) {
            return bad("reserved bytes are not zero");
        }
        if !range_ok(u64_at(b, at + R_IPA), u64_at(b, at + R_SIZE)) {
            return bad("range is not whole pages below the information page");
        }
        Ok(())
    }

    fn region_name(&self, index: usize) -> Option<&'a str> {
        name_at(
            self.bytes,
            self.regions.entry(index, REGION_ENTRY_SIZE) + R_NAME,
        )
    }

    fn check_port(&self, index: usize) -> Result<(), InfoError> {
        let at = self.ports.entry(index, PORT_ENTRY_SIZE);
        let b = self.bytes;
        let bad = |field| {
            Err(InfoError::BadEntry {
                table: "ports",
                index,
                field,
            })
        };
        let Some(name) = name_at(b, at + P_NAME) else {
            return bad("name is not NUL-padded printable ASCII");
        };
        if (0..index).any(|i| self.port_name(i) == Some(name)) {
            return bad("name used twice");
        }
        if Direction::from_code(u8_at(b, at + P_DIRECTION)).is_none() {
            return bad("unknown direction");
        }
        if u8_at(b, at + P_RESERVED8) != 0 || u32_at(b, at + P_RESERVED32) != 0 {
            return bad("reserved bytes are not zero");
        }
        let max_message = u32_at(b, at + P_MAX_MESSAGE);
        if max_message == 0 {
            return bad("largest message is 0 bytes");
        }
        let data_size = u32_at(b, at + P_DATA_SIZE);
        if !range_ok(u64_at(b, at + P_DATA_IPA), u64::from(data_size)) || data_size < max_message {
            return bad(
                "data buffer is not whole pages below the information page holding a message",
            );
        }
        let discipline = u8_at(b, at + P_DISCIPLINE);
        let depth = u32_at(b, at + P_MAX_MESSAGES);
        let ack_ipa = u64_at(b, at + P_ACK_IPA);
        let ack_size = u32_at(b, at + P_ACK_SIZE);
        let refresh_ns = u64_at(b, at + P_REFRESH_NS);
        let refresh_ticks = u64_at(b, at + P_REFRESH_TICKS);
        match u8_at(b, at + P_KIND) {
            // Sampling.
            1 => {
                if discipline != 0 || depth != 0 || ack_ipa != 0 || ack_size != 0 {
                    return bad(
                        "a sampling port has a queue depth, discipline or acknowledge buffer",
                    );
                }
                if (refresh_ns == 0) != (refresh_ticks == 0) {
                    return bad("refresh period is zero in one unit only");
                }
            }
            // Queuing.
            2 => {
                if QueuingDiscipline::from_code(discipline).is_none() || depth == 0 {
                    return bad("unknown discipline or zero queue depth");
                }
                if !range_ok(ack_ipa, u64::from(ack_size)) {
                    return bad("acknowledge buffer is not whole pages below the information page");
                }
                if refresh_ns != 0 || refresh_ticks != 0 {
                    return bad("a queuing port has a refresh period");
                }
            }
            _ => return bad("unknown kind"),
        }
        Ok(())
    }

    fn port_name(&self, index: usize) -> Option<&'a str> {
        name_at(
            self.bytes,
            self.ports.entry(index, PORT_ENTRY_SIZE) + P_NAME,
        )
    }

    /// Bytes the page uses (header and tables).
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The partition's identifier: its index in the configuration.
    pub fn partition_id(&self) -> u32 {
        u32_at(self.bytes, H_ID)
    }

    /// The partition's name.
    pub fn name(&self) -> &'a str {
        name_at(self.bytes, H_NAME).unwrap_or("")
    }

    /// What it runs.
    pub fn kind(&self) -> PartitionKind {
        PartitionKind::from_code(u8_at(self.bytes, H_KIND)).unwrap_or(PartitionKind::BareMetal)
    }

    /// Its design assurance level.
    pub fn criticality(&self) -> Criticality {
        Criticality::from_code(u8_at(self.bytes, H_CRITICALITY)).unwrap_or(Criticality::A)
    }

    /// Whether it may use its cores' PMU.
    pub fn pmu(&self) -> bool {
        u8_at(self.bytes, H_FLAGS) & FLAG_PMU != 0
    }

    /// The physical core of each vCPU, vCPU 0 first; its length is the vCPU count.
    pub fn cores(&self) -> &'a [u8] {
        let vcpus = usize::from(u8_at(self.bytes, H_VCPUS)).min(MAX_CORES);
        self.bytes.get(H_CORES..H_CORES + vcpus).unwrap_or(&[])
    }

    /// The system counter frequency the times are converted with, Hz.
    pub fn counter_hz(&self) -> u64 {
        u64_at(self.bytes, H_COUNTER_HZ)
    }

    /// Whether the partition shares its core through windows.
    pub fn is_time_partitioned(&self) -> bool {
        u8_at(self.bytes, H_FLAGS) & FLAG_TIME_PARTITIONED != 0
    }

    /// The partition period ([`Time::INFINITE`] on dedicated cores).
    pub fn period(&self) -> Time {
        Time {
            ns: u64_at(self.bytes, H_PERIOD_NS),
            ticks: u64_at(self.bytes, H_PERIOD_TICKS),
        }
    }

    /// The processor time it gets in each period ([`Time::INFINITE`] on dedicated cores).
    pub fn duration(&self) -> Time {
        Time {
            ns: u64_at(self.bytes, H_DURATION_NS),
            ticks: u64_at(self.bytes, H_DURATION_TICKS),
        }
    }

    /// The time budget, if the partition is time-partitioned.
    pub fn time_budget(&self) -> Option<TimeBudget> {
        self.is_time_partitioned().then(|| TimeBudget {
            period: self.period(),
            duration: self.duration(),
        })
    }

    /// How many regions (RAM and devices).
    pub fn region_count(&self) -> usize {
        self.regions.count
    }

    /// Region `index` (RAM regions first, then devices).
    pub fn region_at(&self, index: usize) -> Option<Region<'a>> {
        if index >= self.regions.count {
            return None;
        }
        let at = self.regions.entry(index, REGION_ENTRY_SIZE);
        let b = self.bytes;
        Some(Region {
            name: name_at(b, at + R_NAME)?,
            ipa: u64_at(b, at + R_IPA),
            size: u64_at(b, at + R_SIZE),
            kind: RegionKind::from_code(u8_at(b, at + R_KIND))?,
            access: Access::from_code(u8_at(b, at + R_ACCESS))?,
        })
    }

    /// The regions, in table order.
    pub fn regions(&self) -> Entries<'a, Region<'a>> {
        Entries {
            page: *self,
            next: 0,
            count: self.regions.count,
            get: Self::region_at,
        }
    }

    /// The region or device called `name`.
    pub fn region(&self, name: &str) -> Option<Region<'a>> {
        self.regions().find(|r| r.name == name)
    }

    /// How many ports.
    pub fn port_count(&self) -> usize {
        self.ports.count
    }

    /// Port `index`, in the configuration's order (sampling ports first, then queuing ports).
    pub fn port_at(&self, index: usize) -> Option<Port<'a>> {
        if index >= self.ports.count {
            return None;
        }
        let at = self.ports.entry(index, PORT_ENTRY_SIZE);
        let b = self.bytes;
        let buffer = |ipa, size| Buffer {
            ipa: u64_at(b, at + ipa),
            size: u64::from(u32_at(b, at + size)),
        };
        let kind = match u8_at(b, at + P_KIND) {
            1 => PortKind::Sampling {
                refresh: match u64_at(b, at + P_REFRESH_NS) {
                    0 => None,
                    ns => Some(Time {
                        ns,
                        ticks: u64_at(b, at + P_REFRESH_TICKS),
                    }),
                },
            },
            2 => PortKind::Queuing {
                max_messages: u32_at(b, at + P_MAX_MESSAGES),
                discipline: QueuingDiscipline::from_code(u8_at(b, at + P_DISCIPLINE))?,
            },
            _ => return None,
        };
        Some(Port {
            name: name_at(b, at + P_NAME)?,
            kind,
            direction: Direction::from_code(u8_at(b, at + P_DIRECTION))?,
            max_message_size: u32_at(b, at + P_MAX_MESSAGE),
            data: buffer(P_DATA_IPA, P_DATA_SIZE),
            ack: match kind {
                PortKind::Queuing { .. } => Some(buffer(P_ACK_IPA, P_ACK_SIZE)),
                PortKind::Sampling { .. } => None,
            },
        })
    }

    /// The ports, in table order.
    pub fn ports(&self) -> Entries<'a, Port<'a>> {
        Entries {
            page: *self,
            next: 0,
            count: self.ports.count,
            get: Self::port_at,
        }
    }

    /// The port whose local name is `name`.
    pub fn port(&self, name: &str) -> Option<Port<'a>> {
        self.ports().find(|p| p.name == name)
    }
}

impl core::fmt::Debug for InfoPage<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InfoPage")
            .field("partition_id", &self.partition_id())
            .field("name", &self.name())
            .field("kind", &self.kind())
            .field("regions", &self.region_count())
            .field("ports", &self.port_count())
            .finish_non_exhaustive()
    }
}

/// The entries of a table of an [`InfoPage`], in order.
#[derive(Clone)]
pub struct Entries<'a, T> {
    page: InfoPage<'a>,
    next: usize,
    count: usize,
    get: fn(&InfoPage<'a>, usize) -> Option<T>,
}

impl<T> Iterator for Entries<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        // Every entry of a parsed page decodes; `get` returning `None` cannot happen, and would
        // only skip the entry.
        while self.next < self.count {
            let index = self.next;
            self.next += 1;
            if let Some(entry) = (self.get)(&self.page, index) {
                return Some(entry);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.count - self.next))
    }
}

// ---------------------------------------------------------------------------------------
// Writing.

fn put(page: &mut [u8; INFO_PAGE_SIZE], at: usize, bytes: &[u8]) {
    if let Some(dst) = at
        .checked_add(bytes.len())
        .and_then(|end| page.get_mut(at..end))
    {
        dst.copy_from_slice(bytes);
    }
}

fn put_name(
    page: &mut [u8; INFO_PAGE_SIZE],
    at: usize,
    name: &str,
    what: &'static str,
    index: usize,
) -> Result<(), EncodeError> {
    if name.len() > NAME_SIZE {
        return Err(EncodeError::NameTooLong { what, index });
    }
    put(page, at, name.as_bytes());
    Ok(())
}

fn to_u32(value: u64, what: &'static str, index: usize) -> Result<u32, EncodeError> {
    u32::try_from(value).map_err(|_| EncodeError::TooLarge { what, index })
}

/// Writes the information page `d` describes. Whatever it returns parses with
/// [`InfoPage::parse`] and reads back as `d` (it checks so before returning).
pub fn encode(d: &Description<'_>) -> Result<[u8; INFO_PAGE_SIZE], EncodeError> {
    if d.cores.len() > MAX_CORES {
        return Err(EncodeError::TooMany {
            what: "cores",
            max: MAX_CORES,
        });
    }
    if d.regions.len() > MAX_REGIONS {
        return Err(EncodeError::TooMany {
            what: "regions",
            max: MAX_REGIONS,
        });
    }
    if d.ports.len() > MAX_PORTS {
        return Err(EncodeError::TooMany {
            what: "ports",
            max: MAX_PORTS,
        });
    }
    let mut page = [0u8; INFO_PAGE_SIZE];
    let regions_at = HEADER_SIZE;
    let ports_at = regions_at + d.regions.len() * REGION_ENTRY_SIZE;
    let size = ports_at + d.ports.len() * PORT_ENTRY_SIZE;

    put(&mut page, H_MAGIC, &INFO_MAGIC.to_le_bytes());
    put(&mut page, H_VERSION, &INFO_VERSION.to_le_bytes());
    put(&mut page, H_SIZE, &(size as u32).to_le_bytes());
    put(&mut page, H_ID, &d.id.to_le_bytes());
    page[H_KIND] = d.kind as u8;
    page[H_CRITICALITY] = d.criticality as u8;
    page[H_FLAGS] = (if d.time.is_some() {
        FLAG_TIME_PARTITIONED
    } else {
        0
    }) | (if d.pmu { FLAG_PMU } else { 0 });
    page[H_VCPUS] = d.cores.len() as u8;
    put_name(&mut page, H_NAME, d.name, "partition", 0)?;
    put(&mut page, H_CORES, d.cores);
    put(&mut page, H_COUNTER_HZ, &d.counter_hz.to_le_bytes());
    let (period, duration) = d
        .time
        .map_or((Time::INFINITE, Time::INFINITE), |t| (t.period, t.duration));
    put(&mut page, H_PERIOD_NS, &period.ns.to_le_bytes());
    put(&mut page, H_DURATION_NS, &duration.ns.to_le_bytes());
    put(&mut page, H_PERIOD_TICKS, &period.ticks.to_le_bytes());
    put(&mut page, H_DURATION_TICKS, &duration.ticks.to_le_bytes());
    for (at, offset, count, entry_size) in [
        (H_REGIONS, regions_at, d.regions.len(), REGION_ENTRY_SIZE),
        (H_PORTS, ports_at, d.ports.len(), PORT_ENTRY_SIZE),
    ] {
        put(&mut page, at, &(offset as u16).to_le_bytes());
        put(&mut page, at + 2, &(count as u16).to_le_bytes());
        put(&mut page, at + 4, &(entry_size as u16).to_le_bytes());
    }

    for (index, r) in d.regions.iter().enumerate() {
        let at = regions_at + index * REGION_ENTRY_SIZE;
        put_name(&mut page, at + R_NAME, r.name, "region", index)?;
        put(&mut page, at + R_IPA, &r.ipa.to_le_bytes());
        put(&mut page, at + R_SIZE, &r.size.to_le_bytes());
        page[at + R_KIND] = r.kind as u8;
        page[at + R_ACCESS] = r.access.code();
    }

    for (index, p) in d.ports.iter().enumerate() {
        let at = ports_at + index * PORT_ENTRY_SIZE;
        put_name(&mut page, at + P_NAME, p.name, "port", index)?;
        page[at + P_DIRECTION] = p.direction as u8;
        put(
            &mut page,
            at + P_MAX_MESSAGE,
            &p.max_message_size.to_le_bytes(),
        );
        let data_size = to_u32(p.data.size, "data buffer size", index)?;
        put(&mut page, at + P_DATA_SIZE, &data_size.to_le_bytes());
        put(&mut page, at + P_DATA_IPA, &p.data.ipa.to_le_bytes());
        if let Some(ack) = p.ack {
            let ack_size = to_u32(ack.size, "acknowledge buffer size", index)?;
            put(&mut page, at + P_ACK_IPA, &ack.ipa.to_le_bytes());
            put(&mut page, at + P_ACK_SIZE, &ack_size.to_le_bytes());
        }
        match p.kind {
            PortKind::Sampling { refresh } => {
                page[at + P_KIND] = 1;
                if let Some(refresh) = refresh {
                    put(&mut page, at + P_REFRESH_NS, &refresh.ns.to_le_bytes());
                    put(
                        &mut page,
                        at + P_REFRESH_TICKS,
                        &refresh.ticks.to_le_bytes(),
                    );
                }
            }
            PortKind::Queuing {
                max_messages,
                discipline,
            } => {
                page[at + P_KIND] = 2;
                page[at + P_DISCIPLINE] = discipline as u8;
                put(&mut page, at + P_MAX_MESSAGES, &max_messages.to_le_bytes());
            }
        }
    }

    // The reader is the definition of a valid page: what it refuses, or reads back
    // differently (a sampling port given an acknowledge buffer, a zero refresh period), the
    // writer refuses too.
    let info = InfoPage::parse(&page).map_err(EncodeError::Invalid)?;
    if !reads_back_as(&info, d) {
        return Err(EncodeError::Invalid(InfoError::BadHeader {
            field: "the description does not read back as written",
        }));
    }
    Ok(page)
}

/// Whether `info` says exactly what `d` does.
fn reads_back_as(info: &InfoPage<'_>, d: &Description<'_>) -> bool {
    info.partition_id() == d.id
        && info.name() == d.name
        && info.kind() == d.kind
        && info.criticality() == d.criticality
        && info.cores() == d.cores
        && info.pmu() == d.pmu
        && info.counter_hz() == d.counter_hz
        && info.time_budget() == d.time
        && info.regions().eq(d.regions.iter().copied())
        && info.ports().eq(d.ports.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_the_last_of_the_ipa_space() {
        assert_eq!(INFO_PAGE_IPA, 0x7F_FFFF_F000);
        assert_eq!(INFO_PAGE_IPA + INFO_PAGE_SIZE as u64, 1 << 39);
        assert_eq!(&INFO_MAGIC.to_le_bytes(), b"PKINFOPG");
    }

    #[test]
    fn worst_case_fits() {
        assert_eq!(
            HEADER_SIZE + MAX_REGIONS * REGION_ENTRY_SIZE + MAX_PORTS * PORT_ENTRY_SIZE,
            3824
        );
    }

    #[test]
    fn names_are_nul_padded_printable_ascii() {
        let mut b = [0u8; NAME_SIZE + 2];
        b[1..5].copy_from_slice(b"ctrl");
        assert_eq!(name_at(&b, 1), Some("ctrl"));
        assert_eq!(name_at(&b, 0), None, "empty");
        b[1..1 + NAME_SIZE].copy_from_slice(&[b'a'; NAME_SIZE]);
        assert_eq!(name_at(&b, 1).map(str::len), Some(NAME_SIZE));
        b[3] = 0;
        assert_eq!(name_at(&b, 1), None, "bytes after the first NUL");
        b[3] = b' ';
        assert_eq!(name_at(&b, 1), None, "space");
        b[3] = 0xc3;
        assert_eq!(name_at(&b, 1), None, "not ASCII");
        assert_eq!(name_at(&b, 3), None, "past the end");
        assert_eq!(name_at(&b, usize::MAX), None);
    }

    #[test]
    fn ranges_stay_below_the_page() {
        assert!(range_ok(0x4000_0000, 0x1000));
        assert!(range_ok(INFO_PAGE_IPA - 0x1000, 0x1000));
        assert!(!range_ok(INFO_PAGE_IPA, 0x1000));
        assert!(!range_ok(0x4000_0000, 0));
        assert!(!range_ok(0x4000_0800, 0x1000));
        assert!(!range_ok(0x4000_0000, 0x800));
        assert!(!range_ok(u64::MAX - 0xfff, 0x1000));
    }
}
