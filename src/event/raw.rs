//! Events decoded from a JSON line but kept as the line's text.
//!
//! Most JSON log lines go from the file input straight to an output without a processor looking inside.
//! Building a map of owned strings for every member, only to write the same members back out, was most
//! of the cost of shipping JSON logs (allocation, hashing, escaping). So the file input validates the line
//! (see `scan.rs`: whatever it accepts, serde_json accepts alike), remembers where each top-level member
//! is, and keeps the text. The fields logward adds (`@timestamp`, `log`, `host`, …) sit beside it. Outputs write
//! the line's members as they are and logward's fields after them; anything that reads or changes fields
//! sees the same map a full decode would have built (made on first use).

use super::Fields;
use super::scan::{Scan, scan};
use crate::util::json_write::{write_map, write_member, write_str};
use serde_json::Value;
use std::ops::Range;
use std::sync::OnceLock;

/// A member: where its key (without quotes) and its value are in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Member {
    pub(super) key: Range<u32>,
    pub(super) value: Range<u32>,
    /// A line member whose name logward sets too.
    pub(super) collides: bool,
}

/// A JSON object line whose members were located, before logward's fields are added.
#[derive(Debug, Clone)]
pub struct ScannedObject {
    /// The line, later followed by the JSON text of logward's own fields.
    text: String,
    members: Vec<Member>,
}

/// Why a line is not kept as text.
#[derive(Debug)]
pub enum ScanRefusal {
    /// The text is not valid JSON: the full decode says why.
    Invalid,
    /// Valid JSON, but not an object with plain, unique keys, or too long to index: decode it fully.
    NotPlain,
}

/// How many members a line may have to be kept as text (duplicate keys are checked pairwise).
const MAX_MEMBERS: usize = 64;

impl ScannedObject {
    /// Checks that `text` is one JSON object with plain (unescaped), unique keys and locates its members.
    /// Give `text` spare capacity for logward's fields (see [`OwnFields`]).
    pub fn scan(text: String) -> Result<ScannedObject, (String, ScanRefusal)> {
        // Room for logward's fields after the line must stay addressable with u32 too.
        if text.len() >= (u32::MAX / 2) as usize || !text.trim_start().starts_with('{') {
            return Err((text, ScanRefusal::NotPlain));
        }
        let members = match scan(&text, MAX_MEMBERS) {
            Scan::Members(members) => members,
            Scan::NotPlain => return Err((text, ScanRefusal::NotPlain)),
            Scan::Invalid => return Err((text, ScanRefusal::Invalid)),
        };
        let scanned = ScannedObject { text, members };
        if scanned.has_duplicate_keys() {
            return Err((scanned.text, ScanRefusal::NotPlain));
        }
        Ok(scanned)
    }

    fn bytes(&self, r: &Range<u32>) -> &[u8] {
        &self.text.as_bytes()[r.start as usize..r.end as usize]
    }

    fn has_duplicate_keys(&self) -> bool {
        // Compare a signature (length, first and last byte) of every pair; bytes only when those match.
        let text = self.text.as_bytes();
        let mut sigs = [0u64; MAX_MEMBERS];
        for (sig, m) in sigs.iter_mut().zip(&self.members) {
            let (a, b) = (m.key.start as usize, m.key.end as usize);
            let (first, last) = if a < b {
                (text[a], text[b - 1])
            } else {
                (0, 0)
            };
            *sig = (u64::from(m.key.end - m.key.start) << 16)
                | (u64::from(first) << 8)
                | u64::from(last);
        }
        let sigs = &sigs[..self.members.len()];
        (1..sigs.len()).any(|i| {
            (0..i).any(|j| {
                sigs[i] == sigs[j]
                    && self.bytes(&self.members[i].key) == self.bytes(&self.members[j].key)
            })
        })
    }

    /// The line's top-level keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        // Keys are whole JSON strings without escapes: their ranges lie on character boundaries.
        self.members.iter().map(|m| {
            self.text
                .get(m.key.start as usize..m.key.end as usize)
                .unwrap_or("")
        })
    }

    /// Starts adding logward's own fields.
    pub fn into_own_fields(self) -> OwnFields {
        OwnFields {
            line_members: self.members.len(),
            line_len: self.text.len(),
            scanned: self,
        }
    }
}

