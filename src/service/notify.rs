//! The systemd notification protocol (`sd_notify(3)`): `READY=1` once the pipeline is up, a one-line
//! `STATUS=`, `WATCHDOG=1` while the pipeline is alive, `STOPPING=1` when a stop begins. Each message is
//! one datagram to the unix socket `NOTIFY_SOCKET` names (a path, or `@name` in the abstract namespace).
//!
//! Written by hand: it is one `sendto` of a short text on a socket std already speaks, and the crates for
//! it pull in more than the protocol. Without `NOTIFY_SOCKET` (not run by systemd, or `Type=simple`) it
//! does nothing.
//!
//! `WATCHDOG=1` is sent only while no pipeline thread is wedged ([`crate::observe::watchdog::wedged`]):
//! a pipeline thread that stops making progress stops the pings, and systemd restarts logward after
//! `WatchdogSec`. The pings go out every half of `WATCHDOG_USEC`, and a thread counts as wedged after the
//! same half, so a wedge is noticed within about 1.5 × `WatchdogSec`.

use crate::pipeline::shutdown::StopSignal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where notifications go; `None` of it when logward was not started by systemd with a notify socket.
pub struct Notifier {
    #[cfg(unix)]
    socket: std::os::unix::net::UnixDatagram,
    #[cfg(unix)]
    addr: std::os::unix::net::SocketAddr,
    /// Half of `WATCHDOG_USEC`, when systemd asked for pings (and they are for this process).
    watchdog_every: Option<Duration>,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` describes, if any (a malformed one is logged and ignored).
    pub fn from_env() -> Option<Notifier> {
        #[cfg(unix)]
        {
            let path = std::env::var_os("NOTIFY_SOCKET")?;
            let watchdog_every = watchdog_interval(
                std::env::var("WATCHDOG_USEC").ok().as_deref(),
                std::env::var("WATCHDOG_PID").ok().as_deref(),
                std::process::id(),
            );
            match open(&path) {
                Ok((socket, addr)) => Some(Notifier {
                    socket,
                    addr,
                    watchdog_every,
                }),
                Err(e) => {
                    tracing::warn!(socket = %path.to_string_lossy(),
                        "cannot use the systemd notification socket NOTIFY_SOCKET ({e}); systemd will not hear that logward is ready");
                    None
                }
            }
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// Sends one notification (`KEY=value` lines); a failure is logged, never fatal.
    pub fn send(&self, text: &str) {
        #[cfg(unix)]
        {
            use std::os::unix::net::UnixDatagram;
            let sent: std::io::Result<usize> =
                UnixDatagram::send_to_addr(&self.socket, text.as_bytes(), &self.addr);
            if let Err(e) = sent {
                tracing::debug!("cannot send {text:?} to systemd: {e}");
            }
        }
        #[cfg(not(unix))]
        {
            let _ = text;
        }
    }

    /// How often to ping the watchdog, when systemd asked for it.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog_every
    }
}

#[cfg(unix)]
fn open(
    path: &std::ffi::OsStr,
) -> std::io::Result<(
    std::os::unix::net::UnixDatagram,
    std::os::unix::net::SocketAddr,
)> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = path.as_bytes();
    let addr = if let Some(name) = bytes.strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            return Err(std::io::Error::other(
                "abstract socket names exist on Linux only",
            ));
        }
    } else if bytes.starts_with(b"/") {
        SocketAddr::from_pathname(path)?
    } else {
        return Err(std::io::Error::other(
            "NOTIFY_SOCKET is neither an absolute path nor @name",
        ));
    };
    Ok((UnixDatagram::unbound()?, addr))
}

/// Half of `WATCHDOG_USEC`, unless it is missing, not a positive number, or `WATCHDOG_PID` names
/// another process.
#[cfg(unix)]
fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(me)
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

/// The one-line `STATUS=`: what runs and what it has moved.
pub fn status_line() -> String {
    use crate::observe::component::{ERRORS, RECEIVED_EVENTS, SENT_EVENTS};
    use crate::observe::metrics::sum;
    let received = sum(RECEIVED_EVENTS, &[("component_kind", "input")]);
    let sent = sum(SENT_EVENTS, &[("component_kind", "output")]);
    let errors = sum(ERRORS, &[]);
    format!("running: {received} events read, {sent} delivered, {errors} errors")
}

/// Runs the notifications of a running pipeline on a thread of its own: `READY=1` now, then `STATUS=`
/// and (when systemd asked) `WATCHDOG=1` while no pipeline thread is wedged, and `STOPPING=1` when `stop`
/// is raised. The runtime gets a heartbeat of its own, so a wedged runtime stops the pings too. Returns the
/// thread, which ends after `STOPPING=1`; `None` without `NOTIFY_SOCKET`.
pub fn start(
    stop: StopSignal,
    runtime: &tokio::runtime::Handle,
) -> Option<std::thread::JoinHandle<()>> {
    let notifier = Notifier::from_env()?;
    if notifier.watchdog_every.is_some() {
        runtime.spawn(async {
            let (beat, _registration) = crate::observe::watchdog::register_detached("runtime");
            loop {
                beat.beat();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
    let spawned = std::thread::Builder::new()
        .name("sd-notify".into())
        .spawn(move || {
            notify_loop(&notifier, &stop, &|| {
                crate::observe::watchdog::wedged(
                    notifier.watchdog_every.unwrap_or(Duration::from_secs(60)),
                )
            })
        });
    match spawned {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!("cannot start the systemd notification thread: {e}");
            None
        }
    }
}

/// The notification loop; `wedged` says which pipeline threads are stuck.
fn notify_loop(
    notifier: &Notifier,
    stop: &StopSignal,
    wedged: &dyn Fn() -> Vec<crate::observe::watchdog::Wedged>,
) {
    notifier.send(&format!("READY=1\nSTATUS={}", status_line()));
    tracing::info!(watchdog = ?notifier.watchdog_every.map(|d| d * 2), "told systemd that logward is ready");
    let every = notifier
        .watchdog_every
        .unwrap_or(Duration::from_secs(5))
        .min(Duration::from_secs(5));
    let mut reported = false;
    while !stop.wait_timeout(every) {
        let stuck = wedged();
        if stuck.is_empty() {
            reported = false;
            let mut text = format!("STATUS={}", status_line());
            if notifier.watchdog_every.is_some() {
                text.push_str("\nWATCHDOG=1");
            }
            notifier.send(&text);
        } else {
            let names: Vec<String> = stuck
                .iter()
                .map(|w| format!("{} ({} s)", w.name, w.silent_for.as_secs()))
                .collect();
            notifier.send(&format!(
                "STATUS=wedged: {} makes no progress",
                names.join(", ")
            ));
            if !reported {
                reported = true;
                tracing::error!(threads = %names.join(", "),
                    "a pipeline thread makes no progress; the systemd watchdog is no longer told logward is alive, so systemd restarts it");
            }
        }
    }
    if RELOADING.load(Ordering::Relaxed) {
        // The next pipeline sends READY=1 when it is up.
        notifier.send("RELOADING=1\nSTATUS=reloading: draining in-flight events, then starting the new configuration");
    } else {
        notifier.send("STOPPING=1\nSTATUS=stopping: draining in-flight events");
    }
}

/// Whether the stop that is beginning is a reload (`RELOADING=1` instead of `STOPPING=1`).
static RELOADING: AtomicBool = AtomicBool::new(false);

/// Marks the stop that follows as a reload (`true`), or a reload as done (`false`).
pub fn set_reloading(reloading: bool) {
    RELOADING.store(reloading, Ordering::Relaxed);
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn watchdog_usec_is_halved_and_for_this_process_only() {
        assert_eq!(
            watchdog_interval(Some("4000000"), None, 7),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            watchdog_interval(Some("4000000"), Some("7"), 7),
            Some(Duration::from_secs(2))
        );
        assert_eq!(watchdog_interval(Some("4000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
    }

    /// A thread that stops beating stops the watchdog pings; they resume when it beats again.
    #[test]
    fn a_wedged_pipeline_thread_stops_the_watchdog_pings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (socket, addr) = open(path.as_os_str()).unwrap();
        let notifier = Notifier {
            socket,
            addr,
            watchdog_every: Some(Duration::from_millis(50)),
        };
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let wedge = std::thread::spawn(move || {
            let _reg = crate::observe::watchdog::register_thread("notify-test-wedged");
            crate::observe::watchdog::beat();
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        started_rx.recv().unwrap();
        let stop = StopSignal::new();
        let wedged_now = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let loop_thread = {
            let stop = stop.clone();
            let wedged_now = std::sync::Arc::clone(&wedged_now);
            std::thread::spawn(move || {
                // Only this test's thread, and only once the test says it is wedged: other tests'
                // heartbeats share the process.
                let check = move || {
                    crate::observe::watchdog::wedged(Duration::from_millis(50))
                        .into_iter()
                        .filter(|w| {
                            w.name == "notify-test-wedged"
                                && wedged_now.load(std::sync::atomic::Ordering::SeqCst)
                        })
                        .collect()
                };
                notify_loop(&notifier, &stop, &check);
            })
        };
        let mut buf = vec![0u8; 4096];
        let mut next = || {
            let n = listener.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        assert!(next().starts_with("READY=1\nSTATUS="));
        assert!(next().contains("WATCHDOG=1"));
        wedged_now.store(true, std::sync::atomic::Ordering::SeqCst);
        // Once the wedge is seen, statuses say so and no ping comes.
        let mut seen_wedged = 0;
        while seen_wedged < 5 {
            let m = next();
            if m.contains("wedged") {
                assert!(!m.contains("WATCHDOG=1"), "{m}");
                assert!(m.contains("notify-test-wedged"), "{m}");
                seen_wedged += 1;
            } else {
                assert_eq!(seen_wedged, 0, "a ping after the wedge was seen: {m}");
            }
        }
        release_tx.send(()).unwrap();
        wedge.join().unwrap();
        wedged_now.store(false, std::sync::atomic::Ordering::SeqCst);
        loop {
            if next().contains("WATCHDOG=1") {
                break;
            }
        }
        stop.stop();
        loop {
            if next().starts_with("STOPPING=1") {
                break;
            }
        }
        loop_thread.join().unwrap();
    }
}
