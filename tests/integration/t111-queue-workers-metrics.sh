#!/usr/bin/env bash
# t111: safeurl-workers are visible where BullMQ users look, as read by the
# stock bullmq package: Queue.getWorkers() lists each running worker with
# its WORKER_ID, named exactly as a BullMQ Worker names its connection,
# and drops it once it stops; Queue.getMetrics() returns the per-minute
# completed and failed counts the workers keep, the same as a BullMQ Worker
# with the same metrics.maxDataPoints keeps for the same jobs.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis

# getWorkers() of QUEUE_NAME: has a name / has N entries.
workers_has() { bull workers | grep -q "$1"; }
workers_count_is() {
  [ "$(bull workers | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = "$1" ]
}

# Seed the metrics hashes as ten minutes old with earlier counts, so the
# first finish pushes data points whatever minute the run falls in.
seed_metrics() {
  local q=$1 t
  t=$(( $(date +%s) * 1000 - 600000 ))
  redis-cli -p "$REDIS_PORT" hset "bull:$q:metrics:completed" count 5 prevTS "$t" prevCount 1 >/dev/null
  redis-cli -p "$REDIS_PORT" hset "bull:$q:metrics:failed" count 2 prevTS "$t" prevCount 2 >/dev/null
}
JOBS='[{"name":"scan","data":{},"opts":{"jobId":"r-ok-1"}},
       {"name":"scan","data":{},"opts":{"jobId":"r-ok-2"}},
       {"name":"scan","data":{},"opts":{"jobId":"r-ok-3"}},
       {"name":"scan","data":{"fail":"E1: no","unrecoverable":true},"opts":{"jobId":"r-bad-1"}},
       {"name":"scan","data":{"fail":"E2: no","unrecoverable":true},"opts":{"jobId":"r-bad-2"}}]'

# Reference: a BullMQ Worker named "node-ref" with metrics.maxDataPoints 4.
export QUEUE_NAME=ref
seed_metrics ref
BULL_WORKER_NAME=node-ref BULL_METRICS_MAX=4 BULL_READY_FILE=ref.ready \
  timeout 120 node "$S/tests/interop/bull.js" worker-test 5 ref.ids &
NPID=$!
at_exit "kill -9 $NPID"
wait_for "the reference worker is ready" 60 test -s ref.ready
wait_for "getWorkers() lists the reference worker" 30 workers_count_is 1
ref_name=$(bull workers | python3 -c 'import json,sys; w=json.load(sys.stdin); print(w[0]["rawname"] if w else "")')
echo "# bullmq names its worker connection: $ref_name"
bull add "$JOBS" >/dev/null
wait_for "the reference worker settles its jobs" 60 settled 5
set +e; wait "$NPID"; set -e
bull metrics completed > ref.completed
bull metrics failed > ref.failed

# Two safeurl-workers on queue "ours", the same jobs and seed.
export QUEUE_NAME=ours
seed_metrics ours
bull add "$JOBS" >/dev/null
WORKER_ID=safeurl-a WORKER_METRICS_MAX_DATA_POINTS=4 start_worker a.log --processor=test
APID=$WPID
WORKER_ID=safeurl-b WORKER_METRICS_MAX_DATA_POINTS=4 start_worker b.log --processor=test
BPID=$WPID
wait_for "our queue settled" 60 settled 5
wait_for "getWorkers() lists both workers" 30 workers_count_is 2
bull workers > ours.workers
cat ours.workers

b64=$(printf %s ours | base64)
expect_eq "the reference name is bullmq's <prefix>:<base64 queue>:w:<name>" \
  "bull:$(printf %s ref | base64):w:node-ref" "$ref_name"
check "getWorkers() lists safeurl-a by its WORKER_ID" grep -q "\"rawname\":\"bull:$b64:w:safeurl-a\"" ours.workers
check "getWorkers() lists safeurl-b by its WORKER_ID" grep -q "\"rawname\":\"bull:$b64:w:safeurl-b\"" ours.workers
check "each worker is listed once" workers_count_is 2
check "listed under the queue's name" grep -q '"name":"ours"' ours.workers

bull metrics completed > ours.completed
bull metrics failed > ours.failed
echo "# ref completed $(cat ref.completed) failed $(cat ref.failed)"
echo "# ours completed $(cat ours.completed) failed $(cat ours.failed)"
# prevTS is the time of each queue's last new minute: not compared.
no_ts() { sed 's/"prevTS":[0-9]*/"prevTS":T/' "$1"; }
expect_eq "getMetrics('completed') as a BullMQ Worker's" "$(no_ts ref.completed)" "$(no_ts ours.completed)"
expect_eq "getMetrics('failed') as a BullMQ Worker's" "$(no_ts ref.failed)" "$(no_ts ours.failed)"
expect_match "completed: 3 more counted, the minute's delta then zeros" \
  '"meta":\{"count":8,.*"prevCount":5\},"data":\[0,0,0,4\],"count":4' "$(cat ours.completed)"
expect_match "failed: 2 more counted" '"meta":\{"count":4,.*"data":\[0,0,0,0\]' "$(cat ours.failed)"

# A stopped worker leaves the list; metrics off (0) keeps no counts.
WPID=$BPID stop_worker
wait_for "getWorkers() drops the stopped worker" 30 workers_count_is 1
check "the running worker is still listed" workers_has "w:safeurl-a"
WPID=$APID stop_worker
export QUEUE_NAME=off
WORKER_ID=safeurl-c WORKER_METRICS_MAX_DATA_POINTS=0 start_worker c.log --processor=test
bull add '[{"name":"scan","data":{},"opts":{"jobId":"o-1"}}]' >/dev/null
wait_for "queue off settled" 30 settled 1
expect_eq "WORKER_METRICS_MAX_DATA_POINTS=0: no metrics keys" 0 \
  "$(redis-cli -p "$REDIS_PORT" exists bull:off:metrics:completed)"
stop_worker
expect_eq "worker exits 0 on SIGTERM" 0 "$WRC"

run env WORKER_METRICS_MAX_DATA_POINTS=x "$B/safeurl-worker" --check-config
expect_eq "a bad WORKER_METRICS_MAX_DATA_POINTS exits 78" 78 "$RC"
expect_match "and names the variable" "WORKER_METRICS_MAX_DATA_POINTS='x'" "$ERR"
finish
