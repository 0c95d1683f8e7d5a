//! The Elasticsearch output under pressure, against the fault-injecting `_bulk` endpoint (it keeps every
//! id it stored, so exactly-once is checked, not assumed). The generated JSON log of the other whole-agent
//! benchmarks, 100,000 lines unless `LOGWARD_BENCH_LINES` says otherwise; the release binary measured
//! from outside. Prints figures; asserts nothing about speed. Linux only.
//!
//! - `faults`: every 7th document turned away (429) and every 5th request refused whole (503), against
//!   the same run without faults. The faults stop once the endpoint has received as many documents as
//!   there are lines; the time from then to the last document stored is the drain time.
//! - `overload`: the endpoint serves at most N requests at once (N = 4, each taking 50 ms) and answers
//!   429 to any beyond; `workers: 16` against the single-request throughput (`workers: 1`, no limit).
//!
//! `cargo bench --bench es_pressure` runs both; `LOGWARD_BENCH_SCENARIO=faults` or `overload` one.
//! Both use `backoff: {init: 100ms, max: 2s}` unless `LOGWARD_BENCH_BACKOFF` gives another (e.g.
//! `{init: 1s, max: 60s}`, the default); `LOGWARD_BENCH_EXTRA` adds top-level configuration (e.g.
//! `queue: {max_events: 32768}\n`).

mod common;
#[path = "../tests/common/fault_bulk_endpoint.rs"]
#[allow(dead_code)]
mod fault_bulk_endpoint;

use fault_bulk_endpoint::{FaultInjectingBulkEndpoint, Faults};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn config(dir: &Path, log: &Path, url: &str, settings: &str) -> std::path::PathBuf {
    let config = dir.join(format!("bench-{}.yml", fastrand_name()));
    let data = dir.join(format!("data-{}", fastrand_name()));
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nprogress_interval: 0s\n{extra}inputs:\n  - type: file\n    id: bench\n    paths: [\"{log}\"]\n    json: {{keys_under_root: true, message_key: msg}}\noutputs:\n  - type: elasticsearch\n    hosts: [\"{url}\"]\n    index: \"logs-%{{+yyyy.MM.dd}}\"\n{settings}",
            data = data.display(),
            log = log.display(),
            extra = std::env::var("LOGWARD_BENCH_EXTRA")
                .unwrap_or_default()
                .replace("\\n", "\n"),
        ),
    )
    .expect("write config");
    config
}

/// The output's `backoff:` line.
fn backoff() -> String {
    format!(
        "    backoff: {}\n",
        std::env::var("LOGWARD_BENCH_BACKOFF").unwrap_or_else(|_| "{init: 100ms, max: 2s}".into())
    )
}

/// A name unique within this process.
fn fastrand_name() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Whether every line is stored exactly once under its own id.
fn exactly_once(ep: &FaultInjectingBulkEndpoint, lines: usize) -> String {
    let seen = ep.seen.lock().expect("seen");
    let more = seen.stores.values().filter(|c| **c > 1).count();
    if seen.stores.len() == lines && more == 0 {
        format!("yes ({lines} ids, each stored once)")
    } else {
        format!(
            "NO: {} ids of {lines}, {more} stored more than once",
            seen.stores.len()
        )
    }
}

