# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection probes of the NAT benchmarks and live tests, run inside the test nodes (Python 3
standard library only; copied there as /usr/local/bin/nat_probe.py). Bulk traffic, sinks, byte
counters and socket counts are the test bed's node tool (tests/lib/testbed/node_tool.py); these
are the connection-level probes it does not have: which lane a connection took, how fast new
connections are made, what happens to them when a link fails.

  serve PORT...            accept forever; answer each line (and the connect itself) with
                           "LOCAL REMOTE" as seen by the server, i.e. which of its addresses the
                           connection arrived at and which source address it came from
  sink PORT [mptcp]        accept and close at once (the other end of `rate`; mptcp: a
                           Multipath TCP listener)
  probe N [TIMEOUT] ADDR:PORT...
                           N rounds over the targets in order (interleaved), one new connection
                           each, TIMEOUT seconds (default 3) for the connect and for the answer;
                           prints JSON [[target, local, remote, error], ...] (local and remote
                           null on failure, error then says what failed and after how long)
  rate SECONDS ADDR:PORT [mptcp]
                           new connections per second over SECONDS (connect, close with RST;
                           mptcp: Multipath TCP sockets, IPPROTO_MPTCP)
  hold FILE ADDR:PORT      one connection kept open; writes the server's answer to FILE every
                           0.1 s ("LOCAL REMOTE COUNT", or "broken ...") until FILE.stop exists
  load OUT SECONDS TIMEOUT ADDR:PORT@RATE...
                           new connections to each target at RATE per second for SECONDS
                           (non-blocking connects, closed with RST once established); every
                           attempt is recorded in OUT as [target index, start, end, ok, error,
                           local port] (error: errno name, "timeout" after TIMEOUT s; the port
                           finds the attempt's conntrack entry)
  monitor OUT              `nft monitor` lines, each prefixed with the time it arrived, until SIGTERM
  act OUT CMD...           run CMD (a shell command) and record the time just before and just after

All times are time.time() of the node, which is the host's clock (containers share the kernel).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

LINGER_RST = struct.pack("ii", 1, 0)
IPPROTO_MPTCP = 262  # socket.IPPROTO_MPTCP from Python 3.10 on


def _proto(mptcp):
    return IPPROTO_MPTCP if mptcp == "mptcp" else 0


def _listener(port, mptcp=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, _proto(mptcp))
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


def sink(port, mptcp=None):
    sock = _listener(int(port), mptcp)
    while True:
        conn, dummy = sock.accept()
        conn.close()


def _target(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def _failed(step, exc, start):
    name = "timeout" if isinstance(exc, socket.timeout) else errno.errorcode.get(exc.errno, exc.__class__.__name__)
    return None, "%s: %s after %.2f s" % (step, name, time.time() - start)


def _ask(target, timeout=3.0):
    """(["LOCAL", "REMOTE"], None) as the server saw the connection, or (None, what failed)."""
    start = time.time()
    try:
        conn = socket.create_connection(target, timeout=timeout)
    except OSError as exc:
        return _failed("connect", exc, start)
    try:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(100)
            if not chunk:
                return None, "answer: closed after %.2f s" % (time.time() - start)
            data += chunk
        return data.decode().split(), None
    except OSError as exc:
        return _failed("answer", exc, start)
    finally:
        conn.close()


def probe(rounds, args):
    timeout = 3.0
    if args and ":" not in args[0]:
        timeout, args = float(args[0]), args[1:]
    out = []
    for dummy in range(int(rounds)):
        for text in args:
            seen, error = _ask(_target(text), timeout)
            out.append([text, seen[0] if seen else None, seen[1] if seen else None, error])
    print(json.dumps(out))


def rate(seconds, text, mptcp=None):
    target = _target(text)
    proto = _proto(mptcp)
    seconds = float(seconds)
    count = failed = 0
    errors = {}
    start = time.time()
    deadline = start + seconds
    while True:
        for dummy in range(100):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
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


def _write(path, document):
    with open(path + ".tmp", "w") as handle:
        json.dump(document, handle)
    os.rename(path + ".tmp", path)


def _port(sock):
    try:
        return sock.getsockname()[1]
    except OSError:
        return None


def load(out, seconds, timeout, specs):
    targets = []
    for spec in specs:
        where, rate = spec.rsplit("@", 1)
        host, port = where.rsplit(":", 1)
        targets.append((host, int(port), float(rate)))
    seconds, timeout = float(seconds), float(timeout)
    poller = select.poll()
    pending = {}
    records = []
    start = time.time()
    due = [start] * len(targets)
    while True:
        now = time.time()
        running = now - start < seconds
        if not running and not pending:
            break
        if running:
            for index, (host, port, rate) in enumerate(targets):
                while due[index] <= now:
                    due[index] += 1.0 / rate
                    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
                    sock.setblocking(False)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
                    began = time.time()
                    result = sock.connect_ex((host, port))
                    if result == errno.EINPROGRESS:
                        pending[sock.fileno()] = (index, began, sock)
                        poller.register(sock.fileno(), select.POLLOUT)
                    else:
                        records.append([index, began, time.time(), result == 0,
                                        errno.errorcode.get(result, str(result)) if result else None,
                                        _port(sock)])
                        sock.close()
        for fd, (index, began, sock) in list(pending.items()):
            if now - began >= timeout:
                records.append([index, began, now, False, "timeout", _port(sock)])
                poller.unregister(fd)
                sock.close()
                del pending[fd]
        wait = max(0.0, min(due) - time.time()) if running else 0.05
        for fd, dummy in poller.poll(min(wait, 0.05) * 1000):
            if fd not in pending:
                continue
            index, began, sock = pending.pop(fd)
            poller.unregister(fd)
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            records.append([index, began, time.time(), error == 0,
                            errno.errorcode.get(error, str(error)) if error else None, _port(sock)])
            sock.close()
    _write(out, {"targets": ["%s:%d" % (host, port) for host, port, dummy in targets],
                 "started": start, "records": records})


def monitor(out):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with open(out, "w") as handle, subprocess.Popen(["nft", "monitor"], stdout=subprocess.PIPE,
                                                    universal_newlines=True, bufsize=1) as process:
        def read():
            for line in process.stdout:
                handle.write("%.6f %s\n" % (time.time(), line.rstrip("\n")))
                handle.flush()
            stop.set()

        thread = threading.Thread(target=read)
        thread.daemon = True
        thread.start()
        stop.wait()
        process.terminate()


def act(out, command):
    before = time.time()
    result = subprocess.run(command, shell=True, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    after = time.time()
    _write(out, {"before": before, "after": after, "rc": result.returncode, "output": result.stdout})


def main(argv):
    command, args = argv[0], argv[1:]
    {"serve": lambda: serve(args), "sink": lambda: sink(*args[:2]),
     "probe": lambda: probe(args[0], args[1:]), "rate": lambda: rate(*args[:3]),
     "hold": lambda: hold(args[0], args[1]),
     "load": lambda: load(args[0], args[1], args[2], args[3:]), "monitor": lambda: monitor(args[0]),
     "act": lambda: act(args[0], " ".join(args[1:]))}[command]()


if __name__ == "__main__":
    main(sys.argv[1:])
