//! Splitting a file (plain or gzip) into lines, from a given offset, with a cap on line length.
//!
//! Reads in large chunks and finds newlines with memchr: no syscall and no allocation per line. A line
//! longer than the cap is cut at the cap (on a UTF-8 character boundary) and the rest up to its newline is
//! skipped without being buffered, so a 100 MB line costs the cap in memory, not 100 MB. A line is only
//! produced once its newline is seen, so the offset after it is always the start of a whole line.

use flate2::read::MultiGzDecoder;
use memchr::memchr;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// One line handed to the caller.
pub struct Line<'a> {
    /// The bytes, without the line ending (`\n` or `\r\n`).
    pub bytes: &'a [u8],
    /// Offset of the first byte of the line.
    pub start: u64,
    /// Offset just past the line's newline.
    pub end: u64,
    /// Whether the line was cut at the length cap.
    pub truncated: bool,
}

enum Source {
    Plain(File),
    Gzip(Box<MultiGzDecoder<BufReader<File>>>),
    /// A stream that is not a file (standard input). `WouldBlock` from it means "nothing yet".
    Stream(Box<dyn Read + Send>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(f) => f.read(buf),
            Source::Gzip(g) => g.read(buf),
            Source::Stream(r) => r.read(buf),
        }
    }
}

/// What a call to [`LineReader::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polled {
    /// Lines produced.
    pub lines: usize,
    /// Whether the end of the data was reached (more may come later for a plain file).
    pub eof: bool,
    /// The file's first bytes are no longer those it was opened with: it was truncated (and perhaps
    /// written again) since. The bytes read after that were discarded; nothing past
    /// [`LineReader::offset`] belongs to the file that was being read.
    pub replaced: bool,
}

/// What a plain file must still begin with for the bytes read from it to belong to the file first opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadGuard {
    /// How many leading bytes `hash` covers.
    pub len: u64,
    /// [`super::identity::head_hash`] of them.
    pub hash: u64,
    /// The guard grows with the file up to this many bytes (the fingerprint length).
    pub want: u64,
}

/// Reads lines from one file.
pub struct LineReader {
    source: Source,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset of `buf[start]` in the (decompressed) file.
    offset: u64,
    max_line: usize,
    skipping: Option<(u64, Vec<u8>)>,
    guard: Option<HeadGuard>,
    /// The largest read buffer a backlog may grow it to.
    max_chunk: usize,
}

/// The largest read: enough to read a big file at full speed.
const CHUNK: usize = 256 * 1024;
/// What an idle reader keeps: a file that is only tailed never needs more, so a thousand open files
/// cost a few MiB, not a thousand chunks.
const MIN_BUF: usize = 16 * 1024;

