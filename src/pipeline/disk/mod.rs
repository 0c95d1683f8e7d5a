//! The disk queue: batches are written to segment files and fsynced before the input that sent them is
//! acknowledged, so an input's checkpoint moves as soon as its events are safe on disk, whatever the
//! outputs are doing. Each output reads at its own pace from its own cursor and acknowledges; a segment
//! is deleted once every output has acknowledged every record in it.
//!
//! One thread owns the files: it writes what inputs send (group commit: one fsync for everything that
//! arrived together), settles the outputs' acknowledgements, moves their cursors, deletes finished
//! segments and waits for room when the queue is full (inputs then wait too: backpressure). A full disk
//! (ENOSPC) is handled like a full queue: the batch is kept, not acknowledged, and written again later.
//!
//! After a crash the segments are scanned: every complete record is kept, a torn last record is cut off,
//! a damaged stretch in the middle is skipped and counted. Nothing needs deleting by hand.

pub mod codec;
pub mod segment;
pub mod tools;

use super::ack::{AckReceiver, AckRef, AckStatus, CheckpointTracker};
use super::queue::Delivery;
use super::shutdown::StopSignal;
use crate::event::Event;
use crate::observe::metrics::{self, Counter, Gauge};
use segment::RecordPos;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// When writes are fsynced (always before the input is acknowledged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// One fsync for every group of batches that arrived together (fewer fsyncs under load).
    #[default]
    Group,
    /// One fsync per batch.
    Batch,
}

/// Settings of an open disk queue.
#[derive(Debug, Clone)]
pub struct DiskQueueSettings {
    /// The queue folder.
    pub dir: PathBuf,
    /// The most bytes of segments on disk; writers wait beyond it.
    pub max_size: u64,
    /// Segments are rolled at about this size.
    pub segment_size: u64,
    /// fsync policy.
    pub fsync: FsyncPolicy,
    /// How many recently written events are kept in memory so outputs that keep up never read the disk.
    pub cache_events: usize,
    /// Batches waiting to be written before inputs wait.
    pub pending_batches: usize,
}

/// Where a record is.
#[derive(Debug, Clone, Copy)]
struct Loc {
    segment: u64,
    pos: RecordPos,
    events: u32,
}

struct SegmentMeta {
    path: PathBuf,
    bytes: u64,
    last_seq: Option<u64>,
}

struct OutputState {
    name: String,
    /// The next sequence number to hand to the output.
    read_next: u64,
    /// Every record below this is acknowledged by the output.
    acked: u64,
    /// The `acked` value last written to the cursor file.
    persisted: u64,
    out: Counter,
    acked_events: Counter,
}

struct State {
    index: BTreeMap<u64, Loc>,
    segments: BTreeMap<u64, SegmentMeta>,
    next_seq: u64,
    total_bytes: u64,
    cache: BTreeMap<u64, Arc<Vec<Event>>>,
    cache_events: usize,
    outputs: Vec<OutputState>,
    closed: bool,
}

struct OutputAcks {
    receiver: AckReceiver,
    tracker: CheckpointTracker<u64>,
}

struct Counters {
    events_in: Counter,
    dropped: Counter,
    corrupt: Counter,
    bytes: Gauge,
    events: Gauge,
}

