//! Reading ARINC 653 XML values: liberal element and attribute matching, exact numbers, and
//! the diagnostics and notes an import collects.
//!
//! Element and attribute names are compared without case, `_` or `-` and whatever namespace
//! prefix they carry, so `a653:Partition_HM_Table` and `PartitionHMTable` are the same
//! element. Numbers follow the schema's `DecOrHexValueType` (`12`, `+12`, `0x1F`) and
//! `xs:float` seconds (`0.020`, `20E-3`, `.5`), converted exactly: never through `f64`.
//! Files are decoded from the encodings XML allows that configurations are written in
//! ([`decode`]), and every piece of XML text a message repeats is bounded ([`shown`]).

use std::collections::{BTreeMap, BTreeSet};

use roxmltree::{Attribute, Node};

use crate::diag::{Diagnostic, Position, Rule};

/// `s` without case, `_`, `-` or white space: the form names are compared in.
pub(super) fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_' && *c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// How many characters of a piece of XML text (a name, a value) a message repeats.
const MAX_SHOWN: usize = 40;

/// `value` cut to [`MAX_SHOWN`] characters for a message, so hostile input cannot flood the
/// output: a cut value ends in `…` and says how long it was, `Name… (1048576 bytes)`.
pub(super) fn bounded(value: &str) -> String {
    bounded_to(value, MAX_SHOWN)
}

/// `value` cut to `max` characters like [`bounded`] (for text longer than a name, such as the
/// XML parser's messages).
pub(super) fn bounded_to(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        None => value.to_owned(),
        Some((cut, _)) => format!(
            "{}… ({} bytes)",
            value.get(..cut).unwrap_or(""),
            value.len()
        ),
    }
}

/// `value` quoted for a message, cut like [`bounded`]: `"ctrl"`, `"aaaa"… (1048576 bytes)`.
pub(super) fn shown(value: &str) -> String {
    match value.char_indices().nth(MAX_SHOWN) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!(
            "{:?}… ({} bytes)",
            value.get(..cut).unwrap_or(""),
            value.len()
        ),
    }
}

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

/// `items` joined for a message that may be repeated once per error: the first ten, then
/// how many there are in all, so a help text stays short however large the module.
pub(super) fn some_of(items: &[String]) -> String {
    const SHOWN: usize = 10;
    match items.get(..SHOWN).filter(|_| items.len() > SHOWN) {
        Some(first) => format!("{}, … ({} in all)", first.join(", "), items.len()),
        None => items.join(", "),
    }
}

/// `<Name>`, as written (without its namespace prefix), cut like [`bounded`].
pub(super) fn tag(node: Node<'_, '_>) -> String {
    format!("<{}>", bounded(node.tag_name().name()))
}

/// The value of the attribute of `node` called one of `names`, without recording it as read
/// (for looking at what the import does not read, e.g. a schedule it drops).
pub(super) fn peek<'a>(node: Node<'a, '_>, names: &[&str]) -> Option<&'a str> {
    let wanted: Vec<String> = names.iter().map(|n| norm(n)).collect();
    node.attributes()
        .find(|a| wanted.contains(&norm(a.name())))
        .map(|a| a.value())
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
///
/// It also keeps account of what the import read, so that nothing is lost silently: every
/// attribute of an element the import reads is either consulted through [`Cx::attr`] (and then
/// imported, noted or refused where it is read) or listed by [`Cx::note_unread_attributes`].
pub(super) struct Cx<'t> {
    pub file: &'t str,
    pub text: &'t str,
    pub diags: Vec<Diagnostic>,
    pub notes: Vec<String>,
    /// Elements skipped as unknown or not mapped: `<Name>` → how many.
    pub ignored: BTreeMap<String, usize>,
    /// Attributes the import consulted, by the byte offset where they start.
    consulted: BTreeSet<usize>,
    /// Elements the import read although it consulted none of their attributes (containers
    /// such as `<Connection_Table>`), by start offset.
    visited: BTreeSet<usize>,
    /// Elements left out whole, with a note of their own (ignored elements, the module
    /// schedules not imported, dropped channels), by start offset.
    skipped: BTreeSet<usize>,
}

