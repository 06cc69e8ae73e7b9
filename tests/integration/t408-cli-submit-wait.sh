#!/usr/bin/env bash
# t408: safeurl submit --wait follows scans through a real worker and ends
# with their reports; its exit codes (0 completed, 2 failed or timed out,
# 3 --timeout passed, 4 --fail-on hit); the redraw in place on a terminal
# only; result --format text|json and status --format json.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
ESC=$'\033'

# Bad options are usage errors that name what was wrong.
$CLI migrate >/dev/null
run $CLI submit --wait --fail-on bogus "$SITE/benign"
expect_eq "--fail-on bogus exits 64" 64 "$RC"
expect_match "and names it" "--fail-on 'bogus': expected suspicious or malicious" "$ERR"
run $CLI submit --wait --timeout 0 "$SITE/benign"
expect_eq "--timeout 0 exits 64" 64 "$RC"
expect_match "and names it" "--timeout '0': expected whole seconds 1\.\." "$ERR"
run $CLI submit --timeout 5 "$SITE/benign"
expect_eq "--timeout without --wait exits 64" 64 "$RC"
run $CLI submit --wait
expect_eq "--wait without a URL exits 64" 64 "$RC"
run $CLI submit --wait "$SITE/benign" --timeout
expect_eq "--timeout without its value exits 64" 64 "$RC"
expect_match "and says so" "--timeout needs a value" "$ERR"
run $CLI submit --wait --frobnicate "$SITE/benign"
expect_eq "an unknown option exits 64" 64 "$RC"
expect_match "and names it" "unknown option '--frobnicate'" "$ERR"
run $CLI submit --help
expect_eq "submit --help exits 0" 0 "$RC"
expect_match "with the usage on stdout" "^usage: safeurl submit \[--wait" "$OUT"
expect_eq "no row was created by the refused commands" 0 "$(sql "SELECT count(*) FROM scan_jobs")"

# No worker yet: --timeout passes with the scan still QUEUED.
start=$SECONDS
run $CLI submit --wait --timeout 2 "$SITE/benign?nobody"
expect_eq "--timeout passing exits 3" 3 "$RC"
expect_match "says so on stderr" "--timeout 2 passed with 1 of 1 scan\(s\) not finished" "$ERR"
expect_match "the progress shows it QUEUED" "^[0-9a-f-]{36}  QUEUED " "$OUT"
expect_match "the report says no result" "result +none stored" "$OUT"
check "it waited about 2 s, not much longer" test $((SECONDS - start)) -lt 30

start_worker scan CONTAINER_TIMEOUT_MS=8000

# A redirect chain, piped: plain lines, one per state change, then the
# report.
run $CLI submit --wait --timeout 240 "$SITE/chain/2"
expect_eq "a completed scan exits 0" 0 "$RC"
id=$(sed -n '1s/ .*//p' <<<"$OUT")
# (the worker may have claimed it before the first look)
expect_match "the first line shows the scan not yet ended" "^$id  (QUEUED|FETCHING|ANALYZING) " "$(sed -n '1p' <<<"$OUT")"
expect_match "a line for the end state with verdict and score" "^$id  COMPLETED  safe [0-9]+ +$SITE/chain/2$" "$OUT"
expect_eq "no line repeats a state (lines only on change)" "" \
  "$(grep "^$id  " <<<"$OUT" | awk '{print $2}' | uniq -d)"