struct Inner {
    settings: DiskQueueSettings,
    state: Mutex<State>,
    acks: Vec<Mutex<OutputAcks>>,
    notify: tokio::sync::Notify,
    readers_alive: AtomicUsize,
    counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A batch on its way to disk.
struct WriteRequest {
    events: Arc<Vec<Event>>,
    ack: AckRef,
}

/// The writing end (cloned into every input).
#[derive(Clone)]
pub struct DiskWriter {
    tx: SyncSender<WriteRequest>,
    inner: Arc<Inner>,
}

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

/// The queue is closed (shutdown).
#[derive(Debug)]
pub struct Full;

/// What recovery found, for the log and `logward check`.
#[derive(Debug, Default, Clone)]
pub struct Recovery {
    /// Segments read.
    pub segments: usize,
    /// Good records found.
    pub records: usize,
    /// Events in those records not yet acknowledged by every output.
    pub pending_events: u64,
    /// Torn tails cut off (one per segment).
    pub torn_tails: usize,
    /// Damaged stretches skipped.
    pub damaged: usize,
    /// How long recovery took.
    pub took: Duration,
}

/// The cursor file of an output.
pub fn cursor_path(dir: &Path, output: &str) -> PathBuf {
    dir.join("cursors").join(format!("{output}.json"))
}

/// Reads an output's cursor (the first unacknowledged sequence number).
pub fn read_cursor(dir: &Path, output: &str) -> Option<u64> {
    let text = std::fs::read_to_string(cursor_path(dir, output)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("acked")?.as_u64()
}

fn write_cursor(dir: &Path, output: &str, acked: u64, fsync: bool) -> std::io::Result<()> {
    let path = cursor_path(dir, output);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    crate::util::fs::write_atomic(&path, format!("{{\"acked\": {acked}}}\n").as_bytes(), fsync)
}

/// Segment files of a folder, by first sequence number.
pub fn list_segments(dir: &Path) -> std::io::Result<BTreeMap<u64, PathBuf>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(first) = entry
            .file_name()
            .to_str()
            .and_then(segment::parse_file_name)
        {
            out.insert(first, entry.path());
        }
    }
    Ok(out)
}

/// The lock file held by the running agent, so repair tools do not touch a live queue.
pub fn lock_queue_dir(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the queue folder {}: {e}", dir.display()))?;
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "the queue in {} is in use by another logward process; stop it first",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock {}: {e}", path.display())
        }
    }
}

/// An open disk queue: the writer for inputs, one reader per output, and the thread that owns the files.
pub struct DiskQueue {
    /// For inputs.
    pub writer: DiskWriter,
    /// One per output, in order.
    pub readers: Vec<DiskReader>,
    /// The file thread; join it after the outputs have finished so cursors are saved.
    pub thread: std::thread::JoinHandle<()>,
    /// What recovery found.
    pub recovery: Recovery,
}

