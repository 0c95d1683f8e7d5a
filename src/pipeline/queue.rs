//! The memory queue: a bounded fan-out from the processors to every output.
//!
//! Each output has its own bounded channel of batches. A batch's events are shared (not copied) between
//! outputs; each output holds its own share of the batch's acknowledgement. When an output's channel is full
//! the sender waits: that is the backpressure that slows inputs down instead of dropping events.

use super::ack::{AckRef, AckStatus};
use super::budget::{Budget, Permit};
use crate::event::Event;
use crate::observe::component::BufferMetrics;
use crate::observe::metrics::{Counter, Gauge};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A batch as one output sees it.
pub struct Delivery {
    /// The events, shared with the other outputs.
    pub events: Arc<Vec<Event>>,
    /// This output's share of the acknowledgement.
    pub ack: AckRef,
}

/// A batch an input keeps until its checkpoint passes it: the events (freed on the input's thread) and,
/// with the memory queue, its share of the queue's budget, so events the input still holds count against
/// `max_events` even after the outputs are done with them.
pub struct KeptBatch {
    _events: Arc<Vec<Event>>,
    _permit: Option<Arc<Permit>>,
}

/// The writing end of a queue, cloned into every input.
#[derive(Clone)]
pub enum QueueWriter {
    /// In memory.
    Memory(MemoryWriter),
    /// On disk.
    Disk(super::disk::DiskWriter),
}

/// The reading end of one output.
pub enum QueueReader {
    /// In memory.
    Memory(MemoryReader),
    /// On disk.
    Disk(super::disk::DiskReader),
}

/// Room reserved in a queue for one batch (see [`QueueWriter::try_reserve`]).
pub struct Reservation(Option<Permit>);

impl QueueWriter {
    /// Reserves room for `n` events without waiting: `None` while the memory queue's budget is spent
    /// (the disk queue waits in [`QueueWriter::push_reserved`] instead). An input that keeps its batches
    /// until its checkpoint passes them must wait this way, taking in acknowledgements meanwhile: the
    /// room it waits for may be its own kept batches'.
    pub fn try_reserve(&self, n: usize) -> Result<Option<Reservation>, Closed> {
        match self {
            QueueWriter::Memory(m) => Ok(m.budget.try_take_open(n)?.map(|p| Reservation(Some(p)))),
            QueueWriter::Disk(_) => Ok(Some(Reservation(None))),
        }
    }

    /// [`QueueWriter::push_blocking`] into room reserved before.
    pub fn push_reserved(
        &self,
        events: Vec<Event>,
        ack: AckRef,
        room: Reservation,
    ) -> Result<KeptBatch, Closed> {
        match (self, room.0) {
            (QueueWriter::Memory(m), Some(permit)) => m.push_with(events, ack, permit),
            _ => self.push_blocking(events, ack),
        }
    }
    /// Queues a batch, waiting while the queue is full (for input threads). Returns the shared batch: an
    /// input that keeps it until the batch is acknowledged frees the events on its own thread.
    pub fn push_blocking(&self, events: Vec<Event>, ack: AckRef) -> Result<KeptBatch, Closed> {
        match self {
            QueueWriter::Memory(m) => m.push_blocking(events, ack),
            QueueWriter::Disk(d) => {
                let events = Arc::new(events);
                d.push_blocking(Arc::clone(&events), ack)?;
                Ok(KeptBatch {
                    _events: events,
                    _permit: None,
                })
            }
        }
    }

    /// Queues a batch, waiting while the queue is full (for async inputs).
    pub async fn push(&self, events: Vec<Event>, ack: AckRef) -> Result<(), Closed> {
        match self {
            QueueWriter::Memory(m) => m.push(events, ack).await,
            QueueWriter::Disk(d) => {
                tokio::task::block_in_place(|| d.push_blocking(Arc::new(events), ack))
            }
        }
    }
}

impl QueueReader {
    /// The next batch, or `None` once every writer is gone and the queue is empty.
    pub async fn next(&mut self) -> Option<Delivery> {
        match self {
            QueueReader::Memory(m) => m.next().await,
            QueueReader::Disk(d) => d.next().await,
        }
    }

    /// Marks a batch as taken out of the queue (memory depth gauge; the disk queue counts itself).
    pub fn taken(&self, d: &Delivery, first_output: bool) {
        if let QueueReader::Memory(m) = self {
            m.taken(d, first_output);
        }
    }
}

/// The writing end of the memory queue.
#[derive(Clone)]
pub struct MemoryWriter {
    outputs: Arc<Vec<mpsc::Sender<Delivery>>>,
    budget: Budget,
    queued: Gauge,
    received: Counter,
}

