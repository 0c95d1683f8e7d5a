//! The on-disk record format of the disk queue, and reading it back after a crash.
//!
//! A segment file is a 16-byte header (`LWQSEG`, format version, the first sequence number) followed by
//! records: `length: u32 LE | crc32c: u32 LE | sequence: u64 LE | payload`. The CRC covers the sequence and
//! the payload, so a record that was torn by a crash, overwritten with garbage, or moved is recognised.
//! Sequence numbers grow strictly from record to record, which is also how the scanner finds its footing
//! again after a damaged stretch: the next header whose CRC checks and whose sequence is larger than the
//! last good one.

use std::io::Read;
use std::ops::Range;
use std::path::Path;

/// Segment header: magic, version, first sequence number.
pub const MAGIC: &[u8; 7] = b"LWQSEG\0";
/// The format version written in the header.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 16;
/// Record header length in bytes.
pub const RECORD_HEADER_LEN: usize = 16;
/// The largest payload a record may carry (a sanity bound for lengths read from disk).
pub const MAX_PAYLOAD: usize = 256 * 1024 * 1024;

/// The segment header for a segment starting at `first_seq`.
pub fn header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..7].copy_from_slice(MAGIC);
    h[7] = VERSION;
    h[8..].copy_from_slice(&first_seq.to_le_bytes());
    h
}

fn crc(seq: u64, payload: &[u8]) -> u32 {
    let c = crc32c::crc32c(&seq.to_le_bytes());
    crc32c::crc32c_append(c, payload)
}

/// Appends one record to `out`.
pub fn encode_record(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc(seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// One good record found by a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPos {
    /// Its sequence number.
    pub seq: u64,
    /// Where its payload starts in the file.
    pub offset: u64,
    /// Payload length.
    pub len: u32,
}

/// A damaged stretch of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte range in the file.
    pub range: Range<u64>,
    /// What was wrong at its start.
    pub reason: String,
}

/// What a scan of one segment found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The first sequence number from the header (`None`: the header itself is damaged).
    pub first_seq: Option<u64>,
    /// Every good record, in order.
    pub records: Vec<RecordPos>,
    /// Damaged stretches followed by good records again (skipped).
    pub damaged: Vec<Damage>,
    /// Where the good data ends: bytes after it are a torn or damaged tail with no good record after it.
    pub valid_end: u64,
    /// The length of the scanned bytes.
    pub len: u64,
}

impl Scan {
    /// Whether the segment has a tail to cut off (a torn last record, or garbage at the end).
    pub fn torn_tail(&self) -> bool {
        self.valid_end < self.len
    }

    /// Whether anything is wrong.
    pub fn is_clean(&self) -> bool {
        self.first_seq.is_some() && self.damaged.is_empty() && !self.torn_tail()
    }
}

/// Tries to read a good record at `pos` with a sequence above `after`.
fn record_at(bytes: &[u8], pos: usize, after: Option<u64>) -> Result<RecordPos, String> {
    let Some(head) = bytes.get(pos..pos + RECORD_HEADER_LEN) else {
        return Err("a record header is cut short".into());
    };
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let want = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let mut seq_bytes = [0u8; 8];
    seq_bytes.copy_from_slice(&head[8..16]);
    let seq = u64::from_le_bytes(seq_bytes);
    if len > MAX_PAYLOAD {
        return Err(format!("a record length of {len} bytes is impossible"));
    }
    let start = pos + RECORD_HEADER_LEN;
    let Some(payload) = bytes.get(start..start + len) else {
        return Err(format!(
            "a record of {len} bytes runs past the end of the file"
        ));
    };
    if crc(seq, payload) != want {
        return Err("the checksum does not match".into());
    }
    if after.is_some_and(|a| seq <= a) {
        return Err(format!(
            "sequence {seq} does not follow {}",
            after.unwrap_or(0)
        ));
    }
    Ok(RecordPos {
        seq,
        offset: start as u64,
        len: len as u32,
    })
}

/// Scans segment bytes. Never fails: damage is reported in the result.
pub fn scan(bytes: &[u8]) -> Scan {
    let mut out = Scan {
        len: bytes.len() as u64,
        ..Scan::default()
    };
    let header_ok = bytes.len() >= HEADER_LEN && &bytes[..7] == MAGIC && bytes[7] == VERSION;
    let mut last: Option<u64> = None;
    if header_ok {
        let mut first = [0u8; 8];
        first.copy_from_slice(&bytes[8..16]);
        let first = u64::from_le_bytes(first);
        // Only informational: a damaged sequence in the header must not hide the good records.
        out.first_seq = Some(first);
    }
    let mut pos = HEADER_LEN.min(bytes.len());
    if !header_ok && bytes.len() >= HEADER_LEN {
        out.damaged.push(Damage {
            range: 0..HEADER_LEN as u64,
            reason: "the segment header is not a logward queue header".into(),
        });
    }
    out.valid_end = pos as u64;
    while pos < bytes.len() {
        match record_at(bytes, pos, last) {
            Ok(r) => {
                last = Some(r.seq);
                pos = r.offset as usize + r.len as usize;
                out.records.push(r);
                out.valid_end = pos as u64;
            }
            Err(reason) => {
                // Find footing again: the next good record after this point.
                let found = (pos + 1..bytes.len().saturating_sub(RECORD_HEADER_LEN - 1))
                    .find(|&q| record_at(bytes, q, last).is_ok());
                match found {
                    Some(q) => {
                        out.damaged.push(Damage {
                            range: pos as u64..q as u64,
                            reason,
                        });
                        pos = q;
                    }
                    None => break,
                }
            }
        }
    }
    out
}

