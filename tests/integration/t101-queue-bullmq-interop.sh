#!/usr/bin/env bash
# t101: jobs added by the stock bullmq package with every option of SPEC §3
# are processed by safeurl-worker, and the Node side (getJobCounts,
# Job.fromId, QueueEvents) sees the same as when a BullMQ Worker processes
# the same jobs: the same states, attempts, reasons, return values, and
# per job the same sequence of events with their fields.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis

SPEC='[
 {"name":"scan","data":{"url":"http://127.0.0.1/a"},"opts":{"jobId":"plain"}},
 {"name":"scan","data":{"fail":"E0: boom"},"opts":{"jobId":"fail-once"}},
 {"name":"scan","data":{"fail":"E1: flaky","failUntilAttempt":3},"opts":{"jobId":"retry-fixed","attempts":3,"backoff":{"type":"fixed","delay":100}}},
 {"name":"scan","data":{"fail":"E2: down"},"opts":{"jobId":"retry-exp","attempts":3,"backoff":{"type":"exponential","delay":50}}},
 {"name":"scan","data":{"fail":"E3: now","failUntilAttempt":2},"opts":{"jobId":"retry-now","attempts":2}},
 {"name":"scan","data":{"fail":"VALIDATION_ERROR: bad","unrecoverable":true},"opts":{"jobId":"unrec","attempts":5,"backoff":100}},
 {"name":"scan","data":{"url":"d"},"opts":{"jobId":"later","delay":400}},
 {"name":"scan","data":{},"opts":{"jobId":"rm-done","removeOnComplete":true}},
 {"name":"scan","data":{"fail":"E4"},"opts":{"jobId":"rm-fail","removeOnFail":true}},
 {"name":"scan","data":{},"opts":{"jobId":"keep-age","removeOnComplete":{"age":3600}}},
 {"name":"scan","data":{},"opts":{"jobId":"prio-3","priority":3}},
 {"name":"scan","data":{},"opts":{"jobId":"prio-1","priority":1}}
]'
IDS="plain fail-once retry-fixed retry-exp retry-now unrec later rm-done rm-fail keep-age prio-3 prio-1"
KEPT=10 # rm-done and rm-fail are removed when they finish

# Reference run: a BullMQ Worker on queue "ref".
export QUEUE_NAME=ref
bull add "$SPEC" >/dev/null
bull add '[{"name":"scan","data":{},"opts":{"jobId":"plain"}}]' >/dev/null # duplicate: no-op
timeout 60 node "$S/tests/interop/bull.js" worker-test 12 ref.ids
wait_for "reference queue settled" 30 settled $KEPT
bull events > ref.events
for id in $IDS; do bull job "$id"; done > ref.jobs
bull counts > ref.counts

# Our run: the same jobs on queue "ours".
export QUEUE_NAME=ours
bull add "$SPEC" >/dev/null
bull add '[{"name":"scan","data":{},"opts":{"jobId":"plain"}}]' >/dev/null # duplicate: no-op
WORKER_CONCURRENCY=4 start_worker worker.log --processor=test
wait_for "our queue settled" 30 settled $KEPT
stop_worker
expect_eq "worker exits 0 on SIGTERM" 0 "$WRC"
bull events > ours.events
for id in $IDS; do bull job "$id"; done > ours.jobs
bull counts > ours.counts

expect_eq "same getJobCounts" "$(cat ref.counts)" "$(cat ours.counts)"
expect_match "counts as expected" '"completed":7.*"failed":3' "$(cat ours.counts)"

python3 - "$IDS" > compare.out <<'PY' || true
import json, sys
ids = sys.argv[1].split()
def jobs(path):
    return {i: json.loads(l) for i, l in zip(ids, open(path))}
def events(path):
    per = {}
    for l in open(path):
        e = json.loads(l)
        if 'jobId' in e:
            per.setdefault(e['jobId'], []).append(e)
    return per
