//! The file input's read loop: discovery, harvesting, rotation, acknowledgements and the registry.

use super::config::{FileInputConfig, StartPosition};
use super::decode::{EventTemplate, FileStream};
use super::identity::{self, Observed, head_hash, open_shared};
use super::lines::{HeadGuard, Line, LineReader};
use super::multiline::{Joined, Multiline};
use super::registry::{Entry, FileCursor};
use crate::event::{Event, format_timestamp};
use crate::inputs::{Input, InputContext};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::{Counter, Gauge};
use crate::pipeline::checkpoint::Checkpoints;
use crate::pipeline::queue::Closed;
use crate::util::path_match::PathMatcher;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the read buffers of all open files may grow to together while backlogs are read.
const READ_BUDGET: usize = 16 << 20;

/// A configured file input.
pub struct FileInput {
    cfg: FileInputConfig,
    batch_lines: usize,
}

impl FileInput {
    /// An input that hands out batches of at most `batch_lines` events.
    pub fn new(cfg: FileInputConfig, batch_lines: usize) -> FileInput {
        FileInput {
            cfg,
            batch_lines: batch_lines.max(1),
        }
    }
}

impl Input for FileInput {
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()> {
        let mut tailer = Tailer::new(self.cfg, self.batch_lines, ctx)?;
        tailer.run();
        Ok(())
    }
}

struct Harvester {
    entry_id: String,
    path: PathBuf,
    node: Option<(u64, u64)>,
    reader: LineReader,
    stream: FileStream,
    multiline: Option<Multiline>,
    gzip: bool,
    /// The path no longer names this file (renamed away or deleted): read to the end, then release.
    path_gone: bool,
    last_data: Instant,
    closed: bool,
}

struct Counters {
    files_opened: Counter,
    files_closed: Counter,
    truncations: Counter,
    read_errors: Counter,
    open_files: Gauge,
    waiting_files: Gauge,
    vanished_unread: Counter,
    registry_entries: Gauge,
    entries_removed: Counter,
}

/// What a scan saw of a path without opening it: when it is unchanged since the last look, and that look
/// found nothing to read, the file is not opened again (a folder of 20,000 finished files costs one
/// `stat` each per scan, not an open and a read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Look {
    size: u64,
    modified: Option<SystemTime>,
    node: Option<(u64, u64)>,
}

impl Look {
    fn of(meta: &std::fs::Metadata) -> Look {
        #[cfg(unix)]
        let node = {
            use std::os::unix::fs::MetadataExt;
            Some((meta.dev(), meta.ino()))
        };
        #[cfg(not(unix))]
        let node = None;
        Look {
            size: meta.len(),
            modified: meta.modified().ok(),
            node,
        }
    }
}

