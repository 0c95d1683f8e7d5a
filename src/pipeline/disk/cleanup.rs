//! What the file thread does with the outputs' acknowledgements: takes them in, moves each output's
//! cursor over the settled prefix, deletes the segments every output is done with and saves the cursors.

use super::error_log::{ErrorLog, Severity};
use super::{Inner, State, cursor_path, lock};
use std::path::Path;
use std::time::{Duration, Instant};

/// How often moved cursors are written (they are fsynced only at the end: a cursor that is a little
/// behind only means a few records are sent again after a crash).
const SAVE_CURSORS_EVERY: Duration = Duration::from_millis(200);

/// The cleanup half of the file thread.
pub(super) struct Cleanup {
    last_persist: Instant,
    /// Cursors that cannot be saved and segments that cannot be deleted are retried all the time.
    errors: ErrorLog,
}

impl Cleanup {
    pub(super) fn new() -> Cleanup {
        Cleanup {
            last_persist: Instant::now(),
            errors: ErrorLog::default(),
        }
    }

    /// Takes in the outputs' acknowledgements, moves cursors, deletes finished segments (never
    /// `active_segment`, the one being written), saves cursors (all of them, fsynced, on `final_save`).
    pub(super) fn settle(&mut self, inner: &Inner, active_segment: Option<u64>, final_save: bool) {
        let mut guard = lock(&inner.state);
        let st = &mut *guard;
        let moved = take_acknowledgements(inner, st);
        let min_acked = st.min_acked();
        if moved {
            inner.counters.events.set(st.events_from(min_acked) as i64);
        }
        delete_finished_segments(st, active_segment, min_acked, &mut self.errors);
        inner.counters.bytes.set(st.total_bytes as i64);
        self.save_cursors(&inner.settings.dir, st, final_save);
    }

    /// Cursors: written when they moved (at most every [`SAVE_CURSORS_EVERY`]), fsynced at the end.
    fn save_cursors(&mut self, dir: &Path, st: &mut State, final_save: bool) {
        let dirty = st.outputs.iter().any(|o| Some(o.acked) != o.persisted);
        if !(final_save || (dirty && self.last_persist.elapsed() >= SAVE_CURSORS_EVERY)) {
            return;
        }
        self.last_persist = Instant::now();
        for o in &mut st.outputs {
            if Some(o.acked) != o.persisted || final_save {
                let operation = format!("cursor:{}", o.name);
                match write_cursor(dir, &o.name, o.acked, final_save) {
                    Ok(()) => {
                        o.persisted = Some(o.acked);
                        let what = format!("saving the queue cursor of output `{}`", o.name);
                        self.errors.succeeded(&operation, &what);
                    }
                    Err(e) => {
                        let message = format!(
                            "cannot save the queue cursor of output `{}` to {}: {e}",
                            o.name,
                            cursor_path(dir, &o.name).display()
                        );
                        self.errors.failed(Severity::Warn, &operation, &message);
                    }
                }
            }
        }
    }
}

/// Drains every output's acknowledgements and moves its cursor to the end of its settled prefix.
/// Returns whether any cursor moved.
fn take_acknowledgements(inner: &Inner, st: &mut State) -> bool {
    let mut moved = false;
    for (i, acks) in inner.acks.iter().enumerate() {
        let released = {
            let mut a = lock(acks);
            for ack in a.receiver.try_drain() {
                a.tracker.settle(ack);
            }
            a.tracker.release()
        };
        if let Some(&to) = released.iter().max() {
            moved |= advance_cursor(st, i, to);
        }
    }
    moved
}

/// Moves output `i`'s cursor forward to `to` (never back), counting the events acknowledged.
fn advance_cursor(st: &mut State, i: usize, to: u64) -> bool {
    let o = &mut st.outputs[i];
    if to <= o.acked {
        return false;
    }
    let n: u64 = st
        .index
        .range(o.acked..to)
        .map(|(_, l)| l.events as u64)
        .sum();
    o.acked_events.add(n);
    o.acked = to;
    true
}

/// Deletes the segments whose every record is below `min_acked` (never the one being written).
fn delete_finished_segments(
    st: &mut State,
    active_segment: Option<u64>,
    min_acked: u64,
    errors: &mut ErrorLog,
) {
    let finished: Vec<u64> = st
        .segments
        .iter()
        .filter(|(first, meta)| {
            Some(**first) != active_segment && meta.last_seq.is_none_or(|l| l < min_acked)
        })
        .map(|(f, _)| *f)
        .collect();
    for first in finished {
        delete_segment(st, first, errors);
    }
}

/// Removes one segment file and forgets it and its records. A segment that cannot be deleted stays in
/// the table and is tried again next time.
fn delete_segment(st: &mut State, first: u64, errors: &mut ErrorLog) {
    let Some(meta) = st.segments.remove(&first) else {
        return;
    };
    let operation = format!("delete:{}", meta.path.display());
    match std::fs::remove_file(&meta.path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            let message = format!(
                "cannot delete the finished queue segment {}: {e}",
                meta.path.display()
            );
            errors.failed(Severity::Warn, &operation, &message);
            st.segments.insert(first, meta);
            return;
        }
    }
    errors.succeeded(&operation, &format!("deleting {}", meta.path.display()));
    st.total_bytes = st.total_bytes.saturating_sub(meta.bytes);
    // Recovery keeps a segment's records at or above its first sequence number; `max` keeps the range
    // well-formed all the same.
    let upto = meta.last_seq.map_or(first, |l| l + 1).max(first);
    let keys: Vec<u64> = st.index.range(first..upto).map(|(k, _)| *k).collect();
    for k in keys {
        st.index.remove(&k);
    }
}

/// Writes an output's cursor file atomically (fsynced when `fsync`).
fn write_cursor(dir: &Path, output: &str, acked: u64, fsync: bool) -> std::io::Result<()> {
    let path = cursor_path(dir, output);
    if let Some(p) = path.parent() {
        crate::util::fs::create_private_dir_all(p)?;
    }
    crate::util::fs::write_atomic(&path, format!("{{\"acked\": {acked}}}\n").as_bytes(), fsync)
}
