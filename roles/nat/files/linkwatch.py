# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""clusterfabric-linkwatch: failover, failback and fast-fail for the fabric NAT split, and the
subflows of MPTCP connections back when a link returns.

One file, Python 3 standard library only, importing nothing of the collection. The fabric_nat
module installs it on the node as /usr/local/lib/clusterfabric-multilink/linkwatch.py and runs
it as ``clusterfabric-linkwatch.service`` (``python3 linkwatch.py --config FILE``, the unit is
clusterfabric-linkwatch.service next to this file). Its configuration is computed on the
controller (plugin_utils/nat_rules.py, watchdog_config): the node, the links, every peer chain
with its lanes, and the names the daemon shares with the fabric_nat rules (table, dead set,
probe mark), so the daemon plans nothing itself. The fabric_nat action checks a configuration
with load_config() before the module writes it; the unit tests import this file by path. See
docs/watchdog.md of the collection.

Per fabric link the daemon watches the local carrier (netlink events, /sys/class/net) and, per
peer, the peer's address on that link (a TCP connect to the fabric port from this node's address
on the link, or an ICMP echo). A (link, peer) *path* goes down after ``down_after`` failed probes
in a row (at once when the carrier goes) and up again after ``up_after`` good ones; a path that
fails again soon after it came back is held down longer each time (hold-down). Whenever the set
of paths that are up changes, one ``nft -f`` transaction rewrites the affected peer chains of
the fabric_nat table (the lanes on dead links leave the rotation) and the dead set (new
connections to a peer's address on a dead path get a TCP reset at once instead of hanging);
right after it, conntrack entries still waiting for a SYN-ACK from a newly dead address are
deleted, so those connections are steered anew at their next SYN retransmission. A peer whose
paths of one address family are all down keeps its primary lane and gets no reset.

With ``"kind": "mptcp"`` (the mptcp role's configuration, plugin_utils/mptcp_plan.py) there is no
nft at all: the kernel's MPTCP moves the data off a dead subflow by itself, but a subflow that
died is not created again when its link returns. So whenever a path of a link comes back up (or
an endpoint of ours went missing) the daemon looks at the subflows (``ss -tni``) READD_CHECK_S
later: when every connection has its subflow on that link (they only waited for it) nothing is
done; otherwise it deletes that link's ``signal`` endpoints (``ip mptcp endpoint delete id N``)
and READD_SETTLE_S later adds them back (``add ADDR dev DEV signal
id N``), which makes the path manager announce the address again on every existing connection:
the peers join it and the connections get their subflow on that link back. The pause lets the
peers, which see the path come back too, delete theirs first: a delete also closes the subflows
a node opened from that address, which only a later announcement of the peer brings back. Only
the connections this node accepted count for that look: a connection it opened gets its subflow
back from the peer's announcement, which the peer's own watchdog makes. The status file then
reports per link the endpoints, when they were last re-added, the connections short of the link
and those that can no longer get a subflow on it (``exhausted``: the kernel's per-connection
count of accepted announcements is at its maximum; see EXHAUSTED below).

The decision logic (Path, Watchdog, render_transaction, config checks) is pure and takes the
time as an argument; the I/O around it (probes, carrier, nft, status file, systemd) is thin.
This file is long (about 1,600 lines: NAT mode and MPTCP mode) for a reason: it is installed and
run as one program on the node, Python standard library only, with no collection code to import.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

# Configuration format (plugin_utils/nat_rules.py WATCHDOG_CONFIG_VERSION writes it).
VERSION = 2
NFT_FAMILY = {"ipv4": "ip", "ipv6": "ip6"}
CONFIG_FILE = "/etc/clusterfabric-multilink/linkwatch.json"
STATUS_FILE = "/run/clusterfabric/linkwatch.json"
PROBES = ("tcp", "icmp")
# What the daemon manages on a change: the fabric_nat rotation (nft), or MPTCP endpoints (ip).
KINDS = ("nat", "mptcp")
# Kind mptcp: seconds between deleting a link's endpoints and adding them back. Both ends of a
# link see it come back and re-add at about the same time, and the deletes of both must come
# before the adds: a delete closes the subflows this node opened from that address (joins it made
# as the connecting side, towards the peer's address), which only the peer's next announcement
# brings back, and a join can only go to the peer's listening port, so the connecting side must
# make it. With both deletes first, each node's add is joined by the other, whose joins from an
# address without endpoint get an implicit one that the add then takes over (render_readd).
# Measured on 6.18 (two nodes, 24 connections): adds right after the deletes left the 12
# connections of one direction without the link after every round; 1 s apart restored all 24.
READD_SETTLE_S = 1.0
# Kind mptcp: seconds after a path came back before the subflows are looked at. A subflow that
# only waited for its link resumes by itself (nothing to do: a re-add would close it); one that
# died is not re-created by the kernel, and then the link's endpoints are re-added.
READD_CHECK_S = 1.0
# Kind mptcp: seconds after a re-add before the subflows are looked at again, and how many re-adds
# a link gets in a row while some connection still has no subflow on it (the peer's delete came
# after this node's add: the pause doubles at each one).
READD_VERIFY_S = 2.0
READD_ATTEMPTS = 3
# Kind mptcp, EXHAUSTED: the in-kernel path manager counts, per connection, the announced addresses
# it joined (add_addr_accepted, at most add_addr_accepted_max = the limit, 8 at most) and gives a
# place back only when an RM_ADDR removes a live subflow; a join that died first (a link loss
# longer than the fabric keepalive, a reset) keeps its place for the connection's lifetime
# (mptcp_net-next issue 498, still so on 6.18). Each such death uses one of the connection's 8
# places (a re-join of the address the connection first dialled excepted: that announcement is
# not counted); with every place used the peer's announcements are ignored and the connection
# stays without that link until it is opened anew. Also why a re-add is only made where it helps: its
# delete closes this node's live joins from that address, and that uses a place of each too.
# Seconds between two looks at the subflows for the status file (a re-add looks at once).
SUBFLOWS_LOOK_S = 10.0
_SUBFLOW_TOKEN_RE = re.compile(r"tcp-ulp-mptcp.*?token:[0-9a-fA-F]+(?:\(id:\d+\))?/([0-9a-fA-F]+)")
_MSK_TOKEN_RE = re.compile(r"(?:^|\s)token:([0-9a-fA-F]+)(?:\s|$)")
_MSK_COUNTER_RE = re.compile(r"(?:^|\s)(add_addr_accepted|add_addr_accepted_max):(\d+)")
SETTINGS = {
    # name: (default, minimum, maximum)
    "interval_ms": (100, 10, 60000),
    "timeout_ms": (0, 0, 60000),          # 0: the interval
    "down_after": (3, 1, 1000),
    "up_after": (5, 1, 1000),
    "hold_down_s": (5.0, 0, 3600),
    "resync_s": (1.0, 0.1, 3600),
}
HOLD_DOWN_DOUBLINGS = 3                   # the hold-down grows to 8 x hold_down_s at most
SEED_MAX_AGE_S = 10.0                     # a status file this fresh seeds a restarted daemon
STATUS_EVERY_S = 1.0
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
# The inventory contract's rules (module_utils/checks.py DEVICE_RE and LINK_NAME_RE, which this
# standalone program cannot import; a unit test keeps the patterns equal).
DEVICE_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.+-]{0,13}[A-Za-z0-9_.-])?")
LINK_RE = re.compile(r"[a-z][a-z0-9_]{0,14}")


class ConfigError(ValueError):
    """The daemon's configuration is not usable; the message names the key and the value."""


# ---------------------------------------------------------------------------- the peer chain statement
def dnat_statement(mode, addresses):
    """The one statement of a peer chain: rotate new connections over ``addresses`` (lanes).

    The fabric_nat rules (plugin_utils/nat_rules.py) write the same one for the full rotation,
    this daemon for what is left of it; a unit test pins the two equal."""
    addresses = list(addresses)
    if not addresses:
        raise ValueError("a peer chain needs at least one lane")
    if len(addresses) == 1:
        return "dnat to %s" % addresses[0]
    generator = "numgen %s mod %d" % ("inc" if mode == "nth" else "random", len(addresses))
    return "dnat to %s map { %s }" % (generator, ", ".join(
        "%d : %s" % (index, address) for index, address in enumerate(addresses)))


# ---------------------------------------------------------------------------- configuration
def _number(config, name):
    default, low, high = SETTINGS[name]
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError("%s must be a number from %s to %s, got %r" % (name, low, high, value))
    return value


def _address(value, where, family=None):
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        parsed = ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError("%s: %r is not an IP address" % (where, value))
    if family and (parsed.version == 4) != (family == "ipv4"):
        raise ConfigError("%s: %s is not an %s address" % (where, value, family))
    return str(parsed)