struct Tailer {
    cfg: FileInputConfig,
    ctx: InputContext,
    template: EventTemplate,
    /// The registry: every file's identity and acknowledged offset.
    checkpoints: Checkpoints<FileCursor>,
    harvesters: Vec<Harvester>,
    /// Offsets read and sent (ahead of the acknowledged offsets in the registry).
    read_offsets: HashMap<String, u64>,
    /// `paths` and `exclude`, compiled once.
    matcher: PathMatcher,
    batch_lines: usize,
    fingerprint_bytes: usize,
    first_scan: bool,
    warned: HashMap<PathBuf, String>,
    counters: Counters,
    /// At most this many harvesters at once (`max_open_files`).
    max_open: usize,
    /// The last look at each matched path that needed nothing more.
    looks: HashMap<PathBuf, Look>,
    /// Files that need reading but found no free slot at the last scan, with their size then.
    waiting: HashMap<PathBuf, u64>,
    /// Where the next scan starts in the list of matched files, so that waiting files take turns.
    scan_cursor: usize,
    /// Set by `start_harvester` when it had no free slot.
    refused: bool,
    /// A batch read while the queue had no room, with its cursor: offered again each round while the
    /// input goes on scanning, so files created (and maybe deleted) meanwhile are found and held open.
    /// No file is read while it waits, so at most one batch is held this way.
    pending: Option<(Vec<Event>, FileCursor)>,
    /// Set by `discover` when what it decided depends on a harvester that is still reading, so the path
    /// must be looked at again by the next scan.
    revisit: bool,
    /// With `start_position: end`, files present at startup that had to wait for a slot: still read from
    /// their end when their turn comes.
    startup_waiting: HashSet<PathBuf>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Tailer {
    fn new(cfg: FileInputConfig, batch_lines: usize, ctx: InputContext) -> anyhow::Result<Tailer> {
        let checkpoints = Checkpoints::open(
            &ctx.checkpoints,
            &[super::registry::legacy(ctx.checkpoints.dir(), &ctx.id)],
        );
        let matcher = PathMatcher::new(&cfg.paths, &cfg.exclude)
            .map_err(|e| anyhow::anyhow!("cannot compile the glob {:?}: {e}", e.pattern()))?;
        let template = EventTemplate::new(&ctx.id, &cfg, &ctx.decoration, ctx.host_name.clone());
        let m = ComponentMetrics::new(Kind::Input, &ctx.id, "file");
        let counters = Counters {
            files_opened: m.counter("files_opened_total"),
            files_closed: m.counter("files_closed_total"),
            truncations: m.counter("files_truncated_total"),
            read_errors: m.errors("read_failed", Stage::Receiving),
            open_files: m.gauge("open_files"),
            waiting_files: m.gauge("files_waiting"),
            vanished_unread: m.counter("files_vanished_unread_total"),
            registry_entries: m.gauge("registry_entries"),
            entries_removed: m.counter("registry_entries_removed_total"),
        };
        let max_open = cfg.open_files_limit();
        tracing::debug!(input = %ctx.id, max_open_files = max_open, "file input starting");
        Ok(Tailer {
            fingerprint_bytes: cfg.fingerprint_bytes.as_usize(),
            cfg,
            ctx,
            template,
            checkpoints,
            harvesters: Vec::new(),
            read_offsets: HashMap::new(),
            matcher,
            batch_lines,
            first_scan: true,
            warned: HashMap::new(),
            counters,
            max_open,
            looks: HashMap::new(),
            waiting: HashMap::new(),
            scan_cursor: 0,
            refused: false,
            revisit: false,
            startup_waiting: HashSet::new(),
            pending: None,
        })
    }

    fn run(&mut self) {
        let scan_every = self
            .cfg
            .scan_frequency
            .get()
            .max(Duration::from_millis(100));
        let mut next_scan = Instant::now();
        let mut idle = Duration::from_millis(5);
        'outer: while !self.ctx.stop.is_stopped() {
            if Instant::now() >= next_scan {
                self.scan();
                next_scan = Instant::now() + scan_every;
            }
            let mut worked = false;
            // The queue was full when the last batch was read: wait for room, but only until the next
            // scan is due, so that a paused input still finds and holds the files its globs match.
            let mut blocked = false;
            if let Some((events, cursor)) = self.pending.take() {
                let deadline = next_scan.min(Instant::now() + Duration::from_millis(250));
                match self.checkpoints.publish_until(
                    &self.ctx.sender,
                    events,
                    cursor,
                    Some(deadline),
                ) {
                    Ok(None) => worked = true,
                    Ok(Some(back)) => {
                        self.pending = Some(back);
                        blocked = true;
                    }
                    Err(Closed) => break 'outer,
                }
            }
            for i in 0..self.harvesters.len() {
                if self.pending.is_some() {
                    break;
                }
                match self.harvest(i) {
                    Ok(n) => worked |= n > 0,
                    Err(Closed) => break 'outer,
                }
                // Batches already delivered are released now, not after a round over every open file:
                // with a thousand files a round holds a thousand batches.
                self.checkpoints.poll();
            }
            for h in self.harvesters.iter().filter(|h| h.closed) {
                // Looked at afresh by the next scan: it may have grown, or failed and need a retry.
                self.looks.remove(&h.path);
            }
            self.harvesters.retain(|h| !h.closed);
            self.counters.open_files.set(self.harvesters.len() as i64);
            self.checkpoints.poll();
            if worked || blocked {
                // Blocked: the wait for room above was the pause.
                idle = Duration::from_millis(5);
            } else {
                if self.ctx.stop.wait_timeout(idle) {
                    break;
                }
                idle = (idle * 2).min(Duration::from_millis(250));
            }
        }
        // Drain: wait for the batches already sent; whatever is not acknowledged is read again next time.
        self.checkpoints.finish(&self.ctx.force, &self.ctx.id);
    }

