//! A process-wide registry of counters and gauges, so every stage can answer "what did I receive, send,
//! retry, drop?". Counters are plain atomics: incrementing one on the hot path costs one relaxed add.
//! The registry renders itself in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (queue depth, open files).
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// Adds `d` (may be negative).
    pub fn add(&self, d: i64) {
        self.0.fetch_add(d, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

type Key = (String, Vec<(String, String)>);

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Key, Counter>,
    gauges: BTreeMap<Key, Gauge>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    (
        name.to_string(),
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// The counter with this name and labels, created at zero on first use. Look it up once, keep the handle.
pub fn counter(name: &str, labels: &[(&str, &str)]) -> Counter {
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    reg.counters.entry(key(name, labels)).or_default().clone()
}

/// The gauge with this name and labels, created at zero on first use.
pub fn gauge(name: &str, labels: &[(&str, &str)]) -> Gauge {
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    reg.gauges.entry(key(name, labels)).or_default().clone()
}

/// The sum of a counter over every label set (for summaries and tests).
pub fn counter_total(name: &str) -> u64 {
    let reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    reg.counters
        .iter()
        .filter(|((n, _), _)| n == name)
        .map(|(_, c)| c.get())
        .sum()
}

/// Every metric in the Prometheus text exposition format.
pub fn render_prometheus() -> String {
    let reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    let mut last = String::new();
    let mut write = |out: &mut String, kind: &str, (name, labels): &Key, value: String| {
        if *name != last {
            let _ = writeln!(out, "# TYPE logward_{name} {kind}");
            last = name.clone();
        }
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(out, "logward_{name} {value}");
        } else {
            let _ = writeln!(out, "logward_{name}{{{}}} {value}", labels.join(","));
        }
    };
    for (k, c) in &reg.counters {
        write(&mut out, "counter", k, c.get().to_string());
    }
    for (k, g) in &reg.gauges {
        write(&mut out, "gauge", k, g.get().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_and_labels_share_one_counter() {
        let a = counter("test_shared_total", &[("input", "x")]);
        let b = counter("test_shared_total", &[("input", "x")]);
        a.add(2);
        b.inc();
        assert_eq!(a.get(), 3);
        assert!(render_prometheus().contains("logward_test_shared_total{input=\"x\"} 3"));
    }
}
