//! Throughput of the whole agent on its main path: a 1,000,000-line JSON log (about 250 bytes a line) tailed
//! by the file input with JSON decoding, through the memory queue, into the file output.
//!
//! Runs the real release binary and measures it from outside: wall time until the last event is written,
//! CPU-seconds (user + system, from /proc/<pid>/stat) and peak RSS (VmHWM). Prints figures; asserts nothing
//! about speed. Linux only (reads /proc). `cargo bench --bench file_pipeline`; set LOGWARD_BENCH_LINES to
//! change the line count.

mod common;

use std::path::Path;

fn count_newlines(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("events.ndjson"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .map(|b| memchr_count(&b))
                .sum()
        })
        .unwrap_or(0)
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

fn main() {
    let lines = common::line_count();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("bench.json.log");
    let bytes = common::generate(&log, lines);
    let out = dir.path().join("out");
    let config = dir.path().join("bench.yml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nprogress_interval: 0s\ninputs:\n  - type: file\n    id: bench\n    paths: [\"{log}\"]\n    json: {{keys_under_root: true, message_key: msg}}\noutputs:\n  - type: file\n    path: {out}\n    filename: events.ndjson\n    rotate_every: 1GiB\n",
            data = dir.path().join("data").display(),
            log = log.display(),
            out = out.display()
        ),
    )
    .expect("write config");
    println!(
        "input: {lines} lines, {:.1} MB ({:.0} bytes/line)",
        bytes as f64 / 1e6,
        bytes as f64 / lines as f64
    );
    let m = common::run_agent(&config, || count_newlines(&out) >= lines);
    println!("events written: {}", count_newlines(&out));
    common::report(lines, bytes, &m);
}
