#!/usr/bin/env bash
# t504: name resolution through a real (hostile) DNS server. In a fresh
# network and mount namespace, /etc/resolv.conf points at a fixture DNS
# server on loopback. DNS rebinding fails: the fetcher asks once, pins the
# first (public, unreachable here) answer and never connects to the
# loopback address every later answer gives; a name with any internal
# address is refused; NXDOMAIN is not retryable; a server that never
# answers is a retryable TIMEOUT within the connect timeout.
. "$(dirname "$0")/fetcher_lib.sh"
if [ -z "${SAFEURL_IN_NETNS:-}" ]; then
  exec unshare --net --mount env SAFEURL_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi
. "$(dirname "$0")/lib.sh"

printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:1\n' > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf || die "cannot bind-mount resolv.conf in the namespace"
python3 "$S/tests/fixtures/dns_fixture.py" "$T/dns.log" 2>"$T/dns.err" &
at_exit "kill $!"
python3 "$S/tests/fixtures/trap_listener.py" "$T/connections" 80 &
at_exit "kill $!"
wait_for "dns fixture" 20 test -e "$T/dns.log.ready" || die "dns fixture did not start: $(cat "$T/dns.err")"
wait_for "trap listener" 20 test -e "$T/connections.ready" || die "trap listener did not start"
# The fixture rebinds: a probe name answers public, then loopback.
lookup() { python3 -c 'import socket,sys; print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET)[0][4][0])' "$1"; }
expect_eq "the fixture's first answer is public" 93.184.216.34 "$(lookup rebind-probe.test)"
expect_eq "the fixture's next answer is loopback" 127.0.0.1 "$(lookup rebind-probe.test)"
: > "$T/dns.log"

fx0() { # fx0 NAME ARGS...: the fetcher with its default policy
  local name=$1; shift
  set +e
  "$B/safeurl-fetcher" "$@" >"$T/out.json" 2>"$T/err.txt"; RC=$?
  set -e
  expect_eq "$name: exit 0" 0 "$RC"
  check "$name: schema-valid" valid_doc
}

fx0 "rebinding name" --connect-timeout 1000 http://rebind.test/
expect_match "rebinding: the pinned public address was tried" "^false CONNECT_FAILED" "$(field ok error.code)"
expect_eq "rebinding: nothing reached loopback" "" "$(cat "$T/connections")"
expect_eq "rebinding: one A query, no second lookup" 1 "$(grep -c '^A rebind.test$' "$T/dns.log")"

fx0 "name inside" http://inside.test/
expect_eq "inside: blocked" "blocked BLOCKED_PRIVATE" "$(field verdict reasons.code)"
fx0 "name with a public and a loopback address" http://mixed.test/
expect_eq "mixed: blocked" "blocked BLOCKED_LOOPBACK" "$(field verdict reasons.code)"
fx0 "nxdomain" http://nx.test/
expect_eq "nxdomain: not retryable" "false DNS_NXDOMAIN false" "$(field ok error.code error.retryable)"
start=$SECONDS
fx0 "silent server" --connect-timeout 1500 http://slow.test/
expect_eq "silent: retryable timeout" "false TIMEOUT true" "$(field ok error.code error.retryable)"
check "silent: bounded by the connect timeout" test $((SECONDS - start)) -le 4
expect_eq "nothing connected anywhere" "" "$(cat "$T/connections")"
finish
