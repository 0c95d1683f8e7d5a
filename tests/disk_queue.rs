//! End-to-end tests of the disk queue on the real binary: kill -9 loops, torn and damaged segments, a full
//! queue behind a stalled output, a full disk, and the `queue` subcommands.

mod common;

use common::fault_bulk_endpoint::{FaultInjectingBulkEndpoint, Faults};
use common::{
    Agent, Sandbox, append_lines, count_lines, es_output, file_input, logward, messages, require,
    wait_for, wait_for_log, wait_until,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `logward.yml` with the file input `app` on `logs/*.log`, the given disk queue and outputs.
fn write_config(sb: &Sandbox, queue: &str, outputs: &str) -> PathBuf {
    sb.write_config(
        &format!("shutdown_timeout: 3s\nqueue: {queue}\n"),
        &file_input("app", &sb.path("logs/*.log"), ""),
        outputs,
    )
}

/// The Elasticsearch output `es` to the fault-injecting endpoint, flushing and retrying quickly.
fn es(ep: &FaultInjectingBulkEndpoint) -> String {
    es_output(
        &[&ep.url],
        "    id: es\n    flush_interval: 100ms\n    backoff: { init: 50ms, max: 300ms }\n",
    )
}

/// `logward <args>` with stdout and stderr together.
fn logward_all(args: &[&str]) -> (i32, String) {
    let (code, out, err) = logward(args);
    (code, format!("{out}{err}"))
}

/// The number after `key` on the first log line containing `line`.
fn logged_number(log: &str, line: &str, key: &str) -> usize {
    log.lines()
        .find(|l| l.contains(line))
        .and_then(|l| l.split_once(key))
        .and_then(|(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no `{key}N` on a line with {line:?} in:\n{log}"))
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "seg"));
    v.sort();
    v
}

#[test]
fn kill9_again_and_again_loses_nothing() {
    let sb = Sandbox::new();
    let cfg = write_config(
        &sb,
        "{ type: disk, max_size: 32MiB, batch_events: 500 }",
        &sb.file_output(),
    );
    let total = 200_000;
    let chunks = 20;
    let per = total / chunks;
    let expected: Vec<String> = (0..total)
        .map(|i| format!("crash-loop line {i:06}"))
        .collect();
    let mut kills = 0;
    let mut rng = 0x2545F4914F6CDD1Du64;
    for c in 0..chunks {
        append_lines(
            &sb.path("logs/app.log"),
            expected[c * per..(c + 1) * per].iter().cloned(),
        );
        if c % 3 == 2 {
            continue;
        }
        let agent = Agent::start(&cfg);
        // Every kill lands on a running pipeline: first the queue is open (recovery done) ...
        wait_for_log(&agent, "disk queue opened");
        // ... then a pause of random length, on purpose: it is what spreads the crash points over
        // reading, queueing, writing and acknowledging. It waits for nothing.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 600));
        agent.kill9();
        kills += 1;
    }
    assert!(kills >= 10, "{kills} kills");
    let agent = Agent::start(&cfg);
    common::wait_for_lines(&sb.out(), total, &agent);
    assert_eq!(agent.stop(), 0);
    let got = messages(&sb.out());
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for m in &got {
        *counts.entry(m.as_str()).or_default() += 1;
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| !counts.contains_key(e.as_str()))
        .collect();
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    println!(
        "{kills} kill -9 runs; {} lines written for {total} input lines; missing {}; duplicates {duplicates}",
        got.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "missing {} lines, first: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(counts.len(), total);
    // The queue recovered cleanly every time and emptied at the end.
    let (code, out) = logward_all(&["queue", "verify", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}

/// Fills the queue behind a stalled Elasticsearch output and stops: the events stay on disk.
fn fill_queue_and_stop(sb: &Sandbox, lines: usize) -> (PathBuf, FaultInjectingBulkEndpoint) {
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        status_for_all: Some(503),
        ..Faults::default()
    });
    append_lines(
        &sb.path("logs/app.log"),
        (0..lines).map(|i| format!("queued line {i:05}")),
    );
    let cfg = write_config(sb, "{ type: disk, batch_events: 100 }", &es(&ep));
    let agent = Agent::start(&cfg);
    // The input's checkpoint moves as soon as the events are fsynced, although nothing was shipped.
    common::wait_for_registry_at_end(sb, "app", &sb.path("logs/app.log"), &agent);
    assert_eq!(ep.unique_docs(), 0);
    agent.stop();
    (cfg, ep)
}

#[test]
fn a_torn_tail_and_a_damaged_record_are_handled_at_start() {
    let sb = Sandbox::new();
    let (cfg, ep) = fill_queue_and_stop(&sb, 3000);
    let qdir = sb.path("data/queue");
    let segs = segments(&qdir);
    assert!(!segs.is_empty());
    let seg = &segs[0];
    let mut bytes = std::fs::read(seg).unwrap();
    // Damage a record in the middle, and leave a torn record at the end.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 40] {
        *b ^= 0x5A;
    }
    bytes.extend_from_slice(&[200, 1, 0, 0, 9, 9, 9, 9, 7, 0, 0, 0, 0, 0, 0, 0, b'{', b'"']);
    std::fs::write(seg, &bytes).unwrap();
    let (code, out) = logward_all(&["queue", "verify", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("damaged") && out.contains("torn record"),
        "{out}"
    );
    let (code, out) = logward_all(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "damage is a warning for check: {out}");
    assert!(out.contains("queue damage"), "{out}");

    // The stalled cluster answers again: everything but the damaged record arrives, once.
    ep.set_status_for_all(None);
    let agent = Agent::start(&cfg);
    // Recovery reports how many events the readable records hold: exactly those must arrive.
    wait_for_log(&agent, "disk queue opened");
    let pending = logged_number(
        &agent.this_run_log(),
        "disk queue opened",
        "pending_events=",
    );
    assert!((2900..3000).contains(&pending), "{pending} events pending");
    wait_for(&agent, format_args!("{pending} documents"), || {
        ep.unique_docs() >= pending
    });
    let log = agent.log();
    assert_eq!(agent.stop(), 0);
    let n = ep.unique_docs();
    assert_eq!(n, pending, "{n} documents; log:\n{log}");
    assert!(
        log.contains("a damaged stretch of the queue was skipped"),
        "{log}"
    );
    assert!(log.contains("cutting off a torn record"), "{log}");
    println!(
        "{n} of 3000 events delivered; the damaged record held {}",
        3000 - n
    );
}

#[test]
fn repair_quarantines_damage_and_refuses_a_live_queue() {
    let sb = Sandbox::new();
    let (cfg, _ep) = fill_queue_and_stop(&sb, 1000);
    let cfg_s = cfg.to_str().unwrap();
    let seg = segments(&sb.path("data/queue"))[0].clone();
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0xFF;
    std::fs::write(&seg, &bytes).unwrap();
    assert_eq!(logward_all(&["queue", "verify", "-c", cfg_s]).0, 1);
    let (code, out) = logward_all(&["queue", "inspect", "-c", cfg_s]);
    assert_eq!(code, 0);
    assert!(
        out.contains("DAMAGED") && out.contains("output `es`"),
        "{out}"
    );
    // Not while an agent holds the queue.
    let agent = Agent::start(&cfg);
    wait_for_log(&agent, "disk queue opened");
    let (code, out) = logward_all(&["queue", "repair", "-c", cfg_s]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("in use by another logward process"), "{out}");
    agent.stop();
    let (code, out) = logward_all(&["queue", "repair", "-c", cfg_s]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("quarantine"), "{out}");
    let (code, out) = logward_all(&["queue", "verify", "-c", cfg_s]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_dir(sb.path("data/queue/quarantine"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn a_full_queue_pauses_inputs_and_a_stalled_output_does_not_stop_the_others() {
    let sb = Sandbox::new();
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        status_for_all: Some(503),
        ..Faults::default()
    });
    let total = 40_000;
    append_lines(
        &sb.path("logs/app.log"),
        (0..total).map(|i| format!("pressure line {i:05} {}", "x".repeat(40))),
    );
    let outputs = format!("{}{}", sb.file_output(), es(&ep));
    let cfg = write_config(
        &sb,
        "{ type: disk, max_size: 1MiB, batch_events: 200 }",
        &outputs,
    );
    let agent = Agent::start(&cfg);
    wait_for_log(&agent, "the disk queue is full");
    // The healthy output goes on with what the queue holds.
    wait_for(&agent, "the first lines at the file output", || {
        count_lines(&sb.out()) > 0
    });
    let written = count_lines(&sb.out());
    assert!(
        written > 0 && written < total,
        "the healthy output got {written} lines"
    );
    let queued: u64 = segments(&sb.path("data/queue"))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(
        queued <= 1024 * 1024 + 300 * 1024,
        "the queue holds {queued} bytes"
    );
    // The stalled output recovers: everything arrives at both outputs.
    ep.set_status_for_all(None);
    wait_for(
        &agent,
        format_args!("{total} events at both outputs"),
        || ep.unique_docs() >= total && count_lines(&sb.out()) >= total,
    );
    assert!(agent.log().contains("has room again"));
    assert_eq!(agent.stop(), 0);
    assert_eq!(messages(&sb.out()).len(), total);
    // Every segment was acknowledged by both outputs and deleted (only the one being written may stay).
    assert!(segments(&sb.path("data/queue")).len() <= 1);
}

#[test]
fn a_full_disk_behaves_like_a_full_queue() {
    let sb = Sandbox::new();
    let mnt = sb.path("small-fs");
    std::fs::create_dir_all(&mnt).unwrap();
    let Some(_volume) = SmallVolume::mount(mnt.clone(), "2m", "to fill a disk") else {
        return;
    };
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        status_for_all: Some(503),
        ..Faults::default()
    });
    let total = 30_000;
    append_lines(
        &sb.path("logs/app.log"),
        (0..total).map(|i| format!("disk full line {i:05} {}", "y".repeat(60))),
    );
    let queue = format!(
        "{{ type: disk, path: {}, max_size: 1GiB, segment_size: 256KiB, batch_events: 200 }}",
        mnt.join("q").display()
    );
    let cfg = write_config(&sb, &queue, &es(&ep));
    let agent = Agent::start(&cfg);
    wait_for_log(&agent, "the disk is full");
    ep.set_status_for_all(None);
    wait_for(&agent, format_args!("{total} documents"), || {
        ep.unique_docs() >= total
    });
    assert!(
        agent.log().contains("writing the queue works again"),
        "{}",
        agent.log()
    );
    assert_eq!(agent.stop(), 0);
    assert_eq!(ep.unique_docs(), total);
}

#[test]
fn a_queue_smaller_than_one_segment_keeps_moving() {
    // `segment_size` above `max_size`: the segment being written fills the queue by itself, so it must
    // be reclaimed once the output has acknowledged all of it, or the input would wait forever.
    let sb = Sandbox::new();
    let total = 40_000;
    append_lines(
        &sb.path("logs/app.log"),
        (0..total).map(|i| format!("tiny queue line {i:05} {}", "t".repeat(40))),
    );
    let cfg = write_config(
        &sb,
        "{ type: disk, max_size: 1MiB, segment_size: 8MiB, batch_events: 200 }",
        &sb.file_output(),
    );
    let agent = Agent::start(&cfg);
    assert!(
        wait_until(Duration::from_secs(120), || common::count_lines(&sb.out())
            >= total),
        "only {} of {total} lines shipped; log:\n{}",
        common::count_lines(&sb.out()),
        agent.log()
    );
    assert_eq!(agent.stop(), 0);
    assert_eq!(messages(&sb.out()).len(), total);
    let queued: u64 = segments(&sb.path("data/queue"))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(queued <= 1024 * 1024, "the queue holds {queued} bytes");
}

#[test]
fn a_cursor_that_cannot_be_saved_is_reported_once_and_when_it_works_again() {
    let sb = Sandbox::new();
    let total = 2000;
    append_lines(
        &sb.path("logs/app.log"),
        (0..total).map(|i| format!("cursor line {i:05}")),
    );
    let cfg = write_config(&sb, "{ type: disk, batch_events: 100 }", &sb.file_output());
    // A file where the cursor folder belongs: every save fails until it is gone (even for root).
    let blocker = sb.path("data/queue/cursors");
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, "not a folder").unwrap();
    let agent = Agent::start(&cfg);
    let failure = "cannot save the queue cursor";
    assert!(
        wait_until(Duration::from_secs(30), || common::count_lines(&sb.out())
            >= total
            && agent.log().contains(failure)),
        "{}",
        agent.log()
    );
    // The cursor is retried about five times a second; this is what must not reach the log. Nothing
    // to wait for but time here: the retries leave no other trace.
    std::thread::sleep(Duration::from_secs(2));
    let reported = agent.log().matches(failure).count();
    assert_eq!(reported, 1, "{}", agent.log());
    std::fs::remove_file(&blocker).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || agent
            .log()
            .contains("saving the queue cursor of output `file-0` works again")),
        "{}",
        agent.log()
    );
    assert!(sb.path("data/queue/cursors/file-0.json").exists());
    assert_eq!(agent.stop(), 0);
}

