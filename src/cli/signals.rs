//! Ctrl-C / SIGTERM handling: the first asks for a graceful stop, the second exits at once. Exiting at once
//! is safe: checkpoints only ever record acknowledged events, so unsent events are read again next time.
//! SIGHUP (`systemctl reload`, `kill -HUP`) reloads the configuration file: it is loaded and checked first,
//! and only a configuration without mistakes replaces the running one (see [`Reload`]); without a file (the
//! embedded demo) it is ignored with a log line. Dying undrained on it would be the worst answer.

use super::exit;
use crate::config::Config;
use crate::pipeline::shutdown::StopSignal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the signals act on: the running pipeline's stop signal (a new one for each pipeline a reload
/// starts) and, for `run -c FILE`, where a reload reads the configuration from.
#[derive(Clone)]
pub struct Target {
    current: Arc<Mutex<StopSignal>>,
    reload: Option<Arc<Reload>>,
    /// A stop was requested: a pipeline started after it (by a reload just then) stops at once.
    exiting: Arc<std::sync::atomic::AtomicBool>,
}

/// A reload's source and its result, waiting for the running pipeline to drain.
pub struct Reload {
    path: PathBuf,
    data_dir: Option<PathBuf>,
    /// The data folder of the running configuration: it cannot change without a restart (the lock, the
    /// registry and the queue live there).
    running_data_dir: Mutex<PathBuf>,
    next: Mutex<Option<Config>>,
}

impl Target {
    /// Signals for a pipeline stopped by `stop`; `reload` is the configuration file and the `--data-dir`
    /// override a SIGHUP reloads from (`None`: SIGHUP is ignored).
    pub fn new(stop: StopSignal, reload: Option<(PathBuf, Option<PathBuf>, PathBuf)>) -> Target {
        Target {
            current: Arc::new(Mutex::new(stop)),
            exiting: Arc::default(),
            reload: reload.map(|(path, data_dir, running)| {
                Arc::new(Reload {
                    path,
                    data_dir,
                    running_data_dir: Mutex::new(running),
                    next: Mutex::new(None),
                })
            }),
        }
    }

    /// The data folder of the configuration that runs (a reload may not move it).
    pub fn set_running_data_dir(&self, dir: PathBuf) {
        if let Some(r) = &self.reload
            && let Ok(mut d) = r.running_data_dir.lock()
        {
            *d = dir;
        }
    }

    /// The pipeline that runs from now on is stopped by `stop`.
    pub fn serve(&self, stop: StopSignal) {
        if let Ok(mut c) = self.current.lock() {
            *c = stop;
            if self.exiting.load(std::sync::atomic::Ordering::SeqCst) {
                c.stop();
            }
        }
    }

    /// The configuration a reload accepted, once; `None` when the pipeline stopped for good.
    pub fn take_reload(&self) -> Option<Config> {
        self.reload.as_ref()?.next.lock().ok()?.take()
    }

    fn stop_current(&self) {
        if let Ok(c) = self.current.lock() {
            c.stop();
        }
    }

    /// Whether a stop was requested (the process ends once the running pipeline has drained).
    pub fn exit_requested(&self) -> bool {
        self.exiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A stop request: no reload waits any more, the running pipeline drains and logward exits.
    pub fn request_stop(&self) {
        self.exiting
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(r) = &self.reload
            && let Ok(mut next) = r.next.lock()
        {
            next.take();
        }
        self.stop_current();
    }

    /// A reload request (SIGHUP; the Windows service's parameter-change control): loads and checks the file; a configuration without mistakes waits in `next` and the
    /// running pipeline is asked to drain, anything else leaves it running.
    pub fn request_reload(&self) {
        if self.exiting.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let Some(r) = &self.reload else {
            tracing::info!(
                "SIGHUP received and ignored: logward runs its embedded demo configuration, there is no file to reload (SIGTERM or Ctrl-C stops it gracefully)"
            );
            return;
        };
        let config = match super::run::load(Some(&r.path), r.data_dir.as_ref()) {
            Ok(c) => c,
            Err(errors) => {
                tracing::error!(
                    config = %r.path.display(),
                    "reload refused: the configuration has mistakes, the running one stays:\n{errors}"
                );
                return;
            }
        };
        let running = r
            .running_data_dir
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default();
        if config.data_dir != running {
            tracing::error!(
                config = %r.path.display(),
                "reload refused: data_dir changed from {} to {}; the registry, the queue and the lock live there, so restart logward to move it (the running configuration stays)",
                running.display(),
                config.data_dir.display()
            );
            return;
        }
        if let Ok(mut next) = r.next.lock() {
            *next = Some(config);
        }
        crate::service::notify::set_reloading(true);
        tracing::info!(config = %r.path.display(), "reloading: the new configuration is valid; draining the running pipeline, then starting it (logging settings apply at the next start)");
        self.stop_current();
    }
}

/// Starts a thread that stops the running pipeline on the first stop signal and exits the process on the
/// second, and reloads on SIGHUP.
pub fn install(target: Target) {
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            tracing::error!("cannot listen for Ctrl-C; stop logward with its service manager instead");
            return;
        };
        rt.block_on(async {
            let mut signals = Signals::new();
            let mut count = 0;
            loop {
                match signals.next().await {
                    Signal::Reload => target.request_reload(),
                    Signal::Stop => {
                        count += 1;
                        if count == 1 {
                            // Stop first: logging can fail (a closed stderr) and must not keep logward running.
                            target.request_stop();
                            tracing::info!("stop requested; press Ctrl-C again to exit at once");
                        } else {
                            tracing::warn!("second stop request: exiting now; unacknowledged events will be read again");
                            std::process::exit(exit::INTERRUPTED);
                        }
                    }
                }
            }
        });
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the signal thread: {e}");
    }
}

/// What a signal asks for.
enum Signal {
    Stop,
    #[cfg_attr(not(unix), allow(dead_code))]
    Reload,
}

/// The signal streams, registered once so no signal arrives while none is listening.
#[cfg(unix)]
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        let hangup = signal(SignalKind::hangup());
        if let Err(e) = &hangup {
            tracing::warn!(
                "cannot listen for SIGHUP ({e}); a SIGHUP will end logward without draining"
            );
        }
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            hangup: hangup.ok(),
        }
    }

    /// Waits for Ctrl-C, SIGTERM or SIGHUP.
    async fn next(&mut self) -> Signal {
        loop {
            let term = async {
                match &mut self.term {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let hangup = async {
                match &mut self.hangup {
                    Some(s) => s.recv().await.is_some(),
                    None => std::future::pending::<bool>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Signal::Stop,
                _ = term => return Signal::Stop,
                got = hangup => {
                    if got {
                        return Signal::Reload;
                    }
                }
            }
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> Signals {
        Signals
    }

    async fn next(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Stop
    }
}
