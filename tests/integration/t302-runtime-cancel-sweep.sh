#!/usr/bin/env bash
# t302: a run cancelled from another thread (its own token, or all runs at
# once for shutdown) kills and removes its container promptly; runs on
# several threads at once are independent; the start-up sweep removes
# containers of our worker id and of dead workers of this host, and never
# those of a live worker or of another host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_runtime.sh"

out=$(drv run --job t302-cancel --timeout-ms 60000 --cancel-after-ms 500 -- sleep)
expect_eq "cancelled run is unavailable (job released)" unavailable "$(jget "$out" kind)"
expect_eq "cancelled set" true "$(jget "$out" cancelled)"
check "cancel is prompt, not the 60 s deadline" python3 -c "assert $(jget "$out" total_ms) < 20000"
expect_eq "cancelled container removed" 0 "$(ours_with "t302-cancel" | wc -l)"

out=$(drv run --job t302-all --parallel 3 --timeout-ms 60000 --cancel-all-after-ms 1500 -- sleep)
expect_eq "cancel-all stops every run in flight" 3 "$(printf '%s\n' "$out" | grep -c '"cancelled":true')"
expect_eq "every cancelled container removed" 0 "$(ours_with "t302-all" | wc -l)"

out=$(drv run --parallel 4 -- mixed 50)
expect_eq "parallel runs each succeed" 4 "$(printf '%s\n' "$out" | grep -c '"ok":true')"
expect_eq "parallel runs keep their own output" 4 \
  "$(printf '%s\n' "$out" | grep -c 'out 49\\n","stderr_tail":"err 0\\nerr 1')"

# Leftovers: create them directly through the API, as a dead run would
# (the sandbox's own leftovers are t305's).
if [ "$RUNTIME" = docker ]; then
host=$TEST_HOST
sleep 300 & live=$!
at_exit "kill $live"
sleep 0 & dead=$!
wait "$dead" || true
at_exit 'for id in $(containers_with "t302.run=$host"); do api DELETE "/containers/$id?force=1"; done'
leftover() { # NAME WORKER HOST PID
  local body id
  body=$(printf '{"Image":"safeurl-testbox:latest","Cmd":["sleep"],"Labels":{"safeurl.job":"t302-sweep","safeurl.worker":"%s","safeurl.host":"%s","safeurl.pid":"%s","t302":"%s","t302.run":"%s"},"HostConfig":{"NetworkMode":"none"}}' "$2" "$3" "$4" "$1" "$host")
  id=$(curl -sS --unix-socket "$SOCK" -H 'Content-Type: application/json' -d "$body" \
    http://docker/v1.41/containers/create | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')
  api POST "/containers/$id/start" >/dev/null
}
leftover own "$WORKER_ID" "$host" "$live"
leftover dead "w-dead-$$" "$host" "$dead"
leftover live "w-live-$$" "$host" "$live"
leftover elsewhere "w-far-$$" "far-away-host" "$dead"
expect_eq "four leftovers in place" 4 "$(containers_with "t302.run=$host" | wc -l)"
out=$(drv sweep)
expect_eq "sweep removes two" 2 "$(jget "$out" removed)"
expect_eq "our worker id's container removed" 0 "$(containers_with "t302.run=$host" t302=own | wc -l)"
expect_eq "dead worker's container removed" 0 "$(containers_with "t302.run=$host" t302=dead | wc -l)"
expect_eq "live worker's container kept" 1 "$(containers_with "t302.run=$host" t302=live | wc -l)"
expect_eq "other host's container kept" 1 "$(containers_with "t302.run=$host" t302=elsewhere | wc -l)"
out=$(drv sweep)
expect_eq "a second sweep finds nothing" 0 "$(jget "$out" removed)"
fi

expect_eq "no container of ours is left" 0 "$(ours_left)"
check "driver ran clean under the sanitizers" sanitizer_clean
finish
