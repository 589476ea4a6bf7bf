# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-node helper of benchmarks/failover.py (Python 3 standard library only).

  load OUT SECONDS TIMEOUT ADDR:PORT@RATE...
        new connections to each target at RATE per second for SECONDS (non-blocking connects,
        closed with RST once established); every attempt is recorded as
        [target index, start, end, ok, error, local port] (error: errno name, "timeout" after
        TIMEOUT s; the port finds the attempt's conntrack entry)
  monitor OUT       `nft monitor` lines, each prefixed with the time it arrived, until SIGTERM
  act OUT CMD...    run CMD (a shell command) and record the time just before and just after

All times are time.time() of the node, which is the host's clock (containers share the kernel).
"""

from __future__ import absolute_import, division, print_function

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
    if command == "load":
        load(args[0], args[1], args[2], args[3:])
    elif command == "monitor":
        monitor(args[0])
    elif command == "act":
        act(args[0], " ".join(args[1:]))
    else:
        sys.exit("unknown command %s" % command)


if __name__ == "__main__":
    main(sys.argv[1:])
