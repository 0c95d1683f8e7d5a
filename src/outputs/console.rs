//! `type: console`: events on standard output, one JSON object per line or pretty-printed.

use super::{Batch, BoxFuture, Output, OutputError, SendOutcome};
use crate::event::Event;
use serde::Deserialize;
use std::io::Write;
use crate::component::{OutputBuild, OutputConfig, OutputKind};

/// The `console` output type.
pub const KIND: OutputKind =
    OutputKind::of::<ConsoleOutputConfig>("console", "standard output or error");

/// `type: console`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleOutputConfig {
    /// `ndjson` (default) or `pretty`.
    #[serde(default)]
    pub codec: ConsoleCodec,
    /// `stdout` (default) or `stderr`.
    #[serde(default)]
    pub target: ConsoleTarget,
}

/// How events are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleCodec {
    /// One compact JSON object per line.
    #[default]
    Ndjson,
    /// Indented JSON, for reading by eye.
    Pretty,
}

/// Which stream to print to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleTarget {
    /// Standard output.
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
}

/// The running console output.
pub struct ConsoleOutput {
    codec: ConsoleCodec,
    target: ConsoleTarget,
    buf: Vec<u8>,
}

impl ConsoleOutput {
    /// A console output as configured.
    pub fn new(cfg: &ConsoleOutputConfig) -> ConsoleOutput {
        ConsoleOutput {
            codec: cfg.codec,
            target: cfg.target,
            buf: Vec::with_capacity(1 << 16),
        }
    }

    fn write_batch<'e>(
        &mut self,
        events: impl IntoIterator<Item = &'e Event>,
    ) -> Result<SendOutcome, OutputError> {
        self.buf.clear();
        for e in events {
            match self.codec {
                ConsoleCodec::Ndjson => e.write_json(&mut self.buf),
                ConsoleCodec::Pretty => {
                    let _ = serde_json::to_writer_pretty(&mut self.buf, e.fields());
                }
            }
            self.buf.push(b'\n');
        }
        let result = match self.target {
            ConsoleTarget::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&self.buf).and_then(|_| out.flush())
            }
            ConsoleTarget::Stderr => std::io::stderr().lock().write_all(&self.buf),
        };
        result.map_err(|e| OutputError::Retryable(format!("cannot write to the console: {e}")))?;
        Ok(SendOutcome::Delivered)
    }
}

impl Output for ConsoleOutput {
    fn send<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<SendOutcome, OutputError>> {
        Box::pin(async move { tokio::task::block_in_place(|| self.write_batch(batch.iter())) })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), OutputError>> {
        Box::pin(async { Ok(()) })
    }
}

impl OutputConfig for ConsoleOutputConfig {
    fn build(&self, _ctx: &OutputBuild<'_>) -> anyhow::Result<Vec<Box<dyn Output>>> {
        Ok(vec![Box::new(ConsoleOutput::new(self))])
    }
}
