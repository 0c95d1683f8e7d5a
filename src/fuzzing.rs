//! Entry points for fuzzing the parsers of untrusted input.
//!
//! Each function takes arbitrary bytes, runs one parser the way the agent runs it, and panics when a
//! property that must hold does not (besides any panic of the parser itself): no input may make a parser
//! panic, hang or allocate without bound, and where a reference exists (serde_json for JSON lines, the
//! text of the lines for the multiline joiner, the status codes for bulk answers) the result must agree
//! with it. The fuzz targets in `fuzz/` call these functions, and `tests/fuzz_corpus.rs` replays every
//! committed corpus file through them, so a finding stays fixed.

use crate::event::{Event, ScanRefusal, ScannedObject};
use crate::inputs::file::decode::{EventTemplate, FileStream};
use crate::outputs::elasticsearch::bulk::{ItemOutcome, parse_response};
use crate::outputs::elasticsearch::config::BulkAction;
use crate::pipeline::disk::{codec, segment};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::OnceLock;

/// An entry point: takes the fuzzer's bytes, panics on a finding.
pub type Target = fn(&[u8]);

/// The targets by name (the names of the folders of `fuzz/corpus/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("config", config),
    ("queue_segment", queue_segment),
    ("queue_cursor", queue_cursor),
    ("bulk_response", bulk_response),
    ("json_line", json_line),
    ("processors", processors),
    #[cfg(feature = "evtx")]
    ("evtx", evtx),
    ("multiline", multiline),
    ("auditd", auditd),
    ("syslog", syslog),
    ("received_body", received_body),
];

/// A configuration file: loaded and checked like `logward check` does (load, build the processors,
/// collect the warnings), the error report formatted. Variables `${A}`…`${Z}` are set, others are not.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name.len() == 1).then(|| format!("value-of-{name}"));
    match crate::config::load_str(text, "fuzz.yml", Path::new("/nonexistent-fuzz-base"), &env) {
        Ok(config) => {
            let _ = crate::pipeline::run::build_processors_only(&config);
            let _ = crate::cli::check::warnings(&config);
        }
        Err(errors) => {
            assert!(
                !errors.errors.is_empty(),
                "a refused configuration names no mistake"
            );
            let _ = errors.to_string();
        }
    }
}

/// A disk-queue segment file: scanned like recovery does, each good record's payload decoded. The same
/// bytes are also decoded as one record payload, and wrapped into a well-formed segment.
pub fn queue_segment(data: &[u8]) {
    check_scan(data);
    decode_payload(data);
    let mut wrapped = segment::header(7).to_vec();
    segment::encode_record(&mut wrapped, 7, data);
    segment::encode_record(&mut wrapped, 9, data);
    let scan = check_scan(&wrapped);
    assert_eq!(scan.records.len(), 2, "a well-formed segment lost records");
    assert!(
        scan.is_clean(),
        "a well-formed segment was reported damaged"
    );
}

/// Scans segment bytes and checks the scan describes them consistently.
fn check_scan(bytes: &[u8]) -> segment::Scan {
    let scan = segment::scan(bytes);
    let len = bytes.len() as u64;
    assert_eq!(scan.len, len);
    assert!(scan.valid_end <= len, "valid_end past the end: {scan:?}");
    let mut last_seq = None;
    let mut last_end = 0;
    for r in &scan.records {
        assert!(
            last_seq.is_none_or(|s| r.seq > s),
            "sequence numbers out of order"
        );
        assert!(r.offset >= last_end, "records overlap");
        let end = r.offset + u64::from(r.len);
        assert!(end <= len, "a record runs past the end");
        last_seq = Some(r.seq);
        last_end = end;
        let payload = &bytes[r.offset as usize..end as usize];
        decode_payload(payload);
    }
    for d in &scan.damaged {
        assert!(
            d.range.start < d.range.end && d.range.end <= len,
            "bad damage range {d:?}"
        );
    }
    scan
}

