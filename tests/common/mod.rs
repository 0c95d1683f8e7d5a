//! Helpers for end-to-end tests: run the real `logward` binary on temporary folders and read what it wrote.
#![allow(dead_code)]

pub mod es_servers;
pub mod fault_bulk_endpoint;
pub mod misbehaving_bulk_endpoint;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running agent, killed when dropped.
pub struct Agent {
    pub child: Child,
    pub config: PathBuf,
}

impl Agent {
    /// Starts `logward run -c <config>`.
    pub fn start(config: &Path) -> Agent {
        let child = Command::new(env!("CARGO_BIN_EXE_logward"))
            .args(["run", "-c"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(config.with_extension("stderr.log"))
                    .expect("stderr log"),
            ))
            .spawn()
            .expect("start logward");
        Agent {
            child,
            config: config.to_path_buf(),
        }
    }

    /// Sends SIGTERM and waits for a graceful exit; returns the exit code.
    pub fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "logward did not stop within 60 s after SIGTERM; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits up to `ceiling` for the exit: the exit code (`None` when it was still
    /// running at the ceiling; it is killed when dropped) and how long it took.
    pub fn stop_within(&mut self, ceiling: Duration) -> (Option<i32>, Duration) {
        let pid = self.child.id().to_string();
        let asked = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (Some(status.code().unwrap_or(-1)), asked.elapsed());
            }
            if asked.elapsed() > ceiling {
                return (None, asked.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agent's peak resident memory so far (VmHWM in /proc), in KiB; `None` once it has exited.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// kill -9.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the agent printed on stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config.with_extension("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every JSON event in the output folder (rotated files first, oldest first).
pub fn read_events(dir: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.starts_with("events.ndjson")
    });
    // events.ndjson.N (higher N is older) before events.ndjson
    files.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        std::cmp::Reverse(
            name.rsplit('.')
                .next()
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines() {
            out.push(
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("output line is not JSON ({e}): {line:.200}")),
            );
        }
    }
    out
}

/// The `message` of every output event.
pub fn messages(dir: &Path) -> Vec<String> {
    read_events(dir)
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

/// Counts how many output lines there are, cheaply (no JSON parsing).
pub fn count_lines(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("events.ndjson"))
        .map(|e| {
            std::fs::read(e.path())
                .map(|b| b.iter().filter(|&&c| c == b'\n').count())
                .unwrap_or(0)
        })
        .sum()
}

/// Waits until the output has at least `n` lines; panics with the agent log after `timeout`.
pub fn wait_for_lines(dir: &Path, n: usize, timeout: Duration, agent: &Agent) {
    let deadline = Instant::now() + timeout;
    loop {
        let have = count_lines(dir);
        if have >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {have} of {n} lines arrived within {timeout:?}; log:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that every expected message arrived exactly once, and nothing else.
pub fn assert_exactly_once(got: &[String], expected: &[String]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for m in got {
        *counts.entry(m.as_str()).or_default() += 1;
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|m| !counts.contains_key(m.as_str()))
        .take(5)
        .collect();
    let dups: Vec<(&&str, &usize)> = counts.iter().filter(|(_, c)| **c > 1).take(5).collect();
    let missing_n = expected
        .iter()
        .filter(|m| !counts.contains_key(m.as_str()))
        .count();
    let dup_n: usize = counts.values().filter(|c| **c > 1).map(|c| c - 1).sum();
    assert!(
        missing_n == 0 && dup_n == 0 && got.len() == expected.len(),
        "expected {} lines exactly once, got {} lines: {missing_n} missing (e.g. {missing:?}), {dup_n} duplicates (e.g. {dups:?})",
        expected.len(),
        got.len()
    );
}

/// A temporary test folder with `logs/`, `data/`, `out/`.
pub struct Sandbox {
    pub root: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::tempdir().expect("tempdir");
        for d in ["logs", "data", "out"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        Sandbox { root }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }
    pub fn out(&self) -> PathBuf {
        self.path("out")
    }
    /// Writes `logward.yml` with the given input section (YAML list items, indented by 2) and a file output.
    pub fn config(&self, inputs: &str) -> PathBuf {
        self.config_with(inputs, "")
    }
    pub fn config_with(&self, inputs: &str, extra: &str) -> PathBuf {
        let text = format!(
            "data_dir: {data}\nprogress_interval: 0s\nshutdown_timeout: 20s\ninputs:\n{inputs}\noutputs:\n  - type: file\n    path: {out}\n    filename: events.ndjson\n    rotate_every: 4MiB\n    keep_files: 1000\n{extra}",
            data = self.path("data").display(),
            out = self.out().display(),
        );
        let path = self.path("logward.yml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Appends lines to a file.
pub fn append_lines(path: &Path, lines: impl IntoIterator<Item = String>) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut buf = String::new();
    for l in lines {
        buf.push_str(&l);
        buf.push('\n');
    }
    f.write_all(buf.as_bytes()).unwrap();
}

/// Polls `f` every 100 ms until it holds or `timeout` passes; returns its last answer.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}
