//! `type: http`: applications POST their events as JSON — NDJSON (one object a line), a JSON array, or
//! one object — optionally gzip, deflate or zstd compressed. Each event keeps its `@timestamp` (or gets
//! the time it arrived), gets `input.type: http` and the sender's address (`client.ip`, `client.port`),
//! and the fields a path pattern names (`path: /events/{service.name}`).
//!
//! The answer comes only after the queue has accepted the events ([`intake`]): 200 then, 429 with
//! `Retry-After` while the queue is full, 503 while the agent stops. A line that is not a JSON object is
//! not lost: it is queued as text in `message`, tagged `_jsonparsefailure`, with the reason in
//! `error.message`, and counted.
//!
//! [`server`], [`body`], [`intake`] and [`auth`] are shared with the `elasticsearch` input.

pub mod auth;
pub mod body;
pub mod intake;
pub mod server;

use crate::component::{InputBuild, InputConfig, InputKind, Listen, Protocol, Validator};
use crate::config::{ByteSize, HumanDuration};
use crate::event::{Event, FieldPath, Fields, MESSAGE, TIMESTAMP, format_timestamp};
use crate::inputs::{Input, InputContext};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::Counter;
use auth::AuthConfig;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use intake::{Intake, Refused};
use serde::Deserialize;
use serde_json::{Value, json};
use server::{Answer, ServerSettings};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// The `http` input type.
pub const KIND: InputKind = InputKind::of::<HttpInputConfig>(
    "http",
    "receives JSON events POSTed by applications (NDJSON, arrays, objects)",
);

/// `type: http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpInputConfig {
    /// The address and port to listen on.
    pub listen: SocketAddr,
    /// The path events are POSTed to; `{field}` segments put that part of the path into the field
    /// (`/events/{service.name}`). Default `/`.
    #[serde(default = "default_path")]
    pub path: String,
    /// Larger request bodies (as sent, and once decompressed) are answered 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
    /// Longer events are cut and kept as text, tagged `truncated` and `_jsonparsefailure`.
    #[serde(default = "default_max_event")]
    pub max_event_bytes: ByteSize,
    /// A body must arrive within this time (else 408): a slow client cannot hold a connection forever.
    #[serde(default = "default_body_timeout")]
    pub body_timeout: HumanDuration,
    /// How long a request waits for the queue to accept its events before it is answered 503.
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout: HumanDuration,
    /// Events of this input not yet accepted by the queue, at most; a request that would pass it is
    /// answered 429.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight_events: usize,
    /// Connections served at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The `Retry-After` of 429 and 503 answers.
    #[serde(default = "default_retry_after")]
    pub retry_after: HumanDuration,
    /// A field whose value becomes the event's document id (`@metadata._id`), so a resent event
    /// overwrites itself in Elasticsearch instead of being stored twice.
    #[serde(default)]
    pub id_field: Option<String>,
    /// Credentials every request must present (401 otherwise).
    #[serde(default)]
    pub auth: AuthConfig,
}

fn default_path() -> String {
    "/".into()
}
pub(crate) fn default_max_body() -> ByteSize {
    ByteSize(10 * 1024 * 1024)
}
pub(crate) fn default_max_event() -> ByteSize {
    ByteSize(1024 * 1024)
}
pub(crate) fn default_body_timeout() -> HumanDuration {
    HumanDuration::secs(30)
}
pub(crate) fn default_ack_timeout() -> HumanDuration {
    HumanDuration::secs(60)
}
pub(crate) fn default_max_in_flight() -> usize {
    20_000
}
pub(crate) fn default_max_connections() -> usize {
    256
}
pub(crate) fn default_retry_after() -> HumanDuration {
    HumanDuration::secs(1)
}

