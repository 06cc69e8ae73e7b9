#!/usr/bin/env bash
# soak.sh - many scans through the real stack while faults hit it at
# random (seeded) moments, then the invariants, printed and checked.
#
# The stack: a private Redis (append-only file, fsync always, so a killed
# Redis keeps every acknowledged write), the fixture site on loopback, one
# SQLite file, and a fleet of safeurl-worker processes on two queues:
#   soak-fetch  fa1 fa2: the real fetcher image against the fixture site
#               (benign, phishing, slow past the deadline, refused port,
#               URL-only jobs and bad payloads from the stock bullmq)
#   soak-box    bok1 bok2 (valid document), bfail (crashes), bslow
#               (ignores SIGTERM, killed at the deadline): the testbox
#               image, cheap enough for thousands of scans
# Faults, one every SOAK_FAULT_GAP_MS on average, each type at least once:
#   kill9   SIGKILL a worker, start a new one in its place
#   term    SIGTERM a worker (must exit 0), start a new one
#   redis   SIGKILL or SHUTDOWN Redis, start it again on the same port
#   dblock  hold the database with BEGIN EXCLUSIVE for 2-4 s
#   dockerd SIGTERM the Docker daemon and start it again (SOAK_DOCKERD=1
#           only: the daemon is shared with every other test)
#   freeze  the engine stalls for SOAK_FREEZE_S (60) s: the unix-socket
#           proxy every worker reaches the engine through is SIGSTOPped
#           (connections accepted, never answered), then SIGCONTed
#   engine  the engine restarts: the proxy is killed (every connection
#           dropped) and started again 1-3 s later
#           (freeze and engine: SOAK_ENGINE=1 only, the long form)
# A worker that exits 69 at start (a dependency down) is started again,
# as a supervisor would.
#
# Then it waits for the queues to drain, stops the fleet with SIGTERM and
# checks: soak_check.py (rows, audit, outcomes, BullMQ), no container
# left, every worker's peak memory (VmHWM) under SOAK_RSS_MAX_MB, clean
# exits, no sanitizer report.
#
#   SOAK_SCANS (300)  SOAK_SEED (random, printed)  SOAK_WAVES (6)
#   SOAK_WAVE_GAP_MS (3000)  SOAK_FAULT_GAP_MS (4000)  SOAK_DOCKERD (0)
#   SOAK_DRAIN_S (240)  SOAK_RSS_MAX_MB (256)  SOAK_FAULTS (the list)
#   SOAK_ENGINE (0)  SOAK_FREEZE_S (60)
# The database is a SQLite file in the run's directory (the dblock fault
# and the checker read it directly).
# Run by tests/integration/t801-soak-short.sh; by hand (long form):
#   SOAK_SCANS=3000 SOAK_WAVES=30 SOAK_DOCKERD=1 tests/soak/soak.sh
# and the engine-fault form (3 workers x 5 slots, all on Docker: the real
# fetcher, the testbox's valid document and its crash):
#   SOAK_SCANS=2000 SOAK_WAVES=20 SOAK_ENGINE=1 SOAK_FLEET="fa1 bok1 bfail" \
#     WORKER_CONCURRENCY=5 tests/soak/soak.sh
# and on the sandbox runtime (the fetcher and the testbox as sandbox
# roots; the Docker faults do not apply):
#   CONTAINER_RUNTIME=sandbox SOAK_SCANS=10000 SOAK_WAVES=40 \
#     SOAK_DRAIN_S=600 tests/soak/soak.sh
here=$(cd "$(dirname "$0")" && pwd)
export SAFEURL_SOURCE_DIR=${SAFEURL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
export SAFEURL_BUILD_DIR=${SAFEURL_BUILD_DIR:-$SAFEURL_SOURCE_DIR/build/debug}
. "$SAFEURL_SOURCE_DIR/tests/integration/lib.sh"
require_test_hooks
. "$SAFEURL_SOURCE_DIR/tests/integration/lib_worker.sh"
. "$SAFEURL_SOURCE_DIR/scripts/services.sh"

SCANS=${SOAK_SCANS:-300}
WAVES=${SOAK_WAVES:-6}
SEED=${SOAK_SEED:-$(( $(date +%s%N) % 100000 ))}
RANDOM=$SEED
FAULTS=(${SOAK_FAULTS:-kill9 term redis dblock})
[ "${SOAK_DOCKERD:-0}" = 1 ] && FAULTS+=(dockerd)
[ "${SOAK_ENGINE:-0}" = 1 ] && FAULTS+=(freeze engine)
[ "$RUNTIME" = sandbox ] && [ "${SOAK_DOCKERD:-0}${SOAK_ENGINE:-0}" != 00 ] &&
  die "SOAK_DOCKERD and SOAK_ENGINE are Docker faults: not with CONTAINER_RUNTIME=sandbox"
QA=soak-fetch QB=soak-box
EXP=$T/expected
: >"$EXP"
echo "soak: seed $SEED, $SCANS scans in $WAVES waves, faults: ${FAULTS[*]}"

export LOG_LEVEL=info WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-3} DB_BUSY_TIMEOUT_MS=500
# ASan keeps up to 256 MiB of freed memory in quarantine by default, which
# would be measured as the worker's own: keep it small for the memory bound.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
export SHUTDOWN_GRACE_MS=1500 SAFEURL_TEST_LOCK_MS=5000 SAFEURL_TEST_STALLED_MS=2500
ensure_fetcher_image
start_fixture
RP=$(free_port)
FARGS="$FETCHER_ARGS,$RP --resolve shop.test:$RP:127.0.0.1"
OKDOC='{"ok":true,"url":"x","finalUrl":"x","redirects":[],"httpStatus":200,"verdict":"safe","riskScore":0,"reasons":[]}'

