#!/usr/bin/env bash
# t303: the engine goes away mid-run and comes back. The run in flight
# ends at once with ERR_UNAVAILABLE (infrastructure: retry later), not at
# its deadline; runs while it is away fail the same way; once it is back
# the next run works with no reconnect step (every call is a fresh
# request), and the sweep removes the container the lost run could not.
# The engine is reached through a unix-socket proxy that the test kills.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_runtime.sh"

PROXY=$T/engine.sock
start_proxy() {
  python3 "$S/tests/integration/unix_proxy.py" "$PROXY" "$SOCK" &
  PROXY_PID=$!
  wait_for "the engine proxy" 10 curl -fsS --unix-socket "$PROXY" http://docker/_ping
}
start_proxy
at_exit 'kill $PROXY_PID'

# A host name of its own: workers of tests running beside this one sweep
# containers of dead pids of this host, and the driver's pid is dead.
DOCKER_SOCKET_PATH=$PROXY drv --host "t303-$$.invalid" run --job t303-lost-$$ --timeout-ms 30000 -- sleep >"$T/lost.json" &
run=$!
wait_for "the container to run" 20 test -n "$(containers_with safeurl.job=t303-lost-$$)"
sleep 0.5
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
wait "$run"
out=$(cat "$T/lost.json")
expect_eq "engine lost mid-run is unavailable" unavailable "$(jget "$out" kind)"
check "engine loss noticed at once, not at the deadline" python3 -c "assert $(jget "$out" total_ms) < 15000"
expect_eq "not reported as a timeout" false "$(jget "$out" timed_out)"

out=$(DOCKER_SOCKET_PATH=$PROXY drv run -- json '{}')
expect_eq "engine away: unavailable" unavailable "$(jget "$out" kind)"

start_proxy
out=$(DOCKER_SOCKET_PATH=$PROXY drv run -- json '{"back":true}')
expect_eq "engine back: runs work again" '{"back":true}' "$(jget "$out" stdout)"
expect_eq "the lost run's container is still there" 1 "$(containers_with safeurl.job=t303-lost-$$ | wc -l)"
out=$(DOCKER_SOCKET_PATH=$PROXY drv sweep)
expect_eq "sweep removes the lost run's container" 1 "$(jget "$out" removed)"

expect_eq "no container of ours is left" 0 "$(ours_left)"
check "driver ran clean under the sanitizers" sanitizer_clean
finish
