#!/usr/bin/env bash
# t108: malformed jobs planted in Redis (hash missing fields, data or opts
# that are not JSON, a job id without a hash) each fail at once with a
# clear failedReason and a "failed" event; the worker keeps running and
# completes a good job queued behind them.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
export QUEUE_NAME=bad
r() { redis-cli -p "$REDIS_PORT" "$@" >/dev/null; }
# Node cannot load jobs whose data or opts are not JSON: read the hash.
hget() { redis-cli -p "$REDIS_PORT" hget "bull:bad:$1" "$2" </dev/null; }
now=$(date +%s%3N)
r hset bull:bad:no-data name scan opts '{}' timestamp "$now"
r hset bull:bad:bad-data name scan data '{"url":' opts '{}' timestamp "$now"
r hset bull:bad:bad-opts name scan data '{}' opts 'attempts=3' timestamp "$now"
r hset bull:bad:bad-attempts name scan data '{}' opts '{"attempts":"x"}' timestamp "$now"
r lpush bull:bad:wait no-data bad-data bad-opts bad-attempts ghost
bull add '[{"name":"scan","data":{},"opts":{"jobId":"good"}}]' >/dev/null

start_worker w.log --processor=test
wait_for "good job completed" 10 grep -q '"job":"good","event":"complete"' w.log
sleep 0.3
check "worker still running" kill -0 "$WPID"
stop_worker
expect_eq "exit 0" 0 "$WRC"
expect_eq "missing field" '"malformed job: field '"'"'data'"'"' is missing"' "$(job_field no-data failedReason)"
expect_eq "data not JSON" 'malformed job: data is not JSON' "$(hget bad-data failedReason)"
expect_eq "opts not JSON" 'malformed job: opts is not a JSON object' "$(hget bad-opts failedReason)"
expect_eq "bad option" '"malformed job: opts.attempts is not a number"' "$(job_field bad-attempts failedReason)"
expect_eq "no retry for malformed jobs" 1 "$(hget bad-data atm)"
check "bad-data in the failed set" test "$(redis-cli -p "$REDIS_PORT" zscore bull:bad:failed bad-data)" != ""
expect_eq "job id without a hash fails" '"malformed job: job hash is missing or empty"' "\"$(hget ghost failedReason)\""
expect_eq "failed count" 5 "$(counts_field failed)"
expect_eq "good job completed" '"completed"' "$(job_field good state)"
bull events 300 > events.txt
check "failed events carry the reason" grep -q '"event": *"failed".*malformed job' events.txt
finish
