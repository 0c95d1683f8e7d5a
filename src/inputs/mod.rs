//! Inputs: where events come from. Each input runs on its own thread, hands batches to the pipeline
//! through an [`EventSender`], and moves its checkpoint only when the pipeline acknowledges them.

pub mod evtx;
pub mod file;
pub mod winlog;

use crate::pipeline::ack::AckReceiver;
use crate::pipeline::sender::EventSender;
use crate::pipeline::shutdown::StopSignal;
use std::path::PathBuf;

/// What a running input gets from the pipeline.
pub struct InputContext {
    /// The input's id (registry key, metrics label).
    pub id: String,
    /// logward's data folder.
    pub data_dir: PathBuf,
    /// Where batches go.
    pub sender: EventSender,
    /// Where their acknowledgements come back.
    pub acks: AckReceiver,
    /// Raised when the input must stop reading (graceful shutdown).
    pub stop: StopSignal,
    /// Raised when the shutdown timeout has passed: stop waiting for acknowledgements.
    pub force: StopSignal,
    /// This machine's name, for `host.name`.
    pub host_name: String,
}

/// A configured input, ready to run.
pub trait Input: Send {
    /// Runs until `ctx.stop` is raised and in-flight batches are settled (or `ctx.force` is raised), then
    /// saves its checkpoints. Blocking: runs on its own thread.
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()>;
}
