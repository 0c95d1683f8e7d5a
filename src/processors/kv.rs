//! `kv`: splits `key=value` pairs.

use super::common::Failure;
use super::{Processor, Verdict};
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::Value;

/// The `kv` processor type.
pub const KIND: ProcessorKind = ProcessorKind::of::<KvConfig>("kv", &[], "splits key=value pairs");

/// `kv:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvConfig {
    /// The field to split (default `message`).
    #[serde(default = "super::common::message_field", alias = "source")]
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
}

impl Kv {
    /// Builds from configuration.
    pub fn build(cfg: &KvConfig, ctx: &ProcessorBuild<'_>) -> Result<Kv, String> {
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
            failure: Failure::new("kv", ctx.scope, cfg.tag_on_failure.clone()),
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
            return Verdict::Failed;
        };
        let mut found = 0;
        for pair in text.split(|c| self.field_split.contains(&c)) {
            let Some((pos, split)) = pair
                .char_indices()
                .find(|(_, c)| self.value_split.contains(c))
            else {
                continue;
            };
            let key = pair[..pos].trim();
            // The separator may take several bytes in UTF-8.
            let value = pair[pos + split.len_utf8()..].trim_matches(|c| self.trim.contains(&c));
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
            Verdict::Failed
        } else {
            Verdict::Keep
        }
    }
}

impl ProcessorConfig for KvConfig {
    fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Kv::build(self, ctx)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kv_splits_pairs_with_filters_and_quotes() {
        let k = Kv::build(
            &serde_json::from_value(json!({"exclude_keys": ["secret"], "target": "kv"})).unwrap(), &ProcessorBuild::standalone())
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

    /// Separators may be any character, of any length in UTF-8 (a full-width colon in CJK logs).
    #[test]
    fn separators_of_several_bytes_split_whole_characters() {
        let k = Kv::build(
            &serde_json::from_value(json!({"field_split": "、", "value_split": "：→"})).unwrap(),
            &ProcessorBuild::standalone(),
        )
        .unwrap();
        let mut e = Event::from_message("用户：张三、状态→好、é：ü");
        assert_eq!(k.process(&mut e), Verdict::Keep);
        assert_eq!(e.get_path("用户"), Some(&json!("张三")));
        assert_eq!(e.get_path("状态"), Some(&json!("好")));
        assert_eq!(e.get_path("é"), Some(&json!("ü")));
    }
}
