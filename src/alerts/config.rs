//! `alerts:` in the configuration: rules over the event stream and the notifiers they send to.

use crate::config::HumanDuration;
use crate::config::yaml::{Mark, Node, NodeKind};
use crate::event::FieldPath;
use crate::processors::condition::{Condition, ConditionConfig};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `alerts:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// The rules, evaluated on every event after the processors.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Where alerts are sent, by name.
    #[serde(default)]
    pub notifiers: BTreeMap<String, NotifierConfig>,
    /// How undeliverable notifications are kept and retried.
    #[serde(default)]
    pub outbox: OutboxConfig,
}

/// The kind of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// More than `count` matching events within `within`.
    Frequency,
    /// Fewer than `count` matching events within `within` (a source went silent).
    Flatline,
    /// Every matching event, at most one alert per `realert` and group.
    Any,
    /// The count of this window against the window before it: `spike_height` times more (`up`), fewer
    /// (`down`) or either (`both`).
    Spike,
    /// A value of `field` not seen within `within` (e.g. a new user logging in as root).
    NewValue,
}

/// Which way a `spike` rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeType {
    /// This window has `spike_height` times more than the one before.
    #[default]
    Up,
    /// This window has `spike_height` times fewer.
    Down,
    /// Either.
    Both,
}

impl RuleKind {
    /// The name used in the configuration and in alerts.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Frequency => "frequency",
            RuleKind::Flatline => "flatline",
            RuleKind::Any => "any",
            RuleKind::Spike => "spike",
            RuleKind::NewValue => "new_value",
        }
    }
}

/// How urgent an alert is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize, serde::Serialize,
)]
pub enum Priority {
    /// Critical: act now.
    P1,
    /// High.
    P2,
    /// Medium (the default).
    #[default]
    P3,
    /// Low.
    P4,
}

impl Priority {
    /// `P1` … `P4`.
    pub fn name(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }
}

/// One entry of `alerts.rules`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The rule's name, unique; it names the rule in alerts, metrics and the window state.
    pub name: String,
    /// `frequency`, `flatline` or `any`.
    #[serde(rename = "type")]
    pub kind: RuleKind,
    /// Which events the rule counts (the processors' condition language); every event when absent.
    #[serde(default)]
    pub when: Option<ConditionConfig>,
    /// `frequency`: fires when more than this many events match within the window; `flatline`: when fewer.
    #[serde(default)]
    pub count: Option<u64>,
    /// The sliding window.
    #[serde(default)]
    pub within: Option<HumanDuration>,
    /// Fields whose values split the events into groups, each with its own window and cooldown.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// The most groups kept; when a new one arrives beyond it, the one seen least recently is dropped
    /// (and counted). Default 10000.
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
    /// `P1` (critical) to `P4`; default `P3`. `severity` is accepted as another name for it.
    #[serde(default, alias = "severity")]
    pub priority: Priority,
    /// After an alert, the same rule and group stay quiet this long. Default 1m.
    #[serde(default)]
    pub realert: Option<HumanDuration>,
    /// The names of the notifiers (under `alerts.notifiers`) that receive this rule's alerts.
    #[serde(default)]
    pub notify: Vec<String>,
    /// `spike`: how many times more (or fewer) than the window before counts as a spike.
    #[serde(default)]
    pub spike_height: Option<f64>,
    /// `spike`: `up` (default), `down` or `both`.
    #[serde(default)]
    pub spike_type: SpikeType,
    /// `spike`: both windows need at least this many events before they are compared. Default 1.
    #[serde(default)]
    pub min_count: Option<u64>,
    /// `new_value`: the field whose values are watched.
    #[serde(default)]
    pub field: Option<String>,
    /// `new_value`: for this long after the rule first runs, values are learned without alerting.
    #[serde(default)]
    pub learn_for: Option<HumanDuration>,
}

fn default_max_groups() -> usize {
    10_000
}

/// `alerts.outbox`: notifications that could not be sent are kept in `<data_dir>/alerts/outbox` and
/// retried, across restarts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// A notification not sent after this long is dropped (and counted). Default 24h.
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
    /// The first wait before a retry; doubled after each failure. Default 1s.
    #[serde(default = "default_retry_initial")]
    pub retry_initial: HumanDuration,
    /// The longest wait between retries. Default 5m.
    #[serde(default = "default_retry_max")]
    pub retry_max: HumanDuration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_age: default_max_age(),
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
        }
    }
}

fn default_max_age() -> HumanDuration {
    HumanDuration::secs(86_400)
}
fn default_retry_initial() -> HumanDuration {
    HumanDuration::secs(1)
}
fn default_retry_max() -> HumanDuration {
    HumanDuration::secs(300)
}

/// One entry of `alerts.notifiers`: `name: { email: {…} }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifierConfig {
    /// Mail through an SMTP server.
    Email(EmailConfig),
    /// A DingTalk group robot.
    Dingtalk(DingtalkConfig),
    /// A Slack incoming webhook.
    Slack(SlackConfig),
    /// Any HTTP endpoint, with a body template.
    Webhook(WebhookConfig),
}

