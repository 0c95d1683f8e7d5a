//! Alerting at the edge: rules evaluated on the events as they pass (after the processors), alerts
//! emitted as events to every output and sent through notifiers from a durable outbox.

pub mod config;
pub mod engine;
pub mod notify;
pub mod outbox;

pub use config::AlertsConfig;
pub use engine::{Alert, Engine};

use crate::event::Event;
use std::path::Path;
use std::sync::Arc;

/// The stage every event passes after the processors.
pub struct AlertStage {
    /// The rules.
    pub engine: Engine,
    /// Where notifications wait to be sent.
    pub outbox: Arc<outbox::Outbox>,
    /// Where the window state is saved (`<data_dir>/alerts/state.json`).
    state_file: std::path::PathBuf,
    /// Alert events on their way to the queue: a task on the runtime queues them, so an input thread
    /// never waits for room in the queue on their account (it may hold room the outputs need).
    events_tx: tokio::sync::mpsc::Sender<Vec<Event>>,
    events_rx: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Vec<Event>>>>,
    dropped: crate::observe::metrics::Counter,
}

/// How many batches of alert events may wait for the queue; beyond it they are dropped (and counted),
/// their notifications are in the outbox all the same.
const ALERT_EVENT_BACKLOG: usize = 1024;

impl AlertStage {
    /// Builds the rules and notifiers and opens the outbox in `data_dir`.
    pub fn build(cfg: &AlertsConfig, data_dir: &Path) -> anyhow::Result<AlertStage> {
        let engine = Engine::new(&cfg.rules).map_err(|e| anyhow::anyhow!(e))?;
        let notifiers = cfg
            .notifiers
            .iter()
            .map(|(name, n)| notify::Notifier::new(name, n))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let outbox = Arc::new(outbox::Outbox::open(data_dir, &cfg.outbox, notifiers)?);
        let state_file = data_dir.join("alerts").join("state.json");
        match std::fs::read(&state_file) {
            Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(snapshot) => {
                    let groups = engine.restore(&snapshot, engine::now_ms());
                    tracing::info!(groups, file = %state_file.display(), "alert window state restored");
                }
                Err(e) => tracing::warn!(
                    "the alert window state {} cannot be read ({e}); the rules start with empty windows",
                    state_file.display()
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "cannot read the alert window state {}: {e}; the rules start with empty windows",
                state_file.display()
            ),
        }
        let (events_tx, events_rx) = tokio::sync::mpsc::channel(ALERT_EVENT_BACKLOG);
        crate::observe::metrics::describe(
            "alert_events_dropped_total",
            "Alert events not sent to the outputs because too many waited for the queue (their notifications were sent).",
        );
        Ok(AlertStage {
            engine,
            outbox,
            state_file,
            events_tx,
            events_rx: std::sync::Mutex::new(Some(events_rx)),
            dropped: crate::observe::metrics::counter("alert_events_dropped_total", &[]),
        })
    }

    /// Saves the rules' window state in the data folder (atomically), so a restart goes on with it.
    pub fn save_state(&self) {
        if self.engine.is_empty() {
            return;
        }
        let bytes = serde_json::to_vec(&self.engine.snapshot()).unwrap_or_default();
        if let Err(e) = crate::util::fs::write_atomic(&self.state_file, &bytes, true) {
            tracing::warn!(
                "cannot save the alert window state to {}: {e}",
                self.state_file.display()
            );
        }
    }

    /// Runs the rules over a processed batch; the alerts that fired go to the outbox and, as events, to
    /// the queue (through [`AlertStage::take_events`]'s receiver). Never waits.
    pub fn process(&self, events: &[Event]) {
        if self.engine.is_empty() || events.is_empty() {
            return;
        }
        let fired = self.fired(self.engine.observe(events));
        if !fired.is_empty() {
            let n = fired.len() as u64;
            if self.events_tx.try_send(fired).is_err() {
                self.dropped.add(n);
            }
        }
    }

    /// The receiving end of the alert events (once).
    pub fn take_events(&self) -> Option<tokio::sync::mpsc::Receiver<Vec<Event>>> {
        self.events_rx.lock().ok()?.take()
    }

    /// Checks the rules that fire on silence; returns their alerts as events.
    pub fn tick(&self) -> Vec<Event> {
        self.fired(self.engine.tick())
    }

    fn fired(&self, alerts: Vec<Alert>) -> Vec<Event> {
        alerts
            .into_iter()
            .map(|a| {
                tracing::warn!(rule = %a.rule, group = %a.group, count = a.count, priority = a.priority.name(), "alert: {}", a.summary());
                self.outbox.enqueue(&a);
                a.to_event()
            })
            .collect()
    }
}