#[test]
fn a_damaged_cursor_file_is_reported_once_and_the_agent_goes_on() {
    for damage in [
        "{\"acked\": 18446744073709551615}",
        "{\"acked\": 99999999}",
        "garbage\n",
    ] {
        let sb = Sandbox::new();
        let log_file = sb.path("logs/app.log");
        append_lines(&log_file, (0..1000).map(|i| format!("first run {i:04}")));
        let cfg = write_config(&sb, "{ type: disk, batch_events: 100 }", &sb.file_output());
        let agent = Agent::start(&cfg);
        assert!(
            wait_until(Duration::from_secs(30), || common::count_lines(&sb.out())
                >= 1000),
            "{}",
            agent.log()
        );
        assert_eq!(agent.stop(), 0);
        let cursor = sb.path("data/queue/cursors/file-0.json");
        assert!(cursor.exists());
        std::fs::write(&cursor, damage).unwrap();

        append_lines(&log_file, (0..1000).map(|i| format!("second run {i:04}")));
        let agent = Agent::start(&cfg);
        let shipped = || {
            messages(&sb.out())
                .iter()
                .filter(|m| m.starts_with("second run"))
                .count()
        };
        assert!(
            wait_until(Duration::from_secs(30), || shipped() >= 1000),
            "cursor {damage:?}: {} of 1000 new lines shipped; log:\n{}",
            shipped(),
            agent.log()
        );
        let log = agent.log();
        assert_eq!(agent.stop(), 0, "cursor {damage:?}; log:\n{log}");
        assert_eq!(
            log.matches("the queue cursor of output `file-0` is damaged")
                .count(),
            1,
            "cursor {damage:?}; log:\n{log}"
        );
        assert!(log.contains(&cursor.display().to_string()), "{log}");
        assert!(!log.contains("panicked"), "{log}");
        let text = std::fs::read_to_string(&cursor).unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(&text)
                .is_ok_and(|v| v["acked"].as_u64().is_some_and(|n| n < 1 << 62)),
            "the cursor was not rewritten: {text}"
        );
    }
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallVolume(PathBuf);

