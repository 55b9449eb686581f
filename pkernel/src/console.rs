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
//!
//! Cost: every kernel message and partition line goes through here, boot's banner included,
//! so the path is kept short. Bytes are sanitized into the line as they arrive (a word at a
//! time for longer pieces); a line is copied once into its ring and once out of it into the
//! drainer, as whole words of its text only; the drainer sends `[name] `, the text and CR LF
//! from where they are, remembering how far it got; and it asks the device for room once per
//! burst of [`FIFO_BURST`] bytes when the FIFO is empty, byte by byte only when it is not.

/// Longest line printed in one piece; longer lines are split (never dropped by the split).
pub const LINE_MAX: usize = 160;

/// Lines a partition may have queued; beyond this its newest lines are dropped and counted.
pub const PARTITION_RING_LINES: usize = 16;

/// Kernel lines a core may have queued before it drains synchronously.
pub const KERNEL_RING_LINES: usize = 16;

/// Bytes one ordinary drain call may write: two full lines with their prefixes, so a
/// partition's console call drains at least what it added, and a drain's cost is bounded.
pub const DRAIN_BUDGET_BYTES: usize = 2 * (LINE_MAX + 32);

/// Bytes the device's transmit FIFO takes at once when it reads as empty: the smallest FIFO
/// depth of a PL011 (16; some have 32). One status check per burst instead of per byte.
pub const FIFO_BURST: usize = 16;

/// One line of sanitized text (printable ASCII and tab only), without its newline.
///
/// The text comes first and the line is word-aligned, and a ring stores its lines' texts in
/// rows of `LINE_MAX` bytes (a multiple of the word), so the one copy a line makes into its
/// ring and the one out of it are copies of its `len` bytes (rounded up to whole words)
/// between word-aligned addresses. The bytes beyond `len` are never read.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct Line {
    bytes: [u8; LINE_MAX],
    len: u8,
}

const _: () = assert!(LINE_MAX <= u8::MAX as usize);
const _: () = assert!(LINE_MAX.is_multiple_of(WORD));

impl Line {
    pub const EMPTY: Line = Line {
        bytes: [0; LINE_MAX],
        len: 0,
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

    /// Appends bytes of `input`, sanitized, up to the first newline or carriage return (not
    /// taken), the end of `input`, or a full line; returns the rest of `input`. Short pieces
    /// (most of what formatting hands over) byte by byte, longer ones a word at a time.
    #[inline(never)]
    fn append_text<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let start = usize::from(self.len);
        let count = input.len().min(LINE_MAX.saturating_sub(start));
        let (Some(text), Some(piece)) =
            (self.bytes.get_mut(start..start + count), input.get(..count))
        else {
            return input;
        };
        let taken = if count < 2 * WORD {
            text_bytes(text, piece)
        } else {
            text_words(&mut self.bytes, start, piece)
        };
        self.len = (start + taken) as u8;
        input.get(taken..).unwrap_or_default()
    }

    /// Appends as much of `input` as fits, every byte sanitized (newlines included); returns
    /// how many bytes it took.
    fn append_all(&mut self, input: &[u8]) -> usize {
        let len = usize::from(self.len);
        let mut taken = 0;
        for (slot, &byte) in self.bytes[len..].iter_mut().zip(input) {
            *slot = sanitize(byte);
            taken += 1;
        }
        self.len += taken as u8;
        taken
    }

    /// Replaces this line's text by `text` (a copy of its `len` bytes only).
    fn set(&mut self, text: &[u8; LINE_MAX], len: u8) {
        copy_text(&mut self.bytes, text, len);
        self.len = len.min(LINE_MAX as u8);
    }
}

