//! Turning a line (or joined lines) into an event with the ECS fields Filebeat users expect, decoding
//! JSON when asked, and flagging what was wrong with the line instead of dropping it.

use super::config::{FileInputConfig, JsonConfig};
use crate::component::Decoration;
use crate::event::{
    ConstantFields, Event, Fields, MESSAGE, NotAString, Origin, ScannedObject, TAGS, TIMESTAMP,
};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::Counter;
use serde_json::{Value, json};
use std::sync::Arc;

/// Everything about a file's events that does not change from line to line.
pub struct EventTemplate {
    /// `input: {type: file}`, built once and cloned into each event.
    input_value: Value,
    /// `host: {name: …}`, built once and cloned into each event.
    host_value: Value,
    json: Option<JsonConfig>,
    /// The configured fields and tags.
    decoration: Decoration,
    /// What every event gets after its own fields (`input`, `host`, `fields`, `tags`), shared by the
    /// JSON lines kept as text; `None` when the configuration rules that out (see [`Self::raw_event`]).
    constant: Option<&'static ConstantFields>,
    invalid_utf8: Counter,
    truncated: Counter,
    json_errors: Counter,
}

/// One stream's constant part: the path and the registry identity of the file.
pub struct FileStream {
    /// `log.file`: `{path: …}`, built once per file.
    file: Value,
    /// `{"file":{"path":…},"offset":` as JSON text, for the `log` field of JSON lines kept as text.
    log_prefix: String,
    /// The stream id: input id + file id.
    pub source: Arc<str>,
}

impl FileStream {
    /// The constant part of the events of the file at `path` known to the registry as `source`.
    pub fn new(path: &str, source: String) -> FileStream {
        let file = json!({ "path": path });
        let mut log_prefix = b"{\"file\":".to_vec();
        crate::util::json_write::write_value(&mut log_prefix, &file);
        log_prefix.extend_from_slice(b",\"offset\":");
        FileStream {
            file,
            // JSON written from a string is UTF-8.
            log_prefix: String::from_utf8(log_prefix).unwrap_or_default(),
            source: source.into(),
        }
    }
}

