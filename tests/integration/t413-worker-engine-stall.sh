#!/usr/bin/env bash
# t413: infrastructure faults cost no attempt. The engine stalls for 60 s
# (the unix-socket proxy in front of it frozen with SIGSTOP: connections
# are accepted by the kernel and never answered, as a stopped dockerd's
# are) under a job added by bullmq's Queue.add without `attempts` (one
# attempt, BullMQ's default): the create is given up after
# ENGINE_TIMEOUT_MS, the scan goes back to QUEUED, the job to delayed with
# attemptsMade still 0, nothing is TIMED_OUT, /healthz says 503 naming the
# engine; once the engine answers the scan completes, and the container
# the engine created late (the stalled create, carried out on SIGCONT) is
# swept by the live worker. The engine stalling after the container
# started is the same fault, never TIMED_OUT. With INFRA_RETRY_MAX_MS=0
# the same fault counts as the job's only attempt: FAILED
# RETRIES_EXHAUSTED.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
# A short lease makes the keeper's periodic work (and its sweep) run
# every 2 s; the engine bound is short so the stall is seen quickly.
export SAFEURL_TEST_LOCK_MS=2000 SAFEURL_TEST_STALLED_MS=1000 ENGINE_TIMEOUT_MS=3000

PROXY=$T/engine.sock
PROXY_PID=""
start_proxy() {
  if [ -n "$PROXY_PID" ]; then kill -CONT "$PROXY_PID" 2>/dev/null || true; kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; fi
  rm -f "$PROXY"
  python3 "$S/tests/integration/unix_proxy.py" "$PROXY" "${DOCKER_SOCKET_PATH:-/var/run/docker.sock}" &
  PROXY_PID=$!
  # SIGCONT first: a frozen proxy would ignore the kill until the end.
  at_exit "kill -CONT $PROXY_PID; kill $PROXY_PID"
  wait_for "engine proxy" 20 curl -fsS --max-time 2 --unix-socket "$PROXY" http://docker/_ping
}
bull_job() { $BULL job "$1" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["state"], j["attemptsMade"])'; }
add_plain() { # Queue.add('scan', {url}) with no options at all
  $BULL add "[{\"name\":\"scan\",\"data\":{\"url\":\"$1\"}}]"
}
scan_of() { sql "SELECT id FROM scan_jobs WHERE url='$1'"; }
mine() { containers_with "safeurl.worker=$WORKER_ID-$1" | wc -l; }

# --- the engine stalls for 60 s ---
start_proxy
HEALTH=$(free_port)
start_worker stall DOCKER_SOCKET_PATH="$PROXY" HEALTH_PORT="$HEALTH"
health_code() { curl -s --max-time 5 -o "$T/health.json" -w '%{http_code}' "http://127.0.0.1:$HEALTH/healthz"; }
expect_eq "healthz 200 while the engine answers" 200 "$(health_code)"
kill -STOP "$PROXY_PID"
frozen_at=$SECONDS
url="$SITE/benign?stall"
bid=$(add_plain "$url")
released() { [ -n "$(scan_of "$url")" ] && sql "SELECT count(*) FROM audit_logs WHERE job_id='$(scan_of "$url")' AND from_state='FETCHING' AND to_state='QUEUED'" | grep -qx 1; }
wait_for "the stalled scan to be released" 45 released || die "scan not released while the engine stalls"
a=$(scan_of "$url")
expect_match "release audited as an engine fault, after ENGINE_TIMEOUT_MS" 'ENGINE_UNAVAILABLE.*ENGINE_TIMEOUT_MS' \
  "$(sql "SELECT detail FROM audit_logs WHERE job_id='$a' AND from_state='FETCHING' AND to_state='QUEUED'")"
check "the defer was logged" grep -q '"event":"defer"' "$T/stall.log"
# the probe of a frozen engine never returns: its last result goes stale
wait_for "healthz 503 while the engine stalls" 30 bash -c "[ \"\$(curl -s --max-time 5 -o '$T/health.json' -w '%{http_code}' http://127.0.0.1:$HEALTH/healthz)\" = 503 ]"
check "healthz 503 while the engine stalls" true
expect_match "healthz names the engine" '"engine":\{"status":"down"' "$(cat "$T/health.json")"
# Stay frozen for 60 s in all, checking the job never spends its attempt.
while [ $((SECONDS - frozen_at)) -lt 60 ]; do
  st=$(bull_job "$bid")
  case "$st" in
    "delayed 0"|"waiting 0"|"active 0"|"prioritized 0") ;;
    *) die "engine stalled: job is '$st', expected delayed/waiting with attemptsMade 0" ;;
  esac
  s=$(state_of "$a")
  [ "$s" = QUEUED ] || [ "$s" = FETCHING ] || die "engine stalled: scan is $s"
  sleep 2
