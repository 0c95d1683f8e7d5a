//! The syslog input end to end: the real binary, fed by real senders — util-linux `logger` over UDP and
//! TCP in both formats, and Debian's rsyslog forwarding a file (imfile → omfwd) over TCP and over TLS
//! (gtls) — and by a hostile raw client (garbage, invalid UTF-8, a 1 MiB frame, broken octet counts, a
//! connection cut mid-frame).

mod common;

use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A loopback port free for both TCP and UDP right now.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("a free TCP port");
        let port = tcp.local_addr().expect("its address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A syslog input `sys` with `settings` (lines indented by 4).
fn syslog_input(settings: &str) -> String {
    format!("  - type: syslog\n    id: sys\n    timezone: UTC\n{settings}")
}

/// Starts the agent and waits until the syslog input listens.
fn start(config: &Path) -> Agent {
    let agent = Agent::start(config);
    wait_for_log(&agent, "syslog input listening");
    agent
}

/// Runs `logger` with `args`; panics when it fails.
fn logger(args: &[&str]) {
    let out = Command::new("logger").args(args).output().expect(
        "the `logger` command (util-linux, Debian package bsdutils) sends this test's messages",
    );
    assert!(
        out.status.success(),
        "logger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn has(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The event whose message is `message`.
fn by_message<'a>(events: &'a [Value], message: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["message"] == message)
        .unwrap_or_else(|| panic!("no event with the message {message:?} in {events:#?}"))
}

#[test]
fn logger_over_udp_and_tcp_in_both_formats_gives_ecs_fields() {
    let sb = Sandbox::new();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let config = sb.config(&syslog_input(&format!(
        "    udp: {{address: \"{addr}\"}}\n    tcp: {{address: \"{addr}\"}}\n"
    )));
    let agent = start(&config);
    let p = port.to_string();
    let base = ["-n", "127.0.0.1", "-P", &p, "-t", "app"];
    let send = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        logger(&args);
    };
    send(&["-d", "--rfc3164", "-i", "-p", "auth.warning", "udp 3164"]);
    send(&[
        "-d",
        "--rfc5424",
        "-p",
        "local3.err",
        "--msgid",
        "M1",
        "--sd-id",
        "test@32473",
        "--sd-param",
        "k=\"v w\"",
        "udp 5424",
    ]);
    send(&["-T", "--rfc3164", "-p", "daemon.info", "tcp 3164 lines"]);
    send(&[
        "-T",
        "--rfc5424",
        "--octet-count",
        "-p",
        "user.debug",
        "tcp 5424 octets",
    ]);
    send(&["-T", "--rfc5424", "tcp 5424 lines"]);
    send(&["-T", "--rfc3164", "--octet-count", "tcp 3164 octets"]);
    wait_for_lines(&sb.out(), 6, &agent);
    let events = read_events(&sb.out());
    assert_eq!(events.len(), 6, "{events:#?}");
    for e in &events {
        assert_eq!(e["input"]["type"], "syslog");
        assert_eq!(e["log"]["syslog"]["appname"], "app", "{e:#}");
        let source = e["log"]["source"]["address"].as_str().unwrap_or_default();
        assert!(source.starts_with("127.0.0.1:"), "{e:#}");
        let hostname = e["log"]["syslog"]["hostname"].as_str().unwrap_or_default();
        assert!(!hostname.is_empty(), "{e:#}");
        assert!(e["tags"].is_null(), "{e:#}");
        // The message's own time, which logger sets to now.
        let t: chrono::DateTime<chrono::Utc> = e["@timestamp"].as_str().unwrap().parse().unwrap();
        let age = chrono::Utc::now() - t;
        assert!(age.num_seconds().abs() < 600, "{e:#}");
    }
    let e = by_message(&events, "udp 3164");
    assert_eq!(e["log"]["syslog"]["priority"], 36);
    assert_eq!(e["log"]["syslog"]["facility"]["name"], "auth");
    assert_eq!(e["log"]["syslog"]["facility"]["code"], 4);
    assert_eq!(e["log"]["syslog"]["severity"]["name"], "warning");
    assert!(
        e["log"]["syslog"]["procid"]
            .as_str()
            .is_some_and(|p| p.parse::<u32>().is_ok())
    );
    assert!(e["log"]["syslog"]["version"].is_null());
    let e = by_message(&events, "udp 5424");
    assert_eq!(e["log"]["syslog"]["version"], 1);
    assert_eq!(e["log"]["syslog"]["priority"], 19 * 8 + 3);
    assert_eq!(e["log"]["syslog"]["facility"]["name"], "local3");
    assert_eq!(e["log"]["syslog"]["severity"]["name"], "err");
    assert_eq!(e["log"]["syslog"]["msgid"], "M1");
    assert_eq!(
        e["log"]["syslog"]["structured_data"]["test@32473"]["k"],
        "v w"
    );
    assert_eq!(
        e["log"]["syslog"]["structured_data"]["timeQuality"]["tzKnown"],
        "1"
    );
    assert_eq!(
        by_message(&events, "tcp 3164 lines")["log"]["syslog"]["severity"]["code"],
        6
    );
    assert_eq!(
        by_message(&events, "tcp 5424 octets")["log"]["syslog"]["severity"]["name"],
        "debug"
    );
    assert_eq!(
        by_message(&events, "tcp 5424 lines")["log"]["syslog"]["version"],
        1
    );
    assert!(by_message(&events, "tcp 3164 octets")["log"]["syslog"]["version"].is_null());
    assert_eq!(agent.stop(), 0);
}

