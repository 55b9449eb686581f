//! The schedule trace's memory layout (K9): the one definition shared by the kernel, which
//! writes it, and the host tools (`cargo xtask run --trace`, schedule-gen's report), which
//! read it out of the target's memory the way a debug probe does (QEMU's `pmemsave` today,
//! probe-rs `Core::read` on a board), with no help from the running system.
//!
//! Each core has its own [`CoreTrace`]: a [`TraceHeader`] followed by a ring of
//! [`TraceRecord`]s. Only that core writes it, so recording takes no lock. The kernel image
//! exports the whole array as the symbol [`TRACE_SYMBOL`] (identity mapped, so its address
//! is physical).
//!
//! A reader trusts nothing it reads: it checks the magic, version and sizes, takes at most
//! `capacity` records ending at `written`, and keeps a record only if its `seq` is the one
//! that slot must hold, so a record being overwritten while read is dropped, not torn.
//!
//! [`decode_core_trace`] is that reader: it parses one core's bytes with explicit
//! little-endian field reads (no pointer casts, no `unsafe`) and never panics, whatever the
//! bytes are: a board's RAM after reset is garbage until the kernel has written it.
#![forbid(unsafe_code)]

/// Name of the kernel's trace array in its ELF symbol table.
pub const TRACE_SYMBOL: &str = "PKERNEL_TRACE";

/// `"PKTRACE\0"`, little-endian.
pub const TRACE_MAGIC: u64 = u64::from_le_bytes(*b"PKTRACE\0");

/// Layout version; bumped on any change to these structures.
pub const TRACE_VERSION: u32 = 1;

/// `partition` of a record that concerns no partition (an idle gap, the whole core).
pub const NO_PARTITION: u16 = u16::MAX;

/// Start of each core's trace.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceHeader {
    /// [`TRACE_MAGIC`] once the kernel has initialised this core's trace.
    pub magic: u64,
    /// [`TRACE_VERSION`].
    pub version: u32,
    /// The core this trace belongs to.
    pub core: u32,
    /// Records in the ring.
    pub capacity: u32,
    /// `size_of::<TraceRecord>()`, so a reader can refuse a layout it does not know.
    pub record_size: u32,
    /// Records ever written; record `n` (0-based) lives in slot `n % capacity`.
    pub written: u64,
    /// Counter frequency (CNTFRQ_EL0), so the reader can turn ticks into time.
    pub counter_hz: u64,
}

/// One event. `seq` is written last (after a release barrier), so a reader seeing the
/// expected `seq` sees the whole record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceRecord {
    /// 1-based: the record's index plus one (0: slot never written).
    pub seq: u64,
    /// Counter value when the event happened (the kernel's observation).
    pub time: u64,
    /// For window starts, the counter value the schedule planned; otherwise 0.
    pub planned: u64,
    /// A [`TraceKind`] code.
    pub kind: u8,
    /// Kind-specific detail (see [`TraceKind`]).
    pub detail: u8,
    /// Partition index, or [`NO_PARTITION`].
    pub partition: u16,
    /// Kind-specific argument (see [`TraceKind`]).
    pub arg: u32,
}

/// Header plus ring of one core, as laid out in memory.
#[repr(C)]
pub struct CoreTrace<const N: usize> {
    pub header: TraceHeader,
    pub records: [TraceRecord; N],
}

/// What a record says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TraceKind {
    /// A window started: `partition` got the core (`NO_PARTITION`: an idle gap began).
    /// `planned` is its planned start; `arg` is the window's index in the core's schedule
    /// (windows in offset order, from 0). For an idle gap, `arg` is the index of the window
    /// the gap precedes (the window count for a gap that ends the major frame). On a
    /// dedicated core the one record says when its partition started: `planned` is the start
    /// of the module's first major frame, `arg` is 0.
    WindowStart = 1,
    /// A partition's operating mode changed: `detail` = new mode, `arg` = previous mode
    /// (the codes of `PartitionMode`, see the partition services).
    ModeChange = 2,
    /// A partition was restarted: `detail` = 0 cold start, 1 warm start.
    Restart = 3,
    /// The health monitor handled an error of `partition`: `detail` = the `HmError` code,
    /// `arg` = the action taken: a `PartitionAction` code, or 0x100 + a `ModuleAction` code
    /// for an action on the whole module.
    HealthMonitor = 4,
}

