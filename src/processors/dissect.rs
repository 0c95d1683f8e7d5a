//! `dissect`: splits text on literal delimiters, with the Logstash/Beats tokenizer syntax: `%{a}`,
//! `%{+a}` (append, with `%{+a/2}` ordering), `%{}` / `%{?a}` (skip), `%{?k}=%{&k}` (key from another field),
//! `%{a->}` (skip repeated delimiters after the field) and `%{a|integer}` conversions.
//!
//! Written here because no maintained crate implements this syntax; it is a small linear scanner.

use super::common::{Conversion, Failure};
use super::{Processor, Verdict};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::Value;
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};

/// The `dissect` processor type.
pub const KIND: ProcessorKind = ProcessorKind::of::<DissectConfig>("dissect", &[], "splits text on literal delimiters");

/// `dissect:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DissectConfig {
    /// The field to split (default `message`).
    #[serde(default = "super::common::message_field")]
    pub field: String,
    /// The tokenizer, e.g. `%{ts} %{+ts} %{level} [%{thread}] %{msg}`.
    #[serde(alias = "tokenizer", alias = "mapping")]
    pub pattern: String,
    /// A prefix for every key written (`dissect` would write `dissect.a`); empty writes at the root.
    #[serde(default)]
    pub target_prefix: String,
    /// The separator used by `%{+a}` appends.
    #[serde(default = "default_append_separator")]
    pub append_separator: String,
    /// Trim spaces around values.
    #[serde(default)]
    pub trim_values: bool,
    /// Tags added when the text does not fit the pattern.
    #[serde(default = "default_failure_tags")]
    pub tag_on_failure: Vec<String>,
}

fn default_append_separator() -> String {
    " ".into()
}
fn default_failure_tags() -> Vec<String> {
    vec!["_dissectfailure".into()]
}

#[derive(Debug, Clone, PartialEq)]
enum KeyKind {
    Normal,
    Skip,
    Append(u32),
    /// `%{?name}`: remembered as a key for `%{&name}`.
    NamedSkip,
    /// `%{&name}`: the value for the key captured by `%{?name}`.
    Reference,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    kind: KeyKind,
    right_pad: bool,
    conversion: Option<Conversion>,
    /// The literal text after this field (empty for the last field: it takes the rest).
    delimiter: String,
}

/// A parsed tokenizer.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    prefix: String,
    fields: Vec<Field>,
}

impl Tokenizer {
    /// Parses the tokenizer syntax; the error says what is wrong.
    pub fn parse(pattern: &str) -> Result<Tokenizer, String> {
        let mut rest = pattern;
        let prefix_end = rest
            .find("%{")
            .ok_or_else(|| format!("the pattern {pattern:?} has no %{{field}}"))?;
        let prefix = rest[..prefix_end].to_string();
        rest = &rest[prefix_end..];
        let mut fields = Vec::new();
        while let Some(body) = rest.strip_prefix("%{") {
            let end = body
                .find('}')
                .ok_or_else(|| format!("a %{{ in {pattern:?} has no closing }}"))?;
            let mut spec = &body[..end];
            rest = &body[end + 1..];
            let right_pad = spec.ends_with("->");
            if right_pad {
                spec = &spec[..spec.len() - 2];
            }
            let (spec, conversion) = match spec.split_once('|') {
                Some((s, c)) => (s, Some(Conversion::from_name(c).ok_or_else(|| format!("unknown conversion |{c} in {pattern:?}: use integer, float, boolean or string"))?)),
                None => (spec, None),
            };
            let (kind, name) = if spec.is_empty() {
                (KeyKind::Skip, String::new())
            } else if let Some(n) = spec.strip_prefix('?') {
                (KeyKind::NamedSkip, n.to_string())
            } else if let Some(n) = spec.strip_prefix('&') {
                (KeyKind::Reference, n.to_string())
            } else if let Some(n) = spec.strip_prefix('+') {
                match n.split_once('/') {
                    Some((name, order)) => {
                        let order = order.parse().map_err(|_| {
                            format!("%{{+{n}}}: the order after / must be a number")
                        })?;
                        (KeyKind::Append(order), name.to_string())
                    }
                    None => (KeyKind::Append(0), n.to_string()),
                }
            } else if let Some(n) = spec.strip_prefix('*') {
                (KeyKind::NamedSkip, n.to_string())
            } else {
                (KeyKind::Normal, spec.to_string())
            };
            let delim_end = rest.find("%{").unwrap_or(rest.len());
            let delimiter = rest[..delim_end].to_string();
            if delimiter.is_empty() && delim_end < rest.len() {
                return Err(format!(
                    "two fields follow each other without a delimiter in {pattern:?}: dissect cannot tell where one ends"
                ));
            }
            rest = &rest[delim_end..];
            fields.push(Field {
                name,
                kind,
                right_pad,
                conversion,
                delimiter,
            });
        }
        Ok(Tokenizer { prefix, fields })
    }

