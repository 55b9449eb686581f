//! The doorbell GPIO controllers: emulated Arm PL061s (PrimeCell GPIO, r1p1) whose input
//! lines are a partition's port doorbells, so that an operating system waits for a doorbell
//! in its interrupt handling (Linux: the gpio-pl061 driver and the GPIO character device)
//! instead of polling, with no pkernel driver of its own.
//!
//! Controller `k` sits at `apex_api::info::DOORBELL_GPIO_IPA + k * 4 KiB` (never mapped:
//! every access is emulated on its stage-2 fault, `trap::doorbell_gpio_access`) and its line
//! `i` is the doorbell of port `8k + i`; a partition has as many controllers as its ports
//! need. Each time that doorbell rings (`PartitionState::ring`), the line has a rising edge:
//! its bit of the raw interrupt status (GPIORIS) is set, and if the partition unmasked it
//! (GPIOIE) the controller's interrupt, an emulated SPI of its virtual distributor
//! (`bsp::Board::doorbell_interrupts`, no physical interrupt behind it, see `vgic`), goes up.
//! The raw status *is* the partition's pending doorbells: clearing it (GPIOIC) takes them,
//! as a `Wait` that returns them would.
//!
//! The data register reads every line low: a doorbell is an edge, not a level, and whatever
//! the partition sets for the sense (GPIOIS, GPIOIBE, GPIOIEV) a ring counts as the edge it
//! waits for. Direction and mode-control registers keep what is written, as a PL061's do;
//! nothing written can reach anything but this partition's own doorbells.

use apex_api::info::{DOORBELL_GPIO_CONTROLLERS, DOORBELL_GPIO_LINES, DOORBELL_GPIO_SIZE};

/// The PL061's registers (Arm DDI 0190B, 3.2); GPIODATA is 0x000-0x3fc.
const GPIODIR: u64 = 0x400;
const GPIOIS: u64 = 0x404;
const GPIOIBE: u64 = 0x408;
const GPIOIEV: u64 = 0x40c;
const GPIOIE: u64 = 0x410;
const GPIORIS: u64 = 0x414;
const GPIOMIS: u64 = 0x418;
const GPIOIC: u64 = 0x41c;
const GPIOAFSEL: u64 = 0x420;
const PERIPH_ID: u64 = 0xfe0;
/// GPIOPeriphID0-3 and GPIOPCellID0-3 as a PL061 reports them (what Linux's AMBA bus
/// matches the gpio-pl061 driver against).
const IDS: [u8; 8] = [0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// How many controllers a partition with `ports` ports has.
pub const fn controllers_for(ports: usize) -> usize {
    let n = ports.div_ceil(DOORBELL_GPIO_LINES);
    if n < DOORBELL_GPIO_CONTROLLERS {
        n
    } else {
        DOORBELL_GPIO_CONTROLLERS
    }
}

/// The registers one controller keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pl061 {
    dir: u8,
    is: u8,
    ibe: u8,
    iev: u8,
    ie: u8,
    afsel: u8,
}

/// A partition's doorbell GPIO controllers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DoorbellGpio {
    controllers: [Pl061; DOORBELL_GPIO_CONTROLLERS],
}

/// What one access did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The value a read returns (0 for a write).
    pub value: u64,
    /// Doorbells (one bit per port) the access cleared (GPIOIC): the caller takes them.
    pub clear: u64,
}

impl DoorbellGpio {
    /// The reset state: every line an input, every interrupt masked.
    pub const fn new() -> Self {
        Self {
            controllers: [Pl061 {
                dir: 0,
                is: 0,
                ibe: 0,
                iev: 0,
                ie: 0,
                afsel: 0,
            }; DOORBELL_GPIO_CONTROLLERS],
        }
    }

    /// The doorbells (one bit per port) whose interrupt the partition unmasked.
    pub fn unmasked(&self) -> u64 {
        self.controllers.iter().enumerate().fold(0, |acc, (k, c)| {
            acc | u64::from(c.ie) << (DOORBELL_GPIO_LINES * k)
        })
    }

