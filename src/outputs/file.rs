//! `type: file`: events as NDJSON files, rotated by size, keeping a fixed number of old files.
//!
//! The output is idempotent across crashes: inputs put a source key and a position on every event
//! (`@metadata._source`, `@metadata._position`), and the output remembers, per source, the highest
//! position it has written. Before each batch it records an intent (file length before the batch, the batch
//! length, the marks before and after) in a small state file; after a crash the file length tells whether the
//! batch made it, a torn partial batch is cut off, and events an input sends again after restart are skipped.
//! So a kill -9 at any moment neither loses nor duplicates a line.

use super::{Batch, BoxFuture, Output, OutputError, SendOutcome};
use crate::config::ByteSize;
use crate::event::Event;
use crate::observe::component::{ComponentMetrics, Kind, SENT_BYTES};
use crate::observe::metrics::Counter;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use crate::component::{OutputBuild, OutputConfig, OutputKind, Validator};

/// The `file` output type.
pub const KIND: OutputKind = OutputKind::of::<FileOutputConfig>("file", "rolling NDJSON files");

/// `type: file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutputConfig {
    /// The folder the files are written to (created if missing).
    pub path: PathBuf,
    /// The name of the file being written; rotated files get `.1`, `.2`, … (`.1` is the newest).
    #[serde(default = "default_filename")]
    pub filename: String,
    /// Rotate when the current file would grow past this size.
    #[serde(default = "default_rotate_every")]
    pub rotate_every: ByteSize,
    /// How many rotated files to keep besides the current one.
    #[serde(default = "default_keep_files")]
    pub keep_files: usize,
    /// fsync after every batch (power-loss safe, slower). Files are always fsynced when rotated.
    #[serde(default)]
    pub fsync: bool,
}

fn default_filename() -> String {
    "logward.ndjson".into()
}
fn default_rotate_every() -> ByteSize {
    ByteSize(64 * 1024 * 1024)
}
fn default_keep_files() -> usize {
    7
}

/// The intent record written before every batch.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Intent {
    len_before: u64,
    batch_len: u64,
    marks_before: HashMap<String, u64>,
    batch_marks: HashMap<String, u64>,
}

