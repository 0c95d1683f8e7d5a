//! The memory queue's `max_events` bounds every event between an input and the last acknowledgement,
//! whatever the outputs do.

mod common;

use common::fault_bulk_endpoint::{FaultInjectingBulkEndpoint, Faults};
use common::{Agent, Sandbox, append_lines, es_output, file_input, wait_for};
use std::sync::atomic::Ordering::SeqCst;

const LINES: usize = 30_000;
const MAX_EVENTS: usize = 2_000;
const STUCK_LINE: usize = 1_000;

#[test]
fn a_batch_kept_in_retry_holds_the_input_back_at_max_events() {
    // One batch (the one with line 1,000) is answered 503 until released; the other worker goes on.
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        stall_marker: Some("STALL-HERE".into()),
        ..Faults::default()
    });
    let sb = Sandbox::new();
    let pad = "x".repeat(200);
    append_lines(
        &sb.path("logs/app.log"),
        (0..LINES).map(|n| {
            let mark = if n == STUCK_LINE { "STALL-HERE" } else { "" };
            format!("line {n:06} {mark} {pad}")
        }),
    );
    let cfg = sb.write_config(
        &format!(
            "shutdown_timeout: 20s\nqueue: {{ type: memory, max_events: {MAX_EVENTS}, batch_events: 200 }}\n"
        ),
        &file_input("app", &sb.path("logs/*.log"), ""),
        &es_output(
            &[&ep.url],
            "    bulk_max_size: 200\n    workers: 2\n    flush_interval: 50ms\n    compression: none\n    backoff: { init: 20ms, max: 50ms }\n",
        ),
    );
    let agent = Agent::start(&cfg);
    // Everything stored while the batch is stuck: the events before it, and at most `max_events` in flight
    // (the stuck batch and the later ones the input keeps until its checkpoint can pass the stuck one).
    let bound = (STUCK_LINE + MAX_EVENTS) as u64;
    let mut most = 0;
    wait_for(&agent, "the input waiting on a full memory queue", || {
        most = most.max(ep.stored_count.load(SeqCst));
        assert!(
            most <= bound,
            "{most} events stored while one batch was kept in retry (bound {bound}): the queue let the input run ahead"
        );
        ep.stalled_requests() >= 3 && agent.log().contains("the memory queue is full")
    });
    // The input stays held back while the batch keeps failing.
    let stalled = ep.stalled_requests();
    wait_for(&agent, "more retries of the stuck batch", || {
        most = most.max(ep.stored_count.load(SeqCst));
        ep.stalled_requests() >= stalled + 5
    });
    most = most.max(ep.stored_count.load(SeqCst));
    assert!(most <= bound, "{most} events stored, bound {bound}");
    let rss_kib = agent.peak_rss_kib().unwrap_or(0);
    println!(
        "stored while stuck: at most {most} of {LINES}; peak RSS {} MiB",
        rss_kib / 1024
    );
    // Then everything arrives, once released.
    ep.release_stall();
    wait_for(&agent, "every line at the endpoint", || {
        ep.unique_docs() >= LINES
    });
    assert_eq!(ep.unique_docs(), LINES);
    assert_eq!(agent.stop(), 0);
}
