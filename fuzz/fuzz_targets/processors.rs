#![no_main]
//! See `logward::fuzzing::processors`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "processors",
    data,
    logward::fuzzing::processors
));
