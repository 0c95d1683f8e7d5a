//! What the whole-agent benchmarks share: the generated JSON log, and measuring the agent process from
//! outside (/proc: CPU-seconds, peak RSS) while it works.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A 1,000,000-line run unless `LOGWARD_BENCH_LINES` says otherwise.
pub fn line_count() -> usize {
    std::env::var("LOGWARD_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Writes `lines` JSON log lines of about 250 bytes; returns the bytes written.
pub fn generate(path: &Path, lines: usize) -> u64 {
    let mut f = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).expect("create log"),
    );
    let levels = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"];
    let events = [
        "login_success",
        "login_failure",
        "token_refresh",
        "logout",
        "password_reset",
    ];
    let mut bytes = 0u64;
    for i in 0..lines {
        let line = format!(
            r#"{{"timestamp":"2026-11-24T10:{:02}:{:02}.{:03}Z","level":"{}","service":"user-auth","event":"{}","user_id":{},"session":"{:016x}","client_ip":"10.{}.{}.{}","latency_ms":{},"path":"/api/v1/auth/session","msg":"request handled for tenant acme-{}"}}"#,
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000,
            levels[i % levels.len()],
            events[i % events.len()],
            i * 7919 % 100_000,
            (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            i % 256,
            (i / 256) % 256,
            i % 200 + 1,
            i % 900,
            i % 97
        );
        bytes += line.len() as u64 + 1;
        writeln!(f, "{line}").expect("write log");
    }
    f.flush().expect("flush log");
    bytes
}

pub fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

pub fn proc_peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// What one run cost.
pub struct Measured {
    pub wall: f64,
    pub cpu: f64,
    pub peak_rss_kib: u64,
}

/// Starts `logward run -c config`, samples it until `done()` (or 10 minutes), stops it with SIGTERM.
pub fn run_agent(config: &Path, done: impl Fn() -> bool) -> Measured {
    let started = Instant::now();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(["run", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start logward");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut cpu = 0.0;
    let mut rss = 0;
    loop {
        cpu = proc_cpu_seconds(pid).unwrap_or(cpu);
        rss = proc_peak_rss_kib(pid).unwrap_or(rss);
        if done() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed().as_secs_f64();
    cpu = proc_cpu_seconds(pid).unwrap_or(cpu);
    rss = proc_peak_rss_kib(pid).unwrap_or(rss);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    Measured {
        wall,
        cpu,
        peak_rss_kib: rss,
    }
}

/// Prints the figures of a run over `lines` lines of `bytes` bytes.
pub fn report(lines: usize, bytes: u64, m: &Measured) {
    println!(
        "wall: {:.2} s  ->  {:.0} events/s, {:.1} MB/s",
        m.wall,
        lines as f64 / m.wall,
        bytes as f64 / 1e6 / m.wall
    );
    println!(
        "cpu: {:.2} s (user+sys)  ->  {:.0} events per CPU-second",
        m.cpu,
        lines as f64 / m.cpu.max(0.01)
    );
    println!("peak RSS: {:.1} MiB", m.peak_rss_kib as f64 / 1024.0);
}
