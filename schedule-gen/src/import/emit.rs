//! Writing the imported module as a pkernel TOML configuration: deterministic, addresses and
//! sizes in grouped hexadecimal, durations in their shortest exact form.

use std::fmt::Write as _;
use std::path::Path;

use super::ir::{Module, RegionKind};
use crate::model::format_duration;

/// `0x10_0000`: a size in hexadecimal, in groups of four digits (as schedule-gen writes
/// every number).
pub(super) fn hex(v: u64) -> String {
    crate::validate::hex(v, false)
}

/// `0x0901_0000`: an address in hexadecimal, in whole groups of four digits.
pub(super) fn addr(v: u64) -> String {
    crate::validate::hex(v, true)
}

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a TOML comment (no line breaks or other control characters).
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The configuration text, and for each of its lines the byte offset in the XML of the
/// element it comes from: none for what the import chose itself (board, images, addresses,
/// notes), so an error the configuration's check finds can point back at the XML.
pub(super) struct Written {
    pub toml: String,
    /// `origins[i]` is the origin of line `i + 1`.
    pub origins: Vec<Option<usize>>,
}

impl Written {
    fn line(&mut self, s: &str, from: Option<usize>) {
        self.toml.push_str(s);
        self.toml.push('\n');
        self.origins.push(from);
    }
}

