//! Test partition for the port protocols' message copies on the target (HIL
//! `ports_copy_every_length_and_alignment`, `hil-tests/scenarios/ports-copies.toml`).
//!
//! On AArch64 the protocols move an 8-byte-aligned caller's message words with SIMD loads and
//! stores (`apex_api::ports`, `words.rs`), which the host's unit tests never run; this
//! partition runs them where they run for real, over its own channel buffers as mapped by the
//! kernel (Device memory: the partition's MMU is off). It owns both ends of a sampling and of
//! a queuing channel (`sample_out` → `sample_in`, `queue_out` → `queue_in`, each of
//! [`MAX`] bytes), and for every message length 1..=`MAX`, every offset of the message in an
//! aligned source buffer (0..8) and three offsets of the caller's receive buffer (0 and 8,
//! aligned; 3, not), it writes then reads, and sends then receives, checking that exactly the
//! message comes back and that not one byte of the receive buffer around it changed.
//!
//! Prints `copies: <n> cases ok` and powers the module off, or prints `copies: FAIL ...` for
//! the first case that went wrong and stops.
#![no_std]
#![no_main]

use bm_runtime::apex_api::call::{module_shutdown, partition_stop};
use bm_runtime::apex_api::info::{Direction, InfoPage, Port, PortKind};
use bm_runtime::apex_api::ports::{
    OwnBuffer, PeerBuffer, QueuingReceiver, QueuingSender, SamplingReader, SamplingWriter,
};
use bm_runtime::{BootInfo, println};

bm_runtime::entry!(main);

/// The ports' maximum message size: 25 words, so a message takes every path of the copy (a
/// 64-byte block, then 4, 2 and 1 words, then a tail of 1 to 7 bytes).
const MAX: usize = 200;
/// Bytes a receive buffer has around the message, all checked.
const GUARD: usize = 16;

/// A buffer at an 8-byte-aligned address.
#[repr(C, align(8))]
struct Aligned<const N: usize>([u8; N]);

/// The port `name` of `info`, of the kind and direction the test needs.
fn port<'a>(
    info: &InfoPage<'a>,
    name: &str,
    direction: Direction,
) -> Result<Port<'a>, &'static str> {
    info.port(name)
        .filter(|p| p.direction == direction && p.max_message_size as usize == MAX)
        .ok_or("the configuration lacks a port this test needs")
}

fn run() -> Result<u32, &'static str> {
    let info = bm_runtime::info().map_err(|_| "the information page was refused")?;
    let (sample_out, sample_in) = (
        port(&info, "sample_out", Direction::Source)?,
        port(&info, "sample_in", Direction::Destination)?,
    );
    let (queue_out, queue_in) = (
        port(&info, "queue_out", Direction::Source)?,
        port(&info, "queue_in", Direction::Destination)?,
    );
    let (Some(out_ack), Some(in_ack)) = (queue_out.ack, queue_in.ack) else {
        return Err("a queuing port without an acknowledge buffer");
    };
    let PortKind::Queuing { max_messages, .. } = queue_out.kind else {
        return Err("queue_out is not a queuing port");
    };
    let words = |size: u64| (size / 8) as usize;
    // SAFETY: the kernel maps every buffer of this partition's ports at the IPA its
    // information page gives, page aligned and `size` bytes long, for the partition's whole
    // life: read-write the buffers this partition's end writes, read-only the others. The MMU
    // is off, so the IPA is the address. Each buffer is reached only through these views,
    // which make only aligned 64-bit single-copy-atomic accesses.
    let (so, si, qd, qa, qdi, qai) = unsafe {
        (
            OwnBuffer::from_raw(sample_out.data.ipa as *mut u64, words(sample_out.data.size)),
            PeerBuffer::from_raw(sample_in.data.ipa as *const u64, words(sample_in.data.size)),
            OwnBuffer::from_raw(queue_out.data.ipa as *mut u64, words(queue_out.data.size)),
            PeerBuffer::from_raw(out_ack.ipa as *const u64, words(out_ack.size)),
            PeerBuffer::from_raw(queue_in.data.ipa as *const u64, words(queue_in.data.size)),
            OwnBuffer::from_raw(in_ack.ipa as *mut u64, words(in_ack.size)),
        )
    };
    let config = "a port's buffers do not fit its sizes";
    let depth = max_messages as usize;
    let mut writer = SamplingWriter::new(so, MAX).map_err(|_| config)?;
    let reader = SamplingReader::new(si, MAX, u64::MAX).map_err(|_| config)?;
    let mut sender = QueuingSender::new(qd, qa, MAX, depth).map_err(|_| config)?;
    let mut receiver = QueuingReceiver::new(qdi, qai, MAX, depth).map_err(|_| config)?;

    let mut source = Aligned([0u8; MAX + 8]);
    let mut cases = 0u32;
    for start in 0..8 {
        for out_start in [0, 8, 3] {
            for len in 1..=MAX {
                let seed = (cases as u8).wrapping_mul(31);
                for (i, b) in source.0.iter_mut().enumerate() {
                    *b = seed.wrapping_add(i as u8) | 1;
                }
                let message = &source.0[start..start + len];

                writer
                    .write(message, bm_runtime::counter())
                    .map_err(|_| "the sampling write failed")?;
                let mut out = Aligned([0xEE; MAX + 2 * GUARD]);
                let window = &mut out.0[GUARD + out_start..][..MAX];
                let sample = reader
                    .read(window, bm_runtime::counter)
                    .map_err(|_| "the sampling read failed")?;
                check(
                    &out.0,
                    out_start,
                    message,
                    sample.length,
                    "sampling",
                    start,
                    len,
                )?;

                sender
                    .send(message)
                    .map_err(|_| "the queuing send failed")?;
                let mut out = Aligned([0xEE; MAX + 2 * GUARD]);
                let window = &mut out.0[GUARD + out_start..][..MAX];
                let received = receiver
                    .receive(window)
                    .map_err(|_| "the queuing receive failed")?;
                check(
                    &out.0,
                    out_start,
                    message,
                    received.length,
                    "queuing",
                    start,
                    len,
                )?;
                cases += 1;
            }
        }
    }
    Ok(cases)
}

/// `out` must hold `message` at `GUARD + out_start` and 0xEE everywhere else.
fn check(
    out: &[u8],
    out_start: usize,
    message: &[u8],
    length: usize,
    what: &str,
    start: usize,
    len: usize,
) -> Result<(), &'static str> {
    let at = GUARD + out_start;
    let intact = length == message.len()
        && out[at..at + length] == *message
        && out[..at]
            .iter()
            .chain(&out[at + length..])
            .all(|&b| b == 0xEE);
    if intact {
        Ok(())
    } else {
        println!(
            "copies: FAIL {what} length {len} from offset {start} into offset {out_start} (got {length})"
        );
        Err("a message did not come back intact")
    }
}

fn main(_boot: BootInfo) -> ! {
    match run() {
        Ok(cases) => {
            println!("copies: {cases} cases ok");
            let _ = module_shutdown(0);
        }
        Err(error) => println!("copies: FAIL {error}"),
    }
    partition_stop(1)
}
