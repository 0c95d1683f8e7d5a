//! Throughput of the whole agent on its main path: a 1,000,000-line JSON log (about 250 bytes a line) tailed
//! by the file input with JSON decoding, through the memory queue, into the file output.
//!
//! Runs the real release binary and measures it from outside: wall time until the last event is written,
//! CPU-seconds (user + system, from /proc/<pid>/stat) and peak RSS (VmHWM). Prints figures; asserts nothing
//! about speed. Linux only (reads /proc). `cargo bench --bench file_pipeline`; set LOGWARD_BENCH_LINES to
//! change the line count.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn generate(path: &Path, lines: usize) -> u64 {
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

fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn proc_peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn count_newlines(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("events.ndjson"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .map(|b| memchr_count(&b))
                .sum()
        })
        .unwrap_or(0)
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

fn main() {
    let lines: usize = std::env::var("LOGWARD_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("bench.json.log");
    let bytes = generate(&log, lines);
    let out = dir.path().join("out");
    let config = dir.path().join("bench.yml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nprogress_interval: 0s\ninputs:\n  - type: file\n    id: bench\n    paths: [\"{log}\"]\n    json: {{keys_under_root: true, message_key: msg}}\noutputs:\n  - type: file\n    path: {out}\n    filename: events.ndjson\n    rotate_every: 1GiB\n",
            data = dir.path().join("data").display(),
            log = log.display(),
            out = out.display()
        ),
    )
    .expect("write config");
    println!(
        "input: {lines} lines, {:.1} MB ({:.0} bytes/line)",
        bytes as f64 / 1e6,
        bytes as f64 / lines as f64
    );
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(["run", "-c"])
        .arg(&config)
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
        if count_newlines(&out) >= lines || Instant::now() > deadline {
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
    let written = count_newlines(&out);
    println!("events written: {written}");
    println!(
        "wall: {wall:.2} s  ->  {:.0} events/s, {:.1} MB/s",
        lines as f64 / wall,
        bytes as f64 / 1e6 / wall
    );
    println!(
        "cpu: {cpu:.2} s (user+sys)  ->  {:.0} events per CPU-second",
        lines as f64 / cpu.max(0.01)
    );
    println!("peak RSS: {:.1} MiB", rss as f64 / 1024.0);
}
