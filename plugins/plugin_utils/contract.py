# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory contract: every cluster of an inventory checked, normalised and planned once.

Input is the inventory as plain data (groups, and per host the contract's variables and the
roles' validated parameters), so this is pure Python and unit-tested directly. The result is
what every role, module and the verify playbook read instead of the raw variables:

    {"clusters": {cluster: {"hosts": [...] (node id order), "plan": {host: {link: [address]}},
                            "links": [link name, ...], "ports": [...], "strategy": str}},
     "hosts": {host: {"cluster", "node_id", "strategy", "ports", "roles",
                      "links": [{name, device, family, subnet, prefixlen, addresses}],
                      "links_role": {...}, "nat": {...}, "mptcp": {...}, "aerospike": {...}}}}

(contract_roles.py builds the role blocks). Every error names the host, the variable and
the offending value; the first error stops the run, because site.yml must not change any host
of a fleet whose inventory is inconsistent.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json

from collections.abc import Mapping

from ansible_collections.clusterfabric.multilink.plugins.module_utils.checks import DEVICE_RULE, as_int, is_device
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import contract_roles

STRATEGIES = ("balanced", "single", "native", "mptcp")
DEFAULT_STRATEGY = "balanced"
DEFAULT_PORTS = [3001]
# The inventory contract's variables; roles read more, and check those themselves.
CONTRACT = ("fabric_cluster_group", "fabric_node_id", "fabric_links", "fabric_ports",
            "fabric_strategy", "fabric_roles", "fabric_mptcp_anchor_subnet")
ROLES = contract_roles.ROLES
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
    for entry in value:
        port = as_int(entry)
        if port is None or not 1 <= port <= 65535:
            raise FabricError("host %s: fabric_ports entry %s is not a TCP port (1-65535)"
                              % (host, _show(entry)))
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
            "fabric_mptcp_anchor_subnet": variables.get("fabric_mptcp_anchor_subnet"),
        }
        if not settings:
            settings = dict(mine, links=links)
            continue
        for name in ("fabric_links", "fabric_ports", "fabric_strategy", "fabric_mptcp_anchor_subnet"):
            if mine[name] != settings[name]:
                detail = (_first_difference(mine[name], settings[name]) if name == "fabric_links"
                          else "%s vs %s" % (_show(mine[name]), _show(settings[name])))
                raise FabricError(
                    "host %s (cluster %s): %s differs from host %s's (%s); every host of a "
                    "cluster must use the same value, so set it in group_vars/%s only"
                    % (host, cluster, name, first, detail, cluster))
    return settings


def plan_fleet(groups, hostvars):
    """Check and plan every cluster (the cluster part of the contract).

    ``groups``: {group name: [host, ...]} as Ansible's ``groups``.
    ``hostvars``: {host: {variable: value}} with the inventory contract's variables of every
    host (a missing variable is simply absent).

    Returns {cluster: {"hosts": [...] (node id order), "plan": {host: {link: [address]}},
    "links": [link name, ...], "ports": [...], "strategy": str}}.
    """
    return _plan_clusters(groups, hostvars)


def _plan_clusters(groups, hostvars):
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
            "anchor_subnet": settings["fabric_mptcp_anchor_subnet"] or None,
            "anchors": _anchors(cluster, settings, nodes, plan),
        }
    return fleet


def _anchors(cluster, settings, nodes, plan):
    """{host: anchor address} under fabric_mptcp_anchor_subnet (None without it): each node's
    address in that subnet, numbered as on a link
    (docs/mptcp.md#placing-each-connection-fabric_mptcp_anchor_subnet)."""
    subnet = settings["fabric_mptcp_anchor_subnet"]
    if subnet in (None, ""):
        return None
    where = "cluster %s: fabric_mptcp_anchor_subnet" % cluster
    if settings["fabric_strategy"] != "mptcp":
        raise FabricError("%s is set, but fabric_strategy is %s: an anchor address places MPTCP connections and "
                          "exists only under fabric_strategy mptcp; remove it or set fabric_strategy: mptcp"
                          % (where, settings["fabric_strategy"]))
    try:
        anchors = plan_addresses(nodes, [{"name": "anchor", "subnet": subnet}])
    except FabricError as exc:
        raise FabricError("%s: %s" % (where, exc))
    network = ipaddress.ip_network(subnet)
    if network.version != 4:
        raise FabricError("%s: %s is IPv6; anchor placement is built for IPv4 fabrics only (its NAT rules are "
                          "IPv4 rules)" % (where, subnet))
    for link in settings["links"]:
        other = ipaddress.ip_network(link["subnet"])
        if other.version != 4:
            raise FabricError("%s: link %s (%s) is IPv6; anchor placement is built for IPv4 fabrics only"
                              % (where, link["name"], link["subnet"]))
        if other.overlaps(network):
            raise FabricError("%s: %s overlaps link %s (%s); the anchors need a subnet of their own that no "
                              "link uses" % (where, subnet, link["name"], link["subnet"]))
    return dict((host, anchors[host]["anchor"][0]) for host in plan)


