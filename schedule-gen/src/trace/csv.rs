//! The trace as CSV: one row per record, by core then sequence number.
//!
//! ```text
//! core,seq,kind,partition,name,window,planned,actual,detail,arg
//! 0,1,window_start,0,ctrl,0,1250000,1250312,0,0
//! 0,2,window_start,,idle,1,1500000,1500290,0,1
//! ```
//!
//! `partition` is the partition index (empty for none); `name` the configuration's name for
//! it, `idle` for the start of an idle gap, empty for none; `window` and `planned` are set for
//! window starts only (`window` = `arg`); `planned` and `actual` are counter values. Names
//! are `[a-z0-9_-]`, so no field is ever quoted.

use super::{TraceProblem, TraceRow, kind_code, kind_name};
use crate::model::LoadedConfig;

/// The first line of every trace CSV.
pub const CSV_HEADER: &str = "core,seq,kind,partition,name,window,planned,actual,detail,arg";

/// The CSV of `rows` (sorted by core, then sequence number), names from `cfg`.
pub fn write_csv(cfg: &LoadedConfig, rows: &[TraceRow]) -> String {
    let mut sorted: Vec<&TraceRow> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.core, r.seq));
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for r in sorted {
        let window = r.is_window_start();
        let opt = |on: bool, v: u64| if on { v.to_string() } else { String::new() };
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            r.core,
            r.seq,
            kind_name(r.kind),
            r.partition.map_or_else(String::new, |p| p.to_string()),
            r.partition_name(cfg),
            opt(window, u64::from(r.arg)),
            opt(window, r.planned),
            r.actual,
            r.detail,
            r.arg
        ));
    }
    out
}

/// One row of a trace CSV, with where it was and the name it gave its partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRow {
    /// 1-based line in the file.
    pub line: usize,
    /// The record.
    pub row: TraceRow,
    /// The `name` column, checked against the configuration later.
    pub name: String,
}

/// Reads a trace CSV written by [`write_csv`] (a trailing `\r` per line, a UTF-8 byte-order
/// mark and blank lines at the end are accepted). Every malformed line is reported; nothing
/// panics, whatever the text.
pub fn read_csv(text: &str) -> Result<Vec<CsvRow>, Vec<TraceProblem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut problems = Vec::new();
    match lines.next() {
        Some((_, header)) if header.trim_end_matches('\r') == CSV_HEADER => {}
        Some((_, header)) => problems.push(TraceProblem {
            line: 1,
            message: format!(
                "the first line must be the header `{CSV_HEADER}`, not `{}`",
                shorten(header)
            ),
        }),
        None => problems.push(TraceProblem {
            line: 0,
            message: format!("the file is empty; a trace CSV starts with `{CSV_HEADER}`"),
        }),
    }
    let body: Vec<(usize, &str)> = lines.map(|(n, l)| (n, l.trim_end_matches('\r'))).collect();
    let last = body
        .iter()
        .rposition(|(_, l)| !l.is_empty())
        .map_or(0, |i| i + 1);
    let mut rows = Vec::new();
    for &(line, text) in &body[..last] {
        match parse_row(text) {
            Ok((row, name)) => rows.push(CsvRow { line, row, name }),
            Err(message) => problems.push(TraceProblem { line, message }),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// `text` cut to 60 characters for a message.
fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        s.push('…');
    }
    s
}