/// Writes everything, then closes the connection.
fn send_raw(addr: &str, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).expect("connect to the syslog input");
    s.write_all(bytes).expect("write to the syslog input");
}

/// `GET /metrics` from the agent's HTTP API.
fn metrics(addr: SocketAddr) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}

/// The value of the series `name` whose labels include every one of `labels` (`key="value"`).
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn hostile_input_is_counted_kept_raw_and_never_stops_the_input() {
    let sb = Sandbox::new();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = sb.write_config(
        &format!("shutdown_timeout: 20s\nhttp:\n  listen: {http}\n"),
        &syslog_input(&format!(
            "    udp: {{address: \"{addr}\"}}\n    tcp: {{address: \"{addr}\"}}\n    max_message_bytes: 1KiB\n"
        )),
        &sb.file_output(),
    );
    let agent = start(&config);
    // Newline framing: garbage, invalid UTF-8 in a valid message and outside one, a broken RFC 5424
    // header, then a 1 MiB line.
    let mut lines = b"no priority at all\n<13>Dec  2 10:00:00 h app: caf\xC3 \xFF\n\xFF\xFE\xFD\n<13>1 yesterday h a - - - x\n".to_vec();
    lines.extend_from_slice(b"<13>big ");
    lines.extend(std::iter::repeat_n(b'x', 1 << 20));
    lines.extend_from_slice(b"\n<13>after the big one\n");
    send_raw(&addr, &lines);
    // Octet counting: a 1 MiB frame, then a count that is no count, then a good message.
    let mut counted = format!("{} <13>", (1 << 20) + 4).into_bytes();
    counted.extend(std::iter::repeat_n(b'y', 1 << 20));
    counted.extend_from_slice(b"12x <13>lost framing\n<13>found again\n");
    send_raw(&addr, &counted);
    // A connection cut in the middle of an octet-counted frame, and one inside its count.
    send_raw(&addr, b"9 <13>whole40 <13>cut short");
    send_raw(&addr, b"9 <13>alone12");
    // A connection that sends nothing.
    drop(TcpStream::connect(&addr).unwrap());
    // UDP garbage and a datagram over the limit.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(b"\x00\x01\x02 udp garbage", &addr).unwrap();
    let mut big = b"<13>".to_vec();
    big.extend(std::iter::repeat_n(b'z', 60_000));
    udp.send_to(&big, &addr).unwrap();
    // And still the input works.
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port.to_string(),
        "-T",
        "-t",
        "app",
        "still alive",
    ]);
    let expected = 16;
    wait_for_lines(&sb.out(), expected, &agent);
    let events = read_events(&sb.out());
    let tagged = |tag: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| {
                e["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|v| v == tag))
            })
            .collect()
    };
    let invalid = tagged("syslog_invalid");
    let messages: Vec<&str> = invalid
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    for want in [
        "no priority at all",
        "\u{FFFD}\u{FFFD}\u{FFFD}",
        "<13>1 yesterday h a - - - x",
        "12x <13>lost framing",
        "<13>cut short",
        "",
        "\u{0}\u{1}\u{2} udp garbage",
    ] {
        assert!(
            messages.contains(&want),
            "{want:?} not among the invalid frames {messages:?}"
        );
    }
    assert_eq!(invalid.len(), 7, "{messages:?}");
    for e in &invalid {
        let why = e["error"]["message"].as_str().unwrap_or_default();
        assert!(!why.is_empty(), "an invalid frame without a reason: {e:#}");
    }
    assert!(
        by_message(&events, "<13>cut short")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ended")
    );
    let truncated = tagged("truncated");
    assert_eq!(
        truncated.len(),
        3,
        "the 1 MiB line, the 1 MiB frame and the big datagram"
    );
    for e in &truncated {
        assert!(
            e["message"].as_str().unwrap().len() <= 1024,
            "a truncated message is over 1KiB"
        );
    }
    let e = by_message(&events, "caf\u{FFFD} \u{FFFD}");
    assert!(
        e["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "invalid_utf8")
    );
    assert_eq!(e["log"]["syslog"]["appname"], "app");
    for m in [
        "after the big one",
        "found again",
        "whole",
        "alone",
        "still alive",
    ] {
        by_message(&events, m);
    }
    assert_eq!(events.len(), expected, "{events:#?}");
    let mut text = String::new();
    wait_for(&agent, "the invalid frames to be counted", || {
        text = metrics(http);
        sample(
            &text,
            "logward_component_errors_total",
            &["component_id=\"sys\"", "error_type=\"invalid_frame\""],
        ) == Some(7.0)
    });
    assert_eq!(
        sample(
            &text,
            "logward_component_errors_total",
            &["component_id=\"sys\"", "error_type=\"message_truncated\""]
        ),
        Some(3.0)
    );
    assert_eq!(agent.stop(), 0);
}

