//! Helpers for end-to-end tests: run the real `logward` binary on temporary folders, wait for what it does
//! and read what it wrote.
#![allow(dead_code)]

pub mod es_servers;
pub mod fake_webhook_receivers;
pub mod fault_bulk_endpoint;
pub mod misbehaving_bulk_endpoint;
pub mod skip;

// Every test binary compiles this module; not every one uses both.
#[allow(unused_imports)]
pub use skip::{require, shared_data};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a wait on a condition may take before the test fails: generous, because the machine the
/// tests run on is shared and busy; a wait that succeeds returns as soon as its condition holds.
pub const WAIT: Duration = Duration::from_secs(240);

/// Runs `logward <args>` to its end; returns the exit code, stdout and stderr.
pub fn logward(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(args)
        .output()
        .expect("run logward");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running agent, killed when dropped.
pub struct Agent {
    pub child: Child,
    pub config: PathBuf,
    /// Where this run's lines start in the stderr log (which every run of the same config appends to).
    log_start: usize,
}

/// How the agents of the tests log: `info`, and the file input's `debug` lines ("reading file … offset=N",
/// "releasing file"), which tell where reading started and that a file was read to its end.
const AGENT_LOG_FILTER: &str = "info,logward::inputs::file=debug";

impl Agent {
    /// Starts `logward run -c <config>`; its stderr goes to `<config>.stderr.log`, after earlier runs'.
    pub fn start(config: &Path) -> Agent {
        Agent::start_with_env(config, &[])
    }

    /// [`Agent::start`] with more environment variables (for configurations that read `${VAR}`).
    pub fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Agent {
        let log_path = config.with_extension("stderr.log");
        let log_start = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);
        let child = Command::new(env!("CARGO_BIN_EXE_logward"))
            .args(["run", "-c"])
            .arg(config)
            .env("RUST_LOG", AGENT_LOG_FILTER)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log_path)
                    .expect("stderr log"),
            ))
            .spawn()
            .expect("start logward");
        Agent {
            child,
            config: config.to_path_buf(),
            log_start,
        }
    }

    /// Like [`Agent::start`], with the soft limit on open descriptors lowered to `limit` (`ulimit -n` in
    /// a shell that then becomes the agent, so the agent's pid is the child's).
    #[cfg(unix)]
    pub fn start_with_fd_limit(config: &Path, limit: u32) -> Agent {
        let log_path = config.with_extension("stderr.log");
        let log_start = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" run -c \"$1\""))
            .arg(env!("CARGO_BIN_EXE_logward"))
            .arg(config)
            .env("RUST_LOG", AGENT_LOG_FILTER)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log_path)
                    .expect("stderr log"),
            ))
            .spawn()
            .expect("start logward through sh");
        Agent {
            child,
            config: config.to_path_buf(),
            log_start,
        }
    }

    /// Sends SIGTERM and waits for a graceful exit; returns the exit code.
    pub fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "logward did not stop within {WAIT:?} after SIGTERM; log:\n{}",
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

    /// What every agent run with this configuration printed on stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config.with_extension("stderr.log")).unwrap_or_default()
    }

    /// What this run printed on stderr.
    pub fn this_run_log(&self) -> String {
        let log = self.log();
        log.get(self.log_start..).unwrap_or_default().to_string()
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

/// Waits until the output has at least `n` lines; panics with the agent log after [`WAIT`].
pub fn wait_for_lines(dir: &Path, n: usize, agent: &Agent) {
    if !wait_until(WAIT, || count_lines(dir) >= n) {
        panic!(
            "only {} of {n} lines arrived within {WAIT:?}; log:\n{}",
            count_lines(dir),
            agent.log()
        );
    }
}

/// Waits until `condition` holds; panics after [`WAIT`] naming `what` and showing the agent log.
pub fn wait_for(agent: &Agent, what: impl std::fmt::Display, condition: impl FnMut() -> bool) {
    if !wait_until(WAIT, condition) {
        panic!("waited {WAIT:?} for {what}, in vain; log:\n{}", agent.log());
    }
}

/// Waits until this run of the agent has logged a line containing `text`.
pub fn wait_for_log(agent: &Agent, text: &str) {
    wait_for(agent, format_args!("the log line {text:?}"), || {
        agent.this_run_log().contains(text)
    });
}

/// Waits until this run of the agent has logged `n` lines containing every one of `parts`.
pub fn wait_for_log_lines(agent: &Agent, parts: &[&str], n: usize) {
    wait_for(
        agent,
        format_args!("{n} log line(s) with {parts:?}"),
        || log_lines_with(&agent.this_run_log(), parts) >= n,
    );
}

/// How many lines of `log` contain every one of `parts`.
pub fn log_lines_with(log: &str, parts: &[&str]) -> usize {
    log.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .count()
}

/// Waits until the file input `input`'s registry (`data/registry/<input>.json` in the sandbox) records
/// `path` read and acknowledged up to its current size.
pub fn wait_for_registry_at_end(sb: &Sandbox, input: &str, path: &Path, agent: &Agent) {
    let registry = sb.path(&format!("data/registry/{input}.json"));
    let at_end = || {
        let Ok(size) = std::fs::metadata(path).map(|m| m.len()) else {
            return false;
        };
        std::fs::read(&registry)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|r| r["state"]["entries"].as_array().cloned())
            .is_some_and(|entries| {
                entries.iter().any(|e| {
                    e["path"].as_str() == path.to_str() && e["offset"].as_u64() == Some(size)
                })
            })
    };
    wait_for(
        agent,
        format_args!(
            "the registry {} to reach the end of {}",
            registry.display(),
            path.display()
        ),
        at_end,
    );
}

