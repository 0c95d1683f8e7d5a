//! `auditd`: parses Linux audit records (`/var/log/audit/audit.log`, RAW or ENRICHED format):
//! `[node=… ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): key=value …`.
//!
//! One event may hold several records, one per line (the file input's `multiline` with `match: key` joins
//! the records of one audit event by their serial): the first record is the event's main record and goes
//! to `auditd.log.*`, the others to `auditd.<type>` (a list when a type repeats, as PATH does). Values that
//! auditd writes hex-encoded (`proctitle`, `exe`, `cmd`, `name`, EXECVE arguments, … when not quoted) are
//! decoded; the quoted `msg='…'` of user-space records is parsed into the record. ECS basics follow:
//! `@timestamp`, `event.action`, `event.outcome`, `event.category`, `user.*`, `process.*`, `source.ip`.

use super::common::Failure;
use super::{Processor, Verdict};
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};
use crate::event::{Event, FieldPath};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The `auditd` processor type.
pub const KIND: ProcessorKind = ProcessorKind::of::<AuditdConfig>(
    "auditd",
    &[],
    "parses Linux audit records (audit.log) into auditd.* and ECS fields",
);

/// `auditd:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditdConfig {
    /// The field holding the record(s), one per line (default `message`).
    #[serde(default = "super::common::message_field")]
    pub field: String,
    /// Tags added when a record cannot be parsed completely (the reason is in `error.message`).
    #[serde(default = "default_failure_tags")]
    pub tag_on_failure: Vec<String>,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_auditdparsefailure".into()]
}

/// At most this many fields are read from one record; the rest of a longer record is reported.
const MAX_FIELDS: usize = 1024;
/// At most this many records are read from one event.
const MAX_RECORDS: usize = 1024;
/// How much of a faulty value an error message quotes.
const QUOTE_CHARS: usize = 64;

/// Fields auditd writes hex-encoded (without quotes) when their value holds a space, a quote or a control
/// character; quoted otherwise. EXECVE's `aN` / `aN[i]` arguments are handled alike.
const ENCODED: &[&str] = &[
    "proctitle",
    "exe",
    "comm",
    "cwd",
    "name",
    "acct",
    "cmd",
    "key",
    "path",
    "data",
    "dir",
    "file",
    "ocomm",
    "watch",
    "root_dir",
    "sw",
];

/// A built auditd processor.
pub struct Auditd {
    field: FieldPath,
    failure: Failure,
}

/// One parsed record.
struct Record {
    record_type: String,
    node: Option<String>,
    seconds: i64,
    millis: u32,
    serial: u64,
    fields: Map<String, Value>,
}

/// The text of `value`, shortened for an error message.
fn quote(value: &str) -> String {
    if value.chars().count() <= QUOTE_CHARS {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(QUOTE_CHARS).collect();
        format!("{head:?}… ({} bytes)", value.len())
    }
}