/// The configuration text for `module`, imported from `file` (only its file name is written).
pub(super) fn toml(file: &str, module: &Module, board: &str, notes: &[String]) -> Written {
    let file_name = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_owned(), |n| n.to_string_lossy().into_owned());
    let mut t = Written {
        toml: String::new(),
        origins: Vec::new(),
    };
    t.line(
        &format!(
            "# Imported by schedule-gen from the ARINC 653 XML configuration {}.",
            comment(&file_name)
        ),
        None,
    );
    t.line(
        "# Each note says what the XML left open or pkernel cannot express: review them all.",
        None,
    );
    for n in notes {
        t.line(&format!("# note: {}", comment(n)), None);
    }
    let root = Some(module.root_at);
    t.line("", None);
    t.line("[module]", root);
    t.line(&format!("name = {}", q(&module.name)), root);
    t.line(&format!("board = {}", q(board)), None);
    if let Some((phys, size)) = module.shared_memory {
        t.line(
            &format!(
                "shared_memory = {{ phys = {}, size = {} }}",
                addr(phys),
                hex(size)
            ),
            None,
        );
    }
    if !module.module_hm.is_empty() {
        t.line("", None);
        t.line("[module.hm]", module.hm_at);
        for (error, action) in &module.module_hm {
            t.line(
                &format!("{} = {}", error.name(), q(action.name())),
                module.hm_at,
            );
        }
    }

    for p in &module.partitions {
        let at = Some(p.offset);
        t.line("", None);
        t.line("[[partition]]", at);
        t.line(&format!("name = {}", q(&p.name)), at);
        t.line(
            &format!("kind = {}", q(if p.system { "system" } else { "rtos" })),
            at,
        );
        t.line(&format!("criticality = \"{}\"", p.criticality), at);
        t.line("core = 0", None);
        if let Some(period) = p.period_ns {
            t.line(
                &format!("period = {}", q(&format_duration(period))),
                p.schedule_at,
            );
        }
        if let Some(duration) = p.duration_ns {
            t.line(
                &format!("duration = {}", q(&format_duration(duration))),
                p.schedule_at,
            );
        }
        t.line(
            &format!("image = {{ elf = {} }}", q(&format!("{}.elf", p.name))),
            None,
        );
        if let Some(ipa) = p.ports_ipa {
            t.line(&format!("ports_ipa = {}", addr(ipa)), None);
        }
        for r in p.memory.iter().filter(|r| r.kind == RegionKind::Ram) {
            let at = Some(r.at);
            t.line("", None);
            t.line("  [[partition.memory]]", at);
            t.line(&format!("  name = {}", q(&r.name)), at);
            t.line(&format!("  ipa = {}", addr(r.phys.unwrap_or(0))), at);
            t.line(&format!("  size = {}", hex(r.size)), at);
            t.line(&format!("  access = {}", q(r.access)), at);
        }
        for r in p.memory.iter().filter(|r| r.kind == RegionKind::Io) {
            let at = Some(r.at);
            t.line("", None);
            t.line("  [[partition.device]]", at);
            t.line(&format!("  name = {}", q(&r.name)), at);
            t.line(
                &format!(
                    "  mmio = {{ base = {}, size = {} }}",
                    addr(r.phys.unwrap_or(0)),
                    hex(r.size)
                ),
                at,
            );
        }
        for port in p.ports.iter().filter(|q| q.connected && !q.queuing) {
            let at = Some(port.at);
            t.line("", None);
            t.line("  [[partition.sampling_port]]", at);
            t.line(&format!("  name = {}", q(&port.name)), at);
            t.line(&format!("  direction = {}", q(direction(port.source))), at);
            t.line(
                &format!("  max_message_size = {}", port.max_message_size),
                at,
            );
            // Zero is only ever a source's (refused on destinations, noted on sources).
            if let Some(refresh) = port.refresh_ns.filter(|r| *r > 0) {
                t.line(
                    &format!("  refresh_period = {}", q(&format_duration(refresh))),
                    at,
                );
            }
        }
        for port in p.ports.iter().filter(|q| q.connected && q.queuing) {
            let at = Some(port.at);
            t.line("", None);
            t.line("  [[partition.queuing_port]]", at);
            t.line(&format!("  name = {}", q(&port.name)), at);
            t.line(&format!("  direction = {}", q(direction(port.source))), at);
            t.line(
                &format!("  max_message_size = {}", port.max_message_size),
                at,
            );
            t.line(&format!("  max_messages = {}", port.max_messages), at);
        }
        if !p.hm.is_empty() {
            t.line("", None);
            t.line("  [partition.hm]", p.hm_at);
            for (error, action) in &p.hm {
                t.line(
                    &format!("  {} = {}", error.name(), q(action.name())),
                    p.hm_at,
                );
            }
        }
    }

    t.line("", None);
    t.line("[[schedule]]", module.schedule_at);
    t.line("core = 0", module.schedule_at);
    t.line(
        &format!(
            "major_frame = {}",
            q(&format_duration(module.major_frame_ns))
        ),
        module.schedule_at,
    );
    for w in &module.windows {
        let name = module
            .partitions
            .get(w.partition)
            .map_or("", |p| p.name.as_str());
        let at = Some(w.at);
        t.line("", None);
        t.line("  [[schedule.window]]", at);
        t.line(&format!("  partition = {}", q(name)), at);
        t.line(
            &format!("  offset = {}", q(&format_duration(w.offset_ns))),
            at,
        );
        t.line(
            &format!("  duration = {}", q(&format_duration(w.duration_ns))),
            at,
        );
    }

    for c in &module.channels {
        let end = |r: super::ir::PortRef| {
            let p = module.partitions.get(r.partition);
            let port = p.and_then(|p| p.ports.get(r.port));
            q(&format!(
                "{}.{}",
                p.map_or("", |p| p.name.as_str()),
                port.map_or("", |q| q.name.as_str())
            ))
        };
        let at = Some(c.at);
        t.line("", None);
        t.line("[[channel]]", at);
        t.line(&format!("name = {}", q(&c.name)), at);
        t.line(&format!("source = {}", end(c.source)), at);
        let destinations: Vec<String> = c.destinations.iter().map(|r| end(*r)).collect();
        t.line(&format!("destinations = [{}]", destinations.join(", ")), at);
    }
    t
}

fn direction(source: bool) -> &'static str {
    if source { "source" } else { "destination" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(hex(0), "0x0");
        assert_eq!(hex(0x1000), "0x1000");
        assert_eq!(hex(0x10_0000), "0x10_0000");
        assert_eq!(hex(0x4000_0000), "0x4000_0000");
        assert_eq!(hex(u64::MAX), "0xffff_ffff_ffff_ffff");
        assert_eq!(addr(0x901_0000), "0x0901_0000");
        assert_eq!(addr(0), "0x0000");
        assert_eq!(q("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
        assert_eq!(comment("a\nb"), "a b");
    }
}
