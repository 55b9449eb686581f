//! `report.html`: one self-contained page for auditors. Inline CSS and SVG only: no script, no
//! external font, image or link, so it reads the same offline, in an archive and on paper
//! (A4 print styles included). Every string from the configuration is escaped.

use std::fmt::Write as _;

use super::facts::{Facts, HmRow, PartitionRef};
use super::svg;
use super::words::{
    addr, cores, observed_terms, observed_units, pct, placement, range, size, ticks, time_ticks,
    tolerance_text,
};
use crate::trace::observe::Ticks;

/// `text` escaped for HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

const CSS: &str = r#"
:root { --ink: #1b1f24; --muted: #59616b; --rule: #d5d9de; --head: #eef1f4; --accent: #0b4f8a; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0 auto; max-width: 1120px; padding: 28px 32px 56px; color: var(--ink); background: #fff;
  font: 14px/1.45 system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
h1 { font-size: 25px; margin: 0 0 2px; letter-spacing: -0.01em; }
.subtitle { margin: 0 0 18px; color: var(--muted); font-size: 15px; }
h2 { font-size: 19px; margin: 38px 0 10px; padding-bottom: 5px; border-bottom: 2px solid var(--ink); break-after: avoid; }
h3 { font-size: 15px; margin: 24px 0 6px; break-after: avoid; }
p { margin: 6px 0 10px; max-width: 52em; }
p.note, .note { color: var(--muted); font-size: 12.5px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.wrap { overflow-x: auto; margin: 4px 0 12px; }
table { border-collapse: collapse; font-size: 13px; }
table.data { width: auto; min-width: 60%; }
table.wide { width: 100%; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; border-bottom: 1px solid #b9c0c8; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nw { white-space: nowrap; }
tr { break-inside: avoid; }
tr.gap td { color: var(--muted); background: #f7f7f7; }
th.grp { text-align: center; border-bottom: 1px solid var(--rule); white-space: normal; }
thead tr:first-child th[rowspan] { vertical-align: bottom; }
dl.terms { display: grid; grid-template-columns: max-content minmax(0, 52em); gap: 3px 14px; margin: 8px 0 12px; font-size: 13px; }
dl.terms dt { font-weight: 600; white-space: nowrap; }
dl.terms dd { margin: 0; }
tr.sub td:first-child { padding-left: 26px; }
tr.unused td { color: var(--muted); }
table.kv th { background: none; border-bottom: 1px solid var(--rule); text-align: left; white-space: nowrap; padding-left: 0; width: 1%; }
table.kv td { word-break: break-all; }
.hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace; font-size: 13px; letter-spacing: 0.02em; }
nav.toc { margin: 18px 0 0; padding: 10px 14px; background: #f6f7f9; border: 1px solid var(--rule); border-radius: 4px; font-size: 13px; }
nav.toc ol { margin: 0; padding-left: 20px; columns: 2; }
nav.toc a { color: var(--accent); text-decoration: none; }
figure { margin: 14px 0 4px; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 6px; }
figcaption span { font-weight: 400; color: var(--muted); }
svg.timeline { display: block; width: 100%; height: auto; font-family: inherit; }
svg.timeline text { font-family: system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
svg.sw { width: 12px; height: 12px; vertical-align: -1px; margin-right: 6px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; margin: 6px 0 4px; padding: 0; list-style: none; font-size: 13px; }
.legend li { white-space: nowrap; }
.default { color: var(--muted); font-style: italic; }
.module-level { font-weight: 600; }
.ok { color: #1d6b2f; font-weight: 600; }
.bad { color: #a11d1d; font-weight: 600; }
td.cfg { background: #fff4d6; }
tr.first td { border-top: 2px solid #7d8791; }
code.pre { white-space: pre; }
.nw { white-space: nowrap; }
footer { margin-top: 40px; padding-top: 8px; border-top: 1px solid var(--rule); color: var(--muted); font-size: 12px; }
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
  @bottom-right { content: "page " counter(page) " of " counter(pages); font: 8.5pt system-ui, "Segoe UI", Roboto, Arial, "Liberation Sans", "DejaVu Sans", sans-serif; color: #59616b; } }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { margin-top: 24px; }
  table { font-size: 9pt; }
  code, .mono, .hash { font-size: 9pt; }
  th, td { padding: 3px 7px; }
  .wrap { overflow: visible; }
  table.dense th, table.dense td { padding: 2px 4px; }
  nav.toc, section#legend { display: none; }
  a { color: inherit; text-decoration: none; }
  section.page { break-before: page; }
}
@media screen and (max-width: 960px) {
  body { padding: 18px 14px 40px; }
  table { font-size: 12px; }
  code, .mono, .hash { font-size: 11.5px; }
  th, td { padding: 3px 6px; }
}
@media screen and (max-width: 640px) {
  nav.toc ol { columns: 1; }
}
"#;

/// Collects the page.
struct Page {
    s: String,
}

impl Page {
    fn raw(&mut self, text: &str) {
        self.s.push_str(text);
    }

    fn line(&mut self, args: std::fmt::Arguments<'_>) {
        let _ = self.s.write_fmt(args);
        self.s.push('\n');
    }

    /// Starts a table: headers, a leading `>` marks a numeric (right-aligned) column.
    fn table(&mut self, class: &str, head: &[&str]) {
        self.raw(&format!(
            "<div class=\"wrap\"><table class=\"{class}\"><thead><tr>"
        ));
        for h in head {
            match h.strip_prefix('>') {
                Some(h) => self.raw(&format!("<th class=\"n\">{h}</th>")),
                None => self.raw(&format!("<th>{h}</th>")),
            }
        }
        self.raw("</tr></thead><tbody>\n");
    }

    /// Starts a table with two header rows: each column is `(group, header)`; neighbouring
    /// columns of one group share a header cell above theirs, a column without a group has
    /// one cell spanning both rows. A leading `>` marks a numeric column.
    fn grouped_table(&mut self, class: &str, cols: &[(Option<&str>, &str)]) {
        let cell = |h: &str, attrs: &str| match h.strip_prefix('>') {
            Some(h) => format!("<th class=\"n\"{attrs}>{h}</th>"),
            None => format!("<th{attrs}>{h}</th>"),
        };
        self.raw(&format!(
            "<div class=\"wrap\"><table class=\"{class}\"><thead><tr>"
        ));
        let mut i = 0;
        while i < cols.len() {
            match cols[i].0 {
                None => {
                    self.raw(&cell(cols[i].1, " rowspan=\"2\""));
                    i += 1;
                }
                Some(g) => {
                    let span = cols[i..].iter().take_while(|c| c.0 == Some(g)).count();
                    if span > 1 {
                        self.raw(&format!("<th class=\"grp\" colspan=\"{span}\">{g}</th>"));
                    } else {
                        self.raw(&format!("<th class=\"grp\">{g}</th>"));
                    }
                    i += span;
                }
            }
        }
        self.raw("</tr><tr>");
        for (_, h) in cols.iter().filter(|c| c.0.is_some()) {
            self.raw(&cell(h, ""));
        }
        self.raw("</tr></thead><tbody>\n");
    }

    /// One row; cells are HTML already. A cell starting with `>` is numeric; one starting
    /// with `<td` is a whole cell, written as it is.
    fn row(&mut self, class: &str, cells: &[String]) {
        if class.is_empty() {
            self.raw("<tr>");
        } else {
            self.raw(&format!("<tr class=\"{class}\">"));
        }
        for c in cells {
            if c.starts_with("<td") {
                self.raw(c);
                continue;
            }
            match c.strip_prefix('>') {
                Some(c) => self.raw(&format!("<td class=\"n\">{c}</td>")),
                None => self.raw(&format!("<td>{c}</td>")),
            }
        }
        self.raw("</tr>\n");
    }

    fn end_table(&mut self) {
        self.raw("</tbody></table></div>\n");
    }
}

/// A partition name with its colour swatch.
fn who(p: &PartitionRef) -> String {
    format!(
        "<span class=\"nw\">{}{}</span>",
        svg::swatch(Some(p.id)),
        esc(&p.name)
    )
}

/// A numeric cell.
fn num(text: &str) -> String {
    format!(">{}", esc(text))
}

fn mono(text: &str) -> String {
    format!("<span class=\"mono\">{}</span>", esc(text))
}

/// Renders the page.
pub fn render(f: &Facts) -> String {
    let mut p = Page { s: String::new() };
    let title = format!("Schedule and configuration report: {}", f.module.name);
    p.line(format_args!("<!DOCTYPE html>"));
    p.line(format_args!("<html lang=\"en\">"));
    p.line(format_args!("<head>"));
    p.line(format_args!("<meta charset=\"utf-8\">"));
    p.line(format_args!(
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    ));
    p.line(format_args!(
        "<meta name=\"generator\" content=\"{} {}\">",
        f.generator.name, f.generator.version
    ));
    p.line(format_args!("<title>{}</title>", esc(&title)));
    p.line(format_args!("<style>{CSS}</style>"));
    p.line(format_args!("</head>"));
    p.line(format_args!("<body>"));

    header(&mut p, f);
    schedules(&mut p, f);
    partitions(&mut p, f);
    idle(&mut p, f);
    memory(&mut p, f);
    channels(&mut p, f);
    devices(&mut p, f);
    health(&mut p, f);
    observed(&mut p, f);
    verify(&mut p, f);

    p.line(format_args!(
        "<footer>Generated by {} {} from {} (report format {}). The same configuration always gives this page byte for byte; it names no date and no directory.</footer>",
        esc(f.generator.name),
        esc(f.generator.version),
        esc(&f.module.config_file),
        esc(f.format)
    ));
    p.line(format_args!("</body>"));
    p.line(format_args!("</html>"));
    p.s
}

fn header(p: &mut Page, f: &Facts) {
    p.line(format_args!("<header>"));
    p.line(format_args!(
        "<h1>Schedule and configuration report</h1><p class=\"subtitle\">module <b>{}</b> on board <b>{}</b></p>",
        esc(&f.module.name),
        esc(f.board.name)
    ));
    let used: Vec<u8> = f.cores.iter().map(|c| c.core).collect();
    let rows: Vec<(&str, String)> = vec![
        ("Module", esc(&f.module.name)),
        (
            "Board",
            format!(
                "{} ({}; the module uses core{} {})",
                esc(f.board.name),
                crate::diag::count(f.board.core_count, "core", "cores"),
                if used.len() == 1 { "" } else { "s" },
                cores(&used)
            ),
        ),
        (
            "Configuration file",
            format!(
                "<code>{}</code> ({} bytes)",
                esc(&f.module.config_file),
                f.hashes.config_bytes
            ),
        ),
        (
            "Configuration SHA-256",
            format!(
                "<span class=\"hash\">{}</span>",
                esc(&f.hashes.config_sha256)
            ),
        ),
        (
            "Tables SHA-256",
            format!(
                "<span class=\"hash\">{}</span><br><span class=\"note\">of <code>{}</code> ({} bytes) as <code>schedule-gen generate</code> writes it</span>",
                esc(&f.hashes.tables_sha256),
                esc(f.hashes.tables_file),
                f.hashes.tables_bytes
            ),
        ),
        (
            "System counter",
            format!(
                "{} Hz; 1 tick = {}",
                f.module.counter_hz,
                esc(&f.module.tick)
            ),
        ),
        (
            "Generated by",
            format!(
                "{} {}; report format <code>{}</code>",
                esc(f.generator.name),
                esc(f.generator.version),
                esc(f.format)
            ),
        ),
    ];
    p.raw("<table class=\"kv\"><tbody>\n");
    for (k, v) in rows {
        p.line(format_args!("<tr><th>{k}</th><td>{v}</td></tr>"));
    }
    p.raw("</tbody></table>\n");
    p.line(format_args!(
        "<p class=\"note\">The kernel prints both hashes at boot; they must equal the values above for this report to describe the running system (see <a href=\"#verify\">How to verify</a>).</p>"
    ));
    p.raw("<nav class=\"toc\"><ol>");
    for (id, title) in sections(f) {
        p.raw(&format!("<li><a href=\"#{id}\">{title}</a></li>"));
    }
    p.raw("</ol></nav>\n</header>\n");
}

const SECTIONS: [(&str, &str); 9] = [
    ("schedule", "Core schedules"),
    ("partitions", "Partitions and time budgets"),
    ("idle", "Idle time per core"),
    ("memory", "Memory map"),
    ("channels", "Channels"),
    ("devices", "Devices and interrupts"),
    ("hm", "Health monitor tables"),
    ("verify", "How to verify"),
    ("legend", "Colour legend"),
];

/// The section a trace adds, after the health-monitor tables.
const OBSERVED_SECTION: (&str, &str) = ("observed", "Planned vs observed");

/// The sections of this report, in order: [`SECTIONS`], with [`OBSERVED_SECTION`] when a
/// trace was given.
fn sections(f: &Facts) -> Vec<(&'static str, &'static str)> {
    let mut all = SECTIONS.to_vec();
    if f.observed.is_some() {
        let at = all
            .iter()
            .position(|(id, _)| *id == "verify")
            .unwrap_or(all.len());
        all.insert(at, OBSERVED_SECTION);
    }
    all
}

/// Opens section `id`, numbered by its place in [`sections`].
fn section(p: &mut Page, f: &Facts, id: &str, class: &str) {
    let all = sections(f);
    let n = all.iter().position(|(i, _)| *i == id).unwrap_or(0);
    let (id, title) = all[n];
    p.line(format_args!(
        "<section id=\"{id}\"{}><h2>{}. {title}</h2>",
        if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        },
        n + 1
    ));
}

fn legend(p: &mut Page, f: &Facts) {
    p.raw("<ul class=\"legend\">");
    for part in &f.partitions {
        p.raw(&format!(
            "<li>{}{} <span class=\"note\">({}, {})</span></li>",
            svg::swatch(Some(part.id)),
            esc(&part.name),
            esc(part.kind),
            esc(&placement(f, part.id))
        ));
    }
    p.raw(&format!(
        "<li>{}idle <span class=\"note\">(no window)</span></li>",
        svg::swatch(None)
    ));
    p.raw("</ul>\n");
}

fn schedules(p: &mut Page, f: &Facts) {
    section(p, f, "schedule", "");
    p.line(format_args!(
        "<p>One major frame of every core. A time-partitioned core repeats its frame for ever; under the bar, one lane per partition shows its periods (dashed boundaries) and what each period gets from its windows: a window crossing a boundary counts in both periods. Hatched time has no window: the core idles. Times are exact; ticks are counter ticks of {}.</p>",
        esc(&f.module.tick)
    ));
    legend(p, f);
    for c in &f.cores {
        let caption = match (&c.schedule, &c.partition) {
            (Some(s), _) => format!(
                "Core {} <span>time-partitioned · major frame {} · {} · idle {}</span>",
                c.core,
                esc(&time_ticks(&s.major_frame)),
                crate::diag::count(s.windows.len(), "window", "windows"),
                esc(&pct(&c.idle_percent.0))
            ),
            (None, Some(part)) => format!(
                "Core {} <span>dedicated to {}</span>",
                c.core,
                esc(&part.name)
            ),
            (None, None) => format!("Core {} <span>idle: parked by the kernel</span>", c.core),
        };
        p.line(format_args!(
            "<figure><figcaption>{caption}</figcaption>{}</figure>",
            svg::core(f, c)
        ));
        let Some(s) = &c.schedule else { continue };
        p.table(
            "data",
            &[
                "#",
                ">Offset",
                ">End",
                ">Duration",
                ">Offset (ticks)",
                ">Duration (ticks)",
                "Partition",
            ],
        );
        let mut rows: Vec<(u64, &str, Vec<String>)> = s
            .windows
            .iter()
            .map(|w| {
                (
                    w.offset.ns,
                    "",
                    vec![
                        w.index.to_string(),
                        num(&w.offset.text),
                        num(&w.end.text),
                        num(&w.duration.text),
                        num(&ticks(&w.offset)),
                        num(&ticks(&w.duration)),
                        who(&w.partition),
                    ],
                )
            })
            .collect();
        rows.extend(s.gaps.iter().map(|g| {
            (
                g.offset.ns,
                "gap",
                vec![
                    "–".to_owned(),
                    num(&g.offset.text),
                    num(&g.end.text),
                    num(&g.duration.text),
                    num(&ticks(&g.offset)),
                    num(&ticks(&g.duration)),
                    format!("{}idle", svg::swatch(None)),
                ],
            )
        }));
        rows.sort_by_key(|(at, _, _)| *at);
        for (_, class, cells) in rows {
            p.row(class, &cells);
        }
        p.end_table();
    }
    p.raw("</section>\n");
}

fn partitions(p: &mut Page, f: &Facts) {
    section(p, f, "partitions", "");
    p.table(
        "data",
        &[
            ">Id",
            "Name",
            "Kind",
            "Criticality",
            "Placement",
            "Image",
            ">VMID",
        ],
    );
    for part in &f.partitions {
        p.row(
            "",
            &[
                num(&part.id.to_string()),
                who(&PartitionRef {
                    id: part.id,
                    name: part.name.clone(),
                }),
                if part.pmu {
                    format!("{}, <strong>PMU</strong>", esc(part.kind))
                } else {
                    esc(part.kind)
                },
                esc(part.criticality),
                esc(&placement(f, part.id)),
                format!(
                    "{} <code>{}</code>",
                    esc(part.image.source),
                    esc(&part.image.name)
                ),
                num(&part.vmid.to_string()),
            ],
        );
    }
    p.end_table();

    p.line(format_args!("<h3>Time budgets</h3>"));
    p.table(
        "data",
        &[
            "Partition",
            ">Period",
            ">Duration",
            ">Windows",
            ">Min. given per period",
            ">Given per frame",
            ">Utilisation",
            ">Margin",
            ">Margin / duration",
        ],
    );
    for part in &f.partitions {
        let name = who(&PartitionRef {
            id: part.id,
            name: part.name.clone(),
        });
        match &part.time {
            Some(b) => p.row(
                "",
                &[
                    name,
                    num(&b.period.text),
                    num(&b.duration.text),
                    num(&b.windows.to_string()),
                    num(&b.min_given_per_period.text),
                    format!(
                        ">{} <span class=\"note\">of {}</span>",
                        esc(&b.given_per_frame.text),
                        esc(&b.major_frame.text)
                    ),
                    num(&pct(&b.utilisation_percent.0)),
                    num(&b.margin.text),
                    num(&pct(&b.margin_percent_of_duration.0)),
                ],
            ),
            None => p.row(
                "",
                &[
                    name,
                    format!(
                        "<td colspan=\"5\" class=\"note\">dedicated core{} {}: the partition has {} all the time</td>",
                        if part.cores.len() == 1 { "" } else { "s" },
                        cores(&part.cores),
                        if part.cores.len() == 1 { "it" } else { "them" }
                    ),
                    num("100.00%"),
                    String::new(),
                    String::new(),
                ],
            ),
        }
    }
    p.end_table();
    p.line(format_args!(
        "<p class=\"note\"><b>Min. given per period</b>: the least window time any one period of the partition receives. <b>Utilisation</b>: window time per major frame ÷ major frame, rounded up. <b>Margin</b>: the least, over all periods, of window time in the period minus the duration the partition needs; the percentage is of that duration, rounded down. Validation refuses a schedule with a negative margin.</p>"
    ));

    if f.partitions.iter().any(|q| q.time.is_some()) {
        p.line(format_args!("<h3>Window time per period</h3>"));
        p.table(
            "data",
            &[
                "Partition",
                ">Period",
                ">From",
                ">To",
                ">Given",
                ">Needed",
                ">Margin",
                ">Margin (ticks)",
            ],
        );
        for part in &f.partitions {
            let Some(b) = &part.time else { continue };
            for k in &b.periods {
                p.row(
                    "",
                    &[
                        who(&PartitionRef {
                            id: part.id,
                            name: part.name.clone(),
                        }),
                        num(&format!("{} of {}", k.index, b.periods_per_frame)),
                        num(&k.start.text),
                        num(&k.end.text),
                        num(&k.given.text),
                        num(&b.duration.text),
                        num(&k.margin.text),
                        num(&ticks(&k.margin)),
                    ],
                );
            }
        }
        p.end_table();
    }
    p.raw("</section>\n");
}

fn idle(p: &mut Page, f: &Facts) {
    section(p, f, "idle", "");
    p.table(
        "data",
        &[
            ">Core",
            "Use",
            ">Busy per frame",
            ">Idle per frame",
            ">Idle",
            ">Gaps",
            ">Longest gap",
        ],
    );
    for c in &f.cores {
        let usage = match &c.partition {
            Some(part) => format!("dedicated to {}", who(part)),
            None => esc(c.usage),
        };
        match &c.schedule {
            Some(s) => p.row(
                "",
                &[
                    num(&c.core.to_string()),
                    usage,
                    num(&s.busy.text),
                    num(&s.idle.text),
                    num(&pct(&c.idle_percent.0)),
                    num(&s.gaps.len().to_string()),
                    num(&s.longest_gap.text),
                ],
            ),
            None => p.row(
                "",
                &[
                    num(&c.core.to_string()),
                    usage,
                    String::new(),
                    String::new(),
                    num(&pct(&c.idle_percent.0)),
                    String::new(),
                    String::new(),
                ],
            ),
        }
    }
    p.end_table();
    p.line(format_args!(
        "<p class=\"note\">Idle time is major-frame time no window covers (rounded down). A dedicated core always runs its partition; an idle core runs nothing and the kernel parks it.</p>"
    ));
    p.raw("</section>\n");
}

fn memory(p: &mut Page, f: &Facts) {
    section(p, f, "memory", "page");
    p.line(format_args!(
        "<h3>Stage-2 mappings per partition</h3><p>Everything each partition can reach, by guest-physical address (IPA). Devices are mapped identity, read-write, never executable; port buffers are writable only by the end that writes them. Every partition also maps its information page (<code>apex_api::info</code>): 4 KiB at IPA {}, read-only, never executable, its own page of the kernel image's read-only data (the boot banner prints where).</p>",
        crate::validate::hex(apex_api::info::INFO_PAGE_IPA, true)
    ));
    p.table(
        "data wide",
        &[
            "Partition",
            "Name",
            "Kind",
            "IPA range",
            "Physical range",
            ">Size",
            "Access",
            "Channel",
        ],
    );
    for (i, r) in f.memory.regions.iter().enumerate() {
        let first = i > 0 && f.memory.regions[i - 1].partition.id != r.partition.id;
        p.row(
            if first { "first" } else { "" },
            &[
                who(&r.partition),
                esc(&r.name),
                format!("<span class=\"nw\">{}</span>", esc(r.kind)),
                mono(&range(&r.ipa)),
                mono(&range(&r.phys)),
                num(&size(r.ipa.size)),
                format!("<code>{}</code>", esc(r.access)),
                r.channel.as_deref().map(esc).unwrap_or_default(),
            ],
        );
    }
    p.end_table();

    p.line(format_args!(
        "<h3>Physical address space</h3><p>The same memory sorted by physical address, with the kernel's own RAM and devices and the unused RAM between. Ranges are <code>[start, end)</code>{}</p>",
        if f.memory.physical.iter().any(|e| e.level > 0) {
            "; channel buffers (indented) lie inside the shared memory and are the only ranges more than one partition maps."
        } else {
            "; no range is mapped by more than one partition."
        }
    ));
    p.table(
        "data wide",
        &["Physical range", ">Size", "Kind", "What", "Mapped by"],
    );
    for e in &f.memory.physical {
        let by: Vec<String> = e
            .mapped_by
            .iter()
            .map(|m| {
                format!(
                    "<span class=\"nw\">{} <code>{}</code></span>",
                    who(&m.partition),
                    esc(m.access)
                )
            })
            .collect();
        let class = match (e.level, e.kind) {
            (1, _) => "sub",
            (_, "unused") => "unused",
            _ => "",
        };
        p.row(
            class,
            &[
                mono(&range(&e.range)),
                num(&size(e.range.size)),
                format!("<span class=\"nw\">{}</span>", esc(e.kind)),
                esc(&e.what),
                by.join(", "),
            ],
        );
    }
    p.end_table();
    if f.memory.physical_overlaps.is_empty() {
        p.line(format_args!(
            "<p><span class=\"ok\">No overlap:</span> the report checked every pair of top-level ranges above; none overlaps another.</p>"
        ));
    } else {
        p.line(format_args!("<p class=\"bad\">Overlapping ranges:</p><ul>"));
        for o in &f.memory.physical_overlaps {
            p.line(format_args!("<li>{}</li>", esc(o)));
        }
        p.line(format_args!("</ul>"));
    }

    let tt = &f.memory.translation_tables;
    p.line(format_args!(
        "<h3>Translation tables</h3><p>An upper bound on the {} pages the kernel's translation tables take; the kernel image reserves the total (<code>TRANSLATION_TABLE_PAGES</code> in <code>system_tables.rs</code>), the tables are built into it once the kernel is linked, and the kernel prints how many they use. Stage 2 is exact; the EL2 map counts every 2 MiB of the kernel's reserved RAM as split into 4 KiB pages, since where the kernel image's pieces end is not known here.</p>",
        esc(&size(tt.page_size))
    ));
    p.table("data", &["Tables", ">Pages"]);
    p.row(
        "",
        &[
            "EL2 stage 1 (kernel identity map)".to_owned(),
            num(&tt.el2_pages.to_string()),
        ],
    );
    for pp in &tt.partitions {
        p.row(
            "",
            &[
                format!("stage 2 of {}", who(&pp.partition)),
                num(&pp.pages.to_string()),
            ],
        );
    }
    p.row(
        "first",
        &["<b>total</b>".to_owned(), num(&tt.total_pages.to_string())],
    );
    p.end_table();
    p.raw("</section>\n");
}

fn channels(p: &mut Page, f: &Facts) {
    section(p, f, "channels", "");
    if f.channels.is_empty() {
        p.line(format_args!(
            "<p>The configuration has no channels.</p></section>"
        ));
        return;
    }
    p.table(
        "data",
        &[
            "Channel",
            "Kind",
            "Source",
            "Destinations",
            ">Message",
            "Holds",
            "Data buffer",
            "Ack buffer",
        ],
    );
    for c in &f.channels {
        let end = |e: &super::facts::PortEnd| {
            let extra = match (&e.refresh_period, e.discipline) {
                (Some(r), _) => format!(" <span class=\"note\">refresh {}</span>", esc(&r.text)),
                (None, Some(d)) => format!(" <span class=\"note\">{}</span>", esc(d)),
                (None, None) => String::new(),
            };
            format!(
                "<span class=\"nw\">{}<code>.{}</code></span>{extra}",
                who(&e.partition),
                esc(&e.port)
            )
        };
        let dests: Vec<String> = c.destinations.iter().map(end).collect();
        let buf = |r: &super::facts::Range| {
            format!(
                "<span class=\"nw\"><span class=\"mono\">{}</span> <span class=\"note\">{}</span></span>",
                esc(&addr(r.base)),
                esc(&size(r.size))
            )
        };
        p.row(
            "",
            &[
                esc(&c.name),
                esc(c.kind),
                end(&c.source),
                dests.join("<br>"),
                num(&format!("{} B", c.max_message_size)),
                format!(
                    "<span class=\"nw\">{}</span>",
                    esc(&super::words::channel_capacity(c))
                ),
                buf(&c.data),
                c.ack.as_ref().map(buf).unwrap_or_else(|| "–".to_owned()),
            ],
        );
    }
    p.end_table();

    // Source partitions × destination partitions.
    let mut sources: Vec<&PartitionRef> = Vec::new();
    let mut dests: Vec<&PartitionRef> = Vec::new();
    for c in &f.channels {
        if !sources.iter().any(|s| s.id == c.source.partition.id) {
            sources.push(&c.source.partition);
        }
        for d in &c.destinations {
            if !dests.iter().any(|s| s.id == d.partition.id) {
                dests.push(&d.partition);
            }
        }
    }
    sources.sort_by_key(|s| s.id);
    dests.sort_by_key(|s| s.id);
    p.line(format_args!(
        "<h3>Who sends to whom</h3><p class=\"note\">Rows are sending partitions, columns receiving ones; each cell names the channels between them.</p>"
    ));
    let head: Vec<String> = std::iter::once("from \\ to".to_owned())
        .chain(dests.iter().map(|d| who(d)))
        .collect();
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    p.table("matrix", &head_refs);
    for s in &sources {
        let mut cells = vec![who(s)];
        for d in &dests {
            let names: Vec<String> = f
                .channels
                .iter()
                .filter(|c| {
                    c.source.partition.id == s.id
                        && c.destinations.iter().any(|e| e.partition.id == d.id)
                })
                .map(|c| {
                    format!(
                        "{} <span class=\"note\">{}</span>",
                        esc(&c.name),
                        esc(c.kind)
                    )
                })
                .collect();
            cells.push(if names.is_empty() {
                "<span class=\"note\">·</span>".to_owned()
            } else {
                names.join("<br>")
            });
        }
        p.row("", &cells);
    }
    p.end_table();
    p.raw("</section>\n");
}

fn devices(p: &mut Page, f: &Facts) {
    section(p, f, "devices", "");
    p.table(
        "data",
        &[
            "Device",
            "Owner",
            "MMIO range",
            ">Size",
            "INTIDs",
            "Described by",
            "Cores",
            "DMA",
        ],
    );
    for d in &f.devices {
        let owner = match &d.partition {
            Some(part) => who(part),
            None => format!("<i>{}</i>", esc(d.owner_kind)),
        };
        let irqs: Vec<String> = d.interrupts.iter().map(u32::to_string).collect();
        p.row(
            if d.owner_kind == "unassigned" {
                "unused"
            } else {
                ""
            },
            &[
                esc(&d.name),
                owner,
                mono(&range(&d.mmio)),
                num(&size(d.mmio.size)),
                if irqs.is_empty() {
                    "–".to_owned()
                } else {
                    irqs.join(", ")
                },
                esc(d.described_by),
                if d.cores.is_empty() {
                    "–".to_owned()
                } else {
                    cores(&d.cores)
                },
                match &d.dma {
                    None => "–".to_owned(),
                    Some(dma) => esc(&super::words::dma(Some(dma))),
                },
            ],
        );
    }
    p.end_table();
    p.line(format_args!(
        "<p class=\"note\">The kernel owns its console UART and the GIC. {} A device's interrupts belong to the partition that owns the device and to no one else; <b>Cores</b> lists that partition's cores, the only ones its interrupts are meant for. Unassigned board devices are mapped by nobody. A bus master (<b>DMA</b>) reaches memory without its owner's stage-2 tables, and pkernel confines no DMA yet (no SMMU support): a partition owns a bus master of the board only where the configuration trusts it with all of memory (<code>dma = \"trusted\"</code>, rule E104). Whether a device the configuration describes (<code>mmio</code>) is a bus master, the board cannot say.</p>",
        esc(&super::words::console_input(f)).replace(
            "[module] console_input",
            "<code>[module] console_input</code>"
        )
    ));
    p.line(format_args!("<h3>Interrupts</h3>"));
    p.table("data", &[">INTID", "Device", "Owner", "Owner's cores"]);
    for i in &f.interrupts {
        p.row(
            "",
            &[
                num(&i.intid.to_string()),
                esc(&i.device),
                i.partition
                    .as_ref()
                    .map_or_else(|| format!("<i>{}</i>", esc(i.owner_kind)), who),
                if i.cores.is_empty() {
                    "–".to_owned()
                } else {
                    cores(&i.cores)
                },
            ],
        );
    }
    p.end_table();
    p.raw("</section>\n");
}

fn hm_cell(r: &HmRow) -> String {
    let action = if r.level == "module" {
        format!(
            "<span class=\"module-level\">module: {}</span>",
            esc(r.action)
        )
    } else {
        esc(r.action)
    };
    if r.configured {
        format!("<td class=\"cfg\">{action}</td>")
    } else {
        format!("<td><span class=\"default\">{action} (default)</span></td>")
    }
}

fn health(p: &mut Page, f: &Facts) {
    section(p, f, "hm", "");
    p.line(format_args!(
        "<p>The health-monitor tables the kernel is built with: what is done about each error. <span class=\"default\">Italic (default)</span> entries are not named in the configuration and take pkernel's default; shaded entries are set by the configuration; <b>module:</b> actions act on the whole module whoever raises the error.</p>"
    ));
    p.line(format_args!("<h3>Module table</h3>"));
    p.table("data", &[">Code", "Error", "Action"]);
    for r in &f.hm.module {
        p.row("", &[num(&r.code.to_string()), esc(r.error), hm_cell(r)]);
    }
    p.end_table();
    p.line(format_args!("<h3>Partition tables</h3>"));
    let head: Vec<String> = [">Code".to_owned(), "Error".to_owned()]
        .into_iter()
        .chain(f.hm.partitions.iter().map(|t| who(&t.partition)))
        .collect();
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    p.table("data wide", &head_refs);
    let errors: Vec<(u8, &str)> =
        f.hm.partitions
            .first()
            .map(|t| t.entries.iter().map(|e| (e.code, e.error)).collect())
            .unwrap_or_default();
    for (code, error) in errors {
        let mut cells = vec![num(&code.to_string()), esc(error)];
        for t in &f.hm.partitions {
            cells.push(
                t.entries
                    .iter()
                    .find(|e| e.code == code)
                    .map(hm_cell)
                    .unwrap_or_default(),
            );
        }
        p.row("", &cells);
    }
    p.end_table();
    p.raw("</section>\n");
}

/// The "Planned vs observed" section, when the report was given a trace.
fn observed(p: &mut Page, f: &Facts) {
    let Some(o) = &f.observed else { return };
    section(p, f, "observed", "");
    p.line(format_args!(
        "<p>What the kernel recorded while it ran: every window and idle-gap start of each time-partitioned core with its planned and observed counter value, from the trace <code>{}</code> ({} records; SHA-256 <span class=\"hash\">{}</span>), read from the target's memory at the end of a run (<code>cargo xtask run --trace</code>). It shows one run, not a bound. Observed times are in microseconds (µs); <code>report.txt</code> and <code>report.json</code> give every figure in counter ticks too.</p>",
        esc(&o.trace_file),
        o.records,
        esc(&o.trace_sha256)
    ));
    p.raw("<dl class=\"terms\">");
    for (term, text) in observed_terms(&o.tolerance, "µs", "−") {
        p.raw(&format!("<dt>{}</dt><dd>{}</dd>", esc(term), esc(&text)));
    }
    p.raw("</dl>\n");
    let flagged = format!("Flagged starts (tolerance {})", tolerance_text("µs"));
    let count = |shown: bool, n: usize| {
        if !shown {
            num("–")
        } else if n > 0 {
            format!("<td class=\"n bad\">{n}</td>")
        } else {
            num(&n.to_string())
        }
    };
    let us = |t: Option<&Ticks>| num(t.map_or("–", |t| t.us.as_str()));
    for c in &o.cores {
        p.line(format_args!(
            "<h3>Core {} <span class=\"note\">major frame {} · {} observed ({} complete) · window and gap starts: {} · other events: {}</span></h3>",
            c.core,
            esc(&time_ticks(&c.major_frame)),
            crate::diag::count(c.frames_observed, "frame", "frames"),
            c.complete_frames,
            c.window_starts,
            c.other_events
        ));
        p.grouped_table(
            "data dense",
            &[
                (None, "#"),
                (None, "Partition"),
                (Some("Planned"), ">Offset"),
                (Some("Planned"), ">Duration"),
                (None, ">Starts"),
                (Some("Start delay (µs)"), ">min"),
                (Some("Start delay (µs)"), ">mean"),
                (Some("Start delay (µs)"), ">max"),
                (Some("Start delay (µs)"), ">jitter"),
                (Some("Given (µs)"), ">min"),
                (Some(&flagged), ">Late"),
                (Some(&flagged), ">Short"),
                (Some(&flagged), ">Early"),
            ],
        );
        for s in &c.slots {
            let window = s.window.is_some();
            let delay = s.start_delay.as_ref();
            let given = s.given.as_ref();
            p.row(
                if window { "" } else { "gap" },
                &[
                    s.window.map_or_else(|| "–".to_owned(), |w| w.to_string()),
                    s.partition
                        .as_ref()
                        .map_or_else(|| format!("{}idle", svg::swatch(None)), who),
                    num(&s.offset.text),
                    num(&s.duration.text),
                    num(&s.starts.to_string()),
                    us(delay.map(|d| &d.min)),
                    num(delay.map_or("–", |d| d.mean.us.as_str())),
                    us(delay.map(|d| &d.max)),
                    us(s.jitter.as_ref()),
                    us(given.map(|g| &g.min)),
                    count(window, s.late_beyond_tolerance),
                    count(window, s.short_beyond_tolerance),
                    count(window, s.early),
                ],
            );
        }
        p.end_table();
    }
    if o.cores.is_empty() {
        p.line(format_args!(
            "<p>No core of the module is time-partitioned.</p>"
        ));
    }
    if !o.partitions.is_empty() {
        p.line(format_args!(
            "<h3>Start delay and jitter per partition</h3>"
        ));
        p.grouped_table(
            "data dense",
            &[
                (None, "Partition"),
                (None, ">Core"),
                (None, ">Starts"),
                (Some("Start delay (µs)"), ">min"),
                (Some("Start delay (µs)"), ">max"),
                (Some("Start delay (µs)"), ">jitter"),
                (Some(&flagged), ">Late"),
                (Some(&flagged), ">Short"),
                (Some(&flagged), ">Early"),
                (Some(&flagged), ">Flagged"),
            ],
        );
        for j in &o.partitions {
            let delay = j.start_delay.as_ref();
            p.row(
                "",
                &[
                    who(&j.partition),
                    num(&j.core.to_string()),
                    num(&j.starts.to_string()),
                    us(delay.map(|d| &d.min)),
                    us(delay.map(|d| &d.max)),
                    us(j.jitter.as_ref()),
                    count(true, j.late_beyond_tolerance),
                    count(true, j.short_beyond_tolerance),
                    count(true, j.early),
                    count(true, j.flagged),
                ],
            );
        }
        p.end_table();
    }
    if !o.dedicated.is_empty() {
        p.line(format_args!("<h3>Starts on dedicated cores</h3>"));
        p.table(
            "data",
            &[
                ">Core",
                "Partition",
                ">Planned (tick)",
                ">Observed (tick)",
                ">Delay (ticks)",
                ">(µs)",
            ],
        );
        for d in &o.dedicated {
            p.row(
                "",
                &[
                    num(&d.core.to_string()),
                    who(&d.partition),
                    num(&d.planned_ticks.to_string()),
                    num(&d.actual_ticks.to_string()),
                    num(&d.delay.ticks.to_string()),
                    num(&d.delay.us),
                ],
            );
        }
        p.end_table();
    }
    p.line(format_args!(
        "<p class=\"note\">{}</p>",
        esc(&observed_units("µs"))
    ));
    p.raw("</section>\n");
}

fn verify(p: &mut Page, f: &Facts) {
    section(p, f, "verify", "");
    p.line(format_args!(
        "<ol><li>Hash the configuration file: <code>sha256sum {file}</code> must print <span class=\"hash\">{c}</span>.</li>\
<li>Generate the tables: <code>schedule-gen generate {file} … --out DIR</code>, then <code>sha256sum DIR/{t}</code> must print <span class=\"hash\">{th}</span>. The tables depend on the configuration alone, never on partition images.</li>\
<li>Boot the system: the kernel's banner prints <code class=\"pre\">configuration sha256 {c}</code> and <code class=\"pre\">tables        sha256 {th}</code>.</li>\
<li>Regenerate this report with <code>schedule-gen report {file}{trace} --out DIR</code>: the three files must be identical byte for byte.</li></ol>",
        file = esc(&f.module.config_file),
        trace = f
            .observed
            .as_ref()
            .map_or_else(String::new, |o| format!(" --trace {}", esc(&o.trace_file))),
        c = esc(&f.hashes.config_sha256),
        t = esc(f.hashes.tables_file),
        th = esc(&f.hashes.tables_sha256),
    ));
    p.line(format_args!(
        "<p class=\"note\"><code>report.json</code> holds every number on this page (with ticks beside nanoseconds) for tools; <code>report.txt</code> is the same as plain text for <code>diff</code>.</p>"
    ));
    p.raw("</section>\n");
    section(p, f, "legend", "");
    p.line(format_args!(
        "<p class=\"note\">Each partition keeps its colour everywhere in this report. Colours come from a fixed colour-blind-safe palette (Okabe–Ito, then Tol's muted set) by partition id; every name is also written out, so nothing depends on telling colours apart.</p>"
    ));
    legend(p, f);
    p.raw("</section>\n");
}