#[test]
fn connections_over_the_limit_are_closed_and_idle_ones_time_out() {
    let sb = Sandbox::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = sb.config(&syslog_input(&format!(
        "    tcp: {{address: \"{addr}\"}}\n    max_connections: 1\n    idle_timeout: 2s\n"
    )));
    let agent = start(&config);
    let mut first = TcpStream::connect(&addr).unwrap();
    first.write_all(b"<13>first\n").unwrap();
    wait_for_lines(&sb.out(), 1, &agent);
    // The second connection is closed at once: reading it ends.
    let mut second = TcpStream::connect(&addr).unwrap();
    second.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(second.read(&mut buf).unwrap_or(0), 0);
    wait_for_log(&agent, "`max_connections` are open already");
    // The first, silent, is closed after the idle timeout; then a new one is accepted.
    first.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(first.read(&mut buf).unwrap_or(0), 0);
    wait_for_log(&agent, "silent for `idle_timeout`");
    send_raw(&addr, b"<13>third\n");
    wait_for_lines(&sb.out(), 2, &agent);
    assert_eq!(messages(&sb.out()), vec!["first", "third"]);
    assert_eq!(agent.stop(), 0);
}

#[test]
fn a_graceful_stop_delivers_what_was_sent_before_it() {
    let sb = Sandbox::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = sb.config(&syslog_input(&format!(
        "    tcp: {{address: \"{addr}\"}}\n"
    )));
    let agent = start(&config);
    let mut s = TcpStream::connect(&addr).unwrap();
    let n = 20_000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!("<13>1 - h app - - - stop {i}\n"));
    }
    s.write_all(text.as_bytes()).unwrap();
    // The connection stays open; the agent is asked to stop at once.
    assert_eq!(agent.stop(), 0);
    let expected: Vec<String> = (0..n).map(|i| format!("stop {i}")).collect();
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn udp_drops_the_newest_when_the_queue_is_full_and_counts_them() {
    let sb = Sandbox::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    // An output that never delivers, and a small queue.
    let config = sb.write_config(
        &format!("shutdown_timeout: 2s\nqueue:\n  max_events: 50\n  batch_events: 10\nhttp:\n  listen: {http}\n"),
        &syslog_input(&format!("    udp: {{address: \"{addr}\"}}\n")),
        &es_output(&[&dead], ""),
    );
    let agent = start(&config);
    let lines: Vec<String> = (0..20_000).map(|i| format!("datagram {i}")).collect();
    append_lines(&sb.path("logs/datagrams.txt"), lines);
    let port = addr.rsplit(':').next().unwrap().to_string();
    let file = sb.path("logs/datagrams.txt");
    let file = file.to_str().unwrap();
    wait_for(&agent, "UDP messages to be dropped and counted", || {
        logger(&[
            "-n",
            "127.0.0.1",
            "-P",
            &port,
            "-d",
            "-t",
            "app",
            "-f",
            file,
        ]);
        let text = metrics(http);
        sample(
            &text,
            "logward_component_discarded_events_total",
            &["component_id=\"sys\"", "intentional=\"false\""],
        )
        .is_some_and(|v| v > 0.0)
    });
    wait_for_log(&agent, "UDP messages are dropped");
    drop(agent);
}

