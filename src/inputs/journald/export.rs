//! A reader of the journal export format (`journalctl -o export`,
//! <https://systemd.io/JOURNAL_EXPORT_FORMATS/>): entries of `NAME=value` lines, or, for a value that holds
//! a newline or bytes that are not printable, `NAME`, a newline, the length as 64-bit little-endian, the
//! bytes and a newline; a blank line ends an entry.
//!
//! Written by hand because the format is a dozen lines of rules and no maintained crate reads it. It never
//! trusts the stream: a value longer than the limit is cut (and flagged) while the rest is read past without
//! being kept, a line without `=` or a stream that ends inside an entry is reported, never a panic.

use std::io::{self, BufRead, Read};

/// One field of an entry: its name and (possibly cut) value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: Vec<u8>,
    /// The value was longer than the limit and was cut to it.
    pub truncated: bool,
}

/// One journal entry as exported.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entry {
    pub fields: Vec<Field>,
    /// Lines of the entry that were not fields (named in [`Entry::problems`]).
    pub problems: Vec<String>,
}

impl Entry {
    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_slice())
    }

    /// The first value of `name` as text, if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// Reads entries one by one from an export stream.
pub struct ExportReader<R> {
    inner: R,
    max_value: usize,
}

/// What [`ExportReader::next_entry`] found.
#[derive(Debug)]
pub enum Next {
    Entry(Entry),
    /// The stream ended between entries.
    End,
    /// The stream ended in the middle of an entry (what was read of it is dropped).
    Truncated,
}

impl<R: BufRead> ExportReader<R> {
    /// A reader that keeps at most `max_value` bytes of any value (and of any field name).
    pub fn new(inner: R, max_value: usize) -> ExportReader<R> {
        ExportReader {
            inner,
            max_value: max_value.max(1),
        }
    }

    /// The stream being read.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Reads the next entry.
    pub fn next_entry(&mut self) -> io::Result<Next> {
        let mut entry = Entry::default();
        let mut started = false;
        loop {
            let mut line = Vec::new();
            let (ended, cut) =
                read_line_capped(&mut self.inner, &mut line, self.max_value.saturating_add(MAX_NAME))?;
            if ended && line.is_empty() && !cut {
                return Ok(if started { Next::Truncated } else { Next::End });
            }
            if line.is_empty() && !cut {
                if started {
                    return Ok(Next::Entry(entry));
                }
                // Blank lines between entries carry nothing.
                continue;
            }
            started = true;
            if let Some(eq) = memchr::memchr(b'=', &line) {
                let name = String::from_utf8_lossy(&line[..eq]).into_owned();
                line.drain(..=eq);
                let cut = cut | cut_to(&mut line, self.max_value);
                entry.fields.push(Field {
                    name,
                    value: line,
                    truncated: cut,
                });
            } else if cut {
                entry
                    .problems
                    .push(format!("a line of more than {} bytes without `=`", self.max_value));
            } else {
                // The binary form: the name alone, then the length and the bytes.
                let name = String::from_utf8_lossy(&line).into_owned();
                let mut len = [0u8; 8];
                if let Err(e) = self.inner.read_exact(&mut len) {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        return Ok(Next::Truncated);
                    }
                    return Err(e);
                }
                let len = u64::from_le_bytes(len);
                let keep = usize::try_from(len).unwrap_or(usize::MAX).min(self.max_value);
                let mut value = vec![0u8; keep];
                if let Err(e) = self.inner.read_exact(&mut value) {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        return Ok(Next::Truncated);
                    }
                    return Err(e);
                }
                let rest = len - keep as u64;
                if rest > 0 && skip(&mut self.inner, rest)? < rest {
                    return Ok(Next::Truncated);
                }
                // The newline after the bytes.
                let mut nl = [0u8; 1];
                match self.inner.read_exact(&mut nl) {
                    Ok(()) if nl[0] == b'\n' => {}
                    Ok(()) => entry.problems.push(format!(
                        "the binary value of `{name}` is not followed by a newline"
                    )),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Ok(Next::Truncated);
                    }
                    Err(e) => return Err(e),
                }
                if rest > 0 {
                    trim_partial_char(&mut value);
                }
                entry.fields.push(Field {
                    name,
                    value,
                    truncated: rest > 0,
                });
            }
        }
    }
}