fn faults(dir: &Path, log: &Path, lines: usize, bytes: u64) {
    println!("== faults: every 7th document 429, every 5th request 503, {lines} lines");
    let settings = &backoff();
    let clean = FaultInjectingBulkEndpoint::start(Faults {
        ids_only: true,
        ..Faults::default()
    });
    let m = common::run_agent(&config(dir, log, &clean.url, settings), || {
        clean.unique_docs() >= lines
    });
    println!(
        "without faults: {} requests; exactly once: {}",
        clean.requests.load(Ordering::Relaxed),
        exactly_once(&clean, lines)
    );
    common::report(lines, bytes, &m);
    let clean_rate = lines as f64 / m.wall;

    let ep = FaultInjectingBulkEndpoint::start(Faults {
        ids_only: true,
        item_429_every: Some(7),
        request_503_every: Some(5),
        ..Faults::default()
    });
    let faults_stopped: Mutex<Option<Instant>> = Mutex::new(None);
    let last_new: Mutex<(usize, Instant)> = Mutex::new((0, Instant::now()));
    let m = common::run_agent(&config(dir, log, &ep.url, settings), || {
        let received = ep.items_received.load(Ordering::Relaxed);
        let mut stopped = faults_stopped.lock().expect("lock");
        if stopped.is_none() && received >= lines as u64 {
            ep.set_faults(false);
            *stopped = Some(Instant::now());
        }
        let stored = ep.unique_docs();
        let mut last = last_new.lock().expect("lock");
        if stored > last.0 {
            *last = (stored, Instant::now());
        }
        stored >= lines
    });
    let drain = match (
        *faults_stopped.lock().expect("lock"),
        last_new.lock().expect("lock").1,
    ) {
        (Some(stopped), last) => format!(
            "{:.2} s",
            last.saturating_duration_since(stopped).as_secs_f64()
        ),
        (None, _) => "(the faults never stopped)".into(),
    };
    println!(
        "with faults: {} requests, {} documents turned away, {} requests refused (503); exactly once: {}",
        ep.requests.load(Ordering::Relaxed),
        ep.items_429.load(Ordering::Relaxed),
        ep.requests_503.load(Ordering::Relaxed),
        exactly_once(&ep, lines)
    );
    println!("last document stored {drain} after the faults stopped");
    common::report(lines, bytes, &m);
    println!(
        "with faults: {:.0} % of the fault-free throughput",
        100.0 * lines as f64 / m.wall / clean_rate
    );
}

fn overload(dir: &Path, log: &Path, lines: usize, bytes: u64) {
    const N: usize = 4;
    let delay = Duration::from_millis(50);
    println!(
        "== overload: at most {N} requests at once ({delay:?} each), 429 beyond; {lines} lines"
    );
    let settings =
        "    bulk_max_size: 500\n    flush_interval: 0s\n    backoff: {init: 100ms, max: 2s}\n";
    let single = FaultInjectingBulkEndpoint::start(Faults {
        ids_only: true,
        delay: Some(delay),
        ..Faults::default()
    });
    let m = common::run_agent(
        &config(
            dir,
            log,
            &single.url,
            &format!("{settings}    workers: 1\n"),
        ),
        || single.unique_docs() >= lines,
    );
    println!(
        "workers: 1, no limit: {} requests; exactly once: {}",
        single.requests.load(Ordering::Relaxed),
        exactly_once(&single, lines)
    );
    common::report(lines, bytes, &m);
    let single_rate = lines as f64 / m.wall;

    let ep = FaultInjectingBulkEndpoint::start(Faults {
        ids_only: true,
        delay: Some(delay),
        max_in_flight: Some(N),
        ..Faults::default()
    });
    let first_429: Mutex<Option<Instant>> = Mutex::new(None);
    let peak_after: Mutex<bool> = Mutex::new(false);
    let m = common::run_agent(
        &config(dir, log, &ep.url, &format!("{settings}    workers: 16\n")),
        || {
            let mut first = first_429.lock().expect("lock");
            if first.is_none() && ep.requests_429.load(Ordering::Relaxed) > 0 {
                *first = Some(Instant::now());
            }
            // One second after the first 429: settled; the peak is measured from then on.
            let mut reset = peak_after.lock().expect("lock");
            if !*reset && first.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
                ep.reset_peak();
                *reset = true;
            }
            ep.unique_docs() >= lines
        },
    );
    println!(
        "workers: 16, the endpoint takes {N}: {} requests, {} answered 429; most in flight after settling: {}; exactly once: {}",
        ep.requests.load(Ordering::Relaxed),
        ep.requests_429.load(Ordering::Relaxed),
        if *peak_after.lock().expect("lock") {
            ep.peak_in_flight.load(Ordering::Relaxed).to_string()
        } else {
            "(not settled before the end)".into()
        },
        exactly_once(&ep, lines)
    );
    common::report(lines, bytes, &m);
    println!(
        "overloaded: {:.0} % of {N} × the single-request throughput",
        100.0 * lines as f64 / m.wall / (N as f64 * single_rate)
    );
}

fn main() {
    let lines = std::env::var("LOGWARD_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("bench.json.log");
    let bytes = common::generate(&log, lines);
    let scenario = std::env::var("LOGWARD_BENCH_SCENARIO").unwrap_or_default();
    if scenario.is_empty() || scenario == "faults" {
        faults(dir.path(), &log, lines, bytes);
    }
    if scenario.is_empty() || scenario == "overload" {
        overload(dir.path(), &log, lines, bytes);
    }
}
