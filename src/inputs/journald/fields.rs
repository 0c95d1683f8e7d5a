//! Journal fields to event fields, named as Filebeat's journald input names them: ECS where ECS has a
//! place (`message`, `log.syslog.*`, `process.pid`, `host.hostname`, `systemd.*`), `journald.*` for the
//! journal's own trusted fields, `journald.custom.*` (lower case, leading `_` dropped) for the rest.

use super::export::Entry;
use serde_json::{Map, Value};

/// How a journal field is written: where, and whether as a number.
#[derive(Clone, Copy)]
enum As {
    Text(&'static str),
    Number(&'static str),
}

/// The journal fields with a name of their own.
fn known(name: &str) -> Option<As> {
    use As::{Number as N, Text as T};
    Some(match name {
        "MESSAGE" => T("message"),
        "MESSAGE_ID" => T("event.code"),
        "PRIORITY" => N("log.syslog.priority"),
        "SYSLOG_FACILITY" => N("log.syslog.facility.code"),
        "SYSLOG_IDENTIFIER" => T("log.syslog.identifier"),
        "SYSLOG_PID" => N("log.syslog.pid"),
        "_PID" => N("process.pid"),
        "_UID" => N("journald.uid"),
        "_GID" => N("journald.gid"),
        "_COMM" => T("journald.process.name"),
        "_EXE" => T("journald.process.executable"),
        "_CMDLINE" => T("journald.process.command_line"),
        "_CAP_EFFECTIVE" => T("journald.process.capabilities"),
        "_AUDIT_LOGINUID" => N("journald.audit.login_uid"),
        "_AUDIT_SESSION" => T("journald.audit.session"),
        "_BOOT_ID" => T("journald.host.boot_id"),
        "_HOSTNAME" => T("host.hostname"),
        "_MACHINE_ID" => T("host.id"),
        "_SYSTEMD_CGROUP" => T("systemd.cgroup"),
        "_SYSTEMD_INVOCATION_ID" => T("systemd.invocation_id"),
        "_SYSTEMD_OWNER_UID" => N("systemd.owner_uid"),
        "_SYSTEMD_SESSION" => T("systemd.session"),
        "_SYSTEMD_SLICE" => T("systemd.slice"),
        "_SYSTEMD_UNIT" => T("systemd.unit"),
        "_SYSTEMD_USER_SLICE" => T("systemd.user_slice"),
        "_SYSTEMD_USER_UNIT" => T("systemd.user_unit"),
        "_TRANSPORT" => T("systemd.transport"),
        "CODE_FILE" => T("journald.code.file"),
        "CODE_FUNC" => T("journald.code.func"),
        "CODE_LINE" => N("journald.code.line"),
        "COREDUMP_UNIT" => T("journald.coredump.unit"),
        "COREDUMP_USER_UNIT" => T("journald.coredump.user_unit"),
        "_KERNEL_DEVICE" => T("journald.kernel.device"),
        "_KERNEL_SUBSYSTEM" => T("journald.kernel.subsystem"),
        "_UDEV_SYSNAME" => T("journald.kernel.device_name"),
        "_UDEV_DEVNODE" => T("journald.kernel.device_node_path"),
        "_UDEV_DEVLINK" => T("journald.kernel.device_symlinks"),
        "OBJECT_PID" => N("journald.object.pid"),
        "OBJECT_UID" => N("journald.object.uid"),
        "OBJECT_GID" => N("journald.object.gid"),
        "OBJECT_COMM" => T("journald.object.process.name"),
        "OBJECT_EXE" => T("journald.object.process.executable"),
        "OBJECT_CMDLINE" => T("journald.object.process.command_line"),
        "OBJECT_AUDIT_LOGINUID" => N("journald.object.audit.login_uid"),
        "OBJECT_AUDIT_SESSION" => N("journald.object.audit.session"),
        "OBJECT_SYSTEMD_OWNER_UID" => N("journald.object.systemd.owner_uid"),
        "OBJECT_SYSTEMD_SESSION" => T("journald.object.systemd.session"),
        "OBJECT_SYSTEMD_UNIT" => T("journald.object.systemd.unit"),
        "OBJECT_SYSTEMD_USER_UNIT" => T("journald.object.systemd.user_unit"),
        "CONTAINER_ID" => T("container.id_truncated"),
        "CONTAINER_ID_FULL" => T("container.id"),
        "CONTAINER_NAME" => T("container.name"),
        "CONTAINER_TAG" => T("container.log.tag"),
        _ => return None,
    })
}

/// What mapping an entry found wrong with it (the input counts and tags these).
#[derive(Debug, Default)]
pub struct Flags {
    /// A value was not valid UTF-8 (written with U+FFFD in place of the bad bytes).
    pub invalid_utf8: bool,
    /// A value was longer than `max_field_bytes` and was cut.
    pub truncated: bool,
}

/// The fields of `entry` as event fields (the export's own `__CURSOR`, `__REALTIME_TIMESTAMP`,
/// `__MONOTONIC_TIMESTAMP` and `__SEQNUM*` are left out: the input writes `@timestamp` itself).
pub fn map(entry: &Entry, root: &mut Map<String, Value>) -> Flags {
    let mut flags = Flags::default();
    for f in &entry.fields {
        if f.name.starts_with("__") {
            continue;
        }
        flags.truncated |= f.truncated;
        let text = match std::str::from_utf8(&f.value) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => {
                flags.invalid_utf8 = true;
                String::from_utf8_lossy(&f.value)
            }
        };
        let (path, value) = match known(&f.name) {
            Some(As::Text(p)) => (std::borrow::Cow::Borrowed(p), Value::String(text.into_owned())),
            Some(As::Number(p)) => (
                std::borrow::Cow::Borrowed(p),
                match text.trim().parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::String(text.into_owned()),
                },
            ),
            None => {
                let name = f.name.trim_start_matches('_').to_ascii_lowercase();
                (
                    std::borrow::Cow::Owned(format!("journald.custom.{}", sanitize(&name))),
                    Value::String(text.into_owned()),
                )
            }
        };
        insert(root, &path, value);
    }
    flags
}

