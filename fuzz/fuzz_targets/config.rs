#![no_main]
//! See `logward::fuzzing::config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "config",
    data,
    logward::fuzzing::config
));
