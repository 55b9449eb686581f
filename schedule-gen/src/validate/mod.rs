//! Whole-system rules: turns a [`RawConfig`] into a validated system, reporting every broken
//! rule in one run (one [`Rule`] per check, each pointing at the value to change).
//!
//! The checks run in dependency order, each in its own module:
//! [`partition`] (names, cores, regions, devices, images, time budgets) → [`schedule`]
//! (windows and budgets per core) → [`ports`] (ports, channels, shared memory, port windows) →
//! [`linux`] (Linux partitions: kind, command line, boot RAM, emulated devices' addresses) →
//! [`hm`] (health-monitor tables); then, here, the partition `[module] console_input` names.
//! A later step only trusts what an earlier one accepted, and skips what it rejected, so one
//! mistake gives one error rather than a cascade.

mod hm;
mod linux;
mod partition;
mod ports;
mod schedule;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use bsp::Board;
use toml::Spanned;

use crate::codegen::board_rust_path;
use crate::config::{RawConfig, RawDuration, RawPartition};
use crate::diag::{Diagnostic, Position, Rule, shown};
use crate::model::{
    Channel, CoreSchedule, HmEntry, ModuleAction, PartitionConfig, PhysRange, ns_to_ticks,
};

pub use crate::duration::parse_duration;

/// Most partitions one system may have.
pub const MAX_PARTITIONS: usize = 16;
/// Most memory regions one partition may have.
pub const MAX_REGIONS: usize = 16;
/// Most devices one partition may own.
pub const MAX_DEVICES: usize = 8;
/// Most ports one partition may have.
pub const MAX_PORTS: usize = 32;
/// Most channels one module may have.
pub const MAX_CHANNELS: usize = 64;
/// Most destinations one sampling channel may have.
pub const MAX_DESTINATIONS: usize = 8;
/// Most windows one core schedule may have.
pub const MAX_WINDOWS: usize = 64;
/// Stage-2 page size: every region boundary is a multiple of it.
pub const PAGE_SIZE: u64 = 0x1000;
/// Stage-2 input range: IPAs are below 2^39 (T0SZ = 25, three-level tables from level 1).
pub const IPA_LIMIT: u64 = 1 << 39;
/// Where the kernel maps every partition's information page (`apex_api::info`): the last
/// 4 KiB of the IPA space.
pub const INFO_PAGE_IPA: u64 = apex_api::info::INFO_PAGE_IPA;
/// The kernel's pages at the top of every partition's IPA space: the doorbell GPIO
/// controllers and the doorbell register page (emulated, never mapped), then the information
/// page. No region or port buffer may reach
/// them (E094); devices cannot, being identity mapped inside the board's device space (E041),
/// which every board keeps far below.
pub const KERNEL_PAGES_IPA: u64 = apex_api::info::KERNEL_PAGES_IPA;
/// Longest partition, region, port and channel name.
pub const MAX_NAME_LEN: usize = 24;
/// Longest module name.
pub const MAX_MODULE_NAME_LEN: usize = 32;
/// Partition names the kernel keeps: a partition's console lines start with its name in
/// brackets, so a partition of one of these names could print lines that read as the
/// kernel's own (`[pkernel] ...`).
pub const RESERVED_PARTITION_NAMES: &[&str] = &["pkernel"];

