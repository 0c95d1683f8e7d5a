//! Configurations written to break the agent: each must be refused by `check` with a clear message, fast,
//! and without printing a secret.

mod common;

use common::{Sandbox, file_input, logward};

/// `logward check` on a configuration made of `top`, one file input with `input_extra` and `outputs`.
fn check(sb: &Sandbox, top: &str, input_extra: &str, outputs: &str) -> (i32, String) {
    let cfg = sb.write_config(
        top,
        &file_input("app", &sb.path("logs/*.log"), input_extra),
        outputs,
    );
    let (code, out, err) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    (code, format!("{out}{err}"))
}

#[test]
fn durations_too_long_for_a_clock_are_refused_by_check() {
    let sb = Sandbox::new();
    for value in ["18446744073709551615s", "10000000000000000000s", "1e19"] {
        let (code, text) = check(
            &sb,
            "",
            &format!("    scan_frequency: {value}\n"),
            &sb.file_output(),
        );
        assert_eq!(code, 2, "{value}: {text}");
        assert!(
            text.contains(":7:21:") && text.contains("the longest accepted is 100 years"),
            "{value}: {text}"
        );
    }
}

#[test]
fn nested_aliases_are_refused_by_check_at_once() {
    let sb = Sandbox::new();
    // The "billion laughs": nine levels, each ten aliases of the one before.
    let mut top =
        String::from("x-laughs:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let items = vec![format!("*l{}", level - 1); 10].join(", ");
        top.push_str(&format!("  l{level}: &l{level} [{items}]\n"));
    }
    let started = std::time::Instant::now();
    let (code, text) = check(&sb, &top, "", &sb.file_output());
    let took = started.elapsed();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains(":8:47:")
            && text.contains("aliases (`*name`) expand this document to more than"),
        "{text}"
    );
    // Not a timing assertion on speed: a document that were expanded would take minutes and gigabytes.
    assert!(took < common::WAIT, "check took {took:?}");
}

/// Every file below `dir`, as paths relative to it.
fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

#[test]
fn ids_that_look_like_paths_write_nothing_outside_the_data_folder() {
    let sb = Sandbox::new();
    // Unique names, so what this test looks for in the shared temporary folder is its own.
    let tag = sb
        .root
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace('.', "");
    let output_id = format!("../../../escaped-out{tag}");
    let input_id = format!("../../../escaped-in{tag}");
    let log = sb.path("logs/app.log");
    common::append_lines(&log, (0..10).map(|i| format!("line {i}")));
    let cfg = sb.write_config(
        "queue: { type: disk, max_size: 64MiB }\nshutdown_timeout: 20s\n",
        &format!(
            "  - type: file\n    id: \"{input_id}\"\n    paths: [\"{}\"]\n",
            sb.path("logs/*.log").display()
        ),
        &format!(
            "  - type: file\n    id: \"{output_id}\"\n    path: {}\n    filename: events.ndjson\n",
            sb.out().display()
        ),
    );
    let agent = common::Agent::start(&cfg);
    common::wait_for_lines(&sb.out(), 10, &agent);
    assert_eq!(agent.stop(), 0);
    // Everything the agent wrote is in data/ or out/, and nothing anywhere up the tree has either id.
    for f in files_below(sb.root.path()) {
        let first = f
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        assert!(
            ["data", "out", "logs", "logward.yml", "logward.stderr.log"].contains(&first.as_str()),
            "{} written outside data/",
            f.display()
        );
    }
    let mut up = sb.path("data/queue/cursors");
    for _ in 0..5 {
        for entry in std::fs::read_dir(&up).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with("escaped-"), "{name} in {}", up.display());
        }
        if !up.pop() {
            break;
        }
    }
    let cursors = files_below(&sb.path("data/queue/cursors"));
    assert_eq!(cursors.len(), 1, "{cursors:?}");
    let registry = files_below(&sb.path("data/registry"));
    assert_eq!(registry.len(), 1, "{registry:?}");
    assert!(
        !registry[0].to_string_lossy().contains(".."),
        "{registry:?}"
    );
}

#[test]
fn a_file_output_name_with_a_folder_in_it_is_refused() {
    let sb = Sandbox::new();
    for name in ["../events.ndjson", "sub/events.ndjson", ".."] {
        let (code, text) = check(
            &sb,
            "",
            "",
            &format!(
                "  - type: file\n    path: {}\n    filename: \"{name}\"\n",
                sb.out().display()
            ),
        );
        assert_eq!(code, 2, "{name}: {text}");
        assert!(text.contains("is not a plain file name"), "{name}: {text}");
    }
}

/// A free local TCP port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `openssl` with `args` in `dir`; panics with its output when it fails.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command (package openssl) makes this test's certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills the child when dropped.
struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_self_signed_ca_used_as_the_server_certificate_is_explained() {
    let sb = Sandbox::new();
    let dir = sb.root.path();
    // `req -x509` makes a self-signed CA certificate (basicConstraints CA:TRUE), as quick guides do.
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
    );
    let port = free_port();
    let _server = KillOnDrop(
        std::process::Command::new("openssl")
            .current_dir(dir)
            .args([
                "s_server", "-quiet", "-www", "-cert", "ca.pem", "-key", "key.pem",
            ])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    assert!(
        common::wait_until(common::WAIT, || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "openssl s_server did not listen on {port}"
    );
    let cfg = sb.write_config(
        "",
        &file_input("app", &sb.path("logs/*.log"), ""),
        &common::es_output(
            &[&format!("https://localhost:{port}")],
            &format!("    tls: {{ ca: {} }}\n", dir.join("ca.pem").display()),
        ),
    );
    let (code, out, err) = logward(&["setup", "-c", cfg.to_str().unwrap()]);
    let text = format!("{out}{err}");
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("CaUsedAsEndEntity"), "{text}");
    assert!(
        text.contains("give the server a certificate signed by the CA"),
        "{text}"
    );
}

#[test]
fn check_never_prints_a_secret() {
    let sb = Sandbox::new();
    let env_secret = "env-S3cret-value-991";
    let literal = "literal-S3cret-772";
    let outputs = format!(
        "  - type: elasticsearch\n    hosts: [\"http://127.0.0.1:9\"]\n    bulk_max_size: ${{LW_TEST_ES_PASSWORD}}\n    password: {literal}\n  - type: file\n    path: {}\n    api_key: \"{literal}\"\n",
        sb.out().display()
    );
    let cfg = sb.write_config("", &file_input("app", &sb.path("logs/*.log"), ""), &outputs);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(["check", "-c", cfg.to_str().unwrap()])
        .env("LW_TEST_ES_PASSWORD", env_secret)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    // The three mistakes are reported, each where it is …
    for at in [
        ":11:20: elasticsearch output: expected usize",
        ":12:15:",
        ":15:5: file output: unknown field `api_key`",
    ] {
        assert!(text.contains(at), "missing {at:?} in:\n{text}");
    }
    // … and neither secret is shown, in the messages or on the quoted lines.
    assert!(
        !text.contains(env_secret) && !text.contains(literal),
        "{text}"
    );
    assert!(
        text.contains("password: ***") && text.contains("api_key: ***"),
        "{text}"
    );
    assert!(text.contains("found string \"***\""), "{text}");
}
