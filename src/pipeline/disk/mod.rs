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
//!
//! The parts, by role: `recovery` scans the folder at open and builds the state below; `writer` is the
//! file thread's write path (append, roll, fsync, acknowledge inputs); `cleanup` settles the outputs'
//! acknowledgements, moves and saves cursors and deletes finished segments; `reader` hands records to an
//! output; `error_log` keeps errors the file thread retries from flooding the log. This file holds what
//! they share and wires them together.

pub mod codec;
pub mod segment;
pub mod tools;

mod cleanup;
mod error_log;
mod reader;
mod recovery;
mod writer;

pub use reader::DiskReader;
pub use recovery::{Recovery, list_segments, read_cursor};

use super::ack::{AckReceiver, AckRef, AckStatus, CheckpointTracker};
use super::shutdown::StopSignal;
use crate::event::Event;
use crate::observe::component::BufferMetrics;
use crate::observe::metrics::{Counter, Gauge};
use segment::RecordPos;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

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

/// One segment file in the segment table.
struct SegmentMeta {
    path: PathBuf,
    bytes: u64,
    last_seq: Option<u64>,
}

/// Where one output is in the queue.
struct OutputState {
    name: String,
    /// The next sequence number to hand to the output.
    read_next: u64,
    /// Every record below this is acknowledged by the output.
    acked: u64,
    /// The `acked` value last written to the cursor file (`None`: the file must be rewritten).
    persisted: Option<u64>,
    out: Counter,
    acked_events: Counter,
}

impl OutputState {
    /// An output that has acknowledged everything below `acked` (its cursor).
    fn starting_at(name: &str, acked: u64) -> OutputState {
        OutputState {
            name: name.to_string(),
            read_next: acked,
            acked,
            persisted: Some(acked),
            out: BufferMetrics::new("disk").sent_events(name),
            acked_events: BufferMetrics::new("disk")
                .output_counter("buffer_acknowledged_events_total", name),
        }
    }

    /// An output whose cursor file was damaged, starting again at `acked`; its file is rewritten soon.
    fn restarting_at(name: &str, acked: u64) -> OutputState {
        OutputState {
            persisted: None,
            ..OutputState::starting_at(name, acked)
        }
    }
}

/// What the file thread and the readers share: the index of records, the segment table, the cache of
/// recently written batches and every output's position.
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

impl State {
    /// The lowest cursor of all outputs: every record below it is acknowledged by every output.
    fn min_acked(&self) -> u64 {
        self.outputs
            .iter()
            .map(|o| o.acked)
            .min()
            .unwrap_or(self.next_seq)
    }

    /// Events in the records from `from` on.
    fn events_from(&self, from: u64) -> u64 {
        self.index.range(from..).map(|(_, l)| l.events as u64).sum()
    }
}

/// The acknowledgements one output sends back, in the order its batches were handed out.
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

impl Counters {
    fn new() -> Counters {
        let buffer = BufferMetrics::new("disk");
        Counters {
            events_in: buffer.received_events(),
            dropped: buffer.discarded_events(),
            corrupt: buffer.counter("buffer_corrupt_records_total"),
            bytes: buffer.byte_size(),
            events: buffer.events(),
        }
    }
}