/// Decodes a record payload; a decoded batch must count as many events as it has and survive being
/// written again.
fn decode_payload(payload: &[u8]) {
    let Ok(events) = codec::decode(payload) else {
        return;
    };
    // What `queue inspect` and recovery count (a payload without a count line counts as empty).
    assert_eq!(codec::count(payload).unwrap_or(0), events.len() as u64);
    let mut again = Vec::new();
    codec::encode(&events, &mut again);
    let back = codec::decode(&again).expect("a decoded batch, written again, does not decode");
    assert_eq!(back.len(), events.len());
    for (a, b) in events.iter().zip(&back) {
        assert_eq!(a.fields(), b.fields());
        assert_eq!(a.metadata, b.metadata);
        assert_eq!(a.origin, b.origin);
    }
}

/// A disk-queue cursor file, read through the queue's own reader. A cursor taken from it must be the
/// file's `acked` value and a sequence number the queue can do arithmetic on.
pub fn queue_cursor(data: &[u8]) {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("logward-fuzz-cursor-{}", std::process::id()));
        let _ = std::fs::create_dir_all(d.join("cursors"));
        d
    });
    let path = crate::pipeline::disk::cursor_path(dir, "out");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Some(n) = crate::pipeline::disk::read_cursor(dir, "out") {
        assert!(n <= 1 << 62, "cursor {n} taken from {data:?}");
        let v: Value =
            serde_json::from_slice(data).expect("a cursor was taken from a file that is not JSON");
        assert_eq!(v.get("acked").and_then(Value::as_u64), Some(n));
    }
}

/// An Elasticsearch `_bulk` answer for a number of documents given by the first byte (or, when it is
/// even, the number of items the body holds). Whatever is counted as stored must be an item result the
/// server marked as stored, one per document sent.
pub fn bulk_response(data: &[u8]) {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let action = if first & 1 == 0 {
        BulkAction::Index
    } else {
        BulkAction::Create
    };
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let items = parsed
        .as_ref()
        .and_then(|v| v.get("items"))
        .and_then(Value::as_array);
    let count = match items {
        Some(items) if first & 2 == 0 => items.len(),
        _ => usize::from(first >> 2),
    };
    let outcome = parse_response(body, count, action);
    let Ok(outcome) = outcome else {
        return;
    };
    let v = parsed
        .as_ref()
        .expect("a bulk answer that serde_json refuses was accepted");
    let items = items.expect("a bulk answer without an items array was accepted");
    assert_eq!(
        items.len(),
        count,
        "item results do not match the documents sent"
    );
    for item in items {
        let m = item.as_object().expect("an item result is not an object");
        assert_eq!(m.len(), 1, "an item result has other than one action");
    }
    let Some(outcomes) = outcome else {
        assert_eq!(v.get("errors"), Some(&Value::Bool(false)));
        return;
    };
    assert_eq!(outcomes.len(), count);
    for (item, outcome) in items.iter().zip(&outcomes) {
        let status = item
            .as_object()
            .and_then(|m| m.values().next())
            .and_then(|r| r.get("status"))
            .and_then(Value::as_u64);
        match outcome {
            ItemOutcome::Stored { duplicate: false } => assert!(
                status.is_some_and(|s| (200..300).contains(&s)),
                "counted as stored with status {status:?}: {item}"
            ),
            ItemOutcome::Stored { duplicate: true } => assert!(
                action == BulkAction::Create && status == Some(409),
                "counted as a duplicate with status {status:?}: {item}"
            ),
            // A status of 0 stands for one that cannot be read (missing, not an HTTP status): retried.
            ItemOutcome::Retry { status: 0 } => {}
            ItemOutcome::Retry { status: s } | ItemOutcome::Rejected { status: s, .. } => {
                assert_eq!(
                    Some(u64::from(*s)),
                    status,
                    "reported with another status: {item}"
                );
            }
        }
    }
}

