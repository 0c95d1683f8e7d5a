//! The `evtx` input: reads exported or archived Windows Event Log files (`.evtx`) on any platform, with the
//! same ECS fields as Winlogbeat. Files are read once; what was read is remembered per file, so a restart
//! goes on where the acknowledged records end. Damaged chunks and records are counted and skipped.
//!
//! The human-readable `message` is absent: rendering it needs the publisher's message tables, which exist
//! only on the Windows machine that has the provider installed.

pub mod ecs;
pub mod filter;

use crate::config::HumanDuration;
use crate::event::{Event, Origin};
use crate::inputs::{Input, InputContext};
use crate::observe::metrics::{self, Counter};
use crate::pipeline::ack::{AckStatus, CheckpointTracker};
use crate::processors::config::ProcessorConfig;
use crate::util::path_match::{self, PathMatcher, PatternError};
use evtx::{EvtxParser, ParserSettings};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `type: evtx`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvtxInputConfig {
    /// A stable name (registry key). Defaults to a hash of `paths`.
    #[serde(default)]
    pub id: Option<String>,
    /// Files, globs, or folders (every `*.evtx` inside).
    pub paths: Vec<String>,
    /// How often the paths are looked at again for new files.
    #[serde(default = "default_scan")]
    pub scan_frequency: HumanDuration,
    /// Event ids to keep: `4624`, ranges `4700-4800`, exclusions `-4688`.
    #[serde(default)]
    pub event_ids: Vec<String>,
    /// Levels to keep (critical, error, warning, information, verbose).
    #[serde(default)]
    pub levels: Vec<String>,
    /// Providers to keep.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Extra fields (under `fields.` unless `fields_under_root`).
    #[serde(default)]
    pub fields: serde_json::Map<String, Value>,
    /// Put `fields` at the root.
    #[serde(default)]
    pub fields_under_root: bool,
    /// Tags added to every event.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Processors for this input's events.
    #[serde(default)]
    pub processors: Vec<ProcessorConfig>,
}

fn default_scan() -> HumanDuration {
    HumanDuration::secs(10)
}

/// The default id for an evtx input.
pub fn default_id(paths: &[String]) -> String {
    format!(
        "evtx-{:08x}",
        xxhash_rust::xxh3::xxh3_64(paths.join("\n").as_bytes()) as u32
    )
}

/// Resolves relative paths and checks filters; returns problems as (key, message).
pub fn validate(cfg: &mut EvtxInputConfig, base_dir: &Path) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    if cfg.paths.is_empty() {
        errors.push((
            "paths",
            "`paths` is empty: give files, globs or folders of .evtx files".to_string(),
        ));
    }
    for p in &mut cfg.paths {
        if !Path::new(p.as_str()).is_absolute() {
            *p = crate::config::load::lexical_clean(&base_dir.join(p.as_str()))
                .to_string_lossy()
                .into_owned();
        }
        if let Err(e) = path_match::validate(p) {
            errors.push(("paths", format!("{p:?} is not a valid glob: {e}")));
        }
    }
    if let Err(e) = filter::WinEventFilter::new(&cfg.event_ids, &cfg.levels, &cfg.providers) {
        errors.push(("event_ids", e));
    }
    errors
}

/// The matcher for `paths`: a path without wildcards names a file, or a folder whose `*.evtx` files
/// are read (whichever it is when the walk looks); anything else is a glob.
pub fn path_matcher(paths: &[String]) -> Result<PathMatcher, PatternError> {
    let mut patterns = Vec::with_capacity(paths.len() * 2);
    for p in paths {
        if path_match::is_literal(p) {
            let folder = p.trim_end_matches(std::path::is_separator);
            if folder.len() == p.len() {
                patterns.push(p.clone());
            }
            patterns.push(format!("{folder}/*.evtx"));
        } else {
            patterns.push(p.clone());
        }
    }
    PathMatcher::new(&patterns, &[])
}

/// One file's progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct FileState {
    /// Hash of the file's first 4 KiB (the file header and the first chunk's header).
    key: String,
    path: PathBuf,
    /// Records (in reading order, filtered or not) acknowledged so far.
    records: u64,
    /// The size the file had when it was read to its end; a file that grows is read on.
    complete_size: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Registry {
    files: Vec<FileState>,
}

struct Checkpoint {
    key: String,
    records: u64,
    complete_size: Option<u64>,
    _batch: Option<Arc<Vec<Event>>>,
}

/// A configured evtx input.
pub struct EvtxInput {
    cfg: EvtxInputConfig,
    batch: usize,
}

impl EvtxInput {
    /// An input sending batches of at most `batch` events.
    pub fn new(cfg: EvtxInputConfig, batch: usize) -> EvtxInput {
        EvtxInput {
            cfg,
            batch: batch.max(1),
        }
    }
}

