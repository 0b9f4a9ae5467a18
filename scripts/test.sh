#!/usr/bin/env bash
# Sets up (Debian packages), builds, and runs every test with ctest; exits
# non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 300
