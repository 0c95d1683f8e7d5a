//! The metrics every component reports, named once, after Vector's component specification: what it
//! received, sent, failed at and discarded, labelled with the component's id, kind and type, so "did we
//! lose anything, and where?" has the same answer for every input, processor and output.
//!
//! - `component_received_events_total`, `component_received_bytes_total`: what came in (an input: read
//!   from its source, before processors).
//! - `component_sent_events_total`, `component_sent_bytes_total`: what went on (an input: into the queue,
//!   after processors; an output: delivered).
//! - `component_errors_total{error_type, stage}`: things that went wrong, whether or not the event survived
//!   (a truncated line still ships, tagged).
//! - `component_discarded_events_total{intentional}`: events that will not reach the next stage:
//!   `true` when the configuration asked for it (a `drop` processor, a filter), `false` otherwise.
//! - `component_send_duration_seconds`: how long each send to an output took.
//! - `buffer_*`: the queue between processors and outputs.
//!
//! Counters specific to one component type (files opened, documents stored) carry the same labels.

use super::metrics::{self, Counter, Gauge, Histogram};
use std::sync::Arc;

/// Events a component received.
pub const RECEIVED_EVENTS: &str = "component_received_events_total";
/// Bytes a component received.
pub const RECEIVED_BYTES: &str = "component_received_bytes_total";
/// Events a component passed on.
pub const SENT_EVENTS: &str = "component_sent_events_total";
/// Bytes a component passed on.
pub const SENT_BYTES: &str = "component_sent_bytes_total";
/// Errors, by `error_type` and `stage`.
pub const ERRORS: &str = "component_errors_total";
/// Events that will not reach the next stage, by `intentional`.
pub const DISCARDED_EVENTS: &str = "component_discarded_events_total";
/// Durations of sends to an output.
pub const SEND_DURATION: &str = "component_send_duration_seconds";
/// Events waiting in the queue.
pub const BUFFER_EVENTS: &str = "buffer_events";
/// Memory queue: events taken in and not yet acknowledged by every output (at most `max_events`).
pub const BUFFER_UNACKNOWLEDGED_EVENTS: &str = "buffer_unacknowledged_events";
/// Bytes the queue holds.
pub const BUFFER_BYTE_SIZE: &str = "buffer_byte_size";
/// Events that entered the queue.
pub const BUFFER_RECEIVED_EVENTS: &str = "buffer_received_events_total";
/// Events the queue handed to an output.
pub const BUFFER_SENT_EVENTS: &str = "buffer_sent_events_total";
/// Events the queue could not take (an input that cannot wait, like UDP).
pub const BUFFER_DISCARDED_EVENTS: &str = "buffer_discarded_events_total";

