#!/usr/bin/env bash
# t116: Redis behind Sentinel (1 master, 2 replicas, 3 sentinels with a
# password, all on loopback). Two workers find the master through the
# sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD)
# and consume; the master is SIGKILLed mid-run; the sentinels promote a
# replica and the workers find it, reconnect with backoff and finish:
# every job ends completed exactly once on the new master, none stays
# waiting or active. Jobs are all replicated before the kill, so
# the asynchronous replication can only lose completions, never jobs: a
# job whose completion was lost runs again once its lock expires (lock and
# stalled interval shortened, test-only variables); only jobs in flight at
# the kill may run twice. A stock bullmq Worker on the same Sentinel
# (ioredis sentinel options) shares the queue throughout, and no job
# runs twice at once (the test processors' ledger). A wrong sentinel
# password exits 78 naming REDIS_SENTINEL_PASSWORD.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
export QUEUE_NAME=sentinel SAFEURL_TEST_LOCK_MS=1500 SAFEURL_TEST_STALLED_MS=700
. "$S/tests/integration/lib_redis_ha.sh"
ha_sentinel_up
SPW=$HA_SPW

# A wrong sentinel password is configuration: exit 78, variable named.
set +e
REDIS_SENTINEL_PASSWORD=wrong-pw LOG_FORMAT=json timeout 60 "$B/safeurl-worker" --processor=noop 2>bad.log; WRC=$?
set -e
expect_eq "exit 78 with a wrong sentinel password" 78 "$WRC"
expect_match "refusal names REDIS_SENTINEL_PASSWORD" "refused the password.*check REDIS_SENTINEL_PASSWORD" "$(cat bad.log)"
check "sentinel password not logged" bash -c "! grep -q -e wrong-pw -e $SPW bad.log"
export REDIS_SENTINEL_PASSWORD=$SPW

echo "# $SECONDS s: deployment ready"
N=${T116_JOBS:-300}
ha_fleet_up t116 "$N"
ha_add_jobs s "$N" 60
check "every job replicated" wait_for "replicas in step" 30 ha_replicated "$MP"
completed_on_master() { [ "$(redis-cli -p "$MP" zcard "bull:$QUEUE_NAME:completed")" -ge "$1" ]; }
wait_for "a quarter of the jobs done" 60 completed_on_master $((N / 4)) || die "the workers made no progress"
ha_sentinel_kill
done_on() {
  local c
  c=$(redis-cli -p "$NP" eval "return {redis.call('zcard',KEYS[1]),redis.call('llen',KEYS[2]),redis.call('llen',KEYS[3]),redis.call('zcard',KEYS[4])}" 4 \
    "bull:$QUEUE_NAME:completed" "bull:$QUEUE_NAME:wait" "bull:$QUEUE_NAME:active" "bull:$QUEUE_NAME:delayed" | tr '\n' ' ')
  [ "$c" = "$N 0 0 0 " ]
}
wait_for "every job completed on the new master" 120 done_on ||
  { redis-cli -p "$NP" eval "return {redis.call('zcard',KEYS[1]),redis.call('llen',KEYS[2]),redis.call('llen',KEYS[3])}" 3 \
      "bull:$QUEUE_NAME:completed" "bull:$QUEUE_NAME:wait" "bull:$QUEUE_NAME:active" >&2; }
expect_eq "completed on the new master" "$N" "$(redis-cli -p "$NP" zcard "bull:$QUEUE_NAME:completed")"
expect_eq "none failed" 0 "$(redis-cli -p "$NP" zcard "bull:$QUEUE_NAME:failed")"
expect_eq "none waiting or active" "0 0" "$(redis-cli -p "$NP" llen "bull:$QUEUE_NAME:wait") $(redis-cli -p "$NP" llen "bull:$QUEUE_NAME:active")"
ha_fleet_down
for w in a b; do
  check "worker $w came back" test "$(grep -c '"msg":"redis command connection ready"' "$T/$w.log")" -ge 2
done
# Only jobs in flight at the kill (at most 2 x 8 + 4) may have completed
# twice (their completion was lost with the old master).
ha_fleet_checks s "$N"
check "only jobs in flight at the kill ran twice ($TWICE)" test "$TWICE" -le 20
check "the loss was noticed" grep -q '"event":"reconnect"' "$T/a.log"
check "sentinel password not logged" bash -c "! grep -q $SPW $T/a.log $T/b.log"
finish
