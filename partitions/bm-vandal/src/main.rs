//! A destination that writes to its read-only view of a channel buffer. It creates its
//! sampling destination port `samples` through the APEX services, reads it until it has seen
//! [`MESSAGES_BEFORE`] different messages (printing `read <n> <VALID|INVALID>`; the message's
//! first 8 bytes are its number, as `bm-sampling` writes them), then stores a zero into the
//! channel's sequence word, at the buffer address its information page gives:
//!
//! `writing 0 to my read-only view of 'samples' at <ipa> (counter <t>)`
//!
//! The kernel maps a destination's view read-only, so the store is a stage-2 permission fault
//! and the kernel's health monitor stops this partition there; the line after the store must
//! never appear. Had the store gone through, every reader of the channel would have found the
//! port empty until the writer's next message.
#![no_std]
#![no_main]

use bm_runtime::apex_api::apex::{Apex, SamplingPortId};
use bm_runtime::apex_api::call::{partition_stop, set_partition_mode};
use bm_runtime::apex_api::info::PortKind;
use bm_runtime::apex_api::partition::OperatingMode;
use bm_runtime::apex_api::ports::Validity;
use bm_runtime::{BootInfo, counter, println};

bm_runtime::entry_initialising!(main);

/// Different messages read before the store.
const MESSAGES_BEFORE: u32 = 3;
/// Pause between reads.
const READ_PERIOD_NS: i64 = 5_000_000;
/// Receive buffer: the port's maximum message size must fit.
const BUFFER: usize = 256;

fn fail(what: core::fmt::Arguments) -> ! {
    println!("FAILED: {what}");
    partition_stop(1)
}

fn main(_boot: BootInfo) -> ! {
    let info =
        bm_runtime::info().unwrap_or_else(|e| fail(format_args!("information page refused: {e}")));
    let Some(port) = info.port("samples") else {
        fail(format_args!("no port 'samples'"))
    };
    let PortKind::Sampling {
        refresh: Some(refresh),
    } = port.kind
    else {
        fail(format_args!("'samples' is not a sampling destination"))
    };
    if port.max_message_size as usize > BUFFER {
        fail(format_args!("'samples' takes more than {BUFFER} bytes"));
    }
    let mut apex = Apex::on_pkernel(info);
    let id: SamplingPortId = apex
        .create_sampling_port(
            "samples",
            port.max_message_size,
            port.direction,
            refresh.ns as i64,
        )
        .unwrap_or_else(|c| fail(format_args!("CREATE_SAMPLING_PORT: {}", c.name())));
    if let Err(code) = set_partition_mode(OperatingMode::Normal) {
        fail(format_args!("SET_PARTITION_MODE NORMAL: {}", code.name()));
    }
    let mut buffer = [0u8; BUFFER];
    let (mut seen, mut last) = (0, 0);
    while seen < MESSAGES_BEFORE {
        if let Ok(m) = apex.read_sampling_message(id, &mut buffer)
            && m.length >= 8
        {
            let mut word = [0u8; 8];
            word.copy_from_slice(&buffer[..8]);
            let n = u64::from_le_bytes(word);
            if n != last {
                let validity = match m.validity {
                    Validity::Valid => "VALID",
                    Validity::Invalid => "INVALID",
                };
                println!("read {n} {validity}");
                (seen, last) = (seen + 1, n);
            }
        }
        let _ = apex.timed_wait(READ_PERIOD_NS);
    }
    let target = port.data.ipa;
    println!(
        "writing 0 to my read-only view of 'samples' at {target:#x} (counter {})",
        counter()
    );
    // SAFETY (test payload): the address is the channel buffer the kernel maps into this
    // partition read-only (it is the destination); the store is meant to fault at stage 2,
    // and the kernel stops the partition before it completes.
    unsafe { core::ptr::write_volatile(target as *mut u64, 0) };
    println!("still running after writing to a read-only buffer: isolation is broken");
    loop {
        let _ = apex.timed_wait(1_000_000_000);
    }
}
