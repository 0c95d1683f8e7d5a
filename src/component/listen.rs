//! Listen addresses declared by components, and the check that no two want the same one: two listeners on
//! one port would make the second fail only at start-up, so `logward check` refuses it with both places.

use std::fmt;
use std::net::SocketAddr;

/// The transport a listener uses (a TCP and a UDP listener may share a port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP (also HTTP, TLS).
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One socket a component listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The address and port.
    pub address: SocketAddr,
    /// The configuration key that sets it (for the error position).
    pub key: &'static str,
}

impl Listen {
    /// Whether two listeners cannot both bind: same transport and port, and the same address or either
    /// one on every address (`0.0.0.0`, `::`).
    pub fn conflicts_with(&self, other: &Listen) -> bool {
        self.protocol == other.protocol
            && self.address.port() == other.address.port()
            && self.address.port() != 0
            && (self.address.ip() == other.address.ip()
                || self.address.ip().is_unspecified()
                || other.address.ip().is_unspecified())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: Protocol, a: &str) -> Listen {
        Listen {
            protocol: p,
            address: a.parse().unwrap(),
            key: "listen",
        }
    }

    #[test]
    fn conflicts_need_the_same_transport_port_and_overlapping_addresses() {
        use Protocol::*;
        assert!(l(Tcp, "127.0.0.1:5044").conflicts_with(&l(Tcp, "127.0.0.1:5044")));
        assert!(l(Tcp, "0.0.0.0:5044").conflicts_with(&l(Tcp, "127.0.0.1:5044")));
        assert!(l(Tcp, "127.0.0.1:5044").conflicts_with(&l(Tcp, "[::]:5044")));
        assert!(!l(Tcp, "127.0.0.1:5044").conflicts_with(&l(Udp, "127.0.0.1:5044")));
        assert!(!l(Tcp, "127.0.0.1:5044").conflicts_with(&l(Tcp, "127.0.0.2:5044")));
        assert!(!l(Tcp, "127.0.0.1:5044").conflicts_with(&l(Tcp, "127.0.0.1:5045")));
        assert!(!l(Tcp, "127.0.0.1:0").conflicts_with(&l(Tcp, "127.0.0.1:0")));
    }
}
