#!/usr/bin/env bash
# The test command from README.md: install what is missing, build, run every test target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/opt/swift/usr/bin:$PATH
swift build --build-tests
swift test --skip-build 2>&1 | tee /tmp/tgdm-test.log
