//! `logward alert test`: sends a test alert through each configured notifier (or those of one rule) and
//! prints what each answered.

use super::exit;
use crate::alerts::config::{NotifierConfig, Priority, RuleKind};
use crate::alerts::notify::Notifier;
use crate::alerts::{Alert, engine::now_ms};
use std::path::PathBuf;

/// `logward alert …`.
#[derive(Debug, clap::Subcommand)]
pub enum AlertCommand {
    /// Send a test notification through each configured notifier and print what each answered.
    Test(TestArgs),
}

/// Arguments of `alert test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The configuration file.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Only the notifiers of this rule, with its name and priority in the test alert.
    #[arg(long, value_name = "NAME")]
    pub rule: Option<String>,
}

/// Runs `alert …`; returns the exit code.
pub fn dispatch(cmd: AlertCommand) -> i32 {
    match cmd {
        AlertCommand::Test(args) => test(&args),
    }
}

fn test(args: &TestArgs) -> i32 {
    let config = match crate::config::load_file(&args.config) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return exit::BAD_CONFIG;
        }
    };
    let Some(alerts) = &config.alerts else {
        eprintln!(
            "{}: there is no `alerts:` section, so no notifier to test",
            args.config.display()
        );
        return exit::BAD_CONFIG;
    };
    let (rule_name, priority, names): (String, Priority, Vec<String>) = match &args.rule {
        Some(name) => match alerts.rules.iter().find(|r| &r.name == name) {
            Some(r) => (r.name.clone(), r.priority, r.notify.clone()),
            None => {
                let known: Vec<&str> = alerts.rules.iter().map(|r| r.name.as_str()).collect();
                eprintln!(
                    "{}: there is no rule `{name}` (rules: {})",
                    args.config.display(),
                    known.join(", ")
                );
                return exit::BAD_CONFIG;
            }
        },
        None => (
            "logward-test".into(),
            Priority::P4,
            alerts.notifiers.keys().cloned().collect(),
        ),
    };
    if names.is_empty() {
        eprintln!("{}: no notifier to test", args.config.display());
        return exit::BAD_CONFIG;
    }
    let alert = Alert {
        rule: rule_name,
        kind: RuleKind::Any,
        group: String::new(),
        count: 1,
        threshold: 0,
        window_secs: 0.0,
        priority,
        fired_at_ms: now_ms(),
        notify: names.clone(),
        samples: vec![
            serde_json::json!({"message": "a test notification from `logward alert test`"}),
        ],
        detail: String::new(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return exit::FAILURE;
        }
    };
    let mut failed = 0;
    for name in &names {
        let Some(cfg): Option<&NotifierConfig> = alerts.notifiers.get(name) else {
            continue;
        };
        let outcome = match Notifier::new(name, cfg) {
            Ok(n) => runtime.block_on(n.send(&alert)).map_err(|e| e.message),
            Err(e) => Err(format!("{e:#}")),
        };
        match outcome {
            Ok(answer) => println!("{name} ({}): sent: {answer}", cfg.kind()),
            Err(e) => {
                failed += 1;
                println!("{name} ({}): FAILED: {e}", cfg.kind());
            }
        }
    }
    if failed == 0 { exit::OK } else { exit::FAILURE }
}
