//! The per-core schedule trace rings in memory, in the layout `apex_api::trace` defines, so a
//! host can read them out of RAM the way a debug probe does (`cargo xtask run --trace`).
//!
//! The image declares the storage (`main.rs`: `PKERNEL_TRACE`, as many records per core as
//! schedule-gen computed); each core writes only its own ring, so recording takes no lock.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use apex_api::trace::{CoreTrace, TRACE_MAGIC, TRACE_VERSION, TraceHeader, TraceRecord};

use super::MAX_CORES;
use crate::trace::TraceEvent;

/// The trace storage of all cores, declared by the image with the generated capacity and
/// placed in `.uninit` (the headers are written at boot; records are valid only up to the
/// header's `written` count).
#[repr(C)]
pub struct TraceArea<const N: usize>(UnsafeCell<[CoreTrace<N>; MAX_CORES]>);

// SAFETY: core `c` writes only `CoreTrace` number `c` (see `record`), and boot writes the
// headers before any other core starts; nothing else writes the area.
unsafe impl<const N: usize> Sync for TraceArea<N> {}

impl<const N: usize> TraceArea<N> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        const EMPTY_HEADER: TraceHeader = TraceHeader {
            magic: 0,
            version: 0,
            core: 0,
            capacity: 0,
            record_size: 0,
            written: 0,
            counter_hz: 0,
        };
        const EMPTY_RECORD: TraceRecord = TraceRecord {
            seq: 0,
            time: 0,
            planned: 0,
            kind: 0,
            detail: 0,
            partition: 0,
            arg: 0,
        };
        Self(UnsafeCell::new(
            [const {
                CoreTrace {
                    header: EMPTY_HEADER,
                    records: [EMPTY_RECORD; N],
                }
            }; MAX_CORES],
        ))
    }
}

static BASE: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static STRIDE: AtomicUsize = AtomicUsize::new(0);
static CAPACITY: AtomicUsize = AtomicUsize::new(0);

/// Writes every core's header (boot core, before the other cores start).
pub fn install<const N: usize>(area: &'static TraceArea<N>, counter_hz: u64) {
    let cores = area.0.get().cast::<CoreTrace<N>>();
    for core in 0..MAX_CORES {
        let header = TraceHeader {
            magic: TRACE_MAGIC,
            version: TRACE_VERSION,
            core: core as u32,
            capacity: N as u32,
            record_size: core::mem::size_of::<TraceRecord>() as u32,
            written: 0,
            counter_hz,
        };
        // SAFETY: `core < MAX_CORES`, so the pointer is inside the area; no other core runs
        // yet, so nothing else accesses it. Volatile: a probe reads this memory behind the
        // compiler's back.
        unsafe { core::ptr::write_volatile(&raw mut (*cores.add(core)).header, header) };
    }
    BASE.store(cores.cast(), Ordering::Relaxed);
    STRIDE.store(core::mem::size_of::<CoreTrace<N>>(), Ordering::Relaxed);
    CAPACITY.store(N, Ordering::Release);
}

/// Appends `event` to `core`'s ring (which only `core` itself ever calls).
pub fn record(core: usize, event: &TraceEvent) {
    let capacity = CAPACITY.load(Ordering::Acquire);
    let base = BASE.load(Ordering::Relaxed);
    if capacity == 0 || base.is_null() || core >= MAX_CORES {
        return;
    }
    // SAFETY: `core < MAX_CORES` and BASE/STRIDE describe the installed area, so `trace`
    // points at this core's CoreTrace, which only this core writes (the caller's contract).
    // `written % capacity` indexes inside its records. The record is written before `seq`
    // (after a store barrier) and before `written`, so a reader that checks `seq` never
    // takes a half-written record.
    unsafe {
        let trace = base.add(core * STRIDE.load(Ordering::Relaxed));
        let header = trace.cast::<TraceHeader>();
        let records = trace
            .add(core::mem::size_of::<TraceHeader>())
            .cast::<TraceRecord>();
        let written = core::ptr::read_volatile(&raw const (*header).written);
        let slot = records.add((written % capacity as u64) as usize);
        let mut record = event.record(written);
        let seq = record.seq;
        record.seq = 0;
        core::ptr::write_volatile(slot, record);
        core::arch::asm!("dmb ishst", options(nostack, preserves_flags));
        core::ptr::write_volatile(&raw mut (*slot).seq, seq);
        core::ptr::write_volatile(&raw mut (*header).written, written + 1);
    }
}
