//! Small processors: `drop`, `add_fields`, `fingerprint`.

use super::{Processor, Verdict};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `drop:` — removes the event (use it with `when:`). Counted by the chain.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropConfig {
    /// Drop only when this condition holds (without it, every event is dropped).
    #[serde(default, alias = "if")]
    pub when: Option<super::condition::ConditionConfig>,
}

/// The drop processor.
pub struct Drop;

impl Processor for Drop {
    fn name(&self) -> &str {
        "drop"
    }
    fn process(&self, _event: &mut Event) -> Verdict {
        Verdict::Drop
    }
}

/// `add_fields:` — adds fields under `target` (Beats' default `fields`; empty for the root).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddFieldsConfig {
    /// The object the fields go into (`""` for the root).
    #[serde(default = "default_target")]
    pub target: String,
    /// The fields.
    pub fields: Map<String, Value>,
    /// Run only when this condition holds.
    #[serde(default, alias = "if")]
    pub when: Option<super::condition::ConditionConfig>,
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

/// `fingerprint:` — a stable hash of chosen fields, by default into `@metadata._id`, so that outputs use it
/// as the document id and resends overwrite instead of duplicating.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintConfig {
    /// The fields hashed, in this order (missing fields count as empty).
    pub fields: Vec<String>,
    /// Where the hash goes.
    #[serde(default = "default_fp_target")]
    pub target: String,
    /// `xxhash` (XXH3-128, the default and only method; fast and collision-resistant enough for ids).
    #[serde(default = "default_method")]
    pub method: String,
    /// Run only when this condition holds.
    #[serde(default, alias = "if")]
    pub when: Option<super::condition::ConditionConfig>,
}

fn default_fp_target() -> String {
    "@metadata._id".into()
}
fn default_method() -> String {
    "xxhash".into()
}

/// The fingerprint processor.
pub struct Fingerprint {
    fields: Vec<FieldPath>,
    target: FieldPath,
}

impl Fingerprint {
    /// Builds from configuration.
    pub fn build(cfg: &FingerprintConfig) -> Result<Fingerprint, String> {
        if cfg.method != "xxhash" {
            return Err(format!(
                "fingerprint method {:?} is not supported; use xxhash",
                cfg.method
            ));
        }
        if cfg.fields.is_empty() {
            return Err("fingerprint needs at least one field in `fields`".into());
        }
        Ok(Fingerprint {
            fields: cfg
                .fields
                .iter()
                .map(|f| FieldPath::parse(f).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?,
            target: FieldPath::parse(&cfg.target).map_err(|e| e.to_string())?,
        })
    }
}

impl Processor for Fingerprint {
    fn name(&self) -> &str {
        "fingerprint"
    }
    fn process(&self, event: &mut Event) -> Verdict {
        let mut buf = Vec::with_capacity(256);
        for p in &self.fields {
            buf.extend_from_slice(p.as_str().as_bytes());
            buf.push(0);
            match event.get(p) {
                Some(Value::String(s)) => buf.extend_from_slice(s.as_bytes()),
                Some(v) => crate::util::json_write::write_value(&mut buf, v),
                None => {}
            }
            buf.push(0xff);
        }
        let hash = xxhash_rust::xxh3::xxh3_128(&buf);
        event.insert(&self.target, Value::String(format!("{hash:032x}")));
        Verdict::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprint_is_stable_and_field_sensitive() {
        let f = Fingerprint::build(&serde_json::from_value(json!({"fields": ["a", "b"]})).unwrap())
            .unwrap();
        let mut e1 = Event::new();
        e1.set_path("a", "x");
        e1.set_path("b", 1);
        let mut e2 = e1.clone();
        f.process(&mut e1);
        f.process(&mut e2);
        assert_eq!(e1.get_path("@metadata._id"), e2.get_path("@metadata._id"));
        assert!(e1.fields().get("@metadata").is_none());
        let mut e3 = Event::new();
        e3.set_path("a", "x1");
        f.process(&mut e3);
        assert_ne!(e1.get_path("@metadata._id"), e3.get_path("@metadata._id"));
    }

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
