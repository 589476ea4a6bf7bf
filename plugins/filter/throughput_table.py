# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: throughput_table
short_description: Print a fabric throughput report as a per-cluster text table
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Takes the report of P(clusterfabric.multilink.fabric_throughput#filter) and returns one
    block of text per cluster, each node's links with Mbit/s sent and received and their share,
    the node's total with its verdict (C(ok), C(IMBALANCED), C(idle)), the cluster's sums, and
    one line per node on its link watchdog.
  - Where the report has the nodes' server views, a C(conns out/in) column (fabric connections
    the node opened and accepted on the link) and one line per node on what its server says
    (cluster size, migrations pending, or C(no server)).
options:
  _input:
    description: The report returned by P(clusterfabric.multilink.fabric_throughput#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Print the report
  ansible.builtin.debug:
    msg: "{{ verify_result | clusterfabric.multilink.throughput_table }}"
  # cluster aero_east: 2 nodes sampled, 2 links, 10.0 s from 14:02:11 (11 samples, nodes within 4 ms)
  # host     link  device  tx Mbit/s  rx Mbit/s   share
  # db1      fab0  eth1        189.6        0.9  99.6 %
  # db1      fab1  eth2          0.4        0.4   0.4 %
  # db1      all               190.0        1.3          IMBALANCED (busiest fab0 99.6 % > 60.0 %)
  # ...
  # watchdog db1: ok: 2/2 links up, 2/2 peer paths up; updated 0.8 s ago
  # server db1: cluster size 2, migrations pending 0, fabric connections 24
  #   ss port 3001: fab0 6 out 6 in, fab1 6 out 6 in; 7 opened ones moved to another link by NAT
"""

RETURN = r"""
_value:
  description: The table, lines separated by newlines, a blank line between clusters.
  type: string
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.throughput import format_report


def throughput_table(report):
    try:
        return format_report(report)
    except FabricError as exc:
        raise AnsibleFilterError("throughput_table: %s" % exc)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("throughput_table: the report is incomplete (%s: %s); pass the output of "
                                 "fabric_throughput unchanged" % (type(exc).__name__, exc))


class FilterModule(object):
    def filters(self):
        return {"throughput_table": throughput_table}
