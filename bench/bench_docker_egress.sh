#!/usr/bin/env bash
# bench_docker_egress.sh - the Docker runtime end to end in network mode
# bridge (the production default): scans per second of one public page by
# this tree's safeurl-worker (fetchers join its network holder: the egress
# network) and, side by side in the same run, by another build's worker
# (BENCH_BASE=DIR, a release build directory of an earlier commit, e.g. a
# worktree of main: its bridge is the engine's bridge), with network host
# as the floor, at concurrency 1, 4 and 8; the fetcher's guard at its
# defaults; the same fetcher image (this tree's) for all.
# Sealed: a fresh network namespace whose only link is a veth pair to a
# second fresh one holding the page and its DNS server
# (tests/fixtures/world_ns.sh), and a private dockerd in it with a bridge
# of its own (172.31.0.0/24, routed to the world, no iptables rules).
# Needs root, dockerd and slirp4netns. Run it only on an idle machine.
#   BENCH_BASE=/path/to/main/build/release bench/bench_docker_egress.sh [SCANS_PER_LEVEL]  (24)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SAFEURL_IN_NETNS:-}" ]; then
  exec unshare --net --mount env SAFEURL_IN_NETNS=1 bash -c \
    'mount --make-rprivate / && ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
n=${1:-24}
base=${BENCH_BASE:-}
[ -z "$base" ] || [ -x "$base/safeurl-worker" ] || { echo "bench: BENCH_BASE='$base': no safeurl-worker there" >&2; exit 64; }
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
B=build/release S=$PWD
T=$(mktemp -d /tmp/safeurl-bench.XXXXXX)
pids=() CLEANUP=()
at_exit() { CLEANUP+=("$1"); }
die() { echo "bench: $*" >&2; exit 1; }
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  while ! "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done
}
cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[$i]}" >/dev/null 2>&1 || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # the private engine's namespace mounts (exec-root/netns) go first
  awk -v t="$T" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r umount -l
  rm -rf "$T"
}
trap cleanup EXIT

. tests/fixtures/world_ns.sh
make_world
pids+=("$WORLD")
mkdir -p "$T/site"
python3 -c 'print("<html><head><title>bench</title></head><body>" + "a public page. " * 400 + "</body></html>")' > "$T/site/index.html"
world_site "$T/site" || die "the world's site did not start"
pids+=("${WORLD_PIDS[@]}")

. tests/fixtures/private_dockerd.sh
PRIV_DOCKERD_ARGS="--bip 172.31.0.1/24 --ip-forward=true" start_private_dockerd
export DOCKER_SOCKET_PATH=$PRIV_SOCK DOCKER_HOST=unix://$PRIV_SOCK
./scripts/build-image.sh >/dev/null 2>&1 || die "cannot build the fetcher image"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >/dev/null &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export REDIS_HOST=127.0.0.1 REDIS_PORT=$port LOG_LEVEL=warn LOG_FORMAT=json FETCHER_ARGS=
export CONTAINER_RUNTIME=docker FETCHER_IMAGE=safeurl-fetcher:latest
. bench/bench_scans.sh

echo "== end to end: safeurl-worker on Docker, $n scans of http://site.test/ per level and mode"
printf 'conc | host scans/s | bridge: base (engine bridge) /s | bridge: this (egress) /s | this / base\n'
for c in 1 4 8; do
  h=$(scans host "$c" "$n" http://site.test/ CONTAINER_NETWORK_MODE=host CONTAINER_ALLOW_HOST_NETWORK=1)
  b=0
  [ -z "$base" ] || b=$(B=$base scans base "$c" "$n" http://site.test/ CONTAINER_NETWORK_MODE=bridge)
  e=$(scans egress "$c" "$n" http://site.test/ CONTAINER_NETWORK_MODE=bridge)
  python3 -c 'import sys; c, h, b, e = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]); print("%4d | %12.1f | %31.1f | %24.1f | %s" % (c, h, b, e, "%.2f" % (e / b) if b else "-"))' "$c" "$h" "$b" "$e"
done
