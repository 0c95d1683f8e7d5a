//! End-to-end tests of the disk queue on the real binary: kill -9 loops, torn and damaged segments, a full
//! queue behind a stalled output, a full disk, and the `queue` subcommands.

mod common;

use common::fault_bulk_endpoint::{FaultInjectingBulkEndpoint, Faults};
use common::{Agent, Sandbox, append_lines, messages, wait_until};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn write_config(sb: &Sandbox, queue: &str, outputs: &str) -> PathBuf {
    let text = format!(
        "data_dir: {data}\nprogress_interval: 0s\nshutdown_timeout: 3s\nqueue: {queue}\ninputs:\n  - type: file\n    id: app\n    paths: [{logs}/*.log]\noutputs:\n{outputs}",
        data = sb.path("data").display(),
        logs = sb.path("logs").display(),
    );
    let path = sb.path("logward.yml");
    std::fs::write(&path, text).unwrap();
    path
}

fn file_output(sb: &Sandbox) -> String {
    format!(
        "  - type: file\n    id: sink\n    path: {}\n    filename: events.ndjson\n    rotate_every: 8MiB\n    keep_files: 1000\n",
        sb.out().display()
    )
}

fn es_output(ep: &FaultInjectingBulkEndpoint) -> String {
    format!(
        "  - type: elasticsearch\n    id: es\n    hosts: [\"{}\"]\n    flush_interval: 100ms\n    backoff: {{ init: 50ms, max: 300ms }}\n",
        ep.url
    )
}

fn logward(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(args)
        .output()
        .expect("run logward");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
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
        &file_output(&sb),
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
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 600));
        agent.kill9();
        kills += 1;
    }
    assert!(kills >= 10, "{kills} kills");
    let agent = Agent::start(&cfg);
    let done = wait_until(Duration::from_secs(120), || {
        common::count_lines(&sb.out()) >= total
    });
    let log = agent.log();
    assert!(
        done,
        "only {} of {total} lines; log:\n{log}",
        common::count_lines(&sb.out())
    );
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
    let (code, out) = logward(&["queue", "verify", "-c", cfg.to_str().unwrap()]);
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
    let cfg = write_config(sb, "{ type: disk, batch_events: 100 }", &es_output(&ep));
    let agent = Agent::start(&cfg);
    let registry = sb.path("data/registry/app.json");
    let size = std::fs::metadata(sb.path("logs/app.log")).unwrap().len();
    // The input's checkpoint moves as soon as the events are fsynced, although nothing was shipped.
    assert!(
        wait_until(Duration::from_secs(30), || std::fs::read_to_string(
            &registry
        )
        .is_ok_and(|r| r.contains(&format!("\"offset\": {size}")))),
        "the registry did not reach {size}; log:\n{}",
        agent.log()
    );
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
    let (code, out) = logward(&["queue", "verify", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("damaged") && out.contains("torn record"),
        "{out}"
    );
    let (code, out) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "damage is a warning for check: {out}");
    assert!(out.contains("queue damage"), "{out}");

    // The stalled cluster answers again: everything but the damaged record arrives, once.
    ep.set_status_for_all(None);
    let agent = Agent::start(&cfg);
    assert!(wait_until(Duration::from_secs(30), || ep.unique_docs() >= 2900));
    std::thread::sleep(Duration::from_secs(1));
    let log = agent.log();
    assert_eq!(agent.stop(), 0);
    let n = ep.unique_docs();
    assert!((2900..3000).contains(&n), "{n} documents; log:\n{log}");
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
    assert_eq!(logward(&["queue", "verify", "-c", cfg_s]).0, 1);
    let (code, out) = logward(&["queue", "inspect", "-c", cfg_s]);
    assert_eq!(code, 0);
    assert!(
        out.contains("DAMAGED") && out.contains("output `es`"),
        "{out}"
    );
    // Not while an agent holds the queue.
    let agent = Agent::start(&cfg);
    // The log file also has the first run's lines: wait for this run's.
    assert!(wait_until(Duration::from_secs(10), || agent
        .log()
        .matches("disk queue opened")
        .count()
        >= 2));
    let (code, out) = logward(&["queue", "repair", "-c", cfg_s]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("in use by another logward process"), "{out}");
    agent.stop();
    let (code, out) = logward(&["queue", "repair", "-c", cfg_s]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("quarantine"), "{out}");
    let (code, out) = logward(&["queue", "verify", "-c", cfg_s]);
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
    let outputs = format!("{}{}", file_output(&sb), es_output(&ep));
    let cfg = write_config(
        &sb,
        "{ type: disk, max_size: 1MiB, batch_events: 200 }",
        &outputs,
    );
    let agent = Agent::start(&cfg);
    assert!(
        wait_until(Duration::from_secs(30), || agent
            .log()
            .contains("the disk queue is full")),
        "{}",
        agent.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    let written = common::count_lines(&sb.out());
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
    assert!(
        wait_until(Duration::from_secs(60), || ep.unique_docs() >= total
            && common::count_lines(&sb.out()) >= total),
        "es {} file {}; log:\n{}",
        ep.unique_docs(),
        common::count_lines(&sb.out()),
        agent.log()
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
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        println!(
            "SKIPPED: cannot mount a 2 MiB tmpfs here (needs root); the full-disk path is not exercised"
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
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
    let cfg = write_config(&sb, &queue, &es_output(&ep));
    let agent = Agent::start(&cfg);
    assert!(
        wait_until(Duration::from_secs(30), || agent
            .log()
            .contains("the disk is full")),
        "{}",
        agent.log()
    );
    ep.set_status_for_all(None);
    assert!(
        wait_until(Duration::from_secs(60), || ep.unique_docs() >= total),
        "{} of {total}; log:\n{}",
        ep.unique_docs(),
        agent.log()
    );
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
        &file_output(&sb),
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
    let cfg = write_config(&sb, "{ type: disk, batch_events: 100 }", &file_output(&sb));
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
            .contains("saving the queue cursor of output `sink` works again")),
        "{}",
        agent.log()
    );
    assert!(sb.path("data/queue/cursors/sink.json").exists());
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
        let cfg = write_config(&sb, "{ type: disk, batch_events: 100 }", &file_output(&sb));
        let agent = Agent::start(&cfg);
        assert!(
            wait_until(Duration::from_secs(30), || common::count_lines(&sb.out())
                >= 1000),
            "{}",
            agent.log()
        );
        assert_eq!(agent.stop(), 0);
        let cursor = sb.path("data/queue/cursors/sink.json");
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
            log.matches("the queue cursor of output `sink` is damaged")
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
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it) at `dir`; needs root, as CI runs.
    fn mount(dir: PathBuf, size: &str) -> SmallVolume {
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "cannot mount a {size} tmpfs at {} ({status:?}): this test needs root",
            dir.display()
        );
        SmallVolume(dir)
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
    let volume = SmallVolume::mount(sb.path("small-fs"), "4m");
    let total = 40_000;
    append_lines(
        &sb.path("logs/app.log"),
        (0..total).map(|i| format!("small volume line {i:05} {}", "v".repeat(60))),
    );
    let queue = format!(
        "{{ type: disk, path: {}, batch_events: 200 }}",
        volume.0.join("q").display()
    );
    let cfg = write_config(&sb, &queue, &file_output(&sb));
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
