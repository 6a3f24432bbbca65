#!/usr/bin/env bash
# The real Hubot in the test suite: installs the pinned bots from the npm registry (npm ci from
# the lockfiles in v1/ and v2/), then runs the node --test files here against the built rc-sim,
# rc-bootstrap and rc-probe (target/debug, or $COQUELICOT_BIN_DIR). Called by scripts/test.
set -euo pipefail
cd "$(dirname "$0")"
for v in v2 v1; do
  (cd "$v" && npm ci --no-audit --no-fund --loglevel=error)
done
# One test at a time: each starts its own rc-sim and Hubot, and the machine is small. Bounded:
# a test over 3 minutes fails, and a file whose process does not exit cannot hold the suite
# past 15 minutes (the whole step takes about 2).
exec timeout --kill-after=10s 900s node --test --test-concurrency=1 --test-timeout=180000 ./*.test.mjs
