//! Processor configuration (placeholder until the processor set lands).

use super::Chain;
use serde::Deserialize;
use std::path::Path;

/// One entry of a `processors:` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorConfig {}

/// A processor that could not be built from its configuration.
#[derive(Debug, Clone)]
pub struct BuildError {
    /// Position in the list.
    pub index: usize,
    /// Processor kind.
    pub processor: String,
    /// What is wrong.
    pub message: String,
}

/// Builds the chain for a `processors:` list.
pub fn build_chain(
    configs: &[ProcessorConfig],
    scope: &str,
    _base_dir: &Path,
) -> Result<Chain, Vec<BuildError>> {
    let _ = configs;
    Ok(Chain::new(Vec::new(), scope))
}
