//! The listener tasks: the UDP socket, and the TCP and TLS accept loops with a task per connection. Each
//! frames and parses what it reads and hands the events to the input's thread over a bounded channel.
//! TCP and TLS wait for room there (the connection is not read meanwhile: backpressure); UDP cannot wait
//! and drops the newest datagrams, counted. Everything ends when the stop flag is raised: the accept
//! loops close their sockets, connections hand over what they read and close.

use super::Shared;
use super::framing::{Frame, Framer};
use crate::event::Event;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{Semaphore, mpsc, watch};

/// The sockets to open.
pub(super) struct Listeners {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
}

type Tx = mpsc::Sender<Vec<Event>>;
type Stop = watch::Receiver<bool>;

/// Binds every socket (inside the runtime) and spawns its task; returns what is listening, for the log.
pub(super) fn start(
    listeners: Listeners,
    shared: &Arc<Shared>,
    tx: &Tx,
    stop: &Stop,
) -> anyhow::Result<Vec<String>> {
    let mut bound = Vec::new();
    let connections = Arc::new(Semaphore::new(shared.max_connections));
    if let Some(addr) = listeners.udp {
        let socket = std::net::UdpSocket::bind(addr)
            .with_context(|| format!("the syslog input cannot listen on UDP {addr} (`udp.address`)"))?;
        socket.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(socket)?;
        bound.push(format!("udp {}", socket.local_addr()?));
        tokio::spawn(udp(socket, Arc::clone(shared), tx.clone(), stop.clone()));
    }
    for (addr, tls, key) in [
        listeners.tcp.map(|a| (a, None, "tcp.address")),
        listeners.tls.map(|(a, c)| (a, Some(tokio_rustls::TlsAcceptor::from(c)), "tls.address")),
    ]
    .into_iter()
    .flatten()
    {
        let listener = std::net::TcpListener::bind(addr).with_context(|| {
            format!("the syslog input cannot listen on TCP {addr} (`{key}`)")
        })?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let proto = if tls.is_some() { "tls" } else { "tcp" };
        bound.push(format!("{proto} {}", listener.local_addr()?));
        tokio::spawn(accept(
            listener,
            tls,
            Arc::clone(&connections),
            Arc::clone(shared),
            tx.clone(),
            stop.clone(),
        ));
    }
    Ok(bound)
}

/// Logs a recurring problem at most every ten seconds, with how many happened since the last line.
pub(super) struct Throttle {
    last: Option<Instant>,
    since: u64,
}

impl Throttle {
    pub(super) const fn new() -> Throttle {
        Throttle { last: None, since: 0 }
    }

    /// Whether to log now; the count of occurrences this line stands for.
    fn tick(&mut self) -> Option<u64> {
        self.since += 1;
        if self.last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.since))
    }
}

/// Waits until the stop flag is raised.
async fn stopped(stop: &mut Stop) {
    let _ = stop.wait_for(|s| *s).await;
}

/// How long a connection must be quiet, once the input stops, to count as drained.
const DRAIN_QUIET: Duration = Duration::from_millis(100);

