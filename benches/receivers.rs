//! Throughput of the receiving inputs on loopback: the real release binary with an `http` input (NDJSON
//! requests of `LOGWARD_BENCH_BATCH` events, default 1,000, over keep-alive connections) or an
//! `elasticsearch` input (`_bulk` requests of as many documents), into the blackhole output through the
//! memory queue. Each answer comes once the output has the events, so the run is over when the last
//! request is answered. `LOGWARD_BENCH_CONNECTIONS` (default 2) senders run at once.
//!
//! Measures from outside: wall time, CPU-seconds of the agent (user + system, /proc/<pid>/stat) and
//! its peak RSS (VmHWM). Prints figures; asserts nothing about speed. Linux only. `cargo bench --bench
//! receivers`; LOGWARD_BENCH_LINES sets the event count (default 1,000,000).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive connection: sends a request, reads the answer (status line, headers,
/// Content-Length body).
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> Option<Conn> {
        let s = TcpStream::connect(addr).ok()?;
        s.set_nodelay(true).ok()?;
        Some(Conn {
            writer: s.try_clone().ok()?,
            reader: BufReader::new(s),
        })
    }

    fn post(&mut self, path: &str, content_type: &str, body: &[u8]) -> u16 {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(head.as_bytes()).expect("send");
        self.writer.write_all(body).expect("send");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("body");
        status
    }
}

fn main() {
    let events = common::line_count();
    let batch = env("LOGWARD_BENCH_BATCH", 1000);
    let connections = env("LOGWARD_BENCH_CONNECTIONS", 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("bench.json.log");
    common::generate(&log, batch);
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .expect("read the generated events")
        .lines()
        .map(str::to_string)
        .collect();
    let ndjson: Vec<u8> = lines
        .iter()
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    let bulk: Vec<u8> = lines
        .iter()
        .flat_map(|l| format!("{{\"index\":{{\"_index\":\"bench\"}}}}\n{l}\n").into_bytes())
        .collect();
    for (name, input, path, content_type, body) in [
        ("http NDJSON", "http", "/", "application/x-ndjson", ndjson),
        (
            "elasticsearch _bulk",
            "elasticsearch",
            "/_bulk",
            "application/x-ndjson",
            bulk,
        ),
    ] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let config = dir.path().join(format!("{input}.yml"));
        std::fs::write(
            &config,
            format!(
                "data_dir: {data}\nprogress_interval: 0s\ninputs:\n  - type: {input}\n    listen: {addr}\n    max_in_flight_events: 100000\noutputs:\n  - type: blackhole\n",
                data = dir.path().join(format!("data-{input}")).display(),
            ),
        )
        .expect("write config");
        let requests = events.div_ceil(batch);
        let sent = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicBool::new(false));
        let started = Mutex::new(false);
        let body = Arc::new(body);
        let measured = common::run_agent(&config, || {
            let mut s = started.lock().unwrap();
            if !*s {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                    return false;
                }
                *s = true;
                let next = Arc::new(AtomicU64::new(0));
                let senders: Vec<_> = (0..connections)
                    .map(|_| {
                        let (next, sent, refused, body) = (
                            Arc::clone(&next),
                            Arc::clone(&sent),
                            Arc::clone(&refused),
                            Arc::clone(&body),
                        );
                        std::thread::spawn(move || {
                            let mut conn = Conn::open(addr).expect("connect");
                            while next.fetch_add(1, Ordering::Relaxed) < requests as u64 {
                                loop {
                                    match conn.post(path, content_type, &body) {
                                        200 => break,
                                        _ => {
                                            refused.fetch_add(1, Ordering::Relaxed);
                                            std::thread::sleep(Duration::from_millis(5));
                                        }
                                    }
                                }
                                sent.fetch_add(batch as u64, Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                let finished = Arc::clone(&finished);
                std::thread::spawn(move || {
                    for s in senders {
                        let _ = s.join();
                    }
                    finished.store(true, Ordering::SeqCst);
                });
            }
            finished.load(Ordering::SeqCst)
        });
        let n = sent.load(Ordering::Relaxed) as usize;
        println!(
            "\n{name}: {n} events in {requests} requests of {batch} over {connections} keep-alive connections ({} answers other than 200)",
            refused.load(Ordering::Relaxed)
        );
        common::report(n, (body.len() * requests) as u64, &measured);
    }
}
