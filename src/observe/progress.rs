//! The short progress line printed while logward runs: rates and totals, so a person watching a console
//! sees that events flow and where they stop.

use super::{component, metrics};
use crate::pipeline::shutdown::StopSignal;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// Prints a line every `every` to standard error until `stop` is raised, then a final summary.
pub fn report(every: Duration, stop: StopSignal) {
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64, 0u64);
    loop {
        let stopped = stop.wait_timeout(every);
        let read = metrics::sum(component::RECEIVED_EVENTS, &[("component_kind", "input")]);
        let out = metrics::sum(component::SENT_EVENTS, &[("component_kind", "output")]);
        let now = Instant::now();
        let secs = now.duration_since(last.0).as_secs_f64().max(1e-6);
        let rate_in = read.saturating_sub(last.1) as f64 / secs;
        let rate_out = out.saturating_sub(last.2) as f64 / secs;
        let error =
            |error_type: &str| metrics::sum(component::ERRORS, &[("error_type", error_type)]);
        // Events an output refused for good (Elasticsearch dead letters): never part of "shipped".
        let dead_letters = metrics::sum(
            component::DISCARDED_EVENTS,
            &[("component_kind", "output"), ("intentional", "false")],
        );
        let extra = [
            ("dead-lettered", dead_letters),
            ("truncated", error("line_truncated")),
            ("invalid utf-8", error("invalid_utf8")),
            ("json errors", error("json_parse_failed")),
            (
                "retries",
                metrics::counter_total(crate::outputs::runner::RETRIES),
            ),
            (
                "dropped by processors",
                metrics::sum(
                    component::DISCARDED_EVENTS,
                    &[("component_kind", "processor"), ("intentional", "true")],
                ),
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
