//! What every input adds to its events from the shared options: `input.type`, the configured `fields`
//! (under `fields.` or at the root) and `tags`. One place, so every input decorates the same way.

use super::InputOptions;
use crate::event::{Event, Fields};
use serde_json::Value;

/// The decoration of one input's events, prepared once.
#[derive(Debug, Clone)]
pub struct Decoration {
    input_type: &'static str,
    /// `input: {type: …}`, built once and cloned into each event.
    input_value: Value,
    fields: Option<(bool, Fields)>,
    tags: Vec<String>,
}

impl Decoration {
    /// The decoration for an input of type `input_type` with these options.
    pub fn new(input_type: &'static str, options: &InputOptions) -> Decoration {
        let mut tags: Vec<String> = Vec::new();
        for t in &options.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        Decoration {
            input_type,
            input_value: serde_json::json!({ "type": input_type }),
            fields: (!options.fields.is_empty())
                .then(|| (options.fields_under_root, options.fields.clone())),
            tags,
        }
    }

    /// The input's type (`file`, `evtx`, …).
    pub fn input_type(&self) -> &'static str {
        self.input_type
    }

    /// `{type: …}`, the value of the `input` field.
    pub fn input_value(&self) -> &Value {
        &self.input_value
    }

    /// The configured extra fields and whether they go at the root.
    pub fn fields(&self) -> Option<&(bool, Fields)> {
        self.fields.as_ref()
    }

    /// The configured tags, each once.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// Adds the configured fields to a field map: at the root (replacing what is there) or as `fields`.
    pub fn add_fields(&self, fields: &mut Fields) {
        match &self.fields {
            Some((true, extra)) => {
                for (k, v) in extra {
                    fields.insert(k.clone(), v.clone());
                }
            }
            Some((false, extra)) => {
                fields.insert("fields".into(), Value::Object(extra.clone()));
            }
            None => {}
        }
    }

    /// Decorates an event built by the input: fields, tags, then `input.type`.
    pub fn apply(&self, event: &mut Event) {
        if self.fields.is_some() {
            self.add_fields(event.fields_mut());
        }
        for t in &self.tags {
            event.add_tag(t);
        }
        event
            .fields_mut()
            .insert("input".into(), self.input_value.clone());
    }
}