impl NotifierConfig {
    /// The notifier's type name.
    pub fn kind(&self) -> &'static str {
        match self {
            NotifierConfig::Email(_) => "email",
            NotifierConfig::Dingtalk(_) => "dingtalk",
            NotifierConfig::Slack(_) => "slack",
            NotifierConfig::Webhook(_) => "webhook",
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection, upgraded with STARTTLS (required) — the default.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption (a relay on the same machine or network only).
    None,
}

/// `email:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server's host name (also the name its certificate must carry).
    pub host: String,
    /// Default 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// A PEM file of certificate authorities to trust besides the system's.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// The login, when the server requires one.
    #[serde(default)]
    pub username: Option<String>,
    /// The password for `username`.
    #[serde(default)]
    pub password: Option<String>,
    /// The sender address (`Ops <alerts@example.com>`).
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// How long a delivery attempt may take. Default 30s.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

/// `dingtalk:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DingtalkConfig {
    /// The robot's webhook address, with its `access_token`.
    pub url: String,
    /// The robot's signing secret (`SEC…`), for robots with the "sign" security setting.
    #[serde(default)]
    pub secret: Option<String>,
    /// Mobile numbers to @-mention.
    #[serde(default)]
    pub at_mobiles: Vec<String>,
    /// @-mention everyone in the group.
    #[serde(default)]
    pub at_all: bool,
    /// How long a request may take. Default 30s.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

/// `slack:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming webhook's address.
    pub url: String,
    /// How long a request may take. Default 30s.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

/// `webhook:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to send.
    pub url: String,
    /// `POST` (default) or `PUT`.
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body: text with `{{rule}}`, `{{group}}`, `{{count}}`, `{{window}}`, `{{priority}}`, `{{type}}`,
    /// `{{message}}`, `{{fired_at}}`, `{{samples}}` and `{{alert}}` replaced. Default: the alert as JSON.
    #[serde(default)]
    pub body: Option<String>,
    /// The body's `Content-Type`. Default `application/json`.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// How long a request may take. Default 30s.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

fn default_timeout() -> HumanDuration {
    HumanDuration::secs(30)
}
fn default_method() -> String {
    "POST".into()
}
fn default_content_type() -> String {
    "application/json".into()
}

/// The placeholders a webhook body template may use.
pub const TEMPLATE_FIELDS: &[&str] = &[
    "rule", "group", "count", "window", "priority", "type", "message", "fired_at", "samples",
    "alert",
];

/// A problem found in `alerts:`, at a position.
pub struct Problem {
    /// Where it was written.
    pub mark: Mark,
    /// What is wrong and what to do.
    pub message: String,
}

fn seq_item(node: &Node, key: &str, index: usize) -> Option<Node> {
    match node.get(key).map(|n| &n.kind) {
        Some(NodeKind::Seq(items)) => items.get(index).cloned(),
        _ => None,
    }
}

fn http_url_problem(url: &str) -> Option<String> {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => None,
        Ok(u) => Some(format!(
            "`{url}` is a {} address: use an http:// or https:// address",
            u.scheme()
        )),
        Err(e) => Some(format!(
            "`{url}` is not an address ({e}): write it like https://host/path"
        )),
    }
}

