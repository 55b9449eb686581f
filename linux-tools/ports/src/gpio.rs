//! The part of Linux's GPIO character device (`linux/gpio.h`, uAPI v2) that `ports receive`
//! uses to wait on a port's doorbell line, and the pure decisions around it.
//!
//! pkernel gives a Linux partition its port doorbells as the input lines of emulated Arm
//! PL061 GPIO controllers (`apex_api::info::DOORBELL_GPIO_IPA`): line `i` of controller `k`
//! is the doorbell of port `8k + i`, its name in the device tree's `gpio-line-names` is the
//! port's name, and it has a rising edge (the PL061's interrupt) each time the doorbell
//! rings. Linux's gpio-pl061 driver makes each controller a `/dev/gpiochipN`. A receive finds
//! the line by name ([`GET_CHIPINFO`], then [`GET_LINEINFO`] for each offset), requests it
//! for rising-edge events ([`GET_LINE`], [`LineRequest::rising_edge`]), and `poll`s the file
//! descriptor it gets, which delivers one [`LineEvent`] per edge.
//!
//! Here are the structures, laid out as the kernel's (`#[repr(C)]`, sizes checked at compile
//! time), and the ioctl numbers, each tied to its structure ([`Ioctl`]). The system calls are
//! the binary's (`doorbell_line.rs`, Linux on AArch64 only).

use std::marker::PhantomData;
use std::time::Duration;

/// The GPIO ioctls' type (`0xB4`).
pub const GPIO_IOCTL_TYPE: u32 = 0xB4;

/// Bytes of a name or consumer field (`GPIO_MAX_NAME_SIZE`), NUL included.
pub const NAME_SIZE: usize = 32;
/// Lines one request may hold (`GPIO_V2_LINES_MAX`).
pub const LINES_MAX: usize = 64;
/// Attributes of a line configuration or line information (`GPIO_V2_LINE_NUM_ATTRS_MAX`).
pub const NUM_ATTRS_MAX: usize = 10;

/// `GPIO_V2_LINE_FLAG_USED`: the line is requested (by the kernel or a process).
pub const LINE_FLAG_USED: u64 = 1 << 0;
/// `GPIO_V2_LINE_FLAG_INPUT`.
pub const LINE_FLAG_INPUT: u64 = 1 << 2;
/// `GPIO_V2_LINE_FLAG_EDGE_RISING`: an event on each rising edge.
pub const LINE_FLAG_EDGE_RISING: u64 = 1 << 4;

/// The consumer a requested doorbell line shows (`gpioinfo`, a line's information).
pub const CONSUMER: &str = "ports";

/// Events taken by one read after a wait: the kernel's default buffer for a one-line request
/// (16 events per line), so one read empties it.
pub const EVENTS_PER_READ: usize = 16;

/// `struct gpiochip_info`: what `GPIO_GET_CHIPINFO_IOCTL` fills in.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ChipInfo {
    /// The kernel's name of the chip (`gpiochipN`), NUL-terminated.
    pub name: [u8; NAME_SIZE],
    /// Its label (for a PL061, its device's name), NUL-terminated.
    pub label: [u8; NAME_SIZE],
    /// How many lines it has (offsets 0 to `lines - 1`).
    pub lines: u32,
}

/// `struct gpio_v2_line_attribute`. The kernel's union of `flags`, `values` (both
/// `__aligned_u64`) and `debounce_period_us` (`__u32`, the low half on a little-endian
/// machine) is the one `u64` [`value`](Self::value): `ports` never sets an attribute.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineAttribute {
    /// `GPIO_V2_LINE_ATTR_ID_*`: which member of the union `value` is.
    pub id: u32,
    /// Must be zero.
    pub padding: u32,
    /// The union's value.
    pub value: u64,
}

/// `struct gpio_v2_line_config_attribute`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineConfigAttribute {
    pub attr: LineAttribute,
    /// The requested lines (bits of the request's `offsets` indices) it applies to.
    pub mask: u64,
}

/// `struct gpio_v2_line_config`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineConfig {
    /// `GPIO_V2_LINE_FLAG_*` of every requested line without an attribute saying otherwise.
    pub flags: u64,
    /// Attributes used in `attrs`.
    pub num_attrs: u32,
    /// Must be zero.
    pub padding: [u32; 5],
    pub attrs: [LineConfigAttribute; NUM_ATTRS_MAX],
}

