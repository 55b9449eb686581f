//! Port benchmark partition (run by `cargo xtask bench` under `-icount shift=0,sleep=off`,
//! where the PMU cycle counter advances exactly one per instruction). Needs `pmu = true` in
//! its configuration (`configs/bench/ports.toml`) and the other cores idle.
//!
//! The partition owns both ends of a sampling channel (`sample_out` → `sample_in`) and of a
//! queuing channel (`queue_out` → `queue_in`), found by name on its information page
//! (`bm_runtime::info()`), so the buffers are wherever the configuration put them. Each end
//! works on its own view of the buffers, as it would in two partitions: the source writes its
//! data buffer through the read-write mapping, the destination reads it through the read-only
//! one, and the queuing acknowledge buffer the other way round. What is measured is the
//! protocol code each side runs; one partition calling both sides back to back measures
//! exactly that, with no window switch or cross-core wake-up in between (those are other
//! figures: the window switch, and the interrupt latency).
//!
//! Prints `bench <figure> <instructions>` lines: the instructions between two reads of the
//! cycle counter around the calls, minus what the two reads cost on their own. The calls are
//! compiled into the measuring function as into any caller (the `apex_api::ports` methods are
//! `#[inline]`); the objects and buffers they use reach it through `black_box`, so nothing is
//! known about them and none of their loads can move before the first read, and every result is
//! stored to memory before the second read (the sampling results into the caller's memory,
//! which the counter read may read; the others through `black_box`), so no part of the work
//! can move after it.
//!
//! - `memcpy_64`: `<[u8]>::copy_from_slice` of 64 bytes between 8-byte-aligned buffers (the
//!   length check, then the library `memcpy`): the reference the two others are divided by;
//! - `sampling_write_read`: WRITE of a 64-byte message with the writer's timestamp (a system
//!   counter read), then READ of it with its age and validity (another counter read); no
//!   kernel involvement (the copies cost the same at any alignment of the caller's buffers);
//! - `queuing_send_receive`: SEND of a 64-byte message into an empty queue and the check
//!   whether the receiver waits (it does not here), the `Doorbell` hypercall a sender makes
//!   when it does (made anyway: this is the figure with the doorbell), then RECEIVE of it and
//!   the check whether the sender waits;
//! - `apex_sampling_write_read`, `apex_queuing_send_receive`: the same through the APEX
//!   services a partition calls (`apex_api::apex::Apex`, ports created by name during
//!   initialisation): WRITE_SAMPLING_MESSAGE + READ_SAMPLING_MESSAGE, and
//!   SEND_QUEUING_MESSAGE + RECEIVE_QUEUING_MESSAGE with a zero timeout, where neither side
//!   waits, so no hypercall is made. These add the port-id lookup, the return-code mapping
//!   and the time conversions to the protocol.
//!
//! The protocol methods are inlined here, this partition being their only caller. Where a
//! program calls them from several places, the size-optimised build may keep them out of
//! line, which costs a call and the copying of arguments.
//!
//! Every figure is the minimum over [`RUNS`] runs (all equal under icount; the partition
//! checks that they are). Each run also checks that the message read is the one written.
//! Then it powers the module off (it is a system partition), so the run ends on its own.
#![no_std]
#![no_main]

use core::hint::black_box;

use bm_runtime::apex_api::ReturnCode;
use bm_runtime::apex_api::apex::{Apex, OnPkernel, PkernelBuffers, QueuingPortId, SamplingPortId};
use bm_runtime::apex_api::call::{doorbell, module_shutdown, partition_stop};
use bm_runtime::apex_api::info::QueuingDiscipline;
use bm_runtime::apex_api::info::{Direction, InfoPage, Port, PortKind};
use bm_runtime::apex_api::ports::{
    OwnBuffer, PeerBuffer, QueuingReceiver, QueuingSender, ReadError, ReceiveError, Received,
    Sample, SamplingReader, SamplingWriter, SendError, WriteError,
};
use bm_runtime::{BootInfo, println};

