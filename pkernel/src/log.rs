//! The console's queues: one `PartitionConsole` per partition (in `partition`) and one
//! kernel line ring per core, and the [`LineSources`] view the drainer takes lines from.
//!
//! Producers only ever touch their own queue (a partition's vCPUs its console, a core its
//! kernel ring), each behind its own lock, so no producer waits on another partition or
//! on the UART. The UART side (who drains, when) is `arch::console`.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::config::{MAX_CORES, MAX_PARTITIONS, System};
use crate::console::{KERNEL_RING_LINES, Line, LineRing, LineSources, PartitionOutput};
use crate::partition;
use crate::sync::SpinLock;

static KERNEL_RINGS: [SpinLock<LineRing<KERNEL_RING_LINES>>; MAX_CORES] =
    [const { SpinLock::new(LineRing::new()) }; MAX_CORES];

/// Bit `core` is set while that core's kernel ring holds lines. It changes only under the
/// ring's lock, and the drainer reads it without a lock, as a hint: it try-locks only the
/// rings with lines instead of all of them. A bit read stale is a ring skipped this time,
/// like one whose lock is held, and the pending flag brings a drainer back.
static KERNEL_QUEUED: AtomicU32 = AtomicU32::new(0);

const _: () = assert!(MAX_CORES <= u32::BITS as usize);

/// Set whenever a line is queued; cleared by a drainer before it drains. A drainer that
/// finds it set again after releasing the UART goes round once more, so a line queued while
/// another core held the UART is not left behind.
static PENDING: AtomicBool = AtomicBool::new(false);

/// Takes bytes from partition `id`'s console hypercall.
pub fn partition_write(id: usize, bytes: &[u8]) {
    if let Some(state) = partition::state(id) {
        state.console.lock().write(bytes);
        PENDING.store(true, Ordering::Release);
    }
}

/// Queues the partial line of partition `id` (it stopped or restarts mid-line).
pub fn partition_end_line(id: usize) {
    if let Some(state) = partition::state(id) {
        state.console.lock().end_partial_line();
        PENDING.store(true, Ordering::Release);
    }
}

/// Queues a kernel line made on `core`; false if that core's ring is full (the caller then
/// drains synchronously and tries again: kernel lines are never dropped).
#[must_use]
pub fn kernel_line(core: usize, line: &Line) -> bool {
    let index = core.min(MAX_CORES - 1);
    let mut ring = KERNEL_RINGS[index].lock();
    let queued = ring.push(line);
    if queued {
        KERNEL_QUEUED.fetch_or(1 << index, Ordering::Relaxed);
    }
    drop(ring);
    PENDING.store(true, Ordering::Release);
    queued
}

/// Claims the pending flag (true if something was queued since the last claim).
pub fn take_pending() -> bool {
    PENDING.swap(false, Ordering::AcqRel)
}

/// Whether anything was queued since the last [`take_pending`].
pub fn is_pending() -> bool {
    PENDING.load(Ordering::Acquire)
}

/// Marks output as waiting (a drain stopped before it was all out).
pub fn set_pending() {
    PENDING.store(true, Ordering::Release);
}

/// The queues as the drainer sees them: kernel lines, and the partitions of `system` once
/// the boot core has published it (before that, at boot, kernel lines only). A queue whose
/// lock is held (its producer is adding a line right now) is skipped this time: the drainer
/// never waits on a producer, and the producer's pending flag brings a drainer back.
pub struct Queues {
    pub system: Option<&'static System>,
}

impl LineSources for Queues {
    fn next_kernel_line(&mut self, line: &mut Line) -> bool {
        let mut queued = KERNEL_QUEUED.load(Ordering::Relaxed);
        while queued != 0 {
            let index = queued.trailing_zeros() as usize;
            queued &= queued - 1;
            let Some(mut ring) = KERNEL_RINGS.get(index).and_then(SpinLock::try_lock) else {
                continue;
            };
            if ring.pop_into(line) {
                if ring.is_empty() {
                    KERNEL_QUEUED.fetch_and(!(1 << index), Ordering::Relaxed);
                }
                return true;
            }
        }
        false
    }

    fn partition_count(&self) -> usize {
        self.system
            .map_or(0, |s| s.partitions.len().min(MAX_PARTITIONS))
    }

    fn next_partition_output(&mut self, id: usize, line: &mut Line) -> Option<PartitionOutput> {
        partition::state(id)?.console.try_lock()?.next_output(line)
    }

    fn partition_name(&self, id: usize) -> &str {
        self.system
            .and_then(|s| s.partitions.get(id))
            .map_or("?", |p| p.name)
    }
}
