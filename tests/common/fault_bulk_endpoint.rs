//! A fault-injecting `_bulk` endpoint, for what no real server does on demand: 429s on some items, 503s on
//! some requests, a connection cut before the response, slow answers, 413s for large requests, 429s to
//! whole requests beyond a number in flight (an overloaded write queue), refused credentials, or not
//! being Elasticsearch at all. It speaks just enough HTTP/1.1 (keep-alive,
//! Content-Length, gzip request bodies) and remembers every stored document by `_id`, so tests can check
//! that retries lose nothing and duplicate nothing. Also used by the output benchmark as a fast endpoint.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// An item whose id hashes into this share (0.0–1.0) gets 429 the first time it is seen.
    pub item_429_share: f64,
    /// Every n-th document received (counted over all requests, resends included) gets 429.
    pub item_429_every: Option<u64>,
    /// Every n-th `_bulk` request is answered 503 without storing anything.
    pub request_503_every: Option<u64>,
    /// Every n-th `_bulk` request is stored, then the connection is closed before any answer.
    pub cut_after_store_every: Option<u64>,
    /// Wait this long before answering each `_bulk` request.
    pub delay: Option<Duration>,
    /// Requests with more items than this get 413.
    pub max_items: Option<usize>,
    /// Answer every request (also `GET /`) with this status and an Elasticsearch-style error.
    pub status_for_all: Option<u16>,
    /// Answer `GET /` with an HTML page, like a web server that is not Elasticsearch.
    pub not_elasticsearch: bool,
    /// Do not keep documents (benchmarks): only count them and answer like Elasticsearch would.
    pub count_only: bool,
    /// A `_bulk` request arriving while this many are being served already is answered 429 as a
    /// whole (nothing stored), like a cluster whose write queue is full.
    pub max_in_flight: Option<usize>,
    /// Keep only how often each id was stored, not the documents (benchmarks that check exactly-once).
    pub ids_only: bool,
    /// A request whose body contains this text is answered 503 (nothing stored) while
    /// [`FaultInjectingBulkEndpoint::release_stall`] was not called: one batch kept in retry.
    pub stall_marker: Option<String>,
}

/// What the endpoint saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Stored documents by id (the last version).
    pub docs: HashMap<String, serde_json::Value>,
    /// How many times each id was stored.
    pub stores: HashMap<String, u32>,
    /// Ids that already got their 429.
    pub refused_once: std::collections::HashSet<String>,
}

/// A running endpoint; stops accepting when dropped.
pub struct FaultInjectingBulkEndpoint {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
    pub requests: Arc<AtomicU64>,
    pub items_429: Arc<AtomicU64>,
    pub requests_503: Arc<AtomicU64>,
    pub cuts: Arc<AtomicU64>,
    pub requests_413: Arc<AtomicU64>,
    pub stored_count: Arc<AtomicU64>,
    /// Whole requests answered 429 for being beyond `max_in_flight`.
    pub requests_429: Arc<AtomicU64>,
    /// Documents received (resends included, also those turned away).
    pub items_received: Arc<AtomicU64>,
    /// The most `_bulk` requests being served at once since the last [`FaultInjectingBulkEndpoint::reset_peak`].
    pub peak_in_flight: Arc<AtomicU64>,
    status_override: Arc<AtomicU16>,
    stall_released: Arc<AtomicBool>,
    stalled: Arc<AtomicU64>,
    faults_off: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultInjectingBulkEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

#[derive(Clone)]
struct State {
    faults: Faults,
    seen: Arc<Mutex<Seen>>,
    requests: Arc<AtomicU64>,
    items_429: Arc<AtomicU64>,
    requests_503: Arc<AtomicU64>,
    cuts: Arc<AtomicU64>,
    requests_413: Arc<AtomicU64>,
    stored_count: Arc<AtomicU64>,
    requests_429: Arc<AtomicU64>,
    in_flight: Arc<AtomicU64>,
    peak_in_flight: Arc<AtomicU64>,
    items_received: Arc<AtomicU64>,
    status_override: Arc<AtomicU16>,
    stall_released: Arc<AtomicBool>,
    stalled: Arc<AtomicU64>,
    faults_off: Arc<AtomicBool>,
}

impl FaultInjectingBulkEndpoint {
    /// Requests with the stall marker are served normally from now on.
    pub fn release_stall(&self) {
        self.stall_released.store(true, Ordering::SeqCst);
    }

    /// Stops (`false`) or resumes (`true`) injecting the item 429s, request 503s and overload 429s.
    pub fn set_faults(&self, on: bool) {
        self.faults_off.store(!on, Ordering::SeqCst);
    }

