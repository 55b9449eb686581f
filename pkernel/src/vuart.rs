//! The virtual UART every partition sees: enough of an Arm PL011 (Arm DDI 0183) at the
//! board's console address for a guest's own driver (Linux's `earlycon=pl011` and
//! `amba-pl011` console) to print, emulated on the stage-2 faults of its accesses. What it
//! transmits goes into the partition's console stream, exactly as `ConsoleWrite` does: the
//! kernel prefixes each line with the partition's name, and one partition's flood cannot
//! delay another's lines.
//!
//! The transmitter is always ready (the flag register says "FIFO empty, not busy"); the
//! receiver is always empty and no interrupt is raised yet: input and the UART's interrupt
//! are a later increment. The configuration registers (baud rate, line control, control,
//! FIFO level, interrupt mask) keep what the guest writes and read it back.

/// Size of the UART's window.
pub const SIZE: u64 = 0x1000;

/// The partition's PL011 state: its configuration registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtualUart {
    ilpr: u32,
    ibrd: u32,
    fbrd: u32,
    lcr_h: u32,
    cr: u32,
    ifls: u32,
    imsc: u32,
}

const DR: u64 = 0x000;
const RSR_ECR: u64 = 0x004;
const FR: u64 = 0x018;
const ILPR: u64 = 0x020;
const IBRD: u64 = 0x024;
const FBRD: u64 = 0x028;
const LCR_H: u64 = 0x02c;
const CR: u64 = 0x030;
const IFLS: u64 = 0x034;
const IMSC: u64 = 0x038;
const RIS: u64 = 0x03c;
const MIS: u64 = 0x040;
const PERIPH_ID: u64 = 0xfe0;

/// UARTFR: transmit FIFO empty (TXFE) and receive FIFO empty (RXFE); never full, never busy.
const FR_IDLE: u32 = (1 << 7) | (1 << 4);
/// UARTRIS: the transmit interrupt condition holds (the FIFO is always below its level).
const RIS_TX: u32 = 1 << 5;
/// UARTPeriphID0-3 and UARTPCellID0-3 as a PL011 r1p5 reports them (what Linux's AMBA bus
/// matches the `amba-pl011` driver against).
const IDS: [u32; 8] = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

impl VirtualUart {
    pub const fn new() -> Self {
        Self {
            ilpr: 0,
            ibrd: 0,
            fbrd: 0,
            lcr_h: 0,
            cr: 0,
            ifls: 0,
            imsc: 0,
        }
    }

    /// Emulates one access at `offset` of the UART's window (`write`: the value stored; a
    /// read returns the register's value). A byte written to the data register goes to
    /// `transmit`.
    pub fn access(
        &mut self,
        offset: u64,
        write: Option<u64>,
        transmit: &mut impl FnMut(u8),
    ) -> u64 {
        let register = match offset & !3 {
            ILPR => Some(&mut self.ilpr),
            IBRD => Some(&mut self.ibrd),
            FBRD => Some(&mut self.fbrd),
            LCR_H => Some(&mut self.lcr_h),
            CR => Some(&mut self.cr),
            IFLS => Some(&mut self.ifls),
            IMSC => Some(&mut self.imsc),
            _ => None,
        };
        match (write, register) {
            (Some(value), Some(register)) => {
                *register = value as u32;
                0
            }
            (Some(value), None) => {
                if offset & !3 == DR {
                    transmit(value as u8);
                }
                0
            }
            (None, Some(register)) => u64::from(*register),
            (None, None) => u64::from(match offset & !3 {
                FR => FR_IDLE,
                RIS => RIS_TX,
                MIS => RIS_TX & self.imsc,
                DR | RSR_ECR => 0,
                id @ PERIPH_ID..=0xffc => IDS[((id - PERIPH_ID) / 4) as usize],
                _ => 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_transmits_what_is_written_and_keeps_its_configuration() {
        let mut uart = VirtualUart::new();
        let mut sent = Vec::new();
        let mut tx = |b| sent.push(b);
        for b in b"hi\n" {
            assert_eq!(uart.access(FR, None, &mut tx) & (1 << 5), 0, "never full");
            uart.access(DR, Some(u64::from(*b)), &mut tx);
        }
        assert_eq!(sent, b"hi\n");
        let mut tx = |_| panic!("nothing else is transmitted");
        uart.access(IBRD, Some(13), &mut tx);
        uart.access(CR, Some(0x301), &mut tx);
        uart.access(IMSC, Some(0x30), &mut tx);
        assert_eq!(uart.access(IBRD, None, &mut tx), 13);
        assert_eq!(uart.access(CR, None, &mut tx), 0x301);
        assert_eq!(uart.access(MIS, None, &mut tx), 0x20);
        assert_eq!(uart.access(FR, None, &mut tx), 0x90);
        assert_eq!(uart.access(DR, None, &mut tx), 0, "nothing received");
        let ids: Vec<u64> = (0..8)
            .map(|i| uart.access(0xfe0 + 4 * i, None, &mut tx))
            .collect();
        assert_eq!(ids, [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
        assert_eq!(uart.access(0x800, None, &mut tx), 0);
        uart.access(0x800, Some(1), &mut tx);
    }
}
