//! `type: blackhole`: accepts every event and discards it, counting what it got (and, when asked,
//! printing a rate now and then). For measuring inputs and processors without a real destination, and
//! for trying a configuration out. Like Vector's `blackhole` sink.

use super::{Batch, BoxFuture, Output, OutputError, SendOutcome};
use crate::component::{OutputBuild, OutputConfig, OutputKind};
use crate::config::HumanDuration;
use serde::Deserialize;
use std::time::Instant;

/// The `blackhole` output type.
pub const KIND: OutputKind =
    OutputKind::of::<BlackholeOutputConfig>("blackhole", "counts events and discards them");

/// `type: blackhole`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlackholeOutputConfig {
    /// Log how many events arrived, and their rate, this often (`0s`, the default: never).
    #[serde(default = "default_interval")]
    pub print_interval: HumanDuration,
}

fn default_interval() -> HumanDuration {
    HumanDuration::secs(0)
}

impl OutputConfig for BlackholeOutputConfig {
    fn build(&self, ctx: &OutputBuild<'_>) -> anyhow::Result<Vec<Box<dyn Output>>> {
        Ok(vec![Box::new(BlackholeOutput {
            name: ctx.name.to_string(),
            every: self.print_interval,
            since: Instant::now(),
            events: 0,
            bytes: 0,
            total: 0,
        })])
    }
}

struct BlackholeOutput {
    name: String,
    every: HumanDuration,
    since: Instant,
    events: u64,
    bytes: u64,
    total: u64,
}

impl Output for BlackholeOutput {
    fn send<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<SendOutcome, OutputError>> {
        Box::pin(async move {
            self.events += batch.len() as u64;
            self.total += batch.len() as u64;
            if !self.every.get().is_zero() {
                let mut buf = Vec::new();
                for e in batch.iter() {
                    buf.clear();
                    e.write_json(&mut buf);
                    self.bytes += buf.len() as u64 + 1;
                }
                let elapsed = self.since.elapsed();
                if elapsed >= self.every.get() {
                    let secs = elapsed.as_secs_f64().max(1e-9);
                    tracing::info!(output = %self.name, events = self.events, bytes = self.bytes,
                        "{:.0} events/s, {:.1} MB/s", self.events as f64 / secs, self.bytes as f64 / secs / 1e6);
                    self.since = Instant::now();
                    self.events = 0;
                    self.bytes = 0;
                }
            }
            Ok(SendOutcome::Delivered)
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), OutputError>> {
        Box::pin(async {
            tracing::info!(output = %self.name, events = self.total, "blackhole closed");
            Ok(())
        })
    }
}
