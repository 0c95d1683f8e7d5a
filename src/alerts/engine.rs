//! The rule engine: every event passes it after the processors. A rule whose condition does not match
//! costs one condition check; a match takes the rule's lock, updates the group's exact sliding window and
//! may fire an alert.

use super::config::{Priority, RuleConfig, RuleKind, SpikeType};
use crate::event::{Event, FieldPath};
use crate::observe::metrics::{self, Counter};
use crate::processors::condition::Condition;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// How many sample events an alert carries.
pub const SAMPLES: usize = 3;
/// The most events a group's window holds; beyond it the oldest are dropped (and counted), so one group
/// cannot take unbounded memory.
pub const MAX_WINDOW_EVENTS: usize = 100_000;
/// The cooldown of a rule without `realert`.
pub const DEFAULT_REALERT_MS: u64 = 60_000;

/// One alert: a rule fired for a group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// The rule's type.
    pub kind: RuleKind,
    /// The group's values (`service.name=checkout`), empty without `group_by`.
    pub group: String,
    /// How many events were in the window when it fired.
    pub count: u64,
    /// The rule's threshold.
    pub threshold: u64,
    /// The window, in seconds.
    pub window_secs: f64,
    /// The rule's priority.
    pub priority: Priority,
    /// When it fired, milliseconds since the Unix epoch.
    pub fired_at_ms: u64,
    /// The notifiers to tell.
    pub notify: Vec<String>,
    /// A few of the events that made it fire.
    pub samples: Vec<Value>,
    /// What a `spike` or `new_value` rule saw (the previous window's count, the new value).
    #[serde(default)]
    pub detail: String,
}

impl Alert {
    /// A one-line summary.
    pub fn summary(&self) -> String {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!(" for {}", self.group)
        };
        let what = match self.kind {
            RuleKind::Frequency => format!(
                "{} events within {} (more than {})",
                self.count,
                fmt_secs(self.window_secs),
                self.threshold
            ),
            RuleKind::Flatline => format!(
                "{} events within {} (fewer than {})",
                self.count,
                fmt_secs(self.window_secs),
                self.threshold
            ),
            RuleKind::Any => format!("{} matching event(s)", self.count),
            RuleKind::Spike | RuleKind::NewValue => self.detail.clone(),
        };
        format!(
            "[{}] {}{}: {}",
            self.priority.name(),
            self.rule,
            group,
            what
        )
    }

    /// The alert as the JSON notifiers and templates see it.
    pub fn to_json(&self) -> Value {
        json!({
            "rule": self.rule,
            "type": self.kind.name(),
            "group": self.group,
            "count": self.count,
            "threshold": self.threshold,
            "window": fmt_secs(self.window_secs),
            "window_seconds": self.window_secs,
            "priority": self.priority.name(),
            "fired_at": crate::event::format_timestamp(fired_at(self.fired_at_ms)),
            "message": self.summary(),
            "samples": self.samples,
            "detail": self.detail,
        })
    }

    /// The alert as an event for the outputs: `event.kind: alert`, `severity`, and the details under
    /// `alert.*`. Its origin (`alert/<rule>`, the firing time) gives it a deterministic id.
    pub fn to_event(&self) -> Event {
        let mut e = Event::from_message(self.summary());
        e.set_timestamp(fired_at(self.fired_at_ms));
        e.set_path("event.kind", "alert");
        e.set_path("severity", self.priority.name());
        e.set_path("alert.rule", self.rule.as_str());
        e.set_path("alert.type", self.kind.name());
        e.set_path("alert.group", self.group.as_str());
        e.set_path("alert.count", self.count);
        e.set_path("alert.threshold", self.threshold);
        e.set_path("alert.window", fmt_secs(self.window_secs));
        e.set_path("alert.priority", self.priority.name());
        e.origin = Some(crate::event::Origin {
            source: format!("alert/{}/{}", self.rule, self.group).into(),
            position: self.fired_at_ms,
        });
        e
    }
}

fn fired_at(ms: u64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default()
}