/// A JSON line, as the file input decodes it, with serde_json as the reference: whatever the scanner
/// accepts serde_json accepts as the same object, nothing serde_json accepts is called invalid, and the
/// event kept as text equals the event a full decode builds, whatever the input's settings.
pub fn json_line(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let theirs = serde_json::from_str::<Value>(text);
        let ours = crate::util::json_read::from_str(text);
        match (&theirs, &ours) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "the decoder and serde_json disagree on {text:?}"),
            (Err(_), Err(_)) => {}
            _ => panic!("the decoder and serde_json disagree on {text:?}: {ours:?} / {theirs:?}"),
        }
        match ScannedObject::scan(text.to_string()) {
            Ok(scanned) => {
                let Ok(Value::Object(map)) = &theirs else {
                    panic!("the scanner accepted {text:?}, which serde_json reads as {theirs:?}");
                };
                let keys: Vec<&str> = scanned.keys().collect();
                let theirs_keys: Vec<&str> = map.keys().map(String::as_str).collect();
                assert_eq!(
                    keys, theirs_keys,
                    "the scanner sees other members in {text:?}"
                );
                let raw = scanned.into_own_fields().finish(None, false);
                assert_eq!(
                    raw.merged(),
                    map,
                    "the line kept as text reads otherwise: {text:?}"
                );
                let mut out = Vec::new();
                raw.write_json(&mut out);
                let back: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
                    panic!("the line kept as text is written as invalid JSON ({e}): {text:?}")
                });
                assert_eq!(
                    &back,
                    &Value::Object(map.clone()),
                    "written otherwise: {text:?}"
                );
            }
            Err((_, ScanRefusal::Invalid)) => assert!(
                theirs.is_err(),
                "the scanner calls {text:?} invalid, serde_json reads {theirs:?}"
            ),
            Err((_, ScanRefusal::NotPlain)) => {}
        }
    }
    let stream = FileStream::new("/var/log/app.log", "in/abc".into());
    for (kept, full) in templates() {
        let a = kept.event(&stream, data, 7, false, "2024-01-01T00:00:00.000Z");
        let b = full.event(&stream, data, 7, false, "2024-01-01T00:00:00.000Z");
        let (mut ja, mut jb) = (Vec::new(), Vec::new());
        a.write_json(&mut ja);
        b.write_json(&mut jb);
        let va: serde_json::Map<String, Value> =
            serde_json::from_slice(&ja).expect("an event is written as invalid JSON");
        let vb: serde_json::Map<String, Value> =
            serde_json::from_slice(&jb).expect("an event is written as invalid JSON");
        let line = String::from_utf8_lossy(data);
        assert_eq!(
            va.keys().collect::<Vec<_>>(),
            vb.keys().collect::<Vec<_>>(),
            "{line:?}"
        );
        assert_eq!(va, vb, "{line:?}");
        assert_eq!(a.fields(), b.fields(), "{line:?}");
        assert_eq!(a.timestamp_text(), b.timestamp_text(), "{line:?}");
        assert_eq!(
            a.tags().collect::<Vec<_>>(),
            b.tags().collect::<Vec<_>>(),
            "{line:?}"
        );
    }
}

/// Pairs of file-input event templates: one keeping JSON lines as text where it can, one always
/// decoding them fully, for the settings that change how a line becomes an event.
fn templates() -> &'static [(EventTemplate, EventTemplate)] {
    static TEMPLATES: OnceLock<Vec<(EventTemplate, EventTemplate)>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        [
            json!({"paths": ["x"], "json": {"keys_under_root": true, "message_key": "msg"}}),
            json!({"paths": ["x"], "json": {"keys_under_root": true, "overwrite_keys": true, "message_key": "msg"}}),
            json!({"paths": ["x"], "tags": ["web"], "fields": {"env": "prod"}, "fields_under_root": true,
                   "json": {"keys_under_root": true, "add_error_key": true}}),
            json!({"paths": ["x"], "fields": {"env": "prod"}, "json": {"keys_under_root": true, "message_key": "message"}}),
        ]
        .into_iter()
        .map(|settings| {
            let t = || template(&settings);
            (t(), t().full_decode_only())
        })
        .collect()
    })
}

fn template(settings: &Value) -> EventTemplate {
    let mut own = settings.as_object().cloned().unwrap_or_default();
    let mut shared = serde_json::Map::new();
    for k in crate::component::InputOptions::KEYS {
        if let Some(v) = own.remove(*k) {
            shared.insert(k.to_string(), v);
        }
    }
    let cfg: crate::inputs::file::config::FileInputConfig =
        serde_json::from_value(Value::Object(own)).expect("the fuzzing settings are valid");
    let options: crate::component::InputOptions =
        serde_json::from_value(Value::Object(shared)).expect("the fuzzing settings are valid");
    let decoration = crate::component::Decoration::new("file", &options);
    EventTemplate::new("in", &cfg, &decoration, "host".into())
}

