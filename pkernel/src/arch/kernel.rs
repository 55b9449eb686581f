//! What every core does: boot (the boot core builds all tables and loads all images, then
//! starts the others), run its partition, and handle that partition's traps.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};

use aarch64_cpu::registers::{
    CNTFRQ_EL0, ELR_EL2, ESR_EL2, FAR_EL2, HPFAR_EL2, Readable, TPIDR_EL2, Writeable,
};
use arm_gic::InterruptGroup;
use arm_gic::gicv3::GicCpuInterface;

use super::exceptions::TrapFrame;
use super::page_pool::TablePool;
use super::{MAX_CORES, boot, cache, console, gic, mmu, page_pool, psci, stage2, vcpu};
use crate::config::{MAX_PARTITIONS, Partition, RegionKind, System};
use crate::console::{DRAIN_BUDGET_BYTES, Selection};
use crate::esr::{self, ExceptionClass};
use crate::hypercall::{self, KernelServices, Outcome, Refusal};
use crate::kprintln;
use crate::log;
use crate::module::{Failure, ModuleEnd};
use crate::sysreg_trap::{self, SysRegAccess, TrappedKind};

/// The system tables, published by the boot core before any other core starts.
static SYSTEM: AtomicPtr<System> = AtomicPtr::new(core::ptr::null_mut());
/// VTTBR_EL2 of each partition, written by the boot core before any other core starts.
static VTTBR: [AtomicU64; MAX_PARTITIONS] = [const { AtomicU64::new(0) }; MAX_PARTITIONS];
static VTCR: AtomicU64 = AtomicU64::new(0);
/// Refused hypercalls of each partition so far; only the first few are logged, so a partition
/// looping on bad calls cannot monopolise the shared console (and with it other partitions).
static REFUSALS: [AtomicU32; MAX_PARTITIONS] = [const { AtomicU32::new(0) }; MAX_PARTITIONS];
const REFUSALS_LOGGED: u32 = 16;
/// Kinds of trapped access (bit = `TrappedKind as u8`) already logged for each partition:
/// each kind is logged once, so a partition looping on them cannot flood the console.
static TRAPS_LOGGED: [AtomicU8; MAX_PARTITIONS] = [const { AtomicU8::new(0) }; MAX_PARTITIONS];

fn system() -> &'static System {
    let ptr = SYSTEM.load(Ordering::Acquire);
    assert!(
        !ptr.is_null(),
        "trap before the system tables were published"
    );
    // SAFETY: the only value ever stored is derived from a `&'static System` (see `run`).
    unsafe { &*ptr }
}

fn this_core() -> usize {
    TPIDR_EL2.get() as usize
}

/// Entry of every core (from `boot`), with the system tables the image was built with and
/// the translation-table pool sized for them.
pub fn run<const PAGES: usize>(
    system: &'static System,
    table_pool: &'static TablePool<PAGES>,
    core: usize,
) -> ! {
    TPIDR_EL2.set(core as u64);
    if core == 0 {
        page_pool::install(table_pool);
        boot_primary(system)
    } else {
        mmu::enable_on_this_core();
        gic::init_this_core(core);
        run_core(core)
    }
}

fn boot_primary(system: &'static System) -> ! {
    let board = system.board;
    console::init(board);
    kprintln!(
        "pkernel {} (EL2) on {}: module '{}'",
        env!("CARGO_PKG_VERSION"),
        board.name,
        system.module_name
    );
    kprintln!("configuration sha256 {}", system.config_sha256);
    kprintln!("tables        sha256 {}", system.tables_sha256);
    if let Err(error) = crate::boot_checks::check(system, CNTFRQ_EL0.get()) {
        kprintln!("configuration rejected at boot: {error}");
        halt_module(ModuleEnd::Failed(Failure::ConfigurationRejected));
    }
    if let Err(error) = mmu::build(board) {
        kprintln!("EL2 translation tables: {error:?}");
        halt_module(ModuleEnd::Failed(Failure::BootError));
    }
    mmu::enable_on_this_core();
    check_stack_guards();
    SYSTEM.store(system as *const System as *mut System, Ordering::Release);
    console::attach_system(system);
    VTCR.store(stage2::vtcr(), Ordering::Relaxed);
    for partition in system.partitions {
        match stage2::build(partition) {
            Ok(vttbr) => VTTBR[usize::from(partition.id)].store(vttbr, Ordering::Relaxed),
            Err(error) => {
                kprintln!("partition '{}': stage-2 tables: {error:?}", partition.name);
                halt_module(ModuleEnd::Failed(Failure::BootError));
            }
        }
        load_image(partition);
    }
    if let Err(error) = gic::init(board, 0) {
        kprintln!("GIC initialisation failed: {error:?}");
        halt_module(ModuleEnd::Failed(Failure::BootError));
    }
    print_banner(system);
    // Cores beyond the module's are never started.
    let cores = usize::from(system.core_count)
        .min(board.core_count())
        .min(MAX_CORES);
    for core in 1..cores {
        if let Err(error) = psci::cpu_on(
            board.core_mpidrs[core],
            boot::secondary_entry_address(),
            core as u64,
        ) {
            kprintln!("core {core}: PSCI CPU_ON failed: {error:?}");
        }
    }
    run_core(0)
}

