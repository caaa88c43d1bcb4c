#!/usr/bin/env bash
# The test command from README.md: install what is missing, build, run every test target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/opt/swift/usr/bin:$PATH
# libgomp threads spin by default; on a shared 2-core machine that makes libtorch many times slower.
export OMP_WAIT_POLICY=PASSIVE
swift build --build-tests
swift test --skip-build 2>&1 | tee /tmp/tgdm-test.log
