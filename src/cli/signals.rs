//! Ctrl-C / SIGTERM handling: the first asks for a graceful stop, the second exits at once. Exiting at once
//! is safe: checkpoints only ever record acknowledged events, so unsent events are read again next time.
//! SIGHUP (a closed terminal, or `systemctl reload` / `kill -HUP` out of habit) is ignored with a log line:
//! logward does not reload its configuration, and dying undrained on it would be the worst answer.

use super::exit;
use crate::pipeline::shutdown::StopSignal;

/// Starts a thread that raises `stop` on the first signal and exits the process on the second.
pub fn install(stop: StopSignal) {
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            tracing::error!("cannot listen for Ctrl-C; stop logward with its service manager instead");
            return;
        };
        rt.block_on(async {
            let mut signals = Signals::new();
            let mut count = 0;
            loop {
                signals.next_stop().await;
                count += 1;
                if count == 1 {
                    // Stop first: logging can fail (a closed stderr) and must not keep logward running.
                    stop.stop();
                    tracing::info!("stop requested; press Ctrl-C again to exit at once");
                } else {
                    tracing::warn!("second stop request: exiting now; unacknowledged events will be read again");
                    std::process::exit(exit::INTERRUPTED);
                }
            }
        });
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the signal thread: {e}");
    }
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

    /// Waits for Ctrl-C or SIGTERM; logs and ignores every SIGHUP meanwhile.
    async fn next_stop(&mut self) {
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
                _ = tokio::signal::ctrl_c() => return,
                _ = term => return,
                got = hangup => {
                    if got {
                        tracing::info!("SIGHUP received and ignored: logward does not reload its configuration; restart it to apply changes (SIGTERM or Ctrl-C stops it gracefully)");
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

    async fn next_stop(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