/// A line with logward's own fields being added (`@timestamp`, `log`, …) as JSON text after it.
#[derive(Debug)]
pub struct OwnFields {
    scanned: ScannedObject,
    line_members: usize,
    line_len: usize,
}

/// Why a line member cannot serve as one of logward's fields as it is.
#[derive(Debug, PartialEq, Eq)]
pub enum NotAString {
    /// The line has no such member.
    Absent,
    /// The member is there but is not a string.
    NotAString,
}

impl OwnFields {
    /// Starts a member: a comma after the previous one of logward's, then the quoted key. logward's
    /// members are written back to back (`"a":1,"b":2`), so all of them are copied in one piece.
    fn push_key(&mut self, key: &str) -> Range<u32> {
        let text = &mut self.scanned.text;
        if self.scanned.members.len() > self.line_members {
            text.push(',');
        }
        text.push('"');
        let start = text.len() as u32;
        text.push_str(key);
        let end = text.len() as u32;
        text.push_str("\":");
        start..end
    }

    fn push_member(&mut self, key: Range<u32>, value_start: usize) {
        let end = self.scanned.text.len() as u32;
        self.scanned.members.push(Member {
            key,
            value: value_start as u32..end,
            collides: false,
        });
    }

    /// Adds `key` with a string value. `key` must need no escaping (logward's field names).
    pub fn push_str(&mut self, key: &str, value: &str) {
        let key = self.push_key(key);
        let start = self.scanned.text.len();
        if value.bytes().any(crate::util::json_write::needs_escape) {
            let mut buf = Vec::with_capacity(value.len() + 8);
            write_str(&mut buf, value);
            // The JSON writer writes UTF-8.
            self.scanned
                .text
                .push_str(std::str::from_utf8(&buf).unwrap_or("null"));
        } else {
            self.scanned.text.push('"');
            self.scanned.text.push_str(value);
            self.scanned.text.push('"');
        }
        self.push_member(key, start);
    }

    /// Adds `key` with JSON text written by `write` (which must write one valid JSON value).
    pub fn push_json(&mut self, key: &str, write: impl FnOnce(&mut String)) {
        let key = self.push_key(key);
        let start = self.scanned.text.len();
        write(&mut self.scanned.text);
        self.push_member(key, start);
    }

    /// Adds `key` with the value of the line's string member `from`, as the line wrote it.
    pub fn push_line_string(&mut self, key: &str, from: &str) -> Result<(), NotAString> {
        let s = &self.scanned;
        let m = s.members[..self.line_members]
            .iter()
            .find(|m| s.bytes(&m.key) == from.as_bytes())
            .ok_or(NotAString::Absent)?;
        if s.text.as_bytes()[m.value.start as usize] != b'"' {
            return Err(NotAString::NotAString);
        }
        let value = m.value.start as usize..m.value.end as usize;
        let key = self.push_key(key);
        let start = self.scanned.text.len();
        self.scanned.text.extend_from_within(value);
        self.push_member(key, start);
        Ok(())
    }

