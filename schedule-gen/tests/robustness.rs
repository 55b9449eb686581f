//! Property-style robustness: random and mutated inputs never panic the loader or ELF reader.

mod common;

use common::{R, TWO_PARTITIONS, W, X, elf, load, load_seg};
use schedule_gen::image::check_image;

/// xorshift64*: small, deterministic, good enough to shake inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that are meaningful to TOML or to the rules, so mutations reach deep checks.
const TOKENS: &[&str] = &[
    "=",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "\"",
    "'",
    ",",
    "\n",
    "#",
    ".",
    "0x",
    "-1",
    "0",
    "0x1000",
    "0xffff_ffff_ffff_ffff",
    "18446744073709551616",
    "99999999999999999999999",
    "1e400",
    "nan",
    "true",
    "\"rwx\"",
    "\"bm\"",
    "[[partition]]",
    "[[partition.memory]]",
    "[[partition.device]]",
    "[module]",
    "name = \"x\"",
    "cores = [0, 1, 2, 3, 255, 256, -9]",
    "ipa = 0x4000_0000",
    "size = 0",
    "phys = 0xffff_ffff_ffff_f000",
    "image = { elf = \"\" }",
    "\u{0}",
    "é",
    "\r\n",
    "\"\"\"",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(4) {
            0 => {
                let end = (at + rng.below(20)).min(s.len());
                s.drain(at..end);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                s.splice(at..at, token.chars());
            }
            2 if !s.is_empty() => {
                let i = rng.below(s.len());
                s[i] = char::from_u32(rng.below(0x80) as u32).unwrap_or('x');
            }
            _ => {
                // Duplicate a slice: repeats tables, keys and values.
                let end = (at + rng.below(200)).min(s.len());
                let copy: Vec<char> = s[at..end].to_vec();
                let to = rng.below(s.len() + 1);
                s.splice(to..to, copy);
            }
        }
    }
    s.into_iter().collect()
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let len = rng.below(400);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = load(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn mutated_configs_never_panic() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut accepted = 0;
    for _ in 0..600 {
        let text = mutate(&mut rng, TWO_PARTITIONS);
        match load(&text) {
            Ok(_) => accepted += 1,
            // Every error renders, and says what to change.
            Err(d) => assert!(!d.is_empty() && d.iter().all(|d| !d.help.is_empty()), "{d}"),
        }
    }
    // The mutations are small: some must still be valid, or the test only exercises the parser.
    assert!(accepted > 0 && accepted < 600, "accepted {accepted}");
}

#[test]
fn mutated_images_never_panic() {
    let part = load(TWO_PARTITIONS)
        .unwrap()
        .partitions()
        .nth(1)
        .unwrap()
        .clone();
    let good = elf(
        0x4400_0000,
        &[
            load_seg(0x4400_0000, &[0xaa; 64], 64, R | X),
            load_seg(0x4410_0000, &[0xbb; 16], 0x100, R | W),
        ],
    );
    assert!(check_image("nav.elf", &good, &part).is_ok());
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..500 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.below(8) {
            let i = rng.below(bytes.len());
            // Favour header and program-header bytes, where the interesting fields are.
            let i = if rng.below(2) == 0 { i % 176 } else { i };
            bytes[i] = match rng.below(3) {
                0 => rng.next() as u8,
                1 => 0xff,
                _ => 0,
            };
        }
        let cut = if rng.below(4) == 0 {
            rng.below(bytes.len())
        } else {
            bytes.len()
        };
        let _ = check_image("nav.elf", &bytes[..cut], &part);
    }
}