impl<'t> Cx<'t> {
    pub fn new(file: &'t str, text: &'t str) -> Self {
        Cx {
            file,
            text,
            diags: Vec::new(),
            notes: Vec::new(),
            ignored: BTreeMap::new(),
            consulted: BTreeSet::new(),
            visited: BTreeSet::new(),
            skipped: BTreeSet::new(),
        }
    }

    /// Records that `node` (and everything in it) is not imported.
    pub fn ignore(&mut self, node: Node<'_, '_>) {
        let n = self.ignored.entry(tag(node)).or_insert(0);
        *n = n.saturating_add(1);
        self.skip(node);
    }

    /// Records that `node` is read, so its attributes are accounted for even if none is
    /// consulted.
    pub fn visit(&mut self, node: Node<'_, '_>) {
        self.visited.insert(node.range().start);
    }

    /// Records that `node` and everything in it is left out, under a note of its own.
    pub fn skip(&mut self, node: Node<'_, '_>) {
        self.skipped.insert(node.range().start);
    }

    /// Notes the attributes of the elements the import read that it never consulted
    /// (implementation extensions, free-text descriptions, attributes in the wrong place), so
    /// that none is dropped silently. Elements the import left out whole are noted elsewhere;
    /// `xsi:` and `xml:` attributes are about the file, not the module.
    pub fn note_unread_attributes(&mut self, root: Node<'_, '_>) {
        const ABOUT_THE_FILE: &[&str] = &[
            "http://www.w3.org/2001/XMLSchema-instance",
            "http://www.w3.org/XML/1998/namespace",
        ];
        let mut unread: BTreeMap<String, usize> = BTreeMap::new();
        let mut stack = vec![root];
        while let Some(e) = stack.pop() {
            if self.skipped.contains(&e.range().start) {
                continue;
            }
            let read = self.visited.contains(&e.range().start)
                || e.attributes()
                    .any(|a| self.consulted.contains(&a.range().start));
            if read {
                for a in e.attributes() {
                    if self.consulted.contains(&a.range().start)
                        || a.namespace().is_some_and(|ns| ABOUT_THE_FILE.contains(&ns))
                    {
                        continue;
                    }
                    let n = unread
                        .entry(format!("{} on {}", bounded(a.name()), tag(e)))
                        .or_insert(0);
                    *n = n.saturating_add(1);
                }
            }
            // Children in reverse, so they are visited in document order.
            let children: Vec<_> = elements(e).collect();
            stack.extend(children.into_iter().rev());
        }
        if !unread.is_empty() {
            let list: Vec<String> = unread
                .into_iter()
                .map(|(what, n)| {
                    if n == 1 {
                        what
                    } else {
                        format!("{what} ×{n}")
                    }
                })
                .collect();
            self.note(format!(
                "attributes with no pkernel equivalent (free-text descriptions, implementation extensions, ...) are ignored: {}",
                list.join(", ")
            ));
        }
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
        let found: Vec<Attribute<'a, 'i>> = node
            .attributes()
            .filter(|a| wanted.contains(&norm(a.name())))
            .collect();
        for a in &found {
            self.consulted.insert(a.range().start);
        }
        let first = *found.first()?;
        if let Some(second) = found.get(1) {
            let at = self.attr_pos(second);
            self.invalid(
                at,
                format!(
                    "{} gives {} twice (as {} and {})",
                    tag(node),
                    names.first().copied().unwrap_or(""),
                    bounded(first.name()),
                    bounded(second.name())
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
                format!(
                    "{} {} is not a boolean",
                    bounded(attr.name()),
                    shown(attr.value())
                ),
                "write \"true\" or \"false\"",
            );
        }
        value
    }

    fn bad_number(&mut self, attr: &Attribute<'_, '_>, e: NumError, form: &str, what: &str) {
        let at = self.attr_pos(attr);
        let (name, value) = (bounded(attr.name()), shown(attr.value()));
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

/// The encodings [`decode`] reads, besides UTF-8 and UTF-16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EightBit {
    Latin1,
    Ascii,
    Windows1252,
}

/// What bytes 0x80 to 0x9F are in windows-1252 (the five it leaves undefined read as in
/// ISO-8859-1, as browsers do).
const WINDOWS_1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

/// The encoding named in the XML declaration at the start of `bytes`, with the byte offset of
/// the name; `None` without a declaration or without an encoding in it.
fn declared_encoding(bytes: &[u8]) -> Option<(String, usize)> {
    let declaration = bytes.strip_prefix(b"<?xml")?;
    let end = declaration.windows(2).position(|w| w == b"?>")?;
    let declaration = declaration.get(..end)?;
    let key = declaration.windows(8).position(|w| w == b"encoding")?;
    let mut i = key.saturating_add(8);
    let skip_space = |i: &mut usize| {
        while declaration.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i = i.saturating_add(1);
        }
    };
    skip_space(&mut i);
    if declaration.get(i) != Some(&b'=') {
        return None;
    }
    i = i.saturating_add(1);
    skip_space(&mut i);
    let quote = *declaration.get(i).filter(|q| **q == b'"' || **q == b'\'')?;
    let start = i.saturating_add(1);
    let len = declaration.get(start..)?.iter().position(|b| *b == quote)?;
    let name = declaration.get(start..start.saturating_add(len))?;
    // `<?xml` was 5 bytes before `declaration`.
    Some((
        String::from_utf8_lossy(name).into_owned(),
        start.saturating_add(5),
    ))
}

/// The text of an XML file from its bytes, as the XML specification lets it be written:
/// UTF-8 (with or without a byte order mark); UTF-16 with a byte order mark, or without one
/// when it starts with `<?`; or the 8-bit encoding its XML declaration names: ISO-8859-1 (and
/// its aliases), US-ASCII or windows-1252. Anything else is refused naming the encoding;
/// bytes that are not text in the encoding are refused with their position. `file` names the
/// file in errors.
pub(super) fn decode(file: &str, bytes: &[u8]) -> Result<String, Diagnostic> {
    let unsupported = |what: String, at: Option<Position>| {
        let d = Diagnostic::new(
            Rule::ConfigUnreadable,
            file,
            format!("the file is in {what}, which the importer does not read"),
            "save the file as UTF-8 (UTF-16 and ISO-8859-1 are read too) and declare that encoding in its first line",
        );
        match at {
            Some(p) => d.at(p),
            None => d,
        }
    };
    if bytes.starts_with(&[0, 0, 0xFE, 0xFF]) || bytes.starts_with(&[0xFF, 0xFE, 0, 0]) {
        return Err(unsupported(
            "UTF-32 (by its byte order mark)".to_owned(),
            None,
        ));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return utf8(file, rest, "its byte order mark says UTF-8");
    }
    for (bom, little) in [([0xFF, 0xFE], true), ([0xFE, 0xFF], false)] {
        if let Some(rest) = bytes.strip_prefix(&bom) {
            return utf16(file, rest, little);
        }
    }
    // UTF-16 without a byte order mark, recognised by its first characters, `<?`.
    if bytes.starts_with(&[b'<', 0, b'?', 0]) {
        return utf16(file, bytes, true);
    }
    if bytes.starts_with(&[0, b'<', 0, b'?']) {
        return utf16(file, bytes, false);
    }
    let Some((name, at)) = declared_encoding(bytes) else {
        return utf8(
            file,
            bytes,
            "an XML file without an encoding declaration is UTF-8",
        );
    };
    let at = Position::of_offset(&String::from_utf8_lossy(bytes.get(..at).unwrap_or(&[])), at);
    let key: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect();
    let eight_bit = match key.as_str() {
        "utf8" => return utf8(file, bytes, "its XML declaration says UTF-8"),
        "iso88591" | "latin1" | "l1" | "isoir100" | "cp819" | "ibm819" | "csisolatin1" => {
            EightBit::Latin1
        }
        "usascii" | "ascii" | "iso646us" | "csascii" => EightBit::Ascii,
        "windows1252" | "cp1252" | "xcp1252" => EightBit::Windows1252,
        "utf16" | "utf16le" | "utf16be" | "ucs2" => {
            return Err(Diagnostic::new(
                Rule::XmlSyntax,
                file,
                format!(
                    "the XML declaration says {}, but the file is not UTF-16: it has no byte order mark and the declaration itself is 8-bit text",
                    shown(&name)
                ),
                "correct the encoding in the declaration (UTF-8 if the file was converted), or save the file as UTF-16 with a byte order mark",
            )
            .at(at));
        }
        _ => {
            return Err(unsupported(
                format!("encoding {}, as its XML declaration says", shown(&name)),
                Some(at),
            ));
        }
    };
    let mut text = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let c = match (eight_bit, b) {
            (_, 0..=0x7F) => char::from(b),
            (EightBit::Ascii, _) => {
                let before = String::from_utf8_lossy(bytes.get(..i).unwrap_or(&[])).into_owned();
                return Err(Diagnostic::new(
                    Rule::XmlSyntax,
                    file,
                    format!(
                        "byte 0x{b:02X} is not US-ASCII, the encoding the XML declaration names"
                    ),
                    "correct the encoding in the XML declaration (ISO-8859-1 or UTF-8, as the file was written)",
                )
                .at(Position::of_offset(&before, before.len())));
            }
            (EightBit::Windows1252, 0x80..=0x9F) => WINDOWS_1252_HIGH
                .get(usize::from(b - 0x80))
                .copied()
                .unwrap_or(char::REPLACEMENT_CHARACTER),
            _ => char::from(b),
        };
        text.push(c);
    }
    Ok(text)
}

