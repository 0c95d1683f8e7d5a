//! Throughput of the disk queue on its own: batches of 1,024 realistic events (about 250 bytes of JSON
//! each) written by an input thread (each batch acknowledged only after fsync), then read back by an
//! output and acknowledged; with the default fsync policy (`group`) and with one fsync per batch. Then how
//! long opening (recovering) a large queue takes: every record's checksum is verified.
//!
//! `cargo bench --bench disk_queue`. LOGWARD_BENCH_EVENTS (default 1,000,000) sets the events per run,
//! LOGWARD_BENCH_QUEUE_BYTES (default 1 GiB) the size of the queue recovered. Prints figures, asserts
//! nothing about speed.

use logward::event::Event;
use logward::pipeline::ack::{AckReceiver, AckStatus};
use logward::pipeline::disk::{DiskQueue, DiskQueueSettings, FsyncPolicy};
use logward::pipeline::shutdown::StopSignal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn batch(start: u64, n: usize) -> Vec<Event> {
    (0..n as u64)
        .map(|i| {
            let k = start + i;
            let mut e = Event::from_message(format!(
                "request handled for tenant acme-{} in {} ms",
                k % 97,
                k % 900
            ));
            e.set_path("@timestamp", "2026-11-24T10:00:00.000Z");
            e.set_path("log.level", "INFO");
            e.set_path("service", "user-auth");
            e.set_path("user_id", k * 7919 % 100_000);
            e.set_path(
                "client_ip",
                format!("10.{}.{}.{}", k % 256, (k / 256) % 256, k % 200 + 1),
            );
            e.set_path("log.file.path", "/var/log/user-auth/app.json.log");
            e.origin = Some(logward::event::Origin {
                source: "bench/app".into(),
                position: k * 250,
            });
            e
        })
        .collect()
}

fn settings(dir: &Path, fsync: FsyncPolicy, max_size: u64) -> DiskQueueSettings {
    DiskQueueSettings {
        dir: dir.to_path_buf(),
        max_size,
        segment_size: 64 << 20,
        fsync,
        cache_events: 8192,
        pending_batches: 4,
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Writes `events` events; returns (seconds until every batch was fsynced and acknowledged, bytes).
fn write_phase(q: &DiskQueue, events: u64, dir: &Path) -> (f64, u64) {
    let writer = q.writer.clone();
    let started = Instant::now();
    let mut acks = AckReceiver::new();
    let batches = events.div_ceil(1024);
    let mut sent = 0u64;
    for b in 0..batches {
        let n = (events - sent).min(1024) as usize;
        let ack = acks.new_batch();
        writer
            .push_blocking(Arc::new(batch(b * 1024, n)), ack)
            .expect("queue open");
        sent += n as u64;
    }
    let mut settled = 0;
    while settled < batches {
        if let Some(a) = acks.recv_timeout_blocking(std::time::Duration::from_secs(60)) {
            assert_eq!(a.status, AckStatus::Delivered);
            settled += 1;
        }
    }
    (started.elapsed().as_secs_f64(), dir_bytes(dir))
}

fn read_phase(q: &mut DiskQueue, events: u64) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let reader = &mut q.readers[0];
    let started = Instant::now();
    rt.block_on(async {
        let mut got = 0u64;
        while got < events {
            let d = reader.next().await.expect("delivery");
            got += d.events.len() as u64;
            d.ack.complete(AckStatus::Delivered);
        }
    });
    started.elapsed().as_secs_f64()
}

fn close(q: DiskQueue) {
    let DiskQueue {
        writer,
        readers,
        thread,
        ..
    } = q;
    drop(writer);
    drop(readers);
    let _ = thread.join();
}

fn main() {
    let events = env("LOGWARD_BENCH_EVENTS", 1_000_000);
    for (label, policy) in [
        ("fsync: group (default)", FsyncPolicy::Group),
        ("fsync: batch", FsyncPolicy::Batch),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("queue");
        let mut q = DiskQueue::open(
            settings(&dir, policy, 8 << 30),
            &["bench".to_string()],
            StopSignal::new(),
        )
        .expect("open");
        let (w, bytes) = write_phase(&q, events, &dir);
        let r = read_phase(&mut q, events);
        println!(
            "{label}: in {:.0} events/s, {:.1} MB/s ({:.2} s) | out (read back from the memory cache or disk, acknowledged) {:.0} events/s, {:.1} MB/s",
            events as f64 / w,
            bytes as f64 / 1e6 / w,
            w,
            events as f64 / r,
            bytes as f64 / 1e6 / r
        );
        close(q);
    }
    // Reading from disk only: the output starts after the writes (cold cache in the process).
    let target = env("LOGWARD_BENCH_QUEUE_BYTES", 1 << 30);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("queue");
    let q = DiskQueue::open(
        settings(&dir, FsyncPolicy::Group, target * 2),
        &["bench".to_string()],
        StopSignal::new(),
    )
    .expect("open");
    let per_event = 262.0;
    let n = (target as f64 / per_event) as u64;
    let (w, bytes) = write_phase(&q, n, &dir);
    close(q);
    println!(
        "wrote a {:.2} GiB queue ({n} events) in {w:.1} s",
        bytes as f64 / (1u64 << 30) as f64
    );
    let started = Instant::now();
    let mut q = DiskQueue::open(
        settings(&dir, FsyncPolicy::Group, target * 2),
        &["bench".to_string()],
        StopSignal::new(),
    )
    .expect("reopen");
    let took = started.elapsed().as_secs_f64();
    println!(
        "recovery of {:.2} GiB: {took:.2} s ({:.0} MB/s, {} records, {} events pending)",
        bytes as f64 / (1u64 << 30) as f64,
        bytes as f64 / 1e6 / took,
        q.recovery.records,
        q.recovery.pending_events
    );
    let r = read_phase(&mut q, n);
    println!(
        "read back from disk: {:.0} events/s, {:.1} MB/s",
        n as f64 / r,
        bytes as f64 / 1e6 / r
    );
    close(q);
}
