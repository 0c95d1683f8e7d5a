//! The checkpoint store every input shares (Beats' input manager is the model): an input publishes each
//! batch with an opaque cursor (a file offset, a record count, a bookmark); once the pipeline has
//! acknowledged that batch and every batch before it, the cursor is applied to the input's state, and the
//! state is saved — atomically, at most a few times a second, and at the end. So an input's checkpoint
//! never passes an event that is not safe, and no input writes its own persistence code.
//!
//! One file per input, `data_dir/registry/<file_stem(id)>.json`, holding
//! `{"version": 2, "input": {"id": …, "type": …}, "state": …}`. The file name comes from
//! [`crate::component::file_stem`], which keeps every id its own file (the old scheme mapped `web.app`
//! and `web_app` to the same file). Files written by earlier versions are read once and rewritten in
//! this form (see [`Legacy`]).

use super::ack::{Ack, AckReceiver, CheckpointTracker};
use super::queue::Closed;
use super::sender::EventSender;
use super::shutdown::StopSignal;
use crate::event::Event;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The format version of checkpoint files.
const VERSION: u32 = 2;

/// How often a changed state is saved while running (it is always saved at the end).
const SAVE_EVERY: Duration = Duration::from_millis(250);

/// What moves an input's state forward once its batch is acknowledged.
pub trait Cursor: Send + 'static {
    /// The input's persisted state.
    type State: Serialize + DeserializeOwned + Default + Send;

    /// Applies this (acknowledged) cursor to the state.
    fn apply(self, state: &mut Self::State);
}

/// Where an input's checkpoints live, handed to each input by the pipeline.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
    input_id: String,
    input_type: &'static str,
}

/// A checkpoint file written by an earlier version of logward, and how to read it.
pub struct Legacy<S> {
    /// Where it is.
    pub path: PathBuf,
    /// Turns its content into the state; `None` when it is not such a file.
    pub read: fn(&[u8]) -> Option<S>,
}

#[derive(Serialize)]
struct FileOut<'a, S> {
    version: u32,
    input: InputName<'a>,
    state: &'a S,
}

#[derive(Serialize, Deserialize)]
struct InputName<'a> {
    id: std::borrow::Cow<'a, str>,
    #[serde(rename = "type")]
    kind: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
struct FileIn<S> {
    version: u32,
    input: InputName<'static>,
    state: S,
}

impl CheckpointStore {
    /// The store of input `input_id` (of type `input_type`) under `data_dir`.
    pub fn new(data_dir: &Path, input_id: &str, input_type: &'static str) -> CheckpointStore {
        CheckpointStore {
            dir: data_dir.join("registry"),
            input_id: input_id.to_string(),
            input_type,
        }
    }

    /// The folder of every input's checkpoint file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The input's id.
    pub fn input_id(&self) -> &str {
        &self.input_id
    }

    /// This input's checkpoint file.
    pub fn path(&self) -> PathBuf {
        crate::component::file_for(&self.dir, &self.input_id, ".json")
    }

