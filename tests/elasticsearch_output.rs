//! End-to-end tests of the Elasticsearch output: the real binary ships files to real servers (noida-db as
//! Elasticsearch 8.15, osmem-server as OpenSearch 3.8) and the tests read back with `_count`/`_search`.
//! Retry rules are checked against the fault-injecting endpoint in `common/`, for faults no real server
//! produces on demand, and answers no real server gives against the misbehaving one.

mod common;

use common::es_servers::{Kind, Server};
use common::fault_bulk_endpoint::{FaultInjectingBulkEndpoint, Faults};
use common::misbehaving_bulk_endpoint::{MisbehavingBulkEndpoint, Misbehaviour};
use common::{
    Agent, Sandbox, append_lines, es_output, file_input, logward, wait_for, wait_for_log,
    wait_until,
};
use std::path::PathBuf;
use std::time::Duration;

/// `logward.yml`: the file input `app` on `logs/*.log` decoding JSON lines, one Elasticsearch output to
/// `hosts` writing daily `logs-*` indices unless `extra` sets `index`.
fn config(sb: &Sandbox, hosts: &[&str], extra: &str) -> PathBuf {
    let index = if extra.contains("index:") {
        ""
    } else {
        "    index: \"logs-%{+yyyy.MM.dd}\"\n"
    };
    let backoff = if extra.contains("backoff:") {
        ""
    } else {
        "    backoff: { init: 100ms, max: 1s }\n"
    };
    sb.write_config(
        "shutdown_timeout: 5s\n",
        &file_input(
            "app",
            &sb.path("logs/*.log"),
            "    json: { keys_under_root: true, overwrite_keys: true }\n",
        ),
        &es_output(
            hosts,
            &format!("{index}    flush_interval: 200ms\n{backoff}{extra}"),
        ),
    )
}

fn line(n: usize, day: usize) -> String {
    let level = if n.is_multiple_of(10) {
        "ERROR"
    } else {
        "INFO"
    };
    format!(
        r#"{{"@timestamp":"2026-11-{day:02}T10:{:02}:{:02}.000Z","level":"{level}","n":{n},"service":"billing","msg":"payment {n} processed"}}"#,
        (n / 60) % 60,
        n % 60
    )
}

#[test]
fn every_event_reaches_its_daily_index_with_the_fields_as_sent() {
    let Some(servers) = Server::both() else {
        return;
    };
    for server in servers {
        let sb = Sandbox::new();
        append_lines(
            &sb.path("logs/app.log"),
            (0..3000).map(|n| line(n, 22 + n % 3)),
        );
        let cfg = config(&sb, &[&server.url], "");
        let agent = Agent::start(&cfg);
        let got = server.wait_for_count("logs-*", 3000);
        assert_eq!(got, 3000, "{:?}: log:\n{}", server.kind, agent.log());
        for day in 22..25 {
            assert_eq!(
                server.count(&format!("logs-2026.11.{day}")),
                1000,
                "{:?} day {day}",
                server.kind
            );
        }
        let (_, hits) = server.request(
            "POST",
            "/logs-*/_search",
            r#"{"query":{"term":{"n":1234}}}"#,
        );
        let doc = &hits["hits"]["hits"][0]["_source"];
        assert_eq!(
            doc["msg"], "payment 1234 processed",
            "{:?}: {hits}",
            server.kind
        );
        assert_eq!(doc["level"], "INFO");
        assert_eq!(doc["service"], "billing");
        assert_eq!(doc["@timestamp"], "2026-11-23T10:20:34.000Z");
        assert!(
            doc["log"]["file"]["path"]
                .as_str()
                .unwrap()
                .ends_with("app.log")
        );
        assert_eq!(hits["hits"]["hits"][0]["_index"], "logs-2026.11.23");
        assert_eq!(agent.stop(), 0);
        // The clean stop saved the checkpoint at the end of the file: a restart reads on from there, so
        // a line appended now is all it sends.
        let size = std::fs::metadata(sb.path("logs/app.log")).unwrap().len();
        append_lines(&sb.path("logs/app.log"), [line(3000, 24)]);
        let agent = Agent::start(&cfg);
        let got = server.wait_for_count("logs-*", 3001);
        let log = agent.this_run_log();
        assert_eq!(agent.stop(), 0);
        assert_eq!(got, 3001, "{:?}: log:\n{log}", server.kind);
        let starts: Vec<&str> = log.lines().filter(|l| l.contains("reading file")).collect();
        assert!(
            starts.len() == 1 && starts[0].ends_with(&format!(" offset={size}")),
            "{:?}: the restart must read on from offset {size}, once:\n{log}",
            server.kind
        );
        assert_eq!(server.count("logs-*"), 3001, "{:?}", server.kind);
    }
}