# --- Redis with an append-only file, restartable on the same port ---
redis_up() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir "$T/redis" --save '' --appendonly yes --appendfsync always \
    --pidfile "$T/redis/redis.pid" --logfile "$T/redis/redis.log" >/dev/null
  wait_for "redis back" 20 redis-cli -p "$REDIS_PORT" ping || die "redis did not restart"
  wait_for "redis loaded" 20 bash -c "redis-cli -p $REDIS_PORT info persistence | grep -q 'loading:0'"
}
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
wait_for "redis down" 10 bash -c "! redis-cli -p $REDIS_PORT ping"
redis_up

# --- the engine, behind a proxy the engine faults stop ---
PROXY_PID=""
proxy_up() {
  rm -f "$T/engine.sock"
  python3 "$S/tests/integration/unix_proxy.py" "$T/engine.sock" /var/run/docker.sock &
  PROXY_PID=$!
  at_exit "kill -CONT $PROXY_PID; kill $PROXY_PID"
  wait_for "engine proxy" 20 curl -fsS --max-time 2 --unix-socket "$T/engine.sock" http://docker/_ping ||
    die "engine proxy did not start"
}
if [ "${SOAK_ENGINE:-0}" = 1 ]; then
  proxy_up
  export DOCKER_SOCKET_PATH=$T/engine.sock ENGINE_TIMEOUT_MS=${ENGINE_TIMEOUT_MS:-5000}
fi

# --- the fleet ---
declare -A GEN HWM WEXIT
FLEET=(${SOAK_FLEET:-fa1 fa2 bok1 bok2 bfail bslow})
# The testbox: an image for Docker, a root of its own for the sandbox.
BOX=(FETCHER_IMAGE="$TESTBOX_IMAGE")
if [ "$RUNTIME" = sandbox ]; then
  "$S/tests/fixtures/testbox/build.sh" --rootfs "$T/testbox-root" || die "cannot build the testbox root"
  BOX=(FETCHER_ROOTFS="$T/testbox-root" FETCHER_ENTRYPOINT=/testbox)
fi
worker_env() {
  case $1 in
    fa*) W_ENV=(QUEUE_NAME=$QA CONTAINER_TIMEOUT_MS=8000 FETCHER_ARGS="$FARGS") ;;
    bok*) W_ENV=(QUEUE_NAME=$QB "${BOX[@]}" FETCHER_ARGS="json $OKDOC") ;;
    bfail) W_ENV=(QUEUE_NAME=$QB "${BOX[@]}" FETCHER_ARGS="exit 3 soak-crash") ;;
    bslow) W_ENV=(QUEUE_NAME=$QB "${BOX[@]}" FETCHER_ARGS=sleep
                  CONTAINER_TIMEOUT_MS=1500 WORKER_CONCURRENCY=2) ;;
  esac
}

