# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs inside a test node (copied there by fabric_split.py); standard library only.

  counters DEV...                      byte counters of the interfaces, as JSON
  run --devices D,.. [--interval S] -- CMD...
                                       run CMD and sample the interfaces' counters meanwhile
  sink --port P                        accept TCP connections on every address, discard the data
  streams --address A --count N ...    N bulk TCP streams to A (as iperf3 -P N), paced or not
  emulate --addresses A,B,.. ...       EMULATION of the fabric connection pattern of Aerospike
                                       >= 3.14 (see emulate()); no Aerospike server runs here

Every figure the tests judge comes from the kernel's interface counters read by `run` and
`counters`; what `emulate` reports about its own sockets is kept for the record only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import random
import socket
import subprocess
import sys
import threading
import time

EMULATION_LABEL = ("emulation of the Aerospike >= 3.14 fabric connection pattern "
                   "(not an Aerospike server)")
# Aerospike's default fabric channels per peer (channel-rw-fds, channel-bulk-fds,
# channel-ctrl-fds, channel-meta-fds), in the order the emulation opens them.
CHANNELS = (("rw", 8), ("bulk", 2), ("ctrl", 1), ("meta", 1))
CHUNK = 64 * 1024
SMALL_MESSAGE = b"m" * 64


# ---------------------------------------------------------------------------- pure helpers
def socket_kinds(channels=CHANNELS):
    """['rw', 'rw', ..., 'bulk', 'bulk', 'ctrl', 'meta']: one entry per socket, connect order."""
    kinds = []
    for kind, count in channels:
        kinds.extend([kind] * count)
    return kinds


def pick_addresses(addresses, count, seed):
    """The peer address of each of ``count`` sockets, as Aerospike >= 3.14 chooses them.

    For every fabric socket the server orders the peer's published addresses by a hash
    salted with rand() and connects to the first one: a uniform random pick per socket,
    independent of the other sockets. A seeded generator makes a run repeatable.
    """
    if not addresses:
        raise ValueError("no peer address to connect to")
    rng = random.Random(seed)
    return [rng.choice(list(addresses)) for dummy in range(count)]


def parse_channels(text):
    """'rw=8,bulk=2,ctrl=1,meta=1' -> (('rw', 8), ...)."""
    channels = []
    for item in text.split(","):
        kind, dummy, count = item.partition("=")
        if kind not in ("rw", "bulk", "ctrl", "meta") or not count.isdigit():
            raise ValueError("bad channel %r (want e.g. rw=8)" % item)
        channels.append((kind, int(count)))
    return tuple(channels)


def read_counters(devices):
    """{device: [tx_bytes, rx_bytes]} from /sys/class/net."""
    out = {}
    for dev in devices:
        values = []
        for name in ("tx_bytes", "rx_bytes"):
            with open("/sys/class/net/%s/statistics/%s" % (dev, name)) as handle:
                values.append(int(handle.read()))
        out[dev] = values
    return out


# ---------------------------------------------------------------------------- run + sample
def run_sampled(devices, interval, command):
    """Run ``command``; sample the counters every ``interval`` s from its start to its end."""
    samples = []
    done = threading.Event()
    start = time.time()
    samples.append([0.0, read_counters(devices)])
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)

    def sample():
        tick = 1
        while not done.wait(max(0.0, start + tick * interval - time.time())):
            samples.append([round(time.time() - start, 3), read_counters(devices)])
            tick += 1

    sampler = threading.Thread(target=sample)
    sampler.daemon = True
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    elapsed = time.time() - start
    samples.append([round(elapsed, 3), read_counters(devices)])
    return {"elapsed": round(elapsed, 4), "interval": interval, "samples": samples,
            "returncode": proc.returncode, "stdout": out, "stderr": err[-4000:]}


# ---------------------------------------------------------------------------- sink
def _drain(conn):
    buf = bytearray(256 * 1024)
    try:
        while conn.recv_into(buf):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def listener(port):
    """A socket listening on ``port`` of every address: IPv6 and IPv4 (dual stack) where the
    kernel has IPv6, IPv4 only otherwise."""
    if socket.has_ipv6:
        try:
            return socket.create_server(("", port), family=socket.AF_INET6, backlog=128, reuse_port=False,
                                        dualstack_ipv6=True)
        except (OSError, ValueError):
            pass
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(128)
    return server


def sink(port, seconds):
    server = listener(port)
    server.settimeout(1.0)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            conn, dummy = server.accept()
        except socket.timeout:
            continue
        worker = threading.Thread(target=_drain, args=(conn,))
        worker.daemon = True
        worker.start()
    server.close()


# ---------------------------------------------------------------------------- emulation
def _send_paced(conn, seconds, rate, counter, index):
    """Send for ``seconds`` at ``rate`` bytes/s (0: as fast as the socket takes it)."""
    chunk = b"\0" * CHUNK
    start = time.time()
    sent = 0
    while True:
        now = time.time()
        if now - start >= seconds:
            break
        if rate:
            due = (now - start) * rate
            if sent > due:
                time.sleep(min((sent - due) / rate, start + seconds - now))
                continue
            # never burst more than 0.2 s behind: a blocked socket loses that time
            sent = max(sent, due - 0.2 * rate)
        conn.sendall(chunk)
        sent += CHUNK
        counter[index] += CHUNK


def _send_small(conn, seconds, every, counter, index):
    deadline = time.time() + seconds
    while time.time() < deadline:
        conn.sendall(SMALL_MESSAGE)
        counter[index] += len(SMALL_MESSAGE)
        time.sleep(every)


