#!/usr/bin/env python3
"""latency_proxy.py - a loopback HTTP/1.1 proxy that puts a remote database
at a distance: every exchange costs one round-trip time (RTT), as if the
server were far away, without kernel netem.

  latency_proxy.py PORT UPSTREAM_PORT RTT_MS STATS_FILE [--close]

A client connection costs one RTT when it opens (the TCP handshake over
the distance; TLS would cost more), and each request one RTT more (half
before it reaches the upstream server, half before the reply reaches the
client). Client connections are kept alive, as a remote libSQL server
(sqld, Turso's edge) keeps them, even though the upstream server on
loopback (tursodb) closes its connection after each reply; --close makes
the proxy close the client connection after each reply instead, which is
what a client meets when it talks to tursodb itself.

Only what the libSQL client sends is understood: requests with a
Content-Length body, replies with a Content-Length body or ending at
close. STATS_FILE is rewritten after every reply with
"connections N requests M".
"""
import asyncio
import os
import sys

PORT, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
HALF = float(sys.argv[3]) / 2000.0
STATS = sys.argv[4]
CLOSE = "--close" in sys.argv[5:]
count = {"connections": 0, "requests": 0}


def write_stats():
    with open(STATS + ".tmp", "w") as f:
        f.write("connections %d requests %d\n"
                % (count["connections"], count["requests"]))
    # rename: a reader never sees half a line
    os.replace(STATS + ".tmp", STATS)


async def read_message(reader, request):
    """Head lines and body of one HTTP message (a request when request)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is not None:
        body = await reader.readexactly(length)
    elif request:
        body = b""
    else:
        body = await reader.read()  # until the upstream closes
    return lines, body


def rebuild(lines, body, keep):
    """The message with our own Content-Length and Connection headers."""
    out = [lines[0]]
    for line in lines[1:]:
        name = line.partition(":")[0].strip().lower()
        if line and name not in ("content-length", "connection",
                                 "transfer-encoding", "keep-alive"):
            out.append(line)
    out.append("Content-Length: %d" % len(body))
    out.append("Connection: %s" % ("keep-alive" if keep else "close"))
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body


async def exchange(lines, body):
    """Forward one request to the upstream server; its reply."""
    ur, uw = await asyncio.open_connection("127.0.0.1", UPSTREAM)
    try:
        uw.write(rebuild(lines, body, False))
        await uw.drain()
        return await read_message(ur, False)
    finally:
        uw.close()


async def client(reader, writer):
    count["connections"] += 1
    await asyncio.sleep(2 * HALF)  # the handshake, one RTT
    try:
        while True:
            try:
                lines, body = await read_message(reader, True)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            keep = not CLOSE and not any(
                l.lower().startswith("connection:") and "close" in l.lower()
                for l in lines[1:])
            await asyncio.sleep(HALF)
            try:
                rlines, rbody = await exchange(lines, body)
            except (OSError, asyncio.IncompleteReadError):
                rlines = ["HTTP/1.1 502 Bad Gateway"]
                rbody = b"upstream unreachable"
            await asyncio.sleep(HALF)
            count["requests"] += 1
            write_stats()
            writer.write(rebuild(rlines, rbody, keep))
            await writer.drain()
            if not keep:
                return
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(client, "127.0.0.1", PORT,
                                        backlog=256)
    write_stats()
    async with server:
        await server.serve_forever()


asyncio.run(main())
