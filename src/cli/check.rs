//! `logward check`: validates a configuration without running it.

use super::exit;
use crate::config::{Config, load_file};
use std::path::Path;

/// Validates the file at `path`, prints every problem, returns the exit code.
pub fn check(path: &Path) -> i32 {
    match load_file(path) {
        Ok(config) => {
            if let Err(e) = crate::pipeline::run::build_processors_only(&config) {
                eprintln!("{}: {e:#}", path.display());
                return exit::BAD_CONFIG;
            }
            if let Err(e) = crate::util::data_dir::check_usable(&config.data_dir) {
                eprintln!("{}: {e}", path.display());
                return exit::BAD_CONFIG;
            }
            for warning in warnings(&config) {
                eprintln!("warning: {warning}");
            }
            if config.queue.kind == crate::config::QueueKind::Disk {
                let problems = super::queue::check_queue_dir(&config);
                for p in &problems {
                    eprintln!("{}: queue: {p}", path.display());
                }
                if problems.iter().any(|p| !p.starts_with("queue damage")) {
                    return exit::BAD_CONFIG;
                }
            }
            println!(
                "{}: OK ({} input(s), {} output(s), {} global processor(s))",
                path.display(),
                config.inputs.len(),
                config.outputs.len(),
                config.processors.len()
            );
            exit::OK
        }
        Err(errors) => {
            eprintln!("{errors}");
            exit::BAD_CONFIG
        }
    }
}

/// Things that are allowed but probably not meant, as the components see them.
pub fn warnings(config: &Config) -> Vec<String> {
    let inputs = config.inputs.iter().flat_map(|i| i.config.warnings());
    let outputs = config.outputs.iter().flat_map(|o| o.config.warnings());
    inputs.chain(outputs).collect()
}