    fn warn_once(&mut self, path: &Path, message: String) {
        if self.warned.get(path) != Some(&message) {
            tracing::warn!(input = %self.ctx.id, path = %path.display(), "{message}");
            self.warned.insert(path.to_path_buf(), message);
        }
    }

    /// Every regular file the globs match now. A folder that cannot be read is warned about once and
    /// skipped; the other files are still found.
    fn matching_files(&mut self) -> Vec<PathBuf> {
        let walk = self.matcher.walk();
        for (folder, e) in walk.unreadable {
            self.warn_once(&folder, format!("cannot look into this folder: {e}"));
        }
        walk.files
    }

    /// Finds the registry entry for an observed file.
    fn find_entry(&self, obs: &Observed) -> Option<usize> {
        let full = obs.head.len() >= self.fingerprint_bytes;
        let hash = head_hash(&obs.head);
        self.checkpoints.state().entries.iter().position(|e| {
            let len = e.head_len as usize;
            if len == obs.head.len() && e.head_hash == hash {
                // Equal prefixes: the fingerprint alone when it is full length; the node too for short files.
                full || (e.node.is_some() && e.node == obs.node) || (obs.gzip && e.finished)
            } else if len < obs.head.len() && e.node.is_some() && e.node == obs.node {
                head_hash(&obs.head[..len]) == e.head_hash
            } else {
                false
            }
        })
    }

