#!/usr/bin/env bash
# t117: Redis Cluster (3 masters, 3 replicas on loopback). BULLMQ_PREFIX
# without a {hash tag} stops the worker with exit 78; with '{scan}' every
# queue key lives in one slot, the workers find its owner from the seed
# nodes (REDIS_CLUSTER_NODES, CLUSTER SLOTS), and consume jobs a stock
# bullmq producer (ioredis Cluster) added. The owner master is SIGKILLed
# mid-run; its replica takes the slot over and the workers find it again:
# every job ends completed on the new owner, none stays waiting or active.
# Jobs are replicated before the kill, so only completions can be lost;
# those jobs run again after their lock expires (lock and stalled
# interval shortened, test-only variables). A stock bullmq Worker on the
# same cluster (ioredis Cluster) shares the queue throughout, and no job
# runs twice at once (the test processors' ledger).
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
export QUEUE_NAME=cluster SAFEURL_TEST_LOCK_MS=1500 SAFEURL_TEST_STALLED_MS=700

. "$S/tests/integration/lib_redis_ha.sh"
ha_cluster_up

# A prefix without a hash tag is refused (BullMQ's rule for Cluster).
set +e
BULLMQ_PREFIX=bull timeout 60 "$B/safeurl-worker" --processor=noop 2>notag.log; WRC=$?
set -e
expect_eq "exit 78 without a hash tag" 78 "$WRC"
expect_match "names BULLMQ_PREFIX" "BULLMQ_PREFIX='bull': expected a \{hash tag\}" "$(cat notag.log)"
export BULLMQ_PREFIX='{scan}'

N=${T117_JOBS:-300}
ha_fleet_up t117 "$N"
ha_add_jobs c "$N" 30
check "every job replicated" wait_for "the replica in step" 30 ha_replicated "$OWNER"
K="{scan}:$QUEUE_NAME"
completed_on() { [ "$(redis-cli -p "$OWNER" zcard "$K:completed")" -ge "$1" ]; }
wait_for "a third of the jobs done" 60 completed_on $((N / 3)) || die "the workers made no progress"
ha_cluster_kill
done_on() {
  [ "$(redis-cli -p "$NP" eval "return {redis.call('zcard',KEYS[1]),redis.call('llen',KEYS[2]),redis.call('llen',KEYS[3]),redis.call('zcard',KEYS[4])}" 4 \
    "$K:completed" "$K:wait" "$K:active" "$K:delayed" | tr '\n' ' ')" = "$N 0 0 0 " ]
}
wait_for "every job completed on the new owner" 120 done_on || true
expect_eq "completed on the new owner" "$N" "$(redis-cli -p "$NP" zcard "$K:completed")"
expect_eq "none failed" 0 "$(redis-cli -p "$NP" zcard "$K:failed")"
expect_eq "none waiting or active" "0 0" "$(redis-cli -p "$NP" llen "$K:wait") $(redis-cli -p "$NP" llen "$K:active")"
for w in a b; do
  # an idle worker finds the new owner on its next reconnect (backoff)
  check "worker $w located the new owner" wait_for "worker $w to find the new owner" 60 \
    grep -q "redis command connection: the master is at 127.0.0.1:$NP" "$T/$w.log"
done

# Resharding: the queue's slot moves to another master while N2 more
# jobs run. The workers meet ASK or TRYAGAIN while the keys move and
# MOVED after; they locate the slot's new master and finish every job.
N2=${T117_RESHARD_JOBS:-200}
ha_add_jobs r "$N2" 30
ha_cluster_move_slot "$(ha_other_master)"
done_moved() {
  [ "$(redis-cli -p "$NP" eval "return {redis.call('zcard',KEYS[1]),redis.call('llen',KEYS[2]),redis.call('llen',KEYS[3])}" 3 \
    "$K:completed" "$K:wait" "$K:active" | tr '\n' ' ')" = "$((N + N2)) 0 0 " ]
}
wait_for "every job completed on the slot's new master" 120 done_moved || true
expect_eq "all jobs completed after the move" "$((N + N2))" "$(redis-cli -p "$NP" zcard "$K:completed")"
check "a worker was redirected while the slot moved" \
  grep -qE 'no longer serves the queue \((ASK|MOVED|TRYAGAIN)' "$T/a.log" "$T/b.log"
ha_fleet_down
# Jobs may run again (at least once, as BullMQ promises): those in flight
# at the kill, and those whose completion the ioredis Cluster client gave
# up on during the failover ("Too many Cluster redirections"), once their
# 30 s lock runs out. Never two at once.
ha_fleet_checks c "$N"
echo "# $TWICE jobs completed more than once"
finish
