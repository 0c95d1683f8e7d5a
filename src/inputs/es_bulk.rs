//! `type: elasticsearch`: speaks enough of the Elasticsearch HTTP API for shippers and clients to point
//! at logward as if it were a cluster — `GET /` and `HEAD /` (the version handshake), `_bulk` with
//! `index` and `create` actions and per-item results, and answers to the probes Beats, Logstash, Fluent
//! Bit and the official clients make (`_license`, `_xpack`, `_nodes`, `_cluster/health`, index and
//! component templates, ILM policies, ingest pipelines: every write is acknowledged, every lookup
//! finds something, so a shipper's setup step passes and it goes on to `_bulk`).
//!
//! Each document becomes an event: its `_index` goes into `index_field` (default `@metadata._index`,
//! so an Elasticsearch output can route with `index: "%{[@metadata][_index]}"`), its `_id` (or one
//! made up here, as Elasticsearch does) into `@metadata._id`, which the Elasticsearch output uses as the
//! document id: a sender that resends after a lost answer overwrites instead of duplicating. A
//! document that is not a JSON object gets its own 400 item, as Elasticsearch answers it; `update` and
//! `delete` items are refused the same way. The answer comes only once the queue has accepted the
//! documents (see [`crate::inputs::http::intake`]); a full queue is answered 429, which clients and
//! shippers retry.

use crate::component::{InputBuild, InputConfig, InputKind, Listen, Protocol, Validator};
use crate::config::{ByteSize, HumanDuration};
use crate::event::{FieldPath, format_timestamp};
use crate::inputs::http::auth::AuthConfig;
use crate::inputs::http::intake::{Intake, Refused};
use crate::inputs::http::server::{self, Answer, ServerSettings};
use crate::inputs::http::{self as receiver, Errors, Parsed, body};
use crate::inputs::{Input, InputContext};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// The `elasticsearch` input type.
pub const KIND: InputKind = InputKind::of::<EsBulkInputConfig>(
    "elasticsearch",
    "receives documents sent with the Elasticsearch _bulk API (Beats, Logstash, Fluent Bit, clients)",
);

/// `type: elasticsearch`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsBulkInputConfig {
    /// The address and port to listen on (Elasticsearch's own is 9200).
    pub listen: SocketAddr,
    /// Where each document's `_index` goes (default `@metadata._index`, which is not shipped).
    #[serde(default = "default_index_field")]
    pub index_field: String,
    /// The Elasticsearch version `GET /` reports (shippers check it).
    #[serde(default = "default_version")]
    pub version: String,
    /// Larger request bodies (as sent, and once decompressed) are answered 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
    /// Longer documents get a 400 item.
    #[serde(default = "crate::inputs::http::default_max_event")]
    pub max_event_bytes: ByteSize,
    /// A body must arrive within this time (else 408).
    #[serde(default = "crate::inputs::http::default_body_timeout")]
    pub body_timeout: HumanDuration,
    /// How long a request waits for the queue to accept its documents before it is answered 503.
    #[serde(default = "crate::inputs::http::default_ack_timeout")]
    pub ack_timeout: HumanDuration,
    /// Documents of this input not yet accepted by the queue, at most; a request that would pass it
    /// is answered 429.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight_events: usize,
    /// Connections served at once.
    #[serde(default = "crate::inputs::http::default_max_connections")]
    pub max_connections: usize,
    /// The `Retry-After` of 429 and 503 answers.
    #[serde(default = "crate::inputs::http::default_retry_after")]
    pub retry_after: HumanDuration,
    /// Credentials every request must present (401 otherwise).
    #[serde(default)]
    pub auth: AuthConfig,
}

fn default_index_field() -> String {
    "@metadata._index".into()
}
fn default_version() -> String {
    "8.15.0".into()
}
fn default_max_body() -> ByteSize {
    ByteSize(100 * 1024 * 1024)
}
fn default_max_in_flight() -> usize {
    50_000
}

impl InputConfig for EsBulkInputConfig {
    fn default_id(&self) -> String {
        format!("elasticsearch-{}", self.listen.port())
    }

