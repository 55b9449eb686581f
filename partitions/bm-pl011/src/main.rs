//! Test partition for the virtual UART (HIL `a_partition_prints_through_its_own_pl011`,
//! `hil-tests/scenarios/vuart.toml`).
//!
//! It drives the PL011 at QEMU virt's UART address as a bare-metal driver would: it reads
//! the peripheral and cell ID registers, sets the baud rate, line control and control
//! registers and reads them back, then writes [`LINES`] lines a byte at a time to the data
//! register, each after polling the flag register until the transmit FIFO is not full, one
//! line every [`LINE_PAUSE_MS`].
//! What it reads is reported with the `ConsoleWrite` hypercall (`pl011: ...`); the lines go
//! through the UART: `line <n> through my PL011 <filler>`.
#![no_std]
#![no_main]

use bm_runtime::apex_api::call::partition_stop;
use bm_runtime::{BootInfo, println};

bm_runtime::entry!(main);

/// QEMU virt's PL011 (the partition's own virtual one under pkernel).
const UART: usize = 0x0900_0000;
const DR: usize = 0x000;
const FR: usize = 0x018;
const IBRD: usize = 0x024;
const FBRD: usize = 0x028;
const LCR_H: usize = 0x02c;
const CR: usize = 0x030;
/// UARTFR.TXFF: the transmit FIFO is full.
const FR_TXFF: u32 = 1 << 5;
const LINES: u32 = 20;
/// Pause after each line.
const LINE_PAUSE_MS: u64 = 30;

fn read(offset: usize) -> u32 {
    let value: u32;
    // SAFETY: a single 32-bit load of a UART register below the partition's RAM, where no Rust
    // object lives; reading these registers has no side effect here (DR is not read).
    unsafe {
        core::arch::asm!("ldr {v:w}, [{a}]", a = in(reg) UART + offset, v = out(reg) value,
            options(nostack, preserves_flags, readonly))
    };
    value
}

fn write(offset: usize, value: u32) {
    // SAFETY: a single 32-bit store to a UART register (see `read`).
    unsafe {
        core::arch::asm!("str {v:w}, [{a}]", a = in(reg) UART + offset, v = in(reg) value,
            options(nostack, preserves_flags))
    };
}

fn put(byte: u8) {
    let mut spins = 0u32;
    while read(FR) & FR_TXFF != 0 {
        spins += 1;
        if spins > 1_000_000 {
            println!("pl011: FAIL the transmit FIFO stays full");
            partition_stop(1);
        }
    }
    write(DR, u32::from(byte));
}

fn main(_boot: BootInfo) -> ! {
    let ids: [u32; 8] = core::array::from_fn(|i| read(0xfe0 + 4 * i));
    println!(
        "pl011: ids {:#x} {:#x} {:#x} {:#x} cell {:#x} {:#x} {:#x} {:#x}",
        ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], ids[7]
    );
    // 115200 baud from 24 MHz, 8N1 with FIFOs, UART and transmitter on.
    write(CR, 0);
    write(IBRD, 13);
    write(FBRD, 1);
    write(LCR_H, 0x70);
    write(CR, 0x101);
    println!(
        "pl011: ibrd {} fbrd {} lcr_h {:#x} cr {:#x} fr {:#x}",
        read(IBRD),
        read(FBRD),
        read(LCR_H),
        read(CR),
        read(FR)
    );
    for n in 1..=LINES {
        let mut digits = [0u8; 10];
        let mut k = digits.len();
        let mut v = n;
        loop {
            k -= 1;
            digits[k] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &b in b"line "
            .iter()
            .chain(&digits[k..])
            .chain(b" through my PL011 ")
        {
            put(b);
        }
        for i in 0..40u8 {
            put(b'a' + i % 26);
        }
        put(b'\n');
        // At a pace the console keeps up with whatever else prints: a partition that prints
        // faster than the UART drains loses lines (counted), by design.
        bm_runtime::delay_ms(LINE_PAUSE_MS);
    }
    println!("pl011: {LINES} lines written");
    partition_stop(0)
}
