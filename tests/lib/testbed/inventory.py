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
# How Ansible reaches the containers (group variables of every test bed inventory).
CONNECTION = {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}


def _tool(name):
    """An Ansible command of this virtualenv (the one running), else the one on PATH."""
    tool = os.path.join(os.path.dirname(sys.executable), name)
    return tool if os.path.exists(tool) else name


def load(inventory, extra_vars=()):
    """ansible-inventory --list of ``inventory`` (a path), as data; ``extra_vars``: ``-e`` values
    (key=value or YAML/JSON) that override the inventory as they would in a playbook run."""
    extra = [arg for value in extra_vars or () for arg in ("-e", value)]
    result = subprocess.run([_tool("ansible-inventory"), "-i", inventory, "--list"] + extra,
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


def write_cluster(path, group, prefix, nodes, group_vars, host_vars=None):
    """The inventory of one test bed cluster: ``nodes`` {host: fabric_node_id} in containers
    ``<prefix>-<host>`` reached with podman, ``group_vars`` (fabric_links with devices, role and
    testbed_* variables) for the group, ``host_vars`` {host: {var: value}} (e.g.
    testbed_mgmt_address); returns ``path``."""
    hosts = dict((host, dict({"fabric_node_id": number, "ansible_host": "%s-%s" % (prefix, host)},
                             **(host_vars or {}).get(host, {})))
                 for host, number in nodes.items())
    return write(path, group, hosts, dict(CONNECTION, testbed_prefix=prefix, **group_vars))


def ansible(tool, inventory, *args, **kwargs):
    """``tool`` (ansible-playbook, ansible) of this virtualenv on ``inventory`` from the repository
    root with the collection of build/collections; the CompletedProcess, output in stdout
    (stderr too unless ``json``). ``json``: the ansible.posix.json callback, read with tasks().
    ``timeout``: seconds (900)."""
    json_output = kwargs.pop("json", False)
    timeout = kwargs.pop("timeout", 900)
    if kwargs:
        raise TypeError("unexpected arguments %s" % sorted(kwargs))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(root, "build", "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
    env.setdefault("CONTAINERS_CONF", os.path.join(root, "hack", "containers.conf"))
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    else:
        env.setdefault("ANSIBLE_CALLBACK_RESULT_FORMAT", "yaml")
    return subprocess.run([_tool(tool), "-i", str(inventory)] + [str(arg) for arg in args], cwd=root, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE if json_output else subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)


def tasks(result):
    """({task name without its role: {host: result}}, stats) of an ansible(..., json=True) run."""
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise TestbedError("ansible-playbook output is not JSON (rc %d):\n%s\n%s"
                           % (result.returncode, result.stdout[-4000:], result.stderr[-4000:]))
    found = {}
    for play in document["plays"]:
        for task in play["tasks"]:
            found[task["task"]["name"].split(" : ", 1)[-1]] = task["hosts"]
    return found, document["stats"]


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

    def __init__(self, data, cluster, inventory=None):
        hostvars = data.get("_meta", {}).get("hostvars", {})
        self.cluster = cluster
        self.inventory = inventory  # the path it was read from
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
    return [Topology(data, name, inventory) for name in names]


def topology(inventory, cluster=None):
    """The one cluster of ``inventory`` (or the one named)."""
    found = topologies(inventory, cluster)
    if len(found) != 1:
        raise TestbedError("inventory %s holds clusters %s: name one" % (inventory, [t.cluster for t in found]))
    return found[0]


def site(bed, *args):
    """playbooks/site.yml on ``bed``'s inventory, JSON output: (CompletedProcess, tasks, stats) as
    tasks() reads them."""
    result = ansible("ansible-playbook", bed.inventory, "playbooks/site.yml", *args, json=True, timeout=900)
    found, stats = tasks(result)
    return result, found, stats
