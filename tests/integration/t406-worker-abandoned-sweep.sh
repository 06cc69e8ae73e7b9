#!/usr/bin/env bash
# t406: no scan stays non-terminal without a live owner. A row whose lease
# lapsed more than a lease ago and whose queue job BullMQ failed (after too
# many stalls) or whose queue job is gone (removed, or lost) is failed
# ABANDONED by the keeper's sweep (SPEC §5); one whose queue job still waits is
# left for the queue to deliver, and one with a live lease is left alone.
# The job is the one the row records (queue_job_id), never parsed from ids
# or audit details.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
export SAFEURL_TEST_LOCK_MS=1000

gone=$($CLI submit "$SITE/benign?gone")
stalled=$($CLI submit "$SITE/benign?stalled")
waiting=$($CLI submit "$SITE/benign?waiting")
live=$($CLI submit "$SITE/benign?live")
now=$(date +%s%3N)
# gone: its queue job removed; waiting: its job delayed far in the future.
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('DEL', KEYS[2])" \
  2 bull:scan-jobs:wait "bull:scan-jobs:$gone" "$gone" >/dev/null
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])" \
  2 bull:scan-jobs:wait bull:scan-jobs:delayed "$waiting" "$(( (now + 3600000) * 4096 ))" >/dev/null
# stalled: its job in failed, as BullMQ leaves a job that stalled too often
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])" \
  2 bull:scan-jobs:wait bull:scan-jobs:failed "$stalled" "$now" >/dev/null
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('DEL', KEYS[2])" \
  2 bull:scan-jobs:wait "bull:scan-jobs:$live" "$live" >/dev/null
sql "UPDATE scan_jobs SET state='FETCHING', version=1, attempts=1, worker_id='dead-worker',
       lease_expires_at=$((now - 10000)) WHERE id IN ('$gone','$waiting','$stalled')"
sql "UPDATE scan_jobs SET state='FETCHING', version=1, attempts=1, worker_id='live-worker',
       lease_expires_at=$((now + 600000)) WHERE id='$live'"

# other: carried by a BullMQ job whose id is not the scan id (a producer's
# own numbered job); the last claim recorded it in the row, and it is still
# delayed (the scan id's own job is gone).
other=$($CLI submit "$SITE/benign?other")
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('DEL', KEYS[2])" \
  2 bull:scan-jobs:wait "bull:scan-jobs:$other" "$other" >/dev/null
num=$($BULL add "[{\"name\":\"scan\",\"data\":{\"jobId\":\"$other\"},\"opts\":{\"delay\":3600000}}]")
sql "UPDATE scan_jobs SET state='FETCHING', version=1, attempts=1, worker_id='dead-worker',
       lease_expires_at=$((now - 10000)), queue_job_id='$num' WHERE id='$other';
     INSERT INTO audit_logs(job_id, from_state, to_state, version, actor, detail, created_at)
       VALUES ('$other', 'QUEUED', 'FETCHING', 1, 'dead-worker', '{}', $now)"

start_worker keeper
wait_terminal 20 "$stalled" || die "abandoned row not swept"
expect_eq "queue job failed after stalls: FAILED ABANDONED" "FAILED|ABANDONED" \
  "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$stalled'")"
expect_eq "abandonment audited by the sweeping worker" "FETCHING>FAILED@2|$WORKER_ID-keeper" \
  "$(sql "SELECT from_state||'>'||to_state||'@'||version||'|'||actor FROM audit_logs WHERE job_id='$stalled' ORDER BY id DESC LIMIT 1")"
wait_terminal 60 "$gone" || die "row whose job is gone not swept"
expect_eq "gone queue job: FAILED ABANDONED" "FETCHING>FAILED@2|ABANDONED" \
  "$(sql "SELECT from_state||'>'||to_state||'@'||version FROM audit_logs WHERE job_id='$gone' ORDER BY id DESC LIMIT 1")|$(sql "SELECT error_code FROM scan_jobs WHERE id='$gone'")"
sleep 2
expect_eq "delayed queue job: row left for the queue" FETCHING "$(state_of "$waiting")"
expect_eq "live lease: row left alone" FETCHING "$(state_of "$live")"
expect_eq "job id recorded by the claim, still delayed: row left alone" FETCHING "$(state_of "$other")"
check "sweep logged" grep -q '"event":"sweep"' "$T/keeper.log"
stop_worker keeper
expect_eq "worker stops cleanly" 0 "$WRC"
check "no sanitizer report" logs_clean keeper
finish
