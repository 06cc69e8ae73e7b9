#!/usr/bin/env bash
# t401: the whole flow on real Redis, dockerd and the fetcher image: a
# benign and a malicious page scanned end to end; states, audit trail,
# result rows, the BullMQ return value and events; jobs from a stock
# BullMQ producer with only a URL; a redelivered finished job; health and
# metrics; SIGTERM; no container left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
HEALTH=$(free_port)
start_worker w1 HEALTH_PORT="$HEALTH" HEALTH_ADDR=127.0.0.1

benign=$($CLI submit "$SITE/benign")
phish=$($CLI submit "$SITE/phish")
expect_match "submit prints a scan id" '^[0-9a-f-]{36}$' "$benign"
custom=$($BULL add "[{\"name\":\"scan\",\"data\":{\"url\":\"$SITE/eicar.com\"},\"opts\":{\"jobId\":\"custom-7\"}}]")
auto=$($BULL add "[{\"name\":\"scan\",\"data\":{\"url\":\"$SITE/benign?auto\"}}]")
expect_eq "custom BullMQ id kept" custom-7 "$custom"
wait_for "auto job to finish" 60 bash -c "[ \"\$($BULL job $auto | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = completed ]"
auto_ts=$(bull_field "$auto" 'j["returnvalue"]["jobId"]' | tr -d '"')
expect_match "automatic id becomes <queue>-<id>-<timestamp>" "^scan-jobs-$auto-[0-9]{13}$" "$auto_ts"
wait_terminal 60 "$benign" "$phish" custom-7 "$auto_ts" || die "scans did not finish"

expect_eq "benign COMPLETED" COMPLETED "$(state_of "$benign")"
expect_eq "phish COMPLETED" COMPLETED "$(state_of "$phish")"
expect_eq "URL-only job COMPLETED" COMPLETED "$(state_of custom-7)"
expect_eq "benign verdict safe" safe "$(sql "SELECT verdict FROM scan_results WHERE job_id='$benign'")"
expect_eq "phish verdict malicious" malicious "$(sql "SELECT verdict FROM scan_results WHERE job_id='$phish'")"
expect_eq "EICAR verdict malicious" malicious "$(sql "SELECT verdict FROM scan_results WHERE job_id='custom-7'")"
expect_eq "result row fields" "200|$SITE/benign|1" \
  "$(sql "SELECT http_status, final_url, length(content_sha256)=64 FROM scan_results WHERE job_id='$benign'")"
expect_eq "stored result JSON is the fetcher document" safe \
  "$(sql "SELECT json_extract(result_json,'$.verdict') FROM scan_results WHERE job_id='$benign'")"
expect_eq "audit trail of a CLI scan" "NULL>QUEUED@0 QUEUED>FETCHING@1 FETCHING>ANALYZING@2 ANALYZING>COMPLETED@3" \
  "$(audit_trail "$benign")"
expect_eq "actors: cli creates, the worker moves" "cli $WORKER_ID-w1" \
  "$(sql "SELECT DISTINCT actor FROM audit_logs WHERE job_id='$benign' ORDER BY id" | paste -sd' ')"
expect_eq "URL-only scan created by the worker" "$WORKER_ID-w1" \
  "$(sql "SELECT actor FROM audit_logs WHERE job_id='custom-7' AND from_state IS NULL")"
expect_eq "the claim records the BullMQ job that carried the scan" "$auto" \
  "$(sql "SELECT json_extract(detail, '$.queue_job') FROM audit_logs WHERE job_id='$auto_ts' AND to_state='FETCHING'")"
expect_eq "row owner, attempts, version" "$WORKER_ID-w1|1|3" \
  "$(sql "SELECT worker_id, attempts, version FROM scan_jobs WHERE id='$phish'")"

rv=$(bull_field "$phish" 'j["returnvalue"]')
expect_eq "BullMQ return value" \
  "{\"jobId\": \"$phish\", \"state\": \"COMPLETED\", \"verdict\": \"malicious\", \"riskScore\": $(sql "SELECT risk_score FROM scan_results WHERE job_id='$phish'"), \"httpStatus\": 200, \"finalUrl\": \"$SITE/phish\"}" \
  "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({k:d[k] for k in ["jobId","state","verdict","riskScore","httpStatus","finalUrl"]}))' "$rv")"
expect_eq "BullMQ job completed, one attempt" '["completed", 1]' \
  "$(bull_field "$phish" '[j["state"], j["attemptsMade"]]')"