def _load_and_close(conns, kinds, seconds, rate, small_every, devices=None):
    """Send on every socket for ``seconds`` (``rate`` bytes/s per rw socket, 0: unpaced; other
    kinds a small message every small_every[kind] s), then wait until the peer has read it all.

    Returns the bytes each socket sent (its own count, kept for the record only) and the
    traffic window: the time and the kernel counters of ``devices`` right before the first byte
    and right after the peer has read the last one (connection setup and process start-up
    left out, so bytes over window seconds is the rate the links carried)."""
    window = {"start": time.time(), "before": read_counters(devices or [])}
    counter = [0] * len(conns)
    workers = []
    for index, (kind, conn) in enumerate(zip(kinds, conns)):
        conn.settimeout(None)
        if kind == "rw":
            target, args = _send_paced, (conn, seconds, rate, counter, index)
        else:
            target, args = _send_small, (conn, seconds, small_every[kind], counter, index)
        worker = threading.Thread(target=target, args=args)
        worker.daemon = True
        workers.append(worker)
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # Wait until the peer has read everything (it closes on end of stream): the kernel's
    # counters, read when this process exits, then hold every byte sent.
    for conn in conns:
        conn.shutdown(socket.SHUT_WR)
    for conn in conns:
        conn.settimeout(30)
        while conn.recv(4096):
            pass
    window["after"] = read_counters(devices or [])
    window["end"] = time.time()
    window["seconds"] = round(window["end"] - window["start"], 4)
    return counter, window


def streams(address, port, count, seconds, stream_mbit, devices=None):
    """``count`` bulk TCP streams to one address (as iperf3 -P), each paced to stream_mbit
    (0: as fast as it goes). The sink on the other side takes any connection, so stray ones
    (a link watchdog's probes of the fabric port) disturb nothing."""
    conns = [socket.create_connection((address, port), timeout=10) for dummy in range(count)]
    counter, window = _load_and_close(conns, ["rw"] * count, seconds, stream_mbit * 1e6 / 8, {}, devices)
    for conn in conns:
        conn.close()
    return {"label": "%d TCP streams" % count, "address": address, "port": port, "seconds": seconds,
            "stream_mbit": stream_mbit, "bytes_claimed": counter, "window": window}


def emulate(addresses, port, seed, seconds, offered_mbit, channels=CHANNELS, devices=None):
    """Open Aerospike's fabric sockets to one peer and load them like its channels.

    Each socket connects to a peer address picked as the server does (pick_addresses); the
    ``rw`` sockets carry the bulk of the data (the server spreads transactions over them),
    together ``offered_mbit`` (0: as fast as they can), the others a small message every
    100 ms (ctrl, meta) or every second (bulk: migrations, idle in steady state).
    """
    kinds = socket_kinds(channels)
    picks = pick_addresses(addresses, len(kinds), seed)
    conns = []
    for address in picks:
        conns.append(socket.create_connection((address, port), timeout=10))
    rw_count = kinds.count("rw")
    rate = offered_mbit * 1e6 / 8 / rw_count if offered_mbit and rw_count else 0
    counter, window = _load_and_close(conns, kinds, seconds, rate, {"bulk": 1.0, "ctrl": 0.1, "meta": 0.1}, devices)
    sockets = []
    for index, (kind, conn) in enumerate(zip(kinds, conns)):
        sockets.append({"kind": kind, "peer": picks[index], "local": conn.getsockname()[0],
                        "bytes_claimed": counter[index]})
        conn.close()
    return {"label": EMULATION_LABEL, "seed": seed, "addresses": list(addresses), "port": port,
            "seconds": seconds, "offered_mbit": offered_mbit, "sockets": sockets, "window": window}


# ---------------------------------------------------------------------------- command line
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    cmd = sub.add_parser("counters")
    cmd.add_argument("devices", nargs="+")
    cmd = sub.add_parser("run")
    cmd.add_argument("--devices", required=True)
    cmd.add_argument("--interval", type=float, default=0.5)
    cmd.add_argument("cmd", nargs=argparse.REMAINDER)
    cmd = sub.add_parser("sink")
    cmd.add_argument("--port", type=int, default=3001)
    cmd.add_argument("--seconds", type=float, default=600)
    cmd = sub.add_parser("streams")
    cmd.add_argument("--address", required=True)
    cmd.add_argument("--port", type=int, default=3001)
    cmd.add_argument("--count", type=int, default=8)
    cmd.add_argument("--seconds", type=float, default=5)
    cmd.add_argument("--stream-mbit", type=float, default=0)
    cmd.add_argument("--devices", default="", help="interfaces whose counters frame the traffic window")
    cmd = sub.add_parser("emulate")
    cmd.add_argument("--addresses", required=True)
    cmd.add_argument("--port", type=int, default=3001)
    cmd.add_argument("--seed", type=int, required=True)
    cmd.add_argument("--seconds", type=float, default=5)
    cmd.add_argument("--offered-mbit", type=float, default=0)
    cmd.add_argument("--channels", default="rw=8,bulk=2,ctrl=1,meta=1")
    cmd.add_argument("--devices", default="", help="interfaces whose counters frame the traffic window")
    args = parser.parse_args(argv)

    if args.command == "counters":
        result = {"time": time.time(), "counters": read_counters(args.devices)}
    elif args.command == "run":
        command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        result = run_sampled(args.devices.split(","), args.interval, command)
    elif args.command == "sink":
        sink(args.port, args.seconds)
        return 0
    elif args.command == "streams":
        result = streams(args.address, args.port, args.count, args.seconds, args.stream_mbit,
                         [d for d in args.devices.split(",") if d])
    else:
        result = emulate(args.addresses.split(","), args.port, args.seed, args.seconds,
                         args.offered_mbit, parse_channels(args.channels), [d for d in args.devices.split(",") if d])
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
