//! A port's doorbell line on Linux: the GPIO line named after the port on one of the
//! partition's doorbell GPIO controllers (emulated PL061s, `/dev/gpiochipN` through Linux's
//! gpio-pl061 driver), requested for rising-edge events through the GPIO character device
//! (uAPI v2; structures and ioctl numbers in `pkernel_ports::gpio`). A receive `poll`s the
//! request's file descriptor: the doorbell's interrupt wakes it.
//!
//! The `unsafe` code here: the three GPIO ioctls, taking the request's file descriptor,
//! `poll` and `read`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use pkernel_ports::DoorbellLine;
use pkernel_ports::gpio::{self, ChipInfo, Ioctl, LineEvent, LineInfo, LineRequest};

/// Where the GPIO character devices are.
const DEV: &str = "/dev";

/// A requested doorbell line: the request's file descriptor (closing it releases the line).
pub struct Line {
    fd: OwnedFd,
    /// `line N of /dev/gpiochipM`, for messages.
    what: String,
}

/// Finds the GPIO line named `port` on the GPIO chips (in the order of their numbers) and
/// requests it. `Err` says why there is none to wait on.
pub fn request(port: &str) -> Result<Line, String> {
    let entries = std::fs::read_dir(DEV).map_err(|e| format!("cannot list {DEV}: {e}"))?;
    let names = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok());
    let chips = gpio::chip_devices(names);
    if chips.is_empty() {
        return Err(format!("no GPIO chips in {DEV}"));
    }
    let mut unreadable = Vec::new();
    for chip in &chips {
        let path = format!("{DEV}/{chip}");
        match find(&path, port) {
            Ok(Some((file, info))) => return request_line(&file, &path, &info),
            Ok(None) => {}
            Err(why) => unreadable.push(why),
        }
    }
    let paths: Vec<String> = chips.iter().map(|chip| format!("{DEV}/{chip}")).collect();
    let mut why = format!("no GPIO line of that name on {}", paths.join(", "));
    for failure in unreadable {
        why.push_str("; ");
        why.push_str(&failure);
    }
    Err(why)
}

/// The chip at `path`, open, and the information of its line named `port`, if it has one.
fn find(path: &str, port: &str) -> Result<Option<(File, LineInfo)>, String> {
    // Read and write, as libgpiod opens a chip (the ioctls need no more).
    let chip = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {path}: {e}"))?;
    let mut info = ChipInfo::ZERO;
    ioctl(&chip, gpio::GET_CHIPINFO, &mut info)
        .map_err(|e| format!("{path}: cannot read its chip information: {e}"))?;
    for offset in 0..info.lines {
        let mut line = LineInfo::at(offset);
        ioctl(&chip, gpio::GET_LINEINFO, &mut line).map_err(|e| {
            format!(
                "{path} ({}): cannot read the information of line {offset}: {e}",
                info.label()
            )
        })?;
        if line.is_named(port) {
            return Ok(Some((chip, line)));
        }
    }
    Ok(None)
}

/// Requests `line` of `chip` (at `path`) as an input with rising-edge events.
fn request_line(chip: &File, path: &str, line: &LineInfo) -> Result<Line, String> {
    let what = format!("line {} of {path}", line.offset);
    let mut request = LineRequest::rising_edge(line.offset);
    ioctl(chip, gpio::GET_LINE, &mut request).map_err(|e| {
        let holder = match line.holder() {
            Some(consumer) if !consumer.is_empty() => format!(" (in use by '{consumer}')"),
            Some(_) => " (in use)".to_owned(),
            None => String::new(),
        };
        format!("cannot request {what}{holder}: {e}")
    })?;
    if request.fd < 0 {
        return Err(format!(
            "cannot request {what}: the kernel returned file descriptor {}",
            request.fd
        ));
    }
    // SAFETY: the request succeeded, so `request.fd` is a file descriptor the kernel has just
    // opened in this process for the line request (an anonymous inode), which nothing else
    // owns or closes: `OwnedFd` becomes its only owner and closes it, releasing the line.
    let fd = unsafe { OwnedFd::from_raw_fd(request.fd) };
    Ok(Line { fd, what })
}

/// `ioctl(fd, request, arg)` for a GPIO ioctl, whose argument is a pointer to a `T`.
fn ioctl<T>(file: &impl AsRawFd, request: Ioctl<T>, arg: &mut T) -> io::Result<()> {
    // The number as the C library takes it (an `int` in musl): the same 32 bits.
    let number = request.number() as libc::Ioctl;
    // SAFETY: `request` is one of linux/gpio.h's ioctls whose argument is a pointer to a
    // `struct` laid out as `T` (`pkernel_ports::gpio` makes each `Ioctl<T>` with its uAPI
    // structure, `#[repr(C)]` with its size checked at compile time, and the number encodes
    // that size), so the kernel reads and writes at most `size_of::<T>()` bytes at `arg`,
    // which is a live, exclusive and initialised `T` for the whole call. Every field of
    // these structures is an integer or an array of them: any bytes the kernel writes are a
    // valid `T`. `file` is open for the call.
    let result = unsafe { libc::ioctl(file.as_raw_fd(), number, std::ptr::from_mut(arg)) };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl DoorbellLine for Line {
    fn wait(&mut self, timeout: Duration) -> Result<(), String> {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `poll` is one live, exclusive `pollfd` for the call (the count is 1), on a
        // file descriptor this `Line` owns.
        let ready = unsafe { libc::poll(&mut poll, 1, gpio::poll_timeout_ms(timeout)) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            // A signal that does not end the process: the caller looks again.
            if error.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(format!("cannot poll {}: {error}", self.what));
        }
        if ready == 0 {
            return Ok(());
        }
        if poll.revents & libc::POLLIN == 0 {
            // POLLERR, POLLHUP, POLLNVAL: the line is gone (its chip was removed).
            return Err(format!(
                "{} reports an error (poll events {:#x})",
                self.what, poll.revents
            ));
        }
        self.take_events()
    }
}

impl Line {
    /// Reads the pending events (at least one: `poll` said so): as many as the kernel
    /// buffers by default, so none is left for the next wait but new ones.
    fn take_events(&mut self) -> Result<(), String> {
        let mut events = [LineEvent::ZERO; gpio::EVENTS_PER_READ];
        // SAFETY: `read` writes at most `size_of_val(&events)` bytes into `events`, a live,
        // exclusive array of `#[repr(C)]` structures of integers (any bytes are valid
        // events), from a file descriptor this `Line` owns.
        let read = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                events.as_mut_ptr().cast(),
                size_of_val(&events),
            )
        };
        if read < 0 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => Ok(()),
                _ => Err(format!("cannot read the events of {}: {error}", self.what)),
            };
        }
        Ok(())
    }
}
