//! The operator HTTP API: one small HTTP/1 server on the pipeline's runtime that answers `/metrics`
//! (Prometheus or OpenMetrics text), `/health/live` and `/health/ready` (probes), and `/status` (JSON). It
//! only reads what the pipeline already counts, so it costs nothing while nobody asks.
//!
//! Off unless the configuration has an `http:` section. It listens on loopback by default; anywhere
//! else needs an `auth_token`, which every request but the probes must then present as
//! `Authorization: Bearer <token>` (probes answer only "ready or not, and why", and a Kubernetes probe
//! cannot read a secret).

pub mod exposition;
mod server;
pub mod status;

use crate::component::InputSpec;
use crate::config::HumanDuration;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;

pub use server::{Api, start};

/// The default address: loopback, on the port Beats use for the same purpose.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5066";

/// A secret that never shows in logs, `Debug` output or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The secret itself, for comparing with what a request presents.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Token)
    }
}

/// `http:` — the operator API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The address and port to listen on (default `127.0.0.1:5066`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The bearer token every request except the probes must present; empty means none (so
    /// `${LOGWARD_HTTP_TOKEN:-}` works). Required when `listen` is not a loopback address.
    #[serde(default, deserialize_with = "non_empty")]
    pub auth_token: Option<Token>,
    /// An output that has had events to send for this long without delivering any makes the agent not
    /// ready (default 60s).
    #[serde(default = "default_ready_timeout")]
    pub ready_delivery_timeout: HumanDuration,
    /// A pipeline thread that has shown no progress for this long (and is not waiting for room in the
    /// queue or for work) makes the agent not live (default 60s).
    #[serde(default = "default_watchdog_timeout")]
    pub watchdog_timeout: HumanDuration,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5066))
}
fn default_ready_timeout() -> HumanDuration {
    HumanDuration::secs(60)
}
fn default_watchdog_timeout() -> HumanDuration {
    HumanDuration::secs(60)
}

fn non_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Token>, D::Error> {
    let t = Option::<Token>::deserialize(d)?;
    Ok(t.filter(|t| !t.0.is_empty()))
}

/// A mistake in the `http:` section: the key at fault and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key under `http:`.
    pub key: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl HttpConfig {
    /// What `logward check` refuses: a listener other machines can reach without a token, timeouts of
    /// zero, and a port an input listens on already.
    pub fn problems(&self, inputs: &[InputSpec]) -> Vec<Problem> {
        let mut out = Vec::new();
        if !self.listen.ip().is_loopback() && self.auth_token.is_none() {
            out.push(Problem {
                key: "listen",
                message: format!(
                    "http.listen: {} can be reached from other machines, and without `auth_token` anyone who reaches it can read the agent's metrics and status (paths, hosts, errors); set `auth_token` (for example `auth_token: ${{LOGWARD_HTTP_TOKEN}}`) or listen on 127.0.0.1",
                    self.listen
                ),
            });
        }
        for (key, d) in [
            ("ready_delivery_timeout", self.ready_delivery_timeout),
            ("watchdog_timeout", self.watchdog_timeout),
        ] {
            if d.get().is_zero() {
                out.push(Problem {
                    key,
                    message: format!("http.{key}: must be longer than 0s"),
                });
            }
        }
        let mine = crate::component::Listen {
            protocol: crate::component::Protocol::Tcp,
            address: self.listen,
            key: "listen",
        };
        for input in inputs {
            if input
                .config
                .listen()
                .iter()
                .any(|l| l.conflicts_with(&mine))
            {
                out.push(Problem {
                    key: "listen",
                    message: format!(
                        "http.listen: input `{}` (line {}) listens on {} already: give the HTTP API another port",
                        input.id, input.mark.line, self.listen
                    ),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(listen: &str, token: Option<&str>) -> HttpConfig {
        HttpConfig {
            listen: listen.parse().unwrap(),
            auth_token: token.map(|t| Token(t.into())),
            ready_delivery_timeout: default_ready_timeout(),
            watchdog_timeout: default_watchdog_timeout(),
        }
    }

    #[test]
    fn listening_beyond_loopback_needs_a_token() {
        assert!(cfg("127.0.0.1:5066", None).problems(&[]).is_empty());
        assert!(cfg("[::1]:5066", None).problems(&[]).is_empty());
        let p = cfg("0.0.0.0:5066", None).problems(&[]);
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("without `auth_token`"), "{p:?}");
        assert!(cfg("0.0.0.0:5066", Some("s3cret")).problems(&[]).is_empty());
        assert_eq!(
            format!("{:?}", cfg("0.0.0.0:1", Some("s3cret")))
                .matches("s3cret")
                .count(),
            0
        );
    }
}