def _roles(host, value, default):
    if value is None:
        return list(default)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)) \
            or any(role not in ROLES for role in value):
        raise FabricError("host %s: fabric_roles is %s; list any of %s" % (host, _show(value), ", ".join(ROLES)))
    return [role for role in ROLES if role in value]


def _devices(host, overrides):
    """fabric_nat_devices: {link: interface} for this host (validated by name in host_links)."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise FabricError("host %s: fabric_nat_devices must map link names to interfaces, got %s"
                          % (host, _show(overrides)))
    return dict(overrides)


def host_links(host, links, plan, overrides=None):
    """This host's links: name, device (fabric_nat_devices wins over fabric_links[].device),
    family, subnet, prefixlen and its own addresses, in fabric_links order. A device is
    optional here (a role that needs one says so); a device that is given must follow the one
    interface-name rule, and no two links share one."""
    overrides = _devices(host, overrides)
    names = [link["name"] for link in links]
    for name in overrides:
        if name not in names:
            raise FabricError("host %s: fabric_nat_devices names link %s, which is not in fabric_links (%s)"
                              % (host, _show(name), ", ".join(names)))
    out = []
    owner = {}
    for index, link in enumerate(links):
        name = link["name"]
        variable = ("fabric_nat_devices.%s" % name) if name in overrides else ("fabric_links[%d].device" % index)
        device = overrides.get(name, link.get("device"))
        if device in (None, ""):
            device = None
        elif not is_device(device):
            raise FabricError("host %s: %s %s is not a valid interface name: use %s"
                              % (host, variable, _show(device), DEVICE_RULE))
        elif device in owner:
            raise FabricError("host %s: %s %s is already the device of link %s" % (host, variable, _show(device), owner[device]))
        if device:
            owner[device] = name
        network = ipaddress.ip_network(link["subnet"], strict=False)
        out.append({"name": name, "device": device, "family": network.version, "subnet": str(network),
                    "prefixlen": network.prefixlen, "addresses": list(plan[host][name])})
    return out


def normalise(groups, hostvars, params=None, roles=ROLES, only=None):
    """The whole contract (see the module docstring).

    ``hostvars``: {host: {variable: value}} with the contract's variables (CONTRACT) and, for
    the roles' blocks, fabric_nat_devices; ``params``: {host: {role: parameters}} as the roles'
    argument specs validated them (defaults filled in); a role without parameters for a host
    gets no block. ``roles``: the default of fabric_roles. ``only``: hosts whose clusters to
    normalise (default: every cluster).
    """
    params = params or {}
    if only is not None:
        wanted = set(hostvars[host].get("fabric_cluster_group") for host in only if host in hostvars)
        hostvars = dict((host, values) for host, values in hostvars.items()
                        if values.get("fabric_cluster_group") in wanted)
    clusters = _plan_clusters(groups, hostvars)
    hosts = {}
    for cluster in sorted(clusters):
        data = clusters[cluster]
        for host in data["hosts"]:
            variables = hostvars[host]
            entry = {
                "cluster": cluster,
                "node_id": as_int(variables.get("fabric_node_id")),
                "strategy": data["strategy"],
                "ports": list(data["ports"]),
                "roles": _roles(host, variables.get("fabric_roles"), roles),
                # per-host keys of fabric_links (device, mtu, bond, ...) may differ between hosts
                "links": host_links(host, variables["fabric_links"], data["plan"], variables.get("fabric_nat_devices")),
            }
            if data["strategy"] == "single" and {"nat", "aerospike"} <= set(entry["roles"]):
                # single steers connections to the peer's one published address over every
                # link, but Aerospike binds only the addresses it publishes: the steered
                # connections are refused and all traffic stays on the first link.
                raise FabricError(
                    "host %s: fabric_strategy single with the nat and aerospike roles cannot work: Aerospike "
                    "listens only on the one fabric address single publishes, so the connections the NAT "
                    "steers to the peer's other links are refused; use balanced (every address, NAT "
                    "rotation) or native, or leave nat out of fabric_roles for a one-link fabric" % host)
            role_params = params.get(host, {})
            for role in entry["roles"]:
                if role in role_params:
                    entry[contract_roles.BLOCKS[role]] = contract_roles.build(
                        role, host, entry, data, variables["fabric_links"], role_params[role])
            contract_roles.link_blocks(entry, host, roles)
            hosts[host] = entry
    return {"clusters": clusters, "hosts": hosts}
