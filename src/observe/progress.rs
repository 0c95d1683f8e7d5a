//! The short progress line printed while logward runs: rates and totals, so a person watching a console
//! sees that events flow and where they stop.

use super::metrics;
use crate::pipeline::shutdown::StopSignal;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// Prints a line every `every` to standard error until `stop` is raised, then a final summary.
pub fn report(every: Duration, stop: StopSignal) {
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64, 0u64);
    loop {
        let stopped = stop.wait_timeout(every);
        let read = metrics::counter_total("input_events_total");
        let out = metrics::counter_total("output_events_total");
        let now = Instant::now();
        let secs = now.duration_since(last.0).as_secs_f64().max(1e-6);
        let rate_in = (read - last.1) as f64 / secs;
        let rate_out = (out - last.2) as f64 / secs;
        let extra = [
            (
                "truncated",
                metrics::counter_total("input_truncated_lines_total"),
            ),
            (
                "invalid utf-8",
                metrics::counter_total("input_invalid_utf8_lines_total"),
            ),
            (
                "json errors",
                metrics::counter_total("input_json_errors_total"),
            ),
            ("retries", metrics::counter_total("output_retries_total")),
            (
                "dropped by processors",
                metrics::counter_total("processor_dropped_events_total"),
            ),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!(", {k}: {n}"))
        .collect::<String>();
        // A closed or missing stderr (a service, a pipe whose reader left) must not stop logward.
        let _ = writeln!(
            std::io::stderr(),
            "logward: {:.0}s  read {read} ({rate_in:.0}/s)  shipped {out} ({rate_out:.0}/s){extra}",
            now.duration_since(started).as_secs_f64()
        );
        last = (now, read, out);
        if stopped {
            return;
        }
    }
}
