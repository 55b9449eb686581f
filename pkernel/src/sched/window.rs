//! Walking a core's cyclic schedule: which window (or idle gap) the core is in, and the
//! absolute counter values where it starts and ends.
//!
//! Every boundary is computed from the start of its major frame plus the configured offset,
//! never from the previous boundary plus a duration, so no error accumulates: the n-th frame
//! starts at exactly `first_frame + n × major_frame`, whatever happened before.

use crate::config::CoreSchedule;

/// [`Slot::window`] of the wait before the module's first major frame.
pub const BEFORE_FIRST_FRAME: u32 = u32::MAX;

/// A stretch of the major frame: a window of `partition`, or an idle gap (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub partition: Option<u16>,
    /// Planned start, absolute counter value.
    pub start: u64,
    /// Planned end (the next slot's start).
    pub end: u64,
    /// For a window, its index in the schedule; for a gap, the index of the window it
    /// precedes (the window count for the gap at the end of the frame);
    /// [`BEFORE_FIRST_FRAME`] for the wait before the first frame.
    pub window: u32,
}

/// Position in a core's schedule. Invariant: `next_window <= windows.len()`, and
/// `next_window == windows.len()` only in the gap that ends the frame.
#[derive(Clone, Copy, Debug)]
pub struct WindowCursor {
    schedule: &'static CoreSchedule,
    frame_start: u64,
    /// The current window, or the window the current gap precedes.
    next_window: usize,
    in_gap: bool,
    /// In the wait before the first frame (which starts at `frame_start`).
    before_first_frame: bool,
}

impl WindowCursor {
    /// The first slot of the frame starting at `frame_start`.
    pub fn new(schedule: &'static CoreSchedule, frame_start: u64) -> Self {
        let mut cursor = Self {
            schedule,
            frame_start,
            next_window: 0,
            in_gap: false,
            before_first_frame: false,
        };
        cursor.start_frame(frame_start);
        cursor
    }

    /// An idle slot ending at `first_frame`, then the schedule from there: the wait for the
    /// first frame goes through the same steps as any idle gap, so the first frame's
    /// windows start exactly like every later frame's.
    pub fn waiting_for(schedule: &'static CoreSchedule, first_frame: u64) -> Self {
        let mut cursor = Self::new(schedule, first_frame);
        cursor.before_first_frame = true;
        cursor
    }

    fn start_frame(&mut self, frame_start: u64) {
        self.frame_start = frame_start;
        self.next_window = 0;
        self.in_gap = self
            .schedule
            .windows
            .first()
            .is_none_or(|w| w.offset_ticks > 0);
    }

    /// Start of the current major frame.
    pub fn frame_start(&self) -> u64 {
        self.frame_start
    }

    /// Offset (in the frame) where the window before `index` ends, 0 for the first.
    fn end_of_window_before(&self, index: usize) -> u64 {
        index
            .checked_sub(1)
            .and_then(|i| self.schedule.windows.get(i))
            .map_or(0, |w| w.offset_ticks.saturating_add(w.duration_ticks))
    }

    pub fn current(&self) -> Slot {
        if self.before_first_frame {
            return Slot {
                partition: None,
                start: 0,
                end: self.frame_start,
                window: BEFORE_FIRST_FRAME,
            };
        }
        let windows = self.schedule.windows;
        let at = |offset: u64| self.frame_start.saturating_add(offset);
        match windows.get(self.next_window) {
            Some(w) if !self.in_gap => Slot {
                partition: Some(w.partition),
                start: at(w.offset_ticks),
                end: at(w.offset_ticks.saturating_add(w.duration_ticks)),
                window: self.next_window as u32,
            },
            next => Slot {
                partition: None,
                start: at(self.end_of_window_before(self.next_window)),
                end: at(next.map_or(self.schedule.major_frame_ticks, |w| w.offset_ticks)),
                window: self.next_window as u32,
            },
        }
    }

    /// Moves to the next slot, into the next major frame after the last one.
    pub fn advance(&mut self) {
        if self.before_first_frame {
            self.before_first_frame = false;
            return;
        }
        let windows = self.schedule.windows;
        let major = self.schedule.major_frame_ticks;
        let next_frame = self.frame_start.saturating_add(major);
        if self.in_gap {
            if self.next_window >= windows.len() {
                self.start_frame(next_frame);
            } else {
                self.in_gap = false;
            }
            return;
        }
        let end = self.end_of_window_before(self.next_window + 1);
        self.next_window += 1;
        match windows.get(self.next_window) {
            Some(w) => self.in_gap = w.offset_ticks > end,
            None if end < major => self.in_gap = true,
            None => self.start_frame(next_frame),
        }
    }