/// The reading end of one output, memory queue.
pub struct MemoryReader {
    rx: mpsc::Receiver<Delivery>,
    queued: Gauge,
    budget: Budget,
}

impl Drop for MemoryReader {
    fn drop(&mut self) {
        self.budget.reader_gone();
    }
}

/// The queue was closed because the pipeline is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline is shutting down")]
pub struct Closed;

/// A memory queue for `outputs` outputs, holding at most `max_events` events from the moment an input
/// hands them over until every output has acknowledged them.
pub fn memory_queue(outputs: usize, max_events: usize) -> (QueueWriter, Vec<QueueReader>) {
    let (w, r) = memory_parts(outputs, max_events);
    (
        QueueWriter::Memory(w),
        r.into_iter().map(QueueReader::Memory).collect(),
    )
}

fn memory_parts(outputs: usize, max_events: usize) -> (MemoryWriter, Vec<MemoryReader>) {
    let buffer = BufferMetrics::new("memory");
    let queued = buffer.events();
    let received = buffer.received_events();
    let budget = Budget::new(max_events, outputs, buffer.unacknowledged_events());
    let mut txs = Vec::with_capacity(outputs);
    let mut readers = Vec::with_capacity(outputs);
    for _ in 0..outputs {
        // The budget is the bound; a batch has at least one event, so the channel never fills first.
        let (tx, rx) = mpsc::channel(max_events.max(1));
        txs.push(tx);
        readers.push(MemoryReader {
            rx,
            queued: queued.clone(),
            budget: budget.clone(),
        });
    }
    (
        MemoryWriter {
            outputs: Arc::new(txs),
            budget,
            queued,
            received,
        },
        readers,
    )
}

impl MemoryWriter {
    fn deliveries(&self, events: Arc<Vec<Event>>, ack: AckRef) -> (Vec<Delivery>, AckRef) {
        let deliveries = self
            .outputs
            .iter()
            .map(|_| Delivery {
                events: Arc::clone(&events),
                ack: ack.split(),
            })
            .collect();
        (deliveries, ack)
    }

    /// Queues a batch, waiting while an output's channel is full (for input threads). Returns the shared
    /// batch: an input that keeps it until the batch is acknowledged frees the events on its own thread,
    /// which is much cheaper than freeing them on an output thread.
    pub fn push_blocking(&self, events: Vec<Event>, ack: AckRef) -> Result<KeptBatch, Closed> {
        let permit = self.budget.take_blocking(events.len())?;
        self.push_with(events, ack, permit)
    }

    /// Queues a batch into room taken from the budget before.
    fn push_with(
        &self,
        events: Vec<Event>,
        ack: AckRef,
        permit: Permit,
    ) -> Result<KeptBatch, Closed> {
        let n = events.len() as i64;
        let permit = Arc::new(permit);
        ack.hold(Arc::clone(&permit));
        let events = Arc::new(events);
        let (deliveries, ack) = self.deliveries(Arc::clone(&events), ack);
        // The original share is settled now that every output holds its own.
        ack.complete(AckStatus::Delivered);
        for (tx, d) in self.outputs.iter().zip(deliveries) {
            tx.blocking_send(d).map_err(|_| Closed)?;
        }
        self.queued.add(n);
        self.received.add(n as u64);
        Ok(KeptBatch {
            _events: events,
            _permit: Some(permit),
        })
    }

    /// Queues a batch, waiting while an output's channel is full (for async inputs).
    pub async fn push(&self, events: Vec<Event>, ack: AckRef) -> Result<(), Closed> {
        let n = events.len() as i64;
        ack.hold(Arc::new(self.budget.take(events.len()).await?));
        let (deliveries, ack) = self.deliveries(Arc::new(events), ack);
        ack.complete(AckStatus::Delivered);
        for (tx, d) in self.outputs.iter().zip(deliveries) {
            tx.send(d).await.map_err(|_| Closed)?;
        }
        self.queued.add(n);
        self.received.add(n as u64);
        Ok(())
    }
}

impl MemoryReader {
    /// The next batch, or `None` once every writer is gone and the queue is empty.
    pub async fn next(&mut self) -> Option<Delivery> {
        let d = self.rx.recv().await?;
        Some(d)
    }

    /// Marks a batch as taken out of the queue (for the depth gauge; counted once, by the first output).
    pub fn taken(&self, d: &Delivery, first_output: bool) {
        if first_output {
            self.queued.add(-(d.events.len() as i64));
        }
    }
}

/// Counters shared by everything that feeds the queue.
#[derive(Clone)]
pub struct IntakeCounters {
    /// Events that entered the pipeline (after processors).
    pub events_in: Counter,
}
