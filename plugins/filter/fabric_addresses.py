# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: fabric_addresses
short_description: Plan every node's addresses on every fabric link of a cluster
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Takes a mapping of host name to C(fabric_node_id) and the cluster's C(fabric_links), and
    returns each host's addresses on each link.
  - A node's addresses depend only on its own node id and the link definition, so adding or
    removing a node never renumbers another one.
  - Without C(bond_hash), lane j (0-based) of node k is address number
    offset + (k - 1) * addresses_per_node + j + 1 of the subnet, where number 0 is the network
    address. With the defaults node 1 gets C(.11), node 2 C(.12).
  - With C(bond_hash) (policy C(layer2+3), a power-of-two member count S), each node gets S
    addresses from its own aligned block, chosen so that from any fixed peer address, and for
    any MAC addresses, connections to the S addresses leave through S different bond members.
    Kernels 4.15 to 5.17 shift the hash by one bit, so there every second address of a block
    of 2S is used. C(layer3+4), C(encap3+4), C(layer2), C(encap2+3) and C(vlan+srcmac) are
    refused with the reason.
  - An address that falls outside the subnet, on the network or broadcast address, or on an
    C(exclude) entry is an error naming the host, the link and the address; addresses are
    never shifted silently.
  - Every other key of a link (C(device), C(bond), C(mtu), ...) is ignored here; roles use them.
  - Needs the Python library C(netaddr) on the controller.
positional: links
options:
  _input:
    description: Mapping of inventory host name to its C(fabric_node_id) (an integer >= 1, unique in the cluster).
    type: dict
    required: true
  links:
    description: The cluster's C(fabric_links) list.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Link name, matching C(^[a-z][a-z0-9_]{0,14}$), unique in the list.
        type: string
        required: true
      subnet:
        description: IPv4 or IPv6 network in CIDR form, without host bits; links may not overlap.
        type: string
        required: true
      offset:
        description: Address numbers 1 to O(links[].offset) are never assigned to nodes.
        type: int
        default: 10
      exclude:
        description:
          - Addresses or CIDR ranges inside the subnet never to assign. A node whose planned
            address is excluded is an error (it is not moved to another address).
        type: list
        elements: string
        default: []
      addresses_per_node:
        description: Addresses (lanes) per node on this link; with O(links[].bond_hash) it must equal its C(slaves).
        type: int
        default: 1
      bond_hash:
        description: Plan addresses so that a bond's transmit hash spreads them over all members.
        type: dict
        suboptions:
          policy:
            description: The bond's C(xmit_hash_policy); only C(layer2+3) can be planned for.
            type: string
            required: true
          slaves:
            description: Number of bond members, a power of two from 2 to 128.
            type: int
            required: true
          kernel:
            description: Kernel version of the nodes as a string (quote it in YAML).
            type: string
            default: "6.1"
"""

EXAMPLES = r"""
- name: Plan the addresses of the cluster this host belongs to
  ansible.builtin.set_fact:
    fabric_plan: >-
      {{ dict(groups[fabric_cluster_group]
              | zip(groups[fabric_cluster_group] | map('extract', hostvars, 'fabric_node_id')))
         | clusterfabric.multilink.fabric_addresses(fabric_links) }}

- name: Two links, node ids 1 and 2
  ansible.builtin.debug:
    msg: >-
      {{ {'db1': 1, 'db2': 2} | clusterfabric.multilink.fabric_addresses([
           {'name': 'fab0', 'subnet': '198.18.0.0/24'},
           {'name': 'fab1', 'subnet': '198.18.1.0/24'}]) }}
  # -> {"db1": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]},
  #     "db2": {"fab0": ["198.18.0.12"], "fab1": ["198.18.1.12"]}}

- name: Two addresses per node on a two-member layer2+3 bond
  ansible.builtin.debug:
    msg: >-
      {{ {'db1': 1, 'db2': 2} | clusterfabric.multilink.fabric_addresses([
           {'name': 'bond0', 'subnet': '198.18.2.0/24',
            'bond_hash': {'policy': 'layer2+3', 'slaves': 2, 'kernel': '6.1'}}]) }}
  # -> {"db1": {"bond0": ["198.18.2.12", "198.18.2.13"]},
  #     "db2": {"bond0": ["198.18.2.14", "198.18.2.15"]}}
"""

RETURN = r"""
_value:
  description:
    - Mapping of host name to a mapping of link name to the list of the host's addresses on
      that link (strings without prefix length, in lane order), hosts in node id order.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError


def fabric_addresses(nodes, links):
    try:
        return plan_addresses(nodes, links)
    except FabricError as exc:
        raise AnsibleFilterError("fabric_addresses: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"fabric_addresses": fabric_addresses}
