//! Turning a line (or joined lines) into an event with the ECS fields Filebeat users expect, decoding
//! JSON when asked, and flagging what was wrong with the line instead of dropping it.

use super::config::{FileInputConfig, JsonConfig};
use crate::event::{Event, Fields, MESSAGE, Origin, TAGS, TIMESTAMP};
use crate::observe::metrics::{self, Counter};
use serde_json::{Value, json};
use std::sync::Arc;

/// Everything about a file's events that does not change from line to line.
pub struct EventTemplate {
    /// `input: {type: file}`, built once and cloned into each event.
    input_value: Value,
    /// `host: {name: …}`, built once and cloned into each event.
    host_value: Value,
    json: Option<JsonConfig>,
    fields: Option<(bool, Fields)>,
    tags: Vec<String>,
    invalid_utf8: Counter,
    truncated: Counter,
    json_errors: Counter,
}

/// One stream's constant part: the path and the registry identity of the file.
pub struct FileStream {
    /// `log.file`: `{path: …}`, built once per file.
    file: Value,
    /// The stream id: input id + file id.
    pub source: Arc<str>,
}

impl FileStream {
    /// The constant part of the events of the file at `path` known to the registry as `source`.
    pub fn new(path: &str, source: String) -> FileStream {
        FileStream {
            file: json!({ "path": path }),
            source: source.into(),
        }
    }
}

impl EventTemplate {
    /// The template for an input.
    pub fn new(input_id: &str, cfg: &FileInputConfig, host_name: String) -> EventTemplate {
        let fields = (!cfg.fields.is_empty()).then(|| (cfg.fields_under_root, cfg.fields.clone()));
        EventTemplate {
            input_value: json!({"type": "file"}),
            host_value: json!({"name": host_name}),
            json: cfg.json.clone(),
            fields,
            tags: cfg.tags.clone(),
            invalid_utf8: metrics::counter(
                "input_invalid_utf8_lines_total",
                &[("input", input_id)],
            ),
            truncated: metrics::counter("input_truncated_lines_total", &[("input", input_id)]),
            json_errors: metrics::counter("input_json_errors_total", &[("input", input_id)]),
        }
    }

