//! Subcommands of the `logward` command.

pub mod alert;
pub mod check;
pub mod elasticsearch;
pub mod queue;
pub mod run;
pub mod signals;
pub mod status;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// logward: collects logs, parses them, keeps them safe on disk and ships them.
#[derive(Debug, Parser)]
#[command(name = "logward", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline in the foreground (Ctrl-C stops it gracefully; a second Ctrl-C exits at once).
    Run(RunArgs),
    /// Validate a configuration and report every mistake with its line and column.
    Check(ConfigArg),
    /// Install the index template (and lifecycle policy) for the Elasticsearch outputs; with --kibana, also
    /// the Kibana data view and dashboard.
    Setup(elasticsearch::SetupArgs),
    /// Query the cluster an Elasticsearch output ships to.
    Search(elasticsearch::SearchArgs),
    /// Inspect, verify or repair the disk queue.
    #[command(subcommand)]
    Queue(queue::QueueCommand),
    /// Ask a running agent (its HTTP API) how it is doing; exit code 0 when it is ready, 1 when not.
    Status(status::StatusArgs),
    /// Watch a running agent: its status table, redrawn every second (Ctrl-C quits).
    Top(status::AgentArgs),
    /// Print the version, the build target, the git commit, the enabled features and the build profile.
    Version,
    /// Install, remove, start, stop or query the service (Windows service, or systemd unit on Linux).
    #[command(subcommand)]
    Service(crate::service::ServiceCommand),
    /// Try the alert notifiers of a configuration (`alert test -c FILE [--rule NAME]`).
    #[command(subcommand)]
    Alert(alert::AlertCommand),
}

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration file. Without it, logward runs its embedded demo configuration (run it from the
    /// repository root): it tails ./examples/sample-logs and writes NDJSON files to ./data/out.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override `data_dir` from the configuration.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// A configuration file argument.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Exit codes shared by the subcommands.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// A failure while running.
    pub const FAILURE: i32 = 1;
    /// The configuration is invalid.
    pub const BAD_CONFIG: i32 = 2;
    /// Stopped by a second interrupt without draining.
    pub const INTERRUPTED: i32 = 130;
}

/// Runs a parsed command line; returns the process exit code.
pub fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(&args.config),
        Command::Setup(args) => elasticsearch::setup(args),
        Command::Search(args) => elasticsearch::search(args),
        Command::Queue(cmd) => queue::dispatch(cmd),
        Command::Service(cmd) => crate::service::dispatch(cmd),
        Command::Status(args) => status::status(args),
        Command::Top(args) => status::top(args),
        Command::Alert(cmd) => alert::dispatch(cmd),
        Command::Version => {
            let features = env!("LOGWARD_FEATURES");
            println!(
                "logward {} ({}, commit {}, features: {}, {} build)",
                env!("CARGO_PKG_VERSION"),
                env!("LOGWARD_TARGET"),
                env!("LOGWARD_COMMIT"),
                if features.is_empty() {
                    "none"
                } else {
                    features
                },
                env!("LOGWARD_PROFILE")
            );
            exit::OK
        }
    }
}