/// A window as people write it: `5m`, `1h`, `30s`, `1500ms`.
fn fmt_secs(s: f64) -> String {
    let ms = (s.max(0.0) * 1000.0).round() as u64;
    match ms {
        0 => "0s".into(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// The time now, in milliseconds since the Unix epoch (the engine's clock, so window state means the same
/// after a restart).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One group's window.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Group {
    /// Arrival times of the counted events, oldest first.
    times: VecDeque<u64>,
    /// Ids of the events seen within the window, for dedupe, oldest first, and as a set.
    seen: VecDeque<(u64, u64)>,
    #[serde(skip)]
    seen_set: HashSet<u64>,
    /// Recent matching events (their fields), newest last.
    samples: VecDeque<Value>,
    /// When the group last fired.
    last_fired: Option<u64>,
    /// When the group was first or last seen.
    created: u64,
    touched: u64,
    /// `new_value`: each value and when it was last seen.
    #[serde(default)]
    values: HashMap<String, u64>,
}

impl Group {
    fn prune(&mut self, now: u64, window: u64) {
        let horizon = now.saturating_sub(window);
        while self.times.front().is_some_and(|t| *t <= horizon) {
            self.times.pop_front();
        }
        while let Some((t, id)) = self.seen.front().copied() {
            if t > horizon {
                break;
            }
            self.seen.pop_front();
            self.seen_set.remove(&id);
        }
    }
}

struct State {
    groups: HashMap<String, Group>,
    started: u64,
}

struct Rule {
    cfg: RuleConfig,
    condition: Option<Condition>,
    group_by: Vec<FieldPath>,
    /// `new_value`: the watched field.
    field: Option<FieldPath>,
    window_ms: u64,
    /// How long event times are kept: the window, or two for `spike` (this one and the one before).
    keep_ms: u64,
    realert_ms: u64,
    state: Mutex<State>,
    matched: Counter,
    duplicates: Counter,
    evicted: Counter,
    fired: Counter,
}

/// The compiled rules.
pub struct Engine {
    rules: Vec<Rule>,
}

fn event_id(e: &Event) -> Option<u64> {
    if let Some(id) = e.metadata.get("_id").and_then(Value::as_str) {
        return Some(xxhash_rust::xxh3::xxh3_64(id.as_bytes()));
    }
    let (source, position) = (e.source()?, e.position()?);
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(source.as_bytes());
    h.update(&[0]);
    h.update(&position.to_le_bytes());
    Some(h.digest())
}

fn group_key(paths: &[FieldPath], e: &Event) -> String {
    let mut key = String::new();
    for (i, p) in paths.iter().enumerate() {
        if i > 0 {
            key.push_str(", ");
        }
        key.push_str(p.as_str());
        key.push('=');
        match e.get(p) {
            Some(Value::String(s)) => key.push_str(s),
            Some(v) => key.push_str(&v.to_string()),
            None => key.push('-'),
        }
    }
    key
}

impl Engine {
    /// Compiles the rules (validated already: a condition that does not build is an error here too).
    pub fn new(rules: &[RuleConfig]) -> Result<Engine, String> {
        Self::new_at(rules, now_ms())
    }

    /// [`Engine::new`] with the start time given (tests).
    pub fn new_at(rules: &[RuleConfig], now: u64) -> Result<Engine, String> {
        let mut out = Vec::new();
        for r in rules {
            let condition = r
                .when
                .as_ref()
                .map(Condition::build)
                .transpose()
                .map_err(|e| format!("alert rule `{}`: when: {e}", r.name))?;
            let group_by = r
                .group_by
                .iter()
                .map(|f| {
                    FieldPath::parse(f)
                        .map_err(|e| format!("alert rule `{}`: group_by: {e}", r.name))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let labels = [("rule", r.name.as_str())];
            let field = r
                .field
                .as_deref()
                .map(|f| {
                    FieldPath::parse(f).map_err(|e| format!("alert rule `{}`: field: {e}", r.name))
                })
                .transpose()?;
            let window_ms = r.within.map_or(0, |w| w.get().as_millis() as u64);
            out.push(Rule {
                field,
                keep_ms: if r.kind == RuleKind::Spike {
                    window_ms.saturating_mul(2)
                } else {
                    window_ms
                },
                window_ms,
                realert_ms: r
                    .realert
                    .map_or(DEFAULT_REALERT_MS, |w| w.get().as_millis() as u64),
                condition,
                group_by,
                state: Mutex::new(State {
                    groups: HashMap::new(),
                    started: now,
                }),
                matched: metrics::counter("alert_rule_matched_events_total", &labels),
                duplicates: metrics::counter("alert_rule_duplicate_events_total", &labels),
                evicted: metrics::counter("alert_rule_evicted_groups_total", &labels),
                fired: metrics::counter("alert_rule_fired_total", &labels),
                cfg: r.clone(),
            });
        }
        metrics::describe(
            "alert_rule_matched_events_total",
            "Events an alert rule's condition matched.",
        );
        metrics::describe(
            "alert_rule_duplicate_events_total",
            "Matched events not counted again because their id was already in the window (re-read after a restart).",
        );
        metrics::describe(
            "alert_rule_evicted_groups_total",
            "Groups an alert rule dropped because it had max_groups already.",
        );
        metrics::describe("alert_rule_fired_total", "Alerts a rule fired.");
        Ok(Engine { rules: out })
    }

    /// The window state of every rule, for [`Engine::restore`] after a restart.
    pub fn snapshot(&self) -> Value {
        let mut rules = serde_json::Map::new();
        for rule in &self.rules {
            let state = rule.state.lock().unwrap_or_else(|p| p.into_inner());
            rules.insert(
                rule.cfg.name.clone(),
                json!({
                    "type": rule.cfg.kind.name(),
                    "window_ms": rule.window_ms,
                    "group_by": rule.cfg.group_by,
                    "groups": serde_json::to_value(&state.groups).unwrap_or_default(),
                }),
            );
        }
        json!({ "version": 1, "rules": rules })
    }

    /// Takes back the window state a [`Engine::snapshot`] saved, for the rules whose name, type, window
    /// and grouping are unchanged; what has left the window since is dropped. Returns how many groups
    /// were restored.
    pub fn restore(&self, snapshot: &Value, now: u64) -> usize {
        let mut restored = 0;
        let Some(saved) = snapshot.get("rules").and_then(Value::as_object) else {
            return 0;
        };
        for rule in &self.rules {
            let Some(s) = saved.get(&rule.cfg.name) else {
                continue;
            };
            if s["type"] != rule.cfg.kind.name()
                || s["window_ms"].as_u64() != Some(rule.window_ms)
                || s["group_by"] != json!(rule.cfg.group_by)
            {
                tracing::info!(rule = %rule.cfg.name, "the rule changed since its window state was saved; it starts empty");
                continue;
            }
            let Ok(groups) = serde_json::from_value::<HashMap<String, Group>>(s["groups"].clone())
            else {
                tracing::warn!(rule = %rule.cfg.name, "the saved window state of the rule cannot be read; it starts empty");
                continue;
            };
            let mut state = rule.state.lock().unwrap_or_else(|p| p.into_inner());
            for (key, mut g) in groups {
                if state.groups.len() >= rule.cfg.max_groups {
                    break;
                }
                g.seen_set = g.seen.iter().map(|(_, id)| *id).collect();
                g.prune(now, rule.keep_ms);
                // Times saved by a clock that was ahead are not in the future here.
                g.times.retain(|t| *t <= now);
                state.groups.insert(key, g);
                restored += 1;
            }
        }
        restored
    }

    /// Whether there are no rules (then nothing needs to run).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Passes a batch through every rule; returns the alerts that fired.
    pub fn observe(&self, events: &[Event]) -> Vec<Alert> {
        self.observe_at(events, now_ms())
    }

    /// [`Engine::observe`] at a given time (tests).
    pub fn observe_at(&self, events: &[Event], now: u64) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for rule in &self.rules {
            let mut state = None;
            for e in events {
                // Alerts the engine made itself are never counted again.
                if e.origin
                    .as_ref()
                    .is_some_and(|o| o.source.starts_with("alert/"))
                {
                    continue;
                }
                if let Some(c) = &rule.condition
                    && !c.matches(e)
                {
                    continue;
                }
                rule.matched.inc();
                let state = state
                    .get_or_insert_with(|| rule.state.lock().unwrap_or_else(|p| p.into_inner()));
                if let Some(a) = rule.count_event(state, e, now) {
                    alerts.push(a);
                }
            }
        }
        alerts
    }

    /// Checks the rules that fire on silence (`flatline`); call it every second or so.
    pub fn tick(&self) -> Vec<Alert> {
        self.tick_at(now_ms())
    }

    /// [`Engine::tick`] at a given time (tests).
    pub fn tick_at(&self, now: u64) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for rule in &self.rules {
            let down = matches!(rule.cfg.spike_type, SpikeType::Down | SpikeType::Both);
            if rule.cfg.kind == RuleKind::Spike && down {
                let mut state = rule.state.lock().unwrap_or_else(|p| p.into_inner());
                let started = state.started;
                for (key, g) in state.groups.iter_mut() {
                    g.prune(now, rule.keep_ms);
                    if let Some(a) = rule.spike(key, g, started, now, false) {
                        alerts.push(a);
                    }
                }
                continue;
            }
            if rule.cfg.kind != RuleKind::Flatline {
                continue;
            }
            let mut state = rule.state.lock().unwrap_or_else(|p| p.into_inner());
            let started = state.started;
            if rule.group_by.is_empty() && state.groups.is_empty() {
                state.groups.insert(
                    String::new(),
                    Group {
                        created: started,
                        touched: started,
                        ..Group::default()
                    },
                );
            }
            let threshold = rule.cfg.count.unwrap_or(1);
            for (key, g) in state.groups.iter_mut() {
                g.prune(now, rule.window_ms);
                let count = g.times.len() as u64;
                // A window is judged only once it has been watched for its whole length.
                let watched_since = g.created.max(started);
                if count >= threshold || now.saturating_sub(watched_since) < rule.window_ms {
                    continue;
                }
                if g.last_fired
                    .is_some_and(|t| now.saturating_sub(t) < rule.realert_ms.max(rule.window_ms))
                {
                    continue;
                }
                g.last_fired = Some(now);
                rule.fired.inc();
                alerts.push(rule.alert(key, g, count, now));
            }
        }
        alerts
    }
}

impl Rule {
    fn alert(&self, key: &str, g: &Group, count: u64, now: u64) -> Alert {
        Alert {
            rule: self.cfg.name.clone(),
            kind: self.cfg.kind,
            group: key.to_string(),
            count,
            threshold: self.cfg.count.unwrap_or(0),
            window_secs: self.window_ms as f64 / 1000.0,
            priority: self.cfg.priority,
            fired_at_ms: now,
            notify: self.cfg.notify.clone(),
            samples: g.samples.iter().cloned().collect(),
            detail: String::new(),
        }
    }

    /// Compares this window with the one before; fires when they differ by `spike_height` the way the
    /// rule looks (`up` on events, `down` from the tick).
    fn spike(&self, key: &str, g: &mut Group, started: u64, now: u64, up: bool) -> Option<Alert> {
        // Both windows must have been watched whole.
        if now.saturating_sub(g.created.max(started)) < self.keep_ms {
            return None;
        }
        if g.last_fired
            .is_some_and(|t| now.saturating_sub(t) < self.realert_ms)
        {
            return None;
        }
        let horizon = now.saturating_sub(self.window_ms);
        let cur = g.times.iter().filter(|t| **t > horizon).count() as u64;
        let prev = g.times.len() as u64 - cur;
        let min = self.cfg.min_count.unwrap_or(1);
        let h = self.cfg.spike_height.unwrap_or(2.0);
        let fired = if up {
            matches!(self.cfg.spike_type, SpikeType::Up | SpikeType::Both)
                && cur >= min
                && prev >= min
                && cur as f64 >= h * prev as f64
        } else {
            prev >= min && (cur as f64) * h <= prev as f64
        };
        if !fired {
            return None;
        }
        g.last_fired = Some(now);
        self.fired.inc();
        let mut a = self.alert(key, g, cur, now);
        let window = fmt_secs(self.window_ms as f64 / 1000.0);
        a.detail = format!(
            "{cur} events within {window} against {prev} in the {window} before (spike {} {h}×)",
            if up { "up" } else { "down" }
        );
        Some(a)
    }

    fn count_event(&self, state: &mut State, e: &Event, now: u64) -> Option<Alert> {
        let key = group_key(&self.group_by, e);
        let started = state.started;
        if !state.groups.contains_key(&key) && state.groups.len() >= self.cfg.max_groups {
            // Drop the groups seen least recently (a tenth at once, so a stream of new groups costs one
            // scan per tenth, not one per event); their windows are lost, which is counted.
            let mut touched: Vec<u64> = state.groups.values().map(|g| g.touched).collect();
            let n = (self.cfg.max_groups / 10).clamp(1, touched.len());
            let (_, cutoff, _) = touched.select_nth_unstable(n - 1);
            let cutoff = *cutoff;
            let oldest: Vec<String> = state
                .groups
                .iter()
                .filter(|(_, g)| g.touched <= cutoff)
                .map(|(k, _)| k.clone())
                .take(n)
                .collect();
            for k in &oldest {
                state.groups.remove(k);
            }
            self.evicted.add(oldest.len() as u64);
        }
        let g = state.groups.entry(key.clone()).or_insert_with(|| Group {
            created: now,
            ..Group::default()
        });
        g.touched = now;
        // The dedupe memory lasts as long as the window (and at least the cooldown for `any`).
        let memory = self.keep_ms.max(self.realert_ms);
        g.prune(now, self.keep_ms);
        let horizon = now.saturating_sub(memory);
        while let Some((t, id)) = g.seen.front().copied() {
            if t > horizon && g.seen.len() < MAX_WINDOW_EVENTS {
                break;
            }
            g.seen.pop_front();
            g.seen_set.remove(&id);
        }
        if let Some(id) = event_id(e) {
            if !g.seen_set.insert(id) {
                self.duplicates.inc();
                return None;
            }
            g.seen.push_back((now, id));
        }
        if g.samples.len() >= SAMPLES {
            g.samples.pop_front();
        }
        g.samples.push_back(Value::Object(e.fields().clone()));
        let cooling = g
            .last_fired
            .is_some_and(|t| now.saturating_sub(t) < self.realert_ms);
        match self.cfg.kind {
            RuleKind::Frequency => {
                if g.times.len() >= MAX_WINDOW_EVENTS {
                    g.times.pop_front();
                }
                g.times.push_back(now);
                let count = g.times.len() as u64;
                if count > self.cfg.count.unwrap_or(0) && !cooling {
                    g.last_fired = Some(now);
                    self.fired.inc();
                    let a = self.alert(&key, g, count, now);
                    // The events that fired are spent: the next alert needs a new window's worth.
                    g.times.clear();
                    return Some(a);
                }
                None
            }
            RuleKind::Flatline => {
                if g.times.len() >= MAX_WINDOW_EVENTS {
                    g.times.pop_front();
                }
                g.times.push_back(now);
                None
            }
            RuleKind::Spike => {
                if g.times.len() >= MAX_WINDOW_EVENTS {
                    g.times.pop_front();
                }
                g.times.push_back(now);
                self.spike(&key, g, started, now, true)
            }
            RuleKind::NewValue => {
                let field = self.field.as_ref()?;
                let value = match e.get(field)? {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                if g.values.len() >= self.cfg.max_groups && !g.values.contains_key(&value) {
                    // Forget what is older than the window; if that is not enough, the oldest tenth.
                    g.values
                        .retain(|_, t| now.saturating_sub(*t) < self.window_ms);
                    if g.values.len() >= self.cfg.max_groups {
                        let mut times: Vec<u64> = g.values.values().copied().collect();
                        let n = (self.cfg.max_groups / 10).clamp(1, times.len());
                        let (_, cutoff, _) = times.select_nth_unstable(n - 1);
                        let cutoff = *cutoff;
                        let old: Vec<String> = g
                            .values
                            .iter()
                            .filter(|(_, t)| **t <= cutoff)
                            .map(|(k, _)| k.clone())
                            .take(n)
                            .collect();
                        for k in &old {
                            g.values.remove(k);
                        }
                        self.evicted.add(old.len() as u64);
                    }
                }
                let known = g
                    .values
                    .insert(value.clone(), now)
                    .is_some_and(|t| now.saturating_sub(t) < self.window_ms);
                let learning = self
                    .cfg
                    .learn_for
                    .is_some_and(|l| now.saturating_sub(started) < l.get().as_millis() as u64);
                if known || learning {
                    return None;
                }
                g.last_fired = Some(now);
                self.fired.inc();
                let mut a = self.alert(&key, g, 1, now);
                a.detail = format!(
                    "new {} `{value}` (not seen within {})",
                    field.as_str(),
                    fmt_secs(self.window_ms as f64 / 1000.0)
                );
                Some(a)
            }
            RuleKind::Any => {
                if cooling {
                    return None;
                }
                g.last_fired = Some(now);
                self.fired.inc();
                Some(self.alert(&key, g, 1, now))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;

    fn rules(yaml_json: Value) -> Vec<RuleConfig> {
        let node = crate::config::yaml::Node::from_json(&yaml_json);
        crate::config::de::from_node::<Vec<RuleConfig>>(&node)
            .map_err(|e| e.message)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(service: &str, pos: u64) -> Event {
        let mut e = Event::from_message(format!("boom {pos}"));
        e.set_path("log.level", "ERROR");
        e.set_path("service.name", service);
        e.origin = Some(Origin {
            source: format!("file:{service}").into(),
            position: pos,
        });
        e
    }

    fn seed_rule() -> Vec<RuleConfig> {
        rules(json!([{
            "name": "service-errors", "type": "frequency",
            "when": {"equals": {"log.level": "ERROR"}},
            "count": 10, "within": "5m", "group_by": ["service.name"], "priority": "P1",
        }]))
    }

    #[test]
    fn eleven_errors_of_one_service_fire_once_and_nine_do_not() {
        let engine = Engine::new_at(&seed_rule(), 0).unwrap_or_else(|e| panic!("{e}"));
        let nine: Vec<Event> = (0..9).map(|i| error("a", i)).collect();
        assert!(engine.observe_at(&nine, 1_000).is_empty());
        let more: Vec<Event> = (9..20).map(|i| error("a", i)).collect();
        let fired = engine.observe_at(&more, 2_000);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].count, 11);
        assert_eq!(fired[0].priority, Priority::P1);
        assert_eq!(fired[0].group, "service.name=a");
        assert_eq!(fired[0].samples.len(), SAMPLES);
    }

    #[test]
    fn groups_count_separately_and_old_events_leave_the_window() {
        let engine = Engine::new_at(&seed_rule(), 0).unwrap_or_else(|e| panic!("{e}"));
        let mixed: Vec<Event> = (0..20)
            .map(|i| error(if i % 2 == 0 { "a" } else { "b" }, i))
            .collect();
        assert!(
            engine.observe_at(&mixed, 1_000).is_empty(),
            "10 each is not more than 10"
        );
        // Six minutes later the first ten of each have left the window.
        let later: Vec<Event> = (100..105).map(|i| error("a", i)).collect();
        assert!(engine.observe_at(&later, 361_000).is_empty());
        let both: Vec<Event> = (200..222)
            .map(|i| error(if i % 2 == 0 { "a" } else { "b" }, i))
            .collect();
        let fired = engine.observe_at(&both, 362_000);
        let groups: Vec<&str> = fired.iter().map(|a| a.group.as_str()).collect();
        assert_eq!(
            groups,
            vec!["service.name=a", "service.name=b"],
            "{fired:?}"
        );
    }

    #[test]
    fn events_read_again_do_not_count_twice() {
        let engine = Engine::new_at(&seed_rule(), 0).unwrap_or_else(|e| panic!("{e}"));
        let batch: Vec<Event> = (0..8).map(|i| error("a", i)).collect();
        assert!(engine.observe_at(&batch, 1_000).is_empty());
        // The same events again (a restart re-read them), then three new ones: 11 distinct events.
        assert!(engine.observe_at(&batch, 2_000).is_empty());
        let fired = engine.observe_at(&(8..11).map(|i| error("a", i)).collect::<Vec<_>>(), 3_000);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].count, 11);
    }

    #[test]
    fn realert_holds_a_group_quiet_and_groups_are_bounded() {
        let mut r = seed_rule();
        r[0].realert = Some(crate::config::HumanDuration::secs(600));
        r[0].max_groups = 2;
        let engine = Engine::new_at(&r, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            engine
                .observe_at(&(0..11).map(|i| error("a", i)).collect::<Vec<_>>(), 1_000)
                .len(),
            1
        );
        assert!(
            engine
                .observe_at(&(11..40).map(|i| error("a", i)).collect::<Vec<_>>(), 2_000)
                .is_empty()
        );
        assert_eq!(
            engine
                .observe_at(
                    &(50..90).map(|i| error("a", i)).collect::<Vec<_>>(),
                    700_000
                )
                .len(),
            1
        );
        let before = metrics::sum(
            "alert_rule_evicted_groups_total",
            &[("rule", "service-errors")],
        );
        engine.observe_at(&[error("b", 1), error("c", 1), error("d", 1)], 701_000);
        assert!(
            metrics::sum(
                "alert_rule_evicted_groups_total",
                &[("rule", "service-errors")]
            ) >= before + 2
        );
    }

    #[test]
    fn any_is_rate_limited_and_flatline_fires_on_silence() {
        let r = rules(json!([
            {"name": "fatal", "type": "any", "when": {"equals": {"log.level": "FATAL"}}, "realert": "10s"},
            {"name": "quiet", "type": "flatline", "count": 2, "within": "1m"},
        ]));
        let engine = Engine::new_at(&r, 0).unwrap_or_else(|e| panic!("{e}"));
        let mut fatal = error("a", 1);
        fatal.set_path("log.level", "FATAL");
        let mut fatal2 = fatal.clone();
        fatal2.origin = Some(Origin {
            source: "x".into(),
            position: 2,
        });
        let fired = engine.observe_at(&[fatal.clone(), fatal2], 1_000);
        assert_eq!(fired.iter().filter(|a| a.rule == "fatal").count(), 1);
        assert!(
            engine.tick_at(30_000).is_empty(),
            "a window is judged only once watched whole"
        );
        let fired = engine.tick_at(61_000);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].kind, RuleKind::Flatline);
        assert!(engine.tick_at(62_000).is_empty(), "cooldown");
        // Enough events make it quiet down.
        engine.observe_at(&[error("a", 10), error("a", 11), error("a", 12)], 200_000);
        assert!(engine.tick_at(201_000).is_empty());
    }

    #[test]
    fn the_alert_event_names_rule_group_count_window_and_severity() {
        let engine = Engine::new_at(&seed_rule(), 0).unwrap_or_else(|e| panic!("{e}"));
        let fired = engine.observe_at(&(0..11).map(|i| error("a", i)).collect::<Vec<_>>(), 1_000);
        let e = fired[0].to_event();
        assert_eq!(e.get_path("event.kind"), Some(&json!("alert")));
        assert_eq!(e.get_path("severity"), Some(&json!("P1")));
        assert_eq!(e.get_path("alert.rule"), Some(&json!("service-errors")));
        assert_eq!(e.get_path("alert.count"), Some(&json!(11)));
        assert_eq!(e.get_path("alert.window"), Some(&json!("5m")));
        // Alert events are not counted by the rules again.
        assert!(engine.observe_at(&[e], 2_000).is_empty());
    }

    #[test]
    fn window_state_survives_a_restart_and_re_read_events_still_count_once() {
        let first = Engine::new_at(&seed_rule(), 0).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            first
                .observe_at(&(0..6).map(|i| error("a", i)).collect::<Vec<_>>(), 1_000)
                .is_empty()
        );
        let saved: Value =
            serde_json::from_slice(&serde_json::to_vec(&first.snapshot()).unwrap_or_default())
                .unwrap_or_default();
        let second = Engine::new_at(&seed_rule(), 5_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second.restore(&saved, 5_000), 1);
        // The last three are read again after the restart: not counted twice.
        assert!(
            second
                .observe_at(&(3..10).map(|i| error("a", i)).collect::<Vec<_>>(), 6_000)
                .is_empty()
        );
        let fired = second.observe_at(&[error("a", 10)], 7_000);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].count, 11);
        // A rule whose window changed starts empty.
        let mut changed = seed_rule();
        changed[0].within = Some(crate::config::HumanDuration::secs(60));
        let third = Engine::new_at(&changed, 8_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(third.restore(&saved, 8_000), 0);
        // State older than the window is dropped on restore.
        let late = Engine::new_at(&seed_rule(), 0).unwrap_or_else(|e| panic!("{e}"));
        late.restore(&saved, 400_000);
        assert!(
            late.observe_at(
                &(20..30).map(|i| error("a", i)).collect::<Vec<_>>(),
                400_000
            )
            .is_empty()
        );
    }
    #[test]
    fn spike_compares_this_window_with_the_one_before() {
        let r = rules(json!([
            {"name": "surge", "type": "spike", "spike_height": 3, "within": "1m", "spike_type": "both", "min_count": 2},
        ]));
        let engine = Engine::new_at(&r, 0).unwrap_or_else(|e| panic!("{e}"));
        let mut pos = 0;
        let mut batch = |n: usize| -> Vec<Event> {
            (0..n)
                .map(|_| {
                    pos += 1;
                    error("a", pos)
                })
                .collect()
        };
        // The first two minutes only fill both windows.
        assert!(engine.observe_at(&batch(3), 10_000).is_empty());
        assert!(engine.observe_at(&batch(3), 70_000).is_empty());
        // 3 in the previous minute, then 9 in this one: three times as many.
        let fired = engine.observe_at(&batch(9), 131_000);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert!(
            fired[0].summary().contains("9 events within 1m against 3"),
            "{}",
            fired[0].summary()
        );
        // Silence after the spike: down by more than three times, seen by the tick once realert passed.
        assert!(engine.tick_at(150_000).is_empty(), "within realert");
        let fired = engine.tick_at(192_000);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert!(
            fired[0].summary().contains("spike down"),
            "{}",
            fired[0].summary()
        );
    }

    #[test]
    fn new_value_alerts_once_per_value_not_seen_within_the_window() {
        let r = rules(json!([
            {"name": "new-root-user", "type": "new_value", "field": "user.name", "within": "1h",
             "when": {"equals": {"user.target": "root"}}, "learn_for": "1m"},
        ]));
        let engine = Engine::new_at(&r, 0).unwrap_or_else(|e| panic!("{e}"));
        let login = |user: &str, pos: u64| {
            let mut e = error("sshd", pos);
            e.set_path("user.name", user);
            e.set_path("user.target", "root");
            e
        };
        assert!(
            engine.observe_at(&[login("alice", 1)], 1_000).is_empty(),
            "learning"
        );
        let fired = engine.observe_at(
            &[login("alice", 2), login("mallory", 3), login("mallory", 4)],
            120_000,
        );
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert!(
            fired[0].summary().contains("new user.name `mallory`"),
            "{}",
            fired[0].summary()
        );
        // Two hours later alice is new again.
        assert_eq!(
            engine
                .observe_at(&[login("alice", 5)], 120_000 + 7_300_000)
                .len(),
            1
        );
    }
}