    /// Loads the saved state: this version's file, else a legacy one (migrated: saved in this version's
    /// form, the old file removed), else the default. A damaged file is moved aside (`.damaged`) and
    /// reported, and the input starts over, rather than refusing to run.
    pub fn load<S: Serialize + DeserializeOwned + Default>(&self, legacy: &[Legacy<S>]) -> S {
        let path = self.path();
        let mut found_legacy_here = false;
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<FileIn<S>>(&bytes) {
                Ok(f) if f.version == VERSION => {
                    if f.input.id != self.input_id {
                        tracing::warn!(input = %self.input_id, file = %path.display(), other = %f.input.id,
                            "the checkpoint file belongs to another input id; it is kept aside and reading starts over");
                        self.move_aside(&path, "other-input");
                        return S::default();
                    }
                    return f.state;
                }
                Ok(f) => {
                    tracing::error!(input = %self.input_id, file = %path.display(), version = f.version,
                        "the checkpoint file has a version this logward does not know; it is kept aside and reading starts over");
                    self.move_aside(&path, "damaged");
                    return S::default();
                }
                // An earlier version's file under the same name is read below like the other legacy ones.
                Err(_)
                    if legacy
                        .iter()
                        .any(|l| l.path == path && (l.read)(&bytes).is_some()) =>
                {
                    found_legacy_here = true;
                }
                Err(e) => {
                    tracing::error!(input = %self.input_id, file = %path.display(),
                        "the checkpoint file is damaged ({e}); it was moved aside and reading starts over from the beginning");
                    self.move_aside(&path, "damaged");
                    return S::default();
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(input = %self.input_id, file = %path.display(),
                    "cannot read the checkpoint file ({e}); reading starts over from the beginning");
                return S::default();
            }
        }
        for l in legacy {
            if l.path == path && !found_legacy_here {
                continue;
            }
            let Ok(bytes) = std::fs::read(&l.path) else {
                continue;
            };
            // Another input's file in this version's form (an old name can be a new input's name).
            if serde_json::from_slice::<FileIn<serde::de::IgnoredAny>>(&bytes).is_ok() {
                continue;
            }
            let Some(state) = (l.read)(&bytes) else {
                tracing::warn!(input = %self.input_id, file = %l.path.display(),
                    "an old checkpoint file cannot be read; it is left as it is");
                continue;
            };
            match self.save(&state) {
                Ok(()) => {
                    tracing::info!(input = %self.input_id, from = %l.path.display(), to = %path.display(),
                        "checkpoints migrated from the earlier file format");
                    // Set aside, unless its name could be another input's file of this version (then it
                    // is left: that input rewrites it when it migrates or saves).
                    if l.path != path && !could_be_checkpoint_file(&l.path) {
                        let aside = l.path.with_extension("json.migrated");
                        if let Err(e) = std::fs::rename(&l.path, &aside) {
                            tracing::warn!(file = %l.path.display(), "cannot set the migrated checkpoint file aside: {e}");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(input = %self.input_id, "cannot save the migrated checkpoints ({e}); the old file is kept");
                }
            }
            return state;
        }
        S::default()
    }

    fn move_aside(&self, path: &Path, why: &str) {
        let aside = path.with_extension(format!("json.{why}"));
        if let Err(e) = std::fs::rename(path, &aside) {
            tracing::warn!(file = %path.display(), "cannot move the checkpoint file aside: {e}");
        }
    }

    /// Saves the state atomically and durably.
    pub fn save<S: Serialize>(&self, state: &S) -> std::io::Result<()> {
        crate::util::fs::create_private_dir_all(&self.dir)?;
        let out = FileOut {
            version: VERSION,
            input: InputName {
                id: self.input_id.as_str().into(),
                kind: self.input_type.into(),
            },
            state,
        };
        let bytes = serde_json::to_vec_pretty(&out).map_err(std::io::Error::other)?;
        crate::util::fs::write_atomic(&self.path(), &bytes, true)
    }
}

/// How earlier versions turned an input id into a file name: every character other than `A-Za-z0-9-_`
/// written as `_` (which is how `web.app` and `web_app` came to share one file).
pub fn legacy_stem(input_id: &str) -> String {
    input_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether `path` could name some input's checkpoint file of this version (`<file_stem>.json`).
fn could_be_checkpoint_file(path: &Path) -> bool {
    let Some(stem) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".json"))
    else {
        return false;
    };
    let plain = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    match stem.rsplit_once('.') {
        None => plain(stem),
        Some((_, hash)) => hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
    }
}

/// A batch sent and not yet acknowledged: its cursor, and the batch itself, kept so its events are freed
/// on the input's thread (cheaper than on an output's).
struct InFlight<C> {
    cursor: C,
    batch: Option<super::queue::KeptBatch>,
}

/// An input's acknowledged progress: cursors published with batches, applied to the state strictly in
/// order, the state saved as it moves.
pub struct Checkpoints<C: Cursor> {
    store: Option<CheckpointStore>,
    state: C::State,
    acks: AckReceiver,
    tracker: CheckpointTracker<InFlight<C>>,
    dirty: bool,
    last_save: Instant,
    save_failing: bool,
}

impl<C: Cursor> Checkpoints<C> {
    /// Opens the input's checkpoints, migrating a legacy file when there is one.
    pub fn open(store: &CheckpointStore, legacy: &[Legacy<C::State>]) -> Checkpoints<C> {
        Checkpoints {
            state: store.load(legacy),
            store: Some(store.clone()),
            acks: AckReceiver::new(),
            tracker: CheckpointTracker::default(),
            dirty: false,
            last_save: Instant::now(),
            save_failing: false,
        }
    }

    /// Checkpoints kept in memory only (an input that cannot resume, like standard input): batches are
    /// still tracked, so the input can wait for its events to be delivered.
    pub fn in_memory() -> Checkpoints<C> {
        Checkpoints {
            state: C::State::default(),
            store: None,
            acks: AckReceiver::new(),
            tracker: CheckpointTracker::default(),
            dirty: false,
            last_save: Instant::now(),
            save_failing: false,
        }
    }

    /// The acknowledged state.
    pub fn state(&self) -> &C::State {
        &self.state
    }

