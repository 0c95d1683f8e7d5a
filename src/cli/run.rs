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

/// Runs until stopped by a signal; returns the exit code. SIGHUP reloads the configuration file.
pub fn run(args: super::RunArgs) -> i32 {
    let config = match load(args.config.as_deref(), args.data_dir.as_ref()) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return exit::BAD_CONFIG;
        }
    };
    let control = Control::default();
    let target = super::signals::Target::new(
        control.stop.clone(),
        args.config
            .clone()
            .map(|path| (path, args.data_dir.clone(), config.data_dir.clone())),
    );
    super::signals::install(target.clone());
    run_reloadable(config, control, &target)
}

/// Runs `config` until a stop request, replacing it when `target` accepts a reload; shared by the console
/// and the Windows service. Returns the exit code.
pub fn run_reloadable(config: Config, control: Control, target: &super::signals::Target) -> i32 {
    let _log_guard = crate::observe::logging::init(&config.logging, Some(&config.data_dir));
    let _data_dir_lock = match start(&config) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut config = config;
    let mut control = control;
    // The configuration that ran before a reload, kept until the reloaded one has started.
    let mut previous: Option<Config> = None;
    loop {
        let outcome = run_pipeline_once(&config, control);
        if let (Outcome::NotBuilt(_), Some(old)) = (&outcome, previous.take()) {
            // A configuration that passed `check` can still fail to build (a folder that cannot be
            // created): then the previous one runs again.
            tracing::error!(
                "the reloaded configuration cannot start (see above); running the previous one again"
            );
            config = old;
            control = Control::default();
            target.serve(control.stop.clone());
            continue;
        }
        crate::service::notify::set_reloading(false);
        let Some(next) = target.take_reload() else {
            return outcome.code();
        };
        if outcome.code() != exit::OK {
            tracing::warn!(
                "the pipeline ended with a failure during the reload; starting the new configuration anyway"
            );
        }
        // The old pipeline has drained and saved its checkpoints; the new one reads on from them.
        previous = Some(std::mem::replace(&mut config, next));
        control = Control::default();
        target.serve(control.stop.clone());
        tracing::info!(config = %config.source, "configuration reloaded; starting it");
    }
}

/// How one pipeline run ended.
enum Outcome {
    /// It could not be built.
    NotBuilt(i32),
    /// It ran and stopped with this exit code.
    Ran(i32),
}

impl Outcome {
    fn code(&self) -> i32 {
        match self {
            Outcome::NotBuilt(c) | Outcome::Ran(c) => *c,
        }
    }
}

/// Logs the start and takes the data folder's lock, before anything reads the registry or the queue: one
/// agent per data folder, whatever the queue type.
fn start(config: &Config) -> Result<crate::util::data_dir::DataDirLock, i32> {
    tracing::info!(config = %config.source, data_dir = %config.data_dir.display(), version = env!("CARGO_PKG_VERSION"), "logward starting");
    crate::util::data_dir::lock(&config.data_dir).map_err(|e| {
        tracing::error!("cannot start: {e:#}");
        exit::FAILURE
    })
}

/// Runs a loaded configuration until `control.stop`, without reloads.
pub fn run_with(config: &Config, control: Control) -> i32 {
    let _log_guard = crate::observe::logging::init(&config.logging, Some(&config.data_dir));
    let _data_dir_lock = match start(config) {
        Ok(l) => l,
        Err(code) => return code,
    };
    run_pipeline_once(config, control).code()
}

/// Builds and runs one pipeline until `control.stop`.
fn run_pipeline_once(config: &Config, control: Control) -> Outcome {
    let built = match build_with(config, &control) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot start: {e:#}");
            return Outcome::NotBuilt(exit::BAD_CONFIG);
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
            Outcome::Ran(exit::OK)
        }
        Err(e) => {
            tracing::error!("logward failed: {e:#}");
            Outcome::Ran(exit::FAILURE)
        }
    }
}
