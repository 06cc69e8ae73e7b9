#!/usr/bin/env bash
# t107: Redis restarted mid-run (data kept by its append-only file): the
# worker logs the loss, reconnects with backoff, reloads its scripts and
# finishes every job; nothing is lost and nothing stays active. Lock and
# stalled interval are shortened (test-only variables) so that jobs whose
# outcome or claim was cut off are recovered by the stalled check quickly.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
command -v redis-server >/dev/null || die "redis-server is not installed"
REDIS_PORT=$(free_port)
export REDIS_HOST=127.0.0.1 REDIS_PORT QUEUE_NAME=restart
export SAFEURL_TEST_LOCK_MS=1500 SAFEURL_TEST_STALLED_MS=700
mkdir -p redis
redis_up() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir "$T/redis" --save '' --appendonly yes --appendfsync always \
    --pidfile "$T/redis/redis.pid" --logfile "$T/redis/redis.log"
  wait_for "redis answers" 10 redis-cli -p "$REDIS_PORT" ping
}
redis_up
at_exit "redis-cli -p $REDIS_PORT shutdown nosave"

N=60
spec=$(python3 -c "import json; print(json.dumps([{'name':'scan','data':{'sleepMs':100},'opts':{'jobId':f'r-{i}'}} for i in range($N)]))")
bull add "$spec" >/dev/null
WORKER_CONCURRENCY=4 start_worker w.log --processor=test
wait_for "some jobs done" 20 grep -q '"event":"complete"' w.log
redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
wait_for "worker noticed" 10 grep -q '"event":"reconnect"' w.log
sleep 0.5
redis_up
wait_for "all jobs settled after the restart" 60 settled $N
stop_worker
expect_eq "exit 0" 0 "$WRC"
expect_eq "every job completed" "$N" "$(counts_field completed)"
expect_eq "none failed" 0 "$(counts_field failed)"
check "reconnect logged" grep -q '"event":"reconnect"' w.log
check "connection ready again" test "$(grep -c '"msg":"redis command connection ready"' w.log)" -ge 2
finish
