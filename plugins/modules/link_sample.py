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
        ),
        supports_check_mode=True,
    )
    params = module.params
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
    module.exit_json(changed=False, samples=samples, status=status, status_error=error,
                     clock=time.time())


if __name__ == "__main__":
    main()