    /// Skips ahead to the slot that contains `now` (for a core that starts late): whole
    /// frames by arithmetic, then slot by slot within the frame.
    pub fn catch_up(&mut self, now: u64) {
        let major = self.schedule.major_frame_ticks.max(1);
        if now >= self.frame_start.saturating_add(major) {
            let frames = (now - self.frame_start) / major;
            self.start_frame(self.frame_start + frames * major);
        }
        while self.current().end <= now {
            self.advance();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Window;

    fn schedule(major: u64, windows: &[(u16, u64, u64)]) -> &'static CoreSchedule {
        let windows: Vec<Window> = windows
            .iter()
            .map(|&(partition, offset_ticks, duration_ticks)| Window {
                partition,
                offset_ticks,
                duration_ticks,
            })
            .collect();
        Box::leak(Box::new(CoreSchedule {
            core: 0,
            major_frame_ticks: major,
            windows: Box::leak(windows.into_boxed_slice()),
        }))
    }

    fn walk(cursor: &mut WindowCursor, n: usize) -> Vec<(Option<u16>, u64, u64)> {
        (0..n)
            .map(|_| {
                let s = cursor.current();
                cursor.advance();
                (s.partition, s.start, s.end)
            })
            .collect()
    }

    #[test]
    fn windows_and_gaps_tile_the_frame_exactly() {
        // Gap at the start, between windows, and at the end.
        let s = schedule(100, &[(0, 10, 20), (1, 30, 10), (2, 50, 30)]);
        let mut c = WindowCursor::new(s, 1000);
        assert_eq!(
            walk(&mut c, 8),
            [
                (None, 1000, 1010),
                (Some(0), 1010, 1030),
                (Some(1), 1030, 1040),
                (None, 1040, 1050),
                (Some(2), 1050, 1080),
                (None, 1080, 1100),
                (None, 1100, 1110),
                (Some(0), 1110, 1130),
            ]
        );
    }

    #[test]
    fn back_to_back_windows_have_no_gaps() {
        let s = schedule(60, &[(0, 0, 20), (1, 20, 40)]);
        let mut c = WindowCursor::new(s, 0);
        assert_eq!(
            walk(&mut c, 5),
            [
                (Some(0), 0, 20),
                (Some(1), 20, 60),
                (Some(0), 60, 80),
                (Some(1), 80, 120),
                (Some(0), 120, 140)
            ]
        );
    }

    #[test]
    fn boundaries_never_drift() {
        let s = schedule(
            1_250_000,
            &[
                (0, 0, 312_500),
                (1, 312_500, 437_500),
                (2, 900_000, 100_000),
            ],
        );
        let mut c = WindowCursor::new(s, 7);
        let mut previous_end = 7;
        for _ in 0..100_000 {
            let slot = c.current();
            assert_eq!(slot.start, previous_end, "slots must tile time");
            assert!(slot.end > slot.start);
            previous_end = slot.end;
            c.advance();
        }
        // 100 000 slots of 5 per frame (3 windows, the gap before the third, the gap at the
        // end): frame 20 000 starts exactly 20 000 major frames after the first.
        assert_eq!(c.frame_start(), 7 + 20_000 * 1_250_000);
    }

    #[test]
    fn a_late_core_joins_the_slot_that_contains_now() {
        let s = schedule(100, &[(0, 10, 20), (1, 30, 10)]);
        let mut c = WindowCursor::new(s, 1000);
        c.catch_up(1_000_035);
        let slot = c.current();
        assert_eq!(
            (slot.partition, slot.start, slot.end),
            (Some(1), 1_000_030, 1_000_040)
        );
        c.catch_up(1_000_035);
        assert_eq!(c.current(), slot);
    }

    #[test]
    fn the_wait_for_the_first_frame_is_an_idle_slot() {
        let s = schedule(100, &[(0, 0, 20), (1, 20, 80)]);
        let mut c = WindowCursor::waiting_for(s, 1000);
        assert_eq!(
            c.current(),
            Slot {
                partition: None,
                start: 0,
                end: 1000,
                window: BEFORE_FIRST_FRAME
            }
        );
        c.advance();
        assert_eq!(
            walk(&mut c, 3),
            [
                (Some(0), 1000, 1020),
                (Some(1), 1020, 1100),
                (Some(0), 1100, 1120)
            ]
        );
    }

    #[test]
    fn an_empty_schedule_is_one_idle_gap_per_frame() {
        let s = schedule(50, &[]);
        let mut c = WindowCursor::new(s, 0);
        assert_eq!(
            walk(&mut c, 3),
            [(None, 0, 50), (None, 50, 100), (None, 100, 150)]
        );
    }
}
