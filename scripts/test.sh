#!/usr/bin/env bash
# Runs the whole test suite: installs missing system packages, then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build 2>&1 | tee /tmp/kestrel-test.log
