//! Maps a Windows event (the JSON form of its XML, as the `evtx` crate renders it) to the ECS layout
//! Winlogbeat writes, so Kibana dashboards and SIEM rules written for Winlogbeat work unchanged.
//!
//! Platform-independent on purpose: the live Windows Event Log input renders the same XML structure.

use crate::event::{Event, Fields, format_timestamp};
use serde_json::{Map, Value, json};

/// Winlogbeat's `log.level` for a numeric `Level`.
pub fn level_name(level: u64) -> &'static str {
    match level {
        1 => "critical",
        2 => "error",
        3 => "warning",
        5 => "verbose",
        _ => "information",
    }
}

/// The text of an XML-as-JSON node: a plain value, or the `#text` of an element with attributes.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(m) => m.get("#text").and_then(text_of),
        Value::Null => None,
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text_of).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
    }
}

fn attr<'a>(v: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    v?.get("#attributes")?.get(name)
}

/// Converts a data map (EventData / UserData): values become text or lists of text, attributes are dropped.
fn data_fields(v: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if k == "#attributes" {
                    continue;
                }
                // Unnamed `<Data>` elements: `{"Data": {"#text": [..]}}`.
                let unnamed = k == "Data"
                    && matches!(val, Value::Object(inner) if inner.keys().all(|k| k == "#text"));
                let val = if unnamed {
                    val.get("#text").unwrap_or(&Value::Null)
                } else {
                    val
                };
                if k == "#text" || unnamed {
                    // Unnamed data: param1, param2, … as Winlogbeat names them.
                    let items: Vec<&Value> = match val {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for (i, item) in items.into_iter().enumerate() {
                        if let Some(t) = text_of(item) {
                            out.insert(format!("param{}", i + 1), Value::String(t));
                        }
                    }
                    continue;
                }
                let converted = match val {
                    Value::Object(inner)
                        if inner.keys().any(|k| k != "#text" && k != "#attributes") =>
                    {
                        Value::Object(data_fields(val))
                    }
                    Value::Array(items) => Value::Array(
                        items
                            .iter()
                            .filter_map(text_of)
                            .map(Value::String)
                            .collect(),
                    ),
                    other => match text_of(other) {
                        Some(t) => Value::String(t),
                        None => continue,
                    },
                };
                out.insert(k.clone(), converted);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(t) = text_of(item) {
                    out.insert(format!("param{}", i + 1), Value::String(t));
                }
            }
        }
        other => {
            if let Some(t) = text_of(other) {
                out.insert("param1".into(), Value::String(t));
            }
        }
    }
    out
}

/// The ECS event for one record. `record` is the rendered `{"Event": {...}}` object.
pub fn to_event(record: &Value, record_id: u64, host_name: &str) -> Event {
    let ev = record.get("Event").unwrap_or(record);
    let system = ev.get("System");
    let sys = |k: &str| system.and_then(|s| s.get(k));
    let mut winlog = Fields::new();
    let mut event_obj = Fields::new();
    event_obj.insert("kind".into(), json!("event"));
    event_obj.insert(
        "created".into(),
        Value::String(format_timestamp(chrono::Utc::now())),
    );
    if let Some(name) = attr(sys("Provider"), "Name").and_then(text_of) {
        winlog.insert("provider_name".into(), Value::String(name.clone()));
        event_obj.insert("provider".into(), Value::String(name));
    }
    if let Some(guid) = attr(sys("Provider"), "Guid").and_then(text_of) {
        winlog.insert("provider_guid".into(), Value::String(guid));
    }
    if let Some(id) = sys("EventID").and_then(text_of) {
        winlog.insert("event_id".into(), Value::String(id.clone()));
        event_obj.insert("code".into(), Value::String(id));
    }
    let level = sys("Level")
        .and_then(text_of)
        .and_then(|t| t.parse::<u64>().ok());
    for (key, field) in [
        ("Task", "task"),
        ("Opcode", "opcode"),
        ("Version", "version"),
    ] {
        if let Some(v) = sys(key).and_then(text_of) {
            winlog.insert(field.into(), Value::String(v));
        }
    }
    if let Some(k) = sys("Keywords").and_then(text_of) {
        winlog.insert("keywords".into(), Value::Array(keyword_names(&k)));
        if let Some(outcome) = audit_outcome(&k) {
            event_obj.insert("outcome".into(), Value::String(outcome.into()));
        }
    }
    winlog.insert("record_id".into(), Value::String(record_id.to_string()));
    if let Some(ch) = sys("Channel").and_then(text_of) {
        winlog.insert("channel".into(), Value::String(ch));
    }
    if let Some(c) = sys("Computer").and_then(text_of) {
        winlog.insert("computer_name".into(), Value::String(c));
    }
    if let Some(a) = attr(sys("Correlation"), "ActivityID").and_then(text_of) {
        winlog.insert("activity_id".into(), Value::String(a));
    }
    let pid = attr(sys("Execution"), "ProcessID")
        .and_then(text_of)
        .and_then(|t| t.parse::<u64>().ok());
    let tid = attr(sys("Execution"), "ThreadID")
        .and_then(text_of)
        .and_then(|t| t.parse::<u64>().ok());
    if pid.is_some() || tid.is_some() {
        let mut process = Fields::new();
        if let Some(p) = pid {
            process.insert("pid".into(), json!(p));
        }
        if let Some(t) = tid {
            process.insert("thread".into(), json!({ "id": t }));
        }
        winlog.insert("process".into(), Value::Object(process));
    }
    if let Some(uid) = attr(sys("Security"), "UserID").and_then(text_of) {
        winlog.insert("user".into(), json!({ "identifier": uid }));
    }
    if let Some(data) = ev.get("EventData") {
        let fields = data_fields(data);
        if !fields.is_empty() {
            winlog.insert("event_data".into(), Value::Object(fields));
        }
    }
    if let Some(data) = ev.get("UserData") {
        let fields = data_fields(data);
        if !fields.is_empty() {
            winlog.insert("user_data".into(), Value::Object(fields));
        }
    }
    let mut fields = Fields::new();
    let timestamp = attr(sys("TimeCreated"), "SystemTime")
        .and_then(text_of)
        .and_then(|t| {
            chrono::DateTime::parse_from_rfc3339(&t)
                .ok()
                .map(|d| format_timestamp(d.with_timezone(&chrono::Utc)))
        });
    fields.insert(
        "@timestamp".into(),
        Value::String(timestamp.unwrap_or_else(|| format_timestamp(chrono::Utc::now()))),
    );
    fields.insert("event".into(), Value::Object(event_obj));
    fields.insert(
        "log".into(),
        json!({ "level": level_name(level.unwrap_or(4)) }),
    );
    fields.insert("host".into(), json!({ "name": host_name }));
    fields.insert("winlog".into(), Value::Object(winlog));
    Event::with_fields(fields)
}

