//! The virtual UART every partition sees: enough of an Arm PL011 (Arm DDI 0183) at the
//! board's console address for a guest's own driver (Linux's `earlycon=pl011` and
//! `amba-pl011` console) to print and read input, emulated on the stage-2 faults of its
//! accesses. What it transmits goes into the partition's console stream, exactly as
//! `ConsoleWrite` does: the kernel prefixes each line with the partition's name, and one
//! partition's flood cannot delay another's lines.
//!
//! **Output.** The transmitter is always ready (the flag register says "FIFO empty, not
//! busy"). The configuration registers (baud rate, line control, control, FIFO level,
//! interrupt mask) keep what the guest writes and read it back.
//!
//! **Input.** What is typed on the board's console goes to one partition, the one the
//! configuration names (`[module] console_input`); the kernel owns the physical UART, takes
//! its receive interrupt, and moves the bytes into [`InputQueue`]. That partition's receiver
//! reads from the queue; every other partition's receiver is always empty. Nothing is lost:
//! when the queue is full the kernel stops taking bytes from the physical UART (its FIFO,
//! then the sender, wait) until the partition has read half of it.
//!
//! **Interrupt.** The UART's interrupt (the board's console INTID, SPI 1 on QEMU virt) is a
//! virtual interrupt of every partition, not linked to a physical one: its line is high
//! while a condition the guest unmasked holds ([`VirtualUart::line`]: data received, or the
//! always-ready transmitter). The kernel makes it pending when the line goes up: when input
//! arrives, and after a guest access that leaves it up while the interrupt is neither
//! pending nor active (a guest that unmasks with data waiting, or ends its handler early).

use crate::config::Partition;
use crate::machine::Machine;
use crate::partition;
use crate::sync::SpinLock;

/// The input queue of the partition that takes console input (there is at most one).
/// Lock order: a partition's `vuart`, then this, then the console.
pub static CONSOLE_INPUT: SpinLock<InputQueue> = SpinLock::new(InputQueue::new());

/// The console UART's receive interrupt: moves what it received into the input queue of
/// `partition` (the one that takes console input), as much as fits, and turns the receive
/// interrupt off if the queue is full. True if `partition`'s UART interrupt line is up now.
pub fn receive(partition: &Partition, machine: &mut impl Machine) -> bool {
    let Some(state) = partition::state(usize::from(partition.id)) else {
        return false;
    };
    let uart = state.vuart.lock();
    let mut queue = CONSOLE_INPUT.lock();
    let mut buf = [0u8; 32];
    loop {
        let wanted = queue.room().min(buf.len());
        let got = machine.console_receive(&mut buf[..wanted]);
        // A full queue (`wanted` 0 included) throttles.
        if queue.fill(&buf[..got]) == Receive::Throttle {
            machine.console_receive_interrupt(false);
            break;
        }
        if got < wanted {
            break;
        }
    }
    uart.line(queue.len())
}

/// Puts `partition`'s UART back in its reset state when it restarts. If it takes console
/// input, what was typed for its past run is dropped and the receive interrupt is on again.
pub fn reset(partition: &Partition, machine: &mut impl Machine) {
    if let Some(s) = partition::state(usize::from(partition.id)) {
        *s.vuart.lock() = VirtualUart::new();
    }
    if machine
        .console_input()
        .is_some_and(|p| p.id == partition.id)
    {
        *CONSOLE_INPUT.lock() = InputQueue::new();
        machine.console_receive_interrupt(true);
    }
}

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
const ICR: u64 = 0x044;
const PERIPH_ID: u64 = 0xfe0;

