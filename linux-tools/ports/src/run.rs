//! The operations: each command against the partition's information page and its ports'
//! buffers, through apex-api's protocols, as the APEX services (`apex_api::apex`) do it for
//! a bare-metal partition, with two differences that come from running in Linux user space:
//!
//! - A doorbell is a store to the doorbell register ([`Platform::ring`]), not a hypercall.
//! - A receive that may wait waits on its port's doorbell line ([`Platform::doorbell_line`]:
//!   the port's GPIO line, whose rising edge is the doorbell's interrupt) rather than in
//!   the `Wait` hypercall. With the line requested, it says it is waiting (`set_waiting`),
//!   so that its sender rings, and looks at the queue once more before each wait: a message
//!   sent after that look rings the doorbell, an event on the line. Without a line it polls
//!   the queue every [`POLL_INTERVAL`](crate::POLL_INTERVAL) until the timeout, and then
//!   never says it is waiting: no doorbell could wake it, so none is rung for it.
//!
//! Every invocation starts afresh from the counters the buffers hold (the protocols'
//! constructors read them back), so one `ports send` after another continues the queue.

use std::io::Write;

use apex_api::info::{INFO_PAGE_IPA, INFO_PAGE_SIZE, InfoPage, Port, PortKind};
use apex_api::ports::queuing::{QueuingReceiver, QueuingSender, ReceiveError, SendError};
use apex_api::ports::sampling::{ReadError, SamplingReader, SamplingWriter, Validity, WriteError};
use apex_api::ports::{ConfigError, SharedWords};

use crate::cli::{Command, USAGE};
use crate::show;
use crate::{DoorbellLine, Error, Platform, ReadOnlyMapping, ReadWriteMapping};

/// Runs `command`: what it prints goes to `out`, warnings (a doorbell that could not be
/// rung after a message moved) and notes (a receive that polls, having no doorbell line)
/// to `warnings`.
pub fn run<P: Platform>(
    command: &Command,
    platform: &mut P,
    out: &mut dyn Write,
    warnings: &mut dyn Write,
) -> Result<(), Error> {
    if *command == Command::Help {
        return print(out, USAGE.trim_end());
    }
    let page = read_info_page(platform)?;
    let info = InfoPage::parse(&page.0).map_err(Error::BadInfoPage)?;
    let mut ctx = Context {
        info,
        platform,
        out,
        warnings,
    };
    match command {
        Command::Help => Ok(()),
        Command::List => ctx.print(show::port_table(&ctx.info).trim_end()),
        Command::Read { port } => ctx.read(port),
        Command::Write { port, message } => ctx.write(port, message),
        Command::Send { port, message } => ctx.send(port, message),
        Command::Receive { port, timeout_ms } => ctx.receive(port, *timeout_ms),
        Command::Clear { port } => ctx.clear(port),
    }
}

/// A copy of the information page, aligned so that it is copied by whole words.
#[repr(align(8))]
struct PageCopy([u8; INFO_PAGE_SIZE]);

/// Copies the information page out of its mapping with the protocols' aligned 64-bit loads
/// (Linux maps it as Device memory, where nothing else is allowed), then lets the mapping go.
fn read_info_page<P: Platform>(platform: &mut P) -> Result<PageCopy, Error> {
    let mapping = platform
        .map_read_only(INFO_PAGE_IPA, INFO_PAGE_SIZE as u64)
        .map_err(Error::NoInfoPage)?;
    let mut page = PageCopy([0; INFO_PAGE_SIZE]);
    mapping.words().load_bytes(0, &mut page.0);
    Ok(page)
}

fn print(out: &mut dyn Write, text: &str) -> Result<(), Error> {
    writeln!(out, "{text}").map_err(|e| Error::Output(e.to_string()))
}

/// Kind and direction, as the checks name them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    SamplingSource,
    SamplingDestination,
    QueuingSource,
    QueuingDestination,
}

impl Use {
    fn of(port: &Port<'_>) -> Self {
        use apex_api::info::Direction::{Destination, Source};
        match (port.kind, port.direction) {
            (PortKind::Sampling { .. }, Source) => Self::SamplingSource,
            (PortKind::Sampling { .. }, Destination) => Self::SamplingDestination,
            (PortKind::Queuing { .. }, Source) => Self::QueuingSource,
            (PortKind::Queuing { .. }, Destination) => Self::QueuingDestination,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::SamplingSource => "sampling source",
            Self::SamplingDestination => "sampling destination",
            Self::QueuingSource => "queuing source",
            Self::QueuingDestination => "queuing destination",
        }
    }

