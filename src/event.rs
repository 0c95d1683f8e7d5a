//! The event record that flows through logward, and field paths into it.
//!
//! An event is an ordered JSON object (`fields`) using ECS names (`@timestamp`, `message`, `log.file.path`, …)
//! plus a separate `metadata` object that is never shipped (Logstash's `@metadata`). Field paths written with
//! dots (`log.file.path`) or brackets (`[log][file][path]`) address nested objects; a path of the form
//! `@metadata.x` addresses the metadata object.

mod raw;
mod scan;

use chrono::{DateTime, SecondsFormat, Utc};
pub use raw::{ConstantFields, NotAString, OwnFields, RawObject, ScanRefusal, ScannedObject};
use serde_json::{Map, Value};
use std::fmt;

/// The JSON object type used for event fields (insertion-ordered).
pub type Fields = Map<String, Value>;

/// Name of the field holding the event time.
pub const TIMESTAMP: &str = "@timestamp";
/// Name of the field holding the raw or decoded log line.
pub const MESSAGE: &str = "message";
/// Name of the field holding the tag list.
pub const TAGS: &str = "tags";
/// Metadata key naming the stream an event was read from (input id + file identity, channel, …).
/// Together with [`META_POSITION`] it identifies an event, so outputs can skip or overwrite resends.
pub const META_SOURCE: &str = "_source";
/// Metadata key holding the event's position in its stream (file offset, record id).
pub const META_POSITION: &str = "_position";

/// One log event.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// Shipped fields, serialised as the document body. Empty while `raw` holds them (see
    /// [`Event::fields`]).
    fields: Fields,
    /// A JSON line kept as text (see [`RawObject`]); gone as soon as something changes a field.
    raw: Option<Box<RawObject>>,
    /// Fields for routing and ids (`@metadata`), never shipped.
    pub metadata: Fields,
    /// Where the event was read: set by inputs, used by outputs to skip or overwrite resends.
    pub origin: Option<Origin>,
}

/// The stream an event was read from and its position in it (input id + file identity and byte offset,
/// channel and record id, …). Kept outside `metadata` because every event has one: a shared string and a
/// number cost far less than two map entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The stream, shared by every event read from it.
    pub source: std::sync::Arc<str>,
    /// The position in the stream (strictly increasing for a given source).
    pub position: u64,
}

/// A parsed field path: `a.b.c`, `[a][b][c]`, or `@metadata.a`.
///
/// Parse once when a configuration is loaded, then use it for every event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<String>,
    in_metadata: bool,
    text: String,
}

/// A field path that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field path {path:?}: {reason}")]
pub struct FieldPathError {
    /// The text given.
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FieldPath {
    /// Parses `a.b`, `[a][b]` or `@metadata.a` / `[@metadata][a]`.
    pub fn parse(text: &str) -> Result<FieldPath, FieldPathError> {
        let err = |reason| FieldPathError {
            path: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(err("the path is empty"));
        }
        let mut segments: Vec<String> = Vec::new();
        if trimmed.starts_with('[') {
            let mut rest = trimmed;
            while !rest.is_empty() {
                let Some(inner) = rest.strip_prefix('[') else {
                    return Err(err("expected '[' to start the next bracketed segment"));
                };
                let Some(end) = inner.find(']') else {
                    return Err(err("a '[' has no matching ']'"));
                };
                let segment = &inner[..end];
                if segment.is_empty() {
                    return Err(err("a bracketed segment is empty"));
                }
                segments.push(segment.to_string());
                rest = &inner[end + 1..];
            }
        } else {
            for segment in trimmed.split('.') {
                if segment.is_empty() {
                    return Err(err("a dot-separated segment is empty"));
                }
                segments.push(segment.to_string());
            }
        }
        let in_metadata = segments.first().is_some_and(|s| s == "@metadata");
        if in_metadata {
            segments.remove(0);
        }
        Ok(FieldPath {
            segments,
            in_metadata,
            text: trimmed.to_string(),
        })
    }

    /// The path as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments below the root object (without `@metadata`).
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the path addresses the metadata object.
    pub fn is_metadata(&self) -> bool {
        self.in_metadata
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for FieldPath {
    type Err = FieldPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldPath::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for FieldPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        FieldPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Looks a path up in a nested object. At every level a key that itself contains dots (as JSON logs often
/// have: `{"log.level": "INFO"}`) is matched too, longest key first.
fn lookup<'a>(mut map: &'a Fields, segments: &[String]) -> Option<&'a Value> {
    let mut i = 0;
    'outer: while i < segments.len() {
        if let Some(v) = map.get(&segments[i]) {
            if i + 1 == segments.len() {
                return Some(v);
            }
            if let Value::Object(inner) = v {
                map = inner;
                i += 1;
                continue;
            }
        }
        // Dotted keys spanning several segments, e.g. "log.level".
        for end in (i + 2..=segments.len()).rev() {
            let joined = segments[i..end].join(".");
            if let Some(v) = map.get(&joined) {
                if end == segments.len() {
                    return Some(v);
                }
                if let Value::Object(inner) = v {
                    map = inner;
                    i = end;
                    continue 'outer;
                }
            }
        }
        return None;
    }
    None
}

fn lookup_mut<'a>(map: &'a mut Fields, segments: &[String]) -> Option<&'a mut Value> {
    let (first, rest) = segments.split_first()?;
    if map.contains_key(first.as_str()) {
        let v = map.get_mut(first.as_str())?;
        if rest.is_empty() {
            return Some(v);
        }
        return match v {
            Value::Object(inner) => lookup_mut(inner, rest),
            _ => None,
        };
    }
    for end in (2..=segments.len()).rev() {
        let joined = segments[..end].join(".");
        if map.contains_key(&joined) {
            let v = map.get_mut(&joined)?;
            if end == segments.len() {
                return Some(v);
            }
            return match v {
                Value::Object(inner) => lookup_mut(inner, &segments[end..]),
                _ => None,
            };
        }
    }
    None
}

