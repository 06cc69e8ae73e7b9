#!/usr/bin/env python3
"""soak_check.py - the invariants a soak run must end with, printed.

Reads the scan database, the BullMQ keys in Redis (through redis-cli) and
the driver's list of what it submitted; prints one line per invariant and
the outcome table; exits 1 when any invariant is broken.

  soak_check.py DB REDIS_PORT PREFIX EXPECTED_FILE

EXPECTED_FILE has one line per submitted job: "ID QUEUE CLASS". CLASS is
a page class of the real fetcher (benign, phish, slow, refused, urlonly),
"box" for a testbox scan (its outcome follows the worker that ran it) or
"bad" for a payload the worker must refuse (no row, job failed).

It checks nothing about timing and never changes what it reads.
"""
import collections
import sqlite3
import subprocess
import sys

TERMINAL = {"COMPLETED", "FAILED", "TIMED_OUT"}
ACTIVE = ("QUEUED", "FETCHING", "ANALYZING")
# SPEC section 5: the only legal moves (None = the row's creation).
ALLOWED = {(None, "QUEUED"), ("QUEUED", "FETCHING"),
           ("FETCHING", "ANALYZING"), ("ANALYZING", "COMPLETED"),
           ("FETCHING", "TIMED_OUT"), ("ANALYZING", "TIMED_OUT"),
           ("FETCHING", "FETCHING"), ("ANALYZING", "FETCHING"),
           ("FETCHING", "QUEUED")} | {(s, "FAILED") for s in ACTIVE}
# Outcomes any scan may end with when faults hit it (SPEC section 5).
FAULT_CODES = {"ABANDONED", "RETRIES_EXHAUSTED"}
# What each class must end as when no fault decided it.
EXPECT = {
    "benign": {("COMPLETED", None, "safe")},
    "urlonly": {("COMPLETED", None, "safe")},
    "phish": {("COMPLETED", None, "malicious")},
    "slow": {("TIMED_OUT", "TIMEOUT", None)},
    "refused": {("FAILED", "CONNECT_FAILED", None)},
}
# Testbox workers are named after their behaviour (soak.sh spawn()).
BOX = {"bok": ("COMPLETED", None, "safe"),
       "bfail": ("FAILED", "CONTAINER_CRASH", None),
       "bslow": ("TIMED_OUT", "TIMEOUT", None)}


class Report:
    def __init__(self):
        self.failed = 0

    def line(self, ok, what, bad=()):
        bad = list(bad)
        self.failed += 0 if ok else 1
        print("%s %s" % ("PASS" if ok else "FAIL", what))
        for b in bad[:10]:
            print("     %s" % (b,))
        if len(bad) > 10:
            print("     ... %d more" % (len(bad) - 10))


def redis(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw"] + list(args),
                         check=True, capture_output=True, text=True).stdout
    return [l for l in out.split("\n") if l]


def load_expected(path):
    rows = []
    with open(path) as f:
        for l in f:
            if l.strip():
                rows.append(tuple(l.split()))
    return rows


def trail_faults(trail):
    """What is wrong with one scan's audit rows (oldest first)."""
    if not trail or trail[0][0] is not None or trail[0][1] != "QUEUED" \
            or trail[0][2] != 0:
        return "creation not audited as NULL>QUEUED@0"
    prev_to, prev_t = None, 0
    for i, (frm, to, ver, t) in enumerate(trail):
        if ver != i:
            return "versions not consecutive at row %d (%d)" % (i, ver)
        if (frm, to) not in ALLOWED:
            return "illegal move %s>%s" % (frm, to)
        if i and frm != prev_to:
            return "row %d starts from %s, previous ended %s" % (i, frm, prev_to)
        if t < prev_t:
            return "audit times go backwards at row %d" % i
        prev_to, prev_t = to, t
    ends = [r for r in trail if r[1] in TERMINAL]
    if len(ends) != 1 or trail[-1][1] not in TERMINAL:
        return "%d terminal moves, last %s" % (len(ends), trail[-1][1])
    return None


