//! Running logward as an operating-system service. On Windows: registration with the Service Control
//! Manager and the service entry point ([`windows`]). On Linux, systemd runs `logward run` directly (see the
//! README's unit file), so there is nothing to register here.

#[cfg(windows)]
pub mod windows;

use std::path::PathBuf;

/// What `logward service …` was asked to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServiceCommand {
    /// Register logward with the Service Control Manager: automatic (delayed) start, restart on failure.
    Install {
        /// The configuration the service runs with.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The service name.
        #[arg(long, default_value = "logward")]
        name: String,
        /// The account: a virtual account `NT SERVICE\<name>` by default; `LocalSystem` when asked.
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
        /// The data folder baked into the service's arguments (default: ProgramData\logward).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Remove the service.
    Uninstall {
        /// The service name.
        #[arg(long, default_value = "logward")]
        name: String,
    },
    /// Start the service.
    Start {
        /// The service name.
        #[arg(long, default_value = "logward")]
        name: String,
    },
    /// Stop the service (it drains and saves its checkpoints first).
    Stop {
        /// The service name.
        #[arg(long, default_value = "logward")]
        name: String,
    },
    /// Show the service's state.
    Status {
        /// The service name.
        #[arg(long, default_value = "logward")]
        name: String,
    },
    /// The entry point the Service Control Manager launches (not for interactive use).
    #[command(hide = true)]
    Run {
        /// The service name.
        #[arg(long, default_value = "logward")]
        name: String,
        /// The configuration.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The data folder.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// Runs a `service` subcommand; returns the exit code.
pub fn dispatch(cmd: ServiceCommand) -> i32 {
    #[cfg(windows)]
    {
        windows::dispatch(cmd)
    }
    #[cfg(not(windows))]
    {
        let _ = cmd;
        eprintln!(
            "`logward service` manages a Windows service. On Linux, run `logward run -c FILE` under systemd: the README has a unit file."
        );
        crate::cli::exit::FAILURE
    }
}
