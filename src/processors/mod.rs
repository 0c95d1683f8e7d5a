//! Processors: transformations applied to events between the inputs and the queue.
//!
//! A processor works on one event at a time and says whether to keep it. Failures never drop an event
//! silently: a processor that cannot do its job tags the event (e.g. `_grokparsefailure`) and counts it.

pub mod common;
pub mod condition;
pub mod config;
mod grok_limit;

crate::components! {
    kind: crate::component::ProcessorKind;
    grok,
    dissect,
    date,
    mutate,
    json,
    kv,
    drop,
    add_fields,
    auditd,
    fingerprint,
}

use crate::event::Event;
use crate::observe::component::{ComponentMetrics, Kind};

/// What happens to an event after a processor ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The processor did its job (or had nothing to do): its on-success actions apply, then the next
    /// processor runs.
    Keep,
    /// The processor could not do its job and tagged the event: the on-success actions are skipped, the
    /// event goes on.
    Failed,
    /// Remove it from the pipeline (the `drop` processor); counted by the chain.
    Drop,
}

/// One configured processor.
pub trait Processor: Send + Sync {
    /// A short name for logs and metrics labels (`grok`, `date`, …).
    fn name(&self) -> &str;
    /// Transforms `event` in place.
    fn process(&self, event: &mut Event) -> Verdict;
}

/// An ordered list of processors.
#[derive(Default)]
pub struct Chain {
    processors: Vec<Box<dyn Processor>>,
    dropped: crate::observe::metrics::Counter,
}

impl Chain {
    /// A chain running `processors` in order; `scope` names it in metrics (an input id or `global`).
    pub fn new(processors: Vec<Box<dyn Processor>>, scope: &str) -> Chain {
        let dropped = ComponentMetrics::new(Kind::Processor, scope, "drop").discarded(true);
        Chain {
            processors,
            dropped,
        }
    }

    /// Whether the chain does nothing.
    pub fn is_empty(&self) -> bool {
        self.processors.is_empty()
    }

    /// Runs every processor on every event, removing the dropped ones.
    pub fn run(&self, events: &mut Vec<Event>) {
        if self.processors.is_empty() {
            return;
        }
        let before = events.len();
        events.retain_mut(|event| {
            self.processors
                .iter()
                .all(|p| p.process(event) != Verdict::Drop)
        });
        self.dropped.add((before - events.len()) as u64);
    }
}
