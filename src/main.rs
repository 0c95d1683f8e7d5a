//! The `logward` command: parses arguments and hands over to `logward::cli`.

use clap::Parser;

fn main() {
    let args = logward::cli::Cli::parse();
    std::process::exit(logward::cli::dispatch(args));
}