struct Reader {
    ctx: InputContext,
    cfg: EvtxInputConfig,
    matcher: PathMatcher,
    /// Folders already warned about as unreadable (scans repeat every `scan_frequency`).
    unreadable: HashSet<PathBuf>,
    filter: filter::WinEventFilter,
    registry: Registry,
    registry_path: PathBuf,
    tracker: CheckpointTracker<Checkpoint>,
    batch: usize,
    dirty: bool,
    last_save: Instant,
    damaged_chunks: Counter,
    damaged_records: Counter,
    filtered: Counter,
}

/// Where the registry of an evtx input lives.
fn registry_path(data_dir: &Path, id: &str) -> PathBuf {
    crate::inputs::file::registry::Registry::path(data_dir, id).with_extension("evtx.json")
}

fn file_key(path: &Path) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)?
        .take(4096)
        .read_to_end(&mut head)?;
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&head)))
}

impl Input for EvtxInput {
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()> {
        let filter =
            filter::WinEventFilter::new(&self.cfg.event_ids, &self.cfg.levels, &self.cfg.providers)
                .map_err(|e| anyhow::anyhow!(e))?;
        let matcher = path_matcher(&self.cfg.paths)
            .map_err(|e| anyhow::anyhow!("{:?} is not a valid glob: {e}", e.pattern()))?;
        let registry_path = registry_path(&ctx.data_dir, &ctx.id);
        let registry = match std::fs::read(&registry_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::error!(registry = %registry_path.display(), "the evtx registry is damaged ({e}); files will be read again");
                Registry::default()
            }),
            Err(_) => Registry::default(),
        };
        let id = ctx.id.clone();
        let mut reader = Reader {
            damaged_chunks: metrics::counter("input_evtx_damaged_chunks_total", &[("input", &id)]),
            damaged_records: metrics::counter(
                "input_evtx_damaged_records_total",
                &[("input", &id)],
            ),
            filtered: metrics::counter("input_filtered_events_total", &[("input", &id)]),
            ctx,
            cfg: self.cfg,
            matcher,
            unreadable: HashSet::new(),
            filter,
            registry,
            registry_path,
            tracker: CheckpointTracker::default(),
            batch: self.batch,
            dirty: false,
            last_save: Instant::now(),
        };
        reader.run();
        Ok(())
    }
}

impl Reader {
    fn run(&mut self) {
        while !self.ctx.stop.is_stopped() {
            for path in self.files() {
                if self.ctx.stop.is_stopped() {
                    break;
                }
                if let Err(e) = self.read_file(&path) {
                    tracing::warn!(input = %self.ctx.id, file = %path.display(), "cannot read the event log file: {e}");
                }
            }
            self.apply_acks();
            if self.ctx.stop.wait_timeout(
                self.cfg
                    .scan_frequency
                    .get()
                    .max(Duration::from_millis(100)),
            ) {
                break;
            }
        }
        while self.tracker.in_flight() > 0 && !self.ctx.force.is_stopped() {
            if let Some(ack) = self
                .ctx
                .acks
                .recv_timeout_blocking(Duration::from_millis(50))
            {
                self.tracker.settle(ack);
            }
            self.apply_acks();
        }
        self.apply_acks();
        self.save();
    }

    fn files(&mut self) -> Vec<PathBuf> {
        let walk = self.matcher.walk();
        for (folder, e) in walk.unreadable {
            if self.unreadable.insert(folder.clone()) {
                tracing::warn!(input = %self.ctx.id, folder = %folder.display(), "cannot look into this folder: {e}");
            }
        }
        walk.files
    }

    fn apply_acks(&mut self) {
        for ack in self.ctx.acks.try_drain() {
            self.tracker.settle(ack);
        }
        for cp in self.tracker.release() {
            if let Some(f) = self.registry.files.iter_mut().find(|f| f.key == cp.key) {
                f.records = f.records.max(cp.records);
                if cp.complete_size.is_some() {
                    f.complete_size = cp.complete_size;
                }
                self.dirty = true;
            }
        }
        if self.dirty && self.last_save.elapsed() >= Duration::from_millis(250) {
            self.save();
        }
    }

