//! Reading a running QEMU's memory from the host, the way a debug probe reads a board's RAM:
//! through QEMU's machine protocol (QMP) on a Unix socket, with no help from the guest.
//!
//! QEMU is started with `-qmp unix:PATH,server=on,wait=off` (it listens, the guest starts at
//! once) and `-no-shutdown` (PSCI `SYSTEM_OFF` stops the machine instead of ending QEMU, so
//! its memory can still be read after the module ended). [`Qmp`] speaks the protocol: one
//! JSON object per line, `qmp_capabilities` first, then commands, each answered by a
//! `return` or an `error`, with asynchronous `event`s in between. [`QmpProbe`] is what a run
//! needs of it: notice that the machine powered off, stop it and read a memory range
//! (`pmemsave` to a scratch file), and make QEMU quit.
//!
//! Every wait is bounded: connecting, and each command, give up after a timeout.

use std::{
    fmt,
    io::{self, Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use crate::json::{self, Json};

/// A range of the target's physical memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRange {
    /// First byte (a physical address).
    pub address: u64,
    /// Length in bytes.
    pub size: u64,
}

/// How long one QMP command may take before the client gives up.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`QmpProbe`] keeps trying to connect before a read gives up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Most bytes [`QmpProbe::read`] reads at once (the trace of 8 cores at the largest
/// generated ring is 4 MiB).
pub const MAX_READ: u64 = 64 << 20;
/// Longest QMP message accepted.
const MAX_MESSAGE: usize = 1 << 20;
/// How often [`QmpProbe::powered_off`] asks QEMU at most.
const STATUS_INTERVAL: Duration = Duration::from_millis(100);

/// Why a QMP exchange failed.
#[derive(Debug)]
pub enum QmpError {
    /// The socket could not be reached, read or written.
    Io(io::Error),
    /// QEMU sent something that is not a QMP message.
    Protocol(String),
    /// QEMU refused the command: its error class and description.
    Refused {
        /// The command.
        command: String,
        /// QEMU's error description.
        desc: String,
    },
    /// No answer within the timeout.
    Timeout(String),
}

impl fmt::Display for QmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "QMP socket: {e}"),
            Self::Protocol(what) => write!(f, "QMP protocol: {what}"),
            Self::Refused { command, desc } => write!(f, "QEMU refused {command}: {desc}"),
            Self::Timeout(what) => write!(f, "QMP: no answer to {what} within the timeout"),
        }
    }
}

impl std::error::Error for QmpError {}

impl From<io::Error> for QmpError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// A QMP connection in command mode.
pub struct Qmp {
    stream: UnixStream,
    /// Bytes received but not yet split into lines.
    pending: Vec<u8>,
    /// A `SHUTDOWN` event from the guest was seen.
    guest_shutdown: bool,
}