#[test]
fn a_mapping_conflict_goes_to_the_dead_letter_file_and_the_rest_is_stored() {
    let Some(servers) = Server::both() else {
        return;
    };
    for server in servers {
        let sb = Sandbox::new();
        let mut lines: Vec<String> = (0..100)
            .map(|n| format!(r#"{{"code":{n},"msg":"ok {n}"}}"#))
            .collect();
        lines.push(r#"{"code":"not-a-number","msg":"bad"}"#.into());
        lines.extend((100..200).map(|n| format!(r#"{{"code":{n},"msg":"ok {n}"}}"#)));
        append_lines(&sb.path("logs/app.log"), lines);
        let cfg = config(&sb, &[&server.url], "    index: conflicts\n");
        let agent = Agent::start(&cfg);
        assert_eq!(
            server.wait_for_count("conflicts", 200),
            200,
            "{:?}: log:\n{}",
            server.kind,
            agent.log()
        );
        // The letter is written before the warning is logged: once the line is there, so is the file.
        wait_for_log(&agent, "event refused");
        let dl = sb.path("data/dead-letter/elasticsearch-0.ndjson");
        let text = std::fs::read_to_string(&dl)
            .unwrap_or_else(|_| panic!("no dead-letter file; log:\n{}", agent.log()));
        let letters: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(letters.len(), 1, "{text}");
        let l = &letters[0];
        assert_eq!(l["status"], 400);
        assert!(
            l["error"]["type"]
                .as_str()
                .unwrap()
                .ends_with("parsing_exception"),
            "{l}"
        );
        assert!(
            l["error"]["reason"].as_str().unwrap().contains("code"),
            "{l}"
        );
        assert_eq!(l["event"]["code"], "not-a-number");
        assert_eq!(l["index"], "conflicts");
        assert_eq!(agent.stop(), 0);
        assert_eq!(server.count("conflicts"), 200);
    }
}

/// kill -9 while shipping, then a rerun: exactly one document per line. The data is small (4,000 lines in
/// two parts) so the test takes the same few waits on a busy machine as on an idle one; the crash point is
/// wherever the agent is when 500 documents have arrived, and the second part is written only after it.
#[test]
fn a_rerun_after_kill9_produces_no_duplicate_documents() {
    let Some(servers) = Server::both() else {
        return;
    };
    for server in servers {
        let sb = Sandbox::new();
        append_lines(&sb.path("logs/app.log"), (0..2_000).map(|n| line(n, 24)));
        let cfg = config(&sb, &[&server.url], "    bulk_max_size: 100\n");
        let agent = Agent::start(&cfg);
        let partial = server.wait_for_count("logs-*", 500);
        let log = agent.log();
        agent.kill9();
        assert!(partial >= 500, "{:?}: log:\n{log}", server.kind);
        append_lines(
            &sb.path("logs/app.log"),
            (2_000..4_000).map(|n| line(n, 24)),
        );
        let agent = Agent::start(&cfg);
        assert_eq!(
            server.wait_for_count("logs-*", 4_000),
            4_000,
            "{:?}: log:\n{}",
            server.kind,
            agent.log()
        );
        assert_eq!(agent.stop(), 0);
        // Whatever was sent twice overwrote itself: exactly one document per line.
        assert_eq!(
            server.count("logs-*"),
            4_000,
            "{:?}: duplicates after kill -9",
            server.kind
        );
        let (_, agg) = server.request(
            "POST",
            "/logs-*/_search",
            r#"{"size":0,"aggs":{"distinct":{"cardinality":{"field":"n"}}}}"#,
        );
        if let Some(d) = agg["aggregations"]["distinct"]["value"].as_u64() {
            assert_eq!(d, 4_000, "{:?}", server.kind);
        }
        // A crash before the file's first registry save: the next run finds the file again as new and
        // sends everything again, under the same ids (they come from the file, not from the moment it
        // was found), so every document is overwritten, none added.
        std::fs::remove_dir_all(sb.path("data/registry")).unwrap();
        let agent = Agent::start(&cfg);
        common::wait_for_registry_at_end(&sb, "app", &sb.path("logs/app.log"), &agent);
        assert_eq!(agent.stop(), 0);
        assert_eq!(
            server.count("logs-*"),
            4_000,
            "{:?}: duplicates after a rerun without registry",
            server.kind
        );
    }
}

#[test]
fn setup_is_idempotent_and_search_pages_past_ten_thousand_hits() {
    let Some(servers) = Server::both() else {
        return;
    };
    for server in servers {
        let sb = Sandbox::new();
        let cfg = config(&sb, &[&server.url], "    bulk_max_size: 2000\n");
        let cfg_s = cfg.to_str().unwrap();
        let (code, out, err) = logward(&["setup", "-c", cfg_s]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("index template `logward` for [\"logs-*\"]: installed"),
            "{out}"
        );
        let (code, out, _) = logward(&["setup", "-c", cfg_s]);
        assert_eq!(code, 0);
        assert!(out.contains(": unchanged"), "{out}");
        let t = server.get("/_index_template/logward").expect("template");
        assert_eq!(
            t["index_templates"][0]["index_template"]["index_patterns"][0],
            "logs-*"
        );

        append_lines(&sb.path("logs/app.log"), (0..10_500).map(|n| line(n, 24)));
        let agent = Agent::start(&cfg);
        assert_eq!(
            server.wait_for_count("logs-*", 10_500),
            10_500,
            "{:?}: log:\n{}",
            server.kind,
            agent.log()
        );
        assert_eq!(agent.stop(), 0);
        // The template's mapping was applied to the new index.
        let m = server.get("/logs-2026.11.24/_mapping").expect("mapping");
        let props = &m["logs-2026.11.24"]["mappings"]["properties"];
        assert_eq!(
            props["service"]["type"], "keyword",
            "{:?}: {m}",
            server.kind
        );

        let (code, out, err) = logward(&["search", "-c", cfg_s, "--limit", "0", "--with-meta"]);
        assert_eq!(code, 0, "{err}");
        let ids: Vec<String> = out
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(
            (ids.len(), unique.len()),
            (10_500, 10_500),
            "{:?}: {err}",
            server.kind
        );
        assert!(err.contains("10500 of 10500 hits"), "{err}");

        let (code, out, _) = logward(&[
            "search",
            "-c",
            cfg_s,
            "level:ERROR AND n:[0 TO 99]",
            "--fields",
            "n,level",
            "--format",
            "table",
            "--sort",
            "n:desc",
        ]);
        assert_eq!(code, 0);
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(rows.len(), 11, "{out}");
        assert!(rows[1].starts_with("90 "), "{out}");
    }
}

fn fault_config(sb: &Sandbox, ep: &FaultInjectingBulkEndpoint, extra: &str) -> PathBuf {
    config(sb, &[&ep.url], extra)
}

#[test]
fn item_429s_request_503s_and_cut_connections_lose_and_duplicate_nothing() {
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        item_429_share: 0.1,
        request_503_every: Some(4),
        cut_after_store_every: Some(7),
        delay: Some(Duration::from_millis(5)),
        ..Faults::default()
    });
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..5000).map(|n| line(n, 24)));
    let cfg = fault_config(
        &sb,
        &ep,
        "    bulk_max_size: 200\n    workers: 3\n    timeout: 5s\n",
    );
    let agent = Agent::start(&cfg);
    wait_for(&agent, "5000 documents at the endpoint", || {
        ep.unique_docs() >= 5000
    });
    let log = agent.log();
    assert_eq!(ep.unique_docs(), 5000, "log:\n{log}");
    let seen = ep.seen.lock().unwrap();
    let mut ns: Vec<u64> = seen
        .docs
        .values()
        .map(|d| d["n"].as_u64().unwrap())
        .collect();
    ns.sort_unstable();
    ns.dedup();
    assert_eq!(ns.len(), 5000, "every line once");
    let resent = seen.stores.values().filter(|c| **c > 1).count();
    drop(seen);
    use std::sync::atomic::Ordering::SeqCst;
    println!(
        "requests {}, item 429s {}, request 503s {}, cut connections {}, documents stored more than once under the same id {resent}",
        ep.requests.load(SeqCst),
        ep.items_429.load(SeqCst),
        ep.requests_503.load(SeqCst),
        ep.cuts.load(SeqCst)
    );
    assert!(
        ep.items_429.load(SeqCst) > 0
            && ep.requests_503.load(SeqCst) > 0
            && ep.cuts.load(SeqCst) > 0
    );
    // Failures behind held documents are logged (at most once per 10 s).
    assert!(
        log.contains("sending failed for some events; they wait for their backoff"),
        "{log}"
    );
    assert_eq!(agent.stop(), 0);
}

/// Every id stored exactly once, and every line `0..lines` among the stored documents.
fn assert_each_line_stored_once(ep: &FaultInjectingBulkEndpoint, lines: u64, log: &str) {
    let seen = ep.seen.lock().unwrap();
    assert_eq!(seen.stores.len() as u64, lines, "log:\n{log}");
    let twice: Vec<_> = seen.stores.iter().filter(|(_, c)| **c != 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let mut ns: Vec<u64> = seen
        .docs
        .values()
        .map(|d| d["n"].as_u64().unwrap())
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..lines).collect::<Vec<_>>());
}

/// The pattern of a cluster hot on one shard: every 7th document turned away (429), every 5th request
/// refused whole (503). Turned-away documents wait for their own backoff while new batches keep
/// going and ride along later; each id is stored exactly once and the checkpoint reaches the end.
#[test]
fn every_7th_document_429_and_every_5th_request_503_store_each_id_exactly_once() {
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        item_429_every: Some(7),
        request_503_every: Some(5),
        ..Faults::default()
    });
    let sb = Sandbox::new();
    let log_file = sb.path("logs/app.log");
    append_lines(&log_file, (0..6000).map(|n| line(n, 24)));
    let cfg = fault_config(
        &sb,
        &ep,
        "    bulk_max_size: 200
",
    );
    let agent = Agent::start(&cfg);
    wait_for(&agent, "6000 documents at the endpoint", || {
        ep.unique_docs() >= 6000
    });
    common::wait_for_registry_at_end(&sb, "app", &log_file, &agent);
    let log = agent.log();
    assert_each_line_stored_once(&ep, 6000, &log);
    use std::sync::atomic::Ordering::SeqCst;
    assert!(ep.items_429.load(SeqCst) > 0 && ep.requests_503.load(SeqCst) > 0);
    // The only host answered 503s one at a time: it was never set aside for them.
    assert!(!log.contains("host set aside"), "{log}");
    assert_eq!(agent.stop(), 0);
}

