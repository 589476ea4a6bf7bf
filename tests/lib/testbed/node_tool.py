# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test bed's one tool inside a node: traffic, sockets and byte counters (standard library only).

testbed.traffic copies it into a node as /usr/local/lib/clusterfabric-test/node_tool.py, with
the collection's link_sample.py and errors.py under ansible_collections/... beside it, and runs
it with PYTHONPATH=/usr/local/lib/clusterfabric-test. Byte counters are read only through
link_sample (counter_paths, read_counters), the code the product's link_sample module and so
playbooks/verify.yml run. Every command prints one JSON line (--daemon: {"pid": N} once the
work has started).

  counters --links L                 the links' byte counters
  sink --port P [--seconds S]        accept TCP connections on every address (dual stack), discard
  streams --address A --count N ...  N bulk TCP streams to A (as iperf3 -P N), paced or not;
                                     --seconds 0 with --daemon: until killed
  (sink and streams --mptcp: Multipath TCP sockets, IPPROTO_MPTCP; a streams connection that
  breaks ends that stream only, its error is in the output's "errors")
  emulate --addresses A,B ...        EMULATION of the fabric connection pattern of Aerospike
                                     >= 3.14 (emulate()); no Aerospike server runs here
  run --links L -- CMD...            run CMD, sampling the links' counters meanwhile
  sockets --links L --ports P,..     established TCP sockets per lane, link and port (lasting ones:
                                     seen in two snapshots), opened ones on the link the NAT sent them to
  sample --links L --ports P --out F every --interval s one JSON line of counters and sockets to F
  status                             the link watchdog's status file (link_sample.read_status); streams,
                                     emulate and sockets add it to their output ("watchdog")

L is ``name=device[=subnet],...`` (the subnet puts sockets on links). Only the addresses given
are ever sent to; the test bed gives those of its own test networks.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import ipaddress
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample

EMULATION_LABEL = ("emulation of the Aerospike >= 3.14 fabric connection pattern "
                   "(not an Aerospike server)")
# Aerospike's default fabric channels per peer (channel-rw-fds, channel-bulk-fds,
# channel-ctrl-fds, channel-meta-fds), in the order the emulation opens them.
CHANNELS = (("rw", 8), ("bulk", 2), ("ctrl", 1), ("meta", 1))
CHUNK = 64 * 1024
SMALL_MESSAGE = b"m" * 64
PROC_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
ESTABLISHED = "01"
IPPROTO_MPTCP = 262  # socket.IPPROTO_MPTCP from Python 3.10 on


# ---------------------------------------------------------------------------- pure helpers
def parse_links(text):
    """'fab0=eth0=198.19.1.0/24,fab1=eth1' -> [{name, device, subnet}] (subnet None when left out)."""
    links = []
    for item in [part for part in (text or "").split(",") if part]:
        fields = item.split("=")
        if len(fields) not in (2, 3) or not fields[0] or not fields[1]:
            raise ValueError("bad link %r (want NAME=DEVICE[=SUBNET])" % item)
        links.append({"name": fields[0], "device": fields[1], "subnet": fields[2] if len(fields) == 3 else None})
    return links


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


def counters(links):
    """{link: [tx_bytes, rx_bytes]} now, through link_sample (the product's counter reader)."""
    return link_sample.read_counters(link_sample.counter_paths(links)) if links else {}


def cpu_jiffies(text=None):
    """[busy, total] clock ticks of the whole machine from /proc/stat's "cpu" line (containers
    share the host's kernel, so softirq work of the network stack is in it); busy is everything
    but idle and iowait."""
    text = _read("/proc/stat") if text is None else text
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [int(value) for value in fields[1:9]]
            return [sum(values) - values[3] - values[4], sum(values)]
    return [0, 0]


CGROUP_CPU = (("/sys/fs/cgroup/cpuacct/cpuacct.usage", None, 1e-9), ("/sys/fs/cgroup/cpu.stat", "usage_usec", 1e-6))


def cgroup_cpu(texts=None):
    """CPU seconds this container's cgroup has used (its processes and the kernel work done in
    their context: cgroup v1 cpuacct.usage, v2 cpu.stat usage_usec); None when neither is readable.
    ``texts``: {path: content} instead of the files (tests)."""
    for path, key, scale in CGROUP_CPU:
        text = texts.get(path, "") if texts is not None else _read(path)
        for line in text.splitlines():
            fields = line.split()
            if key is None and len(fields) == 1 and fields[0].isdigit():
                return round(int(fields[0]) * scale, 6)
            if key is not None and len(fields) == 2 and fields[0] == key and fields[1].isdigit():
                return round(int(fields[1]) * scale, 6)
    return None


def process_cpu():
    """This process's own CPU seconds (user + system, every thread)."""
    times = os.times()
    return round(times[0] + times[1], 4)


def proc_address(text):
    """An address of /proc/net/tcp{,6} ('0B0113C6', 32 hex digits for IPv6; words in host byte
    order, little-endian here) -> ipaddress object; IPv4-mapped IPv6 gives the IPv4 address."""
    raw = bytes.fromhex(text)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(raw)
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_proc_tcp(text, ports):
    """Established sockets of a /proc/net/tcp{,6} text with either end on one of ``ports``:
    [{direction, local, local_port, remote, remote_port, port, retrans, queued, probing, unread, owned}].

    ``in``: accepted (local port is the port), ``out``: opened (remote port is). queued: unsent
    or unacknowledged bytes; retrans: queued and retransmitting (a socket stuck on a dead path);
    probing: its keepalive timer has sent unanswered probes (an idle socket whose peer went silent);
    unread: received bytes the application has not read; owned: a file holds the socket (inode not
    0; False for one still in the listener's accept queue or closed by its application)."""
    wanted = set(int(port) for port in ports)
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 9 or fields[3] != ESTABLISHED or ":" not in fields[1]:
            continue
        local, local_port = fields[1].split(":")
        remote, remote_port = fields[2].split(":")
        local_port, remote_port = int(local_port, 16), int(remote_port, 16)
        if local_port in wanted:
            direction, port = "in", local_port
        elif remote_port in wanted:
            direction, port = "out", remote_port
        else:
            continue
        tx_queue, rx_queue = fields[4].split(":")
        queued = int(tx_queue, 16) > 0
        out.append({"direction": direction, "local": str(proc_address(local)), "local_port": local_port,
                    "remote": str(proc_address(remote)), "remote_port": remote_port, "port": port,
                    "queued": queued, "retrans": queued and int(fields[6], 16) > 0,
                    "probing": fields[5].startswith("02:") and int(fields[8]) > 0,
                    "unread": int(rx_queue, 16) > 0, "owned": fields[9] != "0" if len(fields) > 9 else None})
    return out


def lasting(first, second):
    """The sockets of ``second`` that ``first`` already had (same addresses and ports): what
    stays open, without short-lived connections such as the link watchdog's probes (a TCP
    connect to the fabric port every 100 ms per lane, open for about a millisecond)."""
    def key(sock):
        return (sock["local"], sock["local_port"], sock["remote"], sock["remote_port"])
    seen = set(key(sock) for sock in first)
    return [sock for sock in second if key(sock) in seen]


def _link_of(address, networks):
    ip = ipaddress.ip_address(address)
    for name, network in networks:
        if ip.version == network.version and ip in network:
            return name
    return None


def place(sockets, links, conntrack=None):
    """Put every socket on its link: an accepted one on the link of its local address, an
    opened one on the link of the peer address it really reaches (``peer``): its remote
    address, or where the NAT rules sent it (``conntrack``: {(src, sport, dst, dport):
    (reply src, reply dst)} of link_sample.parse_conntrack, addresses as ipaddress objects).
    The socket's own addresses name the link the application dialed, not the one it rides."""
    networks = link_sample.link_networks(links)
    for sock in sockets:
        peer = sock["remote"]
        if sock["direction"] == "out" and conntrack:
            tracked = conntrack.get((ipaddress.ip_address(sock["local"]), sock["local_port"],
                                     ipaddress.ip_address(sock["remote"]), sock["remote_port"]))
            if tracked is not None and _link_of(str(tracked[0]), networks) is not None:
                peer = str(tracked[0])
        sock["peer"] = peer
        sock["link"] = _link_of(sock["local"] if sock["direction"] == "in" else peer, networks)
    return sockets


def per_link(sockets, links, ports):
    """{link: {port: {out, in, retrans, queued, probing}}} of placed sockets (on no link: left out)."""
    counts = dict((link["name"], dict((str(port), {"out": 0, "in": 0, "retrans": 0, "queued": 0, "probing": 0})
                                      for port in ports)) for link in links)
    for sock in sockets:
        entry = counts.get(sock.get("link"), {}).get(str(sock["port"]))
        if entry is None:
            continue
        entry[sock["direction"]] += 1
        for flag in ("retrans", "queued", "probing"):
            entry[flag] += 1 if sock[flag] else 0
    return counts


# ---------------------------------------------------------------------------- node readings
def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def snapshot(ports):
    """Established sockets on ``ports`` now (IPv4 and IPv6)."""
    return [sock for path in PROC_TCP for sock in parse_proc_tcp(_read(path), ports)]


def conntrack_view(ports):
    """link_sample.read_conntrack for every port, merged; None without a readable table."""
    merged = {}
    for port in ports:
        table = link_sample.read_conntrack(int(port))
        if table is None:
            return None
        merged.update(table)
    return merged


def sockets(links, ports, lasting_s=0.3):
    """The lasting established sockets on ``ports``, placed on their links, and the counts. Sockets
    accepted from the link watchdog's probe ports (link_sample.probe_ports) are left out and
    counted as ``probes``: one whose reset a full link queue dropped lasts until its port comes
    round again, longer than ``lasting_s``."""
    found = snapshot(ports)
    if lasting_s:
        time.sleep(lasting_s)
        found = lasting(found, snapshot(ports))
    probes = link_sample.probe_ports()
    probed = [sock for sock in found if sock["direction"] == "in" and sock["remote_port"] in probes]
    found = [sock for sock in found if sock not in probed]
    table = conntrack_view(ports)
    place(found, links, table)
    return {"time": round(time.time(), 4), "sockets": found, "links": per_link(found, links, ports),
            "other": sum(1 for sock in found if sock["link"] is None), "nat_view": table is not None,
            "probes": len(probed)}


def sample_once(links, ports):
    """One line of ``sample``: {t, bytes: {link: [tx, rx]}, sockets: {link: {port: counts}}}."""
    found = place(snapshot(ports), links, conntrack_view(ports))
    return {"t": round(time.time(), 4), "bytes": counters(links), "sockets": per_link(found, links, ports)}


def sample_to(path, links, ports, interval, seconds):
    end = time.time() + seconds
    with open(path, "a") as handle:
        while time.time() < end:
            started = time.time()
            handle.write(json.dumps(sample_once(links, ports), sort_keys=True) + "\n")
            handle.flush()
            time.sleep(max(0.0, interval - (time.time() - started)))


# ---------------------------------------------------------------------------- run + sample
def run_sampled(links, interval, command):
    """Run ``command``; sample the links' counters every ``interval`` s from its start to its end."""
    samples = []
    done = threading.Event()
    start = time.time()
    samples.append([0.0, counters(links)])
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)

    def sample():
        tick = 1
        while not done.wait(max(0.0, start + tick * interval - time.time())):
            samples.append([round(time.time() - start, 3), counters(links)])
            tick += 1

    sampler = threading.Thread(target=sample)
    sampler.daemon = True
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    elapsed = time.time() - start
    samples.append([round(elapsed, 3), counters(links)])
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


