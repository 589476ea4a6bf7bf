# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: bond_slave
short_description: Which bond member the Linux bonding driver uses to send a packet
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Returns the 0-based index of the enslaved port that a Linux bond in C(balance-xor) or
    C(802.3ad) mode uses to transmit a packet from O(_input) to O(dst).
  - Computes the transmit hash the way the driver does on a little-endian host (x86_64, arm64);
    addresses and ports are raw network-order bytes loaded as host-order integers, IPv6
    addresses are folded by XOR of their four 32-bit words.
  - Ports are counted in enslavement order (for 802.3ad, the members of the active
    aggregator). When a member fails the count changes and most flows move.
  - Useful as a diagnostic ("which member will this flow use?") and as the engine of
    hash-aware address planning (see P(clusterfabric.multilink.fabric_addresses#filter)).
  - Stable kernel trees backported hash changes; if a distribution kernel disagrees with its
    version number, check the per-member C(tx_bytes) counters on the host and set O(era).
positional: dst
options:
  _input:
    description: Source IP address (IPv4 or IPv6) of the packet.
    type: string
    required: true
  dst:
    description: Destination IP address; same family as the source.
    type: string
    required: true
  slaves:
    description: Number of bond members able to transmit.
    type: int
    default: 2
  policy:
    description:
      - The bond's C(xmit_hash_policy).
      - C(layer2) and C(layer2+3) need O(src_mac) and O(dst_mac).
      - C(layer3+4) needs O(src_port) and O(dst_port) to be meaningful.
    type: string
    default: layer2+3
    choices: [layer2, layer2+3, layer3+4]
  src_mac:
    description: Source MAC address (the bond's own address when the host sends).
    type: string
  dst_mac:
    description: Destination MAC address (the next hop's address).
    type: string
  src_port:
    description: TCP or UDP source port (used by C(layer3+4)).
    type: int
    default: 0
  dst_port:
    description: TCP or UDP destination port (used by C(layer3+4)).
    type: int
    default: 0
  proto:
    description: Transport protocol of the packet.
    type: string
    default: tcp
    choices: [tcp, udp]
  kernel:
    description:
      - Kernel version as a string, for example V("6.1") or V("5.15.0-91-generic").
      - V(5.18) and newer shift only C(layer3+4) hashes; 4.15 to 5.17 shift every layer-3
        policy; before 5.15 the ethertype enters byte-swapped. Older than 4.15 is an error.
      - Quote it in YAML; a bare 5.10 is the number 5.1 and is refused.
    type: string
    default: "6.1"
  era:
    description:
      - The hash era explicitly, overriding the guess from O(kernel), for distribution kernels
        whose behaviour differs from their version number (RHEL 9's C(5.14.0-*.el9) carries
        later changes).
      - V(5.18+) shifts only C(layer3+4); V(5.15-5.17) shifts every layer-3 policy;
        V(4.15-5.14) also enters the ethertype byte-swapped.
    type: string
    choices: ["5.18+", "5.15-5.17", "4.15-5.14"]
"""

EXAMPLES = r"""
- name: Which of two members carries 10.10.0.11 -> 10.10.0.21 under layer2+3
  ansible.builtin.debug:
    msg: >-
      {{ '10.10.0.11' | clusterfabric.multilink.bond_slave('10.10.0.21', slaves=2,
         src_mac='52:54:00:00:00:01', dst_mac='52:54:00:00:00:0a') }}
  # -> 1

- name: A layer3+4 flow on a four-member LACP bond of an older Ubuntu kernel
  ansible.builtin.debug:
    msg: >-
      {{ '10.10.0.11' | clusterfabric.multilink.bond_slave('10.10.0.21', slaves=4,
         policy='layer3+4', src_port=40000, dst_port=3001, kernel='5.15.0-91-generic') }}

- name: A RHEL 9 kernel whose per-member tx counters showed the 5.18 behaviour
  ansible.builtin.debug:
    msg: >-
      {{ '10.10.0.11' | clusterfabric.multilink.bond_slave('10.10.0.21', slaves=2,
         src_mac='52:54:00:00:00:01', dst_mac='52:54:00:00:00:0a', era='5.18+') }}
"""

RETURN = r"""
_value:
  description: Index (0-based, in enslavement order) of the member that transmits the packet.
  type: int
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.bond_hash import slave_index
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError


def bond_slave(src, dst, slaves=2, policy="layer2+3", src_mac=None, dst_mac=None,
               src_port=0, dst_port=0, proto="tcp", kernel="6.1", era=None):
    try:
        return slave_index(src, dst, slaves, policy=policy, src_mac=src_mac, dst_mac=dst_mac,
                           src_port=src_port, dst_port=dst_port, proto=proto, kernel=kernel, era=era)
    except FabricError as exc:
        raise AnsibleFilterError("bond_slave: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"bond_slave": bond_slave}
