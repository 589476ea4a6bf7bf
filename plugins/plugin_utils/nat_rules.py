# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fabric NAT rules: plan + this node's links -> structured rules, nft script, iptables input.

Controller only (the fabric_contract action builds the model once per host and run, the
fabric_nat action renders it); pure computation, no Ansible import and no system access, so it
is unit-tested directly. The node gets only what it applies (the node_rules() bundle), through
module_utils/nat_apply.py, which owns the names of the objects on the host (table, chain prefix,
the watchdog's set) that are imported here.

Model. For each peer (every other host of the plan), each TCP port and each address family,
the peer's addresses on the node's links form *targets* (link, address, weight). Weights expand
into *lanes*: a peer with targets A (weight 2) and B (weight 1) has the rotation A, B, A, and new
connection i to that peer and port goes to lane i mod 3. Connections to the *matched*
addresses (all of the peer's fabric addresses with spread=all, only its primary-link addresses
with spread=primary) are DNATed to the lane's address in the output hook; a connection that
then leaves on link L is SNATed (postrouting, on L's device) to this node's address on L, so
the peer answers on the same link even under strict rp_filter.

nftables: one table per family (``ip`` / ``ip6``) named clusterfabric_multilink. A verdict map
keyed on ``daddr . dport`` sends each matched connection to its peer's own small chain (one
``numgen`` rule, i.e. one counter per peer and port, so rotation is exact per peer however
connections to different peers interleave); the lookup is O(1) in the cluster size.

With ``watchdog`` the nft tables also hold what the link watchdog (the clusterfabric-linkwatch
service, roles/nat/files/linkwatch.py) works with: a set ``dead`` of (address, port) that a
filter chain ``fastfail`` answers with a TCP reset for new connections, and a first rule in the
nat output chain that lets the watchdog's probes (packet mark PROBE_MARK) pass unsteered. The
watchdog rewrites the peer chains and the dead set at run time; the rest is the module's. The
daemon cannot import this file: the names and the mark reach it through its configuration
(watchdog_config), and the one statement both write into a peer chain (dnat_statement) is
pinned equal to the daemon's by a unit test.

iptables: chains CFML-OUTPUT and CFML-POSTROUTING in the nat table (jumped once from OUTPUT and
POSTROUTING), one chain per peer and port with a cascade of ``statistic`` rules
(nth: --every T-k --packet 0 for lane k, which is exact; random: probability 1/(T-k)).
Rule lines are written exactly as iptables-save prints them, so the live state compares
directly.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import ipaddress
import re

from collections.abc import Mapping
from fractions import Fraction

from ansible_collections.clusterfabric.multilink.plugins.module_utils.checks import DEVICE_RULE, LINK_NAME_RE, as_int, is_device
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.nat_apply import (
    DEAD_SET, IPT_PREFIX, NFT_FAMILIES, PEER_CHAIN_PREFIX, TABLE, nft_preamble)

IPT_OUTPUT = IPT_PREFIX + "OUTPUT"
IPT_POSTROUTING = IPT_PREFIX + "POSTROUTING"
IPT_CHAIN_MAX = 28
MODES = ("nth", "random")
SPREADS = ("all", "primary")
DEFAULT_PORTS = (3001,)
MAX_WEIGHT = 1000
FASTFAIL_CHAIN = "fastfail"
# SO_MARK of the watchdog's probes ("cfml"): the nat output chain lets them pass unsteered and
# the fast-fail rule never resets them, so a probe always tests the link it names.
PROBE_MARK = 0x63666D6C
# Format of the watchdog's configuration (the daemon refuses any other).
WATCHDOG_CONFIG_VERSION = 2
# The probe timings a configuration may set (the nat role's fabric_nat_watchdog_* variables).
WATCHDOG_SETTINGS = ("probe", "interval_ms", "timeout_ms", "down_after", "up_after", "hold_down_s")
SAFE_HOST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")
MODEL_KEYS = ("node", "mode", "spread", "ports", "primary_link", "links", "peers", "snat", "families", "watchdog")


def family_of(address):
    return "ipv4" if address.version == 4 else "ipv6"


# ---------------------------------------------------------------------------- validation
def validate_plan(plan):
    """{host: {link: [ip_address, ...]}} with every address parsed; reject anything else."""
    if not isinstance(plan, Mapping) or not plan:
        raise FabricError("plan must be the non-empty mapping returned by fabric_addresses "
                          "({host: {link: [address, ...]}}), got %r" % (plan,))
    parsed = {}
    owner = {}
    link_family = {}
    for host, links in plan.items():
        if not isinstance(host, str) or not host or "\n" in host:
            raise FabricError("plan: host name %r is not a non-empty single-line string" % (host,))
        if not isinstance(links, Mapping):
            raise FabricError("plan: host %s must map link names to address lists, got %r"
                              % (host, links))
        parsed[host] = {}
        for link, addresses in links.items():
            if not isinstance(link, str) or not LINK_NAME_RE.fullmatch(link):
                raise FabricError("plan: host %s: link name %r must match ^[a-z][a-z0-9_]{0,14}$"
                                  % (host, link))
            if isinstance(addresses, str):
                addresses = [addresses]
            if not isinstance(addresses, (list, tuple)):
                raise FabricError("plan: host %s link %s: expected a list of addresses, got %r"
                                  % (host, link, addresses))
            values = []
            for text in addresses:
                try:
                    if not isinstance(text, str):
                        raise ValueError(text)
                    address = ipaddress.ip_address(text.strip())
                except ValueError:
                    raise FabricError("plan: host %s link %s: %r is not an IP address"
                                      % (host, link, text))
                family = family_of(address)
                if link_family.setdefault(link, (family, host))[0] != family:
                    raise FabricError(
                        "plan: link %s has %s addresses (host %s) and %s addresses (host %s); "
                        "one link carries one address family"
                        % (link, link_family[link][0], link_family[link][1], family, host))
                if address in owner and owner[address] != (host, link):
                    raise FabricError("plan: address %s is used twice (host %s link %s and host "
                                      "%s link %s)" % (address, owner[address][0],
                                                       owner[address][1], host, link))
                owner[address] = (host, link)
                values.append(address)
            parsed[host][link] = values
    return parsed


def validate_links(links):
    """[(name, device)] from the links option; every entry needs a name and a device that
    follows the interface-name rule of the inventory contract (checks.DEVICE_RE)."""
    if isinstance(links, (str, bytes, Mapping)) or not isinstance(links, (list, tuple)) or not links:
        raise FabricError("links must be a non-empty list of mappings with name and device, got %r"
                          % (links,))
    out = []
    seen = set()
    for index, spec in enumerate(links):
        where = "links[%d]" % index
        if not isinstance(spec, Mapping):
            raise FabricError("%s must be a mapping with name and device, got %r" % (where, spec))
        name = spec.get("name")
        if not isinstance(name, str) or not LINK_NAME_RE.fullmatch(name):
            raise FabricError("%s: link name %r must match ^[a-z][a-z0-9_]{0,14}$" % (where, name))
        where = "link %s" % name
        if name in seen:
            raise FabricError("%s is listed twice in links" % where)
        seen.add(name)
        device = spec.get("device")
        if device is None or device == "":
            raise FabricError("%s has no device; set device to the local interface of that "
                              "link (e.g. eth1 or bond0)" % where)
        if not is_device(device):
            raise FabricError("%s: device %r is not a safe interface name; use %s" % (where, device, DEVICE_RULE))
        out.append((name, device))
    return out


def validate_ports(ports):
    """The TCP ports as ints, in order; a port listed twice is refused (as the contract does)."""
    if ports is None:
        ports = list(DEFAULT_PORTS)
    if isinstance(ports, (str, int)) and not isinstance(ports, bool):
        ports = [ports]
    if not isinstance(ports, (list, tuple)) or not ports:
        raise FabricError("ports must be a non-empty list of TCP ports, got %r" % (ports,))
    out = []
    for port in ports:
        value = as_int(port)
        if value is None or not 1 <= value <= 65535:
            raise FabricError("ports: %r is not a TCP port (an integer from 1 to 65535)" % (port,))
        if value in out:
            raise FabricError("ports: port %d is listed twice" % value)
        out.append(value)
    return out


def validate_weights(weights, link_names):
    out = dict((name, 1) for name in link_names)
    if weights is None:
        return out
    if not isinstance(weights, Mapping):
        raise FabricError("weights must be a mapping of link name to a positive integer, got %r"
                          % (weights,))
    for link, weight in weights.items():
        if link not in out:
            raise FabricError("weights: link %r is not one of the links (%s)"
                              % (link, ", ".join(link_names)))
        value = as_int(weight)
        if value is None or value < 1 or value > MAX_WEIGHT:
            raise FabricError("weights: link %s has weight %r; weights are integers from 1 to %d"
                              % (link, weight, MAX_WEIGHT))
        out[link] = value
    return out


# ---------------------------------------------------------------------------- model
def rotation(targets):
    """Weighted round robin over [(key, weight)]: the lane order, len = sum of weights.

    Equal weights give plain alternation; weights 2 and 1 give A B A (never A A B), so even a
    short burst of connections is split close to the weights: after any n connections each
    target has had n x its share within 1 (Tijdeman's chairman assignment: the next is the
    target whose count would fall furthest behind first, among those it would not put over
    their share by the bound 1 - 1/(2(k - 1)) for k targets). Smooth weighted round robin, used
    before, can drift further: weights 1, 1, 3, 12, 12 left one target 1.03 behind."""
    count = len(targets)
    total = sum(weight for dummy, weight in targets)
    if count == 1:
        return [0] * total
    bound = 1 - Fraction(1, 2 * (count - 1))
    shares = [Fraction(weight, total) for dummy, weight in targets]
    counts = [0] * count
    order = []
    for step in range(1, total + 1):
        eligible = [i for i in range(count) if counts[i] + 1 - step * shares[i] <= bound]
        best = min(eligible or range(count), key=lambda i: ((counts[i] + bound) / shares[i], i))
        counts[best] += 1
        order.append(best)
    return order


def link_rotation(targets):
    """The lane order (indexes into ``targets``, [(link, address, weight)] in plan order).

    Links, not addresses, are what fills up: the rotation runs over the links (a link's share is
    its weight times its address count) and each link cycles through its own addresses. With two
    addresses on each of two links that is fab0 a, fab1 a, fab0 b, fab1 b, so any run of new
    connections is split over the links within 1; rotating over the four addresses in their
    order gave fab0, fab0, fab1, fab1 and left a peer's 14 Aerospike sockets 8 + 6 on the links.
    One address per link gives the same order as rotation() over the targets."""
    links = []
    members = {}
    for index, (link, dummy, dummy2) in enumerate(targets):
        if link not in members:
            links.append(link)
            members[link] = []
        members[link].append(index)
    shares = [(link, sum(targets[index][2] for index in members[link])) for link in links]
    used = dict((link, 0) for link in links)
    order = []
    for link in (links[k] for k in rotation(shares)):
        # Within a link every address has the link's weight: a plain cycle is exact.
        order.append(members[link][used[link] % len(members[link])])
        used[link] += 1
    return order


def _short_names(hosts):
    """host -> name usable in nft and iptables chain names (readable when safe, else a hash)."""
    names = {}
    for host in hosts:
        if SAFE_HOST_RE.fullmatch(host):
            names[host] = host
        else:
            names[host] = "h" + hashlib.sha1(host.encode("utf-8")).hexdigest()[:10]
    seen = {}
    for host, name in sorted(names.items()):
        if name in seen:
            raise FabricError("plan: hosts %s and %s would share the rule chain name %s; rename "
                              "one of them" % (seen[name], host, name))
        seen[name] = host
    return names


def build(plan, node, links, ports=None, primary_link=None, mode="nth", weights=None,
          spread="all", watchdog=False):
    """Validate everything and return the structured rules (the module's ``rules``).

    ``watchdog``: the nft tables also get what the link watchdog needs."""
    parsed = validate_plan(plan)
    if not isinstance(node, str) or node not in parsed:
        raise FabricError("node %r is not a host of the plan (hosts: %s)"
                          % (node, ", ".join(sorted(parsed)) if len(parsed) <= 20
                             else "%d hosts" % len(parsed)))
    link_list = validate_links(links)
    names = [name for name, dummy in link_list]
    ports = validate_ports(ports)
    weight_of = validate_weights(weights, names)
    if mode not in MODES:
        raise FabricError("mode %r must be one of %s" % (mode, ", ".join(MODES)))
    if spread not in SPREADS:
        raise FabricError("spread %r must be one of %s" % (spread, ", ".join(SPREADS)))
    if primary_link in (None, ""):
        primary_link = names[0]
    if primary_link not in names:
        raise FabricError("primary_link %r is not one of the links (%s)"
                          % (primary_link, ", ".join(names)))

    own = parsed[node]
    link_info = []
    for name, device in link_list:
        addresses = own.get(name)
        if not addresses:
            raise FabricError("plan: node %s has no address on link %s" % (node, name))
        link_info.append({
            "name": name, "device": device, "family": family_of(addresses[0]),
            "source": str(addresses[0]), "own_addresses": [str(a) for a in addresses],
            "weight": weight_of[name],
        })
    peers = [host for host in parsed if host != node]
    short = _short_names(peers)
    peer_rules = []
    used_links = set()
    for host in peers:
        theirs = parsed[host]
        for name in names:
            if not theirs.get(name):
                raise FabricError("plan: peer %s has no address on link %s" % (host, name))
        for family, dummy in NFT_FAMILIES:
            targets = [(info["name"], address, info["weight"])
                       for info in link_info if info["family"] == family
                       for address in theirs[info["name"]]]
            if len(targets) < 2:
                continue  # one address of this family: nothing to spread
            matched = [str(a) for info in link_info if info["family"] == family
                       and (spread == "all" or info["name"] == primary_link)
                       for a in theirs[info["name"]]]
            if not matched:
                continue
            order = link_rotation(targets)
            for port in ports:
                peer_rules.append({
                    "peer": host, "family": family, "port": port,
                    "chain": "%s%s_%d" % (PEER_CHAIN_PREFIX, short[host], port),
                    "iptables_chain": "%s%s-%d" % (IPT_PREFIX, short[host], port),
                    "match": matched,
                    "total_weight": len(order),
                    "targets": [{"link": t[0], "address": str(t[1]), "weight": t[2]}
                                for t in targets],
                    "lanes": [{"lane": i, "link": targets[k][0], "address": str(targets[k][1])}
                              for i, k in enumerate(order)],
                })
            used_links.update(t[0] for t in targets)
    snat = [{"link": info["name"], "device": info["device"], "family": info["family"],
             "source": info["source"], "own_addresses": info["own_addresses"], "ports": ports}
            for info in link_info if info["name"] in used_links]
    return {
        "node": node, "mode": mode, "spread": spread, "ports": ports,
        "primary_link": primary_link, "links": link_info, "peers": peer_rules, "snat": snat,
        "families": [family for family, dummy in NFT_FAMILIES
                     if any(rule["family"] == family for rule in peer_rules)],
        "watchdog": bool(watchdog),
    }


def check_model(model):
    """A short structural check of a model computed earlier (the contract's nat.model, or the
    rules of an earlier run): it was validated when it was built and is not validated again."""
    if not isinstance(model, Mapping) or any(key not in model for key in MODEL_KEYS) \
            or any(not isinstance(model[key], list) for key in ("ports", "links", "peers", "snat", "families")):
        raise FabricError("model must be the NAT rules as the inventory contract computes them "
                          "(fabric_fleet.hosts[inventory_hostname].nat.model) or as fabric_nat returns them "
                          "(rules), with %s" % ", ".join(MODEL_KEYS))
    return model


# ---------------------------------------------------------------------------- the watchdog
def dnat_statement(mode, addresses):
    """The one statement of a peer chain: rotate new connections over ``addresses`` (lanes).

    This writes it for the full rotation, the watchdog (its own copy, pinned equal by a unit
    test) for what is left of it."""
    addresses = list(addresses)
    if not addresses:
        raise ValueError("a peer chain needs at least one lane")
    if len(addresses) == 1:
        return "dnat to %s" % addresses[0]
    generator = "numgen %s mod %d" % ("inc" if mode == "nth" else "random", len(addresses))
    return "dnat to %s map { %s }" % (generator, ", ".join(
        "%d : %s" % (index, address) for index, address in enumerate(addresses)))


def watchdog_nft_lines(family):
    """Table lines the watchdog needs, by part: the set, the probe pass, the fast-fail chain."""
    addr_type = "ipv4_addr" if family == "ipv4" else "ipv6_addr"
    daddr = "ip daddr" if family == "ipv4" else "ip6 daddr"
    return {
        "set": ["\tset %s {" % DEAD_SET, "\t\ttype %s . inet_service" % addr_type, "\t}"],
        "probe_pass": "\t\tmeta mark 0x%08x accept" % PROBE_MARK,
        "fastfail": ["\tchain %s {" % FASTFAIL_CHAIN,
                     "\t\ttype filter hook output priority 0; policy accept;",
                     "\t\tct state new meta mark != 0x%08x %s . tcp dport @%s reject with tcp reset"
                     % (PROBE_MARK, daddr, DEAD_SET),
                     "\t}"],
    }


def watchdog_config(model, settings=None):
    """The link watchdog's configuration for this model: nothing left for the daemon to plan.

    ``settings`` (probe, interval_ms, timeout_ms, down_after, up_after, hold_down_s) go in as
    given; the daemon's own check (load_config) judges them and fills in what is missing."""
    peers = {}
    chains = []
    for rule in model["peers"]:
        addresses = peers.setdefault(rule["peer"], {})
        for target in rule["targets"]:
            values = addresses.setdefault(target["link"], [])
            if target["address"] not in values:
                values.append(target["address"])
        chains.append({"name": rule["chain"], "peer": rule["peer"], "family": rule["family"],
                       "port": rule["port"],
                       "lanes": [{"link": lane["link"], "address": lane["address"]}
                                 for lane in rule["lanes"]]})
    config = {
        "version": WATCHDOG_CONFIG_VERSION, "node": model["node"], "table": TABLE, "dead_set": DEAD_SET,
        "mode": model["mode"], "mark": PROBE_MARK, "ports": list(model["ports"]),
        "primary_link": model["primary_link"],
        "links": [{"name": entry["link"], "device": entry["device"], "family": entry["family"],
                   "source": entry["source"]} for entry in model["snat"]],
        "peers": peers, "chains": chains,
    }
    if settings:
        if not isinstance(settings, Mapping):
            raise FabricError("watchdog_settings must be a mapping, got %r" % (settings,))
        unknown = sorted(set(settings) - set(WATCHDOG_SETTINGS))
        if unknown:
            raise FabricError("watchdog_settings: %s not one of %s"
                              % (", ".join(unknown), ", ".join(WATCHDOG_SETTINGS)))
        config.update(settings)
    return config


# ---------------------------------------------------------------------------- nftables
def _header(model, backend):
    return ["# clusterfabric.multilink fabric_nat: node %s, backend %s, mode %s, spread %s."
            % (model["node"], backend, model["mode"], model["spread"]),
            "# Generated file; changes are overwritten. See docs/nat.md of the collection."]


def render_nft(model):
    """The whole nft script: drop both of our tables and define the wanted ones, atomically."""
    lines = _header(model, "nftables") + nft_preamble()
    for family, nft_family in NFT_FAMILIES:
        rules = [rule for rule in model["peers"] if rule["family"] == family]
        if not rules:
            continue
        addr_type = "ipv4_addr" if family == "ipv4" else "ipv6_addr"
        daddr = "ip daddr" if family == "ipv4" else "ip6 daddr"
        saddr = "ip saddr" if family == "ipv4" else "ip6 saddr"
        watch = watchdog_nft_lines(family) if model.get("watchdog") else None
        lines += ["table %s %s {" % (nft_family, TABLE)]
        if watch:
            lines += watch["set"] + [""]
        lines += ["\tmap steer {",
                  "\t\ttype %s . inet_service : verdict" % addr_type]
        elements = ["%s . %d : goto %s" % (address, rule["port"], rule["chain"])
                    for rule in rules for address in rule["match"]]
        lines.append("\t\telements = {")
        lines += ["\t\t\t%s%s" % (element, "," if i < len(elements) - 1 else "")
                  for i, element in enumerate(elements)]
        lines += ["\t\t}", "\t}", "",
                  "\tchain output {",
                  "\t\ttype nat hook output priority -100; policy accept;"]
        if watch:
            lines.append(watch["probe_pass"])
        lines += ["\t\t%s . tcp dport vmap @steer" % daddr,
                  "\t}"]
        for rule in rules:
            lines += ["", "\tchain %s {" % rule["chain"],
                      "\t\t" + dnat_statement(model["mode"], [lane["address"] for lane in rule["lanes"]]),
                      "\t}"]
        lines += ["", "\tchain postrouting {",
                  "\t\ttype nat hook postrouting priority 100; policy accept;"]
        for entry in model["snat"]:
            if entry["family"] != family:
                continue
            lines.append('\t\toifname "%s" tcp dport { %s } ct status dnat %s != { %s } snat to %s'
                         % (entry["device"], ", ".join(str(p) for p in entry["ports"]), saddr,
                            ", ".join(entry["own_addresses"]), entry["source"]))
        lines.append("\t}")
        if watch:
            lines += [""] + watch["fastfail"]
        lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- iptables
def _host_prefix(address):
    return "%s/%d" % (address, 32 if ipaddress.ip_address(address).version == 4 else 128)


def probability(remaining):
    return "%.11f" % (1.0 / remaining)


def iptables_chains(model, family):
    """{chain: [rule line, ...]} in iptables-save form, our chains only, in creation order."""
    chains = {IPT_OUTPUT: [], IPT_POSTROUTING: []}
    rules = [rule for rule in model["peers"] if rule["family"] == family]
    if not rules:
        return {}
    for rule in rules:
        if len(rule["iptables_chain"]) > IPT_CHAIN_MAX:
            raise FabricError("port %d: iptables chain name %s is longer than %d characters"
                              % (rule["port"], rule["iptables_chain"], IPT_CHAIN_MAX))
        for address in rule["match"]:
            chains[IPT_OUTPUT].append("-A %s -d %s -p tcp -m tcp --dport %d -j %s"
                                      % (IPT_OUTPUT, _host_prefix(address), rule["port"],
                                         rule["iptables_chain"]))
        body = []
        total = len(rule["lanes"])
        for lane in rule["lanes"]:
            remaining = total - lane["lane"]
            jump = "-j DNAT --to-destination %s" % lane["address"]
            if remaining == 1:
                body.append("-A %s %s" % (rule["iptables_chain"], jump))
            elif model["mode"] == "nth":
                body.append("-A %s -m statistic --mode nth --every %d --packet 0 %s"
                            % (rule["iptables_chain"], remaining, jump))
            else:
                body.append("-A %s -m statistic --mode random --probability %s %s"
                            % (rule["iptables_chain"], probability(remaining), jump))
        chains[rule["iptables_chain"]] = body
    for entry in model["snat"]:
        if entry["family"] != family:
            continue
        for port in entry["ports"]:
            match = "-o %s -p tcp -m tcp --dport %d" % (entry["device"], port)
            if len(entry["own_addresses"]) == 1:
                chains[IPT_POSTROUTING].append(
                    "-A %s ! -s %s %s -m conntrack --ctstate DNAT -j SNAT --to-source %s"
                    % (IPT_POSTROUTING, _host_prefix(entry["source"]), match, entry["source"]))
            else:
                chains[IPT_POSTROUTING] += [
                    "-A %s -s %s %s -j RETURN" % (IPT_POSTROUTING, _host_prefix(address), match)
                    for address in entry["own_addresses"]]
                chains[IPT_POSTROUTING].append(
                    "-A %s %s -m conntrack --ctstate DNAT -j SNAT --to-source %s"
                    % (IPT_POSTROUTING, match, entry["source"]))
    return chains


def render_iptables(model, family, chains=None):
    """iptables-restore --noflush input that (re)creates our chains and jumps (boot file form).

    Declaring a chain flushes it; the jumps are inserted first in OUTPUT and POSTROUTING
    (the unit deletes an existing jump first, so there is always exactly one)."""
    chains = iptables_chains(model, family) if chains is None else chains
    if not chains:
        return ""
    lines = _header(model, "iptables") + ["*nat"]
    lines += [":%s - [0:0]" % chain for chain in chains]
    for body in chains.values():
        lines += body
    lines += ["-I OUTPUT 1 -j %s" % IPT_OUTPUT, "-I POSTROUTING 1 -j %s" % IPT_POSTROUTING,
              "COMMIT"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- for the node
def node_rules(model, backend):
    """What the fabric_nat module applies for ``model`` (None: remove everything) with ``backend``.

    {"nft": {"script", "families" (nft families of the tables), "runtime"}} for nftables, or
    {"iptables": {family: {"chains": {chain: [rule, ...]}, "text": boot file}}} (only families
    with rules) for iptables; both None with no model. The script is rendered here, once."""
    out = {"nft": None, "iptables": None}
    if model is None:
        return out
    if backend == "nftables":
        out["nft"] = {"script": render_nft(model), "runtime": bool(model.get("watchdog")),
                      "families": sorted(dict(NFT_FAMILIES)[family] for family in model["families"])}
    else:
        out["iptables"] = {}
        for family, dummy in NFT_FAMILIES:
            chains = iptables_chains(model, family)
            if chains:
                out["iptables"][family] = {"chains": chains, "text": render_iptables(model, family, chains)}
    return out
