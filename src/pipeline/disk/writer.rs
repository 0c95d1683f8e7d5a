//! The file thread: the one owner of the segment files. It takes batches from the inputs in groups,
//! appends them to the active segment (rolling to a new one at `segment_size`), fsyncs once per group
//! (or per batch), then makes the records visible to the outputs and acknowledges the inputs. Between
//! groups it runs the cleanup (acknowledgements, cursors, deletions).
//!
//! A full queue (`max_size`) and a failing write (a full disk) are handled alike: the batch is kept, not
//! acknowledged, and written once there is room again; inputs wait meanwhile (backpressure).

use super::cleanup::Cleanup;
use super::error_log::{ErrorLog, Severity};
use super::{FsyncPolicy, Inner, Loc, SegmentMeta, WriteRequest, codec, lock, segment};
use crate::pipeline::ack::AckStatus;
use crate::pipeline::shutdown::StopSignal;
use segment::RecordPos;
use std::any::Any;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The most batches written under one fsync.
const MAX_GROUP: usize = 256;
/// How long the thread waits for a batch before it runs the cleanup anyway.
const IDLE_WAIT: Duration = Duration::from_millis(50);
/// How long it waits for room when the queue is full, before it looks again.
const FULL_WAIT: Duration = Duration::from_millis(20);
/// How long it waits after a failed write before it tries again.
const WRITE_RETRY_WAIT: Duration = Duration::from_secs(1);

/// A batch appended and not yet committed, with its sequence number and where it is.
type Appended = (WriteRequest, u64, Loc);

