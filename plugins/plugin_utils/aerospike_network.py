# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``network { }`` stanza of one node's aerospike.conf, as conf data, from the address plan.

Pure Python, no Ansible import; errors are FabricError naming the variable at fault.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

STRATEGIES = ("native", "balanced", "single", "mptcp")
EDITIONS = ("community", "enterprise")
COMMUNITY_MAX_SEEDS = 8
FIRST_ADMIN_VERSION = (8, 1)
OLDEST_VERSION = (6, 0)
# Aerospike's defaults for the sockets a node opens per peer and channel (channel-*-fds).
CHANNEL_FDS = (("rw", 8), ("bulk", 2))
MAX_CHANNEL_FDS = 128
# The server's default channel-bulk-recv-threads: the bulk sockets that a spread keeps busy.
BULK_RECV_THREADS = 4
# fabric keepalive-time under mptcp (seconds without a packet before a subflow's keepalive starts
# probing; the server's default is 1). The socket's keepalive applies to each subflow, and the
# kernel then closes an idle subflow on a dead link after about 9 failed probes (measured on 6.18:
# the subflow's probe count is the kernel's, whatever keepalive-probes says). A subflow that died
# uses up, for the connection's lifetime, one of the 8 announcements its path manager may join
# (roles/nat/files/linkwatch.py EXHAUSTED): with the server's 1 s a two-link connection came back
# from 6 link losses of 9 s and never from the 7th; with 600 s, 7 losses of 20 s left every
# subflow alive and used none. Dead peers do not need the keepalive: the server closes a node's fabric
# connections when the heartbeat says it left. docs/mptcp.md#how-many-link-losses-a-connection-comes-back-from.
MPTCP_KEEPALIVE_TIME = 600

DEFAULTS = {
    "version": None,
    "edition": "community",
    "strategy": "balanced",
    "fabric_ports": [3001],
    "service_port": 3000,
    "heartbeat_port": 3002,
    "info_port": 3003,
    "heartbeat_interval": 150,
    "heartbeat_timeout": 10,
    "heartbeat_connect_timeout_ms": None,
    "max_seeds": COMMUNITY_MAX_SEEDS,
    "service_addresses": [],
    "service_access_addresses": [],
    "service_alternate_access_addresses": [],
    "anchor": None,
    "extra": {},
}
# Option name -> inventory variable, for messages.
VARIABLES = {
    "version": "aerospike_version",
    "edition": "aerospike_edition",
    "strategy": "fabric_strategy",
    "fabric_ports": "fabric_ports",
    "fabric_port": "fabric_ports[0]",
    "service_port": "aerospike_service_port",
    "heartbeat_port": "aerospike_heartbeat_port",
    "info_port": "aerospike_info_port",
    "heartbeat_interval": "aerospike_heartbeat_interval",
    "heartbeat_timeout": "aerospike_heartbeat_timeout",
    "heartbeat_connect_timeout_ms": "aerospike_heartbeat_connect_timeout_ms",
    "max_seeds": "aerospike_heartbeat_max_seeds",
    "service_addresses": "aerospike_service_addresses",
    "service_access_addresses": "aerospike_service_access_addresses",
    "service_alternate_access_addresses": "aerospike_service_alternate_access_addresses",
    "anchor": "fabric_mptcp_anchor_subnet",
    "extra": "aerospike_network",
}


def parse_version(value):
    """(major, minor, ...) of an Aerospike version string such as "7.2" or "8.1.0.1"."""
    text = value if isinstance(value, str) else ""
    parts = text.strip().split(".")
    if len(parts) < 2 or not all(part.isdigit() for part in parts):
        raise FabricError("aerospike_version: %r is not a version like \"7.2\" or \"8.1\" "
                          "(quote it in YAML so 8.10 does not become 8.1)" % (value,))
    version = tuple(int(part) for part in parts)
    if version < OLDEST_VERSION:
        raise FabricError("aerospike_version: %s is older than 6.0, which this role does not render for" % text)
    return version


def uses_admin(version):
    """True when the version has ``network.admin`` (8.1 and later) instead of ``network.info``."""
    return parse_version(version)[:2] >= FIRST_ADMIN_VERSION


def _int(options, key, low, high, allow_none=False):
    value = options[key]
    if value is None and allow_none:
        return None
    # -e and INI inventories give digit strings
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FabricError("%s: %r is not an integer from %d to %d" % (VARIABLES[key], value, low, high))
    return value


def _port(options, key, allow_none=False):
    return _int(options, key, 1024, 65535, allow_none)


def _strings(options, key):
    value = options[key]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise FabricError("%s: must be a list of addresses (strings), got %r" % (VARIABLES[key], value))
    return list(value)