    fn save(&mut self) {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.registry_path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let bytes = serde_json::to_vec_pretty(&self.registry).map_err(std::io::Error::other)?;
            crate::util::fs::write_atomic(&self.registry_path, &bytes, true)
        };
        match write() {
            Ok(()) => self.dirty = false,
            Err(e) => {
                tracing::error!(input = %self.ctx.id, "cannot save the evtx registry {}: {e}", self.registry_path.display())
            }
        }
        self.last_save = Instant::now();
    }

    fn send(
        &mut self,
        events: Vec<Event>,
        key: &str,
        records: u64,
        complete_size: Option<u64>,
    ) -> bool {
        let ack = self.ctx.acks.new_batch();
        let seq = ack.seq();
        if events.is_empty() {
            self.tracker.register(
                seq,
                Checkpoint {
                    key: key.to_string(),
                    records,
                    complete_size,
                    _batch: None,
                },
            );
            ack.complete(AckStatus::Delivered);
            return true;
        }
        match self.ctx.sender.send_blocking_keep(events, ack) {
            Ok(batch) => {
                self.tracker.register(
                    seq,
                    Checkpoint {
                        key: key.to_string(),
                        records,
                        complete_size,
                        _batch: batch,
                    },
                );
                self.apply_acks();
                true
            }
            Err(_) => false,
        }
    }

    fn decorate(&self, mut e: Event) -> Event {
        if !self.cfg.fields.is_empty() {
            if self.cfg.fields_under_root {
                for (k, v) in &self.cfg.fields {
                    e.fields_mut().insert(k.clone(), v.clone());
                }
            } else {
                e.fields_mut()
                    .insert("fields".into(), Value::Object(self.cfg.fields.clone()));
            }
        }
        for t in &self.cfg.tags {
            e.add_tag(t);
        }
        e.fields_mut()
            .insert("input".into(), serde_json::json!({"type": "evtx"}));
        e
    }

    fn read_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let size = std::fs::metadata(path)?.len();
        let key = file_key(path)?;
        let state = match self.registry.files.iter_mut().find(|f| f.key == key) {
            Some(s) => s,
            None => {
                self.registry.files.push(FileState {
                    key: key.clone(),
                    path: path.to_path_buf(),
                    records: 0,
                    complete_size: None,
                });
                self.dirty = true;
                self.registry
                    .files
                    .last_mut()
                    .ok_or_else(|| anyhow::anyhow!("registry"))?
            }
        };
        if state.complete_size == Some(size) {
            return Ok(());
        }
        state.path = path.to_path_buf();
        let skip = state.records;
        let source: Arc<str> = format!("{}/{}", self.ctx.id, key).into();
        let path_text = path.to_string_lossy().into_owned();
        let mut parser = EvtxParser::from_path(path)?
            .with_configuration(ParserSettings::default().num_threads(1));
        let settings = Arc::new(ParserSettings::default().num_threads(1));
        let mut ordinal: u64 = 0;
        let mut events = Vec::with_capacity(self.batch);
        let mut pending: Vec<(u64, Value)> = Vec::new();
        let mut chunks = 0u64;
        for chunk in parser.chunks() {
            chunks += 1;
            let mut data = match chunk {
                Ok(d) => d,
                Err(e) => {
                    self.damaged_chunks.inc();
                    tracing::warn!(input = %self.ctx.id, file = %path.display(), chunk = chunks, "skipping a damaged chunk: {e}");
                    continue;
                }
            };
            let mut parsed = match data.parse(Arc::clone(&settings)) {
                Ok(p) => p,
                Err(e) => {
                    self.damaged_chunks.inc();
                    tracing::warn!(input = %self.ctx.id, file = %path.display(), chunk = chunks, "skipping a chunk that does not parse: {e}");
                    continue;
                }
            };
            for record in parsed.iter() {
                let this = ordinal;
                ordinal += 1;
                if this < skip {
                    continue;
                }
                match record.and_then(|r| r.into_json_value()) {
                    Ok(r) => pending.push((r.event_record_id, r.data)),
                    Err(e) => {
                        self.damaged_records.inc();
                        tracing::warn!(input = %self.ctx.id, file = %path.display(), record = this, "skipping a damaged record: {e}");
                        pending.push((u64::MAX, Value::Null));
                    }
                }
            }
            // Map outside the chunk borrow; send full batches.
            let base = ordinal - pending.len() as u64;
            for (i, (record_id, data)) in pending.drain(..).enumerate() {
                let position = base + i as u64;
                if record_id == u64::MAX {
                    continue;
                }
                let mut e = ecs::to_event(&data, record_id, &self.ctx.host_name);
                if !self.filter.allows(&e) {
                    self.filtered.inc();
                    continue;
                }
                let doc_id = format!(
                    "{}/{}/{}",
                    e.get_path("winlog.channel")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    record_id,
                    e.get_path("winlog.computer_name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                );
                e.metadata.insert("_id".into(), Value::String(doc_id));
                let level = e.get_path("log.level").cloned().unwrap_or(Value::Null);
                e.fields_mut().insert(
                    "log".into(),
                    serde_json::json!({"level": level, "file": {"path": path_text}}),
                );
                e.origin = Some(Origin {
                    source: Arc::clone(&source),
                    position,
                });
                events.push(self.decorate(e));
            }
            if events.len() >= self.batch {
                let out = std::mem::replace(&mut events, Vec::with_capacity(self.batch));
                if !self.send(out, &key, ordinal, None) {
                    return Ok(());
                }
                if self.ctx.stop.is_stopped() {
                    return Ok(());
                }
            }
        }
        self.send(events, &key, ordinal, Some(size));
        tracing::info!(input = %self.ctx.id, file = %path.display(), records = ordinal, "read the event log file");
        Ok(())
    }
}
