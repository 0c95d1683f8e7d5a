#!/usr/bin/env bash
# Runs one fuzz target by hand: scripts/fuzz.sh TARGET [SECONDS] [extra libFuzzer options…]
# Needs cargo-fuzz (cargo install cargo-fuzz --locked) and a C++ compiler. On a stable toolchain
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its coverage flags; no sanitizer is used (-s none): Rust code
# is memory-safe, and what is looked for is panics, hangs and runaway memory.
# New inputs go to target/fuzz-work/TARGET (seeded from fuzz/corpus/TARGET); crashes to
# fuzz/artifacts/TARGET. Minimise a finding with `cargo fuzz tmin`, then commit it to fuzz/corpus/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS] [libFuzzer options]}
seconds=${2:-300}
shift $(( $# < 2 ? $# : 2 ))
work=target/fuzz-work/$target
mkdir -p "$work"
# evtx files are 68 KiB and more; other inputs stay small so each run is fast.
max_len=8192
[ "$target" = evtx ] && max_len=1200000
RUSTC_BOOTSTRAP=1 exec cargo fuzz run -s none --target-dir target/fuzz "$target" "$work" "fuzz/corpus/$target" -- \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len="$max_len" \
  -print_final_stats=1 "$@"
