# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test bed cluster as an inventory describes it (the contract: docs/testbed.md).

The inventory is read the way the playbooks read it (ansible-inventory --list), and the
containers' addresses come from the collection's own planner, so the test bed is laid out
exactly as the roles will configure it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import os
import re
import subprocess
import sys

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses

from testbed.podman import TestbedError

PREFIX_RE = re.compile(r"cfm-[a-z0-9-]{1,20}")
DEVICE_RE = re.compile(r"[a-z][a-z0-9]{0,11}")
MGMT_DEVICE = "mgmt0"


def load(inventory, extra_vars=()):
    """ansible-inventory --list of ``inventory`` (a path), as data; ``extra_vars``: ``-e`` values
    (key=value or YAML/JSON) that override the inventory as they would in a playbook run."""
    tool = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    extra = [arg for value in extra_vars or () for arg in ("-e", value)]
    result = subprocess.run([tool if os.path.exists(tool) else "ansible-inventory", "-i", inventory, "--list"] + extra,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if result.returncode != 0:
        raise TestbedError("ansible-inventory -i %s failed: %s" % (inventory, result.stderr[-2000:]))
    return json.loads(result.stdout)


def write(path, group, hosts, group_vars):
    """Write a YAML-compatible JSON inventory: ``hosts`` {name: host vars}, one group."""
    inventory = {"all": {"children": {group: {"hosts": hosts, "vars": dict(group_vars, fabric_cluster_group=group)}}}}
    with open(path, "w") as handle:
        json.dump(inventory, handle, indent=2, sort_keys=True)
    return path


def cluster_names(data):
    hostvars = data.get("_meta", {}).get("hostvars", {})
    return sorted(set(v["fabric_cluster_group"] for v in hostvars.values() if "fabric_cluster_group" in v))


def _rate(value, where):
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = 0
    if rate <= 0:
        raise TestbedError("%s: %r is not a rate in Mbit/s" % (where, value))
    return rate


class Topology(object):
    """One cluster of the inventory: hosts (by node id), links, the address plan, test bed settings."""

    def __init__(self, data, cluster):
        hostvars = data.get("_meta", {}).get("hostvars", {})
        self.cluster = cluster
        self.hosts = sorted((h for h, v in hostvars.items() if v.get("fabric_cluster_group") == cluster),
                            key=lambda h: int(hostvars[h]["fabric_node_id"]))
        if not self.hosts:
            raise TestbedError("no host of the inventory has fabric_cluster_group %s" % cluster)
        first = hostvars[self.hosts[0]]
        self.vars = first
        self.prefix = first.get("testbed_prefix", "")
        where = "cluster %s" % cluster
        if not PREFIX_RE.fullmatch(self.prefix or ""):
            raise TestbedError("%s: testbed_prefix %r must look like cfm-NAME (a-z, 0-9, -)" % (where, self.prefix))
        self.node_ids = dict((h, int(hostvars[h]["fabric_node_id"])) for h in self.hosts)
        self.containers = dict((h, hostvars[h].get("ansible_host", h)) for h in self.hosts)
        for host, container in self.containers.items():
            if not container.startswith(self.prefix + "-"):
                raise TestbedError("%s: host %s: ansible_host %r must start with %s-" % (where, host, container, self.prefix))
        rate = _rate(first.get("testbed_rate_mbit", 200), where + ": testbed_rate_mbit")
        rates = first.get("testbed_link_rates") or {}
        self.links = []
        for link in first["fabric_links"]:
            device = link.get("device", "")
            if not DEVICE_RE.fullmatch(str(device)):
                raise TestbedError("%s: link %s needs a device (the container interface, such as eth0), got %r"
                                   % (where, link.get("name"), device))
            network = ipaddress.ip_network(link["subnet"], strict=False)
            self.links.append({"name": link["name"], "subnet": str(network), "device": device,
                               "family": "ipv%d" % network.version,
                               "rate_mbit": _rate(rates.get(link["name"], rate),
                                                  "%s: testbed_link_rates[%s]" % (where, link["name"]))})
        self.plan = plan_addresses(self.node_ids, first["fabric_links"])
        self.ports = [int(port) for port in (first.get("fabric_ports") or [3001])]
        self.strategy = first.get("fabric_strategy", "balanced")
        self.sysctls = dict(first.get("testbed_sysctls") or {})
        self.mgmt = None
        if first.get("testbed_mgmt_subnet"):
            subnet = ipaddress.ip_network(first["testbed_mgmt_subnet"])
            addresses = {}
            for host in self.hosts:
                address = hostvars[host].get("testbed_mgmt_address")
                if not address or ipaddress.ip_address(address) not in subnet:
                    raise TestbedError("%s: host %s needs testbed_mgmt_address inside testbed_mgmt_subnet %s, got %r"
                                       % (where, host, subnet, address))
                addresses[host] = address
            controller = str(next(subnet.hosts()))
            if controller in addresses.values():
                raise TestbedError("%s: %s is the controller's address on the management network" % (where, controller))
            self.mgmt = {"subnet": str(subnet), "device": MGMT_DEVICE, "addresses": addresses,
                         "controller": controller}

    @property
    def port(self):
        return self.ports[0]

    def network(self, name):
        return "%s-%s" % (self.prefix, name)

    def address(self, host, link, lane=0):
        return self.plan[host][link][lane]

    def device(self, link_name):
        return [link["device"] for link in self.links if link["name"] == link_name][0]


def topologies(inventory, cluster=None, extra_vars=()):
    """[Topology] of every cluster of ``inventory`` (or of the one named); ``extra_vars`` as for load()."""
    data = load(inventory, extra_vars)
    names = cluster_names(data)
    if cluster is not None:
        if cluster not in names:
            raise TestbedError("inventory %s has no cluster %s (it has %s)" % (inventory, cluster, names))
        names = [cluster]
    if not names:
        raise TestbedError("no host of inventory %s has fabric_cluster_group" % inventory)
    return [Topology(data, name) for name in names]


def topology(inventory, cluster=None):
    """The one cluster of ``inventory`` (or the one named)."""
    found = topologies(inventory, cluster)
    if len(found) != 1:
        raise TestbedError("inventory %s holds clusters %s: name one" % (inventory, [t.cluster for t in found]))
    return found[0]