/// A `grok`, `dissect`, `date` or `kv` processor (by the first byte) built from settings in the first
/// lines and run on the rest as the event's `message`. Building may fail; running must not panic, and
/// the event must stay writable as JSON.
pub fn processors(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut lines = text.splitn(4, '\n');
    let mut next = || lines.next().unwrap_or("");
    let (a, b, c, message) = (next(), next(), next(), next());
    let flag = |bit: u8| selector & (1 << bit) != 0;
    let (kind, settings) = match selector % 4 {
        0 => {
            let mut defs = serde_json::Map::new();
            if let Some((name, regex)) = b.split_once(' ') {
                defs.insert(name.to_string(), Value::String(regex.to_string()));
            }
            let mut patterns = vec![Value::String(a.to_string())];
            if !c.is_empty() {
                patterns.push(Value::String(c.to_string()));
            }
            (
                "grok",
                json!({"patterns": patterns, "pattern_definitions": defs,
                       "break_on_match": flag(2), "keep_empty_captures": flag(3)}),
            )
        }
        1 => (
            "dissect",
            json!({"pattern": a, "append_separator": b, "trim_values": flag(2)}),
        ),
        2 => {
            let mut s = json!({"formats": a.split('\t').collect::<Vec<_>>()});
            if !b.is_empty() {
                s["timezone"] = Value::String(b.to_string());
            }
            ("date", s)
        }
        _ => (
            "kv",
            json!({"field_split": a, "value_split": b, "trim_value": c,
                   "prefix": if flag(2) { "kv." } else { "" }}),
        ),
    };
    let Ok(processor) = crate::processors::config::build_from_json(kind, settings) else {
        return;
    };
    let value = match message.parse::<f64>() {
        Ok(n) if flag(4) => json!(n),
        _ => Value::String(message.to_string()),
    };
    let mut event = Event::new();
    event.fields_mut().insert("message".into(), value);
    let _ = processor.process(&mut event);
    let mut out = Vec::new();
    event.write_json(&mut out);
    serde_json::from_slice::<Value>(&out).expect("a processed event is written as invalid JSON");
}

#[cfg(feature = "evtx")]
/// An `.evtx` file (real files, mutated): every chunk and record the evtx input would read, turned into
/// events as the input does. Damage must be reported as errors, never panic or run away.
pub fn evtx(data: &[u8]) {
    crate::inputs::evtx::read_records(data.to_vec(), &mut |record| {
        if let Ok((record_id, value)) = record {
            let e = crate::inputs::windows_event::ecs::to_event(&value, record_id, "host");
            let mut out = Vec::new();
            e.write_json(&mut out);
        }
    });
}

