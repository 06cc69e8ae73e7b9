#!/usr/bin/env bash
# t104: SIGKILL of safeurl-worker mid-job: the job's lock lapses, the
# stalled check moves it back to wait ("stalled" event) and another worker
# completes it. A job that stalls more than maxStalledCount (1) times fails
# with BullMQ's reason. Lock and stalled interval are shortened through the
# test-only SAFEURL_TEST_* variables.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
export QUEUE_NAME=stall SAFEURL_TEST_LOCK_MS=1000 SAFEURL_TEST_STALLED_MS=500

bull add '[{"name":"scan","data":{"sleepFirstMs":60000},"opts":{"jobId":"victim"}}]' >/dev/null
start_worker a.log --processor=test
wait_for "job active" 10 grep -q '"job":"victim","event":"active"' a.log
kill -9 "$WPID"; wait "$WPID" 2>/dev/null || true
expect_eq "job left in active" 1 "$(counts_field active)"

start_worker b.log --processor=test
wait_for "job completed by the second worker" 20 grep -q '"job":"victim","event":"complete"' b.log
stop_worker
expect_eq "completed" '"completed"' "$(job_field victim state)"
expect_eq "stalled once" 1 "$(job_field victim stalledCounter)"
expect_eq "started twice" 2 "$(job_field victim attemptsStarted)"
expect_eq "one attempt counted" 1 "$(job_field victim attemptsMade)"
check "stalled logged" grep -q '"job":"victim","event":"stalled"' b.log
bull events 300 > events.txt
check "stalled event emitted" grep -q '"event": *"stalled", *"jobId": *"victim"' events.txt

# Stalls twice (two killed workers): failed with BullMQ's reason.
bull add '[{"name":"scan","data":{"sleepMs":60000},"opts":{"jobId":"twice"}}]' >/dev/null
for round in 1 2; do
  start_worker k$round.log --processor=test
  wait_for "job active ($round)" 20 grep -q '"job":"twice","event":"active"' k$round.log
  kill -9 "$WPID"; wait "$WPID" 2>/dev/null || true
done
start_worker c.log --processor=test
wait_for "job failed" 20 grep -q '"job":"twice","event":"fail"' c.log
stop_worker
expect_eq "failed after too many stalls" '"job stalled more than allowable limit"' "$(job_field twice failedReason)"
expect_eq "state failed" '"failed"' "$(job_field twice state)"
finish
