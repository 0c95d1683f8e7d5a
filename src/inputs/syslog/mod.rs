//! `type: syslog`: a syslog server. Listens on UDP, TCP and TLS (RFC 5426, RFC 6587, RFC 5425), reads RFC
//! 5424 and RFC 3164 messages ([`parse`]), and turns each into an event with the ECS `log.syslog.*`
//! fields and the sender's address in `log.source.address`.
//!
//! The listeners run as tasks on the pipeline's runtime ([`server`]); each connection and the UDP socket
//! parse what they read and hand batches over a small bounded channel to the input's thread, which runs
//! the processors and publishes into the queue. When the queue is full the thread waits, the channel
//! fills, and then: a TCP or TLS connection stops reading (its sender sees the TCP window close: nothing
//! is lost), while UDP, which cannot make a sender wait, drops the newest datagrams and counts them in
//! `component_discarded_events_total{intentional="false"}`.
//!
//! Syslog has no acknowledgements, so events are acknowledged to nobody; a graceful stop still closes
//! the listeners first, hands every message already read to the queue and waits (up to the shutdown
//! timeout) for the outputs to deliver them. A frame that is not syslog (no `<PRI>`, a broken RFC 5424
//! header, lost octet-counted framing) is never fatal: it is counted
//! (`component_errors_total{error_type="invalid_frame"}`) and shipped raw, tagged `syslog_invalid`, with
//! the reason in `error.message`.

pub mod framing;
pub mod parse;
pub mod parse_3164;
pub mod parse_5424;
mod server;
pub mod tls;

use crate::component::{InputBuild, InputConfig, InputKind, Listen, Protocol, Validator};
use crate::config::{ByteSize, HumanDuration};
use crate::event::{Event, Fields, MESSAGE, TIMESTAMP, format_timestamp};
use crate::inputs::{Input, InputContext};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::Counter;
use crate::pipeline::checkpoint::{Checkpoints, Cursor};
use chrono::{DateTime, Utc};
use parse::{Format, Message, Zone};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The `syslog` input type.
pub const KIND: InputKind = InputKind::of::<SyslogInputConfig>(
    "syslog",
    "a syslog server: RFC 5424 and RFC 3164 over UDP, TCP and TLS",
);

/// `type: syslog`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogInputConfig {
    /// A UDP listener (RFC 5426): one message a datagram.
    #[serde(default)]
    pub udp: Option<UdpListen>,
    /// A TCP listener (RFC 6587): octet-counted or newline-separated, found per connection.
    #[serde(default)]
    pub tcp: Option<TcpListen>,
    /// A TLS listener (RFC 5425).
    #[serde(default)]
    pub tls: Option<TlsListen>,
    /// `auto` (RFC 5424 when the version follows the priority, else RFC 3164), `rfc3164` or `rfc5424`.
    #[serde(default)]
    pub format: Format,
    /// Longer messages are cut to this size and tagged `truncated`.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: ByteSize,
    /// TCP and TLS connections open at once; more are closed as they come, and counted.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A TCP or TLS connection silent this long is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// The zone of RFC 3164 timestamps, which carry none: `Local` (default), `UTC` or an IANA name.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

/// `udp:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpListen {
    /// Address and port (`0.0.0.0:514`).
    pub address: SocketAddr,
}

/// `tcp:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpListen {
    /// Address and port (`0.0.0.0:514`).
    pub address: SocketAddr,
}

/// `tls:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsListen {
    /// Address and port (`0.0.0.0:6514`).
    pub address: SocketAddr,
    /// The server's certificate chain (PEM, the server's certificate first).
    pub certificate: PathBuf,
    /// Its private key (PEM, unencrypted).
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA (PEM).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

fn default_max_message_bytes() -> ByteSize {
    ByteSize(64 * 1024)
}

fn default_max_connections() -> usize {
    1000
}

fn default_idle_timeout() -> HumanDuration {
    HumanDuration::secs(300)
}

fn default_timezone() -> String {
    "Local".into()
}

/// The largest `max_message_bytes` accepted: 16 MiB.
const MAX_MESSAGE_LIMIT: u64 = 16 * 1024 * 1024;

