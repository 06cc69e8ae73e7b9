#!/usr/bin/env bash
# bench_scaleout.sh - throughput as worker processes are added: 1, 2 and 4
# safeurl-worker processes (each at WORKER_CONCURRENCY, default 1) on one
# machine sharing one Redis and one database, scanning a local page with
# the real fetcher image. Prints scans/s per worker count, per worker, and
# the ratio against 1 worker measured in the same run.
#
# The rate is taken from the BullMQ job hashes (first processedOn to last
# finishedOn), so it reads the same whatever the database is:
#   TURSO_CONNECTION_URL  unset: a SQLite file per level in the run's
#                         directory; set (file:, libsql://, https://...):
#                         every level uses that database (each level has
#                         its own queue; rows of all levels accumulate)
#   TURSO_AUTH_TOKEN      passed on to the workers and the CLI
#   BENCH_IMAGE           the fetcher image (safeurl-fetcher:latest); the
#                         testbox (safeurl-testbox:latest) measures the
#                         worker and engine without the fetch
# Loopback only: a private Redis, the fixture site, host network mode.
#   bench/bench_scaleout.sh [SCANS_PER_LEVEL]   (default 48)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-48}
conc=${WORKER_CONCURRENCY:-1}
. bench/bench_lib.sh
tests/fixtures/testbox/build.sh >/dev/null 2>&1
export LOG_LEVEL=warn WORKER_CONCURRENCY=$conc FETCHER_IMAGE=${BENCH_IMAGE:-safeurl-fetcher:latest}
case $FETCHER_IMAGE in
  safeurl-testbox*) export FETCHER_ARGS='json {"ok":true,"url":"x","finalUrl":"x","redirects":[],"httpStatus":200,"verdict":"safe","riskScore":0,"reasons":[]}' ;;
esac
db=${TURSO_CONNECTION_URL:-}
echo "== scale-out: $n scans per level, $FETCHER_IMAGE, WORKER_CONCURRENCY=$conc, database ${db:-file (one per level)}"
printf 'workers | slots | scans/s | per worker | ratio to 1 worker\n'
base=""
for k in 1 2 4; do
  export QUEUE_NAME=scaleout-$k TURSO_CONNECTION_URL=${db:-file:$T/scaleout-$k.db}
  $B/safeurl migrate >/dev/null
  ws=()
  for i in $(seq 1 $k); do
    WORKER_ID=scaleout-$k-$i $B/safeurl-worker 2>"$T/worker-$k-$i.log" &
    ws+=($!); pids+=($!)
  done
  $B/safeurl submit $(for i in $(seq 1 "$n"); do echo "$url?$k-$i"; done) >"$T/ids-$k"
  key=bull:$QUEUE_NAME
  until [ $(( $(redis-cli -p "$port" zcard "$key:completed") + $(redis-cli -p "$port" zcard "$key:failed") )) -ge "$n" ]; do
    sleep 0.2
    for w in "${ws[@]}"; do kill -0 "$w" 2>/dev/null || { cat "$T"/worker-$k-*.log; exit 1; }; done
  done
  for w in "${ws[@]}"; do kill -TERM "$w"; wait "$w"; done
  failed=$(redis-cli -p "$port" zcard "$key:failed")
  [ "$failed" = 0 ] || { echo "level $k: $failed scans failed" >&2; exit 1; }
  rate=$(while read -r id; do redis-cli -p "$port" hmget "$key:$id" processedOn finishedOn | paste -sd' '; done <"$T/ids-$k" |
    python3 -c '
import sys
rows = [tuple(map(int, l.split())) for l in sys.stdin if l.strip()]
print("%.2f" % (len(rows) / ((max(f for _, f in rows) - min(p for p, _ in rows)) / 1000.0)))')
  base=${base:-$rate}
  python3 -c 'import sys; k, c, r, b = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]); print("%7d | %5d | %7.2f | %10.2f | %5.2f" % (k, k * c, r, r / k, r / b))' "$k" "$conc" "$rate" "$base"
done
