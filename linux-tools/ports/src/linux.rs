//! The platform of a Linux partition on AArch64: the partition's guest-physical memory
//! through `/dev/mem`, the system counter, the doorbell register, and the doorbell lines
//! (`doorbell_line.rs`). With that module, the tool's only `unsafe` code: here the
//! mappings, the words over them, two instructions.
//!
//! The information page, the port buffers and the doorbell page are not RAM to Linux (the
//! device tree pkernel generates reserves them `no-map`, outside its memory), so
//! `CONFIG_STRICT_DEVMEM` lets root map them, and Linux maps them as Device memory. There
//! every access must be aligned and nothing may be merged or split: the words go only
//! through apex-api's protocols, whose every access is one aligned 64-bit load or store,
//! never through a slice copy.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::ptr::NonNull;
use std::time::Duration;

use apex_api::info::{DOORBELL_PAGE_IPA, INFO_PAGE_SIZE};
use apex_api::ports::{OwnBuffer, PAGE_SIZE, PeerBuffer};
use pkernel_ports::{Platform, ReadOnlyMapping, ReadWriteMapping};

use crate::doorbell_line;

const DEV_MEM: &str = "/dev/mem";

/// Linux user space in a pkernel partition. Opens `/dev/mem` when it first needs it, once
/// for reading and once for writing.
#[derive(Default)]
pub struct Linux {
    read_only: Option<File>,
    read_write: Option<File>,
    doorbell: Option<Mapping>,
}

impl Linux {
    fn file(&mut self, writable: bool) -> Result<&File, String> {
        let slot = if writable {
            &mut self.read_write
        } else {
            &mut self.read_only
        };
        if let Some(file) = slot {
            return Ok(file);
        }
        let mut options = OpenOptions::new();
        options.read(true).write(writable);
        if writable {
            // What this process writes reaches the buffer at once (Linux maps non-RAM
            // uncached either way; O_SYNC says so for any kernel).
            options.custom_flags(libc::O_SYNC);
        }
        let file = options.open(DEV_MEM).map_err(|e| {
            format!(
                "cannot open {DEV_MEM} for {}: {e} (ports needs root)",
                if writable { "writing" } else { "reading" }
            )
        })?;
        Ok(slot.insert(file))
    }

    fn map(&mut self, ipa: u64, size: u64, writable: bool) -> Result<Mapping, String> {
        let file = self.file(writable)?;
        Mapping::new(file, ipa, size, writable)
    }
}

impl Platform for Linux {
    type ReadOnly = ReadOnly;
    type ReadWrite = ReadWrite;
    type Line = doorbell_line::Line;

    fn map_read_only(&mut self, ipa: u64, size: u64) -> Result<ReadOnly, String> {
        self.map(ipa, size, false).map(ReadOnly)
    }

    fn map_read_write(&mut self, ipa: u64, size: u64) -> Result<ReadWrite, String> {
        self.map(ipa, size, true).map(ReadWrite)
    }

    fn now(&self) -> u64 {
        let value: u64;
        // SAFETY: reading CNTVCT_EL0 has no side effect. Linux lets user space read it
        // (CNTKCTL_EL1.EL0VCTEN) and pkernel sets CNTVOFF_EL2 to 0, so it is the physical
        // counter every partition stamps its messages with. The ISB keeps it from being
        // read before the message loads that precede it (a sampling read takes `now` after
        // the message), and without `nomem` the compiler does not move memory accesses
        // across it either.
        unsafe {
            core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nostack, preserves_flags));
        }
        value
    }

    fn ring(&mut self, port: usize) -> Result<(), String> {
        let index = u32::try_from(port).map_err(|_| format!("port index {port} out of range"))?;
        if self.doorbell.is_none() {
            self.doorbell = Some(self.map(DOORBELL_PAGE_IPA, INFO_PAGE_SIZE as u64, true)?);
        }
        let Some(doorbell) = &self.doorbell else {
            return Err("the doorbell page is not mapped".to_owned());
        };
        let register = doorbell.base.as_ptr().cast::<u32>();
        // SAFETY: `register` is the first word of a live, writable mapping of the doorbell
        // page (page aligned, so aligned for a u32). The page is not memory: pkernel takes
        // the store's stage-2 fault and emulates it (apex_api::info::DOORBELL_PAGE_IPA),
        // and nothing else in this process accesses it. One 32-bit `STR` of a register
        // with no write-back, the form of access the kernel decodes, spelt out rather
        // than left to the compiler.
        unsafe {
            core::arch::asm!(
                "str {index:w}, [{register}]",
                index = in(reg) index,
                register = in(reg) register,
                options(nostack, preserves_flags),
            );
        }
        Ok(())
    }

    fn doorbell_line(&mut self, port: &str) -> Result<doorbell_line::Line, String> {
        doorbell_line::request(port)
    }

    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A page-aligned run of guest-physical memory mapped from `/dev/mem`, unmapped on drop.
struct Mapping {
    base: NonNull<u64>,
    bytes: usize,
}

impl Mapping {
    fn new(file: &File, ipa: u64, size: u64, writable: bool) -> Result<Self, String> {
        let what = format!("{size} bytes at {ipa:#x}");
        if !ipa.is_multiple_of(PAGE_SIZE) || size == 0 || !size.is_multiple_of(PAGE_SIZE) {
            return Err(format!("cannot map {what}: not whole pages"));
        }
        let bytes = usize::try_from(size).map_err(|_| format!("cannot map {what}: too large"))?;
        let offset = libc::off_t::try_from(ipa)
            .map_err(|_| format!("cannot map {what}: address too high"))?;
        let protection = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a new shared mapping of `/dev/mem` at a kernel-chosen address (the hint is
        // null), so no memory of this process is replaced; the length and the offset were
        // checked to be whole pages. The result is checked before use.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                protection,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                offset,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(format!(
                "cannot map {what} from {DEV_MEM}: {}",
                std::io::Error::last_os_error()
            ));
        }
        let base = NonNull::new(address.cast::<u64>())
            .ok_or_else(|| format!("cannot map {what}: mapped at address 0"))?;
        Ok(Self { base, bytes })
    }

    fn words(&self) -> usize {
        self.bytes / 8
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base` and `bytes` are exactly a mapping `mmap` made, and no borrow of it
        // outlives `self` (the buffers borrow the `ReadOnly` or `ReadWrite` that owns it).
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.bytes);
        }
    }
}

/// A peer's buffer (or the information page), mapped read-only.
pub struct ReadOnly(Mapping);

impl ReadOnlyMapping for ReadOnly {
    fn words(&self) -> PeerBuffer<'_> {
        // SAFETY: the mapping is page aligned, readable for `bytes` and lives as long as the
        // returned borrow of `self`. Its only writer is the peer partition (or nobody: the
        // information page), which writes whole aligned 64-bit words (apex_api::ports);
        // `PeerBuffer` only loads them, the same way.
        unsafe { PeerBuffer::from_raw(self.0.base.as_ptr(), self.0.words()) }
    }
}

/// A buffer this partition writes, mapped read-write.
pub struct ReadWrite(Mapping);

impl ReadWriteMapping for ReadWrite {
    fn words(&self) -> OwnBuffer<'_> {
        // SAFETY: the mapping is page aligned, readable and writable for `bytes` and lives as
        // long as the returned borrow of `self`. The peer partition only loads it, and this
        // process only through `OwnBuffer`: every access is an aligned 64-bit atomic load or
        // store (apex_api::ports).
        unsafe { OwnBuffer::from_raw(self.0.base.as_ptr(), self.0.words()) }
    }
}
