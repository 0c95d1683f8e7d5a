//! logward's own log: to standard error and to a daily-rotated file in the data folder, as text or JSON.

use crate::config::model::{LogFormat, LoggingConfig};
use std::path::Path;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// Keeps the file writer flushing until dropped (hold it for the life of the process).
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Installs the global logger. `RUST_LOG` overrides the configured level.
pub fn init(cfg: &LoggingConfig, data_dir: Option<&Path>) -> LogGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let mut guard = None;
    let file_writer = if cfg.to_file {
        data_dir.and_then(|dir| {
            let logs = dir.join("logs");
            crate::util::fs::create_private_dir_all(&logs).ok()?;
            // The appender creates its files with the default mode; today's is created here first, 0600
            // (later days' files are inside the 0700 folder).
            let today = logs.join(format!(
                "logward.{}.log",
                chrono::Utc::now().format("%Y-%m-%d")
            ));
            let _ = crate::util::fs::private_options()
                .create(true)
                .append(true)
                .open(&today);
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("logward")
                .filename_suffix("log")
                .max_log_files(cfg.keep_files.max(1))
                .build(&logs)
                .ok()?;
            let (writer, g) = tracing_appender::non_blocking(appender);
            guard = Some(g);
            Some(writer)
        })
    } else {
        None
    };
    // A closed stderr (service, pipe) must not turn every log line into an error report.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .log_internal_errors(false);
    let result = match (cfg.format, file_writer) {
        // One formatter writes both, and the file must stay plain text.
        (LogFormat::Text, Some(w)) => builder
            .with_ansi(false)
            .with_writer(std::io::stderr.and(w))
            .try_init(),
        // Colour codes only where a person reads them: a terminal, and NO_COLOR unset.
        (LogFormat::Text, None) => builder
            .with_ansi(colour_stderr())
            .with_writer(std::io::stderr)
            .try_init(),
        (LogFormat::Json, Some(w)) => builder
            .json()
            .with_writer(std::io::stderr.and(w))
            .try_init(),
        (LogFormat::Json, None) => builder.json().with_writer(std::io::stderr).try_init(),
    };
    // A second init (tests, service restarts in one process) keeps the first logger.
    let _ = result;
    LogGuard(guard)
}

/// Whether logward's own log on standard error may use colours: only on a terminal, and not when
/// `NO_COLOR` is set (<https://no-color.org>).
fn colour_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
