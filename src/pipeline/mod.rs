//! Wiring: inputs → processors → queue → outputs, acknowledgements and shutdown.

pub mod ack;
