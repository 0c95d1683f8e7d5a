//! End-to-end acknowledgements.
//!
//! Every batch an input produces carries an [`AckRef`]. Whoever holds a part of the batch's delivery
//! obligation (each output, or the disk queue once the batch is fsynced) holds an `AckRef` split from the
//! original and completes it with a status. When the last `AckRef` of a batch is gone, the input that made the
//! batch receives one [`AckStatus`] for it through its [`AckReceiver`]: `Delivered` only when every holder
//! said so. An `AckRef` dropped without being completed (shutdown, a crashed task) counts as `Abandoned`, so
//! a lost obligation can never move a checkpoint forward.
//!
//! Inputs turn these per-batch statuses into checkpoints with [`CheckpointTracker`], which only releases a
//! checkpoint when every batch before it is settled, so offsets move strictly in order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::sync::mpsc;

/// The final outcome of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AckStatus {
    /// Every output accepted every event (or the disk queue made it durable).
    Delivered = 0,
    /// An output refused some events for good and recorded that (dead letter file, counted drop). Retrying
    /// would not help, so the checkpoint may move past them.
    Rejected = 1,
    /// Nobody finished the delivery (shutdown, failure). The checkpoint must not move past this batch.
    Abandoned = 2,
}

impl AckStatus {
    fn from_u8(v: u8) -> AckStatus {
        match v {
            0 => AckStatus::Delivered,
            1 => AckStatus::Rejected,
            _ => AckStatus::Abandoned,
        }
    }

    /// Whether the input may move its checkpoint past the batch.
    pub fn settles(self) -> bool {
        self != AckStatus::Abandoned
    }
}

/// One acknowledgement: which batch of the input, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The sequence number the input gave the batch.
    pub seq: u64,
    /// The outcome.
    pub status: AckStatus,
}

struct Shared {
    seq: u64,
    worst: AtomicU8,
    to_input: Option<mpsc::UnboundedSender<Ack>>,
    /// The batch's place in the memory queue's budget, given back when the batch is settled.
    held: std::sync::OnceLock<Arc<super::budget::Permit>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(tx) = &self.to_input {
            let status = AckStatus::from_u8(self.worst.load(Ordering::Acquire));
            // The input may already have stopped listening (shutdown); then nobody needs the answer.
            let _ = tx.send(Ack {
                seq: self.seq,
                status,
            });
        }
    }
}

/// A share of the obligation to deliver one batch. Not `Clone` on purpose: use [`AckRef::split`] so every
/// holder is counted, and [`AckRef::complete`] to settle your share.
pub struct AckRef {
    shared: Arc<Shared>,
    completed: bool,
}

impl std::fmt::Debug for AckRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckRef")
            .field("seq", &self.shared.seq)
            .finish()
    }
}

impl AckRef {
    /// An obligation whose outcome nobody waits for (events made inside logward, tests).
    pub fn detached() -> AckRef {
        AckRef {
            shared: Arc::new(Shared {
                seq: 0,
                worst: AtomicU8::new(0),
                to_input: None,
                held: std::sync::OnceLock::new(),
            }),
            completed: false,
        }
    }

    /// The sequence number of the batch.
    pub fn seq(&self) -> u64 {
        self.shared.seq
    }

    /// Another share of the same obligation. The batch is settled only when every share is.
    pub fn split(&self) -> AckRef {
        AckRef {
            shared: Arc::clone(&self.shared),
            completed: false,
        }
    }

    /// Keeps `permit` until the batch is settled by every share (the memory queue's budget).
    pub fn hold(&self, permit: Arc<super::budget::Permit>) {
        // A batch enters one queue once; a second permit would be given back at once.
        let _ = self.shared.held.set(permit);
    }

    /// Settles this share with a status.
    pub fn complete(mut self, status: AckStatus) {
        self.record(status);
        self.completed = true;
    }

    fn record(&self, status: AckStatus) {
        self.shared.worst.fetch_max(status as u8, Ordering::AcqRel);
    }
}

impl Drop for AckRef {
    fn drop(&mut self) {
        if !self.completed {
            self.record(AckStatus::Abandoned);
        }
    }
}

/// Hands out [`AckRef`]s for an input's batches and receives their outcomes.
pub struct AckReceiver {
    tx: mpsc::UnboundedSender<Ack>,
    rx: mpsc::UnboundedReceiver<Ack>,
    next_seq: u64,
}

impl Default for AckReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl AckReceiver {
    /// A new channel for one input.
    pub fn new() -> AckReceiver {
        let (tx, rx) = mpsc::unbounded_channel();
        AckReceiver {
            tx,
            rx,
            next_seq: 1,
        }
    }

