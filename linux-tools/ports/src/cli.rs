//! The command line: `ports <command> [arguments]`, parsed by hand (six commands and one
//! option do not need a parser crate).

use crate::Error;

/// What `ports help` prints.
pub const USAGE: &str = "\
usage: ports <command> [arguments]

  list                              every port of this partition
  read NAME                         the current message of sampling destination NAME,
                                    its age and validity
  write NAME TEXT                   TEXT becomes the message of sampling source NAME
  send NAME TEXT                    queues TEXT on queuing source NAME (fails if full)
  receive NAME [--timeout MS]       takes the oldest message of queuing destination NAME,
                                    waiting up to MS milliseconds for one (default 0): on
                                    the port's doorbell line (GPIO line NAME, an interrupt),
                                    or polling every millisecond without one
  clear NAME                        discards every message queued on queuing destination NAME
  help                              this text

A message is printed as text when it is printable UTF-8, in hexadecimal otherwise.
Exit status: 0 done, 1 failed (the reason is printed), 2 bad command line.
";

/// A command, as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print [`USAGE`].
    Help,
    /// Print every port of the partition.
    List,
    /// Read a sampling destination.
    Read { port: String },
    /// Write a sampling source.
    Write { port: String, message: Vec<u8> },
    /// Send on a queuing source.
    Send { port: String, message: Vec<u8> },
    /// Receive from a queuing destination.
    Receive {
        port: String,
        /// How long to wait for a message; 0: do not wait.
        timeout_ms: u64,
    },
    /// Clear a queuing destination.
    Clear { port: String },
}

/// Parses the arguments after the program name. A message is taken as the bytes of its
/// argument (so any byte but NUL can be sent); everything else must be UTF-8.
pub fn parse(args: &[Vec<u8>]) -> Result<Command, Error> {
    let Some((command, rest)) = args.split_first() else {
        return Err(usage("no command given"));
    };
    let command = text(command, "command")?;
    match command {
        "help" | "--help" | "-h" => {
            expect_count(command, rest, 0)?;
            Ok(Command::Help)
        }
        "list" => {
            expect_count(command, rest, 0)?;
            Ok(Command::List)
        }
        "read" | "clear" => {
            expect_count(command, rest, 1)?;
            let port = port_name(&rest[0])?;
            Ok(if command == "read" {
                Command::Read { port }
            } else {
                Command::Clear { port }
            })
        }
        "write" | "send" => {
            expect_count(command, rest, 2)?;
            let port = port_name(&rest[0])?;
            let message = rest[1].clone();
            Ok(if command == "write" {
                Command::Write { port, message }
            } else {
                Command::Send { port, message }
            })
        }
        "receive" => {
            let (port, timeout_ms) = match rest {
                [port] => (port, 0),
                [port, option, ms] if option.as_slice() == b"--timeout" => {
                    (port, milliseconds(ms)?)
                }
                [option, ms, port] if option.as_slice() == b"--timeout" => {
                    (port, milliseconds(ms)?)
                }
                _ => return Err(usage("receive takes NAME and optionally --timeout MS")),
            };
            Ok(Command::Receive {
                port: port_name(port)?,
                timeout_ms,
            })
        }
        other => Err(usage(&format!("unknown command '{other}'"))),
    }
}

fn usage(why: &str) -> Error {
    Error::Usage(why.to_owned())
}

fn expect_count(command: &str, rest: &[Vec<u8>], count: usize) -> Result<(), Error> {
    if rest.len() == count {
        return Ok(());
    }
    let takes = match count {
        0 => "no arguments",
        1 => "one argument: NAME",
        _ => "two arguments: NAME and TEXT (quote TEXT if it has spaces)",
    };
    Err(usage(&format!(
        "{command} takes {takes}, {} given",
        rest.len()
    )))
}

fn text<'a>(arg: &'a [u8], what: &str) -> Result<&'a str, Error> {
    std::str::from_utf8(arg).map_err(|_| usage(&format!("the {what} is not UTF-8")))
}

