//! What a test does when it cannot run its subject: it fails, unless `LOGWARD_SKIP` names that subject.
//! A green run therefore always means the tests ran, or that someone asked in so many words to skip them.

use std::path::PathBuf;

/// The names `LOGWARD_SKIP` may hold (comma-separated), each with what it stands for. The README's test
/// section lists the same names.
pub const SKIPPABLE: &[(&str, &str)] = &[
    (
        "data",
        "the shared test data (../shared/data beside the repository, or the folder LOGWARD_SHARED_DATA names)",
    ),
    ("tmpfs", "mounting a small tmpfs (needs root)"),
    (
        "servers",
        "the noida-db and osmem-server test servers (pip install noida-db osmem-server)",
    ),
    (
        "prometheus",
        "Prometheus and promtool (Debian's `prometheus` package: apt-get install prometheus)",
    ),
    (
        "chromium",
        "headless Chromium (Debian's `chromium` package: apt-get install chromium)",
    ),
    (
        "tmux",
        "tmux, which runs `logward top` in a terminal (apt-get install tmux)",
    ),
    (
        "aiosmtpd",
        "the aiosmtpd SMTP server that receives the alert mails (pip install aiosmtpd)",
    ),
    (
        "journald",
        "journalctl and systemd-journal-remote, which write and read real journal files (Debian's `systemd` and `systemd-journal-remote` packages)",
    ),
    (
        "systemd",
        "systemd-analyze and useradd, which check the unit `logward service install` writes (Debian's `systemd` and `passwd` packages)",
    ),
    (
        "rsyslog",
        "rsyslog and its TLS driver, which forward to the syslog input (apt-get install rsyslog rsyslog-gnutls)",
    ),
    (
        "wine",
        "Wine and mingw for scripts/wine-service-test.sh (checked by that script)",
    ),
];

/// The names in `LOGWARD_SKIP`; panics on a name no test knows, so a typo cannot skip silently.
fn requested_skips() -> Vec<String> {
    let text = std::env::var("LOGWARD_SKIP").unwrap_or_default();
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    for n in &names {
        assert!(
            SKIPPABLE.iter().any(|(known, _)| known == n),
            "LOGWARD_SKIP={text:?} names `{n}`, which is not a subject any test can skip; the names are: {}",
            SKIPPABLE
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    names
}

/// For a test that has found it cannot run its subject `name` (one of [`SKIPPABLE`]) because of `reason`:
/// panics with a message that says so and names the variable that would skip it, unless `LOGWARD_SKIP`
/// names `name`; then it prints that the test is skipped by request and returns false, and the test returns.
///
/// Use it where the check fails: `if !mounted && !require("tmpfs", "…") { return; }`.
#[must_use = "the test must return when this is false"]
pub fn require(name: &str, reason: &str) -> bool {
    assert!(
        SKIPPABLE.iter().any(|(known, _)| *known == name),
        "require({name:?}): not one of the names in SKIPPABLE"
    );
    if requested_skips().iter().any(|n| n == name) {
        eprintln!("SKIPPED by request (LOGWARD_SKIP names `{name}`): {reason}");
        return false;
    }
    panic!(
        "this test cannot run its subject: {reason}.\nProvide it, or set LOGWARD_SKIP={name} (comma-separated with other names) to skip such tests on purpose."
    );
}

/// A folder of the shared test data (`evtx`, `loghub`): `LOGWARD_SHARED_DATA/<sub>` when that variable is
/// set, else `../shared/data/<sub>` beside the repository. `None` when it is missing and `LOGWARD_SKIP`
/// names `data`; a panic when it is missing otherwise.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let root = std::env::var_os("LOGWARD_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let dir = root.join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    let _ = require(
        "data",
        &format!(
            "the shared test data folder {} is missing (the `shared` folder must sit beside the repository, or LOGWARD_SHARED_DATA must name its `data` folder)",
            dir.display()
        ),
    );
    None
}
