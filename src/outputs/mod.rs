//! Outputs: where events leave logward. Each output answers a batch with delivered, rejected (for good,
//! recorded) or an error; the runner owns retries with capped, jittered exponential backoff (like Fluent
//! Bit's engine) so every output gets the same retry behaviour.

pub mod console;
pub mod file;
pub mod runner;

use crate::event::Event;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so outputs can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a batch ended at an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Every event is accepted (or was already there: duplicates skipped).
    Delivered,
    /// Some events were refused for good and recorded (dead letter file, counted); do not retry.
    Rejected,
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
    fn send<'a>(
        &'a mut self,
        events: &'a [Event],
    ) -> BoxFuture<'a, Result<SendOutcome, OutputError>>;
    /// Flushes and closes at shutdown.
    fn close(&mut self) -> BoxFuture<'_, Result<(), OutputError>>;
}
