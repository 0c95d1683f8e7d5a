//! Alerts end to end: the real binary tails a file, the rules fire, and the notifications reach a real
//! SMTP server (aiosmtpd) and the hand-written fake DingTalk, Slack and webhook receivers.

mod common;

use common::fake_webhook_receivers::FakeWebhookReceivers;
use common::*;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "SEC0123456789abcdef";

/// A real SMTP server (aiosmtpd) storing every mail it receives in a maildir.
struct Smtp {
    child: Child,
    maildir: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn aiosmtpd_present() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts aiosmtpd on `port`; `None` when it is missing and `LOGWARD_SKIP` names it.
fn start_smtp(port: u16, maildir: &Path) -> Option<Smtp> {
    if !aiosmtpd_present()
        && !require(
            "aiosmtpd",
            "python3 cannot import aiosmtpd (pip install aiosmtpd)",
        )
    {
        return None;
    }
    let child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let smtp = Smtp {
        child,
        maildir: maildir.to_path_buf(),
    };
    assert!(
        wait_until(WAIT, || std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok()),
        "aiosmtpd did not listen on port {port}"
    );
    Some(smtp)
}

/// The mails in a maildir, as text.
fn mails(maildir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(dir) = std::fs::read_dir(maildir.join(sub)) {
            for f in dir.flatten() {
                if let Ok(t) = std::fs::read_to_string(f.path()) {
                    out.push(t);
                }
            }
        }
    }
    out
}