impl InputConfig for SyslogInputConfig {
    fn default_id(&self) -> String {
        let mut id = String::from("syslog");
        for l in self.listen() {
            id.push_str(&format!("-{}{}", l.key.trim_end_matches(".address"), l.address.port()));
        }
        id
    }

    fn validate(&mut self, v: &mut Validator<'_>) {
        if self.udp.is_none() && self.tcp.is_none() && self.tls.is_none() {
            v.error_entry(
                "the syslog input listens nowhere: give at least one of `udp: {address: …}`, \
                 `tcp: {address: …}` or `tls: {address: …, certificate: …, key: …}`",
            );
        }
        let max = self.max_message_bytes.get();
        if max == 0 || max > MAX_MESSAGE_LIMIT {
            v.error(
                "max_message_bytes",
                format!("`max_message_bytes` must be between 1 byte and 16MiB, not {max} bytes"),
            );
        }
        if self.max_connections == 0 {
            v.error("max_connections", "`max_connections` must be at least 1");
        }
        if self.idle_timeout.get().is_zero() {
            v.error("idle_timeout", "`idle_timeout` must be more than 0s (for example 5m)");
        }
        if let Err(e) = Zone::parse(&self.timezone) {
            v.error("timezone", e);
        }
        if let (Some(tcp), Some(tls)) = (&self.tcp, &self.tls)
            && Listen::conflicts_with(
                &Listen { protocol: Protocol::Tcp, address: tcp.address, key: "tcp.address" },
                &Listen { protocol: Protocol::Tcp, address: tls.address, key: "tls.address" },
            )
        {
            v.error_in(
                &["tls", "address"],
                format!("`tls.address` {} is the TCP listener's address too: give TLS its own port (6514 is usual)", tls.address),
            );
        }
        if let Some(tls) = &mut self.tls {
            tls.certificate = v.resolve(&tls.certificate);
            tls.key = v.resolve(&tls.key);
            tls.client_ca = tls.client_ca.as_ref().map(|p| v.resolve(p));
            if let Err(e) = tls::server_config(&tls.certificate, &tls.key, tls.client_ca.as_deref()) {
                v.error_in(&["tls", "certificate"], format!("{e:#}"));
            }
        }
    }

    fn listen(&self) -> Vec<Listen> {
        let mut out = Vec::new();
        if let Some(u) = &self.udp {
            out.push(Listen { protocol: Protocol::Udp, address: u.address, key: "udp.address" });
        }
        if let Some(t) = &self.tcp {
            out.push(Listen { protocol: Protocol::Tcp, address: t.address, key: "tcp.address" });
        }
        if let Some(t) = &self.tls {
            out.push(Listen { protocol: Protocol::Tcp, address: t.address, key: "tls.address" });
        }
        out
    }

    fn build(&self, ctx: &InputBuild<'_>) -> anyhow::Result<Box<dyn Input>> {
        let zone = Zone::parse(&self.timezone).map_err(anyhow::Error::msg)?;
        let tls = match &self.tls {
            Some(t) => Some((
                t.address,
                tls::server_config(&t.certificate, &t.key, t.client_ca.as_deref())?,
            )),
            None => None,
        };
        Ok(Box::new(SyslogInput {
            config: self.clone(),
            zone,
            tls,
            batch: ctx.batch_events.max(1),
        }))
    }
}

struct SyslogInput {
    config: SyslogInputConfig,
    zone: Zone,
    tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    batch: usize,
}

/// Nothing is saved: a syslog sender does not resend. The cursor only orders acknowledgements, so a
/// stop can wait for what was accepted.
struct Delivered;

impl Cursor for Delivered {
    type State = ();
    fn apply(self, _: &mut ()) {}
}

/// How many batches may wait between the listeners and the input's thread.
const HANDOVER_BATCHES: usize = 16;

