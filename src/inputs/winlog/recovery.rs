//! What to do when the Event Log API fails. Winlogbeat is known to stall on "the query result is stale"
//! and "the parameter is incorrect" after a log is cleared or wraps, or after an RPC hiccup; here every
//! such failure leads to a fresh subscription from the last acknowledged bookmark, with backoff, and a
//! bookmark the log no longer has leads to reading from the oldest record, with the gap counted and logged.

use std::time::Duration;

/// Windows error codes the input reacts to.
pub mod code {
    /// ERROR_ACCESS_DENIED.
    pub const ACCESS_DENIED: u32 = 5;
    /// ERROR_INVALID_HANDLE.
    pub const INVALID_HANDLE: u32 = 6;
    /// ERROR_INVALID_PARAMETER.
    pub const INVALID_PARAMETER: u32 = 87;
    /// ERROR_NO_MORE_ITEMS.
    pub const NO_MORE_ITEMS: u32 = 259;
    /// ERROR_NOT_FOUND (a strict bookmark whose record is gone).
    pub const NOT_FOUND: u32 = 1168;
    /// RPC_S_SERVER_UNAVAILABLE.
    pub const RPC_SERVER_UNAVAILABLE: u32 = 1722;
    /// RPC_S_CALL_FAILED.
    pub const RPC_CALL_FAILED: u32 = 1726;
    /// RPC_S_CALL_FAILED_DNE.
    pub const RPC_CALL_FAILED_DNE: u32 = 1727;
    /// ERROR_EVT_INVALID_QUERY.
    pub const EVT_INVALID_QUERY: u32 = 15001;
    /// ERROR_EVT_CHANNEL_NOT_FOUND.
    pub const EVT_CHANNEL_NOT_FOUND: u32 = 15007;
    /// ERROR_EVT_QUERY_RESULT_STALE.
    pub const EVT_QUERY_RESULT_STALE: u32 = 15011;
    /// ERROR_EVT_QUERY_RESULT_INVALID_POSITION.
    pub const EVT_QUERY_RESULT_INVALID_POSITION: u32 = 15012;
}

/// The next step after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Close the subscription and subscribe again after the last acknowledged bookmark.
    Resubscribe,
    /// The bookmark points at a record the log no longer has (cleared, wrapped): subscribe from the
    /// oldest record and count a gap.
    ResubscribeFromOldest,
    /// The channel cannot be read now (not installed yet, no permission): try again later.
    RetryLater(String),
    /// Retrying cannot help (an invalid query): say so and stop this channel.
    Stop(String),
}

/// Decides what to do about error `code` while subscribing (`subscribing`) or reading.
pub fn decide(code: u32, subscribing: bool) -> Action {
    match code {
        code::NOT_FOUND | code::EVT_QUERY_RESULT_INVALID_POSITION if subscribing => {
            Action::ResubscribeFromOldest
        }
        code::EVT_QUERY_RESULT_STALE
        | code::EVT_QUERY_RESULT_INVALID_POSITION
        | code::INVALID_PARAMETER
        | code::INVALID_HANDLE
        | code::RPC_SERVER_UNAVAILABLE
        | code::RPC_CALL_FAILED
        | code::RPC_CALL_FAILED_DNE => Action::Resubscribe,
        code::EVT_CHANNEL_NOT_FOUND => Action::RetryLater(
            "the channel does not exist (yet); it is looked for again".into(),
        ),
        code::ACCESS_DENIED => Action::RetryLater(
            "access denied: the service account needs to be in the Event Log Readers group (Security also needs the Manage auditing and security log right or LocalSystem)".into(),
        ),
        code::EVT_INVALID_QUERY => Action::Stop(
            "Windows rejected the query: check `xpath` (or the filters)".into(),
        ),
        _ => Action::Resubscribe,
    }
}

/// Backoff between attempts on one channel: 1 s doubling to 60 s; reset after events flow again.
#[derive(Debug, Clone, Default)]
pub struct ChannelBackoff {
    failures: u32,
}

impl ChannelBackoff {
    /// Records a failure; returns how long to wait before the next attempt.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        Duration::from_secs(1u64 << (self.failures - 1).min(6)).min(Duration::from_secs(60))
    }

    /// Events came: the next failure starts from 1 s again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// Whether a record id after resuming from bookmark `last` shows that records were lost (the log was
/// cleared or wrapped past the bookmark). Ids restart low after a clear; a jump needs unfiltered reading
/// to mean anything, so only the restart is treated as a gap.
pub fn gap_after_resume(last: u64, first_seen: u64) -> bool {
    first_seen <= last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_and_invalid_handles_resubscribe_and_a_lost_bookmark_restarts_from_oldest() {
        assert_eq!(
            decide(code::EVT_QUERY_RESULT_STALE, false),
            Action::Resubscribe
        );
        assert_eq!(decide(code::INVALID_PARAMETER, false), Action::Resubscribe);
        assert_eq!(decide(code::RPC_CALL_FAILED, false), Action::Resubscribe);
        assert_eq!(decide(code::NOT_FOUND, true), Action::ResubscribeFromOldest);
        assert_eq!(
            decide(code::EVT_QUERY_RESULT_INVALID_POSITION, true),
            Action::ResubscribeFromOldest
        );
        assert_eq!(
            decide(code::EVT_QUERY_RESULT_INVALID_POSITION, false),
            Action::Resubscribe
        );
        assert!(matches!(
            decide(code::EVT_CHANNEL_NOT_FOUND, true),
            Action::RetryLater(_)
        ));
        assert!(
            matches!(decide(code::ACCESS_DENIED, true), Action::RetryLater(m) if m.contains("Event Log Readers"))
        );
        assert!(matches!(
            decide(code::EVT_INVALID_QUERY, true),
            Action::Stop(_)
        ));
        assert_eq!(decide(424242, false), Action::Resubscribe);
    }

    #[test]
    fn backoff_doubles_to_a_minute_and_resets() {
        let mut b = ChannelBackoff::default();
        let waits: Vec<u64> = (0..9).map(|_| b.failed().as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.succeeded();
        assert_eq!(b.failed().as_secs(), 1);
        assert!(gap_after_resume(500, 1));
        assert!(!gap_after_resume(500, 501));
    }
}