bm_runtime::entry_initialising!(main);

/// Bytes of the message every figure moves.
const MESSAGE: usize = 64;
/// Runs of each figure.
const RUNS: usize = 100;

type Writer = SamplingWriter<OwnBuffer<'static>>;
type Reader = SamplingReader<PeerBuffer<'static>>;
type Sender = QueuingSender<OwnBuffer<'static>, PeerBuffer<'static>>;
type Receiver = QueuingReceiver<PeerBuffer<'static>, OwnBuffer<'static>>;

/// A message buffer at an 8-byte-aligned address, as a caller's message buffer usually is.
#[repr(C, align(8))]
struct Message([u8; MESSAGE]);

/// The cycle counter (under icount: instructions retired), after an `isb` so that it is not
/// read before the instructions before it.
#[inline(always)]
fn cycles() -> u64 {
    let value: u64;
    // SAFETY: reads PMCCNTR_EL0, which this partition may read (`pmu = true`); it touches no
    // memory. Not `nomem`, so the compiler keeps memory accesses on their side of it.
    unsafe {
        core::arch::asm!("isb", "mrs {}, pmccntr_el0", out(reg) value, options(nostack, preserves_flags))
    };
    value
}

/// Instructions `f` takes, counter reads included (the caller subtracts them).
#[inline(always)]
fn count(f: impl FnOnce()) -> u64 {
    let before = cycles();
    f();
    let after = cycles();
    after.wrapping_sub(before)
}

/// `<[u8]>::copy_from_slice`: the length check, then a call to the library `memcpy`.
#[inline(never)]
fn memcpy_64(to: &mut Message, from: &Message) -> u64 {
    let (to, from) = (black_box(&mut to.0[..]), black_box(&from.0[..]));
    count(|| {
        to.copy_from_slice(from);
        black_box(&mut *to);
    })
}

/// What a sampling WRITE and READ returned, stored where the measuring function cannot see
/// (so each result is stored to memory before the closing counter read).
type SamplingResults = (Result<(), WriteError>, Result<Sample, ReadError>);

/// WRITE_SAMPLING_MESSAGE with the writer's time, then READ_SAMPLING_MESSAGE into `out` with
/// the reader's time: the count and what the read returned.
#[inline(never)]
fn sampling_write_read(
    writer: &mut Writer,
    reader: &Reader,
    message: &Message,
    out: &mut Message,
    results: &mut SamplingResults,
) -> (u64, Result<Sample, &'static str>) {
    let (writer, reader, results) = (black_box(writer), black_box(reader), black_box(results));
    let (message, out) = (black_box(&message.0[..]), black_box(&mut out.0[..]));
    let n = count(|| {
        // Results to memory the counter read cannot be moved above (it may read any memory).
        results.0 = writer.write(message, bm_runtime::counter());
        results.1 = reader.read(out, bm_runtime::counter);
    });
    let result = match *results {
        (Ok(()), Ok(sample)) => Ok(sample),
        (Err(_), _) => Err("the sampling write failed"),
        (_, Err(_)) => Err("the sampling read failed"),
    };
    (n, result)
}

/// SEND_QUEUING_MESSAGE, the receiver's doorbell through the sender's port `port`, then
/// RECEIVE_QUEUING_MESSAGE into `out`: the count and what the receive returned.
#[inline(never)]
fn queuing_send_receive(
    sender: &mut Sender,
    port: u64,
    receiver: &mut Receiver,
    message: &Message,
    out: &mut Message,
) -> (u64, Result<Received, &'static str>) {
    let (sender, receiver, port) = (black_box(sender), black_box(receiver), black_box(port));
    let (message, out) = (black_box(&message.0[..]), black_box(&mut out.0[..]));
    let (mut sent, mut rang, mut received) =
        (Err(SendError::ZeroLength), Ok(()), Err(ReceiveError::Empty));
    let (mut receiver_waits, mut sender_waits) = (true, true);
    let n = count(|| {
        sent = sender.send(message);
        receiver_waits = sender.receiver_waiting();
        rang = doorbell(port);
        received = receiver.receive(out);
        sender_waits = receiver.sender_waiting();
        black_box((&sent, &receiver_waits, &rang, &received, &sender_waits));
    });
    if receiver_waits || sender_waits {
        return (n, Err("a side of the queue says it waits"));
    }
    let result = match (sent, rang, received) {
        (Ok(()), Ok(()), Ok(r)) => Ok(r),
        (Err(_), _, _) => Err("the queuing send failed"),
        (_, Err(_), _) => Err("the doorbell hypercall failed"),
        (_, _, Err(_)) => Err("the queuing receive failed"),
    };
    (n, result)
}