async fn udp(socket: tokio::net::UdpSocket, shared: Arc<Shared>, tx: Tx, mut stop: Stop) {
    // The largest UDP payload; a datagram longer than `max_message_bytes` is cut when it is framed.
    let mut buf = vec![0u8; 65536];
    let mut dropped_log = Throttle::new();
    let mut error_log = Throttle::new();
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            () = stopped(&mut stop) => {
                // What the socket holds already is taken, then the socket closes.
                match socket.try_recv_from(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                    r => r,
                }
            }
        };
        let mut events = Vec::new();
        let now = chrono::Utc::now();
        let mut next = received;
        loop {
            match next {
                Ok((n, peer)) => events.push(datagram(&shared, &buf[..n], peer, now)),
                Err(e) => {
                    // A datagram that cannot be read (an ICMP error from an earlier send) ends nothing.
                    shared.counters.read_failed.inc();
                    if let Some(n) = error_log.tick() {
                        tracing::warn!(input = %shared.id, occurrences = n, "reading a UDP datagram failed: {e}");
                    }
                }
            }
            if events.len() >= shared.batch {
                break;
            }
            next = match socket.try_recv_from(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                r => r,
            };
        }
        if events.is_empty() {
            continue;
        }
        match tx.try_send(events) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(events)) => {
                shared.counters.udp_dropped.add(events.len() as u64);
                if let Some(n) = dropped_log.tick() {
                    tracing::warn!(input = %shared.id, batches = n,
                        "the queue is full: UDP messages are dropped (counted in component_discarded_events_total); \
                         UDP senders cannot be slowed down, use TCP for messages that must not be lost");
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

fn datagram(shared: &Shared, bytes: &[u8], peer: SocketAddr, now: chrono::DateTime<chrono::Utc>) -> Event {
    let keep = bytes.len().min(shared.max);
    shared.event(
        Frame {
            bytes: &bytes[..keep],
            truncated: keep < bytes.len(),
            problem: None,
        },
        &peer.to_string(),
        now,
    )
}

async fn accept(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    connections: Arc<Semaphore>,
    shared: Arc<Shared>,
    tx: Tx,
    mut stop: Stop,
) {
    let mut refused_log = Throttle::new();
    let mut error_log = Throttle::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = stopped(&mut stop) => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, mostly: wait a little instead of spinning.
                if let Some(n) = error_log.tick() {
                    tracing::warn!(input = %shared.id, occurrences = n, "accepting a syslog connection failed: {e}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            shared.counters.refused.inc();
            if let Some(n) = refused_log.tick() {
                tracing::warn!(input = %shared.id, %peer, refused = n, limit = shared.max_connections,
                    "a syslog connection was closed at once: `max_connections` are open already; raise it if these senders are expected");
            }
            drop(stream);
            continue;
        };
        let (shared, tx, stop, tls) = (Arc::clone(&shared), tx.clone(), stop.clone(), tls.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(stream, peer, &shared, &tx, stop).await,
                Some(acceptor) => {
                    match tokio::time::timeout(shared.idle, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection(stream, peer, &shared, &tx, stop).await,
                        Ok(Err(e)) => tls_failed(&shared, peer, &e.to_string()),
                        Err(_) => tls_failed(&shared, peer, "it did not finish within `idle_timeout`"),
                    }
                }
            }
        });
    }
}

/// Counts a failed TLS handshake and logs it (at most every ten seconds: a scanner must not flood the log).
fn tls_failed(shared: &Shared, peer: SocketAddr, why: &str) {
    shared.counters.tls_failed.inc();
    let due = shared
        .tls_log
        .lock()
        .map(|mut t| t.tick())
        .unwrap_or(Some(1));
    if let Some(n) = due {
        tracing::warn!(input = %shared.id, %peer, occurrences = n,
            "a TLS handshake failed: {why} (a client that speaks plain TCP, or does not trust this certificate?)");
    }
}

/// Reads one connection until it ends, idles out or the input stops.
async fn connection<S: AsyncRead + Unpin>(mut stream: S, peer: SocketAddr, shared: &Shared, tx: &Tx, mut stop: Stop) {
    let peer_text = peer.to_string();
    let mut framer = Framer::new(shared.max);
    // A read's worth of messages is one batch: 32 KiB keep a batch, and the hand-over buffer, small.
    let mut buf = vec![0u8; 32 * 1024];
    tracing::debug!(input = %shared.id, peer = %peer_text, "syslog connection opened");
    // Once the input stops, what the sender has written already is still taken: reading goes on until
    // the connection is quiet for a moment, then it is closed. (A sender that never pauses is cut off
    // at the shutdown timeout: the input's thread stops taking batches, and the next hand-over fails.)
    let mut draining = false;
    loop {
        let read = match draining {
            true => match tokio::time::timeout(DRAIN_QUIET, stream.read(&mut buf)).await {
                Ok(r) => Ok(r),
                Err(_) => break,
            },
            false => tokio::select! {
                r = tokio::time::timeout(shared.idle, stream.read(&mut buf)) => r,
                () = stopped(&mut stop) => {
                    draining = true;
                    continue;
                }
            },
        };
        let n = match read {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                shared.counters.read_failed.inc();
                tracing::info!(input = %shared.id, peer = %peer_text, "a syslog connection failed: {e}");
                break;
            }
            Err(_) => {
                shared.counters.idle_closed.inc();
                tracing::info!(input = %shared.id, peer = %peer_text, "a syslog connection was silent for `idle_timeout` and is closed");
                break;
            }
        };
        let now = chrono::Utc::now();
        let mut events = Vec::new();
        framer.feed(&buf[..n], &mut |f| events.push(shared.event(f, &peer_text, now)));
        // Waiting here for room is the backpressure: the connection is not read meanwhile.
        if !events.is_empty() && tx.send(events).await.is_err() {
            return;
        }
    }
    let now = chrono::Utc::now();
    let mut events = Vec::new();
    framer.finish(&mut |f| events.push(shared.event(f, &peer_text, now)));
    if !events.is_empty() {
        let _ = tx.send(events).await;
    }
    tracing::debug!(input = %shared.id, peer = %peer_text, "syslog connection closed");
}