/// Checks the settings every receiving input shares.
#[allow(clippy::too_many_arguments)]
pub(crate) fn validate_common(
    v: &mut Validator<'_>,
    max_body: ByteSize,
    max_event: ByteSize,
    body_timeout: HumanDuration,
    ack_timeout: HumanDuration,
    max_in_flight: usize,
    max_connections: usize,
    auth: &AuthConfig,
) {
    if max_body.get() == 0 {
        v.error("max_body_bytes", "`max_body_bytes` must be more than 0");
    }
    if max_event.get() == 0 {
        v.error("max_event_bytes", "`max_event_bytes` must be more than 0");
    }
    if body_timeout.get().is_zero() {
        v.error("body_timeout", "`body_timeout` must be more than 0s");
    }
    if ack_timeout.get().is_zero() {
        v.error("ack_timeout", "`ack_timeout` must be more than 0s");
    }
    if max_in_flight == 0 || max_in_flight > tokio::sync::Semaphore::MAX_PERMITS {
        v.error(
            "max_in_flight_events",
            "`max_in_flight_events` must be between 1 and a few million",
        );
    }
    if max_connections == 0 {
        v.error("max_connections", "`max_connections` must be more than 0");
    }
    for (key, message) in auth.problems() {
        v.error_in(&["auth", key], message);
    }
}

/// A compiled `path`: literal segments and `{field}` segments.
#[derive(Debug, Clone)]
pub struct PathPattern {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Field(FieldPath),
}

impl PathPattern {
    /// Compiles a pattern; the error says what is wrong.
    pub fn parse(text: &str) -> Result<PathPattern, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("`{text}` does not start with `/`"));
        };
        let mut segments = Vec::new();
        for part in rest.split('/').filter(|p| !p.is_empty()) {
            if let Some(name) = part.strip_prefix('{') {
                let name = name
                    .strip_suffix('}')
                    .ok_or_else(|| format!("`{part}` in `{text}` opens `{{` without closing it"))?;
                let field = FieldPath::parse(name)
                    .map_err(|e| format!("`{{{name}}}` in `{text}` is not a field name: {e}"))?;
                segments.push(Segment::Field(field));
            } else if part.contains(['{', '}']) {
                return Err(format!(
                    "`{part}` in `{text}`: a `{{field}}` must be a whole path segment"
                ));
            } else {
                segments.push(Segment::Literal(part.to_string()));
            }
        }
        Ok(PathPattern { segments })
    }

    /// The fields a request path sets, or `None` when it does not match.
    pub fn matches(&self, path: &str) -> Option<Vec<(FieldPath, String)>> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut fields = Vec::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Field(f) => {
                    let value = percent_encoding::percent_decode_str(part)
                        .decode_utf8()
                        .ok()?
                        .into_owned();
                    fields.push((f.clone(), value));
                }
            }
        }
        Some(fields)
    }
}

impl InputConfig for HttpInputConfig {
    fn default_id(&self) -> String {
        format!("http-{}", self.listen.port())
    }

    fn validate(&mut self, v: &mut Validator<'_>) {
        if let Err(e) = PathPattern::parse(&self.path) {
            v.error("path", format!("`path`: {e}"));
        }
        if let Some(f) = &self.id_field
            && let Err(e) = FieldPath::parse(f)
        {
            v.error("id_field", format!("`id_field` `{f}` is not a field name: {e}"));
        }
        validate_common(
            v,
            self.max_body_bytes,
            self.max_event_bytes,
            self.body_timeout,
            self.ack_timeout,
            self.max_in_flight_events,
            self.max_connections,
            &self.auth,
        );
    }

    fn listen(&self) -> Vec<Listen> {
        vec![Listen {
            protocol: Protocol::Tcp,
            address: self.listen,
            key: "listen",
        }]
    }

    fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.listen.ip().is_loopback() && !self.auth.required() {
            out.push(format!(
                "listen {} can be reached from other machines and `auth` is not set: anyone who reaches it can send events",
                self.listen
            ));
        }
        out
    }

    fn build(&self, ctx: &InputBuild<'_>) -> anyhow::Result<Box<dyn Input>> {
        let path = PathPattern::parse(&self.path).map_err(|e| anyhow::anyhow!("`path`: {e}"))?;
        let id_field = match &self.id_field {
            Some(f) => Some(FieldPath::parse(f).map_err(|e| anyhow::anyhow!("`id_field`: {e}"))?),
            None => None,
        };
        Ok(Box::new(HttpInput {
            listener: server::bind(self.listen, ctx.id)?,
            config: self.clone(),
            path,
            id_field,
            batch: ctx.batch_events.max(1),
        }))
    }
}

