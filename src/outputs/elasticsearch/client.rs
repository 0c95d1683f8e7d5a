//! The connection to a cluster: several hosts used round-robin, a host that fails is set aside and
//! probed again after a growing pause, authentication, TLS, and what the server is (`GET /`).

use super::config::ElasticsearchConfig;
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Checks a host URL; returns it without a trailing slash.
pub fn parse_host(h: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(h).map_err(|e| {
        format!("`{h}` is not a URL ({e}); write it as http://host:9200 or https://host:9200")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{h}`: the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(format!("`{h}` has no host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{h}` carries credentials; use `username`/`password`, `api_key` or `bearer_token` instead"
        ));
    }
    Ok(h.trim_end_matches('/').to_string())
}

/// What answered `GET /`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `Elasticsearch` or `OpenSearch`.
    pub distribution: Distribution,
    /// The version text, e.g. `8.15.3`.
    pub version: String,
    /// The major version.
    pub major: u32,
}

/// The kind of server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Elastic's Elasticsearch.
    Elasticsearch,
    /// OpenSearch.
    OpenSearch,
}

impl std::fmt::Display for ServerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.distribution {
            Distribution::Elasticsearch => "Elasticsearch",
            Distribution::OpenSearch => "OpenSearch",
        };
        write!(f, "{name} {}", self.version)
    }
}

impl ServerInfo {
    /// Reads the `GET /` answer; the error says why this is not an Elasticsearch-compatible server.
    pub fn from_root(body: &[u8]) -> Result<ServerInfo, String> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
            format!(
                "it answered GET / with something that is not JSON: {:?}",
                String::from_utf8_lossy(&body[..body.len().min(120)])
            )
        })?;
        let number = v
            .pointer("/version/number")
            .and_then(serde_json::Value::as_str)
            .ok_or(
                "its GET / answer has no version.number, so it is not Elasticsearch or OpenSearch",
            )?;
        let distribution = match v
            .pointer("/version/distribution")
            .and_then(serde_json::Value::as_str)
        {
            Some("opensearch") => Distribution::OpenSearch,
            _ => Distribution::Elasticsearch,
        };
        let major = number
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| format!("its version `{number}` is not a version number"))?;
        if distribution == Distribution::Elasticsearch && major < 6 {
            return Err(format!(
                "it is Elasticsearch {number}; logward needs 6.x or later"
            ));
        }
        Ok(ServerInfo {
            distribution,
            version: number.to_string(),
            major,
        })
    }

    /// Elasticsearch 6 still wants a mapping type in bulk actions.
    pub fn needs_type(&self) -> bool {
        self.distribution == Distribution::Elasticsearch && self.major < 7
    }
}

/// Why a request got no HTTP answer.
#[derive(Debug)]
pub struct TransportError {
    /// The host that failed.
    pub host: String,
    /// What happened (connection refused, timeout, reset).
    pub message: String,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.host, self.message)
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The host that answered.
    pub host: String,
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// Which of the cluster's hosts answered.
    host_index: usize,
}

struct HostHealth {
    /// Set aside until then (probed again after it).
    down_until: Option<Instant>,
    /// Failures in a row.
    failures: u32,
    /// What the last failure was, for messages while the host is set aside.
    last_error: String,
}

/// Failures in a row after which a host is set aside even when no other host could take its share.
/// Fewer than that on the only host that answers: requests keep going to it (each with its own retry
/// backoff), since pausing it would stop all sending.
pub const SET_ASIDE_AFTER: u32 = 3;

/// A cluster: its hosts, their health, the HTTP client.
pub struct Cluster {
    client: reqwest::Client,
    hosts: Vec<String>,
    health: Mutex<Vec<HostHealth>>,
    next: AtomicUsize,
    /// How long a host set aside waits before it is probed (grows with its failures in a row).
    backoff: crate::outputs::runner::Backoff,
    /// Which credential is used, for messages (`user "elastic"`, `API key id "abc"`).
    credential: String,
}