fn remove_at(map: &mut Fields, segments: &[String]) -> Option<Value> {
    let (first, rest) = segments.split_first()?;
    if rest.is_empty() {
        if let Some(v) = map.shift_remove(first.as_str()) {
            return Some(v);
        }
    } else if let Some(Value::Object(inner)) = map.get_mut(first.as_str())
        && let Some(v) = remove_at(inner, rest)
    {
        return Some(v);
    }
    for end in (2..=segments.len()).rev() {
        let joined = segments[..end].join(".");
        if end == segments.len() {
            if let Some(v) = map.shift_remove(&joined) {
                return Some(v);
            }
        } else if let Some(Value::Object(inner)) = map.get_mut(&joined) {
            return remove_at(inner, &segments[end..]);
        }
    }
    None
}

/// Inserts a value, creating intermediate objects. A non-object in the way is replaced by an object.
fn insert_at(map: &mut Fields, segments: &[String], value: Value) -> Option<Value> {
    let (first, rest) = segments.split_first()?;
    if rest.is_empty() {
        return map.insert(first.clone(), value);
    }
    let slot = map
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Fields::new()));
    if !slot.is_object() {
        *slot = Value::Object(Fields::new());
    }
    match slot {
        Value::Object(inner) => insert_at(inner, rest, value),
        _ => None,
    }
}

impl Event {
    /// An empty event.
    pub fn new() -> Event {
        Event::default()
    }

    /// An event with `@timestamp` set to now and `message` set to the given line.
    pub fn from_message(message: impl Into<String>) -> Event {
        let mut fields = Fields::new();
        fields.insert(
            TIMESTAMP.to_string(),
            Value::String(format_timestamp(Utc::now())),
        );
        fields.insert(MESSAGE.to_string(), Value::String(message.into()));
        Event::with_fields(fields)
    }

    /// An event with the given fields.
    pub fn with_fields(fields: Fields) -> Event {
        Event {
            fields,
            raw: None,
            metadata: Fields::new(),
            origin: None,
        }
    }

    /// An event made of a JSON line kept as text and logward's own fields (see [`OwnFields::finish`]).
    pub fn from_raw(raw: RawObject) -> Event {
        Event {
            fields: Fields::new(),
            raw: Some(Box::new(raw)),
            metadata: Fields::new(),
            origin: None,
        }
    }

    /// The shipped fields (for an event kept as text, decoded on first use).
    pub fn fields(&self) -> &Fields {
        match &self.raw {
            Some(raw) => raw.merged(),
            None => &self.fields,
        }
    }