impl TraceKind {
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::WindowStart,
            2 => Self::ModeChange,
            3 => Self::Restart,
            4 => Self::HealthMonitor,
            _ => return None,
        })
    }

    /// The name trace files use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::WindowStart => "window_start",
            Self::ModeChange => "mode_change",
            Self::Restart => "restart",
            Self::HealthMonitor => "health_monitor",
        }
    }
}

/// Cores in the [`TRACE_SYMBOL`] array: one [`CoreTrace`] per possible core (the kernel's
/// `MAX_CORES`), in core order, whether or not the module uses the core.
pub const TRACE_CORES: usize = 8;

/// Size in bytes of a [`CoreTrace`] with `capacity` records.
pub const fn core_trace_size(capacity: usize) -> usize {
    core::mem::size_of::<TraceHeader>() + capacity * core::mem::size_of::<TraceRecord>()
}

const _: () = assert!(core::mem::size_of::<TraceHeader>() == 40);
const _: () = assert!(core::mem::size_of::<TraceRecord>() == 32);
const _: () = assert!(core::mem::size_of::<CoreTrace<3>>() == core_trace_size(3));

/// Bytes of a [`TraceHeader`] in memory.
pub const HEADER_SIZE: usize = core::mem::size_of::<TraceHeader>();
/// Bytes of a [`TraceRecord`] in memory.
pub const RECORD_SIZE: usize = core::mem::size_of::<TraceRecord>();

/// `N` little-endian bytes of `bytes` at `at` (callers pass in-bounds fixed-size arrays).
fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = bytes.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

impl TraceHeader {
    /// Reads a header from its in-memory bytes (little-endian, `repr(C)` field order).
    pub fn from_le_bytes(b: &[u8; HEADER_SIZE]) -> Self {
        Self {
            magic: u64::from_le_bytes(field(b, 0)),
            version: u32::from_le_bytes(field(b, 8)),
            core: u32::from_le_bytes(field(b, 12)),
            capacity: u32::from_le_bytes(field(b, 16)),
            record_size: u32::from_le_bytes(field(b, 20)),
            written: u64::from_le_bytes(field(b, 24)),
            counter_hz: u64::from_le_bytes(field(b, 32)),
        }
    }

    /// The header's in-memory bytes, as the kernel leaves them (for host-side tests and tools
    /// that build traces).
    pub fn to_le_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0; HEADER_SIZE];
        b[0..8].copy_from_slice(&self.magic.to_le_bytes());
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.core.to_le_bytes());
        b[16..20].copy_from_slice(&self.capacity.to_le_bytes());
        b[20..24].copy_from_slice(&self.record_size.to_le_bytes());
        b[24..32].copy_from_slice(&self.written.to_le_bytes());
        b[32..40].copy_from_slice(&self.counter_hz.to_le_bytes());
        b
    }

    /// Records overwritten before they could be read: everything written before the last
    /// `capacity` records.
    pub fn lost_to_wrap(&self) -> u64 {
        self.written.saturating_sub(u64::from(self.capacity))
    }
}

impl TraceRecord {
    /// Reads a record from its in-memory bytes (little-endian, `repr(C)` field order).
    pub fn from_le_bytes(b: &[u8; RECORD_SIZE]) -> Self {
        Self {
            seq: u64::from_le_bytes(field(b, 0)),
            time: u64::from_le_bytes(field(b, 8)),
            planned: u64::from_le_bytes(field(b, 16)),
            kind: b[24],
            detail: b[25],
            partition: u16::from_le_bytes(field(b, 26)),
            arg: u32::from_le_bytes(field(b, 28)),
        }
    }

    /// The record's in-memory bytes.
    pub fn to_le_bytes(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0; RECORD_SIZE];
        b[0..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..16].copy_from_slice(&self.time.to_le_bytes());
        b[16..24].copy_from_slice(&self.planned.to_le_bytes());
        b[24] = self.kind;
        b[25] = self.detail;
        b[26..28].copy_from_slice(&self.partition.to_le_bytes());
        b[28..32].copy_from_slice(&self.arg.to_le_bytes());
        b
    }

    /// The record's kind, if the code is one this version knows.
    pub fn trace_kind(&self) -> Option<TraceKind> {
        TraceKind::from_code(self.kind)
    }
}

