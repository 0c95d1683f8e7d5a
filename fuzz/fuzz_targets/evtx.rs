#![no_main]
//! See `logward::fuzzing::evtx`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| logward_fuzz::run("evtx", data, logward::fuzzing::evtx));