    /// Builds the event for one line that started at `offset`.
    pub fn event(
        &self,
        stream: &FileStream,
        bytes: &[u8],
        offset: u64,
        truncated: bool,
        timestamp: &str,
    ) -> Event {
        let (text, invalid) = match std::str::from_utf8(bytes) {
            Ok(s) => (std::borrow::Cow::Borrowed(s), false),
            Err(_) => (String::from_utf8_lossy(bytes), true),
        };
        let mut fields = Fields::new();
        let mut tags: Vec<&str> = Vec::new();
        let mut decoded: Option<Fields> = None;
        let mut error: Option<String> = None;
        if let Some(json_cfg) = &self.json {
            if invalid {
                error = Some("the line is not valid UTF-8, so it cannot be JSON".into());
            } else {
                match crate::util::json_read::from_str(&text) {
                    Ok(Value::Object(map)) => decoded = Some(map),
                    Ok(other) => {
                        error = Some(format!(
                            "the line is JSON but not an object (it is {})",
                            json_kind(&other)
                        ))
                    }
                    Err(e) => error = Some(format!("the line is not valid JSON: {e}")),
                }
            }
            if error.is_some() {
                self.json_errors.inc();
                tags.push("_jsonparsefailure");
            }
            if let Some(map) = decoded.take() {
                let message =
                    json_cfg
                        .message_key
                        .as_ref()
                        .and_then(|k| map.get(k))
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        });
                if json_cfg.keys_under_root {
                    fields = map;
                } else {
                    fields.insert("json".into(), Value::Object(map));
                }
                let set = |fields: &mut Fields, key: &str, value: Value| {
                    if json_cfg.overwrite_keys
                        && json_cfg.keys_under_root
                        && fields.contains_key(key)
                    {
                        return;
                    }
                    fields.insert(key.to_string(), value);
                };
                // With keys at the root, logward's own fields go in only where the line did not set them,
                // unless overwrite_keys says the line's values win.
                if !fields.contains_key(TIMESTAMP) || !json_cfg.overwrite_keys {
                    set(&mut fields, TIMESTAMP, Value::String(timestamp.to_string()));
                }
                if let Some(m) = message {
                    set(&mut fields, MESSAGE, Value::String(m));
                }
                self.add_common(&mut fields, stream, offset, json_cfg.overwrite_keys);
            }
        }
        if fields.is_empty() {
            fields.insert(TIMESTAMP.into(), Value::String(timestamp.to_string()));
            fields.insert(MESSAGE.into(), Value::String(text.into_owned()));
            self.add_common(&mut fields, stream, offset, false);
            if let Some(reason) = error
                && self.json.as_ref().is_some_and(|j| j.add_error_key)
            {
                fields.insert("error".into(), json!({"message": reason, "type": "json"}));
            }
        }
        if invalid {
            self.invalid_utf8.inc();
            tags.push("invalid_utf8");
        }
        if truncated {
            self.truncated.inc();
            tags.push("truncated");
            let log = fields
                .entry("log")
                .or_insert_with(|| Value::Object(Fields::new()));
            if let Value::Object(log) = log {
                log.insert("flags".into(), json!(["truncated"]));
            }
        }
        if let Some((under_root, extra)) = &self.fields {
            if *under_root {
                for (k, v) in extra {
                    fields.insert(k.clone(), v.clone());
                }
            } else {
                fields.insert("fields".into(), Value::Object(extra.clone()));
            }
        }
        let mut event = Event {
            fields,
            metadata: Fields::new(),
            origin: None,
        };
        for t in self.tags.iter().map(String::as_str).chain(tags) {
            event.add_tag(t);
        }
        if event.fields.get(TAGS).is_some_and(|t| !t.is_array()) {
            event.add_tag("_tagsnotarray");
        }
        event.origin = Some(Origin {
            source: Arc::clone(&stream.source),
            position: offset,
        });
        event
    }

    fn add_common(
        &self,
        fields: &mut Fields,
        stream: &FileStream,
        offset: u64,
        keep_existing: bool,
    ) {
        // One map lookup per key: merge into an object the line already has, else insert.
        let mut put = |key: &str, value: Value| match fields.entry(key) {
            serde_json::map::Entry::Vacant(slot) => {
                slot.insert(value);
            }
            serde_json::map::Entry::Occupied(mut slot) => {
                if keep_existing {
                    return;
                }
                match (slot.get_mut(), value) {
                    (Value::Object(existing), Value::Object(new)) => existing.extend(new),
                    (existing, value) => *existing = value,
                }
            }
        };
        let mut log = Fields::with_capacity(2);
        log.insert("file".into(), stream.file.clone());
        log.insert("offset".into(), Value::from(offset));
        put("log", Value::Object(log));
        put("input", self.input_value.clone());
        put("host", self.host_value.clone());
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::file::config::FileInputConfig;

    fn cfg(yaml_json: serde_json::Value) -> FileInputConfig {
        serde_json::from_value(yaml_json).unwrap()
    }

    fn stream() -> FileStream {
        FileStream::new("/var/log/app.log", "in/abc".into())
    }

    #[test]
    fn plain_lines_get_ecs_fields_and_metadata() {
        let t = EventTemplate::new(
            "in",
            &cfg(json!({"paths": ["x"], "tags": ["web"], "fields": {"env": "prod"}})),
            "h1".into(),
        );
        let e = t.event(&stream(), b"hello", 42, false, "2024-01-01T00:00:00.000Z");
        assert_eq!(e.get_path("message"), Some(&json!("hello")));
        assert_eq!(
            e.get_path("log.file.path"),
            Some(&json!("/var/log/app.log"))
        );
        assert_eq!(e.get_path("log.offset"), Some(&json!(42)));
        assert_eq!(e.get_path("host.name"), Some(&json!("h1")));
        assert_eq!(e.get_path("input.type"), Some(&json!("file")));
        assert_eq!(e.get_path("fields.env"), Some(&json!("prod")));
        assert!(e.has_tag("web"));
        assert_eq!(e.position(), Some(42));
        assert_eq!(e.source(), Some("in/abc"));
    }

    #[test]
    fn json_lines_decode_under_root_and_keep_their_keys() {
        let t = EventTemplate::new(
            "in",
            &cfg(json!({"paths": ["x"], "json": {"keys_under_root": true, "message_key": "msg"}})),
            "h".into(),
        );
        let e = t.event(
            &stream(),
            br#"{"level":"INFO","service":"user-auth","msg":"login ok"}"#,
            0,
            false,
            "T",
        );
        assert_eq!(e.get_path("level"), Some(&json!("INFO")));
        assert_eq!(e.get_path("service"), Some(&json!("user-auth")));
        assert_eq!(e.get_path("message"), Some(&json!("login ok")));
    }

    #[test]
    fn malformed_json_keeps_the_raw_line_with_an_error() {
        let t = EventTemplate::new(
            "in",
            &cfg(json!({"paths": ["x"], "json": {"keys_under_root": true}})),
            "h".into(),
        );
        let e = t.event(&stream(), br#"{"level": "INFO", "#, 0, false, "T");
        assert_eq!(e.get_path("message"), Some(&json!(r#"{"level": "INFO", "#)));
        assert!(
            e.get_path("error.message")
                .and_then(|v| v.as_str())
                .unwrap()
                .contains("not valid JSON")
        );
        assert!(e.has_tag("_jsonparsefailure"));
    }

    #[test]
    fn invalid_utf8_is_replaced_and_tagged() {
        let t = EventTemplate::new("in", &cfg(json!({"paths": ["x"]})), "h".into());
        let e = t.event(&stream(), b"ab\xff\xfecd", 0, true, "T");
        assert_eq!(e.get_path("message"), Some(&json!("ab\u{fffd}\u{fffd}cd")));
        assert!(e.has_tag("invalid_utf8"));
        assert!(e.has_tag("truncated"));
        assert_eq!(e.get_path("log.flags"), Some(&json!(["truncated"])));
    }
}
