//! `examples/linux-audit-log.yml` through the real binary: the file input joins the records of one audit
//! event by their serial, the `auditd` processor parses them; hostile records are tagged and explained.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The audit example through the real binary: the records of one audit event become one event, parsed;
/// hostile records are tagged, explained and counted, and the agent goes on.
#[test]
fn the_audit_example_joins_records_by_serial_and_parses_them() {
    let sb = Sandbox::new();
    let log = sb.path("logs/audit.log");
    std::fs::copy(root().join("tests/data/audit.log"), &log).unwrap();
    let example = std::fs::read_to_string(root().join("examples/linux-audit-log.yml")).unwrap();
    let config = example
        .replace("/var/log/audit/audit.log", &log.display().to_string())
        .replace(
            "path: ../data/linux-audit-log/out",
            &format!("path: {}\n    filename: events.ndjson", sb.out().display()),
        )
        .replace(
            "../data/linux-audit-log",
            &sb.path("data").display().to_string(),
        )
        .replace(
            "    multiline:\n",
            "    scan_frequency: 200ms\n    multiline:\n",
        )
        .replace("timeout: 2s", "timeout: 500ms");
    let cfg = sb.path("logward.yml");
    std::fs::write(
        &cfg,
        config.replace("outputs:\n", "progress_interval: 0s\noutputs:\n"),
    )
    .unwrap();
    let agent = Agent::start(&cfg);
    // 14 records: DAEMON_START, one SYSCALL event of 7 records (with EOE), two USER_AUTH, USER_LOGIN,
    // USER_CMD, ADD_GROUP, ADD_USER (the last one sent by the timeout).
    wait_for_lines(&sb.out(), 8, &agent);
    // Hostile records: cut short, a bad hex value, a 1 MiB record; then a good one.
    append_lines(
        &log,
        [
            "type=SYSCALL msg=audit(1764493700.000:4800): arch=c000003e syscall=59 success=yes comm=\"tru".to_string(),
            "type=PROCTITLE msg=audit(1764493700.100:4801): proctitle=6C7G00".to_string(),
            format!("type=EXECVE msg=audit(1764493700.200:4802): argc=1 a0={}", "4A".repeat(512 * 1024 - 64)),
            "type=USER_END msg=audit(1764493700.300:4803): pid=2310 uid=0 auid=1000 ses=14 msg='op=PAM:session_close acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=192.0.2.10 addr=192.0.2.10 terminal=ssh res=success'".to_string(),
        ],
    );
    wait_for_lines(&sb.out(), 12, &agent);
    assert_eq!(agent.stop(), 0);
    let events = read_events(&sb.out());
    assert_eq!(events.len(), 12, "{events:#?}");
    let by_serial = |serial: u64| -> &Value {
        events
            .iter()
            .find(|e| e["auditd"]["log"]["sequence"] == serial)
            .unwrap_or_else(|| panic!("no event with serial {serial}"))
    };
    let syscall = by_serial(4711);
    assert_eq!(
        syscall["message"].as_str().map(|m| m.lines().count()),
        Some(7)
    );
    assert_eq!(syscall["@timestamp"], "2025-11-30T09:00:00.123Z");
    assert_eq!(syscall["event"]["action"], "syscall");
    assert_eq!(syscall["event"]["outcome"], "success");
    assert_eq!(syscall["user"]["id"], "1000");
    assert_eq!(syscall["process"]["pid"], 2345);
    assert_eq!(syscall["process"]["executable"], "/usr/bin/ls");
    assert_eq!(syscall["process"]["title"], "ls -l /tmp/my dir");
    assert_eq!(
        syscall["process"]["args"],
        serde_json::json!(["ls", "-l", "/tmp/my dir"])
    );
    assert_eq!(syscall["auditd"]["log"]["AUID"], "alice");
    assert_eq!(
        syscall["auditd"]["path"][1]["name"],
        "/lib64/ld-linux-x86-64.so.2"
    );
    assert_eq!(syscall["auditd"]["cwd"]["cwd"], "/home/alice");
    let failed = by_serial(4720);
    assert_eq!(failed["event"]["action"], "user_auth");
    assert_eq!(failed["event"]["outcome"], "failure");
    assert_eq!(failed["user"]["name"], "admin");
    assert_eq!(failed["source"]["ip"], "203.0.113.77");
    assert_eq!(by_serial(4730)["event"]["outcome"], "success");
    assert_eq!(by_serial(4735)["event"]["action"], "user_login");
    assert_eq!(by_serial(4735)["user"]["audit"]["id"], "1000");
    assert_eq!(by_serial(4740)["auditd"]["log"]["cmd"], "apt update");
    assert_eq!(
        by_serial(4750)["event"]["category"],
        serde_json::json!(["iam"])
    );
    assert_eq!(by_serial(4751)["user"]["name"], "carol");
    for e in &events[..8] {
        assert!(e.get("tags").is_none(), "{e:#}");
    }
    let truncated = by_serial(4800);
    assert_eq!(
        truncated["tags"],
        serde_json::json!(["_auditdparsefailure"])
    );
    assert!(
        truncated["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`comm`")
    );
    let bad_hex = by_serial(4801);
    assert_eq!(bad_hex["tags"], serde_json::json!(["_auditdparsefailure"]));
    assert!(
        bad_hex["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"6C7G00\"")
    );
    let huge = by_serial(4802);
    assert_eq!(
        huge["process"]["args"][0].as_str().map(str::len),
        Some(512 * 1024 - 64)
    );
    assert_eq!(by_serial(4803)["event"]["outcome"], "success");
}

/// `match: key` settings that cannot work are refused with their position.
#[test]
fn joining_by_key_without_a_key_group_is_refused_with_its_position() {
    let sb = Sandbox::new();
    let cfg = sb.config(&file_input(
        "audit",
        &sb.path("logs/audit.log"),
        "    multiline:\n      pattern: 'msg=audit'\n      match: key\n      negate: true\n      flush_pattern: '('\n",
    ));
    let (code, out, err) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    for (line, text) in [
        ("logward.yml:9:", "needs a capture group that holds the key"),
        (
            "logward.yml:11:",
            "`negate` has no meaning with `match: key`",
        ),
        (
            "logward.yml:12:",
            "flush_pattern is not a valid regular expression",
        ),
    ] {
        assert!(
            err.lines().any(|l| l.contains(line) && l.contains(text)),
            "{line} {text:?} in:\n{err}"
        );
    }
}