struct HttpInput {
    listener: std::net::TcpListener,
    config: HttpInputConfig,
    path: PathPattern,
    id_field: Option<FieldPath>,
    batch: usize,
}

/// The error counters of a receiving input, by `error_type`.
pub(crate) struct Errors {
    by_kind: HashMap<&'static str, Counter>,
}

impl Errors {
    pub(crate) fn new(m: &ComponentMetrics, kinds: &[&'static str]) -> Errors {
        Errors {
            by_kind: kinds
                .iter()
                .map(|k| (*k, m.errors(k, Stage::Receiving)))
                .collect(),
        }
    }

    pub(crate) fn count(&self, kind: &str, n: u64) {
        if let Some(c) = self.by_kind.get(kind) {
            c.add(n);
        }
    }
}

/// The error kinds every receiving input counts.
pub(crate) const COMMON_ERRORS: &[&str] = &[
    "unauthorized",
    "queue_full",
    "stopping",
    "ack_timeout",
    "abandoned",
    "too_many_events",
    "body_too_large",
    "body_too_slow",
    "body_read_failed",
    "unknown_encoding",
    "damaged_body",
    "unsupported_media_type",
    "not_found",
    "method_not_allowed",
    "invalid_json",
    "invalid_utf8",
    "event_truncated",
    "connection_refused",
];

struct Shared {
    config: HttpInputConfig,
    path: PathPattern,
    id_field: Option<FieldPath>,
    intake: Intake,
    decoration: crate::component::Decoration,
    errors: Errors,
}

impl Input for HttpInput {
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()> {
        let metrics = ComponentMetrics::new(Kind::Input, &ctx.id, "http");
        let errors = Errors::new(&metrics, COMMON_ERRORS);
        let refused = metrics.errors("connection_refused", Stage::Receiving);
        let HttpInput {
            listener,
            config,
            path,
            id_field,
            batch,
        } = *self;
        let address = listener.local_addr().ok();
        let settings = ServerSettings {
            max_connections: config.max_connections,
            header_timeout: std::time::Duration::from_secs(10),
        };
        let shared = Arc::new(Shared {
            intake: Intake::new(
                ctx.sender.clone(),
                batch,
                config.max_in_flight_events,
                config.ack_timeout.get(),
                ctx.stop.clone(),
                ctx.force.clone(),
            ),
            config,
            path,
            id_field,
            decoration: ctx.decoration.clone(),
            errors,
        });
        if let Some(a) = address {
            tracing::info!(input = %ctx.id, address = %a, "http input listening");
        }
        let (stop, force) = (ctx.stop.clone(), ctx.force.clone());
        let InputContext { runtime, .. } = ctx;
        crate::observe::watchdog::waiting(|| {
            runtime.block_on(server::serve(
                listener,
                settings,
                stop,
                force,
                refused,
                move |req, remote| {
                    let shared = Arc::clone(&shared);
                    async move { shared.handle(req, remote).await }
                },
            ))
        })
    }
}

/// The media types of JSON bodies.
pub(crate) fn is_json_media_type(headers: &hyper::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        media.as_str(),
        "application/json"
            | "application/x-ndjson"
            | "application/ndjson"
            | "application/x-jsonlines"
            | "application/jsonlines"
            | "application/jsonl"
            | "application/vnd.elasticsearch+json"
            | "application/vnd.elasticsearch+x-ndjson"
    )
}

/// A JSON error answer: `{"error": message}`.
pub(crate) fn error_answer(status: StatusCode, message: impl Into<String>) -> Answer {
    server::json(status, &json!({ "error": message.into(), "status": status.as_u16() }))
}

