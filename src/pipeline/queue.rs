//! The memory queue: a bounded fan-out from the processors to every output.
//!
//! Each output has its own bounded channel of batches. A batch's events are shared (not copied) between
//! outputs; each output holds its own share of the batch's acknowledgement. When an output's channel is full
//! the sender waits: that is the backpressure that slows inputs down instead of dropping events.

use super::ack::{AckRef, AckStatus};
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

impl QueueWriter {
    /// Queues a batch, waiting while the queue is full (for input threads). Returns the shared batch: an
    /// input that keeps it until the batch is acknowledged frees the events on its own thread.
    pub fn push_blocking(
        &self,
        events: Vec<Event>,
        ack: AckRef,
    ) -> Result<Arc<Vec<Event>>, Closed> {
        match self {
            QueueWriter::Memory(m) => m.push_blocking(events, ack),
            QueueWriter::Disk(d) => {
                let events = Arc::new(events);
                d.push_blocking(Arc::clone(&events), ack)?;
                Ok(events)
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
    queued: Gauge,
    received: Counter,
}

/// The reading end of one output, memory queue.
pub struct MemoryReader {
    rx: mpsc::Receiver<Delivery>,
    queued: Gauge,
}

/// The queue was closed because the pipeline is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline is shutting down")]
pub struct Closed;

/// A memory queue for `outputs` outputs, holding at most `capacity_batches` batches per output.
pub fn memory_queue(outputs: usize, capacity_batches: usize) -> (QueueWriter, Vec<QueueReader>) {
    let (w, r) = memory_parts(outputs, capacity_batches);
    (
        QueueWriter::Memory(w),
        r.into_iter().map(QueueReader::Memory).collect(),
    )
}

fn memory_parts(outputs: usize, capacity_batches: usize) -> (MemoryWriter, Vec<MemoryReader>) {
    let buffer = BufferMetrics::new("memory");
    let queued = buffer.events();
    let received = buffer.received_events();
    let mut txs = Vec::with_capacity(outputs);
    let mut readers = Vec::with_capacity(outputs);
    for _ in 0..outputs {
        let (tx, rx) = mpsc::channel(capacity_batches.max(1));
        txs.push(tx);
        readers.push(MemoryReader {
            rx,
            queued: queued.clone(),
        });
    }
    (
        MemoryWriter {
            outputs: Arc::new(txs),
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
    pub fn push_blocking(
        &self,
        events: Vec<Event>,
        ack: AckRef,
    ) -> Result<Arc<Vec<Event>>, Closed> {
        let n = events.len() as i64;
        let events = Arc::new(events);
        let (deliveries, ack) = self.deliveries(Arc::clone(&events), ack);
        // The original share is settled now that every output holds its own.
        ack.complete(AckStatus::Delivered);
        for (tx, d) in self.outputs.iter().zip(deliveries) {
            tx.blocking_send(d).map_err(|_| Closed)?;
        }
        self.queued.add(n);
        self.received.add(n as u64);
        Ok(events)
    }

    /// Queues a batch, waiting while an output's channel is full (for async inputs).
    pub async fn push(&self, events: Vec<Event>, ack: AckRef) -> Result<(), Closed> {
        let n = events.len() as i64;
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
