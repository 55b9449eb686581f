//! The per-core timelines of the HTML report, as inline SVG: one major frame of a
//! time-partitioned core (windows, idle gaps, time axis, and one lane per partition showing
//! what each of its periods gets), or one bar for a dedicated or idle core.
//!
//! Without a script there is no way to measure text, so label widths are estimated
//! generously from the character count; a label that might not fit inside its window moves
//! to a lane above the bar with a leader line, or is shortened with an ellipsis.

use std::fmt::Write as _;

use super::facts::{Core, Facts, Schedule};
use super::html::esc;

/// Width of the drawing in SVG units; the page scales it to the column width.
const WIDTH: f64 = 860.0;
/// Left column for row captions.
const CAPTION_W: f64 = 114.0;
/// Start and end of the time axis.
const X0: f64 = 120.0;
const X1: f64 = 848.0;
/// Height of the main bar.
const BAR_H: f64 = 44.0;
/// Height of the bar of a dedicated or idle core.
const SINGLE_H: f64 = 34.0;
/// Height of one lane of outside labels.
const LABEL_LANE_H: f64 = 17.0;
/// Most lanes of outside labels before labels are shortened instead.
const MAX_LABEL_LANES: usize = 3;
/// Height of one budget lane.
const LANE_H: f64 = 34.0;

/// Colour-blind-safe fills: Okabe & Ito's seven colours, then Paul Tol's "muted" set.
/// Partition `id` gets entry `id % len`.
const PALETTE: [&str; 14] = [
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#332288",
    "#88CCEE", "#44AA99", "#117733", "#999933", "#882255", "#AA4499",
];

/// WCAG relative luminance of `#RRGGBB`.
fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

