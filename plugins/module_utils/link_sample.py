# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side of fabric verification: sample link byte counters, read the watchdog status,
count the fabric connections per link.

Runs on the target inside the link_sample module, so it uses the standard library only.
Samples are taken on a grid of wall-clock ticks, start_at + k * interval, that every node of
a run shares: the controller compares the nodes tick by tick, so a node whose sampling began
late (it was started after the others) simply has fewer ticks, never shifted ones.

Fabric connections are the established TCP sockets on the fabric port (``ss``), put on the
link whose subnet holds their local address. A socket this node opened keeps the addresses it
was opened with, also when the NAT rules moved it to another link (DNAT to the peer's address
there, SNAT to this node's): for those the connection tracking table
(/proc/net/nf_conntrack) tells the peer address the connection really goes to.

Under fabric_strategy mptcp every fabric connection is a Multipath TCP connection made of one
TCP *subflow* per link; ``ss -tni`` lists each subflow as a TCP socket whose info line has
``tcp-ulp-mptcp ... token:REMOTE(id:N)/LOCAL(id:M)``, the same LOCAL token for every subflow of
one connection on this host (the REMOTE one is 0000 on the first subflow of a connection this
host opened, the peer's token on its joins). mptcp_subflows() groups them by the local token and puts each subflow on the link of its local
address; a connection whose subflows cover fewer links than the node has is *short* (a subflow
that died and was not re-created, a join refused). The kernel's MPJoin counters (nstat's
MPTcpExtMPJoin*, read from /proc/net/netstat) tell whether joins happen and fail.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import os
import re
import time

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

SYS_NET = "/sys/class/net"
STATUS_FILE = "/run/clusterfabric/linkwatch.json"
CONNTRACK_FILE = "/proc/net/nf_conntrack"
NETSTAT_FILE = "/proc/net/netstat"
PORT_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
# The link watchdog's TCP probes leave from the ports just below the ephemeral range (roles/nat/
# files/linkwatch.py probe_source_ports; a unit test keeps the two rules equal). A probe the fabric
# port accepted is no fabric connection, and one whose reset was dropped by a full link queue
# stays established until the probe's port comes round again (up to a second).
PROBE_PORTS = 8
# At most this many short connections are listed one by one (all are counted).
SHORT_LISTED = 20
# Two looks at the fabric port this far apart: a plain TCP socket seen in both is a fabric
# connection without MPTCP; one seen once is a probe (the link watchdog's TCP connect, accepted
# by the MPTCP listener as plain TCP and reset within about a millisecond).
LASTING_GAP = 0.3
# A tick counts as missed when the sampler reaches it later than this fraction of an interval:
# a reading taken that late would not be simultaneous with the other nodes' any more.
LATE_FRACTION = 0.2
# How far in the future start_at may lie: beyond that the clocks or the input are wrong.
MAX_WAIT = 600.0


def counter_paths(links, root=None):
    """[(link, tx path, rx path)] for links [{name, device}]; a missing device is an error."""
    root = root or SYS_NET
    if not isinstance(links, (list, tuple)) or not links:
        raise FabricError("links must be a non-empty list of {name, device}, got %r" % (links,))
    paths = []
    seen = set()
    for link in links:
        if not isinstance(link, dict) or not link.get("name") or not link.get("device"):
            raise FabricError("every link needs a name and a device, got %r" % (link,))
        name, device = str(link["name"]), str(link["device"])
        if name in seen:
            raise FabricError("link %s is listed twice" % name)
        seen.add(name)
        if "/" in device or device in (".", ".."):
            raise FabricError("link %s: %r is not an interface name" % (name, device))
        stats = os.path.join(root, device, "statistics")
        if not os.path.isdir(stats):
            raise FabricError("link %s: this host has no interface %s (%s is missing); set the link's "
                              "device in fabric_links or fabric_nat_devices" % (name, device, stats))
        paths.append((name, os.path.join(stats, "tx_bytes"), os.path.join(stats, "rx_bytes")))
    return paths


def read_counters(paths):
    """{link: [tx_bytes, rx_bytes]} now."""
    out = {}
    for name, tx_path, rx_path in paths:
        values = []
        for path in (tx_path, rx_path):
            with open(path) as handle:
                values.append(int(handle.read().strip()))
        out[name] = values
    return out


def sample(paths, seconds, interval, start_at=None, clock=time.time, sleep=time.sleep, read=read_counters):
    """Read the counters at ticks start_at + k * interval, k = 0 .. round(seconds / interval).

    Returns [{"tick": k, "time": epoch of the read, "bytes": {link: [tx, rx]}}]. Ticks the
    sampler reaches more than a fifth of an interval late are skipped (and so missing from the list).
    """
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise FabricError("interval must be a positive number of seconds, got %r" % (interval,))
    if not isinstance(seconds, (int, float)) or seconds < interval:
        raise FabricError("seconds must be at least one interval (%r), got %r" % (interval, seconds))
    now = clock()
    base = now if start_at is None else float(start_at)
    if base - now > MAX_WAIT:
        raise FabricError("start_at %r is %.0f s in the future (at most %.0f s allowed): are the clocks "
                          "of the controller and this host set?" % (start_at, base - now, MAX_WAIT))
    ticks = int(round(seconds / interval))
    samples = []
    for tick in range(ticks + 1):
        target = base + tick * interval
        now = clock()
        if now > target + LATE_FRACTION * interval:
            continue
        if target > now:
            sleep(target - now)
        stamp = clock()
        samples.append({"tick": tick, "time": stamp, "bytes": read(paths)})
    if len(samples) < 2:
        raise FabricError("sampling window missed: this host started %.1f s after start_at, the window "
                          "was %.1f s; start later (verify.yml: -e verify_start_delay=SECONDS) or use more "
                          "forks" % (now - base, seconds))
    return samples


def read_status(path=STATUS_FILE):
    """(status, error): the parsed watchdog status file; (None, None) when there is none."""
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None, None
        return None, "%s: %s" % (path, exc)
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, "%s is not JSON: %s" % (path, exc)


# ---------------------------------------------------------------------------- fabric sockets
def ss_command(port, listening=False):
    """The ss command line (a list) for established sockets on ``port`` (either end), or for
    listening sockets on it."""
    if listening:
        return ["ss", "-Hltn", "( sport = :%d )" % port]
    return ["ss", "-Htn", "state", "established", "( sport = :%d or dport = :%d )" % (port, port)]


def parse_endpoint(text):
    """``198.18.0.11:3001``, ``[2001:2::11]:3001``, ``[fe80::1%eth0]:3001`` -> (ip address, port);
    None for anything else (a header, ``*:3001``)."""
    address, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        return None
    address = address.strip("[]").split("%")[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip, int(port)


def parse_ss(text):
    """[(local ip, local port, remote ip, remote port)] from ``ss -tn state established`` output
    (columns Recv-Q Send-Q Local Peer; a header line is skipped)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        local, remote = parse_endpoint(fields[2]), parse_endpoint(fields[3])
        if local is None or remote is None:
            continue
        out.append((local[0], local[1], remote[0], remote[1]))
    return out


def listening(text, port):
    """Whether ``ss -ltn`` output shows a socket listening on ``port`` (any address, ``*`` too)."""
    suffix = ":%d" % port
    return any(len(line.split()) >= 4 and line.split()[3].endswith(suffix) for line in text.splitlines())


def parse_conntrack(lines, port):
    """{(src, sport, dst, dport) of the original direction: (reply src, reply dst)} for the TCP
    entries of /proc/net/nf_conntrack whose original destination port is ``port``.

    The reply direction holds the addresses after NAT: its source is the peer address really
    dialled, its destination this node's address on the link really used."""
    wanted = "dport=%d" % port
    out = {}
    for line in lines:
        if wanted not in line or " tcp " not in line:
            continue
        tuples = []
        current = {}
        for field in line.split():
            name, equals, value = field.partition("=")
            if not equals or name not in ("src", "dst", "sport", "dport"):
                continue
            if name in current:
                tuples.append(current)
                current = {}
            current[name] = value
        tuples.append(current)
        if len(tuples) < 2 or any(len(entry) != 4 for entry in tuples[:2]):
            continue
        original, reply = tuples[0], tuples[1]
        try:
            key = (ipaddress.ip_address(original["src"]), int(original["sport"]),
                   ipaddress.ip_address(original["dst"]), int(original["dport"]))
            out[key] = (ipaddress.ip_address(reply["src"]), ipaddress.ip_address(reply["dst"]))
        except ValueError:
            continue
    return out


def link_networks(links):
    """[(name, network)] for links [{name, subnet}]; links without a subnet are left out."""
    out = []
    for link in links:
        if not isinstance(link, dict) or not link.get("subnet"):
            continue
        try:
            out.append((str(link["name"]), ipaddress.ip_network(str(link["subnet"]), strict=False)))
        except ValueError:
            raise FabricError("link %s: subnet %r is not a network" % (link.get("name"), link["subnet"]))
    return out


def _link_of(ip, networks):
    for name, network in networks:
        if ip.version == network.version and ip in network:
            return name
    return None


def probe_ports(path=None):
    """The link watchdog's probe source ports as this host's ephemeral range places them (the test
    bed's nodes and a fleet's share the kernel default); an empty set when it cannot be read."""
    try:
        with open(path or PORT_RANGE_FILE) as handle:
            low = int(handle.read().split()[0])
    except (IOError, OSError, ValueError, IndexError):
        return frozenset()
    return frozenset(range(low - PROBE_PORTS, low)) if low - PROBE_PORTS >= 1024 else frozenset()


def fabric_sockets(links, port, sockets, conntrack=None, probes=frozenset()):
    """Established fabric sockets per link: opened by this node (``out``) and accepted (``in``).

    links: [{name, subnet}]; port: the fabric port; sockets: parse_ss() output; conntrack:
    parse_conntrack() output, or None when the table could not be read. A socket is on the link
    whose subnet holds its local address; one this node opened (remote port = fabric port) is
    put on the link of the peer address the tracked connection really dials (after DNAT). Returns {links: {name:
    {out, in}}, other (sockets on none of the links), moved (opened sockets the NAT rules moved to
    another link than their own address says), nat_view (whether the connection tracking table
    was read), probes (accepted sockets from a port of ``probes``, probe_ports(): the link
    watchdogs' probes, not counted on a link)}.
    """
    networks = link_networks(links)
    counts = dict((name, {"out": 0, "in": 0}) for name, dummy in networks)
    other = moved = probed = 0
    for local, local_port, remote, remote_port in sockets:
        if local_port == port and remote_port in probes:
            probed += 1
            continue
        if local_port == port:
            direction, address = "in", local
        elif remote_port == port:
            direction, address = "out", local
            tracked = (conntrack or {}).get((local, local_port, remote, remote_port))
            # the peer address really dialled (after DNAT) decides the route, so the link
            if tracked is not None and tracked[0] != remote and _link_of(tracked[0], networks) is not None:
                address = tracked[0]
                if _link_of(address, networks) != _link_of(local, networks):
                    moved += 1
        else:
            continue
        name = _link_of(address, networks)
        if name is None:
            other += 1
        else:
            counts[name][direction] += 1
    return {"port": port, "links": counts, "other": other, "moved": moved, "nat_view": conntrack is not None,
            "probes": probed}


def read_conntrack(port, path=None):
    """parse_conntrack() of the connection tracking table; None when it cannot be read (no
    nf_conntrack, no procfs view of it): the counts then go by the sockets' own addresses."""
    try:
        with open(path or CONNTRACK_FILE) as handle:
            return parse_conntrack(handle, port)
    except (IOError, OSError):
        return None


# ---------------------------------------------------------------------------- MPTCP subflows
_TOKEN_RE = re.compile(r"token:([0-9a-fA-F]+)(?:\(id:\d+\))?(?:/([0-9a-fA-F]+)(?:\(id:\d+\))?)?")


def subflow_token(text):
    """The connection's local token named in an ``ss -i`` info text of an MPTCP subflow
    (``tcp-ulp-mptcp ... token:REMOTE/LOCAL``), "?" when it names none, None for plain TCP."""
    if "tcp-ulp-mptcp" not in text:
        return None
    match = _TOKEN_RE.search(text)
    return (match.group(2) or match.group(1)) if match else "?"


def subflows_command(port):
    """The ss command line for established TCP sockets on ``port`` with their info (``-i``): the
    info of an MPTCP subflow names the connection's tokens."""
    return ["ss", "-Htni", "state", "established", "( sport = :%d or dport = :%d )" % (port, port)]


def parse_subflows(text):
    """[(local ip, local port, remote ip, remote port, token or None)] from ``ss -Htni`` output.

    A socket line (Recv-Q Send-Q Local Peer) is followed by indented info lines; ``token`` is the
    connection's local token of an MPTCP subflow (``tcp-ulp-mptcp ... token:REMOTE/LOCAL``: the
    same on every subflow of a connection, where REMOTE is not), None for a plain TCP socket."""
    out = []
    current = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t"):
            if current is not None and "tcp-ulp-mptcp" in line:
                current[4] = subflow_token(line)
            continue
        fields = line.split()
        current = None
        if len(fields) < 4:
            continue
        local, remote = parse_endpoint(fields[2]), parse_endpoint(fields[3])
        if local is None or remote is None:
            continue
        current = [local[0], local[1], remote[0], remote[1], None]
        out.append(current)
        rest = " ".join(fields[4:])
        if "tcp-ulp-mptcp" in rest:  # info on the same line (older ss)
            current[4] = subflow_token(rest)
    return [tuple(entry) for entry in out]


def subflow_looks(read):
    """(earlier, later): parse_subflows() of two ``ss`` texts from ``read()`` LASTING_GAP apart, the
    two looks mptcp_subflows() takes to tell a plain fabric connection from a probe; None as soon
    as ``read()`` gives None (ss failed)."""
    looks = []
    for look in range(2):
        if look:
            time.sleep(LASTING_GAP)
        text = read()
        if text is None:
            return None
        looks.append(parse_subflows(text))
    return looks[0], looks[1]


def mptcp_subflows(links, port, sockets, earlier=None):
    """The subflows of the MPTCP fabric connections per link, and the connections short of a link.

    links: [{name, subnet}]; sockets: parse_subflows() output; earlier: the same of a look
    LASTING_GAP before, or None. Returns {port, connections (MPTCP connections on the port, opened
    and accepted), opened, plain (fabric connections without MPTCP: fallen back, or a peer without
    it; with ``earlier``, only those already in it), links {name: {subflows, connections}}, other
    (subflows on none of the links), short (connections whose subflows cover fewer links than
    there are), short_listed [{direction, peer, subflows, links}]}."""
    networks = link_networks(links)
    names = [name for name, dummy in networks]
    per_link = dict((name, {"subflows": 0, "connections": 0}) for name in names)
    connections = {}
    plain = other = 0
    seen_plain = None if earlier is None else set(entry[:4] for entry in earlier if entry[4] is None)
    for local, local_port, remote, remote_port, token in sockets:
        if local_port == port:
            direction = "in"
        elif remote_port == port:
            direction = "out"
        else:
            continue
        if token is None:
            if seen_plain is None or (local, local_port, remote, remote_port) in seen_plain:
                plain += 1
            continue
        # under anchor placement a node's accepted subflows all have its anchor as local address
        # (its NAT took them there): their link is the peer's address
        name = _link_of(local, networks) or _link_of(remote, networks)
        entry = connections.setdefault(token, {"direction": direction, "peer": str(remote), "subflows": 0, "links": []})
        entry["subflows"] += 1
        if name is None:
            other += 1
            continue
        per_link[name]["subflows"] += 1
        if name not in entry["links"]:
            entry["links"].append(name)
            per_link[name]["connections"] += 1
    short = [entry for dummy, entry in sorted(connections.items()) if len(entry["links"]) < len(names)]
    return {"port": port, "connections": len(connections),
            "opened": sum(1 for entry in connections.values() if entry["direction"] == "out"),
            "plain": plain, "links": per_link, "other": other, "short": len(short),
            "short_listed": [dict(entry, links=sorted(entry["links"], key=names.index)) for entry in short[:SHORT_LISTED]]}


def parse_netstat(text, prefix="MPJoin"):
    """{counter: value} of the MPTcpExt counters of /proc/net/netstat whose name starts with ``prefix``
    (what ``nstat -az MPTcpExtMPJoin*`` shows, without the MPTcpExt)."""
    lines = text.splitlines()
    for header, values in zip(lines, lines[1:]):
        if header.startswith("MPTcpExt:") and values.startswith("MPTcpExt:"):
            pairs = zip(header.split()[1:], values.split()[1:])
            return dict((name, int(value)) for name, value in pairs if name.startswith(prefix) and value.isdigit())
    return {}


def read_netstat(path=None):
    """parse_netstat() of /proc/net/netstat; {} without it or without MPTCP."""
    try:
        with open(path or NETSTAT_FILE) as handle:
            return parse_netstat(handle.read())
    except (IOError, OSError):
        return {}
