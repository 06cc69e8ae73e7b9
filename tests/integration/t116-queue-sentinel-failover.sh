#!/usr/bin/env bash
# t116: Redis behind Sentinel (1 master, 2 replicas, 3 sentinels with a
# password, all on loopback). Two workers find the master through the
# sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD)
# and consume; the master is SIGKILLed mid-run; the sentinels promote a
# replica and the workers find it, reconnect with backoff and finish:
# every job ends completed exactly once on the new master, none stays
# waiting or active. Jobs are all replicated (WAIT) before the kill, so
# the asynchronous replication can only lose completions, never jobs: a
# job whose completion was lost runs again once its lock expires (lock and
# stalled interval shortened, test-only variables); only jobs in flight at
# the kill may run twice. A stock bullmq Worker on the same Sentinel
# (ioredis sentinel options) shares the queue throughout. A wrong sentinel
# password exits 78 naming REDIS_SENTINEL_PASSWORD.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
command -v redis-server >/dev/null || die "redis-server is not installed (scripts/deps.sh)"
export QUEUE_NAME=sentinel SAFEURL_TEST_LOCK_MS=1500 SAFEURL_TEST_STALLED_MS=700
SPW=sentinel-pw-7

# rnode NAME PORT ARGS...: a redis-server (or sentinel) daemon in $T/NAME.
rnode() {
  local name=$1 port=$2; shift 2
  mkdir -p "$T/$name"
  redis-server "$@" --port "$port" --bind 127.0.0.1 --daemonize yes \
    --dir "$T/$name" --pidfile "$T/$name/pid" --logfile "$T/$name/log" \
    || die "$name did not start"
  wait_for "$name answers" 20 test -s "$T/$name/pid" || die "$name wrote no pid"
  at_exit "kill -9 $(cat "$T/$name/pid")"
}
MP=$(free_port); R1=$(free_port); R2=$(free_port)
rnode master "$MP" --save '' --appendonly no
rnode replica1 "$R1" --save '' --appendonly no --replicaof 127.0.0.1 "$MP"
rnode replica2 "$R2" --save '' --appendonly no --replicaof 127.0.0.1 "$MP"
SENTINELS=
for i in 1 2 3; do
  port=$(free_port)
  mkdir -p "$T/s$i"
  cat >"$T/s$i/sentinel.conf" <<CONF
requirepass $SPW
sentinel sentinel-pass $SPW
sentinel monitor mymaster 127.0.0.1 $MP 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 2
CONF
  rnode "s$i" "$port" "$T/s$i/sentinel.conf" --sentinel
  SENTINELS=${SENTINELS:+$SENTINELS,}127.0.0.1:$port
  SP[$i]=$port
done
scli() { redis-cli -a "$SPW" --no-auth-warning -p "$@"; }
wait_for "replicas in sync" 30 bash -c \
  "redis-cli -p $MP info replication | grep -q '^connected_slaves:2'"
for i in 1 2 3; do
  wait_for "sentinel $i sees the replicas and the other sentinels" 60 bash -c \
    "[ \$(redis-cli -a $SPW --no-auth-warning -p ${SP[$i]} sentinel replicas mymaster | grep -c '^name\$') = 2 ] &&
     [ \$(redis-cli -a $SPW --no-auth-warning -p ${SP[$i]} sentinel sentinels mymaster | grep -c '^name\$') = 2 ]" ||
    die "sentinel $i did not discover the deployment"
done
export REDIS_SENTINELS=$SENTINELS REDIS_SENTINEL_MASTER=mymaster
# REDIS_HOST/REDIS_PORT point nowhere useful: only the sentinels know.
export REDIS_HOST=127.0.0.1 REDIS_PORT=1

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
# The mixed fleet: a stock bullmq Worker (ioredis sentinel options) on the
# same queue, with the same test processor; its completed ids go to a file.
BULL_READY_FILE=$T/bull.ready node "$S/tests/interop/bull.js" worker-test "$((N * 2))" "$T/bull.ids" >"$T/bull.log" 2>&1 &
BPID=$!
at_exit "kill -9 $BPID"
wait_for "the bullmq worker connected" 60 test -s "$T/bull.ready" || die "the bullmq worker did not start"
spec=$(python3 -c "import json; print(json.dumps([{'name':'scan','data':{'sleepMs':60},'opts':{'jobId':f's-{i}'}} for i in range($N)]))")
bull add "$spec" >/dev/null
expect_eq "every job replicated before the kill" 2 "$(redis-cli -p "$MP" WAIT 2 10000)"

declare -A W
for w in a b; do
  WORKER_ID=t116-$w WORKER_CONCURRENCY=8 LOG_FORMAT=json "$B/safeurl-worker" --processor=test 2>"$T/$w.log" &
  W[$w]=$!
  at_exit "kill -9 ${W[$w]}"
done
completed_on_master() { [ "$(redis-cli -p "$MP" zcard "bull:$QUEUE_NAME:completed")" -ge "$1" ]; }
wait_for "a quarter of the jobs done" 60 completed_on_master $((N / 4)) || die "the workers made no progress"
kill -9 "$(cat "$T/master/pid")"
echo "# $SECONDS s: master killed at $(redis-cli -p "$R1" zcard "bull:$QUEUE_NAME:completed") completed (replica view)"
new_master() { scli "${SP[1]}" sentinel get-master-addr-by-name mymaster | sed -n 2p; }
failed_over() { local p; p=$(new_master); [ -n "$p" ] && [ "$p" != "$MP" ]; }
wait_for "the sentinels promote a replica" 60 failed_over || die "no failover"
NP=$(new_master)
echo "# $SECONDS s: new master on port $NP"
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
check "the loss was noticed" grep -q '"event":"reconnect"' "$T/a.log"
check "sentinel password not logged" bash -c "! grep -q $SPW $T/a.log $T/b.log"
finish
