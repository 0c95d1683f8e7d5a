//! What an input holds to hand its batches to the pipeline: processors run on the input's own thread
//! (so several inputs parse in parallel), then the batch enters the queue.

use super::ack::{AckRef, AckStatus};
use super::queue::{Closed, QueueWriter};
use crate::event::Event;
use crate::observe::component::ComponentMetrics;
use crate::observe::metrics::Counter;
use crate::processors::Chain;
use std::sync::Arc;

/// An input's handle on the pipeline.
#[derive(Clone)]
pub struct EventSender {
    input_chain: Arc<Chain>,
    global_chain: Arc<Chain>,
    queue: QueueWriter,
    received: Counter,
    sent: Counter,
    /// The alert rules every processed event passes, when `alerts:` has any.
    alerts: Option<Arc<crate::alerts::AlertStage>>,
}

impl EventSender {
    /// A sender for the input whose metrics are `input`: what the input read counts as received, what
    /// enters the queue after the processors as sent.
    pub fn new(
        input: &ComponentMetrics,
        input_chain: Arc<Chain>,
        global_chain: Arc<Chain>,
        queue: QueueWriter,
    ) -> EventSender {
        EventSender {
            input_chain,
            global_chain,
            queue,
            received: input.received_events(),
            sent: input.sent_events(),
            alerts: None,
        }
    }

    /// The same sender, with every processed event passing the alert rules too.
    pub fn with_alerts(mut self, alerts: Option<Arc<crate::alerts::AlertStage>>) -> EventSender {
        self.alerts = alerts;
        self
    }

    /// Runs the alert rules over a processed batch (their events reach the queue from the runtime).
    fn alerts_for(&self, events: &[Event]) {
        if let Some(a) = &self.alerts {
            a.process(events);
        }
    }

    fn process(&self, events: &mut Vec<Event>) {
        self.received.add(events.len() as u64);
        self.input_chain.run(events);
        self.global_chain.run(events);
        self.sent.add(events.len() as u64);
    }

    /// Processes and queues a batch, waiting while the queue is full. For input threads.
    pub fn send_blocking(&self, events: Vec<Event>, ack: AckRef) -> Result<(), Closed> {
        self.send_blocking_keep(events, ack, None).map(drop)
    }

    /// Like [`EventSender::send_blocking`], and returns the shared batch. Holding it until the batch is
    /// acknowledged makes the input thread, not an output, free the events (cheaper: the allocator frees
    /// memory fastest on the thread that allocated it).
    pub fn send_blocking_keep(
        &self,
        mut events: Vec<Event>,
        ack: AckRef,
        room: Option<super::queue::Reservation>,
    ) -> Result<Option<super::queue::KeptBatch>, Closed> {
        self.process(&mut events);
        self.alerts_for(&events);
        if events.is_empty() {
            ack.complete(AckStatus::Delivered);
            return Ok(None);
        }
        match room {
            Some(room) => self.queue.push_reserved(events, ack, room).map(Some),
            // Waiting for room in the queue is the output's trouble, which readiness reports; the
            // input thread is not wedged.
            None => crate::observe::watchdog::waiting(|| self.queue.push_blocking(events, ack))
                .map(Some),
        }
    }

    /// Room for `n` events in the queue, without waiting (see [`super::queue::QueueWriter::try_reserve`]).
    pub fn try_reserve(&self, n: usize) -> Result<Option<super::queue::Reservation>, Closed> {
        self.queue.try_reserve(n)
    }

    /// Processes and queues a batch, waiting while the queue is full. For async inputs.
    pub async fn send(&self, mut events: Vec<Event>, ack: AckRef) -> Result<(), Closed> {
        self.process(&mut events);
        self.alerts_for(&events);
        if events.is_empty() {
            ack.complete(AckStatus::Delivered);
            return Ok(());
        }
        self.queue.push(events, ack).await
    }
}