/// The same faults, and a kill -9 while documents wait in the retry set: the rerun sends what was not
/// acknowledged again, under the same ids, so every line is one document.
#[test]
fn a_kill9_while_documents_wait_for_their_retry_loses_and_duplicates_nothing() {
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        item_429_every: Some(7),
        request_503_every: Some(5),
        ..Faults::default()
    });
    let sb = Sandbox::new();
    let log_file = sb.path("logs/app.log");
    append_lines(&log_file, (0..2000).map(|n| line(n, 24)));
    // A long backoff: documents turned away are still waiting when the agent is killed.
    let cfg = fault_config(
        &sb,
        &ep,
        "    bulk_max_size: 100
    backoff: { init: 2s, max: 4s }
",
    );
    let agent = Agent::start(&cfg);
    wait_for(&agent, "500 documents at the endpoint", || {
        ep.unique_docs() >= 500
    });
    agent.kill9();
    let after_kill = ep.unique_docs();
    append_lines(&log_file, (2000..4000).map(|n| line(n, 24)));
    let agent = Agent::start(&cfg);
    wait_for(&agent, "4000 documents at the endpoint", || {
        ep.unique_docs() >= 4000
    });
    common::wait_for_registry_at_end(&sb, "app", &log_file, &agent);
    let log = agent.log();
    assert_eq!(agent.stop(), 0);
    let seen = ep.seen.lock().unwrap();
    assert_eq!(
        seen.stores.len(),
        4000,
        "{after_kill} before the kill; log:\n{log}"
    );
    let mut ns: Vec<u64> = seen
        .docs
        .values()
        .map(|d| d["n"].as_u64().unwrap())
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..4000).collect::<Vec<_>>(), "one document per line");
}