fn port_name(arg: &[u8]) -> Result<String, Error> {
    let name = text(arg, "port name")?;
    if name.is_empty() || name.starts_with('-') {
        return Err(usage(&format!("'{name}' is not a port name")));
    }
    Ok(name.to_owned())
}

fn milliseconds(arg: &[u8]) -> Result<u64, Error> {
    let value = text(arg, "timeout")?;
    value.parse().map_err(|_| {
        usage(&format!(
            "--timeout takes whole milliseconds (0 or more), not '{value}'"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn ok(words: &[&str]) -> Command {
        parse(&args(words)).unwrap()
    }

    fn refused(words: &[&str]) -> String {
        match parse(&args(words)) {
            Err(e @ Error::Usage(_)) => e.to_string(),
            other => panic!("{words:?}: {other:?}"),
        }
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(ok(&["help"]), Command::Help);
        assert_eq!(ok(&["--help"]), Command::Help);
        assert_eq!(ok(&["list"]), Command::List);
        assert_eq!(
            ok(&["read", "speed"]),
            Command::Read {
                port: "speed".into()
            }
        );
        assert_eq!(ok(&["clear", "cmd"]), Command::Clear { port: "cmd".into() });
        assert_eq!(
            ok(&["write", "status", "hello world"]),
            Command::Write {
                port: "status".into(),
                message: b"hello world".to_vec()
            }
        );
        assert_eq!(
            ok(&["send", "cmd", "go"]),
            Command::Send {
                port: "cmd".into(),
                message: b"go".to_vec()
            }
        );
        assert_eq!(
            ok(&["receive", "replies"]),
            Command::Receive {
                port: "replies".into(),
                timeout_ms: 0
            }
        );
        let waiting = Command::Receive {
            port: "replies".into(),
            timeout_ms: 2500,
        };
        assert_eq!(ok(&["receive", "replies", "--timeout", "2500"]), waiting);
        assert_eq!(ok(&["receive", "--timeout", "2500", "replies"]), waiting);
    }

    #[test]
    fn a_message_may_be_any_bytes() {
        let raw = vec![b"send".to_vec(), b"cmd".to_vec(), vec![0xff, 0x00, 0x80]];
        assert_eq!(
            parse(&raw).unwrap(),
            Command::Send {
                port: "cmd".into(),
                message: vec![0xff, 0x00, 0x80]
            }
        );
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        assert!(refused(&[]).contains("no command given"));
        assert!(refused(&["frobnicate"]).contains("unknown command 'frobnicate'"));
        assert!(refused(&["list", "x"]).contains("list takes no arguments, 1 given"));
        assert!(refused(&["read"]).contains("read takes one argument: NAME, 0 given"));
        assert!(refused(&["send", "cmd"]).contains("send takes two arguments"));
        assert!(refused(&["write", "a", "b", "c"]).contains("3 given"));
        assert!(refused(&["receive"]).contains("receive takes NAME"));
        assert!(refused(&["receive", "q", "--timeout"]).contains("receive takes NAME"));
        assert!(refused(&["receive", "q", "--wait", "5"]).contains("receive takes NAME"));
        assert!(refused(&["receive", "q", "--timeout", "-1"]).contains("not '-1'"));
        assert!(refused(&["receive", "q", "--timeout", "soon"]).contains("not 'soon'"));
        assert!(refused(&["read", ""]).contains("'' is not a port name"));
        assert!(refused(&["read", "--timeout"]).contains("is not a port name"));
        assert!(refused(&["help", "me"]).contains("help takes no arguments"));
        assert!(refused(&["list", "x"]).ends_with("(see 'ports help')"));
        let not_utf8 = vec![b"read".to_vec(), vec![0xff]];
        assert!(
            parse(&not_utf8)
                .unwrap_err()
                .to_string()
                .contains("port name is not UTF-8")
        );
        let bad_command = vec![vec![0xfe]];
        assert!(
            parse(&bad_command)
                .unwrap_err()
                .to_string()
                .contains("command is not UTF-8")
        );
    }

    #[test]
    fn usage_errors_exit_with_status_2() {
        assert_eq!(parse(&[]).unwrap_err().exit_code(), crate::EXIT_USAGE);
    }
}
