//! Throughput of the syslog input over TCP: 1,000,000 octet-counted RFC 5424 messages (about 140 bytes
//! each, with structured data, as rsyslog forwards them) sent over one loopback connection, through the
//! memory queue, into the file output.
//!
//! Runs the real release binary, pinned to one core with `taskset -c 0` when taskset is there (the sender
//! runs unpinned), and measures it from outside: wall time until the last event is written, CPU-seconds
//! and peak RSS. Prints figures; asserts nothing about speed. Linux only (reads /proc).
//! `cargo bench --bench syslog_tcp`; LOGWARD_BENCH_LINES changes the message count.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn count_newlines(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("events.ndjson"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .map(|b| b.iter().filter(|&&c| c == b'\n').count())
                .sum()
        })
        .unwrap_or(0)
}

/// The messages, framed: `LEN SP <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`.
fn messages(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 200);
    for i in 0..n {
        let msg = format!(
            "<{}>1 2026-12-02T10:{:02}:{:02}.{:03}Z web-{} sshd {} - [origin ip=\"10.0.{}.{}\"] Accepted publickey for user{} from 10.1.{}.{} port {}",
            32 + i % 8,
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000,
            i % 16,
            1000 + i % 5000,
            i % 256,
            i % 200,
            i % 1000,
            i % 256,
            (i / 256) % 256,
            20_000 + i % 40_000
        );
        out.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
    }
    out
}

fn main() {
    let n = common::line_count();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let config = dir.path().join("bench.yml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nprogress_interval: 0s\ninputs:\n  - type: syslog\n    id: bench\n    tcp: {{address: \"127.0.0.1:{port}\"}}\noutputs:\n  - type: file\n    path: {out}\n    filename: events.ndjson\n    rotate_every: 1GiB\n",
            data = dir.path().join("data").display(),
            out = out.display()
        ),
    )
    .expect("write config");
    let payload = messages(n);
    println!(
        "input: {n} messages, {:.1} MB ({:.0} bytes/message) over one TCP connection",
        payload.len() as f64 / 1e6,
        payload.len() as f64 / n as f64
    );
    let pinned = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut cmd = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(env!("CARGO_BIN_EXE_logward"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_logward"))
    };
    let mut child = cmd
        .args(["run", "-c"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start logward");
    let pid = child.id();
    println!(
        "agent: {}",
        if pinned {
            "pinned to core 0 (taskset -c 0)"
        } else {
            "not pinned (no taskset)"
        }
    );
    let mut stream = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let started = Instant::now();
    let cpu_before = common::proc_cpu_seconds(pid).unwrap_or(0.0);
    let sender = std::thread::spawn(move || {
        for chunk in payload.chunks(64 * 1024) {
            stream.write_all(chunk).expect("send");
        }
        stream
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    let (mut cpu, mut rss) = (cpu_before, 0);
    while count_newlines(&out) < n && Instant::now() < deadline {
        cpu = common::proc_cpu_seconds(pid).unwrap_or(cpu);
        rss = common::proc_peak_rss_kib(pid).unwrap_or(rss);
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed().as_secs_f64();
    cpu = common::proc_cpu_seconds(pid).unwrap_or(cpu) - cpu_before;
    rss = common::proc_peak_rss_kib(pid).unwrap_or(rss);
    drop(sender.join());
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    println!("events written: {}", count_newlines(&out));
    common::report(
        n,
        messages(1).len() as u64 * n as u64,
        &common::Measured {
            wall,
            cpu,
            peak_rss_kib: rss,
        },
    );
}
