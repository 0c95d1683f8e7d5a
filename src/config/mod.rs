//! Configuration: the YAML model, `${VAR:-default}` substitution, and validation with positions.

pub mod units;

pub use units::{ByteSize, HumanDuration};
pub mod de;
pub mod load;
pub mod model;
pub mod secrets;
pub mod yaml;

pub use load::{ConfigError, ConfigErrors, load_file, load_str};
pub use model::{Config, QueueKind};
