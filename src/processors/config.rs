//! Processor configuration: one entry of a `processors:` list is a one-key mapping naming the processor,
//! as in Beats (`- grok: {…}`), and every processor accepts a `when:` (or `if:`) condition.

use super::condition::{Condition, ConditionConfig};
use super::date::{Date, DateConfig};
use super::decode::{Json, JsonConfig, Kv, KvConfig};
use super::dissect::{Dissect, DissectConfig};
use super::grok::{Grok, GrokConfig};
use super::mutate::{Mutate, MutateConfig};
use super::simple::{AddFields, AddFieldsConfig, DropConfig, Fingerprint, FingerprintConfig};
use super::{Chain, Processor, Verdict};
use crate::event::Event;
use serde::Deserialize;
use std::path::Path;

/// One entry of a `processors:` list. (Built once at startup, so the size difference between variants
/// does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorConfig {
    /// Named regular-expression patterns.
    Grok(GrokConfig),
    /// Split on literal delimiters.
    Dissect(DissectConfig),
    /// Parse a time into `@timestamp`.
    Date(DateConfig),
    /// Convert, rename, copy, remove, add, tag, change case, gsub, split, strip, merge.
    Mutate(MutateConfig),
    /// Decode a field holding JSON.
    Json(JsonConfig),
    /// Split key=value pairs.
    Kv(KvConfig),
    /// Remove events (with `when:`).
    #[serde(alias = "drop_event")]
    Drop(DropConfig),
    /// Add constant fields.
    AddFields(AddFieldsConfig),
    /// Hash fields into `@metadata._id`.
    Fingerprint(FingerprintConfig),
}

/// A processor that could not be built from its configuration.
#[derive(Debug, Clone)]
pub struct BuildError {
    /// Position in the list.
    pub index: usize,
    /// Processor kind.
    pub processor: String,
    /// What is wrong.
    pub message: String,
}

/// Runs a processor only when its condition holds.
struct Conditional {
    condition: Condition,
    inner: Box<dyn Processor>,
}

impl Processor for Conditional {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn process(&self, event: &mut Event) -> Verdict {
        if self.condition.matches(event) {
            self.inner.process(event)
        } else {
            Verdict::Keep
        }
    }
}

impl ProcessorConfig {
    /// The processor's name as written in the configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            ProcessorConfig::Grok(_) => "grok",
            ProcessorConfig::Dissect(_) => "dissect",
            ProcessorConfig::Date(_) => "date",
            ProcessorConfig::Mutate(_) => "mutate",
            ProcessorConfig::Json(_) => "json",
            ProcessorConfig::Kv(_) => "kv",
            ProcessorConfig::Drop(_) => "drop",
            ProcessorConfig::AddFields(_) => "add_fields",
            ProcessorConfig::Fingerprint(_) => "fingerprint",
        }
    }

    fn condition(&self) -> Option<&ConditionConfig> {
        match self {
            ProcessorConfig::Grok(c) => c.when.as_ref(),
            ProcessorConfig::Dissect(c) => c.when.as_ref(),
            ProcessorConfig::Date(c) => c.when.as_ref(),
            ProcessorConfig::Mutate(c) => c.when.as_ref(),
            ProcessorConfig::Json(c) => c.when.as_ref(),
            ProcessorConfig::Kv(c) => c.when.as_ref(),
            ProcessorConfig::Drop(c) => c.when.as_ref(),
            ProcessorConfig::AddFields(c) => c.when.as_ref(),
            ProcessorConfig::Fingerprint(c) => c.when.as_ref(),
        }
    }

    /// Builds the processor (with its condition).
    pub fn build(&self, base_dir: &Path) -> Result<Box<dyn Processor>, String> {
        let inner: Box<dyn Processor> = match self {
            ProcessorConfig::Grok(c) => Box::new(Grok::build(c, base_dir)?),
            ProcessorConfig::Dissect(c) => Box::new(Dissect::build(c)?),
            ProcessorConfig::Date(c) => Box::new(Date::build(c)?),
            ProcessorConfig::Mutate(c) => Box::new(Mutate::build(c)?),
            ProcessorConfig::Json(c) => Box::new(Json::build(c)?),
            ProcessorConfig::Kv(c) => Box::new(Kv::build(c)?),
            ProcessorConfig::Drop(_) => Box::new(super::simple::Drop),
            ProcessorConfig::AddFields(c) => Box::new(AddFields::build(c)?),
            ProcessorConfig::Fingerprint(c) => Box::new(Fingerprint::build(c)?),
        };
        Ok(match self.condition() {
            Some(cond) => Box::new(Conditional {
                condition: Condition::build(cond).map_err(|e| format!("when: {e}"))?,
                inner,
            }),
            None => inner,
        })
    }
}

/// Builds the chain for a `processors:` list; every entry that cannot be built is reported.
pub fn build_chain(
    configs: &[ProcessorConfig],
    scope: &str,
    base_dir: &Path,
) -> Result<Chain, Vec<BuildError>> {
    let mut processors = Vec::new();
    let mut errors = Vec::new();
    for (index, cfg) in configs.iter().enumerate() {
        match cfg.build(base_dir) {
            Ok(p) => processors.push(p),
            Err(message) => errors.push(BuildError {
                index,
                processor: cfg.kind().to_string(),
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(Chain::new(processors, scope))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_pipeline_parses_converts_and_routes_exceptions() {
        let configs: Vec<ProcessorConfig> = serde_json::from_value(json!([
            {"grok": {"field": "message", "patterns": ["%{TIMESTAMP_ISO8601:timestamp} %{LOGLEVEL:level} %{GREEDYDATA:log_message}"]}},
            {"date": {"field": "timestamp", "formats": ["ISO8601"]}},
            {"grok": {"field": "log_message", "patterns": ["code=%{NUMBER:response_code}"], "tag_on_failure": []}},
            {"mutate": {"convert": {"response_code": "integer"}, "remove_field": ["message"], "add_tag": ["parsed"]}},
            {"mutate": {"add_tag": ["error_tag"], "when": {"regexp": {"log_message": "Exception"}}}},
            {"drop": {"when": {"equals": {"level": "DEBUG"}}}}
        ]))
        .unwrap();
        let chain = build_chain(&configs, "test", Path::new(".")).unwrap();
        let mut events = vec![
            Event::from_message(
                "2024-05-01T10:00:00Z ERROR java.lang.IllegalStateException code=500",
            ),
            Event::from_message("2024-05-01T10:00:01Z DEBUG noise"),
            Event::from_message("garbage"),
        ];
        chain.run(&mut events);
        assert_eq!(events.len(), 2);
        let e = &events[0];
        assert_eq!(
            e.get_path("@timestamp"),
            Some(&json!("2024-05-01T10:00:00.000Z"))
        );
        assert_eq!(e.get_path("response_code"), Some(&json!(500)));
        assert!(e.get_path("message").is_none());
        assert!(e.has_tag("parsed") && e.has_tag("error_tag"));
        assert!(events[1].has_tag("_grokparsefailure") && events[1].has_tag("_dateparsefailure"));
    }

    #[test]
    fn every_broken_processor_is_reported() {
        let configs: Vec<ProcessorConfig> = serde_json::from_value(json!([
            {"grok": {"patterns": ["%{NOPE:x}"]}},
            {"mutate": {"convert": {"a": "int"}}},
            {"date": {"field": "t", "formats": []}},
            {"mutate": {"when": {"regexp": {"a": "("}}}}
        ]))
        .unwrap();
        let errs = build_chain(&configs, "t", Path::new(".")).err().unwrap();
        assert_eq!(
            errs.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
    }
}
