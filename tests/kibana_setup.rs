//! `logward setup --kibana`: the data view and dashboard import. Kibana itself cannot run on the test
//! machines (it needs a JVM-backed Elasticsearch and Node.js services of its own), so the import request is
//! checked against a recording endpoint that answers as Kibana's saved objects API documents, and the
//! template step against a real Elasticsearch-compatible server (noida-db).

mod common;

use common::es_servers::{Kind, Server};
use common::{Sandbox, es_output, file_input, logward};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as the recording endpoint saw it.
#[derive(Debug, Clone, Default)]
struct Recorded {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The saved objects in the multipart body's `file` part.
    fn objects(&self) -> Vec<Value> {
        let ct = self.header("content-type").expect("content-type");
        let boundary = ct.split("boundary=").nth(1).expect("a multipart boundary");
        let text = String::from_utf8(self.body.clone()).expect("utf-8 body");
        let part = text
            .split(&format!("--{boundary}"))
            .find(|p| p.contains("name=\"file\""))
            .expect("a file part");
        let content = part.split("\r\n\r\n").nth(1).expect("part content");
        content
            .trim_end_matches("\r\n")
            .lines()
            .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
            .collect()
    }
}

/// A hand-written HTTP endpoint that records every request and answers each with `status` and `body`,
/// standing in for Kibana's `POST /api/saved_objects/_import`.
struct RecordingKibanaEndpoint {
    url: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

impl RecordingKibanaEndpoint {
    fn start(status: u16, body: &'static str) -> RecordingKibanaEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                if let Some(r) = read_request(&conn) {
                    record.lock().unwrap().push(r);
                }
                let mut w = &conn;
                let _ = write!(
                    w,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        RecordingKibanaEndpoint { url, seen }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(conn: &TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let mut r = Recorded {
        method: parts.next()?.to_string(),
        path: parts.next()?.to_string(),
        ..Recorded::default()
    };
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        if n.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse().ok()?;
        }
        r.headers.push((n.to_string(), v.trim().to_string()));
    }
    r.body = vec![0; length];
    reader.read_exact(&mut r.body).ok()?;
    Some(r)
}

fn config(sb: &Sandbox, es: &str, settings: &str) -> std::path::PathBuf {
    sb.write_config(
        "",
        &file_input("app", &sb.path("logs/*.log"), ""),
        &es_output(&[es], settings),
    )
}

#[test]
fn setup_imports_the_data_view_and_dashboard_with_the_outputs_credentials() {
    let kibana = RecordingKibanaEndpoint::start(
        200,
        r#"{"success":true,"successCount":6,"successResults":[]}"#,
    );
    let sb = Sandbox::new();
    // The Elasticsearch host is never contacted with --skip-template.
    let cfg = config(
        &sb,
        "http://127.0.0.1:9",
        "    index: \"app-%{+yyyy.MM.dd}\"\n    username: elastic\n    password: changeme\n",
    );
    let (code, out, err) = logward(&[
        "setup",
        "-c",
        cfg.to_str().unwrap(),
        "--kibana",
        &kibana.url,
        "--kibana-space",
        "ops",
        "--skip-template",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 6 of 6 saved objects"), "{out}");
    let requests = kibana.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/s/ops/api/saved_objects/_import?overwrite=true");
    assert_eq!(r.header("kbn-xsrf"), Some("true"));
    // elastic:changeme
    assert_eq!(
        r.header("authorization"),
        Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")
    );
    let objects = r.objects();
    let types: Vec<&str> = objects
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "index-pattern",
            "visualization",
            "visualization",
            "visualization",
            "search",
            "dashboard"
        ]
    );
    assert_eq!(objects[0]["attributes"]["title"], "app-*");
    assert_eq!(objects[0]["attributes"]["timeFieldName"], "@timestamp");
}

#[test]
fn a_partial_import_fails_and_names_the_objects_kibana_refused() {
    let kibana = RecordingKibanaEndpoint::start(
        200,
        r#"{"success":false,"successCount":5,"errors":[{"id":"logward-overview","type":"dashboard","title":"logward: overview","error":{"type":"missing_references"}}]}"#,
    );
    let sb = Sandbox::new();
    let cfg = config(&sb, "http://127.0.0.1:9", "");
    let (code, out, err) = logward(&[
        "setup",
        "-c",
        cfg.to_str().unwrap(),
        "--kibana",
        &kibana.url,
        "--skip-template",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("imported 5 of 6")
            && err.contains("dashboard `logward-overview`: missing_references"),
        "{err}"
    );

    let denied = RecordingKibanaEndpoint::start(403, r#"{"statusCode":403,"error":"Forbidden"}"#);
    let (code, _, err) = logward(&[
        "setup",
        "-c",
        cfg.to_str().unwrap(),
        "--kibana",
        &denied.url,
        "--skip-template",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("refused the request (403)"), "{err}");
}

/// The template goes to a real server and the objects to Kibana in one `setup`.
#[test]
fn setup_installs_the_template_then_imports_into_kibana() {
    let Some(es) = Server::start(Kind::Elasticsearch) else {
        return;
    };
    let kibana = RecordingKibanaEndpoint::start(200, r#"{"success":true,"successCount":6}"#);
    let sb = Sandbox::new();
    let cfg = config(&sb, &es.url, "    index: \"logs-%{+yyyy.MM.dd}\"\n");
    let (code, out, err) = logward(&[
        "setup",
        "-c",
        cfg.to_str().unwrap(),
        "--kibana",
        &kibana.url,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("index template `logward`"), "{out}");
    assert!(out.contains("imported 6 of 6"), "{out}");
    assert!(es.get("/_index_template/logward").is_some());
    assert_eq!(
        kibana.requests()[0].objects()[0]["attributes"]["title"],
        "logs-*"
    );
}

/// The NDJSON in the repository, for a manual import, is what `setup --kibana-export` writes for the
/// default index (`logward-*`): after changing the objects, regenerate it with `setup --kibana-export` on a
/// configuration whose Elasticsearch output keeps the default `index`.
#[test]
fn the_shipped_ndjson_is_what_setup_exports() {
    let sb = Sandbox::new();
    let cfg = config(&sb, "http://127.0.0.1:9", "");
    let (code, out, err) = logward(&["setup", "-c", cfg.to_str().unwrap(), "--kibana-export", "-"]);
    assert_eq!(code, 0, "{err}");
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kibana/logward.ndjson"),
    )
    .expect("deploy/kibana/logward.ndjson");
    assert_eq!(out, shipped, "regenerate deploy/kibana/logward.ndjson");
    for line in shipped.lines() {
        let o: Value = serde_json::from_str(line).expect("valid JSON per line");
        assert!(o["type"].is_string() && o["id"].is_string() && o["attributes"].is_object());
    }
}
