#!/usr/bin/env bash
# bench_retention.sh - what retention costs and saves: the database size
# per 100,000 completed scans (real fetcher documents, the worker's four
# audit rows each; bench/retention_fill.py), and the time one prune batch
# holds the write lock (`safeurl prune`'s longest batch and the mean, at
# the batch sizes in $BATCHES, default 500), on a SQLite file and on tursodb serving
# the same kind of file over HTTP on loopback. Half the scans are pruned in
# each run (updated_at spread over 30 days, --older-than 15d), then the
# file size after incremental vacuum.
#   [BATCHES="100 500 2000"] bench/bench_retention.sh [SCANS]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
cmake --preset release >/dev/null
cmake --build --preset release -j2 >/dev/null
B=$PWD/build/release
T=$(mktemp -d /tmp/safeurl-bench-retention.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_until() { local i; for i in $(seq 1 300); do "$@" && return 0; sleep 0.2; done; echo "bench: timed out waiting for: $*" >&2; exit 1; }
TURSODB=$PWD/tests/interop/node_modules/@tursodatabase/cli-linux-x64-gnu/tursodb
[ -x "$TURSODB" ] || { echo "bench: no tursodb at $TURSODB (npm ci in tests/interop)" >&2; exit 1; }

# a real fetcher document: the benign page of the fixture site
python3 tests/fixtures/fetcher_fixture.py --port-file "$T/ports" &
pids+=($!)
wait_until test -s "$T/ports"
read -r hp _ <"$T/ports"
"$B/safeurl-fetcher" --resolve "shop.test:$hp:127.0.0.1" --allow-loopback --ports "$hp" \
  "http://shop.test:$hp/benign" >"$T/doc.json"
mib() { python3 -c 'import os, sys; print("%.1f" % (os.path.getsize(sys.argv[1]) / 1048576.0))' "$1"; }
size() { # size FILE: bytes of the file and its WAL
  local s=0 f; for f in "$1" "$1-wal"; do [ -e "$f" ] && s=$((s + $(stat -c %s "$f"))); done; echo "$s"; }

echo "== $n completed scans, result_json $(stat -c %s "$T/doc.json") bytes each; load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
printf 'database | batch | size before MiB | bytes/scan | pruned | batches | longest batch ms | mean batch ms | size after MiB\n'
for batch in ${BATCHES:-500}; do
  for kind in sqlite tursodb; do
    db=$T/$kind-$batch.db
    if [ "$kind" = sqlite ]; then
      url=file:$db
      TURSO_CONNECTION_URL=$url "$B/safeurl" migrate >/dev/null
      python3 bench/retention_fill.py "$db" "$n" "$T/doc.json" 30
    else
      # the schema as tursodb makes it, the rows written to its file while
      # it is stopped (same file format), then served again
      port=$(free_port)
      "$TURSODB" "$db" --sync-server "127.0.0.1:$port" >>"$T/tursodb.log" 2>&1 &
      tp=$!; pids+=($tp)
      wait_until bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
      TURSO_CONNECTION_URL=http://127.0.0.1:$port "$B/safeurl" migrate >/dev/null
      kill "$tp"; wait "$tp" 2>/dev/null || true
      python3 bench/retention_fill.py "$db" "$n" "$T/doc.json" 30
      "$TURSODB" "$db" --sync-server "127.0.0.1:$port" >>"$T/tursodb.log" 2>&1 &
      tp=$!; pids+=($tp)
      wait_until bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
      url=http://127.0.0.1:$port
    fi
    before=$(size "$db")
    start=$(date +%s%N)
    out=$(TURSO_CONNECTION_URL=$url "$B/safeurl" prune --older-than 15d --batch "$batch")
    total_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$kind" = sqlite ] || { kill "$tp"; wait "$tp" 2>/dev/null || true; }
    [ "$kind" = sqlite ] && sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    after=$(size "$db")
    python3 - "$kind" "$batch" "$before" "$n" "$out" "$total_ms" "$after" <<'PY'
import re, sys
kind, batch, before, n, out, total, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
m = re.search(r"pruned (\d+) scan\(s\) .* in (\d+) batch\(es\) .* longest batch (\d+) ms", out)
pruned, batches, longest = int(m.group(1)), int(m.group(2)), int(m.group(3))
print("%-8s | %5d | %15.1f | %10.0f | %6d | %7d | %16d | %13.1f | %14.1f" % (
    kind, batch, before / 1048576.0, before / n, pruned, batches, longest,
    total / float(batches), after / 1048576.0))
PY
    rm -f "$db" "$db"-*
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
