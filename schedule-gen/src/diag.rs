//! Diagnostics: one named error per rule, rendered as `file:line:col: error[E0xx-name]: message`.

use std::fmt;

/// Declares [`Rule`] with its stable code and kebab-case name in one table, so a code can never
/// be reused or renamed by accident.
macro_rules! rules {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $name:literal;)*) => {
        /// Every rule schedule-gen enforces; each failure is reported as exactly one of these.
        ///
        /// Codes are stable: a rule that goes away leaves its number unused.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $($(#[$doc])* $variant,)*
        }

        impl Rule {
            /// Every rule, in code order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The number part of the code, e.g. `"E010"`.
            pub const fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code,)* }
            }

            /// The kebab-case name, e.g. `"unknown-board"`.
            pub const fn name(self) -> &'static str {
                match self { $(Rule::$variant => $name,)* }
            }
        }
    };
}

rules! {
    /// The configuration file could not be read.
    ConfigUnreadable = "E000", "config-unreadable";
    /// The file is not valid TOML (or not UTF-8).
    TomlSyntax = "E001", "toml-syntax";
    /// A key the format does not know (typo, or a feature of a later format version).
    UnknownField = "E002", "unknown-field";
    /// A value of the wrong type, a missing required key, or a value outside a fixed set.
    InvalidValue = "E003", "invalid-value";
    /// A duration that is not decimal digits with a unit (`s`, `ms`, `us`, `ns`).
    InvalidDuration = "E005", "invalid-duration";
    /// A time that is not a whole number of system counter ticks.
    DurationNotWholeTicks = "E006", "duration-not-whole-ticks";
    /// `[module] board` is not a board this build knows.
    UnknownBoard = "E010", "unknown-board";
    /// `[module] name` is not an identifier.
    InvalidModuleName = "E011", "invalid-module-name";
    /// The configuration has no `[[partition]]`.
    NoPartitions = "E012", "no-partitions";
    /// More partitions than the kernel supports.
    TooManyPartitions = "E013", "too-many-partitions";
    /// A partition name is not 1..=24 chars of `[a-z0-9_-]` starting with a letter.
    InvalidPartitionName = "E014", "invalid-partition-name";
    /// Two partitions share a name.
    DuplicatePartitionName = "E015", "duplicate-partition-name";
    /// `image` does not name exactly one of `package` or `elf`, or names an empty one.
    InvalidImageSource = "E016", "invalid-image-source";
    /// `[module] cores` is zero or more than the board has.
    InvalidModuleCores = "E017", "invalid-module-cores";
    /// `[module] counter_hz` is not a positive frequency.
    InvalidCounterFrequency = "E018", "invalid-counter-frequency";
    /// A partition has no cores.
    NoCores = "E020", "no-cores";
    /// A core index the board does not have.
    CoreNotOnBoard = "E021", "core-not-on-board";
    /// A core given to two partitions (or listed twice).
    CoreShared = "E022", "core-shared";
    /// A partition gives both `cores` (dedicated) and `core` (time-partitioned).
    ConflictingPlacement = "E023", "conflicting-placement";
    /// A time-partitioned partition without a valid `period` and `duration`, or a dedicated
    /// one with them.
    InvalidTimeBudget = "E024", "invalid-time-budget";
    /// A core both dedicated to a partition and time-partitioned (or scheduled).
    CoreMixedUse = "E026", "core-mixed-use";
    /// More memory regions in one partition than the kernel supports.
    TooManyRegions = "E030", "too-many-regions";
    /// A region name is not 1..=24 chars of `[a-z0-9_-]` starting with a letter.
    InvalidRegionName = "E031", "invalid-region-name";
    /// Two regions or devices of one partition share a name.
    DuplicateRegionName = "E032", "duplicate-region-name";
    /// A region's `ipa`, `phys` or `size` is not a multiple of 4 KiB.
    UnalignedRegion = "E033", "unaligned-region";
    /// A region of size 0.
    EmptyRegion = "E034", "empty-region";
    /// `ipa + size` or `phys + size` does not fit in 64 bits.
    AddressOverflow = "E035", "address-overflow";
    /// A region ends beyond the 39-bit stage-2 input address range.
    IpaOutOfRange = "E036", "ipa-out-of-range";
    /// A region's physical range is not inside the board's RAM.
    RegionOutsideRam = "E037", "region-outside-ram";
    /// A region's physical range overlaps the RAM reserved for the kernel.
    RegionInKernelReserved = "E038", "region-in-kernel-reserved";
    /// Two regions of one partition overlap in IPA space.
    RegionIpaOverlap = "E039", "region-ipa-overlap";
    /// Physical RAM of two partitions overlaps.
    PhysOverlap = "E040", "phys-overlap";
    /// More devices in one partition than the kernel supports.
    TooManyDevices = "E045", "too-many-devices";
    /// A device the board does not have (or does not let a partition own).
    UnknownDevice = "E046", "unknown-device";
    /// A device owned by two partitions.
    DeviceShared = "E047", "device-shared";
    /// A device's identity-mapped IPA range collides with a RAM region of the same partition.
    DeviceIpaCollision = "E048", "device-ipa-collision";
    /// A device's `mmio` is misaligned, empty, outside the board's device space, on a
    /// kernel-owned device, or given for a board device.
    InvalidDeviceMmio = "E041", "invalid-device-mmio";
    /// Two owned devices' MMIO windows overlap.
    DeviceOverlap = "E042", "device-overlap";
    /// An interrupt that is not a shared peripheral interrupt of the board, or is the kernel's.
    InvalidInterrupt = "E043", "invalid-interrupt";
    /// An interrupt owned twice.
    InterruptShared = "E044", "interrupt-shared";
    /// A partition image could not be read.
    ImageUnreadable = "E050", "image-unreadable";
    /// A partition image is not a well-formed ELF file (bad magic, truncated, bad headers).
    ImageMalformed = "E051", "image-malformed";
    /// A partition image is not ELF64 little-endian AArch64.
    ImageWrongTarget = "E052", "image-wrong-target";
    /// A partition image is not a static executable (`ET_EXEC`).
    ImageNotExecutable = "E053", "image-not-executable";
    /// A partition image has no non-empty `PT_LOAD` segment.
    ImageNoSegments = "E054", "image-no-segments";
    /// A load segment does not lie wholly inside one RAM region of its partition.
    SegmentOutsideRegion = "E055", "segment-outside-region";
    /// A load segment needs write or execute access its region does not grant.
    SegmentAccess = "E056", "segment-access";
    /// Two load segments of one image overlap.
    SegmentOverlap = "E057", "segment-overlap";
    /// The entry point is not inside an executable RAM region.
    EntryNotExecutable = "E058", "entry-not-executable";
    /// No image was given for a partition.
    MissingImage = "E060", "missing-image";
    /// An image was given for a partition the configuration does not have.
    UnexpectedImage = "E061", "unexpected-image";
    /// The output directory or a file in it could not be written.
    OutputUnwritable = "E062", "output-unwritable";
    /// A linked kernel image cannot take the translation tables: a symbol the table linker
    /// needs is missing, or the tables do not fit the pages the image reserved.
    KernelImageTables = "E063", "kernel-image-tables";
    /// A schedule's major frame is zero or it has no windows.
    InvalidSchedule = "E064", "invalid-schedule";
    /// Two schedules for one core.
    DuplicateSchedule = "E065", "duplicate-schedule";
    /// A time-partitioned partition's core has no schedule.
    MissingSchedule = "E066", "missing-schedule";
    /// A window names a partition the configuration does not have.
    WindowUnknownPartition = "E067", "window-unknown-partition";
    /// A window names a partition that is not time-partitioned on the schedule's core.
    WindowWrongCore = "E068", "window-wrong-core";
    /// A window of zero length.
    EmptyWindow = "E069", "empty-window";
    /// A window that ends after the major frame.
    WindowOutsideFrame = "E070", "window-outside-frame";
    /// Two windows of one core overlap.
    WindowOverlap = "E071", "window-overlap";
    /// A partition period that does not divide its core's major frame.
    PeriodNotDividingFrame = "E072", "period-not-dividing-frame";
    /// A partition's windows do not give it its duration in every period.
    BudgetNotMet = "E073", "budget-not-met";
    /// More windows on one core than the kernel supports.
    TooManyWindows = "E074", "too-many-windows";
    /// A port name is not 1..=24 chars of `[a-z0-9_-]` starting with a letter, or is used twice
    /// in one partition.
    InvalidPortName = "E075", "invalid-port-name";
    /// A message size of zero or above the limit.
    InvalidMessageSize = "E076", "invalid-message-size";
    /// A queue depth of zero or above the limit.
    InvalidQueueDepth = "E077", "invalid-queue-depth";
    /// A sampling destination without a refresh period, or a zero one.
    InvalidRefreshPeriod = "E078", "invalid-refresh-period";
    /// A port no channel connects.
    PortWithoutChannel = "E079", "port-without-channel";
    /// A channel end that names no existing `partition.port`.
    ChannelUnknownPort = "E080", "channel-unknown-port";
    /// A channel whose source is a destination port, or whose destination is a source port.
    ChannelDirection = "E081", "channel-direction";
    /// A channel joining a sampling port and a queuing port.
    ChannelKindMismatch = "E082", "channel-kind-mismatch";
    /// A destination whose messages are smaller than the source's (or a queue depth mismatch).
    ChannelSizeMismatch = "E083", "channel-size-mismatch";
    /// A channel with no destination, a queuing channel with more than one, or a destination
    /// listed twice.
    ChannelDestinations = "E084", "channel-destinations";
    /// A port used by two channels.
    PortInTwoChannels = "E085", "port-in-two-channels";
    /// A channel name that is not valid, or used twice.
    InvalidChannelName = "E086", "invalid-channel-name";
    /// Channels without `[module] shared_memory`, or shared memory that is misplaced or too small.
    InvalidSharedMemory = "E087", "invalid-shared-memory";
    /// A partition with ports but no valid `ports_ipa`, or a port window colliding with its
    /// regions or devices.
    InvalidPortsIpa = "E088", "invalid-ports-ipa";
    /// More ports in one partition than the kernel supports.
    TooManyPorts = "E089", "too-many-ports";
    /// More channels than the kernel supports.
    TooManyChannels = "E090", "too-many-channels";
    /// A region or port buffer overlaps the kernel's pages at the top of every partition's
    /// IPA space: the doorbell GPIO controllers, the doorbell register page and the
    /// partition information page (`apex_api::info::KERNEL_PAGES_IPA` up).
    InfoPageCollision = "E094", "info-page-collision";
    /// An HM table names an error pkernel does not know.
    UnknownHmError = "E091", "unknown-hm-error";
    /// An HM table names an action that does not exist at its level.
    UnknownHmAction = "E092", "unknown-hm-action";
    /// A partition HM table names an error the module HM table handles, or a module-only error.
    HmLevelConflict = "E093", "hm-level-conflict";
    /// An ARINC 653 XML file that is not well-formed XML.
    XmlSyntax = "E100", "xml-syntax";
    /// An ARINC 653 XML file missing a required element or attribute, or with a bad value.
    XmlInvalid = "E101", "xml-invalid";
    /// An ARINC 653 XML construct pkernel cannot express, so the import stops.
    XmlUnmappable = "E102", "xml-unmappable";
    /// A partition name the kernel keeps for itself (its console lines start `[pkernel]`).
    ReservedPartitionName = "E103", "reserved-partition-name";
    /// A partition owns a DMA bus master whose DMA nothing confines (no SMMU in front of it,
    /// or SMMU confinement, which pkernel does not implement yet) without `dma = "trusted"`; or
    /// `dma = "trusted"` on a board device that is not a bus master.
    UnconfinedDma = "E104", "unconfined-dma";
    /// A partition owns more interrupts than its virtual distributor keeps.
    TooManyInterrupts = "E105", "too-many-interrupts";
    /// A Linux kernel image (`image = { linux = ... }`) on a partition whose kind is not
    /// `linux`.
    LinuxImageKind = "E106", "linux-image-kind";
    /// `bootargs` on a partition without a Linux image, or not printable ASCII, or too long.
    InvalidBootargs = "E107", "invalid-bootargs";
    /// A Linux partition whose first memory region cannot hold the kernel, its initramfs and
    /// device tree: not `rwx`, smaller than 64 MiB, or its IPA not 2 MiB aligned.
    LinuxBootRam = "E108", "linux-boot-ram";
    /// A region or port buffer of a Linux partition at an IPA its device tree gives to the
    /// virtual UART or the GIC.
    LinuxIpaCollision = "E109", "linux-ipa-collision";
    /// The Linux kernel given for a partition is not an arm64 `Image` (header, magic, sizes).
    LinuxKernelImage = "E110", "linux-kernel-image";
    /// The Linux kernel, its initramfs and its device tree do not fit the partition's boot RAM.
    LinuxPlacement = "E111", "linux-placement";
    /// `[module] console_input` names a partition the configuration does not have.
    ConsoleInputUnknown = "E112", "console-input-unknown";
    /// The partition images the kernel image carries do not fit, with the kernel, the RAM
    /// the board reserves for the kernel image.
    KernelImageTooLarge = "E113", "kernel-image-too-large";
}

