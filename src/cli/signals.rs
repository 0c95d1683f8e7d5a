//! Ctrl-C / SIGTERM handling: the first asks for a graceful stop, the second exits at once. Exiting at once
//! is safe: checkpoints only ever record acknowledged events, so unsent events are read again next time.

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
            let mut count = 0;
            loop {
                wait_for_signal().await;
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

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