    /// The shipped fields, to change them.
    pub fn fields_mut(&mut self) -> &mut Fields {
        if let Some(raw) = self.raw.take() {
            self.fields = raw.into_merged();
        }
        &mut self.fields
    }

    /// The shipped fields, taken out of the event.
    pub fn into_fields(mut self) -> Fields {
        self.fields_mut();
        self.fields
    }

    /// Whether the event is still a JSON line kept as text.
    pub fn is_raw(&self) -> bool {
        self.raw.is_some()
    }

    fn root(&self, path: &FieldPath) -> &Fields {
        if path.in_metadata {
            &self.metadata
        } else {
            self.fields()
        }
    }

    fn root_mut(&mut self, path: &FieldPath) -> &mut Fields {
        if path.in_metadata {
            &mut self.metadata
        } else {
            self.fields_mut()
        }
    }

    /// The value at `path`, if any.
    pub fn get(&self, path: &FieldPath) -> Option<&Value> {
        if path.segments.is_empty() {
            return None;
        }
        // A field of the input's constant ones (`host.name`, …) that neither the line nor the event's own
        // fields have is found without decoding the line.
        if !path.in_metadata
            && let Some(raw) = &self.raw
            && !raw.may_hold(&path.segments[0])
            && !raw.sets(&path.segments[0])
        {
            return raw.constant().and_then(|c| lookup(c, &path.segments));
        }
        lookup(self.root(path), &path.segments)
    }

    /// A mutable reference to the value at `path`, if any.
    pub fn get_mut(&mut self, path: &FieldPath) -> Option<&mut Value> {
        let segments = path.segments.clone();
        lookup_mut(self.root_mut(path), &segments)
    }

    /// The string at `path`, if the value there is a string.
    pub fn get_str(&self, path: &FieldPath) -> Option<&str> {
        self.get(path).and_then(Value::as_str)
    }

    /// Whether a value exists at `path`.
    pub fn contains(&self, path: &FieldPath) -> bool {
        self.get(path).is_some()
    }

    /// Sets the value at `path` (creating objects on the way) and returns the previous value.
    pub fn insert(&mut self, path: &FieldPath, value: Value) -> Option<Value> {
        if path.segments.is_empty() {
            return None;
        }
        // Replace an existing dotted key in place rather than creating a nested twin beside it.
        if let Some(slot) = self.get_mut(path) {
            return Some(std::mem::replace(slot, value));
        }
        let segments = path.segments.clone();
        insert_at(self.root_mut(path), &segments, value)
    }

    /// Removes the value at `path` and returns it.
    pub fn remove(&mut self, path: &FieldPath) -> Option<Value> {
        let segments = path.segments.clone();
        remove_at(self.root_mut(path), &segments)
    }