/// `struct gpio_v2_line_request`: what `GPIO_V2_GET_LINE_IOCTL` takes, and where it returns
/// the new file descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineRequest {
    /// The offsets of the requested lines on the chip (the first `num_lines`).
    pub offsets: [u32; LINES_MAX],
    /// Who requests them, NUL-terminated.
    pub consumer: [u8; NAME_SIZE],
    pub config: LineConfig,
    pub num_lines: u32,
    /// Events the kernel buffers (0: its default, 16 per line).
    pub event_buffer_size: u32,
    /// Must be zero.
    pub padding: [u32; 5],
    /// Out: the file descriptor of the request (its events are read from it).
    pub fd: i32,
}

/// `struct gpio_v2_line_info`: what `GPIO_V2_GET_LINEINFO_IOCTL` fills in for the line at
/// `offset` (set by the caller, with everything else zero).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineInfo {
    /// The line's name (from the device tree's `gpio-line-names`), NUL-terminated.
    pub name: [u8; NAME_SIZE],
    /// Who holds it, if anyone, NUL-terminated.
    pub consumer: [u8; NAME_SIZE],
    pub offset: u32,
    pub num_attrs: u32,
    /// `GPIO_V2_LINE_FLAG_*`.
    pub flags: u64,
    pub attrs: [LineAttribute; NUM_ATTRS_MAX],
    /// Must be zero.
    pub padding: [u32; 4],
}

/// `struct gpio_v2_line_event`: one edge, as read from a request's file descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineEvent {
    pub timestamp_ns: u64,
    /// `GPIO_V2_LINE_EVENT_RISING_EDGE` (1) or `..._FALLING_EDGE` (2).
    pub id: u32,
    /// The line's offset on its chip.
    pub offset: u32,
    /// Events on the request so far.
    pub seqno: u32,
    /// Events on this line so far.
    pub line_seqno: u32,
    pub padding: [u32; 6],
}

// The kernel's sizes (the ioctl numbers encode them, so a layout mistake would be a
// wrong number too, which the kernel refuses). `gpio_v2_line_info` is 32 + 32 + 4 + 4 + 8
// + 10 * 16 + 4 * 4 = 256 bytes, as `sizeof` gives with linux/gpio.h.
const _: () = assert!(size_of::<ChipInfo>() == 68);
const _: () = assert!(size_of::<LineAttribute>() == 16);
const _: () = assert!(size_of::<LineConfigAttribute>() == 24);
const _: () = assert!(size_of::<LineConfig>() == 272);
const _: () = assert!(size_of::<LineRequest>() == 592);
const _: () = assert!(size_of::<LineInfo>() == 256);
const _: () = assert!(size_of::<LineEvent>() == 48);

const ATTRIBUTE_ZERO: LineAttribute = LineAttribute {
    id: 0,
    padding: 0,
    value: 0,
};

const CONFIG_ZERO: LineConfig = LineConfig {
    flags: 0,
    num_attrs: 0,
    padding: [0; 5],
    attrs: [LineConfigAttribute {
        attr: ATTRIBUTE_ZERO,
        mask: 0,
    }; NUM_ATTRS_MAX],
};

impl ChipInfo {
    /// All zero, for the kernel to fill in.
    pub const ZERO: Self = Self {
        name: [0; NAME_SIZE],
        label: [0; NAME_SIZE],
        lines: 0,
    };

    /// The chip's label, up to its NUL.
    pub fn label(&self) -> String {
        String::from_utf8_lossy(c_string(&self.label)).into_owned()
    }
}

impl LineInfo {
    /// The question for the line at `offset`: everything else zero (the kernel refuses
    /// non-zero padding).
    pub const fn at(offset: u32) -> Self {
        Self {
            name: [0; NAME_SIZE],
            consumer: [0; NAME_SIZE],
            offset,
            num_attrs: 0,
            flags: 0,
            attrs: [ATTRIBUTE_ZERO; NUM_ATTRS_MAX],
            padding: [0; 4],
        }
    }

    /// Whether the line's name is exactly `name` (the port names are at most
    /// `apex_api::info::NAME_SIZE`, 24, bytes: they fit whole). An empty name is no line's:
    /// the lines past the last port are named "".
    pub fn is_named(&self, name: &str) -> bool {
        !name.is_empty() && c_string(&self.name) == name.as_bytes()
    }

