//! End-to-end tests of the file input through the real binary: real files in, NDJSON files out.

mod common;

use common::*;
use std::io::Write;
use std::time::Duration;

/// The file input `app` on `glob`, scanning every 200 ms, with `extra` settings.
fn input(glob: &str, extra: &str) -> String {
    file_input(
        "app",
        std::path::Path::new(glob),
        &format!("    scan_frequency: 200ms\n{extra}"),
    )
}

#[test]
fn hundred_thousand_lines_across_files_arrive_exactly_once_and_restart_resumes() {
    let sb = Sandbox::new();
    let mut expected = Vec::new();
    for f in 0..5 {
        let lines: Vec<String> = (0..20_000)
            .map(|i| format!("2026-11-24T10:00:00Z INFO file={f} line={i} some payload text"))
            .collect();
        expected.extend(lines.iter().cloned());
        append_lines(&sb.path(&format!("logs/app{f}.log")), lines);
    }
    let cfg = sb.config(&input(&sb.path("logs/*.log").display().to_string(), ""));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), expected.len(), &agent);
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);

    // The registry records every file up to its end.
    let registry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.path("data/registry/app.json")).unwrap()).unwrap();
    let entries = registry["state"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    for e in entries {
        let size = std::fs::metadata(e["path"].as_str().unwrap())
            .unwrap()
            .len();
        assert_eq!(
            e["offset"].as_u64().unwrap(),
            size,
            "registry offset for {}",
            e["path"]
        );
    }

    // New lines written while stopped are read after restart; nothing is read twice.
    let more: Vec<String> = (0..1000).map(|i| format!("after restart {i}")).collect();
    append_lines(&sb.path("logs/app3.log"), more.clone());
    expected.extend(more);
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), expected.len(), &agent);
    scan_marker(
        &sb.path("logs/zz-marker.log"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    let log = agent.this_run_log();
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
    // The restart opened only the file that grew (at its old end) and the new one.
    assert_eq!(
        log_lines_with(&log, &["reading file"]),
        2,
        "files opened after the restart:\n{log}"
    );
}

#[test]
fn ecs_fields_are_set_on_every_event() {
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    append_lines(&log, vec!["first".to_string(), "second".to_string()]);
    let cfg = sb.config(&input(
        &log.display().to_string(),
        "    tags: [web]\n    fields: {env: prod}\n",
    ));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 2, &agent);
    assert_eq!(agent.stop(), 0);
    let events = read_events(&sb.out());
    assert_eq!(events[1]["message"], "second");
    assert_eq!(events[1]["log"]["file"]["path"], log.display().to_string());
    assert_eq!(events[1]["log"]["offset"], 6);
    assert_eq!(events[1]["input"]["type"], "file");
    assert!(
        events[1]["host"]["name"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );
    assert!(
        events[1]["@timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(events[1]["fields"]["env"], "prod");
    assert_eq!(events[1]["tags"], serde_json::json!(["web"]));
    assert!(events[1].get("@metadata").is_none() && events[1].get("_source").is_none());
}

/// Waits until the input has opened `n` files under the name `live` (each rotation leaves a new file
/// there, opened from its start once a scan finds it).
fn wait_for_generations(agent: &Agent, live: &std::path::Path, n: usize) {
    let opened = format!("path={} offset=0", live.display());
    wait_for_log_lines(agent, &["reading file", &opened], n);
}

/// Writes `total` numbered lines to `path`, rotating every `every` lines with `rotate`.
fn write_with_rotation(
    path: &std::path::Path,
    total: usize,
    every: usize,
    rotate: impl Fn(&std::path::Path, usize),
) -> Vec<String> {
    let mut expected = Vec::new();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in 0..total {
        let line =
            format!("2026-11-24 10:00:00 INFO rotating writer line {i:06} padding padding padding");
        writeln!(f, "{line}").unwrap();
        expected.push(line);
        if i % 500 == 499 {
            f.flush().unwrap();
            // The writer's pace (about 25,000 lines a second), so that reading, writing and rotating
            // overlap as with a real application; it waits for nothing.
            std::thread::sleep(Duration::from_millis(20));
        }
        if i % every == every - 1 {
            drop(f);
            rotate(path, i / every);
            f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
        }
    }
    expected
}

#[test]
fn rename_rotation_while_writing_loses_and_repeats_nothing() {
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    std::fs::write(&log, "").unwrap();
    // Only the live name is watched: renamed files must be read to their end through the open handle.
    // (Watching only the live name, a file must live at least one scan_frequency to be seen at all; real
    // rotation intervals are far longer. Watch `app.log*` to be safe even then: see the next test.)
    let cfg = sb.config(&input(&log.display().to_string(), ""));
    let agent = Agent::start(&cfg);
    let mut expected = write_with_rotation(&log, 30_000, 6_000, |p, n| {
        // The input has found the file under its live name before it is renamed away.
        wait_for_generations(&agent, p, n + 1);
        std::fs::rename(p, p.with_extension(format!("log.{n}"))).unwrap();
    });
    wait_for_lines(&sb.out(), expected.len(), &agent);
    // The last rotation left an empty live file. A new one with one line in its place: once that line
    // arrives, a scan after the last rotation has run and every file it found is being read.
    std::fs::remove_file(&log).unwrap();
    scan_marker(&log, &sb.out(), &mut expected, &agent);
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn renamed_files_matched_by_the_glob_are_not_read_twice() {
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    std::fs::write(&log, "").unwrap();
    let cfg = sb.config(&input(&sb.path("logs/app.log*").display().to_string(), ""));
    let agent = Agent::start(&cfg);
    let mut expected = write_with_rotation(&log, 20_000, 5_000, |p, n| {
        // Rotate while the input reads the live file (the glob would find the renamed file anyway).
        if n == 0 {
            wait_for_generations(&agent, p, 1);
        }
        std::fs::rename(p, p.with_extension(format!("log.{n}"))).unwrap();
    });
    wait_for_lines(&sb.out(), expected.len(), &agent);
    scan_marker(
        &sb.path("logs/app.log.marker"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn copytruncate_rotation_while_writing_loses_and_repeats_nothing() {
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    std::fs::write(&log, "").unwrap();
    let cfg = sb.config(&input(&sb.path("logs/app.log*").display().to_string(), ""));
    let agent = Agent::start(&cfg);
    let mut expected = write_with_rotation(&log, 24_000, 6_000, |p, n| {
        // Rotate while the input reads the live file.
        if n == 0 {
            wait_for_generations(&agent, p, 1);
        }
        // What logrotate's copytruncate does: copy, then truncate the live file in place.
        std::fs::copy(p, p.with_extension(format!("log.{n}"))).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(0)
            .unwrap();
    });
    wait_for_lines(&sb.out(), expected.len(), &agent);
    scan_marker(
        &sb.path("logs/app.log.marker"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn copytruncate_of_a_slow_writer_first_seen_short_ships_each_line_once() {
    // A live file first seen while shorter than the fingerprint, growing slowly while it is held open:
    // its copy must still be recognised as the same file, never read again from the start.
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    std::fs::write(&log, "").unwrap();
    let cfg = sb.config(&input(&sb.path("logs/app.log*").display().to_string(), ""));
    let agent = Agent::start(&cfg);
    let mut expected = Vec::new();
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for i in 0..180 {
        let line = format!("2026-11-24 10:00:00 INFO slow writer line {i:04}");
        writeln!(f, "{line}").unwrap();
        expected.push(line);
        // About five lines a second: the pace of a quiet service.
        std::thread::sleep(Duration::from_millis(200));
        if i % 60 == 59 {
            std::fs::copy(&log, log.with_extension(format!("log.{}", i / 60))).unwrap();
            f.set_len(0).unwrap();
        }
    }
    drop(f);
    wait_for_lines(&sb.out(), expected.len(), &agent);
    scan_marker(
        &sb.path("logs/app.log.marker"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

/// The number of entries in the registry of input `app`.
fn registry_entries(sb: &Sandbox) -> usize {
    std::fs::read(sb.path("data/registry/app.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["state"]["entries"].as_array().map(Vec::len))
        .unwrap_or(usize::MAX)
}

#[cfg(unix)]
#[test]
fn two_thousand_files_under_a_256_descriptor_limit_ship_completely() {
    // Far more files than descriptors: the input holds at most its share open, reads each to its end,
    // closes it for the next, and keeps descriptors for the output and the registry.
    let sb = Sandbox::new();
    let mut expected = Vec::new();
    for f in 0..2000 {
        let lines: Vec<String> = (0..5)
            .map(|i| format!("2026-11-24T10:00:00Z INFO many files file={f:04} line={i}"))
            .collect();
        expected.extend(lines.iter().cloned());
        append_lines(&sb.path(&format!("logs/f{f:04}.log")), lines);
    }
    let cfg = sb.config(&input(&sb.path("logs/*.log").display().to_string(), ""));
    let agent = Agent::start_with_fd_limit(&cfg, 256);
    wait_for_lines(&sb.out(), expected.len(), &agent);
    // Lines appended to files that were read and closed are read too.
    let more = vec!["appended to the first file".to_string()];
    append_lines(&sb.path("logs/f0000.log"), more.clone());
    expected.extend(more);
    wait_for_lines(&sb.out(), expected.len(), &agent);
    scan_marker(
        &sb.path("logs/zz-marker.log"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    let log = agent.this_run_log();
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
    assert_eq!(
        log_lines_with(&log, &["Too many open files"]),
        0,
        "descriptors ran out:\n{log}"
    );
}

#[test]
fn entries_of_files_gone_for_clean_removed_leave_the_registry() {
    let sb = Sandbox::new();
    let mut expected = Vec::new();
    for f in 0..20 {
        let line = format!("short-lived file {f}");
        expected.push(line.clone());
        append_lines(&sb.path(&format!("logs/old{f:02}.log")), [line]);
    }
    let cfg = sb.config(&input(
        &sb.path("logs/*.log").display().to_string(),
        "    clean_removed: 1s\n",
    ));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), expected.len(), &agent);
    wait_for(&agent, "20 registry entries saved", || {
        registry_entries(&sb) == 20
    });
    for f in 0..20 {
        std::fs::remove_file(sb.path(&format!("logs/old{f:02}.log"))).unwrap();
    }
    let keep = "a file that stays".to_string();
    append_lines(&sb.path("logs/stays.log"), [keep.clone()]);
    expected.push(keep);
    wait_for_lines(&sb.out(), expected.len(), &agent);
    wait_for(
        &agent,
        "the registry shrinks to the file that stays",
        || registry_entries(&sb) == 1,
    );
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn kill_9_in_the_middle_then_restart_delivers_every_line_exactly_once() {
    let sb = Sandbox::new();
    let mut expected = Vec::new();
    for f in 0..4 {
        let lines: Vec<String> = (0..25_000)
            .map(|i| format!("kill test file={f} line={i:05} {}", "x".repeat(60)))
            .collect();
        expected.extend(lines.iter().cloned());
        append_lines(&sb.path(&format!("logs/k{f}.log")), lines);
    }
    let cfg = sb.config(&input(&sb.path("logs/*.log").display().to_string(), ""));
    for round in 1..=3 {
        let agent = Agent::start(&cfg);
        wait_for_lines(&sb.out(), expected.len() * round / 4, &agent);
        agent.kill9();
    }
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), expected.len(), &agent);
    scan_marker(
        &sb.path("logs/zz-marker.log"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn multiline_java_stack_traces_become_one_event_each() {
    let sb = Sandbox::new();
    let log = sb.path("logs/java.log");
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        let head = format!(
            "2026-11-24 10:00:{:02},123 ERROR [main] request {i} failed",
            i % 60
        );
        let trace = [
            "java.lang.IllegalStateException: boom".to_string(),
            "\tat com.example.Service.handle(Service.java:42)".to_string(),
            "\tat com.example.Server.run(Server.java:7)".to_string(),
            "Caused by: java.io.IOException: broken pipe".to_string(),
            "\t... 3 more".to_string(),
        ];
        lines.push(head.clone());
        if i % 2 == 0 {
            lines.extend(trace.iter().cloned());
            expected.push(format!("{head}\n{}", trace.join("\n")));
        } else {
            expected.push(head);
        }
    }
    lines.push("2026-11-24 10:01:00,000 INFO [main] last line".into());
    append_lines(&log, lines);
    let cfg = sb.config(&input(
        &log.display().to_string(),
        "    multiline:\n      pattern: '^\\d{4}-\\d{2}-\\d{2} '\n      negate: true\n      match: after\n      timeout: 1s\n",
    ));
    expected.push("2026-11-24 10:01:00,000 INFO [main] last line".into());
    let agent = Agent::start(&cfg);
    // The last event is sent by the flush timeout.
    wait_for_lines(&sb.out(), expected.len(), &agent);
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn json_lines_are_decoded_and_malformed_ones_kept_with_an_error() {
    let sb = Sandbox::new();
    let log = sb.path("logs/svc.json");
    let mut lines = Vec::new();
    for i in 0..100 {
        lines.push(format!(
            r#"{{"timestamp":"2026-11-24T10:00:00Z","level":"INFO","service":"user-auth","event":"login_success","user_id":{i},"msg":"ok {i}"}}"#
        ));
    }
    lines.insert(10, r#"{"level":"INFO","service":"user-au"#.to_string());
    lines.insert(20, "not json at all".to_string());
    lines.insert(30, "[1,2,3]".to_string());
    append_lines(&log, lines);
    let cfg = sb.config(&input(
        &log.display().to_string(),
        "    json: {keys_under_root: true, add_error_key: true, message_key: msg}\n",
    ));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 103, &agent);
    assert_eq!(agent.stop(), 0);
    let events = read_events(&sb.out());
    assert_eq!(events.len(), 103);
    let good: Vec<_> = events.iter().filter(|e| e.get("error").is_none()).collect();
    assert_eq!(good.len(), 100);
    assert_eq!(good[5]["service"], "user-auth");
    assert_eq!(good[5]["user_id"], 5);
    assert_eq!(good[5]["message"], "ok 5");
    let bad: Vec<_> = events.iter().filter(|e| e.get("error").is_some()).collect();
    assert_eq!(bad.len(), 3);
    assert_eq!(bad[0]["message"], r#"{"level":"INFO","service":"user-au"#);
    assert!(
        bad[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert!(
        bad[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an object")
    );
    assert!(bad.iter().all(|e| {
        e["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "_jsonparsefailure")
    }));
}

#[test]
fn a_fifty_megabyte_line_is_truncated_and_tagged_and_reading_goes_on() {
    let sb = Sandbox::new();
    let log = sb.path("logs/huge.log");
    {
        let mut f = std::fs::File::create(&log).unwrap();
        writeln!(f, "before").unwrap();
        let chunk = vec![b'y'; 1 << 20];
        for _ in 0..50 {
            f.write_all(&chunk).unwrap();
        }
        writeln!(f).unwrap();
        writeln!(f, "after").unwrap();
    }
    let cfg = sb.config(&input(
        &log.display().to_string(),
        "    max_line_bytes: 64KiB\n",
    ));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 3, &agent);
    assert_eq!(agent.stop(), 0);
    let events = read_events(&sb.out());
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["message"], "before");
    assert_eq!(events[1]["message"].as_str().unwrap().len(), 64 * 1024);
    assert!(
        events[1]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "truncated")
    );
    assert_eq!(events[1]["log"]["flags"], serde_json::json!(["truncated"]));
    assert_eq!(events[2]["message"], "after");
    assert_eq!(events[2]["log"]["offset"], 7 + 50 * (1 << 20) + 1);
}

#[test]
fn invalid_utf8_and_binary_garbage_are_replaced_tagged_and_counted() {
    let sb = Sandbox::new();
    let log = sb.path("logs/garbage.log");
    let mut content = Vec::new();
    content.extend_from_slice(b"clean line\n");
    content.extend_from_slice(b"latin1 caf\xe9 au lait\n");
    let mut garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    garbage.retain(|&b| b != b'\n');
    content.extend_from_slice(&garbage);
    content.extend_from_slice(b"\n\0\0\0nul bytes\n");
    content.extend_from_slice("ok \u{1F600} emoji\n".as_bytes());
    std::fs::write(&log, &content).unwrap();
    let cfg = sb.config(&input(&log.display().to_string(), ""));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 5, &agent);
    assert_eq!(agent.stop(), 0);
    let events = read_events(&sb.out());
    assert_eq!(events.len(), 5);
    let tagged = |e: &serde_json::Value| {
        e["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "invalid_utf8"))
    };
    assert!(!tagged(&events[0]));
    assert_eq!(events[1]["message"], "latin1 caf\u{fffd} au lait");
    assert!(tagged(&events[1]) && tagged(&events[2]));
    assert_eq!(events[3]["message"], "\0\0\0nul bytes");
    assert_eq!(events[4]["message"], "ok \u{1F600} emoji");
}

#[test]
fn gzip_rotated_copies_of_read_files_are_skipped_and_new_ones_read_once() {
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    let first: Vec<String> = (0..300)
        .map(|i| format!("plain line {i} {}", "p".repeat(40)))
        .collect();
    append_lines(&log, first.clone());
    let cfg = sb.config(&input(&sb.path("logs/app.log*").display().to_string(), ""));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 300, &agent);
    // Rotate and compress the file that was already read, as logrotate's `compress` does.
    let gz = |src: &[u8], dst: &std::path::Path| {
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(dst).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(src).unwrap();
        enc.finish().unwrap();
    };
    let bytes = std::fs::read(&log).unwrap();
    gz(&bytes, &sb.path("logs/app.log.1.gz"));
    std::fs::remove_file(&log).unwrap();
    // An archive never seen before is read once, completely (its last line has no newline).
    let archived: Vec<String> = (0..200)
        .map(|i| format!("archived line {i} {}", "a".repeat(40)))
        .collect();
    gz(
        archived.join("\n").as_bytes(),
        &sb.path("logs/app.log.2.gz"),
    );
    let mut expected: Vec<String> = first.into_iter().chain(archived).collect();
    wait_for_lines(&sb.out(), expected.len(), &agent);
    scan_marker(
        &sb.path("logs/app.log.marker1"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    assert_eq!(agent.stop(), 0);
    // A restart does not read the archives again.
    let agent = Agent::start(&cfg);
    scan_marker(
        &sb.path("logs/app.log.marker2"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn start_position_end_skips_existing_lines_of_files_seen_at_startup() {
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    append_lines(&log, (0..100).map(|i| format!("old {i}")));
    let cfg = sb.config(&input(
        &log.display().to_string(),
        "    start_position: end\n",
    ));
    let size = std::fs::metadata(&log).unwrap().len();
    let agent = Agent::start(&cfg);
    // The first scan found the file and starts reading it at its end.
    let at_end = format!("path={} offset={size}", log.display());
    wait_for_log_lines(&agent, &["reading file", &at_end], 1);
    append_lines(&log, (0..10).map(|i| format!("new {i}")));
    wait_for_lines(&sb.out(), 10, &agent);
    let run_log = agent.this_run_log();
    assert_eq!(agent.stop(), 0);
    let expected: Vec<String> = (0..10).map(|i| format!("new {i}")).collect();
    assert_exactly_once(&messages(&sb.out()), &expected);
    // That was the only time the file was opened: nothing else can have read its old lines.
    assert_eq!(log_lines_with(&run_log, &["reading file"]), 1, "{run_log}");
}

#[test]
fn excluded_files_are_not_read_and_new_files_are_discovered_while_running() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("logs/a/b")).unwrap();
    append_lines(&sb.path("logs/a/one.log"), vec!["one".to_string()]);
    append_lines(
        &sb.path("logs/a/skip.debug.log"),
        vec!["skipped".to_string()],
    );
    let cfg = sb.config(&format!(
        "  - type: file\n    id: deep\n    paths: [\"{}\"]\n    exclude: [\"*.debug.log\"]\n    scan_frequency: 200ms\n",
        sb.path("logs/**/*.log").display()
    ));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 1, &agent);
    append_lines(&sb.path("logs/a/b/two.log"), vec!["two".to_string()]);
    wait_for_lines(&sb.out(), 2, &agent);
    let mut expected = vec!["one".to_string(), "two".to_string()];
    scan_marker(
        &sb.path("logs/zz-marker.log"),
        &sb.out(),
        &mut expected,
        &agent,
    );
    assert_eq!(agent.stop(), 0);
    assert_exactly_once(&messages(&sb.out()), &expected);
}

#[test]
fn a_second_stop_request_exits_at_once_without_moving_checkpoints_past_undelivered_lines() {
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    append_lines(
        &log,
        (0..20_000).map(|i| format!("line {i} {}", "z".repeat(100))),
    );
    // The output file is a FIFO nobody reads: the output blocks once the pipe buffer is full, as a hung
    // disk or server would.
    let fifo = sb.out().join("events.ndjson");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let cfg = sb.config(&input(&log.display().to_string(), ""));
    let agent = Agent::start(&cfg);
    // The input reads the file (its batches then wait on the blocked output).
    wait_for_log(&agent, "reading file");
    let pid = agent.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    wait_for_log(&agent, "stop requested");
    let started = std::time::Instant::now();
    let code = agent.stop();
    assert_eq!(code, 130, "a second SIGTERM must exit with 130; log:\n");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the second stop took {:?}",
        started.elapsed()
    );
    // Nothing reached the output for good, so no offset may have moved past the first line.
    let registry = std::fs::read(sb.path("data/registry/app.json")).unwrap_or_default();
    if !registry.is_empty() {
        let registry: serde_json::Value = serde_json::from_slice(&registry).unwrap();
        for e in registry["state"]["entries"].as_array().unwrap() {
            assert_eq!(
                e["offset"], 0,
                "offset moved although the output never finished a batch: {e}"
            );
        }
    }
}

/// Ids that differ only in characters a file name cannot hold (`web.app`, `web_app`) once shared one
/// registry file: the inputs overwrote each other's offsets and a restart read one input's file again.
/// The console output shows every event it gets (the file output would hide the repeats: it skips what
/// it already wrote).
#[test]
fn inputs_with_similar_ids_keep_their_own_checkpoints() {
    let sb = Sandbox::new();
    let (a, b) = (sb.path("logs/a.log"), sb.path("logs/b.log"));
    let mut expected = Vec::new();
    for (path, name) in [(&a, "a"), (&b, "b")] {
        let lines: Vec<String> = (0..2_000).map(|i| format!("{name} line {i}")).collect();
        expected.extend(lines.iter().cloned());
        append_lines(path, lines);
    }
    let inputs = format!(
        "{}{}",
        file_input(
            "web.app",
            &sb.path("logs/a*.log"),
            "    scan_frequency: 200ms\n"
        ),
        file_input(
            "web_app",
            &sb.path("logs/b*.log"),
            "    scan_frequency: 200ms\n"
        )
    );
    let cfg = sb.write_config("", &inputs, "  - type: console\n");
    // Runs the agent until its console output holds `expected` plus a marker line from each input (a
    // file wrongly taken for new is read by then: see `scan_marker`); returns the messages it printed.
    let run = |out: &str, expected: &mut Vec<String>, markers: [&str; 2]| {
        let out = sb.path(out);
        let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_logward"))
            .args(["run", "-c"])
            .arg(&cfg)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let count = || std::fs::read_to_string(&out).map_or(0, |t| t.lines().count());
        assert!(
            wait_until(WAIT, || count() >= expected.len()),
            "only {} lines",
            count()
        );
        for m in markers {
            let line = format!("marker {m}");
            append_lines(&sb.path(m), [line.clone()]);
            expected.push(line);
        }
        assert!(
            wait_until(WAIT, || count() >= expected.len()),
            "only {} lines",
            count()
        );
        let pid = agent.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert_eq!(agent.wait().unwrap().code(), Some(0));
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| {
                let e: serde_json::Value = serde_json::from_str(l).unwrap();
                e["message"].as_str().unwrap().to_string()
            })
            .collect::<Vec<String>>()
    };
    let got = run(
        "first.ndjson",
        &mut expected,
        ["logs/a-1.log", "logs/b-1.log"],
    );
    assert_exactly_once(&got, &expected);

    // After a restart each input goes on from its own offsets: only the new lines arrive.
    let mut more = Vec::new();
    for (path, name) in [(&a, "a"), (&b, "b")] {
        let lines: Vec<String> = (0..10)
            .map(|i| format!("{name} after restart {i}"))
            .collect();
        more.extend(lines.iter().cloned());
        append_lines(path, lines);
    }
    let got = run("second.ndjson", &mut more, ["logs/a-2.log", "logs/b-2.log"]);
    assert_exactly_once(&got, &more);
}