    /// Emulates an access at `offset` (from `DOORBELL_GPIO_IPA`) to one of `controllers`
    /// controllers, with the partition's `pending` doorbells; `write` is the value written,
    /// `None` for a read. `None` if the offset is past its last controller.
    pub fn access(
        &mut self,
        controllers: usize,
        offset: u64,
        write: Option<u64>,
        pending: u64,
    ) -> Option<Outcome> {
        let k = usize::try_from(offset / DOORBELL_GPIO_SIZE).ok()?;
        if k >= controllers.min(DOORBELL_GPIO_CONTROLLERS) {
            return None;
        }
        let reg = offset % DOORBELL_GPIO_SIZE;
        let shift = DOORBELL_GPIO_LINES * k;
        let raw = (pending >> shift) as u8;
        let c = &mut self.controllers[k];
        let mut outcome = Outcome::default();
        match write {
            None => {
                outcome.value = u64::from(match reg {
                    GPIODIR => c.dir,
                    GPIOIS => c.is,
                    GPIOIBE => c.ibe,
                    GPIOIEV => c.iev,
                    GPIOIE => c.ie,
                    GPIORIS => raw,
                    GPIOMIS => raw & c.ie,
                    GPIOAFSEL => c.afsel,
                    r if r >= PERIPH_ID => IDS[((r - PERIPH_ID) / 4) as usize % IDS.len()],
                    // GPIODATA (every line low), GPIOIC (write only), reserved.
                    _ => 0,
                });
            }
            Some(value) => {
                let byte = value as u8;
                match reg {
                    GPIODIR => c.dir = byte,
                    GPIOIS => c.is = byte,
                    GPIOIBE => c.ibe = byte,
                    GPIOIEV => c.iev = byte,
                    GPIOIE => c.ie = byte,
                    GPIOIC => outcome.clear = u64::from(byte) << shift,
                    GPIOAFSEL => c.afsel = byte,
                    // GPIODATA: the lines are inputs; reserved and ID registers: read only.
                    _ => {}
                }
            }
        }
        Some(outcome)
    }

    /// Whether controller `k`'s interrupt line is up with the partition's `pending`
    /// doorbells (a line unmasked and raised).
    pub fn line_up(&self, k: usize, pending: u64) -> bool {
        self.controllers
            .get(k)
            .is_some_and(|c| (pending >> (DOORBELL_GPIO_LINES * k)) as u8 & c.ie != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(g: &mut DoorbellGpio, offset: u64, pending: u64) -> u64 {
        g.access(2, offset, None, pending).unwrap().value
    }

    #[test]
    fn a_partition_has_a_controller_per_eight_ports() {
        assert_eq!(controllers_for(0), 0);
        assert_eq!(controllers_for(1), 1);
        assert_eq!(controllers_for(8), 1);
        assert_eq!(controllers_for(9), 2);
        assert_eq!(controllers_for(32), 4);
        assert_eq!(controllers_for(1000), DOORBELL_GPIO_CONTROLLERS);
    }

    #[test]
    fn it_reads_as_a_pl061_whose_raw_status_is_the_pending_doorbells() {
        let mut g = DoorbellGpio::new();
        // The PrimeCell IDs Linux's AMBA bus reads, on each controller.
        let ids: Vec<u64> = (0..8).map(|i| read(&mut g, 0xfe0 + 4 * i, 0)).collect();
        assert_eq!(ids, [0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
        assert_eq!(read(&mut g, 0x1000 + 0xfe0, 0), 0x61);
        // Ports 1 and 9 rang: controller 0 line 1, controller 1 line 1.
        let pending = (1 << 1) | (1 << 9);
        assert_eq!(read(&mut g, GPIORIS, pending), 0b10);
        assert_eq!(read(&mut g, 0x1000 + GPIORIS, pending), 0b10);
        // Masked: nothing in MIS, the line is down.
        assert_eq!(read(&mut g, GPIOMIS, pending), 0);
        assert!(!g.line_up(0, pending));
        // Unmasked (the driver's irq_unmask): MIS and the line follow.
        g.access(2, GPIOIE, Some(0b11), pending).unwrap();
        assert_eq!(read(&mut g, GPIOIE, pending), 0b11);
        assert_eq!(read(&mut g, GPIOMIS, pending), 0b10);
        assert!(g.line_up(0, pending));
        assert!(!g.line_up(1, pending), "controller 1 still masked");
        assert_eq!(g.unmasked(), 0b11);
        // Every line reads low, whatever is pending; written data goes nowhere.
        assert_eq!(read(&mut g, 0x3fc, pending), 0);
        assert_eq!(
            g.access(2, 0x3fc, Some(0xff), pending).unwrap(),
            Outcome::default()
        );
        // Configuration registers keep what is written.
        for reg in [GPIODIR, GPIOIS, GPIOIBE, GPIOIEV, GPIOAFSEL] {
            g.access(2, reg, Some(0x5a), 0).unwrap();
            assert_eq!(read(&mut g, reg, 0), 0x5a);
        }
    }

    #[test]
    fn an_interrupt_clear_takes_only_that_controllers_doorbells() {
        let mut g = DoorbellGpio::new();
        let out = g.access(2, 0x1000 + GPIOIC, Some(0x102), u64::MAX).unwrap();
        // One byte of lines, shifted to controller 1's ports.
        assert_eq!(out.clear, 0b10 << 8);
        assert_eq!(g.access(2, GPIOIC, Some(0xff), 0).unwrap().clear, 0xff);
    }

    #[test]
    fn past_its_last_controller_there_is_nothing() {
        let mut g = DoorbellGpio::new();
        assert_eq!(g.access(1, 0x1000, None, 0), None);
        assert_eq!(g.access(0, 0, None, 0), None);
        assert_eq!(g.access(9, 0x4000, None, 0), None, "four at most");
        assert_eq!(g.access(4, u64::MAX, Some(1), 0), None);
        assert!(!g.line_up(7, u64::MAX));
    }
}