/// The help text of every standard metric.
const HELP: &[(&str, &str)] = &[
    (RECEIVED_EVENTS, "Events a component received."),
    (RECEIVED_BYTES, "Bytes a component received."),
    (
        SENT_EVENTS,
        "Events a component passed on to the next stage.",
    ),
    (SENT_BYTES, "Bytes a component passed on to the next stage."),
    (ERRORS, "Errors a component met, by error type and stage."),
    (
        DISCARDED_EVENTS,
        "Events that will not reach the next stage; intentional when the configuration asked for it.",
    ),
    (SEND_DURATION, "How long each send to an output took."),
    (BUFFER_EVENTS, "Events waiting in the queue."),
    (
        BUFFER_UNACKNOWLEDGED_EVENTS,
        "Events in the memory queue or at an output, not yet acknowledged by every output.",
    ),
    (BUFFER_BYTE_SIZE, "Bytes the queue holds."),
    (BUFFER_RECEIVED_EVENTS, "Events that entered the queue."),
    (BUFFER_SENT_EVENTS, "Events the queue handed to an output."),
    (BUFFER_DISCARDED_EVENTS, "Events the queue could not take."),
    // Counters of one component type, described here so every family in /metrics has its help text.
    (
        "buffer_acknowledged_events_total",
        "Events an output acknowledged to the disk queue.",
    ),
    (
        "buffer_corrupt_records_total",
        "Damaged disk queue records skipped.",
    ),
    ("output_batches_total", "Batches an output settled."),
    (
        "output_rejected_batches_total",
        "Batches the destination refused for good (dead-lettered or dropped).",
    ),
    ("output_retries_total", "Batches sent again after an error."),
    (
        "output_duplicates_skipped_total",
        "Events not written again because the output had written them already.",
    ),
    (
        "elasticsearch_bulk_requests_total",
        "_bulk requests sent to Elasticsearch.",
    ),
    (
        "elasticsearch_documents_stored_total",
        "Documents Elasticsearch stored.",
    ),
    (
        "elasticsearch_documents_duplicate_total",
        "Documents Elasticsearch had stored already (same id).",
    ),
    (
        "elasticsearch_item_retries_total",
        "Documents of a _bulk answer sent again.",
    ),
    (
        "elasticsearch_request_concurrency",
        "_bulk requests the Elasticsearch output allows in flight now (adaptive, at most workers).",
    ),
    (
        "elasticsearch_retry_set_documents",
        "Documents waiting in the Elasticsearch output's retry set for their backoff.",
    ),
    ("files_opened_total", "Files the file input opened."),
    ("files_closed_total", "Files the file input closed."),
    (
        "files_truncated_total",
        "Files found shorter than the position read, read again from the start.",
    ),
    ("open_files", "Files the file input holds open."),
    (
        "winlog_resubscribes_total",
        "Times the Event Log input subscribed again to a channel.",
    ),
    (
        "winlog_gaps_total",
        "Times records of an Event Log channel were overwritten before they were read.",
    ),
];

fn describe_all() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (name, help) in HELP {
            metrics::describe(name, help);
        }
    });
}

/// Which part of the pipeline a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Where events come from.
    Input,
    /// What changes events (labelled with the chain: an input id or `global`).
    Processor,
    /// Where events leave.
    Output,
}

impl Kind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Processor => "processor",
            Kind::Output => "output",
        }
    }
}

/// Where in a component an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading from the source.
    Receiving,
    /// Parsing or transforming.
    Processing,
    /// Handing over to the destination.
    Sending,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Receiving => "receiving",
            Stage::Processing => "processing",
            Stage::Sending => "sending",
        }
    }
}

/// One component's metrics: its labels, and handles on the standard counters.
#[derive(Debug, Clone)]
pub struct ComponentMetrics {
    kind: Kind,
    id: Arc<str>,
    component_type: &'static str,
}

impl ComponentMetrics {
    /// The metrics of component `id` of type `component_type`.
    pub fn new(kind: Kind, id: &str, component_type: &'static str) -> ComponentMetrics {
        describe_all();
        let m = ComponentMetrics {
            kind,
            id: id.into(),
            component_type,
        };
        // The series a dashboard sums ("in = out + queued + discarded") exist from the start, at zero,
        // rather than appearing with the first event.
        if kind != Kind::Processor {
            if kind == Kind::Input {
                m.received_events();
            }
            m.sent_events();
            m.discarded(true);
            m.discarded(false);
        }
        m
    }

    /// The component's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The component's type.
    pub fn component_type(&self) -> &'static str {
        self.component_type
    }

    fn labels(&self) -> [(&'static str, &str); 3] {
        [
            ("component_id", &self.id),
            ("component_kind", self.kind.as_str()),
            ("component_type", self.component_type),
        ]
    }

    /// A counter of this component, standard or its own, with the component's labels.
    pub fn counter(&self, name: &str) -> Counter {
        metrics::counter(name, &self.labels())
    }

    /// A gauge of this component, with the component's labels.
    pub fn gauge(&self, name: &str) -> Gauge {
        metrics::gauge(name, &self.labels())
    }

    /// A duration histogram of this component, with the component's labels.
    pub fn histogram(&self, name: &str) -> Histogram {
        metrics::histogram(name, &self.labels())
    }

    /// `component_received_events_total`.
    pub fn received_events(&self) -> Counter {
        self.counter(RECEIVED_EVENTS)
    }

    /// `component_sent_events_total`.
    pub fn sent_events(&self) -> Counter {
        self.counter(SENT_EVENTS)
    }

    /// `component_errors_total{error_type, stage}`.
    pub fn errors(&self, error_type: &str, stage: Stage) -> Counter {
        let [a, b, c] = self.labels();
        metrics::counter(
            ERRORS,
            &[
                a,
                b,
                c,
                ("error_type", error_type),
                ("stage", stage.as_str()),
            ],
        )
    }

    /// `component_discarded_events_total{intentional}`.
    pub fn discarded(&self, intentional: bool) -> Counter {
        let [a, b, c] = self.labels();
        metrics::counter(
            DISCARDED_EVENTS,
            &[
                a,
                b,
                c,
                ("intentional", if intentional { "true" } else { "false" }),
            ],
        )
    }
}

