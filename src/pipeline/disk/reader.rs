//! The reading end of one output: hands out the next record after the output's read position, from the
//! cache of recently written batches when it is there, from its segment file otherwise.

use super::segment::RecordPos;
use super::{Inner, Loc, State, codec, lock};
use crate::event::Event;
use crate::pipeline::ack::{AckRef, AckStatus};
use crate::pipeline::queue::Delivery;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The reading end of one output.
pub struct DiskReader {
    inner: Arc<Inner>,
    index: usize,
}

impl Drop for DiskReader {
    fn drop(&mut self) {
        self.inner.readers_alive.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The record an output takes next, with what is needed to load it outside the state lock.
struct Taken {
    seq: u64,
    loc: Loc,
    cached: Option<Arc<Vec<Event>>>,
    path: Option<PathBuf>,
}

/// What the queue has for an output right now.
enum Next {
    Record(Taken),
    /// Nothing yet: wait for the file thread to commit more.
    Nothing,
    /// Nothing, and nothing more will come.
    Closed,
}

impl DiskReader {
    pub(super) fn new(inner: Arc<Inner>, index: usize) -> DiskReader {
        DiskReader { inner, index }
    }

    /// The next batch for this output, or `None` once the queue is closed and everything was handed out.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            // Registered before looking, so a commit between the look and the wait is not missed.
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let taken = match self.take_next() {
                Next::Record(t) => t,
                Next::Nothing => {
                    notified.await;
                    continue;
                }
                Next::Closed => return None,
            };
            let ack = self.register_ack(taken.seq);
            let seq = taken.seq;
            match taken.load() {
                Ok(events) => {
                    let st = lock(&self.inner.state);
                    st.outputs[self.index].out.add(events.len() as u64);
                    return Some(Delivery { events, ack });
                }
                Err(e) => {
                    self.inner.counters.corrupt.inc();
                    tracing::error!(seq, "a queue record cannot be read and is skipped: {e}");
                    ack.complete(AckStatus::Rejected);
                }
            }
        }
    }

    /// Moves this output's read position past the next record and returns that record.
    fn take_next(&self) -> Next {
        let mut guard = lock(&self.inner.state);
        let st = &mut *guard;
        let from = st.outputs[self.index].read_next;
        match st.index.range(from..).next() {
            Some((&seq, loc)) => {
                let loc = *loc;
                st.outputs[self.index].read_next = seq + 1;
                let cached = st.cache.get(&seq).cloned();
                evict_taken_from_cache(st);
                let path = st.segments.get(&loc.segment).map(|s| s.path.clone());
                Next::Record(Taken {
                    seq,
                    loc,
                    cached,
                    path,
                })
            }
            None if st.closed => Next::Closed,
            None => Next::Nothing,
        }
    }

    /// A new acknowledgement for record `seq`: once it is settled, this output's cursor may move past it.
    fn register_ack(&self, seq: u64) -> AckRef {
        let mut a = lock(&self.inner.acks[self.index]);
        let r = a.receiver.new_batch();
        a.tracker.register(r.seq(), seq + 1);
        r
    }
}

/// Drops cached batches every output has taken.
fn evict_taken_from_cache(st: &mut State) {
    let min_read = st.outputs.iter().map(|o| o.read_next).min().unwrap_or(0);
    while let Some(entry) = st.cache.first_entry() {
        if *entry.key() >= min_read {
            break;
        }
        st.cache_events -= entry.get().len();
        entry.remove();
    }
}

impl Taken {
    /// The record's events: from the cache, or read back from its segment.
    fn load(self) -> Result<Arc<Vec<Event>>, String> {
        match (self.cached, self.path) {
            (Some(e), _) => Ok(e),
            (None, Some(p)) => read_record(&p, self.loc.pos).map(Arc::new),
            (None, None) => Err("its segment is gone".to_string()),
        }
    }
}

/// Reads one record's payload from its segment and decodes it.
fn read_record(path: &Path, pos: RecordPos) -> Result<Vec<Event>, String> {
    let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.seek(SeekFrom::Start(pos.offset))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; pos.len as usize];
    f.read_exact(&mut buf)
        .map_err(|e| format!("{} at {}: {e}", path.display(), pos.offset))?;
    codec::decode(&buf).map_err(|e| format!("{} at {}: {e}", path.display(), pos.offset))
}
