//! Runtime for bare-metal partitions: entry, `.bss`, FP enable, console printing, a panic
//! handler that reports and stops the partition, the partition's information page
//! ([`info`]), and interrupts: exception vectors, the GIC CPU interface and the partition's
//! own SPIs in its (virtual) distributor ([`irq`]).
//!
//! A partition crate provides `#[unsafe(no_mangle)] fn partition_main(info: BootInfo) -> !`
//! (or use the [`entry!`] macro) and a build script adding `-Tbm-partition.x` to its link.
#![no_std]

pub use apex_api;
pub use apex_api::call::Console;
use apex_api::hypercall::CONSOLE_WRITE_MAX;
use apex_api::info::{INFO_PAGE_IPA, INFO_PAGE_SIZE, InfoError, InfoPage};

pub mod irq;

/// What the kernel tells a partition at entry (x0, x1).
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// Index of this partition in the system configuration.
    pub partition_id: u64,
    /// vCPU this code runs on (0 for the boot vCPU).
    pub vcpu: u64,
}

/// Declares the partition's main function, which runs in NORMAL mode: the runtime's own
/// initialisation (stack, `.bss`, FP) is all a bare-metal partition needs, so the runtime
/// ends the ARINC 653 initialisation phase (SET_PARTITION_MODE NORMAL) before `main`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn bm_partition_main(partition_id: u64, vcpu: u64) -> ! {
            let f: fn($crate::BootInfo) -> ! = $main;
            let _ = $crate::apex_api::call::set_partition_mode(
                $crate::apex_api::partition::OperatingMode::Normal,
            );
            f($crate::BootInfo { partition_id, vcpu })
        }
    };
}

/// Declares a main function that runs in the start mode (COLD_START or WARM_START) and
/// ends initialisation itself with `set_partition_mode(OperatingMode::Normal)`.
#[macro_export]
macro_rules! entry_initialising {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn bm_partition_main(partition_id: u64, vcpu: u64) -> ! {
            let f: fn($crate::BootInfo) -> ! = $main;
            f($crate::BootInfo { partition_id, vcpu })
        }
    };
}

/// Prints a line on the partition's console (the kernel prefixes it with the partition name).
/// The line is formatted in a [`LineWriter`] on the stack first, so text from anywhere the
/// partition can read (the information page's names included) can be printed.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut line = $crate::LineWriter::new();
        let _ = writeln!(line, $($arg)*);
        line.flush();
    }};
}

/// Collects console text in the partition's own memory (its stack) and writes it with one
/// console hypercall per [`CONSOLE_WRITE_MAX`] bytes. The kernel takes console bytes only from
/// the partition's RAM, so text borrowed from elsewhere (the read-only information page) is
/// copied here first; and a line costs one hypercall instead of one per formatted piece.
pub struct LineWriter {
    buffer: [u8; CONSOLE_WRITE_MAX],
    len: usize,
}

impl LineWriter {
    pub const fn new() -> Self {
        Self {
            buffer: [0; CONSOLE_WRITE_MAX],
            len: 0,
        }
    }

    /// Writes out what has been collected.
    pub fn flush(&mut self) {
        let _ = apex_api::call::console_write(&self.buffer[..self.len]);
        self.len = 0;
    }
}

impl Default for LineWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Write for LineWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // Bytes, not characters: the kernel assembles lines from whatever chunks it gets.
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            if self.len == CONSOLE_WRITE_MAX {
                self.flush();
            }
            let n = bytes.len().min(CONSOLE_WRITE_MAX - self.len);
            self.buffer[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

// Entry: x0/x1 from the kernel are kept for `bm_partition_main`. Enables FP/SIMD at EL1
// (Rust code uses SIMD registers), clears .bss, takes the stack from the linker script.
core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    mov     x9, #(3 << 20)
    msr     cpacr_el1, x9
    isb
    adrp    x9, __stack_top
    add     x9, x9, :lo12:__stack_top
    mov     sp, x9
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
1:  cmp     x9, x10
    b.hs    2f
    str     xzr, [x9], #8
    b       1b
2:  bl      bm_partition_main
3:  wfi
    b       3b
    "#
);

/// This partition's information page (`apex_api::info`): its identity, cores, time budget,
/// regions, devices and ports with their buffer addresses, as the configuration it runs under
/// placed them. Checked before use; an error means the page is not what this runtime expects
/// (another layout version, or a kernel that maps none).
pub fn info() -> Result<InfoPage<'static>, InfoError> {
    // SAFETY: the kernel maps this partition's information page at INFO_PAGE_IPA, read-only,
    // for the partition's whole life (docs/info-page.md), and this runtime never turns the
    // MMU on, so the IPA is the address. The page is the kernel image's read-only data:
    // nothing writes it, so a shared `&'static [u8]` over it never aliases a mutation.
    // Every read is a naturally aligned integer or a byte (the layout's rule, and this
    // target's strict alignment), as Device memory, which the page is with the MMU off,
    // requires.
    let page =
        unsafe { core::slice::from_raw_parts(INFO_PAGE_IPA as usize as *const u8, INFO_PAGE_SIZE) };
    InfoPage::parse(page)
}

/// Reads the virtual counter (ticks since boot; the kernel sets no offset).
pub fn counter() -> u64 {
    let value: u64;
    // SAFETY: reading CNTVCT_EL0 has no side effects; EL1 may always read it.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack, preserves_flags))
    };
    value
}

/// Counter ticks per second.
pub fn counter_frequency() -> u64 {
    let value: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, cntfrq_el0", out(reg) value, options(nomem, nostack, preserves_flags))
    };
    value
}

/// Busy-waits `ms` milliseconds on the counter.
pub fn delay_ms(ms: u64) {
    let until = counter() + counter_frequency() * ms / 1000;
    while counter() < until {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("panic: {}", info);
    apex_api::call::partition_stop(u64::MAX)
}
