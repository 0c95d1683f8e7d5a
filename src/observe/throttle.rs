//! Rate-limiting a warning that can repeat on every request (a misbehaving server answering every
//! retry the same way): the first one is logged, then at most one per interval, each saying how many
//! like it were held back, so the log shows the problem without being flooded by it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets one message through per interval and counts the ones held back.
pub struct LogThrottle {
    every: Duration,
    state: Mutex<State>,
}

struct State {
    last: Option<Instant>,
    held_back: u64,
}

impl LogThrottle {
    /// At most one message per `every`.
    pub fn new(every: Duration) -> LogThrottle {
        LogThrottle {
            every,
            state: Mutex::new(State {
                last: None,
                held_back: 0,
            }),
        }
    }

    /// Whether a message may be logged now: `Some(n)` with the number held back since the last one,
    /// `None` when this one is held back (and counted).
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    /// [`LogThrottle::admit`] at the given moment.
    pub fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.last
            .is_some_and(|t| now.saturating_duration_since(t) < self.every)
        {
            s.held_back += 1;
            return None;
        }
        s.last = Some(now);
        Some(std::mem::take(&mut s.held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_interval_and_the_rest_are_counted() {
        let t = LogThrottle::new(Duration::from_secs(10));
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(t.admit_at(at(0)), Some(0), "the first one goes through");
        assert_eq!(t.admit_at(at(1)), None);
        assert_eq!(t.admit_at(at(9)), None);
        assert_eq!(
            t.admit_at(at(10)),
            Some(2),
            "the next says how many were held back"
        );
        assert_eq!(t.admit_at(at(15)), None);
        assert_eq!(t.admit_at(at(30)), Some(1));
        assert_eq!(t.admit_at(at(31)), None);
    }
}