/// Installs the process-wide TLS crypto provider once (reqwest is built without a default one, to keep
/// a single, portable implementation: ring).
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Cluster {
    /// Builds the client from the output's settings. Fails on unreadable certificates or keys.
    pub fn new(cfg: &ElasticsearchConfig) -> anyhow::Result<Cluster> {
        install_crypto_provider();
        let mut headers = HeaderMap::new();
        let mut credential = "no credentials".to_string();
        if let Some(user) = &cfg.username {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{user}:{}", cfg.password.as_deref().unwrap_or("")));
            headers.insert(AUTHORIZATION, secret(&format!("Basic {token}"))?);
            credential = format!("user `{user}` and its password");
        } else if let Some(key) = &cfg.api_key {
            let (encoded, id) = match key.split_once(':') {
                Some((id, _)) => (
                    base64::engine::general_purpose::STANDARD.encode(key),
                    id.to_string(),
                ),
                None => {
                    let id = base64::engine::general_purpose::STANDARD
                        .decode(key)
                        .ok()
                        .and_then(|d| String::from_utf8(d).ok())
                        .and_then(|d| d.split_once(':').map(|(i, _)| i.to_string()))
                        .unwrap_or_else(|| "?".into());
                    (key.clone(), id)
                }
            };
            headers.insert(AUTHORIZATION, secret(&format!("ApiKey {encoded}"))?);
            credential = format!("the API key with id `{id}`");
        } else if let Some(token) = &cfg.bearer_token {
            headers.insert(AUTHORIZATION, secret(&format!("Bearer {token}"))?);
            credential = "the bearer token".into();
        }
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("logward/", env!("CARGO_PKG_VERSION")))
            .timeout(cfg.timeout.get())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(cfg.workers.max(1) * 2)
            .tcp_nodelay(true)
            .no_proxy();
        if let Some(ca) = &cfg.tls.ca {
            let pem = std::fs::read(ca)
                .map_err(|e| anyhow::anyhow!("cannot read the CA file {}: {e}", ca.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                anyhow::anyhow!("the CA file {} is not PEM certificates: {e}", ca.display())
            })? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let (Some(cert), Some(key)) = (&cfg.tls.certificate, &cfg.tls.key) {
            let mut pem = std::fs::read(cert).map_err(|e| {
                anyhow::anyhow!("cannot read the client certificate {}: {e}", cert.display())
            })?;
            pem.push(b'\n');
            pem.extend(std::fs::read(key).map_err(|e| {
                anyhow::anyhow!("cannot read the client key {}: {e}", key.display())
            })?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                anyhow::anyhow!(
                    "the client certificate {} and key {} do not form a valid PEM identity: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        if !cfg.tls.verify {
            tracing::warn!(
                "TLS verification is off for {:?}: the connection is encrypted but anyone in between can read it",
                cfg.hosts
            );
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
        let hosts = cfg
            .hosts
            .iter()
            .map(|h| parse_host(h).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let health = hosts
            .iter()
            .map(|_| HostHealth {
                down_until: None,
                failures: 0,
                last_error: String::new(),
            })
            .collect();
        Ok(Cluster {
            client,
            hosts,
            health: Mutex::new(health),
            next: AtomicUsize::new(fastrand::usize(..usize::MAX / 2)),
            backoff: crate::outputs::runner::Backoff {
                init: cfg.backoff.init.get(),
                max: cfg.backoff.max.get(),
            },
            credential,
        })
    }

    /// The HTTP client with the output's credentials and TLS settings, for requests to other services
    /// of the same stack (Kibana).
    pub fn http_client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Which credential is in use, for error messages.
    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// The configured hosts.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The next host to use: round-robin over the hosts that are not set aside (or whose pause has
    /// ended: a probe). When every host is set aside and none is due for its probe, the error says
    /// when the first one is.
    fn pick(&self) -> Result<usize, Instant> {
        let now = Instant::now();
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.hosts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for k in 0..n {
            let i = (start + k) % n;
            if health[i].down_until.is_none_or(|t| t <= now) {
                return Ok(i);
            }
        }
        Err(health
            .iter()
            .filter_map(|h| h.down_until)
            .min()
            .unwrap_or(now))
    }

    /// Records a host's answer (`ok`) or failure (`error`). A failing host is set aside when another
    /// host can take its share, or after [`SET_ASIDE_AFTER`] failures in a row; its pause grows with
    /// its failures like the output's backoff (half to all of `init·2^(failures-1)`, at most `max`).
    fn mark(&self, i: usize, ok: bool, error: &str) {
        let now = Instant::now();
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let others_up = health
            .iter()
            .enumerate()
            .any(|(j, h)| j != i && h.down_until.is_none_or(|t| t <= now));
        let h = &mut health[i];
        if ok {
            if h.down_until.is_some() {
                tracing::info!(host = %self.hosts[i], "the host answers again");
            }
            h.down_until = None;
            h.failures = 0;
            return;
        }
        h.failures = h.failures.saturating_add(1);
        h.last_error = error.to_string();
        if !others_up && h.failures < SET_ASIDE_AFTER {
            return;
        }
        let cap = self
            .backoff
            .init
            .saturating_mul(1u32 << (h.failures - 1).min(20))
            .min(self.backoff.max);
        let pause = cap.mul_f64(0.5 + 0.5 * fastrand::f64());
        if h.down_until.is_none() {
            if others_up {
                tracing::warn!(host = %self.hosts[i], pause = ?pause, "host set aside; the other hosts take its share: {error}");
            } else {
                tracing::warn!(host = %self.hosts[i], pause = ?pause, failures = h.failures, "host set aside after failing {} times in a row, probed again after its pause: {error}", h.failures);
            }
        }
        h.down_until = Some(now + pause);
    }

    /// Sends one request to the next healthy host and reads at most `max_answer` bytes of the answer
    /// (see [`AnswerLimit`]). A connection failure, an answer longer than that, or a 502/503/504 sets
    /// the host aside; any other answer marks it up.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(Vec<u8>, &'static str, bool)>,
        max_answer: AnswerLimit,
    ) -> Result<Answer, TransportError> {
        let answer = self.send(method, path, body, max_answer).await?;
        self.host_answered(
            &answer,
            super::policy::status_sets_host_aside(answer.status),
        );
        Ok(answer)
    }

    /// Sends one request to the next healthy host and returns the answer without judging the host
    /// by it: the caller decides with [`Cluster::host_answered`]. A connection failure, or an answer
    /// longer than `max_answer`, sets the host aside.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(Vec<u8>, &'static str, bool)>,
        max_answer: AnswerLimit,
    ) -> Result<Answer, TransportError> {
        let i = match self.pick() {
            Ok(i) => i,
            Err(probe) => {
                let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
                let last = health
                    .iter()
                    .map(|h| h.last_error.as_str())
                    .find(|e| !e.is_empty())
                    .unwrap_or("");
                return Err(TransportError {
                    host: self.hosts.join(", "),
                    message: format!(
                        "every host is set aside after failing {SET_ASIDE_AFTER} or more times in a row ({last}); the next probe is in {:?}",
                        probe.saturating_duration_since(Instant::now())
                    ),
                });
            }
        };
        let host = &self.hosts[i];
        let mut req = self.client.request(method, format!("{host}{path}"));
        if let Some((bytes, content_type, gzip)) = body {
            req = req.header(CONTENT_TYPE, content_type);
            if gzip {
                req = req.header(CONTENT_ENCODING, "gzip");
            }
            req = req.body(bytes);
        }
        let failure = |message: String| {
            self.mark(i, false, &message);
            TransportError {
                host: host.clone(),
                message,
            }
        };
        let resp = req.send().await.map_err(|e| failure(describe(&e)))?;
        let status = resp.status().as_u16();
        let body = read_bounded(resp, max_answer)
            .await
            .map_err(|e| failure(e.describe(status, max_answer)))?;
        Ok(Answer {
            host: host.clone(),
            status,
            body,
            host_index: i,
        })
    }

    /// Records what an answer says about the host that gave it: set aside for a while, or up.
    pub fn host_answered(&self, answer: &Answer, set_aside: bool) {
        let error = if set_aside {
            format!("HTTP {}", answer.status)
        } else {
            String::new()
        };
        self.mark(answer.host_index, !set_aside, &error);
    }

    /// Asks a host what it is.
    pub async fn info(&self) -> Result<ServerInfo, InfoError> {
        let answer = self
            .request(reqwest::Method::GET, "/", None, AnswerLimit::SMALL)
            .await
            .map_err(|e| InfoError::Unreachable(e.to_string()))?;
        match answer.status {
            200 => ServerInfo::from_root(&answer.body)
                .map_err(|e| InfoError::NotElasticsearch(format!("{}: {e}", answer.host))),
            401 | 403 => Err(InfoError::Denied(self.auth_failure(&answer))),
            s => Err(InfoError::Unreachable(format!(
                "{} answered GET / with HTTP {s}: {}",
                answer.host,
                excerpt(&answer.body)
            ))),
        }
    }

    /// A plain-words message for a 401/403 answer.
    pub fn auth_failure(&self, answer: &Answer) -> String {
        let reason = serde_json::from_slice::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| {
                v.pointer("/error/reason")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| excerpt(&answer.body));
        if answer.status == 401 {
            format!(
                "{} refused {} (HTTP 401: {reason}); check the credential in the output's settings",
                answer.host, self.credential
            )
        } else {
            format!(
                "{} accepted {} but it lacks the privileges for this (HTTP 403: {reason}); grant it write access to the target indices",
                answer.host, self.credential
            )
        }
    }
}

/// Why `GET /` did not tell what the server is.
#[derive(Debug)]
pub enum InfoError {
    /// No answer, or a server error: try again later.
    Unreachable(String),
    /// It answered, but it is not Elasticsearch/OpenSearch.
    NotElasticsearch(String),
    /// The credentials were refused.
    Denied(String),
}

/// The most bytes read of one answer. A server (or something in front of it) that sends more than a
/// request can legitimately get back is misbehaving; reading on would let it fill the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerLimit(pub usize);

impl AnswerLimit {
    /// `GET /`, templates, lifecycle policies, points in time: a few KiB in practice.
    pub const SMALL: AnswerLimit = AnswerLimit(16 << 20);
    /// One page of search hits (at most 10,000 documents).
    pub const SEARCH_PAGE: AnswerLimit = AnswerLimit(256 << 20);

    /// A `_bulk` answer for `items` documents: a generous floor plus room for a long error on every
    /// item (real answers, with `filter_path`, are a few dozen bytes per stored item and a few hundred
    /// per refused one).
    pub fn bulk(items: usize) -> AnswerLimit {
        AnswerLimit((1 << 20) + items.saturating_mul(2 << 10))
    }
}

impl std::fmt::Display for AnswerLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 >= 1 << 20 {
            write!(f, "{:.1} MiB", self.0 as f64 / f64::from(1u32 << 20))
        } else {
            write!(f, "{} bytes", self.0)
        }
    }
}

