//! Adaptive request concurrency: how many `_bulk` requests one output keeps in flight, chosen by
//! additive increase / multiplicative decrease on what the cluster answers (the idea of Vector's
//! adaptive request concurrency). Decisions are taken once per window, a window lasting about one
//! usual round-trip time:
//! - one more request in flight when every slot was used during the window and nothing went wrong;
//! - ×0.9 (at least one) when a request was answered 429 or 503, failed to connect or timed out, or when
//!   the window's mean round-trip time rose above twice its usual level (a queue building up in the
//!   cluster);
//! - after a 429 the level it fell to is held as the ceiling for [`PROBE_AFTER`] before it is probed
//!   again, so a cluster that turns requests away beyond some count is not sent more than that count
//!   once it said so.
//!
//! `workers` is the ceiling. Written here rather than taken from a crate: the decision needs the
//! output's own notion of "pressure" (which statuses, which transport errors), and the whole thing is a
//! counter, a mutex and a notification.

use crate::observe::metrics::Gauge;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the level a 429 brought the concurrency down to stays its ceiling.
pub const PROBE_AFTER: Duration = Duration::from_secs(30);

/// The decrease factor on pressure.
const DECREASE: f64 = 0.9;

/// The shared limit of one output.
pub struct Concurrency {
    state: Mutex<State>,
    room: tokio::sync::Notify,
    gauge: Gauge,
}

struct State {
    limit: usize,
    ceiling: usize,
    adaptive: bool,
    in_flight: usize,
    /// The usual round-trip time (seconds, moving average of calm windows).
    usual_rtt: Option<f64>,
    window: Window,
    /// After a 429: do not go above this until then.
    hold: Option<(usize, Instant)>,
    /// When the limit was last lowered: answers to requests sent before were sent at the old limit
    /// and say nothing about the new one.
    lowered_at: Option<Instant>,
}

struct Window {
    start: Instant,
    rtt_sum: f64,
    answers: u32,
    pressure: bool,
    too_many: bool,
    full: bool,
}

impl Window {
    fn new(now: Instant, full: bool) -> Window {
        Window {
            start: now,
            rtt_sum: 0.0,
            answers: 0,
            pressure: false,
            too_many: false,
            full,
        }
    }
}

/// What one request's answer says about the cluster's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// An answer that is not about load (stored, items refused, a client error).
    Fine,
    /// 429 to the whole request: the cluster takes fewer requests at once.
    TooMany,
    /// 503, a connection failure or a timeout.
    Unavailable,
}

/// One request's slot; the slot is given back when it is dropped.
pub struct Permit<'a> {
    owner: &'a Concurrency,
    started: Instant,
}

impl Concurrency {
    /// A limit between 1 and `ceiling`, starting at 1 and adapting when `adaptive`; fixed at `ceiling`
    /// otherwise. `gauge` shows the chosen limit.
    pub fn new(ceiling: usize, adaptive: bool, gauge: Gauge) -> Concurrency {
        let ceiling = ceiling.max(1);
        let limit = if adaptive { 1 } else { ceiling };
        gauge.set(limit as i64);
        Concurrency {
            state: Mutex::new(State {
                limit,
                ceiling,
                adaptive,
                in_flight: 0,
                usual_rtt: None,
                window: Window::new(Instant::now(), false),
                hold: None,
                lowered_at: None,
            }),
            room: tokio::sync::Notify::new(),
            gauge,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The limit now.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Waits for a free slot.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before looking, so a slot given back in between still wakes this one.
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if s.in_flight < s.limit {
                    s.in_flight += 1;
                    if s.in_flight >= s.limit {
                        s.window.full = true;
                    }
                    return Permit {
                        owner: self,
                        started: Instant::now(),
                    };
                }
            }
            notified.await;
        }
    }

    fn observe(&self, rtt: Duration, load: Load, now: Instant) {
        let mut s = self.lock();
        if !s.adaptive {
            return;
        }
        let sent_before_lowering = s
            .lowered_at
            .is_some_and(|t| now.checked_sub(rtt).is_some_and(|sent| sent < t));
        if sent_before_lowering && load == Load::TooMany {
            // Sent at a higher limit and turned away: the limit is lowered already, but the level
            // it is at now is the most to try until the probe.
            let cap = s.hold.map_or(s.limit, |(cap, _)| cap.min(s.limit));
            s.hold = Some((cap, now + PROBE_AFTER));
        }
        let load = if sent_before_lowering {
            Load::Fine
        } else {
            load
        };
        let rtt = rtt.as_secs_f64();
        s.window.rtt_sum += rtt;
        s.window.answers += 1;
        s.window.pressure |= load != Load::Fine;
        s.window.too_many |= load == Load::TooMany;
        let length = s.usual_rtt.unwrap_or(rtt).max(0.001);
        if now.saturating_duration_since(s.window.start).as_secs_f64() < length {
            return;
        }
        let mean = s.window.rtt_sum / f64::from(s.window.answers.max(1));
        let slow = s.usual_rtt.is_some_and(|u| mean > 2.0 * u + 0.002);
        if s.window.pressure || slow {
            let before = s.limit;
            s.limit = ((s.limit as f64 * DECREASE) as usize).max(1);
            if s.window.too_many {
                s.hold = Some((s.limit, now + PROBE_AFTER));
            }
            s.lowered_at = Some(now);
            if s.limit != before {
                tracing::debug!(from = before, to = s.limit, slow, "request concurrency lowered");
            }
        } else if s.window.full && s.limit < s.ceiling {
            match s.hold {
                Some((cap, until)) if now < until && s.limit >= cap => {}
                Some((_, until)) if now < until => s.limit += 1,
                _ => {
                    s.hold = None;
                    s.limit += 1;
                }
            }
        }
        if !s.window.pressure {
            s.usual_rtt = Some(match s.usual_rtt {
                None => mean,
                Some(u) => u * 0.8 + mean * 0.2,
            });
        }
        let full = s.in_flight >= s.limit;
        s.window = Window::new(now, full);
        self.gauge.set(s.limit as i64);
        drop(s);
        self.room.notify_waiters();
    }
}