/// Winlogbeat's names for the well-known keyword bits; other bits stay as the hex mask.
fn keyword_names(hex: &str) -> Vec<Value> {
    let Ok(mask) = u64::from_str_radix(hex.trim_start_matches("0x"), 16) else {
        return vec![Value::String(hex.to_string())];
    };
    let known = [
        (0x0010_0000_0000_0000u64, "Audit Failure"),
        (0x0020_0000_0000_0000, "Audit Success"),
        (0x0080_0000_0000_0000, "Classic"),
        (0x0040_0000_0000_0000, "Correlation Hint"),
        (0x0001_0000_0000_0000, "Response Time"),
        (0x0008_0000_0000_0000, "SQM"),
        (0x0004_0000_0000_0000, "WDI Diag"),
    ];
    let names: Vec<Value> = known
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, n)| Value::String((*n).into()))
        .collect();
    if names.is_empty() {
        vec![Value::String(hex.to_string())]
    } else {
        names
    }
}

fn audit_outcome(hex: &str) -> Option<&'static str> {
    let mask = u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok()?;
    if mask & 0x0020_0000_0000_0000 != 0 {
        Some("success")
    } else if mask & 0x0010_0000_0000_0000 != 0 {
        Some("failure")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_properties_and_named_data_map_to_winlogbeat_fields() {
        let record = json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{5478}"}},
                "EventID": 4624, "Version": 2, "Level": 0, "Task": 12544, "Opcode": 0, "Keywords": "0x8020000000000000",
                "TimeCreated": {"#attributes": {"SystemTime": "2019-02-13T15:33:21.123456Z"}},
                "EventRecordID": 42, "Correlation": {"#attributes": {"ActivityID": "{A1}"}},
                "Execution": {"#attributes": {"ProcessID": 612, "ThreadID": 700}},
                "Channel": "Security", "Computer": "DC01.corp.local", "Security": null
            },
            "EventData": {"TargetUserName": "alice", "LogonType": 3, "IpAddress": "10.0.0.5"}
        }});
        let e = to_event(&record, 42, "collector");
        assert_eq!(e.get_path("event.code"), Some(&json!("4624")));
        assert_eq!(
            e.get_path("event.provider"),
            Some(&json!("Microsoft-Windows-Security-Auditing"))
        );
        assert_eq!(e.get_path("event.outcome"), Some(&json!("success")));
        assert_eq!(e.get_path("log.level"), Some(&json!("information")));
        assert_eq!(e.get_path("winlog.channel"), Some(&json!("Security")));
        assert_eq!(e.get_path("winlog.record_id"), Some(&json!("42")));
        assert_eq!(
            e.get_path("winlog.computer_name"),
            Some(&json!("DC01.corp.local"))
        );
        assert_eq!(e.get_path("winlog.process.pid"), Some(&json!(612)));
        assert_eq!(e.get_path("winlog.process.thread.id"), Some(&json!(700)));
        assert_eq!(e.get_path("winlog.event_data.LogonType"), Some(&json!("3")));
        assert_eq!(
            e.get_path("winlog.keywords"),
            Some(&json!(["Audit Success"]))
        );
        assert_eq!(
            e.get_path("@timestamp"),
            Some(&json!("2019-02-13T15:33:21.123Z"))
        );
    }

    #[test]
    fn unnamed_data_becomes_params_and_missing_parts_are_tolerated() {
        let e = to_event(
            &json!({"Event": {"System": {"EventID": {"#text": 7036, "#attributes": {"Qualifiers": 16384}}, "Level": 4},
            "EventData": {"#text": ["Windows Update", "running"]}}}),
            1,
            "h",
        );
        assert_eq!(e.get_path("winlog.event_id"), Some(&json!("7036")));
        assert_eq!(
            e.get_path("winlog.event_data.param2"),
            Some(&json!("running"))
        );
        // The evtx crate's shape for unnamed data.
        let e = to_event(
            &json!({"Event": {"System": {"EventID": 6009}, "EventData": {"Data": {"#text": ["10.00.", "15063"]}}}}),
            1,
            "h",
        );
        assert_eq!(
            e.get_path("winlog.event_data.param1"),
            Some(&json!("10.00."))
        );
        assert_eq!(
            e.get_path("winlog.event_data.param2"),
            Some(&json!("15063"))
        );
        let e = to_event(&json!({"garbage": true}), 9, "h");
        assert_eq!(e.get_path("winlog.record_id"), Some(&json!("9")));
    }
}
