//! The memory queue's bound: at most `max_events` events between the inputs and the last acknowledgement.
//!
//! A channel bounds only what waits in it; a batch an output is still retrying, and every later batch the
//! other workers delivered while it waits (the input keeps them until the stuck one is acknowledged, to
//! move its checkpoint in order), would be outside any bound. So every batch takes as many permits as it
//! has events when it enters the queue, and gives them back only when its acknowledgement is settled
//! by every output (delivered, rejected or abandoned): inputs wait while the budget is spent, whatever the
//! outputs do.

use super::queue::Closed;
use crate::observe::metrics::Gauge;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A budget of events shared by every input of a memory queue.
#[derive(Clone)]
pub struct Budget(Arc<Inner>);

struct Inner {
    capacity: usize,
    used: Mutex<usize>,
    freed: Condvar,
    freed_async: tokio::sync::Notify,
    /// Readers (outputs) still there; none left means nothing will ever be freed by delivery.
    readers: AtomicUsize,
    in_flight: Gauge,
    /// Whether the "queue is full" line was logged since the budget last had room.
    full_logged: std::sync::atomic::AtomicBool,
}

/// Events of one batch, counted against the budget until dropped.
pub struct Permit {
    budget: Arc<Inner>,
    n: usize,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Permit({})", self.n)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.n;
        self.budget.in_flight.set(*used as i64);
        drop(used);
        self.budget.freed.notify_all();
        self.budget.freed_async.notify_waiters();
    }
}

impl Budget {
    /// A budget of `capacity` events for `readers` outputs; `in_flight` shows what is spent.
    pub fn new(capacity: usize, readers: usize, in_flight: Gauge) -> Budget {
        Budget(Arc::new(Inner {
            capacity: capacity.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
            freed_async: tokio::sync::Notify::new(),
            readers: AtomicUsize::new(readers),
            in_flight,
            full_logged: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// Takes `n` events (at most the whole budget, so a batch larger than it still passes alone), or
    /// `None` when they are not all free.
    fn try_take(&self, n: usize) -> Option<Permit> {
        let n = n.min(self.0.capacity);
        let mut used = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
        if *used + n > self.0.capacity {
            if !self.0.full_logged.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    max_events = self.0.capacity,
                    "the memory queue is full (max_events events not yet acknowledged by every output): inputs wait"
                );
            }
            return None;
        }
        *used += n;
        self.0.in_flight.set(*used as i64);
        if *used + n <= self.0.capacity {
            self.0.full_logged.store(false, Ordering::Relaxed);
        }
        Some(Permit {
            budget: Arc::clone(&self.0),
            n,
        })
    }

    /// Takes `n` events if they are free, without waiting; `Closed` once no output is left.
    pub fn try_take_open(&self, n: usize) -> Result<Option<Permit>, Closed> {
        if self.closed() {
            return Err(Closed);
        }
        Ok(self.try_take(n))
    }

    fn closed(&self) -> bool {
        self.0.readers.load(Ordering::Acquire) == 0
    }

    /// Waits on a thread until `n` events are free; `Closed` once no output is left to free them.
    pub fn take_blocking(&self, n: usize) -> Result<Permit, Closed> {
        loop {
            if self.closed() {
                return Err(Closed);
            }
            if let Some(p) = self.try_take(n) {
                return Ok(p);
            }
            let used = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
            // Re-checked under the lock a permit is returned with, so no wake-up is missed; the timeout
            // only notices a closed queue.
            if *used + n.min(self.0.capacity) > self.0.capacity {
                let _unused = self.0.freed.wait_timeout(used, Duration::from_millis(200));
            }
        }
    }

    /// Waits (async) until `n` events are free; `Closed` once no output is left to free them.
    pub async fn take(&self, n: usize) -> Result<Permit, Closed> {
        loop {
            let freed = self.0.freed_async.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.closed() {
                return Err(Closed);
            }
            if let Some(p) = self.try_take(n) {
                return Ok(p);
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), freed).await;
        }
    }

    /// An output's end of the queue is gone.
    pub fn reader_gone(&self) {
        self.0.readers.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_all();
        self.0.freed_async.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(capacity: usize) -> Budget {
        Budget::new(capacity, 1, Gauge::default())
    }

    #[test]
    fn permits_are_returned_when_dropped() {
        let b = budget(10);
        let a = b.try_take(6).unwrap();
        assert!(b.try_take(5).is_none());
        let c = b.try_take(4).unwrap();
        drop(a);
        assert!(b.try_take(6).is_some());
        drop(c);
        // A batch larger than the budget passes alone.
        assert_eq!(b.try_take(50).unwrap().n, 10);
    }

    #[test]
    fn a_waiting_input_goes_on_when_events_are_acknowledged_or_the_outputs_are_gone() {
        let b = budget(10);
        let held = b.take_blocking(10).unwrap();
        let b2 = b.clone();
        let waiter = std::thread::spawn(move || b2.take_blocking(3).map(|p| p.n));
        drop(held);
        assert_eq!(waiter.join().unwrap(), Ok(3));
        let _held = b.take_blocking(10).unwrap();
        let b2 = b.clone();
        let waiter = std::thread::spawn(move || b2.take_blocking(3).map(|p| p.n));
        b.reader_gone();
        assert_eq!(waiter.join().unwrap(), Err(Closed));
    }
}