def load_config(data):
    """Check a configuration (a dict, as plugin_utils/nat_rules.py computes it) and return it normalised."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a JSON object, got %r" % (data,))
    if data.get("version") != VERSION:
        raise ConfigError("version must be %d, got %r" % (VERSION, data.get("version")))
    out = {"version": VERSION}
    for name in SETTINGS:
        out[name] = _number(data, name)
    for name in ("down_after", "up_after"):
        if out[name] != int(out[name]):
            raise ConfigError("%s must be a whole number, got %r" % (name, out[name]))
        out[name] = int(out[name])
    out["probe"] = data.get("probe", "tcp")
    if out["probe"] not in PROBES:
        raise ConfigError("probe must be one of %s, got %r" % (", ".join(PROBES), out["probe"]))
    node = data.get("node")
    if not isinstance(node, str) or not node or "\n" in node:
        raise ConfigError("node must be this host's name, got %r" % (node,))
    out["node"] = node
    out["kind"] = kind = data.get("kind", "nat")
    if kind not in KINDS:
        raise ConfigError("kind must be one of %s, got %r" % (", ".join(KINDS), kind))
    for name, what in (("table", "nft table"), ("dead_set", "nft set")):
        out[name] = data.get(name)
        if kind == "mptcp" and out[name] is None:
            continue
        if not isinstance(out[name], str) or not NAME_RE.fullmatch(out[name]):
            raise ConfigError("%s: %r is not a safe %s name" % (name, out[name], what))
    out["mode"] = data.get("mode", "nth")
    if out["mode"] not in ("nth", "random"):
        raise ConfigError("mode must be nth or random, got %r" % (out["mode"],))
    mark = data.get("mark", 0 if kind == "mptcp" else None)
    if isinstance(mark, bool) or not isinstance(mark, int) or not (kind == "mptcp" and mark == 0) \
            and not 0 < mark < 2 ** 32:
        raise ConfigError("mark must be an integer from 1 to 2^32-1, got %r" % (mark,))
    out["mark"] = mark
    ports = data.get("ports")
    if not isinstance(ports, list) or not ports or any(
            isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535 for p in ports):
        raise ConfigError("ports must be a non-empty list of TCP ports, got %r" % (ports,))
    out["ports"] = ports
    probe_port = data.get("probe_port", ports[0])
    if isinstance(probe_port, bool) or not isinstance(probe_port, int) or not 1 <= probe_port <= 65535:
        raise ConfigError("probe_port must be a TCP port, got %r" % (probe_port,))
    out["probe_port"] = probe_port
    status_file = data.get("status_file", STATUS_FILE)
    if not isinstance(status_file, str) or not status_file.startswith("/"):
        raise ConfigError("status_file must be an absolute path, got %r" % (status_file,))
    out["status_file"] = status_file

    links = data.get("links")
    if not isinstance(links, list):
        raise ConfigError("links must be a list, got %r" % (links,))
    out["links"] = []
    names = set()
    for index, link in enumerate(links):
        where = "links[%d]" % index
        if not isinstance(link, dict):
            raise ConfigError("%s must be an object, got %r" % (where, link))
        name, device, family = link.get("name"), link.get("device"), link.get("family")
        if not isinstance(name, str) or not LINK_RE.fullmatch(name) or name in names:
            raise ConfigError("%s: name %r is not a new link name" % (where, name))
        names.add(name)
        if not isinstance(device, str) or not DEVICE_RE.fullmatch(device):
            raise ConfigError("%s (%s): device %r is not a safe interface name" % (where, name, device))
        if family not in NFT_FAMILY:
            raise ConfigError("%s (%s): family must be ipv4 or ipv6, got %r" % (where, name, family))
        out["links"].append({"name": name, "device": device, "family": family,
                             "source": _address(link.get("source"), "%s (%s) source" % (where, name),
                                                family)})
    family_of = dict((link["name"], link["family"]) for link in out["links"])
    primary = data.get("primary_link")
    out["primary_link"] = primary if primary in family_of else (out["links"][0]["name"] if out["links"] else None)

    peers = data.get("peers", {})
    if not isinstance(peers, dict):
        raise ConfigError("peers must be an object, got %r" % (peers,))
    out["peers"] = {}
    for peer, addresses in peers.items():
        if not isinstance(addresses, dict):
            raise ConfigError("peers.%s must map link names to addresses, got %r" % (peer, addresses))
        out["peers"][peer] = {}
        for link, values in addresses.items():
            if link not in family_of:
                raise ConfigError("peers.%s: link %r is not one of links" % (peer, link))
            if not isinstance(values, list) or not values:
                raise ConfigError("peers.%s.%s must be a non-empty list of addresses" % (peer, link))
            out["peers"][peer][link] = [_address(v, "peers.%s.%s" % (peer, link), family_of[link])
                                        for v in values]
    chains = data.get("chains", [])
    if not isinstance(chains, list):
        raise ConfigError("chains must be a list, got %r" % (chains,))
    out["chains"] = []
    seen = set()
    for index, chain in enumerate(chains):
        where = "chains[%d]" % index
        if not isinstance(chain, dict):
            raise ConfigError("%s must be an object, got %r" % (where, chain))
        name, peer, family = chain.get("name"), chain.get("peer"), chain.get("family")
        if family not in NFT_FAMILY:
            raise ConfigError("%s (%s): family must be ipv4 or ipv6, got %r" % (where, name, family))
        if not isinstance(name, str) or not NAME_RE.fullmatch(name) or (family, name) in seen:
            raise ConfigError("%s: name %r is not a new safe chain name" % (where, name))
        seen.add((family, name))  # the ip and the ip6 table each have a chain of that name
        if peer not in out["peers"]:
            raise ConfigError("%s (%s): peer %r is not one of peers" % (where, name, peer))
        lanes = chain.get("lanes")
        if not isinstance(lanes, list) or not lanes:
            raise ConfigError("%s (%s): lanes must be a non-empty list" % (where, name))
        checked = []
        for lane in lanes:
            link = lane.get("link") if isinstance(lane, dict) else None
            if link not in out["peers"][peer]:
                raise ConfigError("%s (%s): lane %r is not on a link of peer %s" % (where, name, lane, peer))
            address = _address(lane.get("address"), "%s (%s) lane" % (where, name), family)
            if address not in out["peers"][peer][link]:
                raise ConfigError("%s (%s): lane address %s is not peer %s's address on %s"
                                  % (where, name, address, peer, link))
            checked.append({"link": link, "address": address})
        out["chains"].append({"name": name, "peer": peer, "family": family,
                              "port": chain.get("port"), "lanes": checked})
    if kind == "mptcp" and out["chains"]:
        raise ConfigError("chains: kind mptcp steers nothing, got %d chains" % len(out["chains"]))
    out["endpoints"] = _endpoints(data.get("endpoints", []), out["links"], kind)
    return out


def _endpoints(endpoints, links, kind):
    """The MPTCP signal endpoints of kind mptcp: [{id, link, address, device}], ids and addresses once."""
    if not isinstance(endpoints, list) or (kind == "mptcp") != bool(endpoints):
        raise ConfigError("endpoints must be a non-empty list with kind mptcp (and only then), got %r" % (endpoints,))
    by_name = dict((link["name"], link) for link in links)
    out = []
    for index, endpoint in enumerate(endpoints):
        where = "endpoints[%d]" % index
        if not isinstance(endpoint, dict) or endpoint.get("link") not in by_name:
            raise ConfigError("%s must be an object with the link of one of links, got %r" % (where, endpoint))
        number = endpoint.get("id")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 255 \
                or number in [e["id"] for e in out]:
            raise ConfigError("%s: id %r is not a new endpoint id from 1 to 255" % (where, number))
        link = by_name[endpoint["link"]]
        address = _address(endpoint.get("address"), "%s address" % where, link["family"])
        if address in [e["address"] for e in out]:
            raise ConfigError("%s: address %s is listed twice" % (where, address))
        out.append({"id": number, "link": link["name"], "address": address, "device": link["device"]})
    return out


def settings_of(config):
    names = ("interval_ms", "timeout_ms", "down_after", "up_after", "hold_down_s", "probe", "probe_port")
    return dict((name, config[name]) for name in names)


# ---------------------------------------------------------------------------- state machine
class Path(object):
    """One (link, peer) path: up or down, with miss/success thresholds and flap hold-down.

    ``now`` is a monotonic time in seconds. A path starts up (the fabric_nat rules it watches
    start with every lane in the rotation). Going down within ``hold_down_s`` of the last time
    it came up is a flap: the path then stays down for at least hold_down_s, doubled for each
    further flap in a row (up to 2^HOLD_DOWN_DOUBLINGS times); a path that stayed up for
    hold_down_s starts counting flaps from zero again."""

    def __init__(self, link, peer, address, now):
        self.link = link
        self.peer = peer
        self.address = address
        self.state = "up"
        self.since = now
        self.misses = 0
        self.successes = 0
        self.probes_failed = 0
        self.last_error = None
        self.flaps = 0
        self.hold_until = 0.0
        self.last_up = None

    def probe(self, ok, now, settings, error=None):
        """Count one probe result; returns 'up' / 'down' when the path changes, else None."""
        if ok:
            self.misses = 0
            self.probes_failed = 0
            self.successes += 1
            if self.state == "down" and self.successes >= settings["up_after"] and now >= self.hold_until:
                return self._set("up", now, settings)
            return None
        self.successes = 0
        self.misses += 1
        self.probes_failed += 1
        self.last_error = error
        if self.state == "up" and self.misses >= settings["down_after"]:
            return self._set("down", now, settings)
        return None

    def carrier_lost(self, now, settings):
        self.successes = 0
        self.last_error = "carrier"
        if self.state == "up":
            return self._set("down", now, settings)
        return None

    def _set(self, state, now, settings):
        if state == "down":
            quick = self.last_up is not None and now - self.last_up < settings["hold_down_s"]
            self.flaps = self.flaps + 1 if quick else 0
            hold = 0.0
            if self.flaps:
                hold = settings["hold_down_s"] * 2 ** min(self.flaps - 1, HOLD_DOWN_DOUBLINGS)
            self.hold_until = now + hold
        else:
            self.last_up = now
            self.misses = 0
        self.state = state
        self.since = now
        return state


def _dead_element(address, port):
    return (address, port)


class Watchdog(object):
    """Carrier and path states of one node, and the nft rules they call for (pure logic)."""

    def __init__(self, config, now):
        self.config = config
        self.settings = settings_of(config)
        self.links = {}
        for link in config["links"]:
            self.links[link["name"]] = dict(link, carrier=True, carrier_since=now, state="up", since=now)
        self.paths = {}
        for peer in sorted(config["peers"]):
            for link in config["links"]:
                addresses = config["peers"][peer].get(link["name"])
                if addresses:
                    self.paths[(link["name"], peer)] = Path(link["name"], peer, addresses[0], now)
        self.chains = dict(((chain["family"], chain["name"]), chain) for chain in config["chains"])
        self.generation = 0   # bumped on every change of a carrier or a path
        # kind mptcp: links whose endpoints are to be re-added (a path of theirs came back up),
        # and per link how often and when they were, and the last error
        self.readd = set()
        self.readds = dict((link["name"], {"count": 0, "at": None, "error": None}) for link in config["links"])

    # -- inputs
    def set_carrier(self, link, up, now):
        """Record the carrier of ``link``; returns journal lines."""
        info = self.links[link]
        if info["carrier"] == up:
            return []
        info["carrier"] = up
        info["carrier_since"] = now
        self.generation += 1
        lines = ["link %s (%s): carrier %s" % (link, info["device"], "up" if up else "lost")]
        if not up:
            for (name, peer), path in sorted(self.paths.items()):
                if name == link and path.carrier_lost(now, self.settings):
                    lines.append("peer %s link %s (%s): down (carrier lost)" % (peer, link, path.address))
        self._refresh_links(now)
        return lines

    def probe_result(self, link, peer, ok, now, error=None):
        """Count a probe of (link, peer); returns journal lines for a transition."""
        path = self.paths[(link, peer)]
        if not self.links[link]["carrier"]:
            return []  # a result that raced the carrier loss
        before_hold = path.hold_until
        change = path.probe(ok, now, self.settings, error)
        lines = []
        if change == "down":
            line = "peer %s link %s (%s): down after %d failed probes (%s)" % (
                peer, link, path.address, path.misses, error or "no answer")
            if path.hold_until > now:
                line += "; flap %d, held down for %.1f s" % (path.flaps, path.hold_until - now)
            lines.append(line)
        elif change == "up":
            lines.append("peer %s link %s (%s): up after %d good probes" % (
                peer, link, path.address, path.successes))
            if self.config["kind"] == "mptcp":
                self.readd.add(link)
        elif ok and path.state == "down" and path.successes == self.settings["up_after"] and before_hold > now:
            lines.append("peer %s link %s (%s): answers again, held down until the hold-down ends "
                         "in %.1f s" % (peer, link, path.address, before_hold - now))
        if change:
            self.generation += 1
            self._refresh_links(now)
        return lines

    def seed(self, status, now, wall):
        """Start paths a previous daemon saw down as down (a restart keeps failed lanes out)."""
        if not isinstance(status, dict) or status.get("node") != self.config["node"]:
            return []
        updated = status.get("updated")
        if not isinstance(updated, (int, float)) or not 0 <= wall - updated <= SEED_MAX_AGE_S:
            return []
        lines = []
        for peer, links in (status.get("peers") or {}).items():
            for link, entry in (links or {}).items():
                path = self.paths.get((link, peer))
                if path is None or not isinstance(entry, dict) or entry.get("state") != "down":
                    continue
                since = entry.get("since")
                path.state = "down"
                path.since = now - (wall - since) if isinstance(since, (int, float)) else now
                path.last_error = "seeded"
                lines.append("peer %s link %s (%s): down (as the previous run saw it)" % (peer, link, path.address))
        self.generation += 1
        self._refresh_links(now)
        return lines

    # -- what the probes and rules need
    def probe_targets(self):
        """[(link, peer, device, family, source, address)] for every path whose link has carrier."""
        out = []
        for (link, peer), path in sorted(self.paths.items()):
            info = self.links[link]
            if info["carrier"]:
                out.append((link, peer, info["device"], info["family"], info["source"], path.address))
        return out

    def up(self, link, peer):
        path = self.paths.get((link, peer))
        return path is not None and path.state == "up" and self.links[link]["carrier"]

    def rules(self, everything_up=False):
        """{'chains': {(family, chain): (address, ...)}, 'dead': {family: ((address, port), ...)}}.

        A chain keeps the lanes whose (link, peer) path is up, in rotation order. When every
        path of the peer in the chain's family is down, the chain keeps its primary lane (the
        lanes on the primary link, else the first lane's link) and the peer gets no resets:
        the node then behaves as if there were no watchdog for that peer."""
        up = (lambda link, peer: True) if everything_up else self.up
        chains = {}
        dead = dict((family, set()) for family in sorted(set(c["family"] for c in self.config["chains"])))
        for key, chain in sorted(self.chains.items()):
            peer = chain["peer"]
            links = [link for link in self.config["peers"][peer]
                     if self.links[link]["family"] == chain["family"]]
            live = [lane["address"] for lane in chain["lanes"] if up(lane["link"], peer)]
            if not live:
                primary = self.config["primary_link"]
                if not any(lane["link"] == primary for lane in chain["lanes"]):
                    primary = chain["lanes"][0]["link"]
                live = [lane["address"] for lane in chain["lanes"] if lane["link"] == primary]
            chains[key] = tuple(live)
            if any(up(link, peer) for link in links):
                for link in links:
                    if not up(link, peer):
                        for address in self.config["peers"][peer][link]:
                            for port in self.config["ports"]:
                                dead[chain["family"]].add(_dead_element(address, port))
        dead = dict((family, tuple(sorted(elements))) for family, elements in dead.items())
        return {"chains": chains, "dead": dead}

    def endpoints_readded(self, links, ok, error, now):
        """Record a re-add of the endpoints of ``links`` (kind mptcp); a failed one is retried."""
        for link in links:
            entry = self.readds[link]
            entry["error"] = error
            if ok:
                entry["count"] += 1
                entry["at"] = now
                self.readd.discard(link)

    # -- status
    def _refresh_links(self, now):
        for name, info in self.links.items():
            paths = [path for (link, dummy), path in self.paths.items() if link == name]
            state = "up" if info["carrier"] and (not paths or any(p.state == "up" for p in paths)) else "down"
            if state != info["state"]:
                info["state"] = state
                info["since"] = now

    def status(self, wall, now, rules=None, applied=None, view=None):
        """The status document (times as epoch seconds; ``wall`` and ``now`` are the same instant);
        kind mptcp: ``view`` is the last subflow_view(), when there is one."""
        def epoch(value):
            return round(wall - (now - value), 3)

        links = {}
        for name, info in sorted(self.links.items()):
            links[name] = {"device": info["device"], "carrier": info["carrier"], "state": info["state"],
                           "since": epoch(info["since"])}
            if self.config["kind"] == "mptcp":
                readd = self.readds[name]
                links[name].update(
                    endpoints=[{"id": e["id"], "address": e["address"]} for e in self.config["endpoints"]
                               if e["link"] == name],
                    readded=readd["count"], readded_at=None if readd["at"] is None else epoch(readd["at"]),
                    readd_skipped=readd.get("skipped", 0),
                    readd_pending=name in self.readd, readd_error=readd["error"])
                if view and name in view:
                    links[name].update(view[name])
        peers = {}
        for (link, peer), path in sorted(self.paths.items()):
            state = path.state if self.links[link]["carrier"] else "down"
            entry = {"address": path.address, "state": state, "since": epoch(path.since),
                     "probes_failed": path.probes_failed}
            if path.state == "down" and path.hold_until > now:
                entry["held_until"] = epoch(path.hold_until)
            if path.last_error and state == "down":
                entry["error"] = path.last_error
            peers.setdefault(peer, {})[link] = entry
        document = {"updated": round(wall, 3), "node": self.config["node"], "kind": self.config["kind"],
                    "links": links, "peers": peers, "settings": self.settings}
        if self.config["kind"] == "mptcp":
            document["endpoints"] = dict(applied or {})
        elif rules is not None:
            document["rules"] = {
                "lanes": dict(("%s %s" % (NFT_FAMILY[family], name), list(addresses))
                              for (family, name), addresses in sorted(rules["chains"].items())),
                "dead": sorted("%s . %d" % element for elements in rules["dead"].values() for element in elements),
            }
            document["rules"].update(applied or {})
        return document


# ---------------------------------------------------------------------------- nft transaction
def render_transaction(config, rules, previous=None, reason=""):
    """The nft script turning ``previous`` rules (None: unknown) into ``rules``; '' if nothing changes.

    One ``nft -f`` run is one transaction: every peer chain that changes is flushed and gets
    its new statement, and each family's dead set is replaced, all at once."""
    table = config["table"]
    lines = []
    for key, addresses in sorted(rules["chains"].items()):
        if previous is not None and previous["chains"].get(key) == addresses:
            continue
        family, name = key
        where = "%s %s %s" % (NFT_FAMILY[family], table, name)
        lines += ["flush chain %s" % where,
                  "add rule %s %s" % (where, dnat_statement(config["mode"], addresses))]
    for family, elements in sorted(rules["dead"].items()):
        if previous is not None and previous["dead"].get(family) == elements:
            continue
        where = "%s %s %s" % (NFT_FAMILY[family], table, config["dead_set"])
        lines.append("flush set %s" % where)
        if elements:
            lines.append("add element %s { %s }" % (where, ", ".join("%s . %d" % e for e in elements)))
    if not lines:
        return ""
    return "\n".join(["# clusterfabric-linkwatch on %s: %s" % (config["node"], reason or "sync")] + lines) + "\n"


