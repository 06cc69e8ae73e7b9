#!/usr/bin/env bash
# t117: Redis Cluster (3 masters, 3 replicas on loopback). BULLMQ_PREFIX
# without a {hash tag} stops the worker with exit 78; with '{scan}' every
# queue key lives in one slot, the workers find its owner from the seed
# nodes (REDIS_CLUSTER_NODES, CLUSTER SLOTS), and consume jobs a stock
# bullmq producer (ioredis Cluster) added. The owner master is SIGKILLed
# mid-run; its replica takes the slot over and the workers find it again:
# every job ends completed on the new owner, none stays waiting or active.
# Jobs are replicated (WAIT) before the kill, so only completions can be
# lost; those jobs run again after their lock expires (lock and stalled
# interval shortened, test-only variables).
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
command -v redis-server >/dev/null || die "redis-server is not installed (scripts/deps.sh)"
export QUEUE_NAME=cluster SAFEURL_TEST_LOCK_MS=1500 SAFEURL_TEST_STALLED_MS=700

NODES=
declare -A PORT
for i in 1 2 3 4 5 6; do
  p=$(free_port)
  mkdir -p "$T/n$i"
  # the cluster bus gets a free port of its own (default: port + 10000)
  redis-server --port "$p" --cluster-port "$(free_port)" \
    --bind 127.0.0.1 --daemonize yes --dir "$T/n$i" \
    --pidfile "$T/n$i/pid" --logfile "$T/n$i/log" --save '' --appendonly no \
    --cluster-enabled yes --cluster-config-file "$T/n$i/nodes.conf" \
    --cluster-node-timeout 2000 || die "cluster node $i did not start"
  wait_for "node $i pid" 20 test -s "$T/n$i/pid" || die "node $i wrote no pid"
  at_exit "kill -9 $(cat "$T/n$i/pid")"
  PORT[$i]=$p
  NODES=${NODES:+$NODES,}127.0.0.1:$p
done
for i in 1 2 3 4 5 6; do
  wait_for "node $i answers" 20 redis-cli -p "${PORT[$i]}" ping || die "node $i does not answer"
done
redis-cli --cluster create $(tr ',' ' ' <<<"$NODES") --cluster-replicas 1 --cluster-yes >create.log 2>&1 ||
  { cat create.log >&2; die "redis-cli --cluster create failed"; }
cluster_ok() {
  local i
  for i in 1 2 3 4 5 6; do
    redis-cli -p "${PORT[$i]}" cluster info | grep -q '^cluster_state:ok' || return 1
  done
}
wait_for "cluster state ok on every node" 60 cluster_ok || die "the cluster did not form"
export REDIS_CLUSTER_NODES=$NODES REDIS_HOST=127.0.0.1 REDIS_PORT=1

# A prefix without a hash tag is refused (BullMQ's rule for Cluster).
set +e
BULLMQ_PREFIX=bull timeout 60 "$B/safeurl-worker" --processor=noop 2>notag.log; WRC=$?
set -e
expect_eq "exit 78 without a hash tag" 78 "$WRC"
expect_match "names BULLMQ_PREFIX" "BULLMQ_PREFIX='bull': expected a \{hash tag\}" "$(cat notag.log)"
export BULLMQ_PREFIX='{scan}'

SLOT=$(redis-cli -p "${PORT[1]}" cluster keyslot '{scan}')
OWNER=$(redis-cli -p "${PORT[1]}" cluster nodes | python3 -c "
import sys
for line in sys.stdin:
    f = line.split()
    if 'master' in f[2] and 'fail' not in f[2]:
        for r in f[8:]:
            a, _, b = r.partition('-')
            if int(a) <= $SLOT <= int(b or a):
                print(f[1].split('@')[0].split(':')[1])
")
[ -n "$OWNER" ] || die "no owner for slot $SLOT"
echo "# $SECONDS s: slot $SLOT of {scan} on port $OWNER"

N=${T117_JOBS:-300}
spec=$(python3 -c "import json; print(json.dumps([{'name':'scan','data':{'sleepMs':30},'opts':{'jobId':f'c-{i}'}} for i in range($N)]))")
bull add "$spec" >/dev/null
expect_eq "every job replicated before the kill" 1 "$(redis-cli -p "$OWNER" WAIT 1 10000)"

declare -A W
for w in a b; do
  WORKER_ID=t117-$w WORKER_CONCURRENCY=8 LOG_FORMAT=json "$B/safeurl-worker" --processor=test 2>"$T/$w.log" &
  W[$w]=$!
  at_exit "kill -9 ${W[$w]}"
done
K="{scan}:$QUEUE_NAME"
completed_on() { [ "$(redis-cli -p "$OWNER" zcard "$K:completed")" -ge "$1" ]; }
wait_for "a third of the jobs done" 60 completed_on $((N / 3)) || die "the workers made no progress"
for i in 1 2 3 4 5 6; do [ "${PORT[$i]}" = "$OWNER" ] && kill -9 "$(cat "$T/n$i/pid")"; done
echo "# $SECONDS s: owner killed"
new_owner() {
  local i p o
  for i in 1 2 3 4 5 6; do
    p=${PORT[$i]}
    [ "$p" = "$OWNER" ] && continue
    o=$(redis-cli -p "$p" cluster nodes 2>/dev/null | python3 -c "
import sys
for line in sys.stdin:
    f = line.split()
    if 'master' in f[2] and 'fail' not in f[2]:
        for r in f[8:]:
            a, _, b = r.partition('-')
            if a.isdigit() and int(a) <= $SLOT <= int(b or a):
                print(f[1].split('@')[0].split(':')[1])
")
    [ -n "$o" ] && [ "$o" != "$OWNER" ] && { NP=$o; return 0; }
  done
  return 1
}
wait_for "a replica takes the slot over" 60 new_owner || die "no failover"
new_owner
echo "# $SECONDS s: new owner on port $NP"
done_on() {
  [ "$(redis-cli -p "$NP" eval "return {redis.call('zcard',KEYS[1]),redis.call('llen',KEYS[2]),redis.call('llen',KEYS[3]),redis.call('zcard',KEYS[4])}" 4 \
    "$K:completed" "$K:wait" "$K:active" "$K:delayed" | tr '\n' ' ')" = "$N 0 0 0 " ]
}
wait_for "every job completed on the new owner" 120 done_on || true
expect_eq "completed on the new owner" "$N" "$(redis-cli -p "$NP" zcard "$K:completed")"
expect_eq "none failed" 0 "$(redis-cli -p "$NP" zcard "$K:failed")"
expect_eq "none waiting or active" "0 0" "$(redis-cli -p "$NP" llen "$K:wait") $(redis-cli -p "$NP" llen "$K:active")"
for w in a b; do
  kill -TERM "${W[$w]}"
  set +e; wait "${W[$w]}"; WRC=$?; set -e
  expect_eq "worker $w exits 0" 0 "$WRC"
  check "worker $w located the new owner" grep -q "redis command connection: the master is at 127.0.0.1:$NP" "$T/$w.log"
done
read -r missing twice <<<"$(cat "$T/a.log" "$T/b.log" | python3 -c "
import json, sys, collections
c = collections.Counter()
for line in sys.stdin:
    try: d = json.loads(line)
    except ValueError: continue
    if d.get('event') == 'complete': c[d.get('job')] += 1
print(sum(1 for i in range($N) if c['c-%d' % i] == 0), sum(1 for v in c.values() if v > 1))")"
expect_eq "every job completed by a worker" 0 "$missing"
check "only jobs in flight at the kill ran twice ($twice)" test "$twice" -le 16
finish
