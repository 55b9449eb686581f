//! HIL evidence for the virtual UART (issue #9 item 4): a partition drives the PL011 at QEMU
//! virt's UART address as a guest's own driver does, and what it transmits reaches its
//! console stream.
//!
//! Scenario `vuart.toml`: `left` (core 1) and `right` (core 2), both `bm-pl011`, at the same
//! time read the PL011's ID registers (the values Linux's AMBA bus matches), program and read
//! back its configuration registers, and write 20 lines a byte at a time, polling the flag
//! register before each byte.
//!
//! How it fails: a wrong ID or a configuration register that does not read back (the
//! `pl011:` lines), a byte lost, duplicated or taken for the other partition's (a line that is
//! not exactly what was written), a transmit FIFO that never empties (`FAIL`), or a trap the
//! kernel does not emulate (an HM line: the UART's page is not mapped at stage 2, so every
//! access is emulated or is a fault).

mod common;

use common::{assert_kernel_healthy, boot, scenario};

#[test]
fn a_partition_prints_through_its_own_pl011() {
    let Some(log) = boot(
        "a_partition_prints_through_its_own_pl011",
        &scenario("vuart"),
    ) else {
        return;
    };
    assert_kernel_healthy(&log);
    log.assert_clean_exit();
    log.assert_no_line_containing("FAIL");
    log.assert_no_line_containing("HM:");
    log.assert_no_line_containing("lines dropped");
    for name in ["left", "right"] {
        log.assert_line(&format!(
            "[{name}] pl011: ids 0x11 0x10 0x14 0x0 cell 0xd 0xf0 0x5 0xb1"
        ));
        log.assert_line(&format!(
            "[{name}] pl011: ibrd 13 fbrd 1 lcr_h 0x70 cr 0x101 fr 0x90"
        ));
        let lines: Vec<&String> = log
            .lines
            .iter()
            .filter(|l| l.starts_with(&format!("[{name}] line ")))
            .collect();
        let expected: Vec<String> = (1..=20)
            .map(|n| {
                format!(
                    "[{name}] line {n} through my PL011 abcdefghijklmnopqrstuvwxyzabcdefghijklmn"
                )
            })
            .collect();
        assert_eq!(lines, expected.iter().collect::<Vec<_>>(), "{name}\n{log}");
        log.assert_line(&format!("[{name}] pl011: 20 lines written"));
    }
}
