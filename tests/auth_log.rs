//! `examples/linux-auth-log.yml` turns the loghub OpenSSH and Linux samples and a hand-written auth.log into
//! ECS authentication events: every line's header parses, and the ECS fields of each line are those its
//! loghub template (`_structured.csv`) calls for.

mod common;

use common::shared_data;
use logward::event::Event;
use logward::processors::Chain;
use logward::processors::config::build_chain;
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::LazyLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn auth_chain() -> Chain {
    let config = logward::config::load_file(&root().join("examples/linux-auth-log.yml"))
        .unwrap_or_else(|e| panic!("linux-auth-log.yml does not load:\n{e}"));
    build_chain(&config.processors, "test", &config.base_dir).unwrap_or_else(|e| panic!("{e:?}"))
}

/// A small CSV reader (quoted fields, doubled quotes), as loghub's `_structured.csv` needs.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn text(e: &Event, path: &str) -> String {
    match e.get_path(path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The ECS fields the examples set, in a fixed order.
const CHECKED: &[&str] = &[
    "event.category",
    "event.type",
    "event.action",
    "event.outcome",
    "user.name",
    "source.ip",
    "source.port",
    "source.domain",
    "system.auth.ssh.event",
    "system.auth.ssh.method",
];

fn actual(e: &Event) -> Vec<(&'static str, String)> {
    CHECKED.iter().map(|k| (*k, text(e, k))).collect()
}

/// What is expected of a line, filled in by template.
#[derive(Default)]
struct Want(Vec<(&'static str, String)>);

impl Want {
    fn set(mut self, key: &'static str, value: impl Into<String>) -> Want {
        self.0.push((key, value.into()));
        self
    }
    fn login(self, outcome: &str, session: bool) -> Want {
        let category = if session {
            r#"["authentication","session"]"#
        } else {
            r#"["authentication"]"#
        };
        self.set("event.category", category)
            .set("event.type", r#"["info"]"#)
            .set("event.action", "ssh_login")
            .set("event.outcome", outcome)
    }
    fn pam_failure(self) -> Want {
        self.set("event.category", r#"["authentication"]"#)
            .set("event.type", r#"["info"]"#)
            .set("event.action", "authentication_failure")
            .set("event.outcome", "failure")
    }
    fn session(self, opened: bool) -> Want {
        self.set("event.category", r#"["session"]"#)
            .set(
                "event.type",
                if opened { r#"["start"]"# } else { r#"["end"]"# },
            )
            .set(
                "event.action",
                if opened {
                    "session_opened"
                } else {
                    "session_closed"
                },
            )
            .set("event.outcome", "success")
    }
    /// `rhost=`: an address, or a host name.
    fn rhost(self, rhost: &str) -> Want {
        if rhost.is_empty() {
            self
        } else if rhost.parse::<std::net::IpAddr>().is_ok() {
            self.set("source.ip", rhost)
        } else {
            self.set("source.domain", rhost)
        }
    }
    fn done(self) -> Vec<(&'static str, String)> {
        CHECKED
            .iter()
            .map(|k| {
                let v = self
                    .0
                    .iter()
                    .rev()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                (*k, v)
            })
            .collect()
    }
}

/// The regular expression of a loghub template: `<*>` is any text.
fn template_regex(template: &str) -> Regex {
    let parts: Vec<String> = template.split("<*>").map(regex::escape).collect();
    Regex::new(&format!("^{}$", parts.join("(.*?)"))).unwrap()
}

/// What the example must make of a line of `template` whose `<*>` parts are `v`, and its `content`.
fn expected(template: &str, v: &[String], content: &str) -> Vec<(&'static str, String)> {
    let w = Want::default();
    static USER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"user=(\S+)\s*$").unwrap());
    static RHOST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"rhost=(\S*)").unwrap());
    let pam_user = || USER.captures(content).map(|c| c[1].to_string());
    let pam_rhost = || {
        RHOST
            .captures(content)
            .map(|c| c[1].to_string())
            .unwrap_or_default()
    };
    let login = |w: Want, event: &str, method: &str, user: &str, ip: &str, port: &str| {
        w.set("system.auth.ssh.event", event)
            .set("system.auth.ssh.method", method)
            .set("user.name", user)
            .set("source.ip", ip)
            .set("source.port", port)
    };
    let t = template.trim_start_matches("pam_unix(sshd:auth): ");
    let w = match t {
        "Failed password for <*> from <*> port <*> ssh2"
        | "Failed password for invalid user <*> from <*> port <*> ssh2" => {
            login(w, "Failed", "password", &v[0], &v[1], &v[2]).login("failure", false)
        }
        "Failed none for invalid user <*> from <*> port <*> ssh2" => {
            login(w, "Failed", "none", &v[0], &v[1], &v[2]).login("failure", false)
        }
        "Accepted password for <*> from <*> port <*> ssh2" => {
            login(w, "Accepted", "password", &v[0], &v[1], &v[2]).login("success", true)
        }
        "message repeated <*> times: [ Failed password for root from <*> port <*>]" => {
            // The template's last `<*>` is "PORT ssh2".
            let port = v[2].split(' ').next().unwrap_or_default();
            login(w, "Failed", "password", "root", &v[1], port).login("failure", false)
        }
        "Invalid user <*> from <*>" => w
            .set("system.auth.ssh.event", "Invalid")
            .set("user.name", &v[0])
            .set("source.ip", &v[1])
            .login("failure", false),
        "input_userauth_request: invalid user <*> [preauth]" => w.set("user.name", &v[0]),
        "Disconnecting: Too many authentication failures for root [preauth]" => {
            w.set("user.name", "root").login("failure", false)
        }
        "Disconnecting: Too many authentication failures for admin [preauth]" => {
            w.set("user.name", "admin").login("failure", false)
        }
        "reverse mapping checking getaddrinfo for <*> [<*>] failed - POSSIBLE BREAK-IN ATTEMPT!" => {
            w.set("source.domain", &v[0]).set("source.ip", &v[1])
        }
        "Received disconnect from <*>: <*>: Bye Bye [preauth]"
        | "Received disconnect from <*>: <*>: Closed due to user request. [preauth]"
        | "Received disconnect from <*>: <*>: disconnected by user"
        | "error: Received disconnect from <*>: <*>: No more user authentication methods available. [preauth]"
        | "error: Received disconnect from <*>: <*>: com.jcraft.jsch.JSchException: Auth fail [preauth]"
        | "Connection closed by <*> [preauth]"
        | "Did not receive identification string from <*>" => w.set("source.ip", &v[0]),
        "check pass; user unknown" => w.pam_failure(),
        t if t.starts_with("authentication failure; ")
            || t.starts_with("PAM <*> more authentication failure") =>
        {
            let w = w.pam_failure().rhost(&pam_rhost());
            match pam_user() {
                Some(u) => w.set("user.name", u),
                None => w,
            }
        }
        t if t.starts_with("pam_unix(sshd:session): session opened for user <*>")
            || t.starts_with("session opened for user <*>") =>
        {
            w.session(true).set("user.name", &v[0])
        }
        t if t.starts_with("pam_unix(sshd:session): session closed for user <*>")
            || t.starts_with("session closed for user <*>") =>
        {
            w.session(false).set("user.name", &v[0])
        }
        _ => w,
    };
    w.done()
}

/// Runs the auth example over a loghub log: every line's header parses (host, program, pid and the rest
/// as `message`, as the CSV has them), and the ECS fields match what the line's template says.
fn check_loghub(log: &str, program: impl Fn(&str) -> String, pid_column: &str) {
    let Some(loghub) = shared_data("loghub") else {
        return;
    };
    let chain = auth_chain();
    let log_text = std::fs::read_to_string(loghub.join(log)).unwrap();
    let rows =
        parse_csv(&std::fs::read_to_string(loghub.join(format!("{log}_structured.csv"))).unwrap());
    let header = rows[0].clone();
    let lines: Vec<&str> = log_text.lines().collect();
    assert_eq!(
        lines.len(),
        rows.len() - 1,
        "{log}: lines and CSV rows differ in number"
    );
    let mut mismatches = Vec::new();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut templates: HashMap<String, Regex> = HashMap::new();
    for (line, row) in lines.iter().zip(&rows[1..]) {
        let col = |name: &str| -> String {
            header
                .iter()
                .position(|h| h == name)
                .and_then(|i| row.get(i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let mut events = vec![Event::from_message(*line)];
        chain.run(&mut events);
        let e = &events[0];
        let failures: Vec<&str> = e.tags().filter(|t| t.starts_with('_')).collect();
        let content = col("Content");
        let template = col("EventTemplate");
        let values: Vec<String> = templates
            .entry(template.clone())
            .or_insert_with(|| template_regex(&template))
            .captures(&content)
            .map(|c| {
                c.iter()
                    .skip(1)
                    .map(|m| m.map_or("", |m| m.as_str()).to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut want = vec![
            ("program", program(&col("Component"))),
            ("pid", col(pid_column)),
            ("message", content.clone()),
            ("failures", String::new()),
        ];
        want.extend(expected(&template, &values, &content));
        let mut got = vec![
            ("program", text(e, "process.name")),
            ("pid", text(e, "process.pid")),
            ("message", text(e, "message").trim().to_string()),
            ("failures", failures.join(",")),
        ];
        got.extend(actual(e));
        *outcomes
            .entry(format!(
                "{}/{}",
                text(e, "event.action"),
                text(e, "event.outcome")
            ))
            .or_default() += 1;
        if want != got {
            let diff: Vec<String> = want
                .iter()
                .zip(&got)
                .filter(|(w, g)| w.1 != g.1)
                .map(|(w, g)| format!("{}: want {:?} got {:?}", w.0, w.1, g.1))
                .collect();
            mismatches.push(format!("  {line}\n    {}", diff.join("\n    ")));
        }
    }
    println!(
        "{log}: {} lines, {} mismatches; action/outcome: {outcomes:?}",
        lines.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{log}: {} of {} lines differ; the first:\n{}",
        mismatches.len(),
        lines.len(),
        mismatches
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn loghub_openssh_lines_become_ecs_authentication_events() {
    check_loghub("OpenSSH_2k.log", |_| "sshd".to_string(), "Pid");
}

#[test]
fn loghub_linux_pam_lines_become_ecs_authentication_events() {
    // Old RHEL writes the PAM module into the program name: "sshd(pam_unix)" is sshd with pam_unix.
    check_loghub(
        "Linux_2k.log",
        |component| component.trim_end_matches("(pam_unix)").to_string(),
        "PID",
    );
}

/// One line of the hand-written auth.log and the fields it must have.
fn expect(e: &Event, line: &str, fields: &[(&str, &str)]) {
    for (k, v) in fields {
        assert_eq!(text(e, k), *v, "{k} of {line}");
    }
}

#[test]
fn a_hand_written_auth_log_with_sudo_su_and_user_changes_becomes_ecs_events() {
    let log = std::fs::read_to_string(root().join("tests/data/auth.log")).unwrap();
    let chain = auth_chain();
    let lines: Vec<&str> = log.lines().collect();
    let mut events: Vec<Event> = lines.iter().map(|l| Event::from_message(*l)).collect();
    chain.run(&mut events);
    assert_eq!(events.len(), lines.len());
    for (e, line) in events.iter().zip(&lines) {
        let failures: Vec<&str> = e.tags().filter(|t| t.starts_with('_')).collect();
        assert!(failures.is_empty(), "{line}: {failures:?}");
        assert_eq!(text(e, "host.hostname"), "web1", "{line}");
        assert!(!text(e, "process.name").is_empty(), "{line}");
    }
    let find = |needle: &str| -> &Event {
        let i = lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}"));
        &events[i]
    };
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "Accepted publickey for alice",
            &[
                ("@timestamp", "2026-11-30T08:14:03.000Z"),
                ("event.category", r#"["authentication","session"]"#),
                ("event.action", "ssh_login"),
                ("event.outcome", "success"),
                ("user.name", "alice"),
                ("source.ip", "192.0.2.10"),
                ("source.port", "50122"),
                ("process.name", "sshd"),
                ("process.pid", "2310"),
                ("system.auth.ssh.method", "publickey"),
                (
                    "system.auth.ssh.signature",
                    "ED25519 SHA256:3mQ0n3G8m2sPq9a4b1zVYk8cJrT1uXw5e6Lh7dNf0aE",
                ),
            ],
        ),
        (
            "session opened for user alice(uid=1000)",
            &[
                ("event.action", "session_opened"),
                ("user.name", "alice"),
                ("user.id", "1000"),
                ("system.auth.pam.module", "pam_unix"),
                ("system.auth.pam.service", "sshd"),
                ("system.auth.pam.type", "session"),
            ],
        ),
        (
            "COMMAND=/usr/bin/apt update",
            &[
                ("event.category", r#"["process"]"#),
                ("event.action", "sudo"),
                ("event.outcome", "success"),
                ("user.name", "alice"),
                ("user.effective.name", "root"),
                ("system.auth.sudo.command", "/usr/bin/apt update"),
                ("system.auth.sudo.pwd", "/home/alice"),
                ("system.auth.sudo.tty", "pts/0"),
            ],
        ),
        (
            "sudo: pam_unix(sudo:auth): authentication failure",
            &[
                ("event.action", "authentication_failure"),
                ("event.outcome", "failure"),
                ("user.name", "bob"),
                ("source.ip", ""),
            ],
        ),
        (
            "3 incorrect password attempts",
            &[
                ("event.category", r#"["authentication"]"#),
                ("event.action", "sudo"),
                ("event.outcome", "failure"),
                ("user.name", "bob"),
                ("system.auth.sudo.error", "3 incorrect password attempts"),
                ("system.auth.sudo.command", "/usr/bin/cat /etc/shadow"),
            ],
        ),
        (
            "user NOT in sudoers",
            &[
                ("event.outcome", "failure"),
                ("user.name", "mallory"),
                ("system.auth.sudo.error", "user NOT in sudoers"),
            ],
        ),
        (
            "su: (to root) alice on pts/0",
            &[
                ("event.action", "su"),
                ("event.outcome", "success"),
                ("user.name", "alice"),
                ("user.effective.name", "root"),
            ],
        ),
        (
            "FAILED SU (to root) bob on pts/1",
            &[
                ("event.action", "su"),
                ("event.outcome", "failure"),
                ("user.name", "bob"),
                ("user.effective.name", "root"),
            ],
        ),
        (
            "new group: name=carol",
            &[
                ("event.category", r#"["iam"]"#),
                ("event.type", r#"["group","creation"]"#),
                ("event.action", "group_created"),
                ("group.name", "carol"),
                ("group.id", "1003"),
            ],
        ),
        (
            "new user: name=carol",
            &[
                ("event.category", r#"["iam"]"#),
                ("event.type", r#"["user","creation"]"#),
                ("event.action", "user_created"),
                ("event.outcome", "success"),
                ("user.name", "carol"),
                ("user.id", "1003"),
                ("group.id", "1003"),
                ("process.name", "useradd"),
                ("process.pid", "3051"),
            ],
        ),
        (
            "password changed for carol",
            &[
                ("event.category", r#"["iam"]"#),
                ("event.action", "password_changed"),
                ("user.name", "carol"),
                ("process.name", "passwd"),
            ],
        ),
        (
            "group added to /etc/group: name=deploy",
            &[
                ("event.action", "group_created"),
                ("group.name", "deploy"),
                ("group.id", "1004"),
            ],
        ),
        (
            "add 'carol' to group 'deploy'",
            &[
                ("event.category", r#"["iam"]"#),
                ("event.action", "group_member_added"),
                ("user.name", "carol"),
                ("group.name", "deploy"),
            ],
        ),
        (
            "change user 'carol' shell",
            &[("event.action", "user_changed"), ("user.name", "carol")],
        ),
        (
            "Invalid user admin from 203.0.113.77 port 41522",
            &[
                ("event.action", "ssh_login"),
                ("event.outcome", "failure"),
                ("user.name", "admin"),
                ("source.ip", "203.0.113.77"),
                ("source.port", "41522"),
            ],
        ),
        ("check pass; user unknown", &[("event.outcome", "failure")]),
        (
            "Failed password for invalid user admin",
            &[
                ("event.outcome", "failure"),
                ("system.auth.ssh.event", "Failed"),
                ("system.auth.ssh.method", "password"),
                ("user.name", "admin"),
            ],
        ),
        (
            "message repeated 2 times",
            &[
                ("event.outcome", "failure"),
                ("system.auth.ssh.repeated", "2"),
                ("user.name", "root"),
                ("source.port", "41600"),
            ],
        ),
        (
            "Disconnecting authenticating user root",
            &[
                ("event.outcome", "failure"),
                ("user.name", "root"),
                ("source.ip", "203.0.113.77"),
            ],
        ),
        (
            "Received disconnect from 192.0.2.10 port 50122",
            &[
                ("source.ip", "192.0.2.10"),
                ("source.port", "50122"),
                ("event.outcome", ""),
            ],
        ),
        (
            "session closed for user alice",
            &[
                ("event.action", "session_closed"),
                ("event.type", r#"["end"]"#),
            ],
        ),
        (
            "delete user 'carol'",
            &[
                ("event.type", r#"["user","deletion"]"#),
                ("event.action", "user_deleted"),
            ],
        ),
        (
            "removed group 'carol'",
            &[("event.action", "group_deleted"), ("group.name", "carol")],
        ),
        (
            "Accepted password for dave",
            &[
                ("@timestamp", "2026-11-30T09:10:05.482Z"),
                ("source.ip", "2001:db8::5"),
                ("event.outcome", "success"),
            ],
        ),
        (
            "pam_unix(cron:session): session opened",
            &[
                ("process.name", "CRON"),
                ("event.action", "session_opened"),
                ("user.name", "root"),
            ],
        ),
        (
            "Successful su for root by alice",
            &[
                ("event.action", "su"),
                ("event.outcome", "success"),
                ("user.name", "alice"),
                ("user.effective.name", "root"),
            ],
        ),
        (
            "+ pts/0 alice:root",
            &[("event.outcome", "success"), ("su_sign", "")],
        ),
        (
            "FAILED su for root by bob",
            &[("event.outcome", "failure"), ("user.name", "bob")],
        ),
        (
            "- pts/1 bob:root",
            &[
                ("event.outcome", "failure"),
                ("user.name", "bob"),
                ("user.effective.name", "root"),
                ("system.auth.su.tty", "pts/1"),
            ],
        ),
        (
            "Failed publickey for eve",
            &[
                ("process.name", "sshd-session"),
                ("event.outcome", "failure"),
                ("system.auth.ssh.method", "publickey"),
                ("user.name", "eve"),
                ("source.ip", "198.51.100.23"),
            ],
        ),
        ("New session 14 of user alice", &[("event.outcome", "")]),
    ];
    for (needle, fields) in cases {
        expect(find(needle), needle, fields);
    }
}