impl core::fmt::Debug for Line {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Copies `from` into `to` (as long), sanitized, up to the first newline or carriage return;
/// returns how many bytes it copied.
fn text_bytes(to: &mut [u8], from: &[u8]) -> usize {
    // Opaque to the optimiser, so it looks bytes up instead of comparing them one by one.
    let table = core::hint::black_box(&TEXT_BYTE);
    let mut taken = 0;
    for (slot, &byte) in to.iter_mut().zip(from) {
        let text = table[usize::from(byte)];
        if text == 0 {
            break;
        }
        *slot = text;
        taken += 1;
    }
    taken
}

/// [`text_bytes`] from `input` into `line` at `start` (`input` fits): byte by byte up to a
/// word boundary of the line, then a word at a time: eight bytes are read, checked at once
/// and stored with one aligned store; only a word holding a byte that is not printable ASCII
/// is copied byte by byte.
fn text_words(line: &mut [u8; LINE_MAX], start: usize, input: &[u8]) -> usize {
    let end = start + input.len();
    let head = start.next_multiple_of(WORD).min(end) - start;
    let (Some(to), Some(from)) = (line.get_mut(start..start + head), input.get(..head)) else {
        return 0;
    };
    let taken = text_bytes(to, from);
    if taken < head || head == input.len() {
        return taken;
    }
    // Word `k` of the line, indexed by word so the compiler knows the stores are aligned.
    let mut k = (start + head) / WORD;
    while (k + 1) * WORD <= end {
        let from = k * WORD - start;
        let Some(&chunk) = input.get(from..).and_then(<[u8]>::first_chunk::<WORD>) else {
            break;
        };
        let Some(word) = line.as_chunks_mut::<WORD>().0.get_mut(k) else {
            break;
        };
        if is_printable_word(u64::from_le_bytes(chunk)) {
            *word = chunk;
        } else {
            let taken = text_bytes(word, &chunk);
            if taken < WORD {
                return from + taken;
            }
        }
        k += 1;
    }
    let from = k * WORD - start;
    let (Some(to), Some(rest)) = (line.get_mut(k * WORD..end), input.get(from..)) else {
        return from;
    };
    from + text_bytes(to, rest)
}

/// Copies the first `len` bytes of a line's text, in whole words (both texts are
/// word-aligned and `LINE_MAX` is a multiple of the word): what follows `len` is never read.
fn copy_text(to: &mut [u8; LINE_MAX], from: &[u8; LINE_MAX], len: u8) {
    let words = usize::from(len).next_multiple_of(WORD).min(LINE_MAX);
    to[..words].copy_from_slice(&from[..words]);
}

fn sanitize(byte: u8) -> u8 {
    match TEXT_BYTE[usize::from(byte)] {
        0 => b'.',
        text => text,
    }
}

/// Printable ASCII, space included (tab is allowed too, but not by this test).
const fn is_printable(byte: u8) -> bool {
    byte.wrapping_sub(0x20) < 0x5f
}

/// What each byte becomes in a line's text: itself if printable ASCII or tab, else `.`;
/// 0 for newline and carriage return, which end a piece of text.
static TEXT_BYTE: [u8; 256] = {
    let mut table = [b'.'; 256];
    let mut byte = 0;
    while byte < 256 {
        if is_printable(byte as u8) || byte as u8 == b'\t' {
            table[byte] = byte as u8;
        }
        byte += 1;
    }
    table[b'\n' as usize] = 0;
    table[b'\r' as usize] = 0;
    table
};

const WORD: usize = 8;
const ONES: u64 = u64::from_le_bytes([0x01; WORD]);
const HIGHS: u64 = u64::from_le_bytes([0x80; WORD]);

/// Whether all eight bytes of `word` are printable ASCII (0x20 to 0x7e). A byte below 0x20
/// borrows when 0x20 is taken off it, so its high bit is set where it was clear; a byte
/// above 0x7e has its high bit set, or gets it when 1 is added. A borrow or carry reaching the
/// next byte starts only at a byte that is itself caught, so the answer is exact.
fn is_printable_word(word: u64) -> bool {
    let below = word.wrapping_sub(0x20 * ONES) & !word;
    let above = word.wrapping_add(ONES) | word;
    (below | above) & HIGHS == 0
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

    /// Appends `input`, calling `emit` with each line completed (newline) or full; the
    /// assembler starts a new line after each call.
    #[inline]
    pub fn push(&mut self, input: &[u8], emit: impl FnMut(&Line)) {
        // Most pieces are text that fits: one call, nothing else.
        let rest = self.line.append_text(input);
        if !rest.is_empty() {
            self.push_rest(rest, emit);
        }
    }

    /// [`LineAssembler::push`] from a newline, a carriage return or a full line on.
    #[inline(never)]
    fn push_rest(&mut self, input: &[u8], mut emit: impl FnMut(&Line)) {
        let mut rest = input;
        loop {
            match rest.split_first() {
                None => return,
                Some((b'\n', after)) => {
                    self.flush(&mut emit);
                    rest = after;
                }
                Some((b'\r', after)) => rest = after,
                // The line is full and more text follows: the text continues on a new line.
                Some(_) => self.flush(&mut emit),
            }
            // Text up to a newline, the end of the input or a full line.
            rest = self.line.append_text(rest);
        }
    }

    /// Whether bytes are waiting for their newline.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty()
    }

