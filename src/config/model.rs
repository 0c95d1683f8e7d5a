//! The configuration model: what a `logward.yml` can say.

use super::{ByteSize, HumanDuration};
use crate::component::{InputSpec, OutputSpec, ProcessorSpec};
use serde::Deserialize;
use std::path::PathBuf;

/// A whole configuration, validated and with paths resolved against the config file's folder.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where logward keeps its registry, queue and own logs.
    pub data_dir: PathBuf,
    /// The folder relative paths in the file are resolved against.
    pub base_dir: PathBuf,
    /// Where the configuration came from (for messages).
    pub source: String,
    /// Inputs, in order.
    pub inputs: Vec<InputSpec>,
    /// Processors for every event, after each input's own.
    pub processors: Vec<ProcessorSpec>,
    /// The queue between processors and outputs.
    pub queue: QueueConfig,
    /// Outputs, in order.
    pub outputs: Vec<OutputSpec>,
    /// logward's own logs.
    pub logging: LoggingConfig,
    /// How long a graceful stop may take to drain events and save checkpoints.
    pub shutdown_timeout: HumanDuration,
    /// How often a progress line is printed (`0s` turns it off).
    pub progress_interval: HumanDuration,
    /// Threads of the async runtime that runs outputs and network inputs.
    pub worker_threads: usize,
    /// The operator HTTP API (`http:`); off when absent.
    pub http: Option<crate::observe::http::HttpConfig>,
    /// Alert rules and notifiers (`alerts:`); none when absent.
    pub alerts: Option<crate::alerts::AlertsConfig>,
}

/// The default number of async worker threads: one per core, at least 2 (so one slow request never
/// holds up the others), at most 8.
pub fn default_worker_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
}

/// `queue:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// `memory` (default) or `disk`.
    #[serde(rename = "type", default)]
    pub kind: QueueKind,
    /// The most events held in memory between processors and outputs; inputs wait when it is reached.
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    /// The largest batch handed to an output at once.
    #[serde(default = "default_batch_events")]
    pub batch_events: usize,
    /// Disk queue: the most bytes on disk before inputs wait (default 1GiB).
    #[serde(default)]
    pub max_size: Option<ByteSize>,
    /// Disk queue: its folder (default `<data_dir>/queue`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Disk queue: `group` (default: one fsync for the batches that arrived together) or `batch` (one
    /// fsync per batch). Either way an input is acknowledged only after its batch is fsynced.
    #[serde(default)]
    pub fsync: crate::pipeline::disk::FsyncPolicy,
    /// Disk queue: segment files are rolled at this size (default 64MiB, at most a quarter of `max_size`).
    #[serde(default)]
    pub segment_size: Option<ByteSize>,
}

impl QueueConfig {
    /// The disk queue's folder for a data folder.
    pub fn disk_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.path.clone().unwrap_or_else(|| data_dir.join("queue"))
    }

    /// The disk queue's settings.
    pub fn disk_settings(
        &self,
        data_dir: &std::path::Path,
    ) -> crate::pipeline::disk::DiskQueueSettings {
        let max_size = self.max_size.map_or(1 << 30, |s| s.get()).max(1 << 20);
        let segment_size = self
            .segment_size
            .map_or((64 << 20).min(max_size / 4), |s| s.get())
            .max(64 << 10);
        crate::pipeline::disk::DiskQueueSettings {
            dir: self.disk_dir(data_dir),
            max_size,
            segment_size,
            fsync: self.fsync,
            cache_events: self.max_events.max(self.batch_events) * 2,
            pending_batches: (self.max_events / self.batch_events.max(1)).max(2),
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            kind: QueueKind::Memory,
            max_events: default_max_events(),
            batch_events: default_batch_events(),
            max_size: None,
            path: None,
            fsync: Default::default(),
            segment_size: None,
        }
    }
}

/// The kind of queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// Bounded, in memory; inputs' checkpoints move when every output accepted the events.
    #[default]
    Memory,
    /// Segment files on disk; inputs' checkpoints move when the events are fsynced.
    Disk,
}

fn default_max_events() -> usize {
    4096
}
fn default_batch_events() -> usize {
    1024
}

/// `logging:` — logward's own log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// `error`, `warn`, `info`, `debug` or `trace` (or a tracing filter like `logward=debug`).
    #[serde(default = "default_level")]
    pub level: String,
    /// `text` or `json`.
    #[serde(default)]
    pub format: LogFormat,
    /// Also write to `<data_dir>/logs/logward.log`, rotated daily.
    #[serde(default = "default_true")]
    pub to_file: bool,
    /// How many rotated log files to keep.
    #[serde(default = "default_keep_files")]
    pub keep_files: usize,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: default_level(),
            format: LogFormat::Text,
            to_file: true,
            keep_files: default_keep_files(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

fn default_level() -> String {
    "info".into()
}
fn default_true() -> bool {
    true
}
fn default_keep_files() -> usize {
    7
}