impl Permit<'_> {
    /// The request got its answer (or failed): what it says about the load.
    pub fn finish(self, load: Load) {
        self.owner
            .observe(self.started.elapsed(), load, Instant::now());
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.owner.lock().in_flight -= 1;
        self.owner.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concurrency(ceiling: usize) -> Concurrency {
        Concurrency::new(ceiling, true, crate::observe::metrics::gauge("test_concurrency", &[]))
    }

    /// Runs one window at the current limit: every slot used, each answer `load` after `rtt`.
    fn window(c: &Concurrency, rtt: Duration, load: Load, now: &mut Instant) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let n = c.limit();
        let permits: Vec<Permit<'_>> = (0..n).map(|_| rt.block_on(c.acquire())).collect();
        *now += rtt * 2;
        for p in permits {
            c.observe(rtt, load, *now);
            drop(p);
        }
    }

    #[test]
    fn grows_while_calm_and_falls_on_pressure_within_the_ceiling() {
        let c = concurrency(8);
        let mut now = Instant::now();
        for _ in 0..20 {
            window(&c, Duration::from_millis(10), Load::Fine, &mut now);
        }
        assert_eq!(c.limit(), 8, "calm: up to the ceiling, not beyond");
        window(&c, Duration::from_millis(10), Load::Unavailable, &mut now);
        assert_eq!(c.limit(), 7);
        // A round-trip time far above the usual one is pressure too.
        window(&c, Duration::from_millis(300), Load::Fine, &mut now);
        assert!(c.limit() < 7, "{}", c.limit());
        for _ in 0..50 {
            window(&c, Duration::from_millis(10), Load::Unavailable, &mut now);
        }
        assert_eq!(c.limit(), 1, "never below one");
    }

    #[test]
    fn after_a_429_the_level_it_fell_to_is_held_until_the_probe() {
        let c = concurrency(16);
        let mut now = Instant::now();
        for _ in 0..5 {
            window(&c, Duration::from_millis(10), Load::Fine, &mut now);
        }
        assert_eq!(c.limit(), 6);
        window(&c, Duration::from_millis(10), Load::TooMany, &mut now);
        assert_eq!(c.limit(), 5);
        for _ in 0..20 {
            window(&c, Duration::from_millis(10), Load::Fine, &mut now);
        }
        assert_eq!(c.limit(), 5, "held");
        // Lowered below the held level (a slow window) and back up: still held at that level.
        window(&c, Duration::from_millis(10), Load::Unavailable, &mut now);
        assert_eq!(c.limit(), 4);
        for _ in 0..20 {
            window(&c, Duration::from_millis(10), Load::Fine, &mut now);
        }
        assert_eq!(c.limit(), 5, "held after coming back");
        now += PROBE_AFTER;
        window(&c, Duration::from_millis(10), Load::Fine, &mut now);
        assert_eq!(c.limit(), 6, "probed again");
    }

    #[test]
    fn a_fixed_limit_stays_at_the_ceiling() {
        let c = Concurrency::new(3, false, crate::observe::metrics::gauge("test_fixed", &[]));
        let mut now = Instant::now();
        window(&c, Duration::from_millis(10), Load::TooMany, &mut now);
        assert_eq!(c.limit(), 3);
    }
}