/// Decodes hex pairs (auditd writes upper case; lower case is accepted). A two-line loop: a crate for it
/// would be a dependency for nothing.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Whether `key` of a record of `record_type` is one auditd hex-encodes.
fn is_encoded(record_type: &str, key: &str) -> bool {
    if ENCODED.contains(&key) {
        return true;
    }
    // EXECVE arguments: a0, a1, … and the pieces of a long one: a2[0], a2[1], …
    record_type == "EXECVE"
        && key.len() > 1
        && key.starts_with('a')
        && key[1..]
            .split_once('[')
            .map_or(&key[1..], |(n, _)| n)
            .bytes()
            .all(|b| b.is_ascii_digit())
        && key[1..].bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// Splits `key=value` pairs (fails only on a quote that never closes). Values are `"double quoted"`, `'single quoted'` (the nested `msg` of user-space
/// records) or bare up to the next space; a bare word without `=` continues the value before it (auditd
/// writes `op=adding user`). The ENRICHED format's group separator (0x1d) counts as a space.
fn pairs(text: &str) -> Result<Vec<(&str, Quoted<'_>)>, String> {
    let bytes = text.as_bytes();
    let mut out: Vec<(&str, Quoted<'_>)> = Vec::new();
    let mut i = 0;
    let is_space = |b: u8| b == b' ' || b == b'\t' || b == 0x1d;
    while i < bytes.len() {
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'=' {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            // A word without `=`: part of the previous bare value; before any (the `avc:  denied  { read }
            // for` of AVC records) it is not a field.
            if let Some((_, Quoted::Bare(v))) = out.last_mut() {
                let begin = v.as_ptr() as usize - text.as_ptr() as usize;
                *v = &text[begin..i];
            }
            continue;
        }
        let key = &text[start..i];
        i += 1;
        let value = match bytes.get(i) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let open = i + 1;
                match memchr::memchr(q, &bytes[open..]) {
                    Some(len) => {
                        i = open + len + 1;
                        if q == b'"' {
                            Quoted::Double(&text[open..open + len])
                        } else {
                            Quoted::Single(&text[open..open + len])
                        }
                    }
                    None => {
                        return Err(format!(
                            "the value of `{key}` opens a quote that is never closed: {} (a truncated record?)",
                            quote(&text[open..])
                        ));
                    }
                }
            }
            _ => {
                let open = i;
                while i < bytes.len() && !is_space(bytes[i]) {
                    i += 1;
                }
                Quoted::Bare(&text[open..i])
            }
        };
        out.push((key, value));
    }
    Ok(out)
}

/// How a value was written.
#[derive(Clone, Copy)]
enum Quoted<'a> {
    Bare(&'a str),
    Double(&'a str),
    Single(&'a str),
}

/// Parses the header `[node=N ]type=T msg=audit(S.MS:SERIAL):` and returns the record and the rest.
fn header(line: &str) -> Result<(Record, &str), String> {
    let mut rest = line.trim_start();
    let mut node = None;
    if let Some(after) = rest.strip_prefix("node=") {
        let end = after.find(' ').ok_or_else(|| {
            format!(
                "{} ends after `node=`: expected `type=… msg=audit(…)` to follow",
                quote(line)
            )
        })?;
        node = Some(after[..end].to_string());
        rest = after[end..].trim_start();
    }
    let expected = "expected `type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): …` as auditd writes it";
    let after = rest
        .strip_prefix("type=")
        .ok_or_else(|| format!("{} does not start with `type=`: {expected}", quote(line)))?;
    let (record_type, after) = after
        .split_once(" msg=audit(")
        .ok_or_else(|| format!("{} has no ` msg=audit(`: {expected}", quote(line)))?;
    let (stamp, after) = after
        .split_once("):")
        .ok_or_else(|| format!("{} is cut short in `audit(…)`: {expected}", quote(line)))?;
    let bad_stamp = || format!("the record stamp `audit({stamp})` is not `SECONDS.MILLIS:SERIAL`");
    let (time, serial) = stamp.split_once(':').ok_or_else(bad_stamp)?;
    let (secs, frac) = time.split_once('.').unwrap_or((time, "0"));
    let seconds: i64 = secs.parse().map_err(|_| bad_stamp())?;
    let serial: u64 = serial.parse().map_err(|_| bad_stamp())?;
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_stamp());
    }
    let millis = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u32, |m, b| m * 10 + u32::from(b - b'0'));
    if record_type.is_empty() || record_type.contains(' ') {
        return Err(format!("the record type {} is not a word", quote(record_type)));
    }
    Ok((
        Record {
            record_type: record_type.to_string(),
            node,
            seconds,
            millis,
            serial,
            fields: Map::new(),
        },
        after,
    ))
}

/// Decoded bytes as text: NUL separators (of argv in `proctitle`) become spaces.
fn bytes_to_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.trim_end_matches('\0').replace('\0', " ")
}

