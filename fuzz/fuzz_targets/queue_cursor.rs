#![no_main]
//! See `logward::fuzzing::queue_cursor`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "queue_cursor",
    data,
    logward::fuzzing::queue_cursor
));
