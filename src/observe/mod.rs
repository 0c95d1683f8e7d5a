//! logward's view of itself: metrics, its own logs, progress reporting.

pub mod component;
pub mod logging;
pub mod metrics;
pub mod progress;
