//! Time partitioning: each time-partitioned core's major frame and windows, and each
//! time-partitioned partition's budget (its `duration` in every `period`).

use std::collections::BTreeMap;

use toml::Spanned;

use super::partition::CheckedPartition;
use super::{Checker, MAX_WINDOWS};
use crate::config::{RawPartition, RawSchedule};
use crate::diag::Rule;
use crate::duration::format_duration;
use crate::model::{CoreSchedule, Window, given_per_period};

/// Checks every `[[schedule]]`, then every time-partitioned partition's budget against its
/// core's schedule. Returns the schedules that passed, sorted by core.
pub(crate) fn check_schedules(
    cx: &mut Checker<'_>,
    raw: &[Spanned<RawSchedule>],
    raw_parts: &[Spanned<RawPartition>],
    parts: &[CheckedPartition],
) -> Vec<CoreSchedule> {
    let by_name: BTreeMap<&str, usize> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| (p.config.name.as_str(), i))
        .collect();
    let mut seen: BTreeMap<u8, usize> = BTreeMap::new();
    let mut schedules = Vec::new();
    for s in raw {
        if let Some(schedule) = cx.schedule(s.get_ref(), parts, &by_name, &mut seen) {
            schedules.push(schedule);
        }
    }
    schedules.sort_by_key(|s| s.core);

    for (id, (p, rp)) in parts.iter().zip(raw_parts).enumerate() {
        let (Some(budget), Some(&core), Some(core_raw)) = (
            p.config.time,
            p.config.cores.first(),
            rp.get_ref().core.as_ref(),
        ) else {
            continue;
        };
        let name = &p.config.name;
        if !seen.contains_key(&core) {
            cx.error(
                Rule::MissingSchedule,
                core_raw.span(),
                format!("partition {name:?} is time-partitioned on core {core}, which has no [[schedule]]"),
                format!("add a [[schedule]] with core = {core}, a major_frame and windows for {name:?}"),
            );
            continue;
        }
        // A schedule that failed its own rules is not in `schedules`: nothing more to check.
        let Some(schedule) = schedules.iter().find(|s| s.core == core) else {
            continue;
        };
        let (Some(period_raw), Some(duration_raw)) = (&rp.get_ref().period, &rp.get_ref().duration)
        else {
            continue;
        };
        let frame = schedule.major_frame_ns;
        if budget.period_ns == 0 {
            continue; // an invalid budget, already reported
        }
        if frame % budget.period_ns != 0 {
            cx.error(
                Rule::PeriodNotDividingFrame,
                period_raw.span(),
                format!(
                    "partition {name:?} has period {}, which does not divide the major frame of core {core} ({})",
                    format_duration(budget.period_ns),
                    format_duration(frame)
                ),
                "use a period that divides the major frame a whole number of times".to_owned(),
            );
            continue;
        }
        if !schedule.windows.iter().any(|w| w.partition == id) {
            cx.error(
                Rule::BudgetNotMet,
                duration_raw.span(),
                format!("partition {name:?} has no window in the schedule of core {core}"),
                format!(
                    "add a [[schedule.window]] for {name:?} in every period of {}",
                    format_duration(budget.period_ns)
                ),
            );
            continue;
        }
        let periods = given_per_period(&schedule.windows, id, frame, budget.period_ns);
        if let Some((k, &(start, end, given))) = periods
            .iter()
            .enumerate()
            .find(|(_, (_, _, given))| *given < budget.duration_ns)
        {
            cx.error(
                Rule::BudgetNotMet,
                duration_raw.span(),
                format!(
                    "partition {name:?} needs {} in every period of {}, but its windows on core {core} give it {} in period {} ({}..{})",
                    format_duration(budget.duration_ns),
                    format_duration(budget.period_ns),
                    format_duration(given),
                    k + 1,
                    format_duration(start),
                    format_duration(end)
                ),
                "lengthen or add its windows in that period, or lower its duration".to_owned(),
            );
        }
    }
    schedules
}

