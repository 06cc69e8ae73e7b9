#!/usr/bin/env bash
# test.sh - install what is missing, build the sanitizer (debug) preset and
# run every test. Usage: scripts/test.sh [ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
# shellcheck source=services.sh
. ./scripts/services.sh
ensure_dockerd

cmake --preset debug >/dev/null
cmake --build --preset debug
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --preset debug "$@"