    fn validate(&mut self, v: &mut Validator<'_>) {
        if let Err(e) = FieldPath::parse(&self.index_field) {
            v.error(
                "index_field",
                format!("`index_field` `{}` is not a field name: {e}", self.index_field),
            );
        }
        let major = self
            .version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if major.is_none() || self.version.split('.').count() != 3 {
            v.error(
                "version",
                format!(
                    "`version` `{}` is not a version like 8.15.0",
                    self.version
                ),
            );
        }
        receiver::validate_common(
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
                "listen {} can be reached from other machines and `auth` is not set: anyone who reaches it can send documents",
                self.listen
            ));
        }
        out
    }

    fn build(&self, ctx: &InputBuild<'_>) -> anyhow::Result<Box<dyn Input>> {
        let index_field = FieldPath::parse(&self.index_field)
            .map_err(|e| anyhow::anyhow!("`index_field`: {e}"))?;
        Ok(Box::new(EsBulkInput {
            listener: server::bind(self.listen, ctx.id)?,
            config: self.clone(),
            index_field,
            batch: ctx.batch_events.max(1),
        }))
    }
}

struct EsBulkInput {
    listener: std::net::TcpListener,
    config: EsBulkInputConfig,
    index_field: FieldPath,
    batch: usize,
}

struct Shared {
    config: EsBulkInputConfig,
    index_field: FieldPath,
    intake: Intake,
    decoration: crate::component::Decoration,
    errors: Errors,
    node_name: String,
    address: Option<SocketAddr>,
}

impl Input for EsBulkInput {
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()> {
        let metrics = ComponentMetrics::new(Kind::Input, &ctx.id, "elasticsearch");
        let mut kinds = receiver::COMMON_ERRORS.to_vec();
        kinds.extend(["malformed_bulk", "unsupported_action", "missing_index"]);
        let errors = Errors::new(&metrics, &kinds);
        let refused = metrics.errors("connection_refused", Stage::Receiving);
        let EsBulkInput {
            listener,
            config,
            index_field,
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
            index_field,
            decoration: ctx.decoration.clone(),
            errors,
            node_name: ctx.host_name.clone(),
            address,
        });
        if let Some(a) = address {
            tracing::info!(input = %ctx.id, address = %a, "elasticsearch input listening");
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
                    async move {
                        let mut answer = shared.handle(req, remote).await;
                        answer.headers_mut().insert(
                            "x-elastic-product",
                            HeaderValue::from_static("Elasticsearch"),
                        );
                        answer
                    }
                },
            ))
        })
    }
}

/// An error answer in Elasticsearch's shape.
fn es_error(status: StatusCode, kind: &str, reason: impl Into<String>) -> Answer {
    let reason = reason.into();
    server::json(
        status,
        &json!({
            "error": {
                "root_cause": [{ "type": kind, "reason": reason }],
                "type": kind,
                "reason": reason,
            },
            "status": status.as_u16(),
        }),
    )
}

/// The lookups and writes of a shipper's setup (templates, policies, pipelines) this input answers as
/// done: the first path segment.
const SETUP_APIS: &[&str] = &[
    "_index_template",
    "_template",
    "_component_template",
    "_ilm",
    "_ingest",
    "_data_stream",
    "_alias",
    "_aliases",
    "_mapping",
    "_settings",
    "_security",
    "_monitoring",
];

/// One action of a `_bulk` body.
pub(crate) struct Item {
    op: String,
    index: Option<String>,
    id: String,
    /// `None`: queued as the next event; `Some`: the item's error (status, type, reason).
    pub(crate) error: Option<(u16, &'static str, String)>,
}

impl Shared {
    async fn handle(&self, req: Request<Incoming>, remote: SocketAddr) -> Answer {
        let (answer, error) = self.route(req, remote).await;
        if let Some(kind) = error {
            self.errors.count(kind, 1);
        }
        answer
    }