check "processedOn and finishedOn set" test "$(bull_field "$phish" 'j["finishedOn"] >= j["processedOn"] > 0')" = true
events=$($BULL events 500)
check "active event for the scan" grep -q "\"event\":\"active\",\"jobId\":\"$phish\",\"prev\":\"waiting\"" <<<"$events"
check "completed event carries the return value" grep -q "\"event\":\"completed\",\"jobId\":\"$phish\",\"returnvalue\"" <<<"$events"
expect_eq "progress events follow the scan's states" "FETCHING ANALYZING COMPLETED" \
  "$(python3 -c 'import json,sys
print(" ".join(e["data"]["state"] for e in map(json.loads, sys.stdin) if e["event"]=="progress" and e["jobId"]==sys.argv[1]))' "$phish" <<<"$events")"
expect_eq "job progress holds the last state" '"COMPLETED"' "$(bull_field "$phish" 'j["progress"]["state"]')"
expect_eq "job log: a line per transition and the container outcome" \
  "state FETCHING|container exited (code 0)|state ANALYZING|state COMPLETED" \
  "$(redis-cli -p "$REDIS_PORT" lrange "bull:scan-jobs:$phish:logs" 0 -1 | sed -E 's/ \(scan .*//; s/ after .*//' | paste -sd'|')"

# A finished scan delivered again reports its stored outcome.
again=$($BULL add "[{\"name\":\"scan\",\"data\":{\"jobId\":\"$phish\"},\"opts\":{\"jobId\":\"again-1\"}}]")
wait_for "redelivery to finish" 30 bash -c "[ \"\$($BULL job $again | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = completed ]"
expect_eq "already terminal: skipped with the stored verdict" '["already_terminal", true, "COMPLETED", "malicious"]' \
  "$(bull_field "$again" '[j["returnvalue"][k] for k in ["reason","skipped","state","verdict"]]')"
expect_eq "the redelivery changed nothing" 3 "$(sql "SELECT version FROM scan_jobs WHERE id='$phish'")"

health=$(curl -s "http://127.0.0.1:$HEALTH/healthz")
expect_match "healthz reports every dependency up, with the age of its probe" '"redis":\{"status":"up","age_ms":[0-9]+\},"database":\{"status":"up","age_ms":[0-9]+\},"engine":\{"status":"up","age_ms":[0-9]+\}\},"status":"ok"' "$health"
expect_eq "livez answers 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HEALTH/livez")"
# readiness reports draining while the queue is paused; liveness does not
"$B/safeurl" pause >/dev/null
ready_code() { curl -s -o "$T/ready.json" -w '%{http_code}' "http://127.0.0.1:$HEALTH/healthz"; }
drained() { [ "$(ready_code)" = 503 ] && grep -q 'the queue is paused' "$T/ready.json"; }
wait_for "healthz says paused" 30 drained
check "healthz 503 while paused" drained
expect_eq "livez still 200 while paused" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HEALTH/livez")"
"$B/safeurl" resume >/dev/null
wait_for "healthz ready after resume" 30 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HEALTH/healthz)\" = 200 ]"
expect_eq "healthz 200 after resume" 200 "$(ready_code)"
metrics=$(curl -s "http://127.0.0.1:$HEALTH/metrics")
expect_match "metrics count completed scans" 'safeurl_jobs_total\{outcome="completed"\} 4' "$metrics"
expect_match "metrics count the skip" 'safeurl_jobs_total\{outcome="skipped"\} 1' "$metrics"
expect_match "spawn histogram observed" "safeurl_container_spawn_seconds_count\\{runtime=\"$RUNTIME\"\\} 4" "$metrics"
check "log has claim, container and complete events" bash -c \
  "grep -q '\"event\":\"claim\"' $T/w1.log && grep -q '\"event\":\"container\"' $T/w1.log && grep -q '\"event\":\"complete\"' $T/w1.log"
expect_match "complete lines carry the fields collectors filter on" \
  '"event":"complete","scan":"[^"]+","queue":"bull:[^"]+","url":"http[^"]+","state":"COMPLETED","verdict":"[a-z]+","duration_ms":"[0-9]+","msg"' \
  "$(grep '"event":"complete"' "$T/w1.log" | head -1)"

stop_worker w1
expect_eq "SIGTERM exits 0" 0 "$WRC"
expect_eq "no container left" 0 "$(ours_left_prefix)"
check "no sanitizer report" logs_clean w1
finish
