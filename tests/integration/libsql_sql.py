#!/usr/bin/env python3
"""libsql_sql.py - run one SQL statement on a libSQL HTTP server and print
its rows like the sqlite3 shell: columns joined by '|', NULL as empty.
Exits 1 with the server's message on an error. For test assertions only.

usage: libsql_sql.py PORT SQL
"""
import json
import sys
import urllib.request

port, sql = int(sys.argv[1]), sys.argv[2]
body = json.dumps({"requests": [{"type": "execute", "stmt": {"sql": sql}}]})
req = urllib.request.Request("http://127.0.0.1:%d/v2/pipeline" % port,
                             data=body.encode(),
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=10) as r:
    res = json.load(r)["results"][0]
if res["type"] != "ok":
    sys.exit("libsql_sql: " + res["error"]["message"])


def cell(v):
    if v["type"] == "null":
        return ""
    return str(v.get("value", v.get("base64")))


for row in res["response"]["result"]["rows"]:
    print("|".join(cell(v) for v in row))