    async fn route(
        &self,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> (Answer, Option<&'static str>) {
        if !self.config.auth.allows(req.headers()) {
            let mut r = es_error(
                StatusCode::UNAUTHORIZED,
                "security_exception",
                "missing or wrong credentials: send those of this input's `auth`",
            );
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(self.config.auth.challenge()),
            );
            return (r, Some("unauthorized"));
        }
        let path = req.uri().path().to_string();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = req.method().clone();
        let is_read = method == Method::GET || method == Method::HEAD;
        let ok = |v: Value| (server::json(StatusCode::OK, &v), None);
        match segments.as_slice() {
            [] if is_read => ok(self.root()),
            ["_bulk"] | [_, "_bulk"] if method == Method::POST || method == Method::PUT => {
                let default_index = match segments.as_slice() {
                    [index, _] => Some(index.to_string()),
                    _ => None,
                };
                self.bulk(req, remote, default_index).await
            }
            ["_license"] if is_read => ok(json!({
                "license": {
                    "status": "active",
                    "uid": "logward",
                    "type": "basic",
                    "issue_date_in_millis": 0,
                    "max_nodes": 1000,
                    "issued_to": "logward",
                    "issuer": "logward",
                    "start_date_in_millis": -1,
                }
            })),
            ["_xpack", ..] if is_read => ok(json!({
                "build": { "hash": "logward", "date": "2024-01-01T00:00:00.000Z" },
                "license": { "uid": "logward", "type": "basic", "mode": "basic", "status": "active" },
                "features": {},
            })),
            ["_nodes", ..] if is_read => ok(self.nodes()),
            ["_cluster", "health", ..] if is_read => ok(json!({
                "cluster_name": "logward",
                "status": "green",
                "timed_out": false,
                "number_of_nodes": 1,
                "number_of_data_nodes": 1,
                "active_primary_shards": 0,
                "active_shards": 0,
                "relocating_shards": 0,
                "initializing_shards": 0,
                "unassigned_shards": 0,
            })),
            [_, "_refresh"] | ["_refresh"] | [_, "_flush"] | ["_flush"] => ok(json!({
                "_shards": { "total": 1, "successful": 1, "failed": 0 }
            })),
            [first, rest @ ..] if SETUP_APIS.contains(first) => {
                if is_read {
                    ok(setup_lookup(first, rest.first().copied()))
                } else {
                    ok(json!({ "acknowledged": true }))
                }
            }
            // Creating or checking an index (`PUT /logs`, `HEAD /logs`).
            [index] if !index.starts_with('_') && method == Method::PUT => ok(json!({
                "acknowledged": true,
                "shards_acknowledged": true,
                "index": index,
            })),
            [index] if !index.starts_with('_') && method == Method::HEAD => ok(json!({})),
            _ => (
                es_error(
                    StatusCode::NOT_FOUND,
                    "resource_not_found_exception",
                    format!(
                        "logward's elasticsearch input answers GET /, _bulk and the setup probes of shippers, not {method} {path}"
                    ),
                ),
                Some("not_found"),
            ),
        }
    }