def describe(config, rules, previous=None):
    """One journal line for the rules: the links in rotation of each chain that changed, the dead set."""
    link_of = {}
    for peer, links in config["peers"].items():
        for link, addresses in links.items():
            for address in addresses:
                link_of[address] = link
    parts = []
    for (family, name), addresses in sorted(rules["chains"].items()):
        if previous is not None and previous["chains"].get((family, name)) == addresses:
            continue
        parts.append("%s%s=%s" % (name, "(ip6)" if family == "ipv6" else "",
                                  ",".join(link_of.get(a, a) for a in addresses)))
    dead = sorted("%s.%d" % e for elements in rules["dead"].values() for e in elements)
    return "lanes %s; dead %s" % (" ".join(parts) or "-", " ".join(dead) or "-")


def _address_key(text):
    """An address as a comparable value (``ip`` prints IPv6 compressed; a typo stays itself)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return text


def _on_addresses(config, links, present):
    """{address key: [present entries]} of ``present`` ({id: {address, implicit}}) on the addresses
    of ``links``' endpoints of ours."""
    keys = set(_address_key(e["address"]) for e in config["endpoints"] if e["link"] in links)
    out = {}
    for number, entry in sorted((present or {}).items()):
        key = _address_key(entry["address"])
        if key in keys:
            out.setdefault(key, []).append(dict(entry, id=number))
    return out


