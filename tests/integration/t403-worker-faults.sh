#!/usr/bin/env bash
# t403: the worker under faults. The engine unreachable -> scans released
# and retried with backoff, none stuck in FETCHING, no new job taken (so
# no attempt is spent) until the engine answers, completed once it is
# back. SIGTERM with scans in flight -> they finish and the worker exits 0;
# past the grace -> containers killed, scans released without counting an
# attempt and finished by another worker. SIGKILL mid-scan -> the next
# worker sweeps the dead one's container and takes the scan over. The
# engine lost mid-scan -> the container it could not remove is removed by
# the same worker once the engine is back, without a restart.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
export SAFEURL_TEST_LOCK_MS=2000 SAFEURL_TEST_STALLED_MS=1000
bull_state() { $BULL job "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }

# --- the engine goes away ---
PROXY=$T/engine.sock
# One proxy at a time: a new one replaces the last, and the socket is
# waited for only once the new proxy has made it (a path left by the last
# one would let a worker connect through the proxy about to be replaced).
PROXY_PID=""
start_proxy() {
  if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; fi
  rm -f "$PROXY"
  python3 "$S/tests/integration/unix_proxy.py" "$PROXY" "${DOCKER_SOCKET_PATH:-/var/run/docker.sock}" &
  PROXY_PID=$!
  at_exit "kill $PROXY_PID"
  wait_for "engine proxy" 10 test -S "$PROXY"
}
start_proxy
start_worker eng DOCKER_SOCKET_PATH="$PROXY"
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; rm -f "$PROXY"
a=$($CLI submit "$SITE/benign?e1")
released() { sql "SELECT count(*) FROM audit_logs WHERE job_id='$1' AND from_state='FETCHING' AND to_state='QUEUED'" | grep -qx 1; }
wait_for "scan released" 20 released "$a"
expect_eq "engine down: scan released to QUEUED, not left FETCHING" QUEUED "$(state_of "$a")"
expect_eq "engine down: queue retries it later" "delayed" "$(bull_state "$a")"
expect_match "release audited with the engine error" 'ENGINE_UNAVAILABLE' \
  "$(sql "SELECT detail FROM audit_logs WHERE job_id='$a' AND to_state='QUEUED' AND from_state='FETCHING'")"
check "claims held while the engine is away" grep -qE '"event":"engine",("[a-z_]+":"[^"]*",)*"msg":"engine unavailable: taking no jobs' "$T/eng.log"
b=$($CLI submit "$SITE/benign?e2")
# Away for longer than the jobs' whole backoff (2 s, then 4 s): a worker
# that went on claiming would spend every attempt (RETRIES_EXHAUSTED).
sleep 8
expect_eq "engine down: a new job is not taken" "waiting|QUEUED|0|1" \
  "$(bull_state "$b")|$(sql "SELECT state, attempts FROM scan_jobs WHERE id='$b'")|$(sql "SELECT count(*) FROM audit_logs WHERE job_id='$b'")"
start_proxy
wait_terminal 30 "$a" "$b" || die "scans did not finish after the engine returned"
check "claims resumed once it answers" grep -q '"event":"engine","msg":"engine answers again' "$T/eng.log"
expect_eq "engine back: both completed" "COMPLETED COMPLETED" "$(state_of "$a") $(state_of "$b")"
expect_eq "attempts spent: two for the released scan, one for the held one" "2 1" \
  "$(sql "SELECT attempts FROM scan_jobs WHERE id='$a'") $(sql "SELECT attempts FROM scan_jobs WHERE id='$b'")"
stop_worker eng
expect_eq "worker stops cleanly" 0 "$WRC"

# --- the engine goes away mid-scan: the live worker removes the
# container it could not remove then, once the engine is back ---
start_proxy
start_worker lost DOCKER_SOCKET_PATH="$PROXY"
c=$($CLI submit "$SITE/delay/10000")
wait_for "container running" 15 bash -c "[ \"\$(docker ps -q --filter label=safeurl.job=$c | wc -l)\" = 1 ]"
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; rm -f "$PROXY"
wait_for "scan released" 20 released "$c"
expect_eq "engine lost mid-scan: its container is left meanwhile" 1 "$(ours_left_prefix)"
start_proxy
wait_for "the container to be removed" 20 bash -c "[ \"\$(docker ps -aq --filter label=safeurl.job=$c | wc -l)\" = 0 ]"
expect_eq "engine back: the live worker removed the left container" 0 "$(ours_left_prefix)"
check "the deferred removal was logged" grep -q '"event":"container","msg":"runtime: removed container' "$T/lost.log"
wait_terminal 30 "$c" || die "scan did not finish after the engine returned"
expect_eq "engine lost mid-scan: retried and completed" COMPLETED "$(state_of "$c")"
stop_worker lost
expect_eq "worker stops cleanly" 0 "$WRC"

# --- SIGTERM with a scan in flight: it finishes ---
start_worker term1
s1=$($CLI submit "$SITE/delay/2500")
wait_for "scan running" 10 bash -c "[ \"\$(sqlite3 $DB \"SELECT state FROM scan_jobs WHERE id='$s1'\")\" = FETCHING ]"
sleep 0.5
stop_worker term1
expect_eq "SIGTERM in flight: exit 0" 0 "$WRC"
expect_eq "SIGTERM in flight: the scan finished" COMPLETED "$(state_of "$s1")"
expect_eq "SIGTERM in flight: queue job completed" completed "$(bull_state "$s1")"

# --- SIGTERM past the grace: killed, released, taken by another ---
start_worker term2 SHUTDOWN_GRACE_MS=300
s2=$($CLI submit "$SITE/delay/8000")
wait_for "scan running" 10 bash -c "[ \"\$(sqlite3 $DB \"SELECT state FROM scan_jobs WHERE id='$s2'\")\" = FETCHING ]"
sleep 0.5
stop_worker term2
expect_eq "past grace: exit 0" 0 "$WRC"
expect_eq "past grace: scan released to QUEUED" QUEUED "$(state_of "$s2")"
expect_match "past grace: release audited" 'SHUTDOWN' \
  "$(sql "SELECT detail FROM audit_logs WHERE job_id='$s2' AND to_state='QUEUED' AND from_state='FETCHING'")"
expect_eq "past grace: back in wait, no attempt counted" '["waiting", 0]' \
  "$(bull_field "$s2" '[j["state"], j["attemptsMade"]]')"
expect_eq "past grace: its container is gone" 0 "$(ours_left_prefix)"
start_worker take1
wait_terminal 30 "$s2" || die "released scan not finished"
expect_eq "released scan completed by the next worker" "COMPLETED|$WORKER_ID-take1" \
  "$(sql "SELECT state, worker_id FROM scan_jobs WHERE id='$s2'")"
stop_worker take1

# --- SIGKILL mid-scan: swept and taken over ---
start_worker kill1
s3=$($CLI submit "$SITE/delay/4000")
wait_for "scan running" 10 bash -c "[ \"\$(sqlite3 $DB \"SELECT state FROM scan_jobs WHERE id='$s3'\")\" = FETCHING ]"
sleep 0.5
stop_worker kill1 KILL
start_worker kill2
# Any worker started on this host removes a dead worker's containers (its
# pid is gone); with tests running in parallel that may be another one.
dead_left() { containers_with "safeurl.worker=$WORKER_ID-kill1" | wc -l; }
dead_gone() { [ "$(dead_left)" = 0 ]; }
wait_for "the dead worker's container to be swept" 10 dead_gone
expect_eq "the dead worker's container was swept" 0 "$(dead_left)"
wait_terminal 40 "$s3" || die "killed scan not finished"
expect_eq "killed scan completed by the next worker" "COMPLETED|$WORKER_ID-kill2" \
  "$(sql "SELECT state, worker_id FROM scan_jobs WHERE id='$s3'")"
expect_eq "takeover audited" 1 \
  "$(sql "SELECT count(*) FROM audit_logs WHERE job_id='$s3' AND from_state='FETCHING' AND to_state='FETCHING' AND detail LIKE '%takeover%'")"
expect_eq "stalled event for the killed job" 1 "$($BULL events 300 | grep -c "\"event\":\"stalled\",\"jobId\":\"$s3\"")"
stop_worker kill2
expect_eq "no container left" 0 "$(ours_left_prefix)"
check "no sanitizer report" logs_clean eng lost term1 term2 take1 kill2
finish