impl AlertsConfig {
    /// Everything wrong with the section, each at the key at fault (`node` is the `alerts:` value).
    pub fn problems(&self, node: &Node) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut push = |mark: Mark, message: String| out.push(Problem { mark, message });
        let mut names = std::collections::HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let item = seq_item(node, "rules", i).unwrap_or_else(|| node.clone());
            let at = |key: &str| item.get(key).map_or(item.mark, |n| n.mark);
            let ctx = format!("alerts.rules[{i}] (`{}`)", rule.name);
            if rule.name.trim().is_empty() {
                push(
                    at("name"),
                    format!("alerts.rules[{i}]: the name is empty: give every rule a unique name"),
                );
            } else if !names.insert(rule.name.clone()) {
                push(
                    at("name"),
                    format!("{ctx}: another rule has the same name: rule names must be unique"),
                );
            }
            if let Some(when) = &rule.when
                && let Err(e) = Condition::build(when)
            {
                push(at("when"), format!("{ctx}: when: {e}"));
            }
            for (g, field) in rule.group_by.iter().enumerate() {
                if let Err(e) = FieldPath::parse(field) {
                    let mark = match item.get("group_by").map(|n| &n.kind) {
                        Some(NodeKind::Seq(items)) => {
                            items.get(g).map_or(at("group_by"), |n| n.mark)
                        }
                        _ => at("group_by"),
                    };
                    push(
                        mark,
                        format!("{ctx}: group_by: `{field}` is not a field name: {e}"),
                    );
                }
            }
            if rule.max_groups == 0 {
                push(
                    at("max_groups"),
                    format!("{ctx}: max_groups must be at least 1"),
                );
            }
            match rule.kind {
                RuleKind::Frequency | RuleKind::Flatline => {
                    if rule.count.is_none() {
                        push(
                            item.mark,
                            format!(
                                "{ctx}: a {} rule needs `count` (e.g. count: 10)",
                                rule.kind.name()
                            ),
                        );
                    }
                    if rule.kind == RuleKind::Flatline && rule.count == Some(0) {
                        push(
                            at("count"),
                            format!(
                                "{ctx}: count: 0 can never be undercut: a flatline rule fires when fewer than `count` events arrive, so use 1 or more"
                            ),
                        );
                    }
                    match rule.within {
                        None => push(
                            item.mark,
                            format!(
                                "{ctx}: a {} rule needs `within` (e.g. within: 5m)",
                                rule.kind.name()
                            ),
                        ),
                        Some(w) if w.get().is_zero() => push(
                            at("within"),
                            format!("{ctx}: within must be longer than 0s"),
                        ),
                        Some(_) => {}
                    }
                }
                RuleKind::Spike => {
                    match rule.spike_height {
                        None => push(
                            item.mark,
                            format!(
                                "{ctx}: a spike rule needs `spike_height` (e.g. spike_height: 3: three times the window before)"
                            ),
                        ),
                        Some(h) if !(h > 1.0 && h.is_finite()) => push(
                            at("spike_height"),
                            format!("{ctx}: spike_height must be a number above 1, not {h}"),
                        ),
                        Some(_) => {}
                    }
                    match rule.within {
                        None => push(
                            item.mark,
                            format!("{ctx}: a spike rule needs `within` (e.g. within: 5m)"),
                        ),
                        Some(w) if w.get().is_zero() => push(
                            at("within"),
                            format!("{ctx}: within must be longer than 0s"),
                        ),
                        Some(_) => {}
                    }
                }
                RuleKind::NewValue => {
                    match &rule.field {
                        None => push(
                            item.mark,
                            format!(
                                "{ctx}: a new_value rule needs `field` (e.g. field: user.name)"
                            ),
                        ),
                        Some(f) => {
                            if let Err(e) = FieldPath::parse(f) {
                                push(
                                    at("field"),
                                    format!("{ctx}: field: `{f}` is not a field name: {e}"),
                                );
                            }
                        }
                    }
                    match rule.within {
                        None => push(
                            item.mark,
                            format!(
                                "{ctx}: a new_value rule needs `within`: how long a value is remembered (e.g. within: 30d)"
                            ),
                        ),
                        Some(w) if w.get().is_zero() => push(
                            at("within"),
                            format!("{ctx}: within must be longer than 0s"),
                        ),
                        Some(_) => {}
                    }
                }
                RuleKind::Any => {
                    for key in ["count", "within"] {
                        if item.get(key).is_some() {
                            push(
                                at(key),
                                format!(
                                    "{ctx}: `{key}` means nothing for an `any` rule (every matching event alerts, at most once per `realert`): remove it, or use type: frequency"
                                ),
                            );
                        }
                    }
                }
            }
            for (key, kinds) in [
                ("spike_height", &[RuleKind::Spike][..]),
                ("spike_type", &[RuleKind::Spike][..]),
                ("min_count", &[RuleKind::Spike][..]),
                ("field", &[RuleKind::NewValue][..]),
                ("learn_for", &[RuleKind::NewValue][..]),
                (
                    "count",
                    &[RuleKind::Frequency, RuleKind::Flatline, RuleKind::Any][..],
                ),
            ] {
                if item.get(key).is_some() && !kinds.contains(&rule.kind) {
                    push(
                        at(key),
                        format!(
                            "{ctx}: `{key}` means nothing for a {} rule: remove it",
                            rule.kind.name()
                        ),
                    );
                }
            }
            if rule.notify.is_empty() && item.get("notify").is_some() {
                push(
                    at("notify"),
                    format!(
                        "{ctx}: notify is empty: name notifiers from alerts.notifiers, or remove the key (alerts then only become events)"
                    ),
                );
            }
            for (n, name) in rule.notify.iter().enumerate() {
                if !self.notifiers.contains_key(name) {
                    let mark = match item.get("notify").map(|n| &n.kind) {
                        Some(NodeKind::Seq(items)) => items.get(n).map_or(at("notify"), |n| n.mark),
                        _ => at("notify"),
                    };
                    let known: Vec<&str> = self.notifiers.keys().map(String::as_str).collect();
                    push(
                        mark,
                        format!(
                            "{ctx}: notify: `{name}` is not a notifier under alerts.notifiers ({})",
                            if known.is_empty() {
                                "there are none".to_string()
                            } else {
                                format!("known: {}", known.join(", "))
                            }
                        ),
                    );
                }
            }
        }
        let notifiers = node.get("notifiers");
        for (name, cfg) in &self.notifiers {
            let entry = notifiers.and_then(|n| n.get(name));
            let body = entry.and_then(|e| e.get(cfg.kind()));
            let base = body.or(entry).map_or(node.mark, |n| n.mark);
            let at = |key: &str| body.and_then(|b| b.get(key)).map_or(base, |n| n.mark);
            let ctx = format!("alerts.notifiers.{name} ({})", cfg.kind());
            match cfg {
                NotifierConfig::Email(e) => {
                    if e.host.trim().is_empty() {
                        push(
                            at("host"),
                            format!("{ctx}: host is empty: name the SMTP server"),
                        );
                    }
                    if let Err(err) = e.from.parse::<lettre::message::Mailbox>() {
                        push(
                            at("from"),
                            format!(
                                "{ctx}: from: `{}` is not a mail address ({err}): write it like `Alerts <alerts@example.com>`",
                                e.from
                            ),
                        );
                    }
                    if e.to.is_empty() {
                        push(
                            at("to"),
                            format!("{ctx}: to is empty: list at least one recipient"),
                        );
                    }
                    for (i, to) in e.to.iter().enumerate() {
                        if let Err(err) = to.parse::<lettre::message::Mailbox>() {
                            let mark = match body.and_then(|b| b.get("to")).map(|n| &n.kind) {
                                Some(NodeKind::Seq(items)) => {
                                    items.get(i).map_or(at("to"), |n| n.mark)
                                }
                                _ => at("to"),
                            };
                            push(
                                mark,
                                format!("{ctx}: to: `{to}` is not a mail address ({err})"),
                            );
                        }
                    }
                    if e.username.is_some() != e.password.is_some() {
                        push(
                            at(if e.username.is_some() {
                                "username"
                            } else {
                                "password"
                            }),
                            format!(
                                "{ctx}: username and password go together: set both or neither"
                            ),
                        );
                    }
                    if e.username.is_some() && e.tls == SmtpTls::None {
                        push(
                            at("tls"),
                            format!(
                                "{ctx}: a password would be sent unencrypted: use tls: starttls or tls with a username"
                            ),
                        );
                    }
                }
                NotifierConfig::Dingtalk(d) => {
                    if let Some(p) = http_url_problem(&d.url) {
                        push(at("url"), format!("{ctx}: url: {p}"));
                    }
                    if d.secret.as_deref().is_some_and(|s| s.trim().is_empty()) {
                        push(
                            at("secret"),
                            format!(
                                "{ctx}: secret is empty: paste the robot's `SEC…` secret, or remove the key for an unsigned robot"
                            ),
                        );
                    }
                }
                NotifierConfig::Slack(s) => {
                    if let Some(p) = http_url_problem(&s.url) {
                        push(at("url"), format!("{ctx}: url: {p}"));
                    }
                }
                NotifierConfig::Webhook(w) => {
                    if let Some(p) = http_url_problem(&w.url) {
                        push(at("url"), format!("{ctx}: url: {p}"));
                    }
                    if !matches!(
                        w.method.to_ascii_uppercase().as_str(),
                        "POST" | "PUT" | "PATCH"
                    ) {
                        push(
                            at("method"),
                            format!(
                                "{ctx}: method `{}` sends no body: use POST, PUT or PATCH",
                                w.method
                            ),
                        );
                    }
                    for (k, v) in &w.headers {
                        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
                            || reqwest::header::HeaderValue::from_str(v).is_err()
                        {
                            push(
                                at("headers"),
                                format!(
                                    "{ctx}: headers: `{k}` is not a valid header name and value"
                                ),
                            );
                        }
                    }
                    if let Some(body) = &w.body {
                        for name in super::notify::placeholders(body) {
                            if !TEMPLATE_FIELDS.contains(&name.as_str()) {
                                push(
                                    at("body"),
                                    format!(
                                        "{ctx}: body: `{{{{{name}}}}}` is not a placeholder (known: {})",
                                        TEMPLATE_FIELDS.join(", ")
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
        let timeout_ok = |d: HumanDuration| !d.get().is_zero();
        if !timeout_ok(self.outbox.max_age) {
            push(
                node.get("outbox")
                    .and_then(|o| o.get("max_age"))
                    .map_or(node.mark, |n| n.mark),
                "alerts.outbox.max_age must be longer than 0s".into(),
            );
        }
        if self.outbox.retry_initial.get().is_zero()
            || self.outbox.retry_initial > self.outbox.retry_max
        {
            push(
                node.get("outbox").map_or(node.mark, |n| n.mark),
                "alerts.outbox: retry_initial must be longer than 0s and at most retry_max".into(),
            );
        }
        out
    }
}
