//! Hand-written fake receivers for the alert notifiers, since no real DingTalk, Slack or webhook service
//! can run on this machine: a DingTalk robot that checks the signature exactly as DingTalk documents it
//! (`timestamp` in ms within an hour, `sign` = URL-encoded base64 of HMAC-SHA256 over
//! `timestamp + "\n" + secret`, keyed with the secret) and answers DingTalk's error codes (310000 for a
//! bad signature, 130101 for the rate limit on demand); a Slack incoming webhook (`ok` or
//! `invalid_payload`); and a generic endpoint that records what it got. Speaks just enough HTTP/1.1.

use base64::Engine as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A running fake; its thread ends with the test process.
pub struct FakeWebhookReceivers {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// DingTalk requests whose signature checked out and that were answered errcode 0.
    pub dingtalk_accepted: Arc<Mutex<Vec<Request>>>,
    /// Every request, in order.
    pub all: Arc<Mutex<Vec<Request>>>,
    /// DingTalk requests refused for their signature.
    pub bad_signatures: Arc<AtomicU64>,
    /// The next this-many DingTalk requests are answered 130101 (rate limited).
    pub rate_limit_next: Arc<AtomicU64>,
}

impl FakeWebhookReceivers {
    /// Starts on a free port; `secret` is the DingTalk robot's signing secret.
    pub fn start(secret: &str) -> FakeWebhookReceivers {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake receivers");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let me = FakeWebhookReceivers {
            base,
            dingtalk_accepted: Arc::default(),
            all: Arc::default(),
            bad_signatures: Arc::default(),
            rate_limit_next: Arc::default(),
        };
        let (accepted, all, bad, limit) = (
            me.dingtalk_accepted.clone(),
            me.all.clone(),
            me.bad_signatures.clone(),
            me.rate_limit_next.clone(),
        );
        let secret = secret.to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (accepted, all, bad, limit, secret) = (
                    accepted.clone(),
                    all.clone(),
                    bad.clone(),
                    limit.clone(),
                    secret.clone(),
                );
                std::thread::spawn(move || {
                    let _ = serve(stream, &secret, &accepted, &all, &bad, &limit);
                });
            }
        });
        me
    }

    pub fn requests_to(&self, prefix: &str) -> Vec<Request> {
        self.all
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.target.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn query_param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    let query = target.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// DingTalk's documented check of a signed robot request.
pub fn dingtalk_signature_ok(target: &str, secret: &str) -> bool {
    let (Some(ts), Some(sign)) = (
        query_param(target, "timestamp"),
        query_param(target, "sign"),
    ) else {
        return false;
    };
    let Ok(ts_ms) = ts.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    if (now - ts_ms).abs() > 3_600_000 {
        return false;
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD
        .encode(ring::hmac::sign(&key, format!("{ts}\n{secret}").as_bytes()).as_ref());
    let expected =
        percent_encoding::utf8_percent_encode(&expected, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    sign == expected
}

fn serve(
    stream: TcpStream,
    secret: &str,
    accepted: &Mutex<Vec<Request>>,
    all: &Mutex<Vec<Request>>,
    bad: &AtomicU64,
    limit: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let req = Request {
            method,
            target: target.clone(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        all.lock().unwrap().push(req.clone());
        let (status, answer) = if target.starts_with("/robot/send") {
            let v = req.json();
            if !dingtalk_signature_ok(&target, secret) {
                bad.fetch_add(1, Ordering::SeqCst);
                (
                    200,
                    r#"{"errcode":310000,"errmsg":"sign not match"}"#.to_string(),
                )
            } else if limit
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                (
                    200,
                    r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#
                        .to_string(),
                )
            } else if v["msgtype"] != "markdown"
                || !v["markdown"]["text"].is_string()
                || !v["markdown"]["title"].is_string()
            {
                (
                    200,
                    r#"{"errcode":40035,"errmsg":"missing parameter"}"#.to_string(),
                )
            } else {
                accepted.lock().unwrap().push(req.clone());
                (200, r#"{"errcode":0,"errmsg":"ok"}"#.to_string())
            }
        } else if target.starts_with("/slack") {
            if req.json()["text"].is_string() {
                (200, "ok".to_string())
            } else {
                (400, "invalid_payload".to_string())
            }
        } else {
            (200, "{}".to_string())
        };
        write!(
            out,
            "HTTP/1.1 {status} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{answer}",
            if answer.starts_with('{') {
                "application/json"
            } else {
                "text/plain"
            },
            answer.len()
        )?;
        out.flush()?;
    }
}
