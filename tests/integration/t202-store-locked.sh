#!/usr/bin/env bash
# t202: a database held by another process (the sqlite3 CLI in
# BEGIN EXCLUSIVE) for longer than the busy timeout: safeurl retries with
# backoff, logs each retry and succeeds once the lock is released; past
# DB_RETRY_ATTEMPTS it gives up with exit 69 and changes nothing.
. "$(dirname "$0")/lib.sh"
cd "$T"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (scripts/deps.sh)"

# hold_lock DB: the sqlite3 CLI, fed through a fifo on fd 3, takes an
# exclusive lock on DB and keeps it until release_lock. Its busy timeout
# lets it wait out the probes of is_locked.
hold_lock() {
  mkfifo "$T/fifo.$1"
  sqlite3 "$1" <"$T/fifo.$1" >/dev/null 2>&1 &
  HOLDER=$!
  at_exit "kill $HOLDER"
  exec 3>"$T/fifo.$1"
  printf '.timeout 10000\nBEGIN EXCLUSIVE; CREATE TABLE hold(x);\n' >&3
  wait_for "the lock on $1" 10 is_locked "$1"
}
release_lock() { echo 'COMMIT;' >&3; exec 3>&-; wait "$HOLDER"; }
# is_locked DB: readers are shut out (rollback journal + EXCLUSIVE).
is_locked() { ! sqlite3 "$1" 'SELECT count(*) FROM sqlite_schema' >/dev/null 2>&1; }

export DB_BUSY_TIMEOUT_MS=100 LOG_FORMAT=json

# A fresh file in rollback-journal mode, so the lock shuts out everyone.
sqlite3 slow.db 'PRAGMA user_version = 7'
hold_lock slow.db
TURSO_CONNECTION_URL=file:slow.db DB_RETRY_ATTEMPTS=100 DB_RETRY_MAX_MS=30000 \
  "$B/safeurl" migrate >"$T/out" 2>"$T/err" &
MIGRATE=$!
wait_for "a logged retry" 10 grep -q db_retry "$T/err"
sleep 1
check "migrate is still waiting while the lock is held" kill -0 "$MIGRATE"
release_lock
set +e
wait "$MIGRATE"; rc=$?
set -e
expect_eq "migrate succeeds once the lock is released" 0 "$rc"
expect_match "schema applied after the lock" "^schema at version 3, 3 migrations applied$" "$(cat "$T/out")"
expect_match "each retry is logged as db_retry" '"event":"db_retry"' "$(cat "$T/err")"
expect_match "the retry says why" "locked" "$(cat "$T/err")"
check "several retries with backoff" test "$(grep -c 'retrying in' "$T/err")" -ge 3
check "the lock holder's own work committed" sqlite3 slow.db 'SELECT * FROM hold'
expect_eq "integrity after both" ok "$(sqlite3 slow.db 'PRAGMA integrity_check')"

sqlite3 stuck.db 'PRAGMA user_version = 7'
hold_lock stuck.db
set +e
TURSO_CONNECTION_URL=file:stuck.db DB_RETRY_ATTEMPTS=3 DB_RETRY_MAX_MS=20000 \
  "$B/safeurl" migrate >/dev/null 2>"$T/err"; rc=$?
set -e
err=$(cat "$T/err")
release_lock
expect_eq "still locked past the retry bounds exits 69" 69 "$rc"
expect_eq "two retries logged before giving up" 2 "$(grep -c 'retrying in' "$T/err")"
expect_match "gives up after 3 attempts" "giving up after 3 attempts" "$err"
expect_eq "nothing was migrated" "" "$(sqlite3 stuck.db "SELECT name FROM sqlite_schema WHERE name = 'scan_jobs'")"
finish