/// The multiline joiner on a stream of lines: the settings from the first line (flags byte, then the
/// pattern), the rest read by the file input's line reader in small pieces and joined. Events must come
/// in order, cover every byte once, hold exactly the lines they cover unless marked truncated, and stay
/// within `max_lines` lines of at most the line cap each.
pub fn multiline(data: &[u8]) {
    use crate::inputs::file::config::{MultilineConfig, MultilineMatch};
    use crate::inputs::file::lines::LineReader;
    use crate::inputs::file::multiline::{Joined, Multiline};
    use std::time::{Duration, Instant};

    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (pattern, body) = match memchr::memchr(b'\n', rest) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let cfg = MultilineConfig {
        pattern: String::from_utf8_lossy(pattern).into_owned(),
        negate: flags & 1 != 0,
        match_: if flags & 2 != 0 {
            MultilineMatch::Before
        } else {
            MultilineMatch::After
        },
        max_lines: usize::from(flags >> 5) + 1,
        timeout: crate::config::HumanDuration::secs(5),
        flush_pattern: None,
    };
    let Ok(mut ml) = Multiline::new(&cfg) else {
        return;
    };
    let max_line = usize::from((flags >> 2) & 3) * 13 + 1;
    let piece = if flags & 16 != 0 { 1 } else { 7 };
    let mut reader = LineReader::stream(
        Box::new(Pieces {
            data: body.to_vec(),
            at: 0,
            piece,
        }),
        max_line,
    );
    let start = Instant::now();
    let mut joined: Vec<Joined> = Vec::new();
    let mut tick = 0u64;
    loop {
        let now = start + Duration::from_secs(tick);
        let polled = reader
            .poll(3, |line| {
                ml.push(
                    line.bytes,
                    line.start,
                    line.end,
                    line.truncated,
                    now,
                    &mut |j| joined.push(j),
                )
            })
            .expect("reading from memory cannot fail");
        // Every other round, time passes beyond the flush timeout.
        tick += if tick.is_multiple_of(2) { 1 } else { 6 };
        ml.flush_if_due(start + Duration::from_secs(tick), &mut |j| joined.push(j));
        if polled.eof {
            break;
        }
    }
    let now = start + Duration::from_secs(tick);
    reader.finish(|line| {
        ml.push(
            line.bytes,
            line.start,
            line.end,
            line.truncated,
            now,
            &mut |j| joined.push(j),
        )
    });
    ml.flush(&mut |j| joined.push(j));
    let mut at = 0u64;
    for j in &joined {
        assert_eq!(j.start, at, "bytes left out or read twice before {j:?}");
        assert!(j.end > j.start, "an empty event {j:?}");
        assert!(
            j.lines >= 1 && j.lines <= cfg.max_lines,
            "{j:?} has too many lines"
        );
        assert!(
            j.bytes.len() <= cfg.max_lines * (max_line + 4),
            "{j:?} is larger than its line caps allow"
        );
        if !j.truncated {
            // Lines end with `\n` or `\r\n`; the last line of the stream may have no ending.
            let covered = &body[j.start as usize..j.end as usize];
            let ended = covered.ends_with(b"\n");
            let covered = covered.strip_suffix(b"\n").unwrap_or(covered);
            let parts: Vec<&[u8]> = covered.split(|&b| b == b'\n').collect();
            let expected: Vec<&[u8]> = parts
                .iter()
                .enumerate()
                .map(|(i, l)| match l.strip_suffix(b"\r") {
                    Some(cut) if ended || i + 1 < parts.len() => cut,
                    _ => l,
                })
                .collect();
            assert_eq!(j.lines, expected.len(), "{j:?}");
            assert_eq!(
                j.bytes,
                expected.join(&b'\n'),
                "{j:?} does not hold its lines"
            );
        }
        at = j.end;
    }
    assert_eq!(
        at,
        body.len() as u64,
        "the end of the stream was not shipped"
    );
}

/// A reader handing out its bytes a few at a time, so lines straddle reads.
struct Pieces {
    data: Vec<u8>,
    at: usize,
    piece: usize,
}

impl std::io::Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A request body of the `http` and `elasticsearch` inputs: decoded under each `Content-Encoding`
/// within a limit, split into events as the `http` input does and read as a `_bulk` body. No decoded
/// body passes the limit; every event the splitter makes is an object serde_json reads from its text or
/// a failure within `max_event_bytes`; a `_bulk` body has a document for each item without an error.
pub fn received_body(data: &[u8]) {
    use crate::inputs::http::body::{Encoding, decode};
    use crate::inputs::http::{Parsed, split_body};
    const LIMIT: usize = 64 * 1024;
    const MAX_EVENT: usize = 512;
    for encoding in [
        Encoding::Identity,
        Encoding::Gzip,
        Encoding::Deflate,
        Encoding::Zstd,
    ] {
        if let Ok(decoded) = decode(encoding, data, LIMIT) {
            assert!(
                encoding == Encoding::Identity || decoded.len() <= LIMIT,
                "{encoding:?} decoded {} bytes, more than the limit",
                decoded.len()
            );
        }
    }
    if let Ok(events) = split_body(data, MAX_EVENT) {
        for (_, parsed) in events {
            if let Parsed::Failed { text, .. } = parsed {
                assert!(
                    text.len() <= MAX_EVENT * 3,
                    "a failed event keeps {} bytes of text",
                    text.len()
                );
            }
        }
    }
    if let Ok((items, docs)) = crate::inputs::es_bulk::parse_bulk(data, Some("fuzz"), MAX_EVENT) {
        let ok = items.iter().filter(|i| i.error.is_none()).count();
        assert_eq!(ok, docs.len(), "one document per item without an error");
    }
}

