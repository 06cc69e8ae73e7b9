#!/usr/bin/env bash
# t211: retention. `safeurl prune --older-than` on a SQLite file and on a
# tursodb server: old terminal scans (COMPLETED, FAILED, TIMED_OUT) go with
# their results and audit rows, in batches; live scans (QUEUED, FETCHING,
# ANALYZING), however old, and recent terminal ones stay with all their
# rows; --dry-run counts and changes nothing; bad arguments exit 64 naming
# the value. New SQLite files get auto_vacuum=INCREMENTAL and the pruned
# pages go back to the file system. Then a worker with RETENTION_DAYS=1
# prunes by itself, and logs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
cd "$T"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (scripts/deps.sh)"

now=$(( $(date +%s) * 1000 ))
old=$(( now - 3 * 86400000 ))
recent=$(( now - 3600000 ))

# seed TAG: SQL statements, one per line: six old terminal scans (two of
# each terminal state), old live ones, recent terminal ones; two audit rows
# each, a result for every COMPLETED one. Ids carry their fate.
seed() {
  local t=$1 id st at i
  for row in "gone-c1 COMPLETED $old" "gone-c2 COMPLETED $((old + 1))" \
             "gone-f1 FAILED $((old + 2))" "gone-f2 FAILED $((old + 3))" \
             "gone-t1 TIMED_OUT $((old + 4))" "gone-t2 TIMED_OUT $((old + 5))" \
             "kept-q QUEUED $old" "kept-fe FETCHING $old" "kept-an ANALYZING $old" \
             "kept-c COMPLETED $recent" "kept-f FAILED $recent"; do
    read -r id st at <<<"$row"
    echo "INSERT INTO scan_jobs(id, url, state, version, attempts, created_at, updated_at) VALUES ('$t-$id', 'https://example.com/$id', '$st', 2, 1, $old, $at)"
    for i in 0 1; do
      echo "INSERT INTO audit_logs(job_id, to_state, version, actor, created_at) VALUES ('$t-$id', '$st', $i, 'test', $at)"
    done
    [ "$st" != COMPLETED ] ||
      echo "INSERT INTO scan_results(job_id, verdict, risk_score, result_json, created_at) VALUES ('$t-$id', 'safe', 0, '{\"pad\":\"$(head -c 3000 /dev/zero | tr '\0' x)\"}', $at)"
  done
}

# prune_checks NAME QUERY-FN TAG: the CLI against the database the
# environment names, rows checked with QUERY-FN.
prune_checks() {
  local name=$1 q=$2 t=$3
  run "$CLI" prune --older-than 2d --dry-run
  expect_eq "$name: --dry-run exits 0" 0 "$RC"
  expect_match "$name: --dry-run counts scans, results, audit rows" \
    "^would prune 6 scan\(s\) last changed before [0-9T:-]+Z, with 2 result\(s\) and 12 audit row\(s\)$" "$OUT"
  expect_eq "$name: --dry-run deleted nothing" 11 "$($q "SELECT count(*) FROM scan_jobs WHERE id LIKE '$t-%'")"

  run "$CLI" prune --older-than 2d --batch 4
  expect_eq "$name: prune exits 0" 0 "$RC"
  expect_match "$name: prune reports scans and batches" \
    "^pruned 6 scan\(s\) last changed before [0-9T:-]+Z in 3 batch\(es\) of at most 4; longest batch [0-9]+ ms$" "$OUT"
  expect_eq "$name: old terminal scans gone" 0 "$($q "SELECT count(*) FROM scan_jobs WHERE id LIKE '$t-gone-%'")"
  expect_eq "$name: their audit rows gone" 0 "$($q "SELECT count(*) FROM audit_logs WHERE job_id LIKE '$t-gone-%'")"
  expect_eq "$name: their results gone" 0 "$($q "SELECT count(*) FROM scan_results WHERE job_id LIKE '$t-gone-%'")"
  expect_eq "$name: live and recent scans kept" "$t-kept-an $t-kept-c $t-kept-f $t-kept-fe $t-kept-q" \
    "$($q "SELECT id FROM scan_jobs WHERE id LIKE '$t-%' ORDER BY id" | paste -sd' ')"
  expect_eq "$name: their audit rows kept" 10 "$($q "SELECT count(*) FROM audit_logs WHERE job_id LIKE '$t-kept-%'")"
  expect_eq "$name: the recent result kept" 1 "$($q "SELECT count(*) FROM scan_results WHERE job_id LIKE '$t-kept-%'")"

  run "$CLI" prune --older-than 2d
  expect_match "$name: a second prune finds nothing" "^pruned 0 scan\(s\) .* in 1 batch\(es\)" "$OUT"
}

