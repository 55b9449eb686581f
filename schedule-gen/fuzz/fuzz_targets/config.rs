//! A pkernel TOML configuration: `load_str` (parse + every validation rule), then for a valid
//! one `system_tables` and the reports. Any panic is a bug: the loader must refuse bad input
//! with diagnostics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    schedule_gen_fuzz::config(&schedule_gen_fuzz::text(data));
});
