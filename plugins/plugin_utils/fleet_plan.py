# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet planning: every cluster of an inventory checked and planned once.

Input is the inventory as plain data (groups and the few variables the inventory contract
defines per host), so this is pure Python and unit-tested directly. Every error names the
host, the variable and the offending value; the first error stops the run, because
site.yml must not change any host of a fleet whose inventory is inconsistent.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from collections.abc import Mapping

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.module_utils.checks import DECIMAL_RE, is_int
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

STRATEGIES = ("balanced", "single", "native")
DEFAULT_STRATEGY = "balanced"
DEFAULT_PORTS = [3001]
# The inventory contract's variables; roles read more, and check those themselves.
CONTRACT = ("fabric_cluster_group", "fabric_node_id", "fabric_links", "fabric_ports",
            "fabric_strategy")
# Keys of a link that decide addresses: they must be equal on every host of a cluster.
# Other keys (device, mtu, ...) may differ per host.
PLAN_KEYS = ("name", "subnet", "offset", "exclude", "addresses_per_node", "bond_hash")
# Groups every inventory has; a cluster cannot be one of them.
BUILTIN_GROUPS = ("all", "ungrouped")


def _show(value):
    """The value as the user wrote it, compact, for error messages."""
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _plan_view(links):
    """The planner-relevant part of fabric_links, comparable across hosts."""
    if not isinstance(links, (list, tuple)):
        return links
    return [dict((key, link[key]) for key in PLAN_KEYS if key in link)
            if isinstance(link, Mapping) else link for link in links]


def _first_difference(mine, theirs):
    """A short description of where two plan views differ."""
    if not isinstance(mine, list) or not isinstance(theirs, list):
        return "%s vs %s" % (_show(mine), _show(theirs))
    if len(mine) != len(theirs):
        return "%d links vs %d" % (len(mine), len(theirs))
    for index, (one, other) in enumerate(zip(mine, theirs)):
        if one == other:
            continue
        if isinstance(one, Mapping) and isinstance(other, Mapping):
            for key in PLAN_KEYS:
                if one.get(key) != other.get(key):
                    return "fabric_links[%d].%s is %s vs %s" % (
                        index, key, _show(one.get(key)), _show(other.get(key)))
        return "fabric_links[%d] is %s vs %s" % (index, _show(one), _show(other))
    return "they differ"


def _ports(host, value):
    if value is None:
        return list(DEFAULT_PORTS)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)) or not value:
        raise FabricError("host %s: fabric_ports must be a non-empty list of TCP ports, got %s"
                          % (host, _show(value)))
    ports = []
    for port in value:
        if isinstance(port, str) and DECIMAL_RE.fullmatch(port.strip()):
            port = int(port.strip())
        if not is_int(port) or not 1 <= port <= 65535:
            raise FabricError("host %s: fabric_ports entry %s is not a TCP port (1-65535)"
                              % (host, _show(port)))
        if port in ports:
            raise FabricError("host %s: fabric_ports lists port %d twice" % (host, port))
        ports.append(port)
    return ports


def _strategy(host, value):
    if value is None:
        return DEFAULT_STRATEGY
    if value not in STRATEGIES:
        raise FabricError("host %s: fabric_strategy is %s; use one of %s"
                          % (host, _show(value), ", ".join(STRATEGIES)))
    return value


def _clusters(groups, hostvars):
    """{cluster group: [member hosts]}, after checking membership both ways."""
    clusters = {}
    for host in sorted(hostvars):
        cluster = hostvars[host].get("fabric_cluster_group")
        if cluster is None:
            continue
        if not isinstance(cluster, str) or not cluster or cluster in BUILTIN_GROUPS \
                or cluster not in groups:
            raise FabricError(
                "host %s: fabric_cluster_group is %s, which is not an inventory group of the "
                "cluster's hosts; set it to the name of the group (in that group's group_vars)"
                % (host, _show(cluster)))
        if host not in groups[cluster]:
            raise FabricError(
                "host %s: fabric_cluster_group is %s but the host is not in inventory group %s; "
                "add it to that group or fix the variable" % (host, cluster, cluster))
        clusters.setdefault(cluster, [])
    for cluster in sorted(clusters):
        for host in groups[cluster]:
            theirs = hostvars.get(host, {}).get("fabric_cluster_group")
            if theirs != cluster:
                raise FabricError(
                    "host %s is in inventory group %s (a fabric cluster) but its "
                    "fabric_cluster_group is %s: a host belongs to one cluster only; take it out "
                    "of one of the groups" % (host, cluster, _show(theirs)))
            clusters[cluster].append(host)
    return clusters


def _cluster_settings(cluster, members, hostvars):
    """The cluster-wide links, ports and strategy, the same on every member."""
    first = members[0]
    settings = {}
    for host in members:
        variables = hostvars[host]
        links = variables.get("fabric_links")
        if links is None:
            raise FabricError("host %s (cluster %s): fabric_links is not set; define the "
                              "cluster's links in group_vars/%s" % (host, cluster, cluster))
        mine = {
            "fabric_links": _plan_view(links),
            "fabric_ports": _ports(host, variables.get("fabric_ports")),
            "fabric_strategy": _strategy(host, variables.get("fabric_strategy")),
        }
        if not settings:
            settings = dict(mine, links=links)
            continue
        for name in ("fabric_links", "fabric_ports", "fabric_strategy"):
            if mine[name] != settings[name]:
                detail = (_first_difference(mine[name], settings[name]) if name == "fabric_links"
                          else "%s vs %s" % (_show(mine[name]), _show(settings[name])))
                raise FabricError(
                    "host %s (cluster %s): %s differs from host %s's (%s); every host of a "
                    "cluster must use the same value, so set it in group_vars/%s only"
                    % (host, cluster, name, first, detail, cluster))
    return settings


def plan_fleet(groups, hostvars):
    """Check and plan every cluster.

    ``groups``: {group name: [host, ...]} as Ansible's ``groups``.
    ``hostvars``: {host: {variable: value}} with the inventory contract's variables of every
    host (a missing variable is simply absent).

    Returns {cluster: {"hosts": [...] (node id order), "plan": {host: {link: [address]}},
    "links": [link name, ...], "ports": [...], "strategy": str}}.
    """
    if not isinstance(groups, Mapping) or not isinstance(hostvars, Mapping):
        raise FabricError("plan_fleet needs the inventory's groups and hostvars as mappings, got "
                          "%s and %s" % (type(groups).__name__, type(hostvars).__name__))
    clusters = _clusters(groups, hostvars)
    if not clusters:
        raise FabricError(
            "no host of the inventory sets fabric_cluster_group, so there is no fabric cluster to "
            "manage; see docs/inventory.md for the inventory contract")
    fleet = {}
    for cluster in sorted(clusters):
        members = clusters[cluster]
        settings = _cluster_settings(cluster, members, hostvars)
        nodes = dict((host, hostvars[host].get("fabric_node_id")) for host in members)
        try:
            plan = plan_addresses(nodes, settings["links"])
        except FabricError as exc:
            # Name the variable to fix when the planner's message does not already.
            where = "" if "fabric_node_id" in str(exc) or "fabric_links" in str(exc) \
                else "fabric_links: "
            raise FabricError("cluster %s: %s%s" % (cluster, where, exc))
        fleet[cluster] = {
            "hosts": list(plan),
            "plan": plan,
            "links": [link["name"] for link in settings["links"]],
            "ports": settings["fabric_ports"],
            "strategy": settings["fabric_strategy"],
        }
    return fleet