/// Scans a segment file.
pub fn scan_file(path: &Path) -> std::io::Result<Scan> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(scan(&bytes))
}

/// The file name of the segment starting at `first_seq`.
pub fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// The first sequence number in a segment file name, if it is one.
pub fn parse_file_name(name: &str) -> Option<u64> {
    name.strip_suffix(".seg")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment(first: u64, payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut out = header(first).to_vec();
        for (i, p) in payloads.iter().enumerate() {
            encode_record(&mut out, first + i as u64, p);
        }
        out
    }

    #[test]
    fn clean_segments_read_back_in_order() {
        let seg = segment(7, &[b"a".to_vec(), vec![], b"ccc".to_vec()]);
        let s = scan(&seg);
        assert!(s.is_clean());
        assert_eq!(s.first_seq, Some(7));
        assert_eq!(
            s.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![7, 8, 9]
        );
        let r = s.records[2];
        assert_eq!(
            &seg[r.offset as usize..r.offset as usize + r.len as usize],
            b"ccc"
        );
    }

    #[test]
    fn a_torn_last_record_is_cut_off() {
        let seg = segment(0, &[b"first".to_vec(), b"second".to_vec()]);
        let cut = &seg[..seg.len() - 3];
        let s = scan(cut);
        assert_eq!(s.records.len(), 1);
        assert!(s.torn_tail());
        assert!(s.damaged.is_empty());
        assert_eq!(s.valid_end as usize, HEADER_LEN + RECORD_HEADER_LEN + 5);
    }

    #[test]
    fn garbage_in_the_middle_is_skipped_and_reported() {
        let payloads: Vec<Vec<u8>> = (0..5).map(|i| vec![b'x'; 100 + i]).collect();
        let mut seg = segment(100, &payloads);
        // Smash the second record's payload.
        let s = scan(&seg);
        let r = s.records[1];
        for b in &mut seg[r.offset as usize..r.offset as usize + 10] {
            *b = 0xFF;
        }
        let s = scan(&seg);
        assert_eq!(
            s.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![100, 102, 103, 104]
        );
        assert_eq!(s.damaged.len(), 1);
        assert!(s.damaged[0].reason.contains("checksum"), "{:?}", s.damaged);
        assert!(!s.torn_tail());
    }

    #[test]
    fn a_damaged_header_and_foreign_files_do_not_panic() {
        let mut seg = segment(5, &[b"abc".to_vec()]);
        seg[0] = b'X';
        let s = scan(&seg);
        assert_eq!(s.first_seq, None);
        assert_eq!(s.records.len(), 1, "records are still found");
        assert!(!s.is_clean());
        assert!(scan(b"").records.is_empty());
        assert!(
            scan(b"hello world, not a segment at all")
                .records
                .is_empty()
        );
        assert_eq!(parse_file_name(&file_name(42)), Some(42));
        assert_eq!(parse_file_name("x.seg"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any sequence of appends, then a cut at any byte, recovers exactly a prefix of the appends.
        #[test]
        fn a_truncated_segment_recovers_a_prefix(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            cut in any::<proptest::sample::Index>(),
        ) {
            let seg = segment(1, &payloads);
            let at = cut.index(seg.len() + 1);
            let s = scan(&seg[..at]);
            let got: Vec<Vec<u8>> = s.records.iter().map(|r| seg[r.offset as usize..(r.offset + r.len as u64) as usize].to_vec()).collect();
            prop_assert!(got.len() <= payloads.len());
            prop_assert_eq!(&got[..], &payloads[..got.len()]);
            prop_assert!(s.damaged.is_empty());
            // Cutting at the recovered end gives a clean segment with the same records.
            if at >= HEADER_LEN {
                let again = scan(&seg[..s.valid_end as usize]);
                prop_assert!(again.is_clean());
                prop_assert_eq!(again.records.len(), got.len());
            }
        }

        /// Overwriting any stretch with garbage never panics, never invents a record, and keeps order.
        #[test]
        fn garbage_anywhere_only_loses_the_records_it_touches(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..15),
            start in any::<proptest::sample::Index>(),
            garbage in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let mut seg = segment(10, &payloads);
            let clean = scan(&seg);
            let at = start.index(seg.len());
            let end = (at + garbage.len()).min(seg.len());
            seg[at..end].copy_from_slice(&garbage[..end - at]);
            let s = scan(&seg);
            let mut last = None;
            for r in &s.records {
                prop_assert!(last.is_none_or(|l| r.seq > l));
                last = Some(r.seq);
                let i = (r.seq - 10) as usize;
                prop_assert!(i < payloads.len());
                let payload = &seg[r.offset as usize..(r.offset + r.len as u64) as usize];
                prop_assert_eq!(payload, &payloads[i][..]);
            }
            // Records entirely outside the overwritten stretch survive.
            for r in &clean.records {
                let rec_start = r.offset as usize - RECORD_HEADER_LEN;
                let rec_end = (r.offset + r.len as u64) as usize;
                if rec_end <= at || rec_start >= end {
                    prop_assert!(s.records.iter().any(|x| x.seq == r.seq), "record {} lost", r.seq);
                }
            }
        }
    }
}
