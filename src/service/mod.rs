//! Running logward as an operating-system service. On Windows: registration with the Service Control
//! Manager and the service entry point ([`windows`]). On Linux: a systemd unit and its system user
//! ([`linux`]), and the notifications systemd waits for ([`notify`]).

#[cfg(target_os = "linux")]
pub mod linux;
pub mod notify;
#[cfg(windows)]
pub mod windows;

use std::path::PathBuf;

/// The user-defined service control code (128–255 are the service's own) that asks the Windows service to
/// reload its configuration; `logward service reload` sends it. The standard parameter-change control
/// (`sc control logward paramchange`) does the same.
pub const RELOAD_CONTROL_CODE: u32 = 129;

/// What `logward service …` was asked to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServiceCommand {
    /// Install the service. Windows: register it with the Service Control Manager (automatic delayed
    /// start, restart on failure). Linux: write a hardened systemd unit (Type=notify, Restart=always,
    /// watchdog) and create the system user it runs as.
    Install {
        /// The configuration the service runs with.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The service name.
        #[arg(long, default_value = "logward")]
        name: String,
        /// The account. Windows: a virtual account `NT SERVICE\<name>` by default; `LocalSystem` when
        /// asked. Linux: the system user, created when missing (default: the service name).
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
        /// The data folder baked into the service's arguments (default: ProgramData\logward on
        /// Windows, /var/lib/<name> on Linux).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Linux: install under DIR instead of / (the unit in DIR/etc/systemd/system, the user in
        /// DIR/etc/passwd) and do not call systemctl.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Linux: another folder the service may write (a file output's folder); repeatable.
        #[arg(long, value_name = "DIR")]
        read_write: Vec<PathBuf>,
        /// Linux: WatchdogSec of the unit, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        watchdog_sec: u64,
    },
    /// Remove the service (on Linux also the system user `install` created; the data folder stays).
    Uninstall {
        /// The service name.
        #[arg(long, default_value = "logward")]
        name: String,
        /// Linux: uninstall from under DIR, as installed with `install --root DIR`.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
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
    /// Reload the running service's configuration (it is checked first; one with mistakes is refused
    /// and the running one stays). Linux: `systemctl reload`. Windows: the service's reload control.
    Reload {
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
    #[cfg(target_os = "linux")]
    {
        linux::dispatch(cmd)
    }
    #[cfg(not(any(windows, target_os = "linux")))]
    {
        let _ = cmd;
        eprintln!(
            "`logward service` manages a Windows service or a systemd unit; on this system, run `logward run -c FILE` under its service manager."
        );
        crate::cli::exit::FAILURE
    }
}
