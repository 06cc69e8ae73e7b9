#!/usr/bin/env bash
# t415: what an operator sees in Bull Board. Two safeurl-workers scan pages
# from the fixture site (real Redis, dockerd, fetcher image); the pinned
# @bull-board/express serves the board on loopback over their queue;
# headless Chromium (Debian's, driven by the pinned puppeteer-core) renders
# it, and the rendered pages show: the completed scans with their verdict
# in the return value, the failed job's reason, a delayed job, the scan
# still running with its progress, each job's progress and log lines, and
# two connected workers by their WORKER_ID. The rendered completed list is
# saved as a screenshot (BOARD_SCREENSHOT=PATH copies it there: that is
# how docs/img/bull-board.png is made).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
[ -x /usr/bin/chromium ] || die "chromium is not installed (scripts/deps.sh test)"
[ -d "$S/tests/interop/node_modules/@bull-board/express" ] &&
  [ -d "$S/tests/interop/node_modules/puppeteer-core" ] ||
  die "Bull Board or puppeteer-core is not installed: run scripts/deps.sh (npm ci in tests/interop)"
ensure_fetcher_image
start_fixture
# The slow scan's fetch may last as long as its container.
for w in w1 w2; do
  start_worker "$w" WORKER_CONCURRENCY=2 CONTAINER_TIMEOUT_MS=300000 SHUTDOWN_GRACE_MS=1000 \
    FETCHER_ARGS="$FETCHER_ARGS --timeout 290000"
done

phish=$($CLI submit "$SITE/phish")
benign=$($CLI submit "$SITE/benign")
$BULL add '[{"name":"scan","data":{"url":"ftp://shop.test/file"},"opts":{"jobId":"bad-url"}}]' >/dev/null
$BULL add "[{\"name\":\"scan\",\"data\":{\"url\":\"$SITE/benign?later\"},\"opts\":{\"jobId\":\"later-1\",\"delay\":3600000}}]" >/dev/null
$BULL add "[{\"name\":\"scan\",\"data\":{\"url\":\"$SITE/delay/280000\"},\"opts\":{\"jobId\":\"slow-1\"}}]" >/dev/null
wait_terminal 90 "$phish" "$benign" || die "scans did not finish"
job_state_is() { [ "$(bull_field "$1" 'j and j["state"]')" = "\"$2\"" ]; }
wait_for "bad-url to fail" 60 job_state_is bad-url failed
wait_for "slow-1 to be fetching" 60 bash -c "[ \"\$($BULL job slow-1 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j[\"state\"], (j.get(\"progress\") or {}).get(\"state\"))')\" = 'active FETCHING' ]"

node "$S/tests/interop/board.js" serve "$T/board.port" >"$T/board.log" 2>&1 &
BPID=$!
at_exit "kill $BPID"
wait_for "Bull Board to listen" 120 test -s "$T/board.port" || { cat "$T/board.log" >&2; die "Bull Board did not start"; }
URL="http://127.0.0.1:$(cat "$T/board.port")/"
timeout 600 node "$S/tests/interop/board.js" read "$URL" "$T/pages" \
  "completed:$phish" "failed:bad-url" "active:slow-1" >"$T/read.log" 2>&1 ||
  { cat "$T/read.log" >&2; die "the browser could not read the board"; }

# page VIEW: the rendered text of a view, on one line.
page() { tr '\n' ' ' <"$T/pages/$1.txt"; }
# tab PAGE NAME: the text the page shows under that tab, on one line.
tab() { python3 -c 'import sys; t=open(sys.argv[1]).read(); print(t.split("--- tab "+sys.argv[2]+"\n",1)[1].split("--- tab ",1)[0].replace("\n"," "))' "$T/pages/$1.txt" "$2"; }

expect_match "overview lists the queue with its counts" 'scan-jobs ACTIVE 1 ' "$(page overview)"
expect_match "queue info: two workers" ' Workers 2 ' "$(page info)"
check "connected workers: w1 by its WORKER_ID" grep -qx "$WORKER_ID-w1" "$T/pages/workers.txt"
check "connected workers: w2 by its WORKER_ID" grep -qx "$WORKER_ID-w2" "$T/pages/workers.txt"

expect_match "completed list: both scans" "$phish" "$(page completed)"
expect_match "completed list: the benign scan" "$benign" "$(page completed)"
expect_match "completed list: the return value shows the verdict" 'verdict:"malicious"' "$(page completed)"
expect_match "completed list: and the safe one" 'verdict:"safe"' "$(page completed)"
expect_match "completed list: processed by one of ours" "by $WORKER_ID-w[12]" "$(page completed)"
expect_match "completed job: return value names the scan and state" \
  "returnValue:\\{ jobId:\"$phish\", state:\"COMPLETED\", verdict:\"malicious\", riskScore:[0-9]+, httpStatus:200, finalUrl:\"$SITE/phish\"" "$(tab "job-completed-$phish" Data)"
expect_match "completed job: progress is the last state" 'state:"COMPLETED"' "$(tab "job-completed-$phish" Progress)"
logs=$(tab "job-completed-$phish" Logs)
expect_match "completed job: a log line per transition and the container's exit" \
  "state FETCHING \\(scan $phish, attempt 1\\) container exited \\(code 0\\) after [0-9]+ ms state ANALYZING .* state COMPLETED " "$logs"

expect_match "failed list: the job" "bad-url" "$(page failed)"
expect_match "failed list: its reason" "VALIDATION_ERROR: " "$(page failed)"
expect_match "failed job: the Error tab gives the reason" "VALIDATION_ERROR: 'url' is not an absolute http\\(s\\) URL" "$(tab job-failed-bad-url Error)"

expect_match "delayed list: the job and when it runs" 'later-1 scan Added at .* Will run at' "$(page delayed)"
expect_match "active list: the running scan" "slow-1" "$(page active)"
expect_match "active job: progress says FETCHING" 'state:"FETCHING"' "$(tab job-active-slow-1 Progress)"
expect_match "active job: its log so far" "state FETCHING" "$(tab job-active-slow-1 Logs)"

check "a screenshot of the completed list" test -s "$T/pages/completed.png"
if [ -n "${BOARD_SCREENSHOT:-}" ]; then cp "$T/pages/completed.png" "$BOARD_SCREENSHOT"; fi

stop_worker w1
expect_eq "w1 exits 0" 0 "$WRC"
stop_worker w2
expect_eq "w2 exits 0" 0 "$WRC"
check "no sanitizer report" logs_clean w1 w2
finish
