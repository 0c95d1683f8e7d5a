//! The options every component of a kind shares, declared once. The loader takes their keys out of an
//! entry before the component's own struct sees it, so no component declares them again.

use super::ProcessorSpec;
use crate::processors::common::OnSuccess;
use crate::processors::condition::ConditionConfig;
use serde::Deserialize;

/// What every input accepts besides its own settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputOptions {
    /// A stable name: it keys the input's checkpoints and labels its metrics. Defaults to a hash of what
    /// the input reads.
    #[serde(default)]
    pub id: Option<String>,
    /// Extra fields added to every event (under `fields.` unless `fields_under_root`).
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Put `fields` at the root of the event.
    #[serde(default)]
    pub fields_under_root: bool,
    /// Tags added to every event.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Processors for this input's events, run before the global ones (read by the loader entry by
    /// entry, so every broken one is reported).
    #[serde(skip)]
    pub processors: Vec<ProcessorSpec>,
}

impl InputOptions {
    /// The keys these options take (`processors` is read separately).
    pub const KEYS: &'static [&'static str] =
        &["id", "fields", "fields_under_root", "tags", "processors"];
}

/// What every output accepts besides its own settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputOptions {
    /// The output's name in metrics, logs, its dead-letter file and its queue cursor. Defaults to
    /// `<type>-<position>`; keep it stable when the disk queue is used (the cursor is kept by name).
    #[serde(default)]
    pub id: Option<String>,
}

impl OutputOptions {
    /// The keys these options take.
    pub const KEYS: &'static [&'static str] = &["id"];
}

/// What every processor accepts besides its own settings: a condition, and actions applied when it
/// succeeds (Logstash's common filter options).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorOptions {
    /// Run the processor only when this condition holds (`if:` is the same).
    #[serde(default, alias = "if")]
    pub when: Option<ConditionConfig>,
    /// Tags added when the processor succeeded (may use `%{field}`).
    #[serde(default)]
    pub add_tag: Vec<String>,
    /// Fields added when it succeeded: name → value (both may use `%{field}`).
    #[serde(default)]
    pub add_field: serde_json::Map<String, serde_json::Value>,
    /// Fields removed when it succeeded (may use `%{field}`).
    #[serde(default)]
    pub remove_field: Vec<String>,
    /// Tags removed when it succeeded.
    #[serde(default)]
    pub remove_tag: Vec<String>,
}

impl ProcessorOptions {
    /// The keys these options take.
    pub const KEYS: &'static [&'static str] = &[
        "when",
        "if",
        "add_tag",
        "add_field",
        "remove_field",
        "remove_tag",
    ];

    /// The actions to apply after a success.
    pub fn on_success(&self) -> OnSuccess {
        OnSuccess::new(
            &self.add_tag,
            &self.add_field,
            &self.remove_field,
            &self.remove_tag,
        )
    }
}