/// UARTFR: transmit FIFO empty (TXFE); never full, never busy.
const FR_TXFE: u32 = 1 << 7;
/// UARTFR: receive FIFO full (RXFF) and empty (RXFE).
const FR_RXFF: u32 = 1 << 6;
const FR_RXFE: u32 = 1 << 4;
/// UARTRIS: receive (RXRIS) and receive timeout (RTRIS) conditions, which hold while data
/// waits; the transmit condition (TXRIS), which always holds (the FIFO is never above its
/// level).
const RIS_RX: u32 = 1 << 4;
const RIS_TX: u32 = 1 << 5;
const RIS_RT: u32 = 1 << 6;
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
    /// `transmit`; a read of it takes the next byte from `input` (the partition's input
    /// queue, or `None` if it takes no console input).
    pub fn access(
        &mut self,
        offset: u64,
        write: Option<u64>,
        input: Option<&mut InputQueue>,
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
                // UARTICR and the error-clear register: the conditions follow the FIFOs,
                // nothing to clear.
                if offset & !3 == DR {
                    transmit(value as u8);
                }
                0
            }
            (None, Some(register)) => u64::from(*register),
            (None, None) => {
                let waiting = input.as_ref().map_or(0, |q| q.len());
                u64::from(match offset & !3 {
                    // The byte, with no error bits.
                    DR => input.and_then(InputQueue::pop).map_or(0, u32::from),
                    FR => {
                        FR_TXFE
                            | if waiting == 0 { FR_RXFE } else { 0 }
                            | if waiting == INPUT_CAPACITY {
                                FR_RXFF
                            } else {
                                0
                            }
                    }
                    RIS => raw_status(waiting),
                    MIS => raw_status(waiting) & self.imsc,
                    RSR_ECR | ICR => 0,
                    id @ PERIPH_ID..=0xffc => IDS[((id - PERIPH_ID) / 4) as usize],
                    _ => 0,
                })
            }
        }
    }

    /// Whether the UART's interrupt line is up with `waiting` bytes received: a condition
    /// the guest unmasked holds.
    pub fn line(&self, waiting: usize) -> bool {
        raw_status(waiting) & self.imsc != 0
    }
}

/// UARTRIS with `waiting` bytes received.
fn raw_status(waiting: usize) -> u32 {
    RIS_TX | if waiting > 0 { RIS_RX | RIS_RT } else { 0 }
}

/// Bytes the queue holds: a few lines of typing, and more than a physical UART's FIFO.
pub const INPUT_CAPACITY: usize = 256;

/// What was typed on the board's console for the partition that takes console input, and
/// not read yet. Filled by the kernel's receive interrupt, emptied by the partition's reads
/// of its UART's data register.
pub struct InputQueue {
    bytes: heapless::Deque<u8, INPUT_CAPACITY>,
    /// The kernel stopped taking bytes from the physical UART because the queue was full.
    throttled: bool,
}

/// What the receive interrupt asks of the physical UART after filling the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receive {
    /// Keep its receive interrupt on.
    More,
    /// The queue is full: turn its receive interrupt off until [`InputQueue::pop`] says so.
    Throttle,
}

