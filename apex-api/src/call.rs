//! The `hvc` instruction and typed wrappers for each hypercall, for partitions on AArch64.

use crate::hypercall::{CONSOLE_WRITE_MAX, Hypercall, ReturnCode};
use crate::partition::{OperatingMode, PartitionStatus};

/// Raw result registers of a hypercall: `x0` (status), `x1` and `x2` (values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawResult {
    pub x0: u64,
    pub x1: u64,
    pub x2: u64,
}

/// Issues `hvc #0` with the function ID in `x0` and arguments in `x1..=x3`.
///
/// Safe: the kernel validates every argument against the caller's own memory map, so no
/// value can harm the caller beyond what the call is documented to do.
#[inline(always)]
pub fn raw(function: u64, a1: u64, a2: u64, a3: u64) -> RawResult {
    let (x0, x1, x2);
    // SAFETY: `hvc` traps to the kernel, which preserves every register except x0..x3 (declared
    // as outputs here) and does not touch our memory except as the call documents.
    unsafe {
        core::arch::asm!(
            "hvc #0",
            inlateout("x0") function => x0,
            inlateout("x1") a1 => x1,
            inlateout("x2") a2 => x2,
            inlateout("x3") a3 => _,
            options(nostack),
        );
    }
    RawResult { x0, x1, x2 }
}

fn status(raw: RawResult) -> Result<u64, ReturnCode> {
    match ReturnCode::from_raw(raw.x0) {
        Ok(ReturnCode::NoError) => Ok(raw.x1),
        Ok(code) => Err(code),
        // Only an unknown function ID gets a non-ARINC answer; the typed wrappers never send one.
        Err(_) => Err(ReturnCode::NotAvailable),
    }
}

/// Writes up to [`CONSOLE_WRITE_MAX`] bytes to the console; longer input is split.
pub fn console_write(mut bytes: &[u8]) -> Result<(), ReturnCode> {
    while !bytes.is_empty() {
        let chunk = &bytes[..bytes.len().min(CONSOLE_WRITE_MAX)];
        let taken = status(raw(
            Hypercall::ConsoleWrite as u64,
            chunk.as_ptr() as u64,
            chunk.len() as u64,
            0,
        ))?;
        bytes = &bytes[(taken as usize).min(chunk.len())..];
    }
    Ok(())
}

/// The caller's partition index and the core it runs on.
pub fn partition_info() -> (u64, u64) {
    let r = raw(Hypercall::PartitionInfo as u64, 0, 0, 0);
    (r.x1, r.x2)
}

/// Stops the calling partition; never returns.
pub fn partition_stop(status: u64) -> ! {
    raw(Hypercall::PartitionStop as u64, status, 0, 0);
    // The kernel never resumes a stopped partition; if it did, do not run on.
    loop {
        core::hint::spin_loop();
    }
}

/// GET_PARTITION_STATUS: the caller's identifier, period, duration, lock level, operating
/// mode and start condition.
pub fn get_partition_status() -> Result<PartitionStatus, ReturnCode> {
    let x0: u64;
    let mut regs = [0u64; 6];
    // SAFETY: as for `raw`; this call returns results in x1..x6, declared as outputs.
    unsafe {
        core::arch::asm!(
            "hvc #0",
            inlateout("x0") Hypercall::GetPartitionStatus as u64 => x0,
            lateout("x1") regs[0],
            lateout("x2") regs[1],
            lateout("x3") regs[2],
            lateout("x4") regs[3],
            lateout("x5") regs[4],
            lateout("x6") regs[5],
            options(nostack),
        );
    }
    match ReturnCode::from_raw(x0) {
        Ok(ReturnCode::NoError) => {
            PartitionStatus::from_registers(regs).ok_or(ReturnCode::NotAvailable)
        }
        Ok(code) => Err(code),
        Err(_) => Err(ReturnCode::NotAvailable),
    }
}

/// SET_PARTITION_MODE. NORMAL returns; IDLE, COLD_START and WARM_START do not return when
/// accepted (the partition stops, or starts again at its entry point).
pub fn set_partition_mode(mode: OperatingMode) -> Result<(), ReturnCode> {
    status_of(raw(Hypercall::SetPartitionMode as u64, mode as u64, 0, 0))
}

/// Blocks until one of the doorbells in `doorbells` (bit `i` = the caller's port `i`) rings
/// or the system counter reaches `deadline` ([`NO_DEADLINE`](crate::hypercall::NO_DEADLINE):
/// never). `Ok` with the doorbells that rang (now cleared), or `Err(TimedOut)`.
pub fn wait(deadline: u64, doorbells: u64) -> Result<u64, ReturnCode> {
    status(raw(Hypercall::Wait as u64, deadline, doorbells, 0))
}

/// Rings the doorbell of the peer at the other end of the caller's queuing port `port`.
pub fn doorbell(port: u64) -> Result<(), ReturnCode> {
    status_of(raw(Hypercall::Doorbell as u64, port, 0, 0))
}

/// RAISE_APPLICATION_ERROR with `message` (at most 128 bytes): returns only if the
/// partition's HM table says to ignore the error.
pub fn raise_application_error(message: &[u8]) -> Result<(), ReturnCode> {
    status_of(raw(
        Hypercall::RaiseApplicationError as u64,
        message.as_ptr() as u64,
        message.len() as u64,
        0,
    ))
}

/// Powers the module off (system partitions only).
pub fn module_shutdown(status: u64) -> Result<(), ReturnCode> {
    status_of(raw(Hypercall::ModuleShutdown as u64, status, 0, 0))
}

fn status_of(raw: RawResult) -> Result<(), ReturnCode> {
    status(raw).map(|_| ())
}

/// A `core::fmt::Write` sink on the console hypercall.
pub struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        console_write(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}
