# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the mptcp strategy sets on one node, computed on the controller (pure Python).

``build()`` turns the address plan into the node's MPTCP model: one ``signal`` endpoint per
fabric address of the node (with its interface and a fixed id in the module's range), the
limits (see below), the peers' addresses per link and the links' devices
and sources (for the link watchdog in MPTCP mode). ``watchdog_config()`` turns the model into the
watchdog's configuration (roles/nat/files/linkwatch.py, ``kind: mptcp``). The fabric_mptcp module
applies the model (module_utils/mptcp_apply.py), which owns the endpoint id range.

Lanes: the connecting side joins each address a peer announces (from the source its connected
route picks), one subflow per announced address (never a second one to an address it already
has a subflow to); a node with N fabric addresses of one family needs ``subflows N-1`` and
``add_addr_accepted N-1``, and the kernel allows at most 8 endpoints, so N is at most 8. The
limits are set to the kernel's maximum (8) all the same: a subflow that died does not give its
place back to these counters (measured on 6.18: with limits N-1, a subflow killed with ``ss -K``
was not re-created after its address was announced again; with 8 it was, and a connection still
had one subflow per announced address). The link watchdog's endpoint re-add relies on that.

Placement (``fabric_mptcp_anchor_subnet``,
docs/mptcp.md#placing-each-connection-fabric_mptcp_anchor_subnet): the kernel's one scheduler
keeps a connection that has little in flight on its first subflow, so where the first subflow
runs decides which link carries an Aerospike fabric connection. With an anchor
subnet every node gets one more address (its *anchor*, on ``lo``) that the server alone binds
and publishes; ``anchor`` in the model holds the NAT rules (``render_anchor_nft``) that send
each new connection to a peer's anchor over the peer's links in turn (DNAT, and SNAT to the
link's own address so that the replies come back the same way) and take connections arriving
on this node's link addresses to its anchor. No link address is what the opener dialled, so it
joins every address the peer announces: a subflow on every link besides the placed first one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.mptcp_apply import (
    ANCHOR_TABLE, ENDPOINT_ID_BASE, MAX_ENDPOINTS)
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules

WATCHDOG_KIND = "mptcp"
# ip mptcp limits: the kernel's maximum (MPTCP_PM_ADDR_MAX), see the module docstring
LIMIT = MAX_ENDPOINTS
MODEL_KEYS = ("node", "endpoints", "lanes", "limits", "links", "peers", "ports", "anchor")


def _family(address):
    return "ipv6" if ":" in address else "ipv4"


def build(plan, node, links, ports, anchors=None, anchor_subnet=None):
    """The MPTCP model of ``node``.

    plan: {host: {link: [address]}}; links: [{name, device}] (this node's links, in fabric_links
    order; every one needs a device); ports: the fabric ports (the first is what TCP probes dial);
    anchors: {host: anchor address} with anchor_subnet (placement, see the module docstring).
    """
    if not isinstance(plan, Mapping) or node not in plan:
        raise FabricError("node %r is not in the address plan" % (node,))
    if not links:
        raise FabricError("there are no links to add endpoints for")
    endpoints = []
    out_links = []
    for link in links:
        name, device = link.get("name"), link.get("device")
        if not device:
            raise FabricError("link %s has no device; every endpoint is bound to its interface" % name)
        addresses = list(plan[node].get(name) or [])
        if not addresses:
            raise FabricError("node %s has no address on link %s" % (node, name))
        out_links.append({"name": name, "device": device, "family": _family(addresses[0]), "source": addresses[0]})
        for address in addresses:
            endpoints.append({"id": ENDPOINT_ID_BASE + len(endpoints) + 1, "link": name, "address": address,
                              "device": device})
    if len(endpoints) > MAX_ENDPOINTS:
        raise FabricError("%d fabric addresses on this node, but the kernel takes at most %d MPTCP endpoints "
                          "(and limits of %d): use at most %d links (times addresses_per_node)"
                          % (len(endpoints), MAX_ENDPOINTS, MAX_ENDPOINTS, MAX_ENDPOINTS))
    counts = {}
    for endpoint in endpoints:
        family = _family(endpoint["address"])
        counts[family] = counts.get(family, 0) + 1
    lanes = max(counts.values())
    names = [link["name"] for link in out_links]
    peers = {}
    for peer in sorted(plan):
        if peer == node:
            continue
        peers[peer] = dict((name, list(plan[peer].get(name) or [])) for name in names if plan[peer].get(name))
    model = {"node": node, "endpoints": endpoints, "lanes": lanes,
             "limits": {"subflows": LIMIT, "add_addr_accepted": LIMIT},
             "links": out_links, "peers": peers, "ports": list(ports), "anchor": None}
    if anchors:
        model["anchor"] = _anchor(plan, node, out_links, endpoints, ports, anchors, anchor_subnet)
    return model


def _anchor(plan, node, links, endpoints, ports, anchors, subnet):
    if node not in anchors or not subnet:
        raise FabricError("node %s has no anchor address (anchors %r, subnet %r)" % (node, anchors, subnet))
    names = nat_rules._short_names(sorted(plan))  # pylint: disable=protected-access
    peers = []
    for peer in sorted(plan, key=lambda host: (anchors[host], host)):
        if peer == node:
            continue
        targets = [address for link in links for address in (plan[peer].get(link["name"]) or [])]
        if not targets:
            raise FabricError("peer %s has no address on this node's links" % peer)
        peers.append({"peer": peer, "anchor": anchors[peer], "chain": "peer_" + names[peer], "targets": targets})
    return {"address": anchors[node], "subnet": subnet, "device": links[0]["device"], "peers": peers,
            "snat": [{"device": link["device"], "source": link["source"]} for link in links],
            "own": [e["address"] for e in endpoints], "ports": list(ports)}


def render_anchor_nft(model):
    """The anchor placement's nft script (``nft -f``): drop our table and define it, atomically.

    New connections to a peer's anchor rotate over the peer's link addresses (one chain per peer,
    found through one map: a lookup per connection whatever the cluster's size); they leave with
    the link's own address; connections arriving on this node's link addresses, the first
    subflows and the joins alike, go to the anchor, the one address the server binds. Only the
    first packet of a connection passes NAT chains."""
    anchor = model.get("anchor")
    if not anchor:
        raise FabricError("node %s has no anchor placement to render" % model.get("node"))
    ports = ", ".join(str(port) for port in anchor["ports"])
    lines = ["# clusterfabric.multilink fabric_mptcp: node %s, anchor %s in %s: each new fabric connection to a"
             % (model["node"], anchor["address"], anchor["subnet"]),
             "# peer's anchor starts on the peer's links in turn. Generated file; changes are overwritten.",
             "# Loaded when the database's service starts (its drop-in). See docs/mptcp.md of the collection.",
             "table ip %s" % ANCHOR_TABLE, "delete table ip %s" % ANCHOR_TABLE,
             "table ip %s {" % ANCHOR_TABLE,
             "\tmap place {", "\t\ttype ipv4_addr . inet_service : verdict"]
    elements = ["%s . %d : goto %s" % (peer["anchor"], port, peer["chain"])
                for peer in anchor["peers"] for port in anchor["ports"]]
    if elements:
        lines.append("\t\telements = {")
        lines += ["\t\t\t%s%s" % (element, "," if i < len(elements) - 1 else "") for i, element in enumerate(elements)]
        lines.append("\t\t}")
    lines += ["\t}", "",
              "\tchain output {", "\t\ttype nat hook output priority -100; policy accept;",
              "\t\tip daddr . tcp dport vmap @place", "\t}"]
    for peer in anchor["peers"]:
        lines += ["", "\tchain %s {" % peer["chain"], "\t\t" + nat_rules.dnat_statement("nth", peer["targets"]), "\t}"]
    lines += ["", "\tchain postrouting {", "\t\ttype nat hook postrouting priority 100; policy accept;"]
    lines += ['\t\toifname "%s" tcp dport { %s } ct status dnat ct original ip daddr %s snat to %s'
              % (entry["device"], ports, anchor["subnet"], entry["source"]) for entry in anchor["snat"]]
    lines += ["\t}", "",
              "\tchain prerouting {", "\t\ttype nat hook prerouting priority -100; policy accept;",
              "\t\tip daddr { %s } tcp dport { %s } dnat to %s" % (", ".join(anchor["own"]), ports, anchor["address"]),
              "\t}", "}"]
    return "\n".join(lines) + "\n"


def check_model(model):
    """A model as build() returns it (what the contract's mptcp.model holds)."""
    if not isinstance(model, Mapping) or any(key not in model for key in MODEL_KEYS) \
            or not isinstance(model["endpoints"], list) or not model["endpoints"]:
        raise FabricError("model must be the MPTCP model as the inventory contract computes it "
                          "(fabric_fleet.hosts[HOST].mptcp.model: %s), got %r" % (", ".join(MODEL_KEYS), model))


def watchdog_config(model, settings=None):
    """The link watchdog's configuration in MPTCP mode (kind mptcp): nothing left for it to plan.

    ``settings`` (probe, interval_ms, ...) go in as given; the daemon's own check (load_config)
    judges them."""
    config = {
        "version": nat_rules.WATCHDOG_CONFIG_VERSION, "kind": WATCHDOG_KIND, "node": model["node"],
        "ports": list(model["ports"]), "links": [dict(link) for link in model["links"]],
        "peers": dict((peer, dict(links)) for peer, links in model["peers"].items()),
        "endpoints": [{"id": e["id"], "link": e["link"], "address": e["address"]} for e in model["endpoints"]],
    }
    if settings:
        if not isinstance(settings, Mapping):
            raise FabricError("watchdog_settings must be a mapping, got %r" % (settings,))
        unknown = sorted(set(settings) - set(nat_rules.WATCHDOG_SETTINGS))
        if unknown:
            raise FabricError("watchdog_settings: %s not one of %s"
                              % (", ".join(unknown), ", ".join(nat_rules.WATCHDOG_SETTINGS)))
        config.update(settings)
    return config
