//! The HTTP server the receiving inputs (`http`, `elasticsearch`) run on the pipeline's runtime: hyper's
//! HTTP/1 with keep-alive, at most `max_connections` connections at once, a deadline for each request's
//! headers, and a graceful stop: once the input is asked to stop, the listener closes, requests still
//! being answered finish (new ones on open connections are answered 503 by the handlers), and the
//! connections close after their answer.

use crate::pipeline::shutdown::StopSignal;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// An answer with its whole body.
pub type Answer = Response<Full<Bytes>>;

/// How a receiving input serves connections.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Connections served at once; more are closed as soon as they are accepted (and counted).
    pub max_connections: usize,
    /// How long a client may take to send its request headers.
    pub header_timeout: Duration,
}

/// Binds `listen` for the input `input` (its configuration key is `listen`), for [`serve`].
pub fn bind(listen: SocketAddr, input: &str) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(listen).map_err(|e| {
        anyhow::anyhow!(
            "input `{input}`: cannot listen on {listen} ({e}): is another program, or another logward, using that port? Choose another `listen`"
        )
    })?;
    listener.set_nonblocking(true).map_err(|e| {
        anyhow::anyhow!("input `{input}`: cannot make the socket on {listen} non-blocking: {e}")
    })?;
    Ok(listener)
}

/// Serves `listener` until `stop` is raised, then lets the requests in progress finish (until `force`).
/// `handle` answers one request from a client at the given address.
pub async fn serve<F, Fut>(
    listener: std::net::TcpListener,
    settings: ServerSettings,
    stop: StopSignal,
    force: StopSignal,
    refused: crate::observe::metrics::Counter,
    handle: F,
) -> anyhow::Result<()>
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| anyhow::anyhow!("cannot hand the listening socket to the runtime: {e}"))?;
    let slots = Arc::new(tokio::sync::Semaphore::new(settings.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.stopped() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, most likely: wait a little rather than spin.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refused.inc();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        let stop = stop.clone();
        let header_timeout = settings.header_timeout;
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let answer = handle(req, remote);
                async move { Ok::<_, std::convert::Infallible>(answer.await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let served = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.stopped() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(client = %remote, "connection ended: {e}");
            }
        });
    }
    drop(listener);
    // Requests in progress wait for their acknowledgements (their handlers give up at `force`).
    let mut forced = false;
    loop {
        tokio::select! {
            next = connections.join_next() => if next.is_none() { break },
            _ = force.stopped() => { forced = true; break }
        }
    }
    if forced {
        // At `force` the handlers answer 503: a moment to write those answers before the connections close,
        // so a sender learns its events were not taken instead of seeing the connection drop.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
    }
    connections.abort_all();
    Ok(())
}

/// An answer with a body.
pub fn answer(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Answer {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    answer(status, "application/json", body)
}

/// Adds `Retry-After: <seconds>` (at least 1).
pub fn with_retry_after(mut r: Answer, after: Duration) -> Answer {
    let secs = after.as_secs().max(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}
