//! Reading ARINC 653 XML values: liberal element and attribute matching, exact numbers, and
//! the diagnostics and notes an import collects.
//!
//! Element and attribute names are compared without case, `_` or `-` and whatever namespace
//! prefix they carry, so `a653:Partition_HM_Table` and `PartitionHMTable` are the same
//! element. Numbers follow the schema's `DecOrHexValueType` (`12`, `+12`, `0x1F`) and
//! `xs:float` seconds (`0.020`, `20E-3`, `.5`), converted exactly: never through `f64`.

use std::collections::BTreeMap;

use roxmltree::{Attribute, Node};

use crate::diag::{Diagnostic, Position, Rule};

/// `s` without case, `_`, `-` or white space: the form names are compared in.
pub(super) fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_' && *c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `value` quoted for a message, cut so hostile input cannot flood the output.
pub(super) use crate::diag::shown;

/// Whether `node` is an element whose local name is one of `names` (compared by [`norm`]).
pub(super) fn is(node: Node<'_, '_>, names: &[&str]) -> bool {
    node.is_element() && {
        let n = norm(node.tag_name().name());
        names.iter().any(|w| norm(w) == n)
    }
}

/// The element children of `node`, in document order.
pub(super) fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// `<Name>`, as written (without its namespace prefix).
pub(super) fn tag(node: Node<'_, '_>) -> String {
    format!("<{}>", node.tag_name().name())
}

/// Deepest element nesting the importer reads. ARINC 653 configurations nest a handful of
/// levels; the XML parser recurses once per level, so unbounded nesting would exhaust the stack.
pub(super) const MAX_DEPTH: usize = 64;

/// The byte offset of the first start tag nested deeper than [`MAX_DEPTH`], if any: a cheap
/// scan of the markup (comments, CDATA, processing instructions and quoted attribute values
/// skipped) run before the parser. On malformed text it may over-count, never under-count.
pub(super) fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let skip_to = |from: usize, end: &str| {
        text.get(from..)
            .and_then(|rest| rest.find(end))
            .map_or(bytes.len(), |i| {
                from.saturating_add(i).saturating_add(end.len())
            })
    };
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(found) = text.get(i..).and_then(|rest| rest.find('<')) {
        let start = i.saturating_add(found);
        let rest = text.get(start..).unwrap_or("");
        i = if rest.starts_with("<!--") {
            skip_to(start, "-->")
        } else if rest.starts_with("<![CDATA[") {
            skip_to(start, "]]>")
        } else if rest.starts_with("<?") {
            skip_to(start, "?>")
        } else if rest.starts_with("<!") {
            skip_to(start, ">")
        } else if rest.starts_with("</") {
            depth = depth.saturating_sub(1);
            skip_to(start, ">")
        } else if rest
            .chars()
            .nth(1)
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
        {
            // A start tag: find its '>' outside quoted attribute values.
            let mut quote = None;
            let mut end = bytes.len();
            let mut k = start.saturating_add(1);
            while let Some(&b) = bytes.get(k) {
                match (quote, b) {
                    (None, b'"' | b'\'') => quote = Some(b),
                    (Some(q), _) if q == b => quote = None,
                    (None, b'>') => {
                        end = k;
                        break;
                    }
                    _ => {}
                }
                k = k.saturating_add(1);
            }
            let self_closing = end > 0 && bytes.get(end - 1) == Some(&b'/');
            if !self_closing {
                depth = depth.saturating_add(1);
                if depth > MAX_DEPTH {
                    return Some(start);
                }
            }
            end.saturating_add(1)
        } else {
            start.saturating_add(1)
        };
    }
    None
}

/// Why a number was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NumError {
    /// Not a number of the expected form at all.
    Garbage,
    /// Below zero where only non-negative values make sense.
    Negative,
    /// Does not fit (or, for seconds, is longer than `u64` nanoseconds).
    TooLarge,
    /// Seconds that are not a whole number of nanoseconds.
    NotWholeNs,
}

/// Splits an optional leading `+` or `-`; returns (negative, rest).
fn sign(s: &str) -> (bool, &str) {
    if let Some(rest) = s.strip_prefix('-') {
        (true, rest)
    } else {
        (false, s.strip_prefix('+').unwrap_or(s))
    }
}

