#!/usr/bin/env bash
# bench_sandbox.sh - the sandbox runtime against the Docker runtime, in the
# same run, at concurrency 1, 4 and 8:
#  1. spawn latency (p50, p95) and lifecycles per second through
#     runtime_run(), the testbox printing a small JSON document, 64 MiB
#     (bench_runtime with BENCH_SANDBOX=1); Docker on network none (its
#     cheapest), the sandbox on bridge, its egress network (the production
#     default; slirp4netns);
#  2. end to end: safeurl-worker scans per second of a local page (the
#     fixture site on loopback, host network mode, the real fetcher; from
#     the first claim to the last COMPLETED in the audit trail), with
#     CONTAINER_RUNTIME=docker and then sandbox. The sandbox gets 5x the
#     scans so that its run is not all start-up.
# Loopback only: a private Redis, the fixture site. Needs root and dockerd.
#   bench/bench_sandbox.sh [RUNS_PER_BATCH] [SCANS_PER_LEVEL]  (12, 24)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-12} n=${2:-24}
. bench/bench_lib.sh
./scripts/build-image.sh --rootfs "$T/fetcher-root" >/dev/null
tests/fixtures/testbox/build.sh >/dev/null
tests/fixtures/testbox/build.sh --rootfs "$T/testbox-root"

echo "== runtime_run: docker (network none) vs sandbox (network bridge: the egress network)"
BENCH_SANDBOX=1 BENCH_SANDBOX_NETWORK=bridge FETCHER_ROOTFS=$T/testbox-root FETCHER_ENTRYPOINT=/testbox \
  "$B/bench/bench_runtime" "$runs"

export LOG_LEVEL=warn LOG_FORMAT=json FETCHER_ROOTFS=$T/fetcher-root

# scans RUNTIME CONC COUNT: scans per second of one worker run.
scans() {
  local db=$T/e2e-$1-$2.db w
  export TURSO_CONNECTION_URL=file:$db QUEUE_NAME=bench-$1-$2
  $B/safeurl submit $(for i in $(seq 1 "$3"); do echo "$url?$i"; done) >/dev/null
  CONTAINER_RUNTIME=$1 WORKER_CONCURRENCY=$2 $B/safeurl-worker 2>"$T/worker-$1-$2.log" &
  w=$!
  until [ "$(sqlite3 "$db" "SELECT count(*) FROM scan_jobs WHERE state IN ('COMPLETED','FAILED','TIMED_OUT')")" = "$3" ]; do
    sleep 0.1
    kill -0 $w 2>/dev/null || { cat "$T/worker-$1-$2.log" >&2; exit 1; }
  done
  kill -TERM $w; wait $w
  [ "$(sqlite3 "$db" "SELECT count(*) FROM scan_jobs WHERE state='COMPLETED'")" = "$3" ] ||
    { echo "bench_sandbox: $1: not every scan completed" >&2; exit 1; }
  sqlite3 "$db" "SELECT $3 * 1000.0 / (max(created_at) - min(created_at)) FROM audit_logs WHERE to_state IN ('FETCHING','COMPLETED')"
}

echo "== end to end: safeurl-worker, $n docker scans and $((5 * n)) sandbox scans per level"
printf 'conc | docker scans/s | sandbox scans/s | ratio\n'
for c in 1 4 8; do
  d=$(scans docker "$c" "$n")
  s=$(scans sandbox "$c" $((5 * n)))
  python3 -c 'import sys; c, d, s = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print("%4d | %14.1f | %15.1f | %5.1f" % (c, d, s, s / d))' "$c" "$d" "$s"
done