def render_readd(config, links, present=None):
    """(delete lines, add lines) of ``ip -batch`` that re-add the signal endpoints of ``links``.

    Deleting an endpoint makes the kernel drop the subflows on that address (their link was
    down) and tell the peers; adding it again announces the address on every existing MPTCP
    connection, so the peers join it and each connection gets its subflow on the link back.
    ``present`` ({id: {address, implicit}} of the endpoints in place, or None): the deletes take
    whatever endpoint is on our addresses (ours may carry another id, see below), an address that
    has one other than an implicit one gets no add (the role put it back meanwhile), and an add
    over an *implicit* endpoint (the kernel's, made for a join from an address while its endpoint
    was deleted) gives no id: the kernel then turns that one into ours, keeping its id and its
    subflows, where an explicit id is refused (EINVAL) and deleting it would close those joins."""
    endpoints = [e for e in config["endpoints"] if e["link"] in links]
    on = _on_addresses(config, links, present)
    taken = set(present or ())
    deletes, adds = [], []
    for e in endpoints:
        found = on.get(_address_key(e["address"]), [])
        ids = sorted(set([entry["id"] for entry in found] + ([] if present is not None else [e["id"]])))
        deletes += ["mptcp endpoint delete id %d" % number for number in ids]
        line = "mptcp endpoint add %s dev %s signal" % (e["address"], e["device"])
        if any(not entry["implicit"] for entry in found):
            continue                   # back already (a converge between our delete and add): nothing to add
        if any(entry["implicit"] for entry in found) or (e["id"] in taken and e["id"] not in ids):
            adds.append(line)          # the kernel keeps the implicit one's id, or picks a free one
        else:
            adds.append(line + " id %d" % e["id"])
    return deletes, adds


def missing_endpoints(config, present):
    """Our endpoints whose address has no endpoint but implicit ones (any id: see render_readd)."""
    on = _on_addresses(config, [link["name"] for link in config["links"]], present)
    return [e for e in config["endpoints"]
            if not any(not entry["implicit"] for entry in on.get(_address_key(e["address"]), []))]


def _unmapped(text):
    """An address of ``ss`` output without brackets, and an IPv4-mapped IPv6 one (a dual-stack
    listener's) as the IPv4 address it is."""
    text = text.strip("[]")
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else text


def connection_links(text, config):
    """{local token: {"accepted": bool, "links": set}} of ``ss -Htni`` output of the fabric ports:
    subflows grouped into connections by their local token (``token:REMOTE/LOCAL``), each on the
    link of its local address (one of this node's endpoints), or else of its peer's address (under
    anchor placement a node's NAT takes the subflows it accepts to its anchor); ``accepted`` when
    its local port is a fabric port (a peer opened it)."""
    links_of = dict((e["address"], e["link"]) for e in config["endpoints"])
    peer_links = dict((address, link) for links in config.get("peers", {}).values()
                      for link, addresses in links.items() for address in addresses)
    ports = set(str(port) for port in config.get("ports", ()))
    connections = {}
    local = remote = None
    accepted = False
    for line in text.splitlines():
        if line[:1] not in (" ", "\t"):
            fields = line.split()
            local = fields[2].rsplit(":", 1) if len(fields) >= 4 else None
            remote = _unmapped(fields[3].rsplit(":", 1)[0]) if len(fields) >= 4 else None
            accepted = bool(local) and len(local) == 2 and local[1] in ports
            local = _unmapped(local[0]) if local else None
            continue
        match = _SUBFLOW_TOKEN_RE.search(line)
        if match and local is not None:
            entry = connections.setdefault(match.group(1), {"accepted": accepted, "links": set()})
            entry["accepted"] = entry["accepted"] or accepted
            link = links_of.get(local) or peer_links.get(remote)
            if link:
                entry["links"].add(link)
    return connections


def short_links(text, config, accepted=None):
    """The links some MPTCP connection has no subflow on (connection_links); with ``accepted``
    True or False, of the connections this node accepted, or opened, only."""
    names = [link["name"] for link in config["links"]]
    connections = [entry for entry in connection_links(text, config).values()
                   if accepted is None or entry["accepted"] == accepted]
    return sorted(set(name for entry in connections for name in names if name not in entry["links"]))


def parse_msk_counters(text):
    """{local token: (add_addr_accepted, add_addr_accepted_max)} of ``ss -HMni`` output (the MPTCP
    sockets; ss leaves out a counter that is 0)."""
    out = {}
    for line in text.splitlines():
        token = _MSK_TOKEN_RE.search(line)
        if not token:
            continue
        counters = dict((name, int(value)) for name, value in _MSK_COUNTER_RE.findall(line))
        out[token.group(1)] = (counters.get("add_addr_accepted", 0), counters.get("add_addr_accepted_max"))
    return out


def subflow_view(text, msk_text, config):
    """Per link, {short: {opened, accepted}, exhausted}: the connections (opened by this node,
    accepted from a peer) with no subflow on it, and of the opened ones those whose path manager
    can join no more announcements (EXHAUSTED: add_addr_accepted at add_addr_accepted_max)."""
    counters = parse_msk_counters(msk_text or "")
    view = dict((link["name"], {"short": {"opened": 0, "accepted": 0}, "exhausted": 0}) for link in config["links"])
    for token, entry in connection_links(text, config).items():
        for name, info in view.items():
            if name in entry["links"]:
                continue
            info["short"]["accepted" if entry["accepted"] else "opened"] += 1
            used, most = counters.get(token, (0, None))
            if not entry["accepted"] and most is not None and used >= most:
                info["exhausted"] += 1
    return view


def parse_endpoints(text):
    """{id: {address, implicit}} of ``ip mptcp endpoint show`` output (lines like ``198.18.0.11 id
    101 signal dev eth0``); an implicit endpoint shows ``implicit`` or, with an older iproute2,
    ``rawflags`` with bit 0x10."""
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if "id" in fields[:-1]:
            value = fields[fields.index("id") + 1]
            if value.isdigit():
                implicit = "implicit" in fields
                if "rawflags" in fields[:-1]:
                    try:
                        implicit = implicit or bool(int(fields[fields.index("rawflags") + 1], 16) & 0x10)
                    except ValueError:
                        pass
                out[int(value)] = {"address": fields[0], "implicit": implicit}
    return out


# ---------------------------------------------------------------------------- probes (I/O)
LINGER_RST = struct.pack("ii", 1, 0)
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
SO_MARK = getattr(socket, "SO_MARK", 36)
# A reset proves the peer's address answered on that link: refused (no listener), or reset
# right after the handshake (a busy server that accepts and drops, such as iperf3 during a test).
REACHED = (0, errno.ECONNREFUSED, errno.ECONNRESET)


