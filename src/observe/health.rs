//! What each component is doing right now (running, retrying since when, failing with which error, when
//! it last delivered) and whether the agent as a whole is ready: the answers behind `/health/ready` and
//! `/status`. Components report through a [`ComponentHealth`] handle; updates are a few relaxed atomics,
//! plus a lock only when an error is recorded.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How a component is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Working (or idle with nothing to do).
    Running,
    /// Its last attempt failed with an error worth retrying; it keeps trying.
    Retrying,
    /// Its last attempt failed with an error that needs attention, or it stopped with an error.
    Failing,
    /// It ended without an error (an input that read everything it was given).
    Stopped,
}

impl State {
    /// The name shown in `/status`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Retrying => "retrying",
            State::Failing => "failing",
            State::Stopped => "stopped",
        }
    }
}

/// One component's live state.
#[derive(Debug)]
pub struct ComponentHealth {
    /// `input` or `output`.
    pub kind: &'static str,
    /// The component's id.
    pub id: String,
    /// The component's type (`file`, `elasticsearch`, …).
    pub component_type: &'static str,
    /// Batches being sent right now (outputs).
    in_flight: AtomicI64,
    /// When the output last made progress while busy: became busy, or delivered (Unix ms).
    progress_ms: AtomicU64,
    /// When the output last delivered a batch (Unix ms, 0 = never).
    last_delivered_ms: AtomicU64,
    /// When the current run of failures began (Unix ms, 0 = not failing).
    retrying_since_ms: AtomicU64,
    /// Whether the last failure needs attention rather than a retry.
    fatal: AtomicBool,
    /// Whether the component has ended.
    stopped: AtomicBool,
    /// The last error and when it happened (Unix ms).
    last_error: Mutex<Option<(u64, String)>>,
}

impl ComponentHealth {
    /// A batch is being sent.
    pub fn batch_started(&self) {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.progress_ms.store(unix_ms(), Ordering::Relaxed);
        }
    }

    /// The batch's sending ended: `delivered` when the destination settled it (stored or rejected),
    /// false when a shutdown abandoned it.
    pub fn batch_finished(&self, delivered: bool) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if delivered {
            let now = unix_ms();
            self.progress_ms.store(now, Ordering::Relaxed);
            self.last_delivered_ms.store(now, Ordering::Relaxed);
            self.retrying_since_ms.store(0, Ordering::Relaxed);
            self.fatal.store(false, Ordering::Relaxed);
        }
    }

    /// An attempt failed with `message`; `fatal` when it needs attention rather than a retry.
    pub fn failed(&self, message: &str, fatal: bool) {
        let now = unix_ms();
        let _ =
            self.retrying_since_ms
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.fatal.store(fatal, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, message.into()));
    }

    /// The component ended; with the error it ended with, if any.
    pub fn ended(&self, error: Option<&str>) {
        if let Some(message) = error {
            self.failed(message, true);
        }
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// What it is doing now.
    pub fn state(&self) -> State {
        let stopped = self.stopped.load(Ordering::Relaxed);
        let failing_since = self.retrying_since_ms.load(Ordering::Relaxed);
        match (
            stopped,
            failing_since != 0,
            self.fatal.load(Ordering::Relaxed),
        ) {
            (_, true, true) => State::Failing,
            (true, _, _) => State::Stopped,
            (false, true, false) => State::Retrying,
            (false, false, _) => State::Running,
        }
    }

    /// When the current run of failures began (Unix ms).
    pub fn retrying_since_ms(&self) -> Option<u64> {
        Some(self.retrying_since_ms.load(Ordering::Relaxed)).filter(|&t| t != 0)
    }

    /// When it last delivered (Unix ms).
    pub fn last_delivered_ms(&self) -> Option<u64> {
        Some(self.last_delivered_ms.load(Ordering::Relaxed)).filter(|&t| t != 0)
    }

    /// The last error and when it happened (Unix ms).
    pub fn last_error(&self) -> Option<(u64, String)> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How long a busy output has gone without delivering; `None` when it has nothing in flight.
    pub fn stalled_for(&self, now_ms: u64) -> Option<Duration> {
        (self.in_flight.load(Ordering::Relaxed) > 0).then(|| {
            Duration::from_millis(now_ms.saturating_sub(self.progress_ms.load(Ordering::Relaxed)))
        })
    }
}