/// Whether `name` is one of [`RESERVED_PARTITION_NAMES`], ignoring ASCII case: valid names are
/// lower case today (E014), but a reader of the console should not have to tell `[PKernel]`
/// from `[pkernel]` if that ever changes.
pub fn is_reserved_partition_name(name: &str) -> bool {
    RESERVED_PARTITION_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// What a valid configuration describes.
pub(crate) struct Validated {
    pub module_name: String,
    pub board: &'static Board,
    pub core_count: u8,
    pub counter_hz: u64,
    pub shared_memory: Option<PhysRange>,
    pub partitions: Vec<PartitionConfig>,
    pub schedules: Vec<CoreSchedule>,
    pub channels: Vec<Channel>,
    pub module_hm: Vec<HmEntry<ModuleAction>>,
    pub console_input: Option<usize>,
}

/// Checks every rule on `raw` (read from `text`, reported as `file`); relative ELF paths are
/// resolved against `base_dir`. Errors come back sorted by position.
pub(crate) fn validate(
    file: &str,
    text: &str,
    raw: &RawConfig,
    base_dir: &Path,
) -> Result<Validated, Vec<Diagnostic>> {
    let mut cx = Checker {
        file,
        text,
        diags: Vec::new(),
        board: None,
        core_count: 0,
        counter_hz: 0,
    };
    let module = raw.module.get_ref();
    if !is_valid_name(module.name.get_ref(), MAX_MODULE_NAME_LEN) {
        cx.error(
            Rule::InvalidModuleName,
            module.name.span(),
            format!(
                "module name {:?} is not an identifier",
                module.name.get_ref()
            ),
            name_help(MAX_MODULE_NAME_LEN),
        );
    }
    cx.board = bsp::board_by_name(module.board.get_ref()).filter(|b| board_rust_path(b).is_some());
    if cx.board.is_none() {
        let known: Vec<_> = bsp::BOARDS
            .iter()
            .filter(|b| board_rust_path(b).is_some())
            .map(|b| b.name)
            .collect();
        cx.error(
            Rule::UnknownBoard,
            module.board.span(),
            format!("unknown board {:?}", module.board.get_ref()),
            format!(
                "use one of the boards pkernel supports: {}",
                known.join(", ")
            ),
        );
    }
    cx.module_cores(module.cores.as_ref());
    cx.counter_frequency(module.counter_hz.as_ref());
    if raw.partitions.is_empty() {
        cx.error(
            Rule::NoPartitions,
            raw.module.span(),
            "the configuration has no partitions".to_owned(),
            "add at least one [[partition]] table".to_owned(),
        );
    }

    let module_hm_raw = cx.module_hm_table(module.hm.as_ref());
    let mut parts = partition::check_partitions(&mut cx, &raw.partitions, base_dir);
    let schedules = schedule::check_schedules(&mut cx, &raw.schedules, &raw.partitions, &parts);
    let (channels, shared_memory) = ports::check_ports(
        &mut cx,
        module.shared_memory.as_ref(),
        &raw.channels,
        &raw.partitions,
        &mut parts,
        raw.module.span(),
    );
    linux::check_linux(&mut cx, &raw.partitions, &mut parts);
    let module_hm = hm::merge(&mut cx, &module_hm_raw, &raw.partitions, &mut parts);
    let console_input = cx.console_input(module.console_input.as_ref(), &raw.partitions);

    if cx.diags.is_empty()
        && let Some(board) = cx.board
    {
        Ok(Validated {
            module_name: module.name.get_ref().clone(),
            board,
            core_count: cx.core_count,
            counter_hz: cx.counter_hz,
            shared_memory,
            partitions: parts.into_iter().map(|p| p.config).collect(),
            schedules,
            channels,
            module_hm,
            console_input,
        })
    } else {
        cx.diags.sort_by_key(|d| d.position);
        Err(cx.diags)
    }
}

/// `1..=max` characters of `[a-z0-9_-]`, starting with a letter.
pub(crate) fn is_valid_name(name: &str, max: usize) -> bool {
    name.len() <= max
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// What to write instead of a name [`is_valid_name`] refuses.
pub(crate) fn name_help(max: usize) -> String {
    format!("use 1 to {max} characters of a-z, 0-9, '_' or '-', starting with a letter")
}

/// A hex number with `_` every four digits; addresses are zero-padded to whole groups.
pub fn hex(value: u64, pad: bool) -> String {
    let digits = format!("{value:x}");
    let width = if pad {
        digits.len().div_ceil(4) * 4
    } else {
        digits.len()
    };
    let digits = format!("{value:0width$x}");
    let mut out = String::from("0x");
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 4 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// The validation state shared by every step: where errors go and the module-wide facts
/// (board, cores, counter) the steps check against. `board` is `None` when the board name was
/// wrong; steps then skip board-dependent checks rather than report follow-on errors.
pub(crate) struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    diags: Vec<Diagnostic>,
    board: Option<&'static Board>,
    /// Cores the module uses (`0..core_count`); 0 when unknown.
    core_count: u8,
    /// System counter frequency; 0 when unknown (tick checks are skipped).
    counter_hz: u64,
}

impl Checker<'_> {
    fn error(&mut self, rule: Rule, span: Range<usize>, message: String, help: String) {
        let pos = self.pos(&span);
        self.diags
            .push(Diagnostic::new(rule, self.file, message, help).at(pos));
    }

    fn pos(&self, span: &Range<usize>) -> Position {
        Position::of_span(self.text, span.start)
    }

    fn line<T>(&self, v: &Spanned<T>) -> usize {
        self.pos(&v.span()).line
    }

    fn module_cores(&mut self, cores: Option<&Spanned<i64>>) {
        let Some(board) = self.board else { return };
        let board_cores = board.core_count();
        let Some(cores) = cores else {
            self.core_count = u8::try_from(board_cores).unwrap_or(u8::MAX);
            return;
        };
        let n = *cores.get_ref();
        match u8::try_from(n) {
            Ok(n) if n > 0 && usize::from(n) <= board_cores => self.core_count = n,
            _ => {
                self.error(
                    Rule::InvalidModuleCores,
                    cores.span(),
                    format!(
                        "the module cannot use {n} cores: board {:?} has {board_cores}",
                        board.name
                    ),
                    format!("use 1 to {board_cores}, or leave `cores` out to use them all"),
                );
                self.core_count = u8::try_from(board_cores).unwrap_or(u8::MAX);
            }
        }
    }

    fn counter_frequency(&mut self, hz: Option<&Spanned<i64>>) {
        let board_hz = self.board.map_or(0, |b| b.counter_hz);
        let Some(hz) = hz else {
            self.counter_hz = board_hz;
            return;
        };
        match u64::try_from(*hz.get_ref()) {
            Ok(v) if v > 0 => self.counter_hz = v,
            _ => self.error(
                Rule::InvalidCounterFrequency,
                hz.span(),
                format!("counter frequency {} Hz is not positive", hz.get_ref()),
                format!(
                    "give the frequency of the system counter (CNTFRQ_EL0) in Hz{}",
                    if board_hz > 0 {
                        format!(", or leave `counter_hz` out to use the board's {board_hz}")
                    } else {
                        String::new()
                    }
                ),
            ),
        }
    }

    /// E112: `[module] console_input` names one of the partitions; returns its id (file
    /// order), or `None` when the key is absent or wrong.
    fn console_input(
        &mut self,
        name: Option<&Spanned<String>>,
        partitions: &[Spanned<RawPartition>],
    ) -> Option<usize> {
        let name = name?;
        let id = partitions
            .iter()
            .position(|p| p.get_ref().name.get_ref() == name.get_ref());
        if id.is_none() {
            // Names E014 refuses are left out: they have their own error, and could be long.
            let known: Vec<_> = partitions
                .iter()
                .map(|p| p.get_ref().name.get_ref().as_str())
                .filter(|n| is_valid_name(n, MAX_NAME_LEN))
                .collect();
            self.error(
                Rule::ConsoleInputUnknown,
                name.span(),
                format!(
                    "`console_input` names partition {}, which the configuration does not have",
                    shown(name.get_ref())
                ),
                if known.is_empty() {
                    "name a [[partition]] of this file, or leave `console_input` out to discard console input".to_owned()
                } else {
                    format!(
                        "name one of the partitions: {}; or leave `console_input` out to discard console input",
                        known.join(", ")
                    )
                },
            );
        }
        id
    }

    /// E094: `what`, `[start, end)` in IPA space, must end at or below the information page;
    /// `keep` names what to lower. Returns whether it does.
    fn clear_of_info_page(
        &mut self,
        span: Range<usize>,
        what: &str,
        (start, end): (u64, u64),
        keep: &str,
    ) -> bool {
        if end <= KERNEL_PAGES_IPA {
            return true;
        }
        self.error(
            Rule::InfoPageCollision,
            span,
            format!(
                "{what} ({}..{}) overlaps the kernel's pages at {} (the doorbell GPIO controllers, the doorbell register page, then the partition information page at {})",
                hex(start, true),
                hex(end, true),
                hex(KERNEL_PAGES_IPA, true),
                hex(INFO_PAGE_IPA, true)
            ),
            format!(
                "keep {keep} at or below {}: the kernel keeps the last 24 KiB of each partition's IPA space for its doorbell GPIO controllers, doorbell register page and information page (apex_api::info)",
                hex(KERNEL_PAGES_IPA, true)
            ),
        );
        false
    }

    /// A duration in nanoseconds, if it parses and is a whole number of counter ticks.
    fn duration(&mut self, what: &str, d: &Spanned<RawDuration>) -> Option<u64> {
        let text = &d.get_ref().0;
        let ns = match parse_duration(text) {
            Ok(ns) => ns,
            Err(why) => {
                self.error(
                    Rule::InvalidDuration,
                    d.span(),
                    format!("{what} {text:?} is not a duration: {why}"),
                    "write digits, an optional fraction and a unit (s, ms, us or ns), e.g. \"20ms\" or \"2.5ms\"".to_owned(),
                );
                return None;
            }
        };
        if self.counter_hz > 0 && ns_to_ticks(ns, self.counter_hz).is_none() {
            let hz = self.counter_hz;
            let tick = crate::duration::tick_text(hz);
            self.error(
                Rule::DurationNotWholeTicks,
                d.span(),
                format!("{what} {text:?} is not a whole number of system counter ticks ({hz} Hz, one tick = {tick})"),
                "round it to a multiple of the tick".to_owned(),
            );
            return None;
        }
        Some(ns)
    }
}

/// The valid entries of an HM table: error → (action, line), for the merge step.
pub(crate) type HmNames<A> = BTreeMap<apex_api::health::HmError, (A, usize)>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_groups_digits() {
        assert_eq!(hex(0x4000_0000, true), "0x4000_0000");
        assert_eq!(hex(0x901_0000, true), "0x0901_0000");
        assert_eq!(hex(0x20_0000, false), "0x20_0000");
        assert_eq!(hex(0x2345, false), "0x2345");
        assert_eq!(hex(0, false), "0x0");
        assert_eq!(hex(0, true), "0x0000");
        assert_eq!(hex(u64::MAX, true), "0xffff_ffff_ffff_ffff");
    }

    #[test]
    fn names() {
        assert!(is_valid_name("ctrl", 24));
        assert!(is_valid_name("a-b_9", 24));
        assert!(!is_valid_name("", 24));
        assert!(!is_valid_name("9a", 24));
        assert!(!is_valid_name("Ctrl", 24));
        assert!(!is_valid_name(&"a".repeat(25), 24));
        assert!(is_valid_name(&"a".repeat(24), 24));
    }
}