    /// Whether someone holds the line, and who: `Some("")` when held by an unnamed consumer.
    pub fn holder(&self) -> Option<String> {
        (self.flags & LINE_FLAG_USED != 0)
            .then(|| String::from_utf8_lossy(c_string(&self.consumer)).into_owned())
    }
}

impl LineRequest {
    /// The request of the one line at `offset` as an input with an event on each rising
    /// edge, for [`CONSUMER`], with the kernel's default event buffer.
    pub fn rising_edge(offset: u32) -> Self {
        let mut offsets = [0; LINES_MAX];
        offsets[0] = offset;
        let mut consumer = [0; NAME_SIZE];
        consumer[..CONSUMER.len()].copy_from_slice(CONSUMER.as_bytes());
        Self {
            offsets,
            consumer,
            config: LineConfig {
                flags: LINE_FLAG_INPUT | LINE_FLAG_EDGE_RISING,
                ..CONFIG_ZERO
            },
            num_lines: 1,
            event_buffer_size: 0,
            padding: [0; 5],
            fd: -1,
        }
    }
}

impl LineEvent {
    /// All zero, for `read` to fill in.
    pub const ZERO: Self = Self {
        timestamp_ns: 0,
        id: 0,
        offset: 0,
        seqno: 0,
        line_seqno: 0,
        padding: [0; 6],
    };
}

