# bench_lib.sh - shared by the end-to-end benchmarks (source it from the
# source tree's root): a private temp dir $T and the processes in pids,
# both gone at exit; bench_services starts a private Redis and the fixture
# site on loopback and exports their settings (host network mode, the
# fetcher told to resolve shop.test to the fixture), with url its benign
# page.
T=$(mktemp -d /tmp/safeurl-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

bench_services() {
  local port hp
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >/dev/null &
  pids+=($!)
  python3 tests/fixtures/fetcher_fixture.py --port-file "$T/ports" &
  pids+=($!)
  for _ in $(seq 1 50); do [ -s "$T/ports" ] && redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  read -r hp _ <"$T/ports"
  export REDIS_HOST=127.0.0.1 REDIS_PORT=$port LOG_FORMAT=json CONTAINER_NETWORK_MODE=host
  export FETCHER_ARGS="--resolve shop.test:$hp:127.0.0.1 --allow-loopback --ports $hp"
  url="http://shop.test:$hp/benign"
}
