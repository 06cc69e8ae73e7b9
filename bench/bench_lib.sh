# bench_lib.sh - the set-up shared by the end-to-end benchmarks (source it
# from the repository root): the release build and the fetcher image, a
# private Redis and the fixture site on loopback, a directory removed at
# exit. Sets B (programs), T (directory), port (Redis), hp (fixture HTTP
# port), url (a benign page) and pids (append background pids to it: they
# are killed at exit); exports REDIS_HOST/REDIS_PORT, host network mode
# and the fetcher's arguments that allow the loopback site.
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
./scripts/build-image.sh >/dev/null 2>&1 || { echo "bench: cannot build the fetcher image" >&2; exit 1; }
B=build/release
T=$(mktemp -d /tmp/safeurl-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >/dev/null &
pids+=($!)
python3 tests/fixtures/fetcher_fixture.py --port-file "$T/ports" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$T/ports" ] && redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
read -r hp _ <"$T/ports"
export REDIS_HOST=127.0.0.1 REDIS_PORT=$port CONTAINER_NETWORK_MODE=host CONTAINER_ALLOW_HOST_NETWORK=1
export FETCHER_ARGS="--resolve shop.test:$hp:127.0.0.1 --allow-loopback --ports $hp"
url="http://shop.test:$hp/benign"
