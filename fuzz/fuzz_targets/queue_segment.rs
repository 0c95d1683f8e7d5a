#![no_main]
//! See `logward::fuzzing::queue_segment`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "queue_segment",
    data,
    logward::fuzzing::queue_segment
));
