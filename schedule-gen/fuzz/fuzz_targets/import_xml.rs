//! An ARINC 653 XML module configuration: its bytes through the importer's decoders
//! (`import_bytes`: UTF-8, UTF-16, ISO-8859-1, windows-1252), then the imported TOML through
//! the same path as the `config` target. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    schedule_gen_fuzz::import_xml_bytes(data);
});
