//! A hand-written fake Elasticsearch that misbehaves on purpose, for answers no real server gives on
//! demand: it answers `GET /` like Elasticsearch 8.15 and, for `_bulk`, does what it is told (and can be
//! told something else at any time): behave (store every document, one result per item), answer HTTP 200
//! with a body of its choice (not JSON, no items), with one item too few or too many, with a body that
//! never ends, never answer at all (accept, read the request and hold the connection), or reset the
//! connection. Whatever it does not answer properly, it does not store.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How `_bulk` requests are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Store every document and answer one result per item, like a real server.
    None,
    /// HTTP 200 with this body (`{}`, `{"acknowledged":true}`, HTML, …), nothing stored.
    Body(String),
    /// HTTP 200, `errors: false`, one item fewer than documents sent; nothing stored.
    OneItemShort,
    /// HTTP 200, `errors: false`, one item more than documents sent; nothing stored.
    OneItemExtra,
    /// HTTP 200 and a chunked body that starts like a bulk response and never ends.
    EndlessBody,
    /// Read the request and never answer; the connection stays open until the client closes it.
    Hold,
    /// Reset the connection (RST) after reading the request line.
    Reset,
}

/// A running endpoint; stops accepting when dropped.
pub struct MisbehavingBulkEndpoint {
    pub url: String,
    mode: Arc<Mutex<Misbehaviour>>,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

/// What the endpoint saw and did.
#[derive(Debug, Default)]
pub struct Counts {
    /// `_bulk` requests received.
    pub bulk_requests: AtomicU64,
    /// `_bulk` requests answered (or not) other than properly.
    pub misbehaved: AtomicU64,
    /// Connections held open without an answer right now.
    pub held_now: AtomicU64,
    /// Endless bodies started.
    pub endless_bodies: AtomicU64,
    /// Bytes of endless bodies written.
    pub endless_bytes: AtomicU64,
    /// How many times each document id was stored.
    pub stores: Mutex<HashMap<String, u32>>,
    /// How each `_bulk` request was answered, in order.
    pub answers: Mutex<Vec<Misbehaviour>>,
}

impl Drop for MisbehavingBulkEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

impl MisbehavingBulkEndpoint {
    /// Starts on a free loopback port, misbehaving as `mode` says.
    pub fn start(mode: Misbehaviour) -> MisbehavingBulkEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let ep = MisbehavingBulkEndpoint {
            url,
            mode: Arc::new(Mutex::new(mode)),
            counts: Arc::default(),
            stop: Arc::default(),
        };
        let (mode, counts, stop) = (
            Arc::clone(&ep.mode),
            Arc::clone(&ep.counts),
            Arc::clone(&ep.stop),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (mode, counts, stop) =
                    (Arc::clone(&mode), Arc::clone(&counts), Arc::clone(&stop));
                std::thread::spawn(move || serve(conn, &mode, &counts, &stop));
            }
        });
        ep
    }

    /// Changes how the next `_bulk` requests are answered.
    pub fn set(&self, mode: Misbehaviour) {
        *self.mode.lock().unwrap() = mode;
    }

    /// What it saw.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Distinct documents stored.
    pub fn unique_docs(&self) -> usize {
        self.counts.stores.lock().unwrap().len()
    }

    /// `_bulk` requests answered other than properly so far.
    pub fn misbehaved(&self) -> u64 {
        self.counts.misbehaved.load(Ordering::SeqCst)
    }

    /// How many `_bulk` requests were answered as `mode`.
    pub fn answered_as(&self, mode: &Misbehaviour) -> usize {
        let answers = self.counts.answers.lock().unwrap();
        answers.iter().filter(|a| *a == mode).count()
    }
}

/// Reads one line byte by byte: nothing past the line is taken from the socket, so a connection closed
/// right after it still has unread data, and the kernel resets it instead of closing it cleanly.
fn read_line(conn: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    loop {
        match conn.read(&mut byte) {
            Ok(1) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return Some(String::from_utf8_lossy(&line).into_owned());
                }
            }
            _ => return None,
        }
    }
}

/// Reads the headers and the body (gunzipped) of a request whose line was read.
fn read_rest(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut length = 0usize;
    let mut gzip = false;
    loop {
        let h = read_line(conn)?;
        let h = h.trim_end().to_ascii_lowercase();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        } else if h.starts_with("content-encoding:") && h.contains("gzip") {
            gzip = true;
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).ok()?;
    if gzip {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .ok()?;
        body = plain;
    }
    Some(body)
}

