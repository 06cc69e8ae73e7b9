#!/usr/bin/env python3
"""unix_proxy.py LISTEN TARGET - forward every connection on the unix
socket LISTEN to the unix socket TARGET. Killing it drops every connection
at once, as an engine that stops does; starting it again brings the
"engine" back. Used by the runtime tests to lose the engine mid-run."""
import os
import socket
import socketserver
import sys
import threading

LISTEN, TARGET = sys.argv[1], sys.argv[2]


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(TARGET)
        t = threading.Thread(target=pump, args=(up, self.request), daemon=True)
        t.start()
        pump(self.request, up)
        t.join()
        up.close()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(LISTEN):
    os.unlink(LISTEN)
Server(LISTEN, Handler).serve_forever()
