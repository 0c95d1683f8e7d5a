//! Outputs: where events leave logward. Each output answers a batch with delivered, rejected (for good,
//! recorded) or an error; the runner owns retries with capped, jittered exponential backoff (like Fluent
//! Bit's engine) so every output gets the same retry behaviour.

pub mod runner;

crate::components! {
    kind: crate::component::OutputKind;
    elasticsearch,
    file,
    console,
    blackhole,
}

use crate::event::Event;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What an output sends at once: one or more queued batches, taken together (events are shared with
/// the other outputs, not copied). The runner numbers each batch and counts its attempts, so an output
/// retrying a batch can tell it from the next one without guessing from its contents or its address.
/// Cloning shares the events: an output that holds a batch's remaining events for a later retry keeps
/// a clone.
#[derive(Clone)]
pub struct Batch {
    parts: Vec<Arc<Vec<Event>>>,
    len: usize,
    id: u64,
    attempt: u32,
}

impl Batch {
    /// Batch number `id` (unique among one output's batches for the life of the process), made of
    /// these parts, on its first attempt.
    pub fn new(id: u64, parts: Vec<Arc<Vec<Event>>>) -> Batch {
        let len = parts.iter().map(|p| p.len()).sum();
        Batch {
            parts,
            len,
            id,
            attempt: 1,
        }
    }

    /// Every event, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.parts.iter().flat_map(|p| p.iter())
    }

    /// The event at position `i`.
    pub fn get(&self, mut i: usize) -> Option<&Event> {
        for p in &self.parts {
            if i < p.len() {
                return p.get(i);
            }
            i -= p.len();
        }
        None
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch's number: the same on every attempt, never reused by the same output.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Which attempt this is: 1 for the first send, one more for each retry.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Counts one more attempt (the runner, before it sends the batch again).
    pub(crate) fn next_attempt(&mut self) {
        self.attempt = self.attempt.saturating_add(1);
    }
}

/// How an output wants its batches: up to `max_events`, waiting at most `max_wait` for more to arrive.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// The most events handed over at once (queued batches are never cut, so one batch may exceed it).
    pub max_events: usize,
    /// How long to wait for more events once the first has arrived (zero: take what is queued now).
    pub max_wait: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            max_events: 4096,
            max_wait: Duration::ZERO,
        }
    }
}

/// A boxed future, so outputs can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a batch ended at an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Every event is accepted (or was already there: duplicates skipped).
    Delivered,
    /// `refused` events were refused for good and recorded (dead letter file, counted); do not retry.
    /// The others were delivered: only they count as sent.
    Rejected {
        /// How many events of the batch were refused.
        refused: usize,
    },
    /// Some events are not settled yet: the output keeps them (its retry set) and sends them again on
    /// its own, when their backoff ends, while it takes new batches. It reports the batch settled later
    /// through [`Output::take_settled`]; until then the batch's acknowledgement waits.
    Held,
}

/// Why an output could not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Worth trying again later (network down, disk full, server busy).
    #[error("{0}")]
    Retryable(String),
    /// Trying again will not help (bad credentials, misconfiguration); the runner stops retrying this
    /// batch only at shutdown, and logs loudly.
    #[error("{0}")]
    Fatal(String),
}

/// One configured output.
pub trait Output: Send {
    /// Writes a batch. Must not return `Delivered` before the events are handed over for good.
    /// The same batch may come again after an error: an output may remember what already got through.
    /// When the shutdown timeout passes, a send still waiting (on the network) is dropped where it
    /// waits and the batch abandoned, unacknowledged: whatever an output does between two waits must
    /// leave it consistent.
    fn send<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<SendOutcome, OutputError>>;
    /// Flushes and closes at shutdown.
    fn close(&mut self) -> BoxFuture<'_, Result<(), OutputError>>;
    /// How batches are gathered for this output.
    fn batching(&self) -> Batching {
        Batching::default()
    }
    /// Retry timing after errors.
    fn backoff(&self) -> runner::Backoff {
        runner::Backoff::default()
    }
    /// Batches answered [`SendOutcome::Held`] earlier that are settled now, by id, with their outcome
    /// (`Delivered` or `Rejected`).
    fn take_settled(&mut self) -> Vec<(u64, SendOutcome)> {
        Vec::new()
    }
    /// When held events are due to be sent again (the earliest), if the output holds any.
    fn next_due(&self) -> Option<std::time::Instant> {
        None
    }
    /// Sends the held events that are due, without a new batch (the queue is empty, closed, or the
    /// output has no room for more).
    fn send_due(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// Whether the output takes a new batch now; false while what it holds is at its bound (the
    /// runner then only sends what is due, and the queue fills: backpressure).
    fn has_room(&self) -> bool {
        true
    }
    /// The last failure behind held events since the previous call (for health and the log); the
    /// events themselves are retried by the output.
    fn take_failure(&mut self) -> Option<OutputError> {
        None
    }
}