    /// Splits `text`; `None` when it does not fit.
    fn split<'t>(&self, text: &'t str) -> Option<Vec<(&Field, &'t str)>> {
        let mut rest = text.strip_prefix(self.prefix.as_str())?;
        let mut out = Vec::with_capacity(self.fields.len());
        for (i, f) in self.fields.iter().enumerate() {
            let last = i + 1 == self.fields.len();
            if f.delimiter.is_empty() {
                if !last {
                    return None;
                }
                out.push((f, rest));
                rest = "";
                break;
            }
            let pos = rest.find(f.delimiter.as_str())?;
            let mut value = &rest[..pos];
            if f.right_pad {
                // Padding before a delimiter that starts with it (`%{level->} [` over `INFO    [`).
                if let Some(first) = f.delimiter.chars().next() {
                    value = value.trim_end_matches(first);
                }
            }
            out.push((f, value));
            rest = &rest[pos + f.delimiter.len()..];
            if f.right_pad {
                while let Some(r) = rest.strip_prefix(f.delimiter.as_str()) {
                    rest = r;
                }
            }
        }
        // Text left after the last delimiter means the pattern did not describe the whole line.
        if !rest.is_empty() && self.fields.last().is_some_and(|f| !f.delimiter.is_empty()) {
            return None;
        }
        Some(out)
    }
}

/// A built dissect processor.
pub struct Dissect {
    field: FieldPath,
    /// Target paths of the fixed keys, resolved once.
    paths: std::collections::HashMap<String, FieldPath>,
    tokenizer: Tokenizer,
    prefix: String,
    separator: String,
    trim: bool,
    failure: Failure,
}

impl Dissect {
    /// Builds from configuration.
    pub fn build(cfg: &DissectConfig, ctx: &ProcessorBuild<'_>) -> Result<Dissect, String> {
        let tokenizer = Tokenizer::parse(&cfg.pattern)?;
        let mut paths = std::collections::HashMap::new();
        for f in &tokenizer.fields {
            if matches!(f.kind, KeyKind::Normal | KeyKind::Append(_)) && !f.name.is_empty() {
                let full = if cfg.target_prefix.is_empty() {
                    f.name.clone()
                } else {
                    format!("{}.{}", cfg.target_prefix, f.name)
                };
                let path = FieldPath::parse(&full).map_err(|e| format!("dissect key: {e}"))?;
                paths.insert(f.name.clone(), path);
            }
        }
        Ok(Dissect {
            field: FieldPath::parse(&cfg.field).map_err(|e| e.to_string())?,
            paths,
            tokenizer,
            prefix: cfg.target_prefix.clone(),
            separator: cfg.append_separator.clone(),
            trim: cfg.trim_values,
            failure: Failure::new("dissect", ctx.scope, cfg.tag_on_failure.clone()),
        })
    }

    fn key(&self, name: &str) -> Option<FieldPath> {
        let full = if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        };
        FieldPath::parse(&full).ok()
    }
}

impl Processor for Dissect {
    fn name(&self) -> &str {
        "dissect"
    }

