//! The `evtx` input: reads exported or archived Windows Event Log files (`.evtx`) on any platform, with the
//! same ECS fields as Winlogbeat. Files are read once; what was read is remembered per file, so a restart
//! goes on where the acknowledged records end. Damaged chunks and records are counted and skipped.
//!
//! The human-readable `message` is absent: rendering it needs the publisher's message tables, which exist
//! only on the Windows machine that has the provider installed.

use crate::component::{InputBuild, InputConfig, InputKind, Validator};
use crate::config::HumanDuration;
use crate::event::{Event, Origin};
use crate::inputs::windows_event::{ecs, filter};
use crate::inputs::{Input, InputContext};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::Counter;
use crate::pipeline::checkpoint::{Checkpoints, Cursor, Legacy, legacy_stem};
use crate::pipeline::queue::Closed;
use crate::util::path_match::{self, PathMatcher, PatternError};
use evtx::{EvtxParser, ParserSettings};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The `evtx` input type.
pub const KIND: InputKind = InputKind::of::<EvtxInputConfig>(
    "evtx",
    "reads exported Windows Event Log files (.evtx)",
);

/// `type: evtx`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvtxInputConfig {
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
}

fn default_scan() -> HumanDuration {
    HumanDuration::secs(10)
}

impl InputConfig for EvtxInputConfig {
    /// Stable for the same `paths`.
    fn default_id(&self) -> String {
        crate::component::hashed_id("evtx", &self.paths)
    }

    /// Resolves relative paths and checks the patterns and filters.
    fn validate(&mut self, v: &mut Validator<'_>) {
        if self.paths.is_empty() {
            v.error(
                "paths",
                "`paths` is empty: give files, globs or folders of .evtx files",
            );
        }
        for (i, p) in self.paths.iter_mut().enumerate() {
            *p = v.resolve_glob(p);
            if let Err(e) = path_match::validate(p) {
                v.error_at_item("paths", i, format!("{p:?} is not a valid glob: {e}"));
            }
        }
        if let Err(e) = filter::WinEventFilter::new(&self.event_ids, &self.levels, &self.providers)
        {
            v.error("event_ids", e);
        }
    }

    fn warnings(&self) -> Vec<String> {
        path_match::warnings(&self.paths, path_matcher)
    }

    fn build(&self, ctx: &InputBuild<'_>) -> anyhow::Result<Box<dyn Input>> {
        Ok(Box::new(EvtxInput {
            cfg: self.clone(),
            batch: ctx.batch_events.max(1),
        }))
    }
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

/// What was read of every file: the input's checkpoint state.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Registry {
    files: Vec<FileState>,
}

/// How far a batch took a file.
struct EvtxCursor {
    key: String,
    records: u64,
    complete_size: Option<u64>,
}

impl Cursor for EvtxCursor {
    type State = Registry;

    fn apply(self, state: &mut Registry) {
        if let Some(f) = state.files.iter_mut().find(|f| f.key == self.key) {
            f.records = f.records.max(self.records);
            if self.complete_size.is_some() {
                f.complete_size = self.complete_size;
            }
        }
    }
}

/// The file of earlier versions: `registry/<id>.evtx.json` (characters other than `A-Za-z0-9-_` as `_`).
fn legacy(dir: &Path, id: &str) -> Legacy<Registry> {
    let safe = legacy_stem(id);
    Legacy {
        path: dir.join(format!("{safe}.evtx.json")),
        read: |bytes| serde_json::from_slice(bytes).ok(),
    }
}

/// A configured evtx input.
pub struct EvtxInput {
    cfg: EvtxInputConfig,
    batch: usize,
}

struct Reader {
    ctx: InputContext,
    cfg: EvtxInputConfig,
    filter: filter::WinEventFilter,
    matcher: PathMatcher,
    /// Folders already warned about as unreadable (scans repeat every `scan_frequency`).
    unreadable: HashSet<PathBuf>,
    checkpoints: Checkpoints<EvtxCursor>,
    batch: usize,
    damaged_chunks: Counter,
    damaged_records: Counter,
    filtered: Counter,
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
        let checkpoints =
            Checkpoints::open(&ctx.checkpoints, &[legacy(ctx.checkpoints.dir(), &ctx.id)]);
        let m = ComponentMetrics::new(Kind::Input, &ctx.id, "evtx");
        let mut reader = Reader {
            damaged_chunks: m.errors("damaged_chunk", Stage::Receiving),
            damaged_records: m.errors("damaged_record", Stage::Receiving),
            filtered: m.discarded(true),
            ctx,
            cfg: self.cfg,
            filter,
            matcher,
            unreadable: HashSet::new(),
            checkpoints,
            batch: self.batch,
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
            self.checkpoints.poll();
            if self.ctx.stop.wait_timeout(
                self.cfg
                    .scan_frequency
                    .get()
                    .max(Duration::from_millis(100)),
            ) {
                break;
            }
        }
        self.checkpoints.finish(&self.ctx.force, &self.ctx.id);
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

