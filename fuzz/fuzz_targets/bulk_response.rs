#![no_main]
//! See `logward::fuzzing::bulk_response`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "bulk_response",
    data,
    logward::fuzzing::bulk_response
));
