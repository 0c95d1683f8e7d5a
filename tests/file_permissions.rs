//! Files that hold events or state are private to the account logward runs as.
#![cfg(unix)]

mod common;

use common::es_servers::{Kind, Server};
use common::{Agent, Sandbox, append_lines, wait_for};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Every folder and file below `dir` (and `dir` itself), with its permission bits.
fn modes(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let meta = std::fs::metadata(&d).unwrap();
        out.push((d.clone(), true, meta.permissions().mode() & 0o777));
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                todo.push(p);
            } else {
                out.push((p, false, meta.permissions().mode() & 0o777));
            }
        }
    }
    out
}

#[test]
fn queue_dead_letters_registry_and_own_log_are_private() {
    let Some(server) = Server::start(Kind::Elasticsearch) else {
        return;
    };
    let sb = Sandbox::new();
    let data = sb.path("data/agent");
    let log = sb.path("logs/app.log");
    // No `service` field: the index name cannot be made, so every event goes to the dead-letter file.
    append_lines(&log, (0..20).map(|i| format!("{{\"msg\":\"line {i}\"}}")));
    let cfg = sb.path("logward.yml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir: {data}\nprogress_interval: 0s\nshutdown_timeout: 20s\nlogging: {{ to_file: true }}\n\
             queue: {{ type: disk, max_size: 64MiB }}\ninputs:\n  - type: file\n    id: app\n    paths: [\"{glob}\"]\n    json: {{ keys_under_root: true }}\n\
             outputs:\n  - type: elasticsearch\n    id: es\n    hosts: [\"{url}\"]\n    index: \"logs-%{{[service]}}\"\n",
            data = data.display(),
            glob = sb.path("logs/*.log").display(),
            url = server.url,
        ),
    )
    .unwrap();
    let agent = Agent::start(&cfg);
    let dead = data.join("dead-letter");
    wait_for(&agent, "20 dead letters", || {
        std::fs::read_dir(&dead)
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.lines().count() == 20))
    });
    wait_for(&agent, "the registry", || data.join("registry").is_dir());
    assert_eq!(agent.stop(), 0);
    let all = modes(&data);
    for sub in ["queue", "dead-letter", "registry", "logs"] {
        assert!(
            all.iter()
                .any(|(p, dir, _)| !dir && p.starts_with(data.join(sub))),
            "nothing was written in {sub}: {all:?}"
        );
    }
    for (path, dir, mode) in &all {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} has mode {mode:o}", path.display());
    }
}