struct Inner {
    settings: DiskQueueSettings,
    state: Mutex<State>,
    acks: Vec<Mutex<OutputAcks>>,
    notify: tokio::sync::Notify,
    readers_alive: AtomicUsize,
    counters: Counters,
    /// Tests raise it to make the file thread panic at its next batch.
    #[cfg(test)]
    panic_at_next_batch: std::sync::atomic::AtomicBool,
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

/// The queue is closed (shutdown).
#[derive(Debug)]
pub struct Full;

/// The cursor file of an output: `cursors/<file_stem(name)>.json`, one file per name however alike two
/// names look, and never outside the queue folder.
pub fn cursor_path(dir: &Path, output: &str) -> PathBuf {
    crate::component::file_for(&dir.join("cursors"), output, ".json")
}

/// Where earlier versions kept the cursor of an output whose name is not a plain file name
/// (`cursors/<name>.json`, the name as written), when that is a file inside the cursor folder.
pub fn legacy_cursor_path(dir: &Path, output: &str) -> Option<PathBuf> {
    let plain = output
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !output.starts_with('.');
    let path = dir.join("cursors").join(format!("{output}.json"));
    (plain && path != cursor_path(dir, output)).then_some(path)
}

/// The lock file held by the running agent, so repair tools do not touch a live queue.
pub fn lock_queue_dir(dir: &Path) -> anyhow::Result<File> {
    crate::util::fs::create_private_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the queue folder {}: {e}", dir.display()))?;
    let path = dir.join("lock");
    let file = crate::util::fs::private_options()
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
    /// Raised if the file thread dies of a bug: the queue is then closed (inputs get `Closed`, outputs
    /// end), and whoever runs the pipeline should stop it.
    pub failed: StopSignal,
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
        let lock_file = lock_queue_dir(&settings.dir)?;
        let counters = Counters::new();
        let (state, mut recovery) = recovery::recover(&settings.dir, outputs, &counters.corrupt)?;
        recovery.took = started.elapsed();
        counters.bytes.set(state.total_bytes as i64);
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
            state: Mutex::new(state),
            notify: tokio::sync::Notify::new(),
            readers_alive: AtomicUsize::new(outputs.len()),
            counters,
            #[cfg(test)]
            panic_at_next_batch: std::sync::atomic::AtomicBool::new(false),
        });
        let failed = StopSignal::new();
        let thread = writer::spawn(Arc::clone(&inner), rx, force, failed.clone(), lock_file)?;
        let readers = (0..outputs.len())
            .map(|index| DiskReader::new(Arc::clone(&inner), index))
            .collect();
        Ok(DiskQueue {
            writer: DiskWriter { tx, inner },
            readers,
            thread,
            recovery,
            failed,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_files_stay_in_the_queue_folder_and_old_names_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for name in ["../../escaped", "a/b", "..", "es.main"] {
            let p = cursor_path(dir, name);
            assert_eq!(p.parent(), Some(dir.join("cursors").as_path()), "{name}");
        }
        assert_ne!(cursor_path(dir, "es.main"), cursor_path(dir, "es_main"));
        // A cursor an earlier version wrote under the name as written is taken over.
        std::fs::create_dir_all(dir.join("cursors")).unwrap();
        std::fs::write(dir.join("cursors/es.main.json"), "{\"acked\": 5}\n").unwrap();
        assert_eq!(read_cursor(dir, "es.main"), Some(5));
        assert_eq!(legacy_cursor_path(dir, "../x"), None);
    }
    use proptest::prelude::*;
    use std::time::Duration;

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

    /// Sends `batches` batches of `events` events through a queue with `settings`, one output taking and
    /// acknowledging everything as it comes. Returns how many batches the output got and how many the
    /// input saw acknowledged, each within a generous ceiling (a stuck queue shows as a shortfall).
    fn ship_through(settings: DiskQueueSettings, batches: usize, events: usize) -> (usize, usize) {
        let mut q = DiskQueue::open(settings, &["out".to_string()], StopSignal::new()).unwrap();
        let writer = q.writer.clone();
        let input = std::thread::spawn(move || {
            let mut acks = AckReceiver::new();
            let sender = std::thread::spawn({
                let mut refs: Vec<AckRef> = (0..batches).map(|_| acks.new_batch()).collect();
                move || {
                    for (b, ack) in refs.drain(..).enumerate() {
                        let batch = (0..events)
                            .map(|i| {
                                Event::from_message(format!(
                                    "batch {b:04} event {i:03} {}",
                                    "z".repeat(40)
                                ))
                            })
                            .collect();
                        if writer.push_blocking(Arc::new(batch), ack).is_err() {
                            return;
                        }
                    }
                }
            });
            let mut delivered = 0;
            while delivered < batches {
                match acks.recv_timeout_blocking(Duration::from_secs(60)) {
                    Some(a) if a.status == AckStatus::Delivered => delivered += 1,
                    Some(_) => {}
                    None => break,
                }
            }
            drop(sender);
            delivered
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let got = rt.block_on(async {
            let mut got = 0;
            while got < batches {
                match tokio::time::timeout(Duration::from_secs(60), q.readers[0].next()).await {
                    Ok(Some(d)) => {
                        got += 1;
                        d.ack.complete(AckStatus::Delivered);
                    }
                    _ => break,
                }
            }
            got
        });
        let acked = input.join().unwrap();
        if got == batches && acked == batches {
            close(q);
        }
        (got, acked)
    }

    fn small_queue(dir: &Path, max_size: u64, segment_size: u64) -> DiskQueueSettings {
        DiskQueueSettings {
            dir: dir.to_path_buf(),
            max_size,
            segment_size,
            fsync: FsyncPolicy::Group,
            cache_events: 64,
            pending_batches: 2,
        }
    }

    /// The segment being written is larger than the whole queue may be, so it alone fills the queue:
    /// once the output has acknowledged all of it, it must be reclaimed or inputs wait forever.
    #[test]
    fn a_fully_acknowledged_active_segment_is_reclaimed_when_the_queue_is_full() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("q");
        let batches = 300;
        let (got, acked) = ship_through(small_queue(&dir, 8 << 10, 1 << 20), batches, 10);
        assert_eq!(
            (got, acked),
            (batches, batches),
            "the queue got stuck: the output took {got} and the input saw {acked} of {batches} batches acknowledged"
        );
        let on_disk: u64 = list_segments(&dir)
            .unwrap()
            .values()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(on_disk <= 8 << 10, "{on_disk} bytes of segments left");
    }

    /// Every batch is larger than the queue's `max_size`: each must still pass once the queue is drained.
    #[test]
    fn batches_larger_than_the_queue_pass_one_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("q");
        let batches = 40;
        let (got, acked) = ship_through(small_queue(&dir, 2 << 10, 1 << 10), batches, 40);
        assert_eq!(
            (got, acked),
            (batches, batches),
            "the queue got stuck: the output took {got} and the input saw {acked} of {batches} batches acknowledged"
        );
    }

    /// Writes one batch of one event `id` and waits until it is fsynced; returns its status.
    fn push(q: &DiskQueue, acks: &mut AckReceiver, id: &str) -> Option<AckStatus> {
        let events = vec![Event::from_message(id.to_string())];
        q.writer
            .push_blocking(Arc::new(events), acks.new_batch())
            .ok()?;
        acks.recv_timeout_blocking(Duration::from_secs(30))
            .map(|a| a.status)
    }

    #[test]
    fn a_damaged_cursor_restarts_its_output_at_the_oldest_record() {
        let damaged = [
            "{\"acked\": 18446744073709551615}",
            "{\"acked\": 1000}",
            "{\"acked\": -3}",
            "{\"acked\": \"7\"}",
            "{}",
            "garbage \u{0} \u{7f}",
            "",
        ];
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for text in damaged {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("q");
            let mut q = open(&dir);
            let mut acks = AckReceiver::new();
            for id in ["b0", "b1", "b2"] {
                assert_eq!(push(&q, &mut acks, id), Some(AckStatus::Delivered));
            }
            assert_eq!(take(&rt, &mut q, 1), ["b0"]);
            close(q);
            std::fs::write(cursor_path(&dir, "out"), text).unwrap();

            let mut q = open(&dir);
            assert_eq!(
                push(&q, &mut acks, "b3"),
                Some(AckStatus::Delivered),
                "cursor {text:?}"
            );
            // Everything still on disk comes again, in order, then what was written since.
            assert_eq!(
                take(&rt, &mut q, 10),
                ["b0", "b1", "b2", "b3"],
                "cursor {text:?}"
            );
            close(q);
            // The cursor file is sound again.
            assert_eq!(read_cursor(&dir, "out"), Some(4), "cursor {text:?}");
        }
    }

    #[test]
    fn records_and_segments_with_impossible_sequence_numbers_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("q");
        std::fs::create_dir_all(&dir).unwrap();
        let mut payload = Vec::new();
        codec::encode(&[Event::from_message("from disk")], &mut payload);
        // A well-formed segment holding a record at the very top of the sequence space, and a file
        // named after a sequence number logward never reaches.
        let mut top = segment::header(5).to_vec();
        segment::encode_record(&mut top, 5, &payload);
        segment::encode_record(&mut top, u64::MAX, &payload);
        std::fs::write(dir.join(segment::file_name(5)), &top).unwrap();
        let mut foreign = segment::header(u64::MAX).to_vec();
        segment::encode_record(&mut foreign, u64::MAX, &payload);
        std::fs::write(dir.join(segment::file_name(u64::MAX)), &foreign).unwrap();

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut q = open(&dir);
        assert_eq!(q.recovery.damaged, 1);
        let mut acks = AckReceiver::new();
        assert_eq!(push(&q, &mut acks, "new"), Some(AckStatus::Delivered));
        assert_eq!(take(&rt, &mut q, 10), ["from disk", "new"]);
        close(q);
    }

    #[test]
    fn a_dead_queue_thread_closes_the_queue_for_inputs_and_outputs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("q");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut q = open(&dir);
        let mut acks = AckReceiver::new();
        assert_eq!(push(&q, &mut acks, "before"), Some(AckStatus::Delivered));
        q.writer
            .inner
            .panic_at_next_batch
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // The batch that meets the dead thread is not acknowledged as delivered.
        assert_ne!(push(&q, &mut acks, "lost"), Some(AckStatus::Delivered));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !q.failed.is_stopped() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(q.failed.is_stopped(), "the failure was not signalled");
        // Inputs are told at once; the output gets what was committed, then the end.
        let events = Arc::new(vec![Event::from_message("after")]);
        assert!(q.writer.push_blocking(events, acks.new_batch()).is_err());
        let ended = rt.block_on(async {
            let mut got = Vec::new();
            loop {
                match tokio::time::timeout(Duration::from_secs(30), q.readers[0].next()).await {
                    Ok(Some(d)) => {
                        got.push(d.events[0].message().unwrap_or("").to_string());
                        d.ack.complete(AckStatus::Delivered);
                    }
                    Ok(None) => return Some(got),
                    Err(_) => return None,
                }
            }
        });
        assert_eq!(
            ended,
            Some(vec!["before".to_string()]),
            "the output did not end"
        );
        let DiskQueue { thread, .. } = q;
        assert!(thread.join().is_err());
    }

    /// How far a torn write may cut `segment` back: to the start of the trailing records the output has
    /// not acknowledged (`undelivered`). A crash can only tear a write nobody has acknowledged; losing
    /// records an output already acknowledged takes a disk that drops fsynced data, and then the cursor
    /// points past the newest record (see `a_damaged_cursor_restarts_its_output_at_the_oldest_record`).
    fn torn_write_floor(segment: &Path, undelivered: &[String]) -> u64 {
        let bytes = std::fs::read(segment).unwrap();
        let mut floor = bytes.len() as u64;
        for r in segment::scan(&bytes).records.iter().rev() {
            let payload = &bytes[r.offset as usize..(r.offset + r.len as u64) as usize];
            let events = codec::decode(payload).unwrap();
            if !undelivered
                .iter()
                .any(|id| Some(id.as_str()) == events[0].message())
            {
                break;
            }
            floor = r.offset - segment::RECORD_HEADER_LEN as u64;
        }
        floor.max(segment::HEADER_LEN as u64)
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
                            let floor = torn_write_floor(&last, &appended[delivered.len()..]);
                            let f = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
                            f.set_len(len.saturating_sub(cut as u64).max(floor)).unwrap();
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
