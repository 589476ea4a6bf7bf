# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration benchmark: the real Aerospike server moves data to a joining node over 1, 2 or 4 links.

The user's pain is a two-node cluster that saturates one link; moving data between nodes is
where it shows most. Per measurement (a *run*): a two-node test bed cluster (testbed, an
inventory written here, management network, Aerospike 8.1, namespace ``mig`` in memory with
replication-factor 2, the service on the management address) converged by playbooks/site.yml;
node2 stopped, node1 loaded with a few hundred MB through the client, node2 started; the run
lasts until both nodes show ``cluster_size`` 2 and ``migrate_partitions_remaining`` 0 and node2
holds every record. Every fabric link is limited by tbf to one rate, chosen so that the links
and not the server are the bottleneck: 50 Mbit/s with 2 links, 25 with 4, the same 100 Mbit/s in
total. (At 2 x 100 Mbit/s the server's one migrate thread set the pace: one link ran at 80 %, two
balanced links at 62 % each; ``--rate 100`` shows it.) The machine's CPU and the link load during
the run are recorded to show which it was.

Phases, side by side in one invocation, each switched the product's way (site.yml with
-e fabric_strategy=X, then a restart of both servers when the role did not restart them, so
that every fabric connection is opened under the phase's rules):

  single          fabric_strategy single without the nat role: the server publishes one fabric
                  address and nothing spreads it, i.e. one link only (the baseline). (The
                  product's ``single`` *with* the nat role spreads connections to that address
                  over every link; that is not a one-link baseline.)
  native          every fabric address published, no NAT: the server picks an address per socket
                  (rand()-salted hash, never seeded), measured over several runs and address plans
  balanced        every address published, balanced NAT (exact rotation per peer); the role
                  raises channel-bulk-fds to 4 (one per lane beyond 4)
  balanced_bulk2  (4 links) balanced with channel-bulk-fds forced back to the server's 2
                  (aerospike_network)
  mptcp           fabric_strategy mptcp: no NAT, a signal endpoint per link address, the servers
                  wrapped by the mptcp role (mptcpize's LD_PRELOAD library) so that every fabric
                  connection has a subflow per link; the benchmark restarts both servers. Measured
                  several times like native: a migration connection has about one record in
                  flight, so the kernel's scheduler keeps it on its first subflow, whose link the
                  server picks as under native (docs/mptcp.md)
  mptcp_placed    mptcp with fabric_mptcp_anchor_subnet: each server binds and publishes an anchor
                  address alone, NAT starts each new connection to a peer's anchor on the peer's
                  links in turn (and the bulk channel a socket per link at least), every connection
                  still has a subflow per link (docs/mptcp.md#placing-each-connection)

--phases picks others for the main plan: a strategy with modifiers _bulkN (channel-bulk-fds N)
and _mtN (migrate-threads N through aerospike_service; an _mtN phase is compared with single_mtN
when that was measured), e.g. --links 2 --phases single,balanced,single_mt4,balanced_mt4.

Speed-up of a phase = the one-link run's migration time / the phase's (mean, and worst for
native). The migration time runs from the first poll where both nodes see each other
(cluster_size 2) to the end; the time from ``systemctl start`` (node2's boot and the cluster's
formation, the same in every phase) is recorded beside it.

For every run the report keeps the raw figures: seconds, polls, per-link kernel byte counters of
both nodes, link load and CPU samples, and every fabric socket with its link as the *accepting*
node sees it (after NAT: the opener's own ``ss`` shows the address the server dialled, before
NAT), its channel (the opener's socket creation order: rw, ctrl, bulk, meta) and the bytes it
carried from node1 to node2. For native the observed picks are compared with a model of the
server's choice (glibc rand() from seed 1, Jenkins one-at-a-time hash of the salt and the
endpoint, merge sort), which says where in rand()'s sequence each node was.

  python benchmarks/migration.py [--links 2,4] [--quick] [--mb 300] [--out build/reports/migration.json]

Containers cfm-mig-*, subnets inside 198.19.160.0/20 only. Writes build/reports/migration.json
(top-level ``speedup``: link count -> phase -> speed-up over one link) and prints a table.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import ipaddress
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time

from ansible_collections.clusterfabric.multilink.plugins.module_utils.link_sample import subflow_token

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = os.path.join(ROOT, "build", "reports", "migration.json")
WORKDIR = os.path.join(ROOT, "build", "migration")
PREFIX = "cfm-mig"
GROUP = "fabric_mig"
NAMESPACE = "mig"
FABRIC_PORT = 3001
MGMT_SUBNET = "198.19.175.0/24"
LINK_SUBNET = "198.19.%d.0/24"
FIRST_LINK_OCTET = 160
# Per-link tbf rate by link count: the same 100 Mbit/s in total, the one-link baseline at one
# link's rate. Below what the server's one migrate thread moves here (2 x 100 Mbit/s: 124 Mbit/s
# balanced, 164 mptcp), so that the links set the pace.
RATES = {1: 50.0, 2: 50.0, 3: 33.0, 4: 25.0}
# Phases whose fabric placement changes with every server start: measured several times.
SAMPLED = ("native", "mptcp", "mptcp_placed")
# Address plans for native (chosen before any measurement): the first is the main plan, on
# which every phase runs. node1 is loaded; node2 joins.
PLANS = [
    {"offset": 10, "ids": [1, 2]},
    {"offset": 40, "ids": [3, 7]},
    {"offset": 100, "ids": [21, 22]},
    {"offset": 200, "ids": [5, 40]},
]
PHASES = ("single", "native", "balanced", "balanced_bulk2", "mptcp", "mptcp_placed")
PHASE_RE = re.compile(r"(single|native|balanced|mptcp)((?:_(?:bulk|mt)\d+|_placed)*)")
# mptcp_placed: the anchors of fabric_mptcp_anchor_subnet (docs/mptcp.md#placing-each-connection)
ANCHOR_SUBNET = "198.19.174.0/24"
# Aerospike's fabric channels in the order a node opens its sockets to a peer
# (fabric_node_connect_all walks the channels rw, ctrl, bulk, meta) and their default sizes.
CHANNELS = (("rw", 8), ("ctrl", 1), ("bulk", 2), ("meta", 1))
HEAVY_SHARE = 0.1
SAMPLE_SECONDS = 0.25
POLL_SECONDS = 0.2
M32 = 0xFFFFFFFF


# ============================================================================ phases
def phase_vars(phase, extra_plan=False):
    """site.yml extra vars of a phase: its strategy plus modifiers ``_bulkN`` (fabric
    channel-bulk-fds N through aerospike_network) and ``_mtN`` (migrate-threads N through
    aerospike_service), e.g. balanced_bulk2, single_mt4. ``single`` runs without the nat role
    (one link only); native on an ``extra_plan`` cluster, which never had NAT rules, too."""
    match = PHASE_RE.fullmatch(phase or "")
    if not match:
        raise ValueError("phase %r is not single, native, balanced or mptcp with _bulkN / _mtN modifiers" % (phase,))
    strategy = match.group(1)
    extra = {"fabric_strategy": strategy}
    if "_placed" in match.group(2):
        if strategy != "mptcp":
            raise ValueError("phase %r: _placed (anchor placement) exists only for mptcp" % (phase,))
        extra["fabric_mptcp_anchor_subnet"] = ANCHOR_SUBNET
    if strategy == "single" or (strategy == "native" and extra_plan):
        extra["fabric_roles"] = ["links", "aerospike"]
    for name, value in re.findall(r"_(bulk|mt)(\d+)", match.group(2)):
        if name == "bulk":
            extra["aerospike_network"] = {"fabric": {"channel-bulk-fds": int(value)}}
        else:
            extra["aerospike_service"] = {"migrate-threads": int(value)}
    return extra


def phase_order(phases):
    """Phases in table order: the known ones first, then the others as given."""
    known = [p for p in PHASES if p in phases]
    return known + [p for p in phases if p not in known]


# ============================================================================ the native model
def glibc_rand(count, seed=1):
    """The first ``count`` values of glibc's rand() after srand(seed) (TYPE_3, as never seeded: 1)."""
    state = [seed]
    for index in range(1, 31):
        high, low = divmod(state[index - 1], 127773)
        word = 16807 * low - 2836 * high
        state.append(word + 2147483647 if word < 0 else word)
    state += state[0:3]
    out = []
    for index in range(34, 344 + count):
        state.append((state[index - 31] + state[index - 3]) & M32)
        if index >= 344:
            out.append(state[index] >> 1)
    return out


def _one_at_a_time(data, value=0):
    for byte in bytearray(data):
        value = (value + byte) & M32
        value = (value + (value << 10)) & M32
        value ^= value >> 6
    return value


def endpoint_bytes(address, port):
    """as_endpoint as the server hashes it: capabilities, address type, port (host order, x86),
    then the address in network order."""
    ip = ipaddress.ip_address(address)
    return struct.pack("<BBH", 0, 1 if ip.version == 4 else 2, port) + ip.packed


def endpoint_hash(endpoint, salt):
    """endpoint_sort_hash of as/src/fabric/endpoint.c: one-at-a-time over the salt and the endpoint."""
    value = _one_at_a_time(endpoint, _one_at_a_time(struct.pack("<I", salt & M32)))
    value = (value + (value << 3)) & M32
    value ^= value >> 11
    return (value + (value << 15)) & M32


def _compare(first, second, salt):
    """endpoint_preference_compare for endpoints of one family and no TLS: (int)(hash1 - hash2)."""
    difference = (endpoint_hash(first, salt) - endpoint_hash(second, salt)) & M32
    return difference - (1 << 32) if difference >= 1 << 31 else difference


def _merge_sort(items, compare):
    """glibc's qsort_r for small arrays (msort: split n/2, stable merge taking the left on <= 0)."""
    if len(items) <= 1:
        return list(items)
    half = len(items) // 2
    left, right = _merge_sort(items[:half], compare), _merge_sort(items[half:], compare)
    out = []
    while left and right:
        out.append(left.pop(0) if compare(left[0], right[0]) <= 0 else right.pop(0))
    return out + left + right


def native_pick(addresses, salt, port=FABRIC_PORT):
    """Index in ``addresses`` (the peer's published fabric addresses, in order) that a socket
    whose sort was salted with ``salt`` dials first."""
    endpoints = [endpoint_bytes(address, port) for address in addresses]
    order = _merge_sort(list(range(len(endpoints))), lambda a, b: _compare(endpoints[a], endpoints[b], salt))
    return order[0]


def native_picks(addresses, start, count, port=FABRIC_PORT, values=None):
    """Picks of ``count`` sockets salted with rand() values ``start``, ``start`` + 1, ..."""
    values = values if values is not None else glibc_rand(start + count)
    return [native_pick(addresses, salt, port) for salt in values[start:start + count]]


def find_rand_position(observed, addresses, port=FABRIC_PORT, limit=4000, values=None):
    """Positions in rand()'s sequence at which the model gives exactly the ``observed`` picks
    (list of address indexes in socket order); [] when none up to ``limit``."""
    count = len(observed)
    if not count:
        return []
    values = values if values is not None else glibc_rand(limit + count)
    picks = [native_pick(addresses, salt, port) for salt in values[:limit + count]]
    return [start for start in range(limit) if picks[start:start + count] == list(observed)]


def channel_layout(fds):
    """Channel of each socket position a node opens to a peer: ``fds`` {channel: sockets}."""
    out = []
    for name, default in CHANNELS:
        out += [name] * int(fds.get(name, default))
    return out


def bulk_split(picks, layout, links):
    """{link: bulk sockets} for picks (link names in socket order) under ``layout``."""
    out = dict((link, 0) for link in links)
    for link, channel in zip(picks, layout):
        if channel == "bulk":
            out[link] += 1
    return out


def socket_bound_speedup(per_link):
    """Speed-up over one link that the heavy sockets allow when every one carries the same bytes
    (as the server's fabric does: it hands messages to whichever socket of the channel is idle)
    and the links have equal rates: sockets in all / sockets on the busiest link."""
    counts = list(per_link.values())
    return round(sum(counts) / float(max(counts)), 3) if counts and max(counts) else None


def native_bulk_model(peer_addresses, fds, positions, port=FABRIC_PORT, values=None):
    """{(bulk sockets per link index, ...): share of ``positions``}: the links of one node's bulk
    sockets when its first socket to the peer is salted at each rand() position (no failed
    connects: the sockets in channel order)."""
    layout = channel_layout(fds)
    count = len(layout)
    positions = list(positions)
    values = values if values is not None else glibc_rand(max(positions) + count + 1)
    picks = [native_pick(peer_addresses, salt, port) for salt in values[:max(positions) + count]]
    out = {}
    for start in positions:
        split = [0] * len(peer_addresses)
        for index, channel in enumerate(layout):
            if channel == "bulk":
                split[picks[start + index]] += 1
        key = tuple(split)
        out[key] = out.get(key, 0) + 1.0 / len(positions)
    return out


def combine_bulk_models(first, second):
    """Speed-up distribution {speed-up: probability} of two independent nodes' bulk splits."""
    out = {}
    for split1, p1 in first.items():
        for split2, p2 in second.items():
            per_link = dict((i, a + b) for i, (a, b) in enumerate(zip(split1, split2)))
            speed = socket_bound_speedup(per_link)
            out[speed] = out.get(speed, 0.0) + p1 * p2
    return dict((k, round(v, 4)) for k, v in sorted(out.items()))


def distribution_summary(distribution):
    """mean, worst and the chance of the worst of a {speed-up: probability} distribution."""
    if not distribution:
        return {}
    mean = sum(k * v for k, v in distribution.items()) / sum(distribution.values())
    worst = min(distribution)
    return {"mean": round(mean, 3), "worst": worst, "p_worst": distribution[worst],
            "best": max(distribution), "p_best": distribution[max(distribution)]}


# ============================================================================ ss and sockets
SS_ADDRESS = re.compile(r"^\[?([0-9a-fA-F:.]+?)(?:%\S+)?\]?:(\d+)$")


def _endpoint(text):
    match = SS_ADDRESS.match(text)
    if not match:
        return None, None
    return match.group(1), int(match.group(2))


def parse_ss(text):
    """Sockets of ``ss -Htnie state established`` output: [{local, lport, remote, rport, ino,
    bytes_acked, bytes_received, bytes_sent, ..., token}] (-i puts its figures on indented lines;
    ``token``: the MPTCP connection's local token of a subflow, None for plain TCP)."""
    sockets = []
    current = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            fields = line.split()
            if len(fields) < 4:
                current = None
                continue
            local, lport = _endpoint(fields[2])
            remote, rport = _endpoint(fields[3])
            if local is None or remote is None:
                current = None
                continue
            current = {"local": local, "lport": lport, "remote": remote, "rport": rport, "ino": None, "token": None}
            for token in fields[4:]:
                if token.startswith("ino:"):
                    current["ino"] = int(token[4:])
            sockets.append(current)
            continue
        if current is None:
            continue
        if current["token"] is None:
            current["token"] = subflow_token(line)
        for token in line.split():
            key, colon, value = token.partition(":")
            if colon and key in ("bytes_sent", "bytes_acked", "bytes_received", "bytes_retrans") and value.isdigit():
                current[key] = int(value)
            elif key.startswith("ino") and colon and value.isdigit():
                current["ino"] = int(value)
    return sockets


def link_of(address, networks):
    """Name of the link whose subnet holds ``address`` ([(name, ip_network)]), else None."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    for name, network in networks:
        if ip.version == network.version and ip in network:
            return name
    return None


def accepted_link(sock, networks):
    """The link an accepted socket rides: its local address's, or, under mptcp_placed, where the
    acceptor's local address is its anchor, the peer's."""
    return link_of(sock["local"], networks) or link_of(sock["remote"], networks)


def accepted_bytes(sock, acceptor, hosts, toward_second):
    """Bytes an accepted socket carried from the first of ``hosts`` to the second
    (``toward_second``) or back: the acceptor's bytes_acked are what it sent, bytes_received
    what it got."""
    sent = sock.get("bytes_acked", sock.get("bytes_sent", 0))
    received = sock.get("bytes_received", 0)
    return received if (acceptor != hosts[0]) == toward_second else sent


def fabric_sockets(ss_by_host, networks, port=FABRIC_PORT, fds=None, order=None):
    """Every fabric connection between the hosts, once: opener, acceptor, the link as the
    acceptor sees it (its local address is the one the connection really reached, after DNAT),
    the link the opener dialled (its own view, before NAT), the opener's socket position and
    channel (by socket inode order), and bytes each way (from the acceptor's counters).

    ``ss_by_host`` {host: [parse_ss socket]}; ``order`` the hosts in node-id order (default:
    sorted) so that 'a_to_b' bytes run from the first host to the second."""
    hosts = list(order or sorted(ss_by_host))
    layout = channel_layout(fds or {})
    opened = {}
    for host in hosts:
        outs = [s for s in ss_by_host[host] if s["rport"] == port and s["lport"] != port
                and link_of(s["local"], networks)]
        outs.sort(key=lambda s: (s["ino"] is None, s["ino"] or 0))
        for position, sock in enumerate(outs):
            channel = layout[position] if len(outs) == len(layout) and position < len(layout) else "unknown"
            opened.setdefault((host, sock["lport"]), []).append((position, channel, sock))
    rows = []
    for acceptor in hosts:
        for sock in ss_by_host[acceptor]:
            if sock["lport"] != port or sock["rport"] == port:
                continue
            link = accepted_link(sock, networks)
            if link is None:
                continue
            candidates = [(h, entry) for h in hosts if h != acceptor for entry in opened.get((h, sock["rport"]), [])]
            opener, position, channel, dialled = None, None, "unknown", None
            if len(candidates) == 1:
                opener, (position, channel, out) = candidates[0]
                dialled = link_of(out["remote"], networks)
            rows.append({
                "opener": opener, "acceptor": acceptor, "link": link, "dialled_link": dialled,
                "position": position, "channel": channel,
                "acceptor_address": sock["local"], "opener_address": sock["remote"], "opener_port": sock["rport"],
                "bytes_a_to_b": accepted_bytes(sock, acceptor, hosts, toward_second=True),
                "bytes_b_to_a": accepted_bytes(sock, acceptor, hosts, toward_second=False),
            })
    rows.sort(key=lambda r: (hosts.index(r["opener"]) if r["opener"] in hosts else len(hosts),
                             r["position"] if r["position"] is not None else 999))
    return rows


def mptcp_connections(ss_by_host, networks, port=FABRIC_PORT, order=None, heavy_share=HEAVY_SHARE):
    """The MPTCP fabric connections as their acceptors see them (parse_ss sockets grouped by
    token): per connection the bytes from the first host to the second per link, and its
    *carrier*, the link that took most of them. A connection's other subflows carry bytes only
    when its sender has more queued than one subflow takes (docs/mptcp.md), so the carriers of
    the heavy connections say how evenly a phase placed its load: ``heavy_per_carrier``."""
    hosts = list(order or sorted(ss_by_host))
    names = [name for name, dummy in networks]
    connections = []
    for acceptor in hosts:
        groups = {}
        for sock in ss_by_host[acceptor]:
            if sock["lport"] != port or sock["rport"] == port or not sock.get("token"):
                continue
            link = accepted_link(sock, networks)
            if link is None:
                continue
            entry = groups.setdefault(sock["token"], dict((name, 0) for name in names))
            entry[link] += accepted_bytes(sock, acceptor, hosts, toward_second=True)
        for token, per_link in sorted(groups.items()):
            total = sum(per_link.values())
            carrier = max(names, key=lambda name: per_link[name]) if total else None
            connections.append({"acceptor": acceptor, "token": token, "bytes_per_link": per_link, "bytes": total,
                                "carrier": carrier, "carrier_share": round(per_link[carrier] / float(total), 3) if total else None,
                                "links": [name for name in names if per_link[name]]})
    top = max([c["bytes"] for c in connections] or [0])
    heavy = [c for c in connections if top and c["bytes"] >= heavy_share * top]
    return {"connections": connections, "heavy": len(heavy),
            "heavy_per_carrier": dict((name, sum(1 for c in heavy if c["carrier"] == name)) for name in names),
            "heavy_carrier_share": round(sum(c["bytes_per_link"][c["carrier"]] for c in heavy)
                                         / float(sum(c["bytes"] for c in heavy)), 3) if heavy else None}


def socket_summary(rows, links, heavy_share=HEAVY_SHARE):
    """Per opener: links of its sockets in order (as reached and as dialled), sockets per link,
    the bulk sockets' links; and the *heavy* sockets (those that carried at least
    ``heavy_share`` of the largest socket's bytes from the first host to the second)."""
    out = {"by_opener": {}, "heavy": []}
    top = max([r["bytes_a_to_b"] for r in rows] or [0])
    for row in rows:
        entry = out["by_opener"].setdefault(str(row["opener"]), {
            "links": [], "dialled": [], "per_link": dict((link, 0) for link in links),
            "bulk_links": [], "channels": []})
        entry["links"].append(row["link"])
        entry["dialled"].append(row["dialled_link"])
        entry["channels"].append(row["channel"])
        entry["per_link"][row["link"]] = entry["per_link"].get(row["link"], 0) + 1
        if row["channel"] == "bulk":
            entry["bulk_links"].append(row["link"])
        if top and row["bytes_a_to_b"] >= heavy_share * top:
            out["heavy"].append({"opener": row["opener"], "link": row["link"], "channel": row["channel"],
                                 "bytes": row["bytes_a_to_b"]})
    out["heavy_per_link"] = dict((link, sum(1 for h in out["heavy"] if h["link"] == link)) for link in links)
    out["heavy_bytes_per_link"] = dict((link, sum(h["bytes"] for h in out["heavy"] if h["link"] == link)) for link in links)
    return out


# ============================================================================ connection attempts
ATTEMPTS_TABLE = "cfm_mig_count"
NAT_TABLE = "clusterfabric_multilink"
# linkwatch.PROBE_MARK: the watchdog's probes are not fabric connections (the NAT rules let
# them pass unsteered), so they are not counted.
PROBE_MARK = 0x63666D6C


def attempts_script(peer_addresses, port=FABRIC_PORT, mark=PROBE_MARK):
    """nft commands that (re)create a counting-only table: one rule per peer address counting
    the SYNs this node sends to it (after NAT: the address the connection really goes to).
    Stateless (no connection tracking), no verdict: it changes nothing."""
    commands = ["add table inet %s" % ATTEMPTS_TABLE, "delete table inet %s" % ATTEMPTS_TABLE,
                "add table inet %s" % ATTEMPTS_TABLE,
                "add chain inet %s out { type filter hook output priority 10; policy accept; }" % ATTEMPTS_TABLE]
    for address in peer_addresses:
        family = "ip" if ipaddress.ip_address(address).version == 4 else "ip6"
        commands.append("add rule inet %s out %s daddr %s tcp dport %d tcp flags & (syn | ack) == syn "
                        "meta mark != 0x%08x counter" % (ATTEMPTS_TABLE, family, address, port, mark))
    return "; ".join(commands)


ATTEMPT_RULE = re.compile(r"ip6? daddr (\S+) tcp dport \d+ .*counter packets (\d+)")


def parse_attempts(text):
    """{address: SYNs} from ``nft list table inet cfm_mig_count``."""
    return dict((m.group(1), int(m.group(2))) for m in ATTEMPT_RULE.finditer(text))


# ============================================================================ figures
def counter_delta(before, after):
    """{link: {tx, rx}} differences of two Cluster.counters() readings."""
    return dict((link, dict((key, after[link][key] - before[link][key]) for key in ("tx", "rx")))
                for link in after)


def cpu_busy(first, last):
    """Busy share of all CPUs between two /proc/stat 'cpu' lines given as lists of ints
    (user nice system idle iowait irq softirq steal ...)."""
    total = sum(last) - sum(first)
    idle = (last[3] + last[4]) - (first[3] + first[4])
    return round((total - idle) / float(total), 4) if total > 0 else None


def window_samples(samples, start, end):
    """Samples (dicts with 't') from the last one at or before ``start`` to the first at or after ``end``."""
    inside = [s for s in samples if start <= s["t"] <= end]
    before = [s for s in samples if s["t"] < start]
    after = [s for s in samples if s["t"] > end]
    return ([before[-1]] if before else []) + inside + ([after[0]] if after else [])


def link_load(samples, devices, rates, start, end):
    """Link load of one node's transmit side during [start, end] from sampler records
    ({'t', 'tx': {device: bytes}}): per link mean Mbit/s and share of its rate, and the share
    in each sampling interval (series)."""
    window = window_samples(samples, start, end)
    out = {}
    if len(window) < 2:
        return out
    seconds = window[-1]["t"] - window[0]["t"]
    for link, device in devices.items():
        sent = window[-1]["tx"][device] - window[0]["tx"][device]
        mbit = sent * 8 / 1e6 / seconds if seconds > 0 else 0.0
        series = []
        for first, second in zip(window, window[1:]):
            span = second["t"] - first["t"]
            if span > 0:
                series.append(round((second["tx"][device] - first["tx"][device]) * 8 / 1e6 / span / rates[link], 3))
        out[link] = {"mbit": round(mbit, 1), "utilisation": round(mbit / rates[link], 3),
                     "median_interval_utilisation": round(statistics.median(series), 3) if series else None,
                     "series": series}
    return out


def sampled_cpu(samples, start, end):
    window = window_samples(samples, start, end)
    if len(window) < 2:
        return None
    return cpu_busy(window[0]["cpu"], window[-1]["cpu"])


def migration_window(polls):
    """(formed, done) seconds from a run's polls [t, size1, remaining1, size2, remaining2, objects2?]:
    the first poll with both nodes at cluster_size >= 2, and the last poll (the run ends at
    the first poll that shows it finished)."""
    formed = None
    for poll in polls:
        if poll[1] >= 2 and poll[3] >= 2:
            formed = poll[0]
            break
    return formed, (polls[-1][0] if polls else None)


def _mean(values):
    return statistics.mean(values) if values else None


def baseline_of(phase, measured):
    """The one-link phase a phase is compared with: ``single`` with the phase's own server
    settings (its _mtN modifier) when that was measured, else ``single``. channel-bulk-fds
    (_bulkN) is part of the fabric being compared, so it is not matched."""
    match = PHASE_RE.fullmatch(phase)
    threads = re.findall(r"_mt\d+", match.group(2)) if match else []
    candidate = "single" + "".join(threads)
    return candidate if candidate in measured else "single"


def speedups(runs):
    """({links: {phase: speed-up}}, {links: {phase: baseline phase}}) from run records ({links,
    phase, seconds, ...}): the baseline's mean seconds (baseline_of) over the phase's mean
    seconds; for native ``native_mean`` (the mean of all native runs, every plan),
    ``native_worst`` (its slowest run) and ``native_best`` instead."""
    out, bases = {}, {}
    for links in sorted(set(r["links"] for r in runs)):
        mine = [r for r in runs if r["links"] == links and r.get("seconds")]
        measured = set(r["phase"] for r in mine)
        entry, used = {}, {}
        for phase in sorted(measured):
            baseline = baseline_of(phase, measured)
            base = _mean([r["seconds"] for r in mine if r["phase"] == baseline])
            if not base:
                continue
            seconds = [r["seconds"] for r in mine if r["phase"] == phase]
            if phase == "native":
                entry["native_mean"] = round(base / _mean(seconds), 3)
                entry["native_worst"] = round(base / max(seconds), 3)
                entry["native_best"] = round(base / min(seconds), 3)
            else:
                entry[phase] = round(base / _mean(seconds), 3)
                if len(seconds) > 1:
                    entry[phase + "_worst"] = round(base / max(seconds), 3)
                    entry[phase + "_best"] = round(base / min(seconds), 3)
            used[phase] = baseline
        if entry:
            out[str(links)] = entry
            bases[str(links)] = used
    return out, bases


def native_verdict(runs, links, tolerance=0.1):
    """'even', 'uneven' or 'either' for native with ``links`` links, against balanced (the exact
    split) of the same invocation: 'even' when every native run took at most ``tolerance``
    longer than the fastest balanced run, 'uneven' when none did, 'either' otherwise."""
    mine = [r for r in runs if r["links"] == links and r["phase"] == "native" and r.get("seconds")]
    balanced = [r["seconds"] for r in runs if r["links"] == links and r["phase"] == "balanced" and r.get("seconds")]
    if not mine or not balanced:
        return None
    best = min(balanced)
    slow = [r for r in mine if r["seconds"] > best * (1 + tolerance)]
    if not slow:
        return "even"
    if len(slow) == len(mine):
        return "uneven"
    return "either"


def table(report):
    """The summary table: one line per link count and phase (speed-ups over baseline_of the phase;
    cpu: the machine's CPUs busy during the migration; load: node1's busiest link's mean
    transmit rate over its tbf rate)."""
    lines = ["%-6s %-15s %5s %9s %9s %8s %8s %7s %7s  %s" % (
        "links", "phase", "runs", "mean s", "worst s", "speedup", "worst", "cpu", "load", "bytes node1->node2 per link (MB), mean")]
    for links in sorted(set(r["links"] for r in report["runs"])):
        mine = [r for r in report["runs"] if r["links"] == links and r.get("seconds")]
        measured = set(r["phase"] for r in mine)
        for phase in phase_order(sorted(measured)):
            runs = [r for r in mine if r["phase"] == phase]
            base = _mean([r["seconds"] for r in mine if r["phase"] == baseline_of(phase, measured)])
            if not runs:
                continue
            seconds = [r["seconds"] for r in runs]
            mean, worst = _mean(seconds), max(seconds)
            per_link = {}
            for run in runs:
                for link, delta in run["counters"]["node1"].items():
                    per_link.setdefault(link, []).append(delta["tx"] / 1e6)
            cpu = [r["cpu_busy"] for r in runs if r.get("cpu_busy") is not None]
            load = [max(v["utilisation"] for v in r["link_load_node1_tx"].values()) for r in runs if r.get("link_load_node1_tx")]
            lines.append("%-6s %-15s %5d %9.1f %9.1f %8s %8s %7s %7s  %s" % (
                links, phase, len(runs), mean, worst,
                "%.2fx" % (base / mean) if base else "-", "%.2fx" % (base / worst) if base else "-",
                "%.0f%%" % (100 * _mean(cpu)) if cpu else "-", "%.0f%%" % (100 * _mean(load)) if load else "-",
                " ".join("%s %.0f" % (link, _mean(v)) for link, v in sorted(per_link.items()))))
    return "\n".join(lines)


# ============================================================================ live
SAMPLER = r"""
import json, os, sys, time
devices = sys.argv[1].split(",")
out, stop, limit = sys.argv[2], sys.argv[3], time.time() + float(sys.argv[4])
with open(out, "w") as handle:
    while time.time() < limit and not os.path.exists(stop):
        record = {"t": time.clock_gettime(time.CLOCK_BOOTTIME), "tx": {}, "rx": {}}
        for device in devices:
            for key in ("tx", "rx"):
                with open("/sys/class/net/%s/statistics/%s_bytes" % (device, key)) as f:
                    record[key][device] = int(f.read())
        with open("/proc/stat") as f:
            record["cpu"] = [int(v) for v in f.readline().split()[1:]]
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        time.sleep(float(sys.argv[5]))
"""
SAMPLER_PATH = "/usr/local/lib/cfm-mig-sampler.py"
SAMPLES_PATH = "/tmp/cfm-mig-samples.jsonl"
STOP_PATH = "/tmp/cfm-mig-stop"


def shell_quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def boottime():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class Bench(object):
    """One invocation: clusters, phases and runs; every figure goes into ``self.report``."""

    def __init__(self, args):
        # Imported here so that the pure parts above import without podman or the test bed.
        from testbed import aerospike as tb_aerospike  # pylint: disable=import-outside-toplevel
        from testbed import cluster as tb_cluster  # pylint: disable=import-outside-toplevel
        from testbed import inventory as tb_inventory  # pylint: disable=import-outside-toplevel
        from testbed import podman as tb_podman  # pylint: disable=import-outside-toplevel
        self.tb = {"aerospike": tb_aerospike, "cluster": tb_cluster, "inventory": tb_inventory, "podman": tb_podman}
        self.args = args
        self.cluster = None
        self.server = None
        self.topo = None
        self.topo_path = None
        self.loaded = 0
        self.records = 0
        self.started = time.monotonic()
        self.report = {"benchmark": "migration", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "command": " ".join(["python"] + [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
                       "settings": {}, "converges": [], "restarts": [], "runs": [], "notes": []}

    # ------------------------------------------------------------------ helpers
    def log(self, text):
        print("[%6.1f s] %s" % (time.monotonic() - self.started, text))
        sys.stdout.flush()

    def inventory(self, links, plan, rate):
        link_defs = [{"name": "fab%d" % i, "subnet": LINK_SUBNET % (FIRST_LINK_OCTET + i), "device": "eth%d" % i,
                      "offset": plan["offset"]} for i in range(links)]
        group_vars = {
            "fabric_ports": [FABRIC_PORT], "fabric_strategy": "single", "fabric_links": link_defs,
            "fabric_links_backend": "networkd", "aerospike_version": "8.1",
            "aerospike_service_addresses": ["{{ testbed_mgmt_address }}"],
            "aerospike_restart": True, "aerospike_restart_wait": "cluster",
            "aerospike_namespaces": [{"name": NAMESPACE, "replication-factor": 2,
                                      "storage-engine": {"type": "memory", "data-size": "1G"}}],
            "testbed_prefix": PREFIX, "testbed_mgmt_subnet": MGMT_SUBNET, "testbed_rate_mbit": rate,
            # the mptcp phase's role wants it, and /proc/sys is read-only in the containers
            "testbed_sysctls": {"net.mptcp.blackhole_timeout": 0},
            "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3",
        }
        mgmt = ipaddress.ip_network(MGMT_SUBNET)
        hosts = dict(("node%d" % (index + 1), {
            "fabric_node_id": node_id, "ansible_host": "%s-node%d" % (PREFIX, index + 1),
            "testbed_mgmt_address": str(mgmt.network_address + 11 + index)}) for index, node_id in enumerate(plan["ids"]))
        os.makedirs(WORKDIR, exist_ok=True)
        path = os.path.join(WORKDIR, "inventory-%dlinks-offset%d.json" % (links, plan["offset"]))
        return self.tb["inventory"].write(path, GROUP, hosts, group_vars)

    def up(self, links, plan):
        rate = self.args.rate or RATES[links]
        path = self.inventory(links, plan, rate)
        self.topo = self.tb["inventory"].topology(path)
        if self.cluster is not None:
            self.cluster.down()
        self.cluster = self.tb["cluster"].Cluster(self.topo)
        self.cluster.up()
        self.server = self.tb["aerospike"].Server(self.cluster)
        self.loaded = 0
        self.cluster.copy("node1", self._sampler_file(), SAMPLER_PATH)
        self.log("cluster up: %d links of %g Mbit/s, plan offset %d, node ids %s"
                 % (links, rate, plan["offset"], plan["ids"]))
        return path

    def _sampler_file(self):
        path = os.path.join(WORKDIR, "sampler.py")
        with open(path, "w") as handle:
            handle.write(SAMPLER)
        return path

    def down(self):
        if self.cluster is not None and not self.args.keep:
            self.cluster.down()
            self.cluster = None

    def networks(self):
        return [(link["name"], ipaddress.ip_network(link["subnet"])) for link in self.topo.links]

    def pids(self):
        return dict((h, self.cluster.run(h, "systemctl show -p MainPID --value aerospike", check=False).stdout.strip())
                    for h in self.cluster.hosts)

    def nat_tables(self, host):
        text = self.cluster.run(host, "nft list tables", check=False).stdout
        return sorted(line.split()[-1] for line in text.splitlines() if line.strip())

    def fds(self, host):
        text = self.server.info(host, ["get-config:context=network"]).get("get-config:context=network", "")
        values = self.tb_pairs(text)
        return dict((name, int(values.get("fabric.channel-%s-fds" % name, default))) for name, default in CHANNELS)

    def peer_of(self, host):
        return [h for h in self.cluster.hosts if h != host][0]

    def reset_attempts(self):
        for host in self.cluster.hosts:
            peer = self.topo.plan[self.peer_of(host)]
            addresses = [address for link in self.topo.links for address in peer[link["name"]]]
            self.cluster.run(host, "nft %s" % shell_quote(attempts_script(addresses)))

    def read_attempts(self):
        """{host: {link: fabric connection attempts (SYNs) since reset_attempts}}."""
        out = {}
        for host in self.cluster.hosts:
            counts = parse_attempts(self.cluster.run(host, "nft list table inet %s" % ATTEMPTS_TABLE, check=False).stdout)
            networks = self.networks()
            per_link = dict((link["name"], 0) for link in self.topo.links)
            for address, count in counts.items():
                per_link[link_of(address, networks)] += count
            out[host] = per_link
        return out

    @staticmethod
    def tb_pairs(text):
        out = {}
        for item in text.split(";"):
            name, equals, value = item.partition("=")
            if equals:
                out[name] = value
        return out

    # ------------------------------------------------------------------ converge and restart
    def playbook(self, extra, log):
        """playbooks/site.yml with ``extra`` vars on the cluster; seconds it took."""
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "build", "collections"))
        tool = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        start = time.monotonic()
        with open(log, "w") as handle:
            result = subprocess.run([tool if os.path.exists(tool) else "ansible-playbook", "-i", self.topo_path,
                                     os.path.join(ROOT, "playbooks", "site.yml"), "-e", json.dumps(extra)],
                                    stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT, check=False)
        if result.returncode != 0:
            with open(log) as handle:
                tail = handle.read()[-3000:]
            raise self.tb["podman"].TestbedError("site.yml -e %s failed (%d); %s ends:\n%s"
                                                 % (json.dumps(extra), result.returncode, log, tail))
        return round(time.monotonic() - start, 1)

    def converge(self, phase, links, plan_index):
        # An extra address plan is a fresh cluster that never had NAT rules: the nat role would
        # only confirm that none are there (state absent), so native skips it there to save time.
        extra = phase_vars(phase, extra_plan=bool(plan_index))
        name = "site-%dlinks-plan%d-%s" % (links, plan_index, phase)
        cleared = None
        if "nat" not in extra.get("fabric_roles", ["nat"]) and any(
                NAT_TABLE in self.nat_tables(h) for h in self.cluster.hosts):
            # single skips the nat role; rules an earlier phase left would still spread (and
            # refuse) connections: remove them the product's way first (nat role, native).
            cleared = self.playbook({"fabric_strategy": "native", "fabric_roles": ["nat"]},
                                    os.path.join(WORKDIR, name + "-nat-removal.log"))
        before = self.pids()
        self.reset_attempts()
        seconds = self.playbook(extra, os.path.join(WORKDIR, name + ".log"))
        after = self.pids()
        restarted_by = "role" if all(before[h] != after[h] for h in before) else None
        if restarted_by is None:
            self.restart_both()
            restarted_by = "benchmark"
        self.loaded = 0
        entry = {"links": links, "plan": plan_index, "phase": phase, "extra_vars": extra, "seconds": seconds,
                 "nat_removed_first_s": cleared,
                 "restarted_by": restarted_by, "nft_tables": dict((h, self.nat_tables(h)) for h in self.cluster.hosts),
                 "fds": self.fds("node1")}
        entry.update(self.snapshot_connections("after the restart"))
        entry["attempts"] = self.read_attempts()
        self.report["converges"].append(entry)
        self.log("site.yml %s: %.0f s, restarted by the %s; sockets by opener and link %s, connection attempts %s" % (
            phase, seconds, restarted_by, entry["sockets"]["summary"], entry["attempts"]))
        return entry

    def restart_both(self):
        """Both servers at once, as the role's handler does on a changed aerospike.conf."""
        procs = [subprocess.Popen(["podman", "exec", self.cluster.container(h), "systemctl", "restart", "aerospike"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.tb["podman"].env())
                 for h in self.cluster.hosts]
        for proc in procs:
            proc.wait()
        self.server.wait_cluster(timeout=120)

    def snapshot_connections(self, when, settle=60):
        """Fabric sockets of both nodes once the expected number is open (or ``settle`` s passed)."""
        fds = self.fds("node1")
        expected = len(channel_layout(fds)) * 2
        deadline = time.monotonic() + settle
        while True:
            ss = self.ss()
            rows = fabric_sockets(ss, self.networks(), fds=fds, order=self.cluster.hosts)
            if len(rows) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        summary = socket_summary(rows, [link["name"] for link in self.topo.links])
        return {"sockets": {"when": when, "expected": expected, "rows": rows,
                            "summary": dict((o, e["per_link"]) for o, e in summary["by_opener"].items()),
                            "detail": summary}}

    def ss(self):
        return dict((h, parse_ss(self.cluster.run(
            h, "ss -Htnie state established '( sport = :%d or dport = :%d )' 2>/dev/null" % (FABRIC_PORT, FABRIC_PORT)).stdout))
            for h in self.cluster.hosts)

    # ------------------------------------------------------------------ one run
    def load(self):
        """node2 stopped; node1 holds the data set (loaded once per server start)."""
        self.server.stop(["node2"])
        self.server.wait({"cluster_size": 1}, ["node1"], timeout=60)
        self.wait_migrations(["node1"])
        if not self.loaded:
            workload = None
            deadline = time.monotonic() + 30
            while workload is None:
                try:
                    workload = self.tb["aerospike"].Workload(self.cluster, NAMESPACE, record_bytes=self.args.record_bytes,
                                                             threads=16, hosts=["node1"])
                except Exception as exc:  # pylint: disable=broad-except
                    if time.monotonic() > deadline:
                        raise
                    self.log("client not ready yet: %s" % exc)
                    time.sleep(0.5)
            try:
                result = workload.load(self.args.mb * 1000 * 1000)
            finally:
                workload.close()
            if result["failed"]:
                raise self.tb["podman"].TestbedError("loading node1: %d writes failed %s" % (result["failed"], result["failed_by_error"]))
            self.loaded = result["writes"]
            self.records = result["writes"]
            self.log("node1 loaded: %d records of %d bytes in %.1f s" % (result["writes"], self.args.record_bytes, result["seconds"]))
        objects = self.objects("node1")
        if objects != self.records:
            raise self.tb["podman"].TestbedError("node1 holds %s records, expected %d" % (objects, self.records))

    def objects(self, host):
        text = self.server.info(host, ["namespace/%s" % NAMESPACE]).get("namespace/%s" % NAMESPACE, "")
        value = self.tb_pairs(text).get("objects")
        return int(value) if value is not None and value.isdigit() else None

    def wait_migrations(self, hosts, timeout=120):
        deadline = time.monotonic() + timeout
        while any(v != 0 for v in self.server.migrations_remaining(hosts).values()):
            if time.monotonic() > deadline:
                raise self.tb["podman"].TestbedError("migrations on %s did not finish in %d s" % (hosts, timeout))
            time.sleep(0.3)

    def asd_cpu(self, host):
        """CPU seconds (user + system) of the node's asd so far."""
        text = self.cluster.run(host, "cat /proc/$(systemctl show -p MainPID --value aerospike)/stat", check=False).stdout
        fields = text.rsplit(")", 1)[-1].split()
        try:
            return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))
        except (IndexError, ValueError):
            return None

    def poll(self):
        row = []
        for host in ("node1", "node2"):
            try:
                stats = self.server.statistics(host, timeout=2.0)
                row += [int(stats.get("cluster_size", 0)), int(stats.get("migrate_partitions_remaining", -1))]
            except Exception:  # pylint: disable=broad-except
                row += [0, -1]
        return row

    def run(self, phase, links, plan_index, plan, sample):
        self.load()
        devices = dict((link["name"], link["device"]) for link in self.topo.links)
        before = dict((h, self.cluster.counters(h)) for h in self.cluster.hosts)
        cpu_before = dict((h, self.asd_cpu(h)) for h in self.cluster.hosts)
        self.cluster.run("node1", "rm -f %s %s" % (STOP_PATH, SAMPLES_PATH))
        self.cluster.background("node1", "python3 %s %s %s %s %d %g" % (
            SAMPLER_PATH, ",".join(devices.values()), SAMPLES_PATH, STOP_PATH, self.args.timeout + 60, SAMPLE_SECONDS))
        time.sleep(2 * SAMPLE_SECONDS)
        self.reset_attempts()
        start = boottime()
        self.server.start(["node2"])
        polls = []
        done = False
        while boottime() - start < self.args.timeout:
            row = self.poll()
            now = boottime() - start
            polls.append([round(now, 3)] + row)
            if row[0] == 2 and row[2] == 2 and row[1] == 0 and row[3] == 0:
                objects = self.objects("node2")
                if objects == self.records:
                    done = True
                    break
            time.sleep(POLL_SECONDS)
        after = dict((h, self.cluster.counters(h)) for h in self.cluster.hosts)
        cpu_after = dict((h, self.asd_cpu(h)) for h in self.cluster.hosts)
        ss = self.ss()
        attempts = self.read_attempts()
        self.cluster.run("node1", "touch %s" % STOP_PATH)
        time.sleep(2 * SAMPLE_SECONDS)
        samples = [json.loads(line) for line in self.cluster.run("node1", "cat %s" % SAMPLES_PATH).stdout.splitlines()
                   if line.strip()]
        fds = self.fds("node1")
        rows = fabric_sockets(ss, self.networks(), fds=fds, order=self.cluster.hosts)
        summary = socket_summary(rows, list(devices))
        # under mptcp every subflow is a socket to ss: the connections are what was placed
        mptcp = mptcp_connections(ss, self.networks(), order=self.cluster.hosts) if phase.startswith("mptcp") else None
        formed, finished = migration_window(polls)
        rates = dict((link["name"], link["rate_mbit"]) for link in self.topo.links)
        seconds = round(finished - formed, 2) if done and formed is not None else None
        window = (start + (formed or 0), start + (finished or 0))
        record = {
            "links": links, "phase": phase, "plan": plan_index, "offset": plan["offset"], "node_ids": plan["ids"],
            "sample": sample, "done": done, "seconds": seconds,
            "seconds_from_start": round(finished, 2) if done else None, "formed_s": formed,
            "records": self.records, "record_bytes": self.args.record_bytes,
            "rate_mbit": rates, "fds": fds,
            "counters": dict((h, counter_delta(before[h], after[h])) for h in self.cluster.hosts),
            "link_load_node1_tx": link_load(samples, devices, rates, *window),
            "cpu_busy": sampled_cpu(samples, *window),
            # node2's server starts during the run: all of its CPU time is the run's
            "asd_cpu_s": dict((h, round(cpu_after[h] - (cpu_before[h] or 0.0), 2)) for h in cpu_after
                              if cpu_after[h] is not None),
            "polls": polls,
            "sockets": rows, "socket_summary": summary, "attempts": attempts,
            "socket_bound_speedup": socket_bound_speedup(
                (mptcp or {}).get("heavy_per_carrier") or summary["heavy_per_link"]),
            "addresses": self.topo.plan,
            "nft_tables": self.nat_tables("node1"),
        }
        if phase == "native":
            record["native_model"] = self.native_model(rows, fds)
        if mptcp is not None:
            record["mptcp_connections"] = mptcp
        self.report["runs"].append(record)
        load = record["link_load_node1_tx"]
        self.log("%d links %-14s plan %d #%d: %s s (from start %s s), node1 tx %s, heavy sockets per link %s, "
                 "sockets %s, attempts %s, cpu %s" % (
                     links, phase, plan_index, sample, seconds, record["seconds_from_start"],
                     " ".join("%s %.0f Mbit/s (%.0f%%)" % (link, v["mbit"], 100 * v["utilisation"]) for link, v in sorted(load.items())),
                     summary["heavy_per_link"], dict((o, e["per_link"]) for o, e in summary["by_opener"].items()),
                     attempts, record["cpu_busy"]))
        if mptcp is not None:
            self.log("%d links %-14s plan %d #%d: mptcp connections carrying the data per carrier link %s, carrier's share "
                     "of their bytes %s" % (links, phase, plan_index, sample, mptcp["heavy_per_carrier"],
                                            mptcp["heavy_carrier_share"]))
        return record

    def native_model(self, rows, fds):
        """Where each opener's picks sit in the model's rand() sequence (None: no match)."""
        out = {}
        plan = self.topo.plan
        names = [link["name"] for link in self.topo.links]
        layout = channel_layout(fds)
        for opener in self.cluster.hosts:
            mine = [r for r in rows if r["opener"] == opener]
            if len(mine) != len(layout):
                out[opener] = {"note": "%d sockets, not %d: not compared" % (len(mine), len(layout))}
                continue
            peer = [h for h in self.cluster.hosts if h != opener][0]
            addresses = [plan[peer][name][0] for name in names]
            observed = [names.index(r["link"]) for r in mine]
            positions = find_rand_position(observed, addresses, limit=self.args.model_limit)
            out[opener] = {"observed": "".join(str(i) for i in observed), "rand_positions": positions[:10],
                           "bulk_links": [r["link"] for r in mine if r["channel"] == "bulk"]}
        return out

    # ------------------------------------------------------------------ the whole thing
    def plan_runs(self):
        """[(links, plan index, [(phase, samples)])] for this invocation."""
        out = []
        quick = self.args.quick
        native_samples = self.args.native_runs or (2 if quick else 3)
        other_samples = self.args.native_runs_other or (1 if quick else 2)
        plans = self.args.plans or (2 if quick else 3)
        for links in self.args.links:
            if self.args.phases:
                phases = [(phase, native_samples if phase in SAMPLED else 1) for phase in self.args.phases]
                out.append((links, 0, phases))
                if "native" not in self.args.phases:
                    continue
            else:
                phases = [("single", 1), ("native", native_samples), ("balanced", 1)]
                if links >= 4:
                    phases.append(("balanced_bulk2", 1))
                phases.append(("mptcp", native_samples))
                phases.append(("mptcp_placed", other_samples))
                out.append((links, 0, phases))
            for index in range(1, min(plans, len(PLANS))):
                out.append((links, index, [("native", other_samples)]))
        return out

    def main(self):
        ok, build = self.tb["aerospike"].available()
        if not ok:
            print("migration benchmark: skipped: %s" % build)
            self.report["skipped"] = build
            self.write()
            return 0
        self.report["settings"] = {
            "server": build, "mb": self.args.mb, "record_bytes": self.args.record_bytes, "links": self.args.links,
            "rates_mbit": dict((str(link), self.args.rate or RATES[link]) for link in self.args.links),
            "plans": PLANS, "quick": self.args.quick, "poll_s": POLL_SECONDS, "sample_s": SAMPLE_SECONDS,
            "work": self.plan_runs(),
            "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
        }
        try:
            for links, plan_index, phases in self.plan_runs():
                self.topo_path = self.up(links, PLANS[plan_index])
                for phase, samples in phases:
                    try:
                        self.converge(phase, links, plan_index)
                        for sample in range(samples):
                            self.run(phase, links, plan_index, PLANS[plan_index], sample)
                    except self.tb["podman"].TestbedError as exc:
                        # One phase that fails (a cluster that does not form) is a figure too;
                        # the next phase converges the cluster anew, so the others still run.
                        self.phase_failed(links, plan_index, phase, exc)
                    self.write()
        finally:
            self.down()
            self.report["seconds_total"] = round(time.monotonic() - self.started, 1)
            self.finish()
            self.write()
        print(table(self.report))
        print("speedup: %s" % json.dumps(self.report["speedup"], sort_keys=True))
        print("total %.0f s; report %s" % (self.report["seconds_total"], self.args.out))
        return 0

    def phase_failed(self, links, plan_index, phase, exc):
        """Record a phase that failed in the report's ``failed`` list and say so."""
        entry = {"links": links, "plan": plan_index, "phase": phase, "error": str(exc)[-2000:]}
        self.report.setdefault("failed", []).append(entry)
        print("%d links %s plan %d: FAILED: %s" % (links, phase, plan_index, str(exc).splitlines()[0]), flush=True)

    def finish(self):
        summarize(self.report, self.args.model_positions)

    def write(self):
        os.makedirs(os.path.dirname(self.args.out), exist_ok=True)
        with open(self.args.out, "w") as handle:
            json.dump(self.report, handle, indent=1, sort_keys=True)


def summarize(report, model_positions=1000):
    """Fill a report's summary from its raw runs: speed-ups and their baselines, native's picks
    and verdict, the computed native model, the table (also: --summarize FILE)."""
    runs = report["runs"]
    report["speedup"], report["speedup_baseline"] = speedups(runs)
    report["native"] = {}
    for links in sorted(set(r["links"] for r in runs)):
        natives = [r for r in runs if r["links"] == links and r["phase"] == "native"]
        report["native"][str(links)] = {
            "verdict": native_verdict(runs, links),
            "picks": [{"plan": r["plan"], "offset": r["offset"], "node_ids": r["node_ids"], "sample": r["sample"],
                       "seconds": r["seconds"], "heavy_per_link": r["socket_summary"]["heavy_per_link"],
                       "sockets_per_link": dict((o, e["per_link"]) for o, e in r["socket_summary"]["by_opener"].items()),
                       "bulk_links": dict((o, e["bulk_links"]) for o, e in r["socket_summary"]["by_opener"].items()),
                       "model": r.get("native_model")} for r in natives],
        }
    report["native_model"] = model_summary(runs, model_positions)
    report["table"] = table(report).splitlines()
    return report


def model_summary(runs, model_positions=1000):
    """Computed, not measured: native's bulk split and the speed-up it allows (sockets on the
    busiest link) per link count and address plan, from the model of the server's pick, for
    two long-running nodes (both at random rand() positions) and for node2 joining fresh at
    the positions seen in the runs."""
    out = {}
    positions = range(model_positions)
    for links in sorted(set(r["links"] for r in runs)):
        for plan in sorted(set(r["plan"] for r in runs if r["links"] == links and r["phase"] == "native")):
            first = [r for r in runs if r["links"] == links and r["plan"] == plan and r["phase"] == "native"][0]
            names = sorted(first["rate_mbit"])
            to_node2 = [first["addresses"]["node2"][name][0] for name in names]
            to_node1 = [first["addresses"]["node1"][name][0] for name in names]
            node1 = native_bulk_model(to_node2, first["fds"], positions)
            node2 = native_bulk_model(to_node1, first["fds"], positions)
            seen = sorted(set(p for r in runs if r["links"] == links and r["plan"] == plan and r.get("native_model")
                              for p in (r["native_model"].get("node2", {}).get("rand_positions") or [])[:1]))
            fresh = {}
            for position in seen:
                split = native_bulk_model(to_node1, first["fds"], [position])
                distribution = combine_bulk_models(node1, split)
                fresh[str(position)] = {"node2_bulk_split": list(list(split)[0]),
                                        "summary": distribution_summary(distribution), "distribution": distribution}
            both = combine_bulk_models(node1, node2)
            out["%d links, plan %d" % (links, plan)] = {
                "links": links, "plan": plan, "offset": first["offset"], "node_ids": first["node_ids"],
                "both_running": distribution_summary(both), "both_running_distribution": both, "node2_fresh": fresh}
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--links", default="2,4", help="link counts, comma separated (default 2,4)")
    parser.add_argument("--quick", action="store_true", help="fewer native runs and address plans")
    parser.add_argument("--mb", type=int, default=300, help="data set loaded into node1, MB (default 300)")
    parser.add_argument("--record-bytes", type=int, default=50000)
    parser.add_argument("--rate", type=float, default=None, help="per-link Mbit/s for every link count (default: 200 / links)")
    parser.add_argument("--native-runs", type=int, default=None, help="native runs on the main plan (default 3, quick 2)")
    parser.add_argument("--native-runs-other", type=int, default=None, help="native runs on every other plan (default 2, quick 1)")
    parser.add_argument("--plans", type=int, default=None, help="address plans for native, main included (default 3, quick 2)")
    parser.add_argument("--timeout", type=int, default=300, help="longest run, s")
    parser.add_argument("--model-limit", type=int, default=20000, help="rand() positions the native model searches")
    parser.add_argument("--model-positions", type=int, default=1000, help="rand() positions the computed native model averages over")
    parser.add_argument("--phases", default=None,
                        help="phases of the main plan, comma separated (default single,native,balanced and, with 4 links,"
                             " balanced_bulk2); modifiers _bulkN (channel-bulk-fds) and _mtN (migrate-threads)")
    parser.add_argument("--keep", action="store_true", help="leave the last cluster up")
    parser.add_argument("--summarize", metavar="FILE", help="only recompute the summary of a report from its raw runs")
    parser.add_argument("--out", default=REPORT)
    args = parser.parse_args(argv)
    args.links = [int(v) for v in str(args.links).split(",") if v.strip()]
    if args.phases:
        args.phases = [v.strip() for v in args.phases.split(",") if v.strip()]
        for phase in args.phases:
            try:
                phase_vars(phase)
            except ValueError as exc:
                parser.error("--phases: %s" % exc)
        if "single" not in args.phases:
            parser.error("--phases: the one-link baseline (single) is needed for the speed-ups")
    for links in args.links:
        if links not in RATES:
            parser.error("--links: %d links: use 1 to 4 (the subnets inside 198.19.160.0/20)" % links)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.summarize:
        with open(args.summarize) as handle:
            report = json.load(handle)
        summarize(report, args.model_positions)
        with open(args.summarize, "w") as handle:
            json.dump(report, handle, indent=1, sort_keys=True)
        print(table(report))
        print("speedup: %s" % json.dumps(report["speedup"], sort_keys=True))
        return 0
    return Bench(args).main()


if __name__ == "__main__":
    sys.exit(main())