check "no escape sequence when piped" bash -c '! grep -q "$1" <<<"$2"' _ "$ESC" "$OUT"
expect_match "report: the scan's state" "state +COMPLETED \(attempts 1\)" "$OUT"
expect_match "report: verdict and score" "verdict +safe, risk [0-9]+/100" "$OUT"
expect_match "report: the final URL" "final url +$SITE/benign" "$OUT"
expect_match "report: content type and size" "content +text/html; charset=utf-8, [0-9]+ bytes" "$OUT"
expect_match "report: timings" "timings +dns [0-9.]+ ms, connect [0-9.]+ ms, tls [0-9.]+ ms, first byte [0-9.]+ ms, total [0-9.]+ ms" "$OUT"
expect_match "report: tls none over http" "tls +none" "$OUT"
expect_match "report: the address" "address +127\.0\.0\.1" "$OUT"
expect_match "report: three hops" "redirects \(3\)" "$OUT"
expect_match "hop 1 with its status and address" "^ +1 +302  $SITE/chain/2$" "$OUT"
expect_match "hop 3" "^ +3 +302  $SITE/chain/0$" "$OUT"
expect_match "the chain's end" "^ +end +200  $SITE/benign$" "$OUT"
expect_match "reasons table header" "^  CODE +WEIGHT  MESSAGE +EVIDENCE$" "$OUT"
expect_match "a reason with its weight, message and evidence" \
  "^  URL_UNUSUAL_PORT +[0-9]+  the server uses a non-standard port +port $HP$" "$OUT"
expect_match "the long chain is a reason, its evidence apart" "^  HTTP_LONG_REDIRECT_CHAIN +10  the URL went through three or more redirects +3 redirects$" "$OUT"

# result: json is the stored document byte for byte (piped default), text
# the same report.
expect_eq "result --format json is the stored document" \
  "$(sql "SELECT result_json FROM scan_results WHERE job_id='$id'")" "$($CLI result "$id" --format json)"
expect_eq "result piped defaults to json" "$($CLI result --format json "$id")" "$($CLI result "$id")"
run $CLI result "$id" --format text
expect_eq "result --format text exits 0" 0 "$RC"
expect_match "result text: verdict" "verdict +safe, risk" "$OUT"
expect_match "result text: the chain" "^ +2 +302  $SITE/chain/1$" "$OUT"
run $CLI result "$id" --format xml
expect_eq "result --format xml exits 64" 64 "$RC"
expect_match "and names it" "result: --format 'xml': expected text or json" "$ERR"
run $CLI status "$id" --format json
expect_eq "status --format json exits 0" 0 "$RC"
check "status json has the row's fields" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["id"] == sys.argv[2] and d["state"] == "COMPLETED", d
assert d["url"].endswith("/chain/2") and d["attempts"] == 1 and d["version"] >= 3, d
assert d["errorCode"] is None and d["errorMessage"] is None, d
assert isinstance(d["createdAt"], int) and d["updatedAt"] >= d["createdAt"], d
assert set(d) == {"id", "url", "state", "version", "attempts", "workerId", "leaseExpiresAt",
                  "createdAt", "updatedAt", "errorCode", "errorMessage"}, d
' "$OUT" "$id"
expect_match "status text stays the default" "^state: +COMPLETED$" "$($CLI status "$id")"
run $CLI status "$id" --format yaml
expect_eq "status --format yaml exits 64" 64 "$RC"

# Options may follow the URLs.
run $CLI submit "$SITE/benign?late" --wait --timeout 240
expect_eq "options after the URL: completed, exit 0" 0 "$RC"
expect_match "and reported" "verdict +safe, risk" "$OUT"

# --fail-on: a malicious page exits 4, a safe one 0, suspicious counts for
# --fail-on suspicious only.
run $CLI submit --wait --timeout 240 --fail-on malicious "$SITE/phish"
expect_eq "malicious with --fail-on malicious exits 4" 4 "$RC"
expect_match "its report" "verdict +malicious, risk [0-9]+/100" "$OUT"
expect_match "with the password-form reason" "^  HTML_PASSWORD_FIELD +[0-9]+  " "$OUT"
run $CLI submit --wait --timeout 240 --fail-on malicious "$SITE/benign?f"
expect_eq "safe with --fail-on malicious exits 0" 0 "$RC"
run $CLI submit --wait --timeout 240 --fail-on malicious "$SITE/setup.exe"
expect_eq "suspicious with --fail-on malicious exits 0" 0 "$RC"
expect_match "it is suspicious" "verdict +suspicious" "$OUT"
run $CLI submit --wait --timeout 240 --fail-on suspicious "$SITE/setup.exe?again"
expect_eq "suspicious with --fail-on suspicious exits 4" 4 "$RC"
run $CLI submit --wait --timeout 240 "$SITE/phish?nofail"
expect_eq "malicious without --fail-on exits 0" 0 "$RC"