/// The magnitude of a `DecOrHexValueType` without its sign: decimal digits, or `0x` and hex
/// digits.
fn magnitude(s: &str) -> Result<u64, NumError> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(NumError::Garbage);
    }
    u64::from_str_radix(digits, radix).map_err(|_| NumError::TooLarge)
}

/// A non-negative `DecOrHexValueType` (`-0` is zero).
pub(super) fn parse_uint(s: &str) -> Result<u64, NumError> {
    let (negative, rest) = sign(s.trim());
    let value = magnitude(rest)?;
    if negative && value != 0 {
        return Err(NumError::Negative);
    }
    Ok(value)
}

/// A signed `IdentifierValueType`.
pub(super) fn parse_ident(s: &str) -> Result<i64, NumError> {
    let (negative, rest) = sign(s.trim());
    let value = magnitude(rest)?;
    if negative {
        0i64.checked_sub_unsigned(value).ok_or(NumError::TooLarge)
    } else {
        i64::try_from(value).map_err(|_| NumError::TooLarge)
    }
}

/// Seconds written as an `xs:float` (`0.020`, `20E-3`, `.5`, `5.`), as exact nanoseconds.
pub(super) fn parse_seconds(s: &str) -> Result<u64, NumError> {
    let (negative, rest) = sign(s.trim());
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (
            rest.get(..i).unwrap_or(""),
            Some(rest.get(i + 1..).unwrap_or("")),
        ),
        None => (rest, None),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + frac.len() == 0 || !all_digits(whole) || !all_digits(frac) {
        return Err(NumError::Garbage);
    }
    let digits = format!("{whole}{frac}");
    let digits = digits.trim_start_matches('0');
    let zero = digits.is_empty();
    // The exponent: absurd magnitudes only matter through their sign.
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let (neg, e) = sign(e);
            if e.is_empty() || !all_digits(e) {
                return Err(NumError::Garbage);
            }
            let e = e.trim_start_matches('0');
            let big = e.len() > 6;
            let value: i64 = if big {
                1_000_000
            } else {
                e.parse().unwrap_or(0)
            };
            if neg { -value } else { value }
        }
    };
    if zero {
        return Ok(0);
    }
    if negative {
        return Err(NumError::Negative);
    }
    let frac_len = i64::try_from(frac.len()).map_err(|_| NumError::NotWholeNs)?;
    // value = digits × 10^scale nanoseconds.
    let scale = exponent
        .checked_add(9)
        .and_then(|s| s.checked_sub(frac_len))
        .ok_or(NumError::NotWholeNs)?;
    let (digits, scale) = if scale < 0 {
        let drop = usize::try_from(scale.unsigned_abs()).map_err(|_| NumError::NotWholeNs)?;
        let kept = digits.len().checked_sub(drop).ok_or(NumError::NotWholeNs)?;
        let (head, tail) = digits.split_at(kept);
        if head.is_empty() || tail.bytes().any(|b| b != b'0') {
            return Err(NumError::NotWholeNs);
        }
        (head, 0u32)
    } else {
        (
            digits,
            u32::try_from(scale).map_err(|_| NumError::TooLarge)?,
        )
    };
    if digits.len() > 20 || scale > 20 {
        return Err(NumError::TooLarge);
    }
    let value: u128 = digits.parse().map_err(|_| NumError::TooLarge)?;
    let value = 10u128
        .checked_pow(scale)
        .and_then(|p| value.checked_mul(p))
        .ok_or(NumError::TooLarge)?;
    u64::try_from(value).map_err(|_| NumError::TooLarge)
}

/// `xs:boolean`, without case.
pub(super) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Diagnostics and notes of one import, with the text positions are computed from.
pub(super) struct Cx<'t> {
    pub file: &'t str,
    pub text: &'t str,
    pub diags: Vec<Diagnostic>,
    pub notes: Vec<String>,
    /// Elements skipped as unknown or not mapped: `<Name>` → how many.
    pub ignored: BTreeMap<String, usize>,
}

impl<'t> Cx<'t> {
    pub fn new(file: &'t str, text: &'t str) -> Self {
        Cx {
            file,
            text,
            diags: Vec::new(),
            notes: Vec::new(),
            ignored: BTreeMap::new(),
        }
    }

