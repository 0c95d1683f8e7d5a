#![no_main]
//! See `logward::fuzzing::received_body`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "received_body",
    data,
    logward::fuzzing::received_body
));