    fn scan(&mut self) {
        let now_secs = unix_now();
        let paths = self.matching_files();
        let matched: HashSet<&Path> = paths.iter().map(PathBuf::as_path).collect();
        for h in &mut self.harvesters {
            if !h.path_gone && !matched.contains(h.path.as_path()) {
                h.path_gone = true;
            }
        }
        self.warn_vanished_unread(&matched);
        self.looks.retain(|p, _| matched.contains(p.as_path()));
        let open: HashMap<PathBuf, usize> = self
            .harvesters
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.path_gone)
            .map(|(i, h)| (h.path.clone(), i))
            .collect();
        let n = paths.len();
        let start = if n == 0 { 0 } else { self.scan_cursor % n };
        let mut waiting = HashMap::new();
        let mut first_waiting = None;
        for k in 0..n {
            let at = (start + k) % n;
            let path = &paths[at];
            let look = match std::fs::metadata(path) {
                Ok(meta) => Look::of(&meta),
                Err(e) => {
                    self.warn_once(path, format!("cannot open the file: {e}"));
                    continue;
                }
            };
            if let Some(&i) = open.get(path) {
                let node = look.node.or_else(|| identity::node_of_path(path));
                let h = &mut self.harvesters[i];
                if node.is_none() || node == h.node {
                    continue;
                }
                // The path names a new file now (rename rotation): finish the old one through its handle.
                h.path_gone = true;
            }
            if self.looks.get(path) == Some(&look) {
                continue;
            }
            if self.harvesters.len() >= self.max_open {
                // No free slot: looked at again by the next scan, which starts here so that every file
                // gets its turn.
                waiting.insert(path.clone(), look.size);
                first_waiting.get_or_insert(at);
                continue;
            }
            let obs = match identity::observe(path, self.fingerprint_bytes) {
                Ok(o) => o,
                Err(e) => {
                    self.warn_once(path, format!("cannot open the file: {e}"));
                    continue;
                }
            };
            self.warned.remove(path);
            if obs.head.is_empty() {
                self.looks.insert(path.clone(), look);
                continue;
            }
            self.refused = false;
            self.revisit = false;
            self.discover(path.clone(), obs, now_secs);
            if self.refused {
                waiting.insert(path.clone(), look.size);
                first_waiting.get_or_insert(at);
            } else if !self.revisit {
                self.looks.insert(path.clone(), look);
                self.startup_waiting.remove(path);
            }
        }
        self.scan_cursor = first_waiting.unwrap_or(0);
        if self.first_scan && self.cfg.start_position == StartPosition::End {
            self.startup_waiting = waiting.keys().cloned().collect();
        }
        self.counters.waiting_files.set(waiting.len() as i64);
        self.waiting = waiting;
        self.clean_removed(&matched, now_secs);
        self.counters
            .registry_entries
            .set(self.checkpoints.state().entries.len() as i64);
        self.first_scan = false;
    }

    /// Files that waited for a free slot and are gone now, never opened: said by name, because their
    /// lines are lost (more than `max_open_files` files appeared and went within a few scans).
    fn warn_vanished_unread(&mut self, matched: &HashSet<&Path>) {
        let gone: Vec<(PathBuf, u64)> = self
            .waiting
            .iter()
            .filter(|(p, _)| !matched.contains(p.as_path()))
            .map(|(p, size)| (p.clone(), *size))
            .collect();
        for (path, size) in gone {
            self.counters.vanished_unread.inc();
            tracing::warn!(input = %self.ctx.id, path = %path.display(), size,
                "the file was removed before it could be read: it was waiting for one of the {} files the input may hold open (max_open_files); its lines are lost. Raise max_open_files (and the descriptor limit) or keep rotated files longer",
                self.max_open);
            self.waiting.remove(&path);
        }
    }

    /// Drops the registry entries of files that have been gone for `clean_removed`, so the registry does
    /// not grow with every file ever rotated away. Entries of files that still exist are refreshed.
    fn clean_removed(&mut self, matched: &HashSet<&Path>, now_secs: u64) {
        let after = self.cfg.clean_removed.get().as_secs();
        let open: HashSet<&str> = self
            .harvesters
            .iter()
            .map(|h| h.entry_id.as_str())
            .collect();
        let entries = &mut self.checkpoints.state_untracked_mut().entries;
        for e in entries.iter_mut() {
            if matched.contains(e.path.as_path()) || open.contains(e.id.as_str()) {
                e.last_seen = now_secs;
            }
        }
        if self.cfg.clean_removed.get().is_zero() {
            return;
        }
        let gone: HashSet<String> = entries
            .iter()
            .filter(|e| {
                now_secs.saturating_sub(e.last_seen) >= after
                    && !open.contains(e.id.as_str())
                    && !e.path.exists()
            })
            .map(|e| e.id.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        tracing::debug!(input = %self.ctx.id, removed = gone.len(), "dropping the registry entries of files gone for {}", self.cfg.clean_removed);
        self.counters.entries_removed.add(gone.len() as u64);
        self.checkpoints
            .state_mut()
            .entries
            .retain(|e| !gone.contains(&e.id));
        self.read_offsets.retain(|id, _| !gone.contains(id));
    }

    fn discover(&mut self, path: PathBuf, obs: Observed, now_secs: u64) {
        let hash = head_hash(&obs.head);
        match self.find_entry(&obs) {
            Some(i) => {
                let entry_id = self.checkpoints.state().entries[i].id.clone();
                if let Some(h) = self.harvesters.iter_mut().find(|h| h.entry_id == entry_id) {
                    if h.node == obs.node && h.path != path {
                        // Renamed: keep reading through the same handle, remember the new name.
                        h.path = path.clone();
                        h.path_gone = false;
                        let e = &mut self.checkpoints.state_mut().entries[i];
                        e.path = path;
                        e.last_seen = now_secs;
                    }
                    // Otherwise a copy of a file being read (copytruncate): the original is read instead,
                    // until it finds it was truncated and moves on to the copy.
                    self.revisit = true;
                    return;
                }
                let read_offset = self.read_offsets.get(&entry_id).copied().unwrap_or(0);
                // Seen again: remembered with the next save, not worth a save of its own.
                let e = &mut self.checkpoints.state_untracked_mut().entries[i];
                e.last_seen = now_secs;
                if !obs.gzip && e.offset > obs.size {
                    // Same beginning but shorter than what was read: the file was truncated and rewritten.
                    self.counters.truncations.inc();
                    tracing::info!(input = %self.ctx.id, path = %path.display(), "the file is shorter than the saved offset: it was truncated; reading it from the start");
                    self.checkpoints.state_mut().entries[i].finished = true;
                    self.new_entry(path, obs, hash, now_secs, 0);
                    return;
                }
                if e.finished {
                    return;
                }
                let offset = e.offset.max(read_offset);
                let grown = (obs.head.len() as u64) > e.head_len;
                if !obs.gzip && (grown || e.node != obs.node || e.path != path) {
                    let e = &mut self.checkpoints.state_mut().entries[i];
                    if grown {
                        e.head_len = obs.head.len() as u64;
                        e.head_hash = hash;
                    }
                    e.node = obs.node;
                    e.path = path.clone();
                }
                if obs.gzip || obs.size > offset {
                    self.start_harvester(entry_id, path, &obs, offset);
                }
            }
            None => {
                if let Some(max_age) = self.cfg.ignore_older {
                    let old = obs
                        .modified
                        .and_then(|m| m.elapsed().ok())
                        .is_some_and(|age| age > max_age.get());
                    if old {
                        return;
                    }
                }
                let offset = if (self.first_scan || self.startup_waiting.contains(&path))
                    && self.cfg.start_position == StartPosition::End
                    && !obs.gzip
                {
                    obs.size
                } else {
                    0
                };
                self.new_entry(path, obs, hash, now_secs, offset);
            }
        }
    }

    fn new_entry(&mut self, path: PathBuf, obs: Observed, hash: u64, now_secs: u64, offset: u64) {
        // The id names the file's events downstream (`@metadata` source, Elasticsearch `_id`), so it must
        // come out the same when a crash before the first registry save makes the next run discover the
        // file again: derived from what identifies the file (path, node, beginning), never from the clock.
        // A file that replaces one the registry still knows (truncated and rewritten, same inode reused)
        // gets the next free id in the series, so its events never overwrite the old file's documents.
        let mut seed = obs.head.clone();
        seed.extend_from_slice(path.to_string_lossy().as_bytes());
        if let Some((a, b)) = obs.node {
            seed.extend_from_slice(&a.to_le_bytes());
            seed.extend_from_slice(&b.to_le_bytes());
        }
        let base = seed.len();
        let mut id = String::new();
        for generation in 0u64.. {
            seed.truncate(base);
            seed.extend_from_slice(&generation.to_le_bytes());
            id = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&seed));
            if !self.checkpoints.state().entries.iter().any(|e| e.id == id) {
                break;
            }
        }
        self.checkpoints.state_mut().entries.push(Entry {
            id: id.clone(),
            path: path.clone(),
            offset,
            head_len: obs.head.len() as u64,
            head_hash: hash,
            node: obs.node,
            gzip: obs.gzip,
            finished: false,
            last_seen: now_secs,
        });
        self.start_harvester(id, path, &obs, offset);
    }

    fn start_harvester(&mut self, entry_id: String, path: PathBuf, obs: &Observed, offset: u64) {
        if self.harvesters.len() >= self.max_open {
            // Its entry is kept (at `offset`): a later scan opens it when a slot is free.
            self.refused = true;
            return;
        }
        let opened = open_shared(&path).and_then(|f| {
            let node = identity::node_of(&f);
            LineReader::open(f, offset, obs.gzip, self.cfg.max_line_bytes.as_usize())
                .map(|r| (r, node))
        });
        let (mut reader, node) = match opened {
            Ok(x) => x,
            Err(e) => {
                self.counters.read_errors.inc();
                self.warn_once(
                    &path,
                    format!("cannot open the file at offset {offset}: {e}"),
                );
                return;
            }
        };
        let multiline = self
            .cfg
            .multiline
            .as_ref()
            .and_then(|m| Multiline::new(m).ok());
        if !obs.gzip {
            reader.guard_head(self.guard_for(&entry_id, obs));
        }
        reader.limit_reads(READ_BUDGET / (self.harvesters.len() + 1));
        tracing::debug!(input = %self.ctx.id, path = %path.display(), offset, "reading file");
        self.counters.files_opened.inc();
        let stream = FileStream::new(
            &path.to_string_lossy(),
            format!("{}/{}", self.ctx.id, entry_id),
        );
        self.harvesters.push(Harvester {
            entry_id,
            path,
            node,
            reader,
            stream,
            multiline,
            gzip: obs.gzip,
            path_gone: false,
            last_data: Instant::now(),
            closed: false,
        });
    }

    /// What the file of `entry_id` must begin with: the registry's head, or what was just observed.
    fn guard_for(&self, entry_id: &str, obs: &Observed) -> HeadGuard {
        let (len, hash) = self
            .checkpoints
            .state()
            .entries
            .iter()
            .find(|e| e.id == entry_id)
            .map(|e| (e.head_len, e.head_hash))
            .unwrap_or_else(|| (obs.head.len() as u64, head_hash(&obs.head)));
        HeadGuard {
            len,
            hash,
            want: self.fingerprint_bytes as u64,
        }
    }

    /// A file held open grew past the head the registry knows: record the longer head, so that a copy
    /// of it (copytruncate) is recognised as the same file and not read again from its start.
    fn record_grown_head(&mut self, i: usize) {
        let h = &self.harvesters[i];
        let Some(guard) = h.reader.head_guard() else {
            return;
        };
        let entry_id = h.entry_id.clone();
        let grown = self
            .checkpoints
            .state()
            .entries
            .iter()
            .any(|e| e.id == entry_id && e.head_len < guard.len);
        if grown && let Some(e) = self.checkpoints.state_mut().get_mut(&entry_id) {
            e.head_len = guard.len;
            e.head_hash = guard.hash;
        }
    }

    /// Reads one batch from harvester `i` and sends it. Returns how many lines were read.
    fn harvest(&mut self, i: usize) -> Result<usize, Closed> {
        let now = Instant::now();
        let timestamp = format_timestamp(chrono::Utc::now());
        let h = &mut self.harvesters[i];
        let Harvester {
            reader,
            multiline,
            stream,
            ..
        } = h;
        let mut out = Collected::new(&self.template, stream, &timestamp);
        let polled = reader.poll(self.batch_lines, |line| out.line(multiline, line, now));
        let polled = match polled {
            Ok(p) => p,
            Err(e) => {
                self.counters.read_errors.inc();
                tracing::warn!(input = %self.ctx.id, path = %h.path.display(), "reading failed: {e}; the file is released and read again from its saved offset at the next scan");
                h.closed = true;
                super::lines::Polled {
                    lines: 0,
                    eof: true,
                    replaced: false,
                }
            }
        };
        if polled.lines > 0 {
            h.last_data = now;
        }
        if let Some(ml) = multiline {
            ml.flush_if_due(now, &mut |j| out.joined(j));
        }
        let mut finished = false;
        if polled.eof && !h.closed && h.gzip {
            // A compressed file is complete: hand out its last line, then it is done for good.
            reader.finish(|line| out.line(multiline, line, now));
            if let Some(ml) = multiline {
                ml.flush(&mut |j| out.joined(j));
            }
            finished = true;
            h.closed = true;
        }
        let (events, last_end) = (out.events, out.last_end);
        self.record_grown_head(i);
        if polled.replaced {
            // Truncated (and maybe written again) since the last read: the rest of the old content is
            // in its copy, the new content is a new file.
            self.truncated(i);
        } else if polled.eof && !self.harvesters[i].closed {
            self.at_end_of_plain_file(i, now);
        }
        let h = &mut self.harvesters[i];
        if events.is_empty() && !finished {
            return Ok(polled.lines);
        }
        let offset = last_end.unwrap_or_else(|| h.reader.offset());
        self.read_offsets.insert(h.entry_id.clone(), offset);
        let sent = !events.is_empty();
        let cursor = FileCursor {
            entry_id: h.entry_id.clone(),
            offset,
            finished,
        };
        // No wait here: when the queue is full the batch waits in `pending`, offered again by `run`
        // between scans.
        if let Some(back) = self
            .checkpoints
            .publish_until(&self.ctx.sender, events, cursor, Some(now))?
        {
            self.pending = Some(back);
        }
        Ok(if sent {
            polled.lines.max(1)
        } else {
            polled.lines
        })
    }

    /// At the end of a plain file: detect truncation, release renamed/deleted/inactive files.
    fn at_end_of_plain_file(&mut self, i: usize, now: Instant) {
        let grace = self.cfg.close_inactive.get().min(Duration::from_secs(5));
        let close_inactive = self.cfg.close_inactive.get();
        let h = &mut self.harvesters[i];
        let read_to = h.reader.offset() + h.reader.buffered() as u64;
        let size = h
            .reader
            .file()
            .and_then(|f| f.metadata().ok())
            .map(|m| m.len());
        // Shorter than what was read, or than the head it was opened with: truncated. (The second catches
        // a file truncated between its discovery and the first read, when nothing was read yet.)
        let head_len = h.reader.head_guard().map_or(0, |g| g.len);
        if let Some(size) = size
            && (size < read_to || size < head_len)
        {
            self.truncated(i);
            return;
        }
        let idle = now.duration_since(h.last_data);
        let pending_lines =
            h.multiline.as_ref().is_some_and(Multiline::has_pending) || h.reader.buffered() > 0;
        // Files are waiting for a slot: one read to its end makes room (it is reopened when it grows).
        let make_room = !self.waiting.is_empty() && !h.path_gone && !pending_lines;
        if (h.path_gone && idle >= grace && !pending_lines) || idle >= close_inactive || make_room {
            tracing::debug!(input = %self.ctx.id, path = %h.path.display(), renamed_or_deleted = h.path_gone, "releasing file");
            h.closed = true;
            self.counters.files_closed.inc();
        }
    }

    /// The file being read became shorter (copytruncate). Whatever was copied before the truncation is read
    /// from the copy when the globs match it; the truncated file is then read as a new file.
    fn truncated(&mut self, i: usize) {
        self.counters.truncations.inc();
        let (entry_id, node, offset, path) = {
            let h = &self.harvesters[i];
            (
                h.entry_id.clone(),
                h.node,
                h.reader.offset(),
                h.path.clone(),
            )
        };
        let head = self
            .checkpoints
            .state()
            .entries
            .iter()
            .find(|e| e.id == entry_id)
            .map(|e| (e.head_len, e.head_hash));
        let copy = head.and_then(|(len, hash)| {
            self.matching_files().into_iter().find(|p| {
                p != &path
                    && identity::node_of_path(p) != node
                    && identity::observe(p, len as usize).is_ok_and(|o| {
                        o.head.len() as u64 == len && head_hash(&o.head) == hash && o.size >= offset
                    })
            })
        });
        let h = &mut self.harvesters[i];
        match copy.and_then(|p| open_shared(&p).ok().map(|f| (p, f))) {
            Some((copy_path, file)) => {
                match LineReader::open(file, offset, false, self.cfg.max_line_bytes.as_usize()) {
                    Ok(mut reader) => {
                        tracing::info!(input = %self.ctx.id, path = %path.display(), copy = %copy_path.display(),
                        "the file was truncated after being copied (copytruncate); reading the rest from the copy");
                        if let Some(guard) = h.reader.head_guard() {
                            reader.guard_head(guard);
                        }
                        h.node = reader.file().and_then(identity::node_of);
                        h.reader = reader;
                        h.path = copy_path.clone();
                        h.path_gone = true;
                        h.last_data = Instant::now();
                        let node = h.node;
                        if let Some(e) = self.checkpoints.state_mut().get_mut(&entry_id) {
                            e.path = copy_path;
                            e.node = node;
                        }
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(input = %self.ctx.id, "cannot read the rotated copy: {e}")
                    }
                }
            }
            None => tracing::warn!(input = %self.ctx.id, path = %path.display(), offset,
                "the file was truncated and no rotated copy matching the globs was found; lines written after offset {offset} and before the truncation could not be read"),
        }
        h.closed = true;
        if let Some(e) = self.checkpoints.state_mut().get_mut(&entry_id) {
            e.finished = true;
        }
    }
}