    fn process(&self, event: &mut Event) -> Verdict {
        let text = match event.get(&self.field) {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.failure.mark(event);
                return Verdict::Failed;
            }
        };
        let Some(parts) = self.tokenizer.split(&text) else {
            self.failure.mark(event);
            return Verdict::Failed;
        };
        // Values borrow the text; names borrow the tokenizer: nothing is allocated until insertion.
        let mut values: Vec<(&str, String, Option<Conversion>)> = Vec::with_capacity(parts.len());
        let mut appends: Vec<(&str, u32, usize, &str)> = Vec::new();
        let mut ref_keys: Vec<(&str, &str)> = Vec::new();
        let mut ref_values: Vec<(&str, &str)> = Vec::new();
        for (i, (f, raw)) in parts.iter().enumerate() {
            let v = if self.trim { raw.trim() } else { raw };
            match &f.kind {
                KeyKind::Normal => values.push((f.name.as_str(), v.to_string(), f.conversion)),
                KeyKind::Skip => {}
                KeyKind::Append(order) => appends.push((f.name.as_str(), *order, i, v)),
                KeyKind::NamedSkip => ref_keys.push((f.name.as_str(), v)),
                KeyKind::Reference => ref_values.push((f.name.as_str(), v)),
            }
        }
        appends.sort_by_key(|(name, order, pos, _)| (*name, *order, *pos));
        for (name, _, _, v) in appends {
            // A plain %{a} followed by %{+a} appends to it.
            match values.iter_mut().find(|(n, _, _)| *n == name) {
                Some(existing) => {
                    existing.1.push_str(&self.separator);
                    existing.1.push_str(v);
                }
                None => values.push((name, v.to_string(), None)),
            }
        }
        for (name, v, conversion) in values {
            let v = Value::String(v);
            let v = conversion.and_then(|c| c.apply(&v)).unwrap_or(v);
            match self.paths.get(name) {
                Some(path) => {
                    event.insert(path, v);
                }
                None => {
                    if let Some(path) = self.key(name) {
                        event.insert(&path, v);
                    }
                }
            }
        }
        for (name, v) in ref_values {
            if let Some((_, key)) = ref_keys.iter().find(|(n, _)| *n == name)
                && let Some(path) = self.key(key)
            {
                event.insert(&path, Value::String(v.to_string()));
            }
        }
        Verdict::Keep
    }
}

impl ProcessorConfig for DissectConfig {
    fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Dissect::build(self, ctx)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(pattern: &str, text: &str) -> Event {
        let d =
            Dissect::build(&serde_json::from_value(json!({"pattern": pattern})).unwrap(), &ProcessorBuild::standalone()).unwrap();
        let mut e = Event::from_message(text);
        d.process(&mut e);
        e
    }

    #[test]
    fn splits_appends_skips_and_pads() {
        let e = run(
            "%{ts} %{+ts} %{level->} [%{thread}] %{?skip} %{msg}",
            "2024-01-01 10:00:00 INFO    [main] x rest of the line",
        );
        assert_eq!(e.get_path("ts"), Some(&json!("2024-01-01 10:00:00")));
        assert_eq!(e.get_path("level"), Some(&json!("INFO")));
        assert_eq!(e.get_path("thread"), Some(&json!("main")));
        assert_eq!(e.get_path("msg"), Some(&json!("rest of the line")));
        assert!(e.get_path("skip").is_none());
    }

    #[test]
    fn ordered_appends_references_and_conversions() {
        let e = run(
            "%{+name/2} %{+name/1} %{?k}=%{&k} code=%{code|integer}",
            "world hello user=bob code=42",
        );
        assert_eq!(e.get_path("name"), Some(&json!("hello world")));
        assert_eq!(e.get_path("user"), Some(&json!("bob")));
        assert_eq!(e.get_path("code"), Some(&json!(42)));
    }

    #[test]
    fn text_that_does_not_fit_is_tagged() {
        let e = run("[%{a}] %{b}", "no brackets here");
        assert!(e.has_tag("_dissectfailure"));
        let e = run("%{a} %{b}|", "x y");
        assert!(e.has_tag("_dissectfailure"));
        assert!(Tokenizer::parse("%{a}%{b}").is_err());
        assert!(Tokenizer::parse("no fields").is_err());
    }

    #[test]
    fn multibyte_text_splits_on_character_boundaries() {
        let e = run("%{a}→%{b}", "日本語→😀 ok");
        assert_eq!(e.get_path("a"), Some(&json!("日本語")));
        assert_eq!(e.get_path("b"), Some(&json!("😀 ok")));
        let big = "x".repeat(10_000_000);
        let e = run("%{a} %{b}", &big);
        assert!(e.has_tag("_dissectfailure"));
    }
}