/// The answer to events the queue did not accept.
pub(crate) fn refused_answer(r: Refused, retry_after: std::time::Duration) -> (Answer, &'static str) {
    match r {
        Refused::QueueFull => (
            server::with_retry_after(
                error_answer(
                    StatusCode::TOO_MANY_REQUESTS,
                    "the queue is full: nothing of this request was taken; send it again after Retry-After",
                ),
                retry_after,
            ),
            "queue_full",
        ),
        Refused::TooManyEvents { events, limit } => (
            error_answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{events} events in one request, more than max_in_flight_events ({limit}): send smaller requests"),
            ),
            "too_many_events",
        ),
        Refused::Stopping => (
            server::with_retry_after(
                error_answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "logward is stopping: nothing of this request was taken; send it again (to this agent once it is back, or another)",
                ),
                retry_after,
            ),
            "stopping",
        ),
        Refused::Timeout(d) => (
            server::with_retry_after(
                error_answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the queue did not accept the events within ack_timeout ({d:?}); they may still be delivered, so give events ids (id_field) to make a resend harmless, and send again"),
                ),
                retry_after,
            ),
            "ack_timeout",
        ),
        Refused::Abandoned => (
            server::with_retry_after(
                error_answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the pipeline gave the events up (shutdown or a failed queue); send them again",
                ),
                retry_after,
            ),
            "abandoned",
        ),
    }
}

/// What a received JSON text turned into.
pub(crate) enum Parsed {
    /// A JSON object.
    Object(Fields),
    /// Anything else, kept as text: the reason, and whether it was cut or not UTF-8.
    Failed {
        text: String,
        reason: String,
        truncated: bool,
        invalid_utf8: bool,
    },
}

