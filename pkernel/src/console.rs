//! Console policy: line assembly, per-source line rings, and the drainer that moves whole
//! lines to the UART within a budget.
//!
//! Why rings: the UART is one device shared by every core. If a partition's console call
//! wrote to it directly, a partition printing without pause would hold it and delay every
//! other core's kernel path (and, on a real PL011, overrun its FIFO). Instead:
//! - a partition's bytes are assembled into lines and queued in *its own* ring
//!   ([`PartitionConsole`]); when its ring is full, its newest lines are dropped and
//!   counted, never anyone else's;
//! - kernel lines go to the ring of the core that made them; a kernel line is never
//!   dropped (the producer drains synchronously when its ring is full);
//! - the [`Drainer`] moves whole lines to the UART, kernel lines first, partitions
//!   round-robin, at most a byte budget per call and only while the UART's FIFO has room,
//!   so a drain never waits for the device and a line is never interleaved with another.
//!
//! Bytes come from untrusted memory: anything but printable ASCII and tab becomes `.`, so a
//! partition cannot drive the operator's terminal, start a line of its own, or pose as the
//! kernel (every line is prefixed by the drainer with its source's name).

/// Longest line printed in one piece; longer lines are split (never dropped by the split).
pub const LINE_MAX: usize = 160;

/// Lines a partition may have queued; beyond this its newest lines are dropped and counted.
pub const PARTITION_RING_LINES: usize = 16;

/// Kernel lines a core may have queued before it drains synchronously.
pub const KERNEL_RING_LINES: usize = 16;

/// Bytes one ordinary drain call may write: two full lines with their prefixes, so a
/// partition's console call drains at least what it added, and a drain's cost is bounded.
pub const DRAIN_BUDGET_BYTES: usize = 2 * (LINE_MAX + 32);

/// One line of sanitized text (printable ASCII and tab only), without its newline.
#[derive(Clone, Copy)]
pub struct Line {
    len: u8,
    bytes: [u8; LINE_MAX],
}

const _: () = assert!(LINE_MAX <= u8::MAX as usize);

impl Line {
    pub const EMPTY: Line = Line {
        len: 0,
        bytes: [0; LINE_MAX],
    };

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn as_str(&self) -> &str {
        // Every stored byte is printable ASCII or tab (see `sanitize`).
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn is_full(&self) -> bool {
        usize::from(self.len) == LINE_MAX
    }

    /// Appends one byte, sanitized; the caller checks `is_full` first.
    fn push(&mut self, byte: u8) {
        self.bytes[usize::from(self.len)] = sanitize(byte);
        self.len += 1;
    }
}

impl core::fmt::Debug for Line {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

fn sanitize(byte: u8) -> u8 {
    if byte == b'\t' || (0x20..0x7f).contains(&byte) {
        byte
    } else {
        b'.'
    }
}

/// Turns bytes arriving in arbitrary pieces into whole [`Line`]s.
pub struct LineAssembler {
    line: Line,
}

impl Default for LineAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl LineAssembler {
    pub const fn new() -> Self {
        Self { line: Line::EMPTY }
    }

    /// Appends `input`, calling `emit` with each line completed (newline) or full.
    pub fn push(&mut self, input: &[u8], mut emit: impl FnMut(Line)) {
        for &byte in input {
            match byte {
                b'\n' => emit(self.take()),
                b'\r' => {}
                _ => {
                    if self.line.is_full() {
                        emit(self.take());
                    }
                    self.line.push(byte);
                }
            }
        }
    }

    /// Whether bytes are waiting for their newline.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty()
    }

    /// The pending bytes as a line (when a partition stops mid-line), leaving it empty.
    pub fn take(&mut self) -> Line {
        core::mem::replace(&mut self.line, Line::EMPTY)
    }
}

impl core::fmt::Write for LineAssembler {
    /// For kernel messages: formatting goes through the same line rules as partition bytes,
    /// except that a completed line stays in the assembler until [`LineAssembler::take`].
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &byte in s.as_bytes() {
            if self.line.is_full() {
                return Err(core::fmt::Error);
            }
            self.line.push(byte);
        }
        Ok(())
    }
}

