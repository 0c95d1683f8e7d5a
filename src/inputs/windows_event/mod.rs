//! What the two Windows Event Log inputs share: the mapping of an event to Winlogbeat's ECS fields and
//! the event id / level / provider filters. The `evtx` input reads exported files, `winlog` the live log.

pub mod ecs;
pub mod filter;