    /// The acknowledged state, to change what is not a cursor (a new file seen, an entry pruned); it is
    /// saved with the next save.
    pub fn state_mut(&mut self) -> &mut C::State {
        self.dirty = true;
        &mut self.state
    }

    /// The acknowledged state, for changes that are not worth a save of their own (a file seen again):
    /// they are saved with the next save.
    pub fn state_untracked_mut(&mut self) -> &mut C::State {
        &mut self.state
    }

    /// Batches sent and not yet settled.
    pub fn in_flight(&self) -> usize {
        self.tracker.in_flight()
    }

    /// Processes and queues a batch (waiting while the queue is full); `cursor` is applied once it and
    /// every batch before it are acknowledged. An empty batch still moves the cursor, in order.
    pub fn publish(
        &mut self,
        sender: &EventSender,
        events: Vec<Event>,
        cursor: C,
    ) -> Result<(), Closed> {
        match self.publish_until(sender, events, cursor, None)? {
            None => Ok(()),
            // Without a deadline the wait ends only with room or a closed queue.
            Some(_) => Err(Closed),
        }
    }

    /// Like [`Self::publish`], but waits for room in the queue only until `deadline` (not at all when it
    /// has passed); then hands the batch and its cursor back, unqueued, so the input can go on with
    /// what it must do meanwhile (find and hold new files) and offer them again. `None` = no deadline.
    pub fn publish_until(
        &mut self,
        sender: &EventSender,
        events: Vec<Event>,
        cursor: C,
        deadline: Option<Instant>,
    ) -> Result<Option<(Vec<Event>, C)>, Closed> {
        let batch = if events.is_empty() {
            None
        } else {
            let room = match sender.try_reserve(events.len())? {
                Some(room) => room,
                // Waiting for room is the outputs' trouble, which readiness reports: the input thread
                // is not wedged.
                None => {
                    let room = crate::observe::watchdog::waiting(|| -> Result<_, Closed> {
                        loop {
                            if let Some(room) = sender.try_reserve(events.len())? {
                                return Ok(Some(room));
                            }
                            let wait = match deadline {
                                None => Duration::from_millis(20),
                                Some(d) => match d.checked_duration_since(Instant::now()) {
                                    Some(left) if !left.is_zero() => {
                                        left.min(Duration::from_millis(20))
                                    }
                                    _ => return Ok(None),
                                },
                            };
                            // The room may be held by this input's own batches that wait for an
                            // earlier one: take in acknowledgements while waiting, so they can be
                            // released.
                            if let Some(ack) = self.acks.recv_timeout_blocking(wait) {
                                self.tracker.settle(ack);
                                // Frees the kept batches the next `poll` would release, without
                                // applying their cursors now: the input applies them where it polls,
                                // not in the middle of its work.
                                for done in self.tracker.settled_prefix_mut() {
                                    done.batch = None;
                                }
                            }
                        }
                    })?;
                    match room {
                        Some(room) => room,
                        None => return Ok(Some((events, cursor))),
                    }
                }
            };
            Some((events, room))
        };
        let ack = self.acks.new_batch();
        let seq = ack.seq();
        let batch = match batch {
            None => {
                ack.complete(super::ack::AckStatus::Delivered);
                None
            }
            Some((events, room)) => sender.send_blocking_keep(events, ack, Some(room))?,
        };
        self.tracker.register(seq, InFlight { cursor, batch });
        Ok(None)
    }

    /// Applies every cursor whose batch (and every one before it) is acknowledged; saves when due.
    pub fn poll(&mut self) {
        for ack in self.acks.try_drain() {
            self.tracker.settle(ack);
        }
        self.release();
        if self.dirty && self.last_save.elapsed() >= SAVE_EVERY {
            self.save();
        }
    }

    fn settle(&mut self, ack: Ack) {
        self.tracker.settle(ack);
        self.release();
    }

    fn release(&mut self) {
        for done in self.tracker.release() {
            done.cursor.apply(&mut self.state);
            self.dirty = true;
        }
    }

    /// Saves the state now (when it changed). A failure is logged once until saving works again.
    pub fn save(&mut self) {
        self.last_save = Instant::now();
        let Some(store) = &self.store else {
            self.dirty = false;
            return;
        };
        if !self.dirty {
            return;
        }
        match store.save(&self.state) {
            Ok(()) => {
                self.dirty = false;
                if self.save_failing {
                    self.save_failing = false;
                    tracing::info!(input = %store.input_id, "checkpoints are saved again");
                }
            }
            Err(e) => {
                if !self.save_failing {
                    self.save_failing = true;
                    tracing::error!(input = %store.input_id, file = %store.path().display(),
                        "cannot save the checkpoints ({e}); they will be saved at the next try");
                }
            }
        }
    }

