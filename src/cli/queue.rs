//! `logward queue inspect | verify | repair`: the disk queue of a configuration, without running it.

use super::exit;
use crate::config::{Config, load_file};
use crate::pipeline::disk::tools;
use std::path::{Path, PathBuf};

/// The queue subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Segments, bytes, oldest and newest record, and what each output has not acknowledged yet.
    Inspect(QueueArgs),
    /// Checks every record's checksum; exit code 0 when clean, 1 when something is damaged.
    Verify(QueueArgs),
    /// Rewrites damaged segments with their good records (originals go to quarantine/) and cuts torn
    /// tails. Refuses while logward runs on the queue.
    Repair(QueueArgs),
}

/// Which queue.
#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// The configuration file (its `queue.path`, or `<data_dir>/queue`).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Override `data_dir` from the configuration.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

fn load(args: &QueueArgs) -> Result<(Config, PathBuf), i32> {
    let mut config = load_file(&args.config).map_err(|errors| {
        eprintln!("{errors}");
        exit::BAD_CONFIG
    })?;
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    let dir = config.queue.disk_dir(&config.data_dir);
    Ok((config, dir))
}

fn output_names(config: &Config) -> Vec<String> {
    config.outputs.iter().map(|o| o.name.clone()).collect()
}

/// Runs a queue subcommand; returns the exit code.
pub fn dispatch(cmd: QueueCommand) -> i32 {
    let run = || -> Result<i32, i32> {
        match cmd {
            QueueCommand::Inspect(args) => {
                let (config, dir) = load(&args)?;
                match tools::inspect(&dir, &output_names(&config)) {
                    Ok(text) => {
                        print!("{text}");
                        Ok(exit::OK)
                    }
                    Err(e) => {
                        eprintln!("{e:#}");
                        Ok(exit::FAILURE)
                    }
                }
            }
            QueueCommand::Verify(args) => {
                let (_, dir) = load(&args)?;
                Ok(verify(&dir))
            }
            QueueCommand::Repair(args) => {
                let (_, dir) = load(&args)?;
                match tools::repair(&dir) {
                    Ok(report) if report.is_empty() => {
                        println!("{}: nothing to repair", dir.display());
                        Ok(exit::OK)
                    }
                    Ok(report) => {
                        report.iter().for_each(|l| println!("{l}"));
                        Ok(exit::OK)
                    }
                    Err(e) => {
                        eprintln!("{}: repair failed: {e:#}", dir.display());
                        Ok(exit::FAILURE)
                    }
                }
            }
        }
    };
    run().unwrap_or_else(|c| c)
}

fn verify(dir: &Path) -> i32 {
    match tools::verify(dir) {
        Ok((records, problems)) if problems.is_empty() => {
            println!(
                "{}: OK, {records} record(s), every checksum matches",
                dir.display()
            );
            exit::OK
        }
        Ok((records, problems)) => {
            for p in &problems {
                println!("{p}");
            }
            println!(
                "{}: DAMAGED ({} problem(s), {records} good record(s)); logward skips the damage when it starts, `logward queue repair` cleans it up",
                dir.display(),
                problems.len()
            );
            exit::FAILURE
        }
        Err(e) => {
            eprintln!("{e:#}");
            exit::FAILURE
        }
    }
}

/// What `logward check` says about a disk queue folder (problems only).
pub fn check_queue_dir(config: &Config) -> Vec<String> {
    let dir = config.queue.disk_dir(&config.data_dir);
    let mut out = Vec::new();
    if dir.exists() {
        if !dir.is_dir() {
            out.push(format!("the queue path {} is not a folder", dir.display()));
            return out;
        }
        let probe = dir.join(".logward-check");
        match std::fs::write(&probe, b"") {
            Ok(()) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(e) => out.push(format!(
                "the queue folder {} is not writable: {e}",
                dir.display()
            )),
        }
        match tools::verify(&dir) {
            Ok((_, problems)) => out.extend(problems.into_iter().map(|p| {
                format!("queue damage (skipped at start; `logward queue repair` cleans it): {p}")
            })),
            Err(e) => out.push(format!("{e:#}")),
        }
    } else {
        let parent = dir.ancestors().skip(1).find(|a| a.exists());
        if let Some(p) = parent
            && std::fs::metadata(p).is_ok_and(|m| m.permissions().readonly())
        {
            out.push(format!(
                "the queue folder {} cannot be created: {} is read-only",
                dir.display(),
                p.display()
            ));
        }
    }
    out
}
