# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: fabric_throughput
short_description: Turn the link counter samples of many nodes into per-cluster throughput and link shares
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Takes what M(clusterfabric.multilink.link_sample) returned on every node, and which hosts
    each cluster has, and returns per cluster and per node the Mbit/s sent and received on each
    link, each link's share of the traffic (both directions), the busiest link, and whether its
    share is above O(threshold).
  - Nodes are compared over the sampling ticks they all reached, so the figures of a cluster
    cover the same seconds on every node; the report gives that window and how far apart the
    nodes read their counters (C(skew)).
  - A node or cluster below O(min_mbit) in total is C(idle) and never flagged; neither is one
    with a single link.
  - Each node's link watchdog status is summarized in a few words (C(absent) when the node has
    no watchdog, which is not an error).
  - Where a node's input has C(server) (what C(playbooks/verify.yml) collects, C(listening),
    C(statistics), C(error), C(sockets)), so is what its database server says, that is the
    cluster size, migrations pending and the fabric connections per link (C(absent) when nothing
    listens on the service port, which is not an error either).
  - Used by C(playbooks/verify.yml); P(clusterfabric.multilink.throughput_table#filter) prints
    the result as a table.
positional: clusters, threshold, min_mbit, stale_after
options:
  _input:
    description:
      - Mapping of host name to C(cluster) (its C(fabric_cluster_group)), C(links) (list of
        C(name), C(device)), and the C(samples), C(status), C(status_error) and C(clock) that
        M(clusterfabric.multilink.link_sample) returned there; optionally C(server) with
        C(listening) and C(sockets) (the module's C(service_listening) and C(fabric_sockets)),
        C(statistics) (M(clusterfabric.multilink.aerospike_info)'s) and C(error).
    type: dict
    required: true
  clusters:
    description:
      - Mapping of cluster name to the hosts expected to report; a host without samples is
        listed under C(missing).
    type: dict
    required: true
  threshold:
    description: A node or cluster whose busiest link carries more than this share of its traffic is flagged.
    type: float
    default: 0.6
  min_mbit:
    description: Below this total (Mbit/s, both directions) a node or cluster is idle and not judged.
    type: float
    default: 1.0
  stale_after:
    description: A watchdog status not updated for this many seconds is reported as C(stale).
    type: float
    default: 30.0
"""

EXAMPLES = r"""
- name: Aggregate the samples of every node of the play
  ansible.builtin.set_fact:
    verify_result: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'verify_node')))
         | clusterfabric.multilink.fabric_throughput({'aero_east': groups['aero_east']}, threshold=0.6) }}
  run_once: true

- name: Two nodes, one reading a second, everything on fab0
  ansible.builtin.debug:
    msg: >-
      {{ {'n1': {'cluster': 'c1', 'links': [{'name': 'fab0', 'device': 'eth0'}, {'name': 'fab1', 'device': 'eth1'}],
                 'samples': [{'tick': 0, 'time': 100.0, 'bytes': {'fab0': [0, 0], 'fab1': [0, 0]}},
                             {'tick': 1, 'time': 101.0, 'bytes': {'fab0': [25000000, 0], 'fab1': [0, 0]}}]}}
         | clusterfabric.multilink.fabric_throughput({'c1': ['n1', 'n2']}) }}
  # -> clusters.c1: hosts [n1], missing [n2], share 1.0 on fab0 (200 Mbit/s), imbalanced true;
  #    flagged: [{cluster: c1, host: null, link: fab0, share: 1.0}, {cluster: c1, host: n1, ...}]
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    threshold:
      description: O(threshold).
      type: float
    min_mbit:
      description: O(min_mbit).
      type: float
    stale_after:
      description: O(stale_after).
      type: float
    flagged:
      description:
        - Every imbalanced cluster (C(host) null) and node, with C(cluster), C(host), C(link)
          (the busiest) and C(share).
      type: list
      elements: dict
    clusters:
      description:
        - Cluster name to C(hosts) (sampled), C(missing), C(links), C(window) (C(start), C(end),
          C(seconds), C(samples), C(first_tick), C(last_tick), C(skew); null when the nodes
          shared no two ticks), C(nodes) (host to C(links), C(mbit), C(busiest), C(share),
          C(idle), C(imbalanced), C(seconds), C(watchdog), C(server)), C(totals) (link to the
          cluster's sums), C(mbit), C(busiest), C(share), C(idle), C(imbalanced), C(series)
          (C(time), and per direction C(tx)/C(rx) link to Mbit/s per interval, summed over the
          nodes), C(watchdog) (count of nodes per watchdog state), C(server) (count of nodes per
          server state, null without server views), C(connections) (link to the fabric
          connections opened on it, each counted once) and C(notes).
        - Per link C(tx_mbit), C(rx_mbit), C(mbit) (both), C(share), C(tx_bytes) and C(rx_bytes)
          (over the window) and, per node, C(device).
        - A node's C(server) is null without a server view, else C(state) (C(ok), C(absent) for no
          server, C(error)), C(head) and C(details) (its lines in the table), C(cluster_size),
          C(cluster_integrity), C(migrations_pending), C(server_fabric_connections),
          C(connections) (link to C(out), C(in)), C(connections_other), C(moved), C(nat_view)
          and C(sockets_error).
      type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.throughput import summarize


def fabric_throughput(nodes, clusters, threshold=0.6, min_mbit=1.0, stale_after=30.0):
    try:
        return summarize(nodes, clusters, threshold=threshold, min_mbit=min_mbit, stale_after=stale_after)
    except FabricError as exc:
        raise AnsibleFilterError("fabric_throughput: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"fabric_throughput": fabric_throughput}