def listener(port, mptcp=False):
    """A socket listening on ``port`` of every address: IPv6 and IPv4 (dual stack) where the
    kernel has IPv6, IPv4 only otherwise. ``mptcp``: a Multipath TCP listener (it accepts plain
    TCP peers too)."""
    if mptcp:
        return _mptcp_listener(port)
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


def _mptcp_listener(port):
    for family, address in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        if family == socket.AF_INET6 and not socket.has_ipv6:
            continue
        server = socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            server.bind((address, port))
            server.listen(128)
            return server
        except OSError:
            server.close()
            if family == socket.AF_INET:
                raise
    raise OSError("no MPTCP listener on port %d" % port)


def connect(address, port, mptcp=False, timeout=10):
    """A connected TCP socket (``mptcp``: a Multipath TCP one) to ``address``:``port``."""
    if not mptcp:
        return socket.create_connection((address, port), timeout=timeout)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    conn = socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP)
    conn.settimeout(timeout)
    try:
        conn.connect((address, port))
    except OSError:
        conn.close()
        raise
    return conn


def serve(server, seconds):
    """Accept on ``server`` and read every connection to its end, for ``seconds`` (0: forever)."""
    server.settimeout(1.0)
    deadline = time.time() + seconds if seconds else None
    while deadline is None or time.time() < deadline:
        try:
            conn, dummy = server.accept()
        except socket.timeout:
            continue
        worker = threading.Thread(target=_drain, args=(conn,))
        worker.daemon = True
        worker.start()
    server.close()