    /// Sends a batch of a file's events; its records are acknowledged up to `records`.
    fn send(
        &mut self,
        events: Vec<Event>,
        key: &str,
        records: u64,
        complete_size: Option<u64>,
    ) -> Result<(), Closed> {
        let cursor = EvtxCursor {
            key: key.to_string(),
            records,
            complete_size,
        };
        self.checkpoints.publish(&self.ctx.sender, events, cursor)?;
        self.checkpoints.poll();
        Ok(())
    }

    fn read_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let size = std::fs::metadata(path)?.len();
        let key = file_key(path)?;
        let known = self
            .checkpoints
            .state()
            .files
            .iter()
            .position(|f| f.key == key);
        let index = match known {
            Some(i) => i,
            None => {
                let files = &mut self.checkpoints.state_mut().files;
                files.push(FileState {
                    key: key.clone(),
                    path: path.to_path_buf(),
                    records: 0,
                    complete_size: None,
                });
                files.len() - 1
            }
        };
        let state = &self.checkpoints.state().files[index];
        if state.complete_size == Some(size) {
            return Ok(());
        }
        let skip = state.records;
        if state.path != path {
            self.checkpoints.state_mut().files[index].path = path.to_path_buf();
        }
        let source: Arc<str> = format!("{}/{}", self.ctx.id, key).into();
        let path_text = path.to_string_lossy().into_owned();
        let mut parser = EvtxParser::from_path(path)?
            .with_configuration(ParserSettings::default().num_threads(1));
        let mut ordinal: u64 = 0;
        let mut events = Vec::with_capacity(self.batch);
        let mut pending: Vec<(u64, Value)> = Vec::new();
        let mut chunks = 0u64;
        let mut stopped = false;
        read_chunks(&mut parser, &mut |chunk| {
            chunks += 1;
            let records = match chunk {
                Chunk::Damaged(e) => {
                    self.damaged_chunks.inc();
                    tracing::warn!(input = %self.ctx.id, file = %path.display(), chunk = chunks, "skipping a damaged chunk: {e}");
                    return true;
                }
                Chunk::Records(records) => records,
            };
            for record in records {
                let this = ordinal;
                ordinal += 1;
                if this < skip {
                    continue;
                }
                match record {
                    Ok(r) => pending.push(r),
                    Err(e) => {
                        self.damaged_records.inc();
                        tracing::warn!(input = %self.ctx.id, file = %path.display(), record = this, "skipping a damaged record: {e}");
                        pending.push((u64::MAX, Value::Null));
                    }
                }
            }
            // Turn the records into events; send full batches.
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
                self.ctx.decoration.apply(&mut e);
                events.push(e);
            }
            if events.len() >= self.batch {
                let out = std::mem::replace(&mut events, Vec::with_capacity(self.batch));
                if self.send(out, &key, ordinal, None).is_err() || self.ctx.stop.is_stopped() {
                    stopped = true;
                    return false;
                }
            }
            true
        });
        if stopped || self.send(events, &key, ordinal, Some(size)).is_err() {
            return Ok(());
        }
        tracing::info!(input = %self.ctx.id, file = %path.display(), records = ordinal, "read the event log file");
        Ok(())
    }
}

/// What one chunk of an evtx file holds, as the input reads it.
pub enum Chunk {
    /// The chunk cannot be read or parsed: why.
    Damaged(String),
    /// Its records in order: each one's record id and data, or why it cannot be read.
    Records(Vec<Result<(u64, Value), String>>),
}

/// Reads the chunks of an evtx file in order, handing each to `each`, which returns false to stop.
pub fn read_chunks<T: std::io::Read + std::io::Seek>(
    parser: &mut EvtxParser<T>,
    each: &mut dyn FnMut(Chunk) -> bool,
) {
    let settings = Arc::new(ParserSettings::default().num_threads(1));
    for chunk in parser.chunks() {
        let chunk = match chunk {
            Err(e) => Chunk::Damaged(e.to_string()),
            Ok(mut data) => match data.parse(Arc::clone(&settings)) {
                Err(e) => Chunk::Damaged(format!("it does not parse: {e}")),
                Ok(mut parsed) => Chunk::Records(
                    parsed
                        .iter()
                        .map(|record| {
                            record
                                .and_then(|r| r.into_json_value())
                                .map(|r| (r.event_record_id, r.data))
                                .map_err(|e| e.to_string())
                        })
                        .collect(),
                ),
            },
        };
        if !each(chunk) {
            return;
        }
    }
}

/// Reads the records of the evtx file held in `bytes` like the input does (for fuzzing and tests).
pub fn read_records(bytes: Vec<u8>, each: &mut dyn FnMut(Result<(u64, Value), String>)) {
    let mut parser = match EvtxParser::from_buffer(bytes) {
        Ok(p) => p.with_configuration(ParserSettings::default().num_threads(1)),
        Err(e) => return each(Err(e.to_string())),
    };
    read_chunks(&mut parser, &mut |chunk| {
        match chunk {
            Chunk::Damaged(e) => each(Err(e)),
            Chunk::Records(records) => records.into_iter().for_each(&mut *each),
        }
        true
    });
}