impl Qmp {
    /// Connects to QEMU's QMP socket at `path`, reads the greeting and enters command mode.
    pub fn connect(path: &Path) -> Result<Self, QmpError> {
        let stream = UnixStream::connect(path)?;
        let mut qmp = Self {
            stream,
            pending: Vec::new(),
            guest_shutdown: false,
        };
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let greeting = qmp.message(deadline, "the greeting")?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Protocol(format!(
                "expected the QMP greeting, got {greeting:?}"
            )));
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    /// Runs `command` (with `arguments`, a JSON object's text) and returns its `return` value.
    fn execute(&mut self, command: &str, arguments: Option<&str>) -> Result<Json, QmpError> {
        let line = match arguments {
            Some(args) => format!(
                "{{\"execute\":{},\"arguments\":{args}}}\n",
                json::quote(command)
            ),
            None => format!("{{\"execute\":{}}}\n", json::quote(command)),
        };
        self.stream.set_write_timeout(Some(COMMAND_TIMEOUT))?;
        self.stream.write_all(line.as_bytes())?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let reply = self.message(deadline, command)?;
            if let Some(value) = reply.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = reply.get("error") {
                return Err(QmpError::Refused {
                    command: command.to_owned(),
                    desc: error
                        .get("desc")
                        .and_then(Json::as_str)
                        .unwrap_or("no description")
                        .to_owned(),
                });
            }
            // Anything else is an event: remember a guest power-off, skip the rest.
        }
    }

    /// The next message, events included; notes a guest `SHUTDOWN` event.
    fn message(&mut self, deadline: Instant, what: &str) -> Result<Json, QmpError> {
        loop {
            if let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=nl).collect();
                let text = String::from_utf8_lossy(&line);
                if text.trim().is_empty() {
                    continue;
                }
                let msg = json::parse(&text)
                    .map_err(|e| QmpError::Protocol(format!("{e} in {:?}", text.trim_end())))?;
                if msg.get("event").and_then(Json::as_str) == Some("SHUTDOWN")
                    && msg.get("data").and_then(|d| d.get("guest")) == Some(&Json::Bool(true))
                {
                    self.guest_shutdown = true;
                }
                return Ok(msg);
            }
            if self.pending.len() > MAX_MESSAGE {
                return Err(QmpError::Protocol(format!(
                    "a message longer than {MAX_MESSAGE} bytes"
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(QmpError::Timeout(what.to_owned()));
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    return Err(QmpError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "QEMU closed the connection",
                    )));
                }
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(QmpError::Timeout(what.to_owned()));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The machine's run state (`query-status`), e.g. `running`, `paused` or `shutdown`
    /// (powered off under `-no-shutdown`).
    pub fn status(&mut self) -> Result<String, QmpError> {
        let reply = self.execute("query-status", None)?;
        reply
            .get("status")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| QmpError::Protocol(format!("query-status returned {reply:?}")))
    }

    /// True once QEMU reported that the guest powered the machine off.
    pub fn guest_shutdown_seen(&self) -> bool {
        self.guest_shutdown
    }

    /// Stops the virtual CPUs (a no-op on a machine already stopped or powered off).
    pub fn stop(&mut self) -> Result<(), QmpError> {
        self.execute("stop", None).map(drop)
    }

    /// Runs a human monitor command (`info registers -a`, ...) and returns its text.
    pub fn human_monitor(&mut self, command_line: &str) -> Result<String, QmpError> {
        let args = format!("{{\"command-line\":{}}}", json::quote(command_line));
        let reply = self.execute("human-monitor-command", Some(&args))?;
        reply
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| QmpError::Protocol(format!("human-monitor-command returned {reply:?}")))
    }

    /// Writes `range` of guest-physical memory to `file` (QEMU writes it).
    pub fn pmemsave(&mut self, range: MemoryRange, file: &Path) -> Result<(), QmpError> {
        let args = format!(
            "{{\"val\":{},\"size\":{},\"filename\":{}}}",
            range.address,
            range.size,
            json::quote(&file.to_string_lossy())
        );
        self.execute("pmemsave", Some(&args)).map(drop)
    }

    /// Asks QEMU to exit. QEMU may close the connection before it answers; that counts as done.
    pub fn quit(&mut self) -> Result<(), QmpError> {
        match self.execute("quit", None) {
            Ok(_) => Ok(()),
            Err(QmpError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// What a run needs of QMP: connects lazily (QEMU creates the socket shortly after it
/// starts), notices the guest's power-off, reads memory, and makes QEMU quit.
pub struct QmpProbe {
    socket: PathBuf,
    qmp: Option<Qmp>,
    /// The last time QEMU was asked for its status (or a connection was tried).
    last_poll: Option<Instant>,
    off: bool,
}

impl QmpProbe {
    /// A probe for the QEMU that listens (or will listen) on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            qmp: None,
            last_poll: None,
            off: false,
        }
    }

    /// The QMP socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Where `pmemsave` writes before the bytes are read back: beside the socket.
    pub fn scratch_file(&self) -> PathBuf {
        let mut name = self.socket.as_os_str().to_owned();
        name.push(".mem");
        PathBuf::from(name)
    }

    /// True once the guest has powered the machine off (QEMU keeps running under
    /// `-no-shutdown`). Asks QEMU at most every 100 ms; false while it cannot be reached.
    pub fn powered_off(&mut self) -> bool {
        if self.off {
            return true;
        }
        let now = Instant::now();
        if self
            .last_poll
            .is_some_and(|at| now.duration_since(at) < STATUS_INTERVAL)
        {
            return false;
        }
        self.last_poll = Some(now);
        if self.qmp.is_none() {
            self.qmp = Qmp::connect(&self.socket).ok();
        }
        let Some(qmp) = self.qmp.as_mut() else {
            return false;
        };
        match qmp.status() {
            Ok(status) => self.off = status == "shutdown" || qmp.guest_shutdown_seen(),
            // A broken connection is dropped; the next poll reconnects.
            Err(_) => self.qmp = None,
        }
        self.off
    }

    /// Stops the machine and reads `range` of its physical memory, connecting first if
    /// needed (for up to [`CONNECT_TIMEOUT`]). The message says what failed.
    pub fn read(&mut self, range: MemoryRange) -> Result<Vec<u8>, String> {
        if range.size > MAX_READ {
            return Err(format!(
                "{} bytes asked for; at most {MAX_READ} are read at once",
                range.size
            ));
        }
        let qmp = self.connected()?;
        qmp.stop().map_err(|e| e.to_string())?;
        let scratch = self.scratch_file();
        let _ = std::fs::remove_file(&scratch);
        let saved = self
            .connected()?
            .pmemsave(range, &scratch)
            .map_err(|e| e.to_string());
        let bytes = saved.and_then(|()| {
            std::fs::read(&scratch).map_err(|e| format!("reading {}: {e}", scratch.display()))
        });
        let _ = std::fs::remove_file(&scratch);
        let bytes = bytes?;
        if bytes.len() as u64 != range.size {
            return Err(format!(
                "QEMU saved {} bytes of the {} asked for",
                bytes.len(),
                range.size
            ));
        }
        Ok(bytes)
    }

    /// Where each CPU is, one line per CPU (see [`cpu_summaries`]); empty if QEMU cannot be
    /// reached or does not answer.
    pub fn cpu_states(&mut self) -> Vec<String> {
        match self.connected().and_then(|qmp| {
            qmp.human_monitor("info registers -a")
                .map_err(|e| e.to_string())
        }) {
            Ok(text) => cpu_summaries(&text),
            Err(why) => vec![format!("CPU states not read: {why}")],
        }
    }

    /// Asks QEMU to exit (best effort: the caller still kills it if it does not).
    pub fn quit(&mut self) {
        if let Ok(qmp) = self.connected() {
            let _ = qmp.quit();
        }
        self.qmp = None;
    }

    /// The connection, made now if there is none (retrying until [`CONNECT_TIMEOUT`]).
    fn connected(&mut self) -> Result<&mut Qmp, String> {
        if self.qmp.is_none() {
            let deadline = Instant::now() + CONNECT_TIMEOUT;
            let qmp = loop {
                match Qmp::connect(&self.socket) {
                    Ok(qmp) => break qmp,
                    Err(e) if Instant::now() >= deadline => {
                        return Err(format!(
                            "cannot reach QEMU's QMP socket {}: {e}",
                            self.socket.display()
                        ));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            };
            self.qmp = Some(qmp);
        }
        self.qmp
            .as_mut()
            .ok_or_else(|| "no QMP connection".to_owned())
    }
}

/// One line per CPU from QEMU's `info registers -a` for AArch64: `CPU#n`, then its PC, X30
/// (the link register), SP and PSTATE with the exception level, e.g.
/// `CPU#2 PC=0000000040081234 X30=0000000040080f00 SP=0000000040123f80 PSTATE=600003c9 -ZC- EL2h`.
pub fn cpu_summaries(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("CPU#") {
            out.push(line.to_owned());
            continue;
        }
        let Some(current) = out.last_mut() else {
            continue;
        };
        if let Some(pstate) = line.strip_prefix("PSTATE=") {
            // `PSTATE=600003c9 -ZC- EL2h     FPCR=...`: the flags and the level, not the FP.
            let kept: Vec<&str> = pstate.split_whitespace().take(3).collect();
            current.push_str(&format!(" PSTATE={}", kept.join(" ")));
            continue;
        }
        for token in line.split_whitespace() {
            if token.starts_with("PC=") || token.starts_with("X30=") || token.starts_with("SP=") {
                current.push(' ');
                current.push_str(token);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_summaries_keep_pc_lr_sp_and_level_of_each_cpu() {
        let text = "\r\nCPU#0\r\n PC=0000000040081234 X00=0000000000000001 X01=0000000000000002\r\n\
X29=0000000000000000 X30=0000000040080f00  SP=0000000040123f80\r\n\
PSTATE=600003c9 -ZC- EL2h     FPCR=00000000 FPSR=00000000\r\n\
Q00=0000000000000000:0000000000000000 Q01=0000000000000000:0000000000000000\r\n\r\n\
CPU#1\r\n PC=0000000040cfd2c8 X00=0000000000000000 X01=0000000000000000\r\n\
X29=0000000000000000 X30=0000000000000000  SP=0000000000000000\r\n\
PSTATE=000003c5 ---- EL1h     FPCR=00000000 FPSR=00000000\r\n";
        assert_eq!(
            cpu_summaries(text),
            [
                "CPU#0 PC=0000000040081234 X30=0000000040080f00 SP=0000000040123f80 \
                 PSTATE=600003c9 -ZC- EL2h",
                "CPU#1 PC=0000000040cfd2c8 X30=0000000000000000 SP=0000000000000000 \
                 PSTATE=000003c5 ---- EL1h",
            ]
        );
        // Nothing recognisable: nothing.
        assert!(cpu_summaries("unknown command").is_empty());
    }
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh socket path in the temp directory.
    pub(crate) fn socket_path(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        std::env::temp_dir().join(format!(
            "hil-qmp-{tag}-{}-{}.sock",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// A pretend QEMU: answers QMP like QEMU 7.2 does, with events in between, and saves
    /// `memory[val..val+size]` for `pmemsave`. Returns the commands it got.
    fn fake_qemu(
        socket: &Path,
        memory: Vec<u8>,
        status: &'static str,
    ) -> thread::JoinHandle<Vec<String>> {
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket).unwrap();
        thread::spawn(move || {
            let mut got = Vec::new();
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            out.write_all(b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n").unwrap();
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let msg = json::parse(&line).unwrap();
                let cmd = msg
                    .get("execute")
                    .and_then(Json::as_str)
                    .unwrap()
                    .to_owned();
                got.push(cmd.clone());
                let reply = match cmd.as_str() {
                    "query-status" => {
                        out.write_all(b"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}\r\n").unwrap();
                        format!(
                            "{{\"return\": {{\"status\": \"{status}\", \"singlestep\": false, \"running\": false}}}}"
                        )
                    }
                    "pmemsave" => {
                        let args = msg.get("arguments").unwrap();
                        let num = |k: &str| match args.get(k) {
                            Some(Json::Number(n)) => n.parse::<usize>().unwrap(),
                            other => panic!("{k}: {other:?}"),
                        };
                        let (val, size) = (num("val"), num("size"));
                        let file = args.get("filename").and_then(Json::as_str).unwrap();
                        match memory.get(val..val + size) {
                            Some(bytes) => {
                                std::fs::write(file, bytes).unwrap();
                                "{\"return\": {}}".to_owned()
                            }
                            None => "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Invalid addr 0x10000000/size 16 specified\"}}".to_owned(),
                        }
                    }
                    "quit" => {
                        out.write_all(b"{\"return\": {}}\r\n").unwrap();
                        break;
                    }
                    _ => "{\"return\": {}}".to_owned(),
                };
                out.write_all(format!("{reply}\r\n").as_bytes()).unwrap();
            }
            got
        })
    }

    #[test]
    fn reads_memory_from_a_qmp_server() {
        let socket = socket_path("read");
        let memory: Vec<u8> = (0..=255).collect();
        let server = fake_qemu(&socket, memory, "shutdown");
        let mut probe = QmpProbe::new(&socket);
        let bytes = probe
            .read(MemoryRange {
                address: 16,
                size: 32,
            })
            .unwrap();
        assert_eq!(bytes, (16..48).collect::<Vec<u8>>());
        assert!(probe.powered_off());
        probe.quit();
        assert_eq!(
            server.join().unwrap(),
            [
                "qmp_capabilities",
                "stop",
                "pmemsave",
                "query-status",
                "quit"
            ]
        );
        assert!(!probe.scratch_file().exists());
        let _ = std::fs::remove_file(&socket);
    }

    #[test]
    fn a_refused_read_says_why() {
        let socket = socket_path("refused");
        let server = fake_qemu(&socket, vec![0; 64], "running");
        let mut probe = QmpProbe::new(&socket);
        let err = probe
            .read(MemoryRange {
                address: 0x1000_0000,
                size: 16,
            })
            .unwrap_err();
        assert!(err.contains("QEMU refused pmemsave: Invalid addr"), "{err}");
        probe.quit();
        server.join().unwrap();
        let _ = std::fs::remove_file(&socket);
    }

    #[test]
    fn no_server_is_an_error_after_the_connect_timeout() {
        let socket = socket_path("absent");
        let mut probe = QmpProbe::new(&socket);
        assert!(!probe.powered_off());
        let start = Instant::now();
        let err = probe
            .read(MemoryRange {
                address: 0,
                size: 1,
            })
            .unwrap_err();
        assert!(err.contains("cannot reach QEMU's QMP socket"), "{err}");
        assert!(start.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(2));
        let err = probe
            .read(MemoryRange {
                address: 0,
                size: MAX_READ + 1,
            })
            .unwrap_err();
        assert!(err.contains("at most"), "{err}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let socket = socket_path("silent");
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).unwrap();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            thread::sleep(COMMAND_TIMEOUT + Duration::from_millis(500));
            drop(stream);
        });
        let start = Instant::now();
        let err = Qmp::connect(&socket).err().unwrap();
        assert!(matches!(err, QmpError::Timeout(_)), "{err}");
        assert!(start.elapsed() < COMMAND_TIMEOUT + Duration::from_secs(1));
        server.join().unwrap();
        let _ = std::fs::remove_file(&socket);
    }
}
