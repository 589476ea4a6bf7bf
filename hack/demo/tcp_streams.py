# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-node traffic of `make demo` without an Aerospike server (standard library only).

    python3 tcp_streams.py sink PORT                      # take any connection, read and discard
    python3 tcp_streams.py send ADDRESS PORT STREAMS      # bulk TCP streams until killed

The sink accepts everything, so the link watchdog's probes of the port disturb nothing. The
demo measures with playbooks/verify.yml (the links' kernel counters), never with these counts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import sys
import threading

CHUNK = 65536


def drain(conn):
    try:
        while conn.recv(1 << 20):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def sink(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(128)
    while True:
        conn, dummy = server.accept()
        thread = threading.Thread(target=drain, args=(conn,))
        thread.daemon = True
        thread.start()


def stream(address, port):
    payload = b"\x5a" * CHUNK
    conn = socket.create_connection((address, port))
    while True:
        conn.sendall(payload)


def send(address, port, streams):
    threads = [threading.Thread(target=stream, args=(address, port)) for dummy in range(streams)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join()


def main(argv):
    if len(argv) == 2 and argv[0] == "sink":
        sink(int(argv[1]))
    elif len(argv) == 4 and argv[0] == "send":
        send(argv[1], int(argv[2]), int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