def mesh_seeds(host, plan, link_names, budget):
    """(peer, link) pairs to seed from ``host``: every peer over every link when that fits in
    ``budget``, otherwise the budget split evenly over the peers, with the links dealt round
    robin across peers so that every link carries about the same number of seeds. Peers start
    after ``host`` in node-id order, so different nodes seed different peers."""
    hosts = list(plan)
    index = hosts.index(host)
    peers = hosts[index + 1:] + hosts[:index]
    if not peers or not link_names or budget <= 0:
        return []
    count = len(link_names)
    share, extra = divmod(budget, len(peers))
    pairs = []
    cursor = 0
    for number, peer in enumerate(peers):
        want = min(count, share + (1 if number < extra else 0))
        for link_index in sorted((cursor + step) % count for step in range(want)):
            pairs.append((peer, link_names[link_index]))
        cursor = (cursor + want) % count
    return pairs


def channel_fds(strategy, lanes, placed=False):
    """fabric ``channel-*-fds`` settings that let the NAT rotation reach every lane and keep the
    links busy during a migration.

    balanced rotates a node's new connections to a peer over the peer's ``lanes`` addresses one
    by one; a channel with fewer sockets than addresses leaves some links out of that channel.
    Migration runs on the bulk channel, whose sockets each carry about one record at a time, so
    the server's 2 bulk sockets spread over 2 links left each link idle between records. Measured
    with the real server (make bench-migration, docs/performance.md): 2 links x 50 Mbit/s, 2 bulk
    sockets 1.75x one link (82 % per link), 4 sockets 1.92x (90 %), 8 sockets 1.72x (80 %);
    4 links x 25 Mbit/s, 4 sockets 3.87x (92 %), 8 sockets 3.55x (84 %): past the server's 4 bulk
    receive threads (channel-bulk-recv-threads) more sockets cost. So bulk gets at least 4 and at
    least one per lane, in a multiple of the lanes so that the rotation is exact (at most 128, the
    server's limit); rw (8, many transactions in flight) only grows beyond 8 lanes, to one per
    lane. ctrl and meta (1 socket each) carry a few small messages and are left alone. A value
    in aerospike_network.fabric still wins. native picks at random, so more sockets would only
    change its odds; single has one lane; under mptcp each connection keeps to its first
    subflow's link (docs/mptcp.md), and more sockets would only change native-like odds, so the
    defaults stay, unless an anchor places each connection's first subflow (``placed``): that is
    the same rotation as balanced's, and each link needs a bulk socket, but no more than that:
    with 2 links, 4 bulk MPTCP sockets gave 1.82x one link and the server's 2 gave 1.94x, side by
    side (make bench-migration, docs/performance.md).
    """
    if not (strategy == "balanced" or (strategy == "mptcp" and placed)) or lanes < 2:
        return {}
    out = {}
    for name, default in CHANNEL_FDS:
        floor = BULK_RECV_THREADS if name == "bulk" and strategy == "balanced" else default
        want = max(floor, lanes) if name == "bulk" else lanes
        want = -(-want // lanes) * lanes
        if want > MAX_CHANNEL_FDS:
            want = (MAX_CHANNEL_FDS // lanes) * lanes or MAX_CHANNEL_FDS
        if want > default:
            out["channel-%s-fds" % name] = want
    return out


def _merge(base, extra):
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def build_network(host, plan, links, **kwargs):
    """Conf data for ``network { }`` of ``host``; keyword options as in DEFAULTS."""
    unknown = set(kwargs) - set(DEFAULTS)
    if unknown:
        raise TypeError("unknown options: %s" % ", ".join(sorted(unknown)))
    options = dict(DEFAULTS, **kwargs)
    version = parse_version(options["version"])
    if options["strategy"] not in STRATEGIES:
        raise FabricError("fabric_strategy: %r is not one of %s" % (options["strategy"], ", ".join(STRATEGIES)))
    if options["edition"] not in EDITIONS:
        raise FabricError("aerospike_edition: %r is not one of %s" % (options["edition"], ", ".join(EDITIONS)))
    if not isinstance(plan, dict) or host not in plan:
        raise FabricError("fabric_cluster_group: host %s is not in the address plan of its cluster" % host)
    link_names = [link["name"] for link in links]
    if not link_names:
        raise FabricError("fabric_links: the cluster has no links")
    ports = options["fabric_ports"]
    if not isinstance(ports, list) or not ports:
        raise FabricError("fabric_ports: must be a non-empty list of ports, got %r" % (ports,))
    options["fabric_port"] = ports[0]
    fabric_port = _port(options, "fabric_port")
    service_port = _port(options, "service_port")
    heartbeat_port = _port(options, "heartbeat_port")
    info_port = _port(options, "info_port", allow_none=True)
    interval = _int(options, "heartbeat_interval", 50, 600000)
    timeout = _int(options, "heartbeat_timeout", 3, 4294967295)
    connect = _int(options, "heartbeat_connect_timeout_ms", 50, 4294967295, allow_none=True)
    if connect is not None and connect * 3 > interval * timeout:
        raise FabricError("aerospike_heartbeat_connect_timeout_ms: %d is more than aerospike_heartbeat_interval *"
                          " aerospike_heartbeat_timeout / 3 = %d * %d / 3; the server refuses it"
                          % (connect, interval, timeout))
    max_seeds = _int(options, "max_seeds", 0, 1000)
    if options["edition"] == "community" and max_seeds > COMMUNITY_MAX_SEEDS:
        raise FabricError("aerospike_heartbeat_max_seeds: %d is more than %d, the Community Edition limit"
                          " (the server exits); set aerospike_edition: enterprise if you run Enterprise"
                          % (max_seeds, COMMUNITY_MAX_SEEDS))
    extra = options["extra"] or {}
    if not isinstance(extra, dict):
        raise FabricError("aerospike_network: must be a mapping, got %r" % (extra,))

    own = plan[host]
    if options["edition"] == "community":
        # Community Edition parses and binds IPv4 only (cf/src/socket_ce.c): an IPv6 address in
        # any address list stops the server ("Invalid address"), and without an IPv4 interface
        # it cannot even make up its node id.
        for link in links:
            if any(":" in address for address in own.get(link["name"], [])):
                raise FabricError("fabric_links: link %s (%s) is IPv6, but Aerospike Community Edition binds IPv4 "
                                  "only and refuses to start with an IPv6 fabric or heartbeat address; set "
                                  "aerospike_edition: enterprise if you run Enterprise, or give this cluster IPv4 links"
                                  % (link["name"], link.get("subnet")))
    all_addresses = [address for name in link_names for address in own.get(name, [])]
    anchor = options["anchor"]
    if anchor is not None and options["strategy"] != "mptcp":
        raise FabricError("fabric_mptcp_anchor_subnet: an anchor address exists only under fabric_strategy mptcp, "
                          "not %s" % options["strategy"])
    if anchor is not None:
        # the server binds and publishes its anchor alone; the node's NAT rules take connections
        # arriving on the link addresses, joins included, to it (docs/mptcp.md)
        fabric_addresses = [anchor]
    elif options["strategy"] == "single":
        fabric_addresses = own.get(link_names[0], [])[:1]
    else:
        # native, balanced and mptcp: every address (under mptcp the peers join each of them with a
        # subflow, and a join to an address the server does not bind is answered with a reset)
        fabric_addresses = all_addresses

    service = {"address": _strings(options, "service_addresses"), "port": service_port,
               "access-address": _strings(options, "service_access_addresses"),
               "alternate-access-address": _strings(options, "service_alternate_access_addresses")}
    heartbeat = {"mode": "mesh"}
    # From 8.1 heartbeat binds to the fabric addresses when it has none of its own, and its own
    # address lines are deprecated; before 8.1 no address means every interface.
    if version[:2] < FIRST_ADMIN_VERSION or fabric_addresses != all_addresses:
        heartbeat["address"] = all_addresses
    heartbeat["port"] = heartbeat_port
    heartbeat["mesh-seed-address-port"] = [
        "%s %d" % (plan[peer][name][0], heartbeat_port)
        for peer, name in mesh_seeds(host, plan, link_names, max_seeds) if plan[peer].get(name)]
    heartbeat["interval"] = interval
    heartbeat["timeout"] = timeout
    if connect is not None:
        heartbeat["connect-timeout-ms"] = connect
    fabric = {"address": fabric_addresses, "port": fabric_port}
    if options["strategy"] == "mptcp":
        fabric["keepalive-time"] = MPTCP_KEEPALIVE_TIME
    fabric.update(channel_fds(options["strategy"], len(all_addresses) if anchor else len(fabric_addresses),
                              placed=anchor is not None))
    network = {"service": service, "heartbeat": heartbeat, "fabric": fabric}
    admin_key, other_key = ("admin", "info") if version[:2] >= FIRST_ADMIN_VERSION else ("info", "admin")
    if info_port is not None:
        network[admin_key] = {"port": info_port}
    if extra.get(other_key) is not None:
        if other_key == "info":
            why = "network.info is obsolete from 8.1 (the server ignores it); use admin"
        else:
            why = "network.admin exists only from 8.1; use info"
        raise FabricError("aerospike_network.%s: %s (aerospike_version %s)" % (other_key, why, options["version"]))
    return _merge(network, extra)
