//! The components added through the component model, end to end on the real binary: the `stdin` input
//! (piped text, hostile lines, exit when it ends) and the `blackhole` output; checkpoint files of
//! earlier versions keep working.

mod common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `logward run -c config` with `input` on its standard input; returns the exit code and stderr.
fn run_with_stdin(config: &std::path::Path, input: &[u8]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(["run", "-c"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start logward");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for logward");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stdin_lines_are_shipped_and_logward_exits_when_the_input_ends() {
    let sb = Sandbox::new();
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..20_000 {
        let line = format!("piped line {i}");
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
        expected.push(line);
    }
    // Hostile lines: invalid UTF-8, a line far over the cap, and a last line without a newline.
    input.extend_from_slice(b"bad \xff\xfe bytes\n");
    input.extend(std::iter::repeat_n(b'x', 300_000));
    input.extend_from_slice(b"\nno newline at the end");
    let cfg = sb.config("  - type: stdin\n    max_line_bytes: 64KiB\n    tags: [piped]\n");
    let (code, log) = run_with_stdin(&cfg, &input);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("standard input ended"), "{log}");
    let events = read_events(&sb.out());
    assert_eq!(events.len(), expected.len() + 3, "{log}");
    let got: Vec<String> = events
        .iter()
        .take(expected.len())
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_exactly_once(&got, &expected);
    let first = &events[0];
    assert_eq!(first["input"]["type"], "stdin");
    assert_eq!(first["tags"], serde_json::json!(["piped"]));
    assert_eq!(first["log"]["offset"], 0);
    let bad = &events[expected.len()];
    assert_eq!(bad["message"], "bad \u{fffd}\u{fffd} bytes");
    assert!(
        bad["tags"]
            .as_array()
            .unwrap()
            .contains(&"invalid_utf8".into())
    );
    let long = &events[expected.len() + 1];
    assert_eq!(long["message"].as_str().unwrap().len(), 64 * 1024);
    assert!(
        long["tags"]
            .as_array()
            .unwrap()
            .contains(&"truncated".into())
    );
    assert_eq!(
        events[expected.len() + 2]["message"],
        "no newline at the end"
    );
    // Nothing to resume from: no checkpoint file is written for standard input.
    assert!(
        !sb.path("data/registry/stdin.json").exists(),
        "standard input keeps no checkpoints"
    );
}

#[test]
fn the_blackhole_output_takes_everything_and_says_how_much() {
    let sb = Sandbox::new();
    let text = format!(
        "data_dir: {}\nprogress_interval: 0s\ninputs:\n  - type: stdin\noutputs:\n  - type: blackhole\n    id: sink\n    print_interval: 1ms\n",
        sb.path("data").display()
    );
    let cfg = sb.path("blackhole.yml");
    std::fs::write(&cfg, text).unwrap();
    let input: Vec<u8> = (0..5_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let (code, log) = run_with_stdin(&cfg, &input);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("blackhole closed") && l.contains("events=5000")),
        "{log}"
    );
    assert!(log.contains("events/s"), "{log}");
}

/// A registry written by an earlier version (`registry/<id>.json` holding `{"version":0,"entries":[…]}`)
/// is taken over on the first start: nothing it covers is read again, and it is rewritten in the new form.
#[test]
fn a_registry_of_an_earlier_version_is_migrated_on_first_start() {
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    append_lines(&log, (0..500).map(|i| format!("old line {i}")));
    let size = std::fs::metadata(&log).unwrap().len();
    let head = std::fs::read(&log).unwrap();
    let head = &head[..1024.min(head.len())];
    let node = logward::inputs::file::identity::node_of_path(&log);
    let legacy = serde_json::json!({
        "version": 0,
        "entries": [{
            "id": "0123456789abcdef",
            "path": log,
            "offset": size,
            "head_len": head.len(),
            "head_hash": logward::inputs::file::identity::head_hash(head),
            "node": node,
            "gzip": false,
            "finished": false,
            "last_seen": 0
        }]
    });
    std::fs::create_dir_all(sb.path("data/registry")).unwrap();
    std::fs::write(sb.path("data/registry/app.json"), legacy.to_string()).unwrap();
    let cfg = sb.config(&file_input(
        "app",
        &sb.path("logs/*.log"),
        "    scan_frequency: 200ms\n",
    ));
    let agent = Agent::start(&cfg);
    let mut new: Vec<String> = (0..5).map(|i| format!("new line {i}")).collect();
    append_lines(&log, new.clone());
    wait_for_lines(&sb.out(), new.len(), &agent);
    // A file wrongly taken for new would have been read by the time a later scan's marker arrives.
    scan_marker(&sb.path("logs/marker.log"), &sb.out(), &mut new, &agent);
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &new);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.path("data/registry/app.json")).unwrap()).unwrap();
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["input"]["id"], "app");
    assert_eq!(saved["state"]["entries"][0]["id"], "0123456789abcdef");
}
