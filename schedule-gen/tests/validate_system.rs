//! One negative test per rule about time partitioning, devices described in the configuration,
//! ports and channels, and HM tables, asserting the exact rendered message and position.

mod common;

use common::load;
use schedule_gen::model::{ChannelBuffer, HmAction, ModuleAction, PartitionAction, PortKind};
use schedule_gen::{HmError, Rule};

/// A valid module using every feature; line numbers in the tests refer to this text.
/// `a` and `b` share core 0 through windows, `c` has core 1; a sampling channel a → b and a
/// queuing channel b → a.
const BASE: &str = r#"[module]
name = "m"
board = "qemu-virt"
shared_memory = { phys = 0x4800_0000, size = 0x10_0000 }

[[partition]]
name = "a"
kind = "bm"
criticality = "A"
core = 0
period = "10ms"
duration = "4ms"
image = { package = "p" }
ports_ipa = 0x5000_0000
memory = [{ name = "ram", ipa = 0x4000_0000, phys = 0x4200_0000, size = 0x20_0000, access = "rwx" }]
sampling_port = [{ name = "out", direction = "source", max_message_size = 64 }]
queuing_port = [{ name = "q_in", direction = "destination", max_message_size = 32, max_messages = 4 }]

[[partition]]
name = "b"
kind = "rtos"
criticality = "C"
core = 0
period = "20ms"
duration = "5ms"
image = { package = "p" }
ports_ipa = 0x5000_0000
memory = [{ name = "ram", ipa = 0x4000_0000, phys = 0x4240_0000, size = 0x20_0000, access = "rwx" }]
sampling_port = [{ name = "in", direction = "destination", max_message_size = 64, refresh_period = "20ms" }]
queuing_port = [{ name = "q_out", direction = "source", max_message_size = 32, max_messages = 4 }]

[[partition]]
name = "c"
kind = "bm"
criticality = "E"
cores = [1]
image = { package = "p" }
memory = [{ name = "ram", ipa = 0x4000_0000, phys = 0x4280_0000, size = 0x20_0000, access = "rwx" }]

[[schedule]]
core = 0
major_frame = "20ms"
window = [
  { partition = "a", offset = "0ms", duration = "4ms" },
  { partition = "b", offset = "4ms", duration = "5ms" },
  { partition = "a", offset = "10ms", duration = "4ms" },
]

[[channel]]
name = "s"
source = "a.out"
destinations = ["b.in"]

[[channel]]
name = "q"
source = "b.q_out"
destinations = ["a.q_in"]
"#;

