//! Entries/s of the journald input on one core: 200,000 journal entries (written with
//! systemd-journal-remote from export-format input) read with `follow: false` through journalctl, the
//! memory queue and the file output, the agent and its journalctl pinned to one CPU (`taskset -c 0`).
//!
//! Prints wall time, entries/s, the CPU-seconds of logward and of journalctl (the child, counted once it
//! is reaped) and peak RSS; asserts nothing. Linux only. `cargo bench --bench journald`; set
//! LOGWARD_BENCH_LINES to change the entry count.

mod common;

use std::io::Write;
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

/// user+sys of the process's reaped children (fields 16 and 17 of /proc/<pid>/stat), in seconds.
fn children_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some((f.get(13)?.parse::<f64>().ok()? + f.get(14)?.parse::<f64>().ok()?) / 100.0)
}

fn main() {
    let remote = [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    let Some(remote) = remote else {
        println!(
            "systemd-journal-remote is missing (apt-get install systemd-journal-remote); nothing measured"
        );
        return;
    };
    let entries = std::env::var("LOGWARD_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000usize);
    let dir = tempfile::tempdir().expect("tempdir");
    let journal_dir = dir.path().join("journal");
    std::fs::create_dir_all(&journal_dir).expect("journal folder");
    let mut export = Vec::new();
    for i in 0..entries {
        write!(
            export,
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0d2f3c9a5c1e4b8f9a6e2b7c4d1f0a3b\n\
MESSAGE=request handled path=/api/v1/items/{i} status=200 duration_ms={}\nPRIORITY=6\nSYSLOG_FACILITY=3\n\
SYSLOG_IDENTIFIER=app\n_PID=4242\n_UID=1000\n_GID=1000\n_COMM=app\n_EXE=/usr/bin/app\n_SYSTEMD_UNIT=app.service\n\
_SYSTEMD_CGROUP=/system.slice/app.service\n_HOSTNAME=web-1\n_TRANSPORT=journal\n\n",
            1_700_000_000_000_000u64 + i as u64 * 1000,
            1_000_000 + i,
            i % 97
        )
        .expect("export");
    }
    let mut child = Command::new(remote)
        .arg(format!(
            "--output={}",
            journal_dir.join("bench.journal").display()
        ))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-journal-remote");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&export)
        .expect("feed");
    assert!(
        child.wait().expect("wait").success(),
        "systemd-journal-remote failed"
    );
    let out = dir.path().join("out");
    let config = dir.path().join("bench.yml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nprogress_interval: 0s\ninputs:\n  - type: journald\n    id: bench\n    directory: \"{journal}\"\n    follow: false\noutputs:\n  - type: file\n    path: {out}\n    filename: events.ndjson\n    rotate_every: 1GiB\n",
            data = dir.path().join("data").display(),
            journal = journal_dir.display(),
            out = out.display()
        ),
    )
    .expect("write config");
    println!(
        "input: {entries} journal entries of 16 fields, {:.1} MB in export form",
        export.len() as f64 / 1e6
    );
    let started = Instant::now();
    let mut agent = Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_logward"), "run", "-c"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start logward under taskset");
    let pid = agent.id();
    let (mut cpu, mut child_cpu, mut rss) = (0.0, 0.0, 0);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        cpu = common::proc_cpu_seconds(pid).unwrap_or(cpu);
        child_cpu = children_cpu_seconds(pid).unwrap_or(child_cpu);
        rss = common::proc_peak_rss_kib(pid).unwrap_or(rss);
        if count_newlines(&out) >= entries || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed().as_secs_f64();
    // journalctl has ended (follow: false) and is reaped by the time the input finishes.
    std::thread::sleep(Duration::from_millis(300));
    cpu = common::proc_cpu_seconds(pid).unwrap_or(cpu);
    child_cpu = children_cpu_seconds(pid).unwrap_or(child_cpu);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = agent.wait();
    println!("events written: {}", count_newlines(&out));
    println!(
        "wall: {wall:.2} s  ->  {:.0} entries/s on one core",
        entries as f64 / wall
    );
    println!(
        "cpu: logward {cpu:.2} s, journalctl {child_cpu:.2} s  ->  {:.0} entries per CPU-second together",
        entries as f64 / (cpu + child_cpu).max(0.01)
    );
    println!("peak RSS (logward): {:.1} MiB", rss as f64 / 1024.0);
}