/// Parses one record line into a [`Record`]; problems with single fields are pushed to `problems` and the
/// rest of the record is still read.
fn record(line: &str, problems: &mut Vec<String>) -> Result<Record, String> {
    let (mut rec, rest) = header(line)?;
    let list = match pairs(rest) {
        Ok(list) => list,
        Err(e) => {
            // Keep what can be read before the fault.
            problems.push(format!("{} record: {e}", rec.record_type));
            let cut = rest.rfind(['"', '\'']).map_or(rest, |i| &rest[..i]);
            let cut = cut.rfind(' ').map_or("", |i| &cut[..i]);
            pairs(cut).unwrap_or_default()
        }
    };
    let mut count = 0;
    for (key, value) in list {
        if count >= MAX_FIELDS {
            problems.push(format!(
                "{} record: more than {MAX_FIELDS} fields; the rest are left out",
                rec.record_type
            ));
            break;
        }
        match value {
            Quoted::Single(inner) if key == "msg" => {
                // The message of a user-space record: its own key=value pairs.
                match pairs(inner) {
                    Ok(inner_pairs) => {
                        for (k, v) in inner_pairs {
                            if !rec.fields.contains_key(k) {
                                let v = field_value(&rec.record_type, k, v, problems);
                                rec.fields.insert(k.to_string(), v);
                                count += 1;
                            }
                        }
                    }
                    Err(_) => {
                        rec.fields
                            .insert("msg".to_string(), Value::String(inner.to_string()));
                        count += 1;
                    }
                }
            }
            v => {
                let v = field_value(&rec.record_type, key, v, problems);
                rec.fields.insert(key.to_string(), v);
                count += 1;
            }
        }
    }
    Ok(rec)
}

/// The value of one field, hex-decoded when auditd encoded it.
fn field_value(record_type: &str, key: &str, value: Quoted<'_>, problems: &mut Vec<String>) -> Value {
    match value {
        Quoted::Double(s) | Quoted::Single(s) => Value::String(s.to_string()),
        Quoted::Bare(s) if is_encoded(record_type, key) && s != "(null)" && s != "?" && s != "(none)" => {
            match decode_hex(s) {
                Some(bytes) => Value::String(bytes_to_text(&bytes)),
                None => {
                    problems.push(format!(
                        "{record_type} record, field `{key}`: the value {} is neither quoted nor hexadecimal, so it cannot be decoded; it is kept as written (is the file an unmodified audit.log?)",
                        quote(s)
                    ));
                    Value::String(s.to_string())
                }
            }
        }
        Quoted::Bare(s) => Value::String(s.to_string()),
    }
}

fn text<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    fields.get(key).and_then(Value::as_str)
}

/// An id field (`uid`, `auid`, …) unless it says "unset" (4294967295, or -1 on 32-bit).
fn id<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    text(fields, key).filter(|v| *v != "4294967295" && *v != "-1" && !v.is_empty())
}

fn integer(fields: &Map<String, Value>, key: &str) -> Option<Value> {
    text(fields, key)?.parse::<i64>().ok().map(Value::from)
}

/// What a record type is about, in ECS `event.category` terms.
fn category(record_type: &str) -> Option<&'static str> {
    Some(match record_type {
        "USER_AUTH" | "USER_LOGIN" | "USER_LOGOUT" | "USER_ERR" | "USER_ACCT" | "CRED_ACQ"
        | "CRED_DISP" | "CRED_REFR" | "LOGIN" | "ANOM_LOGIN_FAILURES" => "authentication",
        "ADD_USER" | "DEL_USER" | "ADD_GROUP" | "DEL_GROUP" | "USER_MGMT" | "GRP_MGMT"
        | "USER_CHAUTHTOK" | "GRP_CHAUTHTOK" | "ACCT_LOCK" | "ACCT_UNLOCK" | "ROLE_ASSIGN"
        | "ROLE_REMOVE" => "iam",
        "USER_START" | "USER_END" => "session",
        "USER_CMD" | "EXECVE" => "process",
        "CONFIG_CHANGE" | "DAEMON_START" | "DAEMON_END" | "DAEMON_ABORT" | "DAEMON_CONFIG" => {
            "configuration"
        }
        _ => return None,
    })
}

impl Auditd {
    /// Builds from configuration.
    pub fn build(cfg: &AuditdConfig, ctx: &ProcessorBuild<'_>) -> Result<Auditd, String> {
        Ok(Auditd {
            field: FieldPath::parse(&cfg.field).map_err(|e| e.to_string())?,
            failure: Failure::new("auditd", ctx.scope, cfg.tag_on_failure.clone()),
        })
    }