    /// Forgets the peak of requests in flight (to measure it from now on).
    pub fn reset_peak(&self) {
        self.peak_in_flight.store(0, Ordering::SeqCst);
    }

    /// How many requests were refused for the stall marker.
    pub fn stalled_requests(&self) -> u64 {
        self.stalled.load(Ordering::SeqCst)
    }

    /// Answers every request with `status` from now on (`None`: behave normally again).
    pub fn set_status_for_all(&self, status: Option<u16>) {
        self.status_override
            .store(status.unwrap_or(0), Ordering::SeqCst);
    }

    /// Starts on a free loopback port.
    pub fn start(faults: Faults) -> FaultInjectingBulkEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = State {
            faults: faults.clone(),
            seen: Arc::default(),
            requests: Arc::default(),
            items_429: Arc::default(),
            requests_503: Arc::default(),
            cuts: Arc::default(),
            requests_413: Arc::default(),
            stored_count: Arc::default(),
            requests_429: Arc::default(),
            in_flight: Arc::default(),
            peak_in_flight: Arc::default(),
            items_received: Arc::default(),
            status_override: Arc::new(AtomicU16::new(faults.status_for_all.unwrap_or(0))),
            stall_released: Arc::default(),
            stalled: Arc::default(),
            faults_off: Arc::default(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ep = FaultInjectingBulkEndpoint {
            url,
            seen: Arc::clone(&state.seen),
            requests: Arc::clone(&state.requests),
            items_429: Arc::clone(&state.items_429),
            requests_503: Arc::clone(&state.requests_503),
            cuts: Arc::clone(&state.cuts),
            requests_413: Arc::clone(&state.requests_413),
            stored_count: Arc::clone(&state.stored_count),
            requests_429: Arc::clone(&state.requests_429),
            peak_in_flight: Arc::clone(&state.peak_in_flight),
            items_received: Arc::clone(&state.items_received),
            status_override: Arc::clone(&state.status_override),
            stall_released: Arc::clone(&state.stall_released),
            stalled: Arc::clone(&state.stalled),
            faults_off: Arc::clone(&state.faults_off),
            stop: Arc::clone(&stop),
        };
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let state = state.clone();
                std::thread::spawn(move || serve(conn, state));
            }
        });
        ep
    }

    /// Distinct documents stored.
    pub fn unique_docs(&self) -> usize {
        self.seen.lock().unwrap().stores.len()
    }
}

