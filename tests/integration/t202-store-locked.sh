#!/usr/bin/env bash
# t202: a database held by another process (the sqlite3 CLI in
# BEGIN EXCLUSIVE) for longer than the busy timeout: safeurl retries with
# backoff, logs each retry and succeeds once the lock is released; past
# DB_RETRY_ATTEMPTS it gives up with exit 69 and changes nothing.
. "$(dirname "$0")/lib.sh"
cd "$T"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (scripts/deps.sh)"

# hold_lock DB SECONDS: the sqlite3 CLI holds an exclusive lock on DB.
hold_lock() {
  { echo 'BEGIN EXCLUSIVE;'; echo 'CREATE TABLE hold(x);'; sleep "$2"; echo 'COMMIT;'; } \
    | sqlite3 "$1" &
  HOLDER=$!
  at_exit "kill $HOLDER"
  wait_for "the lock on $1" 10 is_locked "$1"
}
# is_locked DB: readers are shut out (rollback journal + EXCLUSIVE).
is_locked() { ! sqlite3 "$1" 'SELECT count(*) FROM sqlite_schema' >/dev/null 2>&1; }

export DB_BUSY_TIMEOUT_MS=100 LOG_FORMAT=json

# A fresh file in rollback-journal mode, so the lock shuts out everyone.
sqlite3 slow.db 'PRAGMA user_version = 7'
hold_lock slow.db 2
set +e
out=$(TURSO_CONNECTION_URL=file:slow.db DB_RETRY_ATTEMPTS=100 DB_RETRY_MAX_MS=30000 \
      "$B/safeurl" migrate 2>"$T/err"); rc=$?
set -e
err=$(cat "$T/err")
expect_eq "migrate waits out the lock and succeeds" 0 "$rc"
expect_match "schema applied after the lock" "1 migration applied" "$out"
expect_match "each retry is logged as db_retry" '"event":"db_retry"' "$err"
expect_match "the retry says why" "locked" "$err"
check "the lock holder's own work committed" sqlite3 slow.db 'SELECT * FROM hold'
wait "$HOLDER"
expect_eq "holder finished cleanly" "" "$(sqlite3 slow.db 'PRAGMA integrity_check' | grep -v '^ok$' || true)"

sqlite3 stuck.db 'PRAGMA user_version = 7'
hold_lock stuck.db 5
set +e
TURSO_CONNECTION_URL=file:stuck.db DB_RETRY_ATTEMPTS=3 DB_RETRY_MAX_MS=1000 \
  "$B/safeurl" migrate >/dev/null 2>"$T/err"; rc=$?
set -e
err=$(cat "$T/err")
expect_eq "still locked past the retry bounds exits 69" 69 "$rc"
expect_eq "two retries logged before giving up" 2 "$(grep -c 'retrying in' "$T/err")"
expect_match "gives up after 3 attempts" "giving up after 3 attempts" "$err"
kill "$HOLDER" 2>/dev/null || true
wait "$HOLDER" 2>/dev/null || true
expect_eq "nothing was migrated" "" "$(sqlite3 stuck.db "SELECT name FROM sqlite_schema WHERE name = 'scan_jobs'")"
finish