    /// Calls `emit` with the pending bytes as a line (empty or not), and starts a new line.
    pub fn flush(&mut self, mut emit: impl FnMut(&Line)) {
        emit(&self.line);
        // The bytes beyond `len` are never read: no need to clear them.
        self.line.len = 0;
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
        if self.line.append_all(s.as_bytes()) < s.len() {
            return Err(core::fmt::Error);
        }
        Ok(())
    }
}

/// A fixed ring of whole lines, oldest first. A line is stored as its text (rows of
/// `LINE_MAX` bytes, word-aligned) and its length, and only its `len` bytes are copied in and
/// out.
#[repr(C, align(8))]
pub struct LineRing<const N: usize> {
    texts: [[u8; LINE_MAX]; N],
    lens: [u8; N],
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
            texts: [[0; LINE_MAX]; N],
            lens: [0; N],
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
        let slot = (self.head + self.len) % N;
        copy_text(&mut self.texts[slot], &line.bytes, line.len);
        self.lens[slot] = line.len;
        self.len += 1;
        true
    }

    /// Moves the oldest line into `line`; false (and `line` untouched) if the ring is empty.
    pub fn pop_into(&mut self, line: &mut Line) -> bool {
        if self.len == 0 {
            return false;
        }
        let head = self.head % N;
        line.set(&self.texts[head], self.lens[head]);
        self.head = (head + 1) % N;
        self.len -= 1;
        true
    }

    /// The oldest line, removed (a copy; the drainer uses [`LineRing::pop_into`]).
    pub fn pop(&mut self) -> Option<Line> {
        let mut line = Line::EMPTY;
        self.pop_into(&mut line).then_some(line)
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
        assembler.push(bytes, |line| queue(ring, dropped, line));
    }

    /// Queues a pending partial line (the partition stopped or is restarting).
    pub fn end_partial_line(&mut self) {
        let Self {
            assembler,
            ring,
            dropped,
        } = self;
        if assembler.has_partial() {
            assembler.flush(|line| queue(ring, dropped, line));
        }
    }

    /// The next thing to print: a report of dropped lines first, then the oldest line, which
    /// is moved into `line`.
    pub fn next_output(&mut self, line: &mut Line) -> Option<PartitionOutput> {
        if self.dropped > 0 {
            return Some(PartitionOutput::Dropped(core::mem::take(&mut self.dropped)));
        }
        self.ring.pop_into(line).then_some(PartitionOutput::Line)
    }

    pub fn is_idle(&self) -> bool {
        self.dropped == 0 && self.ring.is_empty()
    }
}

/// Queues a partition's line, or counts it as dropped if its ring is full.
fn queue(ring: &mut LineRing<PARTITION_RING_LINES>, dropped: &mut u32, line: &Line) {
    if !ring.push(line) {
        *dropped = dropped.saturating_add(1);
    }
}

/// What a partition's console has for the UART.
#[derive(Debug, PartialEq, Eq)]
pub enum PartitionOutput {
    /// Its oldest line (moved into the line the caller passed).
    Line,
    /// This many lines were dropped since the last report (reported as a kernel line).
    Dropped(u32),
}

/// Where the drainer takes lines from (the kernel's rings; a fake in tests).
pub trait LineSources {
    /// Moves the next kernel line from any core, oldest first per core, into `line`; false
    /// (and `line` untouched) if there is none.
    fn next_kernel_line(&mut self, line: &mut Line) -> bool;
    /// How many partitions there are (ids `0..count`).
    fn partition_count(&self) -> usize;
    /// The next output of partition `id`; its text, for [`PartitionOutput::Line`], is moved
    /// into `line`.
    fn next_partition_output(&mut self, id: usize, line: &mut Line) -> Option<PartitionOutput>;
    /// The name that prefixes partition `id`'s lines.
    fn partition_name(&self, id: usize) -> &str;
}

