#!/usr/bin/env bash
# t105: SIGTERM stops taking jobs, lets in-flight jobs finish within
# SHUTDOWN_GRACE_MS, releases the rest back to wait without counting an
# attempt (another worker takes them at once), and exits 0.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
export QUEUE_NAME=shut

bull add '[{"name":"scan","data":{"sleepMs":300},"opts":{"jobId":"short"}},
           {"name":"scan","data":{"sleepFirstMs":60000},"opts":{"jobId":"long"}},
           {"name":"scan","data":{},"opts":{"jobId":"queued","delay":1500}}]' >/dev/null
SHUTDOWN_GRACE_MS=1000 WORKER_CONCURRENCY=2 start_worker a.log --processor=test
wait_for "both jobs active" 10 active_is 2
start=$(date +%s%N)
stop_worker
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "exit 0 after SIGTERM" 0 "$WRC"
check "stopped within the grace period plus slack ($elapsed ms)" test "$elapsed" -lt 4000
expect_eq "short job finished within the grace" '"completed"' "$(job_field short state)"
expect_eq "long job released to wait" '"waiting"' "$(job_field long state)"
expect_eq "release counts no attempt" 0 "$(job_field long attemptsMade)"
check "release logged" grep -q '"job":"long","event":"release"' a.log
check "lock removed" test "$(redis-cli -p "$REDIS_PORT" exists bull:shut:long:lock)" = 0

start_worker b.log --processor=test
wait_for "released job completed by the next worker" 10 grep -q '"job":"long","event":"complete"' b.log
stop_worker
expect_eq "long job then completed" '"completed"' "$(job_field long state)"
expect_eq "the stopping worker took no new job" 0 "$(log_count a.log queued active)"

# Redis gone at shutdown: the worker cannot release its job, gives up
# after the grace period plus 10 s, says so, and still exits 0.
bull add '[{"name":"scan","data":{"sleepMs":60000},"opts":{"jobId":"stuck"}}]' >/dev/null
SHUTDOWN_GRACE_MS=300 start_worker c.log --processor=test
wait_for "stuck job active" 10 grep -q '"job":"stuck","event":"active"' c.log
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
wait_for "connection loss noticed" 10 grep -q '"event":"reconnect"' c.log
start=$(date +%s)
stop_worker
expect_eq "exit 0 with Redis gone" 0 "$WRC"
check "gave up within 15 s" test $(( $(date +%s) - start )) -le 15
check "unwritten outcome logged" grep -q 'not written to Redis' c.log
finish
