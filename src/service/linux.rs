//! The systemd service on Linux: `install` writes a hardened `Type=notify` unit and creates the system
//! user it runs as, `uninstall` removes both, `start`/`stop`/`status` run systemctl. With `--root DIR`
//! everything happens under DIR (the unit in `DIR/etc/systemd/system`, the user in `DIR/etc/passwd` with
//! `useradd --prefix`) and systemctl is not called, for images built offline.

use super::ServiceCommand;
use crate::cli::exit;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The comment line that records the user `install` created (so `uninstall` removes only that one).
const CREATED_USER: &str = "# logward-created-user: ";

/// Runs a `service` subcommand; returns the exit code.
pub fn dispatch(cmd: ServiceCommand) -> i32 {
    let result = match cmd {
        ServiceCommand::Install {
            config,
            name,
            account,
            data_dir,
            root,
            read_write,
            watchdog_sec,
        } => install(&Install {
            config,
            name,
            user: account,
            data_dir,
            root,
            read_write,
            watchdog_sec,
        }),
        ServiceCommand::Uninstall { name, root } => uninstall(&name, root.as_deref()),
        ServiceCommand::Start { name } => systemctl(&["start", &unit_name(&name)]),
        ServiceCommand::Stop { name } => systemctl(&["stop", &unit_name(&name)]),
        ServiceCommand::Reload { name } => systemctl(&["reload", &unit_name(&name)]),
        ServiceCommand::Status { name } => {
            // systemctl's own exit code says whether it runs (0) or not (3).
            return match Command::new("systemctl")
                .args(["status", "--no-pager", &unit_name(&name)])
                .status()
            {
                Ok(s) => s.code().unwrap_or(exit::FAILURE),
                Err(e) => {
                    eprintln!("logward service: cannot run systemctl ({e}); is this a systemd machine?");
                    exit::FAILURE
                }
            };
        }
        ServiceCommand::Run { .. } => Err(
            "`service run` is the Windows service entry point; under systemd the unit runs `logward run`".into(),
        ),
    };
    match result {
        Ok(message) => {
            println!("{message}");
            exit::OK
        }
        Err(message) => {
            eprintln!("logward service: {message}");
            exit::FAILURE
        }
    }
}

struct Install {
    config: PathBuf,
    name: String,
    user: Option<String>,
    data_dir: Option<PathBuf>,
    root: Option<PathBuf>,
    read_write: Vec<PathBuf>,
    watchdog_sec: u64,
}

fn unit_name(name: &str) -> String {
    format!("{name}.service")
}

fn unit_dir(root: Option<&Path>) -> PathBuf {
    match root {
        Some(r) => r.join("etc/systemd/system"),
        None => PathBuf::from("/etc/systemd/system"),
    }
}

/// A name systemd and useradd both accept for a service and its user.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Whether `user` exists (in `root/etc/passwd` with a root, else in the system's user database).
fn user_exists(user: &str, root: Option<&Path>) -> bool {
    match root {
        Some(r) => std::fs::read_to_string(r.join("etc/passwd"))
            .map(|t| t.lines().any(|l| l.split(':').next() == Some(user)))
            .unwrap_or(false),
        None => Command::new("getent")
            .args(["passwd", user])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false),
    }
}

