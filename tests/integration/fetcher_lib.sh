# fetcher_lib.sh - helpers for the 5xx fetcher tests (source after lib.sh).
#
# make_test_ca: a throw-away CA and a server certificate for the fixture
# names, in $T. start_fixture: the fixture server on free loopback ports
# (sets HP and SP, its HTTP and HTTPS ports). fx: run the fetcher, check
# that stdout is one schema-valid document and keep it in $T/out.json.

FIXTURE_NAMES=(benign.test secure.test shop.test other-site.test)

# in_netns: re-run this script inside a fresh network namespace that has
# only a loopback interface, so that no bug can send a packet off the
# machine. Call before sourcing lib.sh.
in_netns() {
  if [ -z "${SAFEURL_IN_NETNS:-}" ]; then
    command -v unshare >/dev/null || { echo "FATAL: unshare is not installed" >&2; exit 1; }
    exec unshare --net env SAFEURL_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$1"
  fi
}

make_test_ca() {
  local d=$T/pki san
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$d/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=safeurl test CA" 2>/dev/null \
    || die "openssl cannot make the test CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/server.key" -out "$d/server.csr" -subj "/CN=secure.test" 2>/dev/null
  san="subjectAltName=DNS:benign.test,DNS:secure.test,DNS:shop.test,IP:127.0.0.1"
  openssl x509 -req -in "$d/server.csr" -CA "$T/ca.pem" -CAkey "$d/ca.key" \
    -CAcreateserial -days 2 -extfile <(printf '%s\n' "$san") -out "$T/server.pem" 2>/dev/null \
    || die "openssl cannot sign the server certificate"
}

start_fixture() {
  python3 "$S/tests/fixtures/fetcher_fixture.py" --port-file "$T/ports" \
    --cert "$T/server.pem" --key "$T/server.key" 2>"$T/fixture.log" &
  local pid=$!
  at_exit "kill $pid"
  wait_for "fixture server" 20 test -s "$T/ports" || die "fixture server did not start: $(cat "$T/fixture.log")"
  read -r HP SP < "$T/ports"
  RESOLVE=()
  local n
  for n in "${FIXTURE_NAMES[@]}"; do
    RESOLVE+=(--resolve "$n:$HP:127.0.0.1" --resolve "$n:$SP:127.0.0.1")
  done
}

# fx NAME [fetcher args...] URL: run the fetcher with the test hooks; the
# exit code goes to $RC, the document to $T/out.json; a document that is
# not exactly one schema-valid object is a failure of its own.
fx() {
  local name=$1; shift
  set +e
  "$B/safeurl-fetcher" --allow-loopback --ports 1024-65535 --ca-file "$T/ca.pem" \
    "${RESOLVE[@]}" "$@" >"$T/out.json" 2>"$T/err.txt"
  RC=$?
  set -e
  expect_eq "$name: exit 0" 0 "$RC"
  check "$name: one schema-valid document" valid_doc
}

valid_doc() {
  /usr/bin/python3 "$S/tests/fixtures/fetcher_check.py" "$S/docs/fetcher-output.schema.json" \
    < "$T/out.json" >/dev/null
}

# field PATH...: values from the last document (see fetcher_check.py).
field() {
  /usr/bin/python3 "$S/tests/fixtures/fetcher_check.py" "$S/docs/fetcher-output.schema.json" "$@" < "$T/out.json"
}
