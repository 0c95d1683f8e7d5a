//! Inputs: where events come from. Each input runs on its own thread, hands batches to the pipeline
//! through an [`EventSender`] with a cursor, and the shared checkpoint store
//! ([`crate::pipeline::checkpoint`]) moves the input's checkpoint only when the pipeline has acknowledged
//! them. An input that serves a socket runs its server on the async runtime through `ctx.runtime`.

pub mod windows_event;

crate::components! {
    kind: crate::component::InputKind;
    file,
    #[cfg(feature = "evtx")]
    evtx,
    winlog,
    stdin,
    #[cfg(target_os = "linux")]
    journald,
    http,
    es_bulk,
    syslog,
}

use crate::component::Decoration;
use crate::pipeline::checkpoint::CheckpointStore;
use crate::pipeline::sender::EventSender;
use crate::pipeline::shutdown::StopSignal;

/// What a running input gets from the pipeline.
pub struct InputContext {
    /// The input's id (checkpoint key, metrics label).
    pub id: String,
    /// Where batches go.
    pub sender: EventSender,
    /// Where the input's checkpoints are kept.
    pub checkpoints: CheckpointStore,
    /// The fields, tags and `input.type` every event of this input gets.
    pub decoration: Decoration,
    /// Raised when the input must stop reading (graceful shutdown).
    pub stop: StopSignal,
    /// Raised when the shutdown timeout has passed: stop waiting for acknowledgements.
    pub force: StopSignal,
    /// This machine's name, for `host.name`.
    pub host_name: String,
    /// The async runtime, for inputs that serve sockets (`runtime.block_on(server)` on the input's
    /// thread; connections run as tasks on the runtime's workers).
    pub runtime: tokio::runtime::Handle,
}

/// A configured input, ready to run.
pub trait Input: Send {
    /// Runs until `ctx.stop` is raised (or the source ends) and in-flight batches are settled (or
    /// `ctx.force` is raised), then saves its checkpoints. Blocking: runs on its own thread.
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()>;
}
