//! The `evtx` input on real Windows Event Log files (../shared/data/evtx), through the real binary; and the
//! live input's XML mapping on the same records.
#![cfg(feature = "evtx")]

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The real `.evtx` files; `None` (the test returns) only when they are missing and `LOGWARD_SKIP` names
/// `data`.
fn evtx_dir() -> Option<PathBuf> {
    shared_data("evtx")
}

/// A symbolic link `link` to the folder `target`.
fn link_dir(target: &Path, link: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, link).unwrap();
    #[cfg(windows)]
    std::os::windows::fs::symlink_dir(target, link).unwrap();
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
    // The input reads its files in the order of their paths. The archive is reached through a link in the
    // sandbox, so that a file of the sandbox can sort after every archive file (see the restart below).
    let archive = sb.path("logs/archive");
    link_dir(&dir, &archive);
    let marker = sb.path("logs/zz-marker.evtx");
    let cfg = sb.config(&format!(
        "  - type: evtx\n    id: archive\n    paths: [\"{}\", \"{}\"]\n    scan_frequency: 500ms\n    tags: [archive]\n",
        archive.display(),
        marker.display()
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
    wait_for_lines(&sb.out(), total, &agent);
    // Every file read to its end (and no more lines than that).
    wait_for_log_lines(&agent, &["read the event log file"], expected.len());
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

    // A restart reads nothing again. A file that is not an event log sorts after the archive: once the
    // input has reported it, the first pass of the restart has gone over every archive file before it,
    // and any record read again is in flight and delivered by the graceful stop.
    let before = count_lines(&sb.out());
    std::fs::write(&marker, vec![0x41u8; 200]).unwrap();
    let agent = Agent::start(&cfg);
    wait_for_log_lines(
        &agent,
        &["cannot read the event log file", "zz-marker.evtx"],
        1,
    );
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
    wait_for_lines(&sb.out(), 583, &agent);
    // Read to its end: nothing more is on its way.
    wait_for_log_lines(&agent, &["read the event log file", "security.evtx"], 1);
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
    wait_for_lines(&sb.out(), 7, &agent);
    // Files are taken in the order of their names: garbage, good, truncated. Wait for the last one.
    wait_for_log_lines(&agent, &["the event log file", "truncated.evtx"], 1);
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

/// Every record of real .evtx files: the live input's XML path and the evtx crate's JSON path give the same
/// ECS event (except `event.created`, the time of reading).
#[test]
fn xml_of_real_records_maps_like_the_evtx_input() {
    use logward::inputs::windows_event::ecs;
    use logward::inputs::winlog::xml::event_to_json;
    let Some(dir) = evtx_dir() else { return };
    let mut compared = 0;
    for file in [
        "security.evtx",
        "system.evtx",
        "sysmon.evtx",
        "new-user-security.evtx",
    ] {
        let path = dir.join(file);
        let mut xml_parser = evtx::EvtxParser::from_path(&path).unwrap();
        let mut json_parser = evtx::EvtxParser::from_path(&path).unwrap();
        let xmls: Vec<_> = xml_parser.records().filter_map(Result::ok).collect();
        let jsons: Vec<_> = json_parser
            .records_json_value()
            .filter_map(Result::ok)
            .collect();
        assert_eq!(xmls.len(), jsons.len());
        for (x, j) in xmls.iter().zip(&jsons) {
            let from_xml = event_to_json(&x.data)
                .unwrap_or_else(|e| panic!("{file} {}: {e}", x.event_record_id));
            let mut a = ecs::to_event(&from_xml, x.event_record_id, "h");
            let mut b = ecs::to_event(&j.data, j.event_record_id, "h");
            for e in [&mut a, &mut b] {
                if let Some(Value::Object(ev)) = e.fields_mut().get_mut("event") {
                    ev.remove("created");
                }
            }
            // The evtx crate's XML writer turns control characters (invalid in XML) into `_`.
            let a = normalize(Value::Object(a.into_fields()));
            let b = normalize(Value::Object(b.into_fields()));
            assert_eq!(a, b, "{file} record {}:\n{}", x.event_record_id, x.data);
            compared += 1;
        }
    }
    assert!(compared > 4000, "{compared}");
}

/// Control characters as the evtx crate's XML writer renders them.
fn normalize(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(
            s.chars()
                .map(|c| {
                    if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                        '_'
                    } else {
                        c
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        other => other,
    }
}