/// The value of the gauge `name` (summed over its series) in the agent's `/metrics` at `addr`.
fn metric(addr: std::net::SocketAddr, name: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if series.split('{').next() == Some(name) {
            *found.get_or_insert(0.0) += value.parse::<f64>().ok()?;
        }
    }
    found
}

/// A cluster whose write queue takes 3 requests at once and answers 429 to any beyond: the output
/// finds that level (its `workers` is only the ceiling, the level is the gauge
/// `elasticsearch_request_concurrency`), stays there once the 429s told it, and delivers everything
/// exactly once.
#[test]
fn an_overloaded_cluster_is_driven_at_the_concurrency_it_takes() {
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        max_in_flight: Some(3),
        delay: Some(Duration::from_millis(30)),
        ..Faults::default()
    });
    let sb = Sandbox::new();
    let log_file = sb.path("logs/app.log");
    append_lines(&log_file, (0..20_000).map(|n| line(n, 24)));
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let cfg = sb.write_config(
        &format!("shutdown_timeout: 5s\nhttp:\n  listen: {addr}\n"),
        &file_input(
            "app",
            &sb.path("logs/*.log"),
            "    json: { keys_under_root: true, overwrite_keys: true }\n",
        ),
        &es_output(
            &[&ep.url],
            "    bulk_max_size: 100\n    workers: 12\n    flush_interval: 0s\n    backoff: { init: 100ms, max: 1s }\n",
        ),
    );
    let agent = Agent::start(&cfg);
    use std::sync::atomic::Ordering::SeqCst;
    wait_for(
        &agent,
        "a 429 for too many requests, and the concurrency at 3",
        || {
            ep.requests_429.load(SeqCst) > 0
                && metric(addr, "logward_elasticsearch_request_concurrency")
                    .is_some_and(|c| c <= 3.0)
        },
    );
    // Settled once 1,000 documents are stored without another 429 (the level a first 429 left may
    // still be one too high): from then on, no more than 3 requests at once.
    loop {
        let (refused, stored) = (ep.requests_429.load(SeqCst), ep.unique_docs());
        wait_for(&agent, "1000 more documents at the endpoint", || {
            ep.unique_docs() >= (stored + 1000).min(20_000)
        });
        if ep.requests_429.load(SeqCst) == refused || ep.unique_docs() >= 20_000 {
            break;
        }
    }
    ep.reset_peak();
    let settled_at = ep.unique_docs();
    assert!(settled_at < 19_000, "not settled before the end");
    wait_for(&agent, "20000 documents at the endpoint", || {
        ep.unique_docs() >= 20_000
    });
    let concurrency = metric(addr, "logward_elasticsearch_request_concurrency");
    let log = agent.log();
    assert_each_line_stored_once(&ep, 20_000, &log);
    assert!(
        ep.peak_in_flight.load(SeqCst) <= 3,
        "{} requests at once after settling (at {settled_at} documents)",
        ep.peak_in_flight.load(SeqCst)
    );
    assert!(
        concurrency.is_some_and(|c| (1.0..=3.0).contains(&c)),
        "the level it settled at: {concurrency:?}"
    );
    assert_eq!(agent.stop(), 0);
}