    /// Looks a dotted path up without pre-parsing it (for tests and one-off lookups).
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let p = FieldPath::parse(path).ok()?;
        self.get(&p)
    }

    /// Sets a dotted path without pre-parsing it. Panics only on an empty or malformed literal path,
    /// so use it with paths written in code.
    pub fn set_path(&mut self, path: &str, value: impl Into<Value>) {
        let p = FieldPath::parse(path).expect("field path literal in code must be valid");
        self.insert(&p, value.into());
    }

    /// The stream the event was read from: [`Event::origin`], or `@metadata._source` when set by hand.
    pub fn source(&self) -> Option<&str> {
        match &self.origin {
            Some(o) => Some(&o.source),
            None => self.metadata.get(META_SOURCE).and_then(Value::as_str),
        }
    }

    /// The event's position in its stream: [`Event::origin`], or `@metadata._position` when set by hand.
    pub fn position(&self) -> Option<u64> {
        match &self.origin {
            Some(o) => Some(o.position),
            None => self.metadata.get(META_POSITION).and_then(Value::as_u64),
        }
    }

    /// The `message` field as text.
    pub fn message(&self) -> Option<&str> {
        self.fields().get(MESSAGE).and_then(Value::as_str)
    }

    /// The tags on the event.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.fields()
            .get(TAGS)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    /// Whether the event has a tag.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags().any(|t| t == tag)
    }

    /// Adds a tag unless it is already present. A non-array `tags` field becomes an array holding it.
    pub fn add_tag(&mut self, tag: &str) {
        let slot = self
            .fields_mut()
            .entry(TAGS.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !slot.is_array() {
            let old = std::mem::take(slot);
            *slot = Value::Array(if old.is_null() { Vec::new() } else { vec![old] });
        }
        if let Value::Array(list) = slot
            && !list.iter().any(|v| v.as_str() == Some(tag))
        {
            list.push(Value::String(tag.to_string()));
        }
    }

    /// Removes a tag if present; removes the `tags` field when it becomes empty.
    pub fn remove_tag(&mut self, tag: &str) {
        let mut now_empty = false;
        if !self.has_tag(tag) {
            return;
        }
        if let Some(Value::Array(list)) = self.fields_mut().get_mut(TAGS) {
            list.retain(|v| v.as_str() != Some(tag));
            now_empty = list.is_empty();
        }
        if now_empty {
            self.fields_mut().shift_remove(TAGS);
        }
    }

    /// The event time, parsed from `@timestamp`.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        let text = self.timestamp_text()?;
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The `@timestamp` text, found without decoding a line kept as text when logward set it.
    pub fn timestamp_text(&self) -> Option<&str> {
        static PATH: std::sync::LazyLock<FieldPath> =
            std::sync::LazyLock::new(|| FieldPath::parse(TIMESTAMP).expect("valid path"));
        match &self.raw {
            Some(raw) => match raw.plain_str(TIMESTAMP) {
                Some(text) => Some(text),
                None => self.get(&PATH)?.as_str(),
            },
            None => self.fields.get(TIMESTAMP)?.as_str(),
        }
    }

    /// Sets `@timestamp` (RFC 3339, UTC, millisecond precision as Elasticsearch's `date` expects).
    pub fn set_timestamp(&mut self, t: DateTime<Utc>) {
        self.fields_mut()
            .insert(TIMESTAMP.to_string(), Value::String(format_timestamp(t)));
    }

    /// Serialises the shipped fields as one JSON line (without the newline) into `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match &self.raw {
            Some(raw) => raw.write_json(out),
            None => crate::util::json_write::write_map(out, &self.fields),
        }
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.fields() == other.fields()
            && self.metadata == other.metadata
            && self.origin == other.origin
    }
}

/// Formats a time the way every logward component writes `@timestamp`.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap()
    }

    #[test]
    fn dotted_and_bracket_paths_address_the_same_nested_field() {
        let mut e = Event::new();
        e.insert(&p("log.file.path"), json!("/var/log/a.log"));
        assert_eq!(
            e.get(&p("[log][file][path]")),
            Some(&json!("/var/log/a.log"))
        );
        assert_eq!(
            serde_json::to_value(&e.fields).unwrap(),
            json!({"log": {"file": {"path": "/var/log/a.log"}}})
        );
    }

    #[test]
    fn dotted_keys_from_json_logs_are_found_and_replaced_in_place() {
        let mut e = Event::new();
        e.fields.insert("log.level".into(), json!("INFO"));
        assert_eq!(e.get(&p("log.level")), Some(&json!("INFO")));
        e.insert(&p("log.level"), json!("WARN"));
        assert_eq!(
            serde_json::to_value(&e.fields).unwrap(),
            json!({"log.level": "WARN"})
        );
        assert_eq!(e.remove(&p("log.level")), Some(json!("WARN")));
        assert!(e.fields.is_empty());
    }

    #[test]
    fn metadata_paths_never_touch_shipped_fields() {
        let mut e = Event::new();
        e.insert(&p("@metadata._id"), json!("abc"));
        assert!(e.fields.is_empty());
        assert_eq!(e.get(&p("[@metadata][_id]")), Some(&json!("abc")));
    }

    #[test]
    fn tags_are_added_once_and_removed() {
        let mut e = Event::new();
        e.add_tag("a");
        e.add_tag("a");
        e.add_tag("b");
        assert_eq!(e.tags().collect::<Vec<_>>(), vec!["a", "b"]);
        e.remove_tag("a");
        e.remove_tag("b");
        assert!(!e.fields.contains_key(TAGS));
    }

    #[test]
    fn malformed_paths_are_rejected_with_a_reason() {
        assert!(FieldPath::parse("a..b").is_err());
        assert!(FieldPath::parse("[a][b").is_err());
        assert!(FieldPath::parse("").is_err());
    }
}
