//! Opening the queue after a clean stop or a crash: every segment is scanned, torn tails are cut off,
//! damaged stretches are skipped and counted, and the index of good records, the segment table and every
//! output's cursor are rebuilt from what is on disk.
//!
//! Everything read here may be damaged or foreign, so every number from disk is checked before it is
//! used: sequence numbers stay at or below [`MAX_SEQ`] (so `seq + 1` can never overflow later), records
//! follow each other in order across segments, and a cursor never points past the newest record.

use super::{Loc, OutputState, SegmentMeta, State, codec, cursor_path, segment};
use crate::observe::metrics::Counter;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// The largest sequence number the queue accepts from disk. A queue writing a million batches a second
/// would need 146,000 years to get there, so anything above it is damage; keeping every number below it
/// means the arithmetic on sequence numbers can never overflow.
pub(super) const MAX_SEQ: u64 = 1 << 62;

/// What an output's cursor file holds.
#[derive(Debug, PartialEq, Eq)]
enum CursorFile {
    /// No file: the output is new.
    Missing,
    /// The first sequence number the output has not acknowledged.
    Acked(u64),
    /// The file cannot be used; the text says why.
    Damaged(String),
}

/// Reads an output's cursor (the first unacknowledged sequence number); `None` when there is none or it
/// is damaged.
pub fn read_cursor(dir: &Path, output: &str) -> Option<u64> {
    match load_cursor_or_legacy(dir, output).0 {
        CursorFile::Acked(n) => Some(n),
        CursorFile::Missing | CursorFile::Damaged(_) => None,
    }
}

/// The cursor of `output`, from its file or, when it has none yet, from where earlier versions kept it
/// (taken over: the next save writes the new file); with the path it came from.
fn load_cursor_or_legacy(dir: &Path, output: &str) -> (CursorFile, PathBuf) {
    let path = cursor_path(dir, output);
    match (load_cursor(&path), super::legacy_cursor_path(dir, output)) {
        (CursorFile::Missing, Some(old)) => (load_cursor(&old), old),
        (found, _) => (found, path),
    }
}