/// A retry set of at most 50 documents under heavy item refusals: the output stops taking new
/// batches while it is full (and says so), nothing is dropped, each id is stored once.
#[test]
fn a_full_retry_set_holds_new_batches_back_and_drops_nothing() {
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        item_429_every: Some(2),
        ..Faults::default()
    });
    let sb = Sandbox::new();
    let log_file = sb.path("logs/app.log");
    append_lines(&log_file, (0..3000).map(|n| line(n, 24)));
    let cfg = fault_config(
        &sb,
        &ep,
        "    bulk_max_size: 100
    retry_max_documents: 50
    backoff: { init: 50ms, max: 200ms }
",
    );
    let agent = Agent::start(&cfg);
    wait_for(&agent, "3000 documents at the endpoint", || {
        ep.unique_docs() >= 3000
    });
    common::wait_for_registry_at_end(&sb, "app", &log_file, &agent);
    let log = agent.log();
    assert_each_line_stored_once(&ep, 3000, &log);
    assert!(log.contains("the retry set is full"), "{log}");
    assert_eq!(agent.stop(), 0);
}

#[test]
fn a_request_too_large_for_the_server_is_split() {
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        max_items: Some(60),
        ..Faults::default()
    });
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..2000).map(|n| line(n, 24)));
    let cfg = fault_config(&sb, &ep, "    bulk_max_size: 500\n");
    let agent = Agent::start(&cfg);
    wait_for(&agent, "2000 documents at the endpoint", || {
        ep.unique_docs() >= 2000
    });
    assert_eq!(ep.unique_docs(), 2000, "{}", agent.log());
    assert!(ep.requests_413.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert!(!sb.path("data/dead-letter").exists());
    assert_eq!(agent.stop(), 0);
}

#[test]
fn a_dead_host_is_set_aside_while_another_one_answers() {
    let ep = FaultInjectingBulkEndpoint::start(Faults::default());
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..3000).map(|n| line(n, 24)));
    let cfg = config(&sb, &[&dead_url, &ep.url], "    bulk_max_size: 100\n");
    let agent = Agent::start(&cfg);
    wait_for(&agent, "3000 documents at the endpoint", || {
        ep.unique_docs() >= 3000
    });
    let log = agent.log();
    assert_eq!(ep.unique_docs(), 3000, "{log}");
    assert!(log.contains("host set aside"), "{log}");
    assert_eq!(agent.stop(), 0);
}

#[test]
fn refused_credentials_and_a_server_that_is_not_elasticsearch_are_named() {
    let ep = FaultInjectingBulkEndpoint::start(Faults {
        status_for_all: Some(401),
        ..Faults::default()
    });
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..10).map(|n| line(n, 24)));
    let cfg = fault_config(&sb, &ep, "    username: bob\n    password: wrong\n");
    let agent = Agent::start(&cfg);
    wait_for_log(&agent, "refused user `bob` and its password (HTTP 401");
    agent.stop();

    let ep = FaultInjectingBulkEndpoint::start(Faults {
        not_elasticsearch: true,
        ..Faults::default()
    });
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..10).map(|n| line(n, 24)));
    let cfg = fault_config(&sb, &ep, "");
    let agent = Agent::start(&cfg);
    wait_for_log(&agent, "is not Elasticsearch or OpenSearch");
    let log = agent.this_run_log();
    assert!(log.contains("Welcome to nginx"), "{log}");
    agent.stop();
    // Nothing was acknowledged, so nothing moved the checkpoint.
    let registry = std::fs::read_to_string(sb.path("data/registry/app.json")).unwrap_or_default();
    assert!(
        !registry.contains("\"offset\": 1") || registry.contains("\"offset\": 0"),
        "{registry}"
    );
}

