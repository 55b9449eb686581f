//! Property tests: the loader never panics, every error says where and what to change, and
//! every configuration it accepts really has the properties the rules promise (checked here by
//! independent code, not by the validator's own).

mod common;

use std::path::Path;

use proptest::prelude::*;
use schedule_gen::model::{ChannelBuffer, Direction, LoadedConfig, PhysRange};
use schedule_gen::{codegen, load_str};

fn load(text: &str) -> Result<LoadedConfig, schedule_gen::Diagnostics> {
    load_str("sys.toml", text, Path::new("/cfg"))
}

/// The invariants of an accepted configuration, computed from scratch.
fn check_invariants(cfg: &LoadedConfig) {
    let parts: Vec<_> = cfg.partitions().collect();
    for s in cfg.schedules() {
        let mut end = 0;
        for w in &s.windows {
            assert!(
                w.duration_ns > 0 && w.offset_ns >= end,
                "windows sorted and disjoint"
            );
            end = w.offset_ns + w.duration_ns;
            let p = parts[w.partition];
            assert_eq!(
                p.cores,
                vec![s.core],
                "window partition is time-partitioned here"
            );
        }
        assert!(end <= s.major_frame_ns, "windows inside the frame");
    }
    for (id, p) in parts.iter().enumerate() {
        if let Some(t) = p.time {
            let s = cfg
                .schedules()
                .iter()
                .find(|s| s.core == p.cores[0])
                .expect("scheduled");
            assert_eq!(s.major_frame_ns % t.period_ns, 0);
            for k in 0..s.major_frame_ns / t.period_ns {
                let (a, b) = (k * t.period_ns, (k + 1) * t.period_ns);
                let given: u64 = s
                    .windows
                    .iter()
                    .filter(|w| w.partition == id)
                    .map(|w| {
                        (w.offset_ns + w.duration_ns)
                            .min(b)
                            .saturating_sub(w.offset_ns.max(a))
                    })
                    .sum();
                assert!(
                    given >= t.duration_ns,
                    "{} gets its duration in period {k}",
                    p.name
                );
            }
        }
        // Private RAM never overlaps another partition's RAM or any channel buffer.
        for r in &p.memory {
            let ram = PhysRange::new(r.phys, r.size);
            for q in parts.iter().filter(|q| q.name != p.name) {
                assert!(
                    q.memory
                        .iter()
                        .all(|o| !PhysRange::new(o.phys, o.size).overlaps(&ram))
                );
            }
            for c in cfg.channels() {
                assert!(!c.data.overlaps(&ram) && c.ack.is_none_or(|a| !a.overlaps(&ram)));
            }
        }
        // Only a buffer's writer maps it writable.
        for port in &p.ports {
            for m in &port.mappings {
                let writer = match m.buffer {
                    ChannelBuffer::Data => Direction::Source,
                    ChannelBuffer::Ack => Direction::Destination,
                };
                assert_eq!(m.writable, port.direction == writer);
            }
        }
    }
    // Channel buffers are inside shared memory and disjoint.
    let mut buffers: Vec<PhysRange> = Vec::new();
    for c in cfg.channels() {
        for b in std::iter::once(c.data).chain(c.ack) {
            let shared = cfg.shared_memory().expect("channels need shared memory");
            assert!(shared.contains_range(b.base, b.size));
            assert!(buffers.iter().all(|o| !o.overlaps(&b)));
            buffers.push(b);
        }
    }
    // The tables generate.
    assert!(!codegen::system_tables(cfg).is_empty());
}

