//! The durable outbox: every notification is first written to `<data_dir>/alerts/outbox` (one small file
//! each), then sent by a task on the runtime. A failed send stays on disk and is retried with exponential
//! backoff, across restarts, until it is sent or older than `max_age`. Writing a file is all the event
//! pipeline ever waits for; sending never holds it up.

use super::config::OutboxConfig;
use super::engine::{Alert, now_ms};
use super::notify::Notifier;
use crate::observe::metrics::{self, Counter, Gauge};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One notification waiting to be sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The notifier's name.
    pub notifier: String,
    /// What to send.
    pub alert: Alert,
    /// When it was put in the outbox (ms since the epoch).
    pub created_ms: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before this time (ms since the epoch).
    pub next_ms: u64,
    /// The last failure.
    #[serde(default)]
    pub last_error: Option<String>,
}

struct NotifierMetrics {
    sent: Counter,
    failed: Counter,
    expired: Counter,
}

/// The outbox and its sender.
pub struct Outbox {
    dir: PathBuf,
    cfg: OutboxConfig,
    notifiers: HashMap<String, (Arc<Notifier>, NotifierMetrics)>,
    wake: tokio::sync::Notify,
    pending: Gauge,
    unreadable: Counter,
}

impl Outbox {
    /// The outbox in `data_dir` for these notifiers.
    pub fn open(
        data_dir: &Path,
        cfg: &OutboxConfig,
        notifiers: Vec<Notifier>,
    ) -> anyhow::Result<Outbox> {
        let dir = data_dir.join("alerts").join("outbox");
        crate::util::fs::create_private_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!("cannot create the alert outbox {}: {e}", dir.display())
        })?;
        metrics::describe(
            "alert_notifications_sent_total",
            "Notifications a notifier delivered.",
        );
        metrics::describe(
            "alert_notification_failures_total",
            "Failed attempts to deliver a notification (each is retried).",
        );
        metrics::describe(
            "alert_notifications_expired_total",
            "Notifications dropped because they were not delivered within alerts.outbox.max_age.",
        );
        metrics::describe(
            "alert_outbox_pending",
            "Notifications waiting in the outbox.",
        );
        let notifiers = notifiers
            .into_iter()
            .map(|n| {
                let labels = [("notifier", n.name.as_str()), ("type", n.kind())];
                let m = NotifierMetrics {
                    sent: metrics::counter("alert_notifications_sent_total", &labels),
                    failed: metrics::counter("alert_notification_failures_total", &labels),
                    expired: metrics::counter("alert_notifications_expired_total", &labels),
                };
                (n.name.clone(), (Arc::new(n), m))
            })
            .collect();
        Ok(Outbox {
            dir,
            cfg: cfg.clone(),
            notifiers,
            wake: tokio::sync::Notify::new(),
            pending: metrics::gauge("alert_outbox_pending", &[]),
            unreadable: metrics::counter("alert_outbox_unreadable_total", &[]),
        })
    }

    fn file_for(&self, alert: &Alert, notifier: &str) -> PathBuf {
        // The same alert for the same notifier always has the same file: putting it in twice sends it once.
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for part in [alert.rule.as_str(), alert.group.as_str(), notifier] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
        self.dir.join(format!(
            "{:013}-{:016x}.json",
            alert.fired_at_ms,
            h.digest()
        ))
    }

    /// Puts an alert in the outbox once for each of its notifiers, durably, and wakes the sender.
    pub fn enqueue(&self, alert: &Alert) {
        let now = now_ms();
        for name in &alert.notify {
            if !self.notifiers.contains_key(name) {
                continue;
            }
            let entry = Entry {
                notifier: name.clone(),
                alert: alert.clone(),
                created_ms: now,
                attempts: 0,
                next_ms: now,
                last_error: None,
            };
            let path = self.file_for(alert, name);
            let bytes = serde_json::to_vec(&entry).unwrap_or_default();
            if let Err(e) = crate::util::fs::write_atomic(&path, &bytes, true) {
                tracing::error!(rule = %alert.rule, notifier = %name, "cannot write the notification to the outbox {}: {e}; it is sent now without a retry if it fails", self.dir.display());
            }
            self.pending.add(1);
        }
        self.wake.notify_one();
    }

    fn load(&self) -> Vec<(PathBuf, Entry)> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for item in dir.flatten() {
            let path = item.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Entry>(&b).map_err(|e| e.to_string()))
            {
                Ok(e) => out.push((path, e)),
                Err(e) => {
                    let aside = path.with_extension("unreadable");
                    tracing::error!(
                        "the outbox file {} cannot be read ({e}); it is moved to {} and not sent",
                        path.display(),
                        aside.display()
                    );
                    let _ = std::fs::rename(&path, &aside);
                    self.unreadable.inc();
                }
            }
        }
        out.sort_by_key(|(p, _)| p.clone());
        out
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let initial = self.cfg.retry_initial.get();
        let max = self.cfg.retry_max.get();
        let exp = initial.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let d = exp.min(max);
        // Up to a fifth more, so many agents that failed together do not retry together.
        d + d.mul_f64(fastrand::f64() * 0.2)
    }

    /// Sends what is due, forever; each pass reads the outbox again, so entries from before a restart
    /// are sent too.
    pub async fn run(self: Arc<Self>) {
        let mut first = true;
        loop {
            let entries = self.load();
            if first {
                self.pending.set(entries.len() as i64);
                if !entries.is_empty() {
                    tracing::info!(pending = entries.len(), dir = %self.dir.display(), "alert outbox: resending notifications kept from before");
                }
                first = false;
            }
            let now = now_ms();
            let mut next_due: Option<u64> = None;
            for (path, mut entry) in entries {
                let Some((notifier, m)) = self.notifiers.get(&entry.notifier) else {
                    tracing::warn!(notifier = %entry.notifier, file = %path.display(), "alert outbox: the notifier is no longer configured; the notification is dropped");
                    let _ = std::fs::remove_file(&path);
                    self.pending.add(-1);
                    continue;
                };
                if now.saturating_sub(entry.created_ms) > self.cfg.max_age.get().as_millis() as u64
                {
                    tracing::error!(rule = %entry.alert.rule, notifier = %entry.notifier, attempts = entry.attempts, last_error = entry.last_error.as_deref().unwrap_or(""), "alert notification not delivered within max_age; dropped");
                    m.expired.inc();
                    let _ = std::fs::remove_file(&path);
                    self.pending.add(-1);
                    continue;
                }
                if entry.next_ms > now {
                    next_due = Some(next_due.map_or(entry.next_ms, |n| n.min(entry.next_ms)));
                    continue;
                }
                match notifier.send(&entry.alert).await {
                    Ok(answer) => {
                        tracing::info!(rule = %entry.alert.rule, group = %entry.alert.group, notifier = %entry.notifier, attempts = entry.attempts + 1, answer = %answer, "alert notification sent");
                        m.sent.inc();
                        if let Err(e) = std::fs::remove_file(&path) {
                            tracing::warn!(
                                "cannot remove the sent notification {}: {e}",
                                path.display()
                            );
                        }
                        self.pending.add(-1);
                    }
                    Err(e) => {
                        m.failed.inc();
                        entry.attempts += 1;
                        let wait = if e.retry {
                            e.retry_after
                                .unwrap_or_else(|| self.backoff(entry.attempts))
                        } else {
                            self.cfg.retry_max.get()
                        };
                        entry.next_ms = now_ms() + wait.as_millis() as u64;
                        tracing::warn!(rule = %entry.alert.rule, notifier = %entry.notifier, attempts = entry.attempts, retry_in = ?wait, "alert notification not delivered: {e}");
                        entry.last_error = Some(e.message);
                        let bytes = serde_json::to_vec(&entry).unwrap_or_default();
                        if let Err(e) = crate::util::fs::write_atomic(&path, &bytes, true) {
                            tracing::warn!("cannot update the outbox file {}: {e}", path.display());
                        }
                        next_due = Some(next_due.map_or(entry.next_ms, |n| n.min(entry.next_ms)));
                    }
                }
            }
            let wait = next_due.map_or(Duration::from_secs(60), |t| {
                Duration::from_millis(t.saturating_sub(now_ms()).clamp(10, 60_000))
            });
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_outbox_file_is_set_aside_and_counted_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let outbox = Outbox::open(dir.path(), &OutboxConfig::default(), Vec::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let folder = dir.path().join("alerts/outbox");
        std::fs::write(
            folder.join("0000000000001-bad.json"),
            b"{\"notifier\": \"x\", \xff\xfe trunc",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let good = Entry {
            notifier: "mail".into(),
            alert: Alert {
                rule: "r".into(),
                kind: super::super::config::RuleKind::Any,
                group: String::new(),
                count: 1,
                threshold: 0,
                window_secs: 0.0,
                priority: Default::default(),
                fired_at_ms: 2,
                notify: vec!["mail".into()],
                samples: vec![],
                detail: String::new(),
            },
            created_ms: 2,
            attempts: 3,
            next_ms: 2,
            last_error: Some("down".into()),
        };
        std::fs::write(
            folder.join("0000000000002-good.json"),
            serde_json::to_vec(&good).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let before = metrics::counter_total("alert_outbox_unreadable_total");
        let loaded = outbox.load();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].1.attempts, 3);
        assert!(folder.join("0000000000001-bad.unreadable").is_file());
        assert!(metrics::counter_total("alert_outbox_unreadable_total") > before);
        // Backoff doubles from retry_initial up to retry_max (plus at most a fifth).
        let b1 = outbox.backoff(1);
        let b5 = outbox.backoff(5);
        let b30 = outbox.backoff(30);
        assert!(
            b1 >= Duration::from_secs(1) && b1 <= Duration::from_millis(1200),
            "{b1:?}"
        );
        assert!(
            b5 >= Duration::from_secs(16) && b5 <= Duration::from_millis(19_200),
            "{b5:?}"
        );
        assert!(
            b30 >= Duration::from_secs(300) && b30 <= Duration::from_secs(360),
            "{b30:?}"
        );
    }
}
