//! Per-partition console line assembly.
//!
//! Partitions hand the kernel bytes in arbitrary pieces; the kernel prints whole lines, each
//! prefixed with the partition's name, so lines from different cores never interleave.
//! Bytes come from untrusted memory: anything but printable ASCII and tab becomes `.`, so a
//! partition cannot drive the operator's terminal with escape sequences.

/// Longest line printed in one piece; longer lines are split (never dropped).
pub const LINE_MAX: usize = 160;

/// Bytes of one partition's console that have not yet made a whole line.
pub struct LineBuffer {
    bytes: [u8; LINE_MAX],
    len: usize,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl LineBuffer {
    pub const fn new() -> Self {
        Self {
            bytes: [0; LINE_MAX],
            len: 0,
        }
    }

    /// Appends `input`, calling `emit` with each line completed (without its newline).
    pub fn push(&mut self, input: &[u8], mut emit: impl FnMut(&str)) {
        for &byte in input {
            match byte {
                b'\n' => self.flush(&mut emit),
                b'\r' => {}
                _ => {
                    if self.len == LINE_MAX {
                        self.flush(&mut emit);
                    }
                    self.bytes[self.len] = sanitize(byte);
                    self.len += 1;
                }
            }
        }
    }

    /// Emits whatever is pending as a line (used when a partition stops mid-line).
    pub fn flush(&mut self, emit: &mut impl FnMut(&str)) {
        // Every stored byte is printable ASCII (see `sanitize`), so this cannot fail.
        let line = core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("");
        emit(line);
        self.len = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn sanitize(byte: u8) -> u8 {
    if byte == b'\t' || (0x20..0x7f).contains(&byte) {
        byte
    } else {
        b'.'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(chunks: &[&[u8]]) -> (Vec<String>, LineBuffer) {
        let mut buf = LineBuffer::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.push(chunk, |l| out.push(l.to_string()));
        }
        (out, buf)
    }

    #[test]
    fn assembles_lines_across_pieces() {
        let (out, buf) = lines_of(&[b"tic", b"k 1\ntick", b" 2\r\n", b"par"]);
        assert_eq!(out, ["tick 1", "tick 2"]);
        assert!(!buf.is_empty());
    }

    #[test]
    fn hostile_bytes_are_neutralised() {
        let (out, _) = lines_of(&[b"\x1b[2Jhi\x00\xff\n"]);
        assert_eq!(out, [".[2Jhi.."]);
    }

    #[test]
    fn long_lines_are_split_not_lost() {
        let long = [b'a'; LINE_MAX + 5];
        let (out, mut buf) = lines_of(&[&long, b"\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), LINE_MAX);
        assert_eq!(out[1].len(), 5);
        let mut flushed = Vec::new();
        buf.flush(&mut |l: &str| flushed.push(l.to_string()));
        assert_eq!(flushed, [""]);
    }
}
