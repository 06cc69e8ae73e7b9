# queue_lib.sh - helpers for the queue tests (source after lib.sh).
# bull CMD ARGS...: the pinned bullmq package (tests/interop/bull.js).
[ -d "$S/tests/interop/node_modules/bullmq" ] ||
  die "bullmq is not installed: run scripts/deps.sh (npm ci in tests/interop)"
bull() { node "$S/tests/interop/bull.js" "$@"; }

# counts_field NAME: one field of getJobCounts().
counts_field() { bull counts | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# job_field ID FIELD: one field of Job.fromId(), JSON-encoded.
job_field() { bull job "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print(json.dumps(j and j.get('$2')))"; }

# start_worker LOG [ARGS...]: safeurl-worker in the background, pid in WPID.
start_worker() {
  local log=$1; shift
  LOG_FORMAT=json "$B/safeurl-worker" "$@" 2>>"$log" &
  WPID=$!
  at_exit "kill -9 $WPID"
}

# stop_worker: SIGTERM, wait, exit code in WRC.
stop_worker() {
  kill -TERM "$WPID" 2>/dev/null || true
  set +e; wait "$WPID"; WRC=$?; set -e
}

# settled N: completed + failed (kept) reach N and nothing waits or runs.
settled() {
  bull counts | python3 -c "
import json,sys; c=json.load(sys.stdin)
sys.exit(0 if c['completed']+c['failed']==$1 and c['waiting']+c['active']+c['delayed']+c['prioritized']==0 else 1)"
}

# log_count LOG JOB EVENT: lines of LOG for that job and event.
log_count() { grep -c "\"job\":\"$2\",\"event\":\"$3\"" "$1" || true; }
# active_is N: N jobs in the active list of QUEUE_NAME.
active_is() { [ "$(redis-cli -p "$REDIS_PORT" llen "bull:$QUEUE_NAME:active")" = "$1" ]; }
# wait_is N: N jobs in the wait list of QUEUE_NAME.
wait_is() { [ "$(redis-cli -p "$REDIS_PORT" llen "bull:$QUEUE_NAME:wait")" = "$1" ]; }
