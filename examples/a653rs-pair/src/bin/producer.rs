//! The producer: an a653rs partition written with a653rs' `#[partition]` macro. Its periodic
//! process publishes `frame N` on the sampling port `speed` every period, and every second
//! period sends `event K` on the queuing port `events`. It prints with ARINC 653's
//! REPORT_APPLICATION_MESSAGE. Nothing here is pkernel's except the hypervisor type the
//! macro is given and the `entry!` line that links the runtime.
#![no_std]
#![no_main]

use a653rs::prelude::PartitionExt;

a653rs_pkernel::entry!(main);

fn main() -> ! {
    producer::Partition.run()
}

/// A line of text in a fixed buffer, for REPORT_APPLICATION_MESSAGE (at most 128 bytes).
struct Text {
    buffer: [u8; 128],
    len: usize,
}

impl Text {
    fn new() -> Self {
        Self {
            buffer: [0; 128],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer[..self.len]
    }
}

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        let room = self.buffer.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `format!` into a [`Text`].
macro_rules! text {
    ($($arg:tt)*) => {{
        let mut text = Text::new();
        let _ = core::fmt::Write::write_fmt(&mut text, format_args!($($arg)*));
        text
    }};
}

#[a653rs::partition(a653rs_pkernel::PkernelHypervisor)]
mod producer {
    use core::time::Duration;

    use super::Text;

    #[sampling_out(name = "speed", msg_size = "16B")]
    struct Speed;

    #[queuing_out(name = "events", msg_count = 4, msg_size = "32B", discipline = "FIFO")]
    struct Events;

    #[start(cold)]
    fn cold_start(mut ctx: start::Context) {
        let status = ctx.get_partition_status();
        let line = text!(
            "{:?}: partition {}, period {:?}",
            status.operating_mode,
            status.identifier,
            status.period
        );
        ctx.report_application_message(line.bytes()).unwrap();
        ctx.create_speed().unwrap();
        ctx.create_events().unwrap();
        ctx.create_publisher().unwrap().start().unwrap();
    }

    #[start(warm)]
    fn warm_start(ctx: start::Context) {
        cold_start(ctx);
    }

    #[periodic(
        period = "100ms",
        time_capacity = "20ms",
        stack_size = "16KB",
        base_priority = 1,
        deadline = "Soft"
    )]
    fn publisher(ctx: publisher::Context) {
        let speed = ctx.speed.unwrap();
        let events = ctx.events.unwrap();
        let mut frame: u32 = 0;
        loop {
            frame += 1;
            let sample = text!("frame {frame}");
            let published = speed.send(sample.bytes());
            let line = if frame.is_multiple_of(2) {
                let event = text!("event {}", frame / 2);
                // Zero timeout: a full queue is NOT_AVAILABLE at once (and the consumer hears
                // of the lost message as an overflow).
                let queued = events.send(event.bytes(), SystemTime::Normal(Duration::ZERO));
                text!(
                    "frame {frame}: published {published:?}, queued event {}: {queued:?}",
                    frame / 2
                )
            } else {
                text!("frame {frame}: published {published:?}")
            };
            ctx.report_application_message(line.bytes()).unwrap();
            ctx.periodic_wait().unwrap();
        }
    }
}