/// `BASE` with `from` replaced by `to` (which must occur exactly once).
fn edit(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "{from:?} must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

/// Every error of `rule` in `text`, rendered, one block each.
fn errors_of(text: &str, rule: Rule) -> String {
    let d = load(text).expect_err("expected errors");
    let found: Vec<_> = d
        .iter()
        .filter(|d| d.rule == rule)
        .map(|d| d.to_string())
        .collect();
    assert!(!found.is_empty(), "expected {rule:?} in:\n{d}");
    found.join("\n\n")
}

/// The only error of `text`.
fn only_error(text: &str) -> String {
    let d = load(text).expect_err("expected errors");
    assert_eq!(d.len(), 1, "expected exactly one error, got:\n{d}");
    d.to_string()
}

#[test]
fn base_passes_and_is_resolved() {
    let cfg = load(BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.core_count(), 4);
    assert_eq!(cfg.counter_hz(), 62_500_000);
    let s = &cfg.schedules()[0];
    assert_eq!(
        (s.core, s.major_frame_ns, s.windows.len()),
        (0, 20_000_000, 3)
    );
    let a = cfg.partition(0).unwrap();
    assert_eq!(
        a.time.map(|t| (t.period_ns, t.duration_ns)),
        Some((10_000_000, 4_000_000))
    );
    // Ports: the sampling source maps its buffer writable at ports_ipa; the queuing
    // destination maps the ring read-only and its acknowledge page writable.
    let out = &a.ports[0];
    assert_eq!(out.mappings.len(), 1);
    assert_eq!(
        (
            out.mappings[0].ipa,
            out.mappings[0].phys,
            out.mappings[0].writable
        ),
        (0x5000_0000, 0x4800_0000, true)
    );
    let q_in = &a.ports[1];
    assert!(matches!(
        q_in.kind,
        PortKind::Queuing {
            max_messages: 4,
            ..
        }
    ));
    assert_eq!(
        q_in.mappings
            .iter()
            .map(|m| (m.buffer, m.ipa, m.writable))
            .collect::<Vec<_>>(),
        vec![
            (ChannelBuffer::Data, 0x5000_1000, false),
            (ChannelBuffer::Ack, 0x5000_2000, true)
        ]
    );
    let b = cfg.partition(1).unwrap();
    assert_eq!(
        (b.ports[0].mappings[0].phys, b.ports[0].mappings[0].writable),
        (0x4800_0000, false)
    );
    assert_eq!(
        b.ports[1]
            .mappings
            .iter()
            .map(|m| m.writable)
            .collect::<Vec<_>>(),
        vec![true, false]
    );
    let ch = cfg.channels();
    assert_eq!(
        (ch[0].data.base, ch[0].data.size, ch[0].ack),
        (0x4800_0000, 0x1000, None)
    );
    assert_eq!(ch[1].ack.map(|r| r.base), Some(0x4800_2000));
    // HM defaults: everything idles but refused hypercalls; the kernel fault shuts down.
    assert_eq!(
        a.hm_action(HmError::MemoryViolation),
        Some(HmAction::Partition(PartitionAction::Idle))
    );
    assert_eq!(
        a.hm_action(HmError::IllegalRequest),
        Some(HmAction::Partition(PartitionAction::Ignore))
    );
    assert_eq!(a.hm_action(HmError::KernelFault), None);
    assert_eq!(cfg.module_hm().len(), 1);
    assert_eq!(
        (
            cfg.module_hm()[0].error,
            cfg.module_hm()[0].action,
            cfg.module_hm()[0].configured
        ),
        (HmError::KernelFault, ModuleAction::Shutdown, false)
    );
}

#[test]
fn invalid_duration() {
    assert_eq!(
        only_error(&edit("period = \"10ms\"", "period = \"10\"")),
        "sys.toml:11:10: error[E005-invalid-duration]: period \"10\" is not a duration: it has no unit\n  help: write digits, an optional fraction and a unit (s, ms, us or ns), e.g. \"20ms\" or \"2.5ms\""
    );
    // A number instead of a string is a type error with the same advice.
    assert_eq!(
        only_error(&edit("period = \"10ms\"", "period = 10")),
        "sys.toml:11:10: error[E003-invalid-value]: invalid type: integer `10`, expected a duration with a unit, such as \"20ms\", \"2.5ms\" or \"500us\"\n  help: change the value to what the message expects"
    );
}

#[test]
fn duration_not_whole_ticks() {
    assert_eq!(
        only_error(&edit(
            "period = \"10ms\"\nduration = \"4ms\"",
            "period = \"10ms\"\nduration = \"4.001us\""
        )),
        "sys.toml:12:12: error[E006-duration-not-whole-ticks]: duration \"4.001us\" is not a whole number of system counter ticks (62500000 Hz, one tick = 16ns)\n  help: round it to a multiple of the tick"
    );
}

#[test]
fn invalid_module_cores() {
    assert_eq!(
        errors_of(
            &edit(
                "board = \"qemu-virt\"\n",
                "board = \"qemu-virt\"\ncores = 5\n"
            ),
            Rule::InvalidModuleCores
        ),
        "sys.toml:4:9: error[E017-invalid-module-cores]: the module cannot use 5 cores: board \"qemu-virt\" has 4\n  help: use 1 to 4, or leave `cores` out to use them all"
    );
    // Fewer cores than the board: partitions may only use the module's.
    assert_eq!(
        only_error(&edit(
            "board = \"qemu-virt\"\n",
            "board = \"qemu-virt\"\ncores = 1\n"
        )),
        "sys.toml:37:10: error[E021-core-not-on-board]: core 1 is not one of the module's 1 core\n  help: use a core index from 0 to 0, or raise `[module] cores`"
    );
}

#[test]
fn invalid_counter_frequency() {
    assert_eq!(
        only_error(&edit(
            "board = \"qemu-virt\"\n",
            "board = \"qemu-virt\"\ncounter_hz = 0\n"
        )),
        "sys.toml:4:14: error[E018-invalid-counter-frequency]: counter frequency 0 Hz is not positive\n  help: give the frequency of the system counter (CNTFRQ_EL0) in Hz, or leave `counter_hz` out to use the board's 62500000"
    );
}

#[test]
fn conflicting_placement() {
    assert_eq!(
        only_error(&edit("cores = [1]\n", "cores = [1]\ncore = 1\n")),
        "sys.toml:37:8: error[E023-conflicting-placement]: partition \"c\" has both `cores` (dedicated) and `core` (time-partitioned)\n  help: keep `cores = [..]` to give it whole cores, or `core = N` to share core N through windows"
    );
}

#[test]
fn invalid_time_budget() {
    assert_eq!(
        errors_of(&edit("period = \"20ms\"\n", ""), Rule::InvalidTimeBudget),
        "sys.toml:23:8: error[E024-invalid-time-budget]: time-partitioned partition \"b\" has no `period`\n  help: give it `period` (how often it must run) and `duration` (how long in each period), e.g. period = \"20ms\", duration = \"5ms\""
    );
    assert_eq!(
        only_error(&edit("cores = [1]\n", "cores = [1]\nperiod = \"10ms\"\n")),
        "sys.toml:37:10: error[E024-invalid-time-budget]: partition \"c\" has dedicated cores; `period` and `duration` apply only to time-partitioned partitions\n  help: remove them, or replace `cores` by `core = N` to share core N through windows"
    );
    assert_eq!(
        errors_of(
            &edit(
                "period = \"20ms\"\nduration = \"5ms\"",
                "period = \"20ms\"\nduration = \"25ms\""
            ),
            Rule::InvalidTimeBudget
        ),
        "sys.toml:25:12: error[E024-invalid-time-budget]: partition \"b\" has duration \"25ms\", which is not in 0 < duration <= period (\"20ms\")\n  help: give it a positive duration no longer than its period"
    );
}

#[test]
fn core_mixed_use() {
    assert_eq!(
        errors_of(&edit("cores = [1]", "cores = [0]"), Rule::CoreMixedUse),
        "sys.toml:10:8: error[E026-core-mixed-use]: core 0 is dedicated to partition \"c\" (line 36); partition \"a\" cannot share it through windows\n  help: time-partition a core no partition has in `cores`\n\n\
         sys.toml:23:8: error[E026-core-mixed-use]: core 0 is dedicated to partition \"c\" (line 36); partition \"b\" cannot share it through windows\n  help: time-partition a core no partition has in `cores`\n\n\
         sys.toml:41:8: error[E026-core-mixed-use]: core 0 is dedicated to partition \"c\"; it cannot also have a schedule\n  help: schedule a core no partition has in `cores`, or remove the schedule"
    );
}

#[test]
fn invalid_device_mmio() {
    let dev = |d: &str| edit("cores = [1]\n", &format!("cores = [1]\ndevice = [{d}]\n"));
    assert_eq!(
        only_error(&dev(
            "{ name = \"virtio0\", mmio = { base = 0x0a00_0000, size = 0x200 }, interrupts = [48] }"
        )),
        "sys.toml:37:38: error[E041-invalid-device-mmio]: device \"virtio0\" of partition \"c\": MMIO window 0x0a00_0000+0x200 is empty or not 4 KiB aligned\n  help: stage 2 maps whole 4 KiB pages: use a page-aligned base and a non-zero multiple of 0x1000 as size"
    );
    assert_eq!(
        only_error(&dev(
            "{ name = \"rtc\", mmio = { base = 0x0901_0000, size = 0x1000 } }"
        )),
        "sys.toml:37:34: error[E041-invalid-device-mmio]: device \"rtc\" of partition \"c\": \"rtc\" is a device of board \"qemu-virt\", whose MMIO window is fixed\n  help: remove `mmio` and `interrupts` to own the board's device, or give your device another name"
    );
    assert_eq!(
        only_error(&dev(
            "{ name = \"uart\", mmio = { base = 0x0900_0000, size = 0x1000 } }"
        )),
        "sys.toml:37:35: error[E041-invalid-device-mmio]: device \"uart\" of partition \"c\": the MMIO window covers the kernel's UART or the GIC\n  help: the kernel owns its console UART and the GIC; choose another window"
    );
    assert_eq!(
        only_error(&dev(
            "{ name = \"far\", mmio = { base = 0x8000_0000, size = 0x1000 } }"
        )),
        "sys.toml:37:34: error[E041-invalid-device-mmio]: device \"far\" of partition \"c\": MMIO window 0x8000_0000+0x1000 is outside the device space of board \"qemu-virt\"\n  help: place it inside 0x0800_0000..0x4000_0000"
    );
}

#[test]
fn devices_described_by_mmio_stay_off_board_devices() {
    let dev = |d: &str| edit("cores = [1]\n", &format!("cores = [1]\ndevice = [{d}]\n"));
    assert_eq!(
        only_error(&dev(
            "{ name = \"clock\", mmio = { base = 0x0901_0000, size = 0x1000 } }"
        )),
        "sys.toml:37:36: error[E041-invalid-device-mmio]: device \"clock\" of partition \"c\": the MMIO window covers board device \"rtc\"\n  help: own the board's device by name (`name = \"rtc\"` without `mmio`)"
    );
    assert_eq!(
        only_error(&dev(
            "{ name = \"v\", mmio = { base = 0x0a00_0000, size = 0x1000 }, interrupts = [34] }"
        )),
        "sys.toml:37:85: error[E043-invalid-interrupt]: interrupt 34 of device \"v\" belongs to board device \"rtc\"\n  help: an interrupt goes with its device: own \"rtc\" by name to get it"
    );
    assert_eq!(
        only_error(&dev(
            "{ name = \"Virtio 0\", mmio = { base = 0x0a00_0000, size = 0x1000 } }"
        )),
        "sys.toml:37:20: error[E031-invalid-region-name]: device name \"Virtio 0\" of partition \"c\" is not valid\n  help: use 1 to 24 characters of a-z, 0-9, '_' or '-', starting with a letter"
    );
}

#[test]
fn device_overlap() {
    let text = edit(
        "cores = [1]\n",
        "cores = [1]\ndevice = [{ name = \"v0\", mmio = { base = 0x0a00_0000, size = 0x2000 } }, { name = \"v1\", mmio = { base = 0x0a00_1000, size = 0x1000 } }]\n",
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:37:83: error[E042-device-overlap]: device \"v1\" (0x0a00_1000..0x0a00_2000) overlaps device \"v0\" of partition \"c\" (line 37)\n  help: each MMIO page belongs to one device of one partition"
    );
}

#[test]
fn invalid_interrupt() {
    let text = edit(
        "cores = [1]\n",
        "cores = [1]\ndevice = [{ name = \"v\", mmio = { base = 0x0a00_0000, size = 0x1000 }, interrupts = [33, 20, 48, 285] }]\n",
    );
    let help = "help: use a GIC INTID (SPI number + 32) from 32 to 287, other than the kernel's own (33 and 284 to 287)";
    assert_eq!(
        errors_of(&text, Rule::InvalidInterrupt),
        format!(
            "sys.toml:37:85: error[E043-invalid-interrupt]: interrupt 33 of device \"v\" is the kernel console's interrupt\n  {help}\n\n\
             sys.toml:37:89: error[E043-invalid-interrupt]: interrupt 20 of device \"v\" is not a shared peripheral interrupt of board \"qemu-virt\"\n  {help}\n\n\
             sys.toml:37:97: error[E043-invalid-interrupt]: interrupt 285 of device \"v\" is one of the kernel's doorbell GPIO interrupts (284 to 287, virtual, every partition's)\n  {help}"
        )
    );
    let text = edit(
        "cores = [1]\n",
        "cores = [1]\ndevice = [{ name = \"rtc\", interrupts = [34] }]\n",
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:37:40: error[E043-invalid-interrupt]: device \"rtc\": `interrupts` can only be given with `mmio`\n  help: leave interrupts out for a board device (the board lists them), or describe the device with `mmio` too"
    );
}

#[test]
fn interrupt_shared() {
    let text = edit(
        "cores = [1]\n",
        "cores = [1]\ndevice = [{ name = \"v0\", mmio = { base = 0x0a00_0000, size = 0x1000 }, interrupts = [48] }, { name = \"v1\", mmio = { base = 0x0a00_1000, size = 0x1000 }, interrupts = [48] }]\n",
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:37:168: error[E044-interrupt-shared]: interrupt 48 is already owned by device \"v0\" of partition \"c\" (line 37)\n  help: route each interrupt to one device of one partition"
    );
}

#[test]
fn too_many_interrupts() {
    let list: Vec<String> = (40..73).map(|i| i.to_string()).collect();
    let text = edit(
        "cores = [1]\n",
        &format!(
            "cores = [1]\ndevice = [{{ name = \"v\", mmio = {{ base = 0x0a00_0000, size = 0x1000 }}, interrupts = [{}] }}]\n",
            list.join(", ")
        ),
    );
    let error = only_error(&text);
    assert!(
        error.contains(
            "error[E105-too-many-interrupts]: partition \"c\" owns 33 interrupts through its devices; a partition may own at most 32\n  help: give some of its devices to another partition"
        ),
        "{error}"
    );
    // 32 is allowed.
    let list: Vec<String> = (40..72).map(|i| i.to_string()).collect();
    let text = edit(
        "cores = [1]\n",
        &format!(
            "cores = [1]\ndevice = [{{ name = \"v\", mmio = {{ base = 0x0a00_0000, size = 0x1000 }}, interrupts = [{}] }}]\n",
            list.join(", ")
        ),
    );
    assert!(load(&text).is_ok(), "32 interrupts are allowed");
}

#[test]
fn invalid_schedule() {
    assert_eq!(
        errors_of(
            &edit("major_frame = \"20ms\"", "major_frame = \"0s\""),
            Rule::InvalidSchedule
        ),
        "sys.toml:42:15: error[E064-invalid-schedule]: the major frame is zero\n  help: give the length of one cycle of the schedule, e.g. major_frame = \"20ms\""
    );
    let text = format!("{BASE}\n[[schedule]]\ncore = 2\nmajor_frame = \"10ms\"\n");
    assert_eq!(
        only_error(&text),
        "sys.toml:60:8: error[E064-invalid-schedule]: the schedule of core 2 has no windows\n  help: add [[schedule.window]] tables, or remove the schedule"
    );
}

#[test]
fn duplicate_schedule() {
    let text = format!(
        "{BASE}\n[[schedule]]\ncore = 0\nmajor_frame = \"10ms\"\nwindow = [{{ partition = \"a\", offset = \"0ms\", duration = \"1ms\" }}]\n"
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:60:8: error[E065-duplicate-schedule]: core 0 already has a schedule (line 41)\n  help: give each time-partitioned core one [[schedule]] with all its windows"
    );
}

#[test]
fn missing_schedule() {
    let text = edit(
        "name = \"b\"\nkind = \"rtos\"\ncriticality = \"C\"\ncore = 0",
        "name = \"b\"\nkind = \"rtos\"\ncriticality = \"C\"\ncore = 2",
    );
    assert_eq!(
        errors_of(&text, Rule::MissingSchedule),
        "sys.toml:23:8: error[E066-missing-schedule]: partition \"b\" is time-partitioned on core 2, which has no [[schedule]]\n  help: add a [[schedule]] with core = 2, a major_frame and windows for \"b\""
    );
}

#[test]
fn window_unknown_partition() {
    assert_eq!(
        only_error(&edit(
            "{ partition = \"b\", offset = \"4ms\"",
            "{ partition = \"x\", offset = \"4ms\""
        ))
        .lines()
        .next()
        .unwrap(),
        "sys.toml:45:17: error[E067-window-unknown-partition]: window for partition \"x\", which the configuration does not have"
    );
    assert!(
        only_error(&edit(
            "{ partition = \"b\", offset = \"4ms\"",
            "{ partition = \"x\", offset = \"4ms\""
        ))
        .ends_with("help: name one of the partitions time-partitioned on this core: a, b")
    );
}

#[test]
fn window_wrong_core() {
    let text = edit(
        "  { partition = \"a\", offset = \"10ms\"",
        "  { partition = \"c\", offset = \"15ms\", duration = \"1ms\" },\n  { partition = \"a\", offset = \"10ms\"",
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:46:17: error[E068-window-wrong-core]: partition \"c\" has dedicated cores, so it cannot have a window on core 0\n  help: give it `core = 0` with a period and duration, or remove the window"
    );
}

#[test]
fn empty_window() {
    assert_eq!(
        only_error(&edit(
            "offset = \"4ms\", duration = \"5ms\"",
            "offset = \"4ms\", duration = \"0ms\""
        )),
        "sys.toml:45:49: error[E069-empty-window]: the window of partition \"b\" at 4ms has zero length\n  help: give it a positive duration, or remove it"
    );
}

#[test]
fn window_outside_frame() {
    assert_eq!(
        errors_of(
            &edit(
                "offset = \"10ms\", duration = \"4ms\"",
                "offset = \"18ms\", duration = \"4ms\""
            ),
            Rule::WindowOutsideFrame
        ),
        "sys.toml:46:31: error[E070-window-outside-frame]: the window of partition \"a\" runs from 18ms to 22ms, past the end of the major frame (20ms)\n  help: windows must end by the end of the major frame: move or shorten it"
    );
}

#[test]
fn window_overlap() {
    assert_eq!(
        only_error(&edit(
            "offset = \"4ms\", duration = \"5ms\"",
            "offset = \"3ms\", duration = \"5ms\""
        )),
        "sys.toml:45:31: error[E071-window-overlap]: the window of partition \"b\" at 3ms..8ms overlaps the window of partition \"a\" at 0s..4ms (line 44)\n  help: one core runs one window at a time: move one of them"
    );
}

#[test]
fn period_not_dividing_frame() {
    assert_eq!(
        only_error(&edit("period = \"10ms\"", "period = \"15ms\"")),
        "sys.toml:11:10: error[E072-period-not-dividing-frame]: partition \"a\" has period 15ms, which does not divide the major frame of core 0 (20ms)\n  help: use a period that divides the major frame a whole number of times"
    );
}

#[test]
fn budget_not_met() {
    // a needs 4ms in each 10ms period; its second window moved into the first period.
    assert_eq!(
        only_error(&edit(
            "offset = \"10ms\", duration = \"4ms\"",
            "offset = \"9ms\", duration = \"4ms\""
        )),
        "sys.toml:12:12: error[E073-budget-not-met]: partition \"a\" needs 4ms in every period of 10ms, but its windows on core 0 give it 3ms in period 2 (10ms..20ms)\n  help: lengthen or add its windows in that period, or lower its duration"
    );
    let text = edit(
        "  { partition = \"b\", offset = \"4ms\", duration = \"5ms\" },\n",
        "",
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:25:12: error[E073-budget-not-met]: partition \"b\" has no window in the schedule of core 0\n  help: add a [[schedule.window]] for \"b\" in every period of 20ms"
    );
}

#[test]
fn too_many_windows() {
    let windows: String = (0..65)
        .map(|i| {
            format!(
                "  {{ partition = \"b\", offset = \"{}us\", duration = \"10us\" }},\n",
                14_000 + i * 10
            )
        })
        .collect();
    let text = edit(
        "]\n\n[[channel]]\nname = \"s\"",
        &format!("{windows}]\n\n[[channel]]\nname = \"s\""),
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:41:8: error[E074-too-many-windows]: the schedule of core 0 has 68 windows; at most 64 are supported\n  help: merge adjacent windows of the same partition, or lengthen the periods"
    );
}

#[test]
fn invalid_port_name() {
    assert_eq!(
        errors_of(
            &edit("name = \"q_in\"", "name = \"out\""),
            Rule::InvalidPortName
        )
        .lines()
        .next()
        .unwrap(),
        "sys.toml:17:26: error[E075-invalid-port-name]: partition \"a\" already has a port named \"out\" (line 16)"
    );
    assert!(errors_of(&edit("name = \"q_in\"", "name = \"Q\""), Rule::InvalidPortName)
        .starts_with("sys.toml:17:26: error[E075-invalid-port-name]: port name \"Q\" of partition \"a\" is not valid\n  help: use 1 to 24 characters"));
}

#[test]
fn invalid_message_size() {
    assert_eq!(
        errors_of(
            &edit(
                "\"q_in\", direction = \"destination\", max_message_size = 32, max_messages = 4",
                "\"q_in\", direction = \"destination\", max_message_size = 0, max_messages = 4"
            ),
            Rule::InvalidMessageSize
        ),
        "sys.toml:17:80: error[E076-invalid-message-size]: port \"q_in\" of partition \"a\" has a maximum message size of 0 bytes\n  help: use 1 to 65536 bytes"
    );
}

#[test]
fn invalid_queue_depth() {
    assert_eq!(
        errors_of(
            &edit(
                "\"q_in\", direction = \"destination\", max_message_size = 32, max_messages = 4",
                "\"q_in\", direction = \"destination\", max_message_size = 32, max_messages = 5000"
            ),
            Rule::InvalidQueueDepth
        ),
        "sys.toml:17:99: error[E077-invalid-queue-depth]: queuing port \"q_in\" of partition \"a\" holds 5000 messages\n  help: use 1 to 1024 messages"
    );
}

#[test]
fn invalid_refresh_period() {
    assert_eq!(
        only_error(&edit(", refresh_period = \"20ms\"", "")),
        "sys.toml:29:27: error[E078-invalid-refresh-period]: sampling destination port \"in\" of partition \"b\" has no refresh period\n  help: add `refresh_period`, how long a message stays valid, e.g. refresh_period = \"40ms\""
    );
    assert_eq!(
        only_error(&edit(
            "refresh_period = \"20ms\"",
            "refresh_period = \"0ms\""
        )),
        "sys.toml:29:100: error[E078-invalid-refresh-period]: sampling port \"in\" of partition \"b\" has a refresh period of zero\n  help: give how long a message stays valid, e.g. refresh_period = \"40ms\""
    );
}

#[test]
fn port_without_channel() {
    let text = edit(
        "\n[[channel]]\nname = \"q\"\nsource = \"b.q_out\"\ndestinations = [\"a.q_in\"]\n",
        "",
    );
    assert_eq!(
        errors_of(&text, Rule::PortWithoutChannel),
        "sys.toml:17:26: error[E079-port-without-channel]: queuing port \"q_in\" of partition \"a\" is not connected by any channel\n  help: add a [[channel]] with destinations = \"a.q_in\", or remove the port\n\n\
         sys.toml:30:26: error[E079-port-without-channel]: queuing port \"q_out\" of partition \"b\" is not connected by any channel\n  help: add a [[channel]] with source = \"b.q_out\", or remove the port"
    );
}

#[test]
fn channel_unknown_port() {
    let text = edit(
        "destinations = [\"b.in\"]",
        "destinations = [\"b.nope\", \"x.in\", \"in\"]",
    );
    assert_eq!(
        errors_of(&text, Rule::ChannelUnknownPort),
        "sys.toml:52:17: error[E080-channel-unknown-port]: partition \"b\" has no port \"nope\"\n  help: use one of its ports: in, q_out, or declare \"nope\"\n\n\
         sys.toml:52:27: error[E080-channel-unknown-port]: channel destination \"x.in\" names partition \"x\", which the configuration does not have\n  help: use one of the partitions: a, b, c\n\n\
         sys.toml:52:35: error[E080-channel-unknown-port]: channel destination \"in\" is not of the form \"partition.port\"\n  help: name the port with its partition, e.g. \"ctrl.speed_out\""
    );
}

#[test]
fn channel_direction() {
    assert_eq!(
        errors_of(
            &edit("source = \"a.out\"", "source = \"b.in\""),
            Rule::ChannelDirection
        ),
        "sys.toml:51:10: error[E081-channel-direction]: port \"b.in\" is a destination port, so it cannot be a channel's source\n  help: use a port declared with direction = \"source\" here"
    );
}

#[test]
fn channel_kind_mismatch() {
    let text = edit(
        "destinations = [\"b.in\"]",
        "destinations = [\"b.in\", \"a.q_in\"]",
    );
    assert_eq!(
        errors_of(&text, Rule::ChannelKindMismatch),
        "sys.toml:52:25: error[E082-channel-kind-mismatch]: channel \"s\" joins sampling port \"a.out\" to queuing port \"a.q_in\"\n  help: connect sampling ports to sampling ports and queuing ports to queuing ports"
    );
}

#[test]
fn channel_size_mismatch() {
    assert_eq!(
        only_error(&edit(
            "max_message_size = 64, refresh_period",
            "max_message_size = 16, refresh_period"
        )),
        "sys.toml:52:17: error[E083-channel-size-mismatch]: destination \"b.in\" takes messages of at most 16 bytes, but source \"a.out\" sends up to 64\n  help: raise the destination's max_message_size to at least 64"
    );
    assert_eq!(
        only_error(&edit(
            "\"q_in\", direction = \"destination\", max_message_size = 32, max_messages = 4",
            "\"q_in\", direction = \"destination\", max_message_size = 32, max_messages = 2"
        )),
        "sys.toml:57:17: error[E083-channel-size-mismatch]: destination \"a.q_in\" holds 2 messages, but source \"b.q_out\" holds 4\n  help: give both ends of a queuing channel the same max_messages: the channel has one queue"
    );
}

#[test]
fn channel_destinations() {
    assert_eq!(
        errors_of(
            &edit("destinations = [\"b.in\"]", "destinations = []"),
            Rule::ChannelDestinations
        ),
        "sys.toml:52:16: error[E084-channel-destinations]: channel \"s\" has no destination\n  help: list at least one \"partition.port\" in `destinations`"
    );
    assert_eq!(
        errors_of(
            &edit(
                "destinations = [\"b.in\"]",
                "destinations = [\"b.in\", \"b.in\"]"
            ),
            Rule::ChannelDestinations
        ),
        "sys.toml:52:25: error[E084-channel-destinations]: channel \"s\" lists destination \"b.in\" twice\n  help: list each destination port once"
    );
    assert_eq!(
        errors_of(
            &edit(
                "destinations = [\"a.q_in\"]",
                "destinations = [\"a.q_in\", \"b.in\"]"
            ),
            Rule::ChannelDestinations
        ),
        "sys.toml:57:16: error[E084-channel-destinations]: queuing channel \"q\" has 2 destinations; a queuing channel has exactly one\n  help: use a sampling channel to reach several partitions, or one queuing channel per destination"
    );
}

#[test]
fn port_in_two_channels() {
    let text = format!(
        "{BASE}\n[[channel]]\nname = \"t\"\nsource = \"a.out\"\ndestinations = [\"b.in\"]\n"
    );
    assert_eq!(
        errors_of(&text, Rule::PortInTwoChannels),
        "sys.toml:61:10: error[E085-port-in-two-channels]: port \"a.out\" is already connected by channel \"s\" (line 50)\n  help: connect each port to one channel; a sampling channel may have several destinations\n\n\
         sys.toml:62:17: error[E085-port-in-two-channels]: port \"b.in\" is already connected by channel \"s\" (line 50)\n  help: connect each port to one channel; a sampling channel may have several destinations"
    );
}

#[test]
fn invalid_channel_name() {
    assert_eq!(
        errors_of(
            &edit("name = \"q\"", "name = \"s\""),
            Rule::InvalidChannelName
        ),
        "sys.toml:55:8: error[E086-invalid-channel-name]: channel name \"s\" is already used on line 50\n  help: give every channel a different name"
    );
}

#[test]
fn invalid_shared_memory() {
    assert_eq!(
        only_error(&edit(
            "shared_memory = { phys = 0x4800_0000, size = 0x10_0000 }\n",
            ""
        )),
        "sys.toml:1:1: error[E087-invalid-shared-memory]: the module has 2 channels but no shared memory for their buffers\n  help: add `shared_memory = { phys = ..., size = ... }` to [module]: physical RAM outside every partition"
    );
    assert_eq!(
        only_error(&edit(
            "phys = 0x4800_0000, size = 0x10_0000",
            "phys = 0x4200_0000, size = 0x10_0000"
        )),
        "sys.toml:4:17: error[E087-invalid-shared-memory]: shared memory 0x4200_0000+0x10_0000: it overlaps region \"ram\" of partition \"a\"\n  help: give shared memory its own physical RAM"
    );
    assert_eq!(
        only_error(&edit(
            "phys = 0x4800_0000, size = 0x10_0000",
            "phys = 0x4800_0000, size = 0x2000"
        )),
        "sys.toml:4:17: error[E087-invalid-shared-memory]: shared memory 0x4800_0000+0x2000: the channels' buffers need 0x3000 bytes\n  help: raise `size` to at least 0x3000"
    );
}

#[test]
fn invalid_ports_ipa() {
    assert_eq!(
        only_error(&edit(
            "image = { package = \"p\" }\nports_ipa = 0x5000_0000\nmemory = [{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4200_0000",
            "image = { package = \"p\" }\nmemory = [{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4200_0000"
        )),
        "sys.toml:7:8: error[E088-invalid-ports-ipa]: partition \"a\" has ports but no `ports_ipa`\n  help: add `ports_ipa = <address>`: the guest-physical address its port buffers are mapped from, clear of its regions and devices"
    );
    assert_eq!(
        only_error(&edit(
            "ports_ipa = 0x5000_0000\nmemory = [{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4200_0000",
            "ports_ipa = 0x401f_f000\nmemory = [{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4200_0000"
        )),
        "sys.toml:14:13: error[E088-invalid-ports-ipa]: the port window of partition \"a\" (0x401f_f000..0x4020_2000) overlaps its region \"ram\" (0x4000_0000..0x4020_0000)\n  help: move ports_ipa to guest-physical addresses the partition does not use"
    );
}

#[test]
fn port_window_on_the_info_page() {
    // Partition a's port window is three pages: its sampling buffer, then its queue's data
    // and acknowledge pages. From 0x7f_ffff_d000 the last one is the information page.
    let from = "ports_ipa = 0x5000_0000\nmemory = [{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4200_0000";
    assert_eq!(
        only_error(&edit(from, &from.replace("0x5000_0000", "0x7f_ffff_d000"))),
        "sys.toml:14:13: error[E094-info-page-collision]: the port window of partition \"a\" (0x007f_ffff_d000..0x0080_0000_0000) overlaps the kernel's pages at 0x007f_ffff_a000 (the doorbell GPIO controllers, the doorbell register page, then the partition information page at 0x007f_ffff_f000)\n  help: keep ports_ipa + 0x3000 at or below 0x007f_ffff_a000: the kernel keeps the last 24 KiB of each partition's IPA space for its doorbell GPIO controllers, doorbell register page and information page (apex_api::info)"
    );
    // Six pages lower, the window ends where the kernel's pages begin (the doorbell GPIO
    // controllers, the doorbell register page, then the information page).
    let cfg = load(&edit(from, &from.replace("0x5000_0000", "0x7f_ffff_7000")))
        .unwrap_or_else(|e| panic!("{e}"));
    let a = cfg.partition(0).unwrap();
    let last = a.ports.iter().flat_map(|p| &p.mappings).last().unwrap();
    assert_eq!(last.ipa + last.size, apex_api::info::KERNEL_PAGES_IPA);
}

#[test]
fn too_many_ports() {
    let ports: String = (0..33)
        .map(|i| {
            format!("  {{ name = \"p{i}\", direction = \"source\", max_message_size = 8 }},\n")
        })
        .collect();
    let text = edit(
        "memory = [{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4280_0000, size = 0x20_0000, access = \"rwx\" }]\n",
        &format!(
            "memory = [{{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4280_0000, size = 0x20_0000, access = \"rwx\" }}]\nsampling_port = [\n{ports}]\n"
        ),
    );
    assert_eq!(
        errors_of(&text, Rule::TooManyPorts),
        "sys.toml:33:8: error[E089-too-many-ports]: partition \"c\" has 33 ports; at most 32 are supported\n  help: merge messages into fewer ports"
    );
}

#[test]
fn too_many_channels() {
    let mut text = BASE.to_owned();
    for i in 0..63 {
        text += &format!(
            "\n[[channel]]\nname = \"x{i}\"\nsource = \"a.out\"\ndestinations = [\"b.in\"]\n"
        );
    }
    // Channel 65 is the 63rd added: BASE has 58 lines, each added channel 5.
    assert_eq!(
        errors_of(&text, Rule::TooManyChannels),
        "sys.toml:370:8: error[E090-too-many-channels]: the module has 65 channels; at most 64 are supported\n  help: merge messages into fewer channels"
    );
}

#[test]
fn unknown_hm_error() {
    let text = edit(
        "board = \"qemu-virt\"\n",
        "board = \"qemu-virt\"\nhm = { stack_overflow = \"reset\", bus_error = \"reset\" }\n",
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:4:34: error[E091-unknown-hm-error]: the module HM table names error \"bus_error\", which pkernel does not know\n  help: use one of: memory_violation, illegal_instruction, illegal_request, deadline_missed, application_error, numeric_error, stack_overflow, hardware_fault, power_fail, kernel_fault"
    );
}

#[test]
fn unknown_hm_action() {
    let text = edit(
        "cores = [1]\n",
        "cores = [1]\nhm = { memory_violation = \"reset\" }\n",
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:37:27: error[E092-unknown-hm-action]: \"reset\" is not a partition HM action\n  help: use one of: ignore, idle, cold_start, warm_start"
    );
    let text = edit(
        "board = \"qemu-virt\"\n",
        "board = \"qemu-virt\"\nhm = { kernel_fault = \"cold_start\" }\n",
    );
    assert_eq!(
        only_error(&text),
        "sys.toml:4:23: error[E092-unknown-hm-action]: \"cold_start\" is not a module HM action\n  help: use one of: ignore, shutdown, reset"
    );
}

#[test]
fn hm_level_conflict() {
    let text = edit("board = \"qemu-virt\"\n", "board = \"qemu-virt\"\nhm = { power_fail = \"shutdown\" }\n")
        .replace("cores = [1]\n", "cores = [1]\nhm = { power_fail = \"idle\", kernel_fault = \"idle\", deadline_missed = \"warm_start\" }\n");
    assert_eq!(
        errors_of(&text, Rule::HmLevelConflict),
        "sys.toml:38:8: error[E093-hm-level-conflict]: \"power_fail\" is handled at module level ([module.hm], line 4); partition \"c\" cannot handle it too\n  help: remove it here, or from [module.hm] to handle it per partition\n\n\
         sys.toml:38:29: error[E093-hm-level-conflict]: \"kernel_fault\" is a module-level error; partition \"c\" cannot handle it\n  help: set its action in [module.hm] instead"
    );
    // The rest of the merge: module-level errors act on the module for every partition.
    let ok = edit(
        "board = \"qemu-virt\"\n",
        "board = \"qemu-virt\"\nhm = { power_fail = \"shutdown\", kernel_fault = \"reset\" }\n",
    )
    .replace(
        "cores = [1]\n",
        "cores = [1]\nhm = { deadline_missed = \"warm_start\" }\n",
    );
    let cfg = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    let c = cfg.partition(2).unwrap();
    assert_eq!(
        c.hm_action(HmError::PowerFail),
        Some(HmAction::Module(ModuleAction::Shutdown))
    );
    assert_eq!(
        c.hm_action(HmError::DeadlineMissed),
        Some(HmAction::Partition(PartitionAction::WarmStart))
    );
    assert_eq!(
        cfg.module_hm()
            .iter()
            .map(|e| (e.error, e.action))
            .collect::<Vec<_>>(),
        vec![
            (HmError::PowerFail, ModuleAction::Shutdown),
            (HmError::KernelFault, ModuleAction::Reset)
        ]
    );
}
