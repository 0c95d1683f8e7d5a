#![no_main]
//! See `logward::fuzzing::multiline`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "multiline",
    data,
    logward::fuzzing::multiline
));
