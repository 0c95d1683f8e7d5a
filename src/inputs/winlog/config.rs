//! `type: winlog` — the live Windows Event Log input's settings.

use crate::config::HumanDuration;
use crate::inputs::evtx::filter::WinEventFilter;
use crate::processors::config::ProcessorConfig;
use serde::Deserialize;
use serde_json::Value;

/// `type: winlog`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinlogInputConfig {
    /// A stable name (keys the saved bookmarks). Defaults to a hash of `channels`.
    #[serde(default)]
    pub id: Option<String>,
    /// Channels to follow: `Application`, `System`, `Security`, `ForwardedEvents`,
    /// `Microsoft-Windows-Sysmon/Operational`, …
    pub channels: Vec<String>,
    /// Where to begin when there is no saved bookmark yet: `oldest` (default: everything the log still
    /// holds) or `newest` (only events from now on). With a bookmark, reading always resumes after it;
    /// `bookmark` is accepted as a synonym of the default.
    #[serde(default)]
    pub start_at: StartAt,
    /// A raw XPath filter (`*[System[EventID=4624]]`) or a whole `<QueryList>`; replaces the filters below
    /// in the query sent to Windows (they still apply to what comes back).
    #[serde(default)]
    pub xpath: Option<String>,
    /// Event ids to keep: `4624`, ranges `4700-4800`, exclusions `-4688`.
    #[serde(default)]
    pub event_ids: Vec<String>,
    /// Levels to keep (critical, error, warning, information, verbose).
    #[serde(default)]
    pub levels: Vec<String>,
    /// Providers to keep.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Skip events older than this (on the first run and after a gap).
    #[serde(default)]
    pub ignore_older: Option<HumanDuration>,
    /// Also keep the event's XML in `event.original`.
    #[serde(default)]
    pub include_xml: bool,
    /// Events fetched per call (EvtNext).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Extra fields (under `fields.` unless `fields_under_root`).
    #[serde(default)]
    pub fields: serde_json::Map<String, Value>,
    /// Put `fields` at the root.
    #[serde(default)]
    pub fields_under_root: bool,
    /// Tags added to every event.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Processors for this input's events.
    #[serde(default)]
    pub processors: Vec<ProcessorConfig>,
}

/// Where a channel without a saved bookmark begins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Everything the log holds.
    #[default]
    #[serde(alias = "bookmark")]
    Oldest,
    /// Events from now on.
    Newest,
}

fn default_batch_size() -> usize {
    100
}

/// The default id of a winlog input.
pub fn default_id(channels: &[String]) -> String {
    format!(
        "winlog-{:08x}",
        xxhash_rust::xxh3::xxh3_64(channels.join("\n").as_bytes()) as u32
    )
}

/// Checks the settings; returns problems as (key, message).
pub fn validate(cfg: &WinlogInputConfig) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    if !cfg!(windows) {
        errors.push((
            "type",
            "the winlog input reads the live Windows Event Log and works only on Windows; to read exported .evtx files use `type: evtx`".to_string(),
        ));
    }
    if cfg.channels.is_empty() {
        errors.push((
            "channels",
            "`channels` is empty: name at least one, e.g. [Application, System, Security]".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &cfg.channels {
        if c.trim().is_empty() || c.contains(['<', '>', '"', '\'']) {
            errors.push(("channels", format!("{c:?} is not a channel name")));
        }
        if !seen.insert(c.to_ascii_lowercase()) {
            errors.push(("channels", format!("the channel {c:?} is listed twice")));
        }
    }
    if let Err(e) = WinEventFilter::new(&cfg.event_ids, &cfg.levels, &cfg.providers) {
        errors.push(("event_ids", e));
    }
    if let Some(x) = &cfg.xpath
        && x.trim().is_empty()
    {
        errors.push(("xpath", "`xpath` is empty".into()));
    }
    if cfg.batch_size == 0 || cfg.batch_size > 1024 {
        errors.push((
            "batch_size",
            format!("{} is out of range: use 1 to 1024", cfg.batch_size),
        ));
    }
    errors
}
