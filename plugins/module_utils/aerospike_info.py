# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Aerospike's info protocol: ask a running node for named values (``statistics``, ``endpoints``).

Standard library only: the aerospike_info module runs this on the node, and the test bed runs
it on the controller against the nodes' service addresses. A request is an 8-byte header
(version 2, type 1, 6-byte big-endian body length) followed by the names, one per line; the
answer has the same header and ``name<TAB>value`` lines.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import struct
import time

VERSION = 2
TYPE_INFO = 1
MAX_BODY = 64 * 1024 * 1024


class InfoError(Exception):
    """The node could not be asked, or its answer is not an info answer."""


def encode(names):
    body = "".join("%s\n" % name for name in names).encode("utf-8")
    return struct.pack(">Q", (VERSION << 56) | (TYPE_INFO << 48) | len(body)) + body


def decode_header(header):
    """Body length of an 8-byte info header; InfoError for anything else."""
    if len(header) != 8:
        raise InfoError("short header: %r" % (header,))
    value = struct.unpack(">Q", header)[0]
    version, kind, length = value >> 56, (value >> 48) & 0xFF, value & 0xFFFFFFFFFFFF
    if version != VERSION or kind != TYPE_INFO:
        raise InfoError("not an info answer (version %d, type %d)" % (version, kind))
    if length > MAX_BODY:
        raise InfoError("answer of %d bytes is larger than %d" % (length, MAX_BODY))
    return length


def decode_body(body):
    """{name: value} from ``name<TAB>value`` lines (a name without a value maps to "")."""
    out = {}
    for line in body.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        name, dummy, value = line.partition("\t")
        out[name] = value
    return out


def pairs(text, separator=";"):
    """``a=1;b=x`` -> {'a': '1', 'b': 'x'} (statistics, namespace/NAME)."""
    out = {}
    for item in text.strip().split(separator):
        name, equals, value = item.partition("=")
        if equals:
            out[name.strip()] = value.strip()
    return out


def _receive(sock, count):
    chunks = []
    while count:
        chunk = sock.recv(min(count, 1 << 20))
        if not chunk:
            raise InfoError("the node closed the connection mid-answer")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def request(host, port, names, timeout=5.0):
    """Ask ``host``:``port`` for ``names``; returns {name: value}."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except (OSError, socket.error) as exc:
        raise InfoError("cannot connect to %s port %s: %s" % (host, port, exc))
    try:
        sock.sendall(encode(names))
        return decode_body(_receive(sock, decode_header(_receive(sock, 8))))
    except (OSError, socket.error) as exc:
        raise InfoError("%s port %s: %s" % (host, port, exc))
    finally:
        sock.close()


def statistics(host, port, timeout=5.0):
    return pairs(request(host, port, ["statistics"], timeout).get("statistics", ""))


def unmet(stats, wanted):
    """{name: (wanted, have)} of the wanted statistics the node does not show (as strings)."""
    missing = {}
    for name, value in sorted(wanted.items()):
        want = str(value).lower() if isinstance(value, bool) else str(value)
        have = stats.get(name)
        if have != want:
            missing[name] = (want, have)
    return missing


def wait_for(host, port, wanted, timeout, interval=0.5, clock=time.monotonic, sleep=time.sleep):
    """Poll ``statistics`` until every wanted value shows (or ``timeout`` s pass).

    Returns (statistics, seconds waited, unmet {name: (want, have)}, last error or None); an
    unmet dict that is not empty means the wait timed out.
    """
    start = clock()
    while True:
        error = None
        try:
            stats = statistics(host, port, timeout=max(1.0, min(5.0, timeout)))
        except InfoError as exc:
            stats, error = {}, str(exc)
        missing = unmet(stats, wanted) if error is None else dict(
            (name, (str(value), None)) for name, value in wanted.items())
        waited = clock() - start
        if not missing and error is None or waited >= timeout:
            return stats, round(waited, 3), missing, error
        sleep(interval)