    /// Combines the line with logward's fields: its own (added above) and `constant` (the input's).
    /// A name in both the line and logward's fields keeps the line's value when `line_wins`, else takes
    /// logward's, merging the two when both are objects — the rule of a full decode with `keys_under_root`.
    pub fn finish(self, constant: Option<&'static ConstantFields>, line_wins: bool) -> RawObject {
        let OwnFields {
            mut scanned,
            line_members,
            line_len,
        } = self;
        let own_count = scanned.members.len() - line_members;
        let mut streamable = own_count <= 64 && constant.is_none_or(|c| c.fields.len() <= 64);
        let mut any_collision = false;
        let (line, own) = scanned.members.split_at_mut(line_members);
        for m in line.iter_mut() {
            let key = &scanned.text.as_bytes()[m.key.start as usize..m.key.end as usize];
            // logward's fields are few: comparing names beats hashing every key of every line.
            let ours = own
                .iter()
                .find(|o| {
                    same(
                        &scanned.text.as_bytes()[o.key.start as usize..o.key.end as usize],
                        key,
                    )
                })
                .map(|o| scanned.text.as_bytes()[o.value.start as usize] == b'{');
            let theirs = ours.or_else(|| {
                constant
                    .and_then(|c| c.fields.iter().find(|(k, _)| same(k.as_bytes(), key)))
                    .map(|(_, v)| v.is_object())
            });
            let Some(theirs_is_object) = theirs else {
                continue;
            };
            let line_is_object = scanned.text.as_bytes()[m.value.start as usize] == b'{';
            if !line_wins && theirs_is_object && line_is_object {
                streamable = false;
            }
            m.collides = true;
            any_collision = true;
        }
        // Which member gives `@timestamp` (looked up for every event by outputs that name indices by
        // date): the line's unless logward's replaces it.
        let find = |ms: &[Member]| {
            ms.iter().position(|m| {
                same(
                    &scanned.text.as_bytes()[m.key.start as usize..m.key.end as usize],
                    super::TIMESTAMP.as_bytes(),
                )
            })
        };
        let timestamp = match find(&scanned.members[..line_members]) {
            Some(i) if !scanned.members[i].collides || line_wins => Some(i),
            _ => find(&scanned.members[line_members..]).map(|i| i + line_members),
        };
        // Members written back to back (`"a":1,"b":2`) are copied in one piece.
        let line = &scanned.members[..line_members];
        let compact = !any_collision
            && line
                .windows(2)
                .all(|w| w[1].key.start == w[0].value.end + 2)
            && line.iter().all(|m| m.value.start == m.key.end + 2);
        RawObject {
            timestamp,
            line_members,
            line_len,
            scanned,
            constant,
            line_wins,
            streamable,
            compact,
            merged: OnceLock::new(),
        }
    }
}

/// Fields shared by every event of an input (`input`, `host`, …), with their JSON text made once.
#[derive(Debug)]
pub struct ConstantFields {
    fields: Fields,
    /// The members as JSON, comma-separated, without braces.
    json: Vec<u8>,
}

impl ConstantFields {
    /// Made once per input and kept for the life of the process: events refer to it without a counted
    /// reference, because a shared counter written by the reading thread and read by the shipping
    /// thread cost more than the fields.
    pub fn leak(fields: Fields) -> &'static ConstantFields {
        let mut json = Vec::new();
        write_map(&mut json, &fields);
        json.pop();
        json.remove(0);
        Box::leak(Box::new(ConstantFields { fields, json }))
    }

    /// The fields.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }
}

/// A JSON line kept as text with logward's own fields after it, and how they combine.
#[derive(Debug, Clone)]
pub struct RawObject {
    /// The line and, after it, logward's own fields as JSON text; `members` indexes both.
    scanned: ScannedObject,
    /// How many of `scanned.members` are the line's (logward's follow).
    line_members: usize,
    /// How long the line is (logward's text follows).
    line_len: usize,
    /// The member that gives `@timestamp`, if any.
    timestamp: Option<usize>,
    /// Fields shared by every event of the input, added after the event's own.
    constant: Option<&'static ConstantFields>,
    /// On a name collision the line's value stays (`overwrite_keys`); else logward's replaces it.
    line_wins: bool,
    /// Whether the members can be written as they are (no collision needs two objects merged).
    streamable: bool,
    /// No collision, and the line's members are back to back: copied in one piece.
    compact: bool,
    /// The full map, made the first time something reads the fields.
    merged: OnceLock<Fields>,
}

impl RawObject {
    fn line(&self) -> &[Member] {
        &self.scanned.members[..self.line_members]
    }

    fn own(&self) -> &[Member] {
        &self.scanned.members[self.line_members..]
    }

    fn text_of(&self, r: &Range<u32>) -> &str {
        self.scanned
            .text
            .get(r.start as usize..r.end as usize)
            .unwrap_or("")
    }

    /// Whether the line may hold a value for a path starting with `first` (the key itself, or a dotted
    /// key under it like `log.level` for `log`).
    pub fn may_hold(&self, first: &str) -> bool {
        self.line().iter().any(|m| {
            let k = self.scanned.bytes(&m.key);
            k.starts_with(first.as_bytes()) && (k.len() == first.len() || k[first.len()] == b'.')
        })
    }

