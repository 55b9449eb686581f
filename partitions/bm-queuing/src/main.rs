//! Queuing-port partitions for the HIL port tests, through the APEX services only
//! (`apex_api::apex`). The role comes from the configuration: the partition with a port
//! `to_pong` is `ping`, the one with `to_ping` is `pong`. Ports (each end names its own):
//! `ping.to_pong` → `pong.from_ping` and `pong.to_ping` → `ping.from_pong` carry the exchange,
//! `ping.ctl_out` → `pong.ctl_in` tells `pong` when `ping` has done its part of a step, so no
//! step depends on how fast either runs.
//!
//! The script, with `depth` the configured depth of `to_pong`:
//!
//! 1. ROUNDS round trips: `ping` sends `ping <k>` and receives with a timeout (blocking on
//!    its doorbell); `pong`, blocked in a receive with no timeout, answers `pong <k>`.
//! 2. A receive that times out: `ping` sends `quiet`, which `pong` does not answer, and its
//!    receive gets TIMED_OUT; `pong` meanwhile receives on `ctl_in`, where nothing comes yet,
//!    and gets TIMED_OUT too.
//! 3. Overflow and CLEAR: `ping` sends `hold`, `pong` answers `holding` and waits on `ctl_in`;
//!    `ping` fills the queue with zero-timeout sends (`depth` NO_ERROR, then NOT_AVAILABLE),
//!    a send with a timeout to the full queue gets TIMED_OUT, then it sends `filled` on
//!    `ctl_out`. `pong` receives the oldest message with INVALID_CONFIG (the overflow reported
//!    with it), sees `depth - 1` queued, clears the port, sees 0 queued, gets NOT_AVAILABLE
//!    from a zero-timeout receive, and answers `cleared`.
//! 4. One more round trip: the cleared queue works, and the overflow is not reported again.
//! 5. A blocked send woken by the receiver: `ping` fills the queue again, says `refilled` on
//!    `ctl_out` and sends one more message with no timeout, which blocks; `pong` waits
//!    150 ms, then receives all `depth + 1` messages in order (its first receive rings
//!    `ping`'s doorbell, which wakes the blocked send) and answers `got <depth + 1>`.
//!
//! Every call prints one line: `send <port> '<text>' (timeout <t>): <code> after <us> us`,
//! `receive <port> (timeout <t>): <code> ['<text>'] after <us> us`,
//! `status <port>: <n> of <depth> messages`, `clear <port>: <code>`, with `<t>` `0`,
//! `INFINITE` or `<us> us`, then a pause of [`PACE_NS`]. Then `done`.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use bm_runtime::apex_api::ReturnCode;
use bm_runtime::apex_api::apex::{
    Apex, INFINITE_TIME_VALUE, OnPkernel, PkernelBuffers, QueuingPortId,
};
use bm_runtime::apex_api::call::{partition_stop, set_partition_mode};
use bm_runtime::apex_api::info::PortKind;
use bm_runtime::apex_api::partition::OperatingMode;
use bm_runtime::{BootInfo, println};

bm_runtime::entry_initialising!(main);

type Services = Apex<OnPkernel, PkernelBuffers>;

/// Round trips of step 1.
const ROUNDS: u64 = 10;
/// How long `ping` waits for an answer: far beyond any host delay, so an answer that comes
/// at all comes in time (the test bounds the round trips much tighter).
const REPLY_TIMEOUT_NS: i64 = 1_000_000_000;
/// `ping`'s receive that `pong` never answers (step 2).
const SILENCE_TIMEOUT_NS: i64 = 30_000_000;
/// `pong`'s receive on its control port before anything is sent there (step 2).
const CONTROL_TIMEOUT_NS: i64 = 20_000_000;
/// `ping`'s send to the full queue (step 3).
const FULL_SEND_TIMEOUT_NS: i64 = 20_000_000;
/// How long `pong` lets `ping` block in its send before receiving (step 5): longer than any
/// host delay between `ping`'s two sends, so that the second one finds the queue full.
const LET_SENDER_BLOCK_NS: i64 = 150_000_000;
/// Pause after every line printed. The kernel keeps 16 lines of each partition's console
/// while the console is busy (another core printing, which a loaded host can stretch to tens
/// of milliseconds) and drops the newest beyond that; paced like this, 16 lines take more
/// than the 100 ms host tolerance of the tests, so none is lost.
const PACE_NS: i64 = 7_000_000;
/// Receive buffer: every port's maximum message size must fit.
const BUFFER: usize = 64;

fn fail(what: core::fmt::Arguments) -> ! {
    println!("FAILED: {what}");
    partition_stop(1)
}