    fn root(&self) -> Value {
        json!({
            "name": self.node_name,
            "cluster_name": "logward",
            "cluster_uuid": "logward-receiver",
            "version": {
                "number": self.config.version,
                "build_flavor": "default",
                "build_type": "logward",
                "build_hash": "logward",
                "build_date": "2024-01-01T00:00:00.000Z",
                "build_snapshot": false,
                "lucene_version": "9.11.1",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        })
    }

    fn nodes(&self) -> Value {
        let address = self
            .address
            .map(|a| a.to_string())
            .unwrap_or_else(|| self.config.listen.to_string());
        json!({
            "_nodes": { "total": 1, "successful": 1, "failed": 0 },
            "cluster_name": "logward",
            "nodes": {
                "logward": {
                    "name": self.node_name,
                    "version": self.config.version,
                    "roles": ["data", "ingest", "master"],
                    "http": { "publish_address": address, "bound_address": [address] },
                }
            }
        })
    }

    async fn bulk(
        &self,
        req: Request<Incoming>,
        remote: SocketAddr,
        default_index: Option<String>,
    ) -> (Answer, Option<&'static str>) {
        let started = Instant::now();
        if self.intake.stopping() {
            let (r, kind) = refused(Refused::Stopping, self.config.retry_after.get());
            return (r, Some(kind));
        }
        if !receiver::is_json_media_type(req.headers()) {
            return (
                es_error(
                    StatusCode::NOT_ACCEPTABLE,
                    "media_type_header_exception",
                    "send `Content-Type: application/x-ndjson` (or application/json)",
                ),
                Some("unsupported_media_type"),
            );
        }
        let encoding = match body::encoding(req.headers()) {
            Ok(e) => e,
            Err(e) => {
                return (
                    es_error(e.status(), "illegal_argument_exception", e.to_string()),
                    Some(e.kind()),
                );
            }
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
            Err(e) => {
                return (
                    es_error(e.status(), "illegal_argument_exception", e.to_string()),
                    Some(e.kind()),
                );
            }
        };
        let max_event = self.config.max_event_bytes.as_usize();
        let parsed = tokio::task::spawn_blocking(move || {
            let decoded = body::decode(encoding, &raw, max_body)
                .map_err(|e| (e.status(), e.to_string(), e.kind()))?;
            parse_bulk(&decoded, default_index.as_deref(), max_event)
                .map_err(|m| (StatusCode::BAD_REQUEST, m, "malformed_bulk"))
        })
        .await;
        let (items, docs) = match parsed {
            Ok(Ok(x)) => x,
            Ok(Err((status, message, kind))) => {
                return (
                    es_error(status, "illegal_argument_exception", message),
                    Some(kind),
                );
            }
            Err(_) => {
                return (
                    es_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "exception",
                        "the request could not be read; send it again",
                    ),
                    None,
                );
            }
        };
        let now = format_timestamp(chrono::Utc::now());
        let mut events = Vec::with_capacity(docs.len());
        let mut docs = docs.into_iter();
        for item in &items {
            if let Some((_, kind, _)) = &item.error {
                self.errors.count(
                    match *kind {
                        "mapper_parsing_exception" => "invalid_json",
                        "action_request_validation_exception" => "missing_index",
                        _ => "unsupported_action",
                    },
                    1,
                );
                continue;
            }
            let Some(fields) = docs.next() else { break };
            let mut event = crate::event::Event::with_fields(fields);
            receiver::stamp(&mut event, &now, remote);
            if let Some(index) = &item.index {
                event.insert(&self.index_field, Value::String(index.clone()));
            }
            event
                .metadata
                .insert("_id".into(), Value::String(item.id.clone()));
            self.decoration.apply(&mut event);
            events.push(event);
        }
        match self.intake.accept(events).await {
            Ok(_) => {
                let errors = items.iter().any(|i| i.error.is_some());
                let took = started.elapsed().as_millis() as u64;
                // Written directly: a thousand items as JSON values cost more than the documents.
                let mut body = Vec::with_capacity(64 + items.len() * 200);
                body.extend_from_slice(
                    format!("{{\"took\":{took},\"errors\":{errors},\"items\":[").as_bytes(),
                );
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    write_item_result(item, &mut body);
                }
                body.extend_from_slice(b"]}\n");
                (
                    server::answer(StatusCode::OK, "application/json", body),
                    None,
                )
            }
            Err(r) => {
                let (answer, kind) = refused(r, self.config.retry_after.get());
                (answer, Some(kind))
            }
        }
    }
}

/// What a lookup of a setup API finds: something, so the shipper does not try to install it.
fn setup_lookup(api: &str, name: Option<&str>) -> Value {
    let name = name.unwrap_or("logward");
    match api {
        "_index_template" => json!({
            "index_templates": [{
                "name": name,
                "index_template": { "index_patterns": [format!("{name}*")], "template": {}, "composed_of": [] }
            }]
        }),
        "_component_template" => json!({
            "component_templates": [{ "name": name, "component_template": { "template": {} } }]
        }),
        "_data_stream" => json!({ "data_streams": [] }),
        "_ilm" => json!({ name: { "version": 1, "policy": { "phases": {} } } }),
        _ => json!({ name: {} }),
    }
}

