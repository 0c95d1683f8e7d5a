//! The example configurations in `examples/loghub-*.yml` parse real logs (loghub) into the same fields as the
//! hand-checked `_structured.csv` beside each log: at least 99% of lines must match exactly.

mod common;

use logward::event::Event;
use logward::processors::config::build_chain;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A small CSV reader: quoted fields, doubled quotes, commas inside quotes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn text(e: &Event, path: &str) -> String {
    match e.get_path(path) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn time(e: &Event, format: &str) -> String {
    e.timestamp()
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

/// Runs one example over its log and compares with the CSV: `expected(row)` and `actual(event)` give the
/// same labelled values.
fn check(
    example: &str,
    log: &str,
    expected: impl Fn(&dyn Fn(&str) -> String) -> Vec<(&'static str, String)>,
    actual: impl Fn(&Event) -> Vec<(&'static str, String)>,
) {
    let Some(loghub) = common::shared_data("loghub") else {
        return;
    };
    let config = logward::config::load_file(&root().join("examples").join(example))
        .unwrap_or_else(|e| panic!("{example} does not load:\n{e}"));
    let chain = build_chain(&config.processors, "test", &config.base_dir)
        .unwrap_or_else(|e| panic!("{example}: {e:?}"));
    let log_text = std::fs::read_to_string(loghub.join(log))
        .unwrap_or_else(|e| panic!("{}: {e}", loghub.join(log).display()));
    let csv_path = loghub.join(format!("{log}_structured.csv"));
    let csv = std::fs::read_to_string(&csv_path)
        .unwrap_or_else(|e| panic!("{}: {e}", csv_path.display()));
    let rows = parse_csv(&csv);
    let header = rows[0].clone();
    let lines: Vec<&str> = log_text.lines().collect();
    assert_eq!(
        lines.len(),
        rows.len() - 1,
        "{log}: lines and CSV rows differ in number"
    );
    let mut matched = 0;
    let mut mismatches = Vec::new();
    for (line, row) in lines.iter().zip(&rows[1..]) {
        let col = |name: &str| -> String {
            header
                .iter()
                .position(|h| h == name)
                .and_then(|i| row.get(i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let mut events = vec![Event::from_message(*line)];
        chain.run(&mut events);
        let want = expected(&col);
        let got = events.first().map(&actual).unwrap_or_default();
        if want == got {
            matched += 1;
        } else {
            let diff: Vec<String> = want
                .iter()
                .zip(got.iter().chain(std::iter::repeat(&("", String::new()))))
                .filter(|(w, g)| w.1 != g.1)
                .map(|(w, g)| format!("{}: want {:?} got {:?}", w.0, w.1, g.1))
                .collect();
            mismatches.push(format!("  {line}\n    {}", diff.join("\n    ")));
        }
    }
    let share = matched as f64 / lines.len() as f64;
    println!(
        "{log}: {matched}/{} lines match ({:.2}%)",
        lines.len(),
        share * 100.0
    );
    for m in mismatches.iter().take(10) {
        println!("{m}");
    }
    assert!(
        share >= 0.99,
        "{log}: only {:.2}% of lines match; first mismatches:\n{}",
        share * 100.0,
        mismatches
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn linux_syslog() {
    check(
        "loghub-linux.yml",
        "Linux_2k.log",
        |c| {
            vec![
                (
                    "time",
                    format!("{} {} {}", c("Month"), c("Date"), c("Time")),
                ),
                ("host", c("Level")),
                ("program", c("Component")),
                ("pid", c("PID")),
                ("content", c("Content")),
            ]
        },
        |e| {
            vec![
                ("time", time(e, "%b %-d %H:%M:%S")),
                ("host", text(e, "host.hostname")),
                ("program", text(e, "process.name")),
                ("pid", text(e, "process.pid")),
                ("content", text(e, "message")),
            ]
        },
    );
}

#[test]
fn openssh() {
    check(
        "loghub-openssh.yml",
        "OpenSSH_2k.log",
        |c| {
            vec![
                ("time", format!("{} {} {}", c("Date"), c("Day"), c("Time"))),
                ("host", c("Component")),
                ("pid", c("Pid")),
                ("content", c("Content")),
            ]
        },
        |e| {
            vec![
                ("time", time(e, "%b %-d %H:%M:%S")),
                ("host", text(e, "host.hostname")),
                ("pid", text(e, "process.pid")),
                ("content", text(e, "message")),
            ]
        },
    );
}

#[test]
fn apache_error_log() {
    check(
        "loghub-apache.yml",
        "Apache_2k.log",
        |c| {
            vec![
                ("time", c("Time")),
                ("level", c("Level")),
                ("content", c("Content")),
            ]
        },
        |e| {
            vec![
                ("time", time(e, "%a %b %d %H:%M:%S %Y")),
                ("level", text(e, "log.level")),
                ("content", text(e, "message")),
            ]
        },
    );
}

#[test]
fn hdfs() {
    check(
        "loghub-hdfs.yml",
        "HDFS_2k.log",
        |c| {
            vec![
                ("date", c("Date")),
                ("time", c("Time")),
                ("pid", c("Pid")),
                ("level", c("Level")),
                ("component", c("Component")),
                ("content", c("Content")),
            ]
        },
        |e| {
            vec![
                ("date", time(e, "%y%m%d")),
                ("time", time(e, "%H%M%S")),
                ("pid", text(e, "process.pid")),
                ("level", text(e, "log.level")),
                ("component", text(e, "log.logger")),
                ("content", text(e, "message")),
            ]
        },
    );
}

#[test]
fn zookeeper() {
    check(
        "loghub-zookeeper.yml",
        "Zookeeper_2k.log",
        |c| {
            vec![
                ("date", c("Date")),
                ("time", c("Time")),
                ("level", c("Level")),
                ("node", c("Node")),
                ("component", c("Component")),
                ("line", c("Id")),
                ("content", c("Content")),
            ]
        },
        |e| {
            vec![
                ("date", time(e, "%Y-%m-%d")),
                ("time", time(e, "%H:%M:%S,%3f")),
                ("level", text(e, "log.level")),
                ("node", text(e, "zookeeper.node")),
                ("component", text(e, "log.logger")),
                ("line", text(e, "log.origin.file.line")),
                ("content", text(e, "message")),
            ]
        },
    );
}

#[test]
fn windows_cbs() {
    check(
        "loghub-windows.yml",
        "Windows_2k.log",
        |c| {
            vec![
                ("date", c("Date")),
                ("time", c("Time")),
                ("level", c("Level")),
                ("component", c("Component")),
                ("content", c("Content")),
            ]
        },
        |e| {
            vec![
                ("date", time(e, "%Y-%m-%d")),
                ("time", time(e, "%H:%M:%S")),
                ("level", text(e, "log.level")),
                ("component", text(e, "log.logger")),
                ("content", text(e, "message")),
            ]
        },
    );
}

#[test]
fn the_csv_reader_handles_quotes() {
    let rows = parse_csv("a,b\n1,\"x,\"\"y\"\"\"\n");
    assert_eq!(rows, vec![vec!["a", "b"], vec!["1", "x,\"y\""]]);
    let _ = Path::new(".");
}
