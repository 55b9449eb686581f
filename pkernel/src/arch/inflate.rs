//! Inflating a partition image segment that the build stored DEFLATE-compressed (RFC 1951):
//! large images (a Linux kernel) would not fit the kernel's reserved window otherwise.
//! `miniz_oxide`'s decompressor, no allocation: its state (about 11 KiB of Huffman tables)
//! is one static, behind a lock, never on a 16 KiB kernel stack.
//!
//! The input is the kernel image's own read-only data (built and hashed with the image), not
//! anything a partition wrote; the decompressor still never writes outside `out`, and a
//! stream that does not inflate to exactly `out.len()` bytes is an error.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

use crate::sync::SpinLock;

/// The decompressor's state, zero-initialised in `.bss`.
struct State(UnsafeCell<MaybeUninit<DecompressorOxide>>);

// SAFETY: the state is reached only through `STATE_LOCK`, held for the whole inflation.
unsafe impl Sync for State {}

static STATE: State = State(UnsafeCell::new(MaybeUninit::zeroed()));
static STATE_LOCK: SpinLock<()> = SpinLock::new(());

/// Why a segment did not inflate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InflateError {
    /// The decompressor's status.
    pub status: TINFLStatus,
    /// Bytes it wrote.
    pub written: usize,
}

/// Inflates the raw DEFLATE stream `input` into `out`, which it must fill exactly.
pub fn inflate(input: &[u8], out: &mut [u8]) -> Result<(), InflateError> {
    let _held = STATE_LOCK.lock();
    // SAFETY: `STATE_LOCK` is held, so this is the only reference to the state. The state is
    // valid: `MaybeUninit::zeroed` made every byte 0, and `DecompressorOxide::default()` is
    // documented as, and written as, "all fields set to 0" (integers, integer arrays, and
    // the state enum whose discriminant 0 is `Start`); the test below checks that such a
    // state inflates correctly. `init` then resets it for this stream.
    let state = unsafe { (*STATE.0.get()).assume_init_mut() };
    state.init();
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, _read, written) = decompress(state, input, out, 0, flags);
    if status == TINFLStatus::Done && written == out.len() {
        Ok(())
    } else {
        Err(InflateError { status, written })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zeroed_state_inflates_what_deflate_wrote_and_nothing_else() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let packed = miniz_oxide::deflate::compress_to_vec(&data, 6);
        assert!(packed.len() < data.len() / 4);
        for _ in 0..2 {
            let mut out = vec![0u8; data.len()];
            inflate(&packed, &mut out).unwrap();
            assert_eq!(out, data);
        }
        // Too short an output, a truncated or corrupted stream: errors.
        let mut short = vec![0u8; data.len() - 1];
        assert!(inflate(&packed, &mut short).is_err());
        let mut out = vec![0u8; data.len()];
        assert!(inflate(&packed[..packed.len() / 2], &mut out).is_err());
        let mut bad = packed.clone();
        bad[0] ^= 0xff;
        bad[1] ^= 0xff;
        assert!(inflate(&bad, &mut out).is_err());
        // And a correct one again after the errors.
        inflate(&packed, &mut out).unwrap();
        assert_eq!(out, data);
    }
}