/// The answer to documents the queue did not accept, in Elasticsearch's shape.
fn refused(r: Refused, retry_after: std::time::Duration) -> (Answer, &'static str) {
    let (plain, kind) = receiver::refused_answer(r, retry_after);
    let status = plain.status();
    let es_type = match r {
        Refused::QueueFull => "es_rejected_execution_exception",
        Refused::TooManyEvents { .. } => "illegal_argument_exception",
        _ => "node_closed_exception",
    };
    let reason = match r {
        Refused::QueueFull => "logward's queue is full: nothing of this request was taken; retry it".to_string(),
        Refused::TooManyEvents { events, limit } => format!(
            "{events} documents in one request, more than max_in_flight_events ({limit}): send smaller bulk requests"
        ),
        Refused::Stopping => "logward is stopping: nothing of this request was taken; retry it".into(),
        Refused::Timeout(d) => format!(
            "the queue did not accept the documents within ack_timeout ({d:?}); retry (their _id makes a resend overwrite)"
        ),
        Refused::Abandoned => "the pipeline gave the documents up; retry them".into(),
    };
    let mut answer = es_error(status, es_type, reason);
    if let Some(v) = plain.headers().get(hyper::header::RETRY_AFTER) {
        answer
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, v.clone());
    }
    (answer, kind)
}

/// Appends one item of the `_bulk` answer.
fn write_item_result(item: &Item, out: &mut Vec<u8>) {
    if item.error.is_some() {
        let _ = serde_json::to_writer(&mut *out, &item_result(item));
        return;
    }
    let text = |s: &str, out: &mut Vec<u8>| {
        let _ = serde_json::to_writer(&mut *out, s);
    };
    out.push(b'{');
    text(&item.op, out);
    out.extend_from_slice(b":{\"_index\":");
    text(item.index.as_deref().unwrap_or(""), out);
    out.extend_from_slice(b",\"_id\":");
    text(&item.id, out);
    out.extend_from_slice(
        b",\"_version\":1,\"result\":\"created\",\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0},\"_seq_no\":0,\"_primary_term\":1,\"status\":201}}",
    );
}

fn item_result(item: &Item) -> Value {
    let mut inner = Map::new();
    inner.insert(
        "_index".into(),
        Value::String(item.index.clone().unwrap_or_default()),
    );
    inner.insert("_id".into(), Value::String(item.id.clone()));
    match &item.error {
        None => {
            inner.insert("_version".into(), json!(1));
            inner.insert("result".into(), json!("created"));
            inner.insert(
                "_shards".into(),
                json!({ "total": 1, "successful": 1, "failed": 0 }),
            );
            inner.insert("_seq_no".into(), json!(0));
            inner.insert("_primary_term".into(), json!(1));
            inner.insert("status".into(), json!(201));
        }
        Some((status, kind, reason)) => {
            inner.insert("status".into(), json!(status));
            inner.insert("error".into(), json!({ "type": kind, "reason": reason }));
        }
    }
    let mut outer = Map::new();
    outer.insert(item.op.clone(), Value::Object(inner));
    Value::Object(outer)
}

