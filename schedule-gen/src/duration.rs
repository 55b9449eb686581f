//! Durations as the configuration writes them (`"20ms"`, `"2.5ms"`, `"500us"`) and as the
//! kernel counts them (system counter ticks). Parsing and formatting are exact: integer
//! arithmetic only, so a schedule means the same thing in every report and table.

const UNITS: [(&str, u64); 4] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
];

/// Nanoseconds in `text`: decimal digits (with `_` separators allowed), an optional `.` and
/// fraction, then a unit `s`, `ms`, `us` or `ns`. Errors say what is wrong, never panic.
pub fn parse_duration(text: &str) -> Result<u64, &'static str> {
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err("it does not start with a number");
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(if unit.is_empty() {
            "it has no unit"
        } else {
            "the unit is not one of s, ms, us, ns"
        });
    };
    let number: String = number.chars().filter(|&c| c != '_').collect();
    let (whole, frac) = number.split_once('.').unwrap_or((&number, ""));
    if whole.is_empty() || frac.contains('.') || (number.contains('.') && frac.is_empty()) {
        return Err("the number is malformed");
    }
    let too_long = "it is longer than 584 years";
    let whole: u64 = whole.parse().map_err(|_| too_long)?;
    let mut ns = whole.checked_mul(scale).ok_or(too_long)?;
    // Each fraction digit is worth a tenth of the one before; below 1 ns it must be zero.
    let mut place = scale;
    for digit in frac.bytes().map(|b| u64::from(b - b'0')) {
        place /= 10;
        if place == 0 {
            if digit != 0 {
                return Err("it is not a whole number of nanoseconds");
            }
            continue;
        }
        ns = ns.checked_add(digit * place).ok_or(too_long)?;
    }
    Ok(ns)
}

/// A duration in the shortest exact form the configuration accepts: `"20ms"`, `"2.5ms"`,
/// `"16ns"`, `"0s"`.
pub fn format_duration(ns: u64) -> String {
    if ns == 0 {
        return "0s".to_owned();
    }
    for &(unit, scale) in UNITS.iter().rev() {
        if ns < scale {
            continue;
        }
        let (whole, frac) = (ns / scale, ns % scale);
        if frac == 0 {
            return format!("{whole}{unit}");
        }
        // Use this unit only if at most three fraction digits say it exactly.
        let digits = scale.ilog10() as usize;
        let text = format!("{frac:0digits$}");
        let trimmed = text.trim_end_matches('0');
        if trimmed.len() <= 3 {
            return format!("{whole}.{trimmed}{unit}");
        }
    }
    format!("{ns}ns")
}

/// `ns` in ticks of a `hz` counter, if it is a whole number of ticks (and fits in 64 bits).
pub fn ns_to_ticks(ns: u64, hz: u64) -> Option<u64> {
    let product = u128::from(ns) * u128::from(hz);
    if product % 1_000_000_000 != 0 {
        return None;
    }
    u64::try_from(product / 1_000_000_000).ok()
}

/// One tick of a `hz` counter, in words: `"16ns"`, or `"1/3 ns"`-style when not whole.
pub fn tick_text(hz: u64) -> String {
    if hz > 0 && 1_000_000_000 % hz == 0 {
        format_duration(1_000_000_000 / hz)
    } else {
        format!("1/{hz} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_fractions_exactly() {
        assert_eq!(parse_duration("20ms"), Ok(20_000_000));
        assert_eq!(parse_duration("2.5ms"), Ok(2_500_000));
        assert_eq!(parse_duration("0.000000001s"), Ok(1));
        assert_eq!(parse_duration("1_000us"), Ok(1_000_000));
        assert_eq!(parse_duration("16ns"), Ok(16));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(
            parse_duration("1.50000ns"),
            Err("it is not a whole number of nanoseconds")
        );
        assert_eq!(parse_duration("1.0ns"), Ok(1));
        assert_eq!(parse_duration("20"), Err("it has no unit"));
        assert_eq!(
            parse_duration("20 ms"),
            Err("the unit is not one of s, ms, us, ns")
        );
        assert_eq!(parse_duration("ms"), Err("it does not start with a number"));
        assert_eq!(parse_duration("1..2ms"), Err("the number is malformed"));
        assert_eq!(parse_duration(".5ms"), Err("the number is malformed"));
        assert_eq!(parse_duration("5.ms"), Err("the number is malformed"));
        assert_eq!(
            parse_duration("99999999999s"),
            Err("it is longer than 584 years")
        );
        assert_eq!(
            parse_duration("-5ms"),
            Err("it does not start with a number")
        );
    }

    #[test]
    fn formats_round_trip() {
        for ns in [
            0,
            1,
            16,
            999,
            1_000,
            1_500,
            2_500_000,
            20_000_000,
            1_000_000_000,
            1_234_567,
            3_600_000_000_000,
        ] {
            assert_eq!(parse_duration(&format_duration(ns)), Ok(ns), "{ns}");
        }
        assert_eq!(format_duration(2_500_000), "2.5ms");
        assert_eq!(format_duration(1_234_567), "1234.567us");
        assert_eq!(format_duration(1_234_567_891), "1234567.891us");
        assert_eq!(format_duration(1_000_001), "1000.001us");
        assert_eq!(format_duration(1_234_000), "1.234ms");
        assert_eq!(format_duration(20_000_000), "20ms");
    }

    #[test]
    fn ticks_are_exact() {
        assert_eq!(ns_to_ticks(20_000_000, 62_500_000), Some(1_250_000));
        assert_eq!(ns_to_ticks(16, 62_500_000), Some(1));
        assert_eq!(ns_to_ticks(10, 62_500_000), None);
        assert_eq!(ns_to_ticks(u64::MAX, u64::MAX), None);
        assert_eq!(tick_text(62_500_000), "16ns");
    }
}