/// The positive signal that the file input has looked at everything once more after what the test did:
/// writes one line to the new file `marker` (which the input's globs must match, and which must not exist
/// yet), adds that line to `expected` and waits until the output holds `expected.len()` lines. Only a scan
/// finds a new file, and every file the same scan takes for new gets its reader then too, read in turn
/// with the marker's; so a file wrongly taken for new has sent lines by the time the marker arrives, the
/// graceful stop delivers them, and they show up as duplicates. (Waiting instead for "no more lines"
/// would need a guess at how long is long enough.)
pub fn scan_marker(marker: &Path, out: &Path, expected: &mut Vec<String>, agent: &Agent) {
    assert!(!marker.exists(), "{} exists already", marker.display());
    let line = format!("scan marker {}", marker.display());
    append_lines(marker, [line.clone()]);
    expected.push(line);
    wait_for_lines(out, expected.len(), agent);
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
    /// Writes `logward.yml` with the given inputs (YAML list items, indented by 2) and [`Sandbox::file_output`].
    pub fn config(&self, inputs: &str) -> PathBuf {
        self.write_config("shutdown_timeout: 20s\n", inputs, &self.file_output())
    }

    /// Writes `logward.yml`: `data_dir` in the sandbox, no progress line, `top` (more top-level settings,
    /// one a line, each ending with a newline), then `inputs` and `outputs` (YAML list items, indented by 2).
    pub fn write_config(&self, top: &str, inputs: &str, outputs: &str) -> PathBuf {
        let text = format!(
            "data_dir: {data}\nprogress_interval: 0s\n{top}inputs:\n{inputs}\noutputs:\n{outputs}",
            data = self.path("data").display(),
        );
        let path = self.path("logward.yml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A file output writing `events.ndjson` into `out/` (rotated files are read back by [`read_events`]).
    pub fn file_output(&self) -> String {
        format!(
            "  - type: file\n    path: {}\n    filename: events.ndjson\n    rotate_every: 4MiB\n    keep_files: 1000\n",
            self.out().display()
        )
    }
}

/// A file input `id` reading the files `glob` matches, with `extra` settings (lines indented by 4).
pub fn file_input(id: &str, glob: &Path, extra: &str) -> String {
    format!(
        "  - type: file\n    id: {id}\n    paths: [\"{}\"]\n{extra}",
        glob.display()
    )
}

/// An Elasticsearch output shipping to `hosts`, with `settings` (lines indented by 4).
pub fn es_output(hosts: &[&str], settings: &str) -> String {
    let hosts: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
    format!(
        "  - type: elasticsearch\n    hosts: [{}]\n{settings}",
        hosts.join(", ")
    )
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