impl Default for InputQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl InputQueue {
    pub const fn new() -> Self {
        Self {
            bytes: heapless::Deque::new(),
            throttled: false,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Room for more bytes.
    pub fn room(&self) -> usize {
        INPUT_CAPACITY - self.bytes.len()
    }

    /// Queues `bytes` (at most [`InputQueue::room`]; the caller reads no more than that from
    /// the physical UART, so nothing is dropped) and says whether to go on receiving.
    pub fn fill(&mut self, bytes: &[u8]) -> Receive {
        for &b in bytes {
            // Cannot fail: the caller read no more than `room()`.
            let _ = self.bytes.push_back(b);
        }
        if self.bytes.is_full() {
            self.throttled = true;
            Receive::Throttle
        } else {
            Receive::More
        }
    }

    /// The next byte.
    fn pop(&mut self) -> Option<u8> {
        self.bytes.pop_front()
    }

    /// After reads: true once, when the kernel stopped receiving and half the queue is
    /// free again, so the physical UART's receive interrupt goes back on.
    pub fn resume(&mut self) -> bool {
        let resume = self.throttled && self.room() >= INPUT_CAPACITY / 2;
        if resume {
            self.throttled = false;
        }
        resume
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
            assert_eq!(
                uart.access(FR, None, None, &mut tx) & (1 << 5),
                0,
                "never full"
            );
            uart.access(DR, Some(u64::from(*b)), None, &mut tx);
        }
        assert_eq!(sent, b"hi\n");
        let mut tx = |_| panic!("nothing else is transmitted");
        uart.access(IBRD, Some(13), None, &mut tx);
        uart.access(CR, Some(0x301), None, &mut tx);
        uart.access(IMSC, Some(0x30), None, &mut tx);
        assert_eq!(uart.access(IBRD, None, None, &mut tx), 13);
        assert_eq!(uart.access(CR, None, None, &mut tx), 0x301);
        assert_eq!(uart.access(MIS, None, None, &mut tx), 0x20);
        assert_eq!(uart.access(FR, None, None, &mut tx), 0x90);
        assert_eq!(uart.access(DR, None, None, &mut tx), 0, "nothing received");
        let ids: Vec<u64> = (0..8)
            .map(|i| uart.access(0xfe0 + 4 * i, None, None, &mut tx))
            .collect();
        assert_eq!(ids, [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
        assert_eq!(uart.access(0x800, None, None, &mut tx), 0);
        uart.access(0x800, Some(1), None, &mut tx);
    }

    #[test]
    fn input_is_read_in_order_and_raises_the_line_only_when_unmasked() {
        let mut uart = VirtualUart::new();
        let mut queue = InputQueue::new();
        let mut tx = |_| panic!("nothing is transmitted");
        assert!(!uart.line(0));
        assert_eq!(queue.fill(b"ls\r"), Receive::More);
        assert!(!uart.line(queue.len()), "masked");
        // Linux's amba-pl011 unmasks receive and receive timeout.
        uart.access(IMSC, Some(u64::from(RIS_RX | RIS_RT)), None, &mut tx);
        assert!(uart.line(queue.len()));
        assert_eq!(
            uart.access(MIS, None, Some(&mut queue), &mut tx),
            u64::from(RIS_RX | RIS_RT)
        );
        let mut read = Vec::new();
        while uart.access(FR, None, Some(&mut queue), &mut tx) & u64::from(FR_RXFE) == 0 {
            read.push(uart.access(DR, None, Some(&mut queue), &mut tx) as u8);
        }
        assert_eq!(read, b"ls\r");
        assert!(!uart.line(queue.len()), "drained");
        assert_eq!(uart.access(MIS, None, Some(&mut queue), &mut tx), 0);
        assert_eq!(
            uart.access(DR, None, Some(&mut queue), &mut tx),
            0,
            "empty reads 0"
        );
        // A guest that unmasks its transmit interrupt gets it at once: always ready.
        uart.access(IMSC, Some(u64::from(RIS_TX)), None, &mut tx);
        assert!(uart.line(0));
    }

    #[test]
    fn a_full_queue_throttles_the_physical_uart_until_half_is_read() {
        let mut uart = VirtualUart::new();
        let mut queue = InputQueue::new();
        let mut tx = |_| {};
        assert_eq!(queue.fill(&[b'a'; INPUT_CAPACITY - 1]), Receive::More);
        assert_eq!(queue.room(), 1);
        assert_eq!(queue.fill(b"b"), Receive::Throttle);
        assert_eq!(queue.room(), 0);
        assert_ne!(
            uart.access(FR, None, Some(&mut queue), &mut tx) & u64::from(FR_RXFF),
            0
        );
        let mut resumed = 0;
        for i in 0..INPUT_CAPACITY {
            let byte = uart.access(DR, None, Some(&mut queue), &mut tx) as u8;
            assert_eq!(byte, if i == INPUT_CAPACITY - 1 { b'b' } else { b'a' });
            if queue.resume() {
                resumed += 1;
                assert_eq!(queue.room(), INPUT_CAPACITY / 2, "resumed at half");
            }
        }
        assert_eq!(resumed, 1, "resumed once");
        assert!(queue.is_empty());
        assert!(!queue.resume());
    }
}
