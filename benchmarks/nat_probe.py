# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tiny TCP probe copied into the test nodes (Python 3 standard library only).

  serve PORT...            accept forever; answer each line (and the connect itself) with
                           "LOCAL REMOTE" as seen by the server, i.e. which of its addresses the
                           connection arrived at and which source address it came from
  sink PORT                accept and close at once (the other end of `rate`)
  probe N ADDR:PORT...     N rounds over the targets in order (interleaved), one new connection
                           each; prints JSON [[target, local, remote], ...] (null on failure)
  rate SECONDS ADDR:PORT   new connections per second over SECONDS (connect, close with RST)
  hold FILE ADDR:PORT      one connection kept open; writes the server's answer to FILE every
                           0.1 s ("LOCAL REMOTE COUNT", or "broken ...") until FILE.stop exists
"""

from __future__ import absolute_import, division, print_function

import json
import os
import select
import socket
import struct
import sys
import threading
import time

LINGER_RST = struct.pack("ii", 1, 0)


def _listener(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(4096)
    return sock


def _answer(conn):
    local = conn.getsockname()[0]
    remote = conn.getpeername()[0]
    line = ("%s %s\n" % (local, remote)).encode()
    try:
        conn.sendall(line)
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(line * data.count(b"\n"))
    except OSError:
        pass
    finally:
        conn.close()


def serve(ports):
    listeners = [_listener(int(port)) for port in ports]
    while True:
        ready, dummy, dummy = select.select(listeners, [], [])
        for sock in ready:
            conn, dummy = sock.accept()
            thread = threading.Thread(target=_answer, args=(conn,))
            thread.daemon = True
            thread.start()


def sink(port):
    sock = _listener(int(port))
    while True:
        conn, dummy = sock.accept()
        conn.close()


def _target(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def _ask(target):
    try:
        conn = socket.create_connection(target, timeout=3)
    except OSError:
        return None
    try:
        conn.settimeout(3)
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(100)
            if not chunk:
                return None
            data += chunk
        return data.decode().split()
    except OSError:
        return None
    finally:
        conn.close()


def probe(rounds, targets):
    out = []
    for dummy in range(int(rounds)):
        for text in targets:
            seen = _ask(_target(text))
            out.append([text, seen[0] if seen else None, seen[1] if seen else None])
    print(json.dumps(out))


def rate(seconds, text):
    target = _target(text)
    seconds = float(seconds)
    count = failed = 0
    errors = {}
    start = time.time()
    deadline = start + seconds
    while True:
        for dummy in range(100):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
            try:
                sock.connect(target)
                count += 1
            except OSError as exc:
                failed += 1
                name = exc.__class__.__name__ + ":" + str(exc.errno)
                errors[name] = errors.get(name, 0) + 1
            sock.close()
        now = time.time()
        if now >= deadline:
            break
    print(json.dumps({"connections": count, "failed": failed, "errors": errors,
                      "seconds": now - start, "per_second": count / (now - start)}))


def hold(path, text):
    conn = socket.create_connection(_target(text), timeout=3)
    reader = conn.makefile("rb")
    count = 0
    line = reader.readline().decode().strip()
    while True:
        with open(path + ".tmp", "w") as handle:
            handle.write("%s %d\n" % (line, count))
        os.rename(path + ".tmp", path)
        if os.path.exists(path + ".stop"):
            break
        time.sleep(0.1)
        try:
            conn.sendall(b"x\n")
            line = reader.readline().decode().strip() or "broken eof"
        except OSError as exc:
            line = "broken %s" % exc.__class__.__name__
        count += 1
    conn.close()


def main(argv):
    command, args = argv[0], argv[1:]
    {"serve": lambda: serve(args), "sink": lambda: sink(args[0]),
     "probe": lambda: probe(args[0], args[1:]), "rate": lambda: rate(args[0], args[1]),
     "hold": lambda: hold(args[0], args[1])}[command]()


if __name__ == "__main__":
    main(sys.argv[1:])
