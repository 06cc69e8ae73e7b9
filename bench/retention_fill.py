#!/usr/bin/env python3
"""retention_fill.py - fill a migrated safeurl database file with N
completed scans as the worker writes them: the scan_jobs row, its four
audit rows (creation, claim, analysis, completion, with the worker's
detail JSON) and its scan_results row holding DOC (a real fetcher
document, the URL made unique per scan). updated_at is spread evenly over
the DAYS days before now, so a prune with --older-than D removes about
(DAYS - D) / DAYS of them.

usage: retention_fill.py DB N DOC DAYS
"""
import json
import sqlite3
import sys
import time
import uuid

db, n, doc_path, days = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
doc = json.load(open(doc_path))
now = int(time.time() * 1000)
span = days * 86400000
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
worker = "bench-host:4242-w1"
for base in range(0, n, 5000):
    with con:
        for i in range(base, min(n, base + 5000)):
            sid = str(uuid.uuid4())
            url = "%s?n=%d" % (doc.get("url", "http://shop.test/"), i)
            t = now - span + (span * i) // n
            d = dict(doc, url=url, finalUrl=url)
            con.execute(
                "INSERT INTO scan_jobs(id, url, state, version, attempts,"
                " worker_id, lease_expires_at, error_code, error_message,"
                " created_at, updated_at) VALUES (?, ?, 'COMPLETED', 3, 1,"
                " ?, NULL, NULL, NULL, ?, ?)", (sid, url, worker, t - 900, t))
            audits = [
                (None, "QUEUED", 0, "producer", None, t - 900),
                ("QUEUED", "FETCHING", 1, worker,
                 json.dumps({"lease_expires_at": t + 29500, "attempt": 1,
                             "queue_job": sid}), t - 500),
                ("FETCHING", "ANALYZING", 2, worker, None, t - 20),
                ("ANALYZING", "COMPLETED", 3, worker,
                 json.dumps({"verdict": doc.get("verdict", "safe"),
                             "risk_score": doc.get("riskScore", 0)}), t),
            ]
            con.executemany(
                "INSERT INTO audit_logs(job_id, from_state, to_state,"
                " version, actor, detail, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(sid,) + a for a in audits])
            con.execute(
                "INSERT INTO scan_results(job_id, verdict, risk_score,"
                " http_status, final_url, content_type, content_sha256,"
                " content_length, result_json, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sid, doc.get("verdict", "safe"), doc.get("riskScore", 0),
                 doc.get("httpStatus"), url, "text/html",
                 "0" * 64, 324, json.dumps(d, separators=(",", ":")), t))
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.close()
