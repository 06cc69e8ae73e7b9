#!/usr/bin/env bash
# bench_egress.sh - what the sandbox runtime's isolated egress network
# (CONTAINER_NETWORK_MODE=bridge: slirp4netns, the production default)
# costs end to end: safeurl-worker scans per second of one public page,
# the same worker and fetcher on network bridge and then on host (the
# fetch straight from the host's stack, no slirp), in the same run, at
# concurrency 1, 4 and 8; the fetcher's guard at its defaults.
# Sealed: it runs in a fresh network namespace whose only link is a veth
# pair to a second fresh one holding the page and its DNS server
# (tests/fixtures/world_ns.sh), so no packet can leave the machine.
# Needs root and slirp4netns; no Docker.
#   bench/bench_egress.sh [SCANS_PER_LEVEL]  (120)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SAFEURL_IN_NETNS:-}" ]; then
  exec unshare --net --mount env SAFEURL_IN_NETNS=1 bash -c \
    'mount --make-rprivate / && ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
n=${1:-120}
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
B=build/release S=$PWD
T=$(mktemp -d /tmp/safeurl-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
./scripts/build-image.sh --rootfs "$T/fetcher-root" >/dev/null

. tests/fixtures/world_ns.sh
make_world
pids+=("$WORLD")
mkdir -p "$T/site"
python3 -c 'print("<html><head><title>bench</title></head><body>" + "a public page. " * 400 + "</body></html>")' > "$T/site/index.html"
world_site "$T/site" || { echo "bench_egress: the world's site did not start" >&2; exit 1; }
pids+=("${WORLD_PIDS[@]}")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >/dev/null &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export REDIS_HOST=127.0.0.1 REDIS_PORT=$port LOG_LEVEL=warn LOG_FORMAT=json FETCHER_ARGS=
export CONTAINER_RUNTIME=sandbox FETCHER_ROOTFS=$T/fetcher-root
. bench/bench_scans.sh

echo "== end to end: safeurl-worker on the sandbox, $n scans of http://site.test/ per level and mode"
printf 'conc | host scans/s | bridge (egress) scans/s | ratio\n'
for c in 1 4 8; do
  h=$(scans host "$c" "$n" http://site.test/ CONTAINER_NETWORK_MODE=host CONTAINER_ALLOW_HOST_NETWORK=1)
  e=$(scans egress "$c" "$n" http://site.test/ CONTAINER_NETWORK_MODE=bridge)
  python3 -c 'import sys; c, h, e = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print("%4d | %12.1f | %23.1f | %5.2f" % (c, h, e, e / h))' "$c" "$h" "$e"
done
