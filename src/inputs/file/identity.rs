//! Telling files apart: by the content of their first bytes (a fingerprint survives renames, copies and
//! compression), with the device and inode (NTFS volume + file index on Windows) to follow a file that is
//! still shorter than the fingerprint.

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What is known about a file when it is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Bytes read from the start (decompressed for `.gz`), at most the fingerprint length.
    pub head: Vec<u8>,
    /// The file's device and inode / volume and file index.
    pub node: Option<(u64, u64)>,
    /// The size on disk.
    pub size: u64,
    /// Last modification time.
    pub modified: Option<std::time::SystemTime>,
    /// Whether the file is gzip-compressed (read once, not tailed).
    pub gzip: bool,
}

/// Hash of the first bytes of a file.
pub fn head_hash(head: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(head)
}

/// Whether a path names a gzip file by its extension.
pub fn is_gzip_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Opens a file for reading without ever blocking the writer's own rotation: on Windows the handle shares
/// read, write and delete, so the application can rename or delete the file while logward reads it.
pub fn open_shared(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
        options.share_mode(0x1 | 0x2 | 0x4);
    }
    options.open(path)
}

/// Reads what identifies `path` now.
pub fn observe(path: &Path, fingerprint_bytes: usize) -> io::Result<Observed> {
    let file = open_shared(path)?;
    let meta = file.metadata()?;
    let gzip = is_gzip_path(path);
    let mut head = Vec::with_capacity(fingerprint_bytes);
    if gzip {
        // A damaged or truncated .gz still yields the bytes before the damage.
        let mut decoder = MultiGzDecoder::new(&file).take(fingerprint_bytes as u64);
        let _ = decoder.read_to_end(&mut head);
    } else {
        (&file)
            .take(fingerprint_bytes as u64)
            .read_to_end(&mut head)?;
    }
    Ok(Observed {
        head,
        node: node_of(&file),
        size: meta.len(),
        modified: meta.modified().ok(),
        gzip,
    })
}

/// The device and inode of an open file.
#[cfg(unix)]
pub fn node_of(file: &File) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().ok().map(|m| (m.dev(), m.ino()))
}

/// The volume serial number and file index of an open file.
#[cfg(windows)]
pub fn node_of(file: &File) -> Option<(u64, u64)> {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle,
    };
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is valid for the life of `file`, and `info` is a properly sized out-parameter.
    let ok = unsafe { GetFileInformationByHandle(file.as_raw_handle() as _, &mut info) };
    if ok == 0 {
        return None;
    }
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Some((u64::from(info.dwVolumeSerialNumber), index))
}

/// Files without a notion of identity (other platforms) rely on the fingerprint alone.
#[cfg(not(any(unix, windows)))]
pub fn node_of(_file: &File) -> Option<(u64, u64)> {
    None
}

/// The device and inode of a path, without reading it.
pub fn node_of_path(path: &Path) -> Option<(u64, u64)> {
    open_shared(path).ok().as_ref().and_then(node_of)
}
