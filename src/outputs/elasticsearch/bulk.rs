//! The `_bulk` wire format: encoding events as action + source line pairs, and reading the per-item
//! results back into what to do with each item.

use super::config::BulkAction;
use crate::event::Event;
use base64::Engine as _;
use serde::Deserialize;
use std::ops::Range;
use std::sync::Arc;

/// A batch encoded once; requests (and retries of some items) are made of ranges of `buf`.
#[derive(Debug, Default)]
pub struct Encoded {
    /// Action and source lines of every item, back to back.
    pub buf: Vec<u8>,
    /// One entry per encoded event.
    pub items: Vec<Item>,
}

/// One event in the encoded batch.
#[derive(Debug, Clone)]
pub struct Item {
    /// Where its two lines are in [`Encoded::buf`].
    pub range: Range<usize>,
    /// Its position in the batch (to find the event again for the dead-letter file).
    pub ordinal: usize,
    /// The index it goes to.
    pub index: Arc<str>,
    /// Its document id, when it has one.
    pub id: Option<String>,
}

/// The deterministic document id of an event: `@metadata._id` (set by the `fingerprint` processor or
/// by inputs that know a natural key, like the Windows record id), else a hash of where the event was
/// read (input id, file identity, offset), so a resend after a crash or retry overwrites instead of
/// duplicating. Events made inside logward have neither: the server picks an id.
pub fn document_id(event: &Event) -> Option<String> {
    if let Some(serde_json::Value::String(id)) = event.metadata.get("_id") {
        return Some(id.clone());
    }
    let origin = event.origin.as_ref()?;
    let mut key = Vec::with_capacity(origin.source.len() + 9);
    key.extend_from_slice(origin.source.as_bytes());
    key.push(0);
    key.extend_from_slice(&origin.position.to_le_bytes());
    let hash = xxhash_rust::xxh3::xxh3_128(&key).to_be_bytes();
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash))
}

/// Appends one item (action line + source line) to `enc`.
pub fn encode_item(
    enc: &mut Encoded,
    event: &Event,
    ordinal: usize,
    index: Arc<str>,
    action: BulkAction,
    with_type: bool,
) {
    let start = enc.buf.len();
    let id = document_id(event);
    let buf = &mut enc.buf;
    buf.extend_from_slice(match action {
        BulkAction::Index => b"{\"index\":{\"_index\":",
        BulkAction::Create => b"{\"create\":{\"_index\":",
    });
    crate::util::json_write::write_str(buf, &index);
    if let Some(id) = &id {
        buf.extend_from_slice(b",\"_id\":");
        crate::util::json_write::write_str(buf, id);
    }
    if with_type {
        buf.extend_from_slice(b",\"_type\":\"_doc\"");
    }
    buf.extend_from_slice(b"}}\n");
    event.write_json(buf);
    buf.push(b'\n');
    enc.items.push(Item {
        range: start..enc.buf.len(),
        ordinal,
        index,
        id,
    });
}

/// What to do with one item after the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Stored (or already there, for `create`).
    Stored {
        /// A 409 on `create`: the document existed (a resend after a crash).
        duplicate: bool,
    },
    /// The server asked to try again later (429, 5xx).
    Retry {
        /// The HTTP status of the item.
        status: u16,
    },
    /// Refused for good (mapping conflict, parse error): goes to the dead-letter file.
    Rejected {
        /// The HTTP status of the item.
        status: u16,
        /// Elasticsearch's error type, e.g. `document_parsing_exception`.
        kind: String,
        /// Elasticsearch's explanation.
        reason: String,
    },
}

/// A bulk response without its item details: whether any item failed, and how many item results it
/// has (counted without keeping them: most answers are all stored).
#[derive(Deserialize)]
struct Summary {
    errors: Option<bool>,
    items: Option<ItemCount>,
}

/// How many item results (`{"<action>": {...}}` objects) an `items` array holds.
struct ItemCount(usize);

impl<'de> Deserialize<'de> for ItemCount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items;
        impl<'de> serde::de::Visitor<'de> for Items {
            type Value = ItemCount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of item results")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ItemCount, A::Error> {
                let mut n = 0;
                while seq.next_element::<ItemShape>()?.is_some() {
                    n += 1;
                }
                Ok(ItemCount(n))
            }
        }
        d.deserialize_seq(Items)
    }
}