# spawn NAME: a new incarnation NAME.N (its own WORKER_ID and log).
spawn() {
  local name=$1 try inc
  worker_env "$name"
  for try in 1 2 3 4 5 6 7 8; do
    GEN[$name]=$(( ${GEN[$name]:-0} + 1 ))
    inc=$name.${GEN[$name]}
    env WORKER_ID="$WORKER_ID-$inc" "${W_ENV[@]}" "$B/safeurl-worker" >"$T/$inc.log" 2>&1 &
    WPID[$inc]=$!
    at_exit "kill -9 ${WPID[$inc]}"
    if wait_for "worker $inc" 30 grep -q '"msg":"consuming' "$T/$inc.log"; then
      return 0
    fi
    kill -9 "${WPID[$inc]}" 2>/dev/null || true
    local rc=0; wait "${WPID[$inc]}" 2>/dev/null || rc=$?
    echo "soak: $inc did not start (exit $rc), starting again"
    sleep 1
  done
  die "worker $name does not start: $(tail -n 3 "$T/$inc.log")"
}

live() { echo "$1.${GEN[$1]}"; }

# sample_mem: the peak resident size (VmHWM, KiB) of every live worker.
sample_mem() {
  local n inc kb
  for n in "${FLEET[@]}"; do
    inc=$(live "$n")
    kb=$(awk '/^VmHWM/ {print $2}' "/proc/${WPID[$inc]}/status" 2>/dev/null) || continue
    [ -n "$kb" ] && [ "$kb" -gt "${HWM[$inc]:-0}" ] && HWM[$inc]=$kb
  done
  return 0
}

# stop NAME SIGNAL: signal the live incarnation and reap it.
stop() {
  local inc; inc=$(live "$1")
  sample_mem
  kill -"$2" "${WPID[$inc]}" 2>/dev/null || true
  WEXIT[$inc]=0; wait "${WPID[$inc]}" 2>/dev/null || WEXIT[$inc]=$?
}

# --- submissions: one wave of n scans, 1/4 on the real fetcher ---
submitted=0
submit_cli() { # QUEUE CLASS URL...
  local q=$1 cls=$2 out; shift 2
  until out=$(QUEUE_NAME=$q "$CLI" submit "$@" 2>>"$T/submit.err"); do
    echo "soak: submit failed, again in 1 s"; sleep 1
  done
  printf '%s\n' $out | sed "s/\$/ $q $cls/" >>"$EXP"
}
submit_bull() { # ID CLASS DATA
  until QUEUE_NAME=$QA $BULL add "[{\"name\":\"scan\",\"data\":$3,\"opts\":{\"jobId\":\"$1\"}}]" \
      >/dev/null 2>>"$T/submit.err"; do
    echo "soak: bullmq add failed, again in 1 s"; sleep 1
  done
  echo "$1 $QA $2" >>"$EXP"
}
wave() {
  local w=$1 n=$2 a=$(( $2 / 4 )) i cls urls=()
  for ((i = 0; i < a; i++)); do
    case $(( RANDOM % 20 )) in
      0|1) cls=slow ;; 2|3|4) cls=refused ;; 5|6|7|8|9) cls=phish ;; *) cls=benign ;;
    esac
    case $cls in
      refused) submit_cli $QA refused "http://shop.test:$RP/w$w-$i" ;;
      *) urls+=("$cls $SITE/$cls?w$w-$i") ;;
    esac
  done
  for cls in benign phish slow; do
    # shellcheck disable=SC2046
    set -- $(printf '%s\n' "${urls[@]}" | awk -v c=$cls '$1==c {print $2}')
    [ $# -gt 0 ] && submit_cli $QA $cls "$@"
  done
  submit_bull "soak-u-$w" urlonly "{\"url\":\"$SITE/benign?u$w\"}"
  local bads=('{}' '"a string"' '{"url":"ftp://shop.test/x"}' '{"jobId":"no-such-scan"}')
  submit_bull "soak-bad-$w" bad "${bads[$(( w % 4 ))]}"
  submit_cli $QB box $(for ((i = a + 1; i < n; i++)); do echo "$SITE/box?w$w-$i"; done)
  submitted=$(( submitted + n + 1 ))
}

