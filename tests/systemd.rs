//! Running under systemd: the notifications logward sends on NOTIFY_SOCKET, and the unit
//! `logward service install` writes (checked with systemd-analyze, installed under a temporary root).
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Every datagram that arrives on `socket` until `until` holds for one of them (or [`WAIT`] passes).
fn collect(
    socket: &UnixDatagram,
    agent: &Agent,
    mut until: impl FnMut(&str) -> bool,
) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = until(&m);
            got.push(m);
            if done {
                return got;
            }
        }
    }
    panic!(
        "waited {WAIT:?} for a notification, in vain; got {got:?}; log:\n{}",
        agent.log()
    );
}

/// Waits for the agent (asked to stop already) to exit; its exit code.
fn exit_code(mut agent: Agent) -> i32 {
    let mut code = None;
    let exited = wait_until(WAIT, || {
        code = agent
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.code().unwrap_or(-1));
        code.is_some()
    });
    assert!(exited, "logward did not stop; log:\n{}", agent.log());
    code.unwrap_or(-1)
}

#[test]
fn notifies_ready_status_watchdog_and_stopping() {
    let sb = Sandbox::new();
    append_lines(
        &sb.path("logs/app.log"),
        (0..100).map(|i| format!("line {i}")),
    );
    let cfg = sb.config(&file_input(
        "app",
        &sb.path("logs/*.log"),
        "    scan_frequency: 200ms\n",
    ));
    let path = sb.path("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let agent = Agent::start_with_env(
        &cfg,
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    let first = collect(&socket, &agent, |_| true);
    assert!(
        first[0].starts_with("READY=1\nSTATUS=running: "),
        "{first:?}"
    );
    wait_for_lines(&sb.out(), 100, &agent);
    // Pings keep coming while the pipeline is alive, with a status that counts what moved.
    let mut pings = 0;
    let got = collect(&socket, &agent, |m| {
        if m.contains("WATCHDOG=1") {
            pings += 1;
        }
        pings >= 3 && m.contains("100 events read, 100 delivered")
    });
    assert!(got.iter().all(|m| m.starts_with("STATUS=")), "{got:?}");
    let pid = agent.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let rest = collect(&socket, &agent, |m| m.starts_with("STOPPING=1"));
    assert!(rest.last().unwrap().contains("STATUS=stopping"), "{rest:?}");
    assert_eq!(exit_code(agent), 0);
}

#[test]
fn a_watchdog_for_another_pid_is_ignored() {
    let sb = Sandbox::new();
    let cfg = sb.config(&file_input(
        "app",
        &sb.path("logs/*.log"),
        "    scan_frequency: 200ms\n",
    ));
    let path = sb.path("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    // WATCHDOG_PID names another process: the pings are not for logward.
    let agent = Agent::start_with_env(
        &cfg,
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    let first = collect(&socket, &agent, |_| true);
    assert!(first[0].starts_with("READY=1"), "{first:?}");
    let pid = agent.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let rest = collect(&socket, &agent, |m| m.starts_with("STOPPING=1"));
    assert!(rest.iter().all(|m| !m.contains("WATCHDOG=1")), "{rest:?}");
    assert_eq!(exit_code(agent), 0);
}

/// A root with the user database useradd --prefix edits.
fn fake_root(dir: &Path) {
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    for f in ["passwd", "group", "shadow", "gshadow"] {
        let src = Path::new("/etc").join(f);
        let text = std::fs::read(&src).unwrap_or_default();
        std::fs::write(dir.join("etc").join(f), text).unwrap();
    }
}

#[test]
fn service_install_writes_a_unit_systemd_accepts_and_uninstall_removes_it_and_the_user() {
    let have = |p: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !(have("systemd-analyze") && have("useradd")) {
        let _ = require(
            "systemd",
            "systemd-analyze or useradd is missing (apt-get install systemd passwd)",
        );
        return;
    }
    let sb = Sandbox::new();
    let cfg = sb.config(&file_input("app", &sb.path("logs/*.log"), ""));
    let root = sb.path("root");
    fake_root(&root);
    let (code, out, err) = logward(&[
        "service",
        "install",
        "-c",
        cfg.to_str().unwrap(),
        "--name",
        "logward-test",
        "--root",
        root.to_str().unwrap(),
        "--read-write",
        sb.out().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("created the system user `logward-test`"),
        "{out}"
    );
    let unit_path = root.join("etc/systemd/system/logward-test.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    for line in [
        "Type=notify",
        "Restart=always",
        "RestartSec=5",
        "WatchdogSec=60",
        "StateDirectory=logward-test",
        "User=logward-test",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_DAC_READ_SEARCH",
        "AmbientCapabilities=CAP_DAC_READ_SEARCH",
        "ReadWritePaths=-/var/lib/logward-test",
        &format!("ReadWritePaths=-{}", sb.out().display()),
        &format!(
            "ExecStart={} run -c {} --data-dir /var/lib/logward-test",
            env!("CARGO_BIN_EXE_logward"),
            cfg.display()
        ),
    ] {
        assert!(unit.lines().any(|l| l == line), "no `{line}` in:\n{unit}");
    }
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(
        passwd.lines().any(|l| l.starts_with("logward-test:")),
        "{passwd}"
    );
    // systemd's own check of the unit: no complaint about any of its lines.
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_path)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{complaints}");
    assert!(
        !complaints
            .lines()
            .any(|l| l.contains("logward-test.service")),
        "systemd-analyze verify complains:\n{complaints}"
    );
    // A second install refuses to overwrite.
    let (code, _, err) = logward(&[
        "service",
        "install",
        "-c",
        cfg.to_str().unwrap(),
        "--name",
        "logward-test",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("exists already"), "{err}");

    let (code, out, err) = logward(&[
        "service",
        "uninstall",
        "--name",
        "logward-test",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!unit_path.exists());
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(
        !passwd.lines().any(|l| l.starts_with("logward-test:")),
        "{passwd}"
    );
    let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
    assert!(
        !group.lines().any(|l| l.starts_with("logward-test:")),
        "{group}"
    );
    // The machine itself was not touched.
    assert!(!Path::new("/etc/systemd/system/logward-test.service").exists());
}

#[test]
fn service_install_refuses_an_invalid_configuration() {
    let sb = Sandbox::new();
    let cfg = sb.path("bad.yml");
    std::fs::write(&cfg, "inputs:\n  - type: nosuch\n").unwrap();
    let root = sb.path("root");
    let (code, _, err) = logward(&[
        "service",
        "install",
        "-c",
        cfg.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("the configuration is not valid"), "{err}");
    assert!(!root.join("etc/systemd/system/logward.service").exists());
}
