//! Request bodies: read within a size limit and a deadline, then decoded (`Content-Encoding: gzip`,
//! `deflate` or `zstd`) within the same size limit, so neither a huge upload nor a small compressed bomb
//! can take the agent's memory.

use http_body_util::{BodyExt, Limited};
use hyper::HeaderMap;
use hyper::StatusCode;
use hyper::body::{Bytes, Incoming};
use hyper::header;
use std::borrow::Cow;
use std::io::Read;
use std::time::Duration;

/// Why a body was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit (sent or once decoded).
    TooLarge {
        /// The limit in bytes.
        limit: usize,
        /// Whether the decoded body is what went over.
        decoded: bool,
    },
    /// Not all sent within the deadline.
    TooSlow(Duration),
    /// The connection failed while the body was read.
    Read(String),
    /// A `Content-Encoding` this input does not decode.
    UnknownEncoding(String),
    /// The compressed body is damaged or cut short.
    Damaged {
        /// The encoding.
        encoding: &'static str,
        /// What the decoder said.
        reason: String,
    },
}

impl BodyError {
    /// The status that answers it.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            BodyError::Read(_) | BodyError::Damaged { .. } => StatusCode::BAD_REQUEST,
            BodyError::UnknownEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    /// The metric label of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            BodyError::TooLarge { .. } => "body_too_large",
            BodyError::TooSlow(_) => "body_too_slow",
            BodyError::Read(_) => "body_read_failed",
            BodyError::UnknownEncoding(_) => "unknown_encoding",
            BodyError::Damaged { .. } => "damaged_body",
        }
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge {
                limit,
                decoded: false,
            } => write!(
                f,
                "the body is larger than max_body_bytes ({limit} bytes): send smaller requests"
            ),
            BodyError::TooLarge {
                limit,
                decoded: true,
            } => write!(
                f,
                "the body, decompressed, is larger than max_body_bytes ({limit} bytes): send smaller requests"
            ),
            BodyError::TooSlow(d) => write!(
                f,
                "the body did not arrive within body_timeout ({d:?}); send it faster or in smaller requests"
            ),
            BodyError::Read(e) => write!(f, "the body could not be read: {e}"),
            BodyError::UnknownEncoding(e) => write!(
                f,
                "Content-Encoding `{e}` is not decoded here; send the body as it is, or with gzip, deflate or zstd"
            ),
            BodyError::Damaged { encoding, reason } => write!(
                f,
                "the {encoding} body is damaged or cut short ({reason}); nothing of it was taken, send it again"
            ),
        }
    }
}

/// Reads the whole body: at most `limit` bytes, all of it within `timeout`.
pub async fn read(
    body: Incoming,
    headers: &HeaderMap,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge {
            limit,
            decoded: false,
        });
    }
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await;
    match collected {
        Err(_) => Err(BodyError::TooSlow(timeout)),
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge {
            limit,
            decoded: false,
        }),
        Ok(Err(e)) => Err(BodyError::Read(e.to_string())),
    }
}

/// The body's encoding, from `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As sent.
    Identity,
    /// gzip (one or more members).
    Gzip,
    /// zlib, or raw deflate as some clients send it.
    Deflate,
    /// Zstandard.
    Zstd,
}

/// The encoding `Content-Encoding` names.
pub fn encoding(headers: &HeaderMap) -> Result<Encoding, BodyError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let text = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match text.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "deflate" => Ok(Encoding::Deflate),
        "zstd" => Ok(Encoding::Zstd),
        _ => Err(BodyError::UnknownEncoding(
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )),
    }
}

/// Decodes a body, at most `limit` bytes of decoded data (blocking: call it off the async workers).
pub fn decode(encoding: Encoding, body: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, BodyError> {
    let (name, reader): (&'static str, Box<dyn Read + '_>) = match encoding {
        Encoding::Identity => return Ok(Cow::Borrowed(body)),
        Encoding::Gzip => ("gzip", Box::new(flate2::read::MultiGzDecoder::new(body))),
        Encoding::Deflate if looks_like_zlib(body) => {
            ("deflate", Box::new(flate2::read::ZlibDecoder::new(body)))
        }
        Encoding::Deflate => ("deflate", Box::new(flate2::read::DeflateDecoder::new(body))),
        Encoding::Zstd => match ruzstd::decoding::StreamingDecoder::new(body) {
            Ok(d) => ("zstd", Box::new(d)),
            Err(e) => {
                return Err(BodyError::Damaged {
                    encoding: "zstd",
                    reason: e.to_string(),
                });
            }
        },
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    match reader.take(limit as u64 + 1).read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(BodyError::TooLarge {
            limit,
            decoded: true,
        }),
        Ok(_) => Ok(Cow::Owned(out)),
        Err(e) => Err(BodyError::Damaged {
            encoding: name,
            reason: e.to_string(),
        }),
    }
}

/// Whether a `deflate` body starts with a zlib header (RFC 1950) rather than raw deflate data.
fn looks_like_zlib(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decoded_and_damage_is_reported() {
        let data = b"{\"a\":1}\n".repeat(100);
        let gz = gzip(&data);
        assert_eq!(&*decode(Encoding::Gzip, &gz, 1 << 20).unwrap(), &data[..]);
        let cut = &gz[..gz.len() / 2];
        let err = decode(Encoding::Gzip, cut, 1 << 20).unwrap_err();
        assert!(matches!(err, BodyError::Damaged { encoding: "gzip", .. }), "{err:?}");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&data).unwrap();
        assert_eq!(
            &*decode(Encoding::Deflate, &z.finish().unwrap(), 1 << 20).unwrap(),
            &data[..]
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&data).unwrap();
        assert_eq!(
            &*decode(Encoding::Deflate, &raw.finish().unwrap(), 1 << 20).unwrap(),
            &data[..]
        );
    }

    #[test]
    fn a_compressed_bomb_stops_at_the_limit() {
        let gz = gzip(&vec![b'a'; 3 << 20]);
        assert_eq!(
            decode(Encoding::Gzip, &gz, 1 << 20).unwrap_err(),
            BodyError::TooLarge {
                limit: 1 << 20,
                decoded: true
            }
        );
    }

    #[test]
    fn garbage_zstd_is_damaged() {
        let err = decode(Encoding::Zstd, b"not zstd at all", 1 << 20).unwrap_err();
        assert!(matches!(err, BodyError::Damaged { encoding: "zstd", .. }), "{err:?}");
    }
}