/// A short message built on the stack.
struct Text {
    bytes: [u8; BUFFER],
    len: usize,
}

impl Text {
    fn new() -> Self {
        Self {
            bytes: [0; BUFFER],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("<not UTF-8>")
    }
}

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > BUFFER {
            return Err(core::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

macro_rules! text {
    ($($arg:tt)*) => {{
        let mut t = Text::new();
        let _ = write!(t, $($arg)*);
        t
    }};
}

/// A timeout as the lines print it.
struct Timeout(i64);

impl core::fmt::Display for Timeout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            INFINITE_TIME_VALUE => write!(f, "INFINITE"),
            0 => write!(f, "0"),
            ns => write!(f, "{} us", ns / 1000),
        }
    }
}

/// A created queuing port.
struct Port {
    id: QueuingPortId,
    name: &'static str,
    depth: u32,
}

/// The partition's services, with every call printed.
struct Peer {
    apex: Services,
}

impl Peer {
    /// Creates the configured queuing port `name` (during initialisation).
    fn create(&mut self, name: &'static str) -> Port {
        let Some(port) = self.apex.info().port(name) else {
            fail(format_args!("no port '{name}' in my configuration"))
        };
        let PortKind::Queuing {
            max_messages,
            discipline,
        } = port.kind
        else {
            fail(format_args!("port '{name}' is not a queuing port"))
        };
        if port.max_message_size as usize > BUFFER {
            fail(format_args!("port '{name}' takes more than {BUFFER} bytes"));
        }
        let id = self
            .apex
            .create_queuing_port(
                name,
                port.max_message_size,
                max_messages,
                port.direction,
                discipline,
            )
            .unwrap_or_else(|code| {
                fail(format_args!("CREATE_QUEUING_PORT {name}: {}", code.name()))
            });
        Port {
            id,
            name,
            depth: max_messages,
        }
    }

    /// After a line: see [`PACE_NS`].
    fn pace(&mut self) {
        let _ = self.apex.timed_wait(PACE_NS);
    }

    fn elapsed_us(&self, since: i64) -> i64 {
        (self.apex.get_time() - since) / 1000
    }

    fn send(&mut self, port: &Port, text: &str, timeout: i64) -> Result<(), ReturnCode> {
        let t0 = self.apex.get_time();
        let result = self
            .apex
            .send_queuing_message(port.id, text.as_bytes(), timeout);
        let us = self.elapsed_us(t0);
        let code = result.err().unwrap_or(ReturnCode::NoError);
        println!(
            "send {} '{text}' (timeout {}): {} after {us} us",
            port.name,
            Timeout(timeout),
            code.name()
        );
        self.pace();
        result
    }

    /// Receives and prints; the message's text, if one came.
    fn receive(&mut self, port: &Port, timeout: i64) -> Option<Text> {
        let mut buffer = [0u8; BUFFER];
        let t0 = self.apex.get_time();
        let result = self
            .apex
            .receive_queuing_message(port.id, timeout, &mut buffer);
        let us = self.elapsed_us(t0);
        match result {
            Ok(message) => {
                let mut text = Text::new();
                text.len = message.length.min(BUFFER);
                text.bytes[..text.len].copy_from_slice(&buffer[..text.len]);
                println!(
                    "receive {} (timeout {}): {} '{}' after {us} us",
                    port.name,
                    Timeout(timeout),
                    message.return_code().name(),
                    text.as_str()
                );
                self.pace();
                Some(text)
            }
            Err(code) => {
                println!(
                    "receive {} (timeout {}): {} after {us} us",
                    port.name,
                    Timeout(timeout),
                    code.name()
                );
                self.pace();
                None
            }
        }
    }

    /// Receives and says so if the text is not `want`.
    fn expect(&mut self, port: &Port, timeout: i64, want: &str) -> Option<Text> {
        let got = self.receive(port, timeout);
        if got.as_ref().map(Text::as_str) != Some(want) {
            println!("unexpected: wanted '{want}' on {}", port.name);
        }
        got
    }

    fn status(&mut self, port: &Port) {
        match self.apex.get_queuing_port_status(port.id) {
            Ok(s) => println!(
                "status {}: {} of {} messages",
                port.name, s.nb_message, s.max_nb_message
            ),
            Err(code) => println!("status {}: {}", port.name, code.name()),
        }
        self.pace();
    }

    fn clear(&mut self, port: &Port) {
        let code = self
            .apex
            .clear_queuing_port(port.id)
            .err()
            .unwrap_or(ReturnCode::NoError);
        println!("clear {}: {}", port.name, code.name());
        self.pace();
    }

    fn normal(&mut self) {
        if let Err(code) = set_partition_mode(OperatingMode::Normal) {
            fail(format_args!("SET_PARTITION_MODE NORMAL: {}", code.name()));
        }
    }

