#!/usr/bin/env python3
"""quality.py - scan quality of the fetcher's analysis on a page corpus.

Serves a corpus folder (read in place) on a loopback port, runs the
safeurl-fetcher binary on each page listed in its manifest.tsv
(--resolve NAME:PORT:127.0.0.1 --allow-loopback --ports PORT), and prints:

- the confusion table per group (safe / suspicious / malicious / other);
- detection rate (suspicious or malicious) of the bad groups, malicious
  rate, and false-positive rates of the legitimate groups;
- the most frequent reasons per group;
- the same table on page content alone: the transport reasons that every
  page gets in this set-up (plain HTTP, unusual port) removed from the
  score before the verdict is recomputed.

Usage: bench/quality.py FETCHER CORPUS [--jobs N] [--list]
"""
import argparse
import collections
import concurrent.futures
import http.server
import json
import os
import subprocess
import sys
import threading

HOST = "pages.corpus.test"
TRANSPORT = {"HTTP_NO_TLS", "URL_UNUSUAL_PORT"}
BAD = {"phish", "malicious_other"}
GROUPS = ["phish", "malicious_other", "benign_login", "benign_other"]


def verdict_of(score, decisive):
    if decisive or score >= 70:
        return "malicious"
    return "suspicious" if score >= 30 else "safe"


class Pages(http.server.BaseHTTPRequestHandler):
    """GET /page/N serves the Nth file of the manifest as text/html.

    Opaque paths: the corpus's file names (which name the imitated brand)
    must not reach the analysis through the URL."""
    files = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            path = self.files[int(self.path.rsplit("/", 1)[-1].split(".")[0])]
            with open(path, "rb") as f:
                body = f.read()
        except (ValueError, IndexError, OSError):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(root, pages):
    Pages.files = [os.path.join(root, rel) for _, rel in pages]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def scan(fetcher, port, index, extra):
    url = "http://%s:%d/page/%d" % (HOST, port, index)
    argv = [fetcher, "--resolve", "%s:%d:127.0.0.1" % (HOST, port),
            "--allow-loopback", "--ports", str(port)] + extra + [url]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"verdict": "error", "riskScore": 0, "reasons": [],
                "error": {"code": "NO_JSON", "message": p.stderr.decode()[:200]}}


def content_verdict(doc):
    if doc.get("verdict") in ("error", "blocked"):
        return doc.get("verdict")
    score = sum(r.get("weight", 0) for r in doc.get("reasons", [])
                if r["code"] not in TRANSPORT)
    decisive = any(r.get("weight", 0) >= 100 for r in doc.get("reasons", []))
    return verdict_of(min(score, 100), decisive)


def table(title, rows, key):
    cols = ["safe", "suspicious", "malicious", "other"]
    print("\n%s\n" % title)
    print("| group | n | " + " | ".join(cols) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in cols) + " |")
    for g in GROUPS:
        docs = [d for grp, _, d in rows if grp == g]
        c = collections.Counter(key(d) for d in docs)
        other = len(docs) - c["safe"] - c["suspicious"] - c["malicious"]
        print("| %s | %d | %d | %d | %d | %d |" % (g, len(docs), c["safe"], c["suspicious"],
                                                  c["malicious"], other))
    bad = [key(d) for grp, _, d in rows if grp in BAD]
    good = [key(d) for grp, _, d in rows if grp not in BAD]
    phish = [key(d) for grp, _, d in rows if grp == "phish"]
    pct = lambda k, n: 100.0 * k / n if n else 0.0
    det = sum(v in ("suspicious", "malicious") for v in bad)
    mal = sum(v == "malicious" for v in bad)
    print("\nbad pages (phish + malicious_other): detected %.1f%% (%d/%d), malicious %.1f%% (%d/%d)"
          % (pct(det, len(bad)), det, len(bad), pct(mal, len(bad)), mal, len(bad)))
    print("phishing pages: detected %.1f%%, malicious %.1f%%" % (
        pct(sum(v != "safe" and v in ("suspicious", "malicious") for v in phish), len(phish)),
        pct(sum(v == "malicious" for v in phish), len(phish))))
    fps = sum(v == "suspicious" for v in good)
    fpm = sum(v == "malicious" for v in good)
    print("legitimate pages: suspicious %.1f%% (%d/%d), malicious %.1f%% (%d/%d)"
          % (pct(fps, len(good)), fps, len(good), pct(fpm, len(good)), fpm, len(good)))
    return det, mal, len(bad), fps, fpm, len(good)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fetcher")
    ap.add_argument("corpus")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--list", action="store_true", help="print every page's verdict and reasons")
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--detail", metavar="SUBSTR",
                    help="print the full reasons of the pages whose file name contains SUBSTR")
    ap.add_argument("extra", nargs="*", help="more fetcher options (after --)")
    args = ap.parse_args()

    manifest = os.path.join(args.corpus, "manifest.tsv")
    if not os.access(args.fetcher, os.X_OK):
        sys.exit("quality: fetcher '%s' is not an executable" % args.fetcher)
    if not os.path.isfile(manifest):
        sys.exit("quality: corpus '%s' has no manifest.tsv" % args.corpus)
    pages = []
    with open(manifest) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            if row.get("file") and row.get("group") in GROUPS:
                pages.append((row["group"], row["file"]))
    srv = serve(os.path.abspath(args.corpus), pages)
    port = srv.server_address[1]
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            docs = list(ex.map(lambda i: scan(args.fetcher, port, i, args.extra),
                               range(len(pages))))
    finally:
        srv.shutdown()
    rows = [(g, rel, d) for (g, rel), d in zip(pages, docs)]

    print("corpus %s: %d pages, fetcher %s" % (args.corpus, len(rows), args.fetcher))
    table("verdicts (as reported, transport reasons included)", rows, lambda d: d.get("verdict"))
    figures = table("verdicts on page content alone (without %s)" % ", ".join(sorted(TRANSPORT)),
                    rows, content_verdict)
    print("\nmost frequent reasons per group (pages with the reason)\n")
    for g in GROUPS:
        c = collections.Counter()
        for grp, _, d in rows:
            if grp == g:
                c.update({r["code"] for r in d.get("reasons", [])} - TRANSPORT)
        print("%-16s %s" % (g, ", ".join("%s %d" % kv for kv in c.most_common(args.top))))
    if args.list:
        print()
        for g, rel, d in rows:
            print("%-10s %3s %-52s %s" % (d.get("verdict"), d.get("riskScore"), rel,
                                         " ".join("%s:%s" % (r["code"], r.get("weight"))
                                                  for r in d.get("reasons", [])
                                                  if r["code"] not in TRANSPORT)
                                         or (d.get("error") or {}).get("code", "")))
    if args.detail:
        for g, rel, d in rows:
            if args.detail in rel:
                print("\n%s: %s %s" % (rel, d.get("verdict"), d.get("riskScore")))
                for r in d.get("reasons", []):
                    print("  %-30s %3s  %s" % (r["code"], r.get("weight"), r.get("message")))
    det, mal, nbad, fps, fpm, ngood = figures
    ok = (det >= 0.9 * nbad and mal >= 0.6 * nbad and fpm == 0 and fps <= 0.05 * ngood)
    print("\ntargets (content alone: >= 90%% detected, >= 60%% malicious, no legitimate "
          "page malicious, <= 5%% suspicious): %s" % ("met" if ok else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
