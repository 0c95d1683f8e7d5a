//! End to end: the `http` and `elasticsearch` inputs of the real binary, fed by real clients (the
//! official Python `elasticsearch` client, logward's own Elasticsearch output, the example reporting
//! client) and by hand-made hostile requests (what no real client sends: garbage, cut bodies, a client
//! that stalls).

mod common;

use common::es_servers::{Kind, Server};
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An HTTP answer: status, headers (names lower-cased), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends one request on a new connection; `None` while nothing answers.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Answer> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    read_answer(&mut s)
}

fn read_answer(s: &mut TcpStream) -> Option<Answer> {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Answer {
        status,
        headers,
        body: body.to_string(),
    })
}

const NDJSON: (&str, &str) = ("Content-Type", "application/x-ndjson");

fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    request(addr, "POST", path, headers, body).expect("the input answers")
}

/// Waits until the input answers on `addr`.
fn wait_listening(agent: &Agent, addr: SocketAddr) {
    wait_for(agent, format_args!("the input to listen on {addr}"), || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
    });
}

/// A configuration with one receiving input and the file output.
fn receiver_config(sb: &Sandbox, top: &str, input: &str) -> PathBuf {
    sb.write_config(
        &format!("shutdown_timeout: 10s\n{top}"),
        input,
        &sb.file_output(),
    )
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Compresses with the `zstd` program (Debian's `zstd` package).
fn zstd(data: &[u8], dir: &Path) -> Vec<u8> {
    let plain = dir.join("body.ndjson");
    std::fs::write(&plain, data).unwrap();
    let status = Command::new("zstd")
        .args(["-q", "-f", "-o"])
        .arg(dir.join("body.zst"))
        .arg(&plain)
        .status()
        .expect("the zstd program (apt-get install zstd; .ci/run installs it)");
    assert!(status.success());
    std::fs::read(dir.join("body.zst")).unwrap()
}

#[test]
fn http_input_takes_ndjson_arrays_objects_and_compressed_bodies_with_path_fields() {
    let sb = Sandbox::new();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let cfg = receiver_config(
        &sb,
        "",
        &format!(
            "  - type: http\n    id: apps\n    listen: {addr}\n    path: /events/{{service.name}}\n    id_field: event.id\n"
        ),
    );
    let agent = Agent::start(&cfg);
    wait_listening(&agent, addr);
    let nd = b"{\"message\":\"n1\",\"@timestamp\":\"2026-01-02T03:04:05.000Z\"}\n{\"message\":\"n2\",\"event\":{\"id\":\"e-2\"}}\n";
    let a = post(addr, "/events/billing", &[NDJSON], nd);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["accepted"], 2);
    let a = post(
        addr,
        "/events/billing",
        &[("Content-Type", "application/json")],
        b"[{\"message\":\"a1\"},{\"message\":\"a2\"}]",
    );
    assert_eq!(a.status, 200, "{a:?}");
    let a = post(
        addr,
        "/events/shop",
        &[("Content-Type", "application/json; charset=utf-8")],
        b"{\n  \"message\": \"o1\",\n  \"level\": \"info\"\n}\n",
    );
    assert_eq!(a.status, 200, "{a:?}");
    let a = post(
        addr,
        "/events/shop",
        &[NDJSON, ("Content-Encoding", "gzip")],
        &gzip(b"{\"message\":\"g1\"}\n{\"message\":\"g2\"}\n"),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(b"{\"message\":\"d1\"}\n").unwrap();
    let a = post(
        addr,
        "/events/shop",
        &[NDJSON, ("Content-Encoding", "deflate")],
        &z.finish().unwrap(),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let a = post(
        addr,
        "/events/shop",
        &[NDJSON, ("Content-Encoding", "zstd")],
        &zstd(
            b"{\"message\":\"z1\"}\n{\"message\":\"z2\"}\n",
            &sb.path("logs"),
        ),
    );
    assert_eq!(a.status, 200, "{a:?}");
    // Every answer came after the events were delivered (memory queue): they are all in the file.
    let events = read_events(&sb.out());
    let got: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(
        got,
        ["n1", "n2", "a1", "a2", "o1", "g1", "g2", "d1", "z1", "z2"]
    );
    let by = |m: &str| events.iter().find(|e| e["message"] == m).unwrap().clone();
    assert_eq!(by("n1")["@timestamp"], "2026-01-02T03:04:05.000Z");
    assert!(by("n2")["@timestamp"].as_str().unwrap().starts_with("20"));
    assert_eq!(by("n1")["service"]["name"], "billing");
    assert_eq!(by("o1")["service"]["name"], "shop");
    assert_eq!(by("o1")["level"], "info");
    assert_eq!(by("a1")["input"]["type"], "http");
    assert_eq!(by("a1")["client"]["ip"], "127.0.0.1");
    assert!(by("a1")["client"]["port"].as_u64().is_some());
    // The wrong path, method or media type.
    assert_eq!(post(addr, "/other", &[NDJSON], b"{}").status, 404);
    assert_eq!(
        request(addr, "GET", "/events/x", &[], b"").unwrap().status,
        405
    );
    let a = post(
        addr,
        "/events/x",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"a=1",
    );
    assert_eq!(a.status, 415, "{a:?}");
    assert!(a.body.contains("application/json"), "{}", a.body);
    agent.stop();
    assert_eq!(read_events(&sb.out()).len(), 10);
}

#[test]
fn hostile_bodies_get_clear_answers_and_the_agent_keeps_running() {
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let cfg = receiver_config(
        &sb,
        "",
        &format!(
            "  - type: http\n    listen: {addr}\n    max_body_bytes: 64KiB\n    max_event_bytes: 1KiB\n    body_timeout: 2s\n    auth: {{ bearer_token: s3cret }}\n"
        ),
    );
    let agent = Agent::start(&cfg);
    wait_listening(&agent, addr);
    let auth = ("Authorization", "Bearer s3cret");
    // No or wrong credentials.
    let a = post(addr, "/", &[NDJSON], b"{\"message\":\"x\"}\n");
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer realm=\"logward\"")
    );
    let a = post(
        addr,
        "/",
        &[NDJSON, ("Authorization", "Bearer nope")],
        b"{}\n",
    );
    assert_eq!(a.status, 401);
    // Bad lines are kept as tagged text, the good ones as events.
    let mut body =
        b"{\"message\":\"good\"}\nnot json at all\n{\"message\":\"bad \xff utf8\"}\n".to_vec();
    body.extend_from_slice(format!("{{\"message\":\"{}\"}}\n", "x".repeat(3000)).as_bytes());
    let a = post(addr, "/", &[NDJSON, auth], &body);
    assert_eq!(a.status, 200, "{a:?}");
    let v = a.json();
    assert_eq!(
        (v["accepted"].as_u64(), v["invalid"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(v["errors"][0]["item"], 2, "{v}");
    // A broken array is refused whole.
    let a = post(addr, "/", &[NDJSON, auth], b"[{\"message\":\"a\"},");
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.body.contains("nothing of it was taken"), "{}", a.body);
    // Too large, as sent and once decompressed.
    let big = vec![b' '; 100 * 1024];
    let a = post(addr, "/", &[NDJSON, auth], &big);
    assert_eq!(a.status, 413, "{a:?}");
    let a = post(
        addr,
        "/",
        &[NDJSON, auth, ("Content-Encoding", "gzip")],
        &gzip(&vec![b'\n'; 1 << 20]),
    );
    assert_eq!(a.status, 413, "{a:?}");
    assert!(a.body.contains("decompressed"), "{}", a.body);
    // A gzip body cut short, and an encoding nobody decodes.
    let gz = gzip(&b"{\"message\":\"never\"}\n".repeat(200));
    let a = post(
        addr,
        "/",
        &[NDJSON, auth, ("Content-Encoding", "gzip")],
        &gz[..gz.len() / 2],
    );
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.body.contains("gzip body is damaged"), "{}", a.body);
    let a = post(
        addr,
        "/",
        &[NDJSON, auth, ("Content-Encoding", "br")],
        b"xx",
    );
    assert_eq!(a.status, 415, "{a:?}");
    // A client that announces a body and stalls is answered 408 after body_timeout.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nAuthorization: Bearer s3cret\r\nContent-Length: 100\r\n\r\n{\"mess").unwrap();
    let a = read_answer(&mut slow).expect("an answer to the slow client");
    assert_eq!(a.status, 408, "{a:?}");
    // Still serving.
    let a = post(addr, "/", &[NDJSON, auth], b"{\"message\":\"after\"}\n");
    assert_eq!(a.status, 200, "{a:?}");
    agent.stop();
    let events = read_events(&sb.out());
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(messages.len(), 5, "{messages:?}");
    assert_eq!(messages[0], "good");
    assert_eq!(messages[1], "not json at all");
    assert_eq!(events[1]["tags"], serde_json::json!(["_jsonparsefailure"]));
    assert!(
        events[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert!(
        events[2]["tags"].to_string().contains("invalid_utf8"),
        "{}",
        events[2]
    );
    assert!(
        events[3]["tags"].to_string().contains("truncated"),
        "{}",
        events[3]
    );
    assert!(messages[3].len() <= 1024);
    assert_eq!(messages[4], "after");
    assert!(!messages.contains(&"never"));
}

/// Sends `events` numbered events from `first` in one request until it is accepted, counting the 429s.
fn send_until_accepted(
    addr: SocketAddr,
    first: usize,
    events: usize,
    refused: &std::sync::atomic::AtomicUsize,
) {
    let body: String = (first..first + events)
        .map(|n| format!("{{\"message\":\"event {n}\",\"event\":{{\"id\":\"id-{n}\"}}}}\n"))
        .collect();
    loop {
        let a = post(addr, "/", &[NDJSON], body.as_bytes());
        match a.status {
            200 => return,
            429 => {
                assert!(a.header("retry-after").is_some(), "{a:?}");
                refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
            }
            other => panic!("unexpected answer {other}: {a:?}"),
        }
    }
}

#[test]
fn a_full_queue_answers_429_and_nothing_is_lost_after_it_drains() {
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let es_port = free_port();
    let cfg = sb.write_config(
        "shutdown_timeout: 10s\nqueue: { type: memory, max_events: 100 }\n",
        &format!("  - type: http\n    listen: {addr}\n    id_field: event.id\n    ack_timeout: 10m\n"),
        &es_output(
            &[&format!("http://127.0.0.1:{es_port}")],
            "    index: received\n    flush_interval: 100ms\n    backoff: { init: 100ms, max: 500ms }\n",
        ),
    );
    let agent = Agent::start(&cfg);
    wait_listening(&agent, addr);
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Two senders of 60 events while Elasticsearch is down: the queue holds 100, so one waits for
    // delivery and the other is told 429 until there is room.
    let senders: Vec<_> = [0, 60]
        .into_iter()
        .map(|first| {
            let refused = std::sync::Arc::clone(&refused);
            std::thread::spawn(move || send_until_accepted(addr, first, 60, &refused))
        })
        .collect();
    wait_for(&agent, "a 429 answer while the queue is full", || {
        refused.load(std::sync::atomic::Ordering::SeqCst) > 0
    });
    let Some(server) = Server::start_on(Kind::Elasticsearch, es_port) else {
        return;
    };
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(server.wait_for_count("received", 120), 120);
    agent.stop();
    assert_eq!(server.count("received"), 120);
}

/// Runs a Python script from `tests/python/` with arguments; returns its stdout (it must succeed).
fn python(script: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("No module named 'elasticsearch'") {
        panic!(
            "the official Python Elasticsearch client is missing: pip install 'elasticsearch>=8,<9' (.ci/run does)"
        );
    }
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_official_python_client_ships_with_bulk_and_streaming_bulk() {
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let cfg = receiver_config(
        &sb,
        "",
        &format!(
            "  - type: elasticsearch\n    id: bulk\n    listen: {addr}\n    index_field: source_index\n"
        ),
    );
    let agent = Agent::start(&cfg);
    wait_listening(&agent, addr);
    let out = python(
        "tests/python/bulk_client.py",
        &[&format!("http://{addr}"), "500"],
    );
    let summary: serde_json::Value =
        serde_json::from_str(out.trim()).expect("the script's summary");
    assert_eq!(summary["info_version"], "8.15.0", "{summary}");
    assert_eq!(summary["bulk_ok"], 500, "{summary}");
    assert_eq!(summary["streaming_ok"], 500, "{summary}");
    assert_eq!(
        summary["streaming_failed"], 1,
        "the update item is refused: {summary}"
    );
    assert_eq!(summary["template_ack"], true, "{summary}");
    agent.stop();
    let events = read_events(&sb.out());
    assert_eq!(events.len(), 1000);
    let a = events
        .iter()
        .filter(|e| e["source_index"] == "logs-bulk")
        .count();
    let b = events
        .iter()
        .filter(|e| e["source_index"] == "logs-stream")
        .count();
    assert_eq!((a, b), (500, 500));
    assert!(events.iter().all(|e| e["input"]["type"] == "elasticsearch"));
}

#[test]
fn logward_ships_to_logward_through_the_elasticsearch_input() {
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    // The receiving agent.
    let receiver_dir = Sandbox::new();
    let rcfg = receiver_config(
        &receiver_dir,
        "",
        &format!("  - type: elasticsearch\n    listen: {addr}\n    index_field: source_index\n"),
    );
    let receiver = Agent::start(&rcfg);
    wait_listening(&receiver, addr);
    // The sending agent: a file input and its Elasticsearch output, pointed at the receiver.
    let lines: Vec<String> = (0..3000).map(|n| format!("line {n:05}")).collect();
    append_lines(&sb.path("logs/app.log"), lines.clone());
    let scfg = sb.write_config(
        "shutdown_timeout: 10s\n",
        &file_input("app", &sb.path("logs/*.log"), ""),
        &es_output(
            &[&format!("http://{addr}")],
            "    index: \"shipped-%{+yyyy.MM}\"\n    flush_interval: 100ms\n    bulk_max_size: 500\n",
        ),
    );
    let sender = Agent::start(&scfg);
    wait_for_lines(&receiver_dir.out(), 3000, &receiver);
    sender.stop();
    receiver.stop();
    let events = read_events(&receiver_dir.out());
    let got: Vec<String> = events
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect();
    assert_exactly_once(&got, &lines);
    assert!(
        events.iter().all(|e| e["source_index"]
            .as_str()
            .is_some_and(|i| i.starts_with("shipped-"))),
        "{}",
        events[0]
    );
}

#[test]
fn kill9_of_the_receiver_with_the_disk_queue_loses_and_duplicates_nothing_per_id() {
    let Some(server) = Server::start(Kind::Elasticsearch) else {
        return;
    };
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let cfg = sb.write_config(
        "shutdown_timeout: 10s\nqueue: { type: disk, max_size: 256MiB }\n",
        &format!("  - type: elasticsearch\n    listen: {addr}\n"),
        &es_output(
            &[&server.url],
            "    index: \"%{[@metadata][_index]}\"\n    flush_interval: 100ms\n",
        ),
    );
    let mut agent = Agent::start(&cfg);
    wait_listening(&agent, addr);
    // The sender retries every chunk until it is answered, through the restarts.
    let total = 20_000;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/retrying_sender.py");
    let mut sender = Command::new("python3")
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg(total.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut killed_mid_stream = 0;
    for _ in 0..2 {
        let before = server.count("kill9");
        wait_for(&agent, "documents to arrive before the kill", || {
            server.count("kill9") > before || matches!(sender.try_wait(), Ok(Some(_)))
        });
        if matches!(sender.try_wait(), Ok(None)) {
            killed_mid_stream += 1;
        }
        agent.kill9();
        agent = Agent::start(&cfg);
        wait_listening(&agent, addr);
    }
    let status = sender.wait().expect("the sender");
    assert!(status.success(), "the sender failed");
    assert!(
        killed_mid_stream > 0,
        "the sender was done before the first kill"
    );
    assert_eq!(server.wait_for_count("kill9", total), total);
    agent.stop();
    assert_eq!(server.count("kill9"), total, "one document per id, no more");
}

#[test]
fn the_example_reporting_client_backs_off_until_the_input_is_up_and_delivers_every_event_once() {
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/clients/report_events.py");
    let stderr_path = sb.path("client.stderr");
    // The client starts while nothing listens: its buffer fills, it backs off and retries.
    let client = Command::new("python3")
        .arg(&script)
        .args(["--url", &format!("http://{addr}/events/demo")])
        .args([
            "--count",
            "1500",
            "--critical-every",
            "250",
            "--wait-for-room",
            "600",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("python3");
    assert!(
        wait_until(WAIT, || std::fs::read_to_string(&stderr_path)
            .is_ok_and(|t| t.contains("retrying a batch"))),
        "the client never retried"
    );
    let cfg = receiver_config(
        &sb,
        "",
        &format!(
            "  - type: http\n    listen: {addr}\n    path: /events/{{service.name}}\n    id_field: event.id\n"
        ),
    );
    let agent = Agent::start(&cfg);
    let out = client.wait_with_output().expect("the client");
    assert!(
        out.status.success(),
        "the client failed: {}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    let stats: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the client's summary");
    assert_eq!(stats["sent"], 1500, "{stats}");
    assert_eq!(stats["dropped"], 0, "{stats}");
    assert!(stats["retries"].as_u64().unwrap() > 0, "{stats}");
    agent.stop();
    let events = read_events(&sb.out());
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .filter_map(|e| e["event"]["id"].as_str())
        .collect();
    assert_eq!((events.len(), ids.len()), (1500, 1500));
    assert!(events.iter().all(|e| e["service"]["name"] == "demo"));
}

#[test]
fn events_not_delivered_by_the_shutdown_timeout_are_answered_503_never_200() {
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let cfg = sb.write_config(
        "shutdown_timeout: 2s\n",
        &format!("  - type: http\n    listen: {addr}\n"),
        &es_output(&[&dead], "    backoff: { init: 100ms, max: 200ms }\n"),
    );
    let mut agent = Agent::start(&cfg);
    wait_listening(&agent, addr);
    let waiting = std::thread::spawn(move || {
        request(
            addr,
            "POST",
            "/",
            &[NDJSON],
            b"{\"message\":\"undeliverable\"}\n",
        )
    });
    // The output has the event and cannot deliver it: the request waits.
    wait_for_log(&agent, "sending failed, will retry");
    let (code, _) = agent.stop_within(WAIT);
    assert_eq!(code, Some(0), "{}", agent.log());
    let log = agent.log();
    let a = waiting
        .join()
        .unwrap()
        .unwrap_or_else(|| panic!("no answer before the agent exited; log:\n{log}"));
    assert_eq!(a.status, 503, "{a:?}");
    assert!(a.header("retry-after").is_some(), "{a:?}");
}

#[test]
fn a_request_larger_than_the_memory_queue_is_taken_in_turns_not_refused_forever() {
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let cfg = receiver_config(
        &sb,
        "queue: { type: memory, max_events: 500, batch_events: 100 }\n",
        &format!("  - type: http\n    listen: {addr}\n"),
    );
    let agent = Agent::start(&cfg);
    wait_listening(&agent, addr);
    let body: String = (0..2000)
        .map(|n| format!("{{\"message\":\"big {n}\"}}\n"))
        .collect();
    let a = post(addr, "/", &[NDJSON], body.as_bytes());
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["accepted"], 2000);
    agent.stop();
    let expected: Vec<String> = (0..2000).map(|n| format!("big {n}")).collect();
    assert_exactly_once(&messages(&sb.out()), &expected);
}
