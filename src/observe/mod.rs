//! logward's view of itself: metrics, its own logs (and rate-limiting repeated warnings), progress
//! reporting.

pub mod component;
pub mod logging;
pub mod metrics;
pub mod progress;
pub mod throttle;
