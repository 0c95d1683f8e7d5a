//! `fingerprint`: a stable hash of chosen fields, used as the document id.

use super::{Processor, Verdict};
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::Value;

/// The `fingerprint` processor type.
pub const KIND: ProcessorKind = ProcessorKind::of::<FingerprintConfig>(
    "fingerprint",
    &[],
    "hashes fields into the document id",
);

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

impl ProcessorConfig for FingerprintConfig {
    fn build(&self, _ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Fingerprint::build(self)?))
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
}
