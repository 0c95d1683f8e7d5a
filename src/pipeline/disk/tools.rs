//! `logward queue inspect | verify | repair`: looking into a disk queue without running the pipeline.

use super::segment::{self, Scan};
use super::{list_segments, lock_queue_dir, read_cursor};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// One segment as found on disk.
pub struct SegmentInfo {
    /// Its file.
    pub path: PathBuf,
    /// The sequence number in its name.
    pub first_seq: u64,
    /// What the scan found.
    pub scan: Scan,
    /// Events per good record, by sequence number.
    pub events: Vec<(u64, u64)>,
}

fn read_all(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Scans every segment of a queue folder (read-only).
pub fn scan_dir(dir: &Path) -> anyhow::Result<Vec<SegmentInfo>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (first, path) in
        list_segments(dir).map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?
    {
        let bytes =
            read_all(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let scan = segment::scan(&bytes);
        let events = scan
            .records
            .iter()
            .map(|r| {
                let s = r.offset as usize;
                let n = bytes
                    .get(s..s + (r.len as usize).min(24))
                    .and_then(super::codec::count)
                    .unwrap_or(0);
                (r.seq, n)
            })
            .collect();
        out.push(SegmentInfo {
            path,
            first_seq: first,
            scan,
            events,
        });
    }
    Ok(out)
}

/// Damage of one segment in words, one line per problem.
fn problems(s: &SegmentInfo) -> Vec<String> {
    let mut out = Vec::new();
    if s.scan.first_seq.is_none() {
        out.push(format!(
            "{}: the segment header is damaged",
            s.path.display()
        ));
    }
    for d in &s.scan.damaged {
        out.push(format!(
            "{}: bytes {}..{} are damaged ({}); the records there are lost, the ones after are kept",
            s.path.display(),
            d.range.start,
            d.range.end,
            d.reason
        ));
    }
    if s.scan.torn_tail() {
        out.push(format!(
            "{}: a torn record at byte {} ({} bytes after the last good record)",
            s.path.display(),
            s.scan.valid_end,
            s.scan.len - s.scan.valid_end
        ));
    }
    out
}

/// `queue inspect`: segments, sizes, oldest/newest, and what each output has not acknowledged.
pub fn inspect(dir: &Path, outputs: &[String]) -> anyhow::Result<String> {
    let segments = scan_dir(dir)?;
    let mut out = String::new();
    let total: u64 = segments.iter().map(|s| s.scan.len).sum();
    let records: usize = segments.iter().map(|s| s.scan.records.len()).sum();
    let events: u64 = segments.iter().flat_map(|s| &s.events).map(|e| e.1).sum();
    let _ = writeln!(
        out,
        "queue {}: {} segment(s), {} bytes, {records} record(s), {events} event(s)",
        dir.display(),
        segments.len(),
        total
    );
    let all: Vec<(u64, u64)> = segments.iter().flat_map(|s| s.events.clone()).collect();
    if let (Some(first), Some(last)) = (all.first(), all.last()) {
        let _ = writeln!(out, "oldest record: {}, newest record: {}", first.0, last.0);
    }
    for s in &segments {
        let (lo, hi) = (
            s.scan.records.first().map(|r| r.seq),
            s.scan.records.last().map(|r| r.seq),
        );
        let _ = writeln!(
            out,
            "  {}  {} bytes  records {}  events {}{}",
            s.path.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
            s.scan.len,
            match (lo, hi) {
                (Some(a), Some(b)) => format!("{a}..={b}"),
                _ => "none".into(),
            },
            s.events.iter().map(|e| e.1).sum::<u64>(),
            if s.scan.is_clean() { "" } else { "  DAMAGED" }
        );
    }
    for name in outputs {
        let cursor = read_cursor(dir, name);
        let from = cursor.unwrap_or(0);
        let pending: Vec<&(u64, u64)> = all.iter().filter(|(seq, _)| *seq >= from).collect();
        let _ = writeln!(
            out,
            "output `{name}`: acknowledged up to {}, {} record(s) / {} event(s) not yet acknowledged",
            cursor.map_or("nothing yet".to_string(), |c| format!(
                "record {c} (exclusive)"
            )),
            pending.len(),
            pending.iter().map(|p| p.1).sum::<u64>()
        );
    }
    Ok(out)
}

/// `queue verify`: checks every checksum; returns the problems found (empty: clean).
pub fn verify(dir: &Path) -> anyhow::Result<(usize, Vec<String>)> {
    let segments = scan_dir(dir)?;
    let records = segments.iter().map(|s| s.scan.records.len()).sum();
    Ok((records, segments.iter().flat_map(problems).collect()))
}

/// `queue repair`: rewrites each damaged segment with its good records only (the original goes to
/// `quarantine/`), and cuts torn tails. Refuses while an agent holds the queue.
pub fn repair(dir: &Path) -> anyhow::Result<Vec<String>> {
    let _lock = lock_queue_dir(dir)?;
    let mut report = Vec::new();
    for s in scan_dir(dir)? {
        if s.scan.is_clean() {
            continue;
        }
        let bytes = read_all(&s.path)?;
        if s.scan.damaged.is_empty() && s.scan.first_seq.is_some() {
            let f = std::fs::OpenOptions::new().write(true).open(&s.path)?;
            f.set_len(s.scan.valid_end)?;
            f.sync_all()?;
            report.push(format!(
                "{}: cut a torn tail of {} bytes",
                s.path.display(),
                s.scan.len - s.scan.valid_end
            ));
            continue;
        }
        let mut fresh = segment::header(s.first_seq).to_vec();
        for r in &s.scan.records {
            let payload = &bytes[r.offset as usize..r.offset as usize + r.len as usize];
            segment::encode_record(&mut fresh, r.seq, payload);
        }
        let quarantine = dir.join("quarantine");
        crate::util::fs::create_private_dir_all(&quarantine)?;
        let name = s
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("segment")
            .to_string();
        let moved = quarantine.join(format!(
            "{name}.{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        ));
        let tmp = dir.join(format!("{name}.repair"));
        {
            let mut f = crate::util::fs::private_options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(&fresh)?;
            f.sync_all()?;
        }
        std::fs::rename(&s.path, &moved)?;
        std::fs::rename(&tmp, &s.path)?;
        crate::util::fs::sync_dir(dir);
        report.push(format!(
            "{}: kept {} good record(s), dropped {} damaged stretch(es); the original is in {}",
            s.path.display(),
            s.scan.records.len(),
            s.scan.damaged.len() + usize::from(s.scan.torn_tail()),
            moved.display()
        ));
    }
    Ok(report)
}
