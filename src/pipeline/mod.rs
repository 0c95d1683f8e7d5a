//! Wiring: inputs → processors → queue → outputs, acknowledgements, checkpoints and shutdown.

pub mod ack;
pub mod budget;
pub mod checkpoint;
pub mod disk;
pub mod queue;
pub mod run;
pub mod sender;
pub mod shutdown;
pub mod supervise;