/// The longest field name kept whole (journal field names have at most 64 bytes).
const MAX_NAME: usize = 256;

/// Cuts `value` to at most `max` bytes, on a character boundary when it is UTF-8 text; returns whether it
/// was cut.
fn cut_to(value: &mut Vec<u8>, max: usize) -> bool {
    if value.len() <= max {
        return false;
    }
    value.truncate(max);
    trim_partial_char(value);
    true
}

/// Drops a character cut in two at the end of an otherwise valid UTF-8 value.
fn trim_partial_char(value: &mut Vec<u8>) {
    if let Err(e) = std::str::from_utf8(value)
        && e.error_len().is_none()
    {
        value.truncate(e.valid_up_to());
    }
}

/// Reads up to and without the next newline into `out`, keeping at most `cap` bytes (the rest of a longer
/// line is read and dropped). Returns (the stream ended, the line was cut).
fn read_line_capped<R: BufRead>(r: &mut R, out: &mut Vec<u8>, cap: usize) -> io::Result<(bool, bool)> {
    let mut cut = false;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((true, cut));
        }
        let (chunk, used, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        let room = cap.saturating_sub(out.len());
        if chunk.len() > room {
            cut = true;
        }
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        r.consume(used);
        if done {
            return Ok((false, cut));
        }
    }
}

/// Reads and drops `n` bytes; returns how many there were.
fn skip<R: BufRead>(r: &mut R, n: u64) -> io::Result<u64> {
    io::copy(&mut r.by_ref().take(n), &mut io::sink())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], cap: usize) -> (Vec<Entry>, bool) {
        let mut r = ExportReader::new(bytes, cap);
        let mut out = Vec::new();
        loop {
            match r.next_entry().unwrap() {
                Next::Entry(e) => out.push(e),
                Next::End => return (out, false),
                Next::Truncated => return (out, true),
            }
        }
    }

    #[test]
    fn text_and_binary_fields_and_entry_ends() {
        let mut s = b"__CURSOR=s=1;i=1\nMESSAGE=hello\n\n".to_vec();
        s.extend_from_slice(b"MESSAGE\n");
        s.extend_from_slice(&5u64.to_le_bytes());
        s.extend_from_slice(b"a\nb\xff\x00\nPRIORITY=3\n\n");
        let (entries, truncated) = read_all(&s, 1024);
        assert!(!truncated);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].get_str("MESSAGE"), Some("hello"));
        assert_eq!(entries[1].get("MESSAGE"), Some(&b"a\nb\xff\x00"[..]));
        assert_eq!(entries[1].get_str("PRIORITY"), Some("3"));
    }

    #[test]
    fn long_values_are_cut_and_garbage_is_reported() {
        let mut s = format!("MESSAGE={}\nX\n", "y".repeat(100)).into_bytes();
        s.extend_from_slice(&(1u64 << 40).to_le_bytes());
        s.extend_from_slice(b"short");
        let (entries, truncated) = read_all(&s, 10);
        assert!(truncated, "a binary value longer than the stream ends the stream");
        assert!(entries.is_empty());
        let s = format!("MESSAGE={}\nNOEQUALS\n", "y".repeat(100));
        let mut s = s.into_bytes();
        s.extend_from_slice(&3u64.to_le_bytes());
        s.extend_from_slice(b"abcXZZ=1\n\n");
        let (entries, _) = read_all(&s, 10);
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.fields[0].value.len(), 10);
        let mut v = "aé".as_bytes().to_vec();
        assert!(cut_to(&mut v, 2));
        assert_eq!(v, b"a");
        assert!(e.fields[0].truncated);
        assert_eq!(e.problems.len(), 1, "{:?}", e.problems);
        let s = format!("{}\n\n", "z".repeat(400));
        let (entries, _) = read_all(s.as_bytes(), 10);
        assert_eq!(entries[0].problems.len(), 1);
    }
}