ref, ours = jobs('ref.jobs'), jobs('ours.jobs')
rev, oev = events('ref.events'), events('ours.events')
bad = 0
for i in ids:
    r, o = ref[i], ours[i]
    if (r is None) != (o is None):
        print(f'{i}: exists ref={r is not None} ours={o is not None}'); bad += 1; continue
    if r:
        for f in ('state', 'attemptsMade', 'attemptsStarted', 'failedReason', 'returnvalue', 'name', 'data', 'delay'):
            if r.get(f) != o.get(f):
                print(f'{i}: {f} ref={r.get(f)!r} ours={o.get(f)!r}'); bad += 1
        for f in ('processedOn', 'finishedOn'):
            if isinstance(r.get(f), int) != isinstance(o.get(f), int):
                print(f'{i}: {f} ref={r.get(f)!r} ours={o.get(f)!r}'); bad += 1
        if len(r.get('stacktrace') or []) != len(o.get('stacktrace') or []):
            print(f'{i}: stacktrace entries ref={len(r["stacktrace"])} ours={len(o["stacktrace"])}'); bad += 1
    rs = [(e['event'], sorted(k for k in e if k not in ('id',))) for e in rev.get(i, [])]
    os_ = [(e['event'], sorted(k for k in e if k not in ('id',))) for e in oev.get(i, [])]
    if rs != os_:
        print(f'{i}: events ref={rs} ours={os_}'); bad += 1
    for e in oev.get(i, []):
        if e['event'] == 'failed' and not e.get('failedReason'): print(f'{i}: failed without reason'); bad += 1
        if e['event'] == 'completed' and (e['returnvalue'] if isinstance(e['returnvalue'], dict) else json.loads(e['returnvalue'])) != {'ok': True, 'jobId': i}: print(f'{i}: bad returnvalue'); bad += 1
print('mismatches', bad)
PY
cat compare.out
expect_eq "jobs and events match the BullMQ worker's" "mismatches 0" "$(tail -1 compare.out)"

# Priorities: no-priority jobs first, then priority 1 before 3 (as BullMQ).
order=$(python3 -c "
import json
print(' '.join(e['jobId'] for e in map(json.loads, open('ours.events')) if e['event']=='active' and e['jobId'] in ('plain','prio-1','prio-3')))")
expect_eq "prioritized jobs run in priority order" "plain prio-1 prio-3" "$order"
expect_eq "retry-fixed failed twice then completed" '"completed"' "$(job_field retry-fixed state)"
expect_eq "retries exhausted event for retry-exp" 1 "$(grep -c '"event": *"retries-exhausted".*"jobId": *"retry-exp"' ours.events || true)"
expect_match "exponential backoff delays 50 then 100 ms" "delayed.*delayed" "$(grep retry-exp ours.events | tr -d '\n')"
expect_eq "unrecoverable failure not retried" 1 "$(job_field unrec attemptsMade)"
expect_eq "unrecoverable failure reason" '"VALIDATION_ERROR: bad"' "$(job_field unrec failedReason)"
expect_eq "duplicate custom jobId is a no-op" 1 "$(grep -c '"event": *"added".*"jobId": *"plain"' ours.events || true)"
expect_match "processedBy is our worker id" '"processedBy":"[^"]+:[0-9]+"' "$(bull job plain)"
check "one log line per claim" test "$(grep -c '"event":"active"' worker.log)" -ge 12
check "fail and retry logged" grep -q '"event":"retry"' worker.log
check "every log line is JSON" python3 -c 'import json; [json.loads(l) for l in open("worker.log")]'

# removeOnComplete / removeOnFail as counts: keep only the newest N of the
# whole set, as BullMQ trims it.
export QUEUE_NAME=keep
bull add '[{"name":"scan","data":{"sleepMs":50},"opts":{"jobId":"k-a","removeOnComplete":1}},
           {"name":"scan","data":{"sleepMs":400},"opts":{"jobId":"k-b","removeOnComplete":1}},
           {"name":"scan","data":{"fail":"x","sleepMs":50},"opts":{"jobId":"f-a","removeOnFail":1}},
           {"name":"scan","data":{"fail":"y","sleepMs":400},"opts":{"jobId":"f-b","removeOnFail":1}}]' >/dev/null
WORKER_CONCURRENCY=4 start_worker keep.log --processor=test
wait_for "keep queue settled" 20 settled 2
stop_worker
expect_eq "removeOnComplete 1: older completed job removed" null "$(job_field k-a state)"
expect_eq "removeOnComplete 1: newest kept" '"completed"' "$(job_field k-b state)"
expect_eq "removeOnFail 1: older failed job removed" null "$(job_field f-a state)"
expect_eq "removeOnFail 1: newest kept" '"failed"' "$(job_field f-b state)"

finish