/// `value` quoted for a message, cut to 40 characters so hostile input cannot flood the output.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

/// `n` with the noun that agrees with it (`1 partition`, `2 partitions`, `0 partitions`), so
/// no message says "1 partitions".
pub(crate) fn count<N: fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    if n == N::from(1) {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Position {
    /// The position of the first significant character at or after byte `start`: TOML table
    /// spans can begin with the blank lines and comments before the table's header.
    pub fn of_span(text: &str, start: usize) -> Position {
        let mut offset = start.min(text.len());
        loop {
            let rest = text.get(offset..).unwrap_or("");
            let trimmed = rest.trim_start();
            offset += rest.len() - trimmed.len();
            if trimmed.starts_with('#') {
                offset += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return Position::of_offset(text, offset);
            }
        }
    }

    /// The position of byte `offset` in `text`; offsets past the end (or inside a character)
    /// are clamped, never a panic.
    pub fn of_offset(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// One error: which rule, where, what is wrong and what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule that failed.
    pub rule: Rule,
    /// The file the error is in, as the user named it (configuration or image).
    pub file: String,
    /// Where in `file`, when the error is about a piece of text.
    pub position: Option<Position>,
    /// What is wrong, in one line.
    pub message: String,
    /// What to change, in one line.
    pub help: String,
}

impl Diagnostic {
    /// A diagnostic about a file as a whole (no position).
    pub fn new(
        rule: Rule,
        file: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Diagnostic {
            rule,
            file: file.into(),
            position: None,
            message: message.into(),
            help: help.into(),
        }
    }

    /// The same diagnostic pointing at `position`.
    pub fn at(mut self, position: Position) -> Self {
        self.position = Some(position);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        write!(
            f,
            ": error[{}-{}]: {}\n  help: {}",
            self.rule.code(),
            self.rule.name(),
            self.message,
            self.help
        )
    }
}

/// A non-empty list of errors, all found in one run. `Display` prints every one, blocks
/// separated by a blank line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// Wraps `list`; callers only build this when something went wrong.
    pub fn new(list: Vec<Diagnostic>) -> Self {
        Diagnostics(list)
    }

    /// The errors, in report order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// How many errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never, for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rules that failed, in report order (handy in tests).
    pub fn rules(&self) -> Vec<Rule> {
        self.0.iter().map(|d| d.rule).collect()
    }

    /// The errors, in report order.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let text = "ab\nçd = 1\n";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 3),
            Position { line: 2, column: 1 }
        );
        // 'ç' is two bytes: byte 5 is 'd', the second character of line 2.
        assert_eq!(
            Position::of_offset(text, 5),
            Position { line: 2, column: 2 }
        );
        // Inside a character or past the end: clamped.
        assert_eq!(
            Position::of_offset(text, 4),
            Position { line: 2, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 999),
            Position { line: 3, column: 1 }
        );
        let toml = "a = 1\n\n  # note\n[[t]]\n";
        assert_eq!(Position::of_span(toml, 5), Position { line: 4, column: 1 });
        assert_eq!(
            Position::of_span(toml, 999),
            Position { line: 5, column: 1 }
        );
    }

    #[test]
    fn shown_values_are_quoted_and_bounded() {
        assert_eq!(shown("ctrl"), "\"ctrl\"");
        assert_eq!(shown(&"a".repeat(40)), format!("{:?}", "a".repeat(40)));
        assert_eq!(shown(&"é".repeat(41)), format!("{:?}…", "é".repeat(40)));
    }

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut codes: Vec<_> = Rule::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Rule::ALL.len());
        for r in Rule::ALL {
            assert!(
                r.code().len() == 4
                    && r.code().starts_with('E')
                    && r.code()[1..].bytes().all(|b| b.is_ascii_digit()),
                "{r:?}"
            );
            assert!(
                r.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{r:?}"
            );
        }
    }
}