/// Why an answer's body could not be read.
enum BodyError {
    /// The connection failed or timed out while reading.
    Transport(reqwest::Error),
    /// It is longer than the limit (announced or actually sent).
    TooLong,
}

impl BodyError {
    fn describe(&self, status: u16, limit: AnswerLimit) -> String {
        match self {
            BodyError::Transport(e) => describe(e),
            BodyError::TooLong => format!(
                "the answer (HTTP {status}) is longer than {limit}, more than this request can get back; stopped reading it"
            ),
        }
    }
}

/// Reads the body, at most `limit` bytes of it.
async fn read_bounded(
    mut resp: reqwest::Response,
    limit: AnswerLimit,
) -> Result<Vec<u8>, BodyError> {
    let announced = resp.content_length().unwrap_or(0);
    if announced > limit.0 as u64 {
        return Err(BodyError::TooLong);
    }
    let mut body = Vec::with_capacity(announced as usize);
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit.0 {
            return Err(BodyError::TooLong);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn secret(value: &str) -> anyhow::Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        anyhow::anyhow!("the credential contains characters that cannot go in an HTTP header")
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// The first 300 characters of a body, for messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.trim().to_string()
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_timeout() {
        "the request timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "the connection failed".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    if let Some(hint) = tls_hint(&msg) {
        msg.push_str(" — ");
        msg.push_str(hint);
    }
    msg
}

/// What to do about a certificate the TLS library refused, in the words of its configuration. The
/// library names the problem (`CaUsedAsEndEntity`, `UnknownIssuer`, …) but not the fix.
fn tls_hint(error: &str) -> Option<&'static str> {
    if error.contains("CaUsedAsEndEntity") {
        Some(
            "the server presents a CA certificate (self-signed, `CA:TRUE`) as its own certificate, which TLS \
             forbids even when that CA is in `tls.ca`: give the server a certificate signed by the CA \
             (with its host name or IP in subjectAltName) and keep only the CA in `tls.ca`",
        )
    } else if error.contains("UnknownIssuer") {
        Some(
            "the server's certificate is not signed by a trusted CA: put the CA that signed it (PEM) in `tls.ca`",
        )
    } else if error.contains("NotValidForName") {
        Some(
            "the server's certificate does not name the host in `hosts`: use the name it was issued for, or \
             issue it with this host name or IP in subjectAltName",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_kinds_are_told_apart() {
        let es = ServerInfo::from_root(br#"{"version":{"number":"8.15.3","build_flavor":"default"},"tagline":"You Know, for Search"}"#).unwrap();
        assert_eq!(
            (es.distribution, es.major),
            (Distribution::Elasticsearch, 8)
        );
        assert!(!es.needs_type());
        let os =
            ServerInfo::from_root(br#"{"version":{"distribution":"opensearch","number":"3.8.0"}}"#)
                .unwrap();
        assert_eq!((os.distribution, os.major), (Distribution::OpenSearch, 3));
        assert!(
            ServerInfo::from_root(br#"{"version":{"number":"6.8.0"}}"#)
                .unwrap()
                .needs_type()
        );
        assert!(
            ServerInfo::from_root(b"<html>nginx</html>")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            ServerInfo::from_root(br#"{"status":"ok"}"#)
                .unwrap_err()
                .contains("version.number")
        );
        assert!(
            ServerInfo::from_root(br#"{"version":{"number":"5.6.0"}}"#)
                .unwrap_err()
                .contains("6.x")
        );
    }

    #[test]
    fn host_urls_are_checked() {
        assert_eq!(parse_host("http://es1:9200/").unwrap(), "http://es1:9200");
        assert!(parse_host("es1:9200").is_err());
        assert!(parse_host("ftp://es1").is_err());
        assert!(
            parse_host("https://u:p@es1:9200")
                .unwrap_err()
                .contains("credentials")
        );
    }

    /// A loopback server answering `/small` with a short body, `/announced` with a Content-Length far
    /// beyond any limit, and anything else with a chunked body that never ends.
    fn oversized_answers_server() -> std::net::SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8];
                    while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    if head.starts_with("GET /small ") {
                        let _ = conn.write_all(
                            // One request per connection: the client must not reuse one this thread
                            // is about to close.
                            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
                        );
                    } else if head.starts_with("GET /announced ") {
                        let _ = conn
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{");
                    } else {
                        let _ = conn
                            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                        let chunk = format!("{:x}\r\n{}\r\n", 65_536, "x".repeat(65_536));
                        while conn.write_all(chunk.as_bytes()).is_ok() {}
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn answers_longer_than_the_limit_are_cut_off() {
        let addr = oversized_answers_server();
        let cfg: ElasticsearchConfig =
            serde_json::from_str(&format!(r#"{{"hosts":["http://{addr}"]}}"#)).unwrap();
        let cluster = Cluster::new(&cfg).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let get = |path: &'static str| {
            rt.block_on(cluster.request(reqwest::Method::GET, path, None, AnswerLimit(1 << 20)))
        };
        assert_eq!(get("/small").unwrap().body, br#"{"ok":true}"#);
        for path in ["/endless", "/announced"] {
            let e = get(path).unwrap_err();
            assert!(
                e.message.contains("(HTTP 200) is longer than 1.0 MiB")
                    && e.message.contains("stopped reading it"),
                "{path}: {e}"
            );
        }
        assert_eq!(
            AnswerLimit::bulk(1024),
            AnswerLimit((1 << 20) + 1024 * 2048)
        );
        assert_eq!(AnswerLimit::bulk(1024).to_string(), "3.0 MiB");
    }

    #[test]
    fn a_failing_host_is_set_aside_and_the_others_take_over() {
        let cfg: ElasticsearchConfig = serde_json::from_str(
            r#"{"hosts":["http://127.0.0.1:1","http://127.0.0.1:2","http://127.0.0.1:3"]}"#,
        )
        .unwrap();
        let c = Cluster::new(&cfg).unwrap();
        c.mark(1, false, "refused");
        for _ in 0..30 {
            assert_ne!(c.pick(), Ok(1));
        }
        c.mark(0, false, "refused");
        // The last host that answers is not paused for one failure: sending goes on.
        c.mark(2, false, "HTTP 503");
        for _ in 0..10 {
            assert_eq!(c.pick(), Ok(2));
        }
        for _ in 1..SET_ASIDE_AFTER {
            c.mark(2, false, "HTTP 503");
        }
        // Every host is set aside now: none is picked before its probe.
        assert!(c.pick().is_err());
        c.health.lock().unwrap()[1].down_until = Some(Instant::now());
        assert_eq!(c.pick(), Ok(1), "host 1's pause ended: it is probed");
        c.mark(2, true, "");
        assert_eq!(c.health.lock().unwrap()[2].failures, 0);
    }

    #[test]
    fn the_only_host_keeps_taking_requests_until_it_fails_several_times_in_a_row() {
        let cfg: ElasticsearchConfig =
            serde_json::from_str(r#"{"hosts":["http://127.0.0.1:1"]}"#).unwrap();
        let c = Cluster::new(&cfg).unwrap();
        for _ in 1..SET_ASIDE_AFTER {
            c.mark(0, false, "HTTP 503");
            assert_eq!(c.pick(), Ok(0));
        }
        c.mark(0, true, "");
        c.mark(0, false, "HTTP 503");
        assert_eq!(c.pick(), Ok(0), "an answer in between resets the count");
        for _ in 1..SET_ASIDE_AFTER {
            c.mark(0, false, "cannot connect");
        }
        assert!(c.pick().is_err(), "set aside after failures in a row");
    }
}