#[test]
fn check_names_every_bad_elasticsearch_setting_with_its_line() {
    let sb = Sandbox::new();
    let path = sb.path("bad.yml");
    std::fs::write(
        &path,
        "inputs:\n  - type: file\n    paths: [/tmp/x/*.log]\noutputs:\n  - type: elasticsearch\n    hosts: [\"es1:9200\"]\n    index: \"Logs-%{+yyyy.QQ}\"\n    api_key: abc\n    username: bob\n    workers: 0\n",
    )
    .unwrap();
    let (code, _, err) = logward(&["check", "-c", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.yml:6:12: elasticsearch output: `hosts`: `es1:9200`"),
        "{err}"
    );
    assert!(
        err.contains("bad.yml:7:12: elasticsearch output: `index`"),
        "{err}"
    );
    assert!(err.contains("choose one way to authenticate"), "{err}");
    assert!(err.contains("`workers`: 0 is out of range"), "{err}");
}

#[test]
fn the_opensearch_server_is_recognised() {
    let Some(server) = Server::start(Kind::OpenSearch) else {
        return;
    };
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..10).map(|n| line(n, 24)));
    let cfg = config(&sb, &[&server.url], "");
    let agent = Agent::start(&cfg);
    assert_eq!(
        server.wait_for_count("logs-*", 10),
        10,
        "{:?}: log:\n{}",
        server.kind,
        agent.log()
    );
    assert!(
        agent.log().contains("server=OpenSearch 3.8.0"),
        "{}",
        agent.log()
    );
    agent.stop();
}

#[test]
fn a_bulk_answer_without_one_result_per_document_is_sent_again_not_counted_as_stored() {
    let ep = MisbehavingBulkEndpoint::start(Misbehaviour::Body("{}".into()));
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..1024).map(|n| line(n, 24)));
    let cfg = config(&sb, &[&ep.url], "");
    let agent = Agent::start(&cfg);
    let wrong = [
        Misbehaviour::Body("{}".into()),
        Misbehaviour::Body(r#"{"acknowledged":true}"#.into()),
        Misbehaviour::Body(r#"{"errors":false,"items":[]}"#.into()),
        Misbehaviour::OneItemShort,
        Misbehaviour::OneItemExtra,
        Misbehaviour::Body("<html><body>502 Bad Gateway</body></html>".into()),
        Misbehaviour::Reset,
    ];
    for mode in &wrong {
        ep.set(mode.clone());
        // Nothing is stored yet, so every wrong answer must be followed by the documents sent again.
        assert!(
            wait_until(Duration::from_secs(60), || ep.answered_as(mode) > 0),
            "no _bulk request came to be answered {mode:?} after {} wrong answers: the documents were taken as stored; log:\n{}",
            ep.misbehaved(),
            agent.log()
        );
    }
    ep.set(Misbehaviour::None);
    assert!(
        wait_until(Duration::from_secs(60), || ep.unique_docs() == 1024),
        "{} of 1024 documents stored; log:\n{}",
        ep.unique_docs(),
        agent.log()
    );
    let stores: u32 = ep.counts().stores.lock().unwrap().values().sum();
    assert_eq!(stores, 1024, "each document stored once");
    let log = agent.log();
    assert!(
        log.contains("is not one result per document sent")
            && log.contains(&ep.url)
            && log.contains("the answer begins: {}"),
        "the wrong answer is logged with the host and an excerpt:\n{log}"
    );
    assert_eq!(agent.stop(), 0);
}

#[test]
fn the_shutdown_timeout_cancels_a_bulk_request_the_server_never_answers() {
    let ep = MisbehavingBulkEndpoint::start(Misbehaviour::Hold);
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..500).map(|n| line(n, 24)));
    // `config` sets shutdown_timeout: 5s; the request timeout stays at its default, 90 s.
    let cfg = config(&sb, &[&ep.url], "");
    let mut agent = Agent::start(&cfg);
    assert!(
        wait_until(Duration::from_secs(60), || ep
            .counts()
            .held_now
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0),
        "no _bulk request reached the endpoint; log:\n{}",
        agent.log()
    );
    let (code, took) = agent.stop_within(Duration::from_secs(60));
    let state = match code {
        Some(_) => format!("exited only {took:?}"),
        None => format!("still running {took:?}"),
    };
    assert!(
        code.is_some() && took < Duration::from_secs(5 + 10),
        "with shutdown_timeout 5s, logward {state} after SIGTERM; log:\n{}",
        agent.log()
    );
    assert_eq!(code, Some(0), "{}", agent.log());
    assert!(
        agent.log().contains("batch not delivered"),
        "{}",
        agent.log()
    );
    // The batch was abandoned, not acknowledged: the next run reads it again and delivers it.
    ep.set(Misbehaviour::None);
    let mut agent = Agent::start(&cfg);
    assert!(
        wait_until(Duration::from_secs(60), || ep.unique_docs() == 500),
        "{} of 500 documents after the restart; log:\n{}",
        ep.unique_docs(),
        agent.log()
    );
    assert_eq!(agent.stop_within(Duration::from_secs(60)).0, Some(0));
}

