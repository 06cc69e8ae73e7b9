#!/usr/bin/env bash
# t505: the fetcher reads URLs as a browser does (the URL Standard). Two
# named sites, evil.test and benign.test, are served by one fixture on
# port 80 of a network namespace with only loopback; its request log
# (Host header and path of every request) shows which site was contacted.
# For each URL where RFC 3986 and browsers disagree (backslashes, slash
# counts, tabs, spaces), the fetcher must contact exactly the host a
# browser would, and refuse without a connection only what the standard
# itself fails. Blocklists and the analyzer's form check see that host.
. "$(dirname "$0")/fetcher_lib.sh"
in_netns "$0"
. "$(dirname "$0")/lib.sh"

LOG=$T/requests.log
python3 "$S/tests/fixtures/fetcher_fixture.py" --port-file "$T/ports" \
  --http-port 80 --request-log "$LOG" 2>"$T/fixture.log" &
FPID=$!
at_exit "kill $FPID"
wait_for "fixture server on port 80" 20 test -s "$T/ports" \
  || die "fixture server did not start: $(cat "$T/fixture.log")"
RESOLVE=(--resolve evil.test:80:127.0.0.1 --resolve benign.test:80:127.0.0.1)

# go NAME EXPECTED_HOSTS URL [fetcher args...]: run the fetcher on URL
# (exit 0, one valid document) and compare the hosts contacted, in order.
go() {
  local name=$1 hosts=$2 url=$3; shift 3
  : >"$LOG"
  set +e
  "$B/safeurl-fetcher" --allow-loopback --ports 80 "${RESOLVE[@]}" "$@" "$url" \
    >"$T/out.json" 2>"$T/err.txt"
  RC=$?
  set -e
  expect_eq "$name: exit 0" 0 "$RC"
  check "$name: one schema-valid document" valid_doc
  expect_eq "$name: hosts contacted" "$hosts" "$(cut -d' ' -f1 "$LOG" | paste -sd' ')"
}

to() { # a fixture URL on benign.test that redirects to $1
  printf 'http://benign.test/to/%s' "$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1")"
}

# Credentials that are not: "\" ends the authority, so the host is evil.test.
go 'evil.test\@benign.test' evil.test 'http://evil.test\@benign.test/'
expect_eq 'evil.test\@benign.test: finalUrl' 'http://evil.test/@benign.test/' "$(field finalUrl)"
expect_eq 'evil.test\@benign.test: url is the serialization' 'http://evil.test/@benign.test/' "$(field url)"
go 'evil.test:80\@benign.test' evil.test 'http://evil.test:80\@benign.test/'
expect_eq 'evil.test:80\@benign.test: finalUrl' 'http://evil.test/@benign.test/' "$(field finalUrl)"
go 'evil.test:\@benign.test' evil.test 'http://evil.test:\@benign.test/'
go 'evil.test\\@benign.test' evil.test 'http://evil.test\\@benign.test/'
expect_eq 'evil.test\\@benign.test: finalUrl' 'http://evil.test//@benign.test/' "$(field finalUrl)"
go 'real credentials still end at the last @' benign.test 'http://evil.test:x@benign.test/benign'
expect_match 'real credentials: noted' URL_USERINFO "$(field reasons.code)"

# Redirects resolved against the page that sent them.
go 'Location: /\evil.test/' 'benign.test evil.test' "$(to '/\evil.test/')"
expect_eq 'Location: /\evil.test/: finalUrl' 'http://evil.test/' "$(field finalUrl)"
go 'Location: /\/evil.test/' 'benign.test evil.test' "$(to '/\/evil.test/')"
go 'Location: \\evil.test\' 'benign.test evil.test' "$(to '\\evil.test\')"
expect_eq 'Location: \\evil.test\: finalUrl' 'http://evil.test/' "$(field finalUrl)"
go 'Location: http:/evil.test/ stays on the host' 'benign.test benign.test' "$(to 'http:/evil.test/')"
expect_eq 'Location: http:/evil.test/: finalUrl' 'http://benign.test/evil.test/' "$(field finalUrl)"
expect_eq 'Location: http:/evil.test/: redirects' "$(to 'http:/evil.test/')" "$(field redirects.url)"

# A trailing dot is kept in the host (as browsers keep it) and still pinned.
go 'trailing dot' evil.test. 'http://evil.test./'
expect_eq 'trailing dot: ok, finalUrl' 'true 404 http://evil.test./' "$(field ok httpStatus finalUrl)"

# What browsers open and RFC 3986 refuses: a scan, not an error.
go 'http:evil.test/' evil.test 'http:evil.test/'
expect_eq 'http:evil.test/: ok' true "$(field ok)"
go 'a tab inside the host' evil.test "$(printf 'http://ev\til.test/')"
go 'leading spaces' evil.test '   http://evil.test/'
go 'four slashes and backslashes' evil.test 'http:\\/\evil.test\benign'
expect_eq 'four slashes: finalUrl' 'http://evil.test/benign' "$(field finalUrl)"

# What the standard fails: refused, nothing contacted.
go 'port out of range' '' 'http://evil.test:99999/'
expect_eq 'port out of range: URL_INVALID' 'false URL_INVALID' "$(field ok error.code)"
expect_match 'port out of range: named as the standard names it' '^port-out-of-range' "$(field error.message)"
go 'bad Location' 'benign.test' "$(to 'http://[::1/')"
expect_eq 'bad Location: URL_INVALID' 'false URL_INVALID' "$(field ok error.code)"
expect_match 'bad Location: named' '^Location: IPv6-unclosed' "$(field error.message)"

# Blocklists see the browser's host.
printf 'evil.test\n' >"$T/domains"
go 'domain blocklist on evil.test\@benign.test' evil.test 'http://evil.test\@benign.test/' \
  --blocklist-domains "$T/domains"
expect_eq 'domain blocklist: malicious' malicious "$(field verdict)"
expect_match 'domain blocklist: reason' BLOCKLIST_DOMAIN "$(field reasons.code)"
printf 'http://evil.test/\n' >"$T/urls"
go 'url blocklist after Location: /\evil.test/' 'benign.test evil.test' "$(to '/\evil.test/')" \
  --blocklist-urls "$T/urls"
expect_match 'url blocklist: reason' BLOCKLIST_URL "$(field reasons.code)"

# The analyzer reads a form action as a browser does.
go 'form action \\evil.test\steal' benign.test 'http://benign.test/form-backslash'
expect_match 'form action: credentials posted to evil.test' \
  'HTML_CREDENTIALS_CROSS_ORIGIN' "$(field reasons.code)"

# The User-Agent: a current browser's by default, or the one given.
go 'default User-Agent' benign.test 'http://benign.test/benign'
expect_match 'default User-Agent: a browser' '^benign.test /benign Mozilla/5.0 \(Windows NT 10.0; Win64; x64\) .*Chrome/[0-9]+' "$(cat "$LOG")"
go 'given User-Agent' benign.test 'http://benign.test/benign' --user-agent 'Example Agent/1.0'
expect_eq 'given User-Agent: sent' 'benign.test /benign Example Agent/1.0' "$(cat "$LOG")"
set +e
"$B/safeurl-fetcher" --user-agent "$(printf 'x\r\nX-Injected: 1')" http://benign.test/ >"$T/out.json" 2>"$T/err.txt"
RC=$?
set -e
expect_eq 'User-Agent with CR LF: usage error' 64 "$RC"
expect_match 'User-Agent with CR LF: named' 'user-agent: control byte 0x0d' "$(cat "$T/err.txt")"

finish