    /// Writes the records into the event.
    fn write(event: &mut Event, records: Vec<Record>) {
        let mut records = records.into_iter();
        let Some(main) = records.next() else { return };
        let set = |event: &mut Event, path: &str, value: Value| event.set_path(path, value);
        if let Some(t) = DateTime::<Utc>::from_timestamp(main.seconds, main.millis * 1_000_000) {
            event.set_timestamp(t);
        }
        let mut types = vec![Value::String(main.record_type.clone())];
        let mut secondary: Map<String, Value> = Map::new();
        let mut execve: Option<Map<String, Value>> =
            (main.record_type == "EXECVE").then(|| main.fields.clone());
        let mut cwd = None;
        let mut title = None;
        for rec in records {
            types.push(Value::String(rec.record_type.clone()));
            match rec.record_type.as_str() {
                "EOE" => continue,
                "EXECVE" => execve = Some(rec.fields.clone()),
                "CWD" => cwd = text(&rec.fields, "cwd").map(str::to_string),
                "PROCTITLE" => title = text(&rec.fields, "proctitle").map(str::to_string),
                _ => {}
            }
            let key = rec.record_type.to_ascii_lowercase();
            let value = Value::Object(rec.fields);
            match secondary.get_mut(&key) {
                Some(Value::Array(list)) => list.push(value),
                Some(existing) => {
                    let first = std::mem::take(existing);
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    secondary.insert(key, value);
                }
            }
        }
        types.retain(|t| t.as_str() != Some("EOE"));
        let f = &main.fields;
        // ECS.
        set(
            event,
            "event.action",
            Value::String(main.record_type.to_ascii_lowercase()),
        );
        let outcome = text(f, "res")
            .or_else(|| text(f, "success"))
            .and_then(|r| match r {
                "success" | "yes" | "1" => Some("success"),
                "failed" | "no" | "0" => Some("failure"),
                _ => None,
            });
        if let Some(o) = outcome {
            set(event, "event.outcome", Value::String(o.into()));
        }
        let cat = category(&main.record_type).or_else(|| execve.is_some().then_some("process"));
        if let Some(c) = cat {
            set(event, "event.category", Value::Array(vec![Value::String(c.into())]));
        }
        if let Some(uid) = id(f, "uid").or_else(|| id(f, "auid")) {
            set(event, "user.id", Value::String(uid.into()));
        }
        if let Some(auid) = id(f, "auid") {
            set(event, "user.audit.id", Value::String(auid.into()));
        }
        if let Some(euid) = id(f, "euid") {
            set(event, "user.effective.id", Value::String(euid.into()));
        }
        if let Some(gid) = id(f, "gid") {
            set(event, "user.group.id", Value::String(gid.into()));
        }
        if let Some(acct) = text(f, "acct").filter(|a| *a != "?" && !a.is_empty()) {
            set(event, "user.name", Value::String(acct.into()));
        }
        if let Some(pid) = integer(f, "pid") {
            set(event, "process.pid", pid);
        }
        if let Some(ppid) = integer(f, "ppid") {
            set(event, "process.parent.pid", ppid);
        }
        if let Some(exe) = text(f, "exe").filter(|e| *e != "?" && *e != "(null)") {
            set(event, "process.executable", Value::String(exe.into()));
        }
        if let Some(comm) = text(f, "comm") {
            set(event, "process.name", Value::String(comm.into()));
        }
        if let Some(cwd) = cwd.or_else(|| text(f, "cwd").map(str::to_string)) {
            set(event, "process.working_directory", Value::String(cwd));
        }
        if let Some(title) = title {
            set(event, "process.title", Value::String(title));
        }
        if let Some(args) = &execve {
            let argc = integer(args, "argc").and_then(|v| v.as_u64()).unwrap_or(0);
            let list: Vec<Value> = (0..argc.min(MAX_FIELDS as u64))
                .filter_map(|i| text(args, &format!("a{i}")).map(|a| Value::String(a.into())))
                .collect();
            if !list.is_empty() {
                set(event, "process.args", Value::Array(list));
            }
        }
        if let Some(addr) = text(f, "addr").and_then(|a| a.parse::<std::net::IpAddr>().ok()) {
            set(event, "source.ip", Value::String(addr.to_string()));
        }
        // auditd.*
        let mut log = main.fields;
        log.insert(
            "record_type".into(),
            Value::String(main.record_type.clone()),
        );
        log.insert("sequence".into(), Value::from(main.serial));
        if let Some(node) = main.node {
            log.insert("node".into(), Value::String(node));
        }
        let mut auditd = secondary;
        auditd.insert("log".into(), Value::Object(log));
        auditd.insert("record_types".into(), Value::Array(types));
        set(event, "auditd", Value::Object(auditd));
    }
}

