//! What the command prints: messages, times and the port table.

use std::fmt::Write as _;
use std::time::Duration;

use apex_api::info::{InfoPage, Port, PortKind};

/// A message as printed: its text when it is UTF-8 without control characters (so that
/// what a peer sent cannot move the cursor or clear the screen), otherwise its length and
/// bytes in hexadecimal.
pub fn message(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_owned(),
        _ => {
            let mut out = format!("({} bytes, not text)", bytes.len());
            for byte in bytes {
                let _ = write!(out, " {byte:02x}");
            }
            out
        }
    }
}

/// `ticks` of a counter at `hz`, in whole microseconds (rounded down, saturating).
pub fn micros(ticks: u64, hz: u64) -> u64 {
    let us = u128::from(ticks) * 1_000_000 / u128::from(hz.max(1));
    u64::try_from(us).unwrap_or(u64::MAX)
}

/// `ms` milliseconds in ticks of a counter at `hz` (saturating).
pub fn ticks_in_ms(ms: u64, hz: u64) -> u64 {
    let ticks = u128::from(ms) * u128::from(hz) / 1000;
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// `ticks` of a counter at `hz` as a [`Duration`], rounded up to the nanosecond (so that a
/// wait of it ends at or after the tick it aims at), saturating.
pub fn ticks_as_duration(ticks: u64, hz: u64) -> Duration {
    let ns = (u128::from(ticks) * 1_000_000_000).div_ceil(u128::from(hz.max(1)));
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// A duration in nanoseconds, in the largest unit that divides it: `2 s`, `250 ms`,
/// `1500 us`, `10 ns`.
pub fn duration(ns: u64) -> String {
    for (unit, name) in [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")] {
        if ns.is_multiple_of(unit) && ns > 0 {
            return format!("{} {name}", ns / unit);
        }
    }
    format!("{ns} ns")
}

/// `sampling destination`, `queuing source`, ...
pub fn kind_and_direction(port: &Port<'_>) -> String {
    format!("{} {}", port.kind.name(), port.direction.name())
}

/// The depth of a queuing port or the refresh period of a sampling port.
fn depth_or_refresh(port: &Port<'_>) -> String {
    match port.kind {
        PortKind::Queuing { max_messages, .. } => format!("depth {max_messages}"),
        PortKind::Sampling { refresh: Some(r) } => format!("refresh {}", duration(r.ns)),
        PortKind::Sampling { refresh: None } => "no refresh".to_owned(),
    }
}

/// The buffers of a port: where they are (guest-physical) and their sizes.
fn buffers(port: &Port<'_>) -> String {
    let mut out = format!("data {:#x} ({} bytes)", port.data.ipa, port.data.size);
    if let Some(ack) = port.ack {
        let _ = write!(out, ", ack {:#x} ({} bytes)", ack.ipa, ack.size);
    }
    out
}

/// `ports list`: the partition, then one line per port in the information page's order
/// (the index is the port's doorbell number), in aligned columns.
pub fn port_table(info: &InfoPage<'_>) -> String {
    let mut out = format!(
        "partition '{}' (id {}): {} ports, counter {} Hz\n",
        info.name(),
        info.partition_id(),
        info.port_count(),
        info.counter_hz()
    );
    if info.port_count() == 0 {
        return out;
    }
    let header = [
        "#",
        "NAME",
        "KIND",
        "DIRECTION",
        "MAX",
        "DEPTH/REFRESH",
        "BUFFERS",
    ];
    let mut rows = vec![header.map(str::to_owned)];
    for (index, port) in info.ports().enumerate() {
        rows.push([
            index.to_string(),
            port.name.to_owned(),
            port.kind.name().to_owned(),
            port.direction.name().to_owned(),
            port.max_message_size.to_string(),
            depth_or_refresh(&port),
            buffers(&port),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_shown_as_is_and_anything_else_in_hex() {
        assert_eq!(message(b"frame 12 speed 52"), "frame 12 speed 52");
        assert_eq!(
            message("vitesse 12 km/h ±1".as_bytes()),
            "vitesse 12 km/h ±1"
        );
        assert_eq!(message(&[0xff, 0x00, 0x41]), "(3 bytes, not text) ff 00 41");
        // Control characters are not text: a peer cannot drive the terminal.
        assert_eq!(message(b"a\x1b[2J"), "(5 bytes, not text) 61 1b 5b 32 4a");
        assert_eq!(message(b"line\n"), "(5 bytes, not text) 6c 69 6e 65 0a");
    }

    #[test]
    fn times_convert_without_overflow() {
        assert_eq!(micros(62_500_000, 62_500_000), 1_000_000);
        assert_eq!(micros(625, 62_500_000), 10);
        assert_eq!(micros(u64::MAX, 1), u64::MAX);
        assert_eq!(
            micros(5, 0),
            5_000_000,
            "a zero frequency does not divide by 0"
        );
        assert_eq!(ticks_in_ms(1000, 62_500_000), 62_500_000);
        assert_eq!(ticks_in_ms(u64::MAX, 62_500_000), u64::MAX);
        assert_eq!(
            ticks_as_duration(62_500_000, 62_500_000),
            Duration::from_secs(1)
        );
        assert_eq!(ticks_as_duration(1, 62_500_000), Duration::from_nanos(16));
        assert_eq!(ticks_as_duration(0, 62_500_000), Duration::ZERO);
        assert_eq!(
            ticks_as_duration(u64::MAX, 1),
            Duration::from_nanos(u64::MAX)
        );
        assert_eq!(ticks_as_duration(5, 0), Duration::from_secs(5));
        assert_eq!(duration(2_000_000_000), "2 s");
        assert_eq!(duration(250_000_000), "250 ms");
        assert_eq!(duration(1_500_000), "1500 us");
        assert_eq!(duration(10), "10 ns");
        assert_eq!(duration(0), "0 ns");
    }
}
