//! `json`: decodes a field holding JSON text.

use super::common::Failure;
use super::{Processor, Verdict};
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::Value;

/// The `json` processor type.
pub const KIND: ProcessorKind =
    ProcessorKind::of::<JsonConfig>("json", &[], "decodes a field holding JSON");
/// `json:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonConfig {
    /// The field holding JSON text (default `message`).
    #[serde(default = "super::common::message_field", alias = "source")]
    pub field: String,
    /// Where the decoded object goes; absent: its keys go to the root.
    #[serde(default)]
    pub target: Option<String>,
    /// Decoded keys replace existing fields of the same name (default true).
    #[serde(default = "super::common::yes")]
    pub overwrite_keys: bool,
    /// Tags added when the text is not JSON.
    #[serde(default = "default_failure_tags")]
    pub tag_on_failure: Vec<String>,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_jsonparsefailure".into()]
}

/// A built json processor.
pub struct Json {
    field: FieldPath,
    target: Option<FieldPath>,
    overwrite: bool,
    failure: Failure,
}

impl Json {
    /// Builds from configuration.
    pub fn build(cfg: &JsonConfig, ctx: &ProcessorBuild<'_>) -> Result<Json, String> {
        Ok(Json {
            field: FieldPath::parse(&cfg.field).map_err(|e| e.to_string())?,
            target: cfg
                .target
                .as_deref()
                .map(FieldPath::parse)
                .transpose()
                .map_err(|e| e.to_string())?,
            overwrite: cfg.overwrite_keys,
            failure: Failure::new("json", ctx.scope, cfg.tag_on_failure.clone()),
        })
    }
}

impl Processor for Json {
    fn name(&self) -> &str {
        "json"
    }

    fn process(&self, event: &mut Event) -> Verdict {
        let decoded = match event.get(&self.field) {
            Some(Value::String(s)) => crate::util::json_read::from_str(s).ok(),
            _ => None,
        };
        match (decoded, &self.target) {
            (Some(v), Some(target)) => {
                event.insert(target, v);
            }
            (Some(Value::Object(map)), None) => {
                for (k, v) in map {
                    let fields = event.fields_mut();
                    if self.overwrite || !fields.contains_key(&k) {
                        fields.insert(k, v);
                    }
                }
            }
            _ => {
                self.failure.mark(event);
                return Verdict::Failed;
            }
        }
        Verdict::Keep
    }
}

impl ProcessorConfig for JsonConfig {
    fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Json::build(self, ctx)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_decodes_to_root_or_target_and_tags_failures() {
        let j = Json::build(&serde_json::from_value(json!({"field": "payload"})).unwrap(), &ProcessorBuild::standalone()).unwrap();
        let mut e = Event::new();
        e.set_path("payload", r#"{"user":"bob","n":1}"#);
        j.process(&mut e);
        assert_eq!(e.get_path("user"), Some(&json!("bob")));
        let j = Json::build(
            &serde_json::from_value(json!({"field": "payload", "target": "doc"})).unwrap(), &ProcessorBuild::standalone())
        .unwrap();
        j.process(&mut e);
        assert_eq!(e.get_path("doc.n"), Some(&json!(1)));
        e.set_path("payload", "{broken");
        j.process(&mut e);
        assert!(e.has_tag("_jsonparsefailure"));
    }
}
