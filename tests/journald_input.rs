//! End-to-end tests of the journald input through the real binary, on real journal files: the test writes
//! entries in the journal export format, systemd-journal-remote turns them into journal files, and logward
//! reads them through journalctl.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// systemd-journal-remote, or `None` (after `require`) when it is missing and skipped on purpose.
fn journal_remote() -> Option<PathBuf> {
    let found = [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    let journalctl = Command::new("journalctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found.is_none() || !journalctl {
        let _ = require(
            "journald",
            "systemd-journal-remote or journalctl is missing (apt-get install systemd systemd-journal-remote)",
        );
        return None;
    }
    found
}

/// One journal entry: its fields, in order (a field may repeat).
type Entry = Vec<(String, Vec<u8>)>;

fn entry(message: &str, extra: &[(&str, &str)]) -> Entry {
    let mut e: Entry = vec![("MESSAGE".into(), message.as_bytes().to_vec())];
    for (k, v) in extra {
        e.push((k.to_string(), v.as_bytes().to_vec()));
    }
    e
}

/// Appends `entries` to the journal file `file` (created when missing) with systemd-journal-remote,
/// numbering their timestamps from `first`.
fn write_journal(remote: &Path, file: &Path, first: u64, entries: &[Entry]) {
    let boot = "0d2f3c9a5c1e4b8f9a6e2b7c4d1f0a3b";
    let mut export = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let n = first + i as u64;
        write!(
            export,
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID={boot}\n",
            1_700_000_000_000_000 + n * 1000,
            1_000_000 + n
        )
        .unwrap();
        for (k, v) in e {
            if v.contains(&b'\n') || std::str::from_utf8(v).is_err() || v.iter().any(|b| *b < 0x20)
            {
                export.extend_from_slice(k.as_bytes());
                export.push(b'\n');
                export.extend_from_slice(&(v.len() as u64).to_le_bytes());
                export.extend_from_slice(v);
                export.push(b'\n');
            } else {
                export.extend_from_slice(k.as_bytes());
                export.push(b'=');
                export.extend_from_slice(v);
                export.push(b'\n');
            }
        }
        export.push(b'\n');
    }
    let mut child = Command::new(remote)
        .arg(format!("--output={}", file.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start systemd-journal-remote");
    child.stdin.take().unwrap().write_all(&export).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "systemd-journal-remote failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn journald_input(id: &str, settings: &str) -> String {
    format!("  - type: journald\n    id: {id}\n{settings}")
}

/// Every output event whose `tags` hold `tag`.
fn tagged<'a>(events: &'a [serde_json::Value], tag: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| {
            e["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == tag))
        })
        .collect()
}

fn messages_of(events: &[&serde_json::Value]) -> Vec<String> {
    let mut m: Vec<String> = events
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect();
    m.sort();
    m
}

/// Waits for the agent to exit by itself (every input read its journal to the end); returns its code.
fn wait_exit(agent: &mut Agent) -> i32 {
    let mut code = None;
    let ok = wait_until(WAIT, || {
        code = agent
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.code().unwrap_or(-1));
        code.is_some()
    });
    assert!(ok, "logward did not finish reading; log:\n{}", agent.log());
    code.unwrap_or(-1)
}