/// Contrast ratio of two luminances.
fn contrast(a: f64, b: f64) -> f64 {
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// Fill and text colour of partition `id`: black or white text, whichever contrasts more.
pub fn colour(id: usize) -> (&'static str, &'static str) {
    let fill = PALETTE[id % PALETTE.len()];
    let l = luminance(fill);
    let text = if contrast(l, 0.0) >= contrast(l, 1.0) {
        "#000000"
    } else {
        "#FFFFFF"
    };
    (fill, text)
}

/// Estimated width of `text` at `size` px in a sans-serif face (generous: 0.6 em a glyph).
fn text_w(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// `text` cut to fit `width` at `size`, with an ellipsis; empty if not even one letter fits.
fn fit(text: &str, width: f64, size: f64) -> String {
    if text_w(text, size) <= width {
        return text.to_owned();
    }
    let max = (width / (size * 0.6)).floor() as usize;
    if max < 2 {
        return String::new();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// A number formatted for SVG: at most two decimals, no trailing zeros.
fn n(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Milliseconds of `ns`, exact, without trailing zeros: `2.5`, `0.25`, `20`.
fn ms(ns: u64) -> String {
    let (whole, frac) = (ns / 1_000_000, ns % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:06}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// A tick spacing of 1, 2 or 5 times a power of ten nanoseconds giving at most 10 intervals.
fn tick_step(frame: u64) -> u64 {
    let mut scale: u64 = 1;
    loop {
        for m in [1u64, 2, 5] {
            let step = m.saturating_mul(scale);
            if frame / step <= 10 {
                return step.max(1);
            }
        }
        scale = scale.saturating_mul(10);
    }
}

/// Shared `<defs>`: the hatch for idle time. `uid` keeps ids unique in the page.
fn defs(s: &mut String, uid: &str) {
    let _ = write!(
        s,
        "<defs><pattern id=\"hatch-{uid}\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
<rect width=\"7\" height=\"7\" fill=\"#f1f1f1\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"7\" stroke=\"#a9a9a9\" stroke-width=\"2.2\"/></pattern></defs>"
    );
}

fn open(s: &mut String, height: f64, label: &str) {
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" class=\"timeline\">",
        n(WIDTH),
        n(height),
        esc(label)
    );
}

/// A small colour swatch for legends and tables.
pub fn swatch(id: Option<usize>) -> String {
    match id {
        Some(id) => {
            let (fill, _) = colour(id);
            format!(
                "<svg class=\"sw\" viewBox=\"0 0 14 14\" aria-hidden=\"true\"><rect x=\"0.5\" y=\"0.5\" width=\"13\" height=\"13\" rx=\"2\" fill=\"{fill}\" stroke=\"#333\" stroke-width=\"0.8\"/></svg>"
            )
        }
        None => "<svg class=\"sw\" viewBox=\"0 0 14 14\" aria-hidden=\"true\"><rect x=\"0.5\" y=\"0.5\" width=\"13\" height=\"13\" rx=\"2\" fill=\"#f1f1f1\" stroke=\"#777\" stroke-width=\"0.8\"/>\
<path d=\"M0 14L14 0M-3 7L7 -3M7 17L17 7\" stroke=\"#a9a9a9\" stroke-width=\"2\"/></svg>"
            .to_owned(),
    }
}

/// The timeline of `core`.
pub fn core(f: &Facts, core: &Core) -> String {
    match (&core.schedule, &core.partition) {
        (Some(s), _) => schedule(f, core.core, s),
        (None, Some(p)) => single_bar(
            core.core,
            Some(p.id),
            &format!("dedicated: {}", p.name),
            &format!("core {} is dedicated to partition {}", core.core, p.name),
        ),
        (None, None) => single_bar(
            core.core,
            None,
            "idle: no partition runs on this core",
            &format!("core {} is idle", core.core),
        ),
    }
}

fn single_bar(core: u8, id: Option<usize>, text: &str, label: &str) -> String {
    let height = SINGLE_H + 12.0;
    let mut s = String::new();
    open(&mut s, height, label);
    let uid = format!("c{core}");
    defs(&mut s, &uid);
    let y = 6.0;
    caption(&mut s, y + SINGLE_H / 2.0, &format!("core {core}"), None);
    let (fill, ink) = match id {
        Some(id) => {
            let (fill, ink) = colour(id);
            (fill.to_owned(), ink)
        }
        None => (format!("url(#hatch-{uid})"), "#333333"),
    };
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#333\" stroke-width=\"0.8\"/>",
        n(X0),
        n(y),
        n(X1 - X0),
        n(SINGLE_H)
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"central\" font-size=\"14\" font-weight=\"600\" fill=\"{ink}\">{}</text>",
        n((X0 + X1) / 2.0),
        n(y + SINGLE_H / 2.0),
        esc(text)
    );
    s.push_str("</svg>");
    s
}

/// A caption in the left column, vertically centred on `y`; an optional second line.
fn caption(s: &mut String, y: f64, first: &str, second: Option<&str>) {
    let width = CAPTION_W - 8.0;
    // Long names shrink down to 10 units before they are shortened.
    let size = (width / (first.chars().count().max(1) as f64 * 0.6)).clamp(10.0, 13.0);
    let first = esc(&fit(first, width, size));
    match second {
        None => {
            let _ = write!(
                s,
                "<text x=\"0\" y=\"{}\" dominant-baseline=\"central\" font-size=\"{}\" font-weight=\"600\">{first}</text>",
                n(y),
                n(size)
            );
        }
        Some(second) => {
            let _ = write!(
                s,
                "<text x=\"0\" y=\"{}\" font-size=\"{}\" font-weight=\"600\">{first}</text><text x=\"0\" y=\"{}\" font-size=\"11.5\" fill=\"#444\">{}</text>",
                n(y - 3.0),
                n(size),
                n(y + 11.0),
                esc(&fit(second, width, 11.5))
            );
        }
    }
}

/// A label placed above the bar.
struct Outside {
    lane: usize,
    x: f64,
    w: f64,
    text: String,
    anchor_x: f64,
}

fn schedule(f: &Facts, core: u8, s: &Schedule) -> String {
    let frame = s.major_frame.ns.max(1);
    let x_of = |ns: u64| X0 + (X1 - X0) * (ns as f64) / (frame as f64);

    // Decide where each window's label goes.
    const NAME_SIZE: f64 = 13.0;
    const DUR_SIZE: f64 = 11.5;
    const OUT_SIZE: f64 = 12.0;
    let mut inside: Vec<Option<(String, String)>> = Vec::new();
    let mut outside: Vec<Outside> = Vec::new();
    for w in &s.windows {
        let (a, b) = (x_of(w.offset.ns), x_of(w.end.ns));
        let width = b - a;
        let name = &w.partition.name;
        let dur = &w.duration.text;
        if text_w(name, NAME_SIZE).max(text_w(dur, DUR_SIZE)) + 8.0 <= width {
            inside.push(Some((name.clone(), dur.clone())));
            continue;
        }
        let text = format!("{name} {dur}");
        let tw = text_w(&text, OUT_SIZE);
        let centre = (a + b) / 2.0;
        let x = (centre - tw / 2.0).clamp(X0, X1 - tw);
        // Lane 0 is nearest the bar; a leader line crosses every lane below its label, so
        // no label may sit on another's leader line.
        let covers = |o: &Outside, at: f64| at >= o.x - 4.0 && at <= o.x + o.w + 4.0;
        let lane = (0..MAX_LABEL_LANES).find(|&l| {
            outside.iter().all(|o| {
                if o.lane == l {
                    x >= o.x + o.w + 10.0 || x + tw + 10.0 <= o.x
                } else if o.lane < l {
                    !covers(o, centre)
                } else {
                    !(o.anchor_x >= x - 4.0 && o.anchor_x <= x + tw + 4.0)
                }
            })
        });
        match lane {
            Some(lane) => {
                outside.push(Outside {
                    lane,
                    x,
                    w: tw,
                    text,
                    anchor_x: centre,
                });
                inside.push(None);
            }
            None => {
                let short = fit(name, width - 4.0, NAME_SIZE - 2.0);
                inside.push(Some((short, String::new())));
            }
        }
    }

    let lanes = outside.iter().map(|o| o.lane + 1).max().unwrap_or(0);
    let bar_y = 4.0 + lanes as f64 * LABEL_LANE_H + if lanes > 0 { 8.0 } else { 0.0 };
    let bar_b = bar_y + BAR_H;
    let axis_y = bar_b + 18.0;
    let owners = super::words::scheduled_partitions(f, core);
    let lanes_y = axis_y + 16.0;
    let height = lanes_y + owners.len() as f64 * LANE_H + 4.0;

    let mut out = String::new();
    open(
        &mut out,
        height,
        &format!(
            "core {core}: one major frame of {}, {}",
            s.major_frame.text,
            crate::diag::count(s.windows.len(), "window", "windows")
        ),
    );
    let uid = format!("c{core}");
    defs(&mut out, &uid);

    // Captions.
    caption(
        &mut out,
        bar_y + BAR_H / 2.0,
        &format!("core {core}"),
        Some(&format!("frame {}", s.major_frame.text)),
    );
    let _ = write!(
        out,
        "<text x=\"0\" y=\"{}\" font-size=\"11.5\" fill=\"#444\">time (ms)</text>",
        n(axis_y)
    );

    // Idle gaps.
    for g in &s.gaps {
        let (a, b) = (x_of(g.offset.ns), x_of(g.end.ns));
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#hatch-{uid})\" stroke=\"#8a8a8a\" stroke-width=\"0.6\"><title>idle {}..{} ({})</title></rect>",
            n(a),
            n(bar_y),
            n(b - a),
            n(BAR_H),
            esc(&g.offset.text),
            esc(&g.end.text),
            esc(&g.duration.text)
        );
        let label = format!("idle {}", g.duration.text);
        if text_w(&label, 11.5) + 8.0 <= b - a {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"central\" font-size=\"11.5\" fill=\"#333\" class=\"halo\">{}</text>",
                n((a + b) / 2.0),
                n(bar_y + BAR_H / 2.0),
                esc(&label)
            );
        }
    }

    // Windows.
    for (w, label) in s.windows.iter().zip(&inside) {
        let (a, b) = (x_of(w.offset.ns), x_of(w.end.ns));
        let (fill, ink) = colour(w.partition.id);
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#222\" stroke-width=\"0.8\"><title>{} {}..{} ({})</title></rect>",
            n(a),
            n(bar_y),
            n(b - a),
            n(BAR_H),
            esc(&w.partition.name),
            esc(&w.offset.text),
            esc(&w.end.text),
            esc(&w.duration.text)
        );
        let cx = n((a + b) / 2.0);
        match label {
            Some((name, dur)) if dur.is_empty() && name.is_empty() => {}
            Some((name, dur)) if dur.is_empty() => {
                let _ = write!(
                    out,
                    "<text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"central\" font-size=\"{}\" fill=\"{ink}\">{}</text>",
                    n(bar_y + BAR_H / 2.0),
                    n(NAME_SIZE - 2.0),
                    esc(name)
                );
            }
            Some((name, dur)) => {
                let _ = write!(
                    out,
                    "<text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\" font-weight=\"600\" fill=\"{ink}\">{}</text><text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\" fill=\"{ink}\">{}</text>",
                    n(bar_y + 19.0),
                    n(NAME_SIZE),
                    esc(name),
                    n(bar_y + 35.0),
                    n(DUR_SIZE),
                    esc(dur)
                );
            }
            None => {}
        }
    }

    // Outside labels: leader lines first, so no line is drawn over a label.
    let label_base = |o: &Outside| 4.0 + (lanes - 1 - o.lane) as f64 * LABEL_LANE_H;
    for o in &outside {
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#555\" stroke-width=\"0.8\"/>",
            n(label_base(o) + 15.0),
            n(bar_y),
            x = n(o.anchor_x)
        );
    }
    for o in &outside {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\">{}</text>",
            n(o.x),
            n(label_base(o) + 12.0),
            n(OUT_SIZE),
            esc(&o.text)
        );
    }

    // Time axis.
    let _ = write!(
        out,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\" stroke-width=\"0.8\"/>",
        n(X0),
        n(bar_b),
        n(X1),
        n(bar_b)
    );
    let step = tick_step(frame);
    let mut ticks: Vec<u64> = (0..)
        .map(|k| k * step)
        .take_while(|&t| t < frame)
        .filter(|&t| t == 0 || x_of(frame) - x_of(t) >= 40.0)
        .collect();
    ticks.push(frame);
    for t in ticks {
        let x = x_of(t);
        let anchor = if t == frame && (X1 - x) < 1.0 {
            "end"
        } else if t == 0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#333\" stroke-width=\"0.8\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"11.5\">{}</text>",
            n(bar_b),
            n(bar_b + 5.0),
            n(axis_y),
            ms(t),
            x = n(x)
        );
    }

    // One lane per partition: its periods, its windows, and what each period gets.
    for (i, &id) in owners.iter().enumerate() {
        let Some(p) = f.partitions.get(id) else {
            continue;
        };
        let Some(b) = &p.time else { continue };
        let y = lanes_y + i as f64 * LANE_H;
        let bar_top = y + 17.0;
        let lane_bar_h = 11.0;
        caption(
            &mut out,
            y + 12.0,
            &p.name,
            Some(&format!("{} per {}", b.duration.text, b.period.text)),
        );
        let (fill, _) = colour(id);
        for k in &b.periods {
            let (a, e) = (x_of(k.start.ns), x_of(k.end.ns));
            let shade = if k.index % 2 == 1 {
                "#f4f5f7"
            } else {
                "#e9ebef"
            };
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{shade}\" stroke=\"#9aa0a8\" stroke-width=\"0.6\"/>",
                n(a),
                n(bar_top),
                n(e - a),
                n(lane_bar_h)
            );
            let long = format!(
                "period {}: given {}, margin {}",
                k.index, k.given.text, k.margin.text
            );
            let short = format!("{} (+{})", k.given.text, k.margin.text);
            let room = e - a - 6.0;
            let text = if text_w(&long, 11.5) <= room {
                long
            } else if text_w(&short, 11.5) <= room {
                short
            } else {
                fit(&k.given.text, room, 11.5)
            };
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11.5\" fill=\"#333\">{}</text>",
                n((a + e) / 2.0),
                n(bar_top - 4.0),
                esc(&text)
            );
        }
        for w in s.windows.iter().filter(|w| w.partition.id == id) {
            let (a, e) = (x_of(w.offset.ns), x_of(w.end.ns));
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#222\" stroke-width=\"0.6\"/>",
                n(a),
                n(bar_top),
                n(e - a),
                n(lane_bar_h)
            );
        }
        // Period boundaries on top, so a window crossing one shows where it is split.
        for k in b.periods.iter().skip(1) {
            let x = n(x_of(k.start.ns));
            let _ = write!(
                out,
                "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#1b1f24\" stroke-width=\"1.6\" stroke-dasharray=\"4 2\"/>",
                n(bar_top - 14.0),
                n(bar_top + lane_bar_h + 3.0)
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_text_contrast_is_at_least_aa_large() {
        for id in 0..PALETTE.len() {
            let (fill, text) = colour(id);
            let c = contrast(luminance(fill), luminance(text));
            assert!(c >= 4.5, "{fill} with {text}: {c}");
        }
    }

    #[test]
    fn ticks_and_ms() {
        assert_eq!(tick_step(20_000_000), 2_000_000);
        assert_eq!(tick_step(100_000_000), 10_000_000);
        assert_eq!(tick_step(1), 1);
        assert_eq!(ms(2_500_000), "2.5");
        assert_eq!(ms(250_000), "0.25");
        assert_eq!(ms(0), "0");
        assert_eq!(fit("health", 20.0, 10.0), "he…");
        assert_eq!(n(1.0), "1");
        assert_eq!(n(1.256), "1.26");
    }
}
