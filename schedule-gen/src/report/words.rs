//! Small formatting helpers shared by the text and HTML renderers, so both say a fact the
//! same way.

use super::facts::{DmaFacts, Facts, Range, Time};
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
        Some(ticks) => format!(
            "{} ({})",
            t.text,
            crate::diag::count(ticks, "tick", "ticks")
        ),
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

/// What the "Planned vs observed" numbers mean, as (term, definition) pairs, for both
/// renderers: `mu` is the microsecond unit (`us` in text, `µs` in HTML), `minus` the minus
/// sign between quantities; `tolerance` is the report's tolerance
/// ([`crate::trace::observe::START_TOLERANCE_NS`]) in ticks.
pub fn observed_terms(
    tolerance: &crate::trace::observe::Ticks,
    mu: &str,
    minus: &str,
) -> Vec<(&'static str, String)> {
    let tol = tolerance_text(mu);
    vec![
        (
            "start delay",
            format!(
                "observed start {minus} planned start: how long after the counter value its schedule planned the kernel recorded a window or idle gap as started. Never 0 in practice: the kernel first takes the timer interrupt at the planned deadline."
            ),
        ),
        (
            "jitter",
            format!(
                "how much the start delay varies: a window's largest start delay {minus} its smallest, over its starts in this trace (0: it starts at the same offset from its plan in every frame); for a partition, the largest of its windows'. A constant delay is not jitter."
            ),
        ),
        (
            "given",
            format!(
                "observed start of the next window or gap {minus} this one's observed start: the time the window really had (known only when the next start was recorded)."
            ),
        ),
        (
            "late, short, early",
            format!(
                "a window start is late when its start delay is more than the tolerance, short when it was given less than its duration {minus} the tolerance, early when it came before its plan (by any amount); flagged when any of the three (each start counted once)."
            ),
        ),
        (
            "tolerance",
            format!(
                "{tol} ({} ticks), the same for every configuration: the kernel cannot record a start at the exact planned counter value. Under QEMU -icount the timer interrupt and the switch path cost 2 to 5 ticks in every frame, and a whole window switch is about 470 instructions (cargo xtask bench), which take {tol} only at 47 million instructions a second. A delay beyond it is not the switch but the core held up (under QEMU without -icount, by the host). A window not flagged short lost at most {tol} of its duration. It is a reporting threshold, not a bound; report.json also counts every start that was late or short by any amount (late, short).",
                tolerance.ticks
            ),
        ),
    ]
}

/// The tolerance of "Planned vs observed" in microseconds, `10 us`.
pub fn tolerance_text(mu: &str) -> String {
    let ns = crate::trace::observe::START_TOLERANCE_NS;
    if ns.is_multiple_of(1000) {
        format!("{} {mu}", ns / 1000)
    } else {
        format!("{}.{:03} {mu}", ns / 1000, ns % 1000)
    }
}

/// The last words under "Planned vs observed".
pub fn observed_units(mu: &str) -> String {
    format!(
        "Means are over the observed starts; {mu} = microseconds, exact to the nanosecond; ticks are the kernel's counter readings."
    )
}

/// Who receives what is typed on the kernel's console UART (`[module] console_input`), in one
/// sentence.
pub fn console_input(f: &Facts) -> String {
    match &f.module.console_input {
        Some(p) => format!(
            "Console input (typed on the kernel's UART) goes to partition {}: its virtual UART receives it, with INTID {}.",
            p.name, f.board.kernel_uart_interrupt
        ),
        None => "Console input (typed on the kernel's UART) is discarded: [module] console_input names no partition.".to_owned(),
    }
}

/// A device's DMA status in words: `not a bus master`, or for a bus master what confines it
/// and whether the configuration trusts its owner with it; `-` for the kernel's devices.
pub fn dma(d: Option<&DmaFacts>) -> String {
    let Some(d) = d else {
        return "-".to_owned();
    };
    let what = match (d.capability, d.smmu) {
        ("not-bus-master", _) => return "not a bus master".to_owned(),
        ("bus-master", Some(smmu)) => format!("bus master behind SMMU {smmu}"),
        ("bus-master", None) => "bus master".to_owned(),
        _ => "not described by the board".to_owned(),
    };
    if d.confined {
        format!("{what}, DMA confined to its owner's memory")
    } else if d.trusted {
        let why = if d.smmu.is_some() {
            ": SMMU not supported yet"
        } else {
            ""
        };
        format!("{what}, DMA trusted by acknowledgement (not confined{why})")
    } else if d.capability == "unknown" {
        format!("{what}: DMA unknown, not confined")
    } else if d.smmu.is_none() {
        // Only an unassigned device: a partition cannot own it without the acknowledgement.
        format!("{what}, no SMMU")
    } else {
        what
    }
}

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

    #[test]
    fn dma_in_words() {
        let dma = |capability, smmu, trusted| {
            super::dma(Some(&DmaFacts {
                capability,
                smmu,
                confined: false,
                trusted,
            }))
        };
        assert_eq!(super::dma(None), "-");
        assert_eq!(dma("not-bus-master", None, false), "not a bus master");
        assert_eq!(
            dma("bus-master", None, true),
            "bus master, DMA trusted by acknowledgement (not confined)"
        );
        assert_eq!(dma("bus-master", None, false), "bus master, no SMMU");
        // No board has one yet: a bus master behind an SMMU is still unconfined.
        assert_eq!(
            dma("bus-master", Some("smmuv3"), true),
            "bus master behind SMMU smmuv3, DMA trusted by acknowledgement (not confined: SMMU not supported yet)"
        );
        assert_eq!(
            dma("bus-master", Some("smmuv3"), false),
            "bus master behind SMMU smmuv3"
        );
        assert_eq!(
            dma("unknown", None, false),
            "not described by the board: DMA unknown, not confined"
        );
    }
}