    /// At shutdown: waits for the batches in flight (until `force`), applies what was acknowledged and
    /// saves. Whatever is not acknowledged is read again after a restart.
    pub fn finish(&mut self, force: &StopSignal, input: &str) {
        while self.tracker.in_flight() > 0 && !force.is_stopped() {
            if let Some(ack) = self.acks.recv_timeout_blocking(Duration::from_millis(50)) {
                self.settle(ack);
            }
        }
        self.poll();
        if self.tracker.in_flight() > 0 {
            tracing::warn!(
                input,
                batches = self.tracker.in_flight(),
                "stopping with unacknowledged batches; their events will be read again after restart"
            );
        }
        self.dirty |= self.store.is_some();
        self.save();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ack::AckStatus;
    use crate::pipeline::queue::memory_queue;
    use crate::processors::Chain;
    use std::sync::Arc;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    struct Offsets {
        done: Vec<u64>,
    }

    struct Upto(u64);

    impl Cursor for Upto {
        type State = Offsets;
        fn apply(self, state: &mut Offsets) {
            state.done.push(self.0);
        }
    }

    #[test]
    fn cursors_apply_in_order_only_after_acknowledgement_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "web.app", "test");
        let (writer, mut readers) = memory_queue(1, 8);
        let sender = EventSender::new(
            &crate::observe::component::ComponentMetrics::new(
                crate::observe::component::Kind::Input,
                "web.app",
                "test",
            ),
            Arc::new(Chain::default()),
            Arc::new(Chain::default()),
            writer,
        );
        let mut cp = Checkpoints::<Upto>::open(&store, &[]);
        for i in 1..=3 {
            cp.publish(&sender, vec![Event::from_message(format!("{i}"))], Upto(i))
                .unwrap();
        }
        cp.publish(&sender, Vec::new(), Upto(4)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = &mut readers[0];
        let d1 = rt.block_on(r.next()).unwrap();
        let d2 = rt.block_on(r.next()).unwrap();
        let d3 = rt.block_on(r.next()).unwrap();
        d2.ack.complete(AckStatus::Delivered);
        cp.poll();
        assert!(cp.state().done.is_empty(), "batch 2 waits for batch 1");
        d1.ack.complete(AckStatus::Delivered);
        cp.poll();
        assert_eq!(cp.state().done, vec![1, 2]);
        drop(d3); // abandoned: blocks 3 and the empty batch after it
        cp.poll();
        assert_eq!(cp.state().done, vec![1, 2]);
        // Batch 3 will never be acknowledged: stop as after the shutdown timeout.
        let force = StopSignal::new();
        force.stop();
        cp.finish(&force, "web.app");
        let again = Checkpoints::<Upto>::open(&store, &[]);
        assert_eq!(again.state().done, vec![1, 2]);
        // Another id, however similar, has its own file.
        let other = CheckpointStore::new(dir.path(), "web_app", "test");
        assert_ne!(other.path(), store.path());
        assert!(
            Checkpoints::<Upto>::open(&other, &[])
                .state()
                .done
                .is_empty()
        );
    }

    #[test]
    fn legacy_files_are_migrated_once_and_damaged_ones_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "app", "test");
        std::fs::create_dir_all(store.dir()).unwrap();
        let old = store.dir().join("app.old.json");
        std::fs::write(&old, br#"{"finished":[7]}"#).unwrap();
        let legacy = [Legacy::<Offsets> {
            path: old.clone(),
            read: |b| {
                let v: serde_json::Value = serde_json::from_slice(b).ok()?;
                Some(Offsets {
                    done: serde_json::from_value(v.get("finished")?.clone()).ok()?,
                })
            },
        }];
        let cp = Checkpoints::<Upto>::open(&store, &legacy);
        assert_eq!(cp.state().done, vec![7]);
        assert!(!old.exists(), "the old file is removed once migrated");
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store.path()).unwrap()).unwrap();
        assert_eq!(saved["version"], 2);
        assert_eq!(saved["input"]["id"], "app");
        assert_eq!(saved["state"]["done"][0], 7);
        // Reopened: read from the new file.
        assert_eq!(
            Checkpoints::<Upto>::open(&store, &legacy).state().done,
            vec![7]
        );
        std::fs::write(store.path(), b"{garbage").unwrap();
        assert!(
            Checkpoints::<Upto>::open(&store, &legacy)
                .state()
                .done
                .is_empty()
        );
        assert!(store.path().with_extension("json.damaged").exists());
    }
}