fn run_tool(program: &str, args: &[String]) -> Result<(), String> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        format!("cannot run {program} ({e}); install it (Debian: the passwd and systemd packages)")
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A path as a unit file may hold it (systemd splits on spaces and expands `%` and `\`).
fn unit_path(p: &Path) -> Result<String, String> {
    let s = p.to_str().ok_or_else(|| {
        format!(
            "{} is not valid UTF-8; systemd units need text paths",
            p.display()
        )
    })?;
    if s.contains(|c: char| c.is_whitespace() || c == '%' || c == '\\' || c == '"' || c == '\'') {
        return Err(format!(
            "{s} holds a space, quote, `%` or `\\`; choose a path without them for the service"
        ));
    }
    Ok(s.to_string())
}

/// What the unit file says.
struct Unit<'a> {
    exe: &'a str,
    config: &'a str,
    data_dir: &'a str,
    user: &'a str,
    created_user: bool,
    read_write: &'a [String],
    state_directory: Option<&'a str>,
    watchdog_sec: u64,
    stop_timeout_sec: u64,
}

/// The unit file's text.
fn unit_text(u: &Unit<'_>) -> String {
    let Unit {
        exe,
        config,
        data_dir,
        user,
        created_user,
        read_write,
        state_directory,
        watchdog_sec,
        stop_timeout_sec,
    } = *u;
    let mut t = String::new();
    t.push_str("# Written by `logward service install`; `logward service uninstall` removes it.\n");
    if created_user {
        t.push_str(&format!("{CREATED_USER}{user}\n"));
    }
    t.push_str(&format!(
        "[Unit]\nDescription=logward log collector\nAfter=network-online.target\nWants=network-online.target\n\n\
[Service]\nType=notify\nNotifyAccess=main\nExecStart={exe} run -c {config} --data-dir {data_dir}\n\
# SIGHUP reloads the configuration once it passes `logward check`.\nExecReload=/bin/kill -HUP $MAINPID\n\
User={user}\nGroup={user}\nRestart=always\nRestartSec=5\n\
# logward sends WATCHDOG=1 only while none of its pipeline threads is wedged.\nWatchdogSec={watchdog_sec}\n\
# SIGTERM drains in-flight events and saves the checkpoints (shutdown_timeout, plus a margin).\nTimeoutStopSec={stop_timeout_sec}\n"
    ));
    if let Some(s) = state_directory {
        t.push_str(&format!("StateDirectory={s}\nStateDirectoryMode=0700\n"));
    }
    t.push_str(
        "# Read every log (journal files, /var/log) without being root; write only where listed.\n\
CapabilityBoundingSet=CAP_DAC_READ_SEARCH\nAmbientCapabilities=CAP_DAC_READ_SEARCH\nNoNewPrivileges=yes\n\
ProtectSystem=strict\nProtectHome=read-only\nPrivateTmp=yes\nProtectKernelTunables=yes\nProtectControlGroups=yes\n",
    );
    for p in read_write {
        t.push_str(&format!("ReadWritePaths=-{p}\n"));
    }
    t.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    t
}

fn install(i: &Install) -> Result<String, String> {
    if !valid_name(&i.name) {
        return Err(format!(
            "`{}` cannot name a service: use lower-case letters, digits, `-` and `_` (at most 32)",
            i.name
        ));
    }
    let user = i.user.clone().unwrap_or_else(|| i.name.clone());
    if !valid_name(&user) {
        return Err(format!(
            "`{user}` cannot name a system user: use lower-case letters, digits, `-` and `_` (at most 32)"
        ));
    }
    if user == "root" {
        return Err(
            "the service runs as a dedicated user, not root; leave --account out to create one"
                .into(),
        );
    }
    let config = std::path::absolute(&i.config)
        .map_err(|e| format!("cannot resolve {}: {e}", i.config.display()))?;
    let loaded = crate::config::load_file(&config).map_err(|errors| {
        format!("the configuration is not valid, so the service would not start:\n{errors}")
    })?;
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find logward's own path: {e}"))?;
    let state_default = PathBuf::from("/var/lib").join(&i.name);
    let data_dir = match &i.data_dir {
        Some(d) => {
            std::path::absolute(d).map_err(|e| format!("cannot resolve {}: {e}", d.display()))?
        }
        None => state_default.clone(),
    };
    // systemd creates /var/lib/<name> for the user; another data folder must exist and be writable.
    let state_directory = (data_dir == state_default).then(|| i.name.clone());
    let mut read_write = vec![unit_path(&data_dir)?];
    if let Some(q) = &loaded.queue.path {
        read_write.push(unit_path(q)?);
    }
    for p in &i.read_write {
        let p =
            std::path::absolute(p).map_err(|e| format!("cannot resolve {}: {e}", p.display()))?;
        read_write.push(unit_path(&p)?);
    }
    read_write.dedup();
    let root = i.root.as_deref();
    let dir = unit_dir(root);
    let path = dir.join(unit_name(&i.name));
    if path.exists() {
        return Err(format!(
            "{} exists already: `logward service uninstall --name {}` first, or choose another --name",
            path.display(),
            i.name
        ));
    }
    let created_user = !user_exists(&user, root);
    if created_user {
        let mut args: Vec<String> = vec![
            "--system".into(),
            "--no-create-home".into(),
            "--home-dir".into(),
            data_dir.display().to_string(),
            "--shell".into(),
            "/usr/sbin/nologin".into(),
            "--user-group".into(),
            "--comment".into(),
            "logward log collector".into(),
        ];
        if let Some(r) = root {
            args.push("--prefix".into());
            args.push(r.display().to_string());
        }
        args.push(user.clone());
        run_tool("useradd", &args)?;
    }
    let stop_timeout = loaded.shutdown_timeout.get().as_secs() + 15;
    let text = unit_text(&Unit {
        exe: &unit_path(&exe)?,
        config: &unit_path(&config)?,
        data_dir: &unit_path(&data_dir)?,
        user: &user,
        created_user,
        read_write: &read_write,
        state_directory: state_directory.as_deref(),
        watchdog_sec: i.watchdog_sec.max(1),
        stop_timeout_sec: stop_timeout,
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    crate::util::fs::write_atomic(&path, text.as_bytes(), true)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if root.is_none() {
        run_tool("systemctl", &["daemon-reload".into()])?;
        run_tool("systemctl", &["enable".into(), unit_name(&i.name)])?;
    }
    let user_note = if created_user {
        format!("created the system user `{user}`")
    } else {
        format!("runs as the existing user `{user}`")
    };
    let next = if root.is_none() {
        format!("; start it with `logward service start --name {}`", i.name)
    } else {
        String::new()
    };
    Ok(format!("installed {} ({user_note}){next}", path.display()))
}

fn uninstall(name: &str, root: Option<&Path>) -> Result<String, String> {
    if !valid_name(name) {
        return Err(format!("`{name}` cannot name a service"));
    }
    let path = unit_dir(root).join(unit_name(name));
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {} ({e}): is the service `{name}` installed (see --name)?",
            path.display()
        )
    })?;
    if !text.starts_with("# Written by `logward service install`") {
        return Err(format!(
            "{} was not written by `logward service install`; it is left alone",
            path.display()
        ));
    }
    if root.is_none() {
        // Stopping drains and saves the checkpoints; a unit that is not running is fine.
        let _ = run_tool(
            "systemctl",
            &["disable".into(), "--now".into(), unit_name(name)],
        );
    }
    std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    if root.is_none() {
        run_tool("systemctl", &["daemon-reload".into()])?;
    }
    let created = text
        .lines()
        .find_map(|l| l.strip_prefix(CREATED_USER))
        .map(str::trim)
        .filter(|u| valid_name(u));
    let mut removed = String::new();
    if let Some(user) = created
        && user_exists(user, root)
    {
        let mut args: Vec<String> = Vec::new();
        if let Some(r) = root {
            args.push("--prefix".into());
            args.push(r.display().to_string());
        }
        args.push(user.to_string());
        run_tool("userdel", &args)?;
        // The user's own group, when userdel left it.
        if group_exists(user, root) {
            run_tool("groupdel", &args)?;
        }
        removed = format!(" and the system user `{user}`");
    }
    Ok(format!(
        "removed {}{removed}; the data folder (checkpoints, queue) is kept",
        path.display()
    ))
}

fn group_exists(group: &str, root: Option<&Path>) -> bool {
    match root {
        Some(r) => std::fs::read_to_string(r.join("etc/group"))
            .map(|t| t.lines().any(|l| l.split(':').next() == Some(group)))
            .unwrap_or(false),
        None => Command::new("getent")
            .args(["group", group])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false),
    }
}

fn systemctl(args: &[&str]) -> Result<String, String> {
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run_tool("systemctl", &owned)?;
    Ok(format!("systemctl {}: done", args.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_a_unit_can_hold() {
        assert!(valid_name("logward"));
        assert!(valid_name("logward-2"));
        assert!(!valid_name("Logward"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
        assert!(unit_path(Path::new("/etc/logward/a.yml")).is_ok());
        assert!(unit_path(Path::new("/etc/log ward/a.yml")).is_err());
        assert!(unit_path(Path::new("/etc/50%/a.yml")).is_err());
    }
}
