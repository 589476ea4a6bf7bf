#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: fabric_contract
short_description: Check the inventory contract of every fabric cluster once and normalise it
version_added: 0.2.0
author: clusterfabric.multilink contributors (@clusterfabric)
description:
  - Reads the variables of every host with C(fabric_cluster_group) (see docs/inventory.md),
    checks the whole inventory in one step and returns the normalised fleet; registered as
    C(fabric_fleet) (with C(run_once), every host gets it), it is what the collection's roles,
    modules and C(playbooks/verify.yml) read instead of the raw variables.
  - "Checks: cluster membership, C(fabric_node_id), C(fabric_links) (equal planning keys on every
    host of a cluster, one interface-name rule for every device), C(fabric_ports),
    C(fabric_strategy), C(fabric_roles), and for each role a host runs, that role's variables
    against its C(meta/argument_specs.yml) plus what a spec cannot express: the link render model,
    the NAT rules, the MPTCP endpoints and every value of aerospike.conf."
  - Every error names the host, the variable and the offending value; the first one fails the
    task, so run it with C(run_once) before any host changes (C(playbooks/site.yml) does).
  - Runs on the controller only; nothing on the hosts is read or changed.
options:
  roles:
    description:
      - The roles whose variables to check and normalise, unless a host's C(fabric_roles) says
        otherwise.
    type: list
    elements: str
    choices: [links, nat, mptcp, aerospike]
    default: [links, nat, mptcp, aerospike]
  hosts:
    description:
      - Normalise only the clusters these hosts belong to (every host of those clusters is
        checked). Default is every cluster of the inventory.
    type: list
    elements: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Nothing is changed, so check mode computes the same result.
  diff_mode:
    support: none
  platform:
    platforms: all
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
seealso:
  - name: The inventory contract
    description: Every variable the contract reads.
    link: https://github.com/clusterfabric/multilink/blob/main/docs/inventory.md
"""

EXAMPLES = r"""
- name: Check the inventory and plan every cluster once
  clusterfabric.multilink.fabric_contract:
  run_once: true
  register: fabric_fleet

- name: Only the clusters of this play's hosts, only the nat role's inputs
  clusterfabric.multilink.fabric_contract:
    roles: [nat]
    hosts: "{{ ansible_play_hosts_all }}"
  run_once: true
  register: nat_contract
"""

RETURN = r"""
summary:
  description: One line per cluster (hosts, links, strategy).
  returned: success
  type: dict
  sample: {aero_east: "3 hosts, 2 links, strategy balanced"}
clusters:
  description: Per cluster C(hosts) (node id order), C(plan) (host to link to addresses), C(links), C(ports) and C(strategy).
  returned: success
  type: dict
hosts:
  description:
    - Per host C(cluster), C(node_id), C(strategy), C(ports), C(roles), C(links) (C(name), C(device), C(family),
      C(subnet), C(prefixlen), C(addresses)) and one block per role it runs (C(links_role), C(nat), C(mptcp),
      C(aerospike)).
  returned: success
  type: dict
"""
