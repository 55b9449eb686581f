//! Bringing the module up: the boot core checks the tables, builds every address space,
//! loads every image, initialises the GIC, prints the banner and starts the other cores;
//! then every core runs what its plan says (`sched`). Straight-line and safe: each step is a
//! mechanism of `arch`.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{CNTFRQ_EL0, Readable};

use crate::arch::context::VcpuContext;
use crate::arch::entry::{self, halt_module, idle_core};
use crate::arch::machine::Hardware;
use crate::arch::{MAX_CORES, boot, console, gic, loader, mmu, psci, stage2, timer, vcpu};
use crate::config::{Partition, RegionKind, System};
use crate::kprintln;
use crate::module::{Failure, ModuleEnd};
use crate::partition;
use crate::sched::run::{
    CoreEnd, CorePartitions, run_dedicated, run_secondary, run_time_partitioned,
};
use crate::sched::{self, CorePlan};
use crate::vgic;
use apex_api::info::{INFO_PAGE_IPA, INFO_PAGE_SIZE};
use system_tables::translation::InfoPageBytes;

static VTCR: AtomicU64 = AtomicU64::new(0);
/// Counter value at which every time-partitioned core starts its first major frame.
static FIRST_FRAME: AtomicU64 = AtomicU64::new(0);

/// How long after the boot core starts the others the first major frame begins: time for
/// every core to come up, so all start the frame together (10 ms).
const START_DELAY_MS: u64 = 10;

fn fail(failure: Failure) -> ! {
    halt_module(ModuleEnd::Failed(failure))
}

/// The boot core. `info_pages` are the partitions' information pages, by id (the banner says
/// where each is).
pub fn primary(system: &'static System, info_pages: &'static [InfoPageBytes]) -> ! {
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
        fail(Failure::ConfigurationRejected);
    }
    // The translation tables were built with the image; only check they are this system's.
    let tables = mmu::linked_header();
    if let Err(error) = tables.check(
        system.tables_sha256,
        system.partitions.len(),
        mmu::pages_base(),
        mmu::pages_len(),
    ) {
        kprintln!("translation tables rejected at boot: {error}");
        fail(Failure::BootError);
    }
    mmu::use_el2_root(&tables);
    mmu::enable_on_this_core();
    // Only the board's cores ever run, so only their stacks need guards.
    check_el2_map(board.core_count().min(MAX_CORES));
    entry::publish(system);
    VTCR.store(stage2::vtcr(), Ordering::Relaxed);
    for partition in system.partitions {
        if let Err(error) = loader::load_image(partition) {
            kprintln!(
                "partition '{}': segment at {:#x} has no RAM",
                partition.name,
                error.segment_ipa
            );
            fail(Failure::BootError);
        }
    }
    // No stale translation may survive for the VMIDs just set up.
    stage2::invalidate_all_guest_tlbs();
    if let Err(error) = gic::init(board, 0) {
        kprintln!("GIC initialisation failed: {error:?}");
        fail(Failure::BootError);
    }
    // Each partition's device interrupts go to its first core, disabled until it enables
    // them through its virtual distributor.
    let first_core_mpidr = |partition: &Partition| {
        let core = *partition.cores.first()?;
        board.core_mpidrs.get(usize::from(core))
    };
    for partition in system.partitions {
        let mpidr = first_core_mpidr(partition);
        for &intid in partition.interrupts {
            let routed = mpidr
                .filter(|_| partition.interrupts.len() <= vgic::MAX_INTERRUPTS)
                .is_some_and(|&mpidr| gic::configure_partition_spi(intid, mpidr).is_ok());
            if !routed {
                kprintln!(
                    "partition '{}': interrupt {intid} cannot be routed to it",
                    partition.name
                );
                fail(Failure::BootError);
            }
        }
    }
    // What is typed on the console goes to one partition (if the configuration names one):
    // the UART's receive interrupt is taken on its first core.
    if let Some(partition) = system.console_input_partition() {
        let intid = board.kernel_uart_interrupt;
        if first_core_mpidr(partition)
            .is_none_or(|&mpidr| gic::configure_partition_spi(intid, mpidr).is_err())
        {
            kprintln!(
                "console input: interrupt {intid} cannot be routed to '{}'",
                partition.name
            );
            fail(Failure::BootError);
        }
        gic::spi(intid, crate::machine::SpiOp::Enable(true), board);
        console::receive_interrupt(true);
        kprintln!("console input goes to partition '{}'", partition.name);
    }
    print_banner(system, info_pages);
    let first_frame = timer::now() + CNTFRQ_EL0.get() * START_DELAY_MS / 1000;
    FIRST_FRAME.store(first_frame, Ordering::Release);
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

/// Any other core, after its MMU and GIC CPU interface are on.
pub fn secondary(core: usize) -> ! {
    run_core(core)
}

