//! The EL2 system register values pkernel runs with, each bit named and explained.
//! Values are written by `mmu` (EL2 translation), `vcpu` (partition entry) and `boot`.

/// SCTLR_EL2 RES1 bits (non-VHE): 4, 5, 11, 16, 18, 22, 23, 28, 29.
pub const SCTLR_EL2_RES1: u64 = (1 << 4)
    | (1 << 5)
    | (1 << 11)
    | (1 << 16)
    | (1 << 18)
    | (1 << 22)
    | (1 << 23)
    | (1 << 28)
    | (1 << 29);
/// At reset: MMU, caches and alignment checks off, little-endian.
pub const SCTLR_EL2_MMU_OFF: u64 = SCTLR_EL2_RES1;
/// Running: M (stage-1 on), C (data cache), SA (stack alignment check), I (instruction
/// cache), WXN (writable memory is never executable).
pub const SCTLR_EL2_RUNNING: u64 =
    SCTLR_EL2_RES1 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12) | (1 << 19);

/// MAIR_EL2: index 0 = Normal write-back RW-allocate, index 1 = Device-nGnRE (the indices
/// the build-time EL2 tables use: `system_tables::translation`).
pub const MAIR_EL2: u64 = 0xff | (0x04 << 8);
pub const MAIR_NORMAL_INDEX: usize = system_tables::translation::MAIR_NORMAL_INDEX;
pub const MAIR_DEVICE_INDEX: usize = system_tables::translation::MAIR_DEVICE_INDEX;

/// Size of the address spaces (EL2 VA and stage-2 IPA): 39 bits, so one 4 KiB level-1 root
/// table covers it (what the build-time tables are built for).
pub const ADDRESS_BITS: u64 = system_tables::translation::INPUT_ADDRESS_BITS as u64;
/// TCR_EL2.T0SZ and VTCR_EL2.T0SZ.
pub const T0SZ: u32 = 64 - ADDRESS_BITS as u32;

/// TCR_EL2: T0SZ = 64 - 39, inner/outer write-back walks, inner shareable, 4 KiB granule,
/// RES1 bits 23 and 31; PS (physical size) is ORed in from ID_AA64MMFR0_EL1 at boot.
pub const TCR_EL2_BASE: u64 =
    (64 - ADDRESS_BITS) | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (1 << 31);
pub const TCR_EL2_PS_SHIFT: u64 = 16;

/// VTCR_EL2: T0SZ = 64 - 39, SL0 = 1 (walk starts at level 1), write-back walks, inner
/// shareable, 4 KiB granule, RES1 bit 31; PS ORed in at boot.
pub const VTCR_EL2_BASE: u64 =
    (64 - ADDRESS_BITS) | (1 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 31);
pub const VTCR_EL2_PS_SHIFT: u64 = 16;

/// HCR_EL2 while a partition runs:
/// VM (stage-2 on), SWIO, PTW, FMO/IMO/AMO (physical FIQ, IRQ, SError to EL2),
/// FB (broadcast TLB/cache maintenance within the inner shareable domain), BSU = inner
/// shareable, TSC (trap SMC: a partition never reaches the firmware; the kernel answers SMCCC
/// calls itself, PSCI for partitions comes in a later increment), TACR (trap auxiliary control
/// registers), TIDCP (trap implementation-defined registers), TSW (trap data cache
/// maintenance by set/way: it acts on the whole shared cache; see `trap::sysreg`), RW (EL1 is
/// AArch64).
pub const HCR_EL2_GUEST: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 9)
    | (1 << 10)
    | (1 << 19)
    | (1 << 20)
    | (1 << 21)
    | (1 << 22)
    | (1 << 31);

/// CPTR_EL2 (non-VHE): RES1 bits 0..=7, 9, 13; TZ (bit 8) and TSM (bit 12) set, which traps
/// SVE and SME where implemented (RES1 where not): the kernel does not save those registers.
/// TFP, TTA and TCPAC clear, so a partition uses its FP/SIMD registers natively (the kernel is
/// built soft-float and never touches them).
pub const CPTR_EL2_GUEST: u64 = 0xff | (1 << 8) | (1 << 9) | (1 << 12) | (1 << 13);

/// CNTHCTL_EL2: EL1PCTEN (partitions read the physical counter); EL1PCEN clear, so the
/// EL1 physical *timer* traps: the virtual timer is the partition's own.
pub const CNTHCTL_EL2_GUEST: u64 = 1 << 0;

/// MDCR_EL2 while a partition runs: the PMU and the debug registers are shared by all code on
/// a core, so a partition must neither count the kernel's (or another partition's) events nor
/// program breakpoints and watchpoints. TPMCR (bit 5) and TPM (bit 6) trap every PMU register
/// access, TDA (9) the debug registers, TDOSA (10) the OS lock and power-down registers, TDRA
/// (11) the debug ROM address; `trap::sysreg` emulates them as reads-as-zero. TDE (8) and HPME
/// (7) stay clear: the kernel neither takes debug exceptions nor counts at EL2. HPMN (bits
/// 0..4) keeps the number of counters the CPU has (`pmcr_n`), its reset value. Where the CPU
/// has them (ID_AA64DFR0_EL1), the statistical profiling registers (TPMS, bit 14) and the
/// trace filter (TTRF, bit 19) are trapped too; elsewhere those bits are RES0.
///
/// A partition granted the PMU (`pmu = true`, for benchmarks) gets TPM and TPMCR clear: it
/// programs and reads the counters itself.
pub fn mdcr_el2_guest(pmcr_n: u64, id_aa64dfr0: u64, pmu_granted: bool) -> u64 {
    let pms_version = (id_aa64dfr0 >> 32) & 0xf;
    let trace_filter = (id_aa64dfr0 >> 40) & 0xf;
    let pmu_traps = if pmu_granted { 0 } else { (1 << 5) | (1 << 6) };
    let mut value = (pmcr_n & 0x1f) | pmu_traps | (1 << 9) | (1 << 10) | (1 << 11);
    if pms_version != 0 {
        value |= 1 << 14;
    }
    if trace_filter != 0 {
        value |= 1 << 19;
    }
    value
}
