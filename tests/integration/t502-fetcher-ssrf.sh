#!/usr/bin/env bash
# t502: every URL form of tests/fixtures/ssrf-corpus.txt (decimal, octal,
# hex and short IPv4, trailing dots, userinfo, percent-encoding, full-width
# digits, IPv4-mapped/compatible/6to4/NAT64/Teredo IPv6, metadata hosts,
# local names, other schemes and ports, names resolving inside) is refused
# by the default policy with its reason. Runs in a fresh network namespace
# with only loopback, where the internal addresses of the corpus are
# assigned to lo and a listener on all of them proves nothing connected.
. "$(dirname "$0")/fetcher_lib.sh"
in_netns "$0"
. "$(dirname "$0")/lib.sh"

for a in 10.0.0.1/8 172.16.0.1/12 192.168.1.1/16 169.254.169.254/16 100.64.0.1/10 \
         100.100.100.200/32 192.0.2.1/24 198.18.0.1/15; do
  ip addr add "$a" dev lo
done
for a in fd00:ec2::254/128 fd12:3456::1/64; do
  ip -6 addr add "$a" dev lo
done

python3 "$S/tests/fixtures/trap_listener.py" "$T/connections" 80 443 8080 8443 &
at_exit "kill $!"
wait_for "trap listener" 20 test -e "$T/connections.ready" || die "trap listener did not start"
# The trap works: a plain connection is seen.
curl -s -o /dev/null --max-time 2 http://10.0.0.1:8080/ || true
check "the trap sees a connection" test -s "$T/connections"
: > "$T/connections"

n=0
urls=() wants=()
while IFS=$'\t' read -r want url extra; do
  case $want in ''|'#'*) continue ;; esac
  n=$((n + 1))
  set +e
  # shellcheck disable=SC2086
  "$B/safeurl-fetcher" --timeout 3000 $extra "$url" >"$T/out.$n.json" 2>"$T/err.txt"
  rc=$?
  set -e
  expect_eq "$url: exit 0" 0 "$rc"
  urls+=("$url") wants+=("$want")
  echo "$T/out.$n.json" >> "$T/docs"
done < "$S/tests/fixtures/ssrf-corpus.txt"

# One validator run for all the documents (schema, then the reason).
mapfile -t got < <(python3 "$S/tests/fixtures/fetcher_check.py" "$S/docs/fetcher-output.schema.json" \
  --each ok verdict riskScore reasons.code < "$T/docs")
for ((i = 0; i < n; i++)); do
  expect_eq "${urls[$i]}: refused, schema-valid" "true blocked 100 ${wants[$i]}" "${got[$i]:-}"
done

check "the corpus has at least 40 cases ($n)" test "$n" -ge 40
expect_eq "nothing connected to any internal address" "" "$(cat "$T/connections")"
finish
