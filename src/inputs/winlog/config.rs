//! `type: winlog` — the live Windows Event Log input's settings.

use crate::component::{InputBuild, InputConfig, InputKind, Validator};
use crate::config::HumanDuration;
use crate::inputs::windows_event::filter::WinEventFilter;
use serde::Deserialize;

/// `type: winlog`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinlogInputConfig {
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

/// The `winlog` input type.
pub const KIND: InputKind = InputKind::of::<WinlogInputConfig>(
    "winlog",
    "follows live Windows Event Log channels (Windows only)",
);

impl InputConfig for WinlogInputConfig {
    /// Stable for the same `channels`.
    fn default_id(&self) -> String {
        crate::component::hashed_id("winlog", &self.channels)
    }

    fn validate(&mut self, v: &mut Validator<'_>) {
        if !cfg!(windows) {
            v.error_entry(
                "the winlog input reads the live Windows Event Log and works only on Windows; to read exported .evtx files use `type: evtx`",
            );
        }
        if self.channels.is_empty() {
            v.error(
                "channels",
                "`channels` is empty: name at least one, e.g. [Application, System, Security]",
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.channels.iter().enumerate() {
            if c.trim().is_empty() || c.contains(['<', '>', '"', '\'']) {
                v.error_at_item("channels", i, format!("{c:?} is not a channel name"));
            }
            if !seen.insert(c.to_ascii_lowercase()) {
                v.error_at_item("channels", i, format!("the channel {c:?} is listed twice"));
            }
        }
        if let Err(e) = WinEventFilter::new(&self.event_ids, &self.levels, &self.providers) {
            v.error("event_ids", e);
        }
        if let Some(x) = &self.xpath
            && x.trim().is_empty()
        {
            v.error("xpath", "`xpath` is empty");
        }
        if self.batch_size == 0 || self.batch_size > 1024 {
            v.error(
                "batch_size",
                format!("{} is out of range: use 1 to 1024", self.batch_size),
            );
        }
    }

    fn build(&self, _ctx: &InputBuild<'_>) -> anyhow::Result<Box<dyn crate::inputs::Input>> {
        Ok(Box::new(super::WinlogInput::new(self.clone())))
    }
}
