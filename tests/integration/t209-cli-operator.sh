#!/usr/bin/env bash
# t209: the operator's commands against SQLite and against a tursodb
# server: list (filters, table/json/csv, bad values named), stats (scans by
# state and error code, the queue's counts), history (audit trail and the
# BullMQ job's state, attempts and failedReason), cancel (QUEUED -> FAILED
# CANCELLED, waiting job removed, audited), retry (a new attempt: QUEUED
# again, the failed BullMQ job back to wait the Job.retry way, or a new
# job when it is gone), pause/resume (Queue.pause's meta flag and events),
# and a refused Redis password -> exit 78 without the password.
. "$(dirname "$0")/lib.sh"
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
start_tursodb
TURSO_URL=$TURSO_CONNECTION_URL
unset TURSO_CONNECTION_URL
export LOG_FORMAT=json

js() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
rkey() { echo "bull:$QUEUE_NAME:$1"; }

scenario() {
  local db=$1 label=$2
  export TURSO_CONNECTION_URL=$db QUEUE_NAME=ops-$label
  run "$B/safeurl" migrate
  expect_eq "$label: migrate" 0 "$RC"
  run "$B/safeurl" submit http://127.0.0.1:9/a http://127.0.0.1:9/b 'http://127.0.0.1:9/c,d'
  expect_eq "$label: submit" 0 "$RC"
  local a b c
  a=$(sed -n 1p <<<"$OUT"); b=$(sed -n 2p <<<"$OUT"); c=$(sed -n 3p <<<"$OUT")

  # list
  run "$B/safeurl" list --format json
  expect_eq "$label: list json: three scans" 3 "$(js 'len(d)' <<<"$OUT")"
  expect_eq "$label: list json: all QUEUED" "QUEUED" "$(js "' '.join(sorted(set(j['state'] for j in d)))" <<<"$OUT")"
  run "$B/safeurl" list --state queued --since 1h --limit 2
  expect_eq "$label: list table: header and --limit rows" 3 "$(wc -l <<<"$OUT")"
  expect_match "$label: list table header" "^ID +STATE +ERROR +UPDATED +URL" "$OUT"
  run "$B/safeurl" list --format csv --since 2000-01-01
  expect_eq "$label: list csv header" "id,state,error_code,attempts,updated_at,url" "$(sed -n 1p <<<"$OUT")"
  expect_match "$label: list csv quotes a comma" "\"http://127.0.0.1:9/c,d\"" "$OUT"
  run "$B/safeurl" list --since 2999-01-01T00:00:00Z --format json
  expect_eq "$label: list --since the future: empty" "[]" "$OUT"
  run "$B/safeurl" list --state DONE
  expect_eq "$label: bad --state: exit 64" 64 "$RC"
  expect_match "$label: bad --state named" "--state 'DONE': expected QUEUED, FETCHING" "$ERR"
  run "$B/safeurl" list --since yesterday
  expect_eq "$label: bad --since: exit 64" 64 "$RC"
  expect_match "$label: bad --since named" "--since 'yesterday': expected a duration" "$ERR"

  # stats
  run "$B/safeurl" stats --format json
  expect_eq "$label: stats: 3 QUEUED" 3 "$(js "d['states']['QUEUED']" <<<"$OUT")"
  expect_eq "$label: stats: 3 waiting jobs" 3 "$(js "d['queue']['waiting']" <<<"$OUT")"

  # a failed BullMQ job for c, failed by a stock BullMQ worker
  redis-cli -p "$REDIS_PORT" hset "$(rkey "$c")" data \
    "{\"jobId\":\"$c\",\"fail\":\"CONNECT_FAILED: refused\",\"unrecoverable\":true}" >/dev/null
  redis-cli -p "$REDIS_PORT" lrem "$(rkey wait)" 0 "$a" >/dev/null
  redis-cli -p "$REDIS_PORT" lrem "$(rkey wait)" 0 "$b" >/dev/null
  timeout 60 node "$S/tests/interop/bull.js" worker-test 1 "$T/done-$label" >/dev/null
  redis-cli -p "$REDIS_PORT" lpush "$(rkey wait)" "$a" "$b" >/dev/null
  expect_eq "$label: c's job failed" '"failed"' "$(job_field "$c" state)"

  # cancel
  run "$B/safeurl" cancel "$a" "$c"
  expect_eq "$label: cancel exits 0" 0 "$RC"
  expect_match "$label: cancel a: job removed" "cancelled $a \(queue: job removed\)" "$OUT"
  expect_match "$label: cancel c: no waiting job" "cancelled $c \(queue: no waiting job" "$OUT"
  run "$B/safeurl" status "$a" --format json
  expect_eq "$label: a FAILED CANCELLED" "FAILED CANCELLED" "$(js "d['state']+' '+d['errorCode']" <<<"$OUT")"
  expect_eq "$label: a's job gone" "null" "$(job_field "$a" state)"
  run "$B/safeurl" cancel "$a" --format json
  expect_eq "$label: cancel a FAILED scan: exit 65" 65 "$RC"
  expect_match "$label: cancel refusal named" "only QUEUED scans can be cancelled" "$OUT"
  run "$B/safeurl" cancel no-such-scan
  expect_eq "$label: cancel unknown: exit 65" 65 "$RC"

  # history
  run "$B/safeurl" history "$c" --format json
  expect_eq "$label: history exits 0" 0 "$RC"
  expect_eq "$label: history: audit trail" "None:QUEUED:cli QUEUED:FAILED:cli" \
    "$(js "' '.join('%s:%s:%s' % (a['from'], a['to'], a['actor']) for a in d['audit'])" <<<"$OUT")"
  expect_eq "$label: history: cancel detail" "CANCELLED" "$(js "d['audit'][-1]['detail']['error_code']" <<<"$OUT")"
  expect_eq "$label: history: queue job failed" "failed CONNECT_FAILED: refused 1" \
    "$(js "' '.join(str(d['queueJob'][k]) for k in ('state','failedReason','attemptsMade'))" <<<"$OUT")"
  run "$B/safeurl" history "$c"
  expect_match "$label: history text: queue line" "queue job $c: failed, attempts made 1, started 1, failed reason: CONNECT_FAILED: refused" "$OUT"

  # stats by error code
  run "$B/safeurl" stats --format json
  expect_eq "$label: stats: 2 CANCELLED" 2 "$(js "d['errorCodes']['CANCELLED']" <<<"$OUT")"
  expect_eq "$label: stats: queue failed 1, waiting 1" "1 1" "$(js "'%d %d' % (d['queue']['failed'], d['queue']['waiting'])" <<<"$OUT")"
  run "$B/safeurl" list --state FAILED --code CANCELLED --format json
  expect_eq "$label: list --code" 2 "$(js 'len(d)' <<<"$OUT")"

  # retry
  run "$B/safeurl" retry --state FAILED --code CANCELLED --dry-run
  expect_eq "$label: dry run exits 0" 0 "$RC"
  expect_eq "$label: dry run names both" 2 "$(grep -c '^would retry ' <<<"$OUT")"
  expect_eq "$label: dry run changes nothing" FAILED "$("$B/safeurl" status "$a" --format json | js "d['state']")"
  run "$B/safeurl" retry "$b"
  expect_eq "$label: retry a QUEUED scan: exit 65" 65 "$RC"
  expect_match "$label: retry refusal named" "scan '$b' is QUEUED: only FAILED or TIMED_OUT" "$ERR"
  run "$B/safeurl" retry --state FAILED --format json
  expect_eq "$label: retry exits 0" 0 "$RC"
  expect_eq "$label: retry outcomes" "job moved back to wait,new job added" \
    "$(js "','.join(sorted(o['queue'] for o in d))" <<<"$OUT")"
  run "$B/safeurl" status "$c" --format json
  expect_eq "$label: c QUEUED, error cleared" "QUEUED None" "$(js "d['state']+' '+str(d['errorCode'])" <<<"$OUT")"
  expect_eq "$label: c's job waiting again" '"waiting"' "$(job_field "$c" state)"
  expect_eq "$label: c's attempts reset" '0' "$(job_field "$c" attemptsMade)"
  expect_eq "$label: c's failedReason cleared" 'null' "$(job_field "$c" failedReason)"
  expect_eq "$label: a's new job waiting" '"waiting"' "$(job_field "$a" state)"
  run "$B/safeurl" history "$a" --format json
  expect_eq "$label: retry audited" "FAILED:QUEUED:cli:CANCELLED" \
    "$(js "'%s:%s:%s:%s' % (d['audit'][-1]['from'], d['audit'][-1]['to'], d['audit'][-1]['actor'], d['audit'][-1]['detail']['cleared_error_code'])" <<<"$OUT")"
  expect_match "$label: a waiting event after the retry" "\"event\":\"waiting\",\"jobId\":\"$c\",\"prev\":\"failed\"" \
    "$(node "$S/tests/interop/bull.js" events 300 | tr -d ' ')"
  run "$B/safeurl" stats --format json
  expect_eq "$label: stats after retry" "3 3 0" \
    "$(js "'%d %d %d' % (d['states']['QUEUED'], d['queue']['waiting'], d['queue']['failed'])" <<<"$OUT")"

  # pause and resume
  run "$B/safeurl" pause
  expect_eq "$label: pause exits 0" 0 "$RC"
  expect_eq "$label: paused in meta" 1 "$(redis-cli -p "$REDIS_PORT" hexists "$(rkey meta)" paused)"
  expect_eq "$label: stats says paused" True "$("$B/safeurl" stats --format json | js "d['queue']['paused']")"
  run "$B/safeurl" resume
  expect_eq "$label: resume exits 0" 0 "$RC"
  expect_eq "$label: not paused" 0 "$(redis-cli -p "$REDIS_PORT" hexists "$(rkey meta)" paused)"
  expect_eq "$label: marker set for the waiting jobs" 1 "$(redis-cli -p "$REDIS_PORT" zcard "$(rkey marker)")"
  expect_match "$label: paused and resumed events" '"event":"paused".*"event":"resumed"' \
    "$(node "$S/tests/interop/bull.js" events 300 | tr -d ' \n')"
  unset QUEUE_NAME
}

scenario "file:$T/ops.db" sqlite
scenario "$TURSO_URL" libsql

# a refused Redis password is configuration: exit 78, the password never shown
redis-cli -p "$REDIS_PORT" config set requirepass t209-right-secret >/dev/null
export TURSO_CONNECTION_URL=file:$T/ops.db
REDIS_PASSWORD=t209-wrong-secret run "$B/safeurl" stats
expect_eq "wrong Redis password: exit 78" 78 "$RC"
expect_match "wrong Redis password: named" "refused the password: WRONGPASS.*check REDIS_PASSWORD" "$ERR"
check "wrong Redis password: not shown" bash -c "! grep -q t209-wrong-secret <<<\"\$0\"" "$OUT$ERR"
REDIS_PASSWORD=t209-right-secret run "$B/safeurl" pause
expect_eq "right password: pause works" 0 "$RC"
redis-cli -p "$REDIS_PORT" -a t209-right-secret --no-auth-warning config set requirepass '' >/dev/null
finish
