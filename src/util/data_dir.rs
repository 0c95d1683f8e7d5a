//! The data folder (`data_dir`): checked before a run, and locked for the life of a run, so two agents can
//! never share one registry (each would read and ship the same lines, and overwrite the other's positions).

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data folder. It holds the pid and host of the agent holding it.
pub const LOCK_FILE: &str = "logward.lock";

/// Says whether `dir` can be used as the data folder without changing anything: it is a folder logward can
/// write to, or it does not exist yet and its nearest existing parent is a folder logward can write to.
pub fn check_usable(dir: &Path) -> Result<(), String> {
    let mut existing: &Path = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => {
                return Err(format!(
                    "data_dir {}: no parent folder exists",
                    dir.display()
                ));
            }
        }
    }
    if !existing.is_dir() {
        return Err(if existing == dir {
            format!(
                "data_dir {} is a file, not a folder: name a folder (it is created if missing), or move the file away",
                dir.display()
            )
        } else {
            format!(
                "data_dir {} cannot be created: {} is a file, not a folder",
                dir.display(),
                existing.display()
            )
        });
    }
    // Only writing tells for sure (permissions, ACLs, read-only mounts); the probe file is removed at once.
    let probe = existing.join(format!(".logward-check-{}", std::process::id()));
    let what = if existing == dir {
        format!("data_dir {} is not writable", dir.display())
    } else {
        format!(
            "data_dir {} cannot be created: its parent {} is not writable",
            dir.display(),
            existing.display()
        )
    };
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(f) => {
            drop(f);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "{what} ({e}); fix its permissions or choose another data_dir"
        )),
    }
}

/// Held for the life of a run: the data folder's lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates `dir` if needed and locks it; fails when another process holds it, naming that process if its
/// lock file says who it is. The lock is the operating system's (released when the process ends, even by
/// kill -9), so a stale lock file never blocks a restart.
pub fn lock(dir: &Path) -> anyhow::Result<DataDirLock> {
    check_usable(dir).map_err(anyhow::Error::msg)?;
    // Private, like everything else in the data folder (it holds events).
    crate::util::fs::create_private_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the data_dir {}: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = crate::util::fs::private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                String::new()
            } else {
                format!(" ({holder})")
            };
            anyhow::bail!(
                "the data_dir {} is in use by another logward process{holder}: two agents on one data_dir would share its registry and ship the same lines twice; stop the other one, or give this one its own data_dir",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock {}: {e}", path.display())
        }
    }
    // Who holds it, for the message the next agent prints; failing to write this does not matter.
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| {
        write!(file, "pid {} on {host}", std::process::id())?;
        file.flush()
    });
    Ok(DataDirLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_not_a_usable_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, "x").unwrap();
        let e = check_usable(&file).unwrap_err();
        assert!(e.contains("is a file, not a folder"), "{e}");
        let below = file.join("deeper");
        let e = check_usable(&below).unwrap_err();
        assert!(e.contains("cannot be created"), "{e}");
        assert!(check_usable(&dir.path().join("new/sub")).is_ok());
        assert!(
            !dir.path().join("new").exists(),
            "the check created something"
        );
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let e = lock(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        lock(dir.path()).unwrap();
    }
}
