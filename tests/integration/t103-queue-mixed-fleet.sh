#!/usr/bin/env bash
# t103: a BullMQ Node Worker and safeurl-worker share one queue of 400
# jobs: every job completes exactly once (each id is completed by exactly
# one of them, and every job hash shows a single start), and both took a
# share of the work.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
export QUEUE_NAME=mixed
N=400

spec=$(python3 -c "import json; print(json.dumps([{'name':'scan','data':{'sleepMs':5},'opts':{'jobId':f'm-{i}'}} for i in range($N)]))")

# Both workers are consuming before the first job is added: on a busy
# machine Node starts slowly, and a queue added first could be emptied by
# one worker before the other connects.
BULL_READY_FILE=node.ready node "$S/tests/interop/bull.js" worker-test 100000 node.ids &
NPID=$!
at_exit "kill $NPID"
WORKER_CONCURRENCY=8 start_worker worker.log --processor=test
wait_for "the Node worker ready" 60 test -s node.ready || die "the Node worker did not start"
wait_for "our worker consuming" 60 grep -q 'consuming queue' worker.log ||
  die "safeurl-worker did not start"
bull add "$spec" >/dev/null
wait_for "all jobs settled" 60 settled $N
stop_worker
kill "$NPID" 2>/dev/null || true; wait "$NPID" 2>/dev/null || true

python3 - > ours.ids <<'PY'
import json
for l in open('worker.log'):
    e = json.loads(l)
    if e.get('event') == 'complete': print(e['job'])
PY
touch node.ids
expect_eq "completed count" "$N" "$(counts_field completed)"
expect_eq "each job completed by exactly one worker" "$N" "$(cat ours.ids node.ids | sort | uniq | wc -l)"
expect_eq "no job completed twice" "$N" "$(cat ours.ids node.ids | wc -l)"
check "our worker took a share" test "$(wc -l < ours.ids)" -gt 0
check "the Node worker took a share" test "$(wc -l < node.ids)" -gt 0
starts=$(redis-cli -p "$REDIS_PORT" eval "
local n = 0
for i = 0, $N - 1 do
  if redis.call('HGET', 'bull:mixed:m-' .. i, 'ats') == '1' then n = n + 1 end
end
return n" 0)
expect_eq "every job started exactly once" "$N" "$starts"
echo "# ours $(wc -l < ours.ids), node $(wc -l < node.ids)"
finish
