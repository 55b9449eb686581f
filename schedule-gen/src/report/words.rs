//! Small formatting helpers shared by the text and HTML renderers, so both say a fact the
//! same way.

use super::facts::{Facts, Range, Time};
use crate::validate::hex;

/// An address, zero-padded to whole groups of four digits: `0x4200_0000`.
pub fn addr(v: u64) -> String {
    hex(v, true)
}

/// `0x4200_0000..0x4220_0000` (end exclusive).
pub fn range(r: &Range) -> String {
    format!("{}..{}", addr(r.base), addr(r.end))
}

/// A size in exact binary units when it is a whole number of them: `2 MiB`, `4 KiB`,
/// `144 B`.
pub fn size(bytes: u64) -> String {
    for (unit, scale) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= scale && bytes.is_multiple_of(scale) {
            return format!("{} {unit}", bytes / scale);
        }
    }
    format!("{bytes} B")
}

/// `2.5ms (156250 ticks)`.
pub fn time_ticks(t: &Time) -> String {
    match t.ticks {
        Some(ticks) => format!("{} ({ticks} ticks)", t.text),
        None => t.text.clone(),
    }
}

/// Ticks alone, `-` if not whole.
pub fn ticks(t: &Time) -> String {
    t.ticks.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// `0`, `1`, `2-3` or `0, 2`: a list of cores, ranges of consecutive ones joined.
pub fn cores(list: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < list.len() {
        let mut j = i;
        while j + 1 < list.len() && list[j + 1] == list[j].wrapping_add(1) {
            j += 1;
        }
        parts.push(if j > i + 1 {
            format!("{}-{}", list[i], list[j])
        } else if j == i + 1 {
            format!("{}, {}", list[i], list[j])
        } else {
            list[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// `"5%"`-style text of a percentage string: trailing `.00` kept for alignment.
pub fn pct(p: &str) -> String {
    format!("{p}%")
}

/// The partitions that run on core `core` through its schedule, by first window.
pub fn scheduled_partitions(facts: &Facts, core: u8) -> Vec<usize> {
    let mut ids = Vec::new();
    if let Some(s) = facts
        .cores
        .iter()
        .find(|c| c.core == core)
        .and_then(|c| c.schedule.as_ref())
    {
        for w in &s.windows {
            if !ids.contains(&w.partition.id) {
                ids.push(w.partition.id);
            }
        }
    }
    ids
}

/// Placement in words: `windows on core 0` or `dedicated cores 2, 3`.
pub fn placement(facts: &Facts, id: usize) -> String {
    let Some(p) = facts.partitions.get(id) else {
        return String::new();
    };
    if p.time.is_some() || p.placement == "time-partitioned" {
        format!("windows on core {}", cores(&p.cores))
    } else {
        let noun = if p.cores.len() == 1 { "core" } else { "cores" };
        format!("dedicated {noun} {}", cores(&p.cores))
    }
}

/// A one-line description of what a queuing or sampling channel holds: `depth 8` or
/// `refresh 20ms / 40ms`.
pub fn channel_capacity(c: &super::facts::ChannelFacts) -> String {
    match c.max_messages {
        Some(depth) => format!("{depth} messages"),
        None => "latest message".to_owned(),
    }
}

/// `min / mean / max` of a trace statistic in ticks, `-` if nothing was observed.
pub fn stat_ticks(s: Option<&crate::trace::observe::Stat>) -> String {
    s.map_or_else(
        || "-".to_owned(),
        |s| format!("{} / {} / {}", s.min.ticks, s.mean.ticks, s.max.ticks),
    )
}

/// `min / mean / max` of a trace statistic in microseconds, `-` if nothing was observed.
pub fn stat_us(s: Option<&crate::trace::observe::Stat>) -> String {
    s.map_or_else(
        || "-".to_owned(),
        |s| format!("{} / {} / {}", s.min.us, s.mean.us, s.max.us),
    )
}

/// What the "Planned vs observed" numbers mean, for the notes under its tables.
pub const OBSERVED_NOTE: &str = "start delay = observed start - planned start; given = observed start of the next window or gap - observed\n\
start (known only when the next record was kept); short = a window given less than its duration;\n\
late = a window started after its planned start; overruns = window starts that were short or late.\n\
A partition's jitter is the start delay of its windows; the maximum is the largest in size, with its\n\
sign. Means are over the observed starts; us = microseconds; ticks are the kernel's counter readings.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cores() {
        assert_eq!(size(0x20_0000), "2 MiB");
        assert_eq!(size(0x1000), "4 KiB");
        assert_eq!(size(0x1800), "6 KiB");
        assert_eq!(size(144), "144 B");
        assert_eq!(size(1 << 30), "1 GiB");
        assert_eq!(cores(&[2, 3]), "2, 3");
        assert_eq!(cores(&[0, 1, 2, 3]), "0-3");
        assert_eq!(cores(&[0, 2]), "0, 2");
        assert_eq!(cores(&[]), "");
    }
}