    /// Records that `node` (and everything in it) is not imported.
    pub fn ignore(&mut self, node: Node<'_, '_>) {
        let n = self.ignored.entry(tag(node)).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// Where byte `offset` is.
    pub fn pos_of(&self, offset: usize) -> Position {
        Position::of_offset(self.text, offset)
    }

    /// Where `node` starts.
    pub fn pos(&self, node: Node<'_, '_>) -> Position {
        Position::of_offset(self.text, node.range().start)
    }

    /// Where the value of `attr` starts.
    pub fn attr_pos(&self, attr: &Attribute<'_, '_>) -> Position {
        Position::of_offset(self.text, attr.range_value().start)
    }

    /// The line `node` starts on (for "first at line N" messages).
    pub fn line(&self, node: Node<'_, '_>) -> usize {
        self.pos(node).line
    }

    pub fn error(&mut self, rule: Rule, at: Position, message: String, help: String) {
        self.diags
            .push(Diagnostic::new(rule, self.file, message, help).at(at));
    }

    pub fn invalid(&mut self, at: Position, message: String, help: impl Into<String>) {
        self.error(Rule::XmlInvalid, at, message, help.into());
    }

    pub fn unmappable(&mut self, at: Position, message: String, help: impl Into<String>) {
        self.error(Rule::XmlUnmappable, at, message, help.into());
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// The attribute of `node` called one of `names` (compared by [`norm`]); an attribute
    /// given twice under two spellings is an error.
    pub fn attr<'a, 'i>(
        &mut self,
        node: Node<'a, 'i>,
        names: &[&str],
    ) -> Option<Attribute<'a, 'i>> {
        let wanted: Vec<String> = names.iter().map(|n| norm(n)).collect();
        let mut found = node
            .attributes()
            .filter(|a| wanted.contains(&norm(a.name())));
        let first = found.next()?;
        if let Some(second) = found.next() {
            let at = self.attr_pos(&second);
            self.invalid(
                at,
                format!(
                    "{} gives {} twice (as {} and {})",
                    tag(node),
                    names.first().copied().unwrap_or(""),
                    first.name(),
                    second.name()
                ),
                "keep one of the two attributes",
            );
        }
        Some(first)
    }

    /// Like [`Cx::attr`], reporting a missing attribute.
    pub fn required<'a, 'i>(
        &mut self,
        node: Node<'a, 'i>,
        names: &[&str],
        help: &str,
    ) -> Option<Attribute<'a, 'i>> {
        let found = self.attr(node, names);
        if found.is_none() {
            let at = self.pos(node);
            let name = names.first().copied().unwrap_or("");
            self.invalid(
                at,
                format!("{} has no {name} attribute", tag(node)),
                format!("add {name}=\"...\": {help}"),
            );
        }
        found
    }

    /// The text of the attribute called one of `names`, trimmed, if present.
    pub fn text_attr(&mut self, node: Node<'_, '_>, names: &[&str]) -> Option<String> {
        self.attr(node, names).map(|a| a.value().trim().to_owned())
    }

    /// A non-negative integer at most `i64::MAX` (the largest a TOML integer holds).
    pub fn uint(&mut self, attr: &Attribute<'_, '_>) -> Option<u64> {
        let result = parse_uint(attr.value()).and_then(|v| {
            if i64::try_from(v).is_ok() {
                Ok(v)
            } else {
                Err(NumError::TooLarge)
            }
        });
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad_number(
                    attr,
                    e,
                    "a non-negative decimal or 0x-prefixed hexadecimal integer",
                    "a number",
                );
                None
            }
        }
    }