    /// Whether logward sets `key` on this event (its own fields, not the input's constant ones).
    pub fn sets(&self, key: &str) -> bool {
        self.own()
            .iter()
            .any(|m| same(self.scanned.bytes(&m.key), key.as_bytes()))
    }

    /// The top-level string `key` as the event has it after the merge rules, when it is written without
    /// escapes (so the text is the value); `None` when a decode is needed to tell.
    pub fn plain_str(&self, key: &str) -> Option<&str> {
        let find = |ms: &[Member]| {
            ms.iter()
                .find(|m| same(self.scanned.bytes(&m.key), key.as_bytes()))
                .cloned()
        };
        let m = if key == super::TIMESTAMP {
            self.scanned.members.get(self.timestamp?)?.clone()
        } else {
            match find(self.line()) {
                Some(m) if !m.collides || self.line_wins => m,
                Some(_) | None => find(self.own())?,
            }
        };
        let v = self.text_of(&m.value);
        let inner = v.strip_prefix('"')?.strip_suffix('"')?;
        (!inner.contains('\\')).then_some(inner)
    }

    /// The fields shared by the input's events.
    pub fn constant(&self) -> Option<&Fields> {
        self.constant.map(|c| &c.fields)
    }

    /// The full map: the line decoded, logward's fields combined with it.
    pub fn merged(&self) -> &Fields {
        self.merged.get_or_init(|| self.build())
    }

    /// Takes the full map out (to change it).
    pub fn into_merged(mut self) -> Fields {
        self.merged.take().unwrap_or_else(|| self.build())
    }

    fn build(&self) -> Fields {
        // The text was validated by the scan and logward wrote the rest, so these parses succeed; an
        // empty map or a null would only hide a bug.
        let line_text = self.scanned.text.get(..self.line_len).unwrap_or("");
        let mut map = match crate::util::json_read::from_str(line_text) {
            Ok(Value::Object(m)) => m,
            _ => Fields::new(),
        };
        let own = self.own().iter().map(|m| {
            let v = serde_json::from_str(self.text_of(&m.value)).unwrap_or(Value::Null);
            (self.text_of(&m.key), v)
        });
        let constant = self
            .constant
            .into_iter()
            .flat_map(|c| c.fields.iter())
            .map(|(k, v)| (k.as_str(), v.clone()));
        for (k, v) in own.chain(constant) {
            match map.get_mut(k) {
                None => {
                    map.insert(k.to_string(), v);
                }
                Some(_) if self.line_wins => {}
                Some(Value::Object(existing)) if v.is_object() => {
                    if let Value::Object(new) = v {
                        existing.extend(new);
                    }
                }
                Some(existing) => *existing = v,
            }
        }
        map
    }

    /// Members written back to back (`"a":1,"b":2`), as one slice of the text.
    fn run(&self, ms: &[Member]) -> Option<&[u8]> {
        let (a, b) = (ms.first()?, ms.last()?);
        Some(&self.scanned.text.as_bytes()[a.key.start as usize - 1..b.value.end as usize])
    }

    fn copy_member(&self, m: &Member, out: &mut Vec<u8>) {
        let text = self.scanned.text.as_bytes();
        // The key with its quotes, then the value, exactly as written.
        out.extend_from_slice(&text[m.key.start as usize - 1..m.key.end as usize + 1]);
        out.push(b':');
        out.extend_from_slice(&text[m.value.start as usize..m.value.end as usize]);
    }

