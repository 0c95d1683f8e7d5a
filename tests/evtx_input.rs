//! The `evtx` input on real Windows Event Log files (../shared/data/evtx), through the real binary.
#![cfg(feature = "evtx")]

mod common;

use common::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

fn evtx_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/evtx");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is missing (the shared test data must sit beside the repository)",
            dir.display()
        );
        None
    }
}

/// Records the `evtx` crate's own record iterator reads from a file: an independent count.
fn crate_count(path: &std::path::Path) -> usize {
    let mut parser = evtx::EvtxParser::from_path(path).expect("open evtx");
    parser.records_json_value().filter(|r| r.is_ok()).count()
}

#[test]
fn every_file_is_read_with_winlogbeat_fields_damage_is_counted_and_a_restart_reads_nothing_again() {
    let Some(dir) = evtx_dir() else { return };
    let sb = Sandbox::new();
    let cfg = sb.config(&format!(
        "  - type: evtx\n    id: archive\n    paths: [\"{}\"]\n    scan_frequency: 500ms\n    tags: [archive]\n",
        dir.display()
    ));
    let mut expected: HashMap<String, usize> = HashMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "evtx") {
            expected.insert(
                p.file_name().unwrap().to_string_lossy().into_owned(),
                crate_count(&p),
            );
        }
    }
    let total: usize = expected.values().sum();
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), total, Duration::from_secs(120), &agent);
    std::thread::sleep(Duration::from_secs(1));
    let log = agent.log();
    assert_eq!(agent.stop(), 0);
    let events = read_events(&sb.out());
    let mut got: HashMap<String, usize> = HashMap::new();
    for e in &events {
        let path = e["log"]["file"]["path"].as_str().unwrap();
        *got.entry(path.rsplit('/').next().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(got, expected, "records per file");
    assert_eq!(expected["security.evtx"], 2261);
    assert_eq!(expected["system.evtx"], 1881);
    assert_eq!(expected["sample_with_a_bad_chunk_magic.evtx"], 301);

    // A known logon: record 128 of security.evtx.
    let logon = events
        .iter()
        .find(|e| {
            e["log"]["file"]["path"]
                .as_str()
                .unwrap()
                .ends_with("/security.evtx")
                && e["winlog"]["record_id"] == "128"
        })
        .expect("record 128");
    assert_eq!(logon["event"]["code"], "4624");
    assert_eq!(logon["winlog"]["event_id"], "4624");
    assert_eq!(logon["winlog"]["channel"], "Security");
    assert_eq!(
        logon["winlog"]["provider_name"],
        "Microsoft-Windows-Security-Auditing"
    );
    assert_eq!(logon["winlog"]["computer_name"], "WIN-03DLIIOFRRA");
    assert_eq!(logon["winlog"]["event_data"]["TargetUserName"], "fsir");
    assert_eq!(logon["winlog"]["event_data"]["LogonType"], "2");
    assert_eq!(logon["winlog"]["event_data"]["IpAddress"], "127.0.0.1");
    assert_eq!(logon["event"]["outcome"], "success");
    assert_eq!(logon["@timestamp"], "2016-07-08T18:15:51.672Z");
    assert_eq!(logon["log"]["level"], "information");
    assert!(
        logon["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "archive")
    );
    assert!(
        logon.get("message").is_none(),
        "no publisher metadata: no message"
    );
    let logons = events
        .iter()
        .filter(|e| {
            e["log"]["file"]["path"]
                .as_str()
                .unwrap()
                .ends_with("/security.evtx")
                && e["event"]["code"] == "4624"
        })
        .count();
    assert_eq!(logons, 583);

    // A Sysmon process creation.
    let sysmon = events
        .iter()
        .find(|e| {
            e["winlog"]["channel"] == "Microsoft-Windows-Sysmon/Operational"
                && e["winlog"]["record_id"] == "1742"
        })
        .expect("sysmon record 1742");
    assert_eq!(sysmon["event"]["code"], "1");
    assert_eq!(
        sysmon["winlog"]["event_data"]["Image"],
        "C:\\Windows\\SysWOW64\\PING.EXE"
    );
    assert_eq!(
        sysmon["winlog"]["event_data"]["CommandLine"],
        "ping  -n 6 127.0.0.1 "
    );

    // The damaged file was read to its end and its two bad chunks reported, not fatal.
    let bad_chunks = log
        .lines()
        .filter(|l| {
            l.contains("skipping a damaged chunk")
                && l.contains("sample_with_a_bad_chunk_magic.evtx")
        })
        .count();
    assert_eq!(bad_chunks, 2, "log:\n{log}");

    // A restart reads nothing again.
    let before = count_lines(&sb.out());
    let agent = Agent::start(&cfg);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(agent.stop(), 0);
    assert_eq!(count_lines(&sb.out()), before);
}

#[test]
fn event_id_and_level_filters_keep_only_what_is_asked() {
    let Some(dir) = evtx_dir() else { return };
    let sb = Sandbox::new();
    let cfg = sb.config(&format!(
        "  - type: evtx\n    id: logons\n    paths: [\"{}/security.evtx\"]\n    event_ids: [\"4624-4625\", \"-4625\"]\n    levels: [information]\n",
        dir.display()
    ));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 583, Duration::from_secs(60), &agent);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(agent.stop(), 0);
    let events = read_events(&sb.out());
    assert_eq!(events.len(), 583);
    assert!(events.iter().all(|e| e["event"]["code"] == "4624"));
}

#[test]
fn a_garbage_file_named_evtx_is_reported_and_the_input_goes_on() {
    let Some(dir) = evtx_dir() else { return };
    let sb = Sandbox::new();
    std::fs::write(sb.path("logs/garbage.evtx"), vec![0x41u8; 200_000]).unwrap();
    let mut truncated = std::fs::read(dir.join("new-user-security.evtx")).unwrap();
    truncated.truncate(4096 + 30_000);
    std::fs::write(sb.path("logs/truncated.evtx"), truncated).unwrap();
    std::fs::copy(
        dir.join("Security_short_selected.evtx"),
        sb.path("logs/good.evtx"),
    )
    .unwrap();
    let cfg = sb.config(&format!(
        "  - type: evtx\n    id: mixed\n    paths: [\"{}\"]\n",
        sb.path("logs").display()
    ));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 7, Duration::from_secs(60), &agent);
    std::thread::sleep(Duration::from_secs(1));
    let log = agent.log();
    assert_eq!(agent.stop(), 0);
    assert!(
        log.contains("garbage.evtx"),
        "the bad file is named in the log:\n{log}"
    );
    let events = read_events(&sb.out());
    assert!(
        events
            .iter()
            .filter(|e| e["log"]["file"]["path"]
                .as_str()
                .unwrap()
                .ends_with("good.evtx"))
            .count()
            == 7
    );
}