#[derive(Default)]
struct Registry {
    components: Vec<Arc<ComponentHealth>>,
    /// The queue: its type and the level (events for memory, bytes for disk) that counts as full.
    queue: Option<(&'static str, u64)>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

fn lock() -> std::sync::MutexGuard<'static, Registry> {
    registry().lock().unwrap_or_else(|e| e.into_inner())
}

/// The health handle of a component, created on first use (a restarted pipeline gets the same one).
pub fn component(
    kind: &'static str,
    id: &str,
    component_type: &'static str,
) -> Arc<ComponentHealth> {
    let mut reg = lock();
    if let Some(c) = reg.components.iter().find(|c| c.kind == kind && c.id == id) {
        return Arc::clone(c);
    }
    let c = Arc::new(ComponentHealth {
        kind,
        id: id.to_string(),
        component_type,
        in_flight: AtomicI64::new(0),
        progress_ms: AtomicU64::new(0),
        last_delivered_ms: AtomicU64::new(0),
        retrying_since_ms: AtomicU64::new(0),
        fatal: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
        last_error: Mutex::new(None),
    });
    reg.components.push(Arc::clone(&c));
    c
}

/// Every component's health handle, in registration order (inputs and outputs in config order).
pub fn components() -> Vec<Arc<ComponentHealth>> {
    lock().components.clone()
}

/// Declares the queue: `memory` (the limit in events) or `disk` (in bytes).
pub fn set_queue(buffer_type: &'static str, limit: u64) {
    lock().queue = Some((buffer_type, limit));
}

/// The queue's type, how full it is and its limit (events for memory, bytes for disk).
pub fn queue_usage() -> Option<(&'static str, u64, u64)> {
    let (buffer_type, limit) = lock().queue?;
    let name = if buffer_type == "disk" {
        super::component::BUFFER_BYTE_SIZE
    } else {
        super::component::BUFFER_EVENTS
    };
    let used = super::metrics::gauge_sum(name, &[("buffer_type", buffer_type)]).max(0) as u64;
    Some((buffer_type, used, limit))
}

/// Where the pipeline is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Configuration loaded, components being started.
    Starting,
    /// Every component started.
    Running,
    /// A stop was requested; draining.
    Stopping,
}

static PHASE: AtomicU64 = AtomicU64::new(0);
static STARTED_MS: AtomicU64 = AtomicU64::new(0);

/// Records where the pipeline is in its life.
pub fn set_phase(phase: Phase) {
    if phase == Phase::Starting {
        STARTED_MS.store(unix_ms(), Ordering::Relaxed);
    }
    PHASE.store(phase as u64, Ordering::Relaxed);
}

/// Where the pipeline is in its life.
pub fn phase() -> Phase {
    match PHASE.load(Ordering::Relaxed) {
        1 => Phase::Running,
        2 => Phase::Stopping,
        _ => Phase::Starting,
    }
}

/// When the pipeline started (Unix ms, 0 before).
pub fn started_ms() -> u64 {
    STARTED_MS.load(Ordering::Relaxed)
}

/// Why the agent is not ready.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cause {
    /// The component at fault (`pipeline`, `queue`, or a component id).
    pub component: String,
    /// What is wrong, in plain words.
    pub reason: String,
}

/// The share of the queue's limit above which the agent stops being ready: inputs are about to wait.
pub const QUEUE_HIGH_WATER: f64 = 0.9;

/// Why the agent is not ready (empty when it is): the pipeline must be running, the queue below its
/// high-water mark, and every output must have delivered within `deliver_within` of becoming busy.
pub fn not_ready(deliver_within: Duration) -> Vec<Cause> {
    let mut causes = Vec::new();
    match phase() {
        Phase::Running => {}
        Phase::Starting => causes.push(Cause {
            component: "pipeline".into(),
            reason: "starting".into(),
        }),
        Phase::Stopping => causes.push(Cause {
            component: "pipeline".into(),
            reason: "stopping".into(),
        }),
    }
    if let Some((buffer_type, used, limit)) = queue_usage()
        && limit > 0
        && used as f64 >= limit as f64 * QUEUE_HIGH_WATER
    {
        let unit = if buffer_type == "disk" {
            "bytes"
        } else {
            "events"
        };
        causes.push(Cause {
            component: "queue".into(),
            reason: format!(
                "the {buffer_type} queue holds {used} of {limit} {unit}, above its high-water mark of {:.0}%",
                QUEUE_HIGH_WATER * 100.0
            ),
        });
    }
    let now = unix_ms();
    for c in components().iter().filter(|c| c.kind == "output") {
        let Some(stalled) = c.stalled_for(now) else {
            continue;
        };
        if stalled <= deliver_within {
            continue;
        }
        let error = c
            .last_error()
            .map(|(_, e)| format!("; last error: {e}"))
            .unwrap_or_default();
        causes.push(Cause {
            component: c.id.clone(),
            reason: format!(
                "output `{}` has not delivered for {}s (allowed: {}s){error}",
                c.id,
                stalled.as_secs(),
                deliver_within.as_secs()
            ),
        });
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_that_cannot_deliver_goes_from_retrying_to_not_ready_and_back() {
        let c = component("output", "health-test-out", "elasticsearch");
        assert_eq!(c.state(), State::Running);
        c.batch_started();
        c.failed("connection refused", false);
        assert_eq!(c.state(), State::Retrying);
        assert!(c.retrying_since_ms().is_some());
        let stalled = |within| {
            not_ready(within)
                .into_iter()
                .filter(|x| x.component == "health-test-out")
                .count()
        };
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(stalled(Duration::ZERO), 1);
        assert_eq!(stalled(Duration::from_secs(3600)), 0);
        c.batch_finished(true);
        assert_eq!(c.state(), State::Running);
        assert!(c.last_delivered_ms().is_some());
        assert_eq!(stalled(Duration::ZERO), 0);
        c.failed("mapping conflict", true);
        assert_eq!(c.state(), State::Failing);
        assert_eq!(
            c.last_error().map(|(_, e)| e).as_deref(),
            Some("mapping conflict")
        );
    }
}