impl LineReader {
    /// Opens a file at `offset` (decompressed bytes for gzip).
    pub fn open(file: File, offset: u64, gzip: bool, max_line: usize) -> io::Result<LineReader> {
        let max_line = max_line.max(1);
        let source = if gzip {
            let mut decoder = MultiGzDecoder::new(BufReader::new(file));
            let skipped = io::copy(&mut (&mut decoder).take(offset), &mut io::sink())?;
            if skipped < offset {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the compressed file is shorter than the saved offset",
                ));
            }
            Source::Gzip(Box::new(decoder))
        } else {
            let mut file = file;
            file.seek(SeekFrom::Start(offset))?;
            Source::Plain(file)
        };
        Ok(LineReader {
            source,
            buf: vec![0; MIN_BUF],
            start: 0,
            end: 0,
            offset,
            max_line,
            skipping: None,
            guard: None,
            max_chunk: CHUNK,
        })
    }

    /// Checks after every read that the file still begins as `guard` says, so that lines of a file
    /// truncated and written again between two reads are never taken for the rest of the old one
    /// (copytruncate rotations can happen several times between two looks at a busy moment).
    pub fn guard_head(&mut self, guard: HeadGuard) {
        self.guard = Some(guard);
    }

    /// Caps how far reading a backlog grows the buffer (at least 16 KiB), so that many files read at once
    /// share a budget instead of each taking the largest reads.
    pub fn limit_reads(&mut self, bytes: usize) {
        self.max_chunk = bytes.clamp(MIN_BUF, CHUNK);
    }

    /// The guard as it is now: it grows while the file grows towards the fingerprint length.
    pub fn head_guard(&self) -> Option<HeadGuard> {
        self.guard
    }

    /// Whether the plain file still begins with the guarded bytes; extends the guard when more of the
    /// head exists now. Called after a read, so a truncation before that read shows as a changed head.
    fn head_still_matches(&mut self) -> io::Result<bool> {
        let (Some(guard), Source::Plain(file)) = (&mut self.guard, &self.source) else {
            return Ok(true);
        };
        let head = match read_head(file, guard.want.max(guard.len)) {
            Ok(head) => head,
            Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(true),
            Err(e) => return Err(e),
        };
        if (head.len() as u64) < guard.len
            || super::identity::head_hash(&head[..guard.len as usize]) != guard.hash
        {
            return Ok(false);
        }
        if head.len() as u64 > guard.len {
            guard.len = head.len() as u64;
            guard.hash = super::identity::head_hash(&head);
        }
        Ok(true)
    }

    /// Reads a stream that is not a file, from its start. A read that fails with `WouldBlock` ends a
    /// [`LineReader::poll`] without reaching the end; a read of 0 bytes is the end.
    pub fn stream(reader: Box<dyn Read + Send>, max_line: usize) -> LineReader {
        LineReader {
            source: Source::Stream(reader),
            buf: vec![0; MIN_BUF],
            start: 0,
            end: 0,
            offset: 0,
            max_line: max_line.max(1),
            skipping: None,
            guard: None,
            max_chunk: CHUNK,
        }
    }

    /// The offset of the first byte not yet handed out as part of a line (buffered bytes not included).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The open file, for size checks (plain files only).
    pub fn file(&self) -> Option<&File> {
        match &self.source {
            Source::Plain(f) => Some(f),
            Source::Gzip(_) | Source::Stream(_) => None,
        }
    }

    /// Bytes read but not yet part of a complete line.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Produces up to `max_lines` complete lines, reading as needed.
    pub fn poll(&mut self, max_lines: usize, mut emit: impl FnMut(Line<'_>)) -> io::Result<Polled> {
        let mut lines = 0;
        loop {
            while lines < max_lines {
                let window = &self.buf[self.start..self.end];
                match memchr(b'\n', window) {
                    Some(i) => {
                        let end = self.offset + i as u64 + 1;
                        if let Some((start, head)) = self.skipping.take() {
                            emit(Line {
                                bytes: &head,
                                start,
                                end,
                                truncated: true,
                            });
                        } else {
                            let mut line = &window[..i];
                            if line.last() == Some(&b'\r') {
                                line = &line[..line.len() - 1];
                            }
                            let truncated = line.len() > self.max_line;
                            let bytes = if truncated {
                                cut_at_char_boundary(line, self.max_line)
                            } else {
                                line
                            };
                            emit(Line {
                                bytes,
                                start: self.offset,
                                end,
                                truncated,
                            });
                        }
                        self.start += i + 1;
                        self.offset = end;
                        lines += 1;
                    }
                    None => {
                        let len = window.len();
                        if let Some((_, _)) = &self.skipping {
                            self.offset += len as u64;
                            self.start = self.end;
                        } else if len > self.max_line {
                            let head = cut_at_char_boundary(window, self.max_line).to_vec();
                            self.skipping = Some((self.offset, head));
                            self.offset += len as u64;
                            self.start = self.end;
                        }
                        break;
                    }
                }
            }
            if lines >= max_lines {
                return Ok(Polled {
                    lines,
                    eof: false,
                    replaced: false,
                });
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                let grown = (self.buf.len() * 2)
                    .min(self.max_line + CHUNK)
                    .max(self.buf.len() + 1);
                self.buf.resize(grown, 0);
            }
            let free = self.buf.len() - self.end;
            let n = match self.source.read(&mut self.buf[self.end..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Polled {
                        lines,
                        eof: false,
                        replaced: false,
                    });
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.shrink();
                return Ok(Polled {
                    lines,
                    eof: true,
                    replaced: false,
                });
            }
            if !self.head_still_matches()? {
                // The bytes just read may be the new content: drop them unseen.
                return Ok(Polled {
                    lines,
                    eof: true,
                    replaced: true,
                });
            }
            self.end += n;
            if n == free && self.buf.len() < self.max_chunk {
                // A read filled the buffer: there is more to read, so read more at a time.
                let grown = (self.buf.len() * 2).min(self.max_chunk);
                self.buf.resize(grown, 0);
            }
        }
    }

    /// At the end of the data: give back what a burst of reading grew the buffer to.
    fn shrink(&mut self) {
        if self.buf.len() > MIN_BUF && self.end - self.start <= MIN_BUF {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.buf.truncate(MIN_BUF);
            self.buf.shrink_to_fit();
        }
    }

    /// Bytes of memory held for reading (for tests of what an open file costs).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Hands out a last line without a newline (the end of a finished `.gz` file). Returns whether there was one.
    pub fn finish(&mut self, mut emit: impl FnMut(Line<'_>)) -> bool {
        let window = &self.buf[self.start..self.end];
        let end = self.offset + window.len() as u64;
        let produced = if let Some((start, head)) = self.skipping.take() {
            emit(Line {
                bytes: &head,
                start,
                end,
                truncated: true,
            });
            true
        } else if !window.is_empty() {
            let truncated = window.len() > self.max_line;
            let bytes = if truncated {
                cut_at_char_boundary(window, self.max_line)
            } else {
                window
            };
            emit(Line {
                bytes,
                start: self.offset,
                end,
                truncated,
            });
            true
        } else {
            false
        };
        self.start = self.end;
        self.offset = end;
        produced
    }
}

/// Up to `len` bytes from the start of `file`, without moving its read position.
fn read_head(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let mut head = vec![0; len as usize];
    let mut got = 0;
    while got < head.len() {
        match read_at(file, &mut head[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

/// `seek_read` moves the file position on Windows: put it back.
#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut f = file;
    let pos = f.stream_position()?;
    let n = std::os::windows::fs::FileExt::seek_read(file, buf, at);
    f.seek(SeekFrom::Start(pos))?;
    n
}

/// Elsewhere the head cannot be read without moving the position: the guard is not checked.
#[cfg(not(any(unix, windows)))]
fn read_at(_file: &File, _buf: &mut [u8], _at: u64) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The longest prefix of at most `max` bytes that does not split a UTF-8 character (when the text is UTF-8).
fn cut_at_char_boundary(bytes: &[u8], max: usize) -> &[u8] {
    let mut cut = max.min(bytes.len());
    let mut back = 0;
    while cut > 0 && back < 4 && cut < bytes.len() && (bytes[cut] & 0xC0) == 0x80 {
        cut -= 1;
        back += 1;
    }
    if back == 4 {
        &bytes[..max.min(bytes.len())]
    } else {
        &bytes[..cut]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(content: &[u8], offset: u64, max_line: usize) -> Vec<(Vec<u8>, u64, u64, bool)> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        let mut r =
            LineReader::open(File::open(f.path()).unwrap(), offset, false, max_line).unwrap();
        let mut out = Vec::new();
        loop {
            let p = r
                .poll(3, |l| {
                    out.push((l.bytes.to_vec(), l.start, l.end, l.truncated))
                })
                .unwrap();
            if p.eof {
                break;
            }
        }
        out
    }

    #[test]
    fn lines_carry_their_offsets_and_lose_crlf() {
        let got = collect(b"a\r\nbb\nccc\npartial", 0, 100);
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), 0, 3, false),
                (b"bb".to_vec(), 3, 6, false),
                (b"ccc".to_vec(), 6, 10, false)
            ]
        );
        assert_eq!(
            collect(b"a\nbb\n", 2, 100),
            vec![(b"bb".to_vec(), 2, 5, false)]
        );
    }

    #[test]
    fn long_lines_are_cut_without_buffering_them_whole() {
        let mut content = vec![b'x'; 3 * CHUNK + 17];
        content.push(b'\n');
        content.extend_from_slice(b"next\n");
        let got = collect(&content, 0, 1000);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.len(), 1000);
        assert!(got[0].3);
        assert_eq!(got[0].2, 3 * CHUNK as u64 + 18);
        assert_eq!(
            got[1],
            (
                b"next".to_vec(),
                3 * CHUNK as u64 + 18,
                3 * CHUNK as u64 + 23,
                false
            )
        );
    }

    #[test]
    fn truncation_does_not_split_a_utf8_character() {
        let got = collect("ééééé\n".as_bytes(), 0, 5);
        assert_eq!(got[0].0, "éé".as_bytes());
        assert!(got[0].3);
    }

    #[test]
    fn gzip_files_are_read_from_a_decompressed_offset() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"one\ntwo\nthree").unwrap();
        f.write_all(&enc.finish().unwrap()).unwrap();
        let mut r = LineReader::open(File::open(f.path()).unwrap(), 4, true, 100).unwrap();
        let mut out = Vec::new();
        let p = r
            .poll(10, |l| out.push((l.bytes.to_vec(), l.start)))
            .unwrap();
        assert!(p.eof);
        assert!(r.finish(|l| out.push((l.bytes.to_vec(), l.start))));
        assert_eq!(out, vec![(b"two".to_vec(), 4), (b"three".to_vec(), 8)]);
    }

    #[test]
    fn a_file_truncated_and_written_again_between_reads_is_reported_not_read_on() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"first generation 1\nfirst generation 2\n").unwrap();
        let head = b"first generation 1\n";
        let mut r = LineReader::open(File::open(f.path()).unwrap(), 0, false, 100).unwrap();
        r.guard_head(HeadGuard {
            len: head.len() as u64,
            hash: crate::inputs::file::identity::head_hash(head),
            want: 1024,
        });
        let mut out = Vec::new();
        let p = r.poll(10, |l| out.push(l.bytes.to_vec())).unwrap();
        assert_eq!((p.lines, p.replaced), (2, false));
        // The guard grew with what was read.
        assert_eq!(r.head_guard().unwrap().len, 38);
        // Copytruncate, then a longer new generation: same size or more, so only the head tells.
        std::fs::write(
            f.path(),
            b"second generation 1\nsecond generation 2\nsecond generation 3\n",
        )
        .unwrap();
        let p = r.poll(10, |l| out.push(l.bytes.to_vec())).unwrap();
        assert!(p.replaced && p.eof, "{p:?}");
        assert_eq!(out.len(), 2, "nothing of the new generation is handed out");
        assert_eq!(r.offset(), 38);
    }

    #[test]
    fn the_buffer_grows_for_a_backlog_and_shrinks_at_the_end() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for i in 0..20_000 {
            writeln!(f, "backlog line {i:05} with some padding to make it longer").unwrap();
        }
        f.flush().unwrap();
        let mut r = LineReader::open(File::open(f.path()).unwrap(), 0, false, 1 << 20).unwrap();
        assert_eq!(r.capacity(), MIN_BUF, "an idle reader holds little");
        let (mut lines, mut peak) = (0, 0);
        loop {
            let p = r.poll(1000, |_| lines += 1).unwrap();
            peak = peak.max(r.capacity());
            if p.eof {
                break;
            }
        }
        assert_eq!(lines, 20_000);
        assert!(peak > MIN_BUF, "reading a backlog uses larger reads: {peak}");
        assert_eq!(r.capacity(), MIN_BUF, "given back at the end");
    }
}