impl Checker<'_> {
    fn schedule(
        &mut self,
        s: &RawSchedule,
        parts: &[CheckedPartition],
        by_name: &BTreeMap<&str, usize>,
        seen: &mut BTreeMap<u8, usize>,
    ) -> Option<CoreSchedule> {
        let core = self.core_index(&s.core);
        let frame = self.duration("major frame", &s.major_frame);
        let mut ok = core.is_some() && frame.is_some();
        if let Some(c) = core {
            if let Some(line) = seen.get(&c) {
                self.error(
                    Rule::DuplicateSchedule,
                    s.core.span(),
                    format!("core {c} already has a schedule (line {line})"),
                    "give each time-partitioned core one [[schedule]] with all its windows"
                        .to_owned(),
                );
                ok = false;
            } else {
                seen.insert(c, self.line(&s.core));
            }
            if let Some(owner) = parts
                .iter()
                .find(|p| p.config.time.is_none() && p.config.cores.contains(&c))
            {
                self.error(
                    Rule::CoreMixedUse,
                    s.core.span(),
                    format!(
                        "core {c} is dedicated to partition {:?}; it cannot also have a schedule",
                        owner.config.name
                    ),
                    "schedule a core no partition has in `cores`, or remove the schedule"
                        .to_owned(),
                );
                ok = false;
            }
        }
        if frame == Some(0) {
            self.error(
                Rule::InvalidSchedule,
                s.major_frame.span(),
                "the major frame is zero".to_owned(),
                "give the length of one cycle of the schedule, e.g. major_frame = \"20ms\""
                    .to_owned(),
            );
            ok = false;
        }
        if s.windows.is_empty() {
            self.error(
                Rule::InvalidSchedule,
                s.core.span(),
                format!("the schedule of core {} has no windows", s.core.get_ref()),
                "add [[schedule.window]] tables, or remove the schedule".to_owned(),
            );
            ok = false;
        }
        if s.windows.len() > MAX_WINDOWS {
            self.error(
                Rule::TooManyWindows,
                s.core.span(),
                format!(
                    "the schedule of core {} has {} windows; at most {MAX_WINDOWS} are supported",
                    s.core.get_ref(),
                    s.windows.len()
                ),
                "merge adjacent windows of the same partition, or lengthen the periods".to_owned(),
            );
            ok = false;
        }

        let mut windows = Vec::new();
        for w in &s.windows {
            let w = w.get_ref();
            let pname = w.partition.get_ref();
            let offset = self.duration("window offset", &w.offset);
            let duration = self.duration("window duration", &w.duration);
            let partition = match by_name.get(pname.as_str()) {
                None => {
                    let known: Vec<_> = parts
                        .iter()
                        .filter(|p| {
                            core.is_some()
                                && p.config.time.is_some()
                                && p.config.cores.first() == core.as_ref()
                        })
                        .map(|p| p.config.name.as_str())
                        .collect();
                    self.error(
                        Rule::WindowUnknownPartition,
                        w.partition.span(),
                        format!(
                            "window for partition {pname:?}, which the configuration does not have"
                        ),
                        if known.is_empty() {
                            "name a partition declared with `core = N` for this core".to_owned()
                        } else {
                            format!(
                                "name one of the partitions time-partitioned on this core: {}",
                                known.join(", ")
                            )
                        },
                    );
                    None
                }
                Some(&id) => {
                    let p = &parts[id].config;
                    if let Some(c) = core
                        && (p.time.is_none() || p.cores.first() != Some(&c))
                    {
                        let why = if p.time.is_none() {
                            "has dedicated cores".to_owned()
                        } else {
                            format!(
                                "is time-partitioned on core {}",
                                p.cores.first().map_or(-1, |&c| i64::from(c))
                            )
                        };
                        self.error(
                            Rule::WindowWrongCore,
                            w.partition.span(),
                            format!("partition {pname:?} {why}, so it cannot have a window on core {c}"),
                            format!("give it `core = {c}` with a period and duration, or remove the window"),
                        );
                        None
                    } else {
                        Some(id)
                    }
                }
            };
            let (Some(offset), Some(duration)) = (offset, duration) else {
                ok = false;
                continue;
            };
            if duration == 0 {
                self.error(
                    Rule::EmptyWindow,
                    w.duration.span(),
                    format!(
                        "the window of partition {pname:?} at {} has zero length",
                        format_duration(offset)
                    ),
                    "give it a positive duration, or remove it".to_owned(),
                );
                ok = false;
                continue;
            }
            if let Some(frame) = frame.filter(|&f| f > 0)
                && offset.checked_add(duration).is_none_or(|end| end > frame)
            {
                self.error(
                    Rule::WindowOutsideFrame,
                    w.offset.span(),
                    format!(
                        "the window of partition {pname:?} runs from {} to {}, past the end of the major frame ({})",
                        format_duration(offset),
                        format_duration(offset.saturating_add(duration)),
                        format_duration(frame)
                    ),
                    "windows must end by the end of the major frame: move or shorten it".to_owned(),
                );
                ok = false;
                continue;
            }
            match partition {
                Some(partition) => windows.push((
                    Window {
                        partition,
                        offset_ns: offset,
                        duration_ns: duration,
                    },
                    w.offset.span(),
                    self.line(&w.offset),
                )),
                None => ok = false,
            }
        }
        windows.sort_by_key(|(w, _, _)| w.offset_ns);
        for pair in windows.windows(2) {
            let ((a, _, a_line), (b, b_span, _)) = (&pair[0], &pair[1]);
            if b.offset_ns < a.end_ns() {
                self.error(
                    Rule::WindowOverlap,
                    b_span.clone(),
                    format!(
                        "the window of partition {:?} at {}..{} overlaps the window of partition {:?} at {}..{} (line {a_line})",
                        parts[b.partition].config.name,
                        format_duration(b.offset_ns),
                        format_duration(b.end_ns()),
                        parts[a.partition].config.name,
                        format_duration(a.offset_ns),
                        format_duration(a.end_ns())
                    ),
                    "one core runs one window at a time: move one of them".to_owned(),
                );
                ok = false;
            }
        }
        match (ok, core, frame) {
            (true, Some(core), Some(major_frame_ns)) => Some(CoreSchedule {
                core,
                major_frame_ns,
                windows: windows.into_iter().map(|(w, _, _)| w).collect(),
            }),
            _ => None,
        }
    }
}
