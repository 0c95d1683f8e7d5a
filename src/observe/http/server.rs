//! The accept loop and the routes. Each connection is served by hyper on the pipeline's runtime; at most
//! [`MAX_CONNECTIONS`] at once, and a client that does not finish its request headers within
//! [`HEADER_TIMEOUT`] is dropped, so a misbehaving client cannot hold the agent's resources.

use super::HttpConfig;
use super::exposition;
use crate::observe::{health, watchdog};
use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Connections served at once; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the routes need to answer.
pub struct Api {
    /// The settings of the `http:` section.
    pub config: HttpConfig,
    /// Where the configuration came from.
    pub config_source: String,
    /// The data folder (file inputs' registries, for positions and lag).
    pub data_dir: std::path::PathBuf,
}

type Answer = Response<Full<Bytes>>;

/// The status page: one self-contained file, drawn from `/status` by its own script.
const PAGE: &str = include_str!("page.html");

/// Binds the API's address and serves it on `runtime` until the runtime shuts down. Also starts the
/// runtime's own heartbeat, so a runtime whose workers are all stuck turns liveness off. Returns the
/// bound address (the port when `listen` said 0).
pub fn start(api: Api, runtime: &tokio::runtime::Runtime) -> anyhow::Result<SocketAddr> {
    let listen = api.config.listen;
    let std_listener = std::net::TcpListener::bind(listen).with_context(|| {
        format!("cannot listen on {listen} for the HTTP API (http.listen): is another program, or another logward, using that port? Choose another one")
    })?;
    std_listener
        .set_nonblocking(true)
        .context("cannot make the HTTP API's socket non-blocking")?;
    let _entered = runtime.enter();
    let listener = tokio::net::TcpListener::from_std(std_listener)
        .context("cannot hand the HTTP API's socket to the runtime")?;
    let addr = listener.local_addr().unwrap_or(listen);
    runtime.spawn(accept_loop(listener, Arc::new(api)));
    runtime.spawn(super::status::sample_forever());
    runtime.spawn(async {
        let (beat, _registration) = watchdog::register_detached("runtime");
        loop {
            beat.beat();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    tracing::info!(address = %addr, "HTTP API listening (/, /metrics, /health/live, /health/ready, /status)");
    Ok(addr)
}

async fn accept_loop(listener: tokio::net::TcpListener, api: Arc<Api>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: wait a little rather than spin.
                tracing::warn!("the HTTP API cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let answer = route(&api, &req);
                async move { Ok::<_, std::convert::Infallible>(answer) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("HTTP API connection ended: {e}");
            }
        });
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json(status: StatusCode, value: &serde_json::Value) -> Answer {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
    body.push(b'\n');
    answer(status, "application/json", body)
}

/// Compares without stopping at the first difference, so response times do not reveal the token.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(api: &Api, req: &Request<Incoming>) -> bool {
    let Some(token) = &api.config.auth_token else {
        return true;
    };
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same_secret(given.trim().as_bytes(), token.expose().as_bytes()))
}

fn route(api: &Api, req: &Request<Incoming>) -> Answer {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "only GET and HEAD are answered"}),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = req.uri().path();
    // The probes answer without the token: they tell only whether the agent is up and why not. The
    // page holds no data (its script asks /status, with the token given after `#`).
    let open = path.starts_with("/health/") || path == "/";
    if !open && !authorized(api, req) {
        let mut r = json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({"error": "send the token of http.auth_token as `Authorization: Bearer <token>`"}),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"logward\""),
        );
        return r;
    }
    match path {
        "/metrics" => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let format = exposition::negotiate(accept);
            let text = exposition::render(
                format,
                api.config.ready_delivery_timeout.get(),
                Some(&api.data_dir),
            );
            answer(StatusCode::OK, exposition::content_type(format), text)
        }
        "/" => {
            let mut r = answer(StatusCode::OK, "text/html; charset=utf-8", PAGE);
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
                ),
            );
            r
        }
        "/status" => json(StatusCode::OK, &super::status::document(api)),
        "/health/live" => live(api),
        "/health/ready" => ready(api),
        _ => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({
                "error": format!("nothing at {path}"),
                "endpoints": ["/", "/metrics", "/health/live", "/health/ready", "/status"],
            }),
        ),
    }
}

fn live(api: &Api) -> Answer {
    let wedged = watchdog::wedged(api.config.watchdog_timeout.get());
    if wedged.is_empty() {
        return json(StatusCode::OK, &serde_json::json!({"status": "live"}));
    }
    let threads: Vec<serde_json::Value> = wedged
        .iter()
        .map(|w| serde_json::json!({"thread": w.name, "silent_seconds": w.silent_for.as_secs()}))
        .collect();
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({"status": "wedged", "threads": threads}),
    )
}

fn ready(api: &Api) -> Answer {
    let causes = health::not_ready(api.config.ready_delivery_timeout.get());
    if causes.is_empty() {
        json(StatusCode::OK, &serde_json::json!({"status": "ready"}))
    } else {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "not ready", "causes": causes}),
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_in_full() {
        assert!(super::same_secret(b"abc", b"abc"));
        assert!(!super::same_secret(b"abc", b"abd"));
        assert!(!super::same_secret(b"abc", b"abcd"));
    }
}
