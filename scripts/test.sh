#!/usr/bin/env bash
# The whole test suite: unit and end-to-end tests (real binary, real files, real servers), then the Windows
# build and its service life cycle under Wine. Both parts always run; the suite fails at the end if either
# did. A test that cannot run its subject fails, unless LOGWARD_SKIP names it (see the README's test section).
set -uo pipefail
cd "$(dirname "$0")/.."
cargo nextest run --locked --profile ci --no-fail-fast
rust=$?
# The Windows service life cycle under Wine; it honours LOGWARD_SKIP=wine (and LOGWARD_WINE_TEST=0) itself.
bash scripts/wine-service-test.sh
wine=$?
echo "test.sh: Rust tests exit status $rust, Wine service test exit status $wine"
[ "$rust" = 0 ] && [ "$wine" = 0 ]
