//! Pieces every processor shares: `%{[field]}` interpolation, value conversion, failure tagging and the
//! actions applied when a processor succeeds (`add_tag`, `add_field`, `remove_field`, `remove_tag`).

use crate::event::{Event, FieldPath};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::Counter;
use serde::Deserialize;
use serde_json::Value;

/// Replaces `%{[a][b]}` / `%{a.b}` with the field's value (text as is, other values as JSON). A reference to a
/// missing field is left as written, as Logstash does, so the problem stays visible.
pub fn interpolate(template: &str, event: &Event) -> String {
    if !template.contains("%{") {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("%{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        // `[a][b]` contains `]` before the closing `}`; a plain `a.b` does not.
        let inner = &after[..end];
        let value = FieldPath::parse(inner).ok().and_then(|p| event.get(&p));
        match value {
            Some(Value::String(s)) => out.push_str(s),
            Some(v) => out.push_str(&v.to_string()),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Target types for conversions (`mutate.convert`, `%{NUMBER:x:int}`, dissect `|integer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conversion {
    /// A whole number (`integer`, `int`, `long`).
    #[serde(alias = "int", alias = "long")]
    Integer,
    /// A floating-point number (`float`, `double`).
    #[serde(alias = "double")]
    Float,
    /// `true`/`false` (also yes/no, 1/0, on/off).
    #[serde(alias = "bool")]
    Boolean,
    /// Text.
    String,
}

impl Conversion {
    /// Parses a conversion name as written in a grok or dissect pattern.
    pub fn from_name(name: &str) -> Option<Conversion> {
        match name {
            "int" | "integer" | "long" => Some(Conversion::Integer),
            "float" | "double" => Some(Conversion::Float),
            "bool" | "boolean" => Some(Conversion::Boolean),
            "string" | "keyword" => Some(Conversion::String),
            _ => None,
        }
    }

    /// Converts a value; `None` when it cannot be converted (the caller tags the event).
    pub fn apply(self, v: &Value) -> Option<Value> {
        match (self, v) {
            (Conversion::String, Value::String(_)) => Some(v.clone()),
            (Conversion::String, other) => Some(Value::String(other.to_string())),
            (Conversion::Integer, Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
                .map(Value::from),
            (Conversion::Integer, Value::String(s)) => {
                let t = s.trim();
                t.parse::<i64>()
                    .ok()
                    .or_else(|| {
                        t.parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite())
                            .map(|f| f.trunc() as i64)
                    })
                    .map(Value::from)
            }
            (Conversion::Integer, Value::Bool(b)) => Some(Value::from(i64::from(*b))),
            (Conversion::Float, Value::Number(n)) => n
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            (Conversion::Float, Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            (Conversion::Boolean, Value::Bool(_)) => Some(v.clone()),
            (Conversion::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str()
            {
                "true" | "t" | "yes" | "y" | "1" | "on" => Some(Value::Bool(true)),
                "false" | "f" | "no" | "n" | "0" | "off" => Some(Value::Bool(false)),
                _ => None,
            },
            (Conversion::Boolean, Value::Number(n)) => n.as_f64().map(|f| Value::Bool(f != 0.0)),
            (_, Value::Array(items)) => items
                .iter()
                .map(|i| self.apply(i))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            _ => None,
        }
    }
}

/// The default field a processor reads: `message`.
pub fn message_field() -> String {
    crate::event::MESSAGE.into()
}

/// A serde default of `true`.
pub fn yes() -> bool {
    true
}

/// Counts and tags a processor's failures.
pub struct Failure {
    tags: Vec<String>,
    counter: Counter,
}

impl Failure {
    /// `tags` are added on failure (e.g. `_grokparsefailure`); counted as
    /// `component_errors_total{error_type="failed"}` of the processor in its chain (`scope`).
    pub fn new(processor: &'static str, scope: &str, tags: Vec<String>) -> Failure {
        Failure {
            tags,
            counter: ComponentMetrics::new(Kind::Processor, scope, processor)
                .errors("failed", Stage::Processing),
        }
    }

    /// Records one failure on `event`.
    pub fn mark(&self, event: &mut Event) {
        self.counter.inc();
        for t in &self.tags {
            event.add_tag(t);
        }
    }
}

/// `add_tag`, `add_field`, `remove_field`, `remove_tag`: applied when the processor succeeded.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnSuccessConfig {
    /// Tags to add (may use `%{field}`).
    #[serde(default)]
    pub add_tag: Vec<String>,
    /// Fields to add: name → value (both may use `%{field}`).
    #[serde(default)]
    pub add_field: serde_json::Map<String, Value>,
    /// Fields to remove (may use `%{field}`).
    #[serde(default)]
    pub remove_field: Vec<String>,
    /// Tags to remove.
    #[serde(default)]
    pub remove_tag: Vec<String>,
}

/// The built form of [`OnSuccessConfig`].
#[derive(Debug, Default, Clone)]
pub struct OnSuccess {
    add_tag: Vec<String>,
    add_field: Vec<(String, Value)>,
    remove_field: Vec<String>,
    remove_tag: Vec<String>,
}

impl OnSuccess {
    /// From the four lists.
    pub fn new(
        add_tag: &[String],
        add_field: &serde_json::Map<String, Value>,
        remove_field: &[String],
        remove_tag: &[String],
    ) -> OnSuccess {
        OnSuccess {
            add_tag: add_tag.to_vec(),
            add_field: add_field
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            remove_field: remove_field.to_vec(),
            remove_tag: remove_tag.to_vec(),
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.add_tag.is_empty()
            && self.add_field.is_empty()
            && self.remove_field.is_empty()
            && self.remove_tag.is_empty()
    }

    /// Applies the actions in Logstash's order: add fields, add tags, remove fields, remove tags.
    pub fn apply(&self, event: &mut Event) {
        for (name, value) in &self.add_field {
            let name = interpolate(name, event);
            let value = match value {
                Value::String(s) => Value::String(interpolate(s, event)),
                other => other.clone(),
            };
            if let Ok(path) = FieldPath::parse(&name) {
                // Adding to an existing field makes it a list, as Logstash does.
                match event.get_mut(&path) {
                    Some(Value::Array(list)) => list.push(value),
                    Some(existing) => {
                        let old = std::mem::take(existing);
                        *existing = Value::Array(vec![old, value]);
                    }
                    None => {
                        event.insert(&path, value);
                    }
                }
            }
        }
        for tag in &self.add_tag {
            let tag = interpolate(tag, event);
            event.add_tag(&tag);
        }
        for name in &self.remove_field {
            let name = interpolate(name, event);
            if let Ok(path) = FieldPath::parse(&name) {
                event.remove(&path);
            }
        }
        for tag in &self.remove_tag {
            let tag = interpolate(tag, event);
            event.remove_tag(&tag);
        }
    }
}

/// Accepts a single value or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A list.
    Many(Vec<T>),
    /// A single value.
    One(T),
}

impl<T: Clone> OneOrMany<T> {
    /// As a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::Many(v) => v.clone(),
            OneOrMany::One(v) => vec![v.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interpolation_reads_fields_and_leaves_missing_ones() {
        let mut e = Event::new();
        e.set_path("service", "auth");
        e.set_path("http.code", 404);
        assert_eq!(
            interpolate("%{[service]}-%{http.code} %{[nope]}", &e),
            "auth-404 %{[nope]}"
        );
        assert_eq!(interpolate("no refs", &e), "no refs");
        assert_eq!(interpolate("broken %{x", &e), "broken %{x");
    }

    #[test]
    fn conversions_follow_logstash() {
        assert_eq!(Conversion::Integer.apply(&json!("200")), Some(json!(200)));
        assert_eq!(Conversion::Integer.apply(&json!("3.9")), Some(json!(3)));
        assert_eq!(Conversion::Float.apply(&json!("1.5")), Some(json!(1.5)));
        assert_eq!(Conversion::Boolean.apply(&json!("yes")), Some(json!(true)));
        assert_eq!(Conversion::String.apply(&json!(7)), Some(json!("7")));
        assert_eq!(Conversion::Integer.apply(&json!("x")), None);
        assert_eq!(
            Conversion::Integer.apply(&json!(["1", "2"])),
            Some(json!([1, 2]))
        );
    }
}