    /// An identifier (`PartitionIdentifier`, `SystemState`, ...).
    pub fn ident(&mut self, attr: &Attribute<'_, '_>) -> Option<i64> {
        match parse_ident(attr.value()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad_number(
                    attr,
                    e,
                    "a decimal or 0x-prefixed hexadecimal integer",
                    "an identifier",
                );
                None
            }
        }
    }

    /// A time in seconds, as nanoseconds.
    pub fn seconds(&mut self, attr: &Attribute<'_, '_>) -> Option<u64> {
        match parse_seconds(attr.value()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad_number(
                    attr,
                    e,
                    "a decimal number of seconds such as \"0.02\" or \"20E-3\"",
                    "a number of seconds",
                );
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, attr: &Attribute<'_, '_>) -> Option<bool> {
        let value = parse_bool(attr.value());
        if value.is_none() {
            let at = self.attr_pos(attr);
            self.invalid(
                at,
                format!("{} {} is not a boolean", attr.name(), shown(attr.value())),
                "write \"true\" or \"false\"",
            );
        }
        value
    }

    fn bad_number(&mut self, attr: &Attribute<'_, '_>, e: NumError, form: &str, what: &str) {
        let at = self.attr_pos(attr);
        let (name, value) = (attr.name(), shown(attr.value()));
        let (message, help) = match e {
            NumError::Garbage => (
                format!("{name} {value} is not {what}"),
                format!("write {form}"),
            ),
            NumError::Negative => (
                format!("{name} {value} is negative"),
                format!("write {form}"),
            ),
            NumError::TooLarge => (
                format!("{name} {value} is too large"),
                "write a smaller value".to_owned(),
            ),
            NumError::NotWholeNs => (
                format!("{name} {value} is not a whole number of nanoseconds"),
                "round the time to whole nanoseconds".to_owned(),
            ),
        };
        self.error(Rule::XmlInvalid, at, message, help);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_uint("4096"), Ok(4096));
        assert_eq!(parse_uint(" +0x1000 "), Ok(0x1000));
        assert_eq!(parse_uint("0X1f"), Ok(31));
        assert_eq!(parse_uint("-0"), Ok(0));
        assert_eq!(parse_uint("-1"), Err(NumError::Negative));
        assert_eq!(parse_uint("0x"), Err(NumError::Garbage));
        assert_eq!(parse_uint("1e3"), Err(NumError::Garbage));
        assert_eq!(parse_uint("++1"), Err(NumError::Garbage));
        assert_eq!(parse_uint("18446744073709551616"), Err(NumError::TooLarge));
        assert_eq!(parse_ident("-0x10"), Ok(-16));
        assert_eq!(parse_ident("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_ident("9223372036854775808"), Err(NumError::TooLarge));
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(parse_seconds("0.020"), Ok(20_000_000));
        assert_eq!(parse_seconds("20E-3"), Ok(20_000_000));
        assert_eq!(parse_seconds("2e-2"), Ok(20_000_000));
        assert_eq!(parse_seconds(".5"), Ok(500_000_000));
        assert_eq!(parse_seconds("5."), Ok(5_000_000_000));
        assert_eq!(parse_seconds("+1"), Ok(1_000_000_000));
        assert_eq!(parse_seconds("0.000000001"), Ok(1));
        assert_eq!(parse_seconds("1.0000000000E-9"), Ok(1));
        assert_eq!(parse_seconds("0.0000000015"), Err(NumError::NotWholeNs));
        assert_eq!(parse_seconds("1E-10"), Err(NumError::NotWholeNs));
        assert_eq!(parse_seconds("-0.0"), Ok(0));
        assert_eq!(parse_seconds("0E99999999999"), Ok(0));
        assert_eq!(parse_seconds("-1"), Err(NumError::Negative));
        assert_eq!(parse_seconds("1E99999999999"), Err(NumError::TooLarge));
        assert_eq!(parse_seconds("1E-99999999999"), Err(NumError::NotWholeNs));
        assert_eq!(parse_seconds("18446744073.709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_seconds("18446744073.709551616"),
            Err(NumError::TooLarge)
        );
        for bad in [
            "", ".", "e3", "1e", "1e+", "INF", "NaN", "1.2.3", "0x10", "1 ms",
        ] {
            assert_eq!(parse_seconds(bad), Err(NumError::Garbage), "{bad:?}");
        }
    }

    #[test]
    fn nesting_depth() {
        let nest =
            |n: usize, inner: &str| format!("{}{inner}{}", "<a x='>'>".repeat(n), "</a>".repeat(n));
        assert_eq!(
            too_deep(&nest(
                MAX_DEPTH,
                "<b/><!-- <c><c><c> --><![CDATA[<d>]]><?pi <e>?>"
            )),
            None
        );
        let deep = nest(MAX_DEPTH + 1, "");
        assert_eq!(too_deep(&deep), Some(MAX_DEPTH * 9));
        // Siblings do not add up; text with '<' that starts no tag is skipped.
        assert_eq!(too_deep(&"<a></a>".repeat(1000)), None);
        assert_eq!(too_deep(&"< < <".repeat(1000)), None);
        assert_eq!(too_deep("<a attr=\"unterminated"), None);
    }

    #[test]
    fn names_compare_loosely() {
        assert_eq!(norm("Partition_HM_Table"), norm("PartitionHMTable"));
        assert_eq!(norm("Queuing-Port"), "queuingport");
        assert_eq!(parse_bool("False"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