def sink(port, seconds, mptcp=False):
    serve(listener(port, mptcp), seconds)


# ---------------------------------------------------------------------------- traffic
def _guarded(send, errors, index):
    """``send`` as a thread target that records an OSError in ``errors[index]`` and ends."""
    def run(*args):
        try:
            send(*args)
        except OSError as exc:
            errors[index] = "%s: %s" % (exc.__class__.__name__, exc)
    return run


def _send_paced(conn, seconds, rate, counter, index):
    """Send for ``seconds`` (0: until the process ends) at ``rate`` bytes/s (0: as fast as the socket takes it)."""
    chunk = b"\0" * CHUNK
    start = time.time()
    sent = 0
    while True:
        now = time.time()
        if seconds and now - start >= seconds:
            break
        if rate:
            due = (now - start) * rate
            if sent > due:
                time.sleep((sent - due) / rate if not seconds else min((sent - due) / rate, start + seconds - now))
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


def _load_and_close(conns, kinds, seconds, rate, small_every, links=None):
    """Send on every socket for ``seconds`` (``rate`` bytes/s per rw socket, 0: unpaced; other
    kinds a small message every small_every[kind] s), then wait until the peer has read it all.

    Returns the bytes each socket sent (its own count, kept for the record only) and the
    traffic window: the time (epoch) and the links' kernel counters right before the first
    byte and right after the peer has read the last one (connection setup and process start-up
    left out, so bytes over window seconds is the rate the links carried)."""
    window = {"start": time.time(), "before": counters(links), "cpu_before": cpu_jiffies(),
              "process_cpu_before": process_cpu(), "cgroup_cpu_before": cgroup_cpu()}
    counter = [0] * len(conns)
    errors = [None] * len(conns)
    workers = []
    for index, (kind, conn) in enumerate(zip(kinds, conns)):
        conn.settimeout(None)
        if kind == "rw":
            target, args = _send_paced, (conn, seconds, rate, counter, index)
        else:
            target, args = _send_small, (conn, seconds, small_every[kind], counter, index)
        worker = threading.Thread(target=_guarded(target, errors, index), args=args)
        worker.daemon = True
        workers.append(worker)
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # Wait until the peer has read everything (it closes on end of stream): the kernel's
    # counters, read next, then hold every byte sent.
    for index, conn in enumerate(conns):
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError as exc:
            errors[index] = errors[index] or "%s: %s" % (exc.__class__.__name__, exc)
    for index, conn in enumerate(conns):
        if errors[index]:
            continue
        conn.settimeout(30)
        try:
            while conn.recv(4096):
                pass
        except OSError as exc:
            errors[index] = "%s: %s" % (exc.__class__.__name__, exc)
    window["after"] = counters(links)
    window["cpu_after"] = cpu_jiffies()
    window["process_cpu_after"] = process_cpu()
    window["cgroup_cpu_after"] = cgroup_cpu()
    window["end"] = time.time()
    window["seconds"] = round(window["end"] - window["start"], 4)
    window["errors"] = errors
    return counter, window


