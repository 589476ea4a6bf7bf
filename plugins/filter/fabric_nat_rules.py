# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: fabric_nat_rules
short_description: The NAT rules one node would get, computed on the controller
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Validates the inputs of M(clusterfabric.multilink.fabric_nat) and returns the structured
    rules that module would apply on O(node) (its RV(clusterfabric.multilink.fabric_nat#module:rules)),
    without contacting any host.
  - C(playbooks/site.yml) uses it in its validation play, so bad weights, ports, devices or link
    names stop the whole run before any host changes.
positional: node, links
options:
  _input:
    description: The cluster's address plan, as returned by P(clusterfabric.multilink.fabric_addresses#filter).
    type: dict
    required: true
  node:
    description: The host the rules are for.
    type: string
    required: true
  links:
    description: This node's links, each with C(name) and C(device).
    type: list
    elements: dict
    required: true
  ports:
    description: Fabric TCP ports.
    type: list
    elements: int
    default: [3001]
  primary_link:
    description: The link whose addresses peers dial; defaults to the first link.
    type: string
  mode:
    description: Lane choice, C(nth) (exact rotation) or C(random).
    type: string
    default: nth
  weights:
    description: Link name to weight.
    type: dict
    default: {}
  spread:
    description: C(all) steers connections to any of a peer's addresses, C(primary) only those to its primary-link address.
    type: string
    default: all
"""

EXAMPLES = r"""
- name: Show the lanes node db1 would use towards each peer
  ansible.builtin.debug:
    msg: >-
      {{ (plan | clusterfabric.multilink.fabric_nat_rules('db1',
            [{'name': 'fab0', 'device': 'eth0'}, {'name': 'fab1', 'device': 'eth1'}])).peers
         | map(attribute='lanes') | list }}
  vars:
    plan: >-
      {{ {'db1': 1, 'db2': 2} | clusterfabric.multilink.fabric_addresses([
           {'name': 'fab0', 'subnet': '198.18.0.0/24'},
           {'name': 'fab1', 'subnet': '198.18.1.0/24'}]) }}
"""

RETURN = r"""
_value:
  description:
    - The structured rules (node, mode, spread, ports, primary_link, links, peers with their
      lanes, snat), the same data the module returns as C(rules).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.nat_rules import build


def fabric_nat_rules(plan, node, links, ports=None, primary_link=None, mode="nth", weights=None,
                     spread="all"):
    try:
        return build(plan, node, links, ports=ports, primary_link=primary_link or None, mode=mode,
                     weights=weights, spread=spread)
    except FabricError as exc:
        raise AnsibleFilterError("fabric_nat_rules: host %s: %s" % (node, exc))


class FilterModule(object):
    def filters(self):
        return {"fabric_nat_rules": fabric_nat_rules}
