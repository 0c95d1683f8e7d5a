//! Configuration: the YAML model, `${VAR:-default}` substitution, and validation with positions.

pub mod units;

pub use units::{ByteSize, HumanDuration};
pub mod de;
pub mod yaml;