/// A field name usable as one path segment (no dots: a dotted name would nest).
fn sanitize(name: &str) -> String {
    if name.is_empty() {
        return "_".into();
    }
    name.replace('.', "_")
}

/// Puts `value` at the dotted `path`; a field the entry holds more than once becomes an array, as
/// journalctl's JSON output writes it.
fn insert(root: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut map = root;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            match map.get_mut(part) {
                None => {
                    map.insert(part.to_string(), value);
                }
                Some(Value::Array(a)) => a.push(value),
                Some(old) => {
                    let first = old.take();
                    *old = Value::Array(vec![first, value]);
                }
            }
            return;
        }
        let slot = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            // A text field where an object goes (never for journal names): keep it beside the object.
            let old = slot.take();
            let mut m = Map::new();
            m.insert("value".into(), old);
            *slot = Value::Object(m);
        }
        let Value::Object(next) = slot else {
            return;
        };
        map = next;
    }
}

#[cfg(test)]
mod tests {
    use super::super::export::Field;
    use super::*;

    fn field(name: &str, value: &[u8]) -> Field {
        Field {
            name: name.into(),
            value: value.to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn names_follow_filebeat_and_repeated_fields_become_arrays() {
        let entry = Entry {
            fields: vec![
                field("MESSAGE", b"hi \xff"),
                field("PRIORITY", b"3"),
                field("_PID", b"42"),
                field("_SYSTEMD_UNIT", b"ssh.service"),
                field("_HOSTNAME", b"web-1"),
                field("MY_FIELD", b"a"),
                field("MY_FIELD", b"b"),
                field("__CURSOR", b"s=1"),
            ],
            problems: vec![],
        };
        let mut root = Map::new();
        let flags = map(&entry, &mut root);
        let v = Value::Object(root);
        assert!(flags.invalid_utf8);
        assert_eq!(v["message"], "hi \u{fffd}");
        assert_eq!(v["log"]["syslog"]["priority"], 3);
        assert_eq!(v["process"]["pid"], 42);
        assert_eq!(v["systemd"]["unit"], "ssh.service");
        assert_eq!(v["host"]["hostname"], "web-1");
        assert_eq!(v["journald"]["custom"]["my_field"], serde_json::json!(["a", "b"]));
        assert!(v.get("__CURSOR").is_none());
    }
}