impl Input for SyslogInput {
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()> {
        let shared = Arc::new(Shared {
            format: self.config.format,
            zone: self.zone,
            max: self.config.max_message_bytes.as_usize(),
            batch: self.batch,
            idle: self.config.idle_timeout.get(),
            max_connections: self.config.max_connections,
            decoration: ctx.decoration.clone(),
            host: json!({ "name": ctx.host_name }),
            counters: Counters::new(&ctx.id),
            id: ctx.id.clone(),
            tls_log: std::sync::Mutex::new(server::Throttle::new()),
        });
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Event>>(HANDOVER_BATCHES);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let listeners = server::Listeners {
            udp: self.config.udp.as_ref().map(|u| u.address),
            tcp: self.config.tcp.as_ref().map(|t| t.address),
            tls: self.tls.clone(),
        };
        let bound = {
            let _in_runtime = ctx.runtime.enter();
            server::start(listeners, &shared, &tx, &stop_rx)?
        };
        drop(tx);
        tracing::info!(input = %ctx.id, listening = %bound.join(", "), "syslog input listening");
        let mut acks = Checkpoints::<Delivered>::in_memory();
        let mut closed = false;
        while !ctx.stop.is_stopped() {
            match next_batches(&ctx, &mut rx, self.batch, Duration::from_millis(200)) {
                Next::Batch(events) => {
                    if acks.publish(&ctx.sender, events, Delivered).is_err() {
                        closed = true;
                        break;
                    }
                }
                Next::Idle => {}
                Next::Ended => break,
            }
            acks.poll();
        }
        // Stop: no more connections or reads; what was read is published, then delivered.
        let _ = stop_tx.send(true);
        while !closed && !ctx.force.is_stopped() {
            match next_batches(&ctx, &mut rx, self.batch, Duration::from_millis(100)) {
                Next::Batch(events) => {
                    if acks.publish(&ctx.sender, events, Delivered).is_err() {
                        break;
                    }
                }
                Next::Idle => {}
                Next::Ended => break,
            }
        }
        drop(rx);
        acks.finish(&ctx.force, &ctx.id);
        Ok(())
    }
}

enum Next {
    Batch(Vec<Event>),
    Idle,
    Ended,
}

/// Waits up to `wait` for a batch from the listeners, joined with those already waiting up to `max`.
fn next_batches(
    ctx: &InputContext,
    rx: &mut tokio::sync::mpsc::Receiver<Vec<Event>>,
    max: usize,
    wait: Duration,
) -> Next {
    let got = crate::observe::watchdog::waiting(|| {
        ctx.runtime
            .block_on(async { tokio::time::timeout(wait, rx.recv()).await })
    });
    match got {
        Err(_) => Next::Idle,
        Ok(None) => Next::Ended,
        Ok(Some(mut events)) => {
            while events.len() < max {
                match rx.try_recv() {
                    Ok(more) => events.extend(more),
                    Err(_) => break,
                }
            }
            Next::Batch(events)
        }
    }
}

/// What every listener task shares.
pub(crate) struct Shared {
    format: Format,
    zone: Zone,
    max: usize,
    batch: usize,
    idle: Duration,
    max_connections: usize,
    decoration: crate::component::Decoration,
    host: Value,
    counters: Counters,
    id: String,
    /// Failed TLS handshakes are logged at most every ten seconds.
    tls_log: std::sync::Mutex<server::Throttle>,
}

struct Counters {
    invalid: Counter,
    invalid_utf8: Counter,
    truncated: Counter,
    /// UDP datagrams dropped because the queue was full.
    udp_dropped: Counter,
    refused: Counter,
    tls_failed: Counter,
    read_failed: Counter,
    idle_closed: Counter,
}

impl Counters {
    fn new(id: &str) -> Counters {
        let m = ComponentMetrics::new(Kind::Input, id, "syslog");
        Counters {
            invalid: m.errors("invalid_frame", Stage::Receiving),
            invalid_utf8: m.errors("invalid_utf8", Stage::Receiving),
            truncated: m.errors("message_truncated", Stage::Receiving),
            udp_dropped: m.discarded(false),
            refused: m.errors("too_many_connections", Stage::Receiving),
            tls_failed: m.errors("tls_handshake", Stage::Receiving),
            read_failed: m.errors("connection_failed", Stage::Receiving),
            idle_closed: m.counter("syslog_idle_connections_closed_total"),
        }
    }
}

