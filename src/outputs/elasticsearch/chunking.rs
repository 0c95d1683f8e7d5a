//! Cutting an encoded batch into `_bulk` requests: which items go together (within `bulk_max_size` and
//! `bulk_max_bytes`), and the body of one request (plain or gzip), made of ranges of the encoded buffer
//! so a retry of some items copies only those.

use super::bulk::Encoded;
use super::config::Compression;
use std::collections::VecDeque;
use std::io::Write as _;
use std::ops::Range;

/// The limits of one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Items per request.
    pub max_items: usize,
    /// Bytes per request before compression (a single larger item still goes alone).
    pub max_bytes: usize,
}

/// Cuts `remaining` (positions in `enc.items`, in order) into requests no larger than `limits`.
pub fn chunks(enc: &Encoded, remaining: &[usize], limits: Limits) -> VecDeque<Vec<usize>> {
    let mut out = VecDeque::new();
    let mut cur = Vec::new();
    let mut bytes = 0;
    for &i in remaining {
        let len = enc.items[i].range.len();
        if !cur.is_empty() && (cur.len() >= limits.max_items || bytes + len > limits.max_bytes) {
            out.push_back(std::mem::take(&mut cur));
            bytes = 0;
        }
        cur.push(i);
        bytes += len;
    }
    if !cur.is_empty() {
        out.push_back(cur);
    }
    out
}

/// The body of a request for `items`, and whether it is gzip-compressed.
pub fn request_body(
    enc: &Encoded,
    items: &[usize],
    compression: Compression,
    level: u32,
) -> (Vec<u8>, bool) {
    let raw: usize = items.iter().map(|&i| enc.items[i].range.len()).sum();
    match compression {
        Compression::None => {
            let mut out = Vec::with_capacity(raw);
            for range in contiguous(enc, items) {
                out.extend_from_slice(&enc.buf[range]);
            }
            (out, false)
        }
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw / 4),
                flate2::Compression::new(level),
            );
            for range in contiguous(enc, items) {
                // Writing to a Vec cannot fail.
                let _ = gz.write_all(&enc.buf[range]);
            }
            (gz.finish().unwrap_or_default(), true)
        }
    }
}

/// The byte ranges of `items` in the encoded buffer, neighbours joined (a first send is one range).
fn contiguous<'a>(enc: &'a Encoded, items: &'a [usize]) -> impl Iterator<Item = Range<usize>> + 'a {
    let mut pending: Option<Range<usize>> = None;
    let mut it = items.iter().map(|&i| enc.items[i].range.clone());
    std::iter::from_fn(move || {
        loop {
            match (it.next(), pending.take()) {
                (Some(r), None) => pending = Some(r),
                (Some(r), Some(p)) if p.end == r.start => pending = Some(p.start..r.end),
                (Some(r), Some(p)) => {
                    pending = Some(r);
                    return Some(p);
                }
                (None, p) => return p,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::outputs::elasticsearch::bulk::encode_item;
    use crate::outputs::elasticsearch::config::BulkAction;
    use std::io::Read as _;

    fn encoded(n: usize) -> Encoded {
        let mut enc = Encoded::default();
        for i in 0..n {
            let e = Event::from_message(format!("event {i}"));
            encode_item(&mut enc, &e, i, "logs".into(), BulkAction::Index, false);
        }
        enc
    }

    #[test]
    fn requests_respect_the_item_and_byte_limits() {
        let enc = encoded(10);
        let all: Vec<usize> = (0..10).collect();
        let by_items = chunks(
            &enc,
            &all,
            Limits {
                max_items: 4,
                max_bytes: usize::MAX,
            },
        );
        let sizes: Vec<usize> = by_items.iter().map(Vec::len).collect();
        assert_eq!(sizes, [4, 4, 2]);
        let one = enc.items[0].range.len();
        let by_bytes = chunks(
            &enc,
            &all,
            Limits {
                max_items: 100,
                max_bytes: one * 3,
            },
        );
        assert!(by_bytes.iter().all(|c| c.len() <= 3), "{by_bytes:?}");
        assert_eq!(by_bytes.iter().flatten().copied().collect::<Vec<_>>(), all);
        // An item larger than the byte limit still goes, alone.
        let tiny = chunks(
            &enc,
            &[1, 2],
            Limits {
                max_items: 100,
                max_bytes: 1,
            },
        );
        assert_eq!(tiny, [vec![1], vec![2]]);
    }

    #[test]
    fn a_body_holds_exactly_the_chosen_items_compressed_or_not() {
        let enc = encoded(6);
        let items = [0, 1, 3, 5];
        let want: Vec<u8> = items
            .iter()
            .flat_map(|&i| enc.buf[enc.items[i].range.clone()].to_vec())
            .collect();
        let (plain, gzip) = request_body(&enc, &items, Compression::None, 1);
        assert!(!gzip);
        assert_eq!(plain, want);
        let (packed, gzip) = request_body(&enc, &items, Compression::Gzip, 1);
        assert!(gzip);
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, want);
    }
}
