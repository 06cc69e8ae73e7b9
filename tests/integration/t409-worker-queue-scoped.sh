#!/usr/bin/env bash
# t409: two queues share one database; a worker acts only on its own
# queue's rows. A scan whose owner died while its job waits in queue
# `other`, and a QUEUED scan of `other` whose job is gone, are left alone
# by a worker of queue `mine` (its sweep and reconciliation run every
# second here) and by `safeurl requeue --stale` for `mine`; `other`'s
# worker and requeue then finish them. The same kind of scans in `mine`
# are handled by `mine`.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
export SAFEURL_TEST_LOCK_MS=1000 RECONCILE_INTERVAL_MS=1000

# waiting: its owner died, its job is back in other's wait list
waiting=$(QUEUE_NAME=other $CLI submit "$SITE/benign?waiting")
# lost: QUEUED in other, its job gone
lost=$(QUEUE_NAME=other $CLI submit "$SITE/benign?lost")
# mine_lost: QUEUED in mine, its job gone
mine_lost=$(QUEUE_NAME=mine $CLI submit "$SITE/benign?mine-lost")
expect_eq "submit records each scan's queue and job" "bull:other|$waiting" \
  "$(sql "SELECT queue||'|'||queue_job_id FROM scan_jobs WHERE id='$waiting'")"
now=$(date +%s%3N)
sql "UPDATE scan_jobs SET state='FETCHING', version=1, attempts=1, worker_id='dead-worker',
       lease_expires_at=$((now - 60000)), updated_at=$now WHERE id='$waiting'"
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('DEL', KEYS[2])" \
  2 bull:other:wait "bull:other:$lost" "$lost" >/dev/null
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('DEL', KEYS[2])" \
  2 bull:mine:wait "bull:mine:$mine_lost" "$mine_lost" >/dev/null
sql "UPDATE scan_jobs SET updated_at=$((now - 60000)), created_at=$((now - 60000)) WHERE id IN ('$lost', '$mine_lost')"

out=$(QUEUE_NAME=mine $CLI requeue --stale --older-than 5 2>/dev/null)
expect_eq "requeue for mine re-enqueues only mine's lost scan" "$mine_lost" "$out"

start_worker mine QUEUE_NAME=mine
wait_terminal 60 "$mine_lost" || die "mine's requeued scan did not finish"
# six sweeps and reconciliation passes of mine
sleep 6
expect_eq "other's scan with a waiting job: untouched by mine" "FETCHING|1|dead-worker" \
  "$(sql "SELECT state||'|'||version||'|'||worker_id FROM scan_jobs WHERE id='$waiting'")"
expect_eq "other's lost scan: untouched by mine" "QUEUED|0" \
  "$(sql "SELECT state||'|'||version FROM scan_jobs WHERE id='$lost'")"
expect_eq "mine's worker wrote no audit row on other's scans" 0 \
  "$(sql "SELECT count(*) FROM audit_logs WHERE job_id IN ('$waiting', '$lost') AND actor LIKE '%-mine'")"
expect_eq "other's jobs still in other" "1 0" \
  "$(redis-cli -p "$REDIS_PORT" LLEN bull:other:wait) $(redis-cli -p "$REDIS_PORT" EXISTS "bull:other:$lost")"
stop_worker mine
expect_eq "mine stops cleanly" 0 "$WRC"

start_worker other QUEUE_NAME=other
wait_terminal 60 "$waiting" "$lost" || die "other's scans did not finish under other's worker"
expect_eq "other's scans completed by other" "COMPLETED COMPLETED" "$(state_of "$waiting") $(state_of "$lost")"
expect_eq "the waiting one by a takeover" "FETCHING>FETCHING" \
  "$(sql "SELECT from_state||'>'||to_state FROM audit_logs WHERE job_id='$waiting' AND version=2")"
expect_eq "the lost one requeued by other's reconciliation" "QUEUED>QUEUED|$WORKER_ID-other" \
  "$(sql "SELECT from_state||'>'||to_state||'|'||actor FROM audit_logs WHERE job_id='$lost' AND version=1")"
stop_worker other
expect_eq "other stops cleanly" 0 "$WRC"
check "no sanitizer report" logs_clean mine other
finish
