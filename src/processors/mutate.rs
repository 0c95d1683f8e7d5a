//! `mutate`: field surgery as Logstash's mutate filter does it, applied in Logstash's order: rename, copy,
//! convert, gsub, lowercase, uppercase, strip, split, merge, then add_field, add_tag, remove_field,
//! remove_tag.

use super::common::{Conversion, Failure};
use super::{Processor, Verdict};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::{Map, Value};
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};

/// The `mutate` processor type.
pub const KIND: ProcessorKind = ProcessorKind::of::<MutateConfig>("mutate", &[], "converts, renames, copies, changes case, splits, merges");

/// `mutate:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutateConfig {
    /// old name → new name.
    #[serde(default)]
    pub rename: Map<String, Value>,
    /// source → destination (the source stays).
    #[serde(default)]
    pub copy: Map<String, Value>,
    /// field → `integer` | `float` | `boolean` | `string`.
    #[serde(default)]
    pub convert: Map<String, Value>,
    /// `[field, regex, replacement, field, regex, replacement, …]`, as in Logstash.
    #[serde(default)]
    pub gsub: Vec<String>,
    /// Fields to lowercase.
    #[serde(default)]
    pub lowercase: Vec<String>,
    /// Fields to uppercase.
    #[serde(default)]
    pub uppercase: Vec<String>,
    /// Fields to trim.
    #[serde(default)]
    pub strip: Vec<String>,
    /// field → separator: text becomes a list.
    #[serde(default)]
    pub split: Map<String, Value>,
    /// destination → source: the source's values are appended to the destination (made a list).
    #[serde(default)]
    pub merge: Map<String, Value>,
    /// Tags added when a conversion or rename fails.
    #[serde(default = "default_failure_tags")]
    pub tag_on_failure: Vec<String>,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_mutate_error".into()]
}

/// A built mutate processor.
pub struct Mutate {
    rename: Vec<(FieldPath, FieldPath)>,
    copy: Vec<(FieldPath, FieldPath)>,
    convert: Vec<(FieldPath, Conversion)>,
    gsub: Vec<(FieldPath, regex::Regex, String)>,
    lowercase: Vec<FieldPath>,
    uppercase: Vec<FieldPath>,
    strip: Vec<FieldPath>,
    split: Vec<(FieldPath, String)>,
    merge: Vec<(FieldPath, FieldPath)>,
    failure: Failure,
}

fn p(name: &str) -> Result<FieldPath, String> {
    FieldPath::parse(name).map_err(|e| e.to_string())
}

fn pairs(map: &Map<String, Value>, what: &str) -> Result<Vec<(FieldPath, FieldPath)>, String> {
    map.iter()
        .map(|(k, v)| {
            let to = v
                .as_str()
                .ok_or_else(|| format!("{what}: the target of `{k}` must be a field name"))?;
            Ok((p(k)?, p(to)?))
        })
        .collect()
}

fn paths(list: &[String]) -> Result<Vec<FieldPath>, String> {
    list.iter().map(|s| p(s)).collect()
}