/// A configuration with core 0 time-partitioned between `a` and `b` by `windows`
/// (partition index, offset µs, duration µs), `a` needing `a_need` µs every `a_period` µs and
/// `b` `b_need` µs every frame.
fn scheduled(
    frame_us: u64,
    a_period: u64,
    a_need: u64,
    b_need: u64,
    windows: &[(usize, u64, u64)],
) -> String {
    let mut text = format!(
        "[module]\nname = \"m\"\nboard = \"qemu-virt\"\nshared_memory = {{ phys = 0x4800_0000, size = 0x1_0000 }}\n\n\
         [[partition]]\nname = \"a\"\nkind = \"bm\"\ncriticality = \"A\"\ncore = 0\nperiod = \"{a_period}us\"\nduration = \"{a_need}us\"\n\
         image = {{ package = \"p\" }}\nports_ipa = 0x5000_0000\n\
         memory = [{{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4200_0000, size = 0x10_0000, access = \"rwx\" }}]\n\
         sampling_port = [{{ name = \"o\", direction = \"source\", max_message_size = 8 }}]\n\n\
         [[partition]]\nname = \"b\"\nkind = \"bm\"\ncriticality = \"B\"\ncore = 0\nperiod = \"{frame_us}us\"\nduration = \"{b_need}us\"\n\
         image = {{ package = \"p\" }}\nports_ipa = 0x5000_0000\n\
         memory = [{{ name = \"ram\", ipa = 0x4000_0000, phys = 0x4210_0000, size = 0x10_0000, access = \"rwx\" }}]\n\
         sampling_port = [{{ name = \"i\", direction = \"destination\", max_message_size = 8, refresh_period = \"1ms\" }}]\n\n\
         [[schedule]]\ncore = 0\nmajor_frame = \"{frame_us}us\"\n"
    );
    for &(p, offset, duration) in windows {
        text += &format!(
            "[[schedule.window]]\npartition = \"{}\"\noffset = \"{offset}us\"\nduration = \"{duration}us\"\n",
            ["a", "b"][p]
        );
    }
    text += "\n[[channel]]\nname = \"c\"\nsource = \"a.o\"\ndestinations = [\"b.i\"]\n";
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        if let Err(d) = load(&text) {
            prop_assert!(d.iter().all(|d| !d.message.is_empty() && !d.help.is_empty()));
        }
    }

    #[test]
    fn toml_shaped_text_never_panics(text in r#"(\[module\]\n|\[\[partition\]\]\n|\[\[schedule\]\]\n|\[\[schedule.window\]\]\n|\[\[channel\]\]\n|[a-z_]{1,12} = ("[a-z0-9.]{0,8}"|-?[0-9]{1,12}|\[[0-9, "a-z.]{0,20}\]|\{ [a-z]+ = [0-9x_]{1,10} \})\n){0,30}"#) {
        let _ = load(&text);
    }

    /// Random schedules: whatever the loader accepts meets every promise, and whatever it
    /// rejects is rejected with a positioned error.
    #[test]
    fn accepted_schedules_keep_their_promises(input in schedule_inputs()) {
        match load(&input) {
            Ok(cfg) => check_invariants(&cfg),
            Err(d) => prop_assert!(d.iter().all(|d| d.position.is_some()), "{}", d),
        }
    }
}

/// Random two-partition schedules, biased so that a fair share is valid: windows are laid
/// out one after another with random gaps, and each partition asks for between half and
/// 120 % of the least its windows give it in a period, so both outcomes occur.
fn schedule_inputs() -> impl Strategy<Value = String> {
    (
        1u64..4,
        1u64..4,
        50u64..120,
        50u64..120,
        proptest::collection::vec((0usize..2, 0u64..200, 1u64..750), 1..8),
    )
        .prop_map(|(frame_ms, a_div, a_pct, b_pct, raw)| {
            let frame = frame_ms * 1000 * a_div;
            let a_period = frame / a_div;
            let mut at = 0;
            let windows: Vec<_> = raw
                .into_iter()
                // Whole even microseconds: whole ticks of QEMU virt's 62.5 MHz counter.
                .map(|(p, gap, duration)| {
                    let w = (p, at + 2 * gap, 2 * duration);
                    at += 2 * (gap + duration);
                    w
                })
                // Mostly inside the frame; a window just past its end is still tried.
                .take_while(|w| w.1 + w.2 <= frame + frame / 10)
                .collect();
            let least = |p: usize, period: u64| {
                (0..frame / period)
                    .map(|k| {
                        let (a, b) = (k * period, (k + 1) * period);
                        windows
                            .iter()
                            .filter(|w| w.0 == p)
                            .map(|w| (w.1 + w.2).min(b).saturating_sub(w.1.max(a)))
                            .sum::<u64>()
                    })
                    .min()
                    .unwrap_or(0)
            };
            let a_need = (least(0, a_period) * a_pct / 200).max(1) * 2;
            let b_need = (least(1, frame) * b_pct / 200).max(1) * 2;
            scheduled(frame, a_period, a_need, b_need, &windows)
        })
}

#[test]
fn the_random_schedules_include_valid_ones() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = schedule_inputs();
    let accepted = (0..400)
        .filter(|_| load(&strategy.new_tree(&mut runner).unwrap().current()).is_ok())
        .count();
    // Otherwise the property above would only ever see rejections.
    assert!(
        (40..=360).contains(&accepted),
        "{accepted} of 400 random schedules were valid: the property needs both outcomes"
    );
}

#[test]
fn the_shipped_configurations_keep_their_promises() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in [
        "configs/demo.toml",
        "configs/reference.toml",
        "schedule-gen/tests/golden/demo.toml",
    ] {
        let cfg = schedule_gen::load(&root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        check_invariants(&cfg);
    }
}

#[test]
fn an_exact_schedule_is_accepted() {
    // a: 2 ms in each 5 ms period; b: 4 ms in the 10 ms frame; windows fit exactly.
    let text = scheduled(
        10_000,
        5_000,
        2_000,
        4_000,
        &[
            (0, 0, 2_000),
            (1, 2_000, 3_000),
            (0, 5_000, 2_000),
            (1, 7_000, 1_000),
        ],
    );
    check_invariants(&load(&text).unwrap_or_else(|e| panic!("{e}")));
}