impl DiskQueue {
    /// Opens (recovering) the queue in `settings.dir` for the named outputs. `force` is raised when the
    /// shutdown timeout passes: batches still waiting for room are then given up (not acknowledged).
    pub fn open(
        settings: DiskQueueSettings,
        outputs: &[String],
        force: StopSignal,
    ) -> anyhow::Result<DiskQueue> {
        let started = Instant::now();
        let dir = settings.dir.clone();
        let lock_file = lock_queue_dir(&dir)?;
        let mut recovery = Recovery::default();
        let corrupt = metrics::counter("queue_records_corrupt_total", &[("queue", "disk")]);
        let mut index = BTreeMap::new();
        let mut segments = BTreeMap::new();
        let mut next_seq = 0u64;
        let mut total_bytes = 0u64;
        let found = list_segments(&dir)
            .map_err(|e| anyhow::anyhow!("cannot list the queue folder {}: {e}", dir.display()))?;
        for (&first, path) in &found {
            let mut bytes = Vec::new();
            File::open(path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let scan = segment::scan(&bytes);
            recovery.segments += 1;
            if scan.first_seq.is_none() {
                tracing::warn!(segment = %path.display(), "the segment header is damaged; its records are still read");
            }
            for d in &scan.damaged {
                recovery.damaged += 1;
                corrupt.inc();
                tracing::error!(segment = %path.display(), bytes = ?d.range, "a damaged stretch of the queue was skipped: {}", d.reason);
            }
            if scan.torn_tail() {
                recovery.torn_tails += 1;
                tracing::warn!(segment = %path.display(), at = scan.valid_end, cut = scan.len - scan.valid_end, "cutting off a torn record at the end of a segment (a write interrupted by a crash)");
                let f = OpenOptions::new().write(true).open(path).map_err(|e| {
                    anyhow::anyhow!("cannot open {} to cut its torn tail: {e}", path.display())
                })?;
                f.set_len(scan.valid_end)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| {
                        anyhow::anyhow!("cannot cut the torn tail of {}: {e}", path.display())
                    })?;
            }
            let mut bytes_in_file = scan.valid_end;
            if bytes_in_file == 0 {
                bytes_in_file = scan.len.min(segment::HEADER_LEN as u64);
            }
            let mut last = None;
            for r in &scan.records {
                let start = r.offset as usize;
                let events = bytes
                    .get(start..start + (r.len as usize).min(24))
                    .and_then(codec::count)
                    .unwrap_or(0) as u32;
                index.insert(
                    r.seq,
                    Loc {
                        segment: first,
                        pos: *r,
                        events,
                    },
                );
                last = Some(r.seq);
                next_seq = next_seq.max(r.seq + 1);
                recovery.records += 1;
            }
            next_seq = next_seq.max(first);
            total_bytes += bytes_in_file;
            segments.insert(
                first,
                SegmentMeta {
                    path: path.clone(),
                    bytes: bytes_in_file,
                    last_seq: last,
                },
            );
        }
        let mut output_states = Vec::new();
        for name in outputs {
            let cursor = read_cursor(&dir, name);
            // A new output starts with the oldest record still on disk.
            let acked = cursor.unwrap_or_else(|| index.keys().next().copied().unwrap_or(next_seq));
            next_seq = next_seq.max(acked);
            output_states.push(OutputState {
                name: name.clone(),
                read_next: acked,
                acked,
                persisted: acked,
                out: metrics::counter("queue_events_out_total", &[("output", name)]),
                acked_events: metrics::counter("queue_events_acked_total", &[("output", name)]),
            });
        }
        let min_acked = output_states
            .iter()
            .map(|o| o.acked)
            .min()
            .unwrap_or(next_seq);
        recovery.pending_events = index.range(min_acked..).map(|(_, l)| l.events as u64).sum();
        recovery.took = started.elapsed();
        let counters = Counters {
            events_in: metrics::counter("queue_events_in_total", &[("queue", "disk")]),
            dropped: metrics::counter("queue_events_dropped_total", &[("queue", "disk")]),
            corrupt,
            bytes: metrics::gauge("queue_bytes", &[("queue", "disk")]),
            events: metrics::gauge("queue_events", &[("queue", "disk")]),
        };
        counters.bytes.set(total_bytes as i64);
        counters.events.set(recovery.pending_events as i64);
        let (tx, rx) = std::sync::mpsc::sync_channel(settings.pending_batches.max(1));
        let inner = Arc::new(Inner {
            acks: outputs
                .iter()
                .map(|_| {
                    Mutex::new(OutputAcks {
                        receiver: AckReceiver::new(),
                        tracker: CheckpointTracker::default(),
                    })
                })
                .collect(),
            settings,
            state: Mutex::new(State {
                index,
                segments,
                next_seq,
                total_bytes,
                cache: BTreeMap::new(),
                cache_events: 0,
                outputs: output_states,
                closed: false,
            }),
            notify: tokio::sync::Notify::new(),
            readers_alive: AtomicUsize::new(outputs.len()),
            counters,
        });
        let mut files = FileThread {
            inner: Arc::clone(&inner),
            active: None,
            force,
            full_since: None,
            uncommitted: 0,
            disk_error_since: None,
            _lock: lock_file,
            payload: Vec::new(),
            record: Vec::new(),
            last_persist: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("queue-disk".into())
            .spawn(move || files.run(rx))
            .map_err(|e| anyhow::anyhow!("cannot start the queue thread: {e}"))?;
        let readers = (0..outputs.len())
            .map(|index| DiskReader {
                inner: Arc::clone(&inner),
                index,
            })
            .collect();
        Ok(DiskQueue {
            writer: DiskWriter { tx, inner },
            readers,
            thread,
            recovery,
        })
    }
}

impl DiskWriter {
    /// Queues a batch, waiting while the queue is full. The batch's acknowledgement completes once it is
    /// fsynced.
    pub fn push_blocking(
        &self,
        events: Arc<Vec<Event>>,
        ack: AckRef,
    ) -> Result<(), super::queue::Closed> {
        self.tx
            .send(WriteRequest { events, ack })
            .map_err(|_| super::queue::Closed)
    }

