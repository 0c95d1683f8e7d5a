//! Handing the events of one request to the queue, and waiting until the queue has accepted them, so a
//! request is answered 2xx only for events that are safe:
//!
//! - with the memory queue, "accepted" means every output has delivered them (there is nothing durable
//!   before that: an agent killed with events only in memory loses them, so the sender must keep them
//!   until then);
//! - with the disk queue, it means they are written to the queue's segment and fsynced.
//!
//! A request is taken whole or not at all: room for all its events is reserved first (the memory queue's
//! budget, and this input's own bound on events in flight, `max_in_flight_events`), so a full queue is
//! answered 429 before anything of the request enters it.

use crate::event::Event;
use crate::pipeline::ack::{AckReceiver, AckStatus};
use crate::pipeline::sender::EventSender;
use crate::pipeline::shutdown::StopSignal;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Why the events of a request were not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No room in the queue now (or too many events of this input in flight): send again later.
    QueueFull,
    /// More events in one request than `max_in_flight_events`: such a request can never fit.
    TooManyEvents {
        /// The request's events.
        events: usize,
        /// The bound.
        limit: usize,
    },
    /// The input is stopping.
    Stopping,
    /// The queue did not accept them within `ack_timeout`; they may still be delivered, so a resend may
    /// make duplicates (unless the events carry ids).
    Timeout(Duration),
    /// The pipeline gave them up (shutdown timeout, a failed queue).
    Abandoned,
}

/// The queue side of a receiving input, shared by its requests.
pub struct Intake {
    sender: EventSender,
    batch: usize,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    ack_timeout: Duration,
    stop: StopSignal,
    force: StopSignal,
}

impl Intake {
    /// The intake of an input.
    pub fn new(
        sender: EventSender,
        batch: usize,
        max_in_flight: usize,
        ack_timeout: Duration,
        stop: StopSignal,
        force: StopSignal,
    ) -> Intake {
        let max_in_flight = max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        Intake {
            sender,
            batch: batch.max(1),
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            ack_timeout,
            stop,
            force,
        }
    }

    /// Whether the input is stopping (new requests are answered 503).
    pub fn stopping(&self) -> bool {
        self.stop.is_stopped()
    }

    /// Processes and queues `events`, and waits until the queue has accepted them (see the module).
    /// `Ok` carries the worst outcome: `Rejected` when an output refused some for good and recorded
    /// them (dead letters), which a resend would not change.
    pub async fn accept(&self, events: Vec<Event>) -> Result<AckStatus, Refused> {
        if self.stop.is_stopped() {
            return Err(Refused::Stopping);
        }
        let n = events.len();
        if n == 0 {
            return Ok(AckStatus::Delivered);
        }
        if n > self.max_in_flight {
            return Err(Refused::TooManyEvents {
                events: n,
                limit: self.max_in_flight,
            });
        }
        let permits = Arc::clone(&self.in_flight)
            .try_acquire_many_owned(n as u32)
            .map_err(|_| Refused::QueueFull)?;
        // The only request of this input in flight may wait for room instead of being refused: the
        // room it needs may be more than the queue ever has free at once (a request larger than the
        // memory queue's `max_events`), and nothing of this input holds it.
        let alone = self.in_flight.available_permits() + n >= self.max_in_flight;
        let sender = self.sender.clone();
        let batch = self.batch;
        let deadline = tokio::time::Instant::now() + self.ack_timeout;
        // Processors run and the queue may wait for the disk: off the async workers.
        let mut queueing =
            tokio::task::spawn_blocking(move || queue(&sender, events, batch, alone));
        let queued = tokio::select! {
            q = tokio::time::timeout_at(deadline, &mut queueing) => q,
            _ = self.force.stopped() => return Err(Refused::Abandoned),
        };
        let (mut acks, batches) = match queued {
            Ok(joined) => joined.map_err(|_| Refused::Abandoned)??,
            Err(_) => {
                // Still waiting for room: the events may yet enter the queue; they count against
                // the bound until they settle.
                let force = self.force.clone();
                tokio::spawn(async move {
                    let _permits = permits;
                    if let Ok(Ok((acks, batches))) = queueing.await {
                        drain(acks, batches, &force).await;
                    }
                });
                return Err(Refused::Timeout(self.ack_timeout));
            }
        };
        let mut worst = AckStatus::Delivered;
        let mut settled = 0;
        while settled < batches {
            let ack = tokio::select! {
                ack = tokio::time::timeout_at(deadline, acks.recv()) => ack,
                _ = self.force.stopped() => return Err(Refused::Abandoned),
            };
            match ack {
                Ok(Some(ack)) => {
                    worst = worst.max(ack.status);
                    settled += 1;
                }
                Ok(None) => return Err(Refused::Abandoned),
                Err(_) => {
                    // The events are still in flight: keep counting them against the bound until
                    // they settle.
                    let force = self.force.clone();
                    tokio::spawn(async move {
                        let _permits = permits;
                        drain(acks, batches - settled, &force).await;
                    });
                    return Err(Refused::Timeout(self.ack_timeout));
                }
            }
        }
        drop(permits);
        if worst == AckStatus::Abandoned {
            return Err(Refused::Abandoned);
        }
        Ok(worst)
    }
}

/// Waits for `left` more acknowledgements (or `force`).
async fn drain(mut acks: AckReceiver, mut left: usize, force: &StopSignal) {
    while left > 0 {
        tokio::select! {
            ack = acks.recv() => if ack.is_none() { break },
            _ = force.stopped() => break,
        }
        left -= 1;
    }
}

/// Reserves room for every batch of the request, then queues them (blocking); when there is not room
/// for all of them now, refuses the request, or with `alone` queues the batches one after the other,
/// each waiting for room. Returns where their acknowledgements arrive and how many batches there are.
fn queue(
    sender: &EventSender,
    mut events: Vec<Event>,
    batch: usize,
    alone: bool,
) -> Result<(AckReceiver, usize), Refused> {
    let mut chunks = Vec::new();
    while events.len() > batch {
        let rest = events.split_off(batch);
        chunks.push(std::mem::replace(&mut events, rest));
    }
    chunks.push(events);
    let mut rooms = Vec::with_capacity(chunks.len());
    for c in &chunks {
        match sender.try_reserve(c.len()) {
            Ok(Some(room)) => rooms.push(room),
            Ok(None) if alone => {
                rooms.clear();
                break;
            }
            Ok(None) => return Err(Refused::QueueFull),
            Err(_) => return Err(Refused::Stopping),
        }
    }
    let mut acks = AckReceiver::new();
    let batches = chunks.len();
    let mut rooms = rooms.into_iter();
    for chunk in chunks {
        let ack = acks.new_batch();
        // Without a reservation, the queue waits for room.
        if sender.send_blocking_keep(chunk, ack, rooms.next()).is_err() {
            return Err(Refused::Stopping);
        }
    }
    Ok((acks, batches))
}
