//! The stop signal shared by every part of a running pipeline, usable from threads and async tasks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Raised once to ask everything to stop. Cheap to clone.
#[derive(Clone)]
pub struct StopSignal(Arc<Inner>);

struct Inner {
    stopped: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
    tx: watch::Sender<bool>,
}

impl Default for StopSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl StopSignal {
    /// A signal not raised yet.
    pub fn new() -> StopSignal {
        let (tx, _rx) = watch::channel(false);
        StopSignal(Arc::new(Inner {
            stopped: AtomicBool::new(false),
            lock: Mutex::new(()),
            cv: Condvar::new(),
            tx,
        }))
    }

    /// Raises the signal (idempotent).
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        let _guard = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.0.cv.notify_all();
        self.0.tx.send_replace(true);
    }

    /// Whether the signal is raised. Every loop of a pipeline thread asks, so asking also tells the
    /// watchdog that the thread makes progress.
    pub fn is_stopped(&self) -> bool {
        crate::observe::watchdog::beat();
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d` on a thread, waking early when stopped. Returns whether it is stopped. The
    /// sleep is a wait on purpose: the watchdog does not count it as silence.
    pub fn wait_timeout(&self, d: Duration) -> bool {
        crate::observe::watchdog::waiting(|| {
            let guard = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
            if self.0.stopped.load(Ordering::SeqCst) {
                return;
            }
            let _unused = self.0.cv.wait_timeout(guard, d);
        });
        self.is_stopped()
    }

    /// Completes when the signal is raised.
    pub async fn stopped(&self) {
        let mut rx = self.0.tx.subscribe();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}