fn load_cursor(path: &Path) -> CursorFile {
    match std::fs::read(path) {
        Ok(bytes) => parse_cursor(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CursorFile::Missing,
        Err(e) => CursorFile::Damaged(format!("it cannot be read: {e}")),
    }
}

/// Parses `{"acked": N}`.
fn parse_cursor(bytes: &[u8]) -> CursorFile {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return CursorFile::Damaged(format!("it is not JSON ({e})")),
    };
    match value.get("acked") {
        None => CursorFile::Damaged("it has no `acked` field".into()),
        Some(acked) => match acked.as_u64() {
            Some(n) if n <= MAX_SEQ => CursorFile::Acked(n),
            _ => CursorFile::Damaged(format!("`acked` is {acked}, not a sequence number")),
        },
    }
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

/// Rebuilds the queue's state from the folder `dir` for the named outputs. Fails only when the folder or
/// a segment cannot be read or a torn tail cannot be cut; damage inside segments is skipped and counted
/// in `corrupt`.
pub(super) fn recover(
    dir: &Path,
    outputs: &[String],
    corrupt: &Counter,
) -> anyhow::Result<(State, Recovery)> {
    let mut report = Recovery::default();
    let mut state = State {
        index: BTreeMap::new(),
        segments: BTreeMap::new(),
        next_seq: 0,
        total_bytes: 0,
        cache: BTreeMap::new(),
        cache_events: 0,
        outputs: Vec::new(),
        closed: false,
    };
    let found = list_segments(dir)
        .map_err(|e| anyhow::anyhow!("cannot list the queue folder {}: {e}", dir.display()))?;
    for (&first, path) in &found {
        if first > MAX_SEQ {
            tracing::warn!(segment = %path.display(), "ignoring a file whose name is not a sequence number logward writes; move it out of the queue folder");
            continue;
        }
        recover_segment(&mut state, &mut report, first, path, corrupt)?;
    }
    for name in outputs {
        let output = match starting_cursor(&state, dir, name) {
            Ok(acked) => OutputState::starting_at(name, acked),
            Err(acked) => OutputState::restarting_at(name, acked),
        };
        state.outputs.push(output);
    }
    report.pending_events = state.events_from(state.min_acked());
    Ok((state, report))
}

/// Scans one segment, repairs its tail if it is torn, and adds its good records to the index.
fn recover_segment(
    state: &mut State,
    report: &mut Recovery,
    first: u64,
    path: &Path,
    corrupt: &Counter,
) -> anyhow::Result<()> {
    let bytes = read_segment(path)?;
    let scan = segment::scan(&bytes);
    report.segments += 1;
    report_damage(path, &scan, report, corrupt);
    if scan.torn_tail() {
        report.torn_tails += 1;
        cut_torn_tail(path, &scan)?;
    }
    let last = index_records(state, report, first, path, &bytes, &scan, corrupt);
    state.next_seq = state.next_seq.max(first);
    let bytes_in_file = bytes_kept(&scan);
    state.total_bytes += bytes_in_file;
    state.segments.insert(
        first,
        SegmentMeta {
            path: path.to_path_buf(),
            bytes: bytes_in_file,
            last_seq: last,
        },
    );
    Ok(())
}

fn read_segment(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

/// Logs and counts a damaged header and every damaged stretch a scan found.
fn report_damage(path: &Path, scan: &segment::Scan, report: &mut Recovery, corrupt: &Counter) {
    if scan.first_seq.is_none() {
        tracing::warn!(segment = %path.display(), "the segment header is damaged; its records are still read");
    }
    for d in &scan.damaged {
        report.damaged += 1;
        corrupt.inc();
        tracing::error!(segment = %path.display(), bytes = ?d.range, "a damaged stretch of the queue was skipped: {}", d.reason);
    }
}

/// Cuts the bytes after the last good record (a write interrupted by a crash), so new records are
/// appended after good data.
fn cut_torn_tail(path: &Path, scan: &segment::Scan) -> anyhow::Result<()> {
    tracing::warn!(segment = %path.display(), at = scan.valid_end, cut = scan.len - scan.valid_end, "cutting off a torn record at the end of a segment (a write interrupted by a crash)");
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {} to cut its torn tail: {e}", path.display()))?;
    f.set_len(scan.valid_end)
        .and_then(|()| f.sync_all())
        .map_err(|e| anyhow::anyhow!("cannot cut the torn tail of {}: {e}", path.display()))
}

/// The bytes of a segment that stay on disk after recovery (a segment without one good byte still
/// holds its header).
fn bytes_kept(scan: &segment::Scan) -> u64 {
    if scan.valid_end == 0 {
        scan.len.min(segment::HEADER_LEN as u64)
    } else {
        scan.valid_end
    }
}

/// Adds a segment's good records to the index; returns the last one's sequence number. A record whose
/// sequence number is out of order (below the segment's first or an earlier record, above [`MAX_SEQ`])
/// cannot be placed and is skipped as damage.
fn index_records(
    state: &mut State,
    report: &mut Recovery,
    first: u64,
    path: &Path,
    bytes: &[u8],
    scan: &segment::Scan,
    corrupt: &Counter,
) -> Option<u64> {
    let mut last = None;
    for r in &scan.records {
        let lowest = first.max(state.next_seq);
        if r.seq < lowest || r.seq > MAX_SEQ {
            report.damaged += 1;
            corrupt.inc();
            tracing::error!(segment = %path.display(), offset = r.offset, seq = r.seq, "a queue record with an impossible sequence number (expected {lowest} to {MAX_SEQ}) was skipped");
            continue;
        }
        let start = r.offset as usize;
        let events = bytes
            .get(start..start + (r.len as usize).min(24))
            .and_then(codec::count)
            .unwrap_or(0) as u32;
        state.index.insert(
            r.seq,
            Loc {
                segment: first,
                pos: *r,
                events,
            },
        );
        last = Some(r.seq);
        state.next_seq = state.next_seq.max(r.seq + 1);
        report.records += 1;
    }
    last
}

/// Where an output starts: `Ok` with its saved cursor, or, for an output without one (new in the
/// configuration), the oldest record still on disk. `Err` with the oldest record when the cursor file is
/// damaged or points past the newest record (logged once here): the output then gets again what is
/// still on disk, which outputs make harmless, rather than skip records or stop the queue.
fn starting_cursor(state: &State, dir: &Path, name: &str) -> Result<u64, u64> {
    let oldest = state.index.keys().next().copied().unwrap_or(state.next_seq);
    let (found, path) = load_cursor_or_legacy(dir, name);
    let problem = match found {
        CursorFile::Missing => return Ok(oldest),
        CursorFile::Acked(n) if n <= state.next_seq => return Ok(n),
        CursorFile::Acked(n) => format!(
            "it says {n}, past the newest record on disk ({})",
            match state.next_seq.checked_sub(1) {
                Some(newest) => newest.to_string(),
                None => "there is none".to_string(),
            }
        ),
        CursorFile::Damaged(why) => why,
    };
    tracing::warn!(cursor = %path.display(), output = name, "the queue cursor of output `{name}` is damaged: {problem}; the output starts again at the oldest record still on disk ({oldest}), so it may get some events twice");
    Err(oldest)
}
