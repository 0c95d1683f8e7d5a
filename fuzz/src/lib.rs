//! What every fuzz target shares: a panic is a finding (libFuzzer's hook aborts the process and saves the
//! input).

/// Runs `target` on `data`.
pub fn run(_name: &str, data: &[u8], target: fn(&[u8])) {
    target(data);
}
