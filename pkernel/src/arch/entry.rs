//! Where every core comes in from the boot assembly, and the ways a core leaves for good:
//! idling, halting the module, a kernel fault, a panic.

use core::sync::atomic::{AtomicPtr, Ordering};

use aarch64_cpu::registers::{ELR_EL2, ESR_EL2, FAR_EL2, Readable};

use super::context::VcpuContext;
use super::machine::Hardware;
use super::mmu::{self, TablePages};
use super::trace_buffer::{self, TraceArea};
use super::{MAX_CORES, boot, console, esr, gic, psci};
use crate::config::System;
use crate::console::{DRAIN_BUDGET_BYTES, Selection};
use crate::module::{Failure, ModuleEnd};
use system_tables::translation::InfoPageBytes;

/// The system tables, published by the boot core before any other core starts.
static SYSTEM: AtomicPtr<System> = AtomicPtr::new(core::ptr::null_mut());

/// The system tables (after the boot core published them).
pub fn system() -> &'static System {
    let ptr = SYSTEM.load(Ordering::Acquire);
    assert!(
        !ptr.is_null(),
        "system tables used before they were published"
    );
    // SAFETY: the only value ever stored is derived from a `&'static System` (`publish`).
    unsafe { &*ptr }
}

/// Makes `system` what every core runs.
pub fn publish(system: &'static System) {
    SYSTEM.store(system as *const System as *mut System, Ordering::Release);
    console::attach_system(system);
}

use super::core_block::this_core;

/// Entry of every core (from `boot`), with the system tables the image was built with, the
/// pages holding the translation tables built for them, the partitions' information pages
/// (only for the banner) and the trace storage.
pub fn run<const PAGES: usize, const RECORDS: usize>(
    system: &'static System,
    table_pages: &'static TablePages<PAGES>,
    info_pages: &'static [InfoPageBytes],
    trace: &'static TraceArea<RECORDS>,
    core: usize,
) -> ! {
    if core == 0 {
        mmu::install_pages(table_pages);
        trace_buffer::install(trace, system.counter_hz);
        crate::boot::primary(system, info_pages)
    } else {
        mmu::enable_on_this_core();
        gic::init_this_core(core);
        crate::boot::secondary(core)
    }
}

/// The hypercall fast path (see `exceptions.rs`), on the kernel stack, with the partition's
/// x0..x2 (the call) as arguments, its x0..x19 and x30 saved in `vcpu`, x20..x29 still live
/// in the CPU. Returns 1 if it served the call (the results are in `vcpu`) and the
/// partition resumes at once, 0 for a full exit (`vcpu` untouched).
///
/// # Safety
/// Only the exit assembly calls it, with the context of the vCPU that `vcpu::run` is running
/// on this core.
pub unsafe extern "C" fn pkernel_fast_hypercall(
    x0: u64,
    x1: u64,
    x2: u64,
    vcpu: *mut VcpuContext,
) -> u64 {
    // SAFETY: the assembly passes the context `vcpu::run` entered the partition with, which
    // `run` borrows mutably for the whole time the partition runs and hands to nothing else;
    // this call happens inside that `run`, on the same core, so this is the only reference.
    let context = unsafe { &mut *vcpu };
    let Some(partition) = usize::try_from(context.partition)
        .ok()
        .and_then(|id| system().partitions.get(id))
    else {
        return 0;
    };
    let mut machine = Hardware::this_core(this_core());
    match crate::trap::fast_hypercall([x0, x1, x2], partition, &mut machine) {
        Some(reply) => {
            reply.write_to(&mut context.regs.x);
            1
        }
        None => 0,
    }
}

/// A core with nothing (more) to run: it prints what the busy cores left in the console
/// queues (its time is nobody's) and sleeps until another core signals more (SEV).
pub fn idle_core() -> ! {
    loop {
        console::drain(Selection::All, 8 * DRAIN_BUDGET_BYTES);
        aarch64_cpu::asm::wfe();
    }
}

/// Ends the module: prints what is queued, then the module-end line last, and powers off.
pub fn halt_module(end: ModuleEnd) -> ! {
    console::flush_for_halt(format_args!("{end}"));
    let error = psci::system_off();
    console::emergency_line(format_args!("PSCI SYSTEM_OFF failed: {error:?}"));
    super::park_core()
}

/// An exception taken at EL2: a kernel bug. Runs on this core's fault stack (the normal
/// one may have overflowed); logs everything and stops the module.
pub extern "C" fn handle_el2_fault(faulting_sp: u64) {
    let esr = ESR_EL2.get();
    let far = FAR_EL2.get();
    let core = this_core();
    let overflow = (0..MAX_CORES).find(|&c| {
        let guard = boot::guard_page(c) as u64;
        (guard..guard + boot::GUARD_SIZE as u64).contains(&far)
    });
    console::emergency_line(format_args!(
        "KERNEL FAULT on core {core}: ESR_EL2 {} at pc {:#x}, FAR {far:#x}, SP {faulting_sp:#x}",
        esr::Decoded(esr),
        ELR_EL2.get(),
    ));
    if let Some(stack) = overflow {
        console::emergency_line(format_args!(
            "KERNEL FAULT: overflow of core {stack}'s kernel stack into its guard page"
        ));
    }
    console::emergency_line(format_args!("{}", ModuleEnd::Failed(Failure::KernelFault)));
    let _ = psci::system_off();
    super::park_core()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // Not through the queues: the panic may have happened while this core held a lock.
    console::emergency_line(format_args!("KERNEL PANIC on core {}: {info}", this_core()));
    console::emergency_line(format_args!("{}", ModuleEnd::Failed(Failure::KernelPanic)));
    let _ = psci::system_off();
    super::park_core()
}