fn serve(conn: TcpStream, state: State) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::with_capacity(
        1 << 16,
        match conn.try_clone() {
            Ok(c) => c,
            Err(_) => return,
        },
    );
    let mut writer = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        let mut gzip = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if lower.starts_with("content-encoding:") && lower.contains("gzip") {
                gzip = true;
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if gzip {
            let mut plain = Vec::new();
            if flate2::read::MultiGzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .is_err()
            {
                let _ = respond(
                    &mut writer,
                    400,
                    r#"{"error":{"type":"parse_exception","reason":"bad gzip"},"status":400}"#,
                );
                continue;
            }
            body = plain;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("");
        let status = state.status_override.load(Ordering::SeqCst);
        if status != 0 {
            let _ = respond(
                &mut writer,
                status,
                &format!(
                    r#"{{"error":{{"type":"security_exception","reason":"injected status {status}"}},"status":{status}}}"#
                ),
            );
            continue;
        }
        if method == "GET" && path == "/" {
            let ok = if state.faults.not_elasticsearch {
                respond_typed(
                    &mut writer,
                    200,
                    "<html><body>Welcome to nginx!</body></html>",
                    "text/html",
                )
            } else {
                respond(
                    &mut writer,
                    200,
                    r#"{"name":"fault-injecting","cluster_name":"test","version":{"number":"8.15.0","build_flavor":"default"},"tagline":"You Know, for Search"}"#,
                )
            };
            if ok.is_err() {
                return;
            }
            continue;
        }
        if !path.starts_with("/_bulk") {
            let _ = respond(&mut writer, 404, r#"{"error":"no handler"}"#);
            continue;
        }
        let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let faults_on = !state.faults_off.load(Ordering::SeqCst);
        let serving = InFlight::enter(&state);
        if faults_on
            && state
                .faults
                .max_in_flight
                .is_some_and(|max| serving.at_once > max as u64)
        {
            drop(serving);
            state.requests_429.fetch_add(1, Ordering::SeqCst);
            if respond(
                &mut writer,
                429,
                r#"{"error":{"type":"es_rejected_execution_exception","reason":"injected 429: too many requests in flight"},"status":429}"#,
            )
            .is_err()
            {
                return;
            }
            continue;
        }
        if let Some(d) = state.faults.delay {
            std::thread::sleep(d);
        }
        if faults_on
            && state
                .faults
                .request_503_every
                .is_some_and(|k| n.is_multiple_of(k))
        {
            state.requests_503.fetch_add(1, Ordering::SeqCst);
            if respond(
                &mut writer,
                503,
                r#"{"error":{"type":"unavailable","reason":"injected 503"},"status":503}"#,
            )
            .is_err()
            {
                return;
            }
            continue;
        }
        if let Some(marker) = &state.faults.stall_marker
            && !state.stall_released.load(Ordering::SeqCst)
            && memchr_find(&body, marker.as_bytes())
        {
            state.stalled.fetch_add(1, Ordering::SeqCst);
            if respond(
                &mut writer,
                503,
                r#"{"error":{"type":"unavailable","reason":"injected stall"},"status":503}"#,
            )
            .is_err()
            {
                return;
            }
            continue;
        }
        let lines: Vec<&[u8]> = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let items = lines.len() / 2;
        if state.faults.max_items.is_some_and(|m| items > m) {
            state.requests_413.fetch_add(1, Ordering::SeqCst);
            if respond(&mut writer, 413, r#"{"error":"request too large"}"#).is_err() {
                return;
            }
            continue;
        }
        let mut results = Vec::with_capacity(items);
        let mut errors = false;
        if state.faults.count_only {
            state
                .stored_count
                .fetch_add(items as u64, Ordering::Relaxed);
            for _ in 0..items {
                results.push(r#"{"index":{"status":201}}"#.to_string());
            }
        } else {
            let mut seen = state.seen.lock().unwrap();
            for pair in lines.chunks(2) {
                let action: serde_json::Value = serde_json::from_slice(pair[0]).unwrap_or_default();
                let (op, meta) = action
                    .as_object()
                    .and_then(|o| o.iter().next())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .unwrap_or_default();
                let id = meta["_id"].as_str().unwrap_or("").to_string();
                let hash = id
                    .bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
                let received = state.items_received.fetch_add(1, Ordering::Relaxed) + 1;
                let refuse = faults_on
                    && ((state.faults.item_429_share > 0.0
                        && (hash % 1000) as f64 / 1000.0 < state.faults.item_429_share
                        && seen.refused_once.insert(id.clone()))
                        || state
                            .faults
                            .item_429_every
                            .is_some_and(|k| received.is_multiple_of(k)));
                if refuse {
                    errors = true;
                    state.items_429.fetch_add(1, Ordering::SeqCst);
                    results.push(format!(r#"{{"{op}":{{"status":429,"error":{{"type":"es_rejected_execution_exception","reason":"injected 429"}}}}}}"#));
                    continue;
                }
                *seen.stores.entry(id.clone()).or_default() += 1;
                if !state.faults.ids_only {
                    let doc: serde_json::Value = pair
                        .get(1)
                        .and_then(|d| serde_json::from_slice(d).ok())
                        .unwrap_or_default();
                    seen.docs.insert(id, doc);
                }
                state.stored_count.fetch_add(1, Ordering::Relaxed);
                results.push(format!(r#"{{"{op}":{{"status":201}}}}"#));
            }
        }
        if state
            .faults
            .cut_after_store_every
            .is_some_and(|k| n.is_multiple_of(k))
        {
            state.cuts.fetch_add(1, Ordering::SeqCst);
            let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"took\":1,");
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        }
        let body = format!(
            r#"{{"took":1,"errors":{errors},"items":[{}]}}"#,
            results.join(",")
        );
        drop(serving);
        if respond(&mut writer, 200, &body).is_err() {
            return;
        }
    }
}

/// One `_bulk` request being served: counted in flight (and in the peak) until dropped.
struct InFlight<'a> {
    state: &'a State,
    /// How many were in flight with this one.
    at_once: u64,
}

impl<'a> InFlight<'a> {
    fn enter(state: &'a State) -> InFlight<'a> {
        let at_once = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.peak_in_flight.fetch_max(at_once, Ordering::SeqCst);
        InFlight { state, at_once }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn respond(w: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    respond_typed(w, status, body, "application/json")
}

fn respond_typed(
    w: &mut TcpStream,
    status: u16,
    body: &str,
    content_type: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    w.write_all(head.as_bytes())?;
    w.write_all(body.as_bytes())?;
    w.flush()
}

/// Whether `needle` occurs in `hay`.
fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
