#!/usr/bin/env bash
# t410: no scan lost when the queue loses jobs. Scans whose queue jobs are
# deleted (QUEUED ones, and one a dead worker held), and then every job of
# a running queue at once (FLUSHALL mid-run), all end in a terminal state
# exactly once and none stays QUEUED: the worker's reconciliation
# re-enqueues the QUEUED ones under their scan ids, audited with its id and
# why, and counts them in safeurl_reconciled_total. A leased scan with no
# live owner whose job BullMQ failed after too many stalls (its job still
# there, in failed) or whose job is gone is ABANDONED (SPEC §5).
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
export SAFEURL_TEST_LOCK_MS=1000 RECONCILE_INTERVAL_MS=1000
HP_METRICS=$(free_port)

drop_job() {
  redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('DEL', KEYS[2])" \
    2 bull:scan-jobs:wait "bull:scan-jobs:$1" "$1" >/dev/null
}

# exactly_once ID...: one terminal move per scan, and it is the row's state
exactly_once() {
  local id bad=0
  for id in "$@"; do
    [ "$(sql "SELECT count(*) FROM audit_logs WHERE job_id='$id' AND to_state IN ('COMPLETED','FAILED','TIMED_OUT')")" = 1 ] ||
      { echo "scan $id: not exactly one terminal move: $(audit_trail "$id")" >&2; bad=1; }
  done
  return $bad
}

# 1. jobs deleted while no worker runs
ids=$($CLI submit $(for i in $(seq 1 8); do echo "$SITE/benign?lost-$i"; done))
# shellcheck disable=SC2086
set -- $ids
for id in "$1" "$2" "$3" "$4" "$5"; do drop_job "$id"; done
dead=$6
stalled=$7
now=$(date +%s%3N)
drop_job "$dead"
sql "UPDATE scan_jobs SET state='FETCHING', version=1, attempts=1, worker_id='dead-worker',
       lease_expires_at=$((now - 60000)) WHERE id='$dead'"
# stalled: BullMQ failed its job after too many stalls (job in failed)
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]);
    return redis.call('HSET', KEYS[3], 'failedReason', 'job stalled more than allowable limit', 'finishedOn', ARGV[2])" \
  3 bull:scan-jobs:wait bull:scan-jobs:failed "bull:scan-jobs:$stalled" "$stalled" "$now" >/dev/null
sql "UPDATE scan_jobs SET state='FETCHING', version=1, attempts=1, worker_id='dead-worker',
       lease_expires_at=$((now - 60000)) WHERE id='$stalled'"

start_worker w HEALTH_PORT="$HP_METRICS"
# shellcheck disable=SC2086
wait_terminal 90 $ids || { cat "$T/w.log" >&2; die "scans whose jobs were lost did not end"; }
expect_eq "the job-less QUEUED scans completed" \
  "COMPLETED COMPLETED COMPLETED COMPLETED COMPLETED" \
  "$(for id in "$1" "$2" "$3" "$4" "$5"; do state_of "$id"; done | paste -sd' ')"
expect_eq "the one whose job failed after stalls: ABANDONED" "FAILED|ABANDONED" \
  "$(sql "SELECT state||'|'||error_code FROM scan_jobs WHERE id='$stalled'")"
expect_eq "a requeue is audited by the worker, saying why" "QUEUED>QUEUED|$WORKER_ID-w|QUEUE_JOB_LOST" \
  "$(sql "SELECT from_state||'>'||to_state||'|'||actor||'|'||json_extract(detail, '$.error_code') FROM audit_logs WHERE job_id='$1' AND version=1")"
expect_eq "the dead worker's scan, its job gone: ABANDONED" "FETCHING>FAILED|ABANDONED|$WORKER_ID-w" \
  "$(sql "SELECT from_state||'>'||to_state||'|'||json_extract(detail, '$.error_code')||'|'||actor FROM audit_logs WHERE job_id='$dead' AND version=2")"
expect_eq "re-enqueued under the scan id" completed "$(bull_field "$1" 'j["state"]' | tr -d '"')"
check "every scan ended exactly once" exactly_once $ids
# requeued -> safeurl_reconciled_total, abandoned -> safeurl_abandoned_total
metric() {
	local name=safeurl_reconciled_total
	[ "$1" = abandoned ] && name=safeurl_abandoned_total
	curl -s "http://127.0.0.1:$HP_METRICS/metrics" | sed -n "s/^$name //p"
}
expect_eq "metric: requeued" 5 "$(metric requeued)"
expect_eq "metric: abandoned" 2 "$(metric abandoned)"

# 2. the queue loses everything mid-run (FLUSHALL)
ids2=$($CLI submit $(for i in $(seq 1 24); do echo "$SITE/benign?flush-$i"; done))
# shellcheck disable=SC2086
wait_for "a few scans to finish" 60 bash -c "[ \$(sqlite3 -cmd '.timeout 5000' '$DB' \"SELECT count(*) FROM scan_jobs WHERE url LIKE '%flush-%' AND state='COMPLETED'\") -ge 2 ]" ||
  die "the second batch did not start"
redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
# shellcheck disable=SC2086
wait_terminal 120 $ids2 || { cat "$T/w.log" >&2; die "scans did not end after FLUSHALL"; }
expect_eq "none stays QUEUED or in flight" 0 \
  "$(sql "SELECT count(*) FROM scan_jobs WHERE state NOT IN ('COMPLETED','FAILED','TIMED_OUT')")"
expect_eq "all of them completed" 24 \
  "$(sql "SELECT count(*) FROM scan_jobs WHERE url LIKE '%flush-%' AND state='COMPLETED'")"
# shellcheck disable=SC2086
check "every scan ended exactly once" exactly_once $ids2
check "requeues counted" test "$(metric requeued)" -gt 5
stop_worker w
expect_eq "worker stops cleanly" 0 "$WRC"
check "no sanitizer report" logs_clean w
finish