type Services = Apex<OnPkernel, PkernelBuffers>;

/// WRITE_SAMPLING_MESSAGE then READ_SAMPLING_MESSAGE through the APEX services.
#[inline(never)]
fn apex_sampling_write_read(
    apex: &mut Services,
    ids: (SamplingPortId, SamplingPortId),
    message: &Message,
    out: &mut Message,
) -> (u64, Result<usize, &'static str>) {
    let (apex, ids) = (black_box(apex), black_box(ids));
    let (message, out) = (black_box(&message.0[..]), black_box(&mut out.0[..]));
    let (mut written, mut read) = (Ok(()), Err(ReturnCode::NoAction));
    let n = count(|| {
        written = apex.write_sampling_message(ids.0, message);
        read = apex.read_sampling_message(ids.1, out);
        black_box((&written, &read));
    });
    match (written, read) {
        (Ok(()), Ok(m)) => (n, Ok(m.length)),
        (Err(_), _) => (n, Err("WRITE_SAMPLING_MESSAGE failed")),
        (_, Err(_)) => (n, Err("READ_SAMPLING_MESSAGE failed")),
    }
}

/// SEND_QUEUING_MESSAGE then RECEIVE_QUEUING_MESSAGE, zero timeouts, through the APEX
/// services.
#[inline(never)]
fn apex_queuing_send_receive(
    apex: &mut Services,
    ids: (QueuingPortId, QueuingPortId),
    message: &Message,
    out: &mut Message,
) -> (u64, Result<usize, &'static str>) {
    let (apex, ids) = (black_box(apex), black_box(ids));
    let (message, out) = (black_box(&message.0[..]), black_box(&mut out.0[..]));
    let (mut sent, mut received) = (Ok(()), Err(ReturnCode::NoAction));
    let n = count(|| {
        sent = apex.send_queuing_message(ids.0, message, 0);
        received = apex.receive_queuing_message(ids.1, 0, out);
        black_box((&sent, &received));
    });
    match (sent, received) {
        (Ok(()), Ok(m)) => (n, Ok(m.length)),
        (Err(_), _) => (n, Err("SEND_QUEUING_MESSAGE failed")),
        (_, Err(_)) => (n, Err("RECEIVE_QUEUING_MESSAGE failed")),
    }
}

/// The benchmark's four ports, and the index of the queuing source (for its doorbell).
struct Ports<'a> {
    sample_out: Port<'a>,
    sample_in: Port<'a>,
    queue_out: Port<'a>,
    queue_in: Port<'a>,
    queue_out_index: u64,
    /// The destination's configured refresh period and the queue's depth, as CREATE must
    /// say them.
    sample_in_refresh_ns: i64,
    queue_depth: u32,
}