/// Copies a partition's image segments to their physical homes and zeroes the rest of each.
fn load_image(partition: &Partition) {
    for segment in partition.image.segments {
        // boot_checks guarantees the segment lies in one RAM region of this partition.
        let Some(phys) = partition
            .regions
            .iter()
            .filter(|r| r.kind == RegionKind::Ram)
            .find_map(|r| r.translate(segment.ipa, segment.mem_size))
        else {
            kprintln!(
                "partition '{}': segment at {:#x} has no RAM",
                partition.name,
                segment.ipa
            );
            halt_module(ModuleEnd::Failed(Failure::BootError));
        };
        let file_len = segment.data.len();
        let zero_len = segment.mem_size as usize - file_len;
        // SAFETY: `[phys, phys + mem_size)` is RAM of this partition only (boot_checks: inside
        // the board's RAM, outside the kernel's reserved window, not shared with any other
        // partition), identity mapped writable at EL2; no partition runs yet, so nothing else
        // accesses it; the source is kernel rodata and cannot overlap it.
        unsafe {
            core::ptr::copy_nonoverlapping(segment.data.as_ptr(), phys as *mut u8, file_len);
            core::ptr::write_bytes((phys as usize + file_len) as *mut u8, 0, zero_len);
        }
        cache::clean_to_poc_and_invalidate_icache(phys, segment.mem_size);
    }
}

/// Proves with the MMU itself that each core's stack is mapped writable and the page below
/// it is not, so an overflow faults instead of corrupting what lies below.
fn check_stack_guards() {
    for core in 0..MAX_CORES {
        let guard = boot::guard_page(core);
        let stack_bottom = guard + boot::GUARD_SIZE;
        if mmu::is_mapped(guard, false) || !mmu::is_mapped(stack_bottom, true) {
            kprintln!("core {core}: stack guard page at {guard:#x} is not in place");
            halt_module(ModuleEnd::Failed(Failure::BootError));
        }
    }
    kprintln!(
        "stack guards: {MAX_CORES} unmapped pages below the kernel stacks (checked with AT S1E2R)"
    );
}

fn print_banner(system: &System) {
    kprintln!("{} partitions:", system.partitions.len());
    for p in system.partitions {
        let mut cores = small_string::<32>();
        for (i, core) in p.cores.iter().enumerate() {
            let _ = write!(cores, "{}{core}", if i == 0 { "" } else { "," });
        }
        let placement = if p.is_time_partitioned() {
            "time-partitioned core"
        } else {
            "cores"
        };
        kprintln!(
            "  {} ({}, level {:?}) {placement} [{}] vmid {} entry {:#x}",
            p.name,
            p.kind.name(),
            p.criticality,
            cores.as_str(),
            p.vmid,
            p.image.entry_ipa
        );
        for r in p.regions {
            let access = [
                (r.access.read, 'r'),
                (r.access.write, 'w'),
                (r.access.execute, 'x'),
            ];
            let mut flags = small_string::<4>();
            for (on, c) in access {
                let _ = flags.write_char(if on { c } else { '-' });
            }
            let kind = match r.kind {
                RegionKind::Ram => "ram",
                RegionKind::Device => "device",
                RegionKind::Port => "port",
            };
            kprintln!(
                "    {:<12} {:<6} ipa {:#011x}-{:#011x} -> phys {:#011x} {}",
                r.name,
                kind,
                r.ipa,
                r.ipa + r.size,
                r.phys,
                flags.as_str()
            );
        }
    }
    kprintln!(
        "translation tables: {} of {} pages",
        page_pool::pages_used(),
        page_pool::pages_total()
    );
}

/// A small fixed-capacity string for banner formatting.
struct SmallString<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

fn small_string<const N: usize>() -> SmallString<N> {
    SmallString {
        bytes: [0; N],
        len: 0,
    }
}

impl<const N: usize> SmallString<N> {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("?")
    }
}

