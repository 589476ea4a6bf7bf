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
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.mptcp_apply import ENDPOINT_ID_BASE, MAX_ENDPOINTS
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules

WATCHDOG_KIND = "mptcp"
# ip mptcp limits: the kernel's maximum (MPTCP_PM_ADDR_MAX), see the module docstring
LIMIT = MAX_ENDPOINTS
MODEL_KEYS = ("node", "endpoints", "lanes", "limits", "links", "peers", "ports")


def _family(address):
    return "ipv6" if ":" in address else "ipv4"


def build(plan, node, links, ports):
    """The MPTCP model of ``node``.

    plan: {host: {link: [address]}}; links: [{name, device}] (this node's links, in fabric_links
    order; every one needs a device); ports: the fabric ports (the first is what TCP probes dial).
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
    return {"node": node, "endpoints": endpoints, "lanes": lanes,
            "limits": {"subflows": LIMIT, "add_addr_accepted": LIMIT},
            "links": out_links, "peers": peers, "ports": list(ports)}


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