impl Mutate {
    /// Builds from configuration; bad regexes, conversions and field names are reported.
    pub fn build(cfg: &MutateConfig, ctx: &ProcessorBuild<'_>) -> Result<Mutate, String> {
        if !cfg.gsub.len().is_multiple_of(3) {
            return Err(format!(
                "gsub needs triples [field, regex, replacement, …]; it has {} items",
                cfg.gsub.len()
            ));
        }
        let gsub = cfg
            .gsub
            .chunks(3)
            .map(|c| {
                let re = regex::Regex::new(&c[1]).map_err(|e| {
                    format!(
                        "gsub: the pattern {:?} for `{}` is not valid: {e}",
                        c[1], c[0]
                    )
                })?;
                // Logstash uses \1 for groups; the regex crate uses ${1}.
                let replacement = convert_backrefs(&c[2]);
                Ok((p(&c[0])?, re, replacement))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let convert = cfg
            .convert
            .iter()
            .map(|(k, v)| {
                let name = v.as_str().unwrap_or_default();
                let c = Conversion::from_name(name).ok_or_else(|| {
                    format!(
                        "convert: `{k}` → {v} is not a type; use integer, float, boolean or string"
                    )
                })?;
                Ok((p(k)?, c))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let split = cfg
            .split
            .iter()
            .map(|(k, v)| {
                Ok((
                    p(k)?,
                    v.as_str()
                        .ok_or_else(|| format!("split: the separator of `{k}` must be text"))?
                        .to_string(),
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Mutate {
            rename: pairs(&cfg.rename, "rename")?,
            copy: pairs(&cfg.copy, "copy")?,
            convert,
            gsub,
            lowercase: paths(&cfg.lowercase)?,
            uppercase: paths(&cfg.uppercase)?,
            strip: paths(&cfg.strip)?,
            split,
            merge: pairs(&cfg.merge, "merge")?,
            failure: Failure::new("mutate", ctx.scope, cfg.tag_on_failure.clone()),
        })
    }
}

fn convert_backrefs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(char::is_ascii_digit) {
            let d = chars.next().unwrap_or('0');
            out.push_str(&format!("${{{d}}}"));
        } else if c == '$' {
            out.push('$');
            if chars.peek() != Some(&'{') && !chars.peek().is_some_and(char::is_ascii_digit) {
                out.push('$');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn map_strings(v: &mut Value, f: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|i| map_strings(i, f)),
        _ => {}
    }
}

impl Processor for Mutate {
    fn name(&self) -> &str {
        "mutate"
    }

    fn process(&self, event: &mut Event) -> Verdict {
        let mut failed = false;
        for (from, to) in &self.rename {
            if let Some(v) = event.remove(from) {
                event.insert(to, v);
            }
        }
        for (from, to) in &self.copy {
            if let Some(v) = event.get(from).cloned() {
                event.insert(to, v);
            }
        }
        for (field, conversion) in &self.convert {
            if let Some(v) = event.get_mut(field) {
                match conversion.apply(v) {
                    Some(new) => *v = new,
                    None => failed = true,
                }
            }
        }
        for (field, re, replacement) in &self.gsub {
            if let Some(v) = event.get_mut(field) {
                map_strings(v, &|s| re.replace_all(s, replacement.as_str()).into_owned());
            }
        }
        for field in &self.lowercase {
            if let Some(v) = event.get_mut(field) {
                map_strings(v, &|s| s.to_lowercase());
            }
        }
        for field in &self.uppercase {
            if let Some(v) = event.get_mut(field) {
                map_strings(v, &|s| s.to_uppercase());
            }
        }
        for field in &self.strip {
            if let Some(v) = event.get_mut(field) {
                map_strings(v, &|s| s.trim().to_string());
            }
        }
        for (field, sep) in &self.split {
            if let Some(v) = event.get_mut(field)
                && let Value::String(s) = v
            {
                let parts = s
                    .split(sep.as_str())
                    .map(|x| Value::String(x.to_string()))
                    .collect();
                *v = Value::Array(parts);
            }
        }
        for (dest, src) in &self.merge {
            let Some(src_value) = event.get(src).cloned() else {
                continue;
            };
            let add: Vec<Value> = match src_value {
                Value::Array(a) => a,
                other => vec![other],
            };
            match event.get_mut(dest) {
                Some(Value::Array(list)) => list.extend(add),
                Some(existing) => {
                    let old = std::mem::take(existing);
                    let mut list = vec![old];
                    list.extend(add);
                    *existing = Value::Array(list);
                }
                None => {
                    event.insert(dest, Value::Array(add));
                }
            }
        }
        if failed {
            self.failure.mark(event);
        }
        // A failed conversion is tagged, but the other operations and the on-success actions still apply,
        // as they always have for mutate.
        Verdict::Keep
    }
}

impl ProcessorConfig for MutateConfig {
    fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Mutate::build(self, ctx)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(cfg: Value, e: &mut Event) {
        crate::processors::config::build_from_json("mutate", cfg)
            .unwrap()
            .process(e);
    }

    #[test]
    fn the_seed_example_converts_removes_and_tags() {
        let mut e = Event::from_message("raw");
        e.set_path("response_code", "404");
        run(
            json!({"convert": {"response_code": "integer"}, "remove_field": ["message"], "add_tag": ["parsed"]}),
            &mut e,
        );
        assert_eq!(e.get_path("response_code"), Some(&json!(404)));
        assert!(e.get_path("message").is_none());
        assert!(e.has_tag("parsed"));
    }

    #[test]
    fn rename_copy_case_strip_split_merge_gsub() {
        let mut e = Event::new();
        e.set_path("a", " Hello World ");
        e.set_path("list", "x,y");
        e.set_path("path", "/a/b\\c");
        e.set_path("one", "1");
        run(
            json!({
                "rename": {"a": "b.c"}, "copy": {"b.c": "d"}, "strip": ["b.c"], "lowercase": ["b.c"], "uppercase": ["d"],
                "split": {"list": ","}, "merge": {"list": "one"}, "gsub": ["path", "[\\\\/]", "_", "d", "(\\w+) (\\w+)", "\\2-\\1"],
                "add_field": {"svc": "%{[b][c]}!"}
            }),
            &mut e,
        );
        assert_eq!(e.get_path("b.c"), Some(&json!("hello world")));
        assert!(e.get_path("a").is_none());
        assert_eq!(e.get_path("d"), Some(&json!(" WORLD-HELLO ")));
        assert_eq!(e.get_path("list"), Some(&json!(["x", "y", "1"])));
        assert_eq!(e.get_path("path"), Some(&json!("_a_b_c")));
        assert_eq!(e.get_path("svc"), Some(&json!("hello world!")));
    }

    #[test]
    fn failed_conversions_are_tagged_not_dropped() {
        let mut e = Event::new();
        e.set_path("n", "not a number");
        run(json!({"convert": {"n": "integer"}}), &mut e);
        assert_eq!(e.get_path("n"), Some(&json!("not a number")));
        assert!(e.has_tag("_mutate_error"));
        assert!(
            Mutate::build(&serde_json::from_value(json!({"convert": {"n": "complex"}})).unwrap(), &ProcessorBuild::standalone())
                .is_err()
        );
        assert!(
            Mutate::build(
                &serde_json::from_value(json!({"gsub": ["a", "("]})).unwrap(),
                &ProcessorBuild::standalone()
            )
            .is_err()
        );
    }
}