/// Starts the file thread. It owns `lock_file` (the queue folder's lock) until it ends. Should it die
/// of a bug (a panic), `failed` is raised and the queue closes, so inputs and outputs stop instead of
/// waiting for a thread that is gone.
pub(super) fn spawn(
    inner: Arc<Inner>,
    rx: Receiver<WriteRequest>,
    force: StopSignal,
    failed: StopSignal,
    lock_file: File,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let shared = Arc::clone(&inner);
    let mut files = FileThread {
        inner,
        active: None,
        force,
        full_since: None,
        uncommitted: 0,
        errors: ErrorLog::default(),
        _lock: lock_file,
        payload: Vec::new(),
        record: Vec::new(),
        cleanup: Cleanup::new(),
    };
    std::thread::Builder::new()
        .name("queue-disk".into())
        .spawn(move || {
            // `rx` is dropped while unwinding, so inputs get `Closed` at once.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(move || files.run(rx)));
            if let Err(panic) = outcome {
                close_after_death(&shared, &failed, panic.as_ref());
                std::panic::resume_unwind(panic);
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot start the queue thread: {e}"))
}

/// The file thread died: says so loudly, ends the readers once they have handed out what is committed,
/// and raises `failed` so the agent stops (to be restarted) rather than live on doing nothing.
fn close_after_death(inner: &Inner, failed: &StopSignal, panic: &(dyn Any + Send)) {
    let why = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "an unknown panic".to_string());
    tracing::error!(dir = %inner.settings.dir.display(), "the disk queue thread failed ({why}); the queue is closed and logward stops. Nothing acknowledged is lost: what was not delivered is sent again after a restart. Please report this with the log");
    lock(&inner.state).closed = true;
    inner.notify.notify_waiters();
    failed.stop();
}

/// The segment being written.
struct ActiveSegment {
    first_seq: u64,
    file: File,
    len: u64,
}

struct FileThread {
    inner: Arc<Inner>,
    active: Option<ActiveSegment>,
    force: StopSignal,
    full_since: Option<Instant>,
    /// A failing write or fsync is retried until it works: logged once, then summarised.
    errors: ErrorLog,
    /// Bytes of records appended but not yet committed (fsynced and counted in `total_bytes`): they
    /// count against `max_size` too, or one commit group could overshoot the cap by many batches.
    uncommitted: u64,
    _lock: File,
    /// Reused buffers: the encoded batch, and the record around it.
    payload: Vec<u8>,
    record: Vec<u8>,
    cleanup: Cleanup,
}

fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

impl FileThread {
    /// Writes what the inputs send until they are all gone and every reader has finished, then saves the
    /// cursors and syncs everything.
    fn run(&mut self, rx: Receiver<WriteRequest>) {
        let mut inputs_gone = false;
        loop {
            if !inputs_gone {
                match rx.recv_timeout(IDLE_WAIT) {
                    Ok(first) => {
                        let group = gather_group(first, &rx);
                        self.write_group(group, &rx);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        inputs_gone = true;
                        self.close_for_readers();
                    }
                }
            } else {
                // Readers may be waiting for a notification that no commit will send any more.
                std::thread::sleep(Duration::from_millis(20));
                self.inner.notify.notify_waiters();
            }
            self.settle_acks(false);
            if inputs_gone && self.inner.readers_alive.load(Ordering::SeqCst) == 0 {
                break;
            }
        }
        self.finish();
    }

    /// No more records will come: readers end once they have taken what is there.
    fn close_for_readers(&self) {
        lock(&self.inner.state).closed = true;
        self.inner.notify.notify_waiters();
    }

    /// The last cursor save (fsynced) and a sync of the active segment and the folder.
    fn finish(&mut self) {
        self.settle_acks(true);
        if let Some(a) = &self.active {
            let _ = a.file.sync_all();
        }
        crate::util::fs::sync_dir(&self.inner.settings.dir);
    }

    fn settle_acks(&mut self, final_save: bool) {
        let active = self.active.as_ref().map(|a| a.first_seq);
        self.cleanup.settle(&self.inner, active, final_save);
    }

    /// Writes a group of batches, fsyncs, then acknowledges them. Waits for room first; retries after
    /// write errors (disk full) without acknowledging; gives up (not acknowledging) only on `force`.
    fn write_group(&mut self, group: Vec<WriteRequest>, rx: &Receiver<WriteRequest>) {
        #[cfg(test)]
        if self.inner.panic_at_next_batch.load(Ordering::SeqCst) {
            panic!("a fault injected by a test");
        }
        let mut done: Vec<Appended> = Vec::with_capacity(group.len());
        for w in group {
            if !self.write_batch(w, &mut done) {
                // Unblock inputs still sending: their batches are abandoned and read again later.
                while rx.try_recv().is_ok() {}
                self.commit(&mut done);
                return;
            }
        }
        self.commit(&mut done);
    }

    /// Appends one batch to `done`, waiting as long as it takes for room. Returns `false` when `force`
    /// was raised first (the batch is dropped, not acknowledged).
    fn write_batch(&mut self, w: WriteRequest, done: &mut Vec<Appended>) -> bool {
        let per_batch = self.inner.settings.fsync == FsyncPolicy::Batch;
        loop {
            if self.force.is_stopped() {
                return false;
            }
            match self.append(&w) {
                Ok(Some(loc)) => {
                    let seq = loc.pos.seq;
                    done.push((w, seq, loc));
                    if per_batch {
                        self.commit(done);
                    }
                    return true;
                }
                Ok(None) => self.wait_for_room(done),
                Err(e) => self.wait_after_write_error(&e, done),
            }
        }
    }

    /// The queue is full: commit what we have (so outputs can see it), free room, wait a little.
    fn wait_for_room(&mut self, done: &mut Vec<Appended>) {
        self.commit(done);
        self.settle_acks(false);
        if !self.reclaim_acknowledged_active_segment() {
            std::thread::sleep(FULL_WAIT);
        }
    }

    /// A write failed (a full disk, an I/O error): commit what we have, say so, free room, wait.
    fn wait_after_write_error(&mut self, e: &std::io::Error, done: &mut Vec<Appended>) {
        self.commit(done);
        let dir = self.inner.settings.dir.display();
        let message = if is_disk_full(e) {
            format!(
                "the disk is full: the queue in {dir} cannot grow, inputs wait until outputs free room or space is freed: {e}"
            )
        } else {
            format!("writing the queue in {dir} failed; retrying every second, inputs wait: {e}")
        };
        self.errors.failed(Severity::Error, "write", &message);
        self.settle_acks(false);
        if !self.reclaim_acknowledged_active_segment() {
            let _ = self.force.wait_timeout(WRITE_RETRY_WAIT);
        }
    }

    /// The cleanup never deletes the segment being written, so when that segment alone fills the queue
    /// (`max_size` or the free disk space is smaller than a segment) and every output has acknowledged
    /// all of it, nothing would ever free room again. Then this rolls to a fresh segment and deletes the
    /// old one. Returns whether it did (room was freed: try again at once).
    fn reclaim_acknowledged_active_segment(&mut self) -> bool {
        let Some(active) = &self.active else {
            return false;
        };
        if active.len <= segment::HEADER_LEN as u64 {
            return false;
        }
        let first = active.first_seq;
        let next_seq = {
            let st = lock(&self.inner.state);
            let min_acked = st.min_acked();
            let acknowledged = st
                .segments
                .get(&first)
                .is_some_and(|m| m.last_seq.is_none_or(|l| l < min_acked));
            if !acknowledged {
                return false;
            }
            st.next_seq
        };
        // The fresh segment first, so the newest sequence number stays on disk (the cursors refer to
        // it). Should that fail too (a full disk), the old one is deleted all the same: it is closed
        // either way, and the next write rolls again.
        if let Err(e) = self.roll_segment(next_seq) {
            tracing::debug!("cannot start a fresh queue segment yet: {e}");
        }
        self.settle_acks(false);
        tracing::debug!(
            segment = first,
            "reclaimed the fully acknowledged segment that was being written"
        );
        true
    }

    /// Appends one batch to the active segment (not yet fsynced). `Ok(None)` when the queue is full.
    fn append(&mut self, w: &WriteRequest) -> std::io::Result<Option<Loc>> {
        self.payload.clear();
        codec::encode(&w.events, &mut self.payload);
        let size = (segment::RECORD_HEADER_LEN + self.payload.len()) as u64;
        let roll = self.needs_roll(size);
        if !self.has_room(size, roll) {
            return Ok(None);
        }
        let seq = lock(&self.inner.state).next_seq;
        if roll {
            self.roll_segment(seq)?;
        }
        let loc = self.write_record(seq, w.events.len() as u32)?;
        self.uncommitted += size;
        lock(&self.inner.state).next_seq = seq + 1;
        self.errors.succeeded("write", "writing the queue");
        Ok(Some(loc))
    }

    /// Whether a record of `size` bytes needs a new segment: none is open, or it would pass
    /// `segment_size` (a segment holds at least one record, however large).
    fn needs_roll(&self, size: u64) -> bool {
        let limit = self.inner.settings.segment_size;
        self.active
            .as_ref()
            .is_none_or(|a| a.len + size > limit && a.len > segment::HEADER_LEN as u64)
    }

    /// Whether `max_size` leaves room for a record of `size` bytes (and a segment header on a roll).
    /// Logs when the queue becomes full and when it has room again.
    fn has_room(&mut self, size: u64, roll: bool) -> bool {
        let max_size = self.inner.settings.max_size;
        let extra = if roll { segment::HEADER_LEN as u64 } else { 0 };
        let held = lock(&self.inner.state).total_bytes + self.uncommitted;
        // An empty queue always takes one batch, however large, so nothing can be stuck forever. A
        // fresh segment that holds only its header counts as empty.
        let fresh_header = match &self.active {
            Some(a) if a.len == segment::HEADER_LEN as u64 => a.len,
            _ => 0,
        };
        if held + size + extra > max_size && held > fresh_header {
            if self.full_since.is_none() {
                self.full_since = Some(Instant::now());
                tracing::warn!(
                    bytes = held,
                    max_size,
                    "the disk queue is full: inputs wait until the outputs catch up"
                );
            }
            return false;
        }
        if let Some(since) = self.full_since.take() {
            tracing::info!(waited = ?since.elapsed(), "the disk queue has room again");
        }
        true
    }

    /// Closes the active segment (fsynced) and starts a new one whose first record is `seq`.
    fn roll_segment(&mut self, seq: u64) -> std::io::Result<()> {
        if let Some(old) = self.active.take() {
            old.file.sync_all()?;
        }
        let settings = &self.inner.settings;
        let path = settings.dir.join(segment::file_name(seq));
        let mut file = crate::util::fs::private_options()
            .create(true)
            .truncate(true)
            .write(true)
            .read(true)
            .open(&path)?;
        if let Err(e) = file
            .write_all(&segment::header(seq))
            .and_then(|()| file.sync_all())
        {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        crate::util::fs::sync_dir(&settings.dir);
        let mut st = lock(&self.inner.state);
        st.total_bytes += segment::HEADER_LEN as u64;
        st.segments.insert(
            seq,
            SegmentMeta {
                path,
                bytes: segment::HEADER_LEN as u64,
                last_seq: None,
            },
        );
        self.active = Some(ActiveSegment {
            first_seq: seq,
            file,
            len: segment::HEADER_LEN as u64,
        });
        Ok(())
    }

    /// Writes the encoded batch in `self.payload` as record `seq` at the end of the active segment. A
    /// partial write is cut off again, so the next attempt appends after good data.
    fn write_record(&mut self, seq: u64, events: u32) -> std::io::Result<Loc> {
        let Some(active) = self.active.as_mut() else {
            return Err(std::io::Error::other("no active segment"));
        };
        self.record.clear();
        segment::encode_record(&mut self.record, seq, &self.payload);
        if let Err(e) = active.file.write_all(&self.record) {
            let _ = active.file.set_len(active.len);
            let _ = active.file.seek(SeekFrom::Start(active.len));
            return Err(e);
        }
        let loc = Loc {
            segment: active.first_seq,
            pos: RecordPos {
                seq,
                offset: active.len + segment::RECORD_HEADER_LEN as u64,
                len: self.payload.len() as u32,
            },
            events,
        };
        active.len += self.record.len() as u64;
        Ok(loc)
    }

    /// fsyncs what was appended, makes it visible to outputs, acknowledges the inputs.
    fn commit(&mut self, done: &mut Vec<Appended>) {
        // Whatever happens below, these bytes are either counted in `total_bytes` or abandoned.
        self.uncommitted = 0;
        if done.is_empty() {
            return;
        }
        if let Some(a) = &self.active
            && let Err(e) = a.file.sync_data()
        {
            // Not durable: do not acknowledge. Dropping the acknowledgements marks the batches abandoned,
            // so their inputs read them again after a restart.
            let message = format!(
                "fsync of the queue in {} failed; the batches are not acknowledged: {e}",
                self.inner.settings.dir.display()
            );
            self.errors.failed(Severity::Error, "fsync", &message);
            done.clear();
            return;
        }
        self.errors.succeeded("fsync", "fsync of the queue");
        let n_events = self.publish(done);
        self.inner.counters.events_in.add(n_events);
        for (w, _, _) in done.drain(..) {
            w.ack.complete(AckStatus::Delivered);
        }
        self.inner.notify.notify_waiters();
    }

    /// Adds fsynced records to the index, the segment table and the cache; returns their events.
    fn publish(&self, done: &[Appended]) -> u64 {
        let mut st = lock(&self.inner.state);
        let cache_limit = self.inner.settings.cache_events;
        let mut n_events = 0u64;
        for (w, seq, loc) in done {
            let record_bytes = segment::RECORD_HEADER_LEN as u64 + loc.pos.len as u64;
            st.index.insert(*seq, *loc);
            if let Some(s) = st.segments.get_mut(&loc.segment) {
                s.bytes += record_bytes;
                s.last_seq = Some(*seq);
            }
            st.total_bytes += record_bytes;
            if st.cache_events + w.events.len() <= cache_limit {
                st.cache_events += w.events.len();
                st.cache.insert(*seq, Arc::clone(&w.events));
            }
            n_events += w.events.len() as u64;
        }
        self.inner.counters.bytes.set(st.total_bytes as i64);
        self.inner.counters.events.add(n_events as i64);
        n_events
    }
}

/// The first batch and whatever else is already waiting (up to [`MAX_GROUP`]): one fsync for all.
fn gather_group(first: WriteRequest, rx: &Receiver<WriteRequest>) -> Vec<WriteRequest> {
    let mut group = vec![first];
    while group.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(w) => group.push(w),
            Err(_) => break,
        }
    }
    group
}