impl<const N: usize> core::fmt::Write for SmallString<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(core::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The partition whose first vCPU runs on `core`, if any.
fn partition_on_core(system: &'static System, core: usize) -> Option<&'static Partition> {
    system
        .partitions
        .iter()
        .filter(|p| !p.is_time_partitioned())
        .find(|p| p.cores.first().map(|&c| usize::from(c)) == Some(core))
}

fn run_core(core: usize) -> ! {
    let system = system();
    kprintln!(
        "core {core}: GIC CPU interface group 1 {}",
        if gic::group1_enabled() {
            "enabled"
        } else {
            "DISABLED"
        }
    );
    if let Some(partition) = partition_on_core(system, core) {
        kprintln!("core {core}: starting partition '{}'", partition.name);
        let vttbr = VTTBR[usize::from(partition.id)].load(Ordering::Relaxed);
        vcpu::start(
            partition,
            vttbr,
            VTCR.load(Ordering::Relaxed),
            0,
            boot::stack_top(core),
        )
    }
    if let Some(schedule) = u8::try_from(core).ok().and_then(|c| system.schedule_of(c)) {
        // Window switching (K3) is not built yet: rather than run one of the core's partitions
        // outside its windows, the core runs none of them.
        kprintln!(
            "core {core}: time-partitioned, {} windows in a major frame of {} ticks; window scheduling is not available yet, its partitions stay idle",
            schedule.windows.len(),
            schedule.major_frame_ticks
        );
    } else if let Some(owner) = system
        .partitions
        .iter()
        .find(|p| p.cores.iter().any(|&c| usize::from(c) == core))
    {
        // Secondary vCPUs are started by their partition through PSCI (a later increment).
        kprintln!(
            "core {core}: reserved for partition '{}' (secondary vCPU, not started)",
            owner.name
        );
    } else {
        kprintln!("core {core}: idle");
    }
    idle_core()
}

/// A core with nothing to run: it prints what the busy cores left in the console queues
/// (its time is nobody's) and sleeps until another core signals more (SEV).
fn idle_core() -> ! {
    loop {
        console::drain(Selection::All, 8 * DRAIN_BUDGET_BYTES);
        aarch64_cpu::asm::wfe();
    }
}

/// Kernel side of the hypercalls: guest memory reads, console lines, refusal logs.
struct Services;

impl KernelServices for Services {
    fn read_guest(&mut self, phys: u64, buf: &mut [u8]) {
        // The partition may have written these bytes with its caches off: clean and
        // invalidate first so the kernel's cacheable read sees memory, not a stale line.
        cache::clean_and_invalidate(phys, buf.len() as u64);
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: `phys..phys + len` was resolved by GuestRange::resolve to RAM of the
            // calling partition, which the EL2 map covers (all RAM, readable). The partition
            // may write it concurrently, hence volatile byte reads: any value is acceptable.
            *byte = unsafe { core::ptr::read_volatile((phys as usize + i) as *const u8) };
        }
    }

    fn console_write(&mut self, caller: &Partition, bytes: &[u8]) {
        let id = usize::from(caller.id);
        log::partition_write(id, bytes);
        // The caller's own time pays for printing its own lines (and pending kernel lines),
        // never another partition's.
        console::drain(Selection::Only(id), DRAIN_BUDGET_BYTES);
    }

    fn refused(&mut self, caller: &Partition, refusal: Refusal) {
        let counter = &REFUSALS[usize::from(caller.id)];
        // Saturating, so a partition refused 4 billion times is not logged afresh.
        let count = counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_add(1))
            })
            .map_or(u32::MAX, |previous| previous.saturating_add(1));
        if count > REFUSALS_LOGGED {
            return;
        }
        match refusal {
            Refusal::UnknownFunction { id } => {
                kprintln!(
                    "partition '{}': unknown hypercall {id:#x} refused (SMCCC NOT_SUPPORTED)",
                    caller.name
                )
            }
            Refusal::BadRange {
                call,
                ipa,
                len,
                why,
            } => kprintln!(
                "partition '{}': {call:?} refused (INVALID_PARAM): {len} bytes at {ipa:#x}: {why:?}",
                caller.name
            ),
            Refusal::TooLong { call, len, max } => {
                kprintln!(
                    "partition '{}': {call:?} refused (INVALID_PARAM): length {len} > {max}",
                    caller.name
                )
            }
            Refusal::NotPrivileged { call } => {
                kprintln!(
                    "partition '{}': {call:?} refused (INVALID_MODE): not a system partition",
                    caller.name
                )
            }
        }
        if count == REFUSALS_LOGGED {
            kprintln!(
                "partition '{}': {REFUSALS_LOGGED} hypercalls refused; further refusals are not logged",
                caller.name
            );
        }
    }
}

fn flush_console(partition: &Partition) {
    log::partition_end_line(usize::from(partition.id));
}

/// Stops `partition` on this core for good: its output is flushed and the core goes idle.
fn stop_partition(partition: &Partition, core: usize) -> ! {
    flush_console(partition);
    kprintln!("partition '{}' stopped; core {core} idle", partition.name);
    idle_core()
}