fn parse_row(text: &str) -> Result<(TraceRow, String), String> {
    let fields: Vec<&str> = text.split(',').collect();
    let [
        core,
        seq,
        kind,
        partition,
        name,
        window,
        planned,
        actual,
        detail,
        arg,
    ] = fields[..]
    else {
        return Err(format!(
            "{} where the header has 10: `{}`",
            crate::diag::count(fields.len(), "field", "fields"),
            shorten(text)
        ));
    };
    fn number<T: std::str::FromStr>(column: &str, v: &str) -> Result<T, String> {
        // Digits only: `u64::from_str` would also take a leading `+`.
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{column} `{}` is not a whole number", shorten(v)));
        }
        v.parse()
            .map_err(|_| format!("{column} `{}` is too large", shorten(v)))
    }
    let kind = kind_code(kind).ok_or_else(|| {
        format!(
            "kind `{}` is none of window_start, mode_change, restart, health_monitor, kind_<n>",
            shorten(kind)
        )
    })?;
    let row = TraceRow {
        core: number("core", core)?,
        seq: number("seq", seq)?,
        kind,
        partition: match partition {
            "" => None,
            p => {
                let p: u16 = number("partition", p)?;
                if p == apex_api::trace::NO_PARTITION {
                    return Err(format!(
                        "partition {p} is the trace's `no partition`; write an empty field"
                    ));
                }
                Some(p)
            }
        },
        planned: 0,
        actual: number("actual", actual)?,
        detail: number("detail", detail)?,
        arg: number("arg", arg)?,
    };
    let row = if row.is_window_start() {
        let window: u32 = number("window", window)?;
        if window != row.arg {
            return Err(format!(
                "window {window} and arg {} differ; a window start's window is its arg",
                row.arg
            ));
        }
        TraceRow {
            planned: number("planned", planned)?,
            ..row
        }
    } else {
        if !window.is_empty() || !planned.is_empty() {
            return Err(format!(
                "a {} record has no window or planned time; leave those fields empty",
                kind_name(kind)
            ));
        }
        row
    };
    if row.seq == 0 {
        return Err("seq 0 is never written; sequence numbers start at 1".to_owned());
    }
    Ok((row, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LoadedConfig {
        super::super::sample_config()
    }

    fn row(seq: u64, kind: u8, partition: Option<u16>, arg: u32) -> TraceRow {
        TraceRow {
            core: 0,
            seq,
            kind,
            partition,
            planned: if kind == 1 { 1000 * seq } else { 0 },
            actual: 1000 * seq + 7,
            detail: 3,
            arg,
        }
    }

    #[test]
    fn writes_and_reads_back_every_field() {
        let rows = [
            row(2, 1, None, 1),
            row(1, 1, Some(0), 0),
            row(3, 4, Some(0), 1),
            row(4, 200, None, 9),
            TraceRow {
                core: 3,
                ..row(1, 1, Some(7), 0)
            },
        ];
        let text = write_csv(&cfg(), &rows);
        assert_eq!(
            text,
            "core,seq,kind,partition,name,window,planned,actual,detail,arg\n\
             0,1,window_start,0,ctrl,0,1000,1007,3,0\n\
             0,2,window_start,,idle,1,2000,2007,3,1\n\
             0,3,health_monitor,0,ctrl,,,3007,3,1\n\
             0,4,kind_200,,,,,4007,3,9\n\
             3,1,window_start,7,?,0,1000,1007,3,0\n"
        );
        let back = read_csv(&text).unwrap();
        let mut sorted = rows.to_vec();
        sorted.sort_by_key(|r| (r.core, r.seq));
        assert_eq!(back.iter().map(|r| r.row).collect::<Vec<_>>(), sorted);
        assert_eq!(back[1].name, "idle");
        assert_eq!(back[1].line, 3);
        // CRLF, a byte-order mark and trailing blank lines are fine.
        let dos = format!("\u{feff}{}\r\n\r\n", text.replace('\n', "\r\n").trim_end());
        assert_eq!(read_csv(&dos).unwrap(), back);
    }

    #[test]
    fn every_malformed_line_is_reported() {
        let text = "core,seq,kind,partition,name,window,planned,actual,detail,arg\n\
                    0,1,window_start,0,ctrl,0,1000,1007,0,0\n\
                    0,2,window_start,0,ctrl\n\
                    0,3,window_begin,0,ctrl,0,1000,1007,0,0\n\
                    0,+4,window_start,0,ctrl,0,1000,1007,0,0\n\
                    0,5,window_start,0,ctrl,1,1000,1007,0,0\n\
                    0,6,health_monitor,0,ctrl,,99,1007,0,0\n\
                    0,7,window_start,65535,ctrl,0,1000,1007,0,0\n\
                    0,8,window_start,0,ctrl,0,1000,99999999999999999999,0,0\n\
                    0,0,window_start,0,ctrl,0,1000,1007,0,0\n\
                    0,10,window_start,0,ctrl,0,1000,1007,256,0\n\
                    \n\
                    0,12,window_start,0,ctrl,0,,1007,0,0\n";
        let problems = read_csv(text).unwrap_err();
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(
            lines,
            [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
            "{problems:#?}"
        );
        assert!(
            problems[0]
                .message
                .starts_with("5 fields where the header has 10")
        );
        assert!(
            problems[1]
                .message
                .starts_with("kind `window_begin` is none of")
        );
        assert_eq!(problems[2].message, "seq `+4` is not a whole number");
        assert!(problems[3].message.contains("window 1 and arg 0 differ"));
        assert!(problems[4].message.contains("leave those fields empty"));
        assert!(problems[5].message.contains("write an empty field"));
        assert!(problems[6].message.contains("is too large"));
        assert!(problems[7].message.contains("seq 0 is never written"));
        assert!(problems[8].message.contains("detail `256` is too large"));
        assert!(problems[9].message.starts_with("1 field where"));
        assert_eq!(problems[10].message, "planned `` is not a whole number");
        let problems = read_csv("").unwrap_err();
        assert_eq!(problems[0].line, 0);
        let problems = read_csv("core,seq\n").unwrap_err();
        assert!(problems[0].message.contains("must be the header"));
        assert_eq!(read_csv(&format!("{CSV_HEADER}\n")).unwrap(), []);
    }

    #[test]
    fn random_text_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet: Vec<char> = "0123456789,,,,\n_kindwostar\u{e9}\r+-".chars().collect();
        for round in 0..3000 {
            let len = (next() % 200) as usize;
            let mut text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if round % 2 == 0 {
                text = format!("{CSV_HEADER}\n{text}");
            }
            let _ = read_csv(&text);
        }
    }
}
