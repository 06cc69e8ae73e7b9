#!/usr/bin/env python3
"""libsql_proxy.py - a loopback HTTP forwarder in front of tursodb.

tursodb's sync server checks no token, so this stands where Turso's edge
would: it answers 401 unless the request carries `Authorization: Bearer
TOKEN`, then forwards the body to the upstream server and relays the reply.
It records every authorised request and reply (--record DIR: NNN-req.json,
NNN-reply.json) and counts requests in DIR/count, which is how the tests
capture reply fixtures and count round trips.

usage: libsql_proxy.py PORT UPSTREAM_PORT TOKEN [--record DIR]
"""
import http.server
import os
import sys
import urllib.error
import urllib.request

PORT, UPSTREAM, TOKEN = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
RECORD = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--record" else None
seen = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.reply(401, b'{"error":"Unauthorized: invalid token"}',
                       "application/json")
            return
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (UPSTREAM, self.path), data=body,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                status, out = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, out = e.code, e.read()
        except OSError:
            status, out = 502, b"upstream unreachable"
        self.record(body, out)
        self.reply(status, out, "application/json")

    def record(self, body, out):
        if not RECORD:
            return
        seen[0] += 1
        for name, data in (("req", body), ("reply", out)):
            with open(os.path.join(RECORD, "%03d-%s.json" % (seen[0], name)),
                      "wb") as f:
                f.write(data)
        with open(os.path.join(RECORD, "count"), "w") as f:
            f.write("%d\n" % seen[0])

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
