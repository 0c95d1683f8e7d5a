//! Runs one output: takes batches from its queue, sends them, retries failures with backoff, and settles
//! each batch's acknowledgement.

use super::{Output, OutputError, SendOutcome};
use crate::observe::metrics::{self, Counter};
use crate::pipeline::ack::AckStatus;
use crate::pipeline::queue::QueueReader;
use crate::pipeline::shutdown::StopSignal;
use std::time::Duration;

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

struct Counters {
    events: Counter,
    batches: Counter,
    rejected_batches: Counter,
    retries: Counter,
}

/// Drives `output` until its queue is closed and drained. `force` is raised when the shutdown timeout
/// expires: batches still being retried are then abandoned (their checkpoints do not move).
pub async fn run_output(
    name: String,
    mut output: Box<dyn Output>,
    mut reader: QueueReader,
    first_output: bool,
    backoff: Backoff,
    force: StopSignal,
) {
    let counters = Counters {
        events: metrics::counter("output_events_total", &[("output", &name)]),
        batches: metrics::counter("output_batches_total", &[("output", &name)]),
        rejected_batches: metrics::counter("output_rejected_batches_total", &[("output", &name)]),
        retries: metrics::counter("output_retries_total", &[("output", &name)]),
    };
    while let Some(delivery) = reader.next().await {
        reader.taken(&delivery, first_output);
        let mut attempt = 0u32;
        let status = loop {
            if force.is_stopped() {
                break None;
            }
            match output.send(&delivery.events).await {
                Ok(SendOutcome::Delivered) => break Some(AckStatus::Delivered),
                Ok(SendOutcome::Rejected) => {
                    counters.rejected_batches.inc();
                    break Some(AckStatus::Rejected);
                }
                Err(e) => {
                    attempt += 1;
                    counters.retries.inc();
                    let wait = backoff.delay(attempt);
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
                }
            }
        };
        match status {
            Some(s) => {
                counters.events.add(delivery.events.len() as u64);
                counters.batches.inc();
                delivery.ack.complete(s);
            }
            None => {
                tracing::warn!(output = %name, events = delivery.events.len(), "shutdown timeout: batch not delivered; it will be read again after restart");
                drop(delivery);
            }
        }
    }
    if let Err(e) = output.close().await {
        tracing::error!(output = %name, "closing the output failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