done
expect_match "after 60 s stalled: attemptsMade still 0" '^(delayed|waiting) 0$' "$(bull_job "$bid")"
expect_eq "after 60 s stalled: scan QUEUED" QUEUED "$(state_of "$a")"
expect_eq "after 60 s stalled: infraSince kept in the job hash" 1 \
  "$(redis-cli -p "$REDIS_PORT" hexists "bull:scan-jobs:$bid" infraSince)"
kill -CONT "$PROXY_PID"
wait_terminal 90 "$a" || die "scan did not finish after the engine came back"
expect_eq "engine back: completed" COMPLETED "$(state_of "$a")"
expect_eq "engine back: the job completed on its first (only) attempt" "completed 1" "$(bull_job "$bid")"
expect_eq "nothing TIMED_OUT" 0 "$(sql "SELECT count(*) FROM scan_jobs WHERE state='TIMED_OUT'")"
# The create the engine carried out late is nobody's run: swept.
gone() { [ "$(mine stall)" = 0 ]; }
wait_for "no container of the worker left" 60 gone
expect_eq "no container left (the late create swept)" 0 "$(mine stall)"
wait_for "healthz 200 again" 30 bash -c "[ \"\$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:$HEALTH/healthz)\" = 200 ]"
check "healthz 200 once the engine answers" true
stop_worker stall
expect_eq "worker stops cleanly" 0 "$WRC"

# --- the engine stalls mid-run: the fetcher started, then nothing ---
# The fetcher's page takes 3 s; the engine freezes once the container
# has started, past the run's deadline (8 s). No exit is reported, and
# at the deadline the engine does not answer whether the container still
# runs: the engine's fault, not a timeout. Released, delayed without an
# attempt, completed once the engine is back; nothing TIMED_OUT.
start_proxy
start_worker midrun DOCKER_SOCKET_PATH="$PROXY" CONTAINER_TIMEOUT_MS=8000
url3="$SITE/delay/3000?midrun"
bid3=$(add_plain "$url3")
wait_for "the fetcher to start" 60 grep -q '"event":"container_start"' "$T/midrun.log" ||
  die "the container did not start"
kill -STOP "$PROXY_PID"
m=$(scan_of "$url3")
released3() { sql "SELECT count(*) FROM audit_logs WHERE job_id='$m' AND from_state='FETCHING' AND to_state='QUEUED'" | grep -qx 1; }
wait_for "the scan released at its deadline" 60 released3 || die "scan not released while the engine stalls mid-run"
expect_match "released as an engine fault, not a timeout" 'ENGINE_UNAVAILABLE.*engine does not answer' \
  "$(sql "SELECT detail FROM audit_logs WHERE job_id='$m' AND from_state='FETCHING' AND to_state='QUEUED'")"
kill -CONT "$PROXY_PID"
wait_terminal 90 "$m" || die "scan did not finish after the engine came back"
expect_eq "mid-run stall: completed on the job's first attempt" "COMPLETED completed 1" "$(state_of "$m") $(bull_job "$bid3")"
expect_eq "mid-run stall: nothing TIMED_OUT" 0 "$(sql "SELECT count(*) FROM scan_jobs WHERE state='TIMED_OUT'")"
wait_for "no container of the mid-run worker left" 60 bash -c "[ \$(containers_with 'safeurl.worker=$WORKER_ID-midrun' | wc -l) = 0 ]" || true
expect_eq "mid-run stall: no container left" 0 "$(mine midrun)"
stop_worker midrun
expect_eq "worker stops cleanly" 0 "$WRC"

# --- INFRA_RETRY_MAX_MS=0: the fault counts as the only attempt ---
start_proxy
start_worker nowin DOCKER_SOCKET_PATH="$PROXY" INFRA_RETRY_MAX_MS=0
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; rm -f "$PROXY"
url2="$SITE/benign?nowindow"
bid2=$(add_plain "$url2")
ended() { [ -n "$(scan_of "$url2")" ] && terminal "$(scan_of "$url2")"; }
wait_for "the scan to end" 60 ended || die "scan did not end"
expect_eq "no window: FAILED, RETRIES_EXHAUSTED" "FAILED|RETRIES_EXHAUSTED" \
  "$(sql "SELECT state, error_code FROM scan_jobs WHERE url='$url2'")"
expect_eq "no window: the job failed on its attempt" "failed 1" "$(bull_job "$bid2")"
stop_worker nowin
expect_eq "worker stops cleanly" 0 "$WRC"
check "no sanitizer report" logs_clean stall midrun nowin
finish