/// The metrics of the queue (`buffer_type` memory or disk; per output where it says so).
#[derive(Debug, Clone)]
pub struct BufferMetrics {
    buffer_type: &'static str,
}

impl BufferMetrics {
    /// The metrics of the `memory` or `disk` queue.
    pub fn new(buffer_type: &'static str) -> BufferMetrics {
        describe_all();
        BufferMetrics { buffer_type }
    }

    /// `buffer_events`.
    pub fn events(&self) -> Gauge {
        metrics::gauge(BUFFER_EVENTS, &[("buffer_type", self.buffer_type)])
    }

    /// `buffer_unacknowledged_events`.
    pub fn unacknowledged_events(&self) -> Gauge {
        metrics::gauge(
            BUFFER_UNACKNOWLEDGED_EVENTS,
            &[("buffer_type", self.buffer_type)],
        )
    }

    /// `buffer_byte_size`.
    pub fn byte_size(&self) -> Gauge {
        metrics::gauge(BUFFER_BYTE_SIZE, &[("buffer_type", self.buffer_type)])
    }

    /// `buffer_received_events_total`.
    pub fn received_events(&self) -> Counter {
        metrics::counter(BUFFER_RECEIVED_EVENTS, &[("buffer_type", self.buffer_type)])
    }

    /// `buffer_discarded_events_total`.
    pub fn discarded_events(&self) -> Counter {
        metrics::counter(
            BUFFER_DISCARDED_EVENTS,
            &[("buffer_type", self.buffer_type)],
        )
    }

    /// `buffer_sent_events_total{output}`.
    pub fn sent_events(&self, output: &str) -> Counter {
        metrics::counter(
            BUFFER_SENT_EVENTS,
            &[("buffer_type", self.buffer_type), ("output", output)],
        )
    }

    /// A counter of the queue of its own (`buffer_corrupt_records_total`), with `buffer_type`.
    pub fn counter(&self, name: &str) -> Counter {
        metrics::counter(name, &[("buffer_type", self.buffer_type)])
    }

    /// A per-output counter of the queue of its own, with `buffer_type` and `output`.
    pub fn output_counter(&self, name: &str, output: &str) -> Counter {
        metrics::counter(
            name,
            &[("buffer_type", self.buffer_type), ("output", output)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_metrics_carry_the_component_labels_and_sum_by_them() {
        let a = ComponentMetrics::new(Kind::Input, "std-test-a", "file");
        let b = ComponentMetrics::new(Kind::Input, "std-test-b", "file");
        a.received_events().add(3);
        b.received_events().add(4);
        a.errors("invalid_utf8", Stage::Receiving).inc();
        a.discarded(true).add(2);
        assert_eq!(
            metrics::sum(RECEIVED_EVENTS, &[("component_id", "std-test-a")]),
            3
        );
        assert!(metrics::sum(RECEIVED_EVENTS, &[("component_kind", "input")]) >= 7);
        assert_eq!(
            metrics::sum(
                ERRORS,
                &[
                    ("component_id", "std-test-a"),
                    ("error_type", "invalid_utf8")
                ]
            ),
            1
        );
        assert_eq!(
            metrics::sum(
                DISCARDED_EVENTS,
                &[("component_id", "std-test-a"), ("intentional", "true")]
            ),
            2
        );
        let text = metrics::render_prometheus();
        assert!(text.contains(
            "# HELP logward_component_received_events_total Events a component received."
        ));
        assert!(text.contains(
            "logward_component_received_events_total{component_id=\"std-test-a\",component_kind=\"input\",component_type=\"file\"} 3"
        ));
    }
}