/// A document id as Elasticsearch makes them up: 20 URL-safe characters.
fn new_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..20)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// Reads a `_bulk` body: the items in order, and the documents of those without an error. A
/// malformed action line fails the whole request, as in Elasticsearch; a bad document fails its item.
pub(crate) fn parse_bulk(
    body: &[u8],
    default_index: Option<&str>,
    max_event: usize,
) -> Result<(Vec<Item>, Vec<crate::event::Fields>), String> {
    let mut lines = body
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_ascii()))
        .filter(|(_, l)| !l.is_empty());
    let mut items = Vec::new();
    let mut docs = Vec::new();
    while let Some((n, line)) = lines.next() {
        let action: Map<String, Value> = serde_json::from_slice(line).map_err(|e| {
            format!("Malformed action/metadata line [{n}], expected an object like {{\"index\":{{}}}}: {e}")
        })?;
        let mut entries = action.into_iter();
        let (Some((op, meta)), None) = (entries.next(), entries.next()) else {
            return Err(format!(
                "Malformed action/metadata line [{n}], expected exactly one action (index, create, update or delete)"
            ));
        };
        let Value::Object(meta) = meta else {
            return Err(format!(
                "Malformed action/metadata line [{n}], the `{op}` action's value is not an object"
            ));
        };
        let text = |k: &str| match meta.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(x)) => Some(x.to_string()),
            _ => None,
        };
        let index = text("_index").or_else(|| default_index.map(str::to_string));
        let given_id = text("_id");
        let needs_source = match op.as_str() {
            "index" | "create" | "update" => true,
            "delete" => false,
            other => {
                return Err(format!(
                    "Malformed action/metadata line [{n}], unknown action `{other}` (index, create, update or delete)"
                ));
            }
        };
        let source = if needs_source {
            let Some((_, source)) = lines.next() else {
                return Err(format!(
                    "the `{op}` action on line [{n}] has no document line after it"
                ));
            };
            Some(source)
        } else {
            None
        };
        let id = given_id.unwrap_or_else(new_id);
        let error = if op == "update" || op == "delete" {
            Some((
                400,
                "illegal_argument_exception",
                format!("logward receives documents; `{op}` is not supported, use index or create"),
            ))
        } else if index.is_none() {
            Some((
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;".to_string(),
            ))
        } else {
            match source.map(|s| receiver::parse_event(s, max_event)) {
                Some(Parsed::Object(fields)) => {
                    docs.push(fields);
                    None
                }
                Some(Parsed::Failed { reason, .. }) => Some((
                    400,
                    "mapper_parsing_exception",
                    format!("failed to parse the document on line [{}]: {reason}", n + 1),
                )),
                None => None,
            }
        };
        items.push(Item {
            op,
            index,
            id,
            error,
        });
    }
    Ok((items, docs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_bodies_give_items_in_order_with_per_item_errors() {
        let body = concat!(
            "{\"index\":{\"_index\":\"logs-a\",\"_id\":\"1\"}}\n{\"message\":\"one\"}\n",
            "{\"create\":{}}\n{\"message\":\"two\"}\n",
            "{\"delete\":{\"_index\":\"x\",\"_id\":\"3\"}}\n",
            "{\"index\":{\"_index\":\"logs-a\"}}\nnot json\n",
            "{\"update\":{\"_index\":\"x\",\"_id\":\"5\"}}\n{\"doc\":{}}\n",
        );
        let (items, docs) = parse_bulk(body.as_bytes(), Some("default"), 1024).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(docs.len(), 2);
        assert_eq!(items[0].id, "1");
        assert_eq!(items[1].index.as_deref(), Some("default"));
        assert_eq!(items[1].id.len(), 20);
        assert!(items[2].error.is_some() && items[3].error.is_some() && items[4].error.is_some());
        assert_eq!(item_result(&items[0])["index"]["status"], 201);
        for item in &items {
            let mut written = Vec::new();
            write_item_result(item, &mut written);
            let v: Value = serde_json::from_slice(&written).unwrap();
            assert_eq!(v, item_result(item));
        }
        assert_eq!(item_result(&items[3])["index"]["status"], 400);
    }

    #[test]
    fn malformed_action_lines_fail_the_request() {
        assert!(parse_bulk(b"garbage\n", None, 1024).is_err());
        assert!(parse_bulk(b"{\"index\":{},\"create\":{}}\n{}\n", None, 1024).is_err());
        assert!(parse_bulk(b"{\"index\":{\"_index\":\"a\"}}\n", None, 1024).is_err());
        assert!(parse_bulk(b"{\"frobnicate\":{}}\n{}\n", None, 1024).is_err());
        let (items, _) = parse_bulk(b"{\"index\":{}}\n{}\n", None, 1024).unwrap();
        assert!(items[0].error.is_some(), "no index anywhere");
    }
}