/// The console device: its transmit FIFO's status, and a byte written.
pub trait ConsoleDevice {
    /// Whether the transmit FIFO is empty: [`FIFO_BURST`] bytes can then be written
    /// without waiting.
    fn is_empty(&self) -> bool;
    /// Whether one more byte can be written without waiting.
    fn has_room(&self) -> bool;
    fn put(&mut self, byte: u8);
}

/// How many bytes the device takes now without waiting: a burst when its FIFO is empty,
/// else one if it has room (checked again before every byte), else none.
fn room_now(device: &impl ConsoleDevice) -> usize {
    if device.is_empty() {
        FIFO_BURST
    } else {
        usize::from(device.has_room())
    }
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

/// Whose line the drainer is printing, which names its prefix.
#[derive(Clone, Copy)]
enum Prefix {
    Kernel,
    Partition(usize),
}

/// Moves lines from the sources to the device. Holds the line in progress, so a line that
/// did not fit the FIFO or the budget resumes where it stopped: lines are never interleaved.
/// An output line is `[prefix] text\r\n`, sent from where its pieces are (the prefix's
/// name, the line's text), counting the bytes sent so far.
pub struct Drainer {
    /// The text of the line in progress.
    line: Line,
    /// Whose line is in progress; `None` when there is none.
    prefix: Option<Prefix>,
    /// Bytes of the current output line already sent.
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
/// How a kernel line starts: `[`, [`KERNEL_PREFIX`], `] `, in one piece.
const KERNEL_START: &[u8] = b"[pkernel] ";

impl Drainer {
    pub const fn new() -> Self {
        Self {
            line: Line::EMPTY,
            prefix: None,
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
        // Bytes the device is known to take without waiting (none known yet).
        let mut room = 0;
        loop {
            let prefix = match self.prefix {
                Some(prefix) => prefix,
                None => match self.take_next(sources, selected) {
                    Some(prefix) => prefix,
                    None => return DrainStop::Empty,
                },
            };
            let (start, name, end) = match prefix {
                Prefix::Kernel => (KERNEL_START, &[][..], &[][..]),
                Prefix::Partition(id) => {
                    let name = sources.partition_name(id).as_bytes();
                    // A name longer than `NAME_MAX` is cut (never the text).
                    (&b"["[..], &name[..name.len().min(NAME_MAX)], &b"] "[..])
                }
            };
            let pieces = [start, name, end, self.line.as_bytes(), b"\r\n"];
            if let Some(stop) = send(device, &pieces, &mut self.sent, budget, &mut room) {
                return stop;
            }
            self.prefix = None;
            self.sent = 0;
        }
    }

    /// Whether a line is half sent (so the device must be drained again).
    pub fn is_mid_line(&self) -> bool {
        self.prefix.is_some()
    }

    /// Takes the next line into `self.line` and makes it the line in progress.
    fn take_next(&mut self, sources: &mut impl LineSources, selected: Selection) -> Option<Prefix> {
        let prefix = self.next_line(sources, selected)?;
        self.prefix = Some(prefix);
        Some(prefix)
    }

    fn next_line(&mut self, sources: &mut impl LineSources, selected: Selection) -> Option<Prefix> {
        if sources.next_kernel_line(&mut self.line) {
            return Some(Prefix::Kernel);
        }
        let count = sources.partition_count();
        let (first, steps) = match selected {
            Selection::All => (self.next_partition, count),
            Selection::Only(id) if id < count => (id, 1),
            Selection::Only(_) | Selection::KernelLines => return None,
        };
        for step in 0..steps {
            let id = (first + step) % count;
            match sources.next_partition_output(id, &mut self.line) {
                Some(PartitionOutput::Line) => {
                    if selected == Selection::All {
                        self.next_partition = (id + 1) % count;
                    }
                    return Some(Prefix::Partition(id));
                }
                Some(PartitionOutput::Dropped(n)) => {
                    self.line = dropped_line(sources.partition_name(id), n);
                    // The same partition's lines come next: the report precedes them.
                    if selected == Selection::All {
                        self.next_partition = id;
                    }
                    return Some(Prefix::Kernel);
                }
                None => {}
            }
        }
        None
    }
}

/// Sends the bytes of `pieces` after the first `sent`, counting them in `sent`, within
/// `budget` and what the device takes without waiting (`room`: bytes known to fit, asked
/// again when used up). `None` once everything is sent.
fn send(
    device: &mut impl ConsoleDevice,
    pieces: &[&[u8]],
    sent: &mut usize,
    budget: &mut usize,
    room: &mut usize,
) -> Option<DrainStop> {
    // Worked on in locals, stored once at the end.
    let (mut skip, mut left, mut fits) = (*sent, *budget, *room);
    let mut stop = None;
    'pieces: for piece in pieces {
        let Some(mut rest) = piece.get(skip..) else {
            skip -= piece.len();
            continue;
        };
        skip = 0;
        while !rest.is_empty() {
            if left == 0 {
                stop = Some(DrainStop::Budget);
                break 'pieces;
            }
            if fits == 0 {
                fits = room_now(device);
                if fits == 0 {
                    stop = Some(DrainStop::DeviceFull);
                    break 'pieces;
                }
            }
            let (now, later) = rest.split_at(rest.len().min(fits).min(left));
            // Four bytes a round: fewer loop steps per byte written.
            let (quads, ones) = now.as_chunks::<4>();
            for &[a, b, c, d] in quads {
                device.put(a);
                device.put(b);
                device.put(c);
                device.put(d);
            }
            for &byte in ones {
                device.put(byte);
            }
            rest = later;
            left -= now.len();
            fits -= now.len();
        }
    }
    *sent += *budget - left;
    (*budget, *room) = (left, fits);
    stop
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
        fn next_kernel_line(&mut self, line: &mut Line) -> bool {
            if self.kernel.is_empty() {
                return false;
            }
            *line = self.kernel.remove(0);
            true
        }
        fn partition_count(&self) -> usize {
            self.partitions.len()
        }
        fn next_partition_output(&mut self, id: usize, line: &mut Line) -> Option<PartitionOutput> {
            self.partitions[id].1.next_output(line)
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
        fn is_empty(&self) -> bool {
            self.room.is_none()
        }
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
        let mut line = Line::EMPTY;
        assert_eq!(console.next_output(&mut line), Some(PartitionOutput::Line));
        assert_eq!(line.as_str(), "no newline");
        assert!(console.is_idle());
        console.end_partial_line();
        assert!(console.is_idle(), "nothing pending: no empty line queued");
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
    fn the_kernel_line_start_is_its_prefix_in_brackets() {
        assert_eq!(KERNEL_START, format!("[{KERNEL_PREFIX}] ").as_bytes());
    }

    #[test]
    fn an_output_line_is_prefix_text_and_crlf_and_never_overflows() {
        /// Longest output line: `[`, a name, `] `, the text, CR LF.
        const OUT_MAX: usize = 1 + NAME_MAX + 2 + LINE_MAX + 2;
        let long_name = "n".repeat(40);
        let mut text = vec![b'x'; LINE_MAX];
        text.push(b'\n');
        let mut sources = fake(&[(&long_name, &text)]);
        let mut device = Device::default();
        Drainer::new().drain(
            &mut sources,
            &mut device,
            Selection::All,
            &mut usize::MAX.clone(),
        );
        let out = device.out;
        assert_eq!(out.len(), OUT_MAX);
        assert!(out.starts_with(&[b'['; 1]));
        assert_eq!(&out[1..1 + NAME_MAX], "n".repeat(NAME_MAX).as_bytes());
        assert_eq!(&out[1 + NAME_MAX..1 + NAME_MAX + 2], b"] ");
        assert_eq!(&out[1 + NAME_MAX + 2..out.len() - 2], &text[..LINE_MAX]);
        assert_eq!(&out[out.len() - 2..], b"\r\n");
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

    /// A transmit FIFO of some depth that sends `per_check` bytes each time its status is
    /// read (time passing), and fails the test if it is ever written while full.
    struct Fifo {
        depth: usize,
        queued: core::cell::Cell<usize>,
        per_check: usize,
        checks: core::cell::Cell<usize>,
        out: Vec<u8>,
    }

    impl Fifo {
        fn new(depth: usize, queued: usize, per_check: usize) -> Self {
            Self {
                depth,
                queued: queued.into(),
                per_check,
                checks: 0.into(),
                out: Vec::new(),
            }
        }
        fn tick(&self) {
            self.checks.set(self.checks.get() + 1);
            self.queued
                .set(self.queued.get().saturating_sub(self.per_check));
        }
    }

    impl ConsoleDevice for Fifo {
        fn is_empty(&self) -> bool {
            self.tick();
            self.queued.get() == 0
        }
        fn has_room(&self) -> bool {
            self.tick();
            self.queued.get() < self.depth
        }
        fn put(&mut self, byte: u8) {
            assert!(self.queued.get() < self.depth, "FIFO overrun");
            self.queued.set(self.queued.get() + 1);
            self.out.push(byte);
        }
    }

    #[test]
    fn an_empty_fifo_takes_a_burst_with_one_status_check() {
        let mut sources = fake(&[("p", b"0123456789012345678901234567890123456789\n")]);
        // Sends everything between two checks, like QEMU's UART.
        let mut device = Fifo::new(16, 0, usize::MAX);
        let stop = Drainer::new().drain(&mut sources, &mut device, Selection::All, &mut 1000);
        assert_eq!(stop, DrainStop::Empty);
        let expected = "[p] 0123456789012345678901234567890123456789\r\n";
        assert_eq!(String::from_utf8(device.out).unwrap(), expected);
        assert_eq!(device.checks.get(), expected.len().div_ceil(FIFO_BURST));
    }

    #[test]
    fn a_fifo_not_empty_takes_one_byte_per_check_and_is_never_overrun() {
        let text: Vec<u8> = (0..5)
            .flat_map(|_| b"abcdefghijklmnopqrstuvwxyz\n".to_vec())
            .collect();
        let expected: String = (0..5)
            .map(|_| "[p] abcdefghijklmnopqrstuvwxyz\r\n")
            .collect();
        for depth in [FIFO_BURST, 2 * FIFO_BURST] {
            for per_check in 0..3 {
                let mut sources = fake(&[("p", &text)]);
                // Starts full; sends `per_check` bytes whenever its status is read.
                let mut device = Fifo::new(depth, depth, per_check);
                let mut drainer = Drainer::new();
                let mut calls = 0;
                loop {
                    let stop = drainer.drain(&mut sources, &mut device, Selection::All, &mut 1000);
                    if stop == DrainStop::Empty {
                        break;
                    }
                    assert_eq!(stop, DrainStop::DeviceFull);
                    // Time passes between calls: the FIFO sends a few bytes.
                    device.queued.set(device.queued.get().saturating_sub(3));
                    calls += 1;
                    assert!(calls < 1000);
                }
                assert_eq!(String::from_utf8(device.out).unwrap(), expected);
            }
        }
    }

    #[test]
    fn a_burst_stops_at_the_budget_and_resumes_mid_piece() {
        let mut sources = fake(&[("name", b"abcdefghijklmnopqrstuvwxyz\n")]);
        sources.kernel.push(kernel_line("k"));
        let mut device = Fifo::new(16, 0, usize::MAX);
        let mut drainer = Drainer::new();
        let mut sizes = Vec::new();
        for budget in [1, 2, 3, 5, 8, 13, 21, 34] {
            let before = device.out.len();
            let mut left = budget;
            drainer.drain(&mut sources, &mut device, Selection::All, &mut left);
            assert_eq!(device.out.len() - before, budget - left);
            sizes.push(budget - left);
        }
        assert_eq!(
            String::from_utf8(device.out).unwrap(),
            "[pkernel] k\r\n[name] abcdefghijklmnopqrstuvwxyz\r\n"
        );
        assert_eq!(sizes, [1, 2, 3, 5, 8, 13, 16, 0]);
    }

    #[test]
    fn pieces_split_across_lines_and_calls_keep_every_byte() {
        // Lines of every length, with hostile bytes, tabs, CR and empty lines.
        let mut input = Vec::new();
        let mut expected = String::new();
        for len in 0..=LINE_MAX + 3 {
            let text: Vec<u8> = (0..len)
                .map(|i| [b'a', b'\t', 0x1b, b'\r', 0x7f][i % 5])
                .collect();
            input.extend_from_slice(&text);
            input.push(b'\n');
            let clean: String = text
                .iter()
                .filter(|&&b| b != b'\r')
                .map(|&b| {
                    if b == b'\t' || b == b'a' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            for chunk in clean.as_bytes().chunks(LINE_MAX) {
                expected.push_str(&format!("[p] {}\r\n", core::str::from_utf8(chunk).unwrap()));
            }
            if clean.is_empty() {
                expected.push_str("[p] \r\n");
            }
        }
        let mut sources = fake(&[("p", b"")]);
        let mut drainer = Drainer::new();
        // Sends 5 bytes whenever its status is read: bursts and single bytes mix.
        let mut device = Fifo::new(16, 0, 5);
        // Fed in odd pieces, drained in small budgets after each (the ring never fills).
        for piece in input.chunks(7) {
            sources.partitions[0].1.write(piece);
            while drainer.drain(&mut sources, &mut device, Selection::Only(0), &mut 50)
                != DrainStop::Empty
            {
                device.queued.set(0);
            }
        }
        assert_eq!(String::from_utf8(device.out).unwrap(), expected);
    }

    #[test]
    fn ring_copies_only_the_text_and_wraps() {
        let mut ring = LineRing::<2>::new();
        for round in 0..5 {
            let long = kernel_line(&"L".repeat(LINE_MAX));
            let short = kernel_line(&format!("{round}"));
            assert!(ring.push(&long));
            assert!(ring.push(&short));
            assert!(!ring.push(&short));
            assert_eq!(ring.pop().unwrap().as_str(), "L".repeat(LINE_MAX));
            let mut line = kernel_line("previous text that is longer");
            assert!(ring.pop_into(&mut line));
            assert_eq!(line.as_str(), format!("{round}"));
            assert!(!ring.pop_into(&mut line));
            assert_eq!(line.as_str(), format!("{round}"));
        }
    }

    #[test]
    fn kernel_formatting_fills_a_line_then_refuses() {
        let mut asm = LineAssembler::new();
        assert!(asm.write_str("a\nb\x1b").is_ok());
        assert!(asm.write_str(&"x".repeat(LINE_MAX)).is_err());
        let line = asm.take();
        assert_eq!(line.as_bytes().len(), LINE_MAX);
        assert!(line.as_str().starts_with("a.b.xxx"));
    }

    /// The line rules byte by byte, as they were written first: the reference.
    fn reference_lines(input: &[u8]) -> (Vec<String>, String) {
        let (mut lines, mut line) = (Vec::new(), String::new());
        for &byte in input {
            match byte {
                b'\n' => lines.push(core::mem::take(&mut line)),
                b'\r' => {}
                _ => {
                    if line.len() == LINE_MAX {
                        lines.push(core::mem::take(&mut line));
                    }
                    let printable = byte == b'\t' || (0x20..0x7f).contains(&byte);
                    line.push(if printable { byte as char } else { '.' });
                }
            }
        }
        (lines, line)
    }

    /// A small deterministic generator (xorshift), for inputs without a test dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn the_word_test_agrees_with_the_byte_test() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let mut bytes = [0u8; 8];
            for byte in &mut bytes {
                // Mostly printable, so the interesting words (one odd byte) are common.
                *byte = if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    0x20 + rng.below(0x5f) as u8
                };
            }
            for position in 0..8 {
                for value in 0..=255u8 {
                    let mut word = bytes;
                    word[position] = value;
                    let by_bytes = word.iter().all(|b| (0x20..0x7f).contains(b));
                    assert_eq!(
                        is_printable_word(u64::from_le_bytes(word)),
                        by_bytes,
                        "{word:02x?}"
                    );
                }
            }
        }
    }

    #[test]
    fn lines_match_the_byte_by_byte_rules_for_any_input_and_pieces() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..3000 {
            let len = rng.below(600);
            let kind = rng.below(3);
            let input: Vec<u8> = (0..len)
                .map(|_| match (kind, rng.below(40)) {
                    (0, _) => rng.next() as u8,
                    (_, 0) => b'\n',
                    (_, 1) => b'\r',
                    (_, 2) => b'\t',
                    (1, 3) => rng.next() as u8,
                    _ => 0x20 + rng.below(0x5f) as u8,
                })
                .collect();
            let mut asm = LineAssembler::new();
            let mut lines = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let (piece, after) = rest.split_at(rng.below(rest.len() + 1).max(1));
                asm.push(piece, |l| lines.push(l.as_str().to_string()));
                rest = after;
            }
            let (expected, partial) = reference_lines(&input);
            assert_eq!(lines, expected, "{input:02x?}");
            assert_eq!(asm.take().as_str(), partial);
        }
    }
}
