//! Configuration of the `file` input (the shape Filebeat's filestream users know).

use crate::config::{ByteSize, HumanDuration};
use serde::Deserialize;

/// `type: file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileInputConfig {
    /// Glob patterns (`*`, `?`, `[abc]`, `**` for any depth) of files to read.
    pub paths: Vec<String>,
    /// Glob patterns of files to skip even though `paths` matches them.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Where to start in a file seen for the first time.
    #[serde(default)]
    pub start_position: StartPosition,
    /// Files not modified for longer than this are not opened (their registry entry is kept).
    #[serde(default)]
    pub ignore_older: Option<HumanDuration>,
    /// A file that has not changed for this long is closed; it is reopened when it changes.
    #[serde(default = "default_close_inactive")]
    pub close_inactive: HumanDuration,
    /// How often the globs are evaluated again to find new files.
    #[serde(default = "default_scan_frequency")]
    pub scan_frequency: HumanDuration,
    /// Lines longer than this are truncated (the rest is skipped) and tagged `truncated`.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: ByteSize,
    /// How many leading bytes identify a file (its fingerprint).
    #[serde(default = "default_fingerprint_bytes")]
    pub fingerprint_bytes: ByteSize,
    /// Join continuation lines (stack traces) into one event.
    #[serde(default)]
    pub multiline: Option<MultilineConfig>,
    /// Decode each line as JSON.
    #[serde(default)]
    pub json: Option<JsonConfig>,
    /// At most this many files are held open at once; the others wait their turn. Unset: half of what
    /// the descriptor limit leaves after a reserve for outputs, the registry and the runtime.
    #[serde(default)]
    pub max_open_files: Option<usize>,
    /// The registry entry of a file that no longer exists is dropped once it has been gone this long
    /// (long enough for a rotated file to be compressed and its `.gz` recognised); `0s` keeps entries.
    #[serde(default = "default_clean_removed")]
    pub clean_removed: HumanDuration,
}

/// Descriptors kept for everything but the input's open files.
const DESCRIPTOR_RESERVE: u64 = 128;

impl FileInputConfig {
    /// `max_open_files`, or the default derived from the process's descriptor limit.
    pub fn open_files_limit(&self) -> usize {
        self.max_open_files
            .unwrap_or_else(|| {
                let soft = soft_descriptor_limit().unwrap_or(1024);
                (soft.saturating_sub(DESCRIPTOR_RESERVE) / 2).clamp(16, 4096) as usize
            })
            .max(1)
    }
}

/// The soft limit on open descriptors (`ulimit -n`), read from `/proc/self/limits`.
#[cfg(target_os = "linux")]
pub fn soft_descriptor_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Elsewhere (Windows has no small per-process handle limit) the usual Unix default is assumed.
#[cfg(not(target_os = "linux"))]
pub fn soft_descriptor_limit() -> Option<u64> {
    None
}

/// Where to start reading a file logward has never seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPosition {
    /// From the first byte.
    #[default]
    Beginning,
    /// From the current end (only new lines).
    End,
}

/// Multiline joining, with Filebeat's `pattern` / `negate` / `match` semantics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultilineConfig {
    /// A regular expression tested against every line.
    pub pattern: String,
    /// Invert the test: lines that do NOT match are the continuation lines.
    #[serde(default)]
    pub negate: bool,
    /// Whether continuation lines belong to the line `before` them... see [`MultilineMatch`].
    #[serde(rename = "match")]
    pub match_: MultilineMatch,
    /// A line matching this regular expression ends its event (it is the event's last line).
    #[serde(default)]
    pub flush_pattern: Option<String>,
    /// At most this many lines per event; further lines are dropped from the event and it is tagged.
    #[serde(default = "default_max_lines")]
    pub max_lines: usize,
    /// An unfinished event is sent after this long without a new line.
    #[serde(default = "default_flush_timeout")]
    pub timeout: HumanDuration,
}

/// Filebeat's `multiline.match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultilineMatch {
    /// A line that matches (after `negate`) is appended to the previous line(s): stack traces with
    /// `pattern: '^\s'` or `negate: true` + a timestamp pattern.
    After,
    /// A line that matches (after `negate`) is prepended to the next line: lines ending in `\`.
    Before,
    /// Consecutive lines whose first capture group of `pattern` is the same text are joined: the records
    /// of one auditd event (`pattern: 'msg=audit\(([^)]*)\)'`). A line without a match is an event of its
    /// own; `negate` does not apply.
    Key,
}

/// JSON decoding of each line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonConfig {
    /// Put decoded keys at the root of the event instead of under `json`.
    #[serde(default)]
    pub keys_under_root: bool,
    /// On malformed JSON, keep the raw line as `message` and add `error.message` / `error.type`.
    #[serde(default = "default_true")]
    pub add_error_key: bool,
    /// Decoded keys replace the fields logward sets itself (`@timestamp`, `message`, …).
    #[serde(default)]
    pub overwrite_keys: bool,
    /// The decoded key that holds the log text; it becomes `message`.
    #[serde(default)]
    pub message_key: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_close_inactive() -> HumanDuration {
    HumanDuration::secs(300)
}
fn default_scan_frequency() -> HumanDuration {
    HumanDuration::secs(2)
}
fn default_max_line_bytes() -> ByteSize {
    ByteSize(1024 * 1024)
}
fn default_fingerprint_bytes() -> ByteSize {
    ByteSize(1024)
}
fn default_clean_removed() -> HumanDuration {
    HumanDuration::secs(3600)
}
fn default_max_lines() -> usize {
    500
}
fn default_flush_timeout() -> HumanDuration {
    HumanDuration::secs(5)
}