impl EventTemplate {
    /// The template for an input: its settings and the decoration every input shares.
    pub fn new(
        input_id: &str,
        cfg: &FileInputConfig,
        decoration: &Decoration,
        host_name: String,
    ) -> EventTemplate {
        let fields = decoration.fields().cloned();
        let input_value = decoration.input_value().clone();
        let host_value = json!({"name": host_name});
        let mut constant = Fields::new();
        constant.insert("input".into(), input_value.clone());
        constant.insert("host".into(), host_value.clone());
        // Extra fields named like an event's own (`@timestamp`, `message`, `log`) replace them in a full
        // decode; that case keeps the full decode.
        let mut constant_ok = true;
        match &fields {
            Some((true, extra)) => {
                constant_ok = ![TIMESTAMP, MESSAGE, "log", TAGS]
                    .iter()
                    .any(|k| extra.contains_key(*k));
                constant.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Some((false, extra)) => {
                constant.insert("fields".into(), Value::Object(extra.clone()));
            }
            None => {}
        }
        let tags: Vec<Value> = decoration
            .tags()
            .iter()
            .map(|t| Value::String(t.clone()))
            .collect();
        if !tags.is_empty() {
            constant.insert(TAGS.into(), Value::Array(tags));
        }
        let raw_ok = constant_ok && cfg.json.as_ref().is_some_and(|j| j.keys_under_root);
        let metrics = ComponentMetrics::new(Kind::Input, input_id, "file");
        EventTemplate {
            // One per input, kept for the life of the process (see `RawObject`).
            constant: raw_ok.then(|| ConstantFields::leak(constant)),
            input_value,
            host_value,
            json: cfg.json.clone(),
            decoration: decoration.clone(),
            invalid_utf8: metrics.errors("invalid_utf8", Stage::Receiving),
            truncated: metrics.errors("line_truncated", Stage::Receiving),
            json_errors: metrics.errors("json_parse_failed", Stage::Processing),
        }
    }

    /// The same template, decoding every JSON line fully: the reference that the events of lines kept
    /// as text must equal.
    pub fn full_decode_only(mut self) -> EventTemplate {
        self.constant = None;
        self
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
        if !invalid
            && !truncated
            && let Some(event) = self.raw_event(stream, &text, offset, timestamp)
        {
            return event;
        }
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
                    ecs_error(&mut fields);
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
                // Only a line that did not decode gets here: its own `error` (if any) is in `message`.
                fields.insert(ERROR.into(), json!({"message": reason, "type": "json"}));
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
        self.decoration.add_fields(&mut fields);
        let mut event = Event::with_fields(fields);
        for t in self.decoration.tags().iter().map(String::as_str).chain(tags) {
            event.add_tag(t);
        }
        if event.fields().get(TAGS).is_some_and(|t| !t.is_array()) {
            event.add_tag("_tagsnotarray");
        }
        event.origin = Some(Origin {
            source: Arc::clone(&stream.source),
            position: offset,
        });
        event
    }

    /// The event for a JSON object line with keys at the root, kept as text (see
    /// [`crate::event::RawObject`]); `None` when the line needs the full decode: not a plain JSON object,
    /// or it has a name whose full-decode rule is not a plain replace (`tags`, the configured `fields`).
    /// The result equals what the full decode below builds, field for field and in the same order.
    fn raw_event(
        &self,
        stream: &FileStream,
        text: &str,
        offset: u64,
        timestamp: &str,
    ) -> Option<Event> {
        let constant = self.constant?;
        let json_cfg = self.json.as_ref()?;
        // One buffer for the line and, after it, logward's fields as JSON text.
        let mut buf = String::with_capacity(text.len() + stream.log_prefix.len() + 96);
        buf.push_str(text);
        let scanned = ScannedObject::scan(buf).ok()?;
        // `error` is reshaped by the full decode (see `ecs_error`), so a line with one takes that path.
        let full_rule = |k: &str| {
            k == ERROR
                || match self.decoration.fields() {
                    Some((true, extra)) => k == TAGS || extra.contains_key(k),
                    Some((false, _)) => k == TAGS || k == "fields",
                    None => k == TAGS,
                }
        };
        if scanned.keys().any(full_rule) {
            return None;
        }
        let mut own = scanned.into_own_fields();
        own.push_str(TIMESTAMP, timestamp);
        if let Some(key) = &json_cfg.message_key {
            match own.push_line_string(MESSAGE, key) {
                Ok(()) | Err(NotAString::Absent) => {}
                // The full decode writes a non-string as its JSON text.
                Err(NotAString::NotAString) => return None,
            }
        }
        own.push_json("log", |out| {
            out.push_str(&stream.log_prefix);
            out.push_str(itoa::Buffer::new().format(offset));
            out.push('}');
        });
        let mut event = Event::from_raw(own.finish(Some(constant), json_cfg.overwrite_keys));
        event.origin = Some(Origin {
            source: Arc::clone(&stream.source),
            position: offset,
        });
        Some(event)
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

/// The ECS field for an error: an object (`error.message`, `error.type`, `error.stack_trace`).
const ERROR: &str = "error";

/// Go loggers (zap, logrus, zerolog) write `"error": "text"`; ECS, and the template `logward setup`
/// installs, have `error` as an object, so Elasticsearch would refuse every such line. A root `error` that
/// is not an object becomes `error.message` (its JSON text when it is not a string).
fn ecs_error(fields: &mut Fields) {
    if let Some(v) = fields.get_mut(ERROR)
        && !v.is_object()
        && !v.is_null()
    {
        let text = match std::mem::take(v) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        *v = json!({ "message": text });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::InputOptions;

    /// The template for an input configured by `settings` (its own keys and the shared ones).
    fn template(settings: serde_json::Value, host: &str) -> EventTemplate {
        let mut own = settings.as_object().unwrap().clone();
        let mut shared = serde_json::Map::new();
        for k in InputOptions::KEYS {
            if let Some(v) = own.remove(*k) {
                shared.insert(k.to_string(), v);
            }
        }
        let cfg: FileInputConfig = serde_json::from_value(Value::Object(own)).unwrap();
        let options: InputOptions = serde_json::from_value(Value::Object(shared)).unwrap();
        EventTemplate::new("in", &cfg, &Decoration::new("file", &options), host.into())
    }

    fn stream() -> FileStream {
        FileStream::new("/var/log/app.log", "in/abc".into())
    }

    #[test]
    fn plain_lines_get_ecs_fields_and_metadata() {
        let t = template(json!({"paths": ["x"], "tags": ["web"], "fields": {"env": "prod"}}), "h1");
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
        let t = template(json!({"paths": ["x"], "json": {"keys_under_root": true, "message_key": "msg"}}), "h");
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
        let t = template(json!({"paths": ["x"], "json": {"keys_under_root": true}}), "h");
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
    fn a_string_error_becomes_error_message_and_an_object_error_stays() {
        let t = template(json!({"paths": ["x"], "json": {"keys_under_root": true}}), "h");
        let e = t.event(
            &stream(),
            br#"{"level":"error","msg":"charge failed","error":"card declined"}"#,
            0,
            false,
            "T",
        );
        assert_eq!(e.get_path("error"), Some(&json!({"message": "card declined"})));
        let e = t.event(&stream(), br#"{"error":{"message":"m","type":"T"}}"#, 0, false, "T");
        assert_eq!(e.get_path("error"), Some(&json!({"message": "m", "type": "T"})));
        let e = t.event(&stream(), br#"{"error":42}"#, 0, false, "T");
        assert_eq!(e.get_path("error.message"), Some(&json!("42")));
    }

    #[test]
    fn invalid_utf8_is_replaced_and_tagged() {
        let t = template(json!({"paths": ["x"]}), "h");
        let e = t.event(&stream(), b"ab\xff\xfecd", 0, true, "T");
        assert_eq!(e.get_path("message"), Some(&json!("ab\u{fffd}\u{fffd}cd")));
        assert!(e.has_tag("invalid_utf8"));
        assert!(e.has_tag("truncated"));
        assert_eq!(e.get_path("log.flags"), Some(&json!(["truncated"])));
    }

    /// JSON lines kept as text must ship exactly what the full decode builds: same fields, same order,
    /// same lookups, for every kind of line and every combination of the settings involved.
    #[test]
    fn json_lines_kept_as_text_equal_the_full_decode() {
        let lines: &[&[u8]] = &[
            br#"{"level":"INFO","msg":"login ok","n":1.50,"o":{"a":[1,"x\"y"]}}"#,
            br#" { "level" : "WARN" , "msg" : "spaced" } "#,
            br#"{"@timestamp":"2020-01-01T00:00:00Z","message":"mine","msg":"theirs"}"#,
            br#"{"log":{"level":"debug"},"host":{"ip":"10.0.0.1"},"input":"x","msg":"objects"}"#,
            br#"{"log":"flat","host":"h2","msg":{"nested":true}}"#,
            br#"{"msg":42,"tags":["a"]}"#,
            br#"{"tags":"notalist","msg":"t"}"#,
            br#"{"env":"line","msg":"clash with fields"}"#,
            br#"{"fields":{"x":1}}"#,
            br#"{"a":1,"a":2}"#,
            br#"{"k\u0041":1}"#,
            br#"{"log.level":"INFO","msg":"dotted"}"#,
            br#"{}"#,
            br#"[1,2]"#,
            br#"{"broken":"#,
            br#"{"msg":"\u00e9t\u00e9 \ud83d\ude00"}"#,
            // More digits than an f64 holds: both ways must round it alike.
            br#"{"a":0,"n":377777777777777777777777777777777777777777777777777777777777777777777777777777}"#,
            br#"{"pi":3.14159265358979323846264338327950288,"e":-2.718281828459045235360287471352662497757}"#,
        ];
        let configs = [
            json!({"paths": ["x"], "json": {"keys_under_root": true, "message_key": "msg"}}),
            json!({"paths": ["x"], "json": {"keys_under_root": true, "overwrite_keys": true, "message_key": "msg"}}),
            json!({"paths": ["x"], "tags": ["web", "web", "json"], "fields": {"env": "prod"}, "fields_under_root": true,
                   "json": {"keys_under_root": true, "add_error_key": true}}),
            json!({"paths": ["x"], "fields": {"env": "prod"}, "json": {"keys_under_root": true, "message_key": "msg"}}),
        ];
        let mut kept = 0;
        for c in &configs {
            let t = template(c.clone(), "h");
            let full = template(c.clone(), "h").full_decode_only();
            for line in lines {
                let a = t.event(&stream(), line, 7, false, "2024-01-01T00:00:00.000Z");
                let b = full.event(&stream(), line, 7, false, "2024-01-01T00:00:00.000Z");
                assert!(!b.is_raw());
                kept += usize::from(a.is_raw());
                let (mut ja, mut jb) = (Vec::new(), Vec::new());
                a.write_json(&mut ja);
                b.write_json(&mut jb);
                let (va, vb): (Fields, Fields) = (
                    serde_json::from_slice(&ja).unwrap(),
                    serde_json::from_slice(&jb).unwrap(),
                );
                let what = format!("{} with {c}", String::from_utf8_lossy(line));
                assert_eq!(
                    va.keys().collect::<Vec<_>>(),
                    vb.keys().collect::<Vec<_>>(),
                    "{what}"
                );
                assert_eq!(va, vb, "{what}");
                for path in [
                    "@timestamp",
                    "message",
                    "log.offset",
                    "log.level",
                    "host.name",
                    "input.type",
                    "env",
                    "level",
                ] {
                    assert_eq!(a.get_path(path), b.get_path(path), "{path} of {what}");
                }
                assert_eq!(a.timestamp_text(), b.timestamp_text(), "{what}");
                assert_eq!(
                    a.tags().collect::<Vec<_>>(),
                    b.tags().collect::<Vec<_>>(),
                    "{what}"
                );
                assert_eq!(a.fields(), b.fields(), "{what}");
                assert_eq!(a, b, "{what}");
                assert_eq!(a.source(), b.source());
                assert_eq!(a.position(), b.position());
                // Changing a field turns the event into the full map, with the same result.
                let (mut a, mut b) = (a, b);
                a.add_tag("changed");
                b.add_tag("changed");
                assert!(!a.is_raw());
                assert_eq!(a, b, "{what}");
            }
        }
        assert!(kept >= 20, "only {kept} lines were kept as text");
    }
}

