#![no_main]
//! See `logward::fuzzing::syslog`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "syslog",
    data,
    logward::fuzzing::syslog
));
