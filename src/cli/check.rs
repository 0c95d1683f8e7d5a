//! `logward check`: validates a configuration without running it.

use super::exit;
use crate::config::{Config, InputConfig, load_file};
use crate::util::path_match::PathMatcher;
use std::path::Path;

/// Validates the file at `path`, prints every problem, returns the exit code.
pub fn check(path: &Path) -> i32 {
    match load_file(path) {
        Ok(config) => {
            if let Err(e) = crate::pipeline::run::build_processors_only(&config) {
                eprintln!("{}: {e:#}", path.display());
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

/// Things that are allowed but probably not meant: globs that match no file yet, folders on the way
/// that cannot be read.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for input in &config.inputs {
        for pattern in input_paths(input) {
            // Each pattern alone, compiled as the input compiles it, so the warning names the one at fault.
            let one = std::slice::from_ref(pattern);
            let matcher = match input {
                InputConfig::Evtx(_) => crate::inputs::evtx::path_matcher(one),
                _ => PathMatcher::new(one, &[]),
            };
            // An invalid pattern was already reported as an error.
            let Ok(matcher) = matcher else { continue };
            let walk = matcher.walk();
            for (folder, e) in &walk.unreadable {
                out.push(format!(
                    "cannot look into {} for {pattern:?}: {e}; logward cannot read files below it either",
                    folder.display()
                ));
            }
            if walk.files.is_empty() {
                out.push(format!(
                    "no file matches {pattern:?} yet; logward will pick files up when they appear"
                ));
            }
        }
    }
    out
}

fn input_paths(input: &InputConfig) -> &[String] {
    match input {
        InputConfig::File(c) => &c.paths,
        InputConfig::Evtx(c) => &c.paths,
        InputConfig::Winlog(_) => &[],
    }
}
