//! The file input's registry: for every file ever read, its identity and the offset up to which every
//! event is acknowledged. Saved atomically (temporary file, fsync, rename), one file per input.

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

/// The registry of one input.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    /// Format version, for future migrations.
    pub version: u32,
    /// The input's entries.
    pub entries: Vec<Entry>,
}

impl Registry {
    /// Where the registry of `input_id` lives.
    pub fn path(data_dir: &Path, input_id: &str) -> PathBuf {
        let safe: String = input_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        data_dir.join("registry").join(format!("{safe}.json"))
    }

    /// Loads a registry; a missing file is an empty registry. A damaged file is kept aside (renamed
    /// `.damaged`) and reported, and reading starts over from an empty registry, rather than refusing to run.
    pub fn load(path: &Path) -> std::io::Result<Registry> {
        match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<Registry>(&bytes) {
                Ok(r) => Ok(r),
                Err(e) => {
                    let aside = path.with_extension("json.damaged");
                    tracing::error!(registry = %path.display(), moved_to = %aside.display(),
                        "the registry is damaged ({e}); it was moved aside and files will be read again from the start");
                    std::fs::rename(path, &aside)?;
                    Ok(Registry::default())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry::default()),
            Err(e) => Err(e),
        }
    }

    /// Saves atomically and durably.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::util::fs::write_atomic(path, &bytes, true)
    }

    /// The entry with this id.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_round_trips_and_survives_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = Registry::path(dir.path(), "my input/1");
        assert!(path.ends_with("registry/my_input_1.json"));
        let mut r = Registry::default();
        r.entries.push(Entry {
            id: "a".into(),
            path: "/x".into(),
            offset: 42,
            head_len: 10,
            head_hash: 7,
            node: Some((1, 2)),
            gzip: false,
            finished: false,
            last_seen: 0,
        });
        r.save(&path).unwrap();
        assert_eq!(Registry::load(&path).unwrap().entries, r.entries);
        std::fs::write(&path, b"{garbage").unwrap();
        assert!(Registry::load(&path).unwrap().entries.is_empty());
        assert!(path.with_extension("json.damaged").exists());
    }
}
