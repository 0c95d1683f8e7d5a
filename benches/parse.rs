//! Parsing throughput on one core: grok and dissect on the loghub files (with the example configurations)
//! and grok `%{COMBINEDAPACHELOG}` / an equivalent dissect on a generated 1,000,000-line Apache access log.
//! Prints lines/s and MB/s; asserts nothing. `cargo bench --bench parse`; `cargo bench --bench parse -- auth`
//! runs only the measurements whose name contains `auth`.

use logward::event::Event;
use logward::processors::Chain;
use logward::processors::config::{build_chain, from_json};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn chain(configs: serde_json::Value) -> Chain {
    let specs = from_json(&configs, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    build_chain(&specs, "bench", Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"))
}

/// Runs `chain` over `lines` in batches, as the pipeline does, `rounds` times; prints the rate.
fn measure(name: &str, chain: &Chain, lines: &[String], rounds: usize) {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
        return;
    }
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum::<usize>() * rounds;
    let total = lines.len() * rounds;
    let started = Instant::now();
    let mut failures = 0usize;
    for _ in 0..rounds {
        for batch in lines.chunks(1024) {
            let mut events: Vec<Event> = batch
                .iter()
                .map(|l| Event::from_message(l.as_str()))
                .collect();
            chain.run(&mut events);
            failures += events
                .iter()
                .filter(|e| e.tags().any(|t| t.starts_with('_')))
                .count();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name:<34} {total:>9} lines  {:>10.0} lines/s  {:>7.1} MB/s  ({failures} tagged failures)",
        total as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}

fn apache_access_log(n: usize) -> Vec<String> {
    let paths = [
        "/index.html",
        "/api/v1/orders?id=42",
        "/static/app.js",
        "/images/logo.png",
        "/login",
    ];
    let agents = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        "curl/8.5.0",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
    ];
    (0..n)
        .map(|i| {
            format!(
                r#"10.{}.{}.{} - - [24/Nov/2026:10:{:02}:{:02} +0000] "GET {} HTTP/1.1" {} {} "https://example.com/" "{}""#,
                i % 256,
                (i / 256) % 256,
                i % 200 + 1,
                (i / 60) % 60,
                i % 60,
                paths[i % paths.len()],
                [200, 200, 304, 404, 500][i % 5],
                1000 + i % 50_000,
                agents[i % agents.len()]
            )
        })
        .collect()
}

fn main() {
    let lines = apache_access_log(1_000_000);
    let grok = chain(serde_json::json!([{"grok": {"patterns": ["%{COMBINEDAPACHELOG}"]}}]));
    measure("grok COMBINEDAPACHELOG (1M access)", &grok, &lines, 1);
    let dissect = chain(
        serde_json::json!([{"dissect": {"pattern": "%{clientip} %{ident} %{auth} [%{timestamp}] \"%{verb} %{request} HTTP/%{httpversion}\" %{response} %{bytes} \"%{referrer}\" \"%{agent}\""}}]),
    );
    measure("dissect access log (1M access)", &dissect, &lines, 1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if let Ok(text) = std::fs::read_to_string(root.join("tests/data/audit.log")) {
        // One record per event, as without joining.
        let records: Vec<String> = text.lines().map(str::to_string).collect();
        let auditd = chain(serde_json::json!([{"auditd": {}}]));
        measure(
            "auditd tests/data/audit.log (x10000)",
            &auditd,
            &records,
            10_000,
        );
    }

    for (example, log) in [
        ("loghub-linux.yml", "Linux_2k.log"),
        ("loghub-openssh.yml", "OpenSSH_2k.log"),
        ("loghub-apache.yml", "Apache_2k.log"),
        ("loghub-hdfs.yml", "HDFS_2k.log"),
        ("loghub-zookeeper.yml", "Zookeeper_2k.log"),
        ("loghub-windows.yml", "Windows_2k.log"),
        ("linux-auth-log.yml", "OpenSSH_2k.log"),
        ("linux-auth-log.yml", "Linux_2k.log"),
    ] {
        let Ok(config) = logward::config::load_file(&root.join("examples").join(example)) else {
            println!("{example}: cannot load (is ../shared beside the repository?)");
            continue;
        };
        let Ok(text) = std::fs::read_to_string(root.join("../shared/data/loghub").join(log)) else {
            println!("{log}: not found");
            continue;
        };
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let chain = build_chain(&config.processors, "bench", &config.base_dir)
            .unwrap_or_else(|e| panic!("{e:?}"));
        measure(&format!("{example} {log} (x100)"), &chain, &lines, 100);
    }
}