/// Proves with the MMU itself what the build-time EL2 tables promise: the kernel's code and
/// the tables cannot be written, and the stack of each of the first `cores` cores is mapped
/// writable while the page below it is not, so an overflow faults instead of corrupting what
/// lies below.
fn check_el2_map(cores: usize) {
    for address in mmu::read_only_witnesses() {
        if !mmu::is_mapped(address, false) || mmu::is_mapped(address, true) {
            kprintln!("EL2 map: {address:#x} is not mapped read-only");
            fail(Failure::BootError);
        }
    }
    for core in 0..cores {
        let guard = boot::guard_page(core);
        let stack_bottom = guard + boot::GUARD_SIZE;
        if mmu::is_mapped(guard, false) || !mmu::is_mapped(stack_bottom, true) {
            kprintln!("core {core}: stack guard page at {guard:#x} is not in place");
            fail(Failure::BootError);
        }
    }
    kprintln!(
        "EL2 map checked with AT: code and tables read-only, {cores} unmapped stack guard pages"
    );
}

/// The first-entry context of `partition`'s vCPU 0, claimed by this core.
fn claim_vcpu(partition: &'static Partition) -> Option<&'static mut VcpuContext> {
    let vcpu = partition::state(usize::from(partition.id))?.take_vcpu()?;
    *vcpu = first_entry(partition)?;
    Some(vcpu)
}

/// `partition`'s vCPU 0 at its first instruction: its entry, boot argument, stage 2 and
/// debug controls (a secondary vCPU takes the last two from it).
fn first_entry(partition: &'static Partition) -> Option<VcpuContext> {
    let mut vcpu = VcpuContext::first_entry(
        partition.image.entry_ipa,
        partition::entry_x0(partition),
        0,
        // The header passed its checks at boot (every root inside the table pages).
        stage2::vttbr(
            partition.vmid,
            *mmu::linked_header()
                .stage2_roots
                .get(usize::from(partition.id))?,
        ),
    );
    vcpu.partition = u64::from(partition.id);
    vcpu.mdcr = vcpu::mdcr_for(partition.pmu);
    vcpu.fast_interrupts = partition::state(usize::from(partition.id))?.fast_interrupts_address(0);
    Some(vcpu)
}

fn run_core(core: usize) -> ! {
    let system = entry::system();
    kprintln!(
        "core {core}: GIC CPU interface group 1 {}",
        if gic::group1_enabled() {
            "enabled"
        } else {
            "DISABLED"
        }
    );
    vcpu::init_core_controls(VTCR.load(Ordering::Relaxed));
    let mut machine = Hardware::this_core(core);
    let end = match sched::plan(system, core) {
        CorePlan::Dedicated(partition) => {
            kprintln!("core {core}: starting partition '{}'", partition.name);
            let Some(vcpu) = claim_vcpu(partition) else {
                fail(Failure::BootError)
            };
            let mut partitions = CorePartitions::new();
            partitions.insert(partition, vcpu);
            let now = timer::now();
            match partitions.get_mut(partition.id) {
                Some(entry) => run_dedicated(&mut machine, entry, now),
                None => CoreEnd::Idle,
            }
        }
        CorePlan::TimePartitioned(schedule) => {
            let mut partitions = CorePartitions::new();
            for partition in system.partitions {
                if sched::runs_on(system, partition, core) {
                    let Some(vcpu) = claim_vcpu(partition) else {
                        fail(Failure::BootError)
                    };
                    partitions.insert(partition, vcpu);
                }
            }
            kprintln!(
                "core {core}: time-partitioned, {} windows in a major frame of {} ticks",
                schedule.windows.len(),
                schedule.major_frame_ticks
            );
            run_time_partitioned(
                &mut machine,
                schedule,
                &mut partitions,
                FIRST_FRAME.load(Ordering::Acquire),
            )
        }
        CorePlan::Reserved(owner) => {
            // Its secondary vCPU, which the partition starts through PSCI CPU_ON.
            let index = owner
                .cores
                .iter()
                .position(|&c| usize::from(c) == core)
                .unwrap_or(0);
            kprintln!(
                "core {core}: reserved for partition '{}' (vCPU {index}, started by it)",
                owner.name
            );
            let Some(template) = first_entry(owner) else {
                fail(Failure::BootError)
            };
            run_secondary(&mut machine, owner, index, &template)
        }
        CorePlan::Idle => {
            kprintln!("core {core}: idle");
            CoreEnd::Idle
        }
    };
    match end {
        CoreEnd::Halt(end) => halt_module(end),
        CoreEnd::Idle => idle_core(),
    }
}

fn print_banner(system: &System, info_pages: &[InfoPageBytes]) {
    kprintln!("{} partitions:", system.partitions.len());
    for (id, p) in system.partitions.iter().enumerate() {
        let mut cores = SmallString::<32>::new();
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
            let mut flags = SmallString::<4>::new();
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
        // Mapped by the table linker, not in `regions`: the kernel never reads it.
        if let Some(info) = info_pages.get(id) {
            kprintln!(
                "    {:<12} {:<6} ipa {:#011x}-{:#011x} -> phys {:#011x} r--",
                "(info page)",
                "info",
                INFO_PAGE_IPA,
                INFO_PAGE_IPA + INFO_PAGE_SIZE as u64,
                info.0.as_ptr() as u64
            );
        }
    }
    let tables = mmu::linked_header();
    kprintln!(
        "translation tables (built with the image): {} of {} pages",
        tables.pages_used,
        tables.pages_total
    );
}

/// A small fixed-capacity string for banner formatting.
struct SmallString<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> SmallString<N> {
    fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

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
