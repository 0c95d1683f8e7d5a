//! A process-wide registry of counters, gauges and histograms, so every stage can answer "what did I
//! receive, send, retry, drop?". Counters are plain atomics: incrementing one on the hot path costs one
//! relaxed add. Look a metric up once (it is created on first use) and keep the handle. The registry
//! renders itself in the Prometheus text format and answers sums over label sets (the progress line and
//! tests read it that way, by the names in [`super::component`], never by parsing text).

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

/// Upper bounds (seconds) of the histogram buckets: from a millisecond to a minute, which covers a local
/// write as well as a slow cluster's bulk request.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Debug, Default)]
struct HistogramInner {
    /// Observations per bucket (not cumulative), plus one for above the last bound.
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    /// The sum of observations in microseconds (an integer keeps the add a single atomic).
    sum_micros: AtomicU64,
}

/// A distribution of durations, with the buckets of [`DURATION_BUCKETS`].
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramInner>);

impl Default for Histogram {
    fn default() -> Self {
        Histogram(Arc::new(HistogramInner {
            buckets: (0..=DURATION_BUCKETS.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }))
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        let i = DURATION_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        self.0.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.0.count.fetch_add(1, Ordering::Relaxed);
        self.0.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }

    /// The sum of the recorded durations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.0.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Cumulative counts per bucket bound (the last is `+Inf`).
    fn cumulative(&self) -> Vec<u64> {
        let mut total = 0;
        self.0
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect()
    }
}

type Key = (String, Vec<(String, String)>);

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Key, Counter>,
    gauges: BTreeMap<Key, Gauge>,
    histograms: BTreeMap<Key, Histogram>,
    help: BTreeMap<String, &'static str>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

fn lock() -> std::sync::MutexGuard<'static, Registry> {
    registry().lock().unwrap_or_else(|e| e.into_inner())
}

fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // One order, so the same labels given in another order name the same series.
    labels.sort();
    (name.to_string(), labels)
}

/// The counter with this name and labels, created at zero on first use. Look it up once, keep the handle.
pub fn counter(name: &str, labels: &[(&str, &str)]) -> Counter {
    lock()
        .counters
        .entry(key(name, labels))
        .or_default()
        .clone()
}

/// The gauge with this name and labels, created at zero on first use.
pub fn gauge(name: &str, labels: &[(&str, &str)]) -> Gauge {
    lock().gauges.entry(key(name, labels)).or_default().clone()
}

/// The histogram with this name and labels, created empty on first use.
pub fn histogram(name: &str, labels: &[(&str, &str)]) -> Histogram {
    lock()
        .histograms
        .entry(key(name, labels))
        .or_default()
        .clone()
}

/// Sets the help text shown for a metric name.
pub fn describe(name: &str, help: &'static str) {
    lock().help.insert(name.to_string(), help);
}

fn matches(labels: &[(String, String)], filter: &[(&str, &str)]) -> bool {
    filter
        .iter()
        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
}

/// The sum of a counter over every series whose labels include all of `filter`.
pub fn sum(name: &str, filter: &[(&str, &str)]) -> u64 {
    lock()
        .counters
        .iter()
        .filter(|((n, labels), _)| n == name && matches(labels, filter))
        .map(|(_, c)| c.get())
        .sum()
}

/// The sum of a gauge over every series whose labels include all of `filter`.
pub fn gauge_sum(name: &str, filter: &[(&str, &str)]) -> i64 {
    lock()
        .gauges
        .iter()
        .filter(|((n, labels), _)| n == name && matches(labels, filter))
        .map(|(_, g)| g.get())
        .sum()
}

