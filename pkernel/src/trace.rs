//! What the kernel records in its schedule trace (K9), and how an event becomes a record of
//! the layout defined in `apex_api::trace`. The per-core ring itself is `arch::trace_buffer`.

use apex_api::trace::{NO_PARTITION, TraceKind, TraceRecord};

/// One event, before it gets its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    pub kind: TraceKind,
    /// Partition index, or `None` (an idle gap).
    pub partition: Option<u16>,
    /// When the kernel saw it (counter).
    pub time: u64,
    /// When the schedule planned it (window starts), else 0.
    pub planned: u64,
    pub detail: u8,
    pub arg: u32,
}

impl TraceEvent {
    /// A window (or an idle gap, `partition = None`) began.
    pub fn window_start(partition: Option<u16>, window: u32, planned: u64, time: u64) -> Self {
        Self {
            kind: TraceKind::WindowStart,
            partition,
            time,
            planned,
            detail: 0,
            arg: window,
        }
    }

    /// The health monitor handled `error` of `partition` with `action`.
    pub fn health_monitor(partition: u16, error: u8, action: u32, time: u64) -> Self {
        Self {
            kind: TraceKind::HealthMonitor,
            partition: Some(partition),
            time,
            planned: 0,
            detail: error,
            arg: action,
        }
    }

    /// The record for this event as the `index`-th (0-based) of its core.
    pub fn record(&self, index: u64) -> TraceRecord {
        TraceRecord {
            seq: index + 1,
            time: self.time,
            planned: self.planned,
            kind: self.kind as u8,
            detail: self.detail,
            partition: self.partition.unwrap_or(NO_PARTITION),
            arg: self.arg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_records_with_one_based_sequence_numbers() {
        let r = TraceEvent::window_start(None, 3, 100, 104).record(0);
        assert_eq!(
            r,
            TraceRecord {
                seq: 1,
                time: 104,
                planned: 100,
                kind: TraceKind::WindowStart as u8,
                detail: 0,
                partition: NO_PARTITION,
                arg: 3
            }
        );
        let r = TraceEvent::health_monitor(2, 0, 1, 9).record(41);
        assert_eq!((r.seq, r.partition, r.detail, r.arg), (42, 2, 0, 1));
    }
}
