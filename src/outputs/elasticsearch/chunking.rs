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

/// One document of a request: which encoded batch it comes from (`slot`, an index into the
/// sources of the request) and its position among that batch's items. Documents of several batches
/// share a request when earlier ones ride along with a new batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ref {
    /// Which source.
    pub slot: usize,
    /// Which item of it.
    pub item: usize,
}

/// Cuts `remaining` (positions in `enc.items`, in order) into requests no larger than `limits`.
pub fn chunks(enc: &Encoded, remaining: &[usize], limits: Limits) -> VecDeque<Vec<usize>> {
    let refs: Vec<Ref> = remaining.iter().map(|&item| Ref { slot: 0, item }).collect();
    plan(&[enc], &refs, limits)
        .into_iter()
        .map(|c| c.into_iter().map(|r| r.item).collect())
        .collect()
}

/// Cuts `refs` (documents of `sources`, in order) into requests within `limits`: at most
/// `max_items` documents and `max_bytes` bytes each (a single larger document still goes, alone).
pub fn plan(sources: &[&Encoded], refs: &[Ref], limits: Limits) -> VecDeque<Vec<Ref>> {
    let mut out = VecDeque::new();
    let mut cur = Vec::new();
    let mut bytes = 0;
    for &r in refs {
        let len = sources[r.slot].items[r.item].range.len();
        if !cur.is_empty() && (cur.len() >= limits.max_items || bytes + len > limits.max_bytes) {
            out.push_back(std::mem::take(&mut cur));
            bytes = 0;
        }
        cur.push(r);
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
    let refs: Vec<Ref> = items.iter().map(|&item| Ref { slot: 0, item }).collect();
    request_body_of(&[enc], &refs, compression, level)
}

/// The body of a request for `refs` (documents of `sources`), and whether it is gzip-compressed.
pub fn request_body_of(
    sources: &[&Encoded],
    refs: &[Ref],
    compression: Compression,
    level: u32,
) -> (Vec<u8>, bool) {
    let raw: usize = refs
        .iter()
        .map(|r| sources[r.slot].items[r.item].range.len())
        .sum();
    match compression {
        Compression::None => {
            let mut out = Vec::with_capacity(raw);
            for (slot, range) in contiguous(sources, refs) {
                out.extend_from_slice(&sources[slot].buf[range]);
            }
            (out, false)
        }
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw / 4),
                flate2::Compression::new(level),
            );
            for (slot, range) in contiguous(sources, refs) {
                // Writing to a Vec cannot fail.
                let _ = gz.write_all(&sources[slot].buf[range]);
            }
            (gz.finish().unwrap_or_default(), true)
        }
    }
}

/// The byte ranges of `refs` in their sources' buffers, neighbours of the same source joined (a
/// first send is one range).
fn contiguous<'a>(
    sources: &'a [&'a Encoded],
    refs: &'a [Ref],
) -> impl Iterator<Item = (usize, Range<usize>)> + 'a {
    let mut pending: Option<(usize, Range<usize>)> = None;
    let mut it = refs
        .iter()
        .map(|r| (r.slot, sources[r.slot].items[r.item].range.clone()));
    std::iter::from_fn(move || {
        loop {
            match (it.next(), pending.take()) {
                (Some(r), None) => pending = Some(r),
                (Some((s, r)), Some((ps, p))) if ps == s && p.end == r.start => {
                    pending = Some((s, p.start..r.end))
                }
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

    #[test]
    fn documents_of_several_batches_share_a_request_in_order() {
        let a = encoded(3);
        let b = encoded(4);
        let refs = [
            Ref { slot: 1, item: 2 },
            Ref { slot: 0, item: 0 },
            Ref { slot: 0, item: 1 },
            Ref { slot: 1, item: 3 },
        ];
        let want: Vec<u8> = refs
            .iter()
            .flat_map(|r| {
                let e = [&a, &b][r.slot];
                e.buf[e.items[r.item].range.clone()].to_vec()
            })
            .collect();
        let (plain, _) = request_body_of(&[&a, &b], &refs, Compression::None, 1);
        assert_eq!(plain, want);
        let planned = plan(
            &[&a, &b],
            &refs,
            Limits {
                max_items: 3,
                max_bytes: usize::MAX,
            },
        );
        assert_eq!(planned.iter().map(Vec::len).collect::<Vec<_>>(), [3, 1]);
    }
}