/// The sum of a counter over every label set.
pub fn counter_total(name: &str) -> u64 {
    sum(name, &[])
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label_text(labels: &[(String, String)], extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// The text formats the registry renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text exposition format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0: counter families are named without `_total` (their samples keep it) and the
    /// text ends with `# EOF` (the caller adds it, after anything it appends).
    OpenMetrics,
}

/// Writes the `# HELP` and `# TYPE` lines of a metric family.
pub fn write_header(out: &mut String, family: &str, kind: &str, help: Option<&str>) {
    if let Some(help) = help {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {family} {help}");
    }
    let _ = writeln!(out, "# TYPE {family} {kind}");
}

/// Every metric in the Prometheus text exposition format, names prefixed with `logward_`.
pub fn render_prometheus() -> String {
    render(Format::Prometheus)
}

/// Every metric in `format`, names prefixed with `logward_`.
pub fn render(format: Format) -> String {
    let reg = lock();
    let mut out = String::new();
    let mut last = String::new();
    let mut header = |out: &mut String, name: &str, kind: &str| {
        if name != last {
            let family = match (format, kind) {
                (Format::OpenMetrics, "counter") => name.strip_suffix("_total").unwrap_or(name),
                _ => name,
            };
            // Every family gets a help line (exposition linters ask for one); a metric nobody
            // described gets its own name in words.
            let fallback = name.replace('_', " ");
            let help = reg.help.get(name).copied().unwrap_or(&fallback);
            write_header(out, &format!("logward_{family}"), kind, Some(help));
            last = name.to_string();
        }
    };
    for ((name, labels), c) in &reg.counters {
        header(&mut out, name, "counter");
        let _ = writeln!(
            out,
            "logward_{name}{} {}",
            label_text(labels, None),
            c.get()
        );
    }
    for ((name, labels), g) in &reg.gauges {
        header(&mut out, name, "gauge");
        let _ = writeln!(
            out,
            "logward_{name}{} {}",
            label_text(labels, None),
            g.get()
        );
    }
    for ((name, labels), h) in &reg.histograms {
        header(&mut out, name, "histogram");
        let cumulative = h.cumulative();
        for (bound, n) in DURATION_BUCKETS.iter().zip(&cumulative) {
            let le = bound.to_string();
            let _ = writeln!(
                out,
                "logward_{name}_bucket{} {n}",
                label_text(labels, Some(("le", &le)))
            );
        }
        let _ = writeln!(
            out,
            "logward_{name}_bucket{} {}",
            label_text(labels, Some(("le", "+Inf"))),
            cumulative.last().copied().unwrap_or(0)
        );
        let _ = writeln!(
            out,
            "logward_{name}_sum{} {}",
            label_text(labels, None),
            h.sum_seconds()
        );
        let _ = writeln!(
            out,
            "logward_{name}_count{} {}",
            label_text(labels, None),
            h.count()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_and_labels_share_one_counter() {
        let a = counter("test_shared_total", &[("input", "x"), ("kind", "k")]);
        let b = counter("test_shared_total", &[("kind", "k"), ("input", "x")]);
        a.add(2);
        b.inc();
        assert_eq!(a.get(), 3);
        assert_eq!(sum("test_shared_total", &[("input", "x")]), 3);
        assert_eq!(sum("test_shared_total", &[("input", "y")]), 0);
        assert!(
            render_prometheus().contains("logward_test_shared_total{input=\"x\",kind=\"k\"} 3")
        );
    }

    #[test]
    fn histograms_render_cumulative_buckets() {
        describe("test_latency_seconds", "How long a test step took.");
        let h = histogram("test_latency_seconds", &[("step", "a")]);
        h.observe(std::time::Duration::from_millis(3));
        h.observe(std::time::Duration::from_secs(100));
        let text = render_prometheus();
        assert!(text.contains("# HELP logward_test_latency_seconds How long a test step took."));
        assert!(text.contains("# TYPE logward_test_latency_seconds histogram"));
        assert!(text.contains("logward_test_latency_seconds_bucket{step=\"a\",le=\"0.0025\"} 0"));
        assert!(text.contains("logward_test_latency_seconds_bucket{step=\"a\",le=\"0.005\"} 1"));
        assert!(text.contains("logward_test_latency_seconds_bucket{step=\"a\",le=\"+Inf\"} 2"));
        assert!(text.contains("logward_test_latency_seconds_count{step=\"a\"} 2"));
    }
}