    /// Queues a batch if there is room now; otherwise drops it, counts the drop and says so (for inputs
    /// that cannot wait, like UDP).
    pub fn try_push(&self, events: Arc<Vec<Event>>, ack: AckRef) -> Result<(), Full> {
        match self.tx.try_send(WriteRequest { events, ack }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(w)) | Err(TrySendError::Disconnected(w)) => {
                self.inner.counters.dropped.add(w.events.len() as u64);
                w.ack.complete(AckStatus::Rejected);
                Err(Full)
            }
        }
    }
}

impl DiskReader {
    /// The next batch for this output, or `None` once the queue is closed and everything was handed out.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = {
                let mut guard = lock(&self.inner.state);
                let st = &mut *guard;
                let from = st.outputs[self.index].read_next;
                match st.index.range(from..).next() {
                    Some((&seq, loc)) => {
                        let loc = *loc;
                        st.outputs[self.index].read_next = seq + 1;
                        let cached = st.cache.get(&seq).cloned();
                        // Drop cached records every output has taken.
                        let min_read = st.outputs.iter().map(|o| o.read_next).min().unwrap_or(0);
                        while let Some(entry) = st.cache.first_entry() {
                            if *entry.key() >= min_read {
                                break;
                            }
                            st.cache_events -= entry.get().len();
                            entry.remove();
                        }
                        let path = st.segments.get(&loc.segment).map(|s| s.path.clone());
                        Some((seq, loc, cached, path))
                    }
                    None if st.closed => return None,
                    None => None,
                }
            };
            let Some((seq, loc, cached, path)) = found else {
                notified.await;
                continue;
            };
            let ack = {
                let mut a = lock(&self.inner.acks[self.index]);
                let r = a.receiver.new_batch();
                a.tracker.register(r.seq(), seq + 1);
                r
            };
            let events = match cached {
                Some(e) => Ok(e),
                None => match path {
                    Some(p) => read_record(&p, loc.pos).map(Arc::new),
                    None => Err("its segment is gone".to_string()),
                },
            };
            match events {
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
}

fn read_record(path: &Path, pos: RecordPos) -> Result<Vec<Event>, String> {
    let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.seek(SeekFrom::Start(pos.offset))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; pos.len as usize];
    f.read_exact(&mut buf)
        .map_err(|e| format!("{} at {}: {e}", path.display(), pos.offset))?;
    codec::decode(&buf).map_err(|e| format!("{} at {}: {e}", path.display(), pos.offset))
}

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
    disk_error_since: Option<Instant>,
    /// Bytes of records appended but not yet committed (fsynced and counted in `total_bytes`): they
    /// count against `max_size` too, or one commit group could overshoot the cap by many batches.
    uncommitted: u64,
    _lock: File,
    payload: Vec<u8>,
    record: Vec<u8>,
    last_persist: Instant,
}

fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