/// Ends the module: prints what is queued, then the module-end line last, and powers off.
fn halt_module(end: ModuleEnd) -> ! {
    console::flush_for_halt(format_args!("{end}"));
    let error = psci::system_off();
    console::emergency_line(format_args!("PSCI SYSTEM_OFF failed: {error:?}"));
    super::park_core()
}

/// A partition trapped with a synchronous exception.
pub extern "C" fn handle_lower_sync(frame: &mut TrapFrame) {
    let core = this_core();
    let system = system();
    let Some(partition) = partition_on_core(system, core) else {
        kprintln!("core {core}: trap from a lower EL with no partition on this core");
        halt_module(ModuleEnd::Failed(Failure::KernelFault));
    };
    let esr = ESR_EL2.get();
    let class = ExceptionClass::from_esr(esr);
    match class {
        ExceptionClass::Hvc64 | ExceptionClass::Smc64 => {
            if class == ExceptionClass::Smc64 {
                // A trapped SMC returns to itself; step over it like HVC does.
                frame.elr += 4;
            }
            match hypercall::dispatch(&mut frame.x, partition, core, &mut Services) {
                Outcome::Resume => {}
                Outcome::StopPartition { status } => {
                    flush_console(partition);
                    kprintln!(
                        "partition '{}' stopped itself (status {status})",
                        partition.name
                    );
                    stop_partition(partition, core)
                }
                Outcome::ShutdownModule { status } => {
                    flush_console(partition);
                    halt_module(ModuleEnd::Shutdown {
                        by: partition.name,
                        status,
                    })
                }
            }
        }
        ExceptionClass::SysReg => {
            let access = SysRegAccess::from_esr(esr);
            let emulation = sysreg_trap::emulate(&access);
            if !sysreg_trap::apply(emulation, &access, &mut frame.x, &mut frame.elr) {
                partition_fault(partition, core, frame, esr, class)
            }
            log_trapped_access(partition, access.kind(), frame.elr - 4);
        }
        _ => partition_fault(partition, core, frame, esr, class),
    }
}

/// Logs the first emulated access of each kind a partition makes.
fn log_trapped_access(partition: &Partition, kind: TrappedKind, pc: u64) {
    let bit = 1u8 << (kind as u8);
    let logged = TRAPS_LOGGED[usize::from(partition.id)].fetch_or(bit, Ordering::Relaxed);
    if logged & bit == 0 {
        let effect = match kind {
            TrappedKind::CacheSetWay => "skipped",
            _ => "reads as zero, writes ignored",
        };
        kprintln!(
            "partition '{}': {} access trapped at pc {pc:#x} ({effect}); further ones are not logged",
            partition.name,
            kind.name()
        );
    }
}

/// A fault inside a partition: log it in full, then stop that partition (the health
/// monitor's configurable actions replace this fixed one in a later increment).
fn partition_fault(
    partition: &Partition,
    core: usize,
    frame: &TrapFrame,
    esr: u64,
    class: ExceptionClass,
) -> ! {
    flush_console(partition);
    let name = partition.name;
    match class {
        ExceptionClass::DataAbortLower | ExceptionClass::InstructionAbortLower => {
            let far = FAR_EL2.get();
            let ipa = ((HPFAR_EL2.get() >> 4) << 12) | (far & 0xfff);
            let abort = esr::AbortSyndrome::from_esr(esr);
            let access = match class {
                ExceptionClass::InstructionAbortLower => "execute",
                _ if abort.write => "write",
                _ => "read",
            };
            kprintln!(
                "HM: partition '{name}' stage-2 abort on core {core}: {access} at IPA {ipa:#x} (VA {far:#x}), pc {:#x}",
                frame.elr
            );
        }
        _ => kprintln!(
            "HM: partition '{name}' fault on core {core}: {}, pc {:#x}",
            class.description(),
            frame.elr
        ),
    }
    kprintln!("HM: ESR_EL2 {}", esr::Decoded(esr));
    kprintln!("HM: action: stop partition '{name}'");
    stop_partition(partition, core)
}

/// A physical interrupt arrived while a partition ran. None is routed yet, so this is
/// unexpected: acknowledge, log, and carry on.
pub extern "C" fn handle_lower_irq(_frame: &mut TrapFrame) {
    if let Some(intid) = GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1) {
        GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1);
        kprintln!("core {}: unexpected interrupt {intid:?}", this_core());
    }
}

/// An SError (or an AArch32 exception, never configured) from a partition.
pub extern "C" fn handle_lower_serror(frame: &mut TrapFrame) {
    let core = this_core();
    match partition_on_core(system(), core) {
        Some(partition) => partition_fault(
            partition,
            core,
            frame,
            ESR_EL2.get(),
            ExceptionClass::SError,
        ),
        None => halt_module(ModuleEnd::Failed(Failure::KernelFault)),
    }
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
