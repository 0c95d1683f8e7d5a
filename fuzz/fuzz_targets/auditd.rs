#![no_main]
//! See `logward::fuzzing::auditd`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run(
    "auditd",
    data,
    logward::fuzzing::auditd
));
