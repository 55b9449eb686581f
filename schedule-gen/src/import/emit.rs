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

/// The configuration text for `module`, imported from `file` (only its file name is written).
pub(super) fn toml(file: &str, module: &Module, board: &str, notes: &[String]) -> String {
    let file_name = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_owned(), |n| n.to_string_lossy().into_owned());
    let mut t = String::new();
    let line = |t: &mut String, s: &str| {
        t.push_str(s);
        t.push('\n');
    };
    line(
        &mut t,
        &format!(
            "# Imported by schedule-gen from the ARINC 653 XML configuration {}.",
            comment(&file_name)
        ),
    );
    line(
        &mut t,
        "# Each note says what the XML left open or pkernel cannot express: review them all.",
    );
    for n in notes {
        line(&mut t, &format!("# note: {}", comment(n)));
    }
    line(&mut t, "");
    line(&mut t, "[module]");
    line(&mut t, &format!("name = {}", q(&module.name)));
    line(&mut t, &format!("board = {}", q(board)));
    if let Some((phys, size)) = module.shared_memory {
        line(
            &mut t,
            &format!(
                "shared_memory = {{ phys = {}, size = {} }}",
                addr(phys),
                hex(size)
            ),
        );
    }
    if !module.module_hm.is_empty() {
        line(&mut t, "");
        line(&mut t, "[module.hm]");
        for (error, action) in &module.module_hm {
            line(&mut t, &format!("{} = {}", error.name(), q(action.name())));
        }
    }

    for p in &module.partitions {
        line(&mut t, "");
        line(&mut t, "[[partition]]");
        line(&mut t, &format!("name = {}", q(&p.name)));
        line(
            &mut t,
            &format!("kind = {}", q(if p.system { "system" } else { "rtos" })),
        );
        line(&mut t, &format!("criticality = \"{}\"", p.criticality));
        line(&mut t, "core = 0");
        if let Some(period) = p.period_ns {
            line(&mut t, &format!("period = {}", q(&format_duration(period))));
        }
        if let Some(duration) = p.duration_ns {
            line(
                &mut t,
                &format!("duration = {}", q(&format_duration(duration))),
            );
        }
        line(
            &mut t,
            &format!("image = {{ elf = {} }}", q(&format!("{}.elf", p.name))),
        );
        if let Some(ipa) = p.ports_ipa {
            line(&mut t, &format!("ports_ipa = {}", addr(ipa)));
        }
        for r in p.memory.iter().filter(|r| r.kind == RegionKind::Ram) {
            line(&mut t, "");
            line(&mut t, "  [[partition.memory]]");
            line(&mut t, &format!("  name = {}", q(&r.name)));
            line(&mut t, &format!("  ipa = {}", addr(r.phys.unwrap_or(0))));
            line(&mut t, &format!("  size = {}", hex(r.size)));
            line(&mut t, &format!("  access = {}", q(r.access)));
        }
        for r in p.memory.iter().filter(|r| r.kind == RegionKind::Io) {
            line(&mut t, "");
            line(&mut t, "  [[partition.device]]");
            line(&mut t, &format!("  name = {}", q(&r.name)));
            line(
                &mut t,
                &format!(
                    "  mmio = {{ base = {}, size = {} }}",
                    addr(r.phys.unwrap_or(0)),
                    hex(r.size)
                ),
            );
        }
        for port in p.ports.iter().filter(|q| q.connected && !q.queuing) {
            line(&mut t, "");
            line(&mut t, "  [[partition.sampling_port]]");
            line(&mut t, &format!("  name = {}", q(&port.name)));
            line(
                &mut t,
                &format!("  direction = {}", q(direction(port.source))),
            );
            line(
                &mut t,
                &format!("  max_message_size = {}", port.max_message_size),
            );
            if let Some(refresh) = port.refresh_ns {
                line(
                    &mut t,
                    &format!("  refresh_period = {}", q(&format_duration(refresh))),
                );
            }
        }
        for port in p.ports.iter().filter(|q| q.connected && q.queuing) {
            line(&mut t, "");
            line(&mut t, "  [[partition.queuing_port]]");
            line(&mut t, &format!("  name = {}", q(&port.name)));
            line(
                &mut t,
                &format!("  direction = {}", q(direction(port.source))),
            );
            line(
                &mut t,
                &format!("  max_message_size = {}", port.max_message_size),
            );
            line(&mut t, &format!("  max_messages = {}", port.max_messages));
        }
        if !p.hm.is_empty() {
            line(&mut t, "");
            line(&mut t, "  [partition.hm]");
            for (error, action) in &p.hm {
                line(
                    &mut t,
                    &format!("  {} = {}", error.name(), q(action.name())),
                );
            }
        }
    }

    line(&mut t, "");
    line(&mut t, "[[schedule]]");
    line(&mut t, "core = 0");
    line(
        &mut t,
        &format!(
            "major_frame = {}",
            q(&format_duration(module.major_frame_ns))
        ),
    );
    for w in &module.windows {
        let name = module
            .partitions
            .get(w.partition)
            .map_or("", |p| p.name.as_str());
        line(&mut t, "");
        line(&mut t, "  [[schedule.window]]");
        line(&mut t, &format!("  partition = {}", q(name)));
        line(
            &mut t,
            &format!("  offset = {}", q(&format_duration(w.offset_ns))),
        );
        line(
            &mut t,
            &format!("  duration = {}", q(&format_duration(w.duration_ns))),
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
        line(&mut t, "");
        line(&mut t, "[[channel]]");
        line(&mut t, &format!("name = {}", q(&c.name)));
        line(&mut t, &format!("source = {}", end(c.source)));
        let destinations: Vec<String> = c.destinations.iter().map(|r| end(*r)).collect();
        line(
            &mut t,
            &format!("destinations = [{}]", destinations.join(", ")),
        );
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
