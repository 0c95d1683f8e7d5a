//! The `logward` command: parses arguments and hands over to `logward::cli`.

use clap::Parser;

fn main() {
    let args = logward::cli::Cli::parse();
    std::process::exit(logward::cli::dispatch(args));
}

// Events are built on input threads and freed on output threads; mimalloc handles that cross-thread pattern
// far better than the system allocators (glibc's free path was a third of the CPU time in profiles).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