#[test]
fn fields_filters_binary_and_huge_values() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let sb = Sandbox::new();
    let journal = sb.path("logs/system.journal");
    let mut huge = entry(
        "huge",
        &[("_SYSTEMD_UNIT", "app.service"), ("PRIORITY", "6")],
    );
    huge.push(("BIG_FIELD".into(), vec![b'x'; 3 * 1024 * 1024]));
    let mut binary = entry("", &[("_SYSTEMD_UNIT", "app.service"), ("PRIORITY", "3")]);
    binary[0].1 = b"bad \xff\xfe bytes\nsecond line\x00".to_vec();
    let entries = vec![
        entry(
            "app started",
            &[
                ("PRIORITY", "6"),
                ("SYSLOG_FACILITY", "3"),
                ("SYSLOG_IDENTIFIER", "app"),
                ("_PID", "4242"),
                ("_UID", "1000"),
                ("_COMM", "app"),
                ("_SYSTEMD_UNIT", "app.service"),
                ("_HOSTNAME", "web-1"),
                ("_TRANSPORT", "journal"),
                ("MESSAGE_ID", "39f53479d3a045ac8e11786248231fbf"),
                ("REQUEST_ID", "r-1"),
                ("TAG", "a"),
                ("TAG", "b"),
            ],
        ),
        binary,
        huge,
        entry(
            "disk failing",
            &[
                ("PRIORITY", "2"),
                ("SYSLOG_IDENTIFIER", "kernel"),
                ("_TRANSPORT", "kernel"),
            ],
        ),
        entry(
            "cron ran",
            &[
                ("PRIORITY", "6"),
                ("SYSLOG_IDENTIFIER", "cron"),
                ("_SYSTEMD_UNIT", "cron.service"),
            ],
        ),
        entry(
            "cron failed",
            &[
                ("PRIORITY", "3"),
                ("SYSLOG_IDENTIFIER", "cron"),
                ("_SYSTEMD_UNIT", "cron.service"),
            ],
        ),
        entry(
            "db up",
            &[
                ("PRIORITY", "5"),
                ("SYSLOG_IDENTIFIER", "postgres"),
                ("_SYSTEMD_UNIT", "db.service"),
            ],
        ),
    ];
    write_journal(&remote, &journal, 0, &entries);
    let file = format!(
        "    paths: [\"{}\"]\n    follow: false\n",
        journal.display()
    );
    let inputs = [
        journald_input("all", &format!("{file}    max_field_bytes: 64KiB\n    tags: [all]\n")),
        journald_input("units", &format!("{file}    units: [app]\n    include_kernel: true\n    tags: [units]\n")),
        journald_input(
            "cron-errors",
            &format!("{file}    identifiers: [cron]\n    priorities: [err..emerg]\n    tags: [cron]\n"),
        ),
        journald_input(
            "matches",
            &format!(
                "{file}    matches: [\"_SYSTEMD_UNIT=db.service\", \"+\", \"SYSLOG_IDENTIFIER=kernel\"]\n    tags: [matches]\n"
            ),
        ),
    ]
    .join("");
    let cfg = sb.config(&inputs);
    let mut agent = Agent::start(&cfg);
    assert_eq!(wait_exit(&mut agent), 0, "log:\n{}", agent.log());
    let events = read_events(&sb.out());

    let all = tagged(&events, "all");
    assert_eq!(all.len(), entries.len(), "{}", agent.log());
    let first = all.iter().find(|e| e["message"] == "app started").unwrap();
    assert_eq!(first["@timestamp"], "2023-11-14T22:13:20.000Z");
    assert_eq!(first["log"]["syslog"]["priority"], 6);
    assert_eq!(first["log"]["syslog"]["facility"]["code"], 3);
    assert_eq!(first["log"]["syslog"]["identifier"], "app");
    assert_eq!(first["process"]["pid"], 4242);
    assert_eq!(first["systemd"]["unit"], "app.service");
    assert_eq!(first["systemd"]["transport"], "journal");
    assert_eq!(first["host"]["hostname"], "web-1");
    assert_eq!(first["event"]["code"], "39f53479d3a045ac8e11786248231fbf");
    assert_eq!(first["journald"]["uid"], 1000);
    assert_eq!(first["journald"]["process"]["name"], "app");
    assert_eq!(
        first["journald"]["host"]["boot_id"],
        "0d2f3c9a5c1e4b8f9a6e2b7c4d1f0a3b"
    );
    assert_eq!(first["journald"]["custom"]["request_id"], "r-1");
    assert_eq!(
        first["journald"]["custom"]["tag"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(first["input"]["type"], "journald");
    assert!(first.get("__CURSOR").is_none());

    let bad = all
        .iter()
        .find(|e| e["log"]["syslog"]["priority"] == 3 && e["systemd"]["unit"] == "app.service")
        .unwrap();
    assert_eq!(
        bad["message"],
        "bad \u{fffd}\u{fffd} bytes\nsecond line\u{0}"
    );
    assert!(
        bad["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "invalid_utf8"),
        "{bad}"
    );
    let huge = all.iter().find(|e| e["message"] == "huge").unwrap();
    assert_eq!(
        huge["journald"]["custom"]["big_field"]
            .as_str()
            .unwrap()
            .len(),
        64 * 1024
    );
    assert!(
        huge["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "truncated"),
        "{huge:.300}"
    );

    assert_eq!(
        messages_of(&tagged(&events, "units")),
        [
            "app started",
            bad["message"].as_str().unwrap(),
            "disk failing",
            "huge"
        ]
    );
    assert_eq!(messages_of(&tagged(&events, "cron")), ["cron failed"]);
    assert_eq!(
        messages_of(&tagged(&events, "matches")),
        ["db up", "disk failing"]
    );
}

/// Pids of the agent's child processes (journalctl).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    out
}

fn numbered(from: usize, to: usize) -> (Vec<Entry>, Vec<String>) {
    let msgs: Vec<String> = (from..to).map(|i| format!("entry {i:06}")).collect();
    let entries = msgs
        .iter()
        .map(|m| entry(m, &[("PRIORITY", "6"), ("_SYSTEMD_UNIT", "app.service")]))
        .collect();
    (entries, msgs)
}

/// Follows a journal folder while it grows: a graceful restart goes on exactly after the saved cursor; a
/// journalctl killed under the agent is started again after the last entry read (nothing lost or
/// repeated); after `kill -9` of the agent every entry still arrives, at least once (entries acknowledged
/// after the last save of the cursor come again), and none is skipped.
#[test]
fn cursor_resumes_after_restart_journalctl_death_and_kill9() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let sb = Sandbox::new();
    let dir = sb.path("journal");
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("remote.journal");
    let cfg = sb.config(&journald_input(
        "follow",
        &format!("    directory: \"{}\"\n", dir.display()),
    ));
    let (a, mut expected) = numbered(0, 1000);
    write_journal(&remote, &journal, 0, &a);
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 1000, &agent);
    // Followed: entries written while it runs arrive too.
    let (b, m) = numbered(1000, 2000);
    write_journal(&remote, &journal, 1000, &b);
    expected.extend(m);
    wait_for_lines(&sb.out(), 2000, &agent);
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);

    // Written while stopped: read after the restart, from the saved cursor.
    let (c, m) = numbered(2000, 3000);
    write_journal(&remote, &journal, 2000, &c);
    expected.extend(m);
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 3000, &agent);
    // journalctl killed under the agent: started again after the last entry read.
    let kids = children(agent.child.id());
    assert!(!kids.is_empty(), "no journalctl child found");
    for k in &kids {
        let _ = Command::new("kill")
            .args(["-KILL", &k.to_string()])
            .status();
    }
    wait_for_log(&agent, "journalctl ended");
    let (d, m) = numbered(3000, 4000);
    write_journal(&remote, &journal, 3000, &d);
    expected.extend(m);
    wait_for_lines(&sb.out(), 4000, &agent);
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);

    // kill -9 in the middle of a large backlog, then a restart: at least once, no gap.
    let (e, m) = numbered(4000, 24000);
    write_journal(&remote, &journal, 4000, &e);
    expected.extend(m);
    let agent = Agent::start(&cfg);
    wait_for(&agent, "some of the backlog", || {
        count_lines(&sb.out()) > 6000
    });
    agent.kill9();
    let agent = Agent::start(&cfg);
    wait_for(&agent, "every entry after kill -9", || {
        let got: std::collections::HashSet<String> = messages(&sb.out()).into_iter().collect();
        expected.iter().all(|m| got.contains(m))
    });
    assert_eq!(agent.stop(), 0);
    let got = messages(&sb.out());
    let distinct: std::collections::HashSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), expected.len(), "only the expected entries");
    eprintln!(
        "after kill -9: {} entries, {} repeated",
        expected.len(),
        got.len() - expected.len()
    );
    // Every repeated entry is one acknowledged after the cursor's last save: they follow each other.
    let mut repeated: Vec<&String> = distinct
        .iter()
        .copied()
        .filter(|m| got.iter().filter(|g| g == m).count() > 1)
        .collect();
    repeated.sort();
    if let (Some(lo), Some(hi)) = (repeated.first(), repeated.last()) {
        let lo: usize = lo[6..].parse().unwrap();
        let hi: usize = hi[6..].parse().unwrap();
        assert_eq!(
            hi - lo + 1,
            repeated.len(),
            "the repeated entries are one run"
        );
    }
}