# A page that never finishes: TIMED_OUT exits 2 and the report names it.
run $CLI submit --wait --timeout 240 "$SITE/slow"
expect_eq "a TIMED_OUT scan exits 2" 2 "$RC"
expect_match "the progress line names the error" "  TIMED_OUT  TIMEOUT +$SITE/slow$" "$OUT"
expect_match "the report's error" "error +TIMEOUT: " "$OUT"
expect_match "and no result" "result +none stored" "$OUT"
sid=$(sed -n '1s/ .*//p' <<<"$OUT")
run $CLI result "$sid" --format text
expect_eq "result of a scan without a result exits 65" 65 "$RC"
expect_match "text still shows the row" "state +TIMED_OUT" "$OUT"
run $CLI status "$sid" --format json
check "status json names the error" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["state"] == "TIMED_OUT" and d["errorCode"] == "TIMEOUT" and d["errorMessage"], d
' "$OUT"

# Several scans with --summary: one table, the origin named once; the
# worst outcome decides (4 over 2).
run $CLI submit --wait --timeout 240 --summary --fail-on malicious \
  "$SITE/benign?s" "$SITE/iframe" "$SITE/slow?s"
expect_eq "fail-on hit wins over a timed-out scan" 4 "$RC"
expect_match "the table names the origin" "^scans of $SITE$" "$OUT"
expect_match "the table's header" "^PAGE +STATE +VERDICT +RISK  ERROR$" "$OUT"
expect_match "a completed row" "^/benign\?s +COMPLETED +safe +[0-9]+$" "$OUT"
expect_match "a malicious row" "^/iframe +COMPLETED +malicious +[0-9]+$" "$OUT"
expect_match "a timed-out row" "^/slow\?s +TIMED_OUT +- +-  TIMEOUT$" "$OUT"
check "no full report with --summary" bash -c '! grep -q "^verdict " <<<"$1"' _ "$OUT"

# On a terminal: one line per scan redrawn in place with cursor moves.
set +e
script -qec "stty rows 40 cols 60; $CLI submit --wait --timeout 240 '$SITE/delay/1500' '$SITE/benign?tty'" /dev/null >"$T/tty.out" 2>&1 </dev/null
rc=$?
set -e
expect_eq "on a terminal it exits 0 too" 0 "$rc"
tty_out=$(cat "$T/tty.out")
check "cursor up over the two lines" grep -qF "${ESC}[2A" "$T/tty.out"
check "lines cleared before redraw" grep -qF "${ESC}[2K" "$T/tty.out"
expect_match "the report follows" "verdict +safe, risk" "$tty_out"
expect_match "and the summary of both" "^/delay/1500 +COMPLETED +safe" "$(tr -d '\r' <"$T/tty.out")"
check "progress lines cut to the 60 columns less one" python3 -c '
import re, sys
text = open(sys.argv[1], "rb").read().decode()
lines = [re.sub(r"\x1b\[[0-9]*[A-Z]|\r", "", l) for l in text.split("\n") if "\x1b[2K" in l]
assert lines and all(len(l) == 59 for l in lines), lines
' "$T/tty.out"
# A screen with fewer rows than scans gets plain lines instead.
set +e
script -qec "stty rows 2 cols 200; $CLI submit --wait --timeout 240 '$SITE/delay/1000?a' '$SITE/benign?b'" /dev/null >"$T/tty2.out" 2>&1 </dev/null
rc=$?
set -e
expect_eq "a small terminal exits 0 too" 0 "$rc"
check "no cursor move on a screen too small for the lines" bash -c '! grep -q "$1" "$2"' _ "$ESC" "$T/tty2.out"
expect_match "plain lines there" "  COMPLETED  safe [0-9]+ +$SITE/delay/1000\?a" "$(tr -d '\r' <"$T/tty2.out")"

stop_worker scan
expect_eq "worker stopped cleanly" 0 "$WRC"
check "no sanitizer report" logs_clean scan
finish