/// A running rsyslogd, killed when dropped.
struct Rsyslog(Child);

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether rsyslog (and, for TLS, its gtls driver) is installed; otherwise fails unless skipped.
fn rsyslog_present(tls: bool) -> bool {
    let gtls = Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists()
        || Command::new("sh")
            .arg("-c")
            .arg("ls /usr/lib/*/rsyslog/lmnsd_gtls.so")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if has("rsyslogd") && (!tls || gtls) {
        return true;
    }
    require(
        "rsyslog",
        "rsyslogd or its TLS driver is not installed (apt-get install rsyslog rsyslog-gnutls)",
    )
}

/// Starts rsyslogd in the foreground, as this user, reading `lines` (imfile) and forwarding them to
/// `port` with octet-counted RFC 5424 (`action_extra` adds to the forwarding action, `global_extra` to
/// the global settings).
fn rsyslog(dir: &Path, file: &Path, port: u16, global_extra: &str, action_extra: &str) -> Rsyslog {
    let work = dir.join("rsyslog-work");
    std::fs::create_dir_all(&work).unwrap();
    let conf = dir.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}" {global_extra})
module(load="imfile")
input(type="imfile" file="{file}" tag="bench" ruleset="forward")
ruleset(name="forward") {{
  action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" tcp_framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format" queue.type="LinkedList" queue.size="200000"
         action.resumeRetryCount="-1" action.resumeInterval="1" {action_extra})
}}
"#,
            work = work.display(),
            file = file.display(),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("rsyslog.log")).unwrap();
    let child = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslog.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start rsyslogd");
    Rsyslog(child)
}

/// Waits for `n` events, showing rsyslog's log too when they do not come.
fn wait_for_forwarded(sb: &Sandbox, n: usize, agent: &Agent) {
    if !wait_until(WAIT, || count_lines(&sb.out()) >= n) {
        panic!(
            "only {} of {n} messages arrived within {WAIT:?}; rsyslog said:\n{}\nlogward said:\n{}",
            count_lines(&sb.out()),
            std::fs::read_to_string(sb.path("rsyslog.log")).unwrap_or_default(),
            agent.log()
        );
    }
}

#[test]
fn rsyslog_forwards_100_000_messages_over_tcp_and_none_is_lost() {
    if !rsyslog_present(false) {
        return;
    }
    let sb = Sandbox::new();
    let port = free_port();
    let config = sb.config(&syslog_input(&format!(
        "    tcp: {{address: \"127.0.0.1:{port}\"}}\n"
    )));
    let agent = start(&config);
    let n = 100_000;
    let expected: Vec<String> = (0..n)
        .map(|i| format!("forwarded line {i} of {n}"))
        .collect();
    let file = sb.path("logs/app.log");
    append_lines(&file, expected.clone());
    let _rsyslog = rsyslog(sb.root.path(), &file, port, "", "");
    wait_for_forwarded(&sb, n, &agent);
    // Anything late (a duplicate) would show in the output by the time the agent has stopped.
    assert_eq!(agent.stop(), 0);
    let events = read_events(&sb.out());
    let got: Vec<String> = events
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_exactly_once(&got, &expected);
    let e = &events[0];
    assert_eq!(e["log"]["syslog"]["appname"], "bench");
    assert_eq!(e["log"]["syslog"]["version"], 1);
    assert_eq!(e["log"]["syslog"]["facility"]["name"], "local0");
    assert_eq!(e["log"]["syslog"]["severity"]["name"], "notice");
    assert!(e["tags"].is_null(), "{e:#}");
}

/// Runs `openssl` with `args` in `dir`; panics with its output when it fails.
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

