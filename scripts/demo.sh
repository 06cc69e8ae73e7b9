#!/usr/bin/env bash
# demo.sh - set up a fresh machine, build, and run the worker against the
# embedded SQLite default and a local Redis. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
# shellcheck source=services.sh
. ./scripts/services.sh
ensure_redis "${REDIS_PORT:-6379}"
ensure_dockerd

cmake --preset release >/dev/null
cmake --build --preset release
export REDIS_HOST=${REDIS_HOST:-127.0.0.1}
export LOG_FORMAT=${LOG_FORMAT:-text}
echo "demo: starting safeurl-worker (Ctrl-C to stop)"
exec ./build/release/safeurl-worker