fn header<'a>(mail: &'a str, name: &str) -> Vec<&'a str> {
    mail.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn error_lines(service: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| format!(r#"{{"log":{{"level":"ERROR"}},"service":{{"name":"{service}"}},"message":"payment failed {i}"}}"#))
        .collect()
}

fn info_lines(service: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r#"{{"log":{{"level":"INFO"}},"service":{{"name":"{service}"}},"message":"ok {i}"}}"#))
        .collect()
}

/// A configuration with the design's rule (more than 10 ERROR events of a service within the window →
/// P1 → email and DingTalk), a short window, and a file output.
fn seed_config(sb: &Sandbox, smtp_port: u16, robot: &str, retry: &str) -> PathBuf {
    let top = format!(
        r#"shutdown_timeout: 20s
alerts:
  rules:
    - name: service-errors
      type: frequency
      when: {{equals: {{log.level: ERROR}}}}
      count: 10
      within: 2m
      group_by: [service.name]
      priority: P1
      realert: 10m
      notify: [ops-mail, ops-ding]
  notifiers:
    ops-mail:
      email:
        host: 127.0.0.1
        port: {smtp_port}
        tls: none
        from: "logward <alerts@example.test>"
        to: ["oncall@example.test", "Team Lead <lead@example.test>"]
        timeout: 5s
    ops-ding:
      dingtalk:
        url: "{robot}/robot/send?access_token=abc"
        secret: "{SECRET}"
        at_mobiles: ["13800000000"]
  outbox:
    retry_initial: {retry}
    retry_max: 1s
"#
    );
    let inputs = file_input(
        "app",
        &sb.path("logs/*.log"),
        "    processors:\n      - json: {}\n",
    );
    sb.write_config(&top, &inputs, &sb.file_output())
}

fn alert_events(sb: &Sandbox) -> Vec<serde_json::Value> {
    read_events(&sb.out())
        .into_iter()
        .filter(|e| e["event"]["kind"] == "alert")
        .collect()
}

#[test]
fn the_design_rule_sends_one_p1_mail_and_one_dingtalk_message_per_service() {
    let sb = Sandbox::new();
    let port = free_port();
    let Some(smtp) = start_smtp(port, &sb.path("maildir")) else {
        return;
    };
    let robot = FakeWebhookReceivers::start(SECRET);
    let config = seed_config(&sb, port, &robot.base, "200ms");
    let log = sb.path("logs/app.log");
    // Nine errors of billing first: not more than ten, so no alert for billing.
    append_lines(&log, info_lines("billing", 5));
    append_lines(&log, error_lines("billing", 0, 9));
    append_lines(&log, error_lines("checkout", 0, 11));
    let agent = Agent::start(&config);
    wait_for(&agent, "one mail", || !mails(&smtp.maildir).is_empty());
    wait_for(&agent, "one DingTalk message", || {
        !robot.dingtalk_accepted.lock().unwrap().is_empty()
    });
    let got = mails(&smtp.maildir);
    assert_eq!(got.len(), 1, "{got:#?}");
    let mail = &got[0];
    let subject = header(mail, "Subject").join(" ");
    assert!(
        subject.contains("[P1] service-errors for service.name=checkout"),
        "{subject}"
    );
    assert!(subject.contains("11 events within 2m"), "{subject}");
    let rcpt = header(mail, "X-RcptTo").join(",");
    assert!(
        rcpt.contains("oncall@example.test") && rcpt.contains("lead@example.test"),
        "{rcpt}"
    );
    assert!(
        mail.contains("payment failed 10"),
        "the body carries sample events: {mail}"
    );
    let ding = robot.dingtalk_accepted.lock().unwrap()[0].json();
    assert_eq!(ding["msgtype"], "markdown");
    assert_eq!(ding["at"]["atMobiles"][0], "13800000000");
    assert!(
        ding["markdown"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("@13800000000"),
        "{ding}"
    );
    assert_eq!(
        robot
            .bad_signatures
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );

    // Two more billing errors: eleven now, grouped apart from checkout.
    append_lines(&log, error_lines("billing", 9, 2));
    wait_for(&agent, "the billing mail", || {
        mails(&smtp.maildir).len() >= 2
    });
    wait_for(&agent, "the billing DingTalk message", || {
        robot.dingtalk_accepted.lock().unwrap().len() >= 2
    });
    // More checkout errors within realert stay quiet; an INFO line passes (48 lines in all).
    append_lines(&log, error_lines("checkout", 11, 20));
    append_lines(&log, info_lines("checkout", 1));
    wait_for(&agent, "every line in the output", || {
        read_events(&sb.out())
            .iter()
            .filter(|e| e["event"]["kind"] != "alert")
            .count()
            >= 48
    });
    wait_for(&agent, "two alert events", || alert_events(&sb).len() >= 2);
    std::thread::sleep(Duration::from_secs(2));
    let got = mails(&smtp.maildir);
    assert_eq!(got.len(), 2, "exactly one mail per service: {got:#?}");
    assert!(
        header(
            &got.iter()
                .find(|m| m.contains("billing"))
                .cloned()
                .unwrap_or_default(),
            "Subject"
        )
        .join(" ")
        .contains("service.name=billing")
    );
    assert_eq!(robot.dingtalk_accepted.lock().unwrap().len(), 2);
    let events = alert_events(&sb);
    assert_eq!(events.len(), 2, "{events:#?}");
    let e = events
        .iter()
        .find(|e| e["alert"]["group"] == "service.name=checkout")
        .cloned()
        .unwrap_or_default();
    assert_eq!(e["severity"], "P1");
    assert_eq!(e["alert"]["rule"], "service-errors");
    assert_eq!(e["alert"]["count"], 11);
    assert_eq!(e["alert"]["window"], "2m");
    assert_eq!(agent.stop(), 0);
}

#[test]
fn a_mail_that_cannot_be_sent_waits_in_the_outbox_and_arrives_once_after_a_restart() {
    let sb = Sandbox::new();
    let port = free_port();
    let robot = FakeWebhookReceivers::start(SECRET);
    // DingTalk rate-limits the first request: retried, delivered once.
    robot
        .rate_limit_next
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let config = seed_config(&sb, port, &robot.base, "300ms");
    let log = sb.path("logs/app.log");
    append_lines(&log, error_lines("checkout", 0, 11));
    // No SMTP server yet: the mail fails and is retried.
    let agent = Agent::start(&config);
    wait_for_log(&agent, "alert notification not delivered");
    wait_for(&agent, "the DingTalk message after its rate limit", || {
        robot.dingtalk_accepted.lock().unwrap().len() == 1
    });
    wait_for(&agent, "every line in the output", || {
        read_events(&sb.out()).len() >= 12
    });
    assert_eq!(agent.stop(), 0);
    let kept: Vec<_> = std::fs::read_dir(sb.path("data/alerts/outbox"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert_eq!(kept.len(), 1, "the mail waits in the outbox");
    // The server comes up; the next run sends the kept mail, once, and the events it read before are not
    // counted again.
    let Some(smtp) = start_smtp(port, &sb.path("maildir")) else {
        return;
    };
    let agent = Agent::start(&config);
    wait_for(&agent, "the kept mail", || !mails(&smtp.maildir).is_empty());
    wait_for(&agent, "an empty outbox", || {
        std::fs::read_dir(sb.path("data/alerts/outbox"))
            .map(|d| d.flatten().count())
            .unwrap_or(1)
            == 0
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(mails(&smtp.maildir).len(), 1);
    assert_eq!(robot.dingtalk_accepted.lock().unwrap().len(), 1);
    assert_eq!(
        robot.requests_to("/robot/send").len(),
        2,
        "one rate-limited request, one delivered"
    );
    assert_eq!(agent.stop(), 0);
}

#[test]
fn slack_and_a_templated_webhook_get_every_fatal_event_rate_limited() {
    let sb = Sandbox::new();
    let hooks = FakeWebhookReceivers::start(SECRET);
    let top = format!(
        r#"shutdown_timeout: 20s
alerts:
  rules:
    - name: fatal
      type: any
      when: {{equals: {{log.level: FATAL}}}}
      group_by: [service.name]
      severity: P2
      realert: 10m
      notify: [chat, pager]
  notifiers:
    chat:
      slack: {{url: "{base}/slack/T000/B000/XXX"}}
    pager:
      webhook:
        url: "{base}/hook"
        method: PUT
        headers: {{X-Token: abc}}
        body: '{{"summary": "{{{{message}}}}", "rule": "{{{{rule}}}}", "priority": "{{{{priority}}}}", "n": {{{{count}}}}, "samples": {{{{samples}}}}}}'
"#,
        base = hooks.base
    );
    let inputs = file_input(
        "app",
        &sb.path("logs/*.log"),
        "    processors:\n      - json: {}\n",
    );
    let config = sb.write_config(&top, &inputs, &sb.file_output());
    let fatal = |s: &str| {
        format!(
            r#"{{"log":{{"level":"FATAL"}},"service":{{"name":"{s}"}},"message":"disk \"gone\""}}"#
        )
    };
    append_lines(
        &sb.path("logs/app.log"),
        [fatal("a"), fatal("a"), fatal("b")],
    );
    let agent = Agent::start(&config);
    wait_for(&agent, "two Slack messages and two webhook calls", || {
        hooks.requests_to("/slack").len() >= 2 && hooks.requests_to("/hook").len() >= 2
    });
    wait_for(&agent, "every line in the output", || {
        read_events(&sb.out()).len() >= 5
    });
    std::thread::sleep(Duration::from_secs(2));
    let slack = hooks.requests_to("/slack");
    assert_eq!(slack.len(), 2, "one per service within realert: {slack:#?}");
    assert!(
        slack[0].json()["text"]
            .as_str()
            .unwrap_or("")
            .contains("[P2] fatal"),
        "{:?}",
        slack[0]
    );
    let hook = hooks.requests_to("/hook");
    assert_eq!(hook.len(), 2);
    assert_eq!(hook[0].method, "PUT");
    assert_eq!(hook[0].header("x-token"), Some("abc"));
    let body = hook[0].json();
    assert_eq!(
        body["rule"], "fatal",
        "the template gives JSON: {}",
        hook[0].body
    );
    assert_eq!(body["priority"], "P2");
    assert_eq!(body["n"], 1);
    assert_eq!(body["samples"][0]["message"], "disk \"gone\"");
    assert_eq!(agent.stop(), 0);

    // `logward alert test` sends through each notifier and prints the answers.
    let (code, out, err) = logward(&[
        "alert",
        "test",
        "-c",
        config.to_str().unwrap_or_default(),
        "--rule",
        "fatal",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("chat (slack): sent") && out.contains("pager (webhook): sent"),
        "{out}"
    );
}

#[test]
fn alert_test_reports_a_refused_dingtalk_signature_and_check_reports_mistakes_with_positions() {
    let sb = Sandbox::new();
    let robot = FakeWebhookReceivers::start(SECRET);
    let top = format!(
        "alerts:\n  notifiers:\n    ding:\n      dingtalk: {{url: \"{}/robot/send?access_token=x\", secret: WRONG}}\n",
        robot.base
    );
    let config = sb.write_config(
        &top,
        &file_input("app", &sb.path("logs/*.log"), ""),
        &sb.file_output(),
    );
    let (code, out, _) = logward(&["alert", "test", "-c", config.to_str().unwrap_or_default()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ding (dingtalk): FAILED") && out.contains("310000"),
        "{out}"
    );

    let bad = "alerts:\n  rules:\n    - name: r\n      type: frequency\n      within: 0s\n      notify: [nope]\n    - name: r\n      type: any\n      count: 3\n  notifiers:\n    m:\n      email: {host: h, from: \"not an address\", to: []}\n";
    let config = sb.write_config(
        bad,
        &file_input("app", &sb.path("logs/*.log"), ""),
        &sb.file_output(),
    );
    let (code, _, err) = logward(&["check", "-c", config.to_str().unwrap_or_default()]);
    assert_eq!(code, 2, "{err}");
    for want in [
        ":5:7: alerts.rules[0] (`r`): a frequency rule needs `count`",
        ":7:15: alerts.rules[0] (`r`): within must be longer than 0s",
        ":8:16: alerts.rules[0] (`r`): notify: `nope` is not a notifier",
        ":9:13: alerts.rules[1] (`r`): another rule has the same name",
        ":11:14: alerts.rules[1] (`r`): `count` means nothing for an `any` rule",
        "alerts.notifiers.m (email): from: `not an address` is not a mail address",
        "alerts.notifiers.m (email): to is empty",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

#[test]
fn the_window_state_survives_a_restart() {
    let sb = Sandbox::new();
    let hooks = FakeWebhookReceivers::start(SECRET);
    let top = format!(
        r#"shutdown_timeout: 20s
alerts:
  rules:
    - name: service-errors
      type: frequency
      when: {{equals: {{log.level: ERROR}}}}
      count: 10
      within: 10m
      group_by: [service.name]
      notify: [hook]
  notifiers:
    hook:
      webhook: {{url: "{}/hook"}}
"#,
        hooks.base
    );
    let inputs = file_input(
        "app",
        &sb.path("logs/*.log"),
        "    processors:\n      - json: {}\n",
    );
    let config = sb.write_config(&top, &inputs, &sb.file_output());
    let log = sb.path("logs/app.log");
    append_lines(&log, error_lines("checkout", 0, 6));
    let agent = Agent::start(&config);
    wait_for(&agent, "six events in the output", || {
        read_events(&sb.out()).len() >= 6
    });
    assert_eq!(agent.stop(), 0);
    assert!(
        sb.path("data/alerts/state.json").is_file(),
        "the window state is saved at the stop"
    );
    assert!(hooks.requests_to("/hook").is_empty());
    // Five more after the restart: eleven within the window.
    append_lines(&log, error_lines("checkout", 6, 5));
    let agent = Agent::start(&config);
    wait_for_log(&agent, "alert window state restored");
    wait_for(&agent, "the alert", || {
        !hooks.requests_to("/hook").is_empty()
    });
    let alert = hooks.requests_to("/hook")[0].json();
    assert_eq!(alert["count"], 11, "{alert}");
    assert_eq!(alert["group"], "service.name=checkout");
    assert_eq!(agent.stop(), 0);
}

/// Runs `openssl` in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command (package openssl) makes this test's certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a server certificate for `localhost` signed by it, in `dir`.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=logward test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
}

/// aiosmtpd with STARTTLS required (`--tlscert`) or implicit TLS (`--smtpscert`).
fn start_tls_smtp(port: u16, maildir: &Path, certs: &Path, implicit: bool) -> Option<Smtp> {
    if !aiosmtpd_present()
        && !require(
            "aiosmtpd",
            "python3 cannot import aiosmtpd (pip install aiosmtpd)",
        )
    {
        return None;
    }
    let (cert_flag, key_flag) = if implicit {
        ("--smtpscert", "--smtpskey")
    } else {
        ("--tlscert", "--tlskey")
    };
    let child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .arg(cert_flag)
        .arg(certs.join("server.pem"))
        .arg(key_flag)
        .arg(certs.join("server.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let smtp = Smtp {
        child,
        maildir: maildir.to_path_buf(),
    };
    assert!(
        wait_until(WAIT, || std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok()),
        "aiosmtpd did not listen on port {port}"
    );
    Some(smtp)
}

#[test]
fn mail_goes_over_starttls_and_implicit_tls_and_an_unknown_certificate_is_refused() {
    let sb = Sandbox::new();
    let certs = sb.path("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_certificates(&certs);
    for (tls, implicit) in [("starttls", false), ("tls", true)] {
        let port = free_port();
        let maildir = sb.path(&format!("maildir-{tls}"));
        let Some(smtp) = start_tls_smtp(port, &maildir, &certs, implicit) else {
            return;
        };
        let mail = |extra: &str| {
            format!(
                "alerts:\n  notifiers:\n    mail:\n      email:\n        host: localhost\n        port: {port}\n        tls: {tls}\n        from: alerts@example.test\n        to: [a@example.test, b@example.test]\n        timeout: 10s\n{extra}"
            )
        };
        let inputs = file_input("app", &sb.path("logs/*.log"), "");
        // Without the test CA the server's certificate is not trusted.
        let config = sb.write_config(&mail(""), &inputs, &sb.file_output());
        let (code, out, _) = logward(&["alert", "test", "-c", config.to_str().unwrap_or_default()]);
        assert_eq!(code, 1, "{tls}: {out}");
        assert!(
            out.contains("mail (email): FAILED") && out.to_lowercase().contains("certificate"),
            "{tls}: {out}"
        );
        assert!(mails(&smtp.maildir).is_empty());
        let trusted = format!("        ca_file: {}\n", certs.join("ca.pem").display());
        let config = sb.write_config(&mail(&trusted), &inputs, &sb.file_output());
        let (code, out, err) =
            logward(&["alert", "test", "-c", config.to_str().unwrap_or_default()]);
        assert_eq!(code, 0, "{tls}: {out}{err}");
        assert!(out.contains("mail (email): sent: 250"), "{tls}: {out}");
        let got = mails(&smtp.maildir);
        assert_eq!(got.len(), 1, "{tls}");
        let rcpt = header(&got[0], "X-RcptTo").join(",");
        assert!(
            rcpt.contains("a@example.test") && rcpt.contains("b@example.test"),
            "{rcpt}"
        );
        assert!(
            header(&got[0], "Subject")
                .join(" ")
                .contains("[P4] logward-test"),
            "{}",
            got[0]
        );
    }
}

#[test]
fn many_alerts_with_a_small_queue_do_not_hold_up_the_input() {
    let sb = Sandbox::new();
    let top = "shutdown_timeout: 20s\nqueue: {max_events: 64, batch_events: 16}\nalerts:\n  rules:\n    - {name: every-error, type: any, when: {equals: {log.level: ERROR}}, realert: 0s}\n";
    let inputs = file_input(
        "app",
        &sb.path("logs/*.log"),
        "    processors:\n      - json: {}\n",
    );
    let config = sb.write_config(top, &inputs, &sb.file_output());
    append_lines(&sb.path("logs/app.log"), error_lines("checkout", 0, 3000));
    let agent = Agent::start(&config);
    wait_for(&agent, "every line and some alerts in the output", || {
        let events = read_events(&sb.out());
        events
            .iter()
            .filter(|e| e["event"]["kind"] != "alert")
            .count()
            >= 3000
            && events.iter().any(|e| e["event"]["kind"] == "alert")
    });
    assert_eq!(agent.stop(), 0);
}
