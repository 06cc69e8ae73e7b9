#!/usr/bin/env bash
# bench_remote.sh - the database at a distance: safeurl-worker scans per
# second with the sandbox runtime at WORKER_CONCURRENCY 8 and 32, the
# database a local SQLite file and then a tursodb server behind
# bench/latency_proxy.py, which adds RTT_MS (30) of round-trip time to
# every request and to every new connection; the ratio remote/local per
# level. The remote side runs twice: the proxy keeping client connections
# alive (as a remote sqld or Turso keeps them) and closing them after each
# reply (what tursodb itself does): the price of a new connection per
# request. For each remote run the proxy's counts give HTTP requests and
# new connections per scan.
#
# Rates come from the BullMQ job hashes (first processedOn to last
# finishedOn), the same clock whatever the database. Scans are submitted
# before the workers start (straight to tursodb, no delay), so the rate is
# the workers' alone. Loopback only: a private Redis, the fixture site,
# the real fetcher in the sandbox on host network mode. Needs root.
#   bench/bench_remote.sh [SCANS_PER_RUN [WORKERS [RTT_MS]]]  (200, 1, 30)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200} workers=${2:-1} rtt=${3:-30}

cmake --preset release >/dev/null
cmake --build --preset release -j2 >/dev/null
B=build/release
T=$(mktemp -d /tmp/safeurl-bench-remote.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_until() { local i; for i in $(seq 1 300); do "$@" && return 0; sleep 0.2; done; echo "bench: timed out waiting for: $*" >&2; exit 1; }

./scripts/build-image.sh --rootfs "$T/fetcher-root" >/dev/null
TURSODB=tests/interop/node_modules/@tursodatabase/cli-linux-x64-gnu/tursodb
[ -x "$TURSODB" ] || { echo "bench: no tursodb at $TURSODB (npm ci in tests/interop)" >&2; exit 1; }

port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >/dev/null &
pids+=($!)
python3 tests/fixtures/fetcher_fixture.py --port-file "$T/ports" &
pids+=($!)
wait_until bash -c "[ -s '$T/ports' ] && redis-cli -p $port ping >/dev/null 2>&1"
read -r hp _ <"$T/ports"
tport=$(free_port)
"$TURSODB" "$T/turso.db" --sync-server "127.0.0.1:$tport" >"$T/tursodb.log" 2>&1 &
pids+=($!)
wait_until bash -c "exec 3<>/dev/tcp/127.0.0.1/$tport" 2>/dev/null
start_proxy() { # start_proxy NAME [--close]: sets proxy_url, stats file $T/proxy-NAME
  local p; p=$(free_port)
  python3 bench/latency_proxy.py "$p" "$tport" "$rtt" "$T/proxy-$1" ${2:-} &
  pids+=($!)
  wait_until test -s "$T/proxy-$1"
  proxy_url=http://127.0.0.1:$p
}
start_proxy keep
keep_url=$proxy_url
start_proxy close --close
close_url=$proxy_url

export REDIS_HOST=127.0.0.1 REDIS_PORT=$port LOG_LEVEL=warn
export CONTAINER_RUNTIME=sandbox FETCHER_ROOTFS=$T/fetcher-root
export CONTAINER_NETWORK_MODE=host CONTAINER_ALLOW_HOST_NETWORK=1
export FETCHER_ARGS="--resolve shop.test:$hp:127.0.0.1 --allow-loopback --ports $hp"
url="http://shop.test:$hp/benign"

stats() { read -r _ c _ r <"$T/proxy-$1"; echo "$c $r"; }

# run NAME CONC WORKER_DB SUBMIT_DB: prints scans/s
run() {
  local name=$1 conc=$2 wdb=$3 sdb=$4 key ws=() w i failed
  export QUEUE_NAME=remote-$name-$conc
  key=bull:$QUEUE_NAME
  TURSO_CONNECTION_URL=$sdb $B/safeurl submit $(for i in $(seq 1 "$n"); do echo "$url?$name-$conc-$i"; done) >"$T/ids-$name-$conc"
  for i in $(seq 1 "$workers"); do
    TURSO_CONNECTION_URL=$wdb WORKER_CONCURRENCY=$conc WORKER_ID=$name-$conc-$i \
      $B/safeurl-worker 2>"$T/worker-$name-$conc-$i.log" &
    ws+=($!); pids+=($!)
  done
  until [ $(( $(redis-cli -p "$port" zcard "$key:completed") + $(redis-cli -p "$port" zcard "$key:failed") )) -ge "$n" ]; do
    sleep 0.2
    for w in "${ws[@]}"; do kill -0 "$w" 2>/dev/null || { cat "$T"/worker-$name-$conc-*.log >&2; exit 1; }; done
  done
  for w in "${ws[@]}"; do kill -TERM "$w"; wait "$w" || true; done
  failed=$(redis-cli -p "$port" zcard "$key:failed")
  [ "$failed" = 0 ] || { echo "bench: $name at $conc: $failed scans failed" >&2; cat "$T"/worker-$name-$conc-*.log >&2; exit 1; }
  while read -r id; do redis-cli -p "$port" hmget "$key:$id" processedOn finishedOn | paste -sd' '; done <"$T/ids-$name-$conc" |
    python3 -c '
import sys
rows = [tuple(map(int, l.split())) for l in sys.stdin if l.strip()]
print("%.2f" % (len(rows) / ((max(f for _, f in rows) - min(p for p, _ in rows)) / 1000.0)))'
}

# remote NAME CONC URL: scans/s, then requests and connections per scan
remote() {
  local before after rate
  before=$(stats "$1")
  rate=$(run "$1" "$2" "$3" "http://127.0.0.1:$tport")
  after=$(stats "$1")
  python3 -c 'import sys; b, a, n = sys.argv[1].split(), sys.argv[2].split(), int(sys.argv[3]); print(sys.argv[4], (int(a[1]) - int(b[1])) / n, (int(a[0]) - int(b[0])) / n)' \
    "$before" "$after" "$n" "$rate"
}

echo "== $n sandbox scans per run, $workers worker(s), remote = tursodb $("$TURSODB" --version | awk '{print $2}') behind a ${rtt} ms RTT proxy; load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
printf 'conc | local scans/s | remote scans/s | ratio | req/scan | conn/scan | remote, no keep-alive scans/s | ratio | conn/scan\n'
for c in 8 32; do
  TURSO_CONNECTION_URL=file:$T/local-$c.db $B/safeurl migrate >/dev/null
  l=$(run local "$c" "file:$T/local-$c.db" "file:$T/local-$c.db")
  read -r k kreq kconn <<<"$(remote keep "$c" "$keep_url")"
  read -r x _ xconn <<<"$(remote close "$c" "$close_url")"
  python3 -c 'import sys; c = int(sys.argv[1]); l, k, kq, kc, x, xc = map(float, sys.argv[2:]); print("%4d | %13.1f | %14.1f | %5.2f | %8.1f | %9.2f | %29.1f | %5.2f | %9.1f" % (c, l, k, k / l, kq, kc, x, x / l, xc))' \
    "$c" "$l" "$k" "$kreq" "$kconn" "$x" "$xconn"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
