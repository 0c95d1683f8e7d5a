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

/// While the only output is down and the memory queue is full, the application rotates: files are
/// created, renamed out of the glob and deleted. A paused input keeps scanning and holds each new file
/// open, so nothing written meanwhile is lost once the output is back.
#[test]
fn a_paused_input_keeps_finding_and_holding_files_that_are_rotated_away() {
    const FIRST: usize = 1_000;
    const ROTATED: usize = 3;
    const PER_FILE: usize = 50;
    let ep = FaultInjectingBulkEndpoint::start(Faults::default());
    ep.set_status_for_all(Some(503));
    let sb = Sandbox::new();
    append_lines(
        &sb.path("logs/first.log"),
        (0..FIRST).map(|n| format!("first {n:05}")),
    );
    let cfg = sb.write_config(
        "shutdown_timeout: 20s\nqueue: { type: memory, max_events: 200, batch_events: 100 }\n",
        &file_input(
            "app",
            &sb.path("logs/*.log"),
            "    scan_frequency: 200ms\n",
        ),
        &es_output(
            &[&ep.url],
            "    bulk_max_size: 100\n    workers: 1\n    flush_interval: 50ms\n    compression: none\n    backoff: { init: 20ms, max: 200ms }\n",
        ),
    );
    let agent = Agent::start(&cfg);
    wait_for(&agent, "the input paused on a full memory queue", || {
        agent.log().contains("the memory queue is full")
    });
    for k in 0..ROTATED {
        let live = sb.path(&format!("logs/rot-{k}.log"));
        append_lines(&live, (0..PER_FILE).map(|n| format!("rot {k} {n:05}")));
        let opened = format!("{}", live.display());
        wait_for(&agent, format!("the paused input opening {opened}"), || {
            agent
                .log()
                .lines()
                .any(|l| l.contains("reading file") && l.contains(&opened))
        });
        // Rotated out of the glob, then deleted, all while the output is still down.
        let rotated = sb.path(&format!("logs/rot-{k}.log.1"));
        std::fs::rename(&live, &rotated).expect("rename");
        std::fs::remove_file(&rotated).expect("delete");
    }
    assert_eq!(ep.unique_docs(), 0, "the output was down");
    ep.set_status_for_all(None);
    let total = FIRST + ROTATED * PER_FILE;
    wait_for(&agent, format!("{total} lines at the endpoint"), || {
        ep.unique_docs() >= total
    });
    assert_eq!(ep.unique_docs(), total);
    assert_eq!(agent.stop(), 0);
}
