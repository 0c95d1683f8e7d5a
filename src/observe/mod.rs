//! logward's view of itself: metrics, health, the operator HTTP API, its own logs (and rate-limiting
//! repeated warnings), progress reporting.

pub mod component;
pub mod health;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod process;
pub mod progress;
pub mod throttle;
pub mod watchdog;