/// The syslog input's framing and both parsers. The first byte picks the frame cap (1 to 256 bytes) and
/// the piece size the stream arrives in; the rest is one TCP connection's bytes. The frames must not
/// depend on how the stream was cut, must stay within the cap, and each is parsed as `auto`, RFC 3164 and
/// RFC 5424: a valid priority is always a message in RFC 3164, RFC 5424 agrees with `auto` on messages
/// that carry its version, and no parsed header field holds a space.
pub fn syslog(data: &[u8]) {
    use crate::inputs::syslog::framing::Framer;
    use crate::inputs::syslog::parse::{Format, Zone, parse};

    let Some((&flags, stream)) = data.split_first() else {
        return;
    };
    let max = usize::from(flags) + 1;
    let piece = usize::from(flags % 7) + 1;
    let collect = |pieces: usize| {
        let mut framer = Framer::new(max);
        let mut frames: Vec<(Vec<u8>, bool, bool)> = Vec::new();
        let mut out = |f: crate::inputs::syslog::framing::Frame<'_>| {
            frames.push((f.bytes.to_vec(), f.truncated, f.problem.is_some()));
        };
        for chunk in stream.chunks(pieces) {
            framer.feed(chunk, &mut out);
        }
        framer.finish(&mut out);
        frames
    };
    let frames = collect(piece);
    assert_eq!(
        frames,
        collect(stream.len().max(1)),
        "the frames depend on how the stream was cut"
    );
    let now = chrono::DateTime::from_timestamp(1_764_694_800, 0).unwrap_or_default();
    let zone = Zone::Named(chrono_tz::Europe::Paris);
    for (bytes, _, _) in &frames {
        assert!(bytes.len() <= max, "a frame is longer than the cap");
        let auto = parse(bytes, Format::Auto, zone, now);
        let bsd = parse(bytes, Format::Rfc3164, zone, now);
        let strict = parse(bytes, Format::Rfc5424, zone, now);
        let has_priority = bytes.first() == Some(&b'<')
            && bytes
                .iter()
                .skip(1)
                .take_while(|b| b.is_ascii_digit())
                .count()
                > 0;
        if let Ok(m) = &bsd {
            assert!(m.priority <= 191);
        } else {
            assert!(auto.is_err(), "RFC 3164 refuses what auto accepts");
        }
        if bsd.is_err() && !has_priority {
            assert!(strict.is_err());
        }
        if let Ok(m) = &strict {
            assert_eq!(auto.as_ref().ok(), Some(m), "auto and RFC 5424 disagree");
            for field in [&m.hostname, &m.appname, &m.procid, &m.msgid]
                .into_iter()
                .flatten()
            {
                assert!(
                    !field.contains(' '),
                    "a header field holds a space: {field:?}"
                );
            }
        }
    }
}

/// Audit records (`type=… msg=audit(…): k=v …`, one per line) through the `auditd` processor: it must not
/// panic, every problem must come with `error.message` and the failure tag, and the event must stay
/// writable as JSON.
pub fn auditd(data: &[u8]) {
    static PROCESSOR: OnceLock<Box<dyn crate::processors::Processor>> = OnceLock::new();
    let processor = PROCESSOR.get_or_init(|| {
        crate::processors::config::build_from_json("auditd", json!({}))
            .expect("the auditd settings are valid")
    });
    let mut event = Event::from_message(String::from_utf8_lossy(data).into_owned());
    let verdict = processor.process(&mut event);
    let failed = verdict == crate::processors::Verdict::Failed;
    assert_eq!(
        failed,
        event.has_tag("_auditdparsefailure"),
        "a failure is tagged, and only a failure"
    );
    assert!(
        !failed || event.get_path("error.message").is_some(),
        "a failure says why"
    );
    let mut out = Vec::new();
    event.write_json(&mut out);
    serde_json::from_slice::<Value>(&out).expect("a parsed audit event is written as invalid JSON");
}