/// A fixed ring of whole lines, oldest first.
pub struct LineRing<const N: usize> {
    lines: [Line; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Default for LineRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineRing<N> {
    pub const fn new() -> Self {
        Self {
            lines: [Line::EMPTY; N],
            head: 0,
            len: 0,
        }
    }

    /// Queues a copy of `line`; false (and nothing queued) if the ring is full.
    #[must_use]
    pub fn push(&mut self, line: &Line) -> bool {
        if self.len == N {
            return false;
        }
        self.lines[(self.head + self.len) % N] = *line;
        self.len += 1;
        true
    }

    pub fn pop(&mut self) -> Option<Line> {
        if self.len == 0 {
            return None;
        }
        let line = self.lines[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(line)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One partition's console: its partial line, its queued lines, and what it lost.
pub struct PartitionConsole {
    assembler: LineAssembler,
    ring: LineRing<PARTITION_RING_LINES>,
    /// Lines dropped because the ring was full, not yet reported.
    dropped: u32,
}

impl Default for PartitionConsole {
    fn default() -> Self {
        Self::new()
    }
}

impl PartitionConsole {
    pub const fn new() -> Self {
        Self {
            assembler: LineAssembler::new(),
            ring: LineRing::new(),
            dropped: 0,
        }
    }

    /// Takes bytes from the partition; complete lines are queued, or dropped and counted
    /// when the ring is full. Always takes every byte: a full ring is the partition's own
    /// loss and must not make it spin retrying.
    pub fn write(&mut self, bytes: &[u8]) {
        let Self {
            assembler,
            ring,
            dropped,
        } = self;
        assembler.push(bytes, |line| {
            if !ring.push(&line) {
                *dropped = dropped.saturating_add(1);
            }
        });
    }

    /// Queues a pending partial line (the partition stopped or is restarting).
    pub fn end_partial_line(&mut self) {
        if self.assembler.has_partial() {
            let line = self.assembler.take();
            if !self.ring.push(&line) {
                self.dropped = self.dropped.saturating_add(1);
            }
        }
    }

    /// The next thing to print: a report of dropped lines first, then the oldest line.
    pub fn next_output(&mut self) -> Option<PartitionOutput> {
        if self.dropped > 0 {
            return Some(PartitionOutput::Dropped(core::mem::take(&mut self.dropped)));
        }
        self.ring.pop().map(PartitionOutput::Line)
    }

    pub fn is_idle(&self) -> bool {
        self.dropped == 0 && self.ring.is_empty()
    }
}

/// What a partition's console has for the UART.
#[derive(Debug)]
pub enum PartitionOutput {
    Line(Line),
    /// This many lines were dropped since the last report (reported as a kernel line).
    Dropped(u32),
}

/// Where the drainer takes lines from (the kernel's rings; a fake in tests).
pub trait LineSources {
    /// The next kernel line from any core, oldest first per core.
    fn next_kernel_line(&mut self) -> Option<Line>;
    /// How many partitions there are (ids `0..count`).
    fn partition_count(&self) -> usize;
    /// The next output of partition `id`.
    fn next_partition_output(&mut self, id: usize) -> Option<PartitionOutput>;
    /// The name that prefixes partition `id`'s lines.
    fn partition_name(&self, id: usize) -> &str;
}

/// The console device, byte by byte.
pub trait ConsoleDevice {
    /// Whether one more byte can be written without waiting.
    fn has_room(&self) -> bool;
    fn put(&mut self, byte: u8);
}

/// Whose lines a drain call may print (kernel lines always come first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every partition in turn: cores with nothing else to do, and the module's end.
    All,
    /// Only this partition's lines: a partition's console call pays for its own output and
    /// never for another's, so its cost does not depend on what the others print.
    Only(usize),
    /// No partition's lines: a kernel message pays for kernel lines only.
    KernelLines,
}

/// Why a drain call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainStop {
    /// Nothing left to print.
    Empty,
    /// The byte budget is used up; more may be waiting.
    Budget,
    /// The device has no room; the line in progress resumes on the next call.
    DeviceFull,
}

/// The text of a kernel line reporting dropped partition lines.
fn dropped_line(name: &str, count: u32) -> Line {
    use core::fmt::Write as _;
    let mut assembler = LineAssembler::new();
    let _ = write!(
        assembler,
        "console of '{name}': {count} lines dropped (its ring was full)"
    );
    assembler.take()
}

/// Longest partition name (schedule-gen's rule), for the prefix `[name] `.
const NAME_MAX: usize = 24;
/// Longest output line: `[`, a name, `] `, the text, CR LF.
const OUT_MAX: usize = 1 + NAME_MAX + 2 + LINE_MAX + 2;

/// The bytes of one output line, prefix and CR LF included, ready for the device.
#[derive(Clone, Copy)]
struct OutLine {
    bytes: [u8; OUT_MAX],
    len: usize,
}

impl OutLine {
    /// `[prefix] text\r\n`; a prefix longer than `NAME_MAX` is cut (never the text).
    fn new(prefix: &str, line: &Line) -> Self {
        let mut out = Self {
            bytes: [0; OUT_MAX],
            len: 0,
        };
        let name = &prefix.as_bytes()[..prefix.len().min(NAME_MAX)];
        for piece in [b"[".as_slice(), name, b"] ", line.as_bytes(), b"\r\n"] {
            out.bytes[out.len..out.len + piece.len()].copy_from_slice(piece);
            out.len += piece.len();
        }
        out
    }
}

/// Moves lines from the sources to the device. Holds the line in progress, so a line that
/// did not fit the FIFO or the budget resumes where it stopped: lines are never interleaved.
pub struct Drainer {
    current: Option<OutLine>,
    /// Bytes of the current line already sent.
    sent: usize,
    /// The partition to look at first for the next line (round-robin).
    next_partition: usize,
}

impl Default for Drainer {
    fn default() -> Self {
        Self::new()
    }
}

/// Text of the kernel's own prefix.
pub const KERNEL_PREFIX: &str = "pkernel";

impl Drainer {
    pub const fn new() -> Self {
        Self {
            current: None,
            sent: 0,
            next_partition: 0,
        }
    }

    /// Sends at most `budget` bytes (and takes what it sent off it); kernel lines before
    /// partition lines, the `selected` partitions in turn. A line already in progress is
    /// finished first, whoever it belongs to (at most one line: lines never interleave).
    pub fn drain(
        &mut self,
        sources: &mut impl LineSources,
        device: &mut impl ConsoleDevice,
        selected: Selection,
        budget: &mut usize,
    ) -> DrainStop {
        loop {
            if self.current.is_none() && !self.take_next(sources, selected) {
                return DrainStop::Empty;
            }
            let Some(out) = &self.current else {
                return DrainStop::Empty;
            };
            for &byte in &out.bytes[self.sent..out.len] {
                if *budget == 0 {
                    return DrainStop::Budget;
                }
                if !device.has_room() {
                    return DrainStop::DeviceFull;
                }
                device.put(byte);
                self.sent += 1;
                *budget -= 1;
            }
            self.current = None;
            self.sent = 0;
        }
    }

    /// Whether a line is half sent (so the device must be drained again).
    pub fn is_mid_line(&self) -> bool {
        self.current.is_some()
    }

    fn take_next(&mut self, sources: &mut impl LineSources, selected: Selection) -> bool {
        if let Some(line) = sources.next_kernel_line() {
            self.current = Some(OutLine::new(KERNEL_PREFIX, &line));
            return true;
        }
        let count = sources.partition_count();
        let (first, steps) = match selected {
            Selection::All => (self.next_partition, count),
            Selection::Only(id) if id < count => (id, 1),
            Selection::Only(_) | Selection::KernelLines => return false,
        };
        for step in 0..steps {
            let id = (first + step) % count;
            match sources.next_partition_output(id) {
                Some(PartitionOutput::Line(line)) => {
                    self.current = Some(OutLine::new(sources.partition_name(id), &line));
                    if selected == Selection::All {
                        self.next_partition = (id + 1) % count;
                    }
                    return true;
                }
                Some(PartitionOutput::Dropped(n)) => {
                    let line = dropped_line(sources.partition_name(id), n);
                    self.current = Some(OutLine::new(KERNEL_PREFIX, &line));
                    // The same partition's lines come next: the report precedes them.
                    if selected == Selection::All {
                        self.next_partition = id;
                    }
                    return true;
                }
                None => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    fn lines_of(chunks: &[&[u8]]) -> (Vec<String>, LineAssembler) {
        let mut asm = LineAssembler::new();
        let mut out = Vec::new();
        for chunk in chunks {
            asm.push(chunk, |l| out.push(l.as_str().to_string()));
        }
        (out, asm)
    }

    #[test]
    fn assembles_lines_across_pieces() {
        let (out, asm) = lines_of(&[b"tic", b"k 1\ntick", b" 2\r\n", b"par"]);
        assert_eq!(out, ["tick 1", "tick 2"]);
        assert!(asm.has_partial());
    }

    #[test]
    fn hostile_bytes_are_neutralised() {
        let (out, _) = lines_of(&[b"\x1b[2Jhi\x00\xff\n"]);
        assert_eq!(out, [".[2Jhi.."]);
    }

    #[test]
    fn long_lines_are_split_not_lost() {
        let long = [b'a'; LINE_MAX + 5];
        let (out, mut asm) = lines_of(&[&long, b"\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), LINE_MAX);
        assert_eq!(out[1].len(), 5);
        assert!(asm.take().is_empty());
    }

    #[test]
    fn ring_keeps_order_and_refuses_when_full() {
        let mut ring = LineRing::<3>::new();
        let mut asm = LineAssembler::new();
        for i in 0..4 {
            write!(asm, "{i}").unwrap();
            assert_eq!(ring.push(&asm.take()), i < 3);
        }
        let popped: Vec<String> = core::iter::from_fn(|| ring.pop())
            .map(|l| l.as_str().to_string())
            .collect();
        assert_eq!(popped, ["0", "1", "2"]);
        assert!(ring.is_empty());
    }

    /// Kernel lines and named partitions, and a device with a FIFO of some depth.
    struct Fake {
        kernel: Vec<Line>,
        partitions: Vec<(String, PartitionConsole)>,
    }

    impl LineSources for Fake {
        fn next_kernel_line(&mut self) -> Option<Line> {
            (!self.kernel.is_empty()).then(|| self.kernel.remove(0))
        }
        fn partition_count(&self) -> usize {
            self.partitions.len()
        }
        fn next_partition_output(&mut self, id: usize) -> Option<PartitionOutput> {
            self.partitions[id].1.next_output()
        }
        fn partition_name(&self, id: usize) -> &str {
            &self.partitions[id].0
        }
    }

    #[derive(Default)]
    struct Device {
        out: Vec<u8>,
        /// Bytes the FIFO takes before it is full (None: never full).
        room: Option<usize>,
    }

    impl ConsoleDevice for Device {
        fn has_room(&self) -> bool {
            self.room != Some(0)
        }
        fn put(&mut self, byte: u8) {
            if let Some(room) = &mut self.room {
                *room -= 1;
            }
            self.out.push(byte);
        }
    }

    fn kernel_line(text: &str) -> Line {
        let mut asm = LineAssembler::new();
        asm.write_str(text).unwrap();
        asm.take()
    }

    fn fake(partitions: &[(&str, &[u8])]) -> Fake {
        Fake {
            kernel: Vec::new(),
            partitions: partitions
                .iter()
                .map(|(name, bytes)| {
                    let mut console = PartitionConsole::new();
                    console.write(bytes);
                    (name.to_string(), console)
                })
                .collect(),
        }
    }

    #[test]
    fn kernel_lines_first_then_partitions_in_turn() {
        let mut sources = fake(&[("a", b"a1\na2\n"), ("b", b"b1\nb2\n")]);
        sources.kernel.push(kernel_line("boot"));
        let mut device = Device::default();
        let mut drainer = Drainer::new();
        assert_eq!(
            drainer.drain(
                &mut sources,
                &mut device,
                Selection::All,
                &mut usize::MAX.clone()
            ),
            DrainStop::Empty
        );
        assert_eq!(
            String::from_utf8(device.out).unwrap(),
            "[pkernel] boot\r\n[a] a1\r\n[b] b1\r\n[a] a2\r\n[b] b2\r\n"
        );
    }

    #[test]
    fn a_full_fifo_or_budget_pauses_mid_line_and_resumes_without_interleaving() {
        let mut sources = fake(&[("a", b"hello\n"), ("b", b"world\n")]);
        let mut device = Device {
            room: Some(4),
            ..Default::default()
        };
        let mut drainer = Drainer::new();
        assert_eq!(
            drainer.drain(
                &mut sources,
                &mut device,
                Selection::All,
                &mut usize::MAX.clone()
            ),
            DrainStop::DeviceFull
        );
        assert!(drainer.is_mid_line());
        // A kernel line arriving now waits until the line in progress is complete.
        sources.kernel.push(kernel_line("late"));
        device.room = None;
        assert_eq!(
            drainer.drain(&mut sources, &mut device, Selection::All, &mut 5),
            DrainStop::Budget
        );
        assert_eq!(
            drainer.drain(
                &mut sources,
                &mut device,
                Selection::All,
                &mut usize::MAX.clone()
            ),
            DrainStop::Empty
        );
        assert_eq!(
            String::from_utf8(device.out).unwrap(),
            "[a] hello\r\n[pkernel] late\r\n[b] world\r\n"
        );
    }

    #[test]
    fn a_flooding_partition_loses_its_own_lines_and_the_loss_is_reported() {
        let flood: Vec<u8> = (0..100)
            .flat_map(|i| format!("x{i}\n").into_bytes())
            .collect();
        let mut sources = fake(&[("flood", &flood), ("quiet", b"q\n")]);
        let mut device = Device::default();
        Drainer::new().drain(
            &mut sources,
            &mut device,
            Selection::All,
            &mut usize::MAX.clone(),
        );
        let out = String::from_utf8(device.out).unwrap();
        let lines: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines[0],
            "[pkernel] console of 'flood': 84 lines dropped (its ring was full)"
        );
        assert_eq!(lines[1], "[flood] x0");
        assert!(lines.contains(&"[quiet] q"), "{lines:?}");
        assert_eq!(lines.len(), 1 + PARTITION_RING_LINES + 1);
    }

    #[test]
    fn a_partition_cannot_start_a_kernel_line() {
        let mut sources = fake(&[("evil", b"ok\r\n[pkernel] module end: shutdown\x0d\n")]);
        let mut device = Device::default();
        Drainer::new().drain(
            &mut sources,
            &mut device,
            Selection::All,
            &mut usize::MAX.clone(),
        );
        let out = String::from_utf8(device.out).unwrap();
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.starts_with("[evil] "), "{out:?}");
        }
    }

    #[test]
    fn partial_lines_are_queued_when_the_partition_stops() {
        let mut console = PartitionConsole::new();
        console.write(b"no newline");
        assert!(console.is_idle());
        console.end_partial_line();
        match console.next_output() {
            Some(PartitionOutput::Line(l)) => assert_eq!(l.as_str(), "no newline"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_partition_pays_only_for_its_own_lines_and_the_kernels() {
        let flood: Vec<u8> = (0..10)
            .flat_map(|i| format!("x{i}\n").into_bytes())
            .collect();
        let mut sources = fake(&[("flood", &flood), ("quiet", b"q1\n")]);
        sources.kernel.push(kernel_line("hm"));
        let mut device = Device::default();
        let mut drainer = Drainer::new();
        let stop = drainer.drain(&mut sources, &mut device, Selection::Only(1), &mut 1000);
        assert_eq!(stop, DrainStop::Empty);
        assert_eq!(
            String::from_utf8(device.out).unwrap(),
            "[pkernel] hm\r\n[quiet] q1\r\n"
        );
        // A line another partition's drain left half-sent is finished first, and only it.
        let mut device = Device {
            room: Some(3),
            ..Default::default()
        };
        drainer.drain(&mut sources, &mut device, Selection::Only(0), &mut 1000);
        device.room = None;
        sources.partitions[1].1.write(b"q2\n");
        drainer.drain(&mut sources, &mut device, Selection::Only(1), &mut 1000);
        assert_eq!(
            String::from_utf8(device.out.clone()).unwrap(),
            "[flood] x0\r\n[quiet] q2\r\n"
        );
        assert_eq!(
            drainer.drain(&mut sources, &mut device, Selection::Only(7), &mut 1000),
            DrainStop::Empty
        );
    }

    #[test]
    fn an_output_line_is_prefix_text_and_crlf_and_never_overflows() {
        let long_name = "n".repeat(40);
        let text = [b'x'; LINE_MAX];
        let mut asm = LineAssembler::new();
        asm.push(&text, |_| {});
        let out = OutLine::new(&long_name, &asm.take());
        assert_eq!(out.len, OUT_MAX);
        assert!(out.bytes.starts_with(&[b'['; 1]));
        assert_eq!(&out.bytes[1 + NAME_MAX..1 + NAME_MAX + 2], b"] ");
        assert_eq!(&out.bytes[out.len - 2..out.len], b"\r\n");
    }

    #[test]
    fn budget_bounds_every_call() {
        let text: Vec<u8> = (0..10).flat_map(|_| b"0123456789\n".to_vec()).collect();
        let mut sources = fake(&[("p", &text)]);
        let mut device = Device::default();
        let mut drainer = Drainer::new();
        let mut calls = 0;
        while drainer.drain(&mut sources, &mut device, Selection::All, &mut 7) != DrainStop::Empty {
            calls += 1;
            assert!(device.out.len() <= calls * 7);
        }
        assert_eq!(device.out.len(), 10 * "[p] 0123456789\r\n".len());
    }
}