def streams(address, port, count, seconds, stream_mbit, links=None, mptcp=False):
    """``count`` bulk TCP streams to one address (as iperf3 -P), each paced to stream_mbit
    (0: as fast as it goes), for ``seconds`` (0: until the process is killed); ``mptcp``:
    Multipath TCP connections. The sink on the other side takes any connection, so stray ones
    (a link watchdog's probes of the fabric port) disturb nothing. A connection that breaks
    ends its stream: ``errors`` has one entry per stream (None: it carried on to the end)."""
    conns = [connect(address, port, mptcp) for dummy in range(count)]
    counter, window = _load_and_close(conns, ["rw"] * count, seconds, stream_mbit * 1e6 / 8, {}, links)
    for conn in conns:
        conn.close()
    return {"label": "%d %s streams" % (count, "MPTCP" if mptcp else "TCP"), "address": address, "port": port,
            "seconds": seconds, "stream_mbit": stream_mbit, "mptcp": mptcp, "bytes_claimed": counter,
            "errors": window.pop("errors"), "window": window}


def emulate(addresses, port, seed, seconds, offered_mbit, channels=CHANNELS, links=None):
    """Open Aerospike's fabric sockets to one peer and load them like its channels.

    Each socket connects to a peer address picked as the server does (pick_addresses); the
    ``rw`` sockets carry the bulk of the data (the server spreads transactions over them),
    together ``offered_mbit`` (0: as fast as they can), the others a small message every
    100 ms (ctrl, meta) or every second (bulk: migrations, idle in steady state).
    """
    kinds = socket_kinds(channels)
    picks = pick_addresses(addresses, len(kinds), seed)
    conns = [socket.create_connection((address, port), timeout=10) for address in picks]
    rw_count = kinds.count("rw")
    rate = offered_mbit * 1e6 / 8 / rw_count if offered_mbit and rw_count else 0
    counter, window = _load_and_close(conns, kinds, seconds, rate, {"bulk": 1.0, "ctrl": 0.1, "meta": 0.1}, links)
    out = []
    for index, (kind, conn) in enumerate(zip(kinds, conns)):
        out.append({"kind": kind, "peer": picks[index], "local": conn.getsockname()[0], "bytes_claimed": counter[index]})
        conn.close()
    return {"label": EMULATION_LABEL, "seed": seed, "addresses": list(addresses), "port": port,
            "seconds": seconds, "offered_mbit": offered_mbit, "sockets": out, "window": window}


