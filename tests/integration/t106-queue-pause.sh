#!/usr/bin/env bash
# t106: Queue.pause() is respected: a running safeurl-worker takes no job
# while the queue is paused (jobs added meanwhile stay waiting), and takes
# them promptly after Queue.resume() (woken through the marker key).
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
export QUEUE_NAME=pausing

bull pause
start_worker w.log --processor=test
wait_for "worker connected" 10 grep -q '"event":"connect","msg":"redis command' w.log
bull add '[{"name":"scan","data":{},"opts":{"jobId":"p1"}},{"name":"scan","data":{},"opts":{"jobId":"p2","priority":2}}]' >/dev/null
sleep 1.5
expect_match "nothing taken while paused" '"active":0,"completed":0.*"prioritized":1,"waiting":1' "$(bull counts)"
bull resume
wait_for "both completed after resume" 10 settled 2
expect_eq "p1 completed" '"completed"' "$(job_field p1 state)"
expect_eq "p2 completed" '"completed"' "$(job_field p2 state)"

# Paused again mid-run: the worker finishes what it holds and stops taking.
bull pause
bull add '[{"name":"scan","data":{},"opts":{"jobId":"p3"}}]' >/dev/null
sleep 1
expect_eq "p3 waits while paused" '"waiting"' "$(job_field p3 state)"
bull resume
wait_for "p3 completed" 10 settled 3
stop_worker
expect_eq "exit 0" 0 "$WRC"
finish