/// `bytes` as UTF-8; `why` says why the file is taken to be UTF-8.
fn utf8(file: &str, bytes: &[u8], why: &str) -> Result<String, Diagnostic> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let valid = e.valid_up_to();
            let before = std::str::from_utf8(bytes.get(..valid).unwrap_or(&[])).unwrap_or("");
            let byte = bytes.get(valid).copied().unwrap_or(0);
            Err(Diagnostic::new(
                Rule::XmlSyntax,
                file,
                format!("byte 0x{byte:02X} is not UTF-8 text ({why})"),
                "declare the file's real encoding in its first line, e.g. <?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>, or save it as UTF-8",
            )
            .at(Position::of_offset(before, before.len())))
        }
    }
}

/// `bytes` (after any byte order mark) as UTF-16, little- or big-endian.
fn utf16(file: &str, bytes: &[u8], little: bool) -> Result<String, Diagnostic> {
    let units = bytes.chunks(2).map(|pair| match *pair {
        [a, b] if little => Ok(u16::from_le_bytes([a, b])),
        [a, b] => Ok(u16::from_be_bytes([a, b])),
        _ => Err(()),
    });
    let mut text = String::with_capacity(bytes.len() / 2);
    let mut pending = Vec::new();
    for unit in units {
        match unit {
            Ok(u) => pending.push(u),
            Err(()) => {
                return Err(Diagnostic::new(
                    Rule::XmlSyntax,
                    file,
                    "the file ends in the middle of a UTF-16 character (it has an odd number of bytes)",
                    "check that the file was copied whole, or save it again as UTF-8",
                )
                .at(Position::of_offset(&text, text.len())));
            }
        }
        // Decode as soon as a unit completes a character, so an error points where it is.
        if pending.len() == 1
            && pending
                .first()
                .is_some_and(|u| (0xD800..0xDC00).contains(u))
        {
            continue;
        }
        for c in char::decode_utf16(pending.drain(..)) {
            match c {
                Ok(c) => text.push(c),
                Err(e) => {
                    return Err(Diagnostic::new(
                        Rule::XmlSyntax,
                        file,
                        format!(
                            "the UTF-16 code unit 0x{:04X} here is half a character with no other half",
                            e.unpaired_surrogate()
                        ),
                        "fix or remove the broken character, or save the file again as UTF-8",
                    )
                    .at(Position::of_offset(&text, text.len())));
                }
            }
        }
    }
    if let Some(u) = pending.first() {
        return Err(Diagnostic::new(
            Rule::XmlSyntax,
            file,
            format!("the file ends with the UTF-16 code unit 0x{u:04X}, half a character"),
            "check that the file was copied whole, or save it again as UTF-8",
        )
        .at(Position::of_offset(&text, text.len())));
    }
    Ok(text)
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

    #[test]
    fn encodings_are_decoded() {
        let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><a n='\xe9'/>";
        assert_eq!(
            decode("f", latin1).unwrap(),
            "<?xml version='1.0' encoding='ISO-8859-1'?><a n='\u{e9}'/>"
        );
        let cp1252 = b"<?xml version=\"1.0\" encoding = \"windows-1252\"?><a n='\x80'/>";
        assert!(decode("f", cp1252).unwrap().ends_with("<a n='\u{20ac}'/>"));
        let text = "<?xml version='1.0' encoding='UTF-16'?><a n='\u{e9}\u{1F600}'/>";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let bare: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        for bytes in [&le, &be, &bare] {
            assert_eq!(decode("f", bytes).unwrap(), text);
        }
        assert_eq!(decode("f", b"\xEF\xBB\xBF<a/>").unwrap(), "<a/>");
        assert_eq!(
            declared_encoding(b"<?xml version='1.0'?><a encoding='x'/>"),
            None
        );
        assert_eq!(
            declared_encoding(b"<?xml encoding='latin1'?>"),
            Some(("latin1".to_owned(), 16))
        );
    }

    #[test]
    fn undecodable_files_are_refused_with_a_position() {
        let e = decode("f", b"<a>\n<b n='\xe9'/></a>").unwrap_err();
        assert_eq!(
            (e.rule, e.position),
            (Rule::XmlSyntax, Some(Position { line: 2, column: 7 }))
        );
        let e = decode("f", b"<?xml version='1.0' encoding='EBCDIC-US'?><a/>").unwrap_err();
        assert_eq!(e.rule, Rule::ConfigUnreadable);
        assert!(e.message.contains("\"EBCDIC-US\""), "{}", e.message);
        assert_eq!(
            e.position,
            Some(Position {
                line: 1,
                column: 31
            })
        );
        let e = decode(
            "f",
            b"<?xml version='1.0' encoding='US-ASCII'?><a n='\xe9'/>",
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("byte 0xE9 is not US-ASCII"),
            "{}",
            e.message
        );
        let e = decode("f", b"<?xml version='1.0' encoding='UTF-16'?><a/>").unwrap_err();
        assert_eq!(e.rule, Rule::XmlSyntax);
        assert!(decode("f", &[0xFF, 0xFE, b'<', 0, b'a']).is_err());
        assert!(decode("f", &[0xFF, 0xFE, b'<', 0, 0x00, 0xDC]).is_err());
        assert!(decode("f", &[0xFF, 0xFE, b'<', 0, 0x00, 0xD8]).is_err());
        assert!(decode("f", &[0xFF, 0xFE, 0x00, 0xD8, b'<', 0]).is_err());
        assert!(decode("f", &[0, 0, 0xFE, 0xFF]).is_err());
        // Never a panic, whatever the bytes.
        for bytes in [
            &b"<?xml"[..],
            b"<?xml encoding",
            b"<?xml encoding=",
            b"<?xml encoding='",
            b"<?xml?>",
            b"",
            &[0xFE],
            &[0xFF],
        ] {
            let _ = decode("f", bytes);
        }
    }

    #[test]
    fn echoed_text_is_bounded() {
        assert_eq!(shown("ctrl"), "\"ctrl\"");
        assert_eq!(shown(&"a".repeat(40)), format!("{:?}", "a".repeat(40)));
        assert_eq!(
            shown(&"é".repeat(41)),
            format!("{:?}… (82 bytes)", "é".repeat(40))
        );
        assert_eq!(
            bounded(&"x".repeat(1 << 20)),
            format!("{}… (1048576 bytes)", "x".repeat(40))
        );
    }
}
