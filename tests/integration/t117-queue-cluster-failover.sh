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
declare -A W
for w in a b; do
  WORKER_ID=t117-$w WORKER_CONCURRENCY=8 LOG_FORMAT=json "$B/safeurl-worker" --processor=test 2>"$T/$w.log" &
  W[$w]=$!
  at_exit "kill -9 ${W[$w]}"
  wait_for "worker $w consuming" 30 grep -q '"msg":"consuming' "$T/$w.log" || die "worker $w did not start"
done
# The mixed fleet: a stock bullmq Worker (ioredis Cluster) on the same
# queue, with the same test processor; its completed ids go to a file.
BULL_READY_FILE=$T/bull.ready node "$S/tests/interop/bull.js" worker-test "$((N * 2))" "$T/bull.ids" >"$T/bull.log" 2>&1 &
BPID=$!
at_exit "kill -9 $BPID"
wait_for "the bullmq worker connected" 60 test -s "$T/bull.ready" || die "the bullmq worker did not start"
spec=$(python3 -c "import json; print(json.dumps([{'name':'scan','data':{'sleepMs':30,'ledger':'$T/ledger'},'opts':{'jobId':f'c-{i}'}} for i in range($N)]))")
bull add "$spec" >/dev/null
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
spec=$(python3 -c "import json; print(json.dumps([{'name':'scan','data':{'sleepMs':30,'ledger':'$T/ledger'},'opts':{'jobId':f'r-{i}'}} for i in range($N2)]))")
bull add "$spec" >/dev/null
ha_cluster_move_slot "$(ha_other_master)"
done_moved() {
  [ "$(redis-cli -p "$NP" eval "return {redis.call('zcard',KEYS[1]),redis.call('llen',KEYS[2]),redis.call('llen',KEYS[3])}" 3 \
    "$K:completed" "$K:wait" "$K:active" | tr '\n' ' ')" = "$((N + N2)) 0 0 " ]
}
wait_for "every job completed on the slot's new master" 120 done_moved || true
expect_eq "all jobs completed after the move" "$((N + N2))" "$(redis-cli -p "$NP" zcard "$K:completed")"
check "a worker was redirected while the slot moved" \
  grep -qE 'no longer serves the queue \((ASK|MOVED|TRYAGAIN)' "$T/a.log" "$T/b.log"
for w in a b; do
  check "worker $w located the slot's new master" wait_for "worker $w to find the slot's new master" 60 \
    grep -q "redis command connection: the master is at 127.0.0.1:$NP" "$T/$w.log"
  kill -TERM "${W[$w]}"
  set +e; wait "${W[$w]}"; WRC=$?; set -e
  expect_eq "worker $w exits 0" 0 "$WRC"
done
kill -KILL "$BPID" 2>/dev/null || true
set +e; wait "$BPID"; set -e
read -r missing twice bullmq <<<"$( { cat "$T/a.log" "$T/b.log"; sed 's/^/bullmq /' "$T/bull.ids" 2>/dev/null; } | python3 -c "
import json, sys, collections
c = collections.Counter(); b = 0
for line in sys.stdin:
    if line.startswith('bullmq '):
        c[line.split()[1]] += 1; b += 1; continue
    try: d = json.loads(line)
    except ValueError: continue
    if d.get('event') == 'complete': c[d.get('job')] += 1
print(sum(1 for i in range($N) if c['c-%d' % i] == 0), sum(1 for v in c.values() if v > 1), b)")"
expect_eq "every job completed by a worker" 0 "$missing"
# Jobs may run again (at least once, as BullMQ promises): those in flight
# at the kill, and those whose completion the ioredis Cluster client gave
# up on during the failover ("Too many Cluster redirections"), once their
# 30 s lock runs out. Never two at once.
echo "# $twice jobs completed more than once"
check "the bullmq worker took part ($bullmq jobs)" test "$bullmq" -gt 0
for w in a b; do
  check "worker $w took part" grep -q '"event":"complete"' "$T/$w.log"
done
check "no job ran twice at once" ha_no_overlap "$T/ledger"
finish
