//! Building configured processors: each `processors:` entry names one processor, Beats-style
//! (`- grok: {…}`), with the options every processor shares (`when:`/`if:`, and `add_tag`, `add_field`,
//! `remove_field`, `remove_tag` applied when it succeeds) read by the loader, and its own settings.

use super::common::OnSuccess;
use super::condition::Condition;
use super::{Chain, Processor, Verdict};
use crate::component::{ProcessorBuild, ProcessorSpec};
use crate::event::Event;
use std::path::Path;

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

/// A processor with its shared options: runs only when its condition holds, and applies the on-success
/// actions when it did its job.
struct Configured {
    condition: Option<Condition>,
    on_success: OnSuccess,
    inner: Box<dyn Processor>,
}

impl Processor for Configured {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn process(&self, event: &mut Event) -> Verdict {
        if let Some(c) = &self.condition
            && !c.matches(event)
        {
            return Verdict::Keep;
        }
        let verdict = self.inner.process(event);
        if verdict == Verdict::Keep {
            self.on_success.apply(event);
        }
        verdict
    }
}

impl ProcessorSpec {
    /// Builds the processor with its condition and on-success actions.
    pub fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        let inner = self.config.build(ctx)?;
        let condition = self
            .options
            .when
            .as_ref()
            .map(Condition::build)
            .transpose()
            .map_err(|e| format!("when: {e}"))?;
        let on_success = self.options.on_success();
        if condition.is_none() && on_success.is_empty() {
            return Ok(inner);
        }
        Ok(Box::new(Configured {
            condition,
            on_success,
            inner,
        }))
    }
}

/// Builds the chain for a `processors:` list; every entry that cannot be built is reported.
pub fn build_chain(
    specs: &[ProcessorSpec],
    scope: &str,
    base_dir: &Path,
) -> Result<Chain, Vec<BuildError>> {
    let ctx = ProcessorBuild { base_dir, scope };
    let mut processors = Vec::new();
    let mut errors = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        match spec.build(&ctx) {
            Ok(p) => processors.push(p),
            Err(message) => errors.push(BuildError {
                index,
                processor: spec.kind.to_string(),
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

/// Reads a `processors:` list given as JSON (`[{"grok": {…}}, …]`) the way the configuration loader reads
/// YAML, for code that builds pipelines without a file (benchmarks, tests).
pub fn from_json(list: &serde_json::Value, base_dir: &Path) -> Result<Vec<ProcessorSpec>, String> {
    let node = crate::config::yaml::Node::from_json(list);
    crate::config::load::processors_from_node(&node, base_dir).map_err(|e| e.to_string())
}

/// Builds one processor from its JSON settings, with the shared options (`when`, `add_tag`, …) too.
pub fn build_from_json(
    kind: &str,
    settings: serde_json::Value,
) -> Result<Box<dyn Processor>, String> {
    let specs = from_json(&serde_json::json!([{ kind: settings }]), Path::new("."))?;
    let spec = specs
        .first()
        .ok_or_else(|| format!("no {kind} processor was read"))?;
    spec.build(&ProcessorBuild {
        base_dir: Path::new("."),
        scope: "test",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_pipeline_parses_converts_and_routes_exceptions() {
        let specs = from_json(
            &json!([
                {"grok": {"field": "message", "patterns": ["%{TIMESTAMP_ISO8601:timestamp} %{LOGLEVEL:level} %{GREEDYDATA:log_message}"]}},
                {"date": {"field": "timestamp", "formats": ["ISO8601"]}},
                {"grok": {"field": "log_message", "patterns": ["code=%{NUMBER:response_code}"], "tag_on_failure": []}},
                {"mutate": {"convert": {"response_code": "integer"}, "remove_field": ["message"], "add_tag": ["parsed"]}},
                {"mutate": {"add_tag": ["error_tag"], "when": {"regexp": {"log_message": "Exception"}}}},
                {"drop": {"when": {"equals": {"level": "DEBUG"}}}}
            ]),
            Path::new("."),
        )
        .unwrap();
        let chain = build_chain(&specs, "test", Path::new(".")).unwrap();
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
    fn on_success_actions_apply_only_when_the_processor_succeeded() {
        let grok = build_from_json(
            "grok",
            json!({"patterns": ["^%{INT:n}$"], "add_tag": ["parsed"], "add_field": {"via": "grok"}}),
        )
        .unwrap();
        let mut ok = Event::from_message("42");
        let mut bad = Event::from_message("x");
        grok.process(&mut ok);
        assert_eq!(grok.process(&mut bad), Verdict::Failed);
        assert!(ok.has_tag("parsed") && ok.get_path("via") == Some(&json!("grok")));
        assert!(!bad.has_tag("parsed") && bad.get_path("via").is_none());
        // Every processor takes them now, `json` and `add_fields` too.
        let json_p =
            build_from_json("json", json!({"field": "payload", "add_tag": ["decoded"]})).unwrap();
        let mut e = Event::new();
        e.set_path("payload", r#"{"a":1}"#);
        json_p.process(&mut e);
        assert!(e.has_tag("decoded"));
    }

    #[test]
    fn every_broken_processor_is_reported() {
        let err = from_json(
            &json!([
                {"grok": {"patterns": ["%{NOPE:x}"]}},
                {"mutate": {"convert": {"a": "int"}}},
                {"date": {"field": "t", "formats": []}},
                {"mutate": {"when": {"regexp": {"a": "("}}}}
            ]),
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!(err.matches("problem(s)").count(), 1, "{err}");
        assert!(err.contains("3 problem(s)"), "{err}");
        assert!(
            err.contains("grok:") && err.contains("date:") && err.contains("when:"),
            "{err}"
        );
    }
}
