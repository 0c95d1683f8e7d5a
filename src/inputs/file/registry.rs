//! The file input's registry: for every file ever read, its identity and the offset up to which every
//! event is acknowledged, kept in the checkpoint store ([`crate::pipeline::checkpoint`]).

use crate::pipeline::checkpoint::{Cursor, Legacy, legacy_stem};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One file's entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// A stable id for the life of the file; it names the stream in `@metadata._source`.
    pub id: String,
    /// Where the file was last seen.
    pub path: PathBuf,
    /// Bytes (decompressed for `.gz`) before the first event not yet acknowledged.
    pub offset: u64,
    /// How many leading bytes `head_hash` covers (the fingerprint length, or less for a short file).
    pub head_len: u64,
    /// Hash of the first `head_len` bytes.
    pub head_hash: u64,
    /// Device and inode (volume and file index on Windows) when last seen.
    pub node: Option<(u64, u64)>,
    /// Whether the file is gzip-compressed.
    #[serde(default)]
    pub gzip: bool,
    /// A `.gz` file read to its end, or a truncated file's old content: nothing more to read.
    #[serde(default)]
    pub finished: bool,
    /// Unix seconds when the file was last seen by a scan.
    pub last_seen: u64,
}

/// The registry of one input: its state in the checkpoint store.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    /// The input's entries.
    pub entries: Vec<Entry>,
}

impl Registry {
    /// The entry with this id.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }
}

/// How far a batch took a file: applied to its entry once the batch is acknowledged.
pub struct FileCursor {
    /// The entry's id.
    pub entry_id: String,
    /// Bytes before the first event not yet acknowledged.
    pub offset: u64,
    /// Nothing more will be read from it.
    pub finished: bool,
}

impl Cursor for FileCursor {
    type State = Registry;

    fn apply(self, state: &mut Registry) {
        if let Some(entry) = state.get_mut(&self.entry_id) {
            entry.offset = entry.offset.max(self.offset);
            entry.finished |= self.finished;
        }
    }
}

/// The registry file of earlier versions: `registry/<id>.json` with every character other than
/// `A-Za-z0-9-_` written as `_`, holding `{"version": 1, "entries": [...]}`.
pub fn legacy(dir: &Path, input_id: &str) -> Legacy<Registry> {
    let safe = legacy_stem(input_id);
    #[derive(Deserialize)]
    struct V1 {
        entries: Vec<Entry>,
    }
    Legacy {
        path: dir.join(format!("{safe}.json")),
        read: |bytes| {
            serde_json::from_slice::<V1>(bytes)
                .ok()
                .map(|v| Registry { entries: v.entries })
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::checkpoint::{CheckpointStore, Checkpoints};

    fn entry(id: &str, offset: u64) -> Entry {
        Entry {
            id: id.into(),
            path: "/x".into(),
            offset,
            head_len: 10,
            head_hash: 7,
            node: Some((1, 2)),
            gzip: false,
            finished: false,
            last_seen: 0,
        }
    }

    #[test]
    fn a_registry_of_the_earlier_format_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "web app", "file");
        let reg = store.dir().to_path_buf();
        std::fs::create_dir_all(&reg).unwrap();
        let old = serde_json::json!({"version": 0, "entries": [entry("a", 42)]});
        std::fs::write(reg.join("web_app.json"), old.to_string()).unwrap();
        let cp = Checkpoints::<FileCursor>::open(&store, &[legacy(&reg, "web app")]);
        assert_eq!(cp.state().entries, vec![entry("a", 42)]);
        assert!(store.path().exists());
        // An input whose id is really `web_app` does not take it over once it is migrated... and a
        // plain id keeps its old file name, rewritten in the new format.
        let plain = CheckpointStore::new(dir.path(), "app", "file");
        std::fs::write(
            reg.join("app.json"),
            serde_json::json!({"version": 0, "entries": [entry("b", 7)]}).to_string(),
        )
        .unwrap();
        let cp = Checkpoints::<FileCursor>::open(&plain, &[legacy(&reg, "app")]);
        assert_eq!(cp.state().entries, vec![entry("b", 7)]);
        assert_eq!(plain.path(), reg.join("app.json"));
        let text = std::fs::read_to_string(plain.path()).unwrap();
        assert!(text.contains("\"version\": 2"), "{text}");
    }
}
