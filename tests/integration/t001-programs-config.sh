#!/usr/bin/env bash
# t001: the three programs answer --help/--version; configuration errors
# exit 78 naming the variable; .env is read and the environment wins; the
# worker logs its effective configuration with secrets masked and stops
# cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
cd "$T"

for p in safeurl-worker safeurl safeurl-fetcher; do
  out=$("$B/$p" --version)
  expect_match "$p --version" "^$p [0-9]+\.[0-9]+\.[0-9]+$" "$out"
  out=$("$B/$p" --help)
  expect_match "$p --help shows usage" "^usage: $p" "$out"
  expect_match "$p --help lists exit codes" "exit codes" "$out"
done

set +e
err=$(WORKER_CONCURRENCY=abc "$B/safeurl-worker" 2>&1 >/dev/null); rc=$?
set -e
expect_eq "bad WORKER_CONCURRENCY exits 78" 78 "$rc"
expect_match "error names variable, value and range" \
  "WORKER_CONCURRENCY='abc'.*expected an integer 1\.\.1024" "$err"

set +e
err=$(CONTAINER_NETWORK_MODE=host "$B/safeurl-worker" 2>&1 >/dev/null); rc=$?
set -e
expect_eq "host network without CONTAINER_ALLOW_HOST_NETWORK=1 exits 78" 78 "$rc"
expect_match "the error says how to allow it" \
  "CONTAINER_NETWORK_MODE='host' needs CONTAINER_ALLOW_HOST_NETWORK=1" "$err"
expect_match "host network allowed explicitly" "^CONTAINER_NETWORK_MODE=host$" \
  "$(CONTAINER_NETWORK_MODE=host CONTAINER_ALLOW_HOST_NETWORK=1 "$B/safeurl-worker" --check-config | grep '^CONTAINER_NETWORK_MODE=')"

set +e
err=$(REDIS_PORT=0 LOG_LEVEL=loud CONTAINER_CPU_LIMIT=0.001 TURSO_CONNECTION_URL=ftp://x \
      "$B/safeurl-worker" 2>&1 >/dev/null); rc=$?
set -e
expect_eq "several bad values exit 78" 78 "$rc"
expect_eq "one line per bad variable" 4 "$(printf '%s\n' "$err" | grep -c 'config: ')"

set +e
"$B/safeurl-worker" --bogus >/dev/null 2>&1; rc=$?
set -e
expect_eq "unknown argument exits 64" 64 "$rc"

cat > .env <<'ENV'
# comment
export WORKER_CONCURRENCY=7
QUEUE_NAME="from-dotenv" # trailing comment
REDIS_PASSWORD='s3cret-pass'
TURSO_AUTH_TOKEN=tok-T001-secret-4f2a
ENV
out=$(QUEUE_NAME=from-env "$B/safeurl-worker" --check-config)
expect_match ".env value used" "^WORKER_CONCURRENCY=7$" "$(printf '%s\n' "$out" | grep WORKER_CONCURRENCY)"
expect_match "environment wins over .env" "^QUEUE_NAME=from-env$" "$(printf '%s\n' "$out" | grep QUEUE_NAME)"
expect_match "password masked" "^REDIS_PASSWORD=<redacted>$" "$(printf '%s\n' "$out" | grep REDIS_PASSWORD)"
check "no secret in --check-config" bash -c "! grep -q -e s3cret-pass -e tok-T001-secret-4f2a <<<'$out'"

printf 'WORKER_CONCURRENCY=2\nBROKEN LINE\n' > .env
set +e
err=$("$B/safeurl-worker" --check-config 2>&1 >/dev/null); rc=$?
set -e
expect_eq "malformed .env exits 78" 78 "$rc"
expect_match "malformed .env names the line" "\.env: line 2" "$err"

# The worker logs its configuration, masks secrets, stops on SIGTERM.
printf 'REDIS_PASSWORD=s3cret-pass\nTURSO_AUTH_TOKEN=tok-T001-secret-4f2a\n' > .env
# No engine or image needed to test configuration and signals.
LOG_FORMAT=json WORKER_ID=w-test "$B/safeurl-worker" --processor=noop 2> worker.log &
pid=$!
wait_for "worker config log" 10 grep -q '"event":"config"' worker.log
sleep 0.2
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_eq "SIGTERM exits 0" 0 "$rc"
check "config logged as JSON with worker id" grep -q '"worker":"w-test","event":"config","msg":"WORKER_CONCURRENCY=5"' worker.log
check "secrets masked in logs" grep -q 'REDIS_PASSWORD=<redacted>' worker.log
check "no secret in logs" bash -c "! grep -q -e s3cret-pass -e tok-T001-secret-4f2a worker.log"
check "every log line is JSON" bash -c "python3 -c 'import json,sys; [json.loads(l) for l in open(\"worker.log\")]'"
check "stop logged" grep -q '"event":"stop"' worker.log

finish
