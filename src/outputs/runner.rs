//! Runs one output: takes batches from its queue, sends them, retries failures with backoff, and settles
//! each batch's acknowledgement.

use super::{Batch, Batching, Output, OutputError, SendOutcome};
use crate::observe::component::{ComponentMetrics, SEND_DURATION, Stage};
use crate::observe::metrics::{Counter, Histogram};
use crate::observe::throttle::LogThrottle;
use crate::pipeline::ack::AckStatus;
use crate::pipeline::queue::{Delivery, QueueReader};
use crate::pipeline::shutdown::StopSignal;
use crate::pipeline::supervise::Failures;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Batches sent again after an error.
pub const RETRIES: &str = "output_retries_total";

/// Retry timing: full-jitter exponential backoff.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first wait.
    pub init: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            init: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (1-based): uniformly random in `[0, min(max, init·2^(attempt-1))]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .init
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max);
        cap.mul_f64(fastrand::f64())
    }
}

#[derive(Clone)]
struct Counters {
    health: Arc<crate::observe::health::ComponentHealth>,
    events: Counter,
    batches: Counter,
    rejected_batches: Counter,
    retries: Counter,
    send_errors: Counter,
    send_duration: Histogram,
    /// Failures behind held events are logged at most this often.
    failure_log: Arc<LogThrottle>,
}

/// What waiting for the next batch came to.
enum Gathered {
    /// One or more queued batches, taken together.
    Batch(Vec<Delivery>),
    /// The queue is closed and drained.
    Closed,
    /// `until` came first: nothing was taken.
    Due,
}

/// Takes the next batch for an output: waits for one queued batch (or until `until`, when the output
/// holds events due then), then gathers more until `batching.max_events` or until `batching.max_wait`
/// has passed. Only the wait for the first one is given up at `until`, before anything is taken.
async fn gather(
    reader: &tokio::sync::Mutex<QueueReader>,
    batching: Batching,
    first_output: bool,
    until: Option<tokio::time::Instant>,
) -> Gathered {
    let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    let until = until.unwrap_or(far);
    let mut reader = tokio::select! {
        r = reader.lock() => r,
        _ = tokio::time::sleep_until(until) => return Gathered::Due,
    };
    // Receiving from the queue is cancel-safe: a batch is either taken or left queued.
    let first = tokio::select! {
        biased;
        d = reader.next() => d,
        _ = tokio::time::sleep_until(until) => return Gathered::Due,
    };
    let Some(first) = first else {
        return Gathered::Closed;
    };
    reader.taken(&first, first_output);
    let mut events = first.events.len();
    let mut got = vec![first];
    let deadline = tokio::time::Instant::now() + batching.max_wait;
    while events < batching.max_events {
        let next = if batching.max_wait.is_zero() {
            // Only what is already queued: a zero timeout still polls the queue once.
            tokio::time::timeout(std::time::Duration::ZERO, reader.next()).await
        } else {
            tokio::time::timeout_at(deadline, reader.next()).await
        };
        match next {
            Ok(Some(d)) => {
                reader.taken(&d, first_output);
                events += d.events.len();
                got.push(d);
            }
            Ok(None) | Err(_) => break,
        }
    }
    Gathered::Batch(got)
}

/// Drives an output until its queue is closed and drained. A worker that panics is reported to
/// `failures` (which stops the pipeline); its batch is abandoned, not acknowledged. An output with several workers (several
/// requests in flight) gives one instance per worker; they share the queue. `force` is raised when the
/// shutdown timeout expires: batches still being retried are then abandoned (their checkpoints do not
/// move).
pub async fn run_output(
    metrics: ComponentMetrics,
    workers: Vec<Box<dyn Output>>,
    reader: QueueReader,
    first_output: bool,
    force: StopSignal,
    failures: Failures,
) {
    let name = metrics.id().to_string();
    let counters = Counters {
        health: crate::observe::health::component("output", &name, metrics.component_type()),
        events: metrics.sent_events(),
        batches: metrics.counter("output_batches_total"),
        rejected_batches: metrics.counter("output_rejected_batches_total"),
        retries: metrics.counter(RETRIES),
        send_errors: metrics.errors("send_failed", Stage::Sending),
        send_duration: metrics.histogram(SEND_DURATION),
        failure_log: Arc::new(LogThrottle::new(Duration::from_secs(10))),
    };
    let reader = Arc::new(tokio::sync::Mutex::new(reader));
    // One numbering for all workers of the output: a batch id is never seen twice by any of them.
    let batch_ids = Arc::new(AtomicU64::new(1));
    let mut tasks = tokio::task::JoinSet::new();
    for output in workers {
        tasks.spawn(run_worker(
            name.clone(),
            output,
            Arc::clone(&reader),
            Arc::clone(&batch_ids),
            first_output,
            force.clone(),
            counters.clone(),
        ));
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done
            && e.is_panic()
        {
            failures.report(&format!("output `{name}`"), e.into_panic().as_ref());
        }
    }
}

/// A batch the output holds (some of its events wait in the output's retry set): its
/// acknowledgements wait here until the output reports it settled.
struct HeldBatch {
    deliveries: Vec<Delivery>,
    len: usize,
}

async fn run_worker(
    name: String,
    mut output: Box<dyn Output>,
    reader: Arc<tokio::sync::Mutex<QueueReader>>,
    batch_ids: Arc<AtomicU64>,
    first_output: bool,
    force: StopSignal,
    counters: Counters,
) {
    let batching = output.batching();
    let mut held: HashMap<u64, HeldBatch> = HashMap::new();
    let mut closed = false;
    loop {
        for (id, outcome) in output.take_settled() {
            if let Some(h) = held.remove(&id) {
                settle(&counters, h.deliveries, h.len, outcome);
            }
        }
        if closed && held.is_empty() {
            break;
        }
        if force.is_stopped() {
            if !held.is_empty() {
                let events: usize = held.values().map(|h| h.len).sum();
                tracing::warn!(output = %name, events, "shutdown timeout: events still waiting to be sent again are not delivered; they will be read again after restart");
                for _ in held.drain() {
                    counters.health.batch_finished(false);
                }
            }
            break;
        }
        let due = output.next_due().map(tokio::time::Instant::from_std);
        let gathered = if !closed && output.has_room() {
            gather(&reader, batching, first_output, due).await
        } else if let Some(due) = due {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = force.stopped() => continue,
            }
            Gathered::Due
        } else if closed {
            // Held batches without anything due cannot happen; do not spin if they do.
            tracing::warn!(output = %name, batches = held.len(), "held batches with nothing due to send; giving them up");
            break;
        } else {
            // No room and nothing due: wait for the other workers to make room.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = force.stopped() => {}
            }
            continue;
        };
        match gathered {
            Gathered::Closed => closed = true,
            Gathered::Due => {
                tokio::select! {
                    biased;
                    _ = force.stopped() => {}
                    _ = output.send_due() => {}
                }
                report_failure(&name, output.as_mut(), &counters);
            }
            Gathered::Batch(deliveries) => {
                let mut batch = Batch::new(
                    batch_ids.fetch_add(1, Ordering::Relaxed),
                    deliveries.iter().map(|d| Arc::clone(&d.events)).collect(),
                );
                counters.health.batch_started();
                let status =
                    send_until_settled(&name, output.as_mut(), &mut batch, &force, &counters).await;
                report_failure(&name, output.as_mut(), &counters);
                match status {
                    Some(SendOutcome::Held) => {
                        held.insert(
                            batch.id(),
                            HeldBatch {
                                deliveries,
                                len: batch.len(),
                            },
                        );
                    }
                    Some(outcome) => settle(&counters, deliveries, batch.len(), outcome),
                    None => {
                        counters.health.batch_finished(false);
                        tracing::warn!(output = %name, events = batch.len(), "shutdown timeout: batch not delivered; it will be read again after restart");
                        drop(deliveries);
                    }
                }
            }
        }
    }
    if let Err(e) = output.close().await {
        tracing::error!(output = %name, "closing the output failed: {e}");
    }
}

/// Completes the acknowledgements of a batch the output settled and counts it.
fn settle(counters: &Counters, deliveries: Vec<Delivery>, len: usize, outcome: SendOutcome) {
    let (status, refused) = match outcome {
        SendOutcome::Rejected { refused } => {
            counters.rejected_batches.inc();
            (AckStatus::Rejected, refused)
        }
        SendOutcome::Delivered | SendOutcome::Held => (AckStatus::Delivered, 0),
    };
    counters.health.batch_finished(true);
    // Refused (dead-lettered) events are not shipped: they are counted as discarded instead.
    counters.events.add(len.saturating_sub(refused) as u64);
    counters.batches.inc();
    for d in deliveries {
        d.ack.complete(status);
    }
}

/// Reports the failure behind events the output holds for a retry (health, errors, the log at most
/// once per 10 s per output worker).
fn report_failure(name: &str, output: &mut dyn Output, counters: &Counters) {
    let Some(e) = output.take_failure() else {
        return;
    };
    counters.send_errors.inc();
    match &e {
        OutputError::Retryable(msg) => {
            counters.health.failed(msg, false);
            if let Some(held_back) = counters.failure_log.admit() {
                tracing::warn!(output = %name, held_back, "sending failed for some events; they wait for their backoff while new batches keep going: {msg}");
            }
        }
        OutputError::Fatal(msg) => {
            counters.health.failed(msg, true);
            if let Some(held_back) = counters.failure_log.admit() {
                tracing::error!(output = %name, held_back, "sending failed and needs attention; the events are kept and sent again: {msg}");
            }
        }
    }
}

/// Sends a batch until the output settles it (delivered or rejected) or holds it, retrying errors
/// with backoff. `None` when the force signal ends the retries first: the batch is abandoned, not acknowledged. A
/// send in flight then is cancelled where it waits (a request that gets no answer would otherwise
/// hold the shutdown for its whole timeout).
async fn send_until_settled(
    name: &str,
    output: &mut dyn Output,
    batch: &mut Batch,
    force: &StopSignal,
    counters: &Counters,
) -> Option<SendOutcome> {
    let backoff = output.backoff();
    loop {
        if force.is_stopped() {
            return None;
        }
        let started = std::time::Instant::now();
        let sent = tokio::select! {
            biased;
            _ = force.stopped() => return None,
            sent = output.send(batch) => sent,
        };
        counters.send_duration.observe(started.elapsed());
        match sent {
            Ok(outcome) => return Some(outcome),
            Err(e) => {
                let attempt = batch.attempt();
                counters.retries.inc();
                counters.send_errors.inc();
                let wait = backoff.delay(attempt);
                match &e {
                    OutputError::Retryable(msg) => counters.health.failed(msg, false),
                    OutputError::Fatal(msg) => counters.health.failed(msg, true),
                }
                match &e {
                    OutputError::Retryable(msg) => {
                        tracing::warn!(output = %name, attempt, retry_in = ?wait, "sending failed, will retry: {msg}")
                    }
                    OutputError::Fatal(msg) => {
                        tracing::error!(output = %name, attempt, retry_in = ?wait, "sending failed and needs attention: {msg}")
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = force.stopped() => {}
                }
                batch.next_attempt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::observe::component::Kind;
    use crate::outputs::BoxFuture;
    use crate::pipeline::ack::AckRef;

    /// An output with a bug: it panics on every send.
    struct PanickingOutput;

    impl Output for PanickingOutput {
        fn send<'a>(
            &'a mut self,
            _batch: &'a Batch,
        ) -> BoxFuture<'a, Result<SendOutcome, OutputError>> {
            Box::pin(async { panic!("a bug in the output") })
        }
        fn close(&mut self) -> BoxFuture<'_, Result<(), OutputError>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[test]
    fn a_worker_that_panics_is_reported_as_a_failure_of_its_output() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let failures = Failures::default();
        let (writer, mut readers) = crate::pipeline::queue::memory_queue(1, 4);
        let reader = readers.remove(0);
        runtime.block_on(async {
            writer
                .push(vec![Event::from_message("x")], AckRef::detached())
                .await
                .unwrap();
            drop(writer);
            run_output(
                ComponentMetrics::new(Kind::Output, "panicky", "test"),
                vec![Box::new(PanickingOutput), Box::new(PanickingOutput)],
                reader,
                true,
                StopSignal::new(),
                failures.clone(),
            )
            .await;
        });
        assert!(failures.signal().is_stopped());
        let summary = failures.summary().unwrap();
        assert!(
            summary.contains("output `panicky`: a bug in the output"),
            "{summary}"
        );
    }

    #[test]
    fn backoff_stays_within_the_exponential_cap() {
        let b = Backoff {
            init: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for attempt in 1..40 {
            let cap = Duration::from_millis(100)
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(Duration::from_secs(2));
            assert!(b.delay(attempt) <= cap);
        }
    }
}
