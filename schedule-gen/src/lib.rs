//! schedule-gen: reads a pkernel system configuration, checks it, and generates the kernel's tables.
//!
//! Configuration flows through layers, each with one job:
//! [`config`] parses the TOML (unknown keys rejected, spans kept) → [`validate`] checks every
//! whole-system rule and reports all failures at once, each as one named [`Rule`] pointing at
//! `file:line:col` → [`image`] checks each partition's ELF against its memory map (and
//! [`linux`] places a Linux partition's kernel, initramfs and generated device tree) →
//! [`codegen`] writes `system_tables.rs`, plain data the kernel compiles in, including the
//! [`table_pages`] bound that sizes the pages the kernel image reserves for its translation
//! tables, and each partition's [`info_page`] → once the kernel is linked, [`translation`]
//! builds those tables (each partition's information page mapped in) and writes them in.
//!
//! Nothing here panics on bad input: a configuration or image is untrusted until checked.
//! No `unsafe` except in [`translation`], where aarch64-paging's table allocator interface
//! deals in raw page pointers.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod codegen;
pub mod config;
pub mod diag;
pub mod duration;
pub mod image;
pub mod import;
pub mod info_page;
pub mod linux;
pub mod model;
pub mod report;
pub mod table_pages;
pub mod trace;
#[allow(unsafe_code)]
pub mod translation;
pub mod validate;

use std::path::Path;

pub use codegen::{PartitionPayload, generate_kernel_tables, generate_system};
pub use diag::{Diagnostic, Diagnostics, Position, Rule};
pub use model::{
    Access, HmError, ImageSource, LinuxImage, LinuxSource, LoadedConfig, MemoryRegion,
    PartitionConfig, PartitionKind,
};

use config::RawConfig;

/// Reads, parses and validates the configuration at `path`, reporting every error found.
/// Relative ELF paths in it are resolved against the file's directory.
pub fn load(path: &Path) -> Result<LoadedConfig, Diagnostics> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::new(
            Rule::ConfigUnreadable,
            &file,
            format!("cannot read the configuration: {e}"),
            "check the path of the configuration file",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
        Diagnostic::new(
            Rule::TomlSyntax,
            &file,
            "the configuration is not valid UTF-8",
            "save the file as UTF-8",
        )
        .at(Position::of_offset(&prefix, valid))
    })?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    load_text(file, path, text, base_dir)
}

/// Like [`load`] for text already in memory: `name` is used in messages (and, by its file
/// name, in generated files); relative ELF paths are resolved against `base_dir`.
pub fn load_str(name: &str, text: &str, base_dir: &Path) -> Result<LoadedConfig, Diagnostics> {
    load_text(
        name.to_owned(),
        &base_dir.join(name),
        text.to_owned(),
        base_dir,
    )
}

/// `message` from the TOML reader with the Rust types it names (`expected u64`, `integer
/// `99…` as i128`) said in words: the reader of the message writes TOML, not Rust.
fn without_rust_types(message: &str) -> String {
    const TYPES: &[(&str, &str)] = &[
        ("i128", "an integer"),
        ("i64", "an integer"),
        ("i32", "an integer"),
        ("i16", "an integer"),
        ("i8", "an integer"),
        ("isize", "an integer"),
        ("u128", "a non-negative integer"),
        ("u64", "a non-negative integer"),
        ("u32", "a non-negative integer"),
        ("u16", "a non-negative integer"),
        ("u8", "a non-negative integer"),
        ("usize", "a non-negative integer"),
        ("f64", "a number"),
        ("f32", "a number"),
    ];
    // `as i128` marks an integer too large for a 64-bit TOML integer.
    let mut out = message
        .replace(" as i128,", " is too large,")
        .replace(" as u128,", " is too large,");
    if out != message {
        out = out.replacen("invalid type: ", "invalid value: ", 1);
    }
    for (ty, words) in TYPES {
        let needle = format!("expected {ty}");
        let mut from = 0;
        while let Some(found) = out.get(from..).and_then(|rest| rest.find(&needle)) {
            let start = from + found;
            let end = start + needle.len();
            if out
                .get(end..)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphanumeric()))
            {
                from = end;
                continue;
            }
            let plain = format!("expected {words}");
            out.replace_range(start..end, &plain);
            from = start + plain.len();
        }
    }
    out
}

fn load_text(
    file: String,
    path: &Path,
    text: String,
    base_dir: &Path,
) -> Result<LoadedConfig, Diagnostics> {
    let toml_error = |e: toml::de::Error, syntax: bool| {
        let message = without_rust_types(&e.message().trim().replace('\n', " "));
        let (rule, help) = if syntax {
            (Rule::TomlSyntax, "fix the TOML syntax here")
        } else if message.starts_with("unknown field") {
            (
                Rule::UnknownField,
                "remove or rename the key; the keys this table accepts are listed above",
            )
        } else if message.starts_with("missing field") {
            (Rule::InvalidValue, "add the missing key to this table")
        } else {
            (
                Rule::InvalidValue,
                "change the value to what the message expects",
            )
        };
        let mut d = Diagnostic::new(rule, &file, message, help);
        if let Some(span) = e.span() {
            // A syntax error is exactly where the parser stopped; a table's span may start
            // before its header.
            let pos = if syntax {
                Position::of_offset(&text, span.start)
            } else {
                Position::of_span(&text, span.start)
            };
            d = d.at(pos);
        }
        Diagnostics::from(d)
    };
    let de = toml::de::Deserializer::parse(&text).map_err(|e| toml_error(e, true))?;
    let raw =
        <RawConfig as serde::Deserialize>::deserialize(de).map_err(|e| toml_error(e, false))?;
    let v = validate::validate(&file, &text, &raw, base_dir).map_err(Diagnostics::new)?;
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        text,
        module_name: v.module_name,
        board: v.board,
        core_count: v.core_count,
        counter_hz: v.counter_hz,
        shared_memory: v.shared_memory,
        partitions: v.partitions,
        schedules: v.schedules,
        channels: v.channels,
        module_hm: v.module_hm,
        console_input: v.console_input,
    })
}
