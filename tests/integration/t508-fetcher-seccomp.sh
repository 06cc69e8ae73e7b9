#!/usr/bin/env bash
# t508: the sandbox's seccomp allow-list kept in step with the fetcher:
# the fixture, SSRF and DNS suites (t501, t502, t504: HTTP, TLS, DNS
# through a real resolver, redirects, limits, every failure path) run
# again with the fetcher the sandbox runs (the release build, as in its
# root) started under the filter (tests/helpers/seccomp_exec.c loads it
# as a sandbox child does). A call the list lacks fails a scan there.
. "$(dirname "$0")/lib.sh"

ROOT=$T/fetcher-root
"$S/scripts/build-image.sh" --rootfs "$ROOT" >"$T/image.log" 2>&1 ||
  { cat "$T/image.log" >&2; die "cannot build the fetcher root"; }
test -x "$B/tests/seccomp-exec" || die "seccomp-exec is not built in $B/tests"
mkdir -p "$T/bin"
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$B/tests/seccomp-exec" "$ROOT/usr/bin/safeurl-fetcher" \
  >"$T/bin/safeurl-fetcher"
chmod +x "$T/bin/safeurl-fetcher"
# The suites' other programs (t501 compiles rules with the CLI) as built.
ln -s "$B/safeurl" "$T/bin/safeurl"

status=$("$B/tests/seccomp-exec" /bin/grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t\n' '  ')
expect_eq "the helper runs its program under the filter" "NoNewPrivs: 1 Seccomp: 2 " "$status"
expect_match "the filtered fetcher starts" "^safeurl-fetcher " "$("$T/bin/safeurl-fetcher" --version)"

for t in t501-fetcher-fixtures t502-fetcher-ssrf t504-fetcher-dns; do
  rc=0
  SAFEURL_BUILD_DIR=$T/bin bash "$S/tests/integration/$t.sh" >"$T/$t.log" 2>&1 || rc=$?
  expect_eq "$t under the filter: exit 0" 0 "$rc"
  expect_match "$t under the filter: every check passed" "^[1-9][0-9]* passed, 0 failed$" "$(tail -1 "$T/$t.log")"
  [ "$rc" = 0 ] || grep -E '^(not ok|FATAL)' "$T/$t.log" | head -20 >&2
done
finish