    fn done(&mut self) -> ! {
        println!("done");
        loop {
            let _ = self.apex.timed_wait(1_000_000_000);
        }
    }
}

fn main(_boot: BootInfo) -> ! {
    let info =
        bm_runtime::info().unwrap_or_else(|e| fail(format_args!("information page refused: {e}")));
    let is_ping = info.port("to_pong").is_some();
    let is_pong = info.port("to_ping").is_some();
    let mut peer = Peer {
        apex: Apex::on_pkernel(info),
    };
    match (is_ping, is_pong) {
        (true, false) => ping(&mut peer),
        (false, true) => pong(&mut peer),
        _ => fail(format_args!(
            "neither ping (port to_pong) nor pong (port to_ping)"
        )),
    }
}

fn ping(peer: &mut Peer) -> ! {
    let to = peer.create("to_pong");
    let from = peer.create("from_pong");
    let ctl = peer.create("ctl_out");
    peer.normal();
    let round = |peer: &mut Peer, k: u64| {
        let _ = peer.send(&to, text!("ping {k}").as_str(), 0);
        peer.expect(&from, REPLY_TIMEOUT_NS, text!("pong {k}").as_str());
    };
    // 1. Round trips.
    for k in 1..=ROUNDS {
        round(peer, k);
    }
    // 2. No answer: TIMED_OUT.
    let _ = peer.send(&to, "quiet", 0);
    peer.receive(&from, SILENCE_TIMEOUT_NS);
    // 3. Fill the queue while pong holds, then let it look.
    let _ = peer.send(&to, "hold", 0);
    peer.expect(&from, REPLY_TIMEOUT_NS, "holding");
    for i in 1..=to.depth + 1 {
        let _ = peer.send(&to, text!("fill {i}").as_str(), 0);
    }
    let _ = peer.send(
        &to,
        text!("fill {}", to.depth + 2).as_str(),
        FULL_SEND_TIMEOUT_NS,
    );
    let _ = peer.send(&ctl, "filled", 0);
    peer.expect(&from, REPLY_TIMEOUT_NS, "cleared");
    // 4. The cleared queue works.
    round(peer, ROUNDS + 1);
    // 5. Fill it again and block on one more.
    for i in 1..=to.depth {
        let _ = peer.send(&to, text!("more {i}").as_str(), 0);
    }
    let _ = peer.send(&ctl, "refilled", 0);
    let _ = peer.send(
        &to,
        text!("more {}", to.depth + 1).as_str(),
        INFINITE_TIME_VALUE,
    );
    peer.expect(
        &from,
        REPLY_TIMEOUT_NS,
        text!("got {}", to.depth + 1).as_str(),
    );
    peer.done()
}

fn pong(peer: &mut Peer) -> ! {
    let from = peer.create("from_ping");
    let to = peer.create("to_ping");
    let ctl = peer.create("ctl_in");
    peer.normal();
    // 1. Answer each ping with the same number.
    for k in 1..=ROUNDS {
        peer.expect(&from, INFINITE_TIME_VALUE, text!("ping {k}").as_str());
        let _ = peer.send(&to, text!("pong {k}").as_str(), 0);
    }
    // 2. Stay silent; nothing comes on the control port yet.
    peer.expect(&from, INFINITE_TIME_VALUE, "quiet");
    peer.receive(&ctl, CONTROL_TIMEOUT_NS);
    // 3. Hold while ping fills the queue, then look, clear, look again.
    peer.expect(&from, INFINITE_TIME_VALUE, "hold");
    let _ = peer.send(&to, "holding", 0);
    peer.expect(&ctl, INFINITE_TIME_VALUE, "filled");
    peer.receive(&from, 0);
    peer.status(&from);
    peer.clear(&from);
    peer.status(&from);
    peer.receive(&from, 0);
    let _ = peer.send(&to, "cleared", 0);
    // 4. Another round trip.
    peer.expect(
        &from,
        INFINITE_TIME_VALUE,
        text!("ping {}", ROUNDS + 1).as_str(),
    );
    let _ = peer.send(&to, text!("pong {}", ROUNDS + 1).as_str(), 0);
    // 5. Let ping block on the full queue, then take everything.
    peer.expect(&ctl, INFINITE_TIME_VALUE, "refilled");
    let _ = peer.apex.timed_wait(LET_SENDER_BLOCK_NS);
    for i in 1..=from.depth + 1 {
        peer.expect(&from, REPLY_TIMEOUT_NS, text!("more {i}").as_str());
    }
    let _ = peer.send(&to, text!("got {}", from.depth + 1).as_str(), 0);
    peer.done()
}
