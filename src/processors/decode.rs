//! `json` (decode a field holding JSON text) and `kv` (split `key=value` pairs).

use super::common::{Failure, OnSuccess};
use super::{Processor, Verdict};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `json:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonConfig {
    /// The field holding JSON text (default `message`).
    #[serde(default = "default_field", alias = "source")]
    pub field: String,
    /// Where the decoded object goes; absent: its keys go to the root.
    #[serde(default)]
    pub target: Option<String>,
    /// Decoded keys replace existing fields of the same name (default true).
    #[serde(default = "default_true")]
    pub overwrite_keys: bool,
    /// Tags added when the text is not JSON.
    #[serde(default = "default_failure_tags")]
    pub tag_on_failure: Vec<String>,
    /// Run only when this condition holds.
    #[serde(default, alias = "if")]
    pub when: Option<super::condition::ConditionConfig>,
}

fn default_field() -> String {
    "message".into()
}
fn default_true() -> bool {
    true
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
    pub fn build(cfg: &JsonConfig) -> Result<Json, String> {
        Ok(Json {
            field: FieldPath::parse(&cfg.field).map_err(|e| e.to_string())?,
            target: cfg
                .target
                .as_deref()
                .map(FieldPath::parse)
                .transpose()
                .map_err(|e| e.to_string())?,
            overwrite: cfg.overwrite_keys,
            failure: Failure::new("json", cfg.tag_on_failure.clone()),
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
            _ => self.failure.mark(event),
        }
        Verdict::Keep
    }
}

/// `kv:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvConfig {
    /// The field to split (default `message`).
    #[serde(default = "default_field", alias = "source")]
    pub field: String,
    /// Separators between pairs (any of these characters; default space).
    #[serde(default = "default_field_split")]
    pub field_split: String,
    /// Separators between key and value (any of these characters; default `=`).
    #[serde(default = "default_value_split")]
    pub value_split: String,
    /// Where the pairs go; absent: the root.
    #[serde(default)]
    pub target: Option<String>,
    /// A prefix for every key.
    #[serde(default)]
    pub prefix: String,
    /// Only these keys (empty: all).
    #[serde(default)]
    pub include_keys: Vec<String>,
    /// Never these keys.
    #[serde(default)]
    pub exclude_keys: Vec<String>,
    /// Characters trimmed from both ends of values (default quotes).
    #[serde(default = "default_trim")]
    pub trim_value: String,
    /// Tags added when no pair is found.
    #[serde(default = "default_kv_failure_tags")]
    pub tag_on_failure: Vec<String>,
    /// Tags added on success.
    #[serde(default)]
    pub add_tag: Vec<String>,
    /// Fields added on success.
    #[serde(default)]
    pub add_field: Map<String, Value>,
    /// Fields removed on success.
    #[serde(default)]
    pub remove_field: Vec<String>,
    /// Tags removed on success.
    #[serde(default)]
    pub remove_tag: Vec<String>,
    /// Run only when this condition holds.
    #[serde(default, alias = "if")]
    pub when: Option<super::condition::ConditionConfig>,
}

fn default_field_split() -> String {
    " ".into()
}
fn default_value_split() -> String {
    "=".into()
}
fn default_trim() -> String {
    "\"'".into()
}
fn default_kv_failure_tags() -> Vec<String> {
    vec!["_kvparsefailure".into()]
}

/// A built kv processor.
pub struct Kv {
    field: FieldPath,
    field_split: Vec<char>,
    value_split: Vec<char>,
    target: Option<String>,
    prefix: String,
    include: Vec<String>,
    exclude: Vec<String>,
    trim: Vec<char>,
    failure: Failure,
    on_success: OnSuccess,
}

impl Kv {
    /// Builds from configuration.
    pub fn build(cfg: &KvConfig) -> Result<Kv, String> {
        if cfg.field_split.is_empty() || cfg.value_split.is_empty() {
            return Err("field_split and value_split must not be empty".into());
        }
        Ok(Kv {
            field: FieldPath::parse(&cfg.field).map_err(|e| e.to_string())?,
            field_split: cfg.field_split.chars().collect(),
            value_split: cfg.value_split.chars().collect(),
            target: cfg.target.clone(),
            prefix: cfg.prefix.clone(),
            include: cfg.include_keys.clone(),
            exclude: cfg.exclude_keys.clone(),
            trim: cfg.trim_value.chars().collect(),
            failure: Failure::new("kv", cfg.tag_on_failure.clone()),
            on_success: OnSuccess::new(
                &cfg.add_tag,
                &cfg.add_field,
                &cfg.remove_field,
                &cfg.remove_tag,
            ),
        })
    }
}

impl Processor for Kv {
    fn name(&self) -> &str {
        "kv"
    }

    fn process(&self, event: &mut Event) -> Verdict {
        let Some(Value::String(text)) = event.get(&self.field).cloned() else {
            self.failure.mark(event);
            return Verdict::Keep;
        };
        let mut found = 0;
        for pair in text.split(|c| self.field_split.contains(&c)) {
            let Some(pos) = pair.find(|c| self.value_split.contains(&c)) else {
                continue;
            };
            let key = pair[..pos].trim();
            let value = pair[pos + 1..].trim_matches(|c| self.trim.contains(&c));
            if key.is_empty()
                || (!self.include.is_empty() && !self.include.iter().any(|k| k == key))
                || self.exclude.iter().any(|k| k == key)
            {
                continue;
            }
            let name = format!("{}{key}", self.prefix);
            let full = match &self.target {
                Some(t) => format!("{t}.{name}"),
                None => name,
            };
            if let Ok(path) = FieldPath::parse(&full) {
                event.insert(&path, Value::String(value.to_string()));
                found += 1;
            }
        }
        if found == 0 {
            self.failure.mark(event);
        } else {
            self.on_success.apply(event);
        }
        Verdict::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_decodes_to_root_or_target_and_tags_failures() {
        let j = Json::build(&serde_json::from_value(json!({"field": "payload"})).unwrap()).unwrap();
        let mut e = Event::new();
        e.set_path("payload", r#"{"user":"bob","n":1}"#);
        j.process(&mut e);
        assert_eq!(e.get_path("user"), Some(&json!("bob")));
        let j = Json::build(
            &serde_json::from_value(json!({"field": "payload", "target": "doc"})).unwrap(),
        )
        .unwrap();
        j.process(&mut e);
        assert_eq!(e.get_path("doc.n"), Some(&json!(1)));
        e.set_path("payload", "{broken");
        j.process(&mut e);
        assert!(e.has_tag("_jsonparsefailure"));
    }

    #[test]
    fn kv_splits_pairs_with_filters_and_quotes() {
        let k = Kv::build(
            &serde_json::from_value(json!({"exclude_keys": ["secret"], "target": "kv"})).unwrap(),
        )
        .unwrap();
        let mut e = Event::from_message(r#"user=bob status="ok" secret=x noise"#);
        k.process(&mut e);
        assert_eq!(e.get_path("kv.user"), Some(&json!("bob")));
        assert_eq!(e.get_path("kv.status"), Some(&json!("ok")));
        assert!(e.get_path("kv.secret").is_none());
        let mut e = Event::from_message("nothing here");
        k.process(&mut e);
        assert!(e.has_tag("_kvparsefailure"));
    }
}
