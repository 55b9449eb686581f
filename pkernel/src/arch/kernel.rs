//! What every core does: boot (the boot core builds all tables and loads all images, then
//! starts the others), run its partition, and handle that partition's traps.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use aarch64_cpu::registers::{
    CNTFRQ_EL0, ESR_EL2, FAR_EL2, HPFAR_EL2, Readable, TPIDR_EL2, Writeable,
};
use arm_gic::InterruptGroup;
use arm_gic::gicv3::GicCpuInterface;

use super::exceptions::TrapFrame;
use super::{MAX_CORES, boot, cache, console, gic, mmu, page_pool, park_core, psci, stage2, vcpu};
use crate::config::{MAX_PARTITIONS, Partition, RegionKind, System};
use crate::console::LineBuffer;
use crate::esr::{self, ExceptionClass};
use crate::hypercall::{self, KernelServices, Outcome, Refusal};
use crate::kprintln;
use crate::sync::SpinLock;

/// The system tables, published by the boot core before any other core starts.
static SYSTEM: AtomicPtr<System> = AtomicPtr::new(core::ptr::null_mut());
/// VTTBR_EL2 of each partition, written by the boot core before any other core starts.
static VTTBR: [AtomicU64; MAX_PARTITIONS] = [const { AtomicU64::new(0) }; MAX_PARTITIONS];
static VTCR: AtomicU64 = AtomicU64::new(0);
/// Refused hypercalls of each partition so far; only the first few are logged, so a partition
/// looping on bad calls cannot monopolise the shared console (and with it other partitions).
static REFUSALS: [AtomicU32; MAX_PARTITIONS] = [const { AtomicU32::new(0) }; MAX_PARTITIONS];
const REFUSALS_LOGGED: u32 = 16;
/// Console bytes of each partition not yet making a whole line.
static LINE_BUFFERS: [SpinLock<LineBuffer>; MAX_PARTITIONS] =
    [const { SpinLock::new(LineBuffer::new()) }; MAX_PARTITIONS];

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

/// Entry of every core (from `boot`), with the system tables the image was built with.
pub fn run(system: &'static System, core: usize) -> ! {
    TPIDR_EL2.set(core as u64);
    if core == 0 {
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
        halt_module();
    }
    if let Err(error) = mmu::build(board) {
        kprintln!("EL2 translation tables: {error:?}");
        halt_module();
    }
    mmu::enable_on_this_core();
    SYSTEM.store(system as *const System as *mut System, Ordering::Release);
    VTCR.store(stage2::vtcr(), Ordering::Relaxed);
    for partition in system.partitions {
        match stage2::build(partition) {
            Ok(vttbr) => VTTBR[usize::from(partition.id)].store(vttbr, Ordering::Relaxed),
            Err(error) => {
                kprintln!("partition '{}': stage-2 tables: {error:?}", partition.name);
                halt_module();
            }
        }
        load_image(partition);
    }
    if let Err(error) = gic::init(board, 0) {
        kprintln!("GIC initialisation failed: {error:?}");
        halt_module();
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
            halt_module();
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
        page_pool::POOL_PAGES
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
    park_core()
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
        let mut buffer = LINE_BUFFERS[usize::from(caller.id)].lock();
        buffer.push(bytes, |line| {
            console::print_line(caller.name, format_args!("{line}"))
        });
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
    let mut buffer = LINE_BUFFERS[usize::from(partition.id)].lock();
    if !buffer.is_empty() {
        buffer.flush(&mut |line: &str| console::print_line(partition.name, format_args!("{line}")));
    }
}

/// Stops `partition` on this core for good: its output is flushed and the core parks.
fn stop_partition(partition: &Partition, core: usize) -> ! {
    flush_console(partition);
    kprintln!("partition '{}' stopped; core {core} idle", partition.name);
    park_core()
}

fn halt_module() -> ! {
    kprintln!("module halted");
    let error = psci::system_off();
    kprintln!("PSCI SYSTEM_OFF failed: {error:?}");
    park_core()
}

/// A partition trapped with a synchronous exception.
pub extern "C" fn handle_lower_sync(frame: &mut TrapFrame) {
    let core = this_core();
    let system = system();
    let Some(partition) = partition_on_core(system, core) else {
        kprintln!("core {core}: trap from a lower EL with no partition on this core");
        halt_module();
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
                    kprintln!(
                        "module shutdown requested by '{}' (status {status})",
                        partition.name
                    );
                    halt_module()
                }
            }
        }
        _ => partition_fault(partition, core, frame, esr, class),
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
        None => halt_module(),
    }
}

/// An exception taken at EL2: a kernel bug. Log everything and stop the module.
pub extern "C" fn handle_el2_fault(frame: &mut TrapFrame) {
    let esr = ESR_EL2.get();
    kprintln!(
        "KERNEL FAULT on core {}: ESR_EL2 {} at pc {:#x}, FAR {:#x}",
        this_core(),
        esr::Decoded(esr),
        frame.elr,
        FAR_EL2.get()
    );
    halt_module()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    kprintln!("KERNEL PANIC on core {}: {info}", this_core());
    halt_module()
}