/// A file that is not a journal makes journalctl fail: logged with journalctl's words, counted, tried again
/// with a backoff, and the agent keeps running; a damaged journal in a folder is read as far as it can be.
#[test]
fn garbage_and_damaged_journal_files_are_reported_and_the_agent_keeps_running() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let sb = Sandbox::new();
    let garbage = sb.path("logs/garbage.journal");
    std::fs::write(
        &garbage,
        (0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let dir = sb.path("damaged");
    std::fs::create_dir_all(&dir).unwrap();
    let (entries, _) = numbered(0, 20_000);
    write_journal(&remote, &dir.join("a.journal"), 0, &entries);
    // Overwrite a stretch in the middle of the file.
    let path = dir.join("a.journal");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 100_000] {
        *b = 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    let cfg = sb.config(&format!(
        "{}{}",
        journald_input(
            "garbage",
            &format!("    paths: [\"{}\"]\n", garbage.display())
        ),
        journald_input(
            "damaged",
            &format!("    directory: \"{}\"\n    follow: false\n", dir.display())
        ),
    ));
    let mut agent = Agent::start(&cfg);
    wait_for_log_lines(&agent, &["journalctl ended", "garbage"], 2);
    let log = agent.this_run_log();
    assert!(
        log.contains("Bad message") || log.contains("Failed to open"),
        "{log}"
    );
    wait_for(&agent, "some entries of the damaged journal", || {
        count_lines(&sb.out()) > 1000
    });
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent keeps running"
    );
    let n = count_lines(&sb.out());
    assert!(n <= 20_000, "{n}");
    let (code, _) = agent.stop_within(WAIT);
    assert_eq!(code, Some(0));
}

