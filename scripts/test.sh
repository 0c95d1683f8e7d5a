#!/usr/bin/env bash
# The whole test suite: unit and end-to-end tests (real binary, real files, real servers when installed),
# then the Windows build and its service life cycle under Wine when Wine is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo nextest run --locked --profile ci --no-fail-fast
if [ -x scripts/wine-service-test.sh ] && command -v wine >/dev/null 2>&1; then
  bash scripts/wine-service-test.sh
else
  echo "wine-service-test: skipped (wine or the script is not available)"
fi