/// Why a core's trace bytes cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceError {
    /// Fewer bytes than a header, or than the header's `capacity` records need.
    TooShort {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The magic is not [`TRACE_MAGIC`]: the kernel has not initialised this core's trace
    /// (the core never started, or this is not a pkernel trace).
    BadMagic {
        /// The value found.
        found: u64,
    },
    /// A layout version this reader does not know.
    BadVersion {
        /// The value found.
        found: u32,
    },
    /// A record size other than this layout's 32 bytes.
    BadRecordSize {
        /// The value found.
        found: u32,
    },
}

impl core::fmt::Display for TraceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::TooShort { len, need } => write!(
                f,
                "{len} bytes are too few for this trace ({need} needed for its header and ring)"
            ),
            Self::BadMagic { found } => write!(
                f,
                "no trace (magic {found:#018x}, expected {TRACE_MAGIC:#018x}): not initialised"
            ),
            Self::BadVersion { found } => write!(
                f,
                "trace layout version {found}, this reader knows version {TRACE_VERSION}"
            ),
            Self::BadRecordSize { found } => write!(
                f,
                "trace record size {found}, this layout's records are {RECORD_SIZE} bytes"
            ),
        }
    }
}

/// Reads one core's trace (its [`CoreTrace`] bytes) without trusting any of them.
///
/// Checks the magic, the version, the record size, and that `capacity` records fit in
/// `bytes`; then returns the header and the records still in the ring, oldest first: at most
/// `capacity` of them, ending with record `written - 1`. A slot whose `seq` is not the one it
/// must hold (a record torn or overwritten while the memory was read, or never written) is
/// skipped and counted ([`TraceRecords::skipped`]). Extra bytes after the ring are ignored.
pub fn decode_core_trace(bytes: &[u8]) -> Result<(TraceHeader, TraceRecords<'_>), TraceError> {
    let Some(head) = bytes.first_chunk::<HEADER_SIZE>() else {
        return Err(TraceError::TooShort {
            len: bytes.len(),
            need: HEADER_SIZE,
        });
    };
    let header = TraceHeader::from_le_bytes(head);
    if header.magic != TRACE_MAGIC {
        return Err(TraceError::BadMagic {
            found: header.magic,
        });
    }
    if header.version != TRACE_VERSION {
        return Err(TraceError::BadVersion {
            found: header.version,
        });
    }
    if header.record_size as usize != RECORD_SIZE {
        return Err(TraceError::BadRecordSize {
            found: header.record_size,
        });
    }
    let ring_len = (header.capacity as usize).checked_mul(RECORD_SIZE);
    let ring = ring_len.and_then(|n| bytes.get(HEADER_SIZE..HEADER_SIZE.checked_add(n)?));
    let Some(ring) = ring else {
        return Err(TraceError::TooShort {
            len: bytes.len(),
            need: ring_len
                .and_then(|n| n.checked_add(HEADER_SIZE))
                .unwrap_or(usize::MAX),
        });
    };
    let capacity = u64::from(header.capacity);
    Ok((
        header,
        TraceRecords {
            ring,
            capacity,
            next: header.written.saturating_sub(capacity),
            end: header.written,
            skipped: 0,
        },
    ))
}

/// The records of one core's ring, oldest first (see [`decode_core_trace`]).
#[derive(Clone, Debug)]
pub struct TraceRecords<'a> {
    ring: &'a [u8],
    capacity: u64,
    /// Index of the next record to look at.
    next: u64,
    /// `written`: one past the last record.
    end: u64,
    skipped: u64,
}

impl TraceRecords<'_> {
    /// Slots passed over so far because their `seq` was not the expected one.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

impl Iterator for TraceRecords<'_> {
    type Item = TraceRecord;

    fn next(&mut self) -> Option<TraceRecord> {
        while self.next < self.end {
            let index = self.next;
            self.next += 1;
            // `capacity > 0` here: with capacity 0, `next == end` from the start.
            let slot = usize::try_from(index % self.capacity).ok()?;
            let bytes = self
                .ring
                .get(slot * RECORD_SIZE..)
                .and_then(|b| b.first_chunk::<RECORD_SIZE>())?;
            let record = TraceRecord::from_le_bytes(bytes);
            if record.seq == index + 1 {
                return Some(record);
            }
            self.skipped += 1;
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.end - self.next).unwrap_or(usize::MAX);
        (0, Some(left))
    }
}