impl FileThread {
    fn run(&mut self, rx: Receiver<WriteRequest>) {
        let mut inputs_gone = false;
        loop {
            if !inputs_gone {
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(first) => {
                        let mut group = vec![first];
                        while group.len() < 256 {
                            match rx.try_recv() {
                                Ok(w) => group.push(w),
                                Err(_) => break,
                            }
                        }
                        self.write_group(group, &rx);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        inputs_gone = true;
                        lock(&self.inner.state).closed = true;
                        self.inner.notify.notify_waiters();
                    }
                }
            } else {
                std::thread::sleep(Duration::from_millis(20));
                self.inner.notify.notify_waiters();
            }
            self.settle_acks(false);
            if inputs_gone && self.inner.readers_alive.load(Ordering::SeqCst) == 0 {
                break;
            }
        }
        self.settle_acks(true);
        if let Some(a) = &self.active {
            let _ = a.file.sync_all();
        }
        crate::util::fs::sync_dir(&self.inner.settings.dir);
    }

    /// Writes a group of batches, fsyncs, then acknowledges them. Waits for room first; retries after
    /// write errors (disk full) without acknowledging; gives up (not acknowledging) only on `force`.
    fn write_group(&mut self, group: Vec<WriteRequest>, rx: &Receiver<WriteRequest>) {
        let per_batch = self.inner.settings.fsync == FsyncPolicy::Batch;
        let mut done: Vec<(WriteRequest, u64, Loc)> = Vec::with_capacity(group.len());
        for w in group {
            loop {
                if self.force.is_stopped() {
                    drop(w);
                    // Unblock inputs still sending: their batches are abandoned and read again later.
                    while rx.try_recv().is_ok() {}
                    self.commit(&mut done);
                    return;
                }
                match self.append(&w) {
                    Ok(Some(loc)) => {
                        let seq = loc.pos.seq;
                        done.push((w, seq, loc));
                        if per_batch {
                            self.commit(&mut done);
                        }
                        break;
                    }
                    Ok(None) => {
                        // Full: commit what we have (so outputs can see it), free room, wait.
                        self.commit(&mut done);
                        self.settle_acks(false);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => {
                        self.commit(&mut done);
                        if self.disk_error_since.is_none() {
                            self.disk_error_since = Some(Instant::now());
                            if is_disk_full(&e) {
                                tracing::error!(dir = %self.inner.settings.dir.display(), "the disk is full: the queue cannot grow, inputs wait until outputs free room or space is freed: {e}");
                            } else {
                                tracing::error!(dir = %self.inner.settings.dir.display(), "writing the queue failed; retrying every second, inputs wait: {e}");
                            }
                        }
                        self.settle_acks(false);
                        let _ = self.force.wait_timeout(Duration::from_secs(1));
                    }
                }
            }
        }
        self.commit(&mut done);
    }

    /// Appends one batch to the active segment (not yet fsynced). `Ok(None)` when the queue is full.
    fn append(&mut self, w: &WriteRequest) -> std::io::Result<Option<Loc>> {
        self.payload.clear();
        codec::encode(&w.events, &mut self.payload);
        let size = (segment::RECORD_HEADER_LEN + self.payload.len()) as u64;
        let settings = &self.inner.settings;
        {
            let st = lock(&self.inner.state);
            let needs_header = self.active.as_ref().is_none_or(|a| {
                a.len + size > settings.segment_size && a.len > segment::HEADER_LEN as u64
            });
            let extra = if needs_header {
                segment::HEADER_LEN as u64
            } else {
                0
            };
            // An empty queue always takes one batch, however large, so nothing can be stuck forever.
            let held = st.total_bytes + self.uncommitted;
            if held + size + extra > settings.max_size && held > 0 {
                if self.full_since.is_none() {
                    self.full_since = Some(Instant::now());
                    tracing::warn!(
                        bytes = held,
                        max_size = settings.max_size,
                        "the disk queue is full: inputs wait until the outputs catch up"
                    );
                }
                return Ok(None);
            }
        }
        if let Some(since) = self.full_since.take() {
            tracing::info!(waited = ?since.elapsed(), "the disk queue has room again");
        }
        let seq = lock(&self.inner.state).next_seq;
        let roll = self.active.as_ref().is_none_or(|a| {
            a.len + size > settings.segment_size && a.len > segment::HEADER_LEN as u64
        });
        if roll {
            if let Some(old) = self.active.take() {
                old.file.sync_all()?;
            }
            let path = settings.dir.join(segment::file_name(seq));
            let mut file = OpenOptions::new()
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
        }
        let Some(active) = self.active.as_mut() else {
            return Err(std::io::Error::other("no active segment"));
        };
        self.record.clear();
        segment::encode_record(&mut self.record, seq, &self.payload);
        if let Err(e) = active.file.write_all(&self.record) {
            // Cut a partial write so the next attempt appends after good data.
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
            events: w.events.len() as u32,
        };
        active.len += size;
        self.uncommitted += size;
        lock(&self.inner.state).next_seq = seq + 1;
        if self.disk_error_since.take().is_some() {
            tracing::info!("writing the queue works again");
        }
        Ok(Some(loc))
    }

    /// fsyncs what was appended, makes it visible to outputs, acknowledges the inputs.
    fn commit(&mut self, done: &mut Vec<(WriteRequest, u64, Loc)>) {
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
            tracing::error!("fsync of the queue failed; the batches are not acknowledged: {e}");
            done.clear();
            return;
        }
        let mut st = lock(&self.inner.state);
        let cache_limit = self.inner.settings.cache_events;
        let mut n_events = 0u64;
        for (w, seq, loc) in done.iter() {
            st.index.insert(*seq, *loc);
            if let Some(s) = st.segments.get_mut(&loc.segment) {
                s.bytes += segment::RECORD_HEADER_LEN as u64 + loc.pos.len as u64;
                s.last_seq = Some(*seq);
            }
            st.total_bytes += segment::RECORD_HEADER_LEN as u64 + loc.pos.len as u64;
            if st.cache_events + w.events.len() <= cache_limit {
                st.cache_events += w.events.len();
                st.cache.insert(*seq, Arc::clone(&w.events));
            }
            n_events += w.events.len() as u64;
        }
        self.inner.counters.bytes.set(st.total_bytes as i64);
        self.inner.counters.events.add(n_events as i64);
        drop(st);
        self.inner.counters.events_in.add(n_events);
        for (w, _, _) in done.drain(..) {
            w.ack.complete(AckStatus::Delivered);
        }
        self.inner.notify.notify_waiters();
    }

    /// Takes in the outputs' acknowledgements, moves cursors, deletes finished segments, saves cursors.
    fn settle_acks(&mut self, final_save: bool) {
        let inner = Arc::clone(&self.inner);
        let mut st = lock(&inner.state);
        let st = &mut *st;
        let mut changed = false;
        for (i, acks) in inner.acks.iter().enumerate() {
            let released = {
                let mut a = lock(acks);
                for ack in a.receiver.try_drain() {
                    a.tracker.settle(ack);
                }
                a.tracker.release()
            };
            if let Some(&to) = released.iter().max() {
                let o = &mut st.outputs[i];
                if to > o.acked {
                    let n: u64 = st
                        .index
                        .range(o.acked..to)
                        .map(|(_, l)| l.events as u64)
                        .sum();
                    o.acked_events.add(n);
                    o.acked = to;
                    changed = true;
                }
            }
        }
        let min_acked = st
            .outputs
            .iter()
            .map(|o| o.acked)
            .min()
            .unwrap_or(st.next_seq);
        if changed {
            let pending: u64 = st
                .index
                .range(min_acked..)
                .map(|(_, l)| l.events as u64)
                .sum();
            inner.counters.events.set(pending as i64);
        }
        // Delete segments every output is done with (never the one being written).
        let active = self.active.as_ref().map(|a| a.first_seq);
        let finished: Vec<u64> = st
            .segments
            .iter()
            .filter(|(first, meta)| {
                Some(**first) != active && meta.last_seq.is_none_or(|l| l < min_acked)
            })
            .map(|(f, _)| *f)
            .collect();
        for first in finished {
            if let Some(meta) = st.segments.remove(&first) {
                match std::fs::remove_file(&meta.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(segment = %meta.path.display(), "cannot delete a finished segment: {e}");
                        st.segments.insert(first, meta);
                        continue;
                    }
                }
                st.total_bytes = st.total_bytes.saturating_sub(meta.bytes);
                let upto = meta.last_seq.map_or(first, |l| l + 1);
                let keys: Vec<u64> = st.index.range(first..upto).map(|(k, _)| *k).collect();
                for k in keys {
                    st.index.remove(&k);
                }
            }
        }
        inner.counters.bytes.set(st.total_bytes as i64);
        // Cursors: written when they moved (at most every 200 ms), fsynced at the end.
        let dirty = st.outputs.iter().any(|o| o.acked != o.persisted);
        if final_save || (dirty && self.last_persist.elapsed() >= Duration::from_millis(200)) {
            self.last_persist = Instant::now();
            for o in &mut st.outputs {
                if o.acked != o.persisted || final_save {
                    match write_cursor(&inner.settings.dir, &o.name, o.acked, final_save) {
                        Ok(()) => o.persisted = o.acked,
                        Err(e) => {
                            tracing::warn!(output = %o.name, "cannot save the queue cursor: {e}")
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// An input writes a batch of this many events.
        Append(usize),
        /// The output takes and acknowledges up to this many batches.
        Ack(usize),
        /// The agent stops and the last segment loses this many bytes at its end (a torn write).
        Crash(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..5).prop_map(Op::Append),
            (1usize..4).prop_map(Op::Ack),
            (0usize..200).prop_map(Op::Crash),
        ]
    }

    fn open(dir: &Path) -> DiskQueue {
        DiskQueue::open(
            DiskQueueSettings {
                dir: dir.to_path_buf(),
                max_size: 64 << 20,
                segment_size: 2048,
                fsync: FsyncPolicy::Group,
                cache_events: 4,
                pending_batches: 2,
            },
            &["out".to_string()],
            StopSignal::new(),
        )
        .unwrap()
    }

    fn close(q: DiskQueue) {
        let DiskQueue {
            writer,
            readers,
            thread,
            ..
        } = q;
        drop(writer);
        drop(readers);
        thread.join().unwrap();
    }

    /// Takes up to `n` batches without waiting; returns their ids, acknowledging them.
    fn take(rt: &tokio::runtime::Runtime, q: &mut DiskQueue, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let next = rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(30), q.readers[0].next()).await
            });
            match next {
                Ok(Some(d)) => {
                    ids.push(d.events[0].message().unwrap_or("").to_string());
                    d.ack.complete(AckStatus::Delivered);
                }
                _ => break,
            }
        }
        ids
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Any sequence of appends, acknowledgements and torn crashes: what comes out after each restart
        /// continues exactly where the acknowledgements ended, in order, as a prefix of what was
        /// appended (only a torn tail may be missing).
        #[test]
        fn appends_acks_and_torn_crashes_recover_to_a_prefix(ops in proptest::collection::vec(op(), 1..25)) {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("q");
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut q = open(&dir);
            let mut appended: Vec<String> = Vec::new();
            let mut delivered: Vec<String> = Vec::new();
            let mut acks = AckReceiver::new();
            for op in ops {
                match op {
                    Op::Append(n) => {
                        let id = format!("b{}", appended.len());
                        let events: Vec<Event> = (0..n).map(|_| Event::from_message(id.clone())).collect();
                        q.writer.push_blocking(Arc::new(events), acks.new_batch()).unwrap();
                        let a = acks.recv_timeout_blocking(Duration::from_secs(10)).unwrap();
                        prop_assert_eq!(a.status, AckStatus::Delivered);
                        appended.push(id);
                    }
                    Op::Ack(n) => delivered.extend(take(&rt, &mut q, n)),
                    Op::Crash(cut) => {
                        close(q);
                        if let Some((_, last)) = list_segments(&dir).unwrap().into_iter().next_back() {
                            let len = std::fs::metadata(&last).unwrap().len();
                            let f = OpenOptions::new().write(true).open(&last).unwrap();
                            f.set_len(len.saturating_sub(cut as u64).max(segment::HEADER_LEN as u64)).unwrap();
                        }
                        // What survived on disk: the undelivered batches still there must be a prefix
                        // of the undelivered ones (a torn tail only takes the newest).
                        let mut on_disk = std::collections::HashSet::new();
                        for (_, path) in list_segments(&dir).unwrap() {
                            let bytes = std::fs::read(&path).unwrap();
                            for r in segment::scan(&bytes).records {
                                let payload = &bytes[r.offset as usize..(r.offset + r.len as u64) as usize];
                                let events = codec::decode(payload).unwrap();
                                on_disk.insert(events[0].message().unwrap_or("").to_string());
                            }
                        }
                        let undelivered = &appended[delivered.len()..];
                        let k = undelivered.iter().take_while(|id| on_disk.contains(*id)).count();
                        prop_assert!(undelivered[k..].iter().all(|id| !on_disk.contains(id)), "a hole in the middle");
                        appended.truncate(delivered.len() + k);
                        q = open(&dir);
                    }
                }
                // Delivered is always a prefix of appended, in order, without repeats.
                prop_assert!(delivered.len() <= appended.len());
                prop_assert_eq!(&delivered[..], &appended[..delivered.len()]);
            }
            delivered.extend(take(&rt, &mut q, 1000));
            prop_assert_eq!(&delivered, &appended);
            close(q);
        }
    }
}