impl Processor for Auditd {
    fn name(&self) -> &str {
        "auditd"
    }

    fn process(&self, event: &mut Event) -> Verdict {
        let text = match event.get(&self.field) {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.failure.mark(event);
                event.set_path(
                    "error.message",
                    format!("auditd: the event has no text field `{}` to parse", self.field.as_str()),
                );
                return Verdict::Failed;
            }
        };
        let mut problems = Vec::new();
        let mut records = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if records.len() >= MAX_RECORDS {
                problems.push(format!(
                    "more than {MAX_RECORDS} records in one event; the rest are left out"
                ));
                break;
            }
            let mut line_problems = Vec::new();
            match record(line, &mut line_problems) {
                Ok(r) => records.push(r),
                Err(e) => line_problems.push(e),
            }
            problems.extend(line_problems.into_iter().map(|p| format!("line {}: {p}", n + 1)));
        }
        Self::write(event, records);
        if problems.is_empty() {
            return Verdict::Keep;
        }
        self.failure.mark(event);
        let mut message = format!("auditd: {}", problems.join("; "));
        if problems.len() > 3 {
            message = format!(
                "auditd: {} (and {} more problems)",
                problems[..3].join("; "),
                problems.len() - 3
            );
        }
        event.set_path("error.message", message);
        Verdict::Failed
    }
}

impl ProcessorConfig for AuditdConfig {
    fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Auditd::build(self, ctx)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn auditd() -> Box<dyn Processor> {
        crate::processors::config::build_from_json("auditd", json!({})).unwrap()
    }

    fn run(text: &str) -> (Event, Verdict) {
        let mut e = Event::from_message(text);
        let v = auditd().process(&mut e);
        (e, v)
    }

