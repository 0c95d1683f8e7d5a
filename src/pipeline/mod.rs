//! Wiring: inputs → processors → queue → outputs, acknowledgements and shutdown.

pub mod ack;
pub mod disk;
pub mod queue;
pub mod run;
pub mod sender;
pub mod shutdown;