/// The bytes of a NUL-terminated field, up to its first NUL (all of it without one).
fn c_string(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// `_IOC_READ` (the kernel writes the argument).
const IOC_READ: u32 = 2;
/// `_IOC_READ | _IOC_WRITE` (it reads and writes it).
const IOC_READ_WRITE: u32 = 3;

/// A GPIO ioctl whose argument is a pointer to a `T`: its number encodes `T`'s size (the
/// standard `_IOC` encoding of arm64, as of most architectures: direction in bits 30-31,
/// size in bits 16-29, type in bits 8-15, number in bits 0-7). Only this module makes them,
/// each with its uAPI structure, so a caller can trust that the kernel reads and writes a
/// whole `T` and nothing more.
pub struct Ioctl<T> {
    number: u32,
    argument: PhantomData<fn(&mut T)>,
}

impl<T> Clone for Ioctl<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Ioctl<T> {}

impl<T> Ioctl<T> {
    const fn new(direction: u32, nr: u32) -> Self {
        let size = size_of::<T>();
        assert!(
            size < 1 << 14,
            "an ioctl argument has at most 14 bits of size"
        );
        Self {
            number: (direction << 30) | ((size as u32) << 16) | (GPIO_IOCTL_TYPE << 8) | nr,
            argument: PhantomData,
        }
    }

    /// The request number, as `ioctl(2)` takes it.
    pub const fn number(self) -> u32 {
        self.number
    }
}

/// `GPIO_GET_CHIPINFO_IOCTL`: `_IOR(0xB4, 0x01, struct gpiochip_info)`.
pub const GET_CHIPINFO: Ioctl<ChipInfo> = Ioctl::new(IOC_READ, 0x01);
/// `GPIO_V2_GET_LINEINFO_IOCTL`: `_IOWR(0xB4, 0x05, struct gpio_v2_line_info)`.
pub const GET_LINEINFO: Ioctl<LineInfo> = Ioctl::new(IOC_READ_WRITE, 0x05);
/// `GPIO_V2_GET_LINE_IOCTL`: `_IOWR(0xB4, 0x07, struct gpio_v2_line_request)`.
pub const GET_LINE: Ioctl<LineRequest> = Ioctl::new(IOC_READ_WRITE, 0x07);

/// The GPIO character devices among the file names of `/dev` (`gpiochip` and a number), in
/// the order of their numbers (`gpiochip2` before `gpiochip10`).
pub fn chip_devices(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut chips: Vec<(u32, String)> = names
        .into_iter()
        .filter_map(|name| {
            let digits = name.strip_prefix("gpiochip")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((digits.parse().ok()?, name))
        })
        .collect();
    chips.sort();
    chips.into_iter().map(|(_, name)| name).collect()
}

/// A wait of `timeout` as `poll(2)`'s timeout: whole milliseconds, rounded up (so that a
/// wait ends at or after its deadline, never spinning on a 0 before it), at most
/// `i32::MAX` (the caller waits again if the deadline is further).
pub fn poll_timeout_ms(timeout: Duration) -> i32 {
    let ms = timeout.as_nanos().div_ceil(1_000_000);
    i32::try_from(ms).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ioctl_numbers_are_the_kernels() {
        // As linux/gpio.h's macros give them (a C program printing them, on arm64 or x86-64).
        assert_eq!(GET_CHIPINFO.number(), 0x8044_B401);
        assert_eq!(GET_LINEINFO.number(), 0xC100_B405);
        assert_eq!(GET_LINE.number(), 0xC250_B407);
    }

    #[test]
    fn the_structures_are_aligned_as_the_kernels() {
        // `__aligned_u64` members: 8-byte alignment on every architecture.
        assert_eq!(align_of::<LineRequest>(), 8);
        assert_eq!(align_of::<LineInfo>(), 8);
        assert_eq!(align_of::<LineEvent>(), 8);
        assert_eq!(std::mem::offset_of!(LineRequest, config), 288);
        assert_eq!(std::mem::offset_of!(LineRequest, num_lines), 560);
        assert_eq!(std::mem::offset_of!(LineRequest, fd), 588);
        assert_eq!(std::mem::offset_of!(LineInfo, flags), 72);
        assert_eq!(std::mem::offset_of!(LineInfo, attrs), 80);
        assert_eq!(std::mem::offset_of!(LineInfo, padding), 240);
        assert_eq!(std::mem::offset_of!(LineConfig, attrs), 32);
        assert_eq!(std::mem::offset_of!(ChipInfo, lines), 64);
    }

    #[test]
    fn a_doorbell_request_is_one_rising_edge_input_line_for_ports() {
        let request = LineRequest::rising_edge(5);
        assert_eq!(request.num_lines, 1);
        assert_eq!(request.offsets[0], 5);
        assert!(request.offsets[1..].iter().all(|&o| o == 0));
        assert_eq!(c_string(&request.consumer), b"ports");
        assert_eq!(request.config.flags, 0b1_0100, "INPUT | EDGE_RISING");
        assert_eq!(request.config.num_attrs, 0);
        assert_eq!(request.event_buffer_size, 0, "the kernel's default");
        assert_eq!(request.padding, [0; 5]);
        assert_eq!(request.config.padding, [0; 5]);
    }

    #[test]
    fn a_line_is_found_by_its_whole_name() {
        let mut info = LineInfo::at(3);
        assert_eq!(info.offset, 3);
        assert!(!info.is_named("replies"), "an unnamed line");
        assert!(!info.is_named(""), "no port has an empty name");
        info.name[..7].copy_from_slice(b"replies");
        assert!(info.is_named("replies"));
        assert!(!info.is_named("replie"));
        assert!(!info.is_named("replies2"));
        assert_eq!(info.holder(), None);
        info.flags = LINE_FLAG_USED;
        assert_eq!(info.holder().as_deref(), Some(""));
        info.consumer[..5].copy_from_slice(b"other");
        assert_eq!(info.holder().as_deref(), Some("other"));
        // A name that fills the field has no NUL.
        info.name = [b'x'; NAME_SIZE];
        assert!(info.is_named(&"x".repeat(NAME_SIZE)));
        let mut chip = ChipInfo::ZERO;
        chip.label[..13].copy_from_slice(b"9030000.pl061");
        assert_eq!(chip.label(), "9030000.pl061");
    }

    #[test]
    fn chips_are_taken_in_the_order_of_their_numbers() {
        let names = [
            "gpiochip10",
            "mem",
            "gpiochip2",
            "gpiochip",
            "gpiochip0",
            "gpiochip+1",
            "gpiochip1a",
            "gpiochip1",
        ];
        assert_eq!(
            chip_devices(names.map(str::to_owned)),
            ["gpiochip0", "gpiochip1", "gpiochip2", "gpiochip10"]
        );
        assert!(chip_devices(Vec::new()).is_empty());
    }

    #[test]
    fn poll_timeouts_round_up_and_saturate() {
        assert_eq!(poll_timeout_ms(Duration::ZERO), 0);
        assert_eq!(poll_timeout_ms(Duration::from_nanos(1)), 1);
        assert_eq!(poll_timeout_ms(Duration::from_millis(5)), 5);
        assert_eq!(poll_timeout_ms(Duration::from_micros(5_001)), 6);
        assert_eq!(poll_timeout_ms(Duration::from_secs(u64::MAX)), i32::MAX);
    }
}