#[test]
fn an_endless_bulk_answer_is_cut_off_with_bounded_memory_and_a_prompt_stop() {
    use std::sync::atomic::Ordering::SeqCst;
    let ep = MisbehavingBulkEndpoint::start(Misbehaviour::EndlessBody);
    let sb = Sandbox::new();
    append_lines(&sb.path("logs/app.log"), (0..1000).map(|n| line(n, 24)));
    let cfg = config(&sb, &[&ep.url], "");
    let mut agent = Agent::start(&cfg);
    // A generous bound: the agent itself needs a few dozen MiB, the answers it reads a few MiB.
    const BOUND_KIB: u64 = 200 * 1024;
    let mut peak = 0;
    // Each endless answer must be given up on and the request sent again, while memory stays bounded.
    let gave_up = wait_until(Duration::from_secs(60), || {
        peak = peak.max(agent.peak_rss_kib().unwrap_or(0));
        peak > BOUND_KIB || ep.counts().endless_bodies.load(SeqCst) >= 3
    });
    peak = peak.max(agent.peak_rss_kib().unwrap_or(0));
    let sent_mib = ep.counts().endless_bytes.load(SeqCst) >> 20;
    assert!(
        peak > 0 && peak < BOUND_KIB,
        "peak RSS {} MiB while the server sent {sent_mib} MiB of endless answers",
        peak >> 10
    );
    assert!(
        gave_up,
        "after {} endless answers ({sent_mib} MiB), no third one began: the agent is still reading; log:\n{}",
        ep.counts().endless_bodies.load(SeqCst),
        agent.log()
    );
    assert!(
        agent.log().contains("stopped reading it"),
        "the cut-off answer is named in the log:\n{}",
        agent.log()
    );
    let (code, took) = agent.stop_within(Duration::from_secs(60));
    assert!(
        code == Some(0) && took < Duration::from_secs(5 + 10),
        "with shutdown_timeout 5s, SIGTERM: exit code {code:?} after {took:?}; log:\n{}",
        agent.log()
    );
    println!(
        "peak RSS {} MiB; {} endless answers, {sent_mib} MiB sent; stopped in {took:?}",
        peak >> 10,
        ep.counts().endless_bodies.load(SeqCst)
    );
}

/// `setup` with the default replicas leaves the indices of a single-node cluster green; run again it says
/// `unchanged`, and a changed `template.replicas` is seen and installed, with what changed in its output.
#[test]
fn setup_compares_settings_and_its_default_is_green_on_a_single_node() {
    let Some(servers) = Server::both() else {
        return;
    };
    for server in servers {
        let kind = server.kind;
        let sb = Sandbox::new();
        let cfg = config(&sb, &[&server.url], "");
        let cfg_s = cfg.to_str().unwrap();
        let (code, out, err) = logward(&["setup", "-c", cfg_s]);
        assert_eq!(code, 0, "{kind:?}: {out}{err}");
        assert!(
            out.contains(
                ": installed; 1 shard(s), 0 replica(s) (default for a cluster of 1 data node(s)"
            ),
            "{kind:?}: {out}"
        );
        append_lines(&sb.path("logs/app.log"), (0..10).map(|n| line(n, 24)));
        let agent = Agent::start(&cfg);
        assert_eq!(
            server.wait_for_count("logs-*", 10),
            10,
            "{kind:?}: {}",
            agent.log()
        );
        assert_eq!(agent.stop(), 0);
        let health = server
            .get("/_cluster/health/logs-2026.11.24")
            .expect("index health");
        assert_eq!(health["status"], "green", "{kind:?}: {health}");

        let (code, out, _) = logward(&["setup", "-c", cfg_s]);
        assert_eq!(code, 0);
        assert!(
            out.contains(": unchanged; 1 shard(s), 0 replica(s)"),
            "{kind:?}: {out}"
        );

        let cfg = config(&sb, &[&server.url], "    template: { replicas: 2 }\n");
        let (code, out, err) = logward(&["setup", "-c", cfg.to_str().unwrap()]);
        assert_eq!(code, 0, "{kind:?}: {out}{err}");
        assert!(
            out.contains(
                "updated (index.auto_expand_replicas 0-1 → (unset), index.number_of_replicas 0 → 2)"
            ),
            "{kind:?}: {out}"
        );
        let t = server.get("/_index_template/logward").expect("template");
        assert_eq!(
            t["index_templates"][0]["index_template"]["template"]["settings"]["index"]["number_of_replicas"],
            "2",
            "{kind:?}: {t}"
        );
    }
}