    #[test]
    fn a_syscall_event_with_its_records_is_one_event() {
        let (e, v) = run(concat!(
            "type=SYSCALL msg=audit(1764493200.123:4711): arch=c000003e syscall=59 success=yes exit=0 ppid=2301 pid=2345 auid=1000 uid=1000 gid=1000 euid=1000 tty=pts0 ses=14 comm=\"ls\" exe=\"/usr/bin/ls\" key=(null)\n",
            "type=EXECVE msg=audit(1764493200.123:4711): argc=3 a0=\"ls\" a1=\"-l\" a2=2F746D702F6D7920646972\n",
            "type=CWD msg=audit(1764493200.123:4711): cwd=\"/home/alice\"\n",
            "type=PATH msg=audit(1764493200.123:4711): item=0 name=\"/usr/bin/ls\" nametype=NORMAL\n",
            "type=PATH msg=audit(1764493200.123:4711): item=1 name=2F746D702F6D7920646972 nametype=NORMAL\n",
            "type=PROCTITLE msg=audit(1764493200.123:4711): proctitle=6C73002D6C002F746D702F6D7920646972\n",
            "type=EOE msg=audit(1764493200.123:4711): \n",
        ));
        assert_eq!(v, Verdict::Keep, "{:?}", e.get_path("error.message"));
        assert_eq!(e.get_path("@timestamp"), Some(&json!("2025-11-30T09:00:00.123Z")));
        assert_eq!(e.get_path("auditd.log.record_type"), Some(&json!("SYSCALL")));
        assert_eq!(e.get_path("auditd.log.sequence"), Some(&json!(4711)));
        assert_eq!(e.get_path("auditd.log.syscall"), Some(&json!("59")));
        assert_eq!(e.get_path("auditd.log.key"), Some(&json!("(null)")));
        assert_eq!(e.get_path("auditd.execve.a2"), Some(&json!("/tmp/my dir")));
        assert_eq!(e.get_path("auditd.cwd.cwd"), Some(&json!("/home/alice")));
        assert_eq!(
            e.get_path("auditd.path"),
            Some(&json!([
                {"item": "0", "name": "/usr/bin/ls", "nametype": "NORMAL"},
                {"item": "1", "name": "/tmp/my dir", "nametype": "NORMAL"}
            ]))
        );
        assert_eq!(
            e.get_path("auditd.record_types"),
            Some(&json!(["SYSCALL", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"]))
        );
        assert_eq!(e.get_path("event.action"), Some(&json!("syscall")));
        assert_eq!(e.get_path("event.outcome"), Some(&json!("success")));
        assert_eq!(e.get_path("event.category"), Some(&json!(["process"])));
        assert_eq!(e.get_path("user.id"), Some(&json!("1000")));
        assert_eq!(e.get_path("user.audit.id"), Some(&json!("1000")));
        assert_eq!(e.get_path("process.pid"), Some(&json!(2345)));
        assert_eq!(e.get_path("process.parent.pid"), Some(&json!(2301)));
        assert_eq!(e.get_path("process.executable"), Some(&json!("/usr/bin/ls")));
        assert_eq!(e.get_path("process.name"), Some(&json!("ls")));
        assert_eq!(e.get_path("process.title"), Some(&json!("ls -l /tmp/my dir")));
        assert_eq!(e.get_path("process.args"), Some(&json!(["ls", "-l", "/tmp/my dir"])));
        assert_eq!(e.get_path("process.working_directory"), Some(&json!("/home/alice")));
    }

    #[test]
    fn user_space_records_read_their_nested_message() {
        let (e, v) = run(
            "node=web1 type=USER_AUTH msg=audit(1764493300.5:4720): pid=3320 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"admin\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.77 addr=203.0.113.77 terminal=ssh res=failed'\u{1d}UID=\"root\" AUID=\"unset\"",
        );
        assert_eq!(v, Verdict::Keep, "{:?}", e.get_path("error.message"));
        assert_eq!(e.get_path("@timestamp"), Some(&json!("2025-11-30T09:01:40.500Z")));
        assert_eq!(e.get_path("auditd.log.node"), Some(&json!("web1")));
        assert_eq!(e.get_path("auditd.log.op"), Some(&json!("PAM:authentication")));
        assert_eq!(e.get_path("auditd.log.UID"), Some(&json!("root")));
        assert_eq!(e.get_path("event.action"), Some(&json!("user_auth")));
        assert_eq!(e.get_path("event.outcome"), Some(&json!("failure")));
        assert_eq!(e.get_path("event.category"), Some(&json!(["authentication"])));
        assert_eq!(e.get_path("user.name"), Some(&json!("admin")));
        assert_eq!(e.get_path("user.id"), Some(&json!("0")));
        assert!(e.get_path("user.audit.id").is_none());
        assert_eq!(e.get_path("source.ip"), Some(&json!("203.0.113.77")));
        assert_eq!(e.get_path("process.executable"), Some(&json!("/usr/sbin/sshd")));
        // A bare word continues the value before it; a hex `cmd` is decoded.
        let (e, _) = run(
            "type=ADD_USER msg=audit(1764493600.310:4751): pid=3051 uid=0 auid=1000 msg='op=adding user acct=\"carol\" exe=\"/usr/sbin/useradd\" res=success'",
        );
        assert_eq!(e.get_path("auditd.log.op"), Some(&json!("adding user")));
        assert_eq!(e.get_path("event.category"), Some(&json!(["iam"])));
        let (e, _) = run(
            "type=USER_CMD msg=audit(1764493500.200:4740): pid=2400 uid=1000 auid=1000 msg='cwd=\"/home/alice\" cmd=61707420757064617465 exe=\"/usr/bin/sudo\" res=success'",
        );
        assert_eq!(e.get_path("auditd.log.cmd"), Some(&json!("apt update")));
        assert_eq!(e.get_path("process.working_directory"), Some(&json!("/home/alice")));
    }

    #[test]
    fn failures_are_counted_in_the_processor_metrics() {
        let scope = "auditd-count-test";
        let p = Auditd::build(
            &serde_json::from_value(json!({})).unwrap(),
            &ProcessorBuild {
                base_dir: std::path::Path::new("."),
                scope,
            },
        )
        .unwrap();
        let failed = || {
            crate::observe::metrics::sum(
                crate::observe::component::ERRORS,
                &[("component_id", scope), ("error_type", "failed")],
            )
        };
        for text in ["type=SYSCALL msg=audit(1.0", "type=CWD msg=audit(1.0:2): cwd=\"/\""] {
            p.process(&mut Event::from_message(text));
        }
        assert_eq!(failed(), 1);
    }

    #[test]
    fn hostile_records_are_reported_and_the_rest_is_kept() {
        // Cut short in the header.
        let (e, v) = run("type=SYSCALL msg=audit(1764493200.1");
        assert_eq!(v, Verdict::Failed);
        assert!(e.has_tag("_auditdparsefailure"));
        let err = e.get_path("error.message").and_then(Value::as_str).unwrap_or_default();
        assert!(err.contains("line 1") && err.contains("cut short"), "{err}");
        // Cut short in a quoted value: the fields before it are kept.
        let (e, v) = run("type=SYSCALL msg=audit(1764493200.123:9): pid=7 uid=0 comm=\"l");
        assert_eq!(v, Verdict::Failed);
        assert_eq!(e.get_path("process.pid"), Some(&json!(7)));
        let err = e.get_path("error.message").and_then(Value::as_str).unwrap_or_default();
        assert!(err.contains("`comm`") && err.contains("never closed"), "{err}");
        // A bad hex value is kept as written and named.
        let (e, v) = run("type=PROCTITLE msg=audit(1764493200.123:9): proctitle=6C7G0");
        assert_eq!(v, Verdict::Failed);
        assert_eq!(e.get_path("auditd.log.proctitle"), Some(&json!("6C7G0")));
        let err = e.get_path("error.message").and_then(Value::as_str).unwrap_or_default();
        assert!(err.contains("`proctitle`") && err.contains("\"6C7G0\""), "{err}");
        // Not an audit record at all, garbage, invalid UTF-8 replaced by the input.
        for text in ["", "hello world", "type=", "type=X msg=audit(a:b): x=1", "\u{fffd}\u{0}\u{1}"] {
            let (e, v) = run(text);
            assert!(text.is_empty() || v == Verdict::Failed, "{text:?}");
            assert!(text.is_empty() || e.has_tag("_auditdparsefailure"), "{text:?}");
        }
        // A 1 MiB record: a huge hex value is decoded, a huge run of pairs is capped.
        let big = format!(
            "type=EXECVE msg=audit(1764493200.123:9): argc=1 a0={}",
            "41".repeat(512 * 1024)
        );
        let (e, v) = run(&big);
        assert_eq!(v, Verdict::Keep);
        assert_eq!(
            e.get_path("auditd.log.a0").and_then(Value::as_str).map(str::len),
            Some(512 * 1024)
        );
        let many = format!(
            "type=SYSCALL msg=audit(1764493200.123:9): {}",
            "k=v ".repeat(256 * 1024)
        );
        let (e, v) = run(&many);
        assert_eq!(v, Verdict::Failed);
        let err = e.get_path("error.message").and_then(Value::as_str).unwrap_or_default();
        assert!(err.contains("more than 1024 fields"), "{err}");
        let garbage = "x".repeat(1024 * 1024);
        let (e, v) = run(&garbage);
        assert_eq!(v, Verdict::Failed);
        let err = e.get_path("error.message").and_then(Value::as_str).unwrap_or_default();
        assert!(err.len() < 1024, "the error quotes a bounded part: {}", err.len());
    }
}