/// One item result, checked for its shape (an object with one member, the action) and dropped.
struct ItemShape;

impl<'de> Deserialize<'de> for ItemShape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Shape;
        impl<'de> serde::de::Visitor<'de> for Shape {
            type Value = ItemShape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"an item result like {"index":{"status":201}}"#)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ItemShape, A::Error> {
                let mut members = 0;
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {
                    members += 1;
                }
                if members != 1 {
                    return Err(serde::de::Error::invalid_length(members, &self));
                }
                Ok(ItemShape)
            }
        }
        d.deserialize_map(Shape)
    }
}

#[derive(Deserialize)]
struct BulkResponse {
    items: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Reads a `_bulk` response for `count` items. `None` when every item is stored (`errors: false`).
/// An error when the body is not a bulk response or does not carry exactly one result per item sent:
/// such an answer (`{}`, `{"acknowledged":true}`, items missing or extra) proves nothing about what was
/// stored, so none of it may count as stored.
pub fn parse_response(
    body: &[u8],
    count: usize,
    action: BulkAction,
) -> Result<Option<Vec<ItemOutcome>>, String> {
    let summary: Summary = serde_json::from_slice(body)
        .map_err(|e| format!("the _bulk response is not a JSON bulk response ({e})"))?;
    let Some(ItemCount(items)) = summary.items else {
        return Err(format!(
            "the _bulk response has no per-item results for the {count} documents sent"
        ));
    };
    if items != count {
        return Err(format!(
            "the _bulk response has {items} item results for the {count} documents sent"
        ));
    }
    if summary.errors == Some(false) {
        return Ok(None);
    }
    // Some item failed (or the server did not say): read each result.
    let resp: BulkResponse = serde_json::from_slice(body)
        .map_err(|e| format!("the _bulk response is not a JSON bulk response ({e})"))?;
    let outcomes = resp
        .items
        .iter()
        .map(|item| {
            let result = item.values().next();
            // A status that is missing or not an HTTP status (0, or beyond u16: cut to 16 bits it could
            // read as 201) says nothing about the item: it is tried again.
            let status = result
                .and_then(|r| r.get("status"))
                .and_then(serde_json::Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0);
            let error = result.and_then(|r| r.get("error"));
            classify(status, error, action)
        })
        .collect();
    Ok(Some(outcomes))
}

fn classify(status: u16, error: Option<&serde_json::Value>, action: BulkAction) -> ItemOutcome {
    match status {
        200..=299 => ItemOutcome::Stored { duplicate: false },
        409 if action == BulkAction::Create => ItemOutcome::Stored { duplicate: true },
        429 | 500..=599 | 0 => ItemOutcome::Retry { status },
        _ => {
            let text = |k: &str| {
                error
                    .and_then(|e| e.get(k))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let mut reason = text("reason");
            if let Some(cause) = error
                .and_then(|e| e.get("caused_by"))
                .and_then(|c| c.get("reason"))
                .and_then(serde_json::Value::as_str)
            {
                reason = format!("{reason} (caused by: {cause})");
            }
            ItemOutcome::Rejected {
                status,
                kind: text("type"),
                reason,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;

    #[test]
    fn ids_come_from_metadata_or_origin_and_are_stable() {
        let mut e = Event::from_message("m");
        assert_eq!(document_id(&e), None);
        e.origin = Some(Origin {
            source: "app/abc".into(),
            position: 42,
        });
        let a = document_id(&e).unwrap();
        assert_eq!(a.len(), 22);
        assert_eq!(document_id(&e).unwrap(), a);
        e.origin.as_mut().unwrap().position = 43;
        assert_ne!(document_id(&e).unwrap(), a);
        e.metadata.insert("_id".into(), "fixed".into());
        assert_eq!(document_id(&e).unwrap(), "fixed");
    }

    #[test]
    fn items_are_action_and_source_lines() {
        let mut enc = Encoded::default();
        let mut e = Event::from_message("he said \"hi\"");
        e.metadata.insert("_id".into(), "x\"1".into());
        encode_item(&mut enc, &e, 0, "logs-a".into(), BulkAction::Create, false);
        let text = String::from_utf8(enc.buf.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"create":{"_index":"logs-a","_id":"x\"1"}}"#);
        let src: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(src["message"], "he said \"hi\"");
        assert!(text.ends_with('\n'));
        assert_eq!(enc.items[0].range, 0..enc.buf.len());
    }

    #[test]
    fn per_item_results_are_classified() {
        let body = br#"{"took":3,"errors":true,"items":[
            {"index":{"_index":"a","status":201}},
            {"create":{"_index":"a","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},
            {"index":{"_index":"a","status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}},
            {"index":{"_index":"a","status":503,"error":{"type":"unavailable_shards_exception","reason":"x"}}},
            {"index":{"_index":"a","status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [x]","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"abc\""}}}}
        ]}"#;
        let out = parse_response(body, 5, BulkAction::Create)
            .unwrap()
            .unwrap();
        assert_eq!(out[0], ItemOutcome::Stored { duplicate: false });
        assert_eq!(out[1], ItemOutcome::Stored { duplicate: true });
        assert_eq!(out[2], ItemOutcome::Retry { status: 429 });
        assert_eq!(out[3], ItemOutcome::Retry { status: 503 });
        match &out[4] {
            ItemOutcome::Rejected {
                status,
                kind,
                reason,
            } => {
                assert_eq!(*status, 400);
                assert_eq!(kind, "document_parsing_exception");
                assert!(reason.contains("For input string"), "{reason}");
            }
            o => panic!("{o:?}"),
        }
        // With `index`, a 409 is a real conflict (external versioning), not a duplicate.
        let out = parse_response(body, 5, BulkAction::Index).unwrap().unwrap();
        assert!(matches!(out[1], ItemOutcome::Rejected { status: 409, .. }));
    }

    #[test]
    fn only_one_result_per_document_sent_counts_as_stored() {
        let stored = |n: usize| {
            let items = vec![r#"{"index":{"status":201}}"#; n].join(",");
            format!(r#"{{"took":1,"errors":false,"items":[{items}]}}"#)
        };
        assert_eq!(
            parse_response(stored(3).as_bytes(), 3, BulkAction::Index),
            Ok(None)
        );
        let (two, four) = (stored(2), stored(4));
        let wrong: &[(&[u8], &str)] = &[
            (b"{}", "no per-item results"),
            (br#"{"acknowledged":true}"#, "no per-item results"),
            (br#"{"errors":false}"#, "no per-item results"),
            (br#"{"errors":false,"items":null}"#, "no per-item results"),
            (
                br#"{"errors":false,"items":[]}"#,
                "0 item results for the 3",
            ),
            (two.as_bytes(), "2 item results for the 3"),
            (four.as_bytes(), "4 item results for the 3"),
            (
                br#"{"errors":false,"items":[1,2,3]}"#,
                "not a JSON bulk response",
            ),
            (
                br#"{"errors":false,"items":[{},{},{}]}"#,
                "not a JSON bulk response",
            ),
            (br#"{"errors":true,"items":[]}"#, "0 item results"),
            (b"<html>bad gateway</html>", "not a JSON bulk response"),
            (b"", "not a JSON bulk response"),
            (
                br#"{"errors":false,"items":[{"index":{"status":201}}"#,
                "not a JSON bulk response",
            ),
        ];
        for (body, why) in wrong {
            let text = String::from_utf8_lossy(body);
            match parse_response(body, 3, BulkAction::Index) {
                Err(m) => assert!(m.contains(why), "{text}: {m}"),
                Ok(r) => panic!("{text} was taken as a bulk response: {r:?}"),
            }
        }
        // A status beyond what HTTP has is not taken for the 16-bit status it ends in.
        let odd = br#"{"errors":true,"items":[{"index":{"status":65737}},{"index":{"status":-1}}]}"#;
        let out = parse_response(odd, 2, BulkAction::Index).unwrap().unwrap();
        assert_eq!(out[0], ItemOutcome::Retry { status: 0 });
        assert_eq!(out[1], ItemOutcome::Retry { status: 0 });
        // Without `errors`, each item's status decides.
        let unsure = br#"{"items":[{"index":{"status":201}},{"index":{"status":503}}]}"#;
        let out = parse_response(unsure, 2, BulkAction::Index)
            .unwrap()
            .unwrap();
        assert_eq!(out[1], ItemOutcome::Retry { status: 503 });
    }
}
