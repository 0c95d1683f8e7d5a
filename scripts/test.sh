#!/usr/bin/env bash
# The whole test suite: unit and end-to-end tests (real binary, real files, real servers when installed),
# then the Windows build and its service life cycle under Wine when Wine is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo nextest run --locked --profile ci --no-fail-fast
# The Windows service life cycle under Wine (scripts/wine-service-test.sh); LOGWARD_WINE_TEST=0 skips it.
if [ "${LOGWARD_WINE_TEST:-1}" = 0 ]; then
  echo "wine-service-test: not run (LOGWARD_WINE_TEST=0)"
else
  bash scripts/wine-service-test.sh
fi