#[test]
fn invalid_settings_are_reported_at_their_line() {
    let sb = Sandbox::new();
    let cfg = sb.config(&journald_input(
        "bad",
        "    paths: [\"/x.journal\"]\n    directory: /var/log/journal\n    priorities: [loud]\n    matches: [\"unit=ssh\", \"+\"]\n",
    ));
    let (code, out, err) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    let text = format!("{out}{err}");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("not both"), "{text}");
    assert!(text.contains("`loud` is not a priority"), "{text}");
    assert!(text.contains("`unit=ssh` is not a journal match"), "{text}");
    assert!(text.contains("not at the start or end"), "{text}");
    assert!(text.contains("logward.yml:"), "{text}");
}

/// `seek: head` reads from the start whatever was saved, `seek: tail` only what comes after it starts, and
/// `seek: cursor` goes on after the saved cursor.
#[test]
fn seek_head_tail_and_cursor() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let sb = Sandbox::new();
    let journal = sb.path("logs/app.journal");
    let (a, first) = numbered(0, 5);
    write_journal(&remote, &journal, 0, &a);
    let run = |seek: &str, out: &str| -> Vec<String> {
        let out = sb.path(out);
        let cfg = sb.write_config(
            "shutdown_timeout: 20s\n",
            &journald_input(
                "seek",
                &format!(
                    "    paths: [\"{}\"]\n    follow: false\n    seek: {seek}\n",
                    journal.display()
                ),
            ),
            &format!(
                "  - type: file\n    path: {}\n    filename: events.ndjson\n",
                out.display()
            ),
        );
        let mut agent = Agent::start(&cfg);
        assert_eq!(wait_exit(&mut agent), 0, "log:\n{}", agent.log());
        messages(&out)
    };
    assert_eq!(run("cursor", "out1"), first);
    assert_eq!(run("head", "out2"), first, "head ignores the saved cursor");
    assert!(
        run("tail", "out3").is_empty(),
        "tail reads only new entries"
    );
    let (b, more) = numbered(5, 8);
    write_journal(&remote, &journal, 5, &b);
    assert_eq!(
        run("cursor", "out4"),
        more,
        "cursor goes on after the last entry read"
    );
}