/// A CA (`ca.pem`) and a server certificate it signed for localhost (`server.pem`, `server.key`).
fn certificates(dir: &Path) {
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
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

#[test]
fn rsyslog_forwards_over_tls() {
    if !rsyslog_present(true) {
        return;
    }
    let sb = Sandbox::new();
    let dir = sb.root.path();
    certificates(dir);
    let port = free_port();
    let config = sb.config(&syslog_input(&format!(
        "    tls: {{address: \"127.0.0.1:{port}\", certificate: {}, key: {}}}\n",
        dir.join("server.pem").display(),
        dir.join("server.key").display()
    )));
    let agent = start(&config);
    let n = 2_000;
    let expected: Vec<String> = (0..n).map(|i| format!("over tls {i}")).collect();
    let file = sb.path("logs/app.log");
    append_lines(&file, expected.clone());
    let _rsyslog = rsyslog(
        dir,
        &file,
        port,
        &format!(
            "defaultNetstreamDriverCAFile=\"{}\"",
            dir.join("ca.pem").display()
        ),
        "streamDriver=\"gtls\" streamDriverMode=\"1\" streamDriverAuthMode=\"x509/name\" streamDriverPermittedPeers=\"localhost\"",
    );
    wait_for_forwarded(&sb, n, &agent);
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn a_tls_listener_refuses_plain_text_and_goes_on() {
    let sb = Sandbox::new();
    let dir = sb.root.path();
    certificates(dir);
    let addr = format!("127.0.0.1:{}", free_port());
    let config = sb.config(&syslog_input(&format!(
        "    tls: {{address: \"{addr}\", certificate: {}, key: {}}}\n",
        dir.join("server.pem").display(),
        dir.join("server.key").display()
    )));
    let agent = start(&config);
    send_raw(&addr, b"<13>not encrypted\n");
    wait_for_log(&agent, "TLS handshake failed");
    // openssl s_client is a real TLS client: its line arrives.
    let mut client = s_client(
        &addr,
        &dir.join("ca.pem"),
        &[],
        b"<13>1 - h app - - - encrypted\n",
    );
    wait_for_lines(&sb.out(), 1, &agent);
    let _ = client.kill();
    let _ = client.wait();
    assert_eq!(messages(&sb.out()), vec!["encrypted"]);
    assert_eq!(agent.stop(), 0);
}

#[test]
fn check_refuses_bad_settings_with_their_positions() {
    let sb = Sandbox::new();
    let config = sb.config(
        "  - type: syslog\n    id: a\n    max_connections: 0\n    timezone: Mars/Olympus\n    tls: {address: \"127.0.0.1:6514\", certificate: /nonexistent/cert.pem, key: /nonexistent/key.pem}\n  - type: syslog\n    id: b\n    udp: {address: \"0.0.0.0:6514\"}\n    tcp: {address: \"0.0.0.0:6514\"}\n  - type: syslog\n    id: c\n",
    );
    let (code, out, err) = logward(&["check", "-c", config.to_str().unwrap()]);
    let text = format!("{out}{err}");
    assert_ne!(code, 0, "{text}");
    for want in [
        "max_connections",
        "Mars/Olympus",
        "/nonexistent/cert.pem",
        "listens nowhere",
        "6514",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
}

/// Sends `line` through `openssl s_client` (a real TLS client) with `extra` arguments; returns it running.
fn s_client(addr: &str, ca: &Path, extra: &[&str], line: &[u8]) -> Child {
    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", addr, "-CAfile"])
        .arg(ca)
        .args(["-verify_return_error", "-servername", "localhost"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    let _ = client.stdin.take().unwrap().write_all(line);
    client
}

#[test]
fn with_a_client_ca_only_clients_with_a_certificate_it_signed_get_in() {
    let sb = Sandbox::new();
    let dir = sb.root.path();
    certificates(dir);
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=sender",
        ],
    );
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "client.pem",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let config = sb.config(&syslog_input(&format!(
        "    tls: {{address: \"{addr}\", certificate: {}, key: {}, client_ca: {}}}\n",
        dir.join("server.pem").display(),
        dir.join("server.key").display(),
        dir.join("ca.pem").display()
    )));
    let agent = start(&config);
    let ca = dir.join("ca.pem");
    let mut without = s_client(&addr, &ca, &[], b"<13>1 - h app - - - no certificate\n");
    wait_for_log(&agent, "TLS handshake failed");
    let (cert, key) = (dir.join("client.pem"), dir.join("client.key"));
    let mut with = s_client(
        &addr,
        &ca,
        &[
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ],
        b"<13>1 - h app - - - with a certificate\n",
    );
    wait_for_lines(&sb.out(), 1, &agent);
    for c in [&mut without, &mut with] {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!(agent.stop(), 0);
    assert_eq!(messages(&sb.out()), vec!["with a certificate"]);
}
