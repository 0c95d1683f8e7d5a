//! The file thread retries what fails (saving a cursor, deleting a segment, writing on a full disk) many
//! times a second for as long as the problem lasts. Logging every attempt would flood the log with one
//! line; logging none would hide it. So each operation's error is logged the first time, then summarised
//! ("repeated N times") at most every [`SUMMARY_EVERY`], and a line says when it works again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The longest a lasting error stays silent.
pub(super) const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// How bad a failure is, for the log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Severity {
    Warn,
    Error,
}

/// What to log for a failure.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// A new error (or another message than last time): log it as it is.
    First,
    /// The same error went on: it happened `times` more times since the last line.
    Repeated { times: u64, since: Duration },
    /// The same error again, logged recently: say nothing.
    Quiet,
}

/// An operation that is failing.
struct Streak {
    message: String,
    since: Instant,
    last_line: Instant,
    unlogged: u64,
    failures: u64,
}

/// The failing operations, by name.
#[derive(Default)]
pub(super) struct ErrorLog {
    failing: HashMap<String, Streak>,
}

impl ErrorLog {
    /// Records a failure of `operation` at `now` and says what to log.
    pub(super) fn failure_at(&mut self, operation: &str, message: &str, now: Instant) -> Line {
        let Some(streak) = self.failing.get_mut(operation) else {
            self.failing
                .insert(operation.to_string(), Streak::new(message, now));
            return Line::First;
        };
        streak.failures += 1;
        if streak.message != message {
            *streak = Streak {
                failures: streak.failures,
                ..Streak::new(message, now)
            };
            return Line::First;
        }
        streak.unlogged += 1;
        if now.saturating_duration_since(streak.last_line) < SUMMARY_EVERY {
            return Line::Quiet;
        }
        let times = std::mem::take(&mut streak.unlogged);
        streak.last_line = now;
        Line::Repeated {
            times,
            since: now.saturating_duration_since(streak.since),
        }
    }

    /// Records that `operation` worked at `now`. Returns how often and for how long it had failed, when
    /// it had.
    pub(super) fn success_at(&mut self, operation: &str, now: Instant) -> Option<(u64, Duration)> {
        self.failing
            .remove(operation)
            .map(|s| (s.failures, now.saturating_duration_since(s.since)))
    }

    /// Logs a failure of `operation` as [`ErrorLog::failure_at`] decides.
    pub(super) fn failed(&mut self, severity: Severity, operation: &str, message: &str) {
        let text = match self.failure_at(operation, message, Instant::now()) {
            Line::First => message.to_string(),
            Line::Repeated { times, since } => format!(
                "{message} (repeated {times} times since the last report; failing for {})",
                minutes_or_seconds(since)
            ),
            Line::Quiet => return,
        };
        match severity {
            Severity::Warn => tracing::warn!("{text}"),
            Severity::Error => tracing::error!("{text}"),
        }
    }

    /// Logs that `operation` works again (`what` names it for the line), if it was failing.
    pub(super) fn succeeded(&mut self, operation: &str, what: &str) {
        if self.failing.is_empty() {
            return;
        }
        if let Some((failures, since)) = self.success_at(operation, Instant::now()) {
            tracing::info!(
                "{what} works again (it failed {failures} times over {})",
                minutes_or_seconds(since)
            );
        }
    }
}

impl Streak {
    fn new(message: &str, now: Instant) -> Streak {
        Streak {
            message: message.to_string(),
            since: now,
            last_line: now,
            unlogged: 0,
            failures: 1,
        }
    }
}

fn minutes_or_seconds(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_error_is_logged_once_then_summarised_every_minute() {
        let mut log = ErrorLog::default();
        let t0 = Instant::now();
        assert_eq!(log.failure_at("cursor", "disk full", t0), Line::First);
        // Five retries a second for a minute say nothing.
        for i in 1..300 {
            let t = t0 + Duration::from_millis(200 * i);
            assert_eq!(
                log.failure_at("cursor", "disk full", t),
                Line::Quiet,
                "at {i}"
            );
        }
        assert_eq!(
            log.failure_at("cursor", "disk full", t0 + SUMMARY_EVERY),
            Line::Repeated {
                times: 300,
                since: SUMMARY_EVERY
            }
        );
        assert_eq!(
            log.failure_at(
                "cursor",
                "disk full",
                t0 + SUMMARY_EVERY + Duration::from_secs(1)
            ),
            Line::Quiet
        );
        assert_eq!(
            log.success_at("cursor", t0 + SUMMARY_EVERY * 2),
            Some((302, SUMMARY_EVERY * 2))
        );
        // Working again ends the streak: the next failure is news.
        assert_eq!(log.success_at("cursor", t0 + SUMMARY_EVERY * 2), None);
        assert_eq!(
            log.failure_at("cursor", "disk full", t0 + SUMMARY_EVERY * 3),
            Line::First
        );
    }

    #[test]
    fn another_message_or_another_operation_is_logged_at_once() {
        let mut log = ErrorLog::default();
        let t0 = Instant::now();
        assert_eq!(log.failure_at("cursor:a", "disk full", t0), Line::First);
        assert_eq!(log.failure_at("cursor:b", "disk full", t0), Line::First);
        assert_eq!(log.failure_at("cursor:a", "disk full", t0), Line::Quiet);
        assert_eq!(
            log.failure_at("cursor:a", "permission denied", t0),
            Line::First
        );
        assert_eq!(log.success_at("cursor:a", t0), Some((3, Duration::ZERO)));
        assert_eq!(log.success_at("never-failed", t0), None);
    }
}
