//! `drop`: removes events (with `when:`); the chain counts them.

use super::{Processor, Verdict};
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};
use crate::event::Event;
use serde::Deserialize;

/// The `drop` processor type (`drop_event` in Beats).
pub const KIND: ProcessorKind =
    ProcessorKind::of::<DropConfig>("drop", &["drop_event"], "removes events");

/// `drop:` — removes the event (use it with `when:`). Counted by the chain.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropConfig {
}

/// The drop processor.
pub struct Drop;

impl Processor for Drop {
    fn name(&self) -> &str {
        "drop"
    }
    fn process(&self, _event: &mut Event) -> Verdict {
        Verdict::Drop
    }
}

impl ProcessorConfig for DropConfig {
    fn build(&self, _ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Drop))
    }
}
