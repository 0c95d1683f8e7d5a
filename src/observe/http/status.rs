//! The `/status` document: version, uptime, configuration source, readiness, the queue, and each input
//! and output with its state, counts, rates, last delivery, and (file inputs) the position and lag of
//! each file. Rates come from a sampler that records every component's counts once a second and
//! compares with the sample [`RATE_WINDOW`] ago.

use crate::observe::component::{DISCARDED_EVENTS, ERRORS, RECEIVED_EVENTS, SENT_EVENTS};
use crate::observe::health::{self, ComponentHealth};
use crate::observe::{metrics, watchdog};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Rates are averaged over this long (or since the first sample, when younger).
pub const RATE_WINDOW: Duration = Duration::from_secs(10);
/// The most files of one input listed, those furthest behind first.
pub const MAX_FILES: usize = 100;

/// One component's counts at one moment.
#[derive(Debug, Clone)]
struct Counts {
    kind: &'static str,
    id: String,
    received: u64,
    sent: u64,
}

struct Sample {
    at_ms: u64,
    counts: Vec<Counts>,
}

fn samples() -> &'static Mutex<VecDeque<Sample>> {
    static SAMPLES: OnceLock<Mutex<VecDeque<Sample>>> = OnceLock::new();
    SAMPLES.get_or_init(Mutex::default)
}

fn labels(c: &ComponentHealth) -> [(&'static str, &str); 2] {
    [("component_id", &c.id), ("component_kind", c.kind)]
}

fn counts_of(c: &ComponentHealth) -> Counts {
    Counts {
        kind: c.kind,
        id: c.id.clone(),
        received: metrics::sum(RECEIVED_EVENTS, &labels(c)),
        sent: metrics::sum(SENT_EVENTS, &labels(c)),
    }
}

/// Records every component's counts once a second, keeping [`RATE_WINDOW`] of them; runs until the
/// runtime stops.
pub async fn sample_forever() {
    let keep = RATE_WINDOW.as_secs() as usize + 1;
    loop {
        let sample = Sample {
            at_ms: health::unix_ms(),
            counts: health::components().iter().map(|c| counts_of(c)).collect(),
        };
        {
            let mut s = samples().lock().unwrap_or_else(|e| e.into_inner());
            s.push_back(sample);
            while s.len() > keep {
                s.pop_front();
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Events per second received and sent by the component, over the sampler's window.
fn rates(now: &Counts, now_ms: u64) -> (f64, f64) {
    let s = samples().lock().unwrap_or_else(|e| e.into_inner());
    // The oldest sample that knows the component (an output registers when its task first runs).
    let Some((oldest, then)) = s.iter().find_map(|sample| {
        let c = sample
            .counts
            .iter()
            .find(|c| c.kind == now.kind && c.id == now.id)?;
        Some((sample, c))
    }) else {
        return (0.0, 0.0);
    };
    let secs = now_ms.saturating_sub(oldest.at_ms) as f64 / 1000.0;
    if secs < 0.5 {
        return (0.0, 0.0);
    }
    (
        now.received.saturating_sub(then.received) as f64 / secs,
        now.sent.saturating_sub(then.sent) as f64 / secs,
    )
}

/// A Unix time in milliseconds as RFC 3339 (UTC).
pub fn rfc3339(ms: u64) -> Value {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The position and lag of each file a file input's registry records, furthest behind first.
pub fn files(data_dir: &Path, id: &str) -> Value {
    let path = data_dir
        .join("registry")
        .join(format!("{}.json", crate::component::file_stem(id)));
    let Some(registry) = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return json!([]);
    };
    let mut files: Vec<(u64, Value)> = registry["state"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let file = e["path"].as_str()?;
            let offset = e["offset"].as_u64()?;
            // A file that is gone (rotated away and deleted) has nothing left to read.
            let size = std::fs::metadata(file).ok()?.len();
            let lag = size.saturating_sub(offset);
            Some((
                lag,
                json!({"path": file, "offset": offset, "size": size, "lag_bytes": lag}),
            ))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    Value::Array(files.into_iter().take(MAX_FILES).map(|(_, v)| v).collect())
}

fn component(c: &ComponentHealth, now: &Counts, now_ms: u64, data_dir: &Path) -> Value {
    let (rate_in, rate_out) = rates(now, now_ms);
    let l = labels(c);
    let discarded = |intentional: &str| {
        metrics::sum(
            DISCARDED_EVENTS,
            &[l[0], l[1], ("intentional", intentional)],
        )
    };
    let mut v = json!({
        "id": c.id,
        "kind": c.kind,
        "type": c.component_type,
        "state": c.state().as_str(),
        "retrying_since": c.retrying_since_ms().map_or(Value::Null, rfc3339),
        "last_error": c.last_error().map_or(Value::Null, |(at, message)| json!({"at": rfc3339(at), "message": message})),
        "sent_events": now.sent,
        "errors": metrics::sum(ERRORS, &l),
        "discarded_events": {"intentional": discarded("true"), "unintentional": discarded("false")},
        "rates": {"received_per_second": round2(rate_in), "sent_per_second": round2(rate_out)},
    });
    if c.kind == "input" {
        v["received_events"] = json!(now.received);
        // What the input's own processors dropped (counted under the processor, scoped by the input).
        v["dropped_by_processors"] = json!(metrics::sum(
            DISCARDED_EVENTS,
            &[
                ("component_id", &c.id),
                ("component_kind", "processor"),
                ("intentional", "true")
            ]
        ));
        if c.component_type == "file" {
            v["files"] = files(data_dir, &c.id);
        }
    } else {
        v["last_delivered"] = c.last_delivered_ms().map_or(Value::Null, rfc3339);
    }
    v
}

/// The whole `/status` document.
pub fn document(api: &super::Api) -> Value {
    let now_ms = health::unix_ms();
    let started = health::started_ms();
    let causes = health::not_ready(api.config.ready_delivery_timeout.get());
    let wedged = watchdog::wedged(api.config.watchdog_timeout.get());
    let queue = health::queue_usage().map_or(Value::Null, |(t, used, limit)| {
        json!({
            "type": t,
            "used": used,
            "limit": limit,
            "unit": if t == "disk" { "bytes" } else { "events" },
            "usage_ratio": if limit > 0 { round2(used as f64 / limit as f64) } else { 0.0 },
        })
    });
    let components: Vec<Value> = health::components()
        .iter()
        .map(|c| component(c, &counts_of(c), now_ms, &api.data_dir))
        .collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "target": env!("LOGWARD_TARGET"),
        "started_at": rfc3339(started),
        "uptime_seconds": now_ms.saturating_sub(started) / 1000,
        "config_source": api.config_source,
        "phase": match health::phase() {
            health::Phase::Starting => "starting",
            health::Phase::Running => "running",
            health::Phase::Stopping => "stopping",
        },
        "ready": causes.is_empty(),
        "not_ready_causes": causes,
        "live": wedged.is_empty(),
        "wedged_threads": wedged.iter().map(|w| json!({"thread": w.name, "silent_seconds": w.silent_for.as_secs()})).collect::<Vec<_>>(),
        "queue": queue,
        "components": components,
    })
}