# --- faults ---
hold_db() { # SECONDS: BEGIN EXCLUSIVE held by another process
  sqlite3 -cmd ".timeout 5000" "$DB" "BEGIN EXCLUSIVE; SELECT 'locked';" ".shell sleep $1" "COMMIT;" >/dev/null 2>&1 &
}
restart_dockerd() {
  local pid; pid=$(cat /var/run/docker.pid)
  kill -TERM "$pid"
  wait_for "dockerd to exit" 60 bash -c "! kill -0 $pid" || die "dockerd did not stop"
  ensure_dockerd >/dev/null || die "dockerd did not start again"
}
fault() {
  local f=$1 name=${FLEET[$(( RANDOM % ${#FLEET[@]} ))]} how
  case $f in
    kill9) how="$(live "$name")"; stop "$name" KILL; spawn "$name" ;;
    term) how="$(live "$name")"; stop "$name" TERM; spawn "$name" ;;
    redis)
      if (( RANDOM % 2 )); then how=SIGKILL; kill -9 "$(cat "$T/redis/redis.pid")"
      else how=SHUTDOWN; redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true; fi
      wait_for "redis down" 10 bash -c "! redis-cli -p $REDIS_PORT ping"
      sleep "0.$(( RANDOM % 10 ))"; redis_up ;;
    dblock) how="$(( 2 + RANDOM % 3 )) s"; hold_db "${how% s}" ;;
    dockerd) how=restart; restart_dockerd ;;
    freeze)
      how="${SOAK_FREEZE_S:-60} s"
      kill -STOP "$PROXY_PID"
      local until=$(( SECONDS + ${SOAK_FREEZE_S:-60} ))
      while [ $SECONDS -lt $until ]; do sample_mem; sleep 1; done
      kill -CONT "$PROXY_PID" ;;
    engine)
      local down=$(( 1 + RANDOM % 3 ))
      how="down $down s"
      kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true
      sleep "$down"; proxy_up ;;
  esac
  NFAULT[$f]=$(( ${NFAULT[$f]:-0} + 1 ))
  printf 'soak: %5.1fs fault %-7s %s\n' "$(( $(date +%s%3N) - START ))e-3" "$f" "$how"
}

open_rows() { sql "SELECT count(*) FROM scan_jobs WHERE state NOT IN ('COMPLETED','FAILED','TIMED_OUT')"; }
queue_busy() {
  local q s
  for q in $QA $QB; do
    for s in wait active paused; do
      [ "$(redis-cli -p "$REDIS_PORT" llen "bull:$q:$s")" = 0 ] || return 0
    done
    for s in delayed prioritized; do
      [ "$(redis-cli -p "$REDIS_PORT" zcard "bull:$q:$s")" = 0 ] || return 0
    done
  done
  return 1
}

