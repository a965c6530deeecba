#!/usr/bin/env bash
# Runs the whole test suite: installs missing system packages, builds, runs every XCTest target,
# and ends with one plain summary line ("tests: N passed, N failed, N skipped").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
log=$(mktemp)
status=0
swift test --skip-build --disable-swift-testing 2>&1 | tee "$log" || status=$?
summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -n 1)
total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures? .*/\1/')
skipped=$(echo "$summary" | sed -nE 's/.*with ([0-9]+) tests? skipped.*/\1/p')
skipped=${skipped:-0}
rm -f "$log"
if [ -z "$total" ] || [ "$total" = "$summary" ]; then echo "error: no test summary found" >&2; exit 1; fi
echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
exit $status