    /// Appends the event as compact JSON: the line's members as written (logward's value in place of a
    /// colliding one, unless the line wins), then logward's other fields.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        if !self.streamable {
            write_map(out, self.merged());
            return;
        }
        let text = self.scanned.text.as_bytes();
        let constant = self.constant;
        let own = self.own();
        // Which of logward's fields were already written in place of a line member.
        let (mut own_done, mut constant_done) = (0u64, 0u64);
        out.reserve(text.len() + constant.map_or(0, |c| c.json.len()) + 8);
        out.push(b'{');
        let mut first = true;
        let line = self.line();
        if self.compact {
            if let Some(run) = self.run(line) {
                out.extend_from_slice(run);
                first = false;
            }
        } else {
            for m in line {
                separate(out, &mut first);
                if m.collides {
                    // The name is logward's too: that field is written here, with the line's value
                    // or logward's.
                    let key = self.scanned.bytes(&m.key);
                    if let Some(i) = own
                        .iter()
                        .position(|o| same(self.scanned.bytes(&o.key), key))
                    {
                        own_done |= 1 << i;
                        if !self.line_wins {
                            self.copy_member(&own[i], out);
                            continue;
                        }
                    } else if let Some(c) = constant
                        && let Some((i, (k, v))) = c
                            .fields
                            .iter()
                            .enumerate()
                            .find(|(_, (k, _))| same(k.as_bytes(), key))
                    {
                        constant_done |= 1 << i;
                        if !self.line_wins {
                            write_member(out, k, v);
                            continue;
                        }
                    }
                }
                self.copy_member(m, out);
            }
        }
        if own_done == 0 {
            if let Some(run) = self.run(own) {
                separate(out, &mut first);
                out.extend_from_slice(run);
            }
        } else {
            for (i, m) in own.iter().enumerate() {
                if own_done & (1 << i) == 0 {
                    separate(out, &mut first);
                    self.copy_member(m, out);
                }
            }
        }
        if let Some(c) = constant {
            if constant_done == 0 {
                if !c.json.is_empty() {
                    separate(out, &mut first);
                    out.extend_from_slice(&c.json);
                }
            } else {
                for (i, (k, v)) in c.fields.iter().enumerate() {
                    if constant_done & (1 << i) == 0 {
                        separate(out, &mut first);
                        write_member(out, k, v);
                    }
                }
            }
        }
        out.push(b'}');
    }
}