def check_rows(db, expected, rep):
    scans = {i: c for i, q, c in expected if c != "bad"}
    rows = {r[0]: r[1:] for r in db.execute(
        "SELECT j.id, j.state, j.version, j.error_code, j.worker_id, r.verdict,"
        " (SELECT count(*) FROM scan_results x WHERE x.job_id=j.id)"
        " FROM scan_jobs j LEFT JOIN scan_results r ON r.job_id=j.id")}
    rep.line(set(scans) <= set(rows), "every submitted scan has a row (%d)" % len(scans),
             sorted(set(scans) - set(rows)))
    rep.line(set(rows) <= set(scans), "no row the driver did not submit (%d rows)" % len(rows),
             sorted(set(rows) - set(scans)))
    open_rows = [(i, r[0]) for i, r in rows.items() if r[0] not in TERMINAL]
    rep.line(not open_rows, "every scan terminal (%d)" % len(rows), open_rows)
    trails = collections.defaultdict(list)
    for j, f, t, v, at in db.execute("SELECT job_id, from_state, to_state, version,"
                                     " created_at FROM audit_logs ORDER BY id"):
        trails[j].append((f, t, v, at))
    bad = [(i, trail_faults(trails[i])) for i in rows if trail_faults(trails[i])]
    rep.line(not bad, "audit trail complete, ordered, legal, one terminal move per scan", bad)
    bad = [(i, r[1], trails[i][-1][2] if trails[i] else None, r[0])
           for i, r in rows.items()
           if not trails[i] or trails[i][-1][2] != r[1] or trails[i][-1][1] != r[0]]
    rep.line(not bad, "row state and version match its last audit row", bad)
    bad = [(i, r[0], r[5]) for i, r in rows.items() if r[5] != (1 if r[0] == "COMPLETED" else 0)]
    rep.line(not bad, "one result row per COMPLETED scan, none for others", bad)
    return rows, scans


def owner_class(worker_id):
    name = (worker_id or "").rsplit("-", 1)[-1].split(".")[0]
    return BOX.get(name.rstrip("0123456789"))


def check_outcomes(rows, scans, rep):
    table = collections.Counter()
    bad = []
    for i, cls in scans.items():
        if i not in rows:
            continue
        state, _, code, owner, verdict, _ = rows[i]
        got = (state, code, verdict)
        table[(cls, state, code or verdict)] += 1
        want = {owner_class(owner)} if cls == "box" else EXPECT[cls]
        if got not in want and code not in FAULT_CODES:
            bad.append((i, cls, got, owner))
    print("outcomes (class state code|verdict count):")
    for k in sorted(table, key=str):
        print("   %-8s %-10s %-18s %5d" % (k[0], k[1], k[2], table[k]))
    faults = sum(n for k, n in table.items() if k[2] in FAULT_CODES)
    rep.line(not bad, "each outcome is its page's (or its worker's), or a fault's"
             " (%d ABANDONED/RETRIES_EXHAUSTED)" % faults, bad)


def check_queue(port, prefix, expected, rep):
    queues = sorted({q for _, q, _ in expected})
    done = {}
    for q in queues:
        k = "%s:%s:" % (prefix, q)
        left = {s: int(redis(port, cmd, k + s)[0]) for s, cmd in
                (("wait", "LLEN"), ("active", "LLEN"), ("paused", "LLEN"),
                 ("delayed", "ZCARD"), ("prioritized", "ZCARD"))}
        rep.line(not any(left.values()), "queue %s: nothing waiting, active, paused,"
                 " delayed or prioritized" % q,
                 [left] if any(left.values()) else [])
        for s in ("completed", "failed"):
            for j in redis(port, "ZRANGE", k + s, "0", "-1"):
                done[(q, j)] = s
    bad = [(i, q) for i, q, _ in expected if (q, i) not in done]
    rep.line(not bad, "every BullMQ job completed or failed (%d)" % len(expected), bad)
    bad = []
    for i, q, c in expected:
        if c == "bad":
            reason = redis(port, "HGET", "%s:%s:%s" % (prefix, q, i), "failedReason")
            if done.get((q, i)) != "failed" or not reason or \
                    not reason[0].startswith("VALIDATION_ERROR: "):
                bad.append((i, done.get((q, i)), reason))
    rep.line(not bad, "bad payloads failed with VALIDATION_ERROR (%d)"
             % sum(1 for e in expected if e[2] == "bad"), bad)


def main():
    db_path, port, prefix, exp_path = sys.argv[1:5]
    expected = load_expected(exp_path)
    rep = Report()
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    rows, scans = check_rows(db, expected, rep)
    check_outcomes(rows, scans, rep)
    check_queue(port, prefix, expected, rep)
    print("invariants: %d broken" % rep.failed)
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
