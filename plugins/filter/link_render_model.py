# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: link_render_model
short_description: Validate a host's fabric links and return what the links role renders
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Takes the cluster's fabric plan (the result of P(clusterfabric.multilink.fabric_addresses#filter))
    and returns the render model of one host, the data the C(clusterfabric.multilink.links)
    role writes into interface and bond files.
  - Checks the role keys of every link first and raises an error naming the host and the variable
    (for example C(fabric_links[1] (link fab1\).bond.lacp_rate)) before anything is written.
  - Checks device names (at most 15 characters of letters, digits, C(_), C(.), C(+), C(-)), MTU
    ranges (576-9216 for IPv4, 1280-9216 for IPv6), bond modes and which options a mode reads
    (C(primary) for active-backup/balance-tlb/balance-alb, C(xmit_hash_policy) for
    802.3ad/balance-xor/balance-tlb, C(lacp_rate) for 802.3ad), members listed twice, in two bonds
    or also used as a link device, duplicate devices, gateways outside the link and default routes.
  - Needs the Python library C(netaddr) on the controller.
positional: host, links
options:
  _input:
    description: "The fabric plan, C({host: {link: [address, ...]}})."
    type: dict
    required: true
  host:
    description: The inventory host to build the model for.
    type: string
    required: true
  links:
    description: The cluster's C(fabric_links) with the role keys C(device), C(mtu), C(bond), C(gateway), C(routes), C(table).
    type: list
    elements: dict
    required: true
  backend:
    description: Backend whose file list goes into RV(_value.files).
    type: string
    choices: [networkd, netplan, ifupdown, networkmanager]
    default: networkd
  miimon:
    description: Bond C(miimon) (ms) for bonds that do not set one.
    type: int
    default: 100
  table_base:
    description: A routed link without C(table) gets table O(table_base) + its position in O(links) (1-based).
    type: int
    default: 1000
  rule_priority:
    description: Priority of the source-address policy routing rules.
    type: int
    default: 1000
  route_metric:
    description: Metric of a link's routes in the main table is O(route_metric) + its position (0-based).
    type: int
    default: 100
  file_prefix:
    description: Start of every file name (and NetworkManager profile name) the role writes.
    type: string
    default: 10-fabric
"""

EXAMPLES = r"""
- name: Validate the links of this host and compute what to render
  ansible.builtin.set_fact:
    links_model: >-
      {{ fabric_plan | clusterfabric.multilink.link_render_model(inventory_hostname, fabric_links,
                                                                  backend='networkd') }}

- name: A bond, rendered for NetworkManager
  ansible.builtin.debug:
    msg: >-
      {{ {'db1': {'bond0': ['198.18.2.11']}}
         | clusterfabric.multilink.link_render_model('db1', [
             {'name': 'bond0', 'subnet': '198.18.2.0/24', 'device': 'bond0', 'mtu': 9000,
              'bond': {'mode': '802.3ad', 'members': ['eth1', 'eth2'],
                       'xmit_hash_policy': 'layer3+4', 'lacp_rate': 'fast'}}],
           backend='networkmanager') }}
"""

RETURN = r"""
_value:
  description: The host's render model.
  type: dict
  contains:
    host:
      description: The host name.
      type: string
    links:
      description:
        - One entry per link in O(links) order with C(name), C(index), C(device), C(kind) (C(plain) or C(bond)),
          C(family), C(subnet), C(prefixlen), C(sources) (addresses), C(addresses) (with prefix length), C(mtu),
          C(bond) (C(mode), C(members), C(miimon), C(primary), C(xmit_hash_policy), C(lacp_rate)), C(gateway),
          C(routes), C(table), C(rule_priority), C(metric) and C(digest) (changes when anything rendered for the link changes).
      type: list
      elements: dict
    files:
      description: Files for O(backend), each with C(path) (without the role's root), C(template), C(mode), C(link), C(device), C(member).
      type: list
      elements: dict
    directory:
      description: The directory O(backend) reads and its mode when the role has to create it.
      type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_files import DIRECTORIES, backend_files
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_model import build_model


def link_render_model(plan, host, links, backend="networkd", miimon=None, table_base=None, rule_priority=None,
                      route_metric=None, file_prefix=None):
    try:
        model = build_model(host, links, plan, {
            "miimon": miimon, "table_base": table_base, "rule_priority": rule_priority,
            "route_metric": route_metric, "file_prefix": file_prefix})
        model["files"] = backend_files(model, backend)
    except FabricError as exc:
        raise AnsibleFilterError("link_render_model: %s" % exc)
    path, mode = DIRECTORIES[backend]
    model["directory"] = {"path": path, "mode": mode}
    return model


class FilterModule(object):
    def filters(self):
        return {"link_render_model": link_render_model}
