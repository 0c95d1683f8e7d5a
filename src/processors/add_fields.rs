//! `add_fields`: adds constant fields.

use super::{Processor, Verdict};
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The `add_fields` processor type.
pub const KIND: ProcessorKind =
    ProcessorKind::of::<AddFieldsConfig>("add_fields", &[], "adds constant fields");

/// `add_fields:` — adds fields under `target` (Beats' default `fields`; empty for the root).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddFieldsConfig {
    /// The object the fields go into (`""` for the root).
    #[serde(default = "default_target")]
    pub target: String,
    /// The fields.
    pub fields: Map<String, Value>,
}

fn default_target() -> String {
    "fields".into()
}

/// The add_fields processor.
pub struct AddFields {
    fields: Vec<(FieldPath, Value)>,
}

impl AddFields {
    /// Builds from configuration.
    pub fn build(cfg: &AddFieldsConfig) -> Result<AddFields, String> {
        let fields = cfg
            .fields
            .iter()
            .map(|(k, v)| {
                let name = if cfg.target.is_empty() {
                    k.clone()
                } else {
                    format!("{}.{k}", cfg.target)
                };
                Ok((
                    FieldPath::parse(&name).map_err(|e| e.to_string())?,
                    v.clone(),
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(AddFields { fields })
    }
}

impl Processor for AddFields {
    fn name(&self) -> &str {
        "add_fields"
    }
    fn process(&self, event: &mut Event) -> Verdict {
        for (p, v) in &self.fields {
            event.insert(p, v.clone());
        }
        Verdict::Keep
    }
}

impl ProcessorConfig for AddFieldsConfig {
    fn build(&self, _ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(AddFields::build(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn add_fields_under_target_or_root() {
        let a =
            AddFields::build(&serde_json::from_value(json!({"fields": {"env": "prod"}})).unwrap())
                .unwrap();
        let mut e = Event::new();
        a.process(&mut e);
        assert_eq!(e.get_path("fields.env"), Some(&json!("prod")));
        let a = AddFields::build(
            &serde_json::from_value(json!({"target": "", "fields": {"env": "prod"}})).unwrap(),
        )
        .unwrap();
        a.process(&mut e);
        assert_eq!(e.get_path("env"), Some(&json!("prod")));
    }
}
