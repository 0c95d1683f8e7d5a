//! `logward status`: asks a running agent's HTTP API for `/status` and prints it as a table; the exit code
//! says whether the agent is ready (0) or not, or could not be asked (1), so it serves as a scheduled
//! check or a container probe where an HTTP client is unwanted. `logward top` redraws the same table
//! every second.

use super::exit;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// How long the agent may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read.
const MAX_ANSWER: u64 = 16 << 20;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Which agent.
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Print the `/status` document as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Which running agent to ask (`status`, `top`).
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The running agent's configuration file: its `http:` section says where to ask, with which token.
    #[arg(
        short,
        long,
        value_name = "FILE",
        required_unless_present = "url",
        conflicts_with = "url"
    )]
    pub config: Option<PathBuf>,
    /// The agent's API instead, like `http://127.0.0.1:5066`; a token is read from LOGWARD_HTTP_TOKEN.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// Where to ask and with which token.
struct Target {
    addr: String,
    token: Option<String>,
}

fn target(args: &AgentArgs) -> Result<Target, (i32, String)> {
    if let Some(url) = &args.url {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        if rest.starts_with("https://") || url.starts_with("https://") {
            return Err((
                exit::BAD_CONFIG,
                format!(
                    "--url {url}: the agent's API speaks plain HTTP (keep it on loopback, or reach it through a TLS proxy); use http://"
                ),
            ));
        }
        let addr = rest.trim_end_matches('/').to_string();
        let token = std::env::var("LOGWARD_HTTP_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        return Ok(Target { addr, token });
    }
    let Some(path) = &args.config else {
        return Err((exit::BAD_CONFIG, "give -c FILE or --url URL".into()));
    };
    let config = crate::config::load_file(path).map_err(|e| (exit::BAD_CONFIG, e.to_string()))?;
    let Some(http) = config.http else {
        return Err((
            exit::BAD_CONFIG,
            format!(
                "{}: has no `http:` section, so the agent serves no status; add `http: {{ listen: 127.0.0.1:5066 }}` and restart it",
                path.display()
            ),
        ));
    };
    let mut addr = http.listen;
    // An agent listening on every address answers on loopback too.
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(Target {
        addr: addr.to_string(),
        token: http.auth_token.map(|t| t.expose().to_string()),
    })
}

/// `GET path` on the agent: status code and body.
fn get(t: &Target, path: &str) -> Result<(u16, String), String> {
    let addrs: Vec<SocketAddr> = t
        .addr
        .to_socket_addrs()
        .map_err(|e| format!("{}: not an address (host:port): {e}", t.addr))?
        .collect();
    let addr = addrs
        .first()
        .ok_or_else(|| format!("{}: resolves to no address", t.addr))?;
    let mut s = TcpStream::connect_timeout(addr, TIMEOUT).map_err(|e| {
        format!("cannot reach the agent at {addr}: {e}; is it running with this `http:` section?")
    })?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let auth = t
        .token
        .as_ref()
        .map(|tok| format!("Authorization: Bearer {tok}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n{auth}Connection: close\r\n\r\n",
        t.addr
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("cannot send to the agent at {addr}: {e}"))?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut raw)
        .map_err(|e| format!("the agent at {addr} did not answer in full: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("the answer from {addr} is not HTTP"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("the answer from {addr} has no status code"))?;
    Ok((status, body.to_string()))
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The short local time of an RFC 3339 value (`14:02:03`), or `-`.
fn clock(v: &Value) -> String {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "-".into())
}

fn uptime(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Lays out rows in columns as wide as their widest cell.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The `/status` document as the table `logward status` prints.
pub fn table(doc: &Value) -> String {
    let ready = doc["ready"].as_bool().unwrap_or(false);
    let mut out = format!(
        "logward {} — {} (up {}, {}, config {})\n",
        text(&doc["version"]),
        if ready { "ready" } else { "NOT READY" },
        uptime(doc["uptime_seconds"].as_u64().unwrap_or(0)),
        text(&doc["phase"]),
        text(&doc["config_source"]),
    );
    for c in doc["not_ready_causes"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  not ready: {}: {}\n",
            text(&c["component"]),
            text(&c["reason"])
        ));
    }
    for w in doc["wedged_threads"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  wedged: thread {} silent for {}s\n",
            text(&w["thread"]),
            text(&w["silent_seconds"])
        ));
    }
    let q = &doc["queue"];
    if !q.is_null() {
        out.push_str(&format!(
            "queue: {} {}/{} {} ({:.0}%)\n",
            text(&q["type"]),
            text(&q["used"]),
            text(&q["limit"]),
            text(&q["unit"]),
            q["usage_ratio"].as_f64().unwrap_or(0.0) * 100.0
        ));
    }
    out.push('\n');
    let mut rows = vec![
        [
            "COMPONENT",
            "KIND",
            "TYPE",
            "STATE",
            "IN/S",
            "OUT/S",
            "IN",
            "OUT",
            "ERRORS",
            "DISCARDED",
            "LAST DELIVERED",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let mut notes = Vec::new();
    for c in doc["components"].as_array().into_iter().flatten() {
        let state = match (c["state"].as_str(), c["retrying_since"].as_str()) {
            (Some("retrying"), Some(_)) => {
                format!("retrying since {}", clock(&c["retrying_since"]))
            }
            (Some(s), _) => s.to_string(),
            _ => "-".into(),
        };
        let discarded = c["discarded_events"]["intentional"].as_u64().unwrap_or(0)
            + c["discarded_events"]["unintentional"].as_u64().unwrap_or(0)
            + c["dropped_by_processors"].as_u64().unwrap_or(0);
        rows.push(vec![
            text(&c["id"]),
            text(&c["kind"]),
            text(&c["type"]),
            state,
            format!(
                "{:.1}",
                c["rates"]["received_per_second"].as_f64().unwrap_or(0.0)
            ),
            format!(
                "{:.1}",
                c["rates"]["sent_per_second"].as_f64().unwrap_or(0.0)
            ),
            if c["kind"] == "input" {
                text(&c["received_events"])
            } else {
                "-".into()
            },
            text(&c["sent_events"]),
            text(&c["errors"]),
            discarded.to_string(),
            if c["kind"] == "output" {
                clock(&c["last_delivered"])
            } else {
                "-".into()
            },
        ]);
        if let Some(message) = c["last_error"]["message"].as_str()
            && c["state"] != "running"
        {
            notes.push(format!(
                "  {} last error at {}: {message}",
                text(&c["id"]),
                clock(&c["last_error"]["at"])
            ));
        }
        for f in c["files"].as_array().into_iter().flatten() {
            notes.push(format!(
                "  {} file {}: at {} of {} bytes, {} behind",
                text(&c["id"]),
                text(&f["path"]),
                text(&f["offset"]),
                text(&f["size"]),
                text(&f["lag_bytes"])
            ));
        }
    }
    out.push_str(&columns(&rows));
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}

/// The agent's `/status` document, or what went wrong asking for it.
fn document(t: &Target) -> Result<Value, String> {
    let (code, body) = get(t, "/status")?;
    if code == 401 {
        return Err(format!(
            "the agent at {} wants a token: with --url, set LOGWARD_HTTP_TOKEN to its http.auth_token",
            t.addr
        ));
    }
    match serde_json::from_str(&body) {
        Ok(v) if code == 200 => Ok(v),
        _ => Err(format!(
            "the agent at {} answered {code} without a status document: {body:.300}",
            t.addr
        )),
    }
}

/// Runs `logward status`; returns the exit code.
pub fn status(args: StatusArgs) -> i32 {
    let t = match target(&args.agent) {
        Ok(t) => t,
        Err((code, message)) => {
            eprintln!("{message}");
            return code;
        }
    };
    let doc = match document(&t) {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("{e}");
            return exit::FAILURE;
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!("{}", table(&doc));
    }
    if doc["ready"].as_bool() == Some(true) {
        exit::OK
    } else {
        exit::FAILURE
    }
}

/// Runs `logward top`: the status table, redrawn every second until Ctrl-C. An agent that stops
/// answering is reported on the screen and asked again, so the view survives a restart.
pub fn top(args: AgentArgs) -> i32 {
    let t = match target(&args) {
        Ok(t) => t,
        Err((code, message)) => {
            eprintln!("{message}");
            return code;
        }
    };
    let mut out = std::io::stdout();
    loop {
        let screen = match document(&t) {
            Ok(doc) => table(&doc),
            Err(e) => format!("{e}\n"),
        };
        let now = chrono::Local::now().format("%H:%M:%S");
        // Home, draw, clear what an earlier, longer screen left below.
        let frame = format!(
            "\x1b[H{}\x1b[J\n{now} · every 1s · Ctrl-C to quit\n",
            screen.replace('\n', "\x1b[K\n")
        );
        if out
            .write_all(frame.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            // The terminal is gone.
            return exit::OK;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