# ---------------------------------------------------------------------------- command line
def watchdog():
    """The link watchdog's status file as data (link_sample.read_status): None without one,
    {"unreadable": why} when it cannot be read."""
    status, error = link_sample.read_status()
    return {"unreadable": error} if error else status


def daemonize():
    """Fork; the parent prints {"pid": child} and leaves (returns False), the child detaches
    from the caller (new session, no stdio) and goes on (returns True)."""
    pid = os.fork()
    if pid:
        json.dump({"pid": pid}, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return False
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    return True


def _ports(text):
    return [int(port) for port in text.split(",") if port]


def parser():
    out = argparse.ArgumentParser(prog="node_tool.py", description=__doc__.split("\n", maxsplit=1)[0])
    sub = out.add_subparsers(dest="command")
    sub.required = True
    cmd = sub.add_parser("counters")
    cmd.add_argument("--links", required=True)
    cmd = sub.add_parser("run")
    cmd.add_argument("--links", required=True)
    cmd.add_argument("--interval", type=float, default=0.5)
    cmd.add_argument("cmd", nargs=argparse.REMAINDER)
    cmd = sub.add_parser("sink")
    cmd.add_argument("--port", type=int, default=3001)
    cmd.add_argument("--seconds", type=float, default=0, help="0: until killed")
    cmd.add_argument("--daemon", action="store_true")
    cmd.add_argument("--mptcp", action="store_true", help="a Multipath TCP listener")
    for name in ("streams", "emulate"):
        cmd = sub.add_parser(name)
        if name == "streams":
            cmd.add_argument("--address", required=True)
            cmd.add_argument("--count", type=int, default=8)
            cmd.add_argument("--stream-mbit", type=float, default=0)
            cmd.add_argument("--daemon", action="store_true")
            cmd.add_argument("--mptcp", action="store_true", help="Multipath TCP connections")
        else:
            cmd.add_argument("--addresses", required=True)
            cmd.add_argument("--seed", type=int, required=True)
            cmd.add_argument("--offered-mbit", type=float, default=0)
            cmd.add_argument("--channels", default="rw=8,bulk=2,ctrl=1,meta=1")
        cmd.add_argument("--port", type=int, default=3001)
        cmd.add_argument("--seconds", type=float, default=5)
        cmd.add_argument("--links", default="", help="links whose counters frame the traffic window")
    cmd = sub.add_parser("sockets")
    cmd.add_argument("--links", required=True)
    cmd.add_argument("--ports", required=True)
    cmd.add_argument("--lasting", type=float, default=0.3, help="seconds between the two snapshots (0: one)")
    cmd = sub.add_parser("sample")
    cmd.add_argument("--links", required=True)
    cmd.add_argument("--ports", required=True)
    cmd.add_argument("--out", required=True)
    cmd.add_argument("--interval", type=float, default=0.1)
    cmd.add_argument("--seconds", type=float, required=True)
    cmd.add_argument("--daemon", action="store_true")
    sub.add_parser("status")
    return out


def main(argv=None):
    args = parser().parse_args(argv)
    links = parse_links(getattr(args, "links", ""))
    if getattr(args, "daemon", False):
        if args.command == "sink":
            server = listener(args.port, args.mptcp)  # listening before the caller hears the pid
            if not daemonize():
                return 0
            serve(server, args.seconds)
            return 0
        if not daemonize():
            return 0
    if args.command == "counters":
        result = {"time": time.time(), "bytes": counters(links)}
    elif args.command == "run":
        command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        result = run_sampled(links, args.interval, command)
    elif args.command == "sink":
        sink(args.port, args.seconds, args.mptcp)
        return 0
    elif args.command in ("streams", "emulate"):
        before = watchdog()
        if args.command == "streams":
            result = streams(args.address, args.port, args.count, args.seconds, args.stream_mbit, links, args.mptcp)
        else:
            result = emulate(args.addresses.split(","), args.port, args.seed, args.seconds, args.offered_mbit,
                             parse_channels(args.channels), links)
        result["watchdog"] = {"before": before, "after": watchdog()}
    elif args.command == "sockets":
        result = sockets(links, _ports(args.ports), args.lasting)
        result["watchdog"] = watchdog()
    elif args.command == "sample":
        sample_to(args.out, links, _ports(args.ports), args.interval, args.seconds)
        return 0
    else:
        result = {"watchdog": watchdog()}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