def probe_verdict(error_number):
    """(ok, error text) for the SO_ERROR / connect_ex result of a TCP probe."""
    if error_number in REACHED:
        return True, None
    return False, errno.errorcode.get(error_number, str(error_number))


def probe_source_ports(count=8, path="/proc/sys/net/ipv4/ip_local_port_range"):
    """Source ports for TCP probes: the ``count`` ports just below the kernel's ephemeral range.

    Applications' connections take ephemeral ports, so a probe never shares a 4-tuple (and a
    conntrack entry) with one of them: a fabric connection cannot inherit a probe's unsteered
    entry, and a probe cannot inherit a connection's NAT binding to another link. [] (ephemeral
    ports) when the range starts too low to leave room below it."""
    try:
        with open(path) as handle:
            low = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    return list(range(low - count, low)) if low - count >= 1024 else []


class TcpProber(object):
    """Non-blocking TCP connects, one in flight per path, bound to the link's device and address
    (and to a port of ``source_ports`` in turn, so a path's probes do not reuse one 4-tuple
    back to back)."""

    def __init__(self, port, mark, timeout, source_ports=None):
        self.port = port
        self.mark = mark
        self.timeout = timeout
        self.source_ports = list(source_ports or [])
        self.turn = {}      # key -> index into source_ports
        self.pending = {}   # fd -> (key, socket, deadline)
        self.busy = set()

    def _bind(self, sock, key, source):
        if not self.source_ports:
            sock.bind((source, 0))
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        start = self.turn.get(key, 0)
        self.turn[key] = (start + 1) % len(self.source_ports)
        for attempt in range(len(self.source_ports)):
            try:
                sock.bind((source, self.source_ports[(start + attempt) % len(self.source_ports)]))
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        sock.bind((source, 0))  # every port of the pool taken (by someone else): ephemeral

    def start(self, key, device, family, source, address, now):
        """Start a probe; returns (ok, error) when it ended at once, else None."""
        if key in self.busy:
            return None
        sock = None
        try:
            sock = socket.socket(socket.AF_INET if family == "ipv4" else socket.AF_INET6, socket.SOCK_STREAM)
            sock.setblocking(False)
            if self.mark:
                sock.setsockopt(socket.SOL_SOCKET, SO_MARK, self.mark)
            if device:
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device.encode())
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
            self._bind(sock, key, source)
            result = sock.connect_ex((address, self.port))
        except OSError as exc:
            if sock is not None:
                sock.close()
            return False, errno.errorcode.get(exc.errno, str(exc))
        if result != errno.EINPROGRESS:
            sock.close()
            return probe_verdict(result)
        self.pending[sock.fileno()] = (key, sock, now + self.timeout)
        self.busy.add(key)
        return None

    def fds(self):
        return [(fd, select.POLLOUT) for fd in self.pending]

    def ready(self, fd):
        """[(key, ok, error)] for a socket poll reported."""
        if fd not in self.pending:
            return []
        key, sock, dummy = self.pending.pop(fd)
        self.busy.discard(key)
        try:
            verdict = probe_verdict(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
        finally:
            sock.close()
        return [(key,) + verdict]

    def expire(self, now):
        """Probes past their deadline; one that did connect (an event not read yet) still counts."""
        out = []
        for fd, (key, sock, deadline) in list(self.pending.items()):
            if now >= deadline:
                del self.pending[fd]
                self.busy.discard(key)
                verdict = (False, "timeout")
                try:
                    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if error:
                        verdict = probe_verdict(error)
                    else:
                        sock.getpeername()  # ENOTCONN while the handshake is still open
                        verdict = (True, None)
                except OSError:
                    pass
                sock.close()
                out.append((key,) + verdict)
        return out

    def close(self):
        for dummy, sock, dummy2 in self.pending.values():
            sock.close()
        self.pending.clear()
        self.busy.clear()


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp_echo(family, ident, seq):
    """An ICMP (IPv4) or ICMPv6 echo request; the kernel fills in the ICMPv6 checksum."""
    kind = 8 if family == "ipv4" else 128
    payload = b"cfml-linkwatch"
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == "ipv4":
        header = struct.pack("!BBHHH", kind, 0, inet_checksum(header + payload), ident, seq)
    return header + payload


def icmp_reply(family, packet):
    """(ident, seq) of an echo reply, or None; IPv4 raw sockets include the IP header."""
    if family == "ipv4":
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4:]
    if len(packet) < 8:
        return None
    kind, code, dummy, ident, seq = struct.unpack("!BBHHH", packet[:8])
    if code != 0 or kind != (0 if family == "ipv4" else 129):
        return None
    return ident, seq


