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
declare -A W
for w in a b; do
  WORKER_ID=t116-$w WORKER_CONCURRENCY=8 LOG_FORMAT=json "$B/safeurl-worker" --processor=test 2>"$T/$w.log" &
  W[$w]=$!
  at_exit "kill -9 ${W[$w]}"
  wait_for "worker $w consuming" 30 grep -q '"msg":"consuming' "$T/$w.log" || die "worker $w did not start"
done
# The mixed fleet: a stock bullmq Worker (ioredis sentinel options) on the
# same queue, with the same test processor; its completed ids go to a file.
BULL_READY_FILE=$T/bull.ready node "$S/tests/interop/bull.js" worker-test "$((N * 2))" "$T/bull.ids" >"$T/bull.log" 2>&1 &
BPID=$!
at_exit "kill -9 $BPID"
wait_for "the bullmq worker connected" 60 test -s "$T/bull.ready" || die "the bullmq worker did not start"
spec=$(python3 -c "import json; print(json.dumps([{'name':'scan','data':{'sleepMs':60,'ledger':'$T/ledger'},'opts':{'jobId':f's-{i}'}} for i in range($N)]))")
bull add "$spec" >/dev/null
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
for w in a b; do
  # an idle worker finds the new master on its next reconnect (backoff)
  wait_for "worker $w to find the new master" 60 grep -q "redis command connection: the master is at 127.0.0.1:$NP" "$T/$w.log" || true
  kill -TERM "${W[$w]}"
  set +e; wait "${W[$w]}"; WRC=$?; set -e
  expect_eq "worker $w exits 0" 0 "$WRC"
  check "worker $w located the new master" grep -q "redis command connection: the master is at 127.0.0.1:$NP" "$T/$w.log"
  check "worker $w came back" test "$(grep -c '"msg":"redis command connection ready"' "$T/$w.log")" -ge 2
done
kill -KILL "$BPID" 2>/dev/null || true
set +e; wait "$BPID"; set -e
# Every job completed at least once, by one of the three workers; only
# jobs in flight at the kill (at most 2 x 8 + 4) may have completed twice
# (their completion was lost with the old master).
read -r missing twice bullmq <<<"$( { cat "$T/a.log" "$T/b.log"; sed 's/^/bullmq /' "$T/bull.ids" 2>/dev/null; } | python3 -c "
import json, sys, collections
c = collections.Counter(); b = 0
for line in sys.stdin:
    if line.startswith('bullmq '):
        c[line.split()[1]] += 1; b += 1; continue
    try: d = json.loads(line)
    except ValueError: continue
    if d.get('event') == 'complete': c[d.get('job')] += 1
print(sum(1 for i in range($N) if c['s-%d' % i] == 0), sum(1 for v in c.values() if v > 1), b)")"
expect_eq "every job completed by a worker" 0 "$missing"
check "only jobs in flight at the kill ran twice ($twice)" test "$twice" -le 20
check "the bullmq worker took part ($bullmq jobs)" test "$bullmq" -gt 0
for w in a b; do
  check "worker $w took part" grep -q '"event":"complete"' "$T/$w.log"
done
check "no job ran twice at once" ha_no_overlap "$T/ledger"
check "the loss was noticed" grep -q '"event":"reconnect"' "$T/a.log"
check "sentinel password not logged" bash -c "! grep -q $SPW $T/a.log $T/b.log"
finish
