# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: fabric_fleet
short_description: Check and plan every fabric cluster of the inventory at once
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Takes Ansible's C(groups) and C(hostvars) and returns, for every fabric cluster (every
    inventory group named by some host's C(fabric_cluster_group)), its hosts, its address plan
    (the output of P(clusterfabric.multilink.fabric_addresses#filter)), link names, ports and
    strategy.
  - Checks the whole inventory first, so a playbook can stop before changing any host; every
    error names the host, the variable and the offending value.
  - A host may belong to one cluster only; every host of a cluster must carry the same
    C(fabric_cluster_group), and the same C(fabric_ports), C(fabric_strategy) and planning keys
    of C(fabric_links) (C(name), C(subnet), C(offset), C(exclude), C(addresses_per_node),
    C(bond_hash)). Other link keys such as C(device) may differ per host.
  - Reads only the inventory contract's variables (C(fabric_cluster_group), C(fabric_node_id),
    C(fabric_links), C(fabric_ports), C(fabric_strategy)); hosts without
    C(fabric_cluster_group) are not part of any cluster and are ignored.
  - Costs one planner run per cluster; C(playbooks/site.yml) calls it once per run
    (C(run_once)), not once per host.
  - Needs the Python library C(netaddr) on the controller.
positional: hostvars
options:
  _input:
    description: Ansible's C(groups) (group name to list of hosts).
    type: dict
    required: true
  hostvars:
    description: Ansible's C(hostvars), or a mapping of host name to its variables.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check and plan every cluster once, before any host changes
  ansible.builtin.set_fact:
    fabric_fleet_plan: "{{ groups | clusterfabric.multilink.fabric_fleet(hostvars) }}"
  run_once: true

- name: This host's cluster plan
  ansible.builtin.debug:
    msg: "{{ fabric_fleet_plan[fabric_cluster_group].plan[inventory_hostname] }}"
  # -> {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]}
"""

RETURN = r"""
_value:
  description:
    - Mapping of cluster (inventory group) name to its plan.
  type: dict
  contains:
    hosts:
      description: Hosts of the cluster in node id order.
      type: list
      elements: string
    plan:
      description: Host name to link name to the host's addresses on that link.
      type: dict
    links:
      description: Link names in C(fabric_links) order.
      type: list
      elements: string
    ports:
      description: The cluster's C(fabric_ports).
      type: list
      elements: int
    strategy:
      description: The cluster's C(fabric_strategy) (default C(balanced)).
      type: string
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.contract import CONTRACT, plan_fleet


def _contract_vars(hostvars, hosts):
    """{host: {variable: value}} for the contract's variables only.

    Reading hostvars templates each variable; a broken template is reported with the host and
    the variable instead of Ansible's bare message."""
    out = {}
    for host in hosts:
        try:
            variables = hostvars[host]
        except KeyError:
            raise AnsibleFilterError("fabric_fleet: host %s of the groups has no hostvars" % host)
        mine = {}
        for name in CONTRACT:
            try:
                if name in variables:
                    mine[name] = variables[name]
            except Exception as exc:  # pylint: disable=broad-except
                raise AnsibleFilterError("fabric_fleet: host %s: variable %s cannot be evaluated: %s"
                                         % (host, name, to_native(exc)))
        out[host] = mine
    return out


def fabric_fleet(groups, hostvars):
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("fabric_fleet: the input must be Ansible's groups (a mapping), got %r"
                                 % (groups,))
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("fabric_fleet: the argument must be Ansible's hostvars (a mapping), "
                                 "got %r" % (hostvars,))
    hosts = sorted(set(host for members in groups.values() for host in members))
    plain_groups = dict((name, list(members)) for name, members in groups.items())
    try:
        return plan_fleet(plain_groups, _contract_vars(hostvars, hosts))
    except FabricError as exc:
        raise AnsibleFilterError("fabric_fleet: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"fabric_fleet": fabric_fleet}
