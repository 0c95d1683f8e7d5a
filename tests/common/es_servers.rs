//! Real Elasticsearch-compatible servers for end-to-end tests: `noida-db` (answers as Elasticsearch 8.15)
//! and `osmem-server` (OpenSearch 3.8), both installed from PyPI by `.ci/run`. Each test starts its own
//! server on a free loopback port with its own data folder; the server is killed when dropped.
//! A server that is not installed fails the test, unless `LOGWARD_SKIP` names `servers`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// noida-db, Elasticsearch 8.15 behaviour.
    Elasticsearch,
    /// osmem-server, OpenSearch 3.8 behaviour.
    OpenSearch,
}

/// A running server.
pub struct Server {
    child: Child,
    pub kind: Kind,
    pub url: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python_package_dir(module: &str) -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            &format!("import {module}, os; print(os.path.dirname({module}.__file__))"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The server binary: `LOGWARD_NOIDA_DB` / `LOGWARD_OSMEM_SERVER`, else inside the installed Python package.
/// `None` when it is missing and `LOGWARD_SKIP` names `servers`; a panic when it is missing otherwise.
fn binary(kind: Kind) -> Option<PathBuf> {
    let (var, module, rel) = match kind {
        Kind::Elasticsearch => ("LOGWARD_NOIDA_DB", "noida_db", "noida-db"),
        Kind::OpenSearch => ("LOGWARD_OSMEM_SERVER", "osmem_server", "bin/osmem-server"),
    };
    let (path, missing) = match std::env::var(var) {
        Ok(p) => {
            let path = PathBuf::from(p);
            let missing = format!("{var} names {}, which does not exist", path.display());
            (path, missing)
        }
        Err(_) => match python_package_dir(module) {
            Some(dir) => {
                let path = dir.join(rel);
                let missing = format!(
                    "the {module} Python package has no server binary at {}",
                    path.display()
                );
                (path, missing)
            }
            None => (
                PathBuf::new(),
                format!(
                    "the {module} Python package is not installed: run `pip install noida-db osmem-server` (.ci/run does), or set {var} to the server binary"
                ),
            ),
        },
    };
    if path.is_file() || super::require("servers", &missing) {
        Some(path)
    } else {
        None
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Server {
    /// Starts a server of `kind` and waits until it answers `GET /`; `None` when it is not installed and
    /// `LOGWARD_SKIP` names `servers` (the test returns then).
    pub fn start(kind: Kind) -> Option<Server> {
        Server::start_on(kind, free_port())
    }

    /// Like [`Server::start`], on a given loopback port (a server that comes back where a client
    /// expects it).
    pub fn start_on(kind: Kind, port: u16) -> Option<Server> {
        let bin = binary(kind)?;
        let data = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(&bin);
        match kind {
            Kind::Elasticsearch => cmd
                .args([
                    "start",
                    "--only",
                    "elasticsearch",
                    "--elasticsearch-port",
                    &port.to_string(),
                    "--host",
                    "127.0.0.1",
                    "--data-dir",
                ])
                .arg(data.path()),
            Kind::OpenSearch => {
                cmd.args(["-addr", &format!("127.0.0.1:{port}"), "-no-stdin-watch"])
            }
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let server = Server {
            child,
            kind,
            url: format!("http://127.0.0.1:{port}"),
            _data: data,
        };
        assert!(
            super::wait_until(super::WAIT, || server.get("/").is_some()),
            "the {kind:?} server {} did not answer on port {port} within {:?}",
            bin.display(),
            super::WAIT
        );
        Some(server)
    }

    /// Both servers; `None` as [`Server::start`].
    pub fn both() -> Option<Vec<Server>> {
        Some(vec![
            Server::start(Kind::Elasticsearch)?,
            Server::start(Kind::OpenSearch)?,
        ])
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Option<(u16, serde_json::Value)> {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).ok()?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).ok()?;
        let text = String::from_utf8_lossy(&resp);
        let (head, rest) = text.split_once("\r\n\r\n")?;
        let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        Some((
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// GET, returning the JSON body of a 2xx answer.
    pub fn get(&self, path: &str) -> Option<serde_json::Value> {
        self.call("GET", path, None)
            .and_then(|(s, v)| (200..300).contains(&s).then_some(v))
    }

    /// Any request; status and JSON body.
    pub fn request(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        self.call(method, path, Some(body)).expect("server answers")
    }

    /// Makes new documents searchable, then counts the documents of `index`.
    pub fn count(&self, index: &str) -> u64 {
        let _ = self.call("POST", "/_refresh", None);
        self.get(&format!("/{index}/_count"))
            .and_then(|v| v["count"].as_u64())
            .unwrap_or(0)
    }

    /// Waits until `index` holds `n` documents (or [`super::WAIT`] passes); returns the last count.
    pub fn wait_for_count(&self, index: &str, n: u64) -> u64 {
        let deadline = Instant::now() + super::WAIT;
        loop {
            let c = self.count(index);
            if c >= n || Instant::now() > deadline {
                return c;
            }
            // Every count refreshes the indices first: not too often.
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