/// The running file output.
pub struct FileOutput {
    dir: PathBuf,
    filename: String,
    rotate_every: u64,
    keep_files: usize,
    fsync: bool,
    file: File,
    len: u64,
    marks: HashMap<String, u64>,
    buf: Vec<u8>,
    duplicates: Counter,
    bytes: Counter,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> OutputError {
    OutputError::Retryable(format!("{what} {}: {e}", path.display()))
}

impl FileOutput {
    /// Opens (and if needed recovers) the output folder.
    pub fn open(cfg: &FileOutputConfig, name: &str) -> Result<FileOutput, OutputError> {
        std::fs::create_dir_all(&cfg.path)
            .map_err(|e| io_err("cannot create the output folder", &cfg.path, e))?;
        let current = cfg.path.join(&cfg.filename);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&current)
            .map_err(|e| io_err("cannot open", &current, e))?;
        let mut len = file
            .metadata()
            .map_err(|e| io_err("cannot stat", &current, e))?
            .len();
        let state_path = state_path(&cfg.path, &cfg.filename);
        let mut marks = HashMap::new();
        match std::fs::read(&state_path) {
            Ok(bytes) => match serde_json::from_slice::<Intent>(&bytes) {
                Ok(intent) => {
                    let after = intent.len_before + intent.batch_len;
                    let rotated_len =
                        std::fs::metadata(cfg.path.join(format!("{}.1", cfg.filename)))
                            .ok()
                            .map(|m| m.len());
                    // The batch is in the files when the current file holds it, or when the file was
                    // rotated after it (rotation only happens once the batch before it is written): then
                    // the current file is shorter than where the batch started, or it is new and empty and
                    // the newest rotated file ends exactly where the batch ended.
                    let complete = len >= after
                        || len < intent.len_before
                        || (len == 0
                            && intent.len_before == 0
                            && after > 0
                            && rotated_len == Some(after));
                    marks = intent.marks_before;
                    if complete {
                        marks.extend(intent.batch_marks);
                    } else if len > intent.len_before {
                        tracing::warn!(file = %current.display(), cut = len - intent.len_before,
                            "removing the torn end of a batch that was being written when logward stopped; it will be written again");
                        file.set_len(intent.len_before)
                            .map_err(|e| io_err("cannot truncate", &current, e))?;
                        len = intent.len_before;
                    }
                }
                Err(e) => tracing::warn!(file = %state_path.display(),
                    "the output state file is damaged ({e}); events sent again after a crash may be written twice"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot read", &state_path, e)),
        }
        Ok(FileOutput {
            dir: cfg.path.clone(),
            filename: cfg.filename.clone(),
            rotate_every: cfg.rotate_every.get().max(1),
            keep_files: cfg.keep_files,
            fsync: cfg.fsync,
            file,
            len,
            marks,
            buf: Vec::with_capacity(1 << 20),
            duplicates: ComponentMetrics::new(Kind::Output, name, "file")
                .counter("output_duplicates_skipped_total"),
            bytes: ComponentMetrics::new(Kind::Output, name, "file").counter(SENT_BYTES),
        })
    }

    fn path_of(&self, generation: usize) -> PathBuf {
        if generation == 0 {
            self.dir.join(&self.filename)
        } else {
            self.dir.join(format!("{}.{generation}", self.filename))
        }
    }

    fn rotate(&mut self) -> Result<(), OutputError> {
        let current = self.path_of(0);
        self.file
            .sync_all()
            .map_err(|e| io_err("cannot fsync", &current, e))?;
        if self.keep_files == 0 {
            std::fs::remove_file(&current).map_err(|e| io_err("cannot remove", &current, e))?;
        } else {
            let oldest = self.path_of(self.keep_files);
            if oldest.exists() {
                std::fs::remove_file(&oldest).map_err(|e| io_err("cannot remove", &oldest, e))?;
            }
            for generation in (0..self.keep_files).rev() {
                let from = self.path_of(generation);
                if from.exists() {
                    let to = self.path_of(generation + 1);
                    std::fs::rename(&from, &to).map_err(|e| io_err("cannot rename", &from, e))?;
                }
            }
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&current)
            .map_err(|e| io_err("cannot create", &current, e))?;
        crate::util::fs::sync_dir(&self.dir);
        self.len = 0;
        Ok(())
    }

    fn write_batch<'e>(
        &mut self,
        events: impl IntoIterator<Item = &'e Event>,
    ) -> Result<SendOutcome, OutputError> {
        self.buf.clear();
        let mut batch_marks: HashMap<String, u64> = HashMap::new();
        let mut skipped = 0u64;
        for e in events {
            let (source, position) = (e.source(), e.position());
            if let (Some(source), Some(position)) = (source, position) {
                let seen = batch_marks.get(source).or_else(|| self.marks.get(source));
                if seen.is_some_and(|&m| position <= m) {
                    skipped += 1;
                    continue;
                }
                // A batch usually holds one source: update in place, allocate only for a new key.
                match batch_marks.get_mut(source) {
                    Some(m) => *m = position,
                    None => {
                        batch_marks.insert(source.to_string(), position);
                    }
                }
            }
            e.write_json(&mut self.buf);
            self.buf.push(b'\n');
        }
        self.duplicates.add(skipped);
        if self.buf.is_empty() {
            return Ok(SendOutcome::Delivered);
        }
        if self.len > 0 && self.len + self.buf.len() as u64 > self.rotate_every {
            self.rotate()?;
            // Record at once that everything so far is in the rotated files.
            let fresh = Intent {
                marks_before: self.marks.clone(),
                ..Intent::default()
            };
            if let Ok(bytes) = serde_json::to_vec(&fresh) {
                let state_path = state_path(&self.dir, &self.filename);
                crate::util::fs::write_atomic(&state_path, &bytes, self.fsync)
                    .map_err(|e| io_err("cannot write", &state_path, e))?;
            }
        }
        let intent = Intent {
            len_before: self.len,
            batch_len: self.buf.len() as u64,
            marks_before: std::mem::take(&mut self.marks),
            batch_marks,
        };
        let state_path = state_path(&self.dir, &self.filename);
        let written = serde_json::to_vec(&intent)
            .map_err(|e| OutputError::Fatal(format!("cannot encode the output state: {e}")))
            .and_then(|bytes| {
                crate::util::fs::write_atomic(&state_path, &bytes, self.fsync)
                    .map_err(|e| io_err("cannot write", &state_path, e))
            });
        let Intent {
            marks_before,
            batch_marks,
            ..
        } = intent;
        self.marks = marks_before;
        written?;
        let current = self.path_of(0);
        if let Err(e) = self.file.write_all(&self.buf) {
            // Cut off whatever part of the batch made it, so a retry does not leave a torn line behind.
            let _ = self.file.set_len(self.len);
            return Err(io_err("cannot write to", &current, e));
        }
        if self.fsync {
            self.file
                .sync_data()
                .map_err(|e| io_err("cannot fsync", &current, e))?;
        }
        self.len += self.buf.len() as u64;
        self.bytes.add(self.buf.len() as u64);
        self.marks.extend(batch_marks);
        Ok(SendOutcome::Delivered)
    }
}

fn state_path(dir: &Path, filename: &str) -> PathBuf {
    dir.join(format!(".{filename}.state"))
}

impl Output for FileOutput {
    fn send<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<SendOutcome, OutputError>> {
        Box::pin(async move { tokio::task::block_in_place(|| self.write_batch(batch.iter())) })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), OutputError>> {
        Box::pin(async move {
            let current = self.path_of(0);
            tokio::task::block_in_place(|| self.file.sync_all())
                .map_err(|e| io_err("cannot fsync", &current, e))
        })
    }
}

impl OutputConfig for FileOutputConfig {
    fn validate(&mut self, v: &mut Validator<'_>) {
        self.path = v.resolve(&self.path);
        // The file and its rotations must stay in `path`: the folder is where the name goes.
        if !crate::component::is_plain_file_name(&self.filename) {
            v.error(
                "filename",
                format!(
                    "{:?} is not a plain file name: write the folder in `path` and only the name here (no `/`, `\\`, `..`)",
                    self.filename
                ),
            );
        }
    }