/// Splits a dump of the whole [`TRACE_SYMBOL`] array into each core's bytes, in core order
/// ([`TRACE_CORES`] equal parts; none if the dump is shorter than that many bytes).
pub fn split_cores(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let stride = bytes.len() / TRACE_CORES;
    let cores = if stride == 0 { 0 } else { TRACE_CORES };
    (0..cores).map(move |core| (core, &bytes[core * stride..(core + 1) * stride]))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn header(capacity: u32, written: u64) -> TraceHeader {
        TraceHeader {
            magic: TRACE_MAGIC,
            version: TRACE_VERSION,
            core: 2,
            capacity,
            record_size: RECORD_SIZE as u32,
            written,
            counter_hz: 62_500_000,
        }
    }

    fn record(index: u64) -> TraceRecord {
        TraceRecord {
            seq: index + 1,
            time: 1000 + 10 * index,
            planned: 1000 + 10 * index - 1,
            kind: TraceKind::WindowStart as u8,
            detail: 0,
            partition: (index % 3) as u16,
            arg: (index % 5) as u32,
        }
    }

    /// A core's trace after `written` records, as the kernel leaves it in memory.
    fn trace(capacity: u32, written: u64) -> Vec<u8> {
        let mut bytes = Vec::from(header(capacity, written).to_le_bytes());
        let mut ring = std::vec![TraceRecord::default(); capacity as usize];
        for n in 0..written {
            ring[(n % u64::from(capacity)) as usize] = record(n);
        }
        for r in &ring {
            bytes.extend_from_slice(&r.to_le_bytes());
        }
        bytes
    }

    fn seqs(bytes: &[u8]) -> Vec<u64> {
        let (_, records) = decode_core_trace(bytes).unwrap();
        records.map(|r| r.seq).collect()
    }

    #[test]
    fn byte_layout_is_the_repr_c_layout() {
        use core::mem::offset_of;
        assert_eq!(offset_of!(TraceHeader, version), 8);
        assert_eq!(offset_of!(TraceHeader, core), 12);
        assert_eq!(offset_of!(TraceHeader, capacity), 16);
        assert_eq!(offset_of!(TraceHeader, record_size), 20);
        assert_eq!(offset_of!(TraceHeader, written), 24);
        assert_eq!(offset_of!(TraceHeader, counter_hz), 32);
        assert_eq!(offset_of!(TraceRecord, time), 8);
        assert_eq!(offset_of!(TraceRecord, planned), 16);
        assert_eq!(offset_of!(TraceRecord, kind), 24);
        assert_eq!(offset_of!(TraceRecord, detail), 25);
        assert_eq!(offset_of!(TraceRecord, partition), 26);
        assert_eq!(offset_of!(TraceRecord, arg), 28);
        assert_eq!(offset_of!(CoreTrace<4>, records), HEADER_SIZE);
        let h = header(7, 99);
        assert_eq!(TraceHeader::from_le_bytes(&h.to_le_bytes()), h);
        let r = record(41);
        assert_eq!(TraceRecord::from_le_bytes(&r.to_le_bytes()), r);
        assert_eq!(&h.to_le_bytes()[..8], b"PKTRACE\0");
    }

    #[test]
    fn reads_a_ring_that_has_not_wrapped() {
        let bytes = trace(8, 5);
        assert_eq!(seqs(&bytes), [1, 2, 3, 4, 5]);
        let (h, records) = decode_core_trace(&bytes).unwrap();
        assert_eq!(h, header(8, 5));
        assert_eq!(h.lost_to_wrap(), 0);
        let all: Vec<TraceRecord> = records.collect();
        assert_eq!(all[4], record(4));
        assert_eq!(seqs(&trace(8, 0)), [0u64; 0]);
        assert_eq!(seqs(&trace(8, 8)), [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn reads_the_last_capacity_records_of_a_wrapped_ring_in_order() {
        let bytes = trace(8, 21);
        assert_eq!(seqs(&bytes), (14..=21).collect::<Vec<u64>>());
        assert_eq!(decode_core_trace(&bytes).unwrap().0.lost_to_wrap(), 13);
    }

    #[test]
    fn a_torn_record_is_dropped_and_counted() {
        let mut bytes = trace(8, 21);
        // Record 18 (index 17, slot 1) is being overwritten by record 26: seq not yet written,
        // the old seq is still there.
        let slot = HEADER_SIZE + RECORD_SIZE;
        bytes[slot..slot + 8].copy_from_slice(&10u64.to_le_bytes());
        let (_, mut records) = decode_core_trace(&bytes).unwrap();
        let got: Vec<u64> = records.by_ref().map(|r| r.seq).collect();
        assert_eq!(got, [14, 15, 16, 17, 19, 20, 21]);
        assert_eq!(records.skipped(), 1);
    }

    #[test]
    fn bad_headers_are_refused() {
        let good = trace(4, 3);
        let with = |at: usize, value: &[u8]| {
            let mut b = good.clone();
            b[at..at + value.len()].copy_from_slice(value);
            b
        };
        assert_eq!(
            decode_core_trace(&with(0, &[0; 8])).unwrap_err(),
            TraceError::BadMagic { found: 0 }
        );
        assert_eq!(
            decode_core_trace(&with(8, &2u32.to_le_bytes())).unwrap_err(),
            TraceError::BadVersion { found: 2 }
        );
        assert_eq!(
            decode_core_trace(&with(20, &24u32.to_le_bytes())).unwrap_err(),
            TraceError::BadRecordSize { found: 24 }
        );
        assert_eq!(
            decode_core_trace(&with(16, &5u32.to_le_bytes())).unwrap_err(),
            TraceError::TooShort {
                len: good.len(),
                need: HEADER_SIZE + 5 * RECORD_SIZE
            }
        );
        assert_eq!(
            decode_core_trace(&good[..HEADER_SIZE - 1]).unwrap_err(),
            TraceError::TooShort {
                len: HEADER_SIZE - 1,
                need: HEADER_SIZE
            }
        );
        let huge = with(16, &u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_core_trace(&huge),
            Err(TraceError::TooShort { .. })
        ));
    }

    #[test]
    fn a_hostile_written_count_yields_nothing_it_cannot_prove() {
        let bytes = trace(4, 3);
        let mut b = bytes.clone();
        b[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(seqs(&b), [0u64; 0]);
        let (_, mut r) = decode_core_trace(&b).unwrap();
        assert_eq!(r.by_ref().count(), 0);
        assert_eq!(r.skipped(), 4);
        // Capacity 0: nothing, whatever `written` says.
        let mut b = Vec::from(header(0, 1 << 40).to_le_bytes());
        b.extend_from_slice(&[0xff; 64]);
        assert_eq!(seqs(&b), [0u64; 0]);
    }

    #[test]
    fn random_bytes_never_panic_and_never_yield_more_than_capacity() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let len = (next() % 400) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Most rounds get a valid-looking header, so the ring walk is exercised too.
            if round % 4 != 0 && len >= HEADER_SIZE {
                let mut h = header((next() % 16) as u32, next() % 64);
                if round % 8 == 1 {
                    h.written = next();
                }
                bytes[..HEADER_SIZE].copy_from_slice(&h.to_le_bytes());
                // Plant plausible sequence numbers in some slots.
                for slot in 0..(len - HEADER_SIZE) / RECORD_SIZE {
                    if next() % 2 == 0 {
                        let at = HEADER_SIZE + slot * RECORD_SIZE;
                        let seq = next() % 64;
                        bytes[at..at + 8].copy_from_slice(&seq.to_le_bytes());
                    }
                }
            }
            if let Ok((h, mut records)) = decode_core_trace(&bytes) {
                let got: Vec<TraceRecord> = records.by_ref().collect();
                assert!(got.len() as u64 <= u64::from(h.capacity));
                assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
                assert!(got.iter().all(|r| r.seq <= h.written));
                assert_eq!(
                    got.len() as u64 + records.skipped(),
                    h.written.min(u64::from(h.capacity))
                );
            }
            for (core, part) in split_cores(&bytes) {
                assert!(core < TRACE_CORES);
                let _ = decode_core_trace(part);
            }
        }
    }

    #[test]
    fn the_array_dump_splits_into_one_trace_per_core() {
        let mut all = Vec::new();
        for core in 0..TRACE_CORES {
            let mut t = trace(4, core as u64);
            t[12..16].copy_from_slice(&(core as u32).to_le_bytes());
            all.extend(t);
        }
        let parts: Vec<(usize, &[u8])> = split_cores(&all).collect();
        assert_eq!(parts.len(), TRACE_CORES);
        for (core, bytes) in parts {
            let (h, records) = decode_core_trace(bytes).unwrap();
            assert_eq!(h.core as usize, core);
            assert_eq!(records.count(), core.min(4));
        }
        assert_eq!(split_cores(&all[..TRACE_CORES - 1]).count(), 0);
    }
}