class IcmpProber(object):
    """ICMP echo over a raw socket per path (bound to the link's device and address)."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.sockets = {}   # key -> (socket, family, address, ident)
        self.pending = {}   # key -> (seq, deadline)
        self.seq = 0

    def _socket(self, key, device, family, source, address):
        if key not in self.sockets:
            if family == "ipv4":
                sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            else:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device.encode())
                sock.bind((source, 0))
            except OSError:
                sock.close()
                raise
            ident = (os.getpid() * 7 + len(self.sockets)) & 0xFFFF
            self.sockets[key] = (sock, family, address, ident)
        return self.sockets[key]

    def start(self, key, device, family, source, address, now):
        if key in self.pending:
            return None
        try:
            sock, dummy, dummy2, ident = self._socket(key, device, family, source, address)
            self.seq = (self.seq + 1) & 0xFFFF
            sock.sendto(icmp_echo(family, ident, self.seq), (address, 0))
        except OSError as exc:
            self._drop(key)
            return False, errno.errorcode.get(exc.errno, str(exc))
        self.pending[key] = (self.seq, now + self.timeout)
        return None

    def _drop(self, key):
        entry = self.sockets.pop(key, None)
        if entry:
            entry[0].close()
        self.pending.pop(key, None)

    def fds(self):
        return [(entry[0].fileno(), select.POLLIN) for entry in self.sockets.values()]

    def ready(self, fd):
        out = []
        for key, (sock, family, address, ident) in list(self.sockets.items()):
            if sock.fileno() != fd:
                continue
            while True:
                try:
                    packet, sender = sock.recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    self._drop(key)
                    break
                reply = icmp_reply(family, packet)
                wanted = self.pending.get(key)
                if reply and wanted and reply == (ident, wanted[0]) and \
                        ipaddress.ip_address(sender[0]) == ipaddress.ip_address(address):
                    del self.pending[key]
                    out.append((key, True, None))
        return out

    def expire(self, now):
        out = []
        for key, (dummy, deadline) in list(self.pending.items()):
            if now >= deadline:
                del self.pending[key]
                out.append((key, False, "timeout"))
        return out

    def close(self):
        for key in list(self.sockets):
            self._drop(key)


# ---------------------------------------------------------------------------- carrier (I/O)
def read_carrier(device, root="/sys/class/net"):
    """True when the interface is administratively up and has carrier.

    Reading ``carrier`` of an interface that is down fails (EINVAL); a missing one is down."""
    try:
        with open(os.path.join(root, device, "flags")) as handle:
            if not int(handle.read().strip(), 16) & 0x1:
                return False
        with open(os.path.join(root, device, "carrier")) as handle:
            return handle.read().strip() == "1"
    except (OSError, ValueError):
        return False


class LinkEvents(object):
    """rtnetlink link notifications, so a lost carrier is seen at once (polling stays as backup)."""

    RTMGRP_LINK = 1

    def __init__(self):
        self.sock = None
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
            sock.setblocking(False)
            sock.bind((0, self.RTMGRP_LINK))
            self.sock = sock
        except (OSError, AttributeError):
            self.sock = None

    def fileno(self):
        return self.sock.fileno() if self.sock else None

    def drain(self):
        while self.sock:
            try:
                if not self.sock.recv(65536):
                    break
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


# ---------------------------------------------------------------------------- conntrack
# A connection whose first SYN took a lane just before that lane's path went down keeps its
# conntrack entry, and with it the NAT binding to the dead address: every retransmission goes
# the same way. Deleting such entries (still waiting for the SYN-ACK, reply expected from a dead
# address and fabric port) lets the next retransmission start a new entry, which the rules now
# steer to a live lane. Left alone, the fast-fail reset would end the connection and leave the
# entry behind for 10 s in CLOSE, where a new connection that happens to reuse the source port
# would inherit the dead lane (the kernel does not reopen an entry reset from the reply side).
NETLINK_NETFILTER = 12
CT_MSG_NEW, CT_MSG_GET, CT_MSG_DELETE = 0, 1, 2
NFNL_SUBSYS_CTNETLINK = 1
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_ZONE = 1, 2, 3, 18
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
IPS_SEEN_REPLY = 0x2
AF_OF = {"ipv4": 2, "ipv6": 10}


def nlattrs(data):
    """[(type, payload, raw bytes of the whole attribute)] of a netlink attribute stream."""
    out = []
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4 or offset + length > len(data):
            break
        out.append((kind & 0x3FFF, data[offset + 4:offset + length], data[offset:offset + length]))
        offset += (length + 3) & ~3
    return out


def _tuple(payload):
    fields = {}
    for kind, value, dummy in nlattrs(payload):
        if kind == CTA_TUPLE_IP:
            for ip_kind, address, dummy2 in nlattrs(value):
                if ip_kind in (1, 3):
                    fields["src"] = str(ipaddress.ip_address(address))
                elif ip_kind in (2, 4):
                    fields["dst"] = str(ipaddress.ip_address(address))
        elif kind == CTA_TUPLE_PROTO:
            for proto_kind, number, dummy2 in nlattrs(value):
                if proto_kind == CTA_PROTO_NUM:
                    fields["proto"] = number[0]
                elif proto_kind == CTA_PROTO_SRC_PORT:
                    fields["sport"] = struct.unpack("!H", number[:2])[0]
                elif proto_kind == CTA_PROTO_DST_PORT:
                    fields["dport"] = struct.unpack("!H", number[:2])[0]
    return fields


def parse_ct(payload):
    """A conntrack entry from a ctnetlink message body (after the 4-byte nfgenmsg); ``keep`` holds
    the attributes (padded) that name the entry in a delete request: its tuple and zone."""
    entry = {"status": 0, "keep": []}
    for kind, value, raw in nlattrs(payload):
        raw += b"\0" * (-len(raw) % 4)
        if kind == CTA_TUPLE_ORIG:
            entry["orig"] = _tuple(value)
            entry["keep"].append(raw)
        elif kind == CTA_TUPLE_REPLY:
            entry["reply"] = _tuple(value)
        elif kind == CTA_STATUS:
            entry["status"] = struct.unpack("!I", value[:4])[0]
        elif kind == CTA_ZONE:
            entry["keep"].append(raw)
    return entry


def stuck_on(entry, dead):
    """True for a TCP entry still waiting for its SYN-ACK from one of ``dead`` {(address, port)}."""
    reply = entry.get("reply") or {}
    return (reply.get("proto") == socket.IPPROTO_TCP and not entry["status"] & IPS_SEEN_REPLY
            and (reply.get("src"), reply.get("sport")) in dead)


def ct_message(kind, family, seq, flags, body=b""):
    header_type = (NFNL_SUBSYS_CTNETLINK << 8) | kind
    payload = struct.pack("=BBH", AF_OF[family], 0, 0) + body
    return struct.pack("=IHHII", 16 + len(payload), header_type, flags, seq, 0) + payload


def nlmessages(data):
    """[(type, flags, seq, payload)] of the netlink messages in one datagram."""
    out = []
    offset = 0
    while offset + 16 <= len(data):
        length, kind, flags, seq, dummy = struct.unpack_from("=IHHII", data, offset)
        if length < 16 or offset + length > len(data):
            break
        out.append((kind, flags, seq, data[offset + 16:offset + length]))
        offset += (length + 3) & ~3
    return out


class Conntrack(object):
    """Dump and delete conntrack entries over ctnetlink (standard library sockets only)."""

    def __init__(self, timeout=1.0):
        self.timeout = timeout
        self.seq = int(time.time()) & 0xFFFF

    def _socket(self):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        sock.settimeout(self.timeout)
        sock.bind((0, 0))
        return sock

    def forget(self, family, dead):
        """Delete the entries stuck on ``dead`` {(address, port)}; returns how many went."""
        if not dead:
            return 0
        sock = self._socket()
        try:
            self.seq += 1
            sock.send(ct_message(CT_MSG_GET, family, self.seq, NLM_F_REQUEST | NLM_F_DUMP))
            doomed = []
            done = False
            while not done:
                for kind, dummy, dummy2, payload in nlmessages(sock.recv(1 << 17)):
                    if kind in (NLMSG_DONE, NLMSG_ERROR):
                        done = True
                        break
                    entry = parse_ct(payload[4:])
                    if stuck_on(entry, dead):
                        doomed.append(entry)
            for entry in doomed:
                self.seq += 1
                sock.send(ct_message(CT_MSG_DELETE, family, self.seq, NLM_F_REQUEST | NLM_F_ACK,
                                     b"".join(entry["keep"])))
                sock.recv(4096)  # the ack (or ENOENT: gone meanwhile)
            return len(doomed)
        finally:
            sock.close()


# ---------------------------------------------------------------------------- nft, status, systemd (I/O)
def find_nft():
    return shutil.which("nft", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or "/usr/sbin/nft"


class Nft(object):
    """nft transactions in this process through libnftables (no fork: about 1 ms instead of
    20-60 ms on a busy host), or through the nft command when the library cannot be loaded.
    Either way one script is one transaction."""

    def __init__(self, command=None, library="libnftables.so.1"):
        self.command = command or find_nft()
        self.lib = self.ctx = None
        try:
            import ctypes  # pylint: disable=import-outside-toplevel
            lib = ctypes.CDLL(library)
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
                getattr(lib, name).argtypes = [ctypes.c_void_p]
            for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
                getattr(lib, name).argtypes = [ctypes.c_void_p]
                getattr(lib, name).restype = ctypes.c_char_p
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            ctx = lib.nft_ctx_new(0)
            if not ctx:
                raise OSError("nft_ctx_new failed")
            lib.nft_ctx_buffer_output(ctx)
            lib.nft_ctx_buffer_error(ctx)
            self.lib, self.ctx = lib, ctx
        except (OSError, AttributeError, ImportError):
            self.lib = self.ctx = None

    @property
    def how(self):
        return "libnftables" if self.lib else self.command

    def run(self, script):
        """(ok, error text) of one transaction."""
        if self.lib:
            rc = self.lib.nft_run_cmd_from_buffer(self.ctx, script.encode())
            self.lib.nft_ctx_get_output_buffer(self.ctx)  # read, so the buffer starts empty next time
            error = (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode(errors="replace")
            return (True, None) if rc == 0 else (False, error.strip().replace("\n", " | ") or "rc %d" % rc)
        try:
            result = subprocess.run([self.command, "-f", "-"], input=script, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, universal_newlines=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        if result.returncode != 0:
            return False, (result.stderr or result.stdout).strip().replace("\n", " | ")
        return True, None

    def handles(self, table):
        """{nft family: handle} of the tables named ``table`` (None: could not tell).

        A new handle means the table was loaded anew (delete and create)."""
        try:
            result = subprocess.run([self.command, "-j", "list", "tables"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, universal_newlines=True, timeout=10, check=False)
            items = json.loads(result.stdout).get("nftables", []) if result.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired, ValueError):
            return None
        if items is None:
            return None
        return dict((item["table"]["family"], item["table"].get("handle")) for item in items
                    if "table" in item and item["table"].get("name") == table)


def find_ip():
    return shutil.which("ip", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or "/usr/sbin/ip"


class IpMptcp(object):
    """MPTCP endpoints through the ip command (iproute2): batches of endpoint commands, the ids in place."""

    how = "ip mptcp"

    def __init__(self, command=None):
        self.command = command or find_ip()

    def _run(self, argv, data=None):
        try:
            result = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    universal_newlines=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, "", str(exc)
        return result.returncode == 0, result.stdout, (result.stderr or result.stdout).strip().replace("\n", " | ")

    def delete(self, deletes):
        """Delete endpoints; one already gone is no error (-force goes on)."""
        if deletes:
            self._run([self.command, "-force", "-batch", "-"], "\n".join(deletes) + "\n")

    def add(self, adds):
        """(ok, error text) of adding endpoints."""
        ok, dummy, error = self._run([self.command, "-batch", "-"], "\n".join(adds) + "\n")
        return (True, None) if ok else (False, error or "ip -batch failed")

    def readd(self, deletes, adds):
        """(ok, error text): the deletes may fail (an endpoint already gone), the adds must not."""
        self.delete(deletes)
        return self.add(adds)

    def _ss(self, flags, ports):
        """``ss FLAGS`` of the established sockets on ``ports``; None when ss fails."""
        ss = shutil.which("ss", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin") or "ss"
        where = " or ".join("sport = :%d or dport = :%d" % (port, port) for port in ports)
        ok, out, dummy = self._run([ss, flags, "state", "established", "( %s )" % where])
        return out if ok else None

    def subflows(self, ports):
        """``ss -Htni`` of the established sockets on ``ports`` (their subflows' info); None when ss fails."""
        return self._ss("-Htni", ports)

    def connections(self, ports):
        """``ss -HMni`` of the established MPTCP sockets on ``ports`` (their path manager's
        counters); None when ss fails."""
        return self._ss("-HMni", ports)

    def endpoints(self):
        """parse_endpoints() of the endpoints in place; None when they cannot be read."""
        ok, out, dummy = self._run([self.command, "mptcp", "endpoint", "show"])
        return parse_endpoints(out) if ok else None


def write_status(path, document):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    temp = "%s.%d.tmp" % (path, os.getpid())
    with open(temp, "w") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.chmod(temp, 0o644)
    os.replace(temp, path)


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def sd_notify(message):
    target = os.environ.get("NOTIFY_SOCKET")
    if not target:
        return
    if target.startswith("@"):
        target = "\0" + target[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(target)
        sock.send(message.encode())
    except OSError:
        pass
    finally:
        sock.close()


def log(line):
    """A journal line: systemd stores what the service writes to stdout."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def raise_priority():
    """Best effort: nice -10, so 100 ms timers hold on a busy host (a CPU-bound neighbour gets
    a tenth of the weight); not real-time, so a fault here can never starve the host. Containers
    usually lack CAP_SYS_NICE. Returns what held."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        return "nice -10"
    except (AttributeError, OSError):
        return "nice %d (not allowed to raise it)" % os.getpriority(os.PRIO_PROCESS, 0)


# ---------------------------------------------------------------------------- the daemon
class Daemon(object):
    """The event loop around a Watchdog: probes, carrier, nft transactions (kind nat) or endpoint
    re-adds (kind mptcp), status file."""

    def __init__(self, config, nft=None, prober=None, events=None, clock=time.monotonic, wall=time.time,
                 conntrack=None, ip=None):
        self.config = config
        self.mptcp = config["kind"] == "mptcp"
        self.clock = clock
        self.wall = wall
        self.core = Watchdog(config, clock())
        self.nft = nft or (None if self.mptcp else Nft())
        self.ip = ip or (IpMptcp() if self.mptcp else None)
        self.deleted = {}  # kind mptcp: link -> when its deleted endpoints are added back
        self.check_at = {}  # kind mptcp: link -> when its subflows are looked at (a path came back)
        self.forced = set()  # kind mptcp: links re-added without a look (endpoints missing)
        self.verifying = {}  # kind mptcp: link -> (when its subflows are looked at after a re-add, re-adds in a row)
        self.view = None     # kind mptcp: subflow_view() of the last look at the subflows
        self.view_at = None  # its wall-clock time
        self.look_due = clock() + SUBFLOWS_LOOK_S
        self.interval = config["interval_ms"] / 1000.0
        timeout = (config["timeout_ms"] or config["interval_ms"]) / 1000.0
        if prober is not None:
            self.prober = prober
        elif config["probe"] == "tcp":
            self.prober = TcpProber(config["probe_port"], config["mark"], timeout, probe_source_ports())
        else:
            self.prober = IcmpProber(timeout)
        self.events = events or LinkEvents()
        self.conntrack = conntrack or Conntrack()
        self.families = set(NFT_FAMILY[chain["family"]] for chain in config["chains"])
        self.applied = None          # the rules in the kernel; None: not known
        self.synced = None           # core generation the kernel was last brought to
        self.handles = None          # {nft family: table handle} when last looked
        self.apply_info = {"ok": None, "applied": None, "error": None, "seconds": None}
        self.retry_at = 0.0
        self.last_error = None
        self.stopping = False
        self.status_due = 0.0
        self.status_generation = None

    # -- pieces of the loop
    def read_carriers(self):
        now = self.clock()
        for name, info in sorted(self.core.links.items()):
            for line in self.core.set_carrier(name, read_carrier(info["device"]), now):
                log(line)

    def handle(self, results):
        now = self.clock()
        for (link, peer), ok, error in results:
            for line in self.core.probe_result(link, peer, ok, now, error):
                log(line)

    def table_present(self):
        return self.handles is None or self.families <= set(self.handles)

    def sync(self, reason, force=False):
        """Bring the kernel to the wanted rules in one transaction; True when they are in place."""
        if self.mptcp:
            return self.sync_endpoints(reason)
        if not self.config["chains"]:
            return True  # nothing is steered here: watch and report only
        if not force and self.applied is not None and self.synced == self.core.generation:
            return True
        now = self.clock()
        if not force and (not self.table_present() or (self.applied is None and now < self.retry_at)):
            return False
        wanted = self.core.rules()
        generation = self.core.generation
        previous = None if force else self.applied
        script = render_transaction(self.config, wanted, previous, reason)
        if script:
            started = self.clock()
            ok, error = self.nft.run(script)
            took = self.clock() - started
            self.apply_info = {"ok": ok, "applied": round(self.wall(), 3), "error": error,
                               "seconds": round(took, 4)}
            if not ok:
                self.applied = None
                self.retry_at = now + self.config["resync_s"]
                if error != self.last_error:
                    log("rules NOT applied (%s): nft failed: %s; retrying every %.1f s"
                        % (reason, error, self.config["resync_s"]))
                self.last_error = error
                return False
            log("rules applied in %.1f ms (%s): %s" % (took * 1000, reason, describe(self.config, wanted, previous)))
        self.last_error = None
        self.applied = wanted
        self.synced = generation
        self.forget_stuck(wanted, previous)
        return True

    def sync_endpoints(self, reason):
        """Kind mptcp: re-add the endpoints of the links whose paths came back: delete them, add them
        back READD_SETTLE_S later (see there), look at the subflows again READD_VERIFY_S after that.
        True when nothing is pending."""
        now = self.clock()
        self.verify_readds(now)
        pending = sorted(self.core.readd - set(self.deleted))
        if pending and now >= self.retry_at:
            pending = self.needing_readd(pending, now)
        if pending and now >= self.retry_at:
            deletes, dummy = render_readd(self.config, pending, self.ip.endpoints())
            self.ip.delete(deletes)  # an endpoint already gone is fine
            settle = READD_SETTLE_S * 2 ** max(self.verifying.get(link, (0, 0))[1] for link in pending)
            for link in pending:
                self.deleted[link] = now + settle
            self.status_generation = None
            log("endpoints of %s deleted (%s); adding them back in %.1f s" % (", ".join(pending), reason, settle))
        due = sorted(link for link, at in self.deleted.items() if at <= now)
        if due:
            self.add_endpoints(due, reason, now)
        return not self.core.readd and not self.verifying

    def add_endpoints(self, due, reason, now):
        """The add step of a re-add (render_readd: over an implicit endpoint, without an id)."""
        dummy, adds = render_readd(self.config, due, self.ip.endpoints())
        started = self.clock()
        ok, error = self.ip.add(adds) if adds else (True, None)
        took = self.clock() - started
        self.apply_info = {"ok": ok, "applied": round(self.wall(), 3), "error": error, "seconds": round(took, 4),
                           "links": due}
        self.core.endpoints_readded(due, ok, error, now)
        self.status_generation = None  # report it at once
        for link in due:
            del self.deleted[link]
        if not ok:
            self.retry_at = now + self.config["resync_s"]
            self.forced.update(due)  # retried without another look
            if error != self.last_error:
                log("endpoints of %s NOT re-added (%s): %s; retrying every %.1f s"
                    % (", ".join(due), reason, error, self.config["resync_s"]))
            self.last_error = error
            return
        self.last_error = None
        self.retry_at = 0.0
        for link in due:
            attempts = self.verifying.get(link, (None, 0))[1] + 1
            self.verifying[link] = (now + READD_VERIFY_S, attempts)
        log("endpoints re-added (%s): %s" % (reason, "; ".join(adds)))

    def look(self, now):
        """Look at the subflows: ``ss -Htni`` text (None when ss fails), and the per-link view for
        the status file, with a journal line when connections became EXHAUSTED (see there)."""
        self.look_due = now + SUBFLOWS_LOOK_S
        text = self.ip.subflows(self.config["ports"])
        if text is None:
            return None
        view = subflow_view(text, self.ip.connections(self.config["ports"]), self.config)
        for name, info in sorted(view.items()):
            before = self.view[name]["exhausted"] if self.view else 0
            if info["exhausted"] > before:
                log("link %s: %d connection%s this node opened can no longer get a subflow on it: the kernel's "
                    "path manager joins no more announced addresses for %s than its limit (a subflow that died "
                    "keeps its place: mptcp_net-next issue 498); only a connection opened anew (a restart of "
                    "the service) has the link again" % (
                        name, info["exhausted"], "" if info["exhausted"] == 1 else "s",
                        "it" if info["exhausted"] == 1 else "each"))
            elif before and not info["exhausted"]:
                log("link %s: no connection is exhausted any more" % name)
        if view != self.view:
            self.status_generation = None
        self.view, self.view_at = view, self.wall()
        return text

    def verify_readds(self, now):
        """READD_VERIFY_S after a re-add: a link some connection this node accepted still has no
        subflow on is re-added again, READD_ATTEMPTS times in a row at most."""
        due = sorted(link for link, (at, dummy) in self.verifying.items() if at <= now)
        if not due:
            return
        text = self.look(now)
        short = None if text is None else short_links(text, self.config, accepted=True)
        for link in due:
            dummy, attempts = self.verifying.pop(link)
            if short is None or link not in short:
                continue
            if link in self.core.readd or link in self.deleted:
                continue  # a path of it came back again meanwhile: that re-add is under way
            if attempts >= READD_ATTEMPTS:
                log("link %s: some connection it accepted still has no subflow on it after %d re-adds; "
                    "the next re-add waits for a path of it to come back" % (link, attempts))
                continue
            log("link %s: some connection it accepted still has no subflow on it after the re-add: re-adding again" % link)
            self.core.readd.add(link)
            self.forced.add(link)
            self.verifying[link] = (float("inf"), attempts)  # carried to the next re-add's count
            self.status_generation = None

    def needing_readd(self, pending, now):
        """Of the links whose paths came back, those due for a re-add: READD_CHECK_S after that, the
        ones where some connection this node accepted has no subflow (or the subflows cannot be
        read). The others are done: their subflows resumed by themselves, or only connections this
        node opened lack the link, and those get it from the peer's re-add (a re-add here would only
        close this node's live joins on the link: EXHAUSTED)."""
        due = []
        for link in pending:
            if link in self.forced:
                due.append(link)
                continue
            at = self.check_at.setdefault(link, now + READD_CHECK_S)
            if now >= at:
                due.append(link)
        if not due:
            return []
        looked = [link for link in due if link not in self.forced]
        text = self.look(now) if looked else None
        short = None if text is None else short_links(text, self.config, accepted=True)
        out = []
        for link in due:
            self.check_at.pop(link, None)
            if link in self.forced or short is None or link in short:
                out.append(link)
            else:
                self.core.readd.discard(link)
                self.core.readds[link]["skipped"] = self.core.readds[link].get("skipped", 0) + 1
                self.status_generation = None
                log("link %s is back and every connection it accepted has its subflow on it: no re-add" % link)
        self.forced.difference_update(out)
        return out

    def check_endpoints(self):
        """Kind mptcp: endpoints of ours that are gone (a flush, another tool) are re-added. Ours are
        known by their address: one a re-add took over from an implicit endpoint keeps that id."""
        present = self.ip.endpoints()
        if present is None:
            return
        missing = missing_endpoints(self.config, present)
        links = set(e["link"] for e in missing) - self.core.readd - set(self.deleted)
        if links:
            log("endpoint%s %s missing: re-adding %s" % (
                "" if len(missing) == 1 else "s", ", ".join("id %d (%s)" % (e["id"], e["address"]) for e in missing),
                ", ".join(sorted(links))))
            self.core.readd.update(links)
            self.forced.update(links)

    def forget_stuck(self, wanted, previous):
        """Conntrack entries still waiting on an address that just died: re-steered at their retransmission."""
        for family, elements in sorted(wanted["dead"].items()):
            before = set(previous["dead"].get(family, ())) if previous else set()
            new = set(elements) - before
            if not new:
                continue
            try:
                count = self.conntrack.forget(family, new)
            except (OSError, ValueError) as exc:
                log("conntrack entries on dead lanes not cleared: %s" % exc)
                continue
            if count:
                log("cleared %d conntrack %s still waiting on a dead lane: their next SYN is steered anew"
                    % (count, "entry" if count == 1 else "entries"))

    def resync(self):
        """Notice our tables being loaded anew (a fabric_nat run, the boot unit) or removed; kind
        mptcp: notice endpoints of ours that went missing, and look at the subflows every
        SUBFLOWS_LOOK_S for the status file."""
        if self.mptcp:
            self.check_endpoints()
            now = self.clock()
            if now >= self.look_due:
                self.look(now)
            return
        handles = self.nft.handles(self.config["table"])
        if handles is None or handles == self.handles:
            return
        present = self.families <= set(handles)
        log("table %s %s (handles %s -> %s)%s" % (
            self.config["table"], "loaded anew" if present else "missing", self.handles, handles,
            ": re-applying the watchdog's rules" if present else ": waiting for it"))
        self.handles = handles
        # A table loaded anew holds every lane and an empty dead set.
        self.applied = self.core.rules(everything_up=True) if present else None
        self.synced = None
        self.retry_at = 0.0

    def write_status(self, force=False):
        wall = self.wall()
        if not force and self.status_generation == self.core.generation and wall < self.status_due:
            return
        document = self.core.status(wall, self.clock(), self.core.rules(), self.apply_info, self.view)
        if self.mptcp:
            document["subflows_looked"] = None if self.view_at is None else round(self.view_at, 3)
        try:
            write_status(self.config["status_file"], document)
        except OSError as exc:
            log("status file %s not written: %s" % (self.config["status_file"], exc))
        self.status_generation = self.core.generation
        self.status_due = wall + STATUS_EVERY_S

    def restore(self):
        """Every lane back and no resets: what the fabric_nat rules say without a watchdog (kind
        mptcp: nothing to undo, the endpoints are the mptcp role's)."""
        if self.mptcp or not self.config["chains"] or not self.table_present():
            return
        script = render_transaction(self.config, self.core.rules(everything_up=True), None, "stopping")
        ok, error = self.nft.run(script)
        log("stopping: every lane restored" if ok else "stopping: could not restore the lanes: %s" % error)

    def tick(self, now, scheduled):
        """Once per interval: time out probes, read the carriers, start the next probes.

        Deadlines count from the scheduled tick, so with timeout = interval a probe that got
        no answer is a miss at the very next tick, which then starts a new one."""
        self.handle(self.prober.expire(now))
        self.read_carriers()
        for link, peer, device, family, source, address in self.core.probe_targets():
            verdict = self.prober.start((link, peer), device, family, source, address, scheduled)
            if verdict is not None:
                self.handle([((link, peer),) + verdict])

    # -- the loop
    def run(self, notify=sd_notify, priority=raise_priority):
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        scheduling = priority()
        for line in self.core.seed(read_json(self.config["status_file"]), self.clock(), self.wall()):
            log(line)
        self.read_carriers()
        if not self.mptcp:
            self.handles = self.nft.handles(self.config["table"])
        log("watching %d paths: %s probes every %d ms, down after %d, up after %d, hold-down %.1f s; "
            "%s through %s; scheduling %s" % (
                len(self.core.paths), self.config["probe"], self.config["interval_ms"], self.config["down_after"],
                self.config["up_after"], self.config["hold_down_s"],
                "endpoint re-adds" if self.mptcp else "rules", (self.ip if self.mptcp else self.nft).how, scheduling))
        if self.mptcp:
            self.check_endpoints()
            self.sync("start")
        elif not self.table_present():
            log("table %s is missing (handles %s): waiting for it" % (self.config["table"], self.handles))
        else:
            self.sync("start", force=True)
        self.write_status(force=True)
        notify("READY=1")
        watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        ping_due = 0.0
        next_tick = self.clock()
        next_resync = next_tick + self.config["resync_s"]
        poller = select.poll()
        events_fd = self.events.fileno()
        if events_fd is not None:
            poller.register(events_fd, select.POLLIN)
        registered = set()
        try:
            while not self.stopping:
                now = self.clock()
                if now >= next_tick:
                    if now - next_tick > self.interval / 2:
                        next_tick = now  # late (a busy machine): deadlines count from now
                    self.tick(now, next_tick)
                    next_tick = max(next_tick + self.interval, now)
                if now >= next_resync:
                    self.resync()
                    next_resync = now + self.config["resync_s"]
                self.sync("change")
                self.write_status()
                if watchdog_usec and now >= ping_due:
                    notify("WATCHDOG=1")
                    ping_due = now + watchdog_usec / 2e6
                wanted = dict(self.prober.fds())
                for fd in registered - set(wanted):
                    poller.unregister(fd)
                for fd in set(wanted) - registered:
                    poller.register(fd, wanted[fd])
                registered = set(wanted)
                timeout = max(0.0, min(next_tick, next_resync) - self.clock())
                for fd, dummy in poller.poll(timeout * 1000):
                    if fd == events_fd:
                        self.events.drain()
                        self.read_carriers()
                    elif fd in registered:
                        self.handle(self.prober.ready(fd))
        finally:
            self.prober.close()
            self.events.close()
            self.restore()

    def _stop(self, signum, frame):  # pylint: disable=unused-argument
        self.stopping = True


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = ("usage: linkwatch.py [--config FILE] [--check-config FILE] [--render FILE]\n"
             "  --config FILE        run the watchdog (default %s)\n"
             "  --check-config FILE  check a configuration and exit\n"
             "  --render FILE        print the transaction that puts every lane back (kind mptcp: the\n"
             "                       ip -batch lines that re-add every endpoint) and exit\n" % CONFIG_FILE)
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(usage)
        return 0
    if len(argv) not in (0, 2) or (argv and argv[0] not in ("--config", "--check-config", "--render")):
        sys.stderr.write(usage)
        return 2
    action, path = (argv[0], argv[1]) if argv else ("--config", CONFIG_FILE)
    try:
        with open(path) as handle:
            config = load_config(json.load(handle))
    except (OSError, ValueError) as exc:
        sys.stderr.write("linkwatch: %s: %s\n" % (path, exc))
        return 1
    if action == "--check-config":
        sys.stdout.write("%s: kind %s, %d links, %d peers, %d %s, %s probes every %d ms\n"
                         % (path, config["kind"], len(config["links"]), len(config["peers"]),
                            len(config["endpoints"] if config["kind"] == "mptcp" else config["chains"]),
                            "endpoints" if config["kind"] == "mptcp" else "chains", config["probe"], config["interval_ms"]))
        return 0
    if action == "--render" and config["kind"] == "mptcp":
        deletes, adds = render_readd(config, [link["name"] for link in config["links"]])
        sys.stdout.write("".join(line + "\n" for line in deletes + adds))
        return 0
    if action == "--render":
        core = Watchdog(config, 0.0)
        sys.stdout.write(render_transaction(config, core.rules(everything_up=True), None, "every lane"))
        return 0
    Daemon(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