    fn build(&self, ctx: &OutputBuild<'_>) -> anyhow::Result<Vec<Box<dyn Output>>> {
        let output = FileOutput::open(self, ctx.name)
            .map_err(|e| anyhow::anyhow!("output `{}`: {e}", ctx.name))?;
        Ok(vec![Box::new(output)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(dir: &Path, rotate: u64) -> FileOutputConfig {
        FileOutputConfig {
            path: dir.to_path_buf(),
            filename: "out.ndjson".into(),
            rotate_every: ByteSize(rotate),
            keep_files: 2,
            fsync: false,
        }
    }

    fn ev(source: &str, pos: u64) -> Event {
        let mut e = Event::from_message(format!("line {pos}"));
        if pos.is_multiple_of(2) {
            e.origin = Some(crate::event::Origin {
                source: source.into(),
                position: pos,
            });
        } else {
            // Set by hand, as a processor or a test may do.
            e.metadata
                .insert(crate::event::META_SOURCE.into(), json!(source));
            e.metadata
                .insert(crate::event::META_POSITION.into(), json!(pos));
        }
        e
    }

    fn lines(path: &Path) -> usize {
        std::fs::read_to_string(path)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn events_sent_again_after_restart_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = FileOutput::open(&cfg(dir.path(), 1 << 30), "t").unwrap();
        out.write_batch(&[ev("a", 0), ev("a", 10), ev("b", 0)])
            .unwrap();
        drop(out);
        let mut out = FileOutput::open(&cfg(dir.path(), 1 << 30), "t").unwrap();
        out.write_batch(&[ev("a", 10), ev("a", 20), ev("b", 0)])
            .unwrap();
        assert_eq!(lines(&dir.path().join("out.ndjson")), 4);
    }

    #[test]
    fn a_torn_batch_is_cut_and_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = FileOutput::open(&cfg(dir.path(), 1 << 30), "t").unwrap();
        out.write_batch(&[ev("a", 0)]).unwrap();
        out.write_batch(&[ev("a", 1), ev("a", 2)]).unwrap();
        drop(out);
        // Simulate a crash in the middle of the second batch's write.
        let path = dir.path().join("out.ndjson");
        let full = std::fs::metadata(&path).unwrap().len();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(full - 10).unwrap();
        let mut out = FileOutput::open(&cfg(dir.path(), 1 << 30), "t").unwrap();
        out.write_batch(&[ev("a", 1), ev("a", 2)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        );
    }

    #[test]
    fn a_crash_right_after_rotation_neither_loses_nor_repeats_the_batch_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = FileOutput::open(&cfg(dir.path(), 60), "t").unwrap();
        out.write_batch(&[ev("a", 0)]).unwrap();
        out.write_batch(&[ev("a", 1)]).unwrap();
        drop(out);
        // What a kill between the rename of a rotation and the next state write leaves behind.
        let current = dir.path().join("out.ndjson");
        let state = dir.path().join(".out.ndjson.state");
        let intent_before_rotation = std::fs::read(&state).unwrap();
        let mut out = FileOutput::open(&cfg(dir.path(), 60), "t").unwrap();
        out.write_batch(&[ev("a", 2)]).unwrap();
        drop(out);
        std::fs::write(&state, &intent_before_rotation).unwrap();
        let rotated = std::fs::read(dir.path().join("out.ndjson.1")).unwrap();
        assert!(!rotated.is_empty());
        std::fs::write(&current, b"").unwrap();
        let mut out = FileOutput::open(&cfg(dir.path(), 60), "t").unwrap();
        out.write_batch(&[ev("a", 1), ev("a", 2)]).unwrap();
        let total = lines(&current)
            + lines(&dir.path().join("out.ndjson.1"))
            + lines(&dir.path().join("out.ndjson.2"));
        assert_eq!(total, 3, "a 0, 1 and 2 exactly once");
    }

    #[test]
    fn rotation_keeps_the_configured_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = FileOutput::open(&cfg(dir.path(), 200), "t").unwrap();
        for i in 0..20 {
            out.write_batch(&[ev("a", i)]).unwrap();
        }
        assert!(dir.path().join("out.ndjson.1").exists());
        assert!(dir.path().join("out.ndjson.2").exists());
        assert!(!dir.path().join("out.ndjson.3").exists());
    }
}
