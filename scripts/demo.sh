#!/usr/bin/env bash
# demo.sh - on a fresh Debian 12 machine (as root): install what is
# missing, build, start Redis and dockerd, build the fetcher image, serve a
# small demo site on loopback, run a worker against the embedded SQLite
# default (./local.db), submit scans of the site and print their outcomes.
#   --keep   leave the worker running afterwards (Ctrl-C stops it)
# The services it starts (Redis, dockerd) run detached, in sessions of
# their own, and stay up for the next run; the demo's own processes (the
# site, the worker) are stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
case ${1:-} in
  --keep) keep=1 ;;
  "") ;;
  *) echo "usage: $0 [--keep]" >&2; exit 64 ;;
esac

./scripts/deps.sh demo
# shellcheck source=services.sh
. ./scripts/services.sh
ensure_redis "${REDIS_PORT:-6379}"
ensure_dockerd
cmake --preset release >/dev/null
cmake --build --preset release
./scripts/build-image.sh

work=$(mktemp -d /tmp/safeurl-demo.XXXXXX)
pids=()
# Waits only for the demo's own processes, never for a daemon it started.
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

python3 tests/fixtures/fetcher_fixture.py --port-file "$work/ports" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/ports" ] && break; sleep 0.1; done
read -r port _ <"$work/ports"
site="http://shop.demo:$port"

export REDIS_HOST=${REDIS_HOST:-127.0.0.1}
export LOG_FORMAT=${LOG_FORMAT:-text}
export CONTAINER_TIMEOUT_MS=${CONTAINER_TIMEOUT_MS:-5000}
# The demo site is on this machine's loopback: the containers share the
# host network and the fetcher is told so explicitly; without these flags
# it refuses loopback destinations, as it does in production.
export CONTAINER_NETWORK_MODE=host CONTAINER_ALLOW_HOST_NETWORK=1
export FETCHER_ARGS="--resolve shop.demo:$port:127.0.0.1 --allow-loopback --ports $port"

./build/release/safeurl-worker 2>"$work/worker.log" &
worker=$!
pids+=("$worker")
for _ in $(seq 1 100); do
  grep -q 'consuming' "$work/worker.log" 2>/dev/null && break
  kill -0 "$worker" 2>/dev/null || { cat "$work/worker.log" >&2; exit 1; }
  sleep 0.1
done
echo "demo: worker running, demo site at $site (log: $work/worker.log)"

pages=(benign phish iframe eicar.com setup.exe slow "to/http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F")
urls=()
for p in "${pages[@]}"; do urls+=("$site/$p"); done
# Follow the scans to their end (one line each, redrawn in place on a
# terminal), then one table row per scan. Exit 2 says a scan failed or
# timed out, as /slow does on purpose; anything else but 0 is a fault.
echo
rc=0
./build/release/safeurl submit --wait --timeout 300 --summary "${urls[@]}" || rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 2 ]; then
  echo "demo: safeurl submit --wait exited $rc (log: $work/worker.log)" >&2
  exit "$rc"
fi
echo
if [ $keep = 1 ]; then
  echo "demo: the worker keeps running; submit more with ./build/release/safeurl submit --wait URL (Ctrl-C stops)"
  wait "$worker"
else
  kill -TERM "$worker"
  wait "$worker" && echo "demo: worker stopped cleanly"
fi