impl Shared {
    /// The event of one frame from `peer`, received at `now`.
    fn event(&self, frame: framing::Frame<'_>, peer: &str, now: DateTime<Utc>) -> Event {
        let mut bytes = frame.bytes;
        while let [rest @ .., b'\n' | b'\r' | b'\0'] = bytes {
            bytes = rest;
        }
        let parsed = match frame.problem {
            Some(p) => Err(parse::Invalid(p)),
            None => parse::parse(bytes, self.format, self.zone, now),
        };
        let mut event = match parsed {
            Ok(m) => {
                let invalid_utf8 = m.invalid_utf8;
                let mut e = self.message_event(m, peer, now);
                if invalid_utf8 {
                    self.counters.invalid_utf8.inc();
                    e.add_tag("invalid_utf8");
                }
                e
            }
            Err(parse::Invalid(why)) => self.invalid_event(bytes, &why, peer, now),
        };
        if frame.truncated {
            self.counters.truncated.inc();
            event.add_tag("truncated");
        }
        self.decoration.apply(&mut event);
        event
    }

    fn message_event(&self, m: Message, peer: &str, now: DateTime<Utc>) -> Event {
        let mut syslog = Map::new();
        syslog.insert("priority".into(), m.priority.into());
        syslog.insert(
            "facility".into(),
            json!({ "code": m.facility(), "name": parse::facility_name(m.facility()) }),
        );
        syslog.insert(
            "severity".into(),
            json!({ "code": m.severity(), "name": parse::severity_name(m.severity()) }),
        );
        for (key, value) in [
            ("hostname", m.hostname),
            ("appname", m.appname),
            ("procid", m.procid),
            ("msgid", m.msgid),
        ] {
            if let Some(v) = value {
                syslog.insert(key.into(), Value::String(v));
            }
        }
        if let Some(v) = m.version {
            syslog.insert("version".into(), v.into());
        }
        if !m.structured_data.is_empty() {
            syslog.insert("structured_data".into(), structured_data(m.structured_data));
        }
        let mut fields = Fields::new();
        fields.insert(
            TIMESTAMP.into(),
            Value::String(format_timestamp(m.timestamp.unwrap_or(now))),
        );
        fields.insert(MESSAGE.into(), Value::String(m.message));
        fields.insert(
            "log".into(),
            json!({ "syslog": Value::Object(syslog), "source": { "address": peer } }),
        );
        fields.insert("host".into(), self.host.clone());
        Event::with_fields(fields)
    }

    fn invalid_event(&self, bytes: &[u8], why: &str, peer: &str, now: DateTime<Utc>) -> Event {
        self.counters.invalid.inc();
        let mut fields = Fields::new();
        fields.insert(TIMESTAMP.into(), Value::String(format_timestamp(now)));
        let text = String::from_utf8_lossy(bytes);
        let lossy = matches!(text, std::borrow::Cow::Owned(_));
        fields.insert(MESSAGE.into(), Value::String(text.into_owned()));
        fields.insert("log".into(), json!({ "source": { "address": peer } }));
        fields.insert("host".into(), self.host.clone());
        fields.insert("error".into(), json!({ "message": why }));
        let mut e = Event::with_fields(fields);
        e.add_tag("syslog_invalid");
        if lossy {
            self.counters.invalid_utf8.inc();
            e.add_tag("invalid_utf8");
        }
        e
    }
}

/// `{"exampleSDID@32473": {"iut": "3", …}, …}`; a parameter written more than once holds every value.
fn structured_data(elements: Vec<parse::SdElement>) -> Value {
    let mut out = Map::new();
    for el in elements {
        let slot = out
            .entry(el.id)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(params) = slot else {
            continue;
        };
        for (name, value) in el.params {
            match params.get_mut(&name) {
                None => {
                    params.insert(name, Value::String(value));
                }
                Some(Value::Array(list)) => list.push(Value::String(value)),
                Some(old) => {
                    let first = std::mem::take(old);
                    *old = Value::Array(vec![first, Value::String(value)]);
                }
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_keep_every_value() {
        let v = structured_data(vec![
            parse::SdElement { id: "a".into(), params: vec![("k".into(), "1".into()), ("k".into(), "2".into()), ("k".into(), "3".into())] },
            parse::SdElement { id: "b".into(), params: vec![] },
        ]);
        assert_eq!(v, json!({ "a": { "k": ["1", "2", "3"] }, "b": {} }));
    }
}