/// The events of one read of a file, and where the last one ended.
struct Collected<'a> {
    template: &'a EventTemplate,
    stream: &'a FileStream,
    timestamp: &'a str,
    events: Vec<Event>,
    last_end: Option<u64>,
}

impl<'a> Collected<'a> {
    fn new(template: &'a EventTemplate, stream: &'a FileStream, timestamp: &'a str) -> Self {
        Collected {
            template,
            stream,
            timestamp,
            events: Vec::new(),
            last_end: None,
        }
    }

    /// One event from `bytes`, which ended at `end`.
    fn event(&mut self, bytes: &[u8], start: u64, end: u64, truncated: bool) {
        self.events.push(
            self.template
                .event(self.stream, bytes, start, truncated, self.timestamp),
        );
        self.last_end = Some(end);
    }

    /// An event of joined lines.
    fn joined(&mut self, j: Joined) {
        self.event(&j.bytes, j.start, j.end, j.truncated);
    }

    /// A line from the reader: an event of its own, or joined with its neighbours when multiline is on.
    fn line(&mut self, multiline: &mut Option<Multiline>, line: Line<'_>, now: Instant) {
        match multiline {
            Some(ml) => ml.push(
                line.bytes,
                line.start,
                line.end,
                line.truncated,
                now,
                &mut |j| self.joined(j),
            ),
            None => self.event(line.bytes, line.start, line.end, line.truncated),
        }
    }
}
