#!/usr/bin/env bash
# bench_e2e.sh - end-to-end scans per second and scan latency (claim to
# COMPLETED, p50/p99) through safeurl-worker at concurrency 1, 4 and 8,
# against the floor of the same fetcher containers run by a bare loop over
# the Engine API (bench_runtime with the fetcher image) in the same run.
# "worker time" is claim-to-COMPLETED minus the container's own lifecycle
# (runtime_run's create-to-removed time, from the worker's log): what the
# worker itself adds to a scan (queue, database, output check).
# Loopback only: a private Redis, the fixture site, host network mode.
#   bench/bench_e2e.sh [SCANS_PER_LEVEL]   (default 24)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-24}
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
./scripts/build-image.sh >/dev/null
B=build/release
. bench/bench_lib.sh
bench_services
export LOG_LEVEL=info

echo "== floor: the same fetcher containers, bare Engine API loop vs runtime_run"
BENCH_IMAGE=safeurl-fetcher:latest BENCH_CMD="$FETCHER_ARGS $url" BENCH_NETWORK=host \
  "$B/bench/bench_runtime" $(( (n + 3) / 4 )) | tee "$T/floor"

echo "== end to end: safeurl-worker, $n scans per level (queue -> state -> runtime -> store)"
printf 'conc | scans/s | bare /s | ratio | latency p50 ms | p99 ms | slot overhead ms/scan | worker time ms/scan p50 / p99\n'
for c in 1 4 8; do
  export TURSO_CONNECTION_URL=file:$T/e2e-$c.db QUEUE_NAME=bench-$c
  $B/safeurl submit $(for i in $(seq 1 "$n"); do echo "$url?$i"; done) >/dev/null
  WORKER_CONCURRENCY=$c $B/safeurl-worker 2>"$T/worker-$c.log" &
  w=$!
  until [ "$(sqlite3 "$T/e2e-$c.db" "SELECT count(*) FROM scan_jobs WHERE state IN ('COMPLETED','FAILED','TIMED_OUT')")" = "$n" ]; do
    sleep 0.2
    kill -0 $w 2>/dev/null || { cat "$T/worker-$c.log"; exit 1; }
  done
  kill -TERM $w; wait $w
  bare=$(awk -v c="$c" '$1==c && $2=="|" {print $3}' "$T/floor")
  sqlite3 "$T/e2e-$c.db" "
    SELECT a.job_id, a.created_at, b.created_at FROM audit_logs a JOIN audit_logs b
      ON a.job_id=b.job_id AND a.to_state='FETCHING' AND b.to_state='COMPLETED'" |
  python3 -c '
import json, re, sys
c, n, bare, log = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ids = {}
for l in sys.stdin:
    if l.strip():
        j, a, b = l.split("|")
        ids[j] = (int(a), int(b))
rows = list(ids.values())
run = {}
for l in open(log):
    d = json.loads(l)
    m = re.search(r"exited \(code 0\) after (\d+) ms", d.get("msg", ""))
    if m and d.get("job") in ids:
        run[d["job"]] = int(m.group(1))
own = sorted(ids[j][1] - ids[j][0] - run[j] for j in run)
lat = sorted(b - a for a, b in rows)
span = (max(b for _, b in rows) - min(a for a, _ in rows)) / 1000.0
rate = len(rows) / span
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
over = c * (1 / rate - 1 / bare) * 1000
q = lambda v, x: v[min(len(v) - 1, int(x * len(v)))]
print("%4d | %7.1f | %7.1f | %5.2f | %14d | %6d | %+21.1f | %8d / %d" % (c, rate, bare, rate / bare, p(0.5), p(0.99), over, q(own, 0.5), q(own, 0.99)))
' "$c" "$n" "$bare" "$T/worker-$c.log"
done
