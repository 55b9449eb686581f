//! ARINC 653 names → pkernel names: 1 to N characters of `a-z`, `0-9`, `_`, `-`, starting with
//! a letter, unique in their scope.

use std::collections::BTreeSet;

/// Longest partition, port, region and channel name pkernel accepts.
pub(super) const MAX_NAME: usize = 24;
/// Longest module name pkernel accepts.
pub(super) const MAX_MODULE_NAME: usize = 32;

/// `name` made valid: trimmed, lower-cased, every other character replaced by `_`, `prefix`
/// put in front unless it starts with a letter, cut to `max` characters.
pub(super) fn sanitize(name: &str, max: usize, prefix: char) -> String {
    let mut out: String = name
        .trim()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, prefix);
    }
    out.truncate(max);
    out
}

/// Hands out unique valid names in one scope.
pub(super) struct Namer {
    used: BTreeSet<String>,
    max: usize,
    prefix: char,
}

impl Namer {
    pub fn new(max: usize, prefix: char) -> Self {
        Namer {
            used: BTreeSet::new(),
            max,
            prefix,
        }
    }

    /// Keeps `names` from being handed out (e.g. partition names reserved for the kernel): a
    /// wanted name that sanitizes to one of them gets a suffix like any taken name.
    pub fn reserve(&mut self, names: &[&str]) {
        self.used.extend(names.iter().map(|n| (*n).to_owned()));
    }

    /// A valid name for `wanted`, unique in this scope: `_2`, `_3`, ... is appended (the name
    /// cut to make room) when the sanitized name is taken.
    pub fn name(&mut self, wanted: &str) -> String {
        let base = sanitize(wanted, self.max, self.prefix);
        let mut candidate = base.clone();
        let mut n = 1usize;
        while self.used.contains(&candidate) {
            n = n.saturating_add(1);
            let suffix = format!("_{n}");
            let mut cut = base.clone();
            cut.truncate(self.max.saturating_sub(suffix.len()));
            candidate = format!("{cut}{suffix}");
        }
        self.used.insert(candidate.clone());
        candidate
    }
}

/// `"a" → "b"` pairs as one readable list.
pub(super) fn renames(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(from, to)| format!("{} → {to:?}", super::xml::shown(from)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizing() {
        assert_eq!(sanitize("Flight Control", 24, 'p'), "flight_control");
        assert_eq!(sanitize(" IHVM ", 24, 'p'), "ihvm");
        assert_eq!(sanitize("1st", 24, 'p'), "p1st");
        assert_eq!(sanitize("_x", 24, 'c'), "c_x");
        assert_eq!(sanitize("", 24, 'p'), "p");
        assert_eq!(sanitize("Ünïcode/Name", 24, 'p'), "p_n_code_name");
        assert_eq!(
            sanitize("A_VERY_LONG_PARTITION_NAME_INDEED", 24, 'p').len(),
            24
        );
    }

    #[test]
    fn deduplicating() {
        let mut n = Namer::new(6, 'p');
        assert_eq!(n.name("abc"), "abc");
        assert_eq!(n.name("ABC"), "abc_2");
        assert_eq!(n.name("abc"), "abc_3");
        assert_eq!(n.name("abcdefgh"), "abcdef");
        assert_eq!(n.name("abcdefxx"), "abcd_2");
    }

    #[test]
    fn reserved_names_are_never_handed_out() {
        let mut n = Namer::new(24, 'p');
        n.reserve(crate::validate::RESERVED_PARTITION_NAMES);
        assert_eq!(n.name("PKERNEL"), "pkernel_2");
        assert_eq!(n.name("pkernel"), "pkernel_3");
        assert_eq!(n.name("pkernel_app"), "pkernel_app");
    }
}
