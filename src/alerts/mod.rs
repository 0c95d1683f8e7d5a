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
}

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
        Ok(AlertStage { engine, outbox })
    }

    /// Runs the rules over a processed batch; returns the alerts that fired as events (their
    /// notifications are in the outbox already).
    pub fn process(&self, events: &[Event]) -> Vec<Event> {
        if self.engine.is_empty() || events.is_empty() {
            return Vec::new();
        }
        self.fired(self.engine.observe(events))
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