# ---- SQLite ----
export TURSO_CONNECTION_URL=file:$T/prune.db
run "$CLI" migrate
expect_eq "migrate exits 0" 0 "$RC"
expect_eq "a new file gets auto_vacuum=INCREMENTAL" 2 "$(sqlite3 prune.db 'PRAGMA auto_vacuum')"
# bulk: enough pruned rows to free pages
sqlite3 prune.db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
  INSERT INTO scan_jobs(id, url, state, version, attempts, created_at, updated_at)
  SELECT 'bulk-' || i, 'https://example.com/' || i, 'COMPLETED', 3, 1, $old, $old FROM n;
  INSERT INTO scan_results(job_id, verdict, risk_score, result_json, created_at)
  SELECT id, 'safe', 0, replace(hex(zeroblob(1000)), '0', 'x'), $old FROM scan_jobs WHERE id LIKE 'bulk-%';"
pages_before=$(sqlite3 prune.db 'PRAGMA page_count')
run "$CLI" prune --older-than 2d --batch 500
expect_match "bulk prune" "^pruned 2000 scan\(s\) .* in 5 batch\(es\) of at most 500" "$OUT"
pages_after=$(sqlite3 prune.db 'PRAGMA page_count')
check "incremental vacuum gave pages back ($pages_before -> $pages_after)" test "$pages_after" -lt $((pages_before / 2))
expect_eq "no free pages left" 0 "$(sqlite3 prune.db 'PRAGMA freelist_count')"
seed s | sed 's/$/;/' | sqlite3 prune.db
prune_checks sqlite "sqlite3 prune.db" s

for bad in "--older-than 3x" "--older-than -1d" "--older-than d" "--batch 0 --older-than 1d" "--batch 100001 --older-than 1d" "--older-than 1d --force"; do
  run "$CLI" prune $bad
  expect_eq "prune $bad exits 64" 64 "$RC"
done
run "$CLI" prune --older-than 3x
expect_match "a bad duration is named with what is accepted" "prune: --older-than '3x': expected a duration such as 45s, 30m, 2h or 30d" "$ERR"
run "$CLI" prune --batch 5
expect_match "--older-than is required" "prune: --older-than is required" "$ERR"

# ---- tursodb ----
start_tursodb
TURSO_CONNECTION_URL=$TURSO_CONNECTION_URL run "$CLI" migrate
expect_eq "tursodb: migrate exits 0" 0 "$RC"
while read -r stmt; do turso_sql "$stmt" >/dev/null || die "cannot seed tursodb: $stmt"; done < <(seed r)
prune_checks tursodb turso_sql r

# ---- the worker, RETENTION_DAYS ----
ensure_fetcher_image
export TURSO_CONNECTION_URL=file:$DB
run "$CLI" migrate
seed w | sed 's/$/;/' | sql
start_worker ret RETENTION_DAYS=2 SAFEURL_TEST_LOCK_MS=2000
gone() { [ "$(sql "SELECT count(*) FROM scan_jobs WHERE id LIKE 'w-gone-%'")" = 0 ]; }
wait_for "the worker's retention round" 60 gone || die "the worker pruned nothing: $(cat "$T/ret.log")"
expect_eq "worker: live and recent scans kept" 5 "$(sql "SELECT count(*) FROM scan_jobs WHERE id LIKE 'w-kept-%'")"
expect_eq "worker: pruned audit rows gone" 0 "$(sql "SELECT count(*) FROM audit_logs WHERE job_id LIKE 'w-gone-%'")"
check "worker: the round is logged" grep -q '"event":"retention".*pruned 6 scan(s) older than 2 day(s)' "$T/ret.log"
stop_worker ret
expect_eq "worker: SIGTERM exits 0" 0 "$WRC"
check "no sanitizer report" logs_clean ret
finish