    /// The command that works on such a port (`clear` too works on a queuing destination).
    fn command(self) -> &'static str {
        match self {
            Self::SamplingSource => "write",
            Self::SamplingDestination => "read",
            Self::QueuingSource => "send",
            Self::QueuingDestination => "receive",
        }
    }
}

/// How a receive waits for a message.
enum Wait<L> {
    /// On the port's doorbell line, with the receiver saying it waits.
    Line(L),
    /// Sleeping [`POLL_INTERVAL`](crate::POLL_INTERVAL) between two looks.
    Poll,
}

/// One command's view of the partition.
struct Context<'i, 'p, P> {
    info: InfoPage<'i>,
    platform: &'p mut P,
    out: &'p mut dyn Write,
    warnings: &'p mut dyn Write,
}

/// A port the command may use: its index (doorbell number), description and sizes.
struct Found<'i> {
    index: usize,
    port: Port<'i>,
    max: usize,
}

impl<'i, P: Platform> Context<'i, '_, P> {
    fn print(&mut self, text: &str) -> Result<(), Error> {
        print(self.out, text)
    }

    /// The port `name`, which must be used as `wanted`.
    fn port(&self, name: &str, wanted: Use) -> Result<Found<'i>, Error> {
        let Some((index, port)) = self.info.ports().enumerate().find(|(_, p)| p.name == name)
        else {
            return Err(Error::UnknownPort {
                port: name.to_owned(),
                known: self.info.ports().map(|p| p.name.to_owned()).collect(),
            });
        };
        let is = Use::of(&port);
        if is != wanted {
            return Err(Error::WrongPort {
                port: name.to_owned(),
                is: is.name().to_owned(),
                needs: wanted.name(),
                instead: is.command(),
            });
        }
        Ok(Found {
            index,
            port,
            max: port.max_message_size as usize,
        })
    }

    /// Checks a message against the port's size before anything is mapped.
    fn check_message(found: &Found<'_>, message: &[u8]) -> Result<(), Error> {
        let port = found.port.name.to_owned();
        if message.is_empty() {
            Err(Error::EmptyMessage { port })
        } else if message.len() > found.max {
            Err(Error::TooLong {
                port,
                len: message.len(),
                max: found.max,
            })
        } else {
            Ok(())
        }
    }

    fn map_read_only(
        &mut self,
        port: &Port<'_>,
        ipa: u64,
        size: u64,
    ) -> Result<P::ReadOnly, Error> {
        self.platform
            .map_read_only(ipa, size)
            .map_err(|why| Error::Map {
                port: port.name.to_owned(),
                why,
            })
    }

    fn map_read_write(
        &mut self,
        port: &Port<'_>,
        ipa: u64,
        size: u64,
    ) -> Result<P::ReadWrite, Error> {
        self.platform
            .map_read_write(ipa, size)
            .map_err(|why| Error::Map {
                port: port.name.to_owned(),
                why,
            })
    }

    /// A queuing port's acknowledge buffer (the information page gives one for every
    /// queuing port; a page without it is refused as a bad channel).
    fn ack(found: &Found<'_>) -> Result<apex_api::info::Buffer, Error> {
        found.port.ack.ok_or_else(|| Error::BadBuffers {
            port: found.port.name.to_owned(),
            why: ConfigError::RegionTooSmall,
        })
    }

    fn depth(found: &Found<'_>) -> usize {
        match found.port.kind {
            PortKind::Queuing { max_messages, .. } => max_messages as usize,
            PortKind::Sampling { .. } => 0,
        }
    }

    fn bad_buffers(found: &Found<'_>) -> impl Fn(ConfigError) -> Error {
        let port = found.port.name.to_owned();
        move |why| Error::BadBuffers {
            port: port.clone(),
            why,
        }
    }

    /// Rings the peer of port `found` (after a message moved); a failure is a warning, since
    /// the message has moved and the peer sees it when it next looks.
    fn ring(&mut self, found: &Found<'_>) {
        if let Err(why) = self.platform.ring(found.index) {
            let _ = writeln!(
                self.warnings,
                "ports: warning: port '{}': its peer's doorbell could not be rung ({why}); \
                 the peer sees the change when it next looks",
                found.port.name
            );
        }
    }

    /// A note on `warnings`: what the command does otherwise than it would like to.
    fn note(&mut self, text: &str) {
        let _ = writeln!(self.warnings, "ports: {text}");
    }

    /// `ports read`: READ_SAMPLING_MESSAGE.
    fn read(&mut self, name: &str) -> Result<(), Error> {
        let found = self.port(name, Use::SamplingDestination)?;
        let refresh_ticks = match found.port.kind {
            PortKind::Sampling { refresh: Some(r) } => r.ticks,
            // No refresh period: a message never becomes invalid (as the APEX services).
            _ => u64::MAX,
        };
        let data = found.port.data;
        let mapping = self.map_read_only(&found.port, data.ipa, data.size)?;
        let reader = SamplingReader::new(mapping.words(), found.max, refresh_ticks)
            .map_err(Self::bad_buffers(&found))?;
        let mut buffer = vec![0u8; found.max];
        let platform = &*self.platform;
        let sample = reader
            .read(&mut buffer, || platform.now())
            .map_err(|e| read_error(name, e))?;
        let validity = match (sample.validity, found.port.kind) {
            (Validity::Valid, _) => "valid".to_owned(),
            (Validity::Invalid, PortKind::Sampling { refresh: Some(r) }) => format!(
                "invalid (older than its refresh period, {})",
                show::duration(r.ns)
            ),
            (Validity::Invalid, _) => "invalid".to_owned(),
        };
        let text = show::message(&buffer[..sample.length]);
        self.print(&text)?;
        let age = show::micros(sample.age, self.info.counter_hz());
        self.print(&format!("age {age} us, {validity}"))
    }

    /// `ports write`: WRITE_SAMPLING_MESSAGE, stamped with the system counter.
    fn write(&mut self, name: &str, message: &[u8]) -> Result<(), Error> {
        let found = self.port(name, Use::SamplingSource)?;
        Self::check_message(&found, message)?;
        let data = found.port.data;
        let mapping = self.map_read_write(&found.port, data.ipa, data.size)?;
        let mut writer =
            SamplingWriter::new(mapping.words(), found.max).map_err(Self::bad_buffers(&found))?;
        writer
            .write(message, self.platform.now())
            .map_err(|e| match e {
                WriteError::ZeroLength | WriteError::TooLong => {
                    Error::Internal("a message checked against the port was refused")
                }
            })?;
        self.print(&format!("wrote {} bytes to '{name}'", message.len()))
    }

    /// `ports send`: SEND_QUEUING_MESSAGE with a zero timeout (a full queue refuses the
    /// message and counts an overflow), then the receiver's doorbell if it waits.
    fn send(&mut self, name: &str, message: &[u8]) -> Result<(), Error> {
        let found = self.port(name, Use::QueuingSource)?;
        Self::check_message(&found, message)?;
        let (data, ack) = (found.port.data, Self::ack(&found)?);
        let data = self.map_read_write(&found.port, data.ipa, data.size)?;
        let ack = self.map_read_only(&found.port, ack.ipa, ack.size)?;
        let depth = Self::depth(&found);
        let mut sender = QueuingSender::new(data.words(), ack.words(), found.max, depth)
            .map_err(Self::bad_buffers(&found))?;
        match sender.send(message) {
            Ok(()) => {}
            Err(SendError::Full) => {
                return Err(Error::QueueFull {
                    port: name.to_owned(),
                    depth: depth as u32,
                });
            }
            Err(SendError::Corrupt) => {
                return Err(Error::Corrupt {
                    port: name.to_owned(),
                    what: "its acknowledge buffer counts more messages received than were sent",
                });
            }
            Err(SendError::ZeroLength | SendError::TooLong) => {
                return Err(Error::Internal(
                    "a message checked against the port was refused",
                ));
            }
        }
        // A receiver blocked on the empty queue looks again.
        let waiting = sender.receiver_waiting();
        if waiting {
            self.ring(&found);
        }
        let queued = sender
            .status()
            .map(|s| format!(" (queue: {} of {depth})", s.messages))
            .unwrap_or_default();
        let woke = if waiting {
            "; its receiver was waiting: doorbell rung"
        } else {
            ""
        };
        self.print(&format!(
            "sent {} bytes to '{name}'{queued}{woke}",
            message.len()
        ))
    }

    /// `ports receive`: RECEIVE_QUEUING_MESSAGE, waiting until `timeout_ms` (0: one look) on
    /// the port's doorbell line, or polling without one. A message that comes with an
    /// overflow is printed, then the overflow is reported, as ARINC 653 returns such a
    /// message with INVALID_CONFIG.
    fn receive(&mut self, name: &str, timeout_ms: u64) -> Result<(), Error> {
        let found = self.port(name, Use::QueuingDestination)?;
        let (data, ack) = (found.port.data, Self::ack(&found)?);
        let data = self.map_read_only(&found.port, data.ipa, data.size)?;
        let ack = self.map_read_write(&found.port, ack.ipa, ack.size)?;
        let mut receiver =
            QueuingReceiver::new(data.words(), ack.words(), found.max, Self::depth(&found))
                .map_err(Self::bad_buffers(&found))?;
        let hz = self.info.counter_hz();
        let deadline = self
            .platform
            .now()
            .saturating_add(show::ticks_in_ms(timeout_ms, hz));
        let mut buffer = vec![0u8; found.max];
        // How it waits, decided the first time it finds the queue empty with time left (a
        // receive that needs no wait opens nothing).
        let mut wait: Option<Wait<P::Line>> = None;
        let result = loop {
            match receiver.receive(&mut buffer) {
                Ok(received) => break Ok(received),
                Err(ReceiveError::Empty) if timeout_ms == 0 => {
                    break Err(Error::QueueEmpty {
                        port: name.to_owned(),
                    });
                }
                Err(ReceiveError::Empty) => {
                    let now = self.platform.now();
                    if now >= deadline {
                        break Err(Error::TimedOut {
                            port: name.to_owned(),
                            timeout_ms,
                        });
                    }
                    match &mut wait {
                        None => {
                            // The line first, then the flag, then one more look (the next
                            // turn) before any wait: a message sent after that look finds
                            // the flag, so its sender rings, an edge on the requested line.
                            wait = Some(match self.platform.doorbell_line(name) {
                                Ok(line) => {
                                    receiver.set_waiting(true);
                                    Wait::Line(line)
                                }
                                Err(why) => {
                                    self.note(&format!(
                                        "no doorbell line for '{name}' ({why}): polling"
                                    ));
                                    Wait::Poll
                                }
                            });
                        }
                        Some(Wait::Line(line)) => {
                            let left = show::ticks_as_duration(deadline - now, hz);
                            if let Err(why) = line.wait(left) {
                                receiver.set_waiting(false);
                                self.note(&format!(
                                    "cannot wait on the doorbell line of '{name}' ({why}): polling"
                                ));
                                wait = Some(Wait::Poll);
                            }
                        }
                        Some(Wait::Poll) => self.platform.sleep(crate::POLL_INTERVAL),
                    }
                }
                Err(ReceiveError::Corrupt) => {
                    break Err(Error::Corrupt {
                        port: name.to_owned(),
                        what: "its data buffer holds more messages than the queue has slots, \
                               or a message length out of range",
                    });
                }
                Err(ReceiveError::BufferTooSmall) => {
                    break Err(Error::Internal(
                        "the receive buffer is smaller than the port",
                    ));
                }
            }
        };
        if let Some(Wait::Line(line)) = wait {
            receiver.set_waiting(false);
            drop(line);
        }
        let received = result?;
        // A sender blocked on the full queue looks again.
        if receiver.sender_waiting() {
            self.ring(&found);
        }
        self.print(&show::message(&buffer[..received.length]))?;
        if received.overflow {
            self.print(
                "overflow: the sender had messages refused (queue full) since the last receive \
                 (ARINC 653: INVALID_CONFIG)",
            )?;
        }
        Ok(())
    }

    /// `ports clear`: CLEAR_QUEUING_PORT, then the sender's doorbell if it waits.
    fn clear(&mut self, name: &str) -> Result<(), Error> {
        let found = self.port(name, Use::QueuingDestination)?;
        let (data, ack) = (found.port.data, Self::ack(&found)?);
        let data = self.map_read_only(&found.port, data.ipa, data.size)?;
        let ack = self.map_read_write(&found.port, ack.ipa, ack.size)?;
        let mut receiver =
            QueuingReceiver::new(data.words(), ack.words(), found.max, Self::depth(&found))
                .map_err(Self::bad_buffers(&found))?;
        // How many are discarded, if the sender's counters make sense (clearing works
        // whatever they hold).
        let discarded = receiver.status().map(|s| s.messages);
        receiver.clear();
        if receiver.sender_waiting() {
            self.ring(&found);
        }
        match discarded {
            Ok(n) => self.print(&format!("cleared '{name}': {n} messages discarded")),
            Err(_) => self.print(&format!("cleared '{name}'")),
        }
    }
}

fn read_error(port: &str, error: ReadError) -> Error {
    let port = port.to_owned();
    match error {
        ReadError::Empty => Error::NoMessage { port },
        ReadError::Unstable => Error::Unstable { port },
        ReadError::Corrupt => Error::Corrupt {
            port,
            what: "a message length out of range, or a timestamp in the future",
        },
        ReadError::BufferTooSmall => Error::Internal("the read buffer is smaller than the port"),
    }
}
