#!/usr/bin/env bash
# t110: a job that runs for several lock durations keeps its lock (renewed
# every lockDuration/2): with a second worker running the stalled check
# meanwhile, the job is neither stalled nor started twice, and jobs in
# flight on both workers all complete once. The lock is 2 s (renewed
# every second) and each job runs 3.5 of them: a renewal must come late by
# a whole second to lose a lock, which a loaded machine does not do, while
# a worker that stopped renewing loses it after 2 s.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
export QUEUE_NAME=renew SAFEURL_TEST_LOCK_MS=2000 SAFEURL_TEST_STALLED_MS=500

bull add '[{"name":"scan","data":{"sleepMs":7000},"opts":{"jobId":"long-1"}},
           {"name":"scan","data":{"sleepMs":7000},"opts":{"jobId":"long-2"}},
           {"name":"scan","data":{"sleepMs":7000},"opts":{"jobId":"long-3"}}]' >/dev/null
WORKER_CONCURRENCY=2 start_worker a.log --processor=test
A=$WPID
wait_for "two jobs active on the first worker" 30 active_is 2
WORKER_CONCURRENCY=2 start_worker b.log --processor=test
wait_for "all settled" 60 settled 3
kill -TERM "$A"; wait "$A" 2>/dev/null || true
stop_worker
for id in long-1 long-2 long-3; do
  expect_eq "$id started once" 1 "$(job_field $id attemptsStarted)"
  expect_eq "$id never stalled" 0 "$(job_field $id stalledCounter)"
done
check "no stalled event" bash -c "! grep -q '\"event\":\"stalled\"' a.log b.log"
check "no lost lock" bash -c "! grep -q 'lock-lost' a.log b.log"
finish
