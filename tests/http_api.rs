//! The operator HTTP API end to end: the real binary with `http:` on, read with plain HTTP requests,
//! checked by promtool and scraped by a real Prometheus server.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An HTTP answer: status, headers (names lower-cased), body.
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
}

/// `GET path` with extra request headers; `None` while nothing answers.
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Option<Answer> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
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
    // hyper answers with a content-length, so the body is what follows the head.
    Some(Answer {
        status,
        headers,
        body: body.to_string(),
    })
}

/// The value of the sample `name` whose labels include every one of `labels`, summed over matches.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ')?;
        let (n, label_text) = series.split_once('{').unwrap_or((series, ""));
        if n != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
        {
            *found.get_or_insert(0.0) += value.parse::<f64>().ok()?;
        }
    }
    found
}

fn has(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `promtool check metrics` on `text`; its exit status and what it said.
fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A Prometheus server scraping `target` every second with `token`, on its own port and data folder;
/// killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path, target: SocketAddr, token: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: logward\n    authorization:\n      credentials: {token}\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = dir.join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("start prometheus");
        Prometheus { child, addr, log }
    }

    /// The value of the first series an instant query returns.
    fn query(&self, q: &str) -> Option<f64> {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let a = get(self.addr, &format!("/api/v1/query?query={encoded}"), &[])?;
        let v: serde_json::Value = serde_json::from_str(&a.body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

const TOKEN: &str = "test-token-4f1c";

/// Events in = events out + queued, and every drop counted as intentional: the figures /metrics gives
/// after a known file went through a `drop` processor. promtool accepts the text, and a real Prometheus
/// scrapes it (with the token, in OpenMetrics, which it asks for first).
#[test]
fn metrics_count_what_was_sent_and_prometheus_scrapes_them() {
    if (!has("promtool") || !has("prometheus"))
        && !require(
            "prometheus",
            "promtool or prometheus is not installed (apt-get install prometheus)",
        )
    {
        return;
    }
    let sb = Sandbox::new();
    let lines: Vec<String> = (0..1000)
        .map(|i| {
            let level = if i % 10 == 0 { "DEBUG" } else { "INFO" };
            format!("{level} line {i}")
        })
        .collect();
    append_lines(&sb.path("logs/app.log"), lines);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let input = file_input(
        "app",
        &sb.path("logs/*.log"),
        "    processors:\n      - drop: { when: { contains: { message: DEBUG } } }\n",
    );
    let config = sb.write_config(
        &format!("http:\n  listen: {addr}\n  auth_token: {TOKEN}\n"),
        &input,
        &sb.file_output()
            .replace("  - type: file\n", "  - type: file\n    id: out\n"),
    );
    let agent = Agent::start(&config);
    wait_for_lines(&sb.out(), 900, &agent);
    let auth = ("Authorization", &*format!("Bearer {TOKEN}"));
    // The output's counter moves after the lines are written: wait for it, then read one snapshot.
    let mut text = String::new();
    wait_for(&agent, "the output to count 900 events", || {
        text = get(addr, "/metrics", &[auth])
            .map(|a| a.body)
            .unwrap_or_default();
        sample(
            &text,
            "logward_component_sent_events_total",
            &[("component_id", "out")],
        ) == Some(900.0)
    });
    let input = |name, extra: &[(&str, &str)]| {
        let mut labels = vec![("component_id", "app"), ("component_kind", "input")];
        labels.extend_from_slice(extra);
        sample(&text, name, &labels)
    };
    assert_eq!(
        input("logward_component_received_events_total", &[]),
        Some(1000.0),
        "{text}"
    );
    assert_eq!(
        input("logward_component_sent_events_total", &[]),
        Some(900.0)
    );
    let dropped = sample(
        &text,
        "logward_component_discarded_events_total",
        &[("component_kind", "processor"), ("intentional", "true")],
    );
    assert_eq!(dropped, Some(100.0), "{text}");
    let unintended = sample(
        &text,
        "logward_component_discarded_events_total",
        &[("intentional", "false")],
    );
    assert_eq!(unintended, Some(0.0), "{text}");
    let queued = sample(&text, "logward_buffer_events", &[]).expect("buffer_events");
    let sent_out = sample(
        &text,
        "logward_component_sent_events_total",
        &[("component_id", "out")],
    )
    .unwrap();
    assert_eq!(
        input("logward_component_sent_events_total", &[]).unwrap(),
        sent_out + queued,
        "events into the queue = events delivered + queued"
    );
    assert!(
        sample(
            &text,
            "logward_component_send_duration_seconds_count",
            &[("component_id", "out")]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "logward_output_retries_total",
            &[("component_id", "out")]
        )
        .is_some()
    );
    assert!(sample(&text, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));
    assert!(sample(&text, "process_cpu_seconds_total", &[]).is_some());
    assert!(sample(&text, "process_open_fds", &[]).is_some_and(|v| v > 0.0));
    assert_eq!(
        sample(
            &text,
            "logward_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    let (ok, said) = promtool_check(&text);
    assert!(
        ok,
        "promtool check metrics refused the text:\n{said}\n{text}"
    );

    // The token is required, and never echoed.
    let refused = get(addr, "/metrics", &[]).expect("an answer");
    assert_eq!(refused.status, 401);
    assert!(!refused.body.contains(TOKEN));
    let wrong = get(addr, "/metrics", &[("Authorization", "Bearer nope")]).unwrap();
    assert_eq!(wrong.status, 401);

    // OpenMetrics when asked for.
    let om = get(
        addr,
        "/metrics",
        &[
            auth,
            ("Accept", "application/openmetrics-text;version=1.0.0"),
        ],
    )
    .unwrap();
    assert_eq!(om.status, 200);
    assert!(
        om.header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text")),
        "{:?}",
        om.headers
    );
    assert!(om.body.ends_with("# EOF\n"));
    assert!(
        om.body
            .contains("# TYPE logward_component_sent_events counter\n")
    );

    // /status agrees with /metrics, and gives the file's position; it needs the token too.
    assert_eq!(get(addr, "/status", &[]).unwrap().status, 401);
    let doc: serde_json::Value =
        serde_json::from_str(&get(addr, "/status", &[auth]).unwrap().body).unwrap();
    let app = component(&doc, "app");
    assert_eq!(app["received_events"], 1000, "{doc}");
    assert_eq!(app["sent_events"], 900, "{doc}");
    assert_eq!(app["dropped_by_processors"], 100, "{doc}");
    assert_eq!(component(&doc, "out")["sent_events"], 900, "{doc}");
    assert_eq!(doc["config_source"], config.display().to_string());
    assert_eq!(doc["queue"]["type"], "memory");
    wait_for(&agent, "the registry to reach the end of app.log", || {
        let doc: serde_json::Value =
            serde_json::from_str(&get(addr, "/status", &[auth]).unwrap().body).unwrap();
        let size = std::fs::metadata(sb.path("logs/app.log")).unwrap().len();
        component(&doc, "app")["files"][0]
            == serde_json::json!({"path": sb.path("logs/app.log"), "offset": size, "size": size, "lag_bytes": 0})
    });
    let text = get(addr, "/metrics", &[auth]).unwrap().body;
    let lag = sample(
        &text,
        "logward_file_lag_bytes",
        &[
            ("component_id", "app"),
            ("path", sb.path("logs/app.log").to_str().unwrap()),
        ],
    );
    assert_eq!(lag, Some(0.0), "{text}");
    let (ok, said) = promtool_check(&text);
    assert!(
        ok,
        "promtool check metrics refused the text:\n{said}\n{text}"
    );
    // `logward status --url` with the token from the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(["status", "--url", &format!("http://{addr}")])
        .env("LOGWARD_HTTP_TOKEN", TOKEN)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("app "))
        .unwrap_or_else(|| panic!("no row for app:\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..4], ["app", "input", "file", "running"], "{table}");
    assert_eq!(cells[6..10], ["1000", "900", "0", "100"], "{table}");
    let out = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(["status", "--url", &format!("http://{addr}")])
        .env_remove("LOGWARD_HTTP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wants a token"));

    let prom_dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(prom_dir.path(), addr, TOKEN);
    wait_for(&agent, "Prometheus to scrape logward (up == 1)", || {
        prom.query("up{job=\"logward\"}") == Some(1.0)
    });
    let series = "logward_component_sent_events_total{component_id=\"out\"}";
    if !wait_until(WAIT, || prom.query(series) == Some(900.0)) {
        panic!(
            "Prometheus has no {series} = 900: {:?}; its log:\n{}",
            prom.query(series),
            prom.log()
        );
    }
    assert_eq!(agent.stop(), 0);
}

/// `check` refuses an API other machines can reach without a token, and says why.
#[test]
fn check_refuses_a_reachable_api_without_a_token() {
    let sb = Sandbox::new();
    let input = file_input("app", &sb.path("logs/*.log"), "");
    let config = sb.write_config("http:\n  listen: 0.0.0.0:5066\n", &input, &sb.file_output());
    let (code, _, err) = logward(&["check", "-c", config.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(":4:11: http.listen: 0.0.0.0:5066 can be reached from other machines")
            && err.contains("set `auth_token`"),
        "{err}"
    );
    let config = sb.write_config(
        &format!("http:\n  listen: 0.0.0.0:5066\n  auth_token: {TOKEN}\n"),
        &input,
        &sb.file_output(),
    );
    let (code, out, err) = logward(&["check", "-c", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{out}{err}");
}

/// The entry of component `id` in a `/status` document.
fn component<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no component `{id}` in {doc}"))
}

/// The probes' status code and JSON body.
fn probe(addr: SocketAddr, path: &str) -> Option<(u16, serde_json::Value)> {
    let a = get(addr, path, &[])?;
    Some((a.status, serde_json::from_str(&a.body).ok()?))
}

/// Readiness follows the only output: 503 naming it while its Elasticsearch cannot be reached, 200 once
/// the server is up and the events are delivered; liveness stays 200 throughout (an output that is down
/// is not a wedged agent, and restarting the agent would not help).
#[test]
fn readiness_follows_the_only_output_and_liveness_stays_up() {
    let sb = Sandbox::new();
    let es_port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let lines: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"level":"INFO","n":{i}}}"#))
        .collect();
    append_lines(&sb.path("logs/app.log"), lines);
    let config = sb.write_config(
        &format!(
            "shutdown_timeout: 5s\nhttp:\n  listen: {addr}\n  ready_delivery_timeout: 1s\n  watchdog_timeout: 30s\n"
        ),
        &file_input(
            "app",
            &sb.path("logs/*.log"),
            "    json: { keys_under_root: true }\n",
        ),
        &es_output(
            &[&format!("http://127.0.0.1:{es_port}")],
            "    id: es\n    index: logs-ready\n    flush_interval: 200ms\n    backoff: { init: 100ms, max: 1s }\n",
        ),
    );
    let agent = Agent::start(&config);
    let mut last = None;
    wait_for(&agent, "/health/ready to answer 503 naming `es`", || {
        last = probe(addr, "/health/ready");
        last.as_ref().is_some_and(|(status, body)| {
            *status == 503
                && body["causes"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["component"] == "es"))
        })
    });
    let (_, body) = last.unwrap();
    assert_eq!(body["status"], "not ready", "{body}");
    let reason = body["causes"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("output `es` has not delivered for"),
        "{body}"
    );
    let (status, live) = probe(addr, "/health/live").expect("liveness answers");
    assert_eq!(status, 200, "{live}");

    // /status and `logward status` say the same while the output is down.
    let (status, doc) = probe(addr, "/status").expect("/status answers");
    assert_eq!(status, 200);
    assert_eq!(doc["ready"], false, "{doc}");
    let es = component(&doc, "es");
    assert_eq!(es["state"], "retrying", "{doc}");
    assert!(es["retrying_since"].is_string(), "{doc}");
    assert!(es["last_error"]["message"].is_string(), "{doc}");
    assert!(es["last_delivered"].is_null(), "{doc}");
    let (code, table, err) = logward(&["status", "-c", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{table}{err}");
    assert!(table.contains("NOT READY"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("es ") && l.contains("retrying since")),
        "{table}"
    );
    assert!(
        table.contains("not ready: es: output `es` has not delivered"),
        "{table}"
    );

    let Some(server) = es_servers::Server::start_on(es_servers::Kind::Elasticsearch, es_port)
    else {
        return;
    };
    wait_for(&agent, "/health/ready to answer 200", || {
        probe(addr, "/health/ready").is_some_and(|(s, _)| s == 200)
    });
    assert_eq!(server.wait_for_count("logs-ready", 200), 200);
    let (status, live) = probe(addr, "/health/live").expect("liveness answers");
    assert_eq!(status, 200, "{live}");
    let (_, doc) = probe(addr, "/status").expect("/status answers");
    let es = component(&doc, "es");
    assert_eq!(es["state"], "running", "{doc}");
    assert!(es["last_delivered"].is_string(), "{doc}");
    assert!(es["retrying_since"].is_null(), "{doc}");
    let (code, table, err) = logward(&["status", "-c", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{table}{err}");
    assert!(table.contains("— ready"), "{table}");
    assert_eq!(agent.stop(), 0);
}

/// Runs headless Chromium on `url` with `args` (after the flags every run needs) and a fresh profile;
/// its exit status and stdout.
fn chromium(url: &str, args: &[String]) -> (bool, String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The page at `/` draws every component with a live rate, in a real browser (the token given after
/// `#`); a screenshot is kept in the target folder (`target/tmp/status-page.png`).
#[test]
fn the_status_page_draws_the_pipeline_in_chromium() {
    if !has("chromium")
        && !require(
            "chromium",
            "chromium is not installed (apt-get install chromium)",
        )
    {
        return;
    }
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = sb.write_config(
        &format!("http:\n  listen: {addr}\n  auth_token: {TOKEN}\n"),
        &file_input("app", &sb.path("logs/*.log"), ""),
        &sb.file_output()
            .replace("  - type: file\n", "  - type: file\n    id: out\n"),
    );
    let agent = Agent::start(&config);
    // Lines keep coming while the page is open, so its rates are not zero.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, log) = (std::sync::Arc::clone(&stop), sb.path("logs/app.log"));
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                append_lines(&log, (i..i + 10).map(|n| format!("page line {n}")));
                i += 10;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    wait_for_lines(&sb.out(), 50, &agent);
    let url = format!("http://{addr}/#token={TOKEN}");
    let budget = "--virtual-time-budget=3000".to_string();
    let mut dom = String::new();
    wait_for(
        &agent,
        "the page to show both components with a rate",
        || {
            let (ok, out, err) = chromium(&url, &[budget.clone(), "--dump-dom".into()]);
            assert!(ok, "chromium failed: {err}");
            dom = out;
            let rated = shows_a_moving_rate(&dom);
            dom.contains("data-loaded=\"true\"")
                && dom.contains("data-component=\"app\"")
                && dom.contains("data-component=\"out\"")
                && rated
        },
    );
    assert!(dom.contains("class=\"badge ok\">ready<"), "{dom}");
    assert!(dom.contains("<div id=\"error\"></div>"), "{dom}");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let (ok, _, err) = chromium(
        &url,
        &[
            budget,
            "--window-size=1100,500".into(),
            format!("--screenshot={}", shot.display()),
        ],
    );
    assert!(ok, "chromium failed: {err}");
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(agent.stop(), 0);
}

/// Whether a rate line of the page shows events moving (`12.5 in/s`, `3.0 events/s`), not `0.0`.
fn shows_a_moving_rate(dom: &str) -> bool {
    dom.split("<div class=\"rate\">").skip(1).any(|rest| {
        rest.split_whitespace()
            .next()
            .and_then(|n| n.parse::<f64>().ok())
            .is_some_and(|r| r > 0.0)
    })
}

/// A tmux server of its own (its socket named after the test), killed when dropped.
struct Tmux(String);

impl Tmux {
    fn run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .expect("run tmux");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// `logward top` in a real terminal: the table shows both components with a moving rate and is redrawn;
/// Ctrl-C ends it.
#[test]
fn top_redraws_the_table_in_a_terminal_until_ctrl_c() {
    if !has_tmux() && !require("tmux", "tmux is not installed (apt-get install tmux)") {
        return;
    }
    let sb = Sandbox::new();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = sb.write_config(
        &format!("http:\n  listen: {addr}\n  auth_token: {TOKEN}\n"),
        &file_input("app", &sb.path("logs/*.log"), ""),
        &sb.file_output()
            .replace("  - type: file\n", "  - type: file\n    id: out\n"),
    );
    let agent = Agent::start(&config);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, log) = (std::sync::Arc::clone(&stop), sb.path("logs/app.log"));
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                append_lines(&log, (i..i + 10).map(|n| format!("top line {n}")));
                i += 10;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    wait_for_lines(&sb.out(), 50, &agent);
    let tmux = Tmux(format!("logward-top-{}", std::process::id()));
    let command = format!(
        "{} top -c {}",
        env!("CARGO_BIN_EXE_logward"),
        config.display()
    );
    let (ok, _) = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "160",
        "-y",
        "40",
        &command,
    ]);
    assert!(ok, "tmux new-session failed");
    let screen = || tmux.run(&["capture-pane", "-p", "-t", "top"]).1;
    let row_rate = |screen: &str, id: &str| -> Option<f64> {
        let cells: Vec<String> = screen
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))?
            .split_whitespace()
            .map(str::to_string)
            .collect();
        cells.get(5)?.parse().ok()
    };
    let mut last = String::new();
    wait_for(
        &agent,
        "`logward top` to show both components moving",
        || {
            last = screen();
            row_rate(&last, "app").is_some_and(|r| r > 0.0)
                && row_rate(&last, "out").is_some_and(|r| r > 0.0)
        },
    );
    assert!(last.contains("— ready"), "{last}");
    assert!(last.contains("Ctrl-C to quit"), "{last}");
    // Redrawn: the clock line changes.
    let clock = |s: &str| {
        s.lines()
            .find(|l| l.contains("every 1s"))
            .map(str::to_string)
    };
    let first = clock(&last);
    wait_for(&agent, "`logward top` to redraw", || {
        let now = clock(&screen());
        now.is_some() && now != first
    });
    tmux.run(&["send-keys", "-t", "top", "C-c"]);
    wait_for(&agent, "`logward top` to end on Ctrl-C", || {
        !tmux.run(&["has-session", "-t", "top"]).0
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(agent.stop(), 0);
}

fn has_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