/// Parses one event's JSON text (at most `max_event` bytes; longer ones are kept cut, as text).
pub(crate) fn parse_event(bytes: &[u8], max_event: usize) -> Parsed {
    let (bytes, truncated) = if bytes.len() > max_event {
        (&bytes[..max_event], true)
    } else {
        (bytes, false)
    };
    let failed = |reason: String| {
        let (text, invalid_utf8) = match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), false),
            Err(e) if truncated && e.error_len().is_none() => {
                // Cut inside a character: keep the whole characters before it.
                (
                    String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
                    false,
                )
            }
            Err(_) => (String::from_utf8_lossy(bytes).into_owned(), true),
        };
        Parsed::Failed {
            text,
            reason,
            truncated,
            invalid_utf8,
        }
    };
    if truncated {
        return failed(format!(
            "the event is longer than max_event_bytes ({max_event} bytes); it was cut and kept as text"
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Parsed::Object(map),
        Ok(other) => failed(format!(
            "the event is a JSON {}, not an object",
            json_kind(&other)
        )),
        Err(e) if e.classify() == serde_json::error::Category::Io => failed(e.to_string()),
        Err(e) => match std::str::from_utf8(bytes) {
            Err(u) => failed(format!(
                "the event is not valid UTF-8 (byte {} is not part of a character)",
                u.valid_up_to()
            )),
            Ok(_) => failed(format!("the event is not valid JSON: {e}")),
        },
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A problem with one event of a request, for the answer.
#[derive(Debug, Clone)]
pub(crate) struct ItemProblem {
    /// The line (NDJSON) or the element (array), counted from 1.
    pub at: usize,
    pub reason: String,
}

/// Turns a parsed event into an event: a failed one becomes text in `message` tagged
/// `_jsonparsefailure` with the reason in `error.message`. Returns the problem, if any.
pub(crate) fn into_event(parsed: Parsed, errors: &Errors) -> (Event, Option<String>) {
    match parsed {
        Parsed::Object(fields) => (Event::with_fields(fields), None),
        Parsed::Failed {
            text,
            reason,
            truncated,
            invalid_utf8,
        } => {
            let mut fields = Fields::new();
            fields.insert(MESSAGE.into(), Value::String(text));
            fields.insert("error".into(), json!({ "message": reason }));
            let mut e = Event::with_fields(fields);
            e.add_tag("_jsonparsefailure");
            errors.count("invalid_json", 1);
            if truncated {
                e.add_tag("truncated");
                errors.count("event_truncated", 1);
            }
            if invalid_utf8 {
                e.add_tag("invalid_utf8");
                errors.count("invalid_utf8", 1);
            }
            (e, Some(reason))
        }
    }
}

/// Adds what every received event gets: `@timestamp` when it has none (the time it arrived), the
/// sender's address under `client` (unless the event has a `client` that is not an object).
pub(crate) fn stamp(event: &mut Event, now: &str, remote: SocketAddr) {
    let fields = event.fields_mut();
    if !fields.contains_key(TIMESTAMP) {
        fields.insert(TIMESTAMP.into(), Value::String(now.to_string()));
    }
    match fields.get_mut("client") {
        None => {
            fields.insert(
                "client".into(),
                json!({ "ip": remote.ip().to_string(), "port": remote.port() }),
            );
        }
        Some(Value::Object(client)) => {
            client
                .entry("ip")
                .or_insert_with(|| Value::String(remote.ip().to_string()));
            client
                .entry("port")
                .or_insert_with(|| Value::from(remote.port()));
        }
        Some(_) => {}
    }
}

/// The id a field holds (a string or a number), for `@metadata._id`.
pub(crate) fn id_from(event: &Event, field: &FieldPath) -> Option<String> {
    match event.get(field)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Splits a body into its events: a JSON array, one JSON object (even over several lines), or NDJSON.
pub(crate) fn split_body(
    body: &[u8],
    max_event: usize,
) -> Result<Vec<(usize, Parsed)>, String> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or("the body is empty: send NDJSON, a JSON array or a JSON object")?;
    let trimmed = &body[start..];
    if trimmed[0] == b'[' {
        let items: Vec<Box<serde_json::value::RawValue>> = serde_json::from_slice(trimmed)
            .map_err(|e| {
                format!("the body starts with `[` but is not a valid JSON array: {e}; nothing of it was taken")
            })?;
        return Ok(items
            .iter()
            .enumerate()
            .map(|(i, raw)| (i + 1, parse_event(raw.get().as_bytes(), max_event)))
            .collect());
    }
    // One object spread over several lines.
    if trimmed[0] == b'{'
        && memchr::memchr(b'\n', trimmed.trim_ascii_end()).is_some()
        && trimmed.len() <= max_event
        && let Ok(map) = serde_json::from_slice::<Fields>(trimmed)
    {
        return Ok(vec![(1, Parsed::Object(map))]);
    }
    Ok(body
        .split(|b| *b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim_ascii();
            (!line.is_empty()).then(|| (i + 1, parse_event(line, max_event)))
        })
        .collect())
}

impl Shared {
    async fn handle(&self, req: Request<Incoming>, remote: SocketAddr) -> Answer {
        let (answer, error) = self.answer(req, remote).await;
        if let Some(kind) = error {
            self.errors.count(kind, 1);
        }
        answer
    }

    async fn answer(
        &self,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> (Answer, Option<&'static str>) {
        let Some(path_fields) = self.path.matches(req.uri().path()) else {
            return (
                error_answer(
                    StatusCode::NOT_FOUND,
                    format!(
                        "nothing at {}: POST events to {}",
                        req.uri().path(),
                        self.config.path
                    ),
                ),
                Some("not_found"),
            );
        };
        if req.method() != Method::POST && req.method() != Method::PUT {
            let mut r = error_answer(
                StatusCode::METHOD_NOT_ALLOWED,
                "POST the events (NDJSON, a JSON array or a JSON object)",
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST, PUT"));
            return (r, Some("method_not_allowed"));
        }
        if !self.config.auth.allows(req.headers()) {
            let mut r = error_answer(
                StatusCode::UNAUTHORIZED,
                "missing or wrong credentials: send those of this input's `auth` in `Authorization`",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(self.config.auth.challenge()),
            );
            return (r, Some("unauthorized"));
        }
        if self.intake.stopping() {
            let (r, kind) = refused_answer(Refused::Stopping, self.config.retry_after.get());
            return (r, Some(kind));
        }
        if !is_json_media_type(req.headers()) {
            return (
                error_answer(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send `Content-Type: application/json` or `application/x-ndjson`",
                ),
                Some("unsupported_media_type"),
            );
        }
        let encoding = match body::encoding(req.headers()) {
            Ok(e) => e,
            Err(e) => return (error_answer(e.status(), e.to_string()), Some(e.kind())),
        };
        let max_body = self.config.max_body_bytes.as_usize();
        let (parts, incoming) = req.into_parts();
        let raw = match body::read(
            incoming,
            &parts.headers,
            max_body,
            self.config.body_timeout.get(),
        )
        .await
        {
            Ok(b) => b,
            Err(e) => return (error_answer(e.status(), e.to_string()), Some(e.kind())),
        };
        let max_event = self.config.max_event_bytes.as_usize();
        let parsed = tokio::task::spawn_blocking(move || {
            let decoded = body::decode(encoding, &raw, max_body)
                .map_err(|e| (e.status(), e.to_string(), e.kind()))?;
            split_body(&decoded, max_event).map_err(|m| (StatusCode::BAD_REQUEST, m, "invalid_json"))
        })
        .await;
        let items = match parsed {
            Ok(Ok(items)) => items,
            Ok(Err((status, message, kind))) => return (error_answer(status, message), Some(kind)),
            Err(_) => {
                return (
                    error_answer(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the request could not be read; send it again",
                    ),
                    None,
                );
            }
        };
        let now = format_timestamp(chrono::Utc::now());
        let mut problems = Vec::new();
        let mut events = Vec::with_capacity(items.len());
        for (at, item) in items {
            let (mut event, problem) = into_event(item, &self.errors);
            if let Some(reason) = problem {
                problems.push(ItemProblem { at, reason });
            }
            stamp(&mut event, &now, remote);
            for (field, value) in &path_fields {
                event.insert(field, Value::String(value.clone()));
            }
            if let Some(f) = &self.id_field
                && let Some(id) = id_from(&event, f)
            {
                event.metadata.insert("_id".into(), Value::String(id));
            }
            self.decoration.apply(&mut event);
            events.push(event);
        }
        let n = events.len();
        match self.intake.accept(events).await {
            Ok(_) => {
                let mut body = json!({ "accepted": n, "invalid": problems.len() });
                if !problems.is_empty() {
                    body["errors"] = problems
                        .iter()
                        .take(10)
                        .map(|p| json!({ "item": p.at, "error": p.reason }))
                        .collect();
                }
                (server::json(StatusCode::OK, &body), None)
            }
            Err(r) => {
                let (answer, kind) = refused_answer(r, self.config.retry_after.get());
                (answer, Some(kind))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_route_segments_into_fields() {
        let p = PathPattern::parse("/events/{service.name}").unwrap();
        let got = p.matches("/events/billing%20api").unwrap();
        assert_eq!(got[0].0.as_str(), "service.name");
        assert_eq!(got[0].1, "billing api");
        assert!(p.matches("/events").is_none());
        assert!(p.matches("/other/x").is_none());
        assert!(p.matches("/events/%ff").is_none());
        assert!(PathPattern::parse("/").unwrap().matches("/").is_some());
        assert!(PathPattern::parse("events").is_err());
        assert!(PathPattern::parse("/a{b}").is_err());
    }

    #[test]
    fn bodies_split_into_arrays_objects_and_lines() {
        let e = |b: &str| split_body(b.as_bytes(), 1024).unwrap();
        assert_eq!(e("[{\"a\":1},{\"a\":2}]").len(), 2);
        assert_eq!(e("{\n  \"a\": 1\n}\n").len(), 1);
        let lines = e("{\"a\":1}\nnot json\n\n{\"a\":3}\n\"text\"\n");
        assert_eq!(lines.len(), 4);
        assert!(matches!(lines[1], (2, Parsed::Failed { .. })));
        assert!(matches!(lines[3], (5, Parsed::Failed { .. })));
        assert!(split_body(b"[{\"a\":1},", 1024).is_err());
        assert!(split_body(b"  \n", 1024).is_err());
    }

    #[test]
    fn hostile_events_are_kept_as_tagged_text() {
        match parse_event(b"{\"a\":\"\xff\"}", 1024) {
            Parsed::Failed {
                invalid_utf8: true, ..
            } => {}
            _ => panic!("invalid UTF-8 must fail as such"),
        }
        match parse_event("{\"a\":\"ééééé\"}".as_bytes(), 9) {
            Parsed::Failed {
                truncated: true,
                invalid_utf8: false,
                text,
                ..
            } => assert!(text.len() <= 9),
            _ => panic!("a long event is cut"),
        }
    }
}
