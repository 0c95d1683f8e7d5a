//! `logward run`: runs the pipeline in the foreground.

use super::exit;
use crate::config::{Config, ConfigErrors, load_file, load_str};
use crate::pipeline::run::{Control, build_with, run as run_pipeline};
use std::path::{Path, PathBuf};

/// The configuration used when `run` is given none: a demo that needs no server.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../examples/default.yml");

/// Loads the configuration `run` should use.
pub fn load(config: Option<&Path>, data_dir: Option<&PathBuf>) -> Result<Config, ConfigErrors> {
    let mut cfg = match config {
        Some(path) => load_file(path)?,
        None => {
            // The embedded copy of examples/default.yml resolves relative paths as that file would.
            let base = std::env::current_dir()
                .unwrap_or_else(|_| PathBuf::from("."))
                .join("examples");
            load_str(EMBEDDED_DEFAULT, "<embedded default>", &base, &|name| {
                std::env::var(name).ok()
            })?
        }
    };
    if let Some(dir) = data_dir {
        cfg.data_dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
    }
    Ok(cfg)
}

/// Runs until stopped by a signal; returns the exit code.
pub fn run(args: super::RunArgs) -> i32 {
    let config = match load(args.config.as_deref(), args.data_dir.as_ref()) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return exit::BAD_CONFIG;
        }
    };
    let control = Control::default();
    super::signals::install(control.stop.clone());
    run_with(&config, control)
}

/// Runs a loaded configuration until `control.stop`; shared by the console and the Windows service.
pub fn run_with(config: &Config, control: Control) -> i32 {
    let _log_guard = crate::observe::logging::init(&config.logging, Some(&config.data_dir));
    tracing::info!(config = %config.source, data_dir = %config.data_dir.display(), version = env!("CARGO_PKG_VERSION"), "logward starting");
    // Before anything reads the registry or the queue: one agent per data folder, whatever the queue type.
    let _data_dir_lock = match crate::util::data_dir::lock(&config.data_dir) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot start: {e:#}");
            return exit::FAILURE;
        }
    };
    let built = match build_with(config, &control) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot start: {e:#}");
            return exit::BAD_CONFIG;
        }
    };
    let progress = (!config.progress_interval.get().is_zero()).then(|| {
        let stop = control.stop.clone();
        let every = config.progress_interval.get();
        std::thread::spawn(move || crate::observe::progress::report(every, stop))
    });
    let result = run_pipeline(config, built, control.clone());
    control.stop.stop();
    if let Some(p) = progress {
        let _ = p.join();
    }
    match result {
        Ok(()) => {
            tracing::info!("logward stopped");
            exit::OK
        }
        Err(e) => {
            tracing::error!("logward failed: {e:#}");
            exit::FAILURE
        }
    }
}
