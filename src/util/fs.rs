//! Durable file operations: atomic replace and directory fsync, on Linux and Windows.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically: write a temporary file beside it, optionally fsync it, rename
/// it over the old one (MoveFileEx with REPLACE_EXISTING on Windows), then fsync the folder (Unix).
/// A crash leaves either the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8], fsync: bool) -> std::io::Result<()> {
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if fsync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)?;
    if fsync && let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Makes a rename or file creation in `dir` durable. A no-op on Windows, where NTFS journals metadata and
/// folders cannot be opened for flushing without extra privileges.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
