//! Throughput of the Elasticsearch output on the main path: a 1,000,000-line JSON log (about 250 bytes a
//! line) tailed by the file input with JSON decoding, through the memory queue, shipped with gzip `_bulk`
//! requests to a fast local endpoint that answers like Elasticsearch (per-item statuses) but stores nothing,
//! so the figures are logward's own cost.
//!
//! Measures the real release binary from outside: wall time until the endpoint has every event,
//! CPU-seconds (user + system, /proc/<pid>/stat) and peak RSS (VmHWM). Prints figures; asserts nothing
//! about speed. Linux only. `cargo bench --bench es_output`; LOGWARD_BENCH_LINES changes the line count,
//! LOGWARD_BENCH_COMPRESSION (`gzip`, `none`) the compression, LOGWARD_BENCH_EXTRA adds top-level
//! configuration (e.g. `queue: {max_events: 1024}\n`).

mod common;
#[path = "../tests/common/fault_bulk_endpoint.rs"]
#[allow(dead_code)]
mod fault_bulk_endpoint;

use fault_bulk_endpoint::{FaultInjectingBulkEndpoint, Faults};
use std::sync::atomic::Ordering;

fn main() {
    let lines = common::line_count();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("bench.json.log");
    let bytes = common::generate(&log, lines);
    let endpoint = FaultInjectingBulkEndpoint::start(Faults {
        count_only: true,
        ..Faults::default()
    });
    let config = dir.path().join("bench.yml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nprogress_interval: 0s\n{extra}inputs:\n  - type: file\n    id: bench\n    paths: [\"{log}\"]\n    json: {{keys_under_root: true, message_key: msg}}\noutputs:\n  - type: elasticsearch\n    hosts: [\"{url}\"]\n    index: \"logs-%{{+yyyy.MM.dd}}\"\n    compression: {compression}\n",
            extra = std::env::var("LOGWARD_BENCH_EXTRA").unwrap_or_default().replace("\\n", "\n"),
            compression = std::env::var("LOGWARD_BENCH_COMPRESSION").unwrap_or_else(|_| "gzip".into()),
            data = dir.path().join("data").display(),
            log = log.display(),
            url = endpoint.url,
        ),
    )
    .expect("write config");
    println!(
        "input: {lines} lines, {:.1} MB ({:.0} bytes/line); endpoint {}",
        bytes as f64 / 1e6,
        bytes as f64 / lines as f64,
        endpoint.url
    );
    let m = common::run_agent(&config, || {
        endpoint.stored_count.load(Ordering::Relaxed) >= lines as u64
    });
    println!(
        "events stored: {} in {} bulk requests",
        endpoint.stored_count.load(Ordering::Relaxed),
        endpoint.requests.load(Ordering::Relaxed)
    );
    common::report(lines, bytes, &m);
}
