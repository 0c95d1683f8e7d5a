//! `grok`: named patterns over regular expressions, with the Logstash default pattern library built in
//! (from the `grok` crate, compiled with the PCRE2 JIT backend).

use super::common::{Conversion, Failure};
use super::{Processor, Verdict};
use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};
use crate::observe::component::{ComponentMetrics, Kind, Stage};

/// The `grok` processor type.
pub const KIND: ProcessorKind = ProcessorKind::of::<GrokConfig>("grok", &[], "named regular expressions (the Logstash pattern library)");

/// `grok:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrokConfig {
    /// The field to match (default `message`).
    #[serde(default = "super::common::message_field")]
    pub field: String,
    /// Patterns tried in order; the first that matches wins (with `break_on_match`).
    pub patterns: Vec<String>,
    /// Extra named patterns: NAME → regular expression (may use other `%{…}`).
    #[serde(default)]
    pub pattern_definitions: serde_json::Map<String, Value>,
    /// Folders (or files) of pattern files, one `NAME regex` per line, like Logstash's `patterns_dir`.
    #[serde(default)]
    pub patterns_dir: Vec<PathBuf>,
    /// Stop at the first matching pattern (default true); otherwise every matching pattern adds its fields.
    #[serde(default = "super::common::yes")]
    pub break_on_match: bool,
    /// Keep captures that matched an empty string.
    #[serde(default)]
    pub keep_empty_captures: bool,
    /// Tags added when no pattern matches.
    #[serde(default = "default_failure_tags")]
    pub tag_on_failure: Vec<String>,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_grokparsefailure".into()]
}

struct Compiled {
    pattern: grok::Pattern,
    captures: Vec<(String, FieldPath, Option<Conversion>)>,
    limit: super::grok_limit::LimitProbe,
}

/// A built grok processor.
pub struct Grok {
    field: FieldPath,
    patterns: Vec<Compiled>,
    break_on_match: bool,
    keep_empty: bool,
    failure: Failure,
}

/// Reads pattern files: `NAME regex` per line, `#` comments.
fn read_pattern_files(dirs: &[PathBuf], base_dir: &Path) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for dir in dirs {
        let dir = if dir.is_absolute() {
            dir.clone()
        } else {
            base_dir.join(dir)
        };
        let files: Vec<PathBuf> = if dir.is_file() {
            vec![dir.clone()]
        } else {
            let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| format!("patterns_dir {}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            v.sort();
            v
        };
        for file in files {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("pattern file {}: {e}", file.display()))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let Some((name, regex)) = line.split_once(char::is_whitespace) else {
                    return Err(format!(
                        "{}:{}: expected `NAME regex`, found {line:?}",
                        file.display(),
                        n + 1
                    ));
                };
                out.push((name.to_string(), regex.trim().to_string()));
            }
        }
    }
    Ok(out)
}

