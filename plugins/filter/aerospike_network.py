# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: aerospike_network
short_description: The network stanza of one node's aerospike.conf from the address plan
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Takes the cluster's address plan (C(fabric_fleet.clusters[CLUSTER].plan) from
    M(clusterfabric.multilink.fabric_contract), or the output of P(clusterfabric.multilink.fabric_addresses#filter))
    and returns the C(network) context of O(host)'s aerospike.conf as data for
    M(clusterfabric.multilink.aerospike_config).
  - The role C(clusterfabric.multilink.aerospike) gets the same stanza from the inventory contract
    (C(fabric_fleet.hosts[HOST].aerospike.config.network)); this filter is for playbooks of your own.
  - C(fabric) gets one C(address) line per address of the host on every link (all lanes), or with
    O(strategy=single) only the first address of the primary (first) link, and C(port) O(fabric_ports[0]).
  - C(heartbeat) is mode mesh with C(mesh-seed-address-port) lines for the peers over every link. When
    every peer over every link does not fit in O(max_seeds), the budget is split evenly over the peers
    and each peer's links start at a different link, so every link carries seeds. Peers are taken in
    node id order starting after O(host), so nodes seed different peers. Heartbeat C(address) lines
    (all of the host's addresses) are written before 8.1, and from 8.1 only when they differ from the
    fabric addresses (8.1 deprecates them and binds heartbeat to the fabric addresses).
  - C(info) (up to 8.0) or C(admin) (from 8.1) gets O(info_port).
  - O(extra) is merged over the result (mappings recursively, anything else replaces; C(null) removes).
  - Errors name the host and the variable at fault.
positional: host
options:
  _input:
    description: The address plan, host name to link name to list of addresses.
    type: dict
    required: true
  host:
    description: The inventory host whose stanza to build.
    type: str
    required: true
  links:
    description: The cluster's C(fabric_links) (only C(name) and the order are used; the first is primary).
    type: list
    elements: dict
    required: true
  version:
    description: Aerospike server version as a string, such as V("7.2") or V("8.1"); 6.0 or later.
    type: str
    required: true
  edition:
    description: V(community) refuses O(max_seeds) above 8.
    type: str
    default: community
    choices: [community, enterprise]
  strategy:
    description: C(fabric_strategy); V(native) and V(balanced) publish all link addresses, V(single) one.
    type: str
    default: balanced
    choices: [native, balanced, single]
  fabric_ports:
    description: C(fabric_ports); the first is the fabric port.
    type: list
    elements: int
    default: [3001]
  service_port:
    description: Client service port.
    type: int
    default: 3000
  heartbeat_port:
    description: Mesh heartbeat port, also used in the seed lines.
    type: int
    default: 3002
  info_port:
    description: Port of C(info) (up to 8.0) or C(admin) (from 8.1); V(null) leaves the context out.
    type: int
    default: 3003
  heartbeat_interval:
    description: Heartbeat C(interval) in milliseconds.
    type: int
    default: 150
  heartbeat_timeout:
    description: Heartbeat C(timeout) in intervals.
    type: int
    default: 10
  heartbeat_connect_timeout_ms:
    description: Heartbeat C(connect-timeout-ms); at most interval * timeout / 3. V(null) leaves it out.
    type: int
  max_seeds:
    description: Most seed lines to write (Community Edition allows 8).
    type: int
    default: 8
  service_addresses:
    description: C(address) lines of C(service); empty means every interface.
    type: list
    elements: str
    default: []
  service_access_addresses:
    description: C(access-address) lines of C(service).
    type: list
    elements: str
    default: []
  service_alternate_access_addresses:
    description: C(alternate-access-address) lines of C(service).
    type: list
    elements: str
    default: []
  extra:
    description: C(aerospike_network), merged over the computed stanza.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Network stanza of this host, from the plan of the inventory contract
  ansible.builtin.set_fact:
    my_network: >-
      {{ fabric_fleet.clusters[fabric_cluster_group].plan
         | clusterfabric.multilink.aerospike_network(inventory_hostname, links=fabric_links, version='8.1',
                                                     strategy=fabric_fleet.hosts[inventory_hostname].strategy) }}

- name: Two nodes, two links
  ansible.builtin.debug:
    msg: >-
      {{ {'db1': {'fab0': ['198.18.0.11'], 'fab1': ['198.18.1.11']},
          'db2': {'fab0': ['198.18.0.12'], 'fab1': ['198.18.1.12']}}
         | clusterfabric.multilink.aerospike_network('db1', links=[{'name': 'fab0'}, {'name': 'fab1'}],
                                                     version='7.2') }}
  # -> fabric.address [198.18.0.11, 198.18.1.11], heartbeat.mesh-seed-address-port
  #    ["198.18.0.12 3002", "198.18.1.12 3002"], info.port 3003, ...
"""

RETURN = r"""
_value:
  description: The C(network) context as data for M(clusterfabric.multilink.aerospike_config).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.aerospike_network import build_network
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError


def aerospike_network(plan, host, links, **options):
    try:
        return build_network(host, plan, links, **options)
    except (FabricError, TypeError) as exc:
        raise AnsibleFilterError("aerospike_network: host %s: %s" % (host, exc))


class FilterModule(object):
    def filters(self):
        return {"aerospike_network": aerospike_network}
