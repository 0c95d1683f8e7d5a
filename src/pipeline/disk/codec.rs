//! How a batch of events is written into one queue record and read back: everything an output needs,
//! including `@metadata` and the origin (source + position) that idempotent outputs key on.
//!
//! Layout: the event count as a decimal line, then four lines per event: the fields as JSON, the metadata
//! as JSON, the origin source as a JSON string (or `null`), the origin position. JSON text never contains
//! a raw newline, so lines split cleanly; a reader needs nothing but a JSON parser.

use crate::event::{Event, Origin, ScannedObject};
use serde_json::Value;
use std::sync::Arc;

/// Appends the encoding of `events` to `out`.
pub fn encode(events: &[Event], out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(events.len()).as_bytes());
    out.push(b'\n');
    for e in events {
        e.write_json(out);
        out.push(b'\n');
        crate::util::json_write::write_map(out, &e.metadata);
        out.push(b'\n');
        match &e.origin {
            Some(o) => {
                crate::util::json_write::write_str(out, &o.source);
                out.push(b'\n');
                out.extend_from_slice(itoa::Buffer::new().format(o.position).as_bytes());
            }
            None => out.extend_from_slice(b"null\n0"),
        }
        out.push(b'\n');
    }
}

/// How many events a payload holds, from its first line (for `queue inspect`).
pub fn count(payload: &[u8]) -> Option<u64> {
    let end = memchr::memchr(b'\n', payload)?;
    std::str::from_utf8(&payload[..end]).ok()?.parse().ok()
}

/// Reads a payload back. The error says what is wrong (only possible with a bug or a format change, since
/// the record's checksum already matched).
pub fn decode(payload: &[u8]) -> Result<Vec<Event>, String> {
    let text = std::str::from_utf8(payload).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut lines = text.split('\n');
    let n: usize = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or("the event count is missing")?;
    let mut events = Vec::with_capacity(n.min(1 << 20));
    // Events of one batch usually share their origin source: share the text too.
    let mut last_source: Option<Arc<str>> = None;
    for i in 0..n {
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| format!("event {i}: the {what} line is missing"))
        };
        // The fields line is kept as text when it can be (see `RawObject`): outputs write it as it is.
        let not_object = || format!("event {i}: the fields are not a JSON object");
        let mut event = match ScannedObject::scan(next("fields")?.to_string()) {
            Ok(scanned) => Event::from_raw(scanned.into_own_fields().finish(None, false)),
            Err((text, _)) => match crate::util::json_read::from_str(&text) {
                Ok(Value::Object(m)) => Event::with_fields(m),
                _ => return Err(not_object()),
            },
        };
        let metadata = match serde_json::from_str::<Value>(next("metadata")?) {
            Ok(Value::Object(m)) => m,
            _ => return Err(format!("event {i}: the metadata is not a JSON object")),
        };
        let source = serde_json::from_str::<Option<String>>(next("source")?)
            .map_err(|e| format!("event {i}: bad origin source: {e}"))?;
        let position: u64 = next("position")?
            .parse()
            .map_err(|e| format!("event {i}: bad origin position: {e}"))?;
        let origin = source.map(|s| {
            let source = match &last_source {
                Some(l) if **l == *s => Arc::clone(l),
                _ => {
                    let a: Arc<str> = s.into();
                    last_source = Some(Arc::clone(&a));
                    a
                }
            };
            Origin { source, position }
        });
        event.metadata = metadata;
        event.origin = origin;
        events.push(event);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_the_round_trip() {
        let mut a = Event::from_message("line one\nwith \"quotes\" and ünïcødé");
        a.set_path("http.status", 503);
        a.metadata.insert("_id".into(), "abc".into());
        a.origin = Some(Origin {
            source: "app/123:456".into(),
            position: 99,
        });
        let b = Event::new();
        let mut buf = Vec::new();
        encode(&[a.clone(), b.clone()], &mut buf);
        assert_eq!(count(&buf), Some(2));
        let back = decode(&buf).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].fields(), a.fields());
        assert_eq!(back[0].metadata, a.metadata);
        assert_eq!(back[0].source(), Some("app/123:456"));
        assert_eq!(back[0].position(), Some(99));
        assert!(back[1].origin.is_none());
        // Read back as text, written out byte for byte as before.
        assert!(back[0].is_raw());
        let (mut ja, mut jb) = (Vec::new(), Vec::new());
        a.write_json(&mut ja);
        back[0].write_json(&mut jb);
        assert_eq!(ja, jb);
        // Fields lines that cannot be kept as text are decoded; broken ones are errors.
        let escaped = decode(b"1\n{\"k\\u0041\":1}\n{}\nnull\n0\n").unwrap();
        assert!(!escaped[0].is_raw());
        assert_eq!(escaped[0].get_path("kA"), Some(&serde_json::json!(1)));
        assert!(decode(b"1\n{\"k\":\n{}\nnull\n0\n").is_err());
        assert!(decode(b"1\n[1]\n{}\nnull\n0\n").is_err());
        assert!(decode(b"3\n{}\n").is_err());
        assert!(decode(b"\xff").is_err());
        assert!(decode(b"").is_err());
    }
}