/// Writes the comma before every member but the first.
#[inline]
fn separate(out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

/// Whether two keys are equal, rejecting most pairs by length and first byte before comparing bytes.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.first() == b.first() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// A raw object from a line, logward's own fields (strings as strings, anything else as JSON text)
    /// and constant ones.
    fn raw(line: &str, own: Value, constant: Value, line_wins: bool) -> RawObject {
        let scanned = ScannedObject::scan(line.to_string()).unwrap();
        let mut o = scanned.into_own_fields();
        for (k, v) in fields(own) {
            match v {
                Value::String(s) => o.push_str(&k, &s),
                other => o.push_json(&k, |out| out.push_str(&other.to_string())),
            }
        }
        o.finish(Some(ConstantFields::leak(fields(constant))), line_wins)
    }

    fn written(r: &RawObject) -> String {
        let mut out = Vec::new();
        r.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// The streamed text and the full map must agree, value for value and key order for key order.
    fn check_agrees(r: &RawObject) -> Value {
        let text = written(r);
        let streamed: Fields = serde_json::from_str(&text).unwrap();
        let merged = r.merged().clone();
        assert_eq!(
            streamed.keys().collect::<Vec<_>>(),
            merged.keys().collect::<Vec<_>>(),
            "{text}"
        );
        assert_eq!(streamed, merged, "{text}");
        Value::Object(merged)
    }

    #[test]
    fn members_are_written_as_they_are_and_logwards_fields_after_them() {
        let r = raw(
            r#" {"a": 1.50, "b":{"c":[1, "x\"y"]}} "#,
            json!({"@timestamp": "T", "log": {"offset": 3}}),
            json!({"host": {"name": "h"}}),
            false,
        );
        assert_eq!(
            written(&r),
            r#"{"a":1.50,"b":{"c":[1, "x\"y"]},"@timestamp":"T","log":{"offset":3},"host":{"name":"h"}}"#
        );
        check_agrees(&r);
        // Back to back members are copied in one piece, with the same result.
        let r = raw(
            r#"{"a":1,"b":"x"}"#,
            json!({"@timestamp": "T"}),
            json!({"host": {"name": "h"}}),
            false,
        );
        assert!(r.compact);
        assert_eq!(
            written(&r),
            r#"{"a":1,"b":"x","@timestamp":"T","host":{"name":"h"}}"#
        );
        assert_eq!(r.plain_str("@timestamp"), Some("T"));
        assert_eq!(r.plain_str("b"), Some("x"));
        assert_eq!(r.plain_str("a"), None);
    }

    #[test]
    fn a_line_member_can_be_one_of_logwards_fields() {
        let scanned = ScannedObject::scan(r#"{"msg":"hello \"you\"","n":1}"#.into()).unwrap();
        let mut o = scanned.into_own_fields();
        assert_eq!(
            o.push_line_string("message", "n"),
            Err(NotAString::NotAString)
        );
        assert_eq!(
            o.push_line_string("message", "nope"),
            Err(NotAString::Absent)
        );
        assert_eq!(o.push_line_string("message", "msg"), Ok(()));
        let r = o.finish(None, false);
        assert_eq!(check_agrees(&r)["message"], "hello \"you\"");
        assert_eq!(r.plain_str("message"), None);
    }

    #[test]
    fn collisions_follow_the_full_decode_rule() {
        let r = raw(
            r#"{"@timestamp":"line","message":{"a":1},"x":1}"#,
            json!({"@timestamp": "ours", "message": "m"}),
            json!({"input": {"type": "file"}}),
            false,
        );
        assert_eq!(r.plain_str("@timestamp"), Some("ours"));
        let v = check_agrees(&r);
        assert_eq!(v["@timestamp"], "ours");
        assert_eq!(v["message"], "m");
        let r = raw(
            r#"{"@timestamp":"line","message":"lm","input":"i"}"#,
            json!({"@timestamp": "ours", "message": "m"}),
            json!({"input": {"type": "file"}}),
            true,
        );
        assert_eq!(r.plain_str("@timestamp"), Some("line"));
        let v = check_agrees(&r);
        assert_eq!(v["@timestamp"], "line");
        assert_eq!(v["input"], "i");
        // Two objects merge: the text cannot be streamed, the full map is written instead.
        let r = raw(
            r#"{"log":{"level":"info"},"host":{"ip":"1.2.3.4"}}"#,
            json!({"log": {"offset": 7}}),
            json!({"host": {"name": "h"}}),
            false,
        );
        assert!(!r.streamable);
        assert_eq!(
            check_agrees(&r),
            json!({"log": {"level": "info", "offset": 7}, "host": {"ip": "1.2.3.4", "name": "h"}})
        );
    }

    #[test]
    fn only_plain_unique_object_lines_are_kept_as_text() {
        let refused = |s: &str| ScannedObject::scan(s.to_string()).err().map(|e| e.1);
        assert!(matches!(
            refused(r#"{"a":1,"a":2}"#),
            Some(ScanRefusal::NotPlain)
        ));
        assert!(matches!(
            refused(r#"{"a\u0041":1}"#),
            Some(ScanRefusal::NotPlain)
        ));
        assert!(matches!(refused("[1,2]"), Some(ScanRefusal::NotPlain)));
        assert!(matches!(refused(r#"{"a":1"#), Some(ScanRefusal::Invalid)));
        assert!(matches!(
            refused(r#"{"a":1} x"#),
            Some(ScanRefusal::Invalid)
        ));
        assert!(matches!(
            refused(r#"{"a":tru}"#),
            Some(ScanRefusal::Invalid)
        ));
        assert!(matches!(
            refused(&"[".repeat(500)),
            Some(ScanRefusal::NotPlain)
        ));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(500), "]".repeat(500));
        assert!(matches!(refused(&deep), Some(ScanRefusal::NotPlain)));
        let wide = format!(
            "{{{}}}",
            (0..100)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(matches!(refused(&wide), Some(ScanRefusal::NotPlain)));
        let r = raw("{}", json!({"a": "b"}), json!({}), false);
        assert_eq!(written(&r), r#"{"a":"b"}"#);
        check_agrees(&r);
    }

    #[test]
    fn may_hold_matches_keys_and_dotted_keys_below_them() {
        let r = raw(
            r#"{"log.level":"x","logger":"y","a":1}"#,
            json!({}),
            json!({}),
            false,
        );
        assert!(r.may_hold("log"));
        assert!(r.may_hold("a"));
        assert!(!r.may_hold("lo"));
        assert!(!r.may_hold("@timestamp"));
    }
}