    /// A new obligation for the next batch; returns it with its sequence number.
    pub fn new_batch(&mut self) -> AckRef {
        let seq = self.next_seq;
        self.next_seq += 1;
        AckRef {
            shared: Arc::new(Shared {
                seq,
                worst: AtomicU8::new(0),
                to_input: Some(self.tx.clone()),
                held: std::sync::OnceLock::new(),
            }),
            completed: false,
        }
    }

    /// Every outcome that has arrived so far, without waiting.
    pub fn try_drain(&mut self) -> Vec<Ack> {
        let mut out = Vec::new();
        while let Ok(ack) = self.rx.try_recv() {
            out.push(ack);
        }
        out
    }

    /// Waits up to `timeout` for the next outcome (blocking; for input threads).
    pub fn recv_timeout_blocking(&mut self, timeout: std::time::Duration) -> Option<Ack> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(ack) = self.rx.try_recv() {
                return Some(ack);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(2).min(timeout));
        }
    }

    /// Waits for the next outcome (async).
    pub async fn recv(&mut self) -> Option<Ack> {
        self.rx.recv().await
    }
}

/// Orders checkpoints by batch sequence and releases them only when every earlier batch is settled.
///
/// `C` is whatever the input needs to move forward: a file offset, an Event Log bookmark, a cursor.
#[derive(Debug)]
pub struct CheckpointTracker<C> {
    pending: BTreeMap<u64, (C, Option<AckStatus>)>,
}

impl<C> Default for CheckpointTracker<C> {
    fn default() -> Self {
        CheckpointTracker {
            pending: BTreeMap::new(),
        }
    }
}

impl<C> CheckpointTracker<C> {
    /// Remembers the checkpoint reached once batch `seq` is settled.
    pub fn register(&mut self, seq: u64, checkpoint: C) {
        self.pending.insert(seq, (checkpoint, None));
    }

    /// Records an outcome.
    pub fn settle(&mut self, ack: Ack) {
        if let Some(entry) = self.pending.get_mut(&ack.seq) {
            entry.1 = Some(ack.status);
        }
    }

    /// Removes and returns, in order, the checkpoints of the settled prefix. An abandoned batch blocks
    /// everything after it (it will be read again after a restart).
    pub fn release(&mut self) -> Vec<C> {
        let mut out = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            match entry.get().1 {
                Some(status) if status.settles() => out.push(entry.remove().0),
                _ => break,
            }
        }
        out
    }

    /// The checkpoints of the settled prefix, in order, left in place (what [`Self::release`] would
    /// return next).
    pub fn settled_prefix_mut(&mut self) -> impl Iterator<Item = &mut C> {
        self.pending
            .values_mut()
            .take_while(|(_, status)| status.is_some_and(AckStatus::settles))
            .map(|(c, _)| c)
    }

    /// Batches sent and not yet settled.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_is_delivered_only_when_every_share_is() {
        let mut acks = AckReceiver::new();
        let a = acks.new_batch();
        let b = a.split();
        a.complete(AckStatus::Delivered);
        assert!(acks.try_drain().is_empty());
        b.complete(AckStatus::Delivered);
        assert_eq!(
            acks.try_drain(),
            vec![Ack {
                seq: 1,
                status: AckStatus::Delivered
            }]
        );
    }

    #[test]
    fn dropped_share_abandons_the_batch() {
        let mut acks = AckReceiver::new();
        let a = acks.new_batch();
        let b = a.split();
        a.complete(AckStatus::Delivered);
        drop(b);
        assert_eq!(acks.try_drain()[0].status, AckStatus::Abandoned);
    }

    #[test]
    fn rejection_wins_over_delivery_and_still_settles() {
        let mut acks = AckReceiver::new();
        let a = acks.new_batch();
        let b = a.split();
        a.complete(AckStatus::Rejected);
        b.complete(AckStatus::Delivered);
        let got = acks.try_drain();
        assert_eq!(got[0].status, AckStatus::Rejected);
        assert!(got[0].status.settles());
    }

    #[test]
    fn checkpoints_are_released_in_order_only() {
        let mut t = CheckpointTracker::default();
        t.register(1, "a");
        t.register(2, "b");
        t.register(3, "c");
        t.settle(Ack {
            seq: 2,
            status: AckStatus::Delivered,
        });
        assert!(t.release().is_empty());
        t.settle(Ack {
            seq: 1,
            status: AckStatus::Delivered,
        });
        assert_eq!(t.release(), vec!["a", "b"]);
        t.settle(Ack {
            seq: 3,
            status: AckStatus::Abandoned,
        });
        assert!(t.release().is_empty());
        assert_eq!(t.in_flight(), 1);
    }
}