for n in "${FLEET[@]}"; do spawn "$n"; done
declare -A NFAULT
START=$(date +%s%3N)
order=($(printf '%s\n' "${FAULTS[@]}" | while read -r f; do echo "$RANDOM $f"; done | sort -n | cut -d' ' -f2))
per=$(( (SCANS + WAVES - 1) / WAVES ))
w=0 k=0
next_wave=$START last_wave=$START
gap=${SOAK_FAULT_GAP_MS:-4000}
next_fault=$(( START + gap / 2 + RANDOM % gap ))
while :; do
  now=$(date +%s%3N)
  if [ $w -lt "$WAVES" ] && [ "$now" -ge "$next_wave" ]; then
    wave $w $per; w=$((w + 1)); next_wave=$(( now + ${SOAK_WAVE_GAP_MS:-3000} ))
  fi
  # Faults go on while waves are due, until each type ran once, and
  # while many scans are open (for at most 30 s after the last wave).
  [ $w -lt "$WAVES" ] && last_wave=$now
  if [ $w -ge "$WAVES" ] && [ $k -ge ${#order[@]} ] &&
     { [ "$(open_rows)" -le $((per / 2)) ] || [ "$now" -gt $((last_wave + 30000)) ]; }; then
    break
  fi
  if [ "$now" -ge "$next_fault" ]; then
    f=${order[$k]:-${FAULTS[$(( RANDOM % ${#FAULTS[@]} ))]}}; k=$((k + 1))
    fault "$f"
    next_fault=$(( $(date +%s%3N) + gap / 2 + RANDOM % gap ))
  fi
  sample_mem; sleep 0.5
done
echo "soak: all submitted ($submitted jobs), $k faults; draining"
end=$(( SECONDS + ${SOAK_DRAIN_S:-240} ))
while [ "$(open_rows)" != 0 ] || queue_busy; do
  [ $SECONDS -lt $end ] || { echo "soak: not drained after ${SOAK_DRAIN_S:-240} s" >&2; break; }
  sample_mem; sleep 1
done
elapsed=$(( $(date +%s%3N) - START ))
for n in "${FLEET[@]}"; do stop "$n" TERM; done

echo "== soak: seed $SEED, $(wc -l <"$EXP") jobs, $(sql "SELECT count(*) FROM scan_jobs") scans in $((elapsed / 1000)) s ($(python3 -c "print('%.1f' % ($(sql "SELECT count(*) FROM scan_jobs") * 1000 / $elapsed))") scans/s)"
echo "faults: $(for f in "${!NFAULT[@]}"; do printf '%s=%s ' "$f" "${NFAULT[$f]}"; done)"
echo "takeovers: $(sql "SELECT count(*) FROM audit_logs WHERE from_state='FETCHING' AND to_state='FETCHING'")," \
  "releases: $(sql "SELECT count(*) FROM audit_logs WHERE from_state='FETCHING' AND to_state='QUEUED'")," \
  "db retries logged: $(cat "$T"/*.log | grep -c '"event":"db_retry"' || true)"
rc=0; python3 "$here/soak_check.py" "$DB" "$REDIS_PORT" bull "$EXP" || rc=$?
expect_eq "soak invariants hold (soak_check.py)" 0 "$rc"
for q in $QA $QB; do
  counts=$(QUEUE_NAME=$q $BULL counts)
  echo "getJobCounts $q: $counts"
  expect_eq "queue $q: nothing active or waiting (getJobCounts)" "0 0" \
    "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["active"], d["waiting"])' "$counts")"
done
# A scan stored TIMED_OUT must have had its fetcher started (an engine
# that never started the container is an infrastructure fault).
never_ran=""
for id in $(sql "SELECT id FROM scan_jobs WHERE state='TIMED_OUT'"); do
  grep -qF "\"job\":\"$id\",\"event\":\"container_start\"" "$T"/*.log || never_ran+="$id "
done
expect_eq "no scan TIMED_OUT whose fetcher never ran" "" "$never_ran"
left=$(ours_left_prefix)
expect_eq "no container left" 0 "$left"
[ "$left" = 0 ] || docker ps -a --filter label=safeurl.worker \
  --format '{{.ID}} {{.CreatedAt}} {{.Status}} {{.Label "safeurl.worker"}} {{.Label "safeurl.job"}}' | grep -F "$WORKER_ID" | head -20
bad_exit=""
for inc in "${!WEXIT[@]}"; do
  case "${WEXIT[$inc]}" in 0|137) ;; *) bad_exit+="$inc=${WEXIT[$inc]} " ;; esac
done
expect_eq "every worker exited 0 on SIGTERM (137 after SIGKILL)" "" "$bad_exit"
max_kb=$(( ${SOAK_RSS_MAX_MB:-256} * 1024 ))
echo "peak memory (VmHWM KiB) per worker incarnation:"
over=""
for inc in $(printf '%s\n' "${!HWM[@]}" | sort); do
  printf '   %-10s %7d  exit %s\n' "$inc" "${HWM[$inc]}" "${WEXIT[$inc]:-?}"
  [ "${HWM[$inc]}" -le "$max_kb" ] || over+="$inc "
done
expect_eq "every worker's peak memory under ${SOAK_RSS_MAX_MB:-256} MiB" "" "$over"
check "no sanitizer report" logs_clean $(for inc in "${!WEXIT[@]}"; do echo "$inc"; done)
finish
