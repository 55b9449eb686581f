//! PSCI calls the kernel makes to the firmware (QEMU's built-in PSCI, reached with SMC).

use smccc::Smc;
use smccc::psci;

/// Starts core `mpidr` at `entry` (EL2) with `context` in x0.
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> Result<(), psci::error::Error> {
    psci::cpu_on::<Smc>(mpidr, entry, context)
}

/// Powers the whole machine off. Returns only if the firmware refuses.
pub fn system_off() -> psci::error::Error {
    match psci::system_off::<Smc>() {
        Ok(()) => psci::error::Error::InternalFailure,
        Err(e) => e,
    }
}
