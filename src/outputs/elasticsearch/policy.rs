//! What a `_bulk` answer means for the request that got it, decided from the HTTP status and body alone.
//! A pure function, so every status has one documented fate and a table test: the output only does the
//! bookkeeping (which items to send again, refuse, count).

use super::bulk::{self, ItemOutcome};
use super::client::excerpt;
use super::config::BulkAction;

/// The fate of one `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// HTTP 200 with `errors: false`: every item sent is stored.
    AllStored,
    /// HTTP 200 with per-item results, one per item sent, in order.
    Items(Vec<ItemOutcome>),
    /// HTTP 413 for several items: too large for the server (`http.max_content_length`); send each half
    /// on its own.
    Split,
    /// HTTP 413 for a single item: the document alone is too large; it goes to the dead-letter file.
    DeadLetter {
        /// The status recorded with the letter.
        status: u16,
        /// The error type recorded with the letter.
        kind: &'static str,
        /// Why, in plain words.
        reason: &'static str,
    },
    /// HTTP 200 whose body is not one result per item sent (not JSON, `{}`, items missing or extra):
    /// it proves nothing about what was stored, so nothing counts as stored; sent again after a
    /// backoff, and logged with the host and an excerpt.
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// Worth sending again after a backoff (408, 429, 5xx).
    Retry {
        /// What the server said, for the log (the host is added by the caller).
        reason: String,
        /// Whether the host should be set aside while another one answers (502/503/504: it is down or
        /// overloaded, not just busy with this request).
        set_host_aside: bool,
    },
    /// HTTP 401/403: the credential is refused or lacks privileges; retried slowly until fixed.
    CredentialsRefused,
    /// Any other status: sending again will not help until someone looks (retried slowly all the same,
    /// so nothing is lost).
    Fatal {
        /// What the server said (the host is added by the caller).
        reason: String,
    },
}

impl Verdict {
    /// Whether the host that gave this answer should be set aside for a while.
    pub fn sets_host_aside(&self) -> bool {
        matches!(
            self,
            Verdict::Retry {
                set_host_aside: true,
                ..
            }
        )
    }
}

/// Whether an answer with this status says the host is down or overloaded (as opposed to refusing
/// this one request): a gateway or proxy in front of it failed, or it is unavailable.
pub fn status_sets_host_aside(status: u16) -> bool {
    matches!(status, 502..=504)
}

/// Decides what a `_bulk` answer means for a request of `items_sent` items.
pub fn bulk_verdict(status: u16, body: &[u8], items_sent: usize, action: BulkAction) -> Verdict {
    match status {
        200 => match bulk::parse_response(body, items_sent, action) {
            Ok(None) => Verdict::AllStored,
            Ok(Some(outcomes)) => Verdict::Items(outcomes),
            Err(reason) => Verdict::Malformed { reason },
        },
        413 if items_sent > 1 => Verdict::Split,
        413 => Verdict::DeadLetter {
            status: 413,
            kind: "request_entity_too_large",
            reason: "the document alone is larger than the server accepts (http.max_content_length)",
        },
        401 | 403 => Verdict::CredentialsRefused,
        408 | 429 | 500..=599 => Verdict::Retry {
            reason: format!("answered _bulk with HTTP {status}: {}", excerpt(body)),
            set_host_aside: status_sets_host_aside(status),
        },
        _ => Verdict::Fatal {
            reason: format!("answered _bulk with HTTP {status}: {}", excerpt(body)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a verdict is, without its details, so one table covers every row.
    fn shape(v: &Verdict) -> String {
        match v {
            Verdict::AllStored => "stored".into(),
            Verdict::Items(items) => format!("items:{}", items.len()),
            Verdict::Split => "split".into(),
            Verdict::DeadLetter { status, kind, .. } => format!("dead-letter:{status}:{kind}"),
            Verdict::Malformed { .. } => "malformed".into(),
            Verdict::Retry { set_host_aside, .. } => {
                format!("retry{}", if *set_host_aside { ":aside" } else { "" })
            }
            Verdict::CredentialsRefused => "credentials".into(),
            Verdict::Fatal { .. } => "fatal".into(),
        }
    }

    #[test]
    fn every_status_has_its_fate() {
        let stored =
            br#"{"errors":false,"items":[{"index":{"status":201}},{"index":{"status":201}}]}"#;
        let mixed =
            br#"{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":429}}]}"#;
        let error = br#"{"error":{"type":"x","reason":"the reason"},"status":0}"#;
        let table: &[(u16, &[u8], usize, &str)] = &[
            (200, stored, 2, "stored"),
            (200, mixed, 2, "items:2"),
            (200, b"<html>proxy</html>", 2, "malformed"),
            (200, b"", 2, "malformed"),
            (200, b"{}", 2, "malformed"),
            (200, br#"{"acknowledged":true}"#, 2, "malformed"),
            (200, br#"{"errors":false,"items":[]}"#, 2, "malformed"),
            (200, stored, 1, "malformed"),
            (200, stored, 3, "malformed"),
            (413, error, 2, "split"),
            (413, error, 1, "dead-letter:413:request_entity_too_large"),
            (401, error, 2, "credentials"),
            (403, error, 2, "credentials"),
            (408, error, 2, "retry"),
            (429, error, 2, "retry"),
            (500, error, 2, "retry"),
            (501, error, 2, "retry"),
            (502, error, 2, "retry:aside"),
            (503, error, 2, "retry:aside"),
            (504, error, 2, "retry:aside"),
            (507, error, 2, "retry"),
            (599, error, 2, "retry"),
            (400, error, 2, "fatal"),
            (404, error, 2, "fatal"),
            (301, error, 2, "fatal"),
            (201, error, 2, "fatal"),
        ];
        for &(status, body, items, want) in table {
            let v = bulk_verdict(status, body, items, BulkAction::Index);
            assert_eq!(shape(&v), want, "HTTP {status} for {items} items: {v:?}");
            assert_eq!(
                v.sets_host_aside(),
                want.ends_with(":aside"),
                "HTTP {status}"
            );
        }
    }

    #[test]
    fn whole_request_failures_quote_the_server() {
        let v = bulk_verdict(503, br#"{"error":"no master"}"#, 4, BulkAction::Index);
        match v {
            Verdict::Retry { reason, .. } => {
                assert!(
                    reason.contains("HTTP 503") && reason.contains("no master"),
                    "{reason}"
                )
            }
            v => panic!("{v:?}"),
        }
        match bulk_verdict(400, b"bad action line", 4, BulkAction::Index) {
            Verdict::Fatal { reason } => assert!(reason.contains("bad action line"), "{reason}"),
            v => panic!("{v:?}"),
        }
    }
}
