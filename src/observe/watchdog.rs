//! Is the process still making progress? Each pipeline thread registers a heartbeat and beats it whenever
//! it looks at its stop signal (every loop of an input does); the async runtime beats from a task of its
//! own. A heartbeat that has not moved for the watchdog's timeout, while its thread is not waiting on
//! purpose (for room in the queue, or in an idle sleep), names a wedged thread, and liveness fails.
//!
//! A beat costs a thread-local lookup and one clock read; threads that never registered pay only the
//! lookup.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One thread's (or the runtime's) sign of life.
#[derive(Debug)]
pub struct Heartbeat {
    name: String,
    /// Milliseconds since [`epoch`] at the last beat.
    last: AtomicU64,
    /// Set while the thread waits on purpose: its silence then says nothing about it being stuck.
    waiting: AtomicBool,
}

impl Heartbeat {
    /// Records progress now.
    pub fn beat(&self) {
        self.last.store(now_ms(), Ordering::Relaxed);
    }

    /// The name it was registered with (`input-<id>`, `runtime`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long since the last beat, unless the thread is waiting on purpose.
    fn silent_for(&self, now: u64) -> Option<Duration> {
        if self.waiting.load(Ordering::Relaxed) {
            return None;
        }
        Some(Duration::from_millis(
            now.saturating_sub(self.last.load(Ordering::Relaxed)),
        ))
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn heartbeats() -> &'static Mutex<Vec<Arc<Heartbeat>>> {
    static ALL: OnceLock<Mutex<Vec<Arc<Heartbeat>>>> = OnceLock::new();
    ALL.get_or_init(Mutex::default)
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Heartbeat>>> = const { RefCell::new(None) };
}

/// Unregisters the heartbeat when the thread's work ends (a finished input is not a wedged one).
#[must_use = "the heartbeat is unregistered when this is dropped"]
pub struct Registration(Arc<Heartbeat>);

impl Drop for Registration {
    fn drop(&mut self) {
        heartbeats()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|h| !Arc::ptr_eq(h, &self.0));
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.as_ref().is_some_and(|h| Arc::ptr_eq(h, &self.0)) {
                *c = None;
            }
        });
    }
}

/// A heartbeat watched by the watchdog, not tied to a thread (the runtime's, beaten by a task).
pub fn register_detached(name: &str) -> (Arc<Heartbeat>, Registration) {
    let h = Arc::new(Heartbeat {
        name: name.to_string(),
        last: AtomicU64::new(now_ms()),
        waiting: AtomicBool::new(false),
    });
    heartbeats()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::clone(&h));
    (Arc::clone(&h), Registration(h))
}

/// Registers the calling thread under `name`; [`beat`] and [`waiting`] on this thread then refer to it.
pub fn register_thread(name: &str) -> Registration {
    let (h, reg) = register_detached(name);
    CURRENT.with(|c| *c.borrow_mut() = Some(h));
    reg
}

/// Records progress of the calling thread, if it registered.
pub fn beat() {
    CURRENT.with(|c| {
        if let Some(h) = c.borrow().as_ref() {
            h.beat();
        }
    });
}

/// Runs `f`, a wait the thread does on purpose (for room in the queue, an idle sleep), with the
/// thread's silence excused; beats before and after.
pub fn waiting<R>(f: impl FnOnce() -> R) -> R {
    let current = CURRENT.with(|c| c.borrow().clone());
    let Some(h) = current else {
        return f();
    };
    h.beat();
    // Nested waits keep the outer one's mark.
    let was = h.waiting.swap(true, Ordering::Relaxed);
    let r = f();
    h.waiting.store(was, Ordering::Relaxed);
    h.beat();
    r
}

/// A heartbeat silent for longer than the timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wedged {
    /// The heartbeat's name.
    pub name: String,
    /// How long it has been silent.
    pub silent_for: Duration,
}

/// Every registered heartbeat that has been silent (and not waiting) for longer than `timeout`.
pub fn wedged(timeout: Duration) -> Vec<Wedged> {
    let now = now_ms();
    heartbeats()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(|h| {
            let silent_for = h.silent_for(now)?;
            (silent_for > timeout).then(|| Wedged {
                name: h.name.clone(),
                silent_for,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_thread_is_wedged_unless_it_waits_on_purpose() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _reg = register_thread("watchdog-test-silent");
            beat();
            started_tx.send(()).unwrap();
            // Blocks without beating, as a thread stuck in a system call would.
            let _ = rx.recv();
        });
        started_rx.recv().unwrap();
        let names = |timeout| -> Vec<String> {
            wedged(timeout)
                .into_iter()
                .map(|w| w.name)
                .filter(|n| n.starts_with("watchdog-test"))
                .collect()
        };
        // Silent for longer than a zero timeout as soon as a millisecond passes.
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(names(Duration::ZERO), ["watchdog-test-silent"]);
        assert!(names(Duration::from_secs(3600)).is_empty());
        tx.send(()).unwrap();
        t.join().unwrap();
        // A finished thread unregistered itself.
        assert!(names(Duration::ZERO).is_empty());

        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _reg = register_thread("watchdog-test-waiting");
            waiting(|| {
                started_tx.send(()).unwrap();
                let _ = rx.recv();
            });
        });
        started_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(names(Duration::ZERO).is_empty());
        tx.send(()).unwrap();
        t.join().unwrap();
    }
}
