#![no_main]
//! See `logward::fuzzing::json_line`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "json_line",
    data,
    logward::fuzzing::json_line
));