/// The known pattern name closest to `name`, for error messages.
fn closest_pattern(name: &str, extra: &[(String, String)]) -> Option<String> {
    let known = grok::patterns()
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(extra.iter().map(|(n, _)| n.clone()));
    known
        .map(|k| (strsim::levenshtein(name, &k), k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

impl Grok {
    /// Compiles every pattern; the error names the pattern and what is wrong with it.
    pub fn build(cfg: &GrokConfig, ctx: &ProcessorBuild<'_>) -> Result<Grok, String> {
        let base_dir = ctx.base_dir;
        if cfg.patterns.is_empty() {
            return Err("`patterns` is empty: give at least one pattern".into());
        }
        let mut extra = read_pattern_files(&cfg.patterns_dir, base_dir)?;
        for (name, v) in &cfg.pattern_definitions {
            let regex = v.as_str().ok_or_else(|| {
                format!("pattern_definitions: `{name}` must be a regular expression text")
            })?;
            extra.push((name.clone(), regex.to_string()));
        }
        let mut library = grok::Grok::with_default_patterns();
        for (name, regex) in &extra {
            library.add_pattern(name.clone(), regex.clone());
        }
        let mut patterns = Vec::new();
        let limit_hits = ComponentMetrics::new(Kind::Processor, ctx.scope, "grok")
            .errors("match_limit", Stage::Processing);
        for text in &cfg.patterns {
            let pattern = library.compile(text, true).map_err(|e| match e {
                grok::Error::DefinitionNotFound(name) => {
                    let hint = closest_pattern(&name, &extra).map(|k| format!("; did you mean %{{{k}}}?")).unwrap_or_default();
                    format!("the pattern {text:?} uses %{{{name}}}, which is not a known grok pattern{hint} (define it with pattern_definitions or patterns_dir)")
                }
                other => format!("the pattern {text:?} does not compile: {other}"),
            })?;
            let mut captures = Vec::new();
            for name in pattern.capture_names() {
                let path = FieldPath::parse(name)
                    .map_err(|e| format!("the pattern {text:?} captures into {e}"))?;
                let conversion = match pattern.get_extract(name) {
                    Some(kind) => Some(Conversion::from_name(kind).ok_or_else(|| {
                        format!(
                            "the pattern {text:?} converts `{name}` to {kind:?}; use int or float"
                        )
                    })?),
                    None => None,
                };
                captures.push((name.to_string(), path, conversion));
            }
            let limit = super::grok_limit::LimitProbe::new(text, &pattern, limit_hits.clone());
            patterns.push(Compiled {
                pattern,
                captures,
                limit,
            });
        }
        Ok(Grok {
            field: FieldPath::parse(&cfg.field).map_err(|e| e.to_string())?,
            patterns,
            break_on_match: cfg.break_on_match,
            keep_empty: cfg.keep_empty_captures,
            failure: Failure::new("grok", ctx.scope, cfg.tag_on_failure.clone()),
        })
    }
}

impl Processor for Grok {
    fn name(&self) -> &str {
        "grok"
    }

    fn process(&self, event: &mut Event) -> Verdict {
        let text = match event.get(&self.field) {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.failure.mark(event);
                return Verdict::Failed;
            }
        };
        let mut matched = false;
        for compiled in &self.patterns {
            let started = std::time::Instant::now();
            let Some(m) = compiled.pattern.match_against(&text) else {
                compiled.limit.failed_after(&text, started.elapsed());
                continue;
            };
            matched = true;
            for (name, path, conversion) in &compiled.captures {
                let Some(value) = m.get(name) else { continue };
                if value.is_empty() && !self.keep_empty {
                    continue;
                }
                let v = Value::String(value.to_string());
                let v = match conversion {
                    Some(c) => c.apply(&v).unwrap_or(v),
                    None => v,
                };
                event.insert(path, v);
            }
            if self.break_on_match {
                break;
            }
        }
        if matched {
            Verdict::Keep
        } else {
            self.failure.mark(event);
            Verdict::Failed
        }
    }
}

impl ProcessorConfig for GrokConfig {
    fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Grok::build(self, ctx)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grok(cfg: Value) -> Box<dyn Processor> {
        crate::processors::config::build_from_json("grok", cfg).unwrap()
    }

    #[test]
    fn the_seed_pattern_splits_timestamp_level_and_message() {
        let g = grok(
            json!({"patterns": ["%{TIMESTAMP_ISO8601:timestamp} %{LOGLEVEL:level} %{GREEDYDATA:log_message}"]}),
        );
        let mut e = Event::from_message("2024-05-01T10:00:00.123Z ERROR something broke: code=42");
        g.process(&mut e);
        assert_eq!(
            e.get_path("timestamp"),
            Some(&json!("2024-05-01T10:00:00.123Z"))
        );
        assert_eq!(e.get_path("level"), Some(&json!("ERROR")));
        assert_eq!(
            e.get_path("log_message"),
            Some(&json!("something broke: code=42"))
        );
        assert!(!e.has_tag("_grokparsefailure"));
    }

    #[test]
    fn combined_apache_log_with_conversions_and_nested_names() {
        let g = grok(json!({"patterns": ["%{COMBINEDAPACHELOG}"]}));
        let mut e = Event::from_message(
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08""#,
        );
        g.process(&mut e);
        assert_eq!(e.get_path("clientip"), Some(&json!("127.0.0.1")));
        assert_eq!(e.get_path("response"), Some(&json!("200")));
        assert_eq!(e.get_path("agent"), Some(&json!("\"Mozilla/4.08\"")));
        let g = grok(
            json!({"patterns": ["%{IPORHOST:[source][ip]} %{NUMBER:[http][code]:int} %{NUMBER:took:float}"]}),
        );
        let mut e = Event::from_message("10.0.0.1 404 0.25");
        g.process(&mut e);
        assert_eq!(e.get_path("source.ip"), Some(&json!("10.0.0.1")));
        assert_eq!(e.get_path("http.code"), Some(&json!(404)));
        assert_eq!(e.get_path("took"), Some(&json!(0.25)));
    }

    #[test]
    fn first_matching_pattern_wins_and_failures_are_tagged() {
        let g = grok(
            json!({"patterns": ["^%{INT:n} a$", "^%{WORD:w}", "^%{INT:never}"], "add_tag": ["parsed"]}),
        );
        let mut e = Event::from_message("hello world");
        g.process(&mut e);
        assert_eq!(e.get_path("w"), Some(&json!("hello")));
        assert!(e.get_path("never").is_none() && e.has_tag("parsed"));
        let mut e = Event::from_message("!!!");
        g.process(&mut e);
        assert!(e.has_tag("_grokparsefailure") && !e.has_tag("parsed"));
        let mut e = Event::new();
        g.process(&mut e);
        assert!(e.has_tag("_grokparsefailure"));
    }

    #[test]
    fn custom_definitions_named_captures_and_clear_errors() {
        let g = grok(
            json!({"patterns": ["%{ORDER:order} (?<rest>.*)"], "pattern_definitions": {"ORDER": "ORD-[0-9]+"}}),
        );
        let mut e = Event::from_message("ORD-42 shipped");
        g.process(&mut e);
        assert_eq!(e.get_path("order"), Some(&json!("ORD-42")));
        assert_eq!(e.get_path("rest"), Some(&json!("shipped")));
        let err = Grok::build(
            &serde_json::from_value(json!({"patterns": ["%{TIMESTAMP_ISO8610:t}"]})).unwrap(),
            &ProcessorBuild::standalone(),
        )
        .err()
        .unwrap();
        assert!(err.contains("did you mean %{TIMESTAMP_ISO8601}"), "{err}");
    }

    #[test]
    fn java_stack_trace_and_syslog_patterns_are_built_in() {
        let g = grok(json!({"patterns": ["%{JAVASTACKTRACEPART}"]}));
        let mut e = Event::from_message("  at com.example.Foo.bar(Foo.java:42)");
        g.process(&mut e);
        assert_eq!(e.get_path("class"), Some(&json!("com.example.Foo")));
        assert_eq!(e.get_path("line"), Some(&json!("42")));
        let g = grok(json!({"patterns": ["%{SYSLOGBASE} %{GREEDYDATA:msg}"]}));
        let mut e = Event::from_message(
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure",
        );
        g.process(&mut e);
        assert_eq!(e.get_path("logsource"), Some(&json!("combo")));
        assert_eq!(e.get_path("pid"), Some(&json!("19939")));
    }

    #[test]
    fn a_pattern_that_hits_the_match_limit_is_counted() {
        let scope = "grok-limit-test";
        let g = Grok::build(
            &serde_json::from_value(json!({"patterns": ["^(a+)+$", "^%{WORD:w}"]})).unwrap(),
            &ProcessorBuild {
                base_dir: Path::new("."),
                scope,
            },
        )
        .unwrap();
        let hits = || {
            crate::observe::metrics::sum(
                crate::observe::component::ERRORS,
                &[("component_id", scope), ("error_type", "match_limit")],
            )
        };
        // Exponential backtracking: PCRE2 gives up at its match limit, the next pattern still runs.
        let mut e = Event::from_message(format!("{}!", "a".repeat(40)));
        g.process(&mut e);
        assert_eq!(hits(), 1);
        assert_eq!(e.get_path("w"), Some(&json!("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")));
        // A line the pattern matches, or fails on at once, is no hit.
        let mut e = Event::from_message("aaaa");
        g.process(&mut e);
        let mut e = Event::from_message("b");
        g.process(&mut e);
        assert_eq!(hits(), 1);
    }

    #[test]
    fn hostile_input_never_panics() {
        let g = grok(json!({"patterns": ["%{COMBINEDAPACHELOG}", "%{SYSLOGLINE}"]}));
        for text in [
            String::new(),
            "é".repeat(100_000),
            "\u{0}\u{1}garbage".into(),
            "x".repeat(2_000_000),
        ] {
            let mut e = Event::from_message(text);
            g.process(&mut e);
            assert!(e.has_tag("_grokparsefailure"));
        }
    }
}
