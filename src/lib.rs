//! logward: a log-collection agent. Inputs → processors → queue → outputs, with end-to-end
//! acknowledgements so that nothing acknowledged is ever lost.

pub mod alerts;
pub mod cli;
pub mod component;
pub mod config;
pub mod event;
pub mod fuzzing;
pub mod inputs;
pub mod kibana;
pub mod observe;
pub mod outputs;
pub mod pipeline;
pub mod processors;
pub mod service;
pub mod util;