impl<'a> Ports<'a> {
    fn find(info: &InfoPage<'a>) -> Result<Self, &'static str> {
        let port = |name, kind: &str, direction| {
            info.port(name)
                .filter(|p| p.kind.name() == kind && p.direction == direction)
                .filter(|p| p.max_message_size as usize == MESSAGE)
                .ok_or("the configuration lacks a port this benchmark needs")
        };
        let sample_in = port("sample_in", "sampling", Direction::Destination)?;
        let queue_out = port("queue_out", "queuing", Direction::Source)?;
        let PortKind::Sampling { refresh } = sample_in.kind else {
            return Err("sample_in is not a sampling port");
        };
        let PortKind::Queuing { max_messages, .. } = queue_out.kind else {
            return Err("queue_out is not a queuing port");
        };
        Ok(Self {
            sample_out: port("sample_out", "sampling", Direction::Source)?,
            sample_in,
            queue_out,
            queue_in: port("queue_in", "queuing", Direction::Destination)?,
            queue_out_index: info
                .ports()
                .position(|p| p.name == "queue_out")
                .ok_or("no queue_out port")? as u64,
            sample_in_refresh_ns: refresh.map_or(0, |t| t.ns as i64),
            queue_depth: max_messages,
        })
    }
}

/// The four protocol ends over the buffers the information page describes.
fn ends(p: &Ports<'_>) -> Result<(Writer, Reader, Sender, Receiver), &'static str> {
    let words = |size: u64| (size / 8) as usize;
    let (Some(queue_out_ack), Some(queue_in_ack)) = (p.queue_out.ack, p.queue_in.ack) else {
        return Err("a queuing port without an acknowledge buffer");
    };
    let depth = |port: &Port<'_>| match port.kind {
        PortKind::Queuing { max_messages, .. } => max_messages as usize,
        PortKind::Sampling { .. } => 0,
    };
    let refresh = match p.sample_in.kind {
        PortKind::Sampling { refresh } => refresh.map_or(u64::MAX, |t| t.ticks),
        PortKind::Queuing { .. } => 0,
    };
    // SAFETY: the kernel maps every buffer of this partition's ports at the IPA its
    // information page gives, page aligned and `size` bytes long, for the partition's whole
    // life: read-write the buffers this partition's end writes (a source's data buffer, a
    // destination's acknowledge buffer), read-only the others. This runtime never turns the
    // MMU on, so the IPA is the address. Each buffer is reached only through the views built
    // here, which make only aligned 64-bit atomic accesses; its other mapping (the other end
    // of the channel, also this partition) is one of these views too.
    let (sample_out, sample_in, queue_out_data, queue_out_ack, queue_in_data, queue_in_ack) = unsafe {
        (
            OwnBuffer::from_raw(
                p.sample_out.data.ipa as *mut u64,
                words(p.sample_out.data.size),
            ),
            PeerBuffer::from_raw(
                p.sample_in.data.ipa as *const u64,
                words(p.sample_in.data.size),
            ),
            OwnBuffer::from_raw(
                p.queue_out.data.ipa as *mut u64,
                words(p.queue_out.data.size),
            ),
            PeerBuffer::from_raw(queue_out_ack.ipa as *const u64, words(queue_out_ack.size)),
            PeerBuffer::from_raw(
                p.queue_in.data.ipa as *const u64,
                words(p.queue_in.data.size),
            ),
            OwnBuffer::from_raw(queue_in_ack.ipa as *mut u64, words(queue_in_ack.size)),
        )
    };
    let size = |port: &Port<'_>| port.max_message_size as usize;
    let config = "a port's buffers do not fit its sizes";
    Ok((
        SamplingWriter::new(sample_out, size(&p.sample_out)).map_err(|_| config)?,
        SamplingReader::new(sample_in, size(&p.sample_in), refresh).map_err(|_| config)?,
        QueuingSender::new(
            queue_out_data,
            queue_out_ack,
            size(&p.queue_out),
            depth(&p.queue_out),
        )
        .map_err(|_| config)?,
        QueuingReceiver::new(
            queue_in_data,
            queue_in_ack,
            size(&p.queue_in),
            depth(&p.queue_in),
        )
        .map_err(|_| config)?,
    ))
}

/// The minimum and maximum of `RUNS` counts of `run(i)`, which returns its count or an error.
fn runs(mut run: impl FnMut(u8) -> Result<u64, &'static str>) -> Result<(u64, u64), &'static str> {
    let mut min = u64::MAX;
    let mut max = 0;
    for i in 0..RUNS {
        let n = run(i as u8)?;
        min = min.min(n);
        max = max.max(n);
    }
    Ok((min, max))
}

fn bench() -> Result<(), &'static str> {
    let info = bm_runtime::info().map_err(|_| "the information page was refused")?;
    let ports = Ports::find(&info)?;
    let (mut writer, reader, mut sender, mut receiver) = ends(&ports)?;
    let mut message = Message([0; MESSAGE]);
    let mut out = Message([0; MESSAGE]);
    let bare = runs(|_| Ok(count(|| ())))?.0;

    let memcpy = runs(|i| {
        message.0.fill(i);
        let n = memcpy_64(&mut out, &message);
        if out.0 != message.0 {
            return Err("memcpy copied the wrong bytes");
        }
        Ok(n)
    })?;

    let sampling = runs(|i| {
        message.0.fill(i ^ 0x5A);
        let mut results = (Err(WriteError::ZeroLength), Err(ReadError::Empty));
        let (n, sample) =
            sampling_write_read(&mut writer, &reader, &message, &mut out, &mut results);
        if sample?.length != MESSAGE || out.0 != message.0 {
            return Err("the sampling port did not return the message written");
        }
        Ok(n)
    })?;

    let queuing = runs(|i| {
        message.0.fill(i ^ 0xA5);
        let (n, received) = queuing_send_receive(
            &mut sender,
            ports.queue_out_index,
            &mut receiver,
            &message,
            &mut out,
        );
        if received?.length != MESSAGE || out.0 != message.0 {
            return Err("the queuing port did not return the message sent");
        }
        Ok(n)
    })?;

    // The same through the APEX services, over the same buffers: the protocol ends above are
    // not used again, and the ports created here continue from the counters the buffers hold.
    let mut apex = Services::on_pkernel(info);
    let size = MESSAGE as u32;
    let config = "an APEX port could not be created";
    let sampling_ids = (
        apex.create_sampling_port("sample_out", size, Direction::Source, 0)
            .map_err(|_| config)?,
        apex.create_sampling_port(
            "sample_in",
            size,
            Direction::Destination,
            ports.sample_in_refresh_ns,
        )
        .map_err(|_| config)?,
    );
    let queuing_ids = (
        apex.create_queuing_port(
            "queue_out",
            size,
            ports.queue_depth,
            Direction::Source,
            QueuingDiscipline::Fifo,
        )
        .map_err(|_| config)?,
        apex.create_queuing_port(
            "queue_in",
            size,
            ports.queue_depth,
            Direction::Destination,
            QueuingDiscipline::Fifo,
        )
        .map_err(|_| config)?,
    );
    let apex_sampling = runs(|i| {
        message.0.fill(i ^ 0x3C);
        let (n, length) = apex_sampling_write_read(&mut apex, sampling_ids, &message, &mut out);
        if length? != MESSAGE || out.0 != message.0 {
            return Err("READ_SAMPLING_MESSAGE did not return the message written");
        }
        Ok(n)
    })?;
    let apex_queuing = runs(|i| {
        message.0.fill(i ^ 0xC3);
        let (n, length) = apex_queuing_send_receive(&mut apex, queuing_ids, &message, &mut out);
        if length? != MESSAGE || out.0 != message.0 {
            return Err("RECEIVE_QUEUING_MESSAGE did not return the message sent");
        }
        Ok(n)
    })?;

    for (name, (min, max)) in [
        ("memcpy_64", memcpy),
        ("sampling_write_read", sampling),
        ("queuing_send_receive", queuing),
        ("apex_sampling_write_read", apex_sampling),
        ("apex_queuing_send_receive", apex_queuing),
    ] {
        if min != max {
            println!("bench {name} varies: {min} to {max}");
            return Err("a figure varied between runs");
        }
        println!("bench {name} {}", min - bare);
    }
    println!("bench ports_counter_read_pair {bare}");
    Ok(())
}

fn main(_boot: BootInfo) -> ! {
    if let Err(error) = bench() {
        println!("port benchmark failed: {error}");
        partition_stop(1)
    }
    let _ = module_shutdown(0);
    partition_stop(1)
}