/// A Go service logging with zap writes `"error": "text"`; the template `setup` installs maps `error` as
/// an object (ECS). Such lines are shipped with the text as `error.message`, not dead-lettered; an event the
/// server does refuse is counted as dead-lettered in the progress line and never as shipped.
#[test]
fn zap_error_lines_are_shipped_and_dead_letters_are_never_counted_as_shipped() {
    let Some(server) = Server::start(Kind::Elasticsearch) else {
        return;
    };
    let sb = Sandbox::new();
    let cfg = config(&sb, &[&server.url], "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("progress_interval: 0s", "progress_interval: 1s");
    std::fs::write(&cfg, text).unwrap();
    let (code, out, err) = logward(&["setup", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let mut lines: Vec<String> = (0..20)
        .map(|n| {
            format!(
                r#"{{"level":"error","ts":"2026-11-24T10:00:{n:02}.000Z","caller":"billing/charge.go:88","msg":"charge failed","error":"card declined {n}","service":"billing"}}"#
            )
        })
        .collect();
    lines.extend((0..20).map(|n| line(n, 24)));
    // A date field the template maps as a date, holding no date: the server refuses this one for good.
    lines.push(
        r#"{"@timestamp":"2026-11-24T11:00:00.000Z","level":"INFO","msg":"bad","event":{"created":"not a date"}}"#
            .to_string(),
    );
    append_lines(&sb.path("logs/app.log"), lines);
    let agent = Agent::start(&cfg);
    assert_eq!(server.wait_for_count("logs-*", 40), 40, "{}", agent.log());
    wait_for_log(&agent, "dead-lettered: 1");
    let log_path = cfg.with_extension("stderr.log");
    assert_eq!(agent.stop(), 0);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let last_progress = log
        .lines()
        .rfind(|l| l.starts_with("logward: "))
        .unwrap_or_default();
    assert!(
        last_progress.contains("read 41 ")
            && last_progress.contains("shipped 40 ")
            && last_progress.contains("dead-lettered: 1"),
        "{last_progress}\nlog:\n{log}"
    );
    let dead: usize = std::fs::read_dir(sb.path("data/dead-letter"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    std::fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .lines()
                        .count()
                })
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(dead, 1, "dead letters; log:\n{log}");
    let hits = server.get("/logs-*/_search?size=100").expect("search");
    let declined: Vec<&str> = hits["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["_source"]["error"]["message"].as_str())
        .collect();
    assert_eq!(declined.len(), 20, "{hits}");
    assert!(declined.contains(&"card declined 7"), "{declined:?}");
}

/// `examples/go-service-to-elasticsearch.yml`, the configuration the README installs, ships a Go service's
/// JSON log to Elasticsearch as documented: the application's time as `@timestamp`, `log.level`,
/// `service.name`, `error.message`, one index a day.
#[test]
fn the_go_service_example_ships_to_elasticsearch_as_documented() {
    let Some(server) = Server::start(Kind::Elasticsearch) else {
        return;
    };
    let sb = Sandbox::new();
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/go-service-to-elasticsearch.yml");
    let cfg = sb.path("go-service.yml");
    std::fs::copy(&example, &cfg).unwrap();
    let logs = sb.path("logs").display().to_string();
    let data = sb.path("data").display().to_string();
    let env = [
        ("GO_SERVICE_LOGS", logs.as_str()),
        ("ELASTICSEARCH_URL", server.url.as_str()),
        ("LOGWARD_DATA_DIR", data.as_str()),
    ];
    let setup = std::process::Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(["setup", "-c", cfg.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let lines: Vec<String> = (0..30)
        .map(|n| {
            let (level, extra) = if n % 10 == 0 {
                ("ERROR", r#","error":"card declined""#)
            } else {
                ("INFO", "")
            };
            format!(
                r#"{{"timestamp":"2026-11-{:02}T08:00:{:02}.331Z","level":"{level}","service":"billing","msg":"charge {n}"{extra}}}"#,
                23 + n % 2,
                n
            )
        })
        .collect();
    append_lines(&sb.path("logs/app.log"), lines);
    let agent = Agent::start_with_env(&cfg, &env);
    assert_eq!(
        server.wait_for_count("logs-go-service-*", 30),
        30,
        "{}",
        agent.log()
    );
    assert_eq!(agent.stop(), 0);
    assert_eq!(server.count("logs-go-service-2026.11.23"), 15);
    assert_eq!(server.count("logs-go-service-2026.11.24"), 15);
    let hits = server
        .get("/logs-go-service-*/_search?size=100")
        .expect("search");
    let docs: Vec<&serde_json::Value> = hits["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["_source"])
        .collect();
    let first = docs
        .iter()
        .find(|d| d["message"] == "charge 10")
        .unwrap_or_else(|| panic!("{hits}"));
    assert_eq!(first["@timestamp"], "2026-11-23T08:00:10.331Z", "{first}");
    assert_eq!(first["log"]["level"], "ERROR", "{first}");
    assert_eq!(first["service"]["name"], "billing", "{first}");
    assert_eq!(first["error"]["message"], "card declined", "{first}");
    assert!(
        first.get("timestamp").is_none() && first.get("level").is_none(),
        "{first}"
    );
}