fn serve(mut conn: TcpStream, mode: &Mutex<Misbehaviour>, counts: &Counts, stop: &AtomicBool) {
    let _ = conn.set_nodelay(true);
    loop {
        let Some(request_line) = read_line(&mut conn) else {
            return;
        };
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let is_bulk = path.starts_with("/_bulk");
        let now = mode.lock().unwrap().clone();
        if is_bulk && now == Misbehaviour::Reset {
            counts.bulk_requests.fetch_add(1, Ordering::SeqCst);
            counts.answers.lock().unwrap().push(now);
            counts.misbehaved.fetch_add(1, Ordering::SeqCst);
            // The headers and body are still unread: closing now makes the kernel send a reset.
            return;
        }
        let Some(body) = read_rest(&mut conn) else {
            return;
        };
        if method == "GET" && path == "/" {
            let root = r#"{"name":"misbehaving","cluster_name":"test","version":{"number":"8.15.0","build_flavor":"default"},"tagline":"You Know, for Search"}"#;
            if respond(&mut conn, 200, root).is_err() {
                return;
            }
            continue;
        }
        if !is_bulk {
            let _ = respond(&mut conn, 404, r#"{"error":"no handler"}"#);
            continue;
        }
        counts.bulk_requests.fetch_add(1, Ordering::SeqCst);
        let ids = document_ids(&body);
        counts.answers.lock().unwrap().push(now.clone());
        if now != Misbehaviour::None {
            counts.misbehaved.fetch_add(1, Ordering::SeqCst);
        }
        let answered = match now {
            Misbehaviour::None => {
                let mut stores = counts.stores.lock().unwrap();
                for id in &ids {
                    *stores.entry(id.clone()).or_default() += 1;
                }
                drop(stores);
                respond(&mut conn, 200, &items(ids.len()))
            }
            Misbehaviour::Body(b) => respond(&mut conn, 200, &b),
            Misbehaviour::OneItemShort => {
                respond(&mut conn, 200, &items(ids.len().saturating_sub(1)))
            }
            Misbehaviour::OneItemExtra => respond(&mut conn, 200, &items(ids.len() + 1)),
            Misbehaviour::EndlessBody => {
                endless(&mut conn, counts, stop);
                return;
            }
            Misbehaviour::Hold => {
                hold(&mut conn, counts, stop);
                return;
            }
            Misbehaviour::Reset => unreachable!("handled before reading the request"),
        };
        if answered.is_err() {
            return;
        }
    }
}

/// The `_id` of every action in a bulk body.
fn document_ids(body: &[u8]) -> Vec<String> {
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .chunks(2)
        .map(|pair| {
            let action: serde_json::Value = serde_json::from_slice(pair[0]).unwrap_or_default();
            action
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|meta| meta["_id"].as_str())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// A bulk response with `n` stored items.
fn items(n: usize) -> String {
    let items = vec![r#"{"index":{"status":201}}"#; n];
    format!(
        r#"{{"took":1,"errors":false,"items":[{}]}}"#,
        items.join(",")
    )
}

/// Writes a chunked 200 that starts like a bulk response and goes on until the client leaves.
fn endless(conn: &mut TcpStream, counts: &Counts, stop: &AtomicBool) {
    counts.endless_bodies.fetch_add(1, Ordering::SeqCst);
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let start = r#"{"took":1,"errors":false,"items":["#;
    let chunk = |text: &str| format!("{:x}\r\n{text}\r\n", text.len());
    let item = r#"{"index":{"status":201}},"#;
    let block = chunk(&item.repeat(65_536 / item.len()));
    if conn
        .write_all(format!("{head}{}", chunk(start)).as_bytes())
        .is_err()
    {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        if conn.write_all(block.as_bytes()).is_err() {
            return;
        }
        counts
            .endless_bytes
            .fetch_add(block.len() as u64, Ordering::Relaxed);
    }
}

/// Keeps the connection open without answering until the client closes it (or the endpoint stops).
fn hold(conn: &mut TcpStream, counts: &Counts, stop: &AtomicBool) {
    counts.held_now.fetch_add(1, Ordering::SeqCst);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    counts.held_now.fetch_sub(1, Ordering::SeqCst);
}

fn respond(w: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    w.write_all(head.as_bytes())?;
    w.write_all(body.as_bytes())?;
    w.flush()
}