impl SmallVolume {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it) at `dir`; it needs root, as CI has. When it
    /// cannot, the test fails unless `LOGWARD_SKIP` names `tmpfs` (then `None`: the test returns).
    fn mount(dir: PathBuf, size: &str, what_for: &str) -> Option<SmallVolume> {
        std::fs::create_dir_all(&dir).unwrap();
        let mount = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        let failure = match &mount {
            Ok(out) if out.status.success() => return Some(SmallVolume(dir)),
            Ok(out) => format!(
                "{}, {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Err(e) => e.to_string(),
        };
        let reason = format!(
            "cannot mount a {size} tmpfs on {} {what_for} ({failure}; it needs root)",
            dir.display()
        );
        assert!(!require("tmpfs", &reason), "{reason}");
        None
    }
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_volume_smaller_than_one_segment_keeps_moving() {
    // The default 64 MiB segment on a 4 MiB volume: the segment being written fills the disk by itself
    // and must be reclaimed once the output has acknowledged it.
    let sb = Sandbox::new();
    let Some(volume) = SmallVolume::mount(sb.path("small-fs"), "4m", "smaller than one segment")
    else {
        return;
    };
    let total = 40_000;
    append_lines(
        &sb.path("logs/app.log"),
        (0..total).map(|i| format!("small volume line {i:05} {}", "v".repeat(60))),
    );
    let queue = format!(
        "{{ type: disk, path: {}, batch_events: 200 }}",
        volume.0.join("q").display()
    );
    let cfg = write_config(&sb, &queue, &sb.file_output());
    let agent = Agent::start(&cfg);
    assert!(
        wait_until(Duration::from_secs(120), || common::count_lines(&sb.out())
            >= total),
        "only {} of {total} lines shipped; log:\n{}",
        common::count_lines(&sb.out()),
        agent.log()
    );
    assert_eq!(agent.stop(), 0);
    assert_eq!(messages(&sb.out()).len(), total);
}
