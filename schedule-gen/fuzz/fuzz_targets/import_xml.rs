//! An ARINC 653 XML module configuration: `import_str`, then the imported TOML through the
//! same path as the `config` target. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    schedule_gen_fuzz::import_xml(&schedule_gen_fuzz::text(data));
});
