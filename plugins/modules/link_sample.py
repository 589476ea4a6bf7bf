#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: link_sample
short_description: Sample the byte counters of a node's fabric links and read its link watchdog status
version_added: 0.1.0
author: clusterfabric.multilink contributors (@clusterfabric)
description:
  - Reads C(/sys/class/net/<device>/statistics/tx_bytes) and C(rx_bytes) of every link in
    O(links) at the wall-clock ticks O(start_at) + k * O(interval), k = 0 to
    O(seconds) / O(interval), and returns the readings. Nodes given the same O(start_at) sample
    at the same moments, so their figures can be added up tick by tick; a node that starts late
    skips the ticks it missed.
  - Afterwards reads the link watchdog's status file O(status_file), if there is one.
  - With O(fabric_port), then counts the established TCP connections on that port per link
    with C(ss), split into those this host opened and those it accepted. A connection is on the
    link whose subnet (C(subnet) of the link) holds its local address; for one this host opened,
    the connection tracking table (C(/proc/net/nf_conntrack)) tells the peer address it really
    goes to when NAT rules (the C(nat) role) moved it to another link.
  - With O(service_port), tells whether anything listens on that port (the database's service
    port; C(playbooks/verify.yml) asks the server only where one listens).
  - "With O(mptcp) and O(fabric_port), also counts the subflows of the Multipath TCP connections on
    that port per link (C(ss -tni): each subflow is a TCP socket with C(tcp-ulp-mptcp) and its
    connection's token), lists the connections whose subflows cover fewer links than there are,
    and reads the kernel's MPJoin counters (C(nstat)'s C(MPTcpExtMPJoin*), from C(/proc/net/netstat))
    before and after the window."
  - Reads only; changes nothing on the host. Used by C(playbooks/verify.yml), which turns the
    readings of all nodes into per-link throughput and shares with the
    P(clusterfabric.multilink.fabric_throughput#filter) filter.
options:
  links:
    description:
      - The links to sample, each a mapping with C(name) and C(device) (this host's interface on
        that link). Other keys, such as those of C(fabric_links), are ignored.
    type: list
    elements: dict
    required: true
  seconds:
    description: Length of the sampling window in seconds; at least one O(interval).
    type: float
    default: 10
  interval:
    description: Seconds between two readings.
    type: float
    default: 1
  start_at:
    description:
      - Epoch time (seconds) of the first tick, at most 600 s ahead of this host's clock.
        Defaults to the moment the module starts.
    type: float
  status_file:
    description:
      - The link watchdog's status file; a missing file is reported as RV(status=null), not as
        an error. An empty string skips reading it.
    type: str
    default: /run/clusterfabric/linkwatch.json
  fabric_port:
    description:
      - The fabric port (Aerospike's C(network.fabric.port)) whose established connections are
        counted per link; links without a C(subnet) are not counted. Not given, nothing is
        counted and RV(fabric_sockets) is null.
    type: int
  service_port:
    description:
      - A port to look for a listening socket on (Aerospike's service port). Not given,
        RV(service_listening) is null.
    type: int
  mptcp:
    description:
      - Count the subflows of the MPTCP connections on O(fabric_port) per link (C(fabric_strategy=mptcp));
        without O(fabric_port) nothing is counted and RV(mptcp) is null.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, so it samples in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: linux
seealso:
  - name: Verifying link usage
    description: How verify.yml samples a fleet and reads the result.
    link: https://github.com/clusterfabric/multilink/blob/main/docs/verify.md
"""

EXAMPLES = r"""
- name: Sample both links for 10 s, one reading a second
  clusterfabric.multilink.link_sample:
    links:
      - {name: fab0, device: eth1}
      - {name: fab1, device: eth2}
    seconds: 10
    interval: 1
  register: sample

- name: Start on a shared tick, in the background on every node at once
  clusterfabric.multilink.link_sample:
    links: "{{ fabric_links }}"
    seconds: 30
    start_at: "{{ verify_start_at }}"
  async: 120
  poll: 0
  register: sample_job

- name: Also count the fabric connections per link and look for the server
  clusterfabric.multilink.link_sample:
    links:
      - {name: fab0, device: eth1, subnet: 198.18.0.0/24}
      - {name: fab1, device: eth2, subnet: 198.18.1.0/24}
    seconds: 5
    fabric_port: 3001
    service_port: 3000
  register: sample
  # sample.fabric_sockets.links: {fab0: {out: 6, in: 6}, fab1: {out: 6, in: 6}}
"""

RETURN = r"""
samples:
  description:
    - One entry per tick reached in time, C(tick) (the k of O(start_at) + k * O(interval)),
      C(time) (epoch of the reading on this host's clock) and C(bytes) (link name to
      C([tx_bytes, rx_bytes])).
  returned: success
  type: list
  elements: dict
  sample:
    - {tick: 0, time: 1767225600.001, bytes: {fab0: [1000, 2000], fab1: [3000, 4000]}}
    - {tick: 1, time: 1767225601.001, bytes: {fab0: [26001000, 2100], fab1: [25003000, 4100]}}
status:
  description:
    - The parsed watchdog status file (C(updated), C(node), C(links), C(peers)), or null when
      there is no such file.
  returned: success
  type: dict
status_error:
  description: Why the status file could not be read or parsed; null when it was fine or absent.
  returned: success
  type: str
clock:
  description: This host's epoch time when the status file was read, to tell the status's age.
  returned: success
  type: float
fabric_sockets:
  description:
    - The established connections on O(fabric_port) after the sampling window, null without
      O(fabric_port).
    - C(port); C(links) (link name to C(out), the connections this host opened, and C(in), those
      it accepted); C(other) (connections on none of the links' subnets); C(moved) (opened
      connections that NAT rules moved to another link than their own address says);
      C(nat_view) (whether the connection tracking table could be read; without it opened
      connections count on the link of their own address); C(probes) (accepted connections from the
      link watchdog's probe source ports, the 8 just below the ephemeral range, which are not fabric
      connections and count on no link); C(error) (why C(ss) failed, with C(links) empty).
  returned: success
  type: dict
  sample: {port: 3001, links: {fab0: {out: 6, in: 6}, fab1: {out: 6, in: 6}}, other: 0, moved: 6,
           nat_view: true, probes: 0, error: null}
service_listening:
  description: Whether a socket listens on O(service_port); null without O(service_port) or when C(ss) failed.
  returned: success
  type: bool
mptcp:
  description:
    - With O(mptcp) and O(fabric_port), the Multipath TCP connections on the port after the window, else null.
    - "C(port); C(connections) (MPTCP connections, opened and accepted) and C(opened); C(plain) (fabric
      connections without MPTCP: fallen back, or a peer without it; counted only when seen in two looks 0.3 s
      apart, so that a short-lived probe such as the link watchdog's TCP connect is not one); C(links) (link name to C(subflows) and
      C(connections) with a subflow there); C(other) (subflows on none of the links); C(short) (connections
      whose subflows cover fewer links than there are) and C(short_listed) (up to 20 of them, each with
      C(direction), C(peer), C(subflows), C(links)); C(joins) (the MPJoin counters after the window) and
      C(joins_window) (their growth over it); C(error) (why C(ss) failed)."
  returned: success
  type: dict
  sample: {port: 3001, connections: 24, opened: 12, plain: 0, other: 0, short: 0, short_listed: [],
           links: {fab0: {subflows: 24, connections: 24}, fab1: {subflows: 24, connections: 24}},
           joins: {MPJoinSynRx: 12, MPJoinAckRx: 12, MPJoinSynAckRx: 12}, joins_window: {MPJoinSynRx: 0}, error: null}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample


def main():
    module = AnsibleModule(
        argument_spec=dict(
            links=dict(type="list", elements="dict", required=True),
            seconds=dict(type="float", default=10),
            interval=dict(type="float", default=1),
            start_at=dict(type="float"),
            status_file=dict(type="str", default=link_sample.STATUS_FILE),
            fabric_port=dict(type="int"),
            service_port=dict(type="int"),
            mptcp=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    joins_before = link_sample.read_netstat() if params["mptcp"] and params["fabric_port"] is not None else None
    try:
        paths = link_sample.counter_paths(params["links"])
        samples = link_sample.sample(paths, params["seconds"], params["interval"], start_at=params["start_at"])
    except FabricError as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg="reading the link counters failed: %s" % exc)
    status, error = (None, None)
    if params["status_file"]:
        status, error = link_sample.read_status(params["status_file"])
    clock = time.time()
    module.exit_json(changed=False, samples=samples, status=status, status_error=error, clock=clock,
                     fabric_sockets=fabric_sockets(module, params["links"], params["fabric_port"]),
                     service_listening=listening(module, params["service_port"]),
                     mptcp=mptcp(module, params["links"], params["fabric_port"], joins_before))


def _ss(module, port, listening_only=False):
    """ss's output, or (None, why it failed)."""
    if not 0 < port < 65536:
        return None, "port %d is not a TCP port" % port
    rc, out, err = module.run_command(link_sample.ss_command(port, listening_only))
    if rc != 0:
        return None, "ss failed (%d): %s" % (rc, (err or out).strip()[:500])
    return out, None


def fabric_sockets(module, links, port):
    if port is None:
        return None
    text, error = _ss(module, port)
    if error:
        return {"port": port, "links": {}, "other": 0, "moved": 0, "nat_view": False, "probes": 0, "error": error}
    try:
        counts = link_sample.fabric_sockets(links, port, link_sample.parse_ss(text), link_sample.read_conntrack(port),
                                            link_sample.probe_ports())
    except FabricError as exc:
        module.fail_json(msg=str(exc))
    counts["error"] = None
    return counts


def mptcp(module, links, port, joins_before):
    if joins_before is None:
        return None
    joins = link_sample.read_netstat()
    window = dict((name, value - joins_before.get(name, 0)) for name, value in joins.items())
    errors = []

    def read():
        rc, text, err = module.run_command(link_sample.subflows_command(port))
        if rc != 0:
            errors.append("ss failed (%d): %s" % (rc, (err or text).strip()[:500]))
            return None
        return text
    if not 0 < port < 65536:
        looks, error = None, "port %d is not a TCP port" % port
    else:
        looks = link_sample.subflow_looks(read)
        error = errors[0] if errors else None
    if error:
        return {"port": port, "connections": 0, "opened": 0, "plain": 0, "links": {}, "other": 0, "short": 0,
                "short_listed": [], "joins": joins, "joins_window": window, "error": error}
    try:
        counts = link_sample.mptcp_subflows(links, port, looks[1], earlier=looks[0])
    except FabricError as exc:
        module.fail_json(msg=str(exc))
    counts.update(joins=joins, joins_window=window, error=None)
    return counts


def listening(module, port):
    if port is None:
        return None
    text, error = _ss(module, port, listening_only=True)
    if error:
        return None
    return link_sample.listening(text, port)


if __name__ == "__main__":
    main()
